//! Which destroys drain first, and whether a drain error stops them.

use crate::fixtures::{cattle, healthy, healthy_group, pets};
use crate::observe::{InstanceState, Observed};
use crate::plan::{Action, DestroyReason, Drain, Plan, plan};
use crate::state::GroupState;
use crate::time::Time;

const T: Time = Time::from_secs(1000);

/// `(id, context, drain)` of every destroy of a plan.
fn drains(p: &Plan) -> Vec<(&str, DestroyReason, Drain)> {
    p.actions
        .iter()
        .filter_map(|a| match a {
            Action::Destroy {
                id, context, drain, ..
            } => Some((id.as_str(), *context, *drain)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_healthy_member_removed_by_a_scale_down_must_drain_first() {
    let spec = cattle(2).build();
    let observed = healthy_group(&spec, 3);
    let p = plan(&spec, &observed, &GroupState::default(), T);
    assert_eq!(
        drains(&p),
        [("i-0", DestroyReason::Terminate, Drain::Required)]
    );
}

#[test]
fn an_instance_named_by_destroy_instances_must_drain_first() {
    let spec = cattle(2).build();
    let observed = healthy_group(&spec, 3);
    let mut state = GroupState::default();
    state.request_removal(["i-2".to_string()]);
    let p = plan(&spec, &observed, &state, T);
    assert_eq!(
        drains(&p),
        [("i-2", DestroyReason::Terminate, Drain::Required)]
    );
}

#[test]
fn a_pet_whose_logical_id_was_removed_must_drain_first() {
    let spec = pets(&["a"]).build();
    let observed = Observed::new(vec![
        healthy("i-a", &spec, 0).with_logical_id("a"),
        healthy("i-b", &spec, 0).with_logical_id("b"),
    ]);
    let p = plan(&spec, &observed, &GroupState::default(), T);
    assert_eq!(
        drains(&p),
        [("i-b", DestroyReason::Terminate, Drain::Required)]
    );
}

#[test]
fn a_pending_instance_is_not_drained_and_a_failed_one_best_effort() {
    let spec = cattle(1).build();
    let observed = Observed::new(vec![
        healthy("i-0", &spec, 0),
        healthy("i-new", &spec, 900).with_state(InstanceState::Pending),
        healthy("i-dead", &spec, 0).with_state(InstanceState::Failed),
    ]);
    let p = plan(&spec, &observed, &GroupState::default(), T);
    let mut got = drains(&p);
    got.sort_by_key(|(id, _, _)| *id);
    assert_eq!(
        got,
        [
            ("i-dead", DestroyReason::Heal, Drain::BestEffort),
            ("i-new", DestroyReason::Terminate, Drain::Skip),
        ]
    );
}

#[test]
fn destroying_the_group_drains_best_effort_and_skips_what_never_came_up() {
    let spec = cattle(2).build();
    let observed = Observed::new(vec![
        healthy("i-0", &spec, 0),
        healthy("i-1", &spec, 0).with_state(InstanceState::Pending),
    ]);
    let mut state = GroupState::default();
    state.start_destroying();
    let p = plan(&spec, &observed, &state, T);
    assert_eq!(
        drains(&p),
        [
            ("i-0", DestroyReason::Terminate, Drain::BestEffort),
            ("i-1", DestroyReason::Terminate, Drain::Skip),
        ]
    );
}
