//! DestroyGroup through the planner.

use crate::fixtures::{apply, cattle, destroyed, healthy_group, provisions};
use crate::observe::{InstanceState, Observed};
use crate::plan::{Action, DestroyReason, Phase, plan};
use crate::state::GroupState;
use crate::time::Time;

const T: Time = Time::from_secs(1000);

#[test]
fn destroying_a_group_terminates_every_member_once_and_finishes_when_empty() {
    let spec = cattle(3).build();
    let mut observed = healthy_group(&spec, 3);
    observed.instances[2].state = InstanceState::Terminating;
    let mut state = GroupState::default();
    state.start_destroying();
    let p = plan(&spec, &observed, &state, T);
    assert_eq!(destroyed(&p), ["i-0", "i-1"]);
    assert!(p.actions.iter().all(|a| matches!(
        a,
        Action::Destroy {
            context: DestroyReason::Terminate,
            ..
        }
    )));
    assert_eq!(p.status.phase, Phase::Destroying);
    assert_eq!(p.status.desired, 0);
    assert!(!p.destroy_finished());
    // Idempotent: while the destroys are in flight nothing more is done.
    let again = plan(&spec, &observed, &p.state, T);
    assert!(again.actions.is_empty());
    apply(&mut observed, &p, T);
    let done = plan(&spec, &observed, &p.state, T);
    assert!(done.actions.is_empty());
    assert!(done.destroy_finished());
}

#[test]
fn destroying_waits_for_provisions_in_flight_and_then_destroys_them() {
    let spec = cattle(1).build();
    let first = plan(&spec, &Observed::default(), &GroupState::default(), T);
    assert_eq!(provisions(&first).len(), 1);
    let mut state = first.state.clone();
    state.start_destroying();
    let p = plan(&spec, &Observed::default(), &state, T);
    assert!(p.actions.is_empty());
    assert!(!p.destroy_finished(), "a provision may still appear");
    let mut observed = Observed::default();
    apply(&mut observed, &first, T);
    let p = plan(&spec, &observed, &p.state, T);
    assert_eq!(destroyed(&p), ["i-g-1"]);
}
