//! Parsers for the small string formats Properties use: memory sizes (`"256m"`), durations
//! (`"10s"`), published ports (`"8080:80/tcp"`) and short volume specs (`"data:/var/lib/x:ro"`).
//! Each returns a problem and a fix on bad input, for a violation at the caller's JSON path.

use infrakit_model::duration::{self, Syntax};

/// A problem with an input, and how to fix it.
pub type Problem = (String, String);

/// Parses a memory size: a whole number of bytes (`268435456`) or a number with a binary unit
/// `b`, `k`, `m`, `g` (optionally followed by `b`, any case), e.g. `"256m"`, `"1.5g"`, `"512KB"`.
pub fn memory(s: &str) -> Result<i64, Problem> {
    let bad = || {
        (
            format!("{s:?} is not a memory size"),
            "write a size such as \"256m\" or \"1g\" (units b, k, m, g)".to_string(),
        )
    };
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').map(str::to_string).unwrap_or(t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1u64 << 10),
        Some('m') => (&t[..t.len() - 1], 1u64 << 20),
        Some('g') => (&t[..t.len() - 1], 1u64 << 30),
        Some(c) if c.is_ascii_digit() => (t.as_str(), 1u64),
        _ => return Err(bad()),
    };
    if num.is_empty() || !num.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(bad());
    }
    let n: f64 = num.parse().map_err(|_| bad())?;
    let bytes = n * mult as f64;
    if !bytes.is_finite() || bytes > i64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as i64)
}

/// Parses a duration of whole seconds: `"30s"`, `"1m30s"`, `"2m"`, `"0s"` ([`Syntax::WHOLE`]),
/// or a bare number of seconds. The total must be whole seconds (Docker's stop timeout has a
/// resolution of one second).
pub fn whole_seconds(s: &str) -> Result<u64, Problem> {
    let bad = || {
        (
            format!("{s:?} is not a duration"),
            "write a duration such as \"10s\" or \"1m30s\"".to_string(),
        )
    };
    let t = s.trim();
    if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit()) {
        return t.parse().map_err(|_| bad());
    }
    let d = duration::parse(t, Syntax::WHOLE).map_err(|_| bad())?;
    if d.subsec_nanos() != 0 {
        return Err((
            format!("{s:?} is not a whole number of seconds"),
            "round it to seconds, e.g. \"2s\"".to_string(),
        ));
    }
    Ok(d.as_secs())
}

/// A published port: `[host_ip:][host_port:]container_port[/protocol]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    /// The host address to bind (all addresses when absent).
    pub host_ip: Option<String>,
    /// The host port (a free one chosen by Docker when absent).
    pub host_port: Option<u16>,
    /// The port inside the container.
    pub container_port: u16,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
}

// === impl Port ===

impl Port {
    /// The key Docker uses for the container side, e.g. `80/tcp`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.container_port, self.protocol)
    }
}

/// Parses a published port as Docker's `-p` does (without ranges): `"80"`, `"8080:80"`,
/// `"8080:80/udp"`, `"127.0.0.1:8080:80"`, `"127.0.0.1::80"`, `"[::1]:8080:80"`.
pub fn port(s: &str) -> Result<Port, Problem> {
    let fix =
        "write \"HOST:CONTAINER[/tcp|udp|sctp]\", e.g. \"8080:80/tcp\", or \"IP:HOST:CONTAINER\"";
    let bad = |why: &str| (format!("{s:?} {why}"), fix.to_string());
    let (addr, protocol) = match s.rsplit_once('/') {
        Some((a, p)) => (a, p.to_ascii_lowercase()),
        None => (s, "tcp".to_string()),
    };
    if !matches!(protocol.as_str(), "tcp" | "udp" | "sctp") {
        return Err(bad("has an unknown protocol (tcp, udp or sctp)"));
    }
    let (host_ip, rest) = if let Some(after) = addr.strip_prefix('[') {
        let (ip, rest) = after
            .split_once(']')
            .ok_or_else(|| bad("has an unclosed '['"))?;
        let rest = rest
            .strip_prefix(':')
            .ok_or_else(|| bad("needs ':' after the IPv6 address"))?;
        (Some(ip.to_string()), rest)
    } else {
        let parts: Vec<&str> = addr.split(':').collect();
        match parts.len() {
            1 | 2 => (None, addr),
            3 => (Some(parts[0].to_string()), &addr[parts[0].len() + 1..]),
            _ => return Err(bad("has too many ':'")),
        }
    };
    if let Some(ip) = &host_ip
        && ip.parse::<std::net::IpAddr>().is_err()
    {
        return Err(bad("has a host address that is not an IP address"));
    }
    let num = |p: &str| -> Result<u16, Problem> {
        if p.contains('-') {
            return Err(bad("is a port range, which is not supported"));
        }
        match p.parse::<u16>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(bad("has a port that is not a number from 1 to 65535")),
        }
    };
    let (host_port, container_port) = match rest.split_once(':') {
        None => (None, num(rest)?),
        Some(("", c)) => (None, num(c)?),
        Some((h, c)) => (Some(num(h)?), num(c)?),
    };
    Ok(Port {
        host_ip,
        host_port,
        container_port,
        protocol,
    })
}

/// The kind of a mount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MountKind {
    /// A host directory or file.
    Bind,
    /// A Docker volume: named (kept on destroy) or anonymous (removed with the container).
    Volume,
    /// A memory file system.
    Tmpfs,
}

