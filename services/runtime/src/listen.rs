//! Listen addresses: `unix:///abs/path.sock` (also `unix:/abs/path.sock`) or `tcp://host:port`.

use std::fmt;
use std::path::PathBuf;

/// Where a plugin listens, or where a client finds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListenAddr {
    /// A unix domain socket at this path.
    Unix(PathBuf),
    /// A TCP address `host:port` (host may be a name or an IP literal; IPv6 in brackets).
    Tcp(String),
}

/// Why an address could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid address {given:?}: {problem} (use unix:///path/to/name.sock or tcp://host:port)")]
pub struct BadAddr {
    /// The address as given.
    pub given: String,
    /// What is wrong.
    pub problem: &'static str,
}

// === impl ListenAddr ===

impl ListenAddr {
    /// Parses an address. A bare absolute path is taken as a unix socket.
    pub fn parse(s: &str) -> Result<Self, BadAddr> {
        let bad = |problem| BadAddr {
            given: s.to_string(),
            problem,
        };
        if let Some(rest) = s.strip_prefix("unix://") {
            if !rest.starts_with('/') {
                return Err(bad(
                    "a unix socket path must be absolute (three slashes: unix:///...)",
                ));
            }
            return Ok(Self::Unix(PathBuf::from(rest)));
        }
        if let Some(rest) = s.strip_prefix("unix:") {
            if !rest.starts_with('/') {
                return Err(bad("a unix socket path must be absolute"));
            }
            return Ok(Self::Unix(PathBuf::from(rest)));
        }
        if s.starts_with('/') {
            return Ok(Self::Unix(PathBuf::from(s)));
        }
        if let Some(rest) = s.strip_prefix("tcp://") {
            let rest = rest.trim_end_matches('/');
            let Some((host, port)) = rest.rsplit_once(':') else {
                return Err(bad("a TCP address needs a port"));
            };
            if host.is_empty() {
                return Err(bad("a TCP address needs a host (e.g. 127.0.0.1)"));
            }
            if port.parse::<u16>().is_err() {
                return Err(bad("the TCP port must be a number from 0 to 65535"));
            }
            return Ok(Self::Tcp(rest.to_string()));
        }
        Err(bad("unknown scheme"))
    }

    /// The path of a unix address.
    pub fn unix_path(&self) -> Option<&std::path::Path> {
        match self {
            Self::Unix(p) => Some(p),
            Self::Tcp(_) => None,
        }
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unix(p) => write!(f, "unix://{}", p.display()),
            Self::Tcp(a) => write!(f, "tcp://{a}"),
        }
    }
}

impl std::str::FromStr for ListenAddr {
    type Err = BadAddr;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_unix_and_tcp_forms() {
        assert_eq!(
            ListenAddr::parse("unix:///run/x.sock").unwrap(),
            ListenAddr::Unix("/run/x.sock".into())
        );
        assert_eq!(
            ListenAddr::parse("unix:/run/x.sock").unwrap(),
            ListenAddr::Unix("/run/x.sock".into())
        );
        assert_eq!(
            ListenAddr::parse("tcp://127.0.0.1:24864").unwrap(),
            ListenAddr::Tcp("127.0.0.1:24864".into())
        );
        assert_eq!(
            ListenAddr::parse("tcp://[::1]:80").unwrap(),
            ListenAddr::Tcp("[::1]:80".into())
        );
        assert_eq!(
            ListenAddr::parse("unix:///a.sock").unwrap().to_string(),
            "unix:///a.sock"
        );
    }

    #[test]
    fn refuses_bad_addresses_with_the_reason() {
        for (bad, why) in [
            ("unix://relative.sock", "absolute"),
            ("tcp://host", "port"),
            ("tcp://:80", "host"),
            ("tcp://h:99999", "port"),
            ("http://x", "scheme"),
        ] {
            let e = ListenAddr::parse(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
