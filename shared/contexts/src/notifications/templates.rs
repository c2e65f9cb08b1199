//! Message templates: the KakaoTalk AlimTalk templates kept in `alimtalk-templates.yaml`, in
//! Korean and English, each under the code Kakao approved it as. Every message (the stored
//! notification, the AlimTalk, its SMS fallback) is that template with its `#{variables}` filled,
//! so what a person reads in the app is what Kakao approved.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Deserialize;

use crate::domain::notification::Locale;
use crate::domain::stay::format_date;
use crate::domain::Money;
use crate::events::Event;

/// AlimTalk's length limit for a text message, variables filled (NHN Cloud, KakaoTalk Bizmessage
/// overview: "up to 1,000 characters").
pub const ALIMTALK_MAX_CHARS: usize = 1000;
/// A review quoted in a message is cut to this many characters.
pub const MAX_QUOTED_REVIEW: usize = 300;

const CATALOG_YAML: &str = include_str!("alimtalk-templates.yaml");

/// One approved template, in one language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// bnb's name for the message (`reservation-confirmed`).
    pub name: String,
    pub locale: Locale,
    /// The template code the dealer knows it by.
    pub code: String,
    /// The approved body, with `#{variable}` placeholders.
    pub text: String,
}

#[derive(Deserialize)]
struct Entry {
    name: String,
    ko: Version,
    en: Version,
}

#[derive(Deserialize)]
struct Version {
    code: String,
    text: String,
}

static CATALOG: LazyLock<Vec<Template>> = LazyLock::new(|| match serde_yaml_ng::from_str::<Vec<Entry>>(CATALOG_YAML) {
    Ok(entries) => entries
        .into_iter()
        .flat_map(|e| {
            [
                Template { name: e.name.clone(), locale: Locale::Korean, code: e.ko.code, text: e.ko.text },
                Template { name: e.name, locale: Locale::English, code: e.en.code, text: e.en.text },
            ]
        })
        .collect(),
    // The file is compiled in and parsed by a test; a broken one sends nothing rather than panicking.
    Err(e) => {
        tracing::error!(error = %e, "alimtalk-templates.yaml does not parse");
        Vec::new()
    }
});

/// Every approved template.
pub fn catalog() -> &'static [Template] {
    &CATALOG
}

/// The template for a message in a language.
pub fn template(name: &str, locale: Locale) -> Option<&'static Template> {
    catalog().iter().find(|t| t.name == name && t.locale == locale)
}

/// A text cut into its literal pieces and placeholders.
enum Piece<'a> {
    Literal(&'a str),
    Variable(&'a str),
}

fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("#{") {
        let Some(len) = rest[start + 2..].find('}') else { break };
        if start > 0 {
            out.push(Piece::Literal(&rest[..start]));
        }
        out.push(Piece::Variable(&rest[start + 2..start + 2 + len]));
        rest = &rest[start + 3 + len..];
    }
    if !rest.is_empty() {
        out.push(Piece::Literal(rest));
    }
    out
}

impl Template {
    /// The names of its placeholders, in order.
    pub fn variables(&self) -> Vec<&str> {
        pieces(&self.text).into_iter().filter_map(|p| if let Piece::Variable(v) = p { Some(v) } else { None }).collect()
    }

    /// Of `parameters`, the template's variables only.
    pub fn only_variables(&self, parameters: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let wanted = self.variables();
        parameters.iter().filter(|(k, _)| wanted.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// The body with every placeholder filled; `None` if a variable has no value.
    pub fn fill(&self, parameters: &BTreeMap<String, String>) -> Option<String> {
        let mut out = String::with_capacity(self.text.len() + 64);
        for piece in pieces(&self.text) {
            match piece {
                Piece::Literal(l) => out.push_str(l),
                Piece::Variable(v) => out.push_str(parameters.get(v)?),
            }
        }
        Some(out)
    }

    /// Whether `text` is this template with some values filled in: its literal pieces, in order,
    /// with something (or nothing) between them (what Kakao checks before it sends, -3010).
    pub fn matches(&self, text: &str) -> bool {
        let pieces = pieces(&self.text);
        let mut rest = text;
        for (i, piece) in pieces.iter().enumerate() {
            let Piece::Literal(literal) = piece else { continue };
            let first = i == 0;
            let last = i == pieces.len() - 1;
            match (first, last) {
                (true, true) => return rest == *literal,
                (true, false) => match rest.strip_prefix(literal) {
                    Some(r) => rest = r,
                    None => return false,
                },
                (false, true) => return rest.ends_with(literal),
                (false, false) => match rest.find(literal) {
                    Some(at) => rest = &rest[at + literal.len()..],
                    None => return false,
                },
            }
        }
        true
    }
}

/// What one person is told about one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub template: &'static str,
    /// The approved template's code (empty if the catalog has no such template).
    pub code: String,
    pub text: String,
    /// The values of the template's variables (what the dealer fills in).
    pub parameters: BTreeMap<String, String>,
}

/// The message for `template` in `locale`, filled from what the event says.
pub fn render(name: &'static str, locale: Locale, facts: &Facts) -> Message {
    let all = facts.parameters();
    match template(name, locale).and_then(|t| t.fill(&all).map(|text| (t, text))) {
        // Exactly the template's variables: the dealer refuses any other (-3049).
        Some((t, text)) => Message { template: name, code: t.code.clone(), text, parameters: t.only_variables(&all) },
        None => Message { template: name, code: String::new(), text: format!("[bnb] {name}"), parameters: all },
    }
}

/// What a message may say, taken from an event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    pub room_title: String,
    pub check_in: String,
    pub check_out: String,
    pub amount: Option<Money>,
    pub rating: u8,
    pub text: String,
}

