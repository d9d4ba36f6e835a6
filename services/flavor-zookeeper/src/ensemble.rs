//! The ensemble a group's allocation describes: one member per logical ID, in the allocation's
//! order, member `k` (0-based) having ZooKeeper server ID `myid = k + 1`.
//!
//! # Guarantees
//! - Every logical ID is an IPv4 address, an IPv6 address (without brackets) or an RFC 1123
//!   host name, and none repeats (names compared without case).
//! - There are 1 to 255 members, an odd number unless even sizes were allowed explicitly.
//!
//! # Caveats
//! A member's `myid` is its position in the list: reordering, inserting or removing logical IDs
//! renumbers the members after that position, and ZooKeeper's membership is static in the
//! generated configuration. Change the membership together with a change of the flavor
//! Properties (any `Settings` value), so that the whole ensemble is rolled to the new list.

use infrakit_model::Violations;
use infrakit_model::json_path::index;
use std::net::{IpAddr, Ipv6Addr};

/// The largest ensemble (ZooKeeper server IDs 1 to 255).
pub const MAX_MEMBERS: usize = 255;

/// The members of an ensemble, by logical ID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ensemble {
    ids: Vec<String>,
}

/// The TCP ports of every member (the same on each: members differ by address).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ports {
    /// Where clients connect (`clientPort`).
    pub client: u16,
    /// Followers' connections to the leader.
    pub quorum: u16,
    /// Leader election.
    pub election: u16,
}

// === impl Ensemble ===

