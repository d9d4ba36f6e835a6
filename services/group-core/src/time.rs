//! Wall-clock instants supplied by the driver, and the limits of durations in specs (whose
//! syntax is [`infrakit_model::duration`]'s).
//!
//! The core never reads a clock: every function that needs the time takes a [`Time`]. A `Time`
//! is milliseconds on a wall clock chosen by the driver (normally the Unix epoch), so that the
//! instants stored in [`crate::state::GroupState`] survive a restart.

use infrakit_model::duration::{self, Syntax};
use std::fmt;
use std::time::Duration;

/// An instant: milliseconds on the driver's wall clock.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct Time(pub u64);

/// The longest duration a spec may hold (30 days); longer values are typos.
pub const MAX_SPEC_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);

// === impl Time ===

impl Time {
    /// The instant `ms` milliseconds after the clock's origin.
    pub const fn from_millis(ms: u64) -> Self {
        Self(ms)
    }

    /// The instant `s` seconds after the clock's origin.
    pub const fn from_secs(s: u64) -> Self {
        Self(s.saturating_mul(1000))
    }

    /// Milliseconds since the clock's origin.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// The instant `d` later, saturating at the end of time.
    pub fn after(self, d: Duration) -> Self {
        Self(self.0.saturating_add(millis(d)))
    }

    /// How long after `earlier` this instant is (zero if it is not later).
    pub fn since(self, earlier: Time) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }

    /// This instant as RFC 3339 text in UTC with milliseconds, e.g.
    /// `2026-11-25T07:12:03.120Z`, read as milliseconds since the Unix epoch (the driver's
    /// clock). For status messages people read.
    pub fn rfc3339(self) -> String {
        let (secs, ms) = (self.0 / 1000, self.0 % 1000);
        let (days, sod) = (secs / 86_400, secs % 86_400);
        let (y, m, d) = civil_from_days(days);
        let (hh, mm, ss) = (sod / 3600, sod % 3600 / 60, sod % 60);
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{ms:03}Z")
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t={}ms", self.0)
    }
}

/// The proleptic Gregorian date of a day number counted from 1970-01-01 (H. Hinnant's
/// `civil_from_days`, for days after the epoch only).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let (era, doe) = (z / 146_097, z % 146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March first
    let d = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    (yoe + era * 400 + u64::from(m <= 2), m, d)
}

/// A duration in whole milliseconds, saturating.
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Parses a duration in the spec's syntax ([`Syntax::SPEC`]: `"500ms"`, `"30s"`, `"10m"`,
/// `"1h30m"`, largest unit first; `"0"` alone too) of at most [`MAX_SPEC_DURATION`]. The error
/// says what is wrong, in a few words.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let d = duration::parse(text, Syntax::SPEC).map_err(|e| e.to_string())?;
    if d > MAX_SPEC_DURATION {
        return Err(format!("{text:?} is longer than 30 days"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn spec_durations_are_whole_largest_unit_first_and_at_most_30_days() {
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("720h"), Ok(MAX_SPEC_DURATION));
        for bad in ["", "10", "1.5s", "1s1h", "1s1s", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_duration("999999h"),
            Err("\"999999h\" is longer than 30 days".to_string())
        );
    }

    #[test]
    fn time_arithmetic_saturates() {
        let t = Time::from_secs(10);
        assert_eq!(t.after(Duration::from_millis(5)), Time(10_005));
        assert_eq!(t.since(Time(20_000)), Duration::ZERO);
        assert_eq!(Time(u64::MAX).after(Duration::from_secs(1)), Time(u64::MAX));
    }

    #[test]
    fn instants_read_as_utc_dates() {
        assert_eq!(Time(0).rfc3339(), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            Time(1_795_590_723_120).rfc3339(),
            "2026-11-25T07:12:03.120Z"
        );
        assert_eq!(Time(951_782_400_000).rfc3339(), "2000-02-29T00:00:00.000Z");
        assert_eq!(
            Time(253_402_300_799_999).rfc3339(),
            "9999-12-31T23:59:59.999Z"
        );
        assert!(Time(u64::MAX).rfc3339().ends_with('Z'), "no overflow");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn format_then_parse_gives_the_same_duration(ms in 0u64..=2_592_000_000) {
            let d = Duration::from_millis(ms);
            prop_assert_eq!(parse_duration(&duration::format(d)), Ok(d));
        }
    }
}
