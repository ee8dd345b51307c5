//! The only place that reads the system clock. Everything else gets time from a [`Clock`].

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};

/// Vietnam's civil time offset (UTC+07:00, no daylight saving).
pub fn vietnam() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).unwrap_or_else(|| unreachable!("+07:00 is a valid offset"))
}

pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;

    fn now_ms(&self) -> i64 {
        self.now().timestamp_millis()
    }

    /// Today's date in Vietnam, which decides the year of a number and the arrival date.
    fn today(&self) -> NaiveDate {
        self.now().with_timezone(&vietnam()).date_naive()
    }
}

#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until moved (unit tests).
#[derive(Debug)]
pub struct ManualClock(std::sync::Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(std::sync::Mutex::new(at))
    }
    pub fn advance(&self, by: chrono::Duration) {
        if let Ok(mut t) = self.0.lock() {
            *t += by;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.lock().map(|t| *t).unwrap_or_else(|e| *e.into_inner())
    }
}

/// Real time shifted by an adjustable offset: time flows, and tests can jump ahead (idle
/// timeouts, job backoff) without sleeping.
#[derive(Debug, Default)]
pub struct ShiftedClock(std::sync::atomic::AtomicI64);

impl ShiftedClock {
    pub fn advance(&self, by: chrono::Duration) {
        self.0
            .fetch_add(by.num_milliseconds(), std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.0.load(std::sync::atomic::Ordering::SeqCst))
    }
}

/// Formats milliseconds since the epoch as ISO 8601 in Vietnam time, e.g.
/// `2026-03-05T14:30:05+07:00` (the form NĐ 30 asks for on signature stamps).
pub fn iso_vn(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.with_timezone(&vietnam()).format("%Y-%m-%dT%H:%M:%S%:z").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnam_date_rolls_over_at_17h_utc() {
        let c = ManualClock::new("2026-12-31T16:59:59Z".parse().expect("time"));
        assert_eq!(c.today().to_string(), "2026-12-31");
        c.advance(chrono::Duration::seconds(1));
        assert_eq!(c.today().to_string(), "2027-01-01");
        assert_eq!(iso_vn(c.now_ms()), "2027-01-01T00:00:00+07:00");
    }
}
