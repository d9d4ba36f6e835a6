//! Failures: counted per pass, quiet while an observation keeps failing, cleared on recovery.

use crate::fixtures::{apply, cattle, healthy_group};
use crate::observe::Observed;
use crate::outcome::Outcome;
use crate::plan::{Phase, degraded_retry, plan, plan_degraded};
use crate::state::{ErrorSource, GroupState, PROVISION_TIMEOUT, recovered};
use crate::time::Time;
use std::time::Duration;

const T: Time = Time::from_secs(1000);

#[test]
fn expectations_given_up_in_one_pass_count_as_one_failure() {
    let spec = cattle(3).build();
    let first = plan(&spec, &Observed::default(), &GroupState::default(), T);
    assert_eq!(first.state.pending.len(), 3);
    let later = T.after(PROVISION_TIMEOUT);
    let p = plan(&spec, &Observed::default(), &first.state, later);
    assert!(p.state.pending.is_empty());
    assert_eq!(p.state.failures.consecutive, 1);
    assert_eq!(
        p.state.failures.next_attempt_at,
        Some(later.after(Duration::from_secs(1)))
    );
    let e = p.state.last_error().expect("recorded");
    assert!(
        e.message.contains("(and 2 more expectations given up)"),
        "{}",
        e.message
    );
    // An action of the same pass failing too (the driver uses the pass's time as its round)
    // does not count again.
    let mut s = p.state.clone();
    let backoff = spec.remediation().backoff;
    let label = Outcome::LabelFailed {
        id: "i-1".into(),
        error: "refused".into(),
    };
    s.apply(&label, later.as_millis(), later, &backoff);
    assert_eq!(s.failures.consecutive, 1);
}

#[test]
fn a_failed_observation_leaves_the_state_alone_while_the_error_stays_the_same() {
    let spec = cattle(3).build();
    let first = plan(&spec, &Observed::default(), &GroupState::default(), T);
    let d1 = plan_degraded(&spec, &first.state, "DescribeInstances timed out", T);
    assert_eq!(d1.state.failures.source, ErrorSource::Observation);
    let d2 = plan_degraded(
        &spec,
        &d1.state,
        "DescribeInstances timed out",
        T.after(Duration::from_secs(7)),
    );
    assert_eq!(d2.state, d1.state, "nothing to persist again");
    assert_eq!(d2.status.last_error.map(|e| e.at), Some(T));
    let d3 = plan_degraded(
        &spec,
        &d2.state,
        "connection refused",
        T.after(Duration::from_secs(9)),
    );
    assert_ne!(d3.state, d2.state);
    assert_eq!(d3.status.phase, Phase::Degraded);
    assert_eq!(
        d3.state.last_error().map(|e| e.at),
        Some(T.after(Duration::from_secs(9)))
    );
}

