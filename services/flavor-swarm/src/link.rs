//! How an instance is matched to its swarm node: a link ID, put both in the instance's tags and in
//! its engine's labels (`daemon.json`), which the swarm shows in the node's description.
//!
//! # Guarantees
//! - The link is derived from Prepare's input only (group, provision sequence and token, logical
//!   ID), so Prepare is deterministic, and it is unique per provision: the group's provision
//!   token is unique, and so is the per-group sequence.

use sha2::{Digest, Sha256};

/// Tag and engine label: the link between an instance and its swarm node.
pub const LINK: &str = "infrakit.link";
/// Tag and engine label: the swarm's cluster ID.
pub const SWARM_ID: &str = "infrakit.swarm.id";
/// Tag and engine label: `worker` or `manager`.
pub const ROLE: &str = "infrakit.swarm.role";
/// Engine label: the group the instance belongs to (the same key as the group's tag), so that
/// nodes left behind by a group's dead instances can be found and removed.
pub const GROUP: &str = infrakit_model::tags::GROUP;
/// Node label (in the node's spec, set by the flavor): the instance ID, learned from Healthy, so
/// that Drain finds the node even when it is given only the instance ID.
pub const INSTANCE: &str = "infrakit.instance";

/// What identifies one provision.
#[derive(Clone, Copy, Debug, Default)]
pub struct Provision<'a> {
    /// The group ID.
    pub group: &'a str,
    /// The group's per-provision sequence number.
    pub sequence: u64,
    /// The group's provision token tag, if any.
    pub token: Option<&'a str>,
    /// The pet's logical ID, if any.
    pub logical_id: Option<&'a str>,
}

/// The link ID of a provision: 16 hex digits.
pub fn link_id(p: &Provision<'_>) -> String {
    let mut h = Sha256::new();
    for part in [
        p.group,
        &p.sequence.to_string(),
        p.token.unwrap_or(""),
        p.logical_id.unwrap_or(""),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    h.finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_is_stable_and_differs_per_provision() {
        let a = Provision {
            group: "workers",
            sequence: 1,
            token: Some("t1"),
            logical_id: None,
        };
        assert_eq!(link_id(&a), link_id(&a));
        assert_eq!(link_id(&a).len(), 16);
        let b = Provision { sequence: 2, ..a };
        let c = Provision {
            token: Some("t2"),
            ..a
        };
        let d = Provision {
            group: "other",
            ..a
        };
        let ids = [link_id(&a), link_id(&b), link_id(&c), link_id(&d)];
        for i in 0..ids.len() {
            for j in i + 1..ids.len() {
                assert_ne!(ids[i], ids[j]);
            }
        }
    }
}
