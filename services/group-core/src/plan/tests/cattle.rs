//! Sizing cattle: creation, scale-down order, expectations and backoff.

use crate::fixtures::{apply, cattle, destroyed, healthy, healthy_group, provisions};
use crate::observe::{Health, InstanceState, Observed, ObservedInstance};
use crate::plan::{Action, DestroyReason, Phase, plan, plan_degraded};
use crate::state::{GroupState, PROVISION_TIMEOUT, PendingDestroy};
use crate::time::Time;
use std::time::Duration;

const NOW: Time = Time::from_secs(1000);

#[test]
fn a_new_group_provisions_every_instance_with_unique_tokens() {
    let spec = cattle(3).build();
    let p = plan(&spec, &Observed::default(), &GroupState::default(), NOW);
    let tokens: Vec<_> = p
        .actions
        .iter()
        .map(|a| match a {
            Action::Provision {
                token,
                hash,
                logical_id: None,
                ..
            } if hash == spec.config_hash() => token.clone(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(tokens, ["g-1", "g-2", "g-3"]);
    assert_eq!(p.state.pending.len(), 3);
    assert_eq!(p.state.sequence, 3);
    assert_eq!(p.status.phase, Phase::Converging);
}

#[test]
fn a_converged_group_yields_no_action() {
    let spec = cattle(3).build();
    let p = plan(&spec, &healthy_group(&spec, 3), &GroupState::default(), NOW);
    assert!(p.actions.is_empty(), "{:?}", p.actions);
    assert_eq!(p.status.phase, Phase::Converged);
    assert_eq!(
        (p.status.actual, p.status.healthy, p.status.up_to_date),
        (3, 3, 3)
    );
    assert_eq!(p.requeue_after, None);
    assert_eq!(
        p.state.last_good.as_ref().map(|g| g.hash.as_str()),
        Some(spec.config_hash())
    );
}

#[test]
fn a_missing_instance_is_replaced_at_once() {
    let spec = cattle(3).build();
    let p = plan(&spec, &healthy_group(&spec, 2), &GroupState::default(), NOW);
    assert_eq!(provisions(&p).len(), 1);
    assert!(
        p.actions[0].reason().contains("2 of 3 exist"),
        "{}",
        p.actions[0].reason()
    );
}

#[test]
fn a_lagging_listing_never_causes_a_second_provision() {
    let spec = cattle(3).build();
    let observed = healthy_group(&spec, 2);
    let first = plan(&spec, &observed, &GroupState::default(), NOW);
    assert_eq!(provisions(&first).len(), 1);
    // The listing does not show the new instance yet.
    let second = plan(
        &spec,
        &observed,
        &first.state,
        NOW.after(Duration::from_secs(5)),
    );
    assert!(second.actions.is_empty(), "{:?}", second.actions);
    assert_eq!(second.status.pending, 1);
}

#[test]
fn the_instance_carrying_a_pending_token_is_adopted() {
    let spec = cattle(3).build();
    let mut observed = healthy_group(&spec, 2);
    let first = plan(&spec, &observed, &GroupState::default(), NOW);
    apply(&mut observed, &first, NOW);
    let second = plan(&spec, &observed, &first.state, NOW);
    assert!(second.actions.is_empty());
    assert!(second.state.pending.is_empty());
    assert_eq!(second.status.phase, Phase::Converged);
}

#[test]
fn an_instance_reported_by_id_is_adopted_even_without_its_token_tag() {
    let spec = cattle(1).build();
    let mut state = plan(&spec, &Observed::default(), &GroupState::default(), NOW).state;
    state.provision_succeeded("g-1", "i-77");
    let observed = Observed::new(vec![healthy("i-77", &spec, 1000)]);
    let p = plan(&spec, &observed, &state, NOW);
    assert!(p.actions.is_empty() && p.state.pending.is_empty());
}

#[test]
fn a_provision_never_listed_expires_as_a_failure_and_backs_off() {
    let spec = cattle(1).build();
    let first = plan(&spec, &Observed::default(), &GroupState::default(), NOW);
    let later = NOW.after(PROVISION_TIMEOUT);
    let p = plan(&spec, &Observed::default(), &first.state, later);
    assert!(p.actions.is_empty(), "backing off first: {:?}", p.actions);
    assert_eq!(p.status.phase, Phase::Failing);
    assert!(
        p.status.message.contains("was not listed"),
        "{}",
        p.status.message
    );
    assert_eq!(p.requeue_after, Some(Duration::from_secs(1)));
    let retry = plan(
        &spec,
        &Observed::default(),
        &p.state,
        later.after(Duration::from_secs(1)),
    );
    assert_eq!(provisions(&retry).len(), 1);
}

#[test]
fn a_reported_failure_blocks_every_action_until_its_backoff_ends() {
    let spec = cattle(2).build();
    let first = plan(&spec, &Observed::default(), &GroupState::default(), NOW);
    let mut state = first.state.clone();
    let backoff = spec.remediation().backoff;
    for (round, token) in [(1, "g-1"), (2, "g-2")] {
        let before = state.pending.len();
        let failed = crate::Outcome::ProvisionFailed {
            token: token.into(),
            error: "quota exceeded".into(),
        };
        state.apply(&failed, round, NOW, &backoff);
        assert_eq!(
            state.pending.len(),
            before - 1,
            "{token} is no longer expected"
        );
    }
    let p = plan(
        &spec,
        &Observed::default(),
        &state,
        NOW.after(Duration::from_secs(1)),
    );
    assert!(p.actions.is_empty());
    assert_eq!(p.status.phase, Phase::Failing);
    assert!(
        p.status.message.contains("quota exceeded"),
        "{}",
        p.status.message
    );
    assert_eq!(p.requeue_after, Some(Duration::from_secs(1)));
    let p = plan(
        &spec,
        &Observed::default(),
        &state,
        NOW.after(Duration::from_secs(2)),
    );
    assert_eq!(provisions(&p).len(), 2);
}

#[test]
fn scale_down_takes_requested_then_broken_then_unavailable_then_newest() {
    let spec = cattle(1).build();
    let observed = Observed::new(vec![
        healthy("a-newest", &spec, 5),
        healthy("b-oldest", &spec, 1),
        healthy("d-unknown", &spec, 3).with_health(Health::Unknown, Time(0)),
        healthy("e-unhealthy", &spec, 4).with_health(Health::Unhealthy, Time::from_secs(999)),
        healthy("f-requested", &spec, 0),
    ]);
    let mut state = GroupState::default();
    state.request_removal(["f-requested".to_string()]);
    let p = plan(&spec, &observed, &state, NOW);
    assert_eq!(
        destroyed(&p),
        ["f-requested", "e-unhealthy", "d-unknown", "a-newest"]
    );
    assert!(p.actions.iter().all(|a| matches!(
        a,
        Action::Destroy {
            context: DestroyReason::Terminate,
            ..
        }
    )));
    assert!(
        p.state
            .removal_requested
            .contains(&"f-requested".to_string()),
        "kept until it is gone"
    );
}

#[test]
fn scale_down_during_a_paused_update_takes_out_of_date_instances_before_newer_ones() {
    let spec = cattle(1)
        .section("Updating", serde_json::json!({"MaxSurge": 1}))
        .build();
    let old = cattle(1).note("v0").build();
    let observed = Observed::new(vec![
        healthy("new-1", &spec, 5),
        healthy("new-2", &spec, 6),
        healthy("old", &old, 1),
    ]);
    let mut state = plan(&spec, &observed, &GroupState::default(), NOW).state;
    state.leaving.clear();
    state.pending.clear();
    assert!(state.stop_update("user"));
    let p = plan(&spec, &observed, &state, NOW);
    assert_eq!(destroyed(&p), ["old"]);
    assert_eq!(p.status.phase, Phase::Paused);
}

#[test]
fn pending_provisions_are_the_victims_of_a_scale_down_before_serving_instances() {
    let spec = cattle(4).build();
    let first = plan(&spec, &healthy_group(&spec, 2), &GroupState::default(), NOW);
    assert_eq!(provisions(&first).len(), 2);
    let smaller = cattle(2).build();
    let p = plan(&smaller, &healthy_group(&spec, 2), &first.state, NOW);
    assert!(
        p.actions.is_empty(),
        "wait for the provisions to appear: {:?}",
        p.actions
    );
}

#[test]
fn terminating_and_leaving_instances_are_neither_members_nor_destroyed_again() {
    let spec = cattle(2)
        .section("Updating", serde_json::json!({"MaxSurge": 2}))
        .build();
    let mut observed = healthy_group(&spec, 3);
    observed.instances[0].state = InstanceState::Terminating;
    let state = GroupState {
        leaving: vec![PendingDestroy {
            id: "i-1".into(),
            reason: DestroyReason::Terminate,
            issued_at: NOW,
        }],
        ..GroupState::default()
    };
    let p = plan(&spec, &observed, &state, NOW);
    assert_eq!(
        provisions(&p).len(),
        1,
        "one member left of two; 3 of 2 + 2 exist"
    );
    assert!(destroyed(&p).is_empty());
    assert_eq!(p.status.leaving, 2);
}

#[test]
fn a_destroy_still_listed_after_its_timeout_is_destroyed_again() {
    let spec = cattle(0).build();
    let observed = healthy_group(&spec, 1);
    let first = plan(&spec, &observed, &GroupState::default(), NOW);
    assert_eq!(destroyed(&first), ["i-0"]);
    assert!(
        plan(
            &spec,
            &observed,
            &first.state,
            NOW.after(Duration::from_secs(10))
        )
        .actions
        .is_empty()
    );
    let late = NOW.after(crate::state::DESTROY_TIMEOUT);
    let p = plan(&spec, &observed, &first.state, late);
    assert_eq!(p.status.phase, Phase::Failing, "{}", p.status.message);
    let p = plan(
        &spec,
        &observed,
        &p.state,
        late.after(Duration::from_secs(1)),
    );
    assert_eq!(destroyed(&p), ["i-0"]);
}

#[test]
fn instances_tagged_bootstrap_are_labelled_and_adopted() {
    let spec = cattle(1).build();
    let observed = Observed::new(vec![
        healthy("i-0", &spec, 0).with_hash(crate::plan::BOOTSTRAP_HASH),
    ]);
    let p = plan(&spec, &observed, &GroupState::default(), NOW);
    match p.actions.as_slice() {
        [Action::Label { id, tags, .. }] => {
            assert_eq!(id, "i-0");
            assert_eq!(
                tags.get(infrakit_model::tags::CONFIG_HASH)
                    .map(String::as_str),
                Some(spec.config_hash())
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn tokens_never_repeat_those_already_listed_even_with_a_lost_state() {
    let spec = cattle(2).build();
    let observed = Observed::new(vec![healthy("i-9", &spec, 0).with_token("g-41")]);
    let p = plan(&spec, &observed, &GroupState::default(), NOW);
    assert!(
        matches!(&p.actions[..], [Action::Provision { token, sequence: 42, .. }] if token == "g-42")
    );
}

#[test]
fn a_failed_observation_never_acts_and_reports_degraded() {
    let spec = cattle(3).build();
    let first = plan(&spec, &Observed::default(), &GroupState::default(), NOW);
    let p = plan_degraded(&spec, &first.state, "DescribeInstances timed out", NOW);
    assert!(p.actions.is_empty());
    assert_eq!(p.status.phase, Phase::Degraded);
    assert_eq!(
        p.state.pending, first.state.pending,
        "expectations are kept"
    );
    let e = p.status.last_error.expect("the error is reported");
    assert!(e.message.contains("timed out") && e.at == NOW);
}

#[test]
fn the_plan_is_a_function_of_its_inputs() {
    let spec = cattle(5).build();
    let observed = Observed::new(vec![
        ObservedInstance::new("x", Time(0)).with_hash("old"),
        healthy("y", &spec, 0).with_health(Health::Unhealthy, Time(0)),
    ]);
    let a = plan(&spec, &observed, &GroupState::default(), NOW);
    let b = plan(&spec, &observed, &GroupState::default(), NOW);
    assert_eq!(a, b);
}

#[test]
fn instances_being_destroyed_count_against_desired_plus_surge_until_they_are_gone() {
    let spec = cattle(2)
        .section(
            "Updating",
            serde_json::json!({"MaxSurge": 0, "MaxUnavailable": 1}),
        )
        .build();
    let mut observed = healthy_group(&spec, 2);
    observed.instances[0].state = InstanceState::Terminating;
    let p = plan(&spec, &observed, &GroupState::default(), NOW);
    assert!(
        p.actions.is_empty(),
        "wait until i-0 is gone: {:?}",
        p.actions
    );
    observed.instances.remove(0);
    assert_eq!(
        provisions(&plan(&spec, &observed, &GroupState::default(), NOW)).len(),
        1
    );
}