#[test]
fn the_wait_between_failed_observations_grows_with_the_outage() {
    let spec = cattle(1).build(); // Backoff 1s .. 5m
    let mut state = GroupState::default();
    let mut now = T;
    let mut waits = Vec::new();
    for _ in 0..12 {
        let p = plan_degraded(&spec, &state, "timeout", now);
        let wait = p.requeue_after.expect("a retry is due");
        waits.push(wait.as_secs());
        state = p.state;
        now = now.after(wait);
    }
    assert_eq!(waits, [1, 1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
    let b = spec.remediation().backoff;
    let counted: Vec<u64> = (0..11).map(|n| degraded_retry(n, &b).as_secs()).collect();
    assert_eq!(counted, [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 300]);
}

#[test]
fn an_observation_error_clears_at_the_next_plan_and_reads_as_recovered() {
    let spec = cattle(2).build();
    let observed = healthy_group(&spec, 2);
    let converged = plan(&spec, &observed, &GroupState::default(), T);
    let d = plan_degraded(&spec, &converged.state, "timeout", T);
    assert_eq!(recovered(&converged.state, &d.state), None);
    let p = plan(&spec, &observed, &d.state, T.after(Duration::from_secs(1)));
    assert_eq!(p.status.last_error, None);
    assert_eq!(p.status.phase, Phase::Converged);
    let text = recovered(&d.state, &p.state).expect("recovered");
    assert!(text.contains("cannot observe the group: timeout"), "{text}");
}

#[test]
fn an_action_error_stays_until_an_expectation_is_fulfilled() {
    let spec = cattle(2).build();
    let backoff = spec.remediation().backoff;
    let first = plan(&spec, &Observed::default(), &GroupState::default(), T);
    let mut state = first.state.clone();
    let quota = Outcome::ProvisionFailed {
        token: "g-1".into(),
        error: "quota exceeded".into(),
    };
    state.apply(&quota, 1, T, &backoff);
    // Nothing listed yet: the error stays, through the backoff and after it.
    let later = T.after(Duration::from_secs(2));
    let p = plan(&spec, &Observed::default(), &state, later);
    assert_eq!(
        p.state.last_error().map(|e| e.message.as_str()),
        Some("quota exceeded")
    );
    // g-2's instance is listed: the last actions worked, the error clears.
    let mut observed = Observed::default();
    apply(&mut observed, &first, T);
    observed
        .instances
        .retain(|i| i.token.as_deref() == Some("g-2"));
    let after = plan(&spec, &observed, &p.state, later);
    assert_eq!(after.state.last_error(), None);
    assert_eq!(
        recovered(&p.state, &after.state).as_deref(),
        Some("quota exceeded")
    );
}

#[test]
fn an_action_error_clears_when_the_group_converges() {
    let spec = cattle(2).build();
    let mut observed = healthy_group(&spec, 2);
    let mut state = GroupState::default();
    let label = Outcome::LabelFailed {
        id: "i-0".into(),
        error: "refused".into(),
    };
    state.apply(&label, 1, T, &spec.remediation().backoff);
    // One member missing: not converged, the group backs off and shows the error.
    let gone = observed.instances.pop().expect("two");
    let backing_off = plan(&spec, &observed, &state, T);
    assert_eq!(backing_off.status.phase, Phase::Failing);
    assert!(backing_off.status.message.contains("refused"));
    assert!(backing_off.state.last_error().is_some());
    // Back to full strength (the plugin recovered it): converged once the backoff is over.
    observed.instances.push(gone);
    let p = plan(&spec, &observed, &state, T);
    assert_eq!(
        p.status.phase,
        Phase::Failing,
        "in a backoff nothing is known"
    );
    let p = plan(&spec, &observed, &state, T.after(Duration::from_secs(1)));
    assert_eq!(p.status.phase, Phase::Converged, "{}", p.status.message);
    assert_eq!(p.state.last_error(), None);
    assert_eq!(p.state.failures.next_attempt_at, None);
    assert_eq!(recovered(&state, &p.state).as_deref(), Some("refused"));
}

#[test]
fn a_failure_reported_after_a_success_counts_again_even_from_an_earlier_round() {
    let spec = cattle(2).build();
    let backoff = spec.remediation().backoff;
    let first = plan(&spec, &Observed::default(), &GroupState::default(), T);
    let mut state = first.state.clone();
    let round = T.as_millis();
    state.apply(
        &Outcome::ProvisionFailed {
            token: "g-1".into(),
            error: "quota exceeded".into(),
        },
        round,
        T,
        &backoff,
    );
    // g-2 is listed: a success ends the backoff.
    let mut observed = Observed::default();
    apply(&mut observed, &first, T);
    observed
        .instances
        .retain(|i| i.token.as_deref() == Some("g-2"));
    let mut state = plan(&spec, &observed, &state, T).state;
    assert_eq!(state.failures.consecutive, 0);
    // A late answer of the same round fails: it backs off again.
    state.apply(
        &Outcome::LabelFailed {
            id: "i-g-2".into(),
            error: "refused".into(),
        },
        round,
        T,
        &backoff,
    );
    assert_eq!(state.failures.consecutive, 1);
    assert!(state.failures.next_attempt_at.is_some());
}
