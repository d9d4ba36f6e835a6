//! PauseGroup: nothing acts, expectations are still matched, an update keeps its time left.

use crate::fixtures::{apply, cattle, healthy, healthy_group, provisions};
use crate::observe::{Health, Observed};
use crate::plan::{BOOTSTRAP_HASH, Phase, plan};
use crate::state::GroupState;
use crate::time::Time;
use std::time::Duration;

const T: Time = Time::from_secs(1000);

fn paused() -> GroupState {
    let mut s = GroupState::default();
    assert!(s.pause("alice", "kernel upgrade", T));
    assert!(!s.pause("bob", "again", T), "the first pause is kept");
    s
}

#[test]
fn a_paused_group_plans_no_action_at_all_and_says_who_paused_it() {
    let spec = cattle(2).build();
    let mut observed = healthy_group(&spec, 4);
    // Would heal i-0, label i-1, and scale down by two.
    observed.instances[0] = healthy("i-0", &spec, 0).with_health(Health::Unhealthy, Time(0));
    observed.instances[1].hash = Some(BOOTSTRAP_HASH.into());
    let p = plan(
        &spec,
        &observed,
        &paused(),
        T.after(Duration::from_secs(60)),
    );
    assert!(p.actions.is_empty(), "{:?}", p.actions);
    assert_eq!(p.status.phase, Phase::Paused);
    assert_eq!(
        p.status.message,
        "paused by alice since 1970-01-01T00:16:40.000Z: kernel upgrade; \
         nothing is created, destroyed or labelled until it is resumed"
    );
    // Missing instances are not created either.
    let p = plan(&cattle(5).build(), &observed, &paused(), T);
    assert!(p.actions.is_empty());
    // Resumed: it acts again.
    let mut s = paused();
    assert!(s.resume());
    assert!(!s.resume());
    assert!(!plan(&spec, &observed, &s, T).actions.is_empty());
}

#[test]
fn a_paused_group_still_matches_its_expectations() {
    let spec = cattle(1).build();
    let first = plan(&spec, &Observed::default(), &GroupState::default(), T);
    let mut state = first.state.clone();
    state.pause("alice", "", T);
    let mut observed = Observed::default();
    apply(&mut observed, &first, T);
    let p = plan(&spec, &observed, &state, T);
    assert!(p.state.pending.is_empty(), "the provision was adopted");
    assert_eq!(p.status.pending, 0);
    assert_eq!(p.status.phase, Phase::Paused);
    assert!(p.status.message.starts_with("paused by alice since "));
}

#[test]
fn a_rolling_update_keeps_its_time_left_across_a_pause() {
    let v1 = cattle(2).build();
    let mut observed = healthy_group(&v1, 2);
    let converged = plan(&v1, &observed, &GroupState::default(), T);
    let v2 = cattle(2).note("v2").build();
    let started = plan(&v2, &observed, &converged.state, T);
    assert_eq!(provisions(&started).len(), 1);
    let deadline = started.state.update.as_ref().expect("updating").deadline_at;
    assert_eq!(deadline, T.after(Duration::from_secs(600)));
    // The new instance is listed but never healthy: no progress.
    apply(&mut observed, &started, T);
    for i in observed.instances.iter_mut().filter(|i| i.token.is_some()) {
        i.health = Health::Unknown;
    }
    let mut state = started.state.clone();
    state.pause("alice", "", T.after(Duration::from_secs(10)));
    // Long past the deadline while paused: no halt, no rollback.
    let late = T.after(Duration::from_secs(700));
    let p = plan(&v2, &observed, &state, late);
    assert!(p.rollback_to.is_none() && p.actions.is_empty());
    assert_eq!(
        p.state.update, state.update,
        "no update decision while paused"
    );
    // Resumed: the 590s that were left are left.
    let mut state = p.state;
    state.resume();
    let p = plan(&v2, &observed, &state, late);
    assert!(p.rollback_to.is_none(), "{}", p.status.message);
    let u = p.state.update.as_ref().expect("still updating");
    assert_eq!(u.deadline_at, late.after(Duration::from_secs(590)));
    assert_eq!(u.halted, None);
    assert_eq!(p.state.resumed, None, "applied once");
    // Without the pause, the same plan rolls back.
    let unpaused = plan(&v2, &observed, &started.state, late);
    assert!(unpaused.rollback_to.is_some());
}

#[test]
fn a_paused_group_being_destroyed_waits_for_the_resume() {
    let spec = cattle(2).build();
    let observed = healthy_group(&spec, 2);
    let mut state = paused();
    state.start_destroying();
    let p = plan(&spec, &observed, &state, T);
    assert!(p.actions.is_empty());
    assert!(
        p.status
            .message
            .contains("being destroyed (2 instances left)"),
        "{}",
        p.status.message
    );
}
