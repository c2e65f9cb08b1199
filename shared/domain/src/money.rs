//! Money: integer minor units and an ISO 4217 currency. Never floating point.

use serde::{Deserialize, Serialize};

use super::Invalid;

/// The ISO 4217 currencies bnb accepts, with their minor-unit exponent.
const CURRENCIES: &[(&str, u8)] = &[
    ("AUD", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CNY", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("JPY", 0),
    ("KRW", 0),
    ("NZD", 2),
    ("SGD", 2),
    ("THB", 2),
    ("TWD", 2),
    ("USD", 2),
    ("VND", 0),
];

/// The largest amount bnb takes in one price or payment, in minor units.
pub const MAX_AMOUNT: i64 = 1_000_000_000_000;

/// An ISO 4217 currency code bnb accepts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Currency(String);

impl Currency {
    pub fn parse(code: &str) -> Option<Currency> {
        CURRENCIES.iter().find(|(c, _)| *c == code).map(|(c, _)| Currency((*c).to_owned()))
    }
    pub fn code(&self) -> &str {
        &self.0
    }
    /// Digits after the decimal point (KRW 0, USD 2).
    pub fn exponent(&self) -> u8 {
        CURRENCIES.iter().find(|(c, _)| *c == self.0).map(|(_, e)| *e).unwrap_or(2)
    }
}

/// An amount in minor units (cents, won) of a currency.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub amount: i64,
    pub currency: Currency,
}

impl Money {
    /// A positive amount within bnb's limits.
    pub fn new(amount: i64, currency: &str) -> Result<Money, Invalid> {
        let mut invalid = Invalid::default();
        if amount <= 0 {
            invalid.push("amount", "must be a positive number of minor units");
        } else if amount > MAX_AMOUNT {
            invalid.push("amount", format!("must be at most {MAX_AMOUNT}"));
        }
        let currency = Currency::parse(currency);
        if currency.is_none() {
            invalid.push("currency", "must be an ISO 4217 code bnb accepts, e.g. KRW, USD, EUR");
        }
        invalid.into_result()?;
        match currency {
            Some(currency) => Ok(Money { amount, currency }),
            None => Err(Invalid::field("currency", "unknown")),
        }
    }

    /// This amount times `n` (nights), if it stays within limits.
    pub fn times(&self, n: u32) -> Option<Money> {
        let amount = self.amount.checked_mul(n as i64).filter(|a| *a <= MAX_AMOUNT)?;
        Some(Money { amount, currency: self.currency.clone() })
    }
}

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let exp = self.currency.exponent() as u32;
        if exp == 0 {
            write!(f, "{} {}", self.amount, self.currency.code())
        } else {
            let unit = 10i64.pow(exp);
            write!(f, "{}.{:0width$} {}", self.amount / unit, self.amount % unit, self.currency.code(), width = exp as usize)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_validated_and_formatted() {
        assert_eq!(Money::new(12000, "KRW").map(|m| m.to_string()), Ok("12000 KRW".into()));
        assert_eq!(Money::new(1999, "USD").map(|m| m.to_string()), Ok("19.99 USD".into()));
        assert!(Money::new(0, "KRW").is_err());
        assert!(Money::new(-5, "KRW").is_err());
        let err = Money::new(5, "XXX").unwrap_err();
        assert_eq!(err.0[0].field, "currency");
        assert_eq!(Money::new(100, "KRW").ok().and_then(|m| m.times(3)).map(|m| m.amount), Some(300));
        assert!(Money::new(MAX_AMOUNT, "KRW").ok().and_then(|m| m.times(2)).is_none());
    }
}