impl Facts {
    pub fn of(event: &Event) -> Facts {
        let stay = |r: &crate::domain::reservation::Reservation, title: &Option<String>| Facts {
            room_title: title.clone().unwrap_or_default(),
            check_in: format_date(r.stay.check_in),
            check_out: format_date(r.stay.check_out),
            amount: Some(r.amount.clone()),
            ..Facts::default()
        };
        match event {
            Event::ReservationConfirmed(e) => stay(&e.reservation, &e.room_title),
            Event::ReservationCancelled(e) => stay(&e.reservation, &e.room_title),
            Event::ReservationAborted(e) => Facts {
                room_title: e.room_title.clone().unwrap_or_default(),
                check_in: format_date(e.stay.check_in),
                check_out: format_date(e.stay.check_out),
                amount: Some(e.amount.clone()),
                ..Facts::default()
            },
            Event::PaymentApproved(p) | Event::PaymentDeclined(p) | Event::PaymentRefunded(p) => Facts { amount: Some(p.amount.clone()), ..Facts::default() },
            Event::RoomRegistered(r) | Event::RoomModified(r) | Event::RoomDeleted(r) => Facts { room_title: r.title.clone(), ..Facts::default() },
            Event::ReviewWritten(w) => {
                Facts { room_title: w.room_title.clone().unwrap_or_default(), rating: w.review.rating, text: w.review.text.clone(), ..Facts::default() }
            }
        }
    }

    fn money(&self) -> String {
        self.amount.as_ref().map(Money::to_string).unwrap_or_default()
    }

    /// The values of every template variable.
    pub fn parameters(&self) -> BTreeMap<String, String> {
        let quoted: String = match self.text.chars().count() > MAX_QUOTED_REVIEW {
            true => self.text.chars().take(MAX_QUOTED_REVIEW - 1).chain(['…']).collect(),
            false => self.text.clone(),
        };
        BTreeMap::from([
            ("roomTitle".to_owned(), self.room_title.clone()),
            ("checkIn".to_owned(), self.check_in.clone()),
            ("checkOut".to_owned(), self.check_out.clone()),
            ("amount".to_owned(), self.money()),
            ("rating".to_owned(), self.rating.to_string()),
            ("reviewText".to_owned(), quoted),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_in_both_languages() {
        let p = Facts {
            room_title: "Hanok".into(),
            check_in: "2026-12-24".into(),
            check_out: "2026-12-26".into(),
            amount: Some(Money::new(240000, "KRW").unwrap()),
            ..Facts::default()
        };
        let ko = render("reservation-confirmed", Locale::Korean, &p);
        assert_eq!(ko.text, "[bnb] 예약이 확정되었습니다: Hanok, 2026-12-24 ~ 2026-12-26, 결제 240000 KRW.");
        assert_eq!(ko.code, "BNB_CONFIRMED_KO");
        assert_eq!(ko.parameters["roomTitle"], "Hanok");
        assert!(render("reservation-confirmed", Locale::English, &p).text.contains("is confirmed"));
        let usd = Facts { amount: Some(Money::new(1999, "USD").unwrap()), ..Facts::default() };
        assert_eq!(render("payment-refunded", Locale::English, &usd).text, "[bnb] 19.99 USD has been refunded.");
    }

    #[test]
    fn a_text_matches_its_template_only() {
        let t = template("new-review", Locale::English).unwrap();
        assert_eq!(t.variables(), vec!["roomTitle", "rating", "reviewText"]);
        assert!(t.matches("[bnb] New review of Hanok (5/5): Lovely"));
        assert!(!t.matches("[bnb] New review of Hanok (5 of 5): Lovely"));
        assert!(!t.matches("[bnb] A new review of Hanok (5/5): Lovely"));
    }
}
