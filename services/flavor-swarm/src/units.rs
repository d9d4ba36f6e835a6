//! The small string formats the Properties use: durations, addresses, label names.

use std::time::Duration;

/// Parses `"500ms"`, `"30s"`, `"5m"`, `"1h30m"` (units `h`, `m`, `s`, `ms`, combined largest
/// first or in any order).
pub fn duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?} is not a duration");
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut ms: u64 = 0;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let (unit, len) = if rest.starts_with("ms") {
            (1, 2)
        } else if rest.starts_with('h') {
            (3_600_000, 1)
        } else if rest.starts_with('m') {
            (60_000, 1)
        } else if rest.starts_with('s') {
            (1_000, 1)
        } else {
            return Err(bad());
        };
        rest = &rest[len..];
        ms = n
            .checked_mul(unit)
            .and_then(|x| ms.checked_add(x))
            .ok_or_else(bad)?;
    }
    Ok(Duration::from_millis(ms))
}

/// True for `host:port` (a name, IPv4 or `[IPv6]`, and a port 1..=65535), safe to put in a
/// shell script unquoted.
pub fn is_join_address(s: &str) -> bool {
    let Some((host, port)) = s.rsplit_once(':') else {
        return false;
    };
    let port_ok = port.parse::<u16>().is_ok_and(|p| p > 0);
    let host_ok = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        !v6.is_empty()
            && v6
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
    } else {
        !host.is_empty()
            && host.len() <= 253
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    };
    port_ok && host_ok
}

/// True for what `docker swarm join --advertise-addr` takes: an IP, an interface name, or
/// either with `:port`.
pub fn is_advertise_addr(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 260
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || ".:-_[]%".contains(c))
}

/// True for an engine label name: letters, digits, `.`, `-`, `_`, `/`.
pub fn is_label_key(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_/".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_combine_units() {
        assert_eq!(duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(duration(" 20s ").unwrap(), Duration::from_secs(20));
        for bad in ["", "5", "s", "5x", "1m-3s", "99999999999999999999h"] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn join_addresses_need_a_host_and_a_port() {
        for good in ["10.0.0.2:2377", "mgr-1.example.com:2377", "[fd00::1]:2377"] {
            assert!(is_join_address(good), "{good}");
        }
        for bad in [
            "10.0.0.2", ":2377", "h:0", "h:99999", "a b:2377", "$(x):1", "[]:2377",
        ] {
            assert!(!is_join_address(bad), "{bad}");
        }
    }

    #[test]
    fn advertise_addresses_and_labels_are_shell_safe() {
        assert!(is_advertise_addr("eth0"));
        assert!(is_advertise_addr("10.0.0.3:2377"));
        assert!(!is_advertise_addr("eth0; rm -rf /"));
        assert!(is_label_key("com.example/zone"));
        assert!(!is_label_key("a=b"));
        assert!(!is_label_key(""));
    }
}
