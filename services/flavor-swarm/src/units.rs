//! The small string formats the Properties use: addresses and label names.

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
