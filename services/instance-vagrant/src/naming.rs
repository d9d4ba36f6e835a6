//! Names: instance IDs (also the directory, container and machine name) and what a pet's
//! logical ID becomes (a host name, or a static IP).

use infrakit_model::tags;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::IpAddr;

/// The longest group-name prefix kept in an instance ID.
const MAX_PREFIX: usize = 40;

/// What a pet's logical ID means for its machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identity {
    /// Cattle: the machine's host name is its instance ID.
    None,
    /// A host name (the logical ID is one).
    Hostname(String),
    /// A static IP address (the logical ID parses as one).
    Ip(IpAddr),
}

/// The instance ID for a spec with `tags`: `<group>-<12 hex digits>` (`vagrant-<hex>` outside a
/// group). The hex digits come from the provision token when there is one, so that a retried
/// Provision finds the same ID (and directory) instead of creating a second machine.
pub fn instance_id(tags: &HashMap<String, String>) -> String {
    let prefix = tags
        .get(tags::GROUP)
        .map(|g| sanitize(g))
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "vagrant".to_string());
    let suffix = match tags.get(tags::PROVISION_TOKEN) {
        Some(token) => {
            let digest = Sha256::digest(token.as_bytes());
            digest
                .iter()
                .take(6)
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        }
        None => infrakit_runtime::socket::random_hex(6),
    };
    format!("{prefix}-{suffix}")
}

/// Lower-case letters, digits and single dashes, starting with a letter or digit: valid as a
/// host name label, a directory name and a container name.
fn sanitize(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
        if out.len() >= MAX_PREFIX {
            break;
        }
    }
    out.trim_end_matches('-').to_string()
}

/// True for a well-formed instance ID (what [`instance_id`] makes); anything else is refused
/// before it can name a path.
pub fn is_instance_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_PREFIX + 13
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// What a logical ID means: an IP address, or else a host name. `Err` when it is neither.
pub fn identity(logical_id: Option<&str>) -> Result<Identity, &'static str> {
    let Some(id) = logical_id else {
        return Ok(Identity::None);
    };
    if let Ok(ip) = id.parse::<IpAddr>() {
        return Ok(Identity::Ip(ip));
    }
    if is_hostname(id) {
        Ok(Identity::Hostname(id.to_string()))
    } else {
        Err("is neither an IP address nor a host name")
    }
}

/// True for a host name: dot-separated labels of 1 to 63 letters, digits and inner dashes, at
/// most 253 characters.
pub fn is_hostname(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn ids_come_from_the_group_and_the_provision_token() {
        let t = tags(&[(tags::GROUP, "Web Tier_1"), (tags::PROVISION_TOKEN, "tok")]);
        let a = instance_id(&t);
        assert_eq!(a, instance_id(&t), "the same token gives the same ID");
        assert!(a.starts_with("web-tier-1-"), "{a}");
        assert!(is_instance_id(&a));
        let b = instance_id(&tags(&[]));
        assert!(
            b.starts_with("vagrant-") && b.len() == "vagrant-".len() + 12,
            "{b}"
        );
        assert_ne!(b, instance_id(&tags(&[])), "random without a token");
        assert!(instance_id(&tags(&[(tags::GROUP, "__")])).starts_with("vagrant-"));
    }

    #[test]
    fn instance_ids_never_escape_the_directory() {
        for bad in ["", "../x", "a/b", ".hidden", "A", "x y"] {
            assert!(!is_instance_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn logical_ids_are_ips_or_host_names() {
        assert_eq!(identity(None), Ok(Identity::None));
        assert_eq!(
            identity(Some("10.0.0.5")),
            Ok(Identity::Ip("10.0.0.5".parse().unwrap()))
        );
        assert_eq!(
            identity(Some("db-1.example")),
            Ok(Identity::Hostname("db-1.example".into()))
        );
        assert!(identity(Some("not a name")).is_err());
        assert!(identity(Some("-x")).is_err());
    }
}
