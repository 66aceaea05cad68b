//! Injected time, so that code depending on "now" (interest accrual, consent expiry, age
//! checks) is deterministic under test.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, FixedOffset, NaiveDate, TimeDelta, Utc};

/// China Standard Time, UTC+8, the zone of every business date (营业日) on the platform.
/// China has no daylight saving time, so a fixed offset is exact.
pub const CHINA_STANDARD_TIME: FixedOffset = match FixedOffset::east_opt(8 * 3600) {
    Some(offset) => offset,
    // Evaluated at compile time: a wrong literal fails the build, never a request.
    None => panic!("UTC+8 is a valid offset"),
};

/// A source of the current time. Take a [`SharedClock`] wherever "now" matters instead of
/// calling `Utc::now()`.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;

    /// Today's date in China (UTC+8), which is what "today" means for business rules; it
    /// differs from the UTC date between 00:00 and 08:00 Beijing time.
    fn today_china(&self) -> NaiveDate {
        self.now().with_timezone(&CHINA_STANDARD_TIME).date_naive()
    }
}

/// A clock shared across services and tasks.
pub type SharedClock = Arc<dyn Clock>;

/// The real clock, for production.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until told otherwise, for tests.
///
/// Clones share the same time, so a test can keep one handle while the code under test holds
/// another (e.g. as a [`SharedClock`]) and move time for both.
#[derive(Debug, Clone)]
pub struct TestClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl TestClock {
    /// A clock showing `now`.
    pub fn at(now: DateTime<Utc>) -> Self {
        Self {
            now: Arc::new(Mutex::new(now)),
        }
    }

    /// Moves the clock to `now`, which may be earlier than the current time.
    pub fn set(&self, now: DateTime<Utc>) {
        *self.lock() = now;
    }

    /// Moves the clock by `by`, which may be negative; saturates at the ends of the
    /// representable range rather than panicking.
    pub fn advance(&self, by: TimeDelta) {
        let mut now = self.lock();
        *now = now
            .checked_add_signed(by)
            .unwrap_or(if by < TimeDelta::zero() {
                DateTime::<Utc>::MIN_UTC
            } else {
                DateTime::<Utc>::MAX_UTC
            });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DateTime<Utc>> {
        // A panic while holding the lock cannot leave a `DateTime` half-written, so the value
        // inside a poisoned mutex is still a valid time.
        self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.lock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(year: i32, month: u32, day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(year, month, day, hour, 0, 0).unwrap()
    }

    #[test]
    fn test_clock_stands_still_and_moves_when_told() {
        let clock = TestClock::at(utc(2025, 1, 1, 0));
        assert_eq!(clock.now(), utc(2025, 1, 1, 0));
        clock.advance(TimeDelta::hours(5));
        assert_eq!(clock.now(), utc(2025, 1, 1, 5));
        clock.advance(TimeDelta::days(-1));
        assert_eq!(clock.now(), utc(2024, 12, 31, 5));
        clock.set(utc(2030, 6, 1, 12));
        assert_eq!(clock.now(), utc(2030, 6, 1, 12));
    }

    #[test]
    fn clones_share_the_time() {
        let clock = TestClock::at(utc(2025, 1, 1, 0));
        let shared: SharedClock = Arc::new(clock.clone());
        clock.advance(TimeDelta::days(30));
        assert_eq!(shared.now(), utc(2025, 1, 31, 0));
    }

    #[test]
    fn advance_saturates_instead_of_panicking() {
        let clock = TestClock::at(utc(2025, 1, 1, 0));
        clock.advance(TimeDelta::MAX);
        assert_eq!(clock.now(), DateTime::<Utc>::MAX_UTC);
        clock.advance(TimeDelta::MIN);
        clock.advance(TimeDelta::MIN);
        assert_eq!(clock.now(), DateTime::<Utc>::MIN_UTC);
    }

    #[test]
    fn today_china_is_the_beijing_date() {
        let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let clock = TestClock::at(utc(2024, 12, 31, 15));
        assert_eq!(clock.today_china(), date(2024, 12, 31));
        // 16:00 UTC is midnight in Beijing.
        clock.set(utc(2024, 12, 31, 16));
        assert_eq!(clock.today_china(), date(2025, 1, 1));
    }

    #[test]
    fn system_clock_follows_real_time() {
        let before = Utc::now();
        let now = SystemClock.now();
        assert!(before <= now && now <= Utc::now());
    }
}
