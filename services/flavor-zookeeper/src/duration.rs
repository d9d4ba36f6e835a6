//! Durations in Properties: `"500ms"`, `"30s"`, `"10m"`, `"1h30m"` (the group spec's syntax).

use std::time::Duration;

/// The longest duration accepted (a day): a grace period beyond that is a typo.
pub const MAX: Duration = Duration::from_secs(24 * 3600);

/// Parses one or more whole numbers, each followed by a unit (`ms`, `s`, `m`, `h`), largest
/// unit first; `"0"` alone is also accepted. The error says what is wrong, in a few words.
pub fn parse(text: &str) -> Result<Duration, String> {
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.is_empty() {
        return Err("is empty".to_string());
    }
    let mut total: u64 = 0;
    let mut last_scale = u64::MAX;
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
        if scale >= last_scale {
            return Err(format!(
                "{text:?} repeats a unit or puts a smaller unit first"
            ));
        }
        last_scale = scale;
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
    if d > MAX {
        return Err(format!("{text:?} is longer than a day"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_group_spec_syntax_and_refuses_the_rest() {
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
        assert!(parse("").is_err());
        assert!(parse("30").is_err());
        assert!(parse("30x").is_err());
        assert!(parse("1s1m").is_err());
        assert!(parse("25h").is_err());
    }
}
