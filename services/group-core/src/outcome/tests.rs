//! How each outcome changes the state.

use super::*;
use crate::state::{PendingDestroy, PendingProvision, RemediationRecord};
use std::time::Duration;

const BACKOFF: Backoff = Backoff {
    initial: Duration::from_secs(1),
    max: Duration::from_secs(60),
};

/// A state expecting provisions `g-1`, `g-2` and the heal destroy of `i-1` and the
/// scale-down destroy of `i-2`, with two replacements counted.
fn state() -> GroupState {
    let provision = |n: u64| PendingProvision {
        token: format!("g-{n}"),
        sequence: n,
        logical_id: None,
        hash: "h".into(),
        issued_at: Time::from_secs(1),
        instance_id: None,
        listed: false,
    };
    let destroy = |id: &str, reason| PendingDestroy {
        id: id.into(),
        reason,
        issued_at: Time::from_secs(1),
    };
    GroupState {
        pending: vec![provision(1), provision(2)],
        leaving: vec![
            destroy("i-1", DestroyReason::Heal),
            destroy("i-2", DestroyReason::Terminate),
        ],
        remediation: RemediationRecord {
            replaced: 2,
            ..RemediationRecord::default()
        },
        ..GroupState::default()
    }
}

fn failed_destroy(id: &str) -> Outcome {
    Outcome::DestroyFailed {
        id: id.into(),
        error: format!("drain of {id} failed"),
    }
}

#[test]
fn a_round_of_failures_is_one_backoff_step_however_many_fail() {
    let mut s = state();
    let now = Time::from_secs(10);
    for id in ["i-1", "i-2", "i-3", "i-4"] {
        s.apply(&failed_destroy(id), 7, now, &BACKOFF);
    }
    s.apply(
        &Outcome::ProvisionFailed {
            token: "g-1".into(),
            error: "quota".into(),
        },
        7,
        now,
        &BACKOFF,
    );
    assert_eq!(s.failures.consecutive, 1);
    assert_eq!(s.failures.next_attempt_at, Some(Time::from_secs(11)));
    assert_eq!(s.last_error().map(|e| e.message.as_str()), Some("quota"));
    // The next round is the next step.
    s.apply(&failed_destroy("i-9"), 8, Time::from_secs(11), &BACKOFF);
    assert_eq!(s.failures.consecutive, 2);
    assert_eq!(s.failures.next_attempt_at, Some(Time::from_secs(13)));
}

#[test]
fn an_uncertain_provision_and_plain_successes_change_nothing() {
    let before = state();
    let mut s = before.clone();
    let now = Time::from_secs(10);
    let outcomes = [
        Outcome::ProvisionUncertain {
            token: "g-1".into(),
            error: "deadline exceeded".into(),
        },
        Outcome::Destroyed { id: "i-2".into() },
        Outcome::Labelled { id: "i-5".into() },
    ];
    for o in &outcomes {
        assert_eq!(o.error(), None, "{o:?} is not a failure");
        s.apply(o, 1, now, &BACKOFF);
    }
    assert_eq!(s, before);
}

#[test]
fn a_cancelled_heal_keeps_the_instance_without_a_failure_and_gives_back_its_count() {
    let mut s = state();
    s.apply(
        &Outcome::HealCancelled { id: "i-1".into() },
        1,
        Time::from_secs(10),
        &BACKOFF,
    );
    assert_eq!(
        s.leaving.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        ["i-2"]
    );
    assert_eq!(s.remediation.replaced, 1);
    assert_eq!(s.failures, Default::default(), "no failure recorded");
    // Reported twice (or for an instance no longer expected): counted once.
    s.apply(
        &Outcome::HealCancelled { id: "i-1".into() },
        1,
        Time::from_secs(10),
        &BACKOFF,
    );
    assert_eq!(s.remediation.replaced, 1);
}

#[test]
fn a_failed_destroy_is_expected_no_more_and_a_failed_heal_gives_back_its_count() {
    let mut s = state();
    s.apply(&failed_destroy("i-2"), 1, Time::from_secs(10), &BACKOFF);
    assert_eq!(s.remediation.replaced, 2, "a scale-down is no replacement");
    s.apply(&failed_destroy("i-1"), 1, Time::from_secs(10), &BACKOFF);
    assert!(s.leaving.is_empty());
    assert_eq!(s.remediation.replaced, 1);
    assert_eq!(s.failures.consecutive, 1);
}

#[test]
fn a_provision_reply_records_the_instance_id_and_a_refusal_drops_the_expectation() {
    let mut s = state();
    let now = Time::from_secs(10);
    s.apply(
        &Outcome::Provisioned {
            token: "g-2".into(),
            id: "i-42".into(),
        },
        1,
        now,
        &BACKOFF,
    );
    assert_eq!(s.pending[1].instance_id.as_deref(), Some("i-42"));
    assert_eq!(s.pending[0].instance_id, None);
    let unknown = Outcome::Provisioned {
        token: "g-77".into(),
        id: "i-77".into(),
    };
    let before = s.clone();
    s.apply(&unknown, 1, now, &BACKOFF);
    assert_eq!(s, before, "a token no longer expected changes nothing");
    s.apply(
        &Outcome::ProvisionFailed {
            token: "g-1".into(),
            error: "quota".into(),
        },
        1,
        now,
        &BACKOFF,
    );
    assert_eq!(
        s.pending
            .iter()
            .map(|p| p.token.as_str())
            .collect::<Vec<_>>(),
        ["g-2"]
    );
    assert_eq!(s.failures.consecutive, 1);
}

#[test]
fn a_failed_label_backs_off() {
    let mut s = state();
    let o = Outcome::LabelFailed {
        id: "i-5".into(),
        error: "label refused".into(),
    };
    assert_eq!(o.error(), Some("label refused"));
    s.apply(&o, 3, Time::from_secs(10), &BACKOFF);
    assert_eq!(s.failures.consecutive, 1);
    assert_eq!(s.failures.round, Some(3));
}
