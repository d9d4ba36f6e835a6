//! Pets: one instance per logical ID, rolled one logical ID at a time.

use crate::fixtures::{apply, destroyed, healthy, pets, provisions};
use crate::observe::{Health, Observed};
use crate::plan::{Action, DestroyReason, Phase, plan};
use crate::spec::GroupSpec;
use crate::state::GroupState;
use crate::time::Time;
use serde_json::json;
use std::time::Duration;

const T: Time = Time::from_secs(1000);

fn pet(id: &str, logical: &str, spec: &GroupSpec) -> crate::observe::ObservedInstance {
    healthy(id, spec, 0).with_logical_id(logical)
}

fn logical_ids(p: &crate::plan::Plan) -> Vec<&str> {
    provisions(p)
        .iter()
        .filter_map(|a| a.logical_id())
        .collect()
}

#[test]
fn missing_logical_ids_are_provisioned_with_their_id() {
    let spec = pets(&["a", "b", "c"]).build();
    let observed = Observed::new(vec![pet("i-1", "b", &spec)]);
    let p = plan(&spec, &observed, &GroupState::default(), T);
    assert_eq!(logical_ids(&p), ["a", "c"]);
    assert_eq!(
        p.state
            .pending
            .iter()
            .filter_map(|p| p.logical_id.as_deref())
            .collect::<Vec<_>>(),
        ["a", "c"]
    );
}

#[test]
fn strays_without_a_wanted_logical_id_are_destroyed() {
    let spec = pets(&["a"]).build();
    let observed = Observed::new(vec![
        pet("i-1", "a", &spec),
        pet("i-2", "z", &spec),
        healthy("i-3", &spec, 0),
    ]);
    let p = plan(&spec, &observed, &GroupState::default(), T);
    assert_eq!(destroyed(&p), ["i-2", "i-3"]);
    assert!(p.actions.iter().all(|a| matches!(
        a,
        Action::Destroy {
            context: DestroyReason::Terminate,
            ..
        }
    )));
    assert!(
        p.actions[0].reason().contains("\"z\" is not in the spec"),
        "{}",
        p.actions[0].reason()
    );
}

#[test]
fn duplicates_of_a_logical_id_keep_the_best_instance() {
    let spec = pets(&["a"]).build();
    let observed = Observed::new(vec![
        pet("i-1", "a", &spec).with_health(Health::Unknown, Time(0)),
        pet("i-2", "a", &spec),
        pet("i-3", "a", &spec).with_health(Health::Unhealthy, T),
    ]);
    let p = plan(&spec, &observed, &GroupState::default(), T);
    let mut gone = destroyed(&p);
    gone.sort_unstable();
    assert_eq!(gone, ["i-1", "i-3"]);
}

#[test]
fn a_logical_id_is_provisioned_again_only_after_its_old_instance_is_gone() {
    let spec = pets(&["a", "b"]).build();
    let mut observed = Observed::new(vec![pet("i-1", "a", &spec), pet("i-2", "b", &spec)]);
    observed.instances[0].state = crate::observe::InstanceState::Failed;
    let p = plan(&spec, &observed, &GroupState::default(), T);
    assert_eq!(destroyed(&p), ["i-1"]);
    assert!(provisions(&p).is_empty(), "wait until i-1 is gone");
    observed.instances.remove(0);
    let p = plan(&spec, &observed, &p.state, T);
    assert_eq!(logical_ids(&p), ["a"]);
}

