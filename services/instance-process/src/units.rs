//! Durations as Properties write them: `"500ms"`, `"5s"`, `"1m30s"`, `"1.5s"`, `"0s"`.

use std::time::Duration;

/// Parses a duration: one or more `<number><unit>` parts with units `h`, `m`, `s` and `ms`
/// (the number may have a fraction, as in Go: `"1.5s"`). A bare number is refused, because its
/// unit would be a guess. On error, returns the problem and the fix.
pub fn duration(s: &str) -> Result<Duration, (String, String)> {
    let bad = || {
        (
            format!("{s:?} is not a duration"),
            "write a duration such as \"10s\", \"500ms\" or \"1m30s\"".to_string(),
        )
    };
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..len];
        if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
            return Err(bad());
        }
        let n: f64 = number.parse().map_err(|_| bad())?;
        rest = &rest[len..];
        let (seconds, unit_len) = if rest.starts_with("ms") {
            (0.001, 2)
        } else if rest.starts_with('h') {
            (3600.0, 1)
        } else if rest.starts_with('m') {
            (60.0, 1)
        } else if rest.starts_with('s') {
            (1.0, 1)
        } else {
            return Err(bad());
        };
        rest = &rest[unit_len..];
        total += n * seconds;
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

/// Formats a duration the way [`duration`] reads it (`"10s"`, `"1.5s"`, `"250ms"`).
pub fn format(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else if d.as_secs() == 0 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_go_style_durations() {
        assert_eq!(duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(duration("0s").unwrap(), Duration::ZERO);
        assert_eq!(duration("1h").unwrap(), Duration::from_secs(3600));
    }

    #[test]
    fn refuses_bare_numbers_and_unknown_units() {
        for bad in ["", "10", "5 s", "s", "1d", ".5s", "5.s", "-1s", "1e3s"] {
            let (problem, fix) = duration(bad).unwrap_err();
            assert!(problem.contains("is not a duration"), "{bad}: {problem}");
            assert!(fix.contains("10s"), "{fix}");
        }
    }

    #[test]
    fn format_round_trips() {
        for d in ["10s", "250ms", "1.5s", "0s"] {
            assert_eq!(format(duration(d).unwrap()), d);
        }
    }
}