impl Ensemble {
    /// Checks a group's allocation (`size`, `logical_ids`, reported under `at`, e.g.
    /// `$.allocation`), collecting every violation.
    pub fn from_allocation(
        size: u32,
        logical_ids: &[String],
        allow_even: bool,
        at: &str,
    ) -> Result<Self, Violations> {
        let mut bad = Violations::new();
        let ids_path = format!("{at}.logical_ids");
        if logical_ids.is_empty() {
            if size > 0 {
                bad.push(
                    format!("{at}.size"),
                    "a ZooKeeper ensemble is a group of pets, not a size",
                    "allocate \"LogicalIDs\": the members' addresses, e.g. [\"10.0.0.11\", \"10.0.0.12\", \"10.0.0.13\"]",
                );
            } else {
                bad.push(
                    &ids_path,
                    "is empty: an ensemble needs at least one member",
                    "list the members' addresses, e.g. [\"10.0.0.11\", \"10.0.0.12\", \"10.0.0.13\"]",
                );
            }
            return Err(bad);
        }
        if logical_ids.len() > MAX_MEMBERS {
            bad.push(
                &ids_path,
                format!(
                    "has {} members; ZooKeeper server IDs go up to {MAX_MEMBERS}",
                    logical_ids.len()
                ),
                "split the group, or use observers outside this group",
            );
        } else if logical_ids.len().is_multiple_of(2) && !allow_even {
            bad.push(
                &ids_path,
                format!(
                    "has an even number of members ({}), which survives no more failures than {} members",
                    logical_ids.len(),
                    logical_ids.len() - 1
                ),
                "use an odd number of members (3, 5, 7), or set \"AllowEvenSize\": true in the flavor Properties",
            );
        }
        let mut seen: Vec<String> = Vec::with_capacity(logical_ids.len());
        for (i, id) in logical_ids.iter().enumerate() {
            if let Err(e) = check_address(id) {
                bad.push(
                    index(&ids_path, i),
                    e,
                    "use the member's IP address or host name, e.g. \"10.0.0.11\" or \"zk-1.example.com\"",
                );
            }
            let folded = id.to_ascii_lowercase();
            if let Some(first) = seen.iter().position(|s| *s == folded) {
                bad.push(
                    index(&ids_path, i),
                    format!("repeats logical ID {id:?} (also at index {first})"),
                    "list each member once",
                );
            }
            seen.push(folded);
        }
        bad.into_result(Self {
            ids: logical_ids.to_vec(),
        })
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when there are no members (never, for a checked ensemble).
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The ZooKeeper server ID of `logical_id`, if it is a member.
    pub fn myid(&self, logical_id: &str) -> Option<u32> {
        self.ids
            .iter()
            .position(|id| id.eq_ignore_ascii_case(logical_id))
            .and_then(|k| u32::try_from(k + 1).ok())
    }

    /// The `server.N=host:quorum:election` lines of the configuration, in server ID order.
    pub fn server_lines(&self, ports: Ports) -> Vec<String> {
        self.ids
            .iter()
            .enumerate()
            .map(|(k, id)| {
                format!(
                    "server.{}={}:{}:{}",
                    k + 1,
                    bracketed(id),
                    ports.quorum,
                    ports.election
                )
            })
            .collect()
    }

    /// How many members make a quorum (a strict majority).
    pub fn quorum(&self) -> usize {
        self.ids.len() / 2 + 1
    }
}

/// `host` as it appears before `:port`: IPv6 addresses in brackets.
pub fn bracketed(host: &str) -> String {
    if host.parse::<Ipv6Addr>().is_ok() {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// Checks that `s` is an address a member can listen on and others can reach: an IP address
/// (not a wildcard or multicast one) or an RFC 1123 host name. The error says what is wrong.
pub fn check_address(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("is empty".into());
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        if ip.is_unspecified() {
            return Err(format!(
                "{s:?} is a wildcard address, which no member can be reached at"
            ));
        }
        if ip.is_multicast() {
            return Err(format!("{s:?} is a multicast address"));
        }
        return Ok(());
    }
    if s.starts_with('[') && s.ends_with(']') {
        return Err(format!(
            "{s:?} has brackets; write the IPv6 address without them"
        ));
    }
    if s.contains(':') {
        return Err(format!(
            "{s:?} is neither an IP address nor a host name (a port does not belong in a logical ID)"
        ));
    }
    if s.len() > 253 {
        return Err("is longer than a host name may be (253 characters)".into());
    }
    let labels: Vec<&str> = s.trim_end_matches('.').split('.').collect();
    for label in &labels {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(format!(
                "{s:?} is neither an IP address nor a host name (labels are letters, digits and inner hyphens, 1 to 63 long)"
            ));
        }
    }
    if labels
        .last()
        .is_some_and(|l| l.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(format!("{s:?} looks like an IPv4 address but is not one"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn members_are_numbered_from_one_in_allocation_order() {
        let e = Ensemble::from_allocation(
            0,
            &ids(&["10.0.0.3", "zk.example.com", "::1"]),
            false,
            "$.allocation",
        )
        .unwrap();
        assert_eq!(e.myid("10.0.0.3"), Some(1));
        assert_eq!(e.myid("ZK.example.com"), Some(2));
        assert_eq!(e.myid("10.0.0.4"), None);
        assert_eq!(e.quorum(), 2);
        let ports = Ports {
            client: 2181,
            quorum: 2888,
            election: 3888,
        };
        assert_eq!(
            e.server_lines(ports),
            vec![
                "server.1=10.0.0.3:2888:3888",
                "server.2=zk.example.com:2888:3888",
                "server.3=[::1]:2888:3888"
            ]
        );
    }

    #[test]
    fn reports_every_bad_logical_id_with_its_path() {
        let err = Ensemble::from_allocation(
            0,
            &ids(&[
                "10.0.0.1",
                "0.0.0.0",
                "10.0.0.256",
                "a_b",
                "10.0.0.1",
                "[::1]",
            ]),
            false,
            "$.allocation",
        )
        .unwrap_err();
        let paths: Vec<&str> = err.0.iter().map(|v| v.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "$.allocation.logical_ids",
                "$.allocation.logical_ids[1]",
                "$.allocation.logical_ids[2]",
                "$.allocation.logical_ids[3]",
                "$.allocation.logical_ids[4]",
                "$.allocation.logical_ids[5]",
            ],
            "{err}"
        );
        assert!(err.to_string().contains("AllowEvenSize"), "{err}");
    }

    #[test]
    fn cattle_empty_even_and_oversized_allocations_are_refused() {
        let e = Ensemble::from_allocation(3, &[], false, "$.allocation").unwrap_err();
        assert_eq!(e.0[0].path, "$.allocation.size");
        let e = Ensemble::from_allocation(0, &[], false, "$.allocation").unwrap_err();
        assert_eq!(e.0[0].path, "$.allocation.logical_ids");
        assert!(Ensemble::from_allocation(0, &ids(&["a", "b"]), true, "$").is_ok());
        let many: Vec<String> = (0..257).map(|i| format!("h{i}")).collect();
        let e = Ensemble::from_allocation(0, &many, true, "$.allocation").unwrap_err();
        assert!(e.to_string().contains("up to 255"), "{e}");
    }
}
