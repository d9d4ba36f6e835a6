//! `google.protobuf.Timestamp` as RFC 3339 text in UTC with milliseconds, e.g.
//! `2026-11-25T07:12:03.120Z` (a small civil-calendar conversion, no date library).

use prost_types::Timestamp;

/// Formats a timestamp as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC). Nanoseconds out of range are
/// clamped; sub-millisecond digits are dropped.
pub fn rfc3339(ts: &Timestamp) -> String {
    let secs = ts.seconds;
    let millis = ts.nanos.clamp(0, 999_999_999) / 1_000_000;
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (sod / 3600, sod % 3600 / 60, sod % 60);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{millis:03}Z")
}

/// [`rfc3339`] of an optional timestamp; `None` when it is absent.
pub fn rfc3339_opt(ts: Option<&Timestamp>) -> Option<String> {
    ts.map(rfc3339)
}

/// The proleptic Gregorian date of a day number counted from 1970-01-01 (H. Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March first
    let d = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let y = yoe + era * 400 + i64::from(m <= 2);
    // Both are small and positive by construction.
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(seconds: i64, nanos: i32) -> Timestamp {
        Timestamp { seconds, nanos }
    }

    #[test]
    fn formats_utc_with_millis() {
        assert_eq!(rfc3339(&ts(0, 0)), "1970-01-01T00:00:00.000Z");
        // 2026-11-25T07:12:03.120Z
        assert_eq!(
            rfc3339(&ts(1_795_590_723, 120_999_999)),
            "2026-11-25T07:12:03.120Z"
        );
        assert_eq!(rfc3339(&ts(951_782_400, 0)), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(&ts(-1, 0)), "1969-12-31T23:59:59.000Z");
        assert_eq!(rfc3339(&ts(253_402_300_799, 0)), "9999-12-31T23:59:59.000Z");
    }

    #[test]
    fn bad_nanos_are_clamped_and_absent_is_none() {
        assert_eq!(rfc3339(&ts(0, -5)), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(&ts(0, 2_000_000_000)), "1970-01-01T00:00:00.999Z");
        assert_eq!(rfc3339_opt(None), None);
    }
}
