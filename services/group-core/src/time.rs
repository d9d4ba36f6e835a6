//! Wall-clock instants supplied by the driver, and the duration syntax of specs (`"500ms"`,
//! `"30s"`, `"10m"`, `"1h30m"`).
//!
//! The core never reads a clock: every function that needs the time takes a [`Time`]. A `Time`
//! is milliseconds on a wall clock chosen by the driver (normally the Unix epoch), so that the
//! instants stored in [`crate::state::GroupState`] survive a restart.

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

/// Parses a duration such as `"500ms"`, `"30s"`, `"10m"`, `"1h"` or `"1h30m"`: one or more whole
/// numbers, each followed by a unit (`ms`, `s`, `m`, `h`), largest unit first. `"0"` alone is
/// also accepted. The error says what is wrong, in a few words.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.is_empty() {
        return Err("is empty".to_string());
    }
    let mut total: u64 = 0;
    let mut last_unit = u64::MAX;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!("{text:?} is not a duration"));
        }
        let (number, tail) = rest.split_at(digits);
        let unit_len = tail.chars().take_while(char::is_ascii_alphabetic).count();
        let (unit, tail) = tail.split_at(unit_len);
        let scale = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "" => return Err(format!("{text:?} has a number without a unit")),
            other => return Err(format!("{text:?} has an unknown unit {other:?}")),
        };
        if scale >= last_unit {
            return Err(format!(
                "{text:?} repeats a unit or puts a smaller unit first"
            ));
        }
        last_unit = scale;
        let value: u64 = number
            .parse()
            .map_err(|_| format!("{text:?} is too large"))?;
        total = value
            .checked_mul(scale)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("{text:?} is too large"))?;
        rest = tail;
    }
    let d = Duration::from_millis(total);
    if d > MAX_SPEC_DURATION {
        return Err(format!("{text:?} is longer than 30 days"));
    }
    Ok(d)
}

/// Formats a duration in the syntax [`parse_duration`] reads, largest units first
/// (`90s` → `"1m30s"`, zero → `"0s"`). Sub-millisecond parts are dropped.
pub fn format_duration(d: Duration) -> String {
    let mut ms = millis(d);
    if ms == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (unit, scale) in [("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
        let n = ms / scale;
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
            ms -= n * scale;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_every_unit_and_combinations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn refuses_what_is_not_a_duration() {
        for bad in [
            "", "10", "s", "1.5s", "10 s", "10sec", "1s1h", "1s1s", "-1s", "999999h",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn formats_with_the_largest_units_first() {
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1s500ms");
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
            prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }
    }
}
