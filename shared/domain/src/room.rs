//! The room context's domain: a room a host rents out.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Invalid, Money, RoomId, UserId};

pub const MAX_TITLE: usize = 200;
pub const MAX_DESCRIPTION: usize = 5_000;
pub const MAX_CITY: usize = 100;
pub const MAX_ADDRESS: usize = 300;
pub const MAX_CAPACITY: u32 = 50;
pub const MAX_AMENITIES: usize = 50;
pub const MAX_AMENITY: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RoomStatus {
    Active,
    Deleted,
}

/// What guests have said of a room, summed up.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RatingSummary {
    pub count: u32,
    /// Sum of all ratings; the average is derived so that updates are plain additions.
    pub total: u32,
}

impl RatingSummary {
    pub fn average(&self) -> Option<f64> {
        (self.count > 0).then(|| (self.total as f64 / self.count as f64 * 100.0).round() / 100.0)
    }
}

/// The fields a host chooses: what registering takes and modifying replaces.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomDetails {
    pub title: String,
    pub description: String,
    pub city: String,
    pub address: String,
    pub capacity: u32,
    pub nightly_price: Money,
    pub amenities: Vec<String>,
}

/// The raw fields of a room, before validation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RoomInput {
    pub title: String,
    pub description: String,
    pub city: String,
    pub address: String,
    pub capacity: i64,
    pub price_amount: i64,
    pub price_currency: String,
    pub amenities: Vec<String>,
}

impl RoomDetails {
    /// Checks every field and names each one that is wrong.
    pub fn validate(input: RoomInput) -> Result<RoomDetails, Invalid> {
        let mut invalid = Invalid::default();
        invalid.text("title", &input.title, 1, MAX_TITLE);
        invalid.text("description", &input.description, 0, MAX_DESCRIPTION);
        invalid.text("city", &input.city, 1, MAX_CITY);
        invalid.text("address", &input.address, 1, MAX_ADDRESS);
        if input.capacity < 1 || input.capacity > MAX_CAPACITY as i64 {
            invalid.push("capacity", format!("must be between 1 and {MAX_CAPACITY} guests"));
        }
        let price = Money::new(input.price_amount, &input.price_currency).map_err(|e| invalid.nest("nightlyPrice", e)).ok();
        if input.amenities.len() > MAX_AMENITIES {
            invalid.push("amenities", format!("must list at most {MAX_AMENITIES} amenities"));
        }
        for (i, amenity) in input.amenities.iter().enumerate() {
            invalid.text(&format!("amenities[{i}]"), amenity, 1, MAX_AMENITY);
        }
        invalid.into_result()?;
        let nightly_price = price.ok_or_else(|| Invalid::field("nightlyPrice", "is not valid"))?;
        Ok(RoomDetails {
            title: input.title.trim().to_owned(),
            description: input.description.trim().to_owned(),
            city: input.city.trim().to_owned(),
            address: input.address.trim().to_owned(),
            capacity: input.capacity as u32,
            nightly_price,
            amenities: input.amenities.iter().map(|a| a.trim().to_owned()).collect(),
        })
    }
}

/// A room.
#[derive(Debug, Clone, PartialEq)]
pub struct Room {
    pub id: RoomId,
    pub host_id: UserId,
    pub details: RoomDetails,
    pub status: RoomStatus,
    pub version: u64,
    pub rating: RatingSummary,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Room {
    /// A newly registered room.
    pub fn register(host_id: UserId, details: RoomDetails, now: OffsetDateTime) -> Room {
        Room {
            id: RoomId::generate(),
            host_id,
            details,
            status: RoomStatus::Active,
            version: 1,
            rating: RatingSummary::default(),
            created_at: now,
            updated_at: now,
        }
    }

    pub fn is_owned_by(&self, user: &UserId) -> bool {
        &self.host_id == user
    }
}

/// The key cities are searched by: trimmed, case- and space-insensitive.
pub fn city_key(city: &str) -> String {
    city.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> RoomInput {
        RoomInput {
            title: "Hanok by the palace".into(),
            description: "Quiet".into(),
            city: "Seoul".into(),
            address: "1 Bukchon-ro".into(),
            capacity: 2,
            price_amount: 120_000,
            price_currency: "KRW".into(),
            amenities: vec!["wifi".into()],
        }
    }

    fn fields(e: Invalid) -> Vec<String> {
        e.0.into_iter().map(|f| f.field).collect()
    }

    #[test]
    fn every_wrong_field_is_named() {
        assert!(RoomDetails::validate(input()).is_ok());
        let bad = RoomInput { title: "x".repeat(10_000), capacity: 0, price_amount: -1, price_currency: "XYZ".into(), ..input() };
        assert_eq!(fields(RoomDetails::validate(bad).unwrap_err()), ["title", "capacity", "nightlyPrice.amount", "nightlyPrice.currency"]);
        assert_eq!(fields(RoomDetails::validate(RoomInput { capacity: 1000, ..input() }).unwrap_err()), ["capacity"]);
        assert_eq!(fields(RoomDetails::validate(RoomInput { city: "  ".into(), ..input() }).unwrap_err()), ["city"]);
    }

    #[test]
    fn cities_are_matched_loosely() {
        assert_eq!(city_key("  New   York "), city_key("new york"));
    }
}
