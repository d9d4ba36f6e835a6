//! The order in which the replicas of one name are offered to clients.
//!
//! Clients try the replicas in turn and stop at the first they can connect to, so the order
//! decides which replica takes the traffic. The best bet comes first: a replica that answered
//! its last health probe with SERVING, then one not probed yet (it just registered), then one
//! that answered NOT_SERVING, and last one that could not be reached. Among equals, a fresher
//! verdict counts for more (the most recently probed first), then the replica heard from last
//! (the lease that runs longest was renewed last), and the endpoint breaks what ties remain, so
//! that the order is stable.

use infrakit_spi::discovery::v1::{PluginEntry, PluginHealth};
use std::cmp::{Ordering, Reverse};

/// Sorts the replicas of one name, best first.
pub fn best_first(replicas: &mut [PluginEntry]) {
    replicas.sort_by(compare);
}

fn compare(a: &PluginEntry, b: &PluginEntry) -> Ordering {
    health_rank(a)
        .cmp(&health_rank(b))
        .then_with(|| Reverse(seconds(a.probed)).cmp(&Reverse(seconds(b.probed))))
        .then_with(|| Reverse(seconds(a.lease_expires)).cmp(&Reverse(seconds(b.lease_expires))))
        .then_with(|| a.endpoint.cmp(&b.endpoint))
}

/// Lower is better.
fn health_rank(e: &PluginEntry) -> u8 {
    match PluginHealth::try_from(e.health).unwrap_or(PluginHealth::Unknown) {
        PluginHealth::Serving => 0,
        PluginHealth::Unknown => 1,
        PluginHealth::NotServing => 2,
        PluginHealth::Unreachable => 3,
    }
}

/// A timestamp as a comparable pair; unset sorts before every time (it is the oldest).
fn seconds(t: Option<prost_types::Timestamp>) -> Option<(i64, i32)> {
    t.map(|t| (t.seconds, t.nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replica(endpoint: &str, health: PluginHealth, probed: i64, lease: i64) -> PluginEntry {
        PluginEntry {
            name: "group".into(),
            endpoint: endpoint.into(),
            health: health as i32,
            probed: (probed > 0).then_some(prost_types::Timestamp {
                seconds: probed,
                nanos: 0,
            }),
            lease_expires: Some(prost_types::Timestamp {
                seconds: lease,
                nanos: 0,
            }),
            ..Default::default()
        }
    }

    fn order(mut v: Vec<PluginEntry>) -> Vec<String> {
        best_first(&mut v);
        v.into_iter().map(|e| e.endpoint).collect()
    }

    #[test]
    fn serving_comes_first_and_unreachable_last() {
        let got = order(vec![
            replica("tcp://d:1", PluginHealth::Unreachable, 10, 20),
            replica("tcp://c:1", PluginHealth::NotServing, 10, 20),
            replica("tcp://b:1", PluginHealth::Unknown, 0, 20),
            replica("tcp://a:1", PluginHealth::Serving, 10, 20),
        ]);
        assert_eq!(got, ["tcp://a:1", "tcp://b:1", "tcp://c:1", "tcp://d:1"]);
    }

    #[test]
    fn among_equals_the_freshest_probe_then_the_latest_renewal_wins() {
        let got = order(vec![
            replica("tcp://a:1", PluginHealth::Serving, 10, 30),
            replica("tcp://b:1", PluginHealth::Serving, 11, 20),
            replica("tcp://c:1", PluginHealth::Serving, 10, 40),
            replica("tcp://d:1", PluginHealth::Serving, 10, 40),
        ]);
        assert_eq!(got, ["tcp://b:1", "tcp://c:1", "tcp://d:1", "tcp://a:1"]);
    }
}
