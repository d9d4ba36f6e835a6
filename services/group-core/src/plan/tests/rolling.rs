//! Rolling updates: surge, unavailability, health gating, deadline, rollback, pause.

use crate::fixtures::{apply, cattle, destroyed, healthy_group, provisions};
use crate::observe::{Health, Observed};
use crate::plan::{Action, DestroyReason, Drain, Phase, plan};
use crate::spec::GroupSpec;
use crate::state::GroupState;
use crate::time::Time;
use serde_json::json;
use std::time::Duration;

const T: Time = Time::from_secs(1000);

/// A group of `n` healthy v1 instances that converged (so v1 is the last good config), and
/// the v2 spec to roll to.
fn rolled(n: u32, updating: serde_json::Value) -> (GroupSpec, Observed, GroupState) {
    let v1 = cattle(n).build();
    let observed = healthy_group(&v1, n as usize);
    let state = plan(&v1, &observed, &GroupState::default(), T).state;
    assert!(state.last_good.is_some());
    let v2 = cattle(n).note("v2").section("Updating", updating).build();
    (v2, observed, state)
}

#[test]
fn a_new_config_surges_before_destroying_anything() {
    let (v2, observed, state) = rolled(5, json!({"MaxSurge": 2}));
    let p = plan(&v2, &observed, &state, T);
    assert_eq!(provisions(&p).len(), 2);
    assert!(destroyed(&p).is_empty());
    assert_eq!(p.status.phase, Phase::Updating);
    let u = p.state.update.as_ref().expect("an update is recorded");
    assert_eq!(u.target_hash, v2.config_hash());
    assert_eq!(u.deadline_at, T.after(Duration::from_secs(600)));
}

#[test]
fn old_instances_go_only_when_new_ones_have_been_healthy_for_healthy_for() {
    let (v2, mut observed, state) = rolled(3, json!({"MaxSurge": 1, "HealthyFor": "5s"}));
    let first = plan(&v2, &observed, &state, T);
    apply(&mut observed, &first, T);
    let p = plan(
        &v2,
        &observed,
        &first.state,
        T.after(Duration::from_secs(4)),
    );
    assert!(p.actions.is_empty(), "{:?}", p.actions);
    assert_eq!(p.requeue_after, Some(Duration::from_secs(1)));
    let p = plan(
        &v2,
        &observed,
        &first.state,
        T.after(Duration::from_secs(5)),
    );
    match p.actions.as_slice() {
        [
            Action::Destroy {
                context: DestroyReason::RollingUpdate,
                drain: Drain::Required,
                ..
            },
        ] => {}
        other => panic!("{other:?}"),
    }
    // The next instance of v2 is created once the old one is gone (3 + 1 surge exist until then).
    assert_eq!(p.state.leaving.len(), 1);
}

#[test]
fn with_max_surge_zero_old_instances_go_first_within_max_unavailable() {
    let (v2, observed, state) = rolled(4, json!({"MaxSurge": 0, "MaxUnavailable": 1}));
    let p = plan(&v2, &observed, &state, T);
    assert_eq!(destroyed(&p).len(), 1);
    assert!(
        provisions(&p).is_empty(),
        "the replacement waits until the old one is gone"
    );
    let mut observed = observed;
    apply(&mut observed, &p, T);
    let p = plan(&v2, &observed, &p.state, T);
    assert_eq!(provisions(&p).len(), 1);
    assert!(destroyed(&p).is_empty(), "one unavailable at a time");
}

#[test]
fn the_rolling_update_replaces_every_instance_and_ends() {
    let (v2, mut observed, mut state) = rolled(5, json!({}));
    let mut now = T;
    for _ in 0..20 {
        let p = plan(&v2, &observed, &state, now);
        apply(&mut observed, &p, now);
        state = p.state;
        now = now.after(Duration::from_secs(1));
    }
    let p = plan(&v2, &observed, &state, now);
    assert_eq!(p.status.phase, Phase::Converged, "{}", p.status.message);
    assert!(
        observed
            .instances
            .iter()
            .all(|i| i.hash.as_deref() == Some(v2.config_hash()))
    );
    assert_eq!(
        p.state.last_good.as_ref().map(|g| g.hash.as_str()),
        Some(v2.config_hash())
    );
}

#[test]
fn a_paused_update_makes_no_progress_but_missing_instances_are_still_replaced() {
    let (v2, mut observed, state) = rolled(3, json!({}));
    let mut state = plan(&v2, &observed, &state, T).state;
    state.pending.clear();
    assert!(state.stop_update("stopped by user"));
    observed.instances.pop();
    let p = plan(&v2, &observed, &state, T);
    assert_eq!(p.status.phase, Phase::Paused);
    assert!(
        p.status.message.contains("stopped by user"),
        "{}",
        p.status.message
    );
    assert_eq!(provisions(&p).len(), 1);
    assert!(destroyed(&p).is_empty());
}

