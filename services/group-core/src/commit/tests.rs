//! Commit plans and their summaries.

use crate::commit::plan_commit;
use crate::fixtures::{cattle, healthy, healthy_group, pets};
use crate::observe::Observed;
use crate::plan::{Action, plan};
use crate::state::GroupState;
use crate::time::Time;

const T: Time = Time::from_secs(1000);

/// A group of `n` converged instances of `spec` and its state.
fn converged(spec: &crate::spec::GroupSpec, n: usize) -> (Observed, GroupState) {
    let observed = healthy_group(spec, n);
    let state = plan(spec, &observed, &GroupState::default(), T).state;
    (observed, state)
}

#[test]
fn the_seed_demo_rolls_five_then_adds_five() {
    let v1 = cattle(5).build();
    let (observed, state) = converged(&v1, 5);
    let v2 = cattle(10).note("v2").build();
    let c = plan_commit(Some((&v1, &state)), &v2, &observed, T);
    assert_eq!(
        c.summary,
        "Performing a rolling update on 5 instances, then adding 5 instances to increase the group size to 10"
    );
    assert_eq!(
        (c.create, c.destroy, c.roll, c.keep, c.noop),
        (5, 0, 5, 0, false)
    );
    assert_eq!(c.spec_hash, v2.config_hash());
    assert!(!c.first_actions.is_empty());
}

#[test]
fn a_new_group_is_managed() {
    let spec = cattle(5).build();
    let c = plan_commit(None, &spec, &Observed::default(), T);
    assert_eq!(c.summary, "Managing 5 instances");
    assert_eq!(c.create, 5);
    assert_eq!(c.first_actions.len(), 5);
    assert!(
        c.state.pending.is_empty(),
        "the installed state expects nothing: the reconcile provisions"
    );
}

#[test]
fn an_unchanged_converged_group_is_a_noop() {
    let spec = cattle(3).build();
    let (observed, state) = converged(&spec, 3);
    let c = plan_commit(Some((&spec, &state)), &spec, &observed, T);
    assert_eq!(c.summary, "Noop");
    assert!(c.noop && c.first_actions.is_empty());
    assert_eq!(c.keep, 3);
}

#[test]
fn summaries_name_what_changes() {
    let v1 = cattle(5).build();
    let (observed, state) = converged(&v1, 5);
    let cases = [
        (
            cattle(5).note("v2").build(),
            "Performing a rolling update on 5 instances",
        ),
        (
            cattle(10).build(),
            "Adding 5 instances to increase the group size to 10",
        ),
        (
            cattle(4).build(),
            "Terminating 1 instance to reduce the group size to 4",
        ),
        (
            cattle(2).note("v2").build(),
            "Terminating 3 instances to reduce the group size to 2, then performing a rolling update on 2 instances",
        ),
    ];
    for (spec, want) in cases {
        assert_eq!(
            plan_commit(Some((&v1, &state)), &spec, &observed, T).summary,
            want
        );
    }
}

#[test]
fn pet_summaries_count_logical_ids() {
    let v1 = pets(&["a", "b"]).build();
    let observed = Observed::new(vec![
        healthy("i-1", &v1, 0).with_logical_id("a"),
        healthy("i-2", &v1, 0).with_logical_id("b"),
    ]);
    let state = plan(&v1, &observed, &GroupState::default(), T).state;
    let v2 = pets(&["a", "b", "c"]).note("v2").build();
    let c = plan_commit(Some((&v1, &state)), &v2, &observed, T);
    assert_eq!(
        c.summary,
        "Performing a rolling update on 2 instances, then adding 1 instance to increase the group size to 3"
    );
}

#[test]
fn a_commit_resumes_a_paused_update_and_ends_a_destroy() {
    let v1 = cattle(2).build();
    let (observed, state) = converged(&v1, 2);
    let v2 = cattle(2).note("v2").build();
    let mut state = plan(&v2, &observed, &state, T).state;
    assert!(state.stop_update("user"));
    state.destroying = true;
    let c = plan_commit(Some((&v2, &state)), &v2, &observed, T);
    assert!(!c.state.destroying);
    let u = c.state.update.expect("still updating");
    assert!(u.paused.is_none() && u.halted.is_none());
    assert!(
        c.first_actions
            .iter()
            .all(|a| !matches!(a, Action::Destroy { .. })),
        "surge first"
    );
}
