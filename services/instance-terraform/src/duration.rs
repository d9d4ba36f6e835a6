//! Parsing durations given on the command line: `500ms`, `30s`, `10m`, `1h`, `1m30s`.

use std::time::Duration;

/// Parses one or more whole numbers, each followed by a unit (`ms`, `s`, `m`, `h`); `0` alone is
/// also accepted.
pub fn parse(text: &str) -> Result<Duration, String> {
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.is_empty() {
        return Err("is empty; write e.g. 30s".to_string());
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        let (number, tail) = rest.split_at(digits);
        let n: u64 = number
            .parse()
            .map_err(|_| format!("{text:?} is not a duration; write e.g. 500ms, 30s or 1m30s"))?;
        let unit_len = tail.chars().take_while(char::is_ascii_alphabetic).count();
        let (unit, tail) = tail.split_at(unit_len);
        let d = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.saturating_mul(60)),
            "h" => Duration::from_secs(n.saturating_mul(3600)),
            _ => return Err(format!("{text:?} has no valid unit; use ms, s, m or h")),
        };
        total = total.saturating_add(d);
        rest = tail;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_nonsense_is_refused() {
        assert_eq!(parse("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse("0").unwrap(), Duration::ZERO);
        assert!(parse("5").is_err());
        assert!(parse("s").is_err());
        assert!(parse("3 days").is_err());
    }
}
