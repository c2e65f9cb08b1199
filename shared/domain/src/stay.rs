//! A stay: check-in and check-out dates, validated.

use serde::{Deserialize, Serialize};
use time::{Date, Duration};

use super::Invalid;

/// The longest stay bnb books, in nights.
pub const MAX_NIGHTS: i64 = 30;

/// A validated stay: check-out after check-in, at most [`MAX_NIGHTS`] nights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stay {
    #[serde(with = "iso_date")]
    pub check_in: Date,
    #[serde(with = "iso_date")]
    pub check_out: Date,
}

impl Stay {
    /// Parses `YYYY-MM-DD` dates and checks the range. Field names are the API's.
    pub fn parse(check_in: &str, check_out: &str) -> Result<Stay, Invalid> {
        let mut invalid = Invalid::default();
        let a = parse_date(check_in).map_err(|m| invalid.push("checkIn", m)).ok();
        let b = parse_date(check_out).map_err(|m| invalid.push("checkOut", m)).ok();
        invalid.into_result()?;
        match (a, b) {
            (Some(a), Some(b)) => Stay::new(a, b),
            _ => Err(Invalid::field("checkIn", "is not a date")),
        }
    }

    pub fn new(check_in: Date, check_out: Date) -> Result<Stay, Invalid> {
        let nights = (check_out - check_in).whole_days();
        if nights < 1 {
            return Err(Invalid::field("checkOut", "must be after checkIn"));
        }
        if nights > MAX_NIGHTS {
            return Err(Invalid::field("checkOut", format!("a stay is at most {MAX_NIGHTS} nights")));
        }
        Ok(Stay { check_in, check_out })
    }

    pub fn nights(&self) -> u32 {
        (self.check_out - self.check_in).whole_days() as u32
    }

    /// Each night of the stay, by the date it starts.
    pub fn each_night(&self) -> impl Iterator<Item = Date> + '_ {
        (0..self.nights() as i64).map(move |d| self.check_in + Duration::days(d))
    }
}

pub fn parse_date(text: &str) -> Result<Date, String> {
    Date::parse(text, &iso_date::FORMAT).map_err(|_| "must be a date as YYYY-MM-DD".to_string())
}

pub fn format_date(date: Date) -> String {
    date.format(&iso_date::FORMAT).unwrap_or_default()
}

pub mod iso_date {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::format_description::FormatItem;
    use time::macros::format_description;
    use time::Date;

    pub const FORMAT: &[FormatItem<'static>] = format_description!("[year]-[month]-[day]");

    pub fn serialize<S: Serializer>(date: &Date, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_date(*date))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_date(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_are_validated() {
        let stay = Stay::parse("2026-12-01", "2026-12-04").unwrap();
        assert_eq!(stay.nights(), 3);
        assert_eq!(stay.each_night().map(format_date).collect::<Vec<_>>(), ["2026-12-01", "2026-12-02", "2026-12-03"]);
        assert_eq!(Stay::parse("2026-12-04", "2026-12-04").unwrap_err().0[0].field, "checkOut");
        assert_eq!(Stay::parse("2026-12-40", "2026-12-04").unwrap_err().0[0].field, "checkIn");
        assert!(Stay::parse("2026-01-01", "2026-03-01").is_err());
    }
}
