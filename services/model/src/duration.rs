//! Durations as specs, Properties and flags write them: `"500ms"`, `"30s"`, `"10m"`, `"1h"`,
//! `"1m30s"`, and `"1.5s"` where fractions are allowed.
//!
//! One grammar serves every crate: one or more `<number><unit>` parts with the units `h`, `m`,
//! `s` and `ms`; `"0"` alone is zero; white space around the text is ignored. A bare number is
//! refused, because its unit would be a guess. Two switches ([`Syntax`]) cover what differs
//! between the places that read durations: decimal fractions (Go's `"1.5s"`), and whether units
//! must come largest first, each once (the group spec's `"1h30m"`).
//!
//! Errors carry what was wrong ([`ErrorKind`]) so that each caller can word its message; their
//! `Display` is the group spec's wording, e.g. `"30x" has an unknown unit "x"`.

use std::fmt;
use std::time::Duration;

/// What a duration may look like beyond `<whole number><unit>` parts in any order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Syntax {
    /// Numbers may have a decimal fraction, as in Go (`"1.5s"`, `"0.25h"`).
    pub fractions: bool,
    /// Units must come largest first, each at most once (`"1h30m"`, not `"30m1h"` or `"1s1s"`).
    pub largest_first: bool,
}

/// Why a text is not a duration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The text is empty (or only white space).
    Empty,
    /// A part does not start with a number (`"s"`, `"-1s"`, `".5s"`, `"5.s"`).
    NoNumber,
    /// A number has no unit (`"30"`, `"10 s"`, `"1.5s"` without fractions).
    NoUnit,
    /// A number has a unit other than `h`, `m`, `s` and `ms` (the unit is given).
    UnknownUnit(String),
    /// A unit repeats or comes after a smaller one (only with [`Syntax::largest_first`]).
    UnitOrder,
    /// The duration does not fit in a [`Duration`].
    TooLarge,
}

/// A text that is not a duration, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    text: String,
    kind: ErrorKind,
}

/// Nanoseconds per unit, smallest last.
const UNITS: [(&str, u128); 4] = [
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
];

/// Fraction digits beyond this many cannot change a nanosecond (an hour is 3.6e12 ns).
const MAX_FRACTION_DIGITS: usize = 18;

// === impl Syntax ===

impl Syntax {
    /// Whole numbers, units in any order: what most plugin flags and Properties take.
    pub const WHOLE: Syntax = Syntax {
        fractions: false,
        largest_first: false,
    };
    /// Go's `time.ParseDuration` forms for these units: fractions allowed, units in any order.
    pub const GO: Syntax = Syntax {
        fractions: true,
        largest_first: false,
    };
    /// The group spec's syntax: whole numbers, largest unit first, each once.
    pub const SPEC: Syntax = Syntax {
        fractions: false,
        largest_first: true,
    };
}

// === impl ParseError ===

impl ParseError {
    /// Why the text is not a duration.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The text as given.
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = &self.text;
        match &self.kind {
            ErrorKind::Empty => write!(f, "is empty"),
            ErrorKind::NoNumber => write!(f, "{text:?} is not a duration"),
            ErrorKind::NoUnit => write!(f, "{text:?} has a number without a unit"),
            ErrorKind::UnknownUnit(u) => write!(f, "{text:?} has an unknown unit {u:?}"),
            ErrorKind::UnitOrder => {
                write!(f, "{text:?} repeats a unit or puts a smaller unit first")
            }
            ErrorKind::TooLarge => write!(f, "{text:?} is too large"),
        }
    }
}

impl std::error::Error for ParseError {}

/// Parses a duration written in `syntax`.
pub fn parse(text: &str, syntax: Syntax) -> Result<Duration, ParseError> {
    let fail = |kind| ParseError {
        text: text.to_string(),
        kind,
    };
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(fail(ErrorKind::Empty));
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total: u128 = 0;
    let mut last_scale = u128::MAX;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || (syntax.fractions && c == '.')))
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(number_len);
        let unit_len = tail
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() || number.ends_with('.') || fraction.contains('.') {
            return Err(fail(ErrorKind::NoNumber));
        }
        let scale = match UNITS.iter().find(|(name, _)| *name == unit) {
            Some((_, scale)) => *scale,
            None if unit.is_empty() => return Err(fail(ErrorKind::NoUnit)),
            None => return Err(fail(ErrorKind::UnknownUnit(unit.to_string()))),
        };
        if syntax.largest_first {
            if scale >= last_scale {
                return Err(fail(ErrorKind::UnitOrder));
            }
            last_scale = scale;
        }
        let part = scaled(whole, fraction, scale).ok_or_else(|| fail(ErrorKind::TooLarge))?;
        total = total
            .checked_add(part)
            .ok_or_else(|| fail(ErrorKind::TooLarge))?;
        rest = tail;
    }
    let secs = u64::try_from(total / 1_000_000_000).map_err(|_| fail(ErrorKind::TooLarge))?;
    // The remainder of a division by 1e9 always fits in a u32.
    let nanos = u32::try_from(total % 1_000_000_000).unwrap_or(0);
    Ok(Duration::new(secs, nanos))
}

/// `whole.fraction` units of `scale` nanoseconds each, in nanoseconds (fractions of a
/// nanosecond dropped); `None` when it is too large. Both parts are ASCII digits.
fn scaled(whole: &str, fraction: &str, scale: u128) -> Option<u128> {
    let whole: u64 = whole.parse().ok()?;
    let mut nanos = u128::from(whole).checked_mul(scale)?;
    let fraction = &fraction[..fraction.len().min(MAX_FRACTION_DIGITS)];
    if !fraction.is_empty() {
        let digits: u128 = fraction.parse().ok()?;
        let denominator = 10u128.checked_pow(u32::try_from(fraction.len()).ok()?)?;
        nanos = nanos.checked_add(digits.checked_mul(scale)? / denominator)?;
    }
    Some(nanos)
}

/// Formats a duration in the form [`parse`] reads in every [`Syntax`], largest units first
/// (90 s → `"1m30s"`, 1.5 s → `"1s500ms"`, zero → `"0s"`). Sub-millisecond parts are dropped.
pub fn format(d: Duration) -> String {
    let mut ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (unit, scale) in [("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
        let n = ms / scale;
        if n > 0 {
            out.push_str(&n.to_string());
            out.push_str(unit);
            ms -= n * scale;
        }
    }
    out
}

#[cfg(test)]
mod tests;
