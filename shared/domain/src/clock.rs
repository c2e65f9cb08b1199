//! Time, injected. Every decision that depends on the time (is a hold due, has a lease run out,
//! has a stay ended, is a stay still in the future) asks a [`Clock`], so tests step time instead
//! of sleeping. Business dates are the Asia/Seoul calendar: a Korean product's "today" starts at
//! midnight in Seoul, not in UTC (nine hours apart).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};

use jiff::tz::TimeZone;
use jiff::Timestamp;

/// The time zone of bnb's business dates.
pub const BUSINESS_TIME_ZONE: &str = "Asia/Seoul";

/// Where the time comes from.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Timestamp;

    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64 {
        self.now().as_millisecond()
    }

    /// Seconds since the Unix epoch.
    fn now_seconds(&self) -> i64 {
        self.now().as_second()
    }

    /// Now, as the `time` crate's date-time (UTC): what documents and events carry (RFC 3339).
    fn now_utc(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::from_unix_timestamp_nanos(self.now().as_nanosecond()).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
    }

    /// Today's date in Asia/Seoul.
    fn today(&self) -> time::Date {
        business_date(self.now())
    }
}

/// The clock a function shares between its parts.
pub type SharedClock = Arc<dyn Clock>;

/// The system's clock: what every function runs with.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// The system clock, shared.
pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// A clock that moves only when told to: for tests, which set the time instead of waiting.
#[derive(Debug)]
pub struct ManualClock {
    ms: AtomicI64,
}

impl ManualClock {
    /// A clock standing at `ms` milliseconds since the epoch.
    pub fn at_ms(ms: i64) -> Arc<ManualClock> {
        Arc::new(ManualClock { ms: AtomicI64::new(ms) })
    }

    /// A clock standing at the system's time now (and staying there until moved).
    pub fn starting_now() -> Arc<ManualClock> {
        ManualClock::at_ms(Timestamp::now().as_millisecond())
    }

    /// A clock standing at `hh:mm` on `date` in Asia/Seoul.
    pub fn at_seoul(date: time::Date, hour: i8, minute: i8) -> Arc<ManualClock> {
        let civil = jiff::civil::date(date.year() as i16, date.month() as i8, date.day() as i8).at(hour, minute, 0, 0);
        let ms = seoul().to_timestamp(civil).map(|t| t.as_millisecond()).unwrap_or(0);
        ManualClock::at_ms(ms)
    }

    pub fn advance(&self, by: std::time::Duration) {
        self.ms.fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millisecond(self.ms.load(Ordering::SeqCst)).unwrap_or(Timestamp::UNIX_EPOCH)
    }
}

/// The system's clock, moved ahead by a step that only grows: a running system (the local
/// runtime's demo) that jumps forward in time, e.g. to the day after a stay, without waiting.
#[derive(Debug, Default)]
pub struct ShiftedClock {
    ahead_ms: AtomicI64,
}

impl ShiftedClock {
    pub fn new() -> Arc<ShiftedClock> {
        Arc::new(ShiftedClock::default())
    }

    pub fn advance(&self, by: std::time::Duration) {
        self.ahead_ms.fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> Timestamp {
        let ms = Timestamp::now().as_millisecond() + self.ahead_ms.load(Ordering::SeqCst);
        Timestamp::from_millisecond(ms).unwrap_or(Timestamp::MAX)
    }
}

fn seoul() -> &'static TimeZone {
    static SEOUL: OnceLock<TimeZone> = OnceLock::new();
    // The bundled tzdb always has Asia/Seoul; its fixed +09:00 stands in should it not.
    SEOUL.get_or_init(|| TimeZone::get(BUSINESS_TIME_ZONE).unwrap_or_else(|_| TimeZone::fixed(jiff::tz::offset(9))))
}

/// The Asia/Seoul calendar date of an instant.
pub fn business_date(at: Timestamp) -> time::Date {
    let d = seoul().to_datetime(at).date();
    time::Month::try_from(d.month() as u8)
        .ok()
        .and_then(|m| time::Date::from_calendar_date(i32::from(d.year()), m, d.day() as u8).ok())
        .unwrap_or(time::Date::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seoul_is_nine_hours_ahead_of_utc() {
        // 2030-12-23T15:30Z is 00:30 on the 24th in Seoul: a day ahead of the UTC date.
        let at: Timestamp = "2030-12-23T15:30:00Z".parse().unwrap();
        assert_eq!(business_date(at), time::macros::date!(2030 - 12 - 24));
        let before: Timestamp = "2030-12-23T14:59:59Z".parse().unwrap();
        assert_eq!(business_date(before), time::macros::date!(2030 - 12 - 23));
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::at_seoul(time::macros::date!(2030 - 12 - 24), 23, 0);
        assert_eq!(clock.today(), time::macros::date!(2030 - 12 - 24));
        let before = clock.now_ms();
        assert_eq!(clock.now_ms(), before);
        clock.advance(std::time::Duration::from_secs(3600));
        assert_eq!(clock.now_ms(), before + 3_600_000);
        assert_eq!(clock.today(), time::macros::date!(2030 - 12 - 25));
    }
}
