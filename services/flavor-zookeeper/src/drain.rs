//! Drain: a quorum guard. ZooKeeper needs no hand-over when a member leaves (followers are
//! dropped by the leader, and when the leader leaves the others elect a new one in about a
//! second), so Drain does not change the ensemble. What it does is refuse to let a *serving*
//! member go while the others could not keep a quorum without it, when waiting would help:
//!
//! 1. Ask the member (`srvr`). Not answering, or not serving: nothing is lost by removing it
//!    (this is also the case of an instance that is already gone). Drain succeeds.
//! 2. Read the ensemble from the member itself (`conf`'s `membership:` section).
//! 3. When the ensemble is too small to ever lose a member (1 or 2 voting members), waiting
//!    cannot help: Drain succeeds and logs a warning.
//! 4. Ask every other voting member (`srvr`). If fewer than a quorum serve, Drain fails with
//!    FAILED_PRECONDITION naming the members that do not serve; the group controller keeps the
//!    instance and tries again later (for a heal or a rolling update; on terminate it destroys
//!    anyway).

use crate::probe::{self, Mode};
use std::time::Duration;
use tokio::task::JoinSet;

/// How a drain ended, when it may go ahead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The member does not serve: nothing to guard.
    NotServing(String),
    /// The others keep a quorum without it.
    QuorumKept {
        /// Other voting members that serve.
        serving: usize,
        /// The quorum size.
        quorum: usize,
    },
    /// The ensemble cannot lose a member without losing its quorum, whatever the wait.
    TooSmall(usize),
}

/// Why a drain must wait.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Removing the member now would lose the quorum.
    WouldLoseQuorum(String),
    /// The member serves but its membership could not be read.
    NoMembership(String),
}

/// How long the whole drain check may take.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(8);

/// Checks whether member `host` (client port `port`) may leave now.
pub async fn check(host: &str, port: u16) -> Result<Outcome, Refusal> {
    match probe::ask(host, port, "srvr")
        .await
        .map(|a| probe::parse_srvr(&a))
    {
        Err(e) => return Ok(Outcome::NotServing(e)),
        Ok(Mode::Voting(_)) => {}
        Ok(other) => return Ok(Outcome::NotServing(format!("{other:?}"))),
    }
    let conf = probe::ask(host, port, "conf")
        .await
        .map_err(Refusal::NoMembership)?;
    let self_id: Option<u32> = conf
        .lines()
        .find_map(|l| l.trim().strip_prefix("serverId="))
        .and_then(|v| v.trim().parse().ok());
    let members = probe::parse_conf(&conf);
    let voting: Vec<_> = members.iter().filter(|m| m.voting).collect();
    if voting.is_empty() {
        return Err(Refusal::NoMembership(format!(
            "conf of {host} lists no members: {}",
            probe::first_line(&conf)
        )));
    }
    let total = voting.len();
    let mut asks = JoinSet::new();
    for m in voting {
        let is_self = match self_id {
            Some(id) => m.myid == id,
            None => m.host.eq_ignore_ascii_case(host),
        };
        if is_self {
            continue;
        }
        let h = m.host.clone();
        asks.spawn(async move {
            let mode = probe::ask(&h, port, "srvr")
                .await
                .map(|a| probe::parse_srvr(&a));
            (h, matches!(mode, Ok(Mode::Voting(_))))
        });
    }
    let mut serving = 0;
    let mut missing = Vec::new();
    while let Some(r) = asks.join_next().await {
        match r {
            Ok((_, true)) => serving += 1,
            Ok((h, false)) => missing.push(h),
            Err(e) => missing.push(format!("(a check failed: {e})")),
        }
    }
    missing.sort();
    decide(host, total, serving, &missing)
}

/// A strict majority of `total` voting members.
pub fn quorum_of(total: usize) -> usize {
    total / 2 + 1
}

/// Whether a serving member `host` of an ensemble of `total` voting members may leave while
/// `serving` others serve (`missing` are the others that do not).
pub fn decide(
    host: &str,
    total: usize,
    serving: usize,
    missing: &[String],
) -> Result<Outcome, Refusal> {
    let quorum = quorum_of(total);
    if total.saturating_sub(1) < quorum {
        Ok(Outcome::TooSmall(total))
    } else if serving >= quorum {
        Ok(Outcome::QuorumKept { serving, quorum })
    } else {
        Err(Refusal::WouldLoseQuorum(format!(
            "removing {host} now would lose the quorum: only {serving} other member(s) serve, {quorum} are needed (not serving: {}); it can go once they are back",
            missing.join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_serving_member_may_go_only_while_the_others_keep_a_quorum() {
        assert_eq!(
            decide("a", 3, 2, &[]),
            Ok(Outcome::QuorumKept {
                serving: 2,
                quorum: 2
            })
        );
        let e = decide("a", 3, 1, &["c".to_string()]).unwrap_err();
        let Refusal::WouldLoseQuorum(why) = e else {
            panic!("{e:?}")
        };
        assert!(why.starts_with("removing a now would lose the quorum: only 1 other member(s) serve, 2 are needed (not serving: c)"), "{why}");
        assert_eq!(
            decide("a", 5, 3, &[]),
            Ok(Outcome::QuorumKept {
                serving: 3,
                quorum: 3
            })
        );
        assert!(decide("a", 5, 2, &[]).is_err());
    }

    #[test]
    fn ensembles_of_one_or_two_cannot_keep_a_quorum_so_waiting_is_pointless() {
        assert_eq!(decide("a", 1, 0, &[]), Ok(Outcome::TooSmall(1)));
        assert_eq!(decide("a", 2, 1, &[]), Ok(Outcome::TooSmall(2)));
    }
}
