//! Time, as a mail server writes it.
//!
//! Mail needs two spellings of "now": the RFC 5322 §3.3 `date-time` that goes into `Received:`
//! and `Date:` headers (`Thu, 26 Nov 2026 15:20:55 +0000`), and a sortable stamp for transcript
//! lines (`2026-11-26 15:20:55.123`). Both are written in UTC, so the server needs no time-zone
//! database; RFC 5322 allows any zone as long as the offset is given.
//!
//! The calendar arithmetic is the "days from civil" algorithm: count days since 1970-01-01,
//! shift the year to start in March so the leap day falls at the end, and read off
//! era / year-of-era / day-of-year.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in time broken into calendar fields (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub millis: u32,
    /// 0 = Sunday.
    pub weekday: u32,
}

impl Civil {
    pub fn from_system_time(t: SystemTime) -> Civil {
        let since = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        let secs = since.as_secs() as i64;
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: rem / 3600,
            minute: rem / 60 % 60,
            second: rem % 60,
            millis: since.subsec_millis(),
            // 1970-01-01 was a Thursday (4).
            weekday: (days + 4).rem_euclid(7) as u32,
        }
    }

    /// RFC 5322 §3.3 date-time, e.g. `Thu, 26 Nov 2026 15:20:55 +0000`.
    pub fn rfc5322(&self) -> String {
        const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        format!(
            "{}, {} {} {} {:02}:{:02}:{:02} +0000",
            DAYS[self.weekday as usize],
            self.day,
            MONTHS[self.month as usize - 1],
            self.year,
            self.hour,
            self.minute,
            self.second
        )
    }

    /// `2026-11-26 15:20:55.123`: sorts as text, reads at a glance.
    pub fn stamp(&self) -> String {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}",
            self.year, self.month, self.day, self.hour, self.minute, self.second, self.millis
        )
    }

    /// `2026-11-26`: the name of a day's transcript folder.
    pub fn date(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Days since 1970-01-01 → (year, month 1–12, day 1–31), proleptic Gregorian calendar.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z.div_euclid(146_097); // 400-year cycles
    let doe = z.rem_euclid(146_097); // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // year of era
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of year, March-based
    let mp = (5 * doy + 2) / 153; // month, March = 0
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Seconds since 1970-01-01 UTC: how queue files note when to try again.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Shorthand for the current time in calendar form.
pub fn now() -> Civil {
    Civil::from_system_time(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> Civil {
        Civil::from_system_time(UNIX_EPOCH + Duration::from_secs(secs))
    }

    #[test]
    fn epoch_is_a_thursday() {
        assert_eq!(at(0).rfc5322(), "Thu, 1 Jan 1970 00:00:00 +0000");
    }

    #[test]
    fn leap_day_and_century_rules() {
        // 2000-02-29 12:00:00 (2000 is a leap year: divisible by 400).
        assert_eq!(at(951_825_600).rfc5322(), "Tue, 29 Feb 2000 12:00:00 +0000");
        // 2100 is not a leap year: the day after 2100-02-28 is 2100-03-01.
        let feb28 = at(4_107_456_000);
        assert_eq!((feb28.month, feb28.day), (2, 28));
        let next = at(4_107_456_000 + 86_400);
        assert_eq!((next.month, next.day), (3, 1));
    }

    #[test]
    fn stamp_keeps_milliseconds() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_706_455_123);
        assert_eq!(
            Civil::from_system_time(t).stamp(),
            "2026-11-26 15:20:55.123"
        );
    }
}
