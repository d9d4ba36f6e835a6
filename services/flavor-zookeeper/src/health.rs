//! Judging a member's health from what it answers, its age and its history.
//!
//! - HEALTHY: it answers `ruok` with `imok` and `srvr` says it is the leader or a follower
//!   (it serves and belongs to a quorum).
//! - UNKNOWN: anything else while the member is starting: it was first asked about less than
//!   `StartGracePeriod` ago and has never been healthy (a JVM takes a second or two to start,
//!   and joining a quorum takes a few ticks more). Also while the instance plugin reports the
//!   instance as still being created.
//! - UNHEALTHY: anything else (not answering, not serving, an observer or standalone server).
//!   A member that has been healthy once is judged without grace: when it stops serving it is
//!   UNHEALTHY at once.
//!
//! HealthyRequest carries no creation time, so a member's age is counted from the first time
//! this plugin was asked about its instance ID (remembered in memory, forgotten an hour after
//! the last question). After a restart of the plugin every member gets a new grace period.

use crate::probe::{self, Mode};
use infrakit_spi::flavor::v1::Health;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// When to ask again about a healthy member.
pub const HEALTHY_RECHECK: Duration = Duration::from_secs(5);
/// When to ask again about a member that is not healthy (yet): soon, so that a member joining
/// the quorum is seen within a fraction of a second.
pub const NOT_HEALTHY_RECHECK: Duration = Duration::from_millis(500);
/// How long an instance is remembered after the last question about it.
pub const FORGET_AFTER: Duration = Duration::from_secs(3600);

/// What a member answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// Its `srvr` mode.
    Mode(Mode),
    /// It did not answer (the reason names the address).
    Down(String),
}

/// The flavor's verdict on one member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The health.
    pub health: Health,
    /// Why, in a few words.
    pub reason: String,
    /// When to ask again.
    pub recheck_after: Duration,
}

/// What the plugin remembers about an instance it was asked about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seen {
    /// How long ago it was first asked about.
    pub age: Duration,
    /// It has been healthy at least once.
    pub healthy_once: bool,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    first: Instant,
    last: Instant,
    healthy_once: bool,
}

/// First-seen times and "has been healthy" marks, by instance ID.
#[derive(Debug, Default)]
pub struct Tracker {
    entries: Mutex<HashMap<String, Entry>>,
}

// === impl Tracker ===

impl Tracker {
    /// Records a question about instance `id` at `now`; returns what is known about it.
    pub fn seen(&self, id: &str, now: Instant) -> Seen {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, e| now.saturating_duration_since(e.last) < FORGET_AFTER);
        let e = map.entry(id.to_string()).or_insert(Entry {
            first: now,
            last: now,
            healthy_once: false,
        });
        e.last = now;
        Seen {
            age: now.saturating_duration_since(e.first),
            healthy_once: e.healthy_once,
        }
    }

    /// Marks instance `id` as having been healthy.
    pub fn healthy(&self, id: &str) {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = map.get_mut(id) {
            e.healthy_once = true;
        }
    }
}

/// Asks the member at `host:port`: `ruok`, then `srvr`.
pub async fn examine(host: &str, port: u16) -> Finding {
    match probe::ask(host, port, "ruok").await {
        Err(e) => return Finding::Down(e),
        Ok(a) if a.trim() != "imok" => {
            return Finding::Mode(Mode::Unreadable(format!(
                "ruok answered {:?}",
                probe::first_line(&a)
            )));
        }
        Ok(_) => {}
    }
    match probe::ask(host, port, "srvr").await {
        Err(e) => Finding::Down(e),
        Ok(a) => Finding::Mode(probe::parse_srvr(&a)),
    }
}

/// The verdict on member `addr` from what it answered and what is known about it.
pub fn judge(addr: &str, finding: &Finding, seen: Seen, grace: Duration) -> Verdict {
    let problem = match finding {
        Finding::Mode(Mode::Voting(role)) => {
            return Verdict {
                health: Health::Healthy,
                reason: format!("{addr} serves as the {role} of a quorum"),
                recheck_after: HEALTHY_RECHECK,
            };
        }
        Finding::Mode(Mode::Outside(mode)) => {
            format!("{addr} serves, but as {mode}, outside the quorum")
        }
        Finding::Mode(Mode::NotServing) => {
            format!("{addr} runs but does not serve: it is not in a quorum")
        }
        Finding::Mode(Mode::Unreadable(what)) => format!("{addr} answered oddly: {what}"),
        Finding::Down(why) => why.clone(),
    };
    if !seen.healthy_once && seen.age < grace {
        Verdict {
            health: Health::Unknown,
            reason: format!(
                "starting ({}s of the {}s StartGracePeriod): {problem}",
                seen.age.as_secs(),
                grace.as_secs()
            ),
            recheck_after: NOT_HEALTHY_RECHECK,
        }
    } else {
        Verdict {
            health: Health::Unhealthy,
            reason: problem,
            recheck_after: NOT_HEALTHY_RECHECK,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRACE: Duration = Duration::from_secs(60);

    fn seen(age: u64, healthy_once: bool) -> Seen {
        Seen {
            age: Duration::from_secs(age),
            healthy_once,
        }
    }

    #[test]
    fn leader_and_follower_are_healthy_and_rechecked_slowly() {
        let v = judge(
            "a:1",
            &Finding::Mode(Mode::Voting("leader".into())),
            seen(0, false),
            GRACE,
        );
        assert_eq!(v.health, Health::Healthy);
        assert_eq!(v.reason, "a:1 serves as the leader of a quorum");
        assert_eq!(v.recheck_after, HEALTHY_RECHECK);
    }

    #[test]
    fn a_new_member_is_unknown_within_its_grace_then_unhealthy() {
        let down = Finding::Down("a:1 does not answer: refused".into());
        let v = judge("a:1", &down, seen(5, false), GRACE);
        assert_eq!(v.health, Health::Unknown);
        assert_eq!(v.recheck_after, NOT_HEALTHY_RECHECK);
        assert!(
            v.reason.starts_with("starting (5s of the 60s"),
            "{}",
            v.reason
        );
        assert_eq!(
            judge("a:1", &down, seen(61, false), GRACE).health,
            Health::Unhealthy
        );
        let v = judge(
            "a:1",
            &Finding::Mode(Mode::NotServing),
            seen(90, false),
            GRACE,
        );
        assert_eq!(v.health, Health::Unhealthy);
        assert!(v.reason.contains("not in a quorum"), "{}", v.reason);
        let v = judge(
            "a:1",
            &Finding::Mode(Mode::Outside("observer".into())),
            seen(90, false),
            GRACE,
        );
        assert_eq!(v.health, Health::Unhealthy);
    }

    #[test]
    fn a_member_that_was_healthy_gets_no_grace() {
        let down = Finding::Down("gone".into());
        assert_eq!(
            judge("a:1", &down, seen(1, true), GRACE).health,
            Health::Unhealthy
        );
    }

    #[test]
    fn the_tracker_counts_age_from_the_first_question_and_forgets_old_instances() {
        let t = Tracker::default();
        let t0 = Instant::now();
        assert_eq!(t.seen("i-1", t0), seen(0, false));
        t.healthy("i-1");
        assert_eq!(t.seen("i-1", t0 + Duration::from_secs(7)), seen(7, true));
        t.seen("i-2", t0 + FORGET_AFTER + Duration::from_secs(8));
        assert_eq!(
            t.seen("i-1", t0 + FORGET_AFTER + Duration::from_secs(9)),
            seen(0, false)
        );
    }
}
