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
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t={}ms", self.0)
    }
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

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn format_then_parse_gives_the_same_duration(ms in 0u64..=2_592_000_000) {
            let d = Duration::from_millis(ms);
            prop_assert_eq!(parse_duration(&duration::format(d)), Ok(d));
        }
    }
}
