//! Replacing unhealthy and failed instances within the Remediation cap.

use crate::fixtures::{apply, cattle, destroyed, healthy, healthy_group, provisions};
use crate::observe::{Health, InstanceState, Observed};
use crate::plan::{Action, DestroyReason, Drain, Phase, plan};
use crate::state::GroupState;
use crate::time::Time;
use serde_json::json;
use std::time::Duration;

/// Default policy: GracePeriod 30s, UnhealthyAfter 10s, MaxUnhealthy 34%.
fn unhealthy(observed: &mut Observed, i: usize, since: u64, reason: &str) {
    let inst = &mut observed.instances[i];
    inst.health = Health::Unhealthy;
    inst.health_since = Time::from_secs(since);
    inst.health_reason = reason.to_string();
}

#[test]
fn an_instance_unhealthy_past_grace_and_unhealthy_after_is_drained_and_replaced() {
    let spec = cattle(3).build();
    let mut observed = healthy_group(&spec, 3);
    unhealthy(&mut observed, 1, 100, "disk full");
    let p = plan(
        &spec,
        &observed,
        &GroupState::default(),
        Time::from_secs(110),
    );
    match p.actions.as_slice() {
        [
            Action::Destroy {
                id,
                context: DestroyReason::Heal,
                drain: Drain::Required,
                reason,
                ..
            },
            Action::Provision { .. },
        ] => {
            assert_eq!(id, "i-1");
            assert!(reason.contains("unhealthy for 10s: disk full"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_instance_unhealthy_for_less_than_unhealthy_after_is_left_and_the_plan_wakes_in_time() {
    let spec = cattle(3).build();
    let mut observed = healthy_group(&spec, 3);
    unhealthy(&mut observed, 1, 100, "flapping");
    let p = plan(
        &spec,
        &observed,
        &GroupState::default(),
        Time::from_secs(104),
    );
    assert!(p.actions.is_empty(), "{:?}", p.actions);
    assert_eq!(p.requeue_after, Some(Duration::from_secs(6)));
    assert_eq!(p.status.phase, Phase::Converging);
}

#[test]
fn a_new_instance_is_not_judged_before_its_grace_period() {
    let spec = cattle(1).build();
    let observed = Observed::new(vec![
        healthy("young", &spec, 100).with_health(Health::Unhealthy, Time::from_secs(100)),
    ]);
    let p = plan(
        &spec,
        &observed,
        &GroupState::default(),
        Time::from_secs(120),
    );
    assert!(p.actions.is_empty());
    assert_eq!(
        p.requeue_after,
        Some(Duration::from_secs(10)),
        "grace ends at 130s"
    );
}

#[test]
fn a_failed_instance_is_replaced_without_waiting_and_drained_best_effort() {
    let spec = cattle(2).build();
    let mut observed = healthy_group(&spec, 2);
    observed.instances[0].state = InstanceState::Failed;
    observed.instances[0].first_seen = Time::from_secs(999);
    let p = plan(
        &spec,
        &observed,
        &GroupState::default(),
        Time::from_secs(1000),
    );
    assert!(matches!(
        &p.actions[0],
        Action::Destroy {
            context: DestroyReason::Heal,
            drain: Drain::BestEffort,
            ..
        }
    ));
    assert_eq!(provisions(&p).len(), 1);
}

#[test]
fn beyond_max_unhealthy_nothing_is_replaced_and_the_status_says_why() {
    let spec = cattle(3).build();
    let mut observed = healthy_group(&spec, 3);
    unhealthy(&mut observed, 0, 100, "timeout");
    unhealthy(&mut observed, 2, 100, "timeout");
    let p = plan(
        &spec,
        &observed,
        &GroupState::default(),
        Time::from_secs(200),
    );
    assert!(p.actions.is_empty(), "{:?}", p.actions);
    assert_eq!(p.status.phase, Phase::Failing);
    assert!(
        p.status
            .message
            .contains("more than Remediation.MaxUnhealthy (1)"),
        "{}",
        p.status.message
    );
}

#[test]
fn max_unhealthy_zero_turns_replacement_off() {
    let spec = cattle(2)
        .section("Remediation", json!({"MaxUnhealthy": 0}))
        .build();
    let mut observed = healthy_group(&spec, 2);
    unhealthy(&mut observed, 0, 100, "x");
    let p = plan(
        &spec,
        &observed,
        &GroupState::default(),
        Time::from_secs(200),
    );
    assert!(p.actions.is_empty());
    assert!(
        p.status.message.contains("MaxUnhealthy is 0"),
        "{}",
        p.status.message
    );
}

#[test]
fn replacements_in_flight_count_against_the_cap() {
    let spec = cattle(3).build();
    let mut observed = healthy_group(&spec, 3);
    unhealthy(&mut observed, 0, 100, "x");
    let first = plan(
        &spec,
        &observed,
        &GroupState::default(),
        Time::from_secs(200),
    );
    assert_eq!(destroyed(&first), ["i-0"]);
    // i-0 is still listed (destroy in flight) and i-1 turns unhealthy too.
    unhealthy(&mut observed, 1, 100, "y");
    let p = plan(&spec, &observed, &first.state, Time::from_secs(300));
    assert!(destroyed(&p).is_empty(), "{:?}", p.actions);
    assert!(
        p.status.message.contains("in flight"),
        "{}",
        p.status.message
    );
}

#[test]
fn waves_of_replacements_back_off_until_the_group_is_healthy_again() {
    let spec = cattle(6).build(); // MaxUnhealthy 34%: 2
    let mut observed = healthy_group(&spec, 6);
    unhealthy(&mut observed, 0, 100, "crash loop");
    let first = plan(
        &spec,
        &observed,
        &GroupState::default(),
        Time::from_secs(200),
    );
    assert_eq!(first.state.remediation.waves, 1);
    // i-0 is gone and its replacement is listed, not healthy yet (one replacement in flight);
    // then another member turns unhealthy within the backoff of the first wave.
    apply(&mut observed, &first, Time::from_secs(200));
    observed.instances[5].health = Health::Unknown;
    let p = plan(&spec, &observed, &first.state, Time::from_millis(200_500));
    assert!(p.actions.is_empty(), "{:?}", p.actions);
    let state = p.state.clone();
    unhealthy(&mut observed, 0, 100, "crash loop");
    let p = plan(&spec, &observed, &state, Time::from_millis(200_600));
    assert!(destroyed(&p).is_empty());
    assert_eq!(p.status.phase, Phase::Failing);
    assert!(
        p.status.message.contains("backing off"),
        "{}",
        p.status.message
    );
    assert_eq!(p.requeue_after, Some(Duration::from_millis(400)));
    let p = plan(&spec, &observed, &state, Time::from_secs(201));
    assert_eq!(destroyed(&p), ["i-1"]);
    assert_eq!(p.state.remediation.waves, 2);
}