#[test]
fn an_adopted_pet_missing_its_logical_id_gets_it_from_the_provision() {
    let spec = pets(&["a"]).build();
    let first = plan(&spec, &Observed::default(), &GroupState::default(), T);
    let observed = Observed::new(vec![healthy("i-1", &spec, 1000).with_token("g-1")]);
    let p = plan(&spec, &observed, &first.state, T);
    match p.actions.as_slice() {
        [Action::Label { id, tags, .. }] => {
            assert_eq!(id, "i-1");
            assert_eq!(
                tags.get(infrakit_model::tags::LOGICAL_ID)
                    .map(String::as_str),
                Some("a")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn pets_roll_one_logical_id_at_a_time_replacement_first() {
    let v1 = pets(&["a", "b", "c"]).build();
    let mut observed = Observed::new(vec![
        pet("i-a", "a", &v1),
        pet("i-b", "b", &v1),
        pet("i-c", "c", &v1),
    ]);
    let mut state = plan(&v1, &observed, &GroupState::default(), T).state;
    let v2 = pets(&["a", "b", "c"]).note("v2").build();
    let mut now = T;
    let mut order = Vec::new();
    for _ in 0..12 {
        let p = plan(&v2, &observed, &state, now);
        assert!(
            provisions(&p).len() <= 1,
            "one logical ID at a time: {:?}",
            p.actions
        );
        order.extend(logical_ids(&p).into_iter().map(str::to_string));
        let members = observed.instances.len() + p.state.pending.len() - destroyed(&p).len();
        assert!(members <= 4, "never more than 3 + 1 surge");
        apply(&mut observed, &p, now);
        state = p.state;
        now = now.after(Duration::from_secs(1));
    }
    assert_eq!(order, ["a", "b", "c"]);
    let p = plan(&v2, &observed, &state, now);
    assert_eq!(p.status.phase, Phase::Converged, "{}", p.status.message);
}

#[test]
fn with_max_surge_zero_a_pet_is_destroyed_before_its_replacement_is_created() {
    let v1 = pets(&["a", "b"]).build();
    let observed = Observed::new(vec![pet("i-a", "a", &v1), pet("i-b", "b", &v1)]);
    let state = plan(&v1, &observed, &GroupState::default(), T).state;
    let v2 = pets(&["a", "b"])
        .note("v2")
        .section("Updating", json!({"MaxSurge": 0, "MaxUnavailable": 1}))
        .build();
    let p = plan(&v2, &observed, &state, T);
    assert_eq!(destroyed(&p), ["i-a"]);
    assert!(provisions(&p).is_empty());
    let mut observed = observed;
    apply(&mut observed, &p, T);
    let p = plan(&v2, &observed, &p.state, T);
    assert_eq!(logical_ids(&p), ["a"]);
    assert!(
        destroyed(&p).is_empty(),
        "b waits until a's replacement is available"
    );
}

#[test]
fn a_pet_replacement_that_never_gets_healthy_blocks_the_next_logical_id() {
    let v1 = pets(&["a", "b"]).build();
    let mut observed = Observed::new(vec![pet("i-a", "a", &v1), pet("i-b", "b", &v1)]);
    let state = plan(&v1, &observed, &GroupState::default(), T).state;
    let v2 = pets(&["a", "b"]).note("v2").build();
    let p = plan(&v2, &observed, &state, T);
    apply(&mut observed, &p, T);
    for i in observed
        .instances
        .iter_mut()
        .filter(|i| i.hash.as_deref() == Some(v2.config_hash()))
    {
        i.health = Health::Unknown;
    }
    let p = plan(&v2, &observed, &p.state, T.after(Duration::from_secs(60)));
    assert!(p.actions.is_empty(), "{:?}", p.actions);
}

#[test]
fn an_old_pet_whose_replacement_is_available_goes_even_when_other_ids_are_down() {
    // MaxUnavailable 0, but b and c never come up: a's old instance must still go once its
    // replacement serves "a", or every logical ID waits on another forever.
    let v1 = pets(&["a", "b", "c"]).build();
    let v2 = pets(&["a", "b", "c"]).note("v2").build();
    let down = |id: &str, l: &str| pet(id, l, &v1).with_health(Health::Unknown, Time(0));
    let observed = Observed::new(vec![
        pet("a-old", "a", &v1),
        pet("a-new", "a", &v2),
        down("b-old", "b"),
        down("c-old", "c"),
    ]);
    let p = plan(&v2, &observed, &GroupState::default(), T);
    assert_eq!(destroyed(&p), ["a-old"], "{}", p.status.message);
}