/// Rolls v2 whose instances never become healthy until the deadline passes.
fn stuck(updating: serde_json::Value) -> (GroupSpec, crate::plan::Plan) {
    let (v2, mut observed, state) = rolled(2, updating);
    let first = plan(&v2, &observed, &state, T);
    apply(&mut observed, &first, T);
    for i in observed
        .instances
        .iter_mut()
        .filter(|i| i.hash.as_deref() == Some(v2.config_hash()))
    {
        i.health = Health::Unknown;
        i.health_reason = "service did not start".into();
    }
    let p = plan(
        &v2,
        &observed,
        &first.state,
        T.after(Duration::from_secs(599)),
    );
    assert!(p.actions.is_empty() && p.rollback_to.is_none());
    let halted = plan(&v2, &observed, &p.state, T.after(Duration::from_secs(600)));
    (v2, halted)
}

#[test]
fn a_missed_deadline_halts_and_names_the_instance_when_rollback_is_off() {
    let (_, p) = stuck(json!({"AutoRollback": false}));
    assert!(p.actions.is_empty());
    assert!(p.rollback_to.is_none());
    assert_eq!(p.status.phase, Phase::Paused);
    let m = &p.status.message;
    assert!(
        m.contains("instance i-g-1")
            && m.contains("service did not start")
            && m.contains("AutoRollback is off"),
        "{m}"
    );
}

#[test]
fn a_missed_deadline_rolls_back_to_the_last_good_configuration() {
    let (v2, p) = stuck(json!({}));
    let back = p.rollback_to.as_ref().expect("a rollback");
    let v1 = cattle(2).build();
    assert_eq!(back.config_hash(), v1.config_hash());
    assert_eq!(back.updating(), v2.updating(), "policies stay as committed");
    let u = p.state.update.as_ref().expect("the rollback is an update");
    assert!(u.rollback && u.target_hash == v1.config_hash());
    assert_eq!(p.requeue_after, Some(Duration::ZERO));
    assert!(
        p.status.message.contains("rolled back"),
        "{}",
        p.status.message
    );
}

#[test]
fn a_rollback_rolls_with_the_same_pacing_and_is_never_rolled_back() {
    let (v2, mut observed, state) = rolled(2, json!({}));
    let first = plan(&v2, &observed, &state, T);
    apply(&mut observed, &first, T);
    for i in observed
        .instances
        .iter_mut()
        .filter(|i| i.hash.as_deref() == Some(v2.config_hash()))
    {
        i.health = Health::Unknown;
    }
    let halted = plan(
        &v2,
        &observed,
        &first.state,
        T.after(Duration::from_secs(600)),
    );
    let back = halted.rollback_to.expect("rollback");
    let p = plan(
        &back,
        &observed,
        &halted.state,
        T.after(Duration::from_secs(601)),
    );
    assert_eq!(p.status.phase, Phase::Updating);
    // The v2 instance is not available: it goes; v1 instances stay, so nothing is created.
    assert_eq!(destroyed(&p), ["i-g-1"]);
    // The rollback misses its own deadline: it halts and is not rolled back again.
    let mut state = p.state.clone();
    state.leaving.clear();
    if let Some(u) = state.update.as_mut() {
        u.deadline_at = T.after(Duration::from_secs(602));
    }
    let late = plan(&back, &observed, &state, T.after(Duration::from_secs(700)));
    assert!(late.rollback_to.is_none() && late.actions.is_empty());
    assert_eq!(late.status.phase, Phase::Paused);
    assert!(
        late.status.message.contains("this was already a rollback"),
        "{}",
        late.status.message
    );
}

#[test]
fn a_new_commit_supersedes_an_update_in_progress() {
    let (v2, observed, state) = rolled(2, json!({}));
    let p = plan(&v2, &observed, &state, T);
    let v3 = cattle(2).note("v3").build();
    let later = T.after(Duration::from_secs(30));
    let p = plan(&v3, &observed, &p.state, later);
    let u = p.state.update.expect("update");
    assert_eq!(u.target_hash, v3.config_hash());
    assert_eq!(u.deadline_at, later.after(Duration::from_secs(600)));
}

#[test]
fn a_resize_never_rolls_anything() {
    let v1 = cattle(3).build();
    let observed = healthy_group(&v1, 3);
    let bigger = v1.with_size(4).expect("cattle");
    let p = plan(&bigger, &observed, &GroupState::default(), T);
    assert_eq!(provisions(&p).len(), 1);
    assert!(p.state.update.is_none());
}

#[test]
fn a_restarted_controller_resumes_the_update_from_its_persisted_state() {
    let (v2, observed, state) = rolled(4, json!({}));
    let p = plan(&v2, &observed, &state, T);
    let saved = serde_json::to_string(&p.state).expect("serialise");
    let loaded: GroupState = serde_json::from_str(&saved).expect("deserialise");
    let again = plan(&v2, &observed, &loaded, T.after(Duration::from_secs(1)));
    assert!(
        again.actions.is_empty(),
        "the surge is still expected: {:?}",
        again.actions
    );
    assert_eq!(again.state.update, p.state.update);
}