/// One mount into the container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// What is mounted.
    pub kind: MountKind,
    /// The host path (bind) or volume name (volume); absent for anonymous volumes and tmpfs.
    pub source: Option<String>,
    /// The absolute path inside the container.
    pub target: String,
    /// Mounted read-only.
    pub read_only: bool,
}

/// True for a Docker volume name (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`).
pub fn is_volume_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Parses a short volume spec as Docker's `-v` does: `"/container/path"` (an anonymous volume),
/// `"name:/container/path[:ro|rw]"` (a named volume) or `"/host/path:/container/path[:ro|rw]"`
/// (a bind mount).
pub fn volume(s: &str) -> Result<Mount, Problem> {
    let fix = "write \"NAME:/path[:ro]\", \"/host/path:/path[:ro]\" or \"/path\"";
    let bad = |why: &str| (format!("{s:?} {why}"), fix.to_string());
    let parts: Vec<&str> = s.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [t] => (None, *t, None),
        [src, t] => (Some(*src), *t, None),
        [src, t, m] => (Some(*src), *t, Some(*m)),
        _ => return Err(bad("has too many ':'")),
    };
    let read_only = match mode {
        None | Some("rw") => false,
        Some("ro") => true,
        Some(_) => return Err(bad("has an unknown mode (ro or rw)")),
    };
    if !target.starts_with('/') {
        return Err(bad("has a container path that is not absolute"));
    }
    let kind = match source {
        None => MountKind::Volume,
        Some(src) if src.starts_with('/') => MountKind::Bind,
        Some(src) if is_volume_name(src) => MountKind::Volume,
        Some(_) => {
            return Err(bad(
                "has a source that is neither an absolute path nor a volume name",
            ));
        }
    };
    Ok(Mount {
        kind,
        source: source.map(str::to_string),
        target: target.to_string(),
        read_only,
    })
}

/// True for a valid host name: 1 to 63 characters, letters, digits, `-` and `.`, starting and
/// ending with a letter or digit.
pub fn is_hostname(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// True for a capability name as `docker run --cap-add` takes it: `ALL`, or letters, digits and
/// `_`, with or without the `CAP_` prefix (case is not significant to the engine).
pub fn is_capability(s: &str) -> bool {
    !s.is_empty() && s.len() <= 40 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes_use_binary_units() {
        assert_eq!(memory("256m").unwrap(), 256 << 20);
        assert_eq!(memory("1g").unwrap(), 1 << 30);
        assert_eq!(memory("1.5G").unwrap(), 3 << 29);
        assert_eq!(memory("512KB").unwrap(), 512 << 10);
        assert_eq!(memory("4096").unwrap(), 4096);
        assert_eq!(memory("10b").unwrap(), 10);
        for bad in ["", "m", "12x", "-1m", "1e3m", "lots"] {
            assert!(memory(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_are_whole_seconds() {
        assert_eq!(whole_seconds("10s").unwrap(), 10);
        assert_eq!(whole_seconds("1m30s").unwrap(), 90);
        assert_eq!(whole_seconds("2000ms").unwrap(), 2);
        assert_eq!(whole_seconds("7").unwrap(), 7);
        assert_eq!(whole_seconds("0s").unwrap(), 0);
        assert!(whole_seconds("1500ms").unwrap_err().0.contains("whole"));
        for bad in ["", "s", "10x", "1.5s", "-1s"] {
            assert!(whole_seconds(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ports_parse_like_docker_run_p() {
        let p = port("8080:80/tcp").unwrap();
        assert_eq!(
            (p.host_port, p.container_port, p.key()),
            (Some(8080), 80, "80/tcp".into())
        );
        let p = port("127.0.0.1:5353:53/udp").unwrap();
        assert_eq!(p.host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(p.key(), "53/udp");
        let p = port("127.0.0.1::80").unwrap();
        assert_eq!((p.host_port, p.container_port), (None, 80));
        assert_eq!(port("80").unwrap().host_port, None);
        assert_eq!(
            port("[::1]:8080:80").unwrap().host_ip.as_deref(),
            Some("::1")
        );
        for bad in [
            "",
            "0",
            "80/icmp",
            "8080-8081:80",
            "a:b",
            "x.y:1:2",
            "1:2:3:4",
            "70000",
        ] {
            assert!(port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn volumes_parse_like_docker_run_v() {
        let m = volume("data:/var/lib/data:ro").unwrap();
        assert_eq!(
            (m.kind, m.source.as_deref(), m.read_only),
            (MountKind::Volume, Some("data"), true)
        );
        assert_eq!(volume("/srv:/srv").unwrap().kind, MountKind::Bind);
        let anon = volume("/scratch").unwrap();
        assert_eq!((anon.kind, anon.source), (MountKind::Volume, None));
        for bad in [
            "relative",
            "data:relative",
            "da ta:/x",
            "a:/b:rx",
            "a:/b:ro:x",
        ] {
            assert!(volume(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hostnames_are_checked() {
        assert!(is_hostname("web-1"));
        assert!(is_hostname("10.0.0.1"));
        assert!(!is_hostname("-web"));
        assert!(!is_hostname("we b"));
        assert!(!is_hostname(&"a".repeat(64)));
    }
}
