//! Judging an instance by its swarm node (pure), and what the flavor remembers between Healthy
//! calls.
//!
//! - No node with the instance's link: UNKNOWN while the instance may still be joining (for
//!   `JoinTimeout` from the first time it was asked about), then UNHEALTHY.
//! - A Ready node: HEALTHY, except that a manager instance must be a Reachable manager
//!   (UNKNOWN while reachability is unknown, UNHEALTHY when unreachable or when it is a worker).
//! - A Down or Disconnected node: UNHEALTHY. A node in an unknown state: UNKNOWN.
//!
//! UNKNOWN verdicts ask to be rechecked within a second, so a group sees a join as soon as it
//! happens.

use crate::nodes::NodeView;
use crate::properties::Role;
use bollard::models::{NodeState, Reachability};
use infrakit_spi::flavor::v1::Health;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Recheck an UNKNOWN instance this soon.
pub const WAITING_RECHECK: Duration = Duration::from_secs(1);
/// Recheck an UNHEALTHY instance this soon.
pub const UNHEALTHY_RECHECK: Duration = Duration::from_secs(2);
/// Recheck a HEALTHY instance this soon.
pub const HEALTHY_RECHECK: Duration = Duration::from_secs(5);
/// A link not asked about for this long belongs to an instance that is gone (live instances are
/// asked about at least every [`HEALTHY_RECHECK`]).
pub const FORGET_AFTER: Duration = Duration::from_secs(15);
/// How often a group's nodes are swept for ones left behind by dead instances.
pub const SWEEP_EVERY: Duration = Duration::from_secs(3);

/// A flavor's answer about one instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The health.
    pub health: Health,
    /// Why.
    pub reason: String,
    /// When to ask again.
    pub recheck_after: Duration,
}

/// Judges an instance expected in `role` by the nodes carrying its link, having waited `waited`
/// for it to join out of `join_timeout`.
pub fn judge(role: Role, nodes: &[NodeView], waited: Duration, join_timeout: Duration) -> Verdict {
    let best = nodes
        .iter()
        .find(|n| n.state == Some(NodeState::READY))
        .or_else(|| nodes.first());
    let Some(node) = best else {
        return if waited < join_timeout {
            unknown(format!(
                "has not joined the swarm yet (waited {}s of JoinTimeout {}s)",
                waited.as_secs(),
                join_timeout.as_secs()
            ))
        } else {
            unhealthy(format!(
                "did not join the swarm within JoinTimeout {}s",
                join_timeout.as_secs()
            ))
        };
    };
    let name = node.name();
    match node.state {
        Some(NodeState::READY) => match (role, node.manager, node.reachability) {
            (Role::Manager, false, _) => unhealthy(format!(
                "node {name} is a worker, but the group wants managers"
            )),
            (Role::Manager, true, Some(Reachability::REACHABLE)) => {
                healthy(format!("node {name} is a ready, reachable manager"))
            }
            (Role::Manager, true, Some(Reachability::UNREACHABLE)) => {
                unhealthy(format!("manager {name} is unreachable"))
            }
            (Role::Manager, true, _) => unknown(format!(
                "manager {name} is ready; its reachability is not known yet"
            )),
            (Role::Worker, _, _) => healthy(format!("node {name} is ready")),
        },
        Some(s @ (NodeState::DOWN | NodeState::DISCONNECTED)) => {
            unhealthy(format!("node {name} is {s}"))
        }
        _ => unknown(format!("node {name} is in an unknown state")),
    }
}

fn healthy(reason: String) -> Verdict {
    Verdict {
        health: Health::Healthy,
        reason,
        recheck_after: HEALTHY_RECHECK,
    }
}

fn unhealthy(reason: String) -> Verdict {
    Verdict {
        health: Health::Unhealthy,
        reason,
        recheck_after: UNHEALTHY_RECHECK,
    }
}

fn unknown(reason: String) -> Verdict {
    Verdict {
        health: Health::Unknown,
        reason,
        recheck_after: WAITING_RECHECK,
    }
}

/// What the flavor remembers between calls: since when each link has been waited for, when each
/// link was last asked about, and when each group was last swept.
///
/// # Caveats
/// It lives in memory: a restarted plugin waits a full `JoinTimeout` again for instances that
/// have not joined, and sweeps nothing until it has been up for [`FORGET_AFTER`].
#[derive(Debug)]
pub struct Memory {
    started: Instant,
    waiting: HashMap<String, Instant>,
    seen: HashMap<String, Instant>,
    swept: HashMap<String, Instant>,
}

// === impl Memory ===

impl Memory {
    /// Empty memory of a plugin started at `now`.
    pub fn new(now: Instant) -> Self {
        Self {
            started: now,
            waiting: HashMap::new(),
            seen: HashMap::new(),
            swept: HashMap::new(),
        }
    }

    /// Records that `link` was asked about at `now`, with or without a node; returns how long it
    /// has been waited for (zero once it has a node).
    pub fn asked(&mut self, link: &str, has_node: bool, now: Instant) -> Duration {
        self.seen.insert(link.to_string(), now);
        if has_node {
            self.waiting.remove(link);
            return Duration::ZERO;
        }
        let since = *self.waiting.entry(link.to_string()).or_insert(now);
        now.saturating_duration_since(since)
    }

    /// True when a node with `link` may be removed as left behind: the plugin has been up for
    /// [`FORGET_AFTER`] and nobody has asked about the link for as long.
    pub fn is_forgotten(&self, link: Option<&str>, now: Instant) -> bool {
        if now.saturating_duration_since(self.started) < FORGET_AFTER {
            return false;
        }
        link.and_then(|l| self.seen.get(l))
            .is_none_or(|t| now.saturating_duration_since(*t) >= FORGET_AFTER)
    }

    /// True (and noted) when `group` is due for a sweep.
    pub fn sweep_due(&mut self, group: &str, now: Instant) -> bool {
        let due = self
            .swept
            .get(group)
            .is_none_or(|t| now.saturating_duration_since(*t) >= SWEEP_EVERY);
        if due {
            self.swept.insert(group.to_string(), now);
        }
        due
    }

    /// Forgets entries older than an hour, so memory stays bounded.
    pub fn prune(&mut self, now: Instant) {
        let keep = |t: &mut Instant| now.saturating_duration_since(*t) < Duration::from_secs(3600);
        self.seen.retain(|_, t| keep(t));
        self.swept.retain(|_, t| keep(t));
        let seen = &self.seen;
        self.waiting.retain(|l, _| seen.contains_key(l));
    }
}

#[cfg(test)]
mod tests;
