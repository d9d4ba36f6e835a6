//! Property tests of the planner's invariants over generated (spec, observation, state, time).

use crate::fixtures::{Rng, apply, cattle, pets};
use crate::observe::{Health, InstanceState, Observed, ObservedInstance};
use crate::plan::{Action, BOOTSTRAP_HASH, DestroyReason, Phase, Plan, plan, plan_degraded};
use crate::spec::GroupSpec;
use crate::state::{GroupState, PendingDestroy, PendingProvision, UpdateState};
use crate::time::Time;
use proptest::prelude::*;
use serde_json::json;
use std::collections::HashSet;
use std::time::Duration;

const NOW: Time = Time::from_secs(1000);
const IDS: [&str; 6] = ["a", "b", "c", "d", "e", "f"];

/// One generated situation.
struct Case {
    spec: GroupSpec,
    observed: Observed,
    state: GroupState,
}

fn generate(seed: u64) -> Case {
    let mut r = Rng::new(seed);
    let size = r.below(7) as usize;
    let surge = r
        .pick(&[json!(0), json!(1), json!(2), json!("10%"), json!("50%")])
        .clone();
    let unavailable = if surge == json!(0) {
        json!(1 + r.below(2))
    } else {
        r.pick(&[json!(0), json!(1), json!("30%")]).clone()
    };
    let healthy_for = *r.pick(&["0s", "0s", "5s"]);
    let updating =
        json!({"MaxSurge": surge, "MaxUnavailable": unavailable, "HealthyFor": healthy_for});
    let builder = if r.chance(40) {
        pets(&IDS[..size.max(1)])
    } else {
        cattle(size as u32)
    };
    let spec = builder.note("v2").section("Updating", updating).build();
    let old = cattle(0).note("v1").build();
    let hashes = [
        Some(spec.config_hash()),
        Some(spec.config_hash()),
        Some(old.config_hash()),
        None,
        Some(BOOTSTRAP_HASH),
    ];
    let mut instances = Vec::new();
    for k in 0..r.below(11) {
        let mut i = ObservedInstance::new(format!("i-{k}"), Time::from_secs(r.below(1001)));
        i.hash = r.pick(&hashes).map(str::to_string);
        i.logical_id = if r.chance(80) {
            Some(r.pick(&["a", "b", "c", "z"]).to_string())
        } else {
            None
        };
        i.health = *r.pick(&[
            Health::Healthy,
            Health::Healthy,
            Health::Healthy,
            Health::Unknown,
            Health::Unhealthy,
        ]);
        i.health_since = Time::from_secs(r.below(1001));
        i.state = *r.pick(&[
            InstanceState::Running,
            InstanceState::Running,
            InstanceState::Unknown,
            InstanceState::Pending,
            InstanceState::Failed,
            InstanceState::Terminating,
        ]);
        if r.chance(30) {
            i.token = Some(format!("g-{}", 100 + r.below(4)));
        }
        instances.push(i);
    }
    let mut state = GroupState::default();
    for k in 0..r.below(4) {
        state.pending.push(PendingProvision {
            token: format!("g-{}", 100 + k),
            sequence: 100 + k,
            logical_id: if r.chance(70) {
                Some(r.pick(&["a", "b", "c", "z"]).to_string())
            } else {
                None
            },
            hash: r.pick(&[spec.config_hash(), old.config_hash()]).to_string(),
            issued_at: Time::from_secs(900 + r.below(101)),
            instance_id: None,
            listed: false,
        });
    }
    for i in &instances {
        if r.chance(15) {
            state.leaving.push(PendingDestroy {
                id: i.id.clone(),
                reason: DestroyReason::Heal,
                issued_at: NOW,
            });
        }
    }
    if r.chance(30) {
        state.update = Some(UpdateState {
            target_hash: spec.config_hash().to_string(),
            previous_hash: None,
            started_at: NOW,
            deadline_at: NOW.after(Duration::from_secs(60)),
            rollback: false,
            done: 0,
            remaining: 99,
            paused: r.chance(30).then(|| "user".to_string()),
            halted: None,
            reason: None,
        });
    }
    if r.chance(10) {
        state.failures.next_attempt_at = Some(NOW.after(Duration::from_secs(2)));
    }
    if r.chance(8) {
        state.pause("prop", "generated", NOW);
    }
    state.remediation.replaced = r.below(4) as u32;
    Case {
        spec,
        observed: Observed::new(instances),
        state,
    }
}

/// Instances that exist (being destroyed included) or are expected, after `p`.
fn total_after(observed: &Observed, p: &Plan) -> usize {
    observed.instances.len() + p.state.pending.iter().filter(|p| !p.listed).count()
}

/// Available capacity: instances (cattle) or logical IDs with an available instance (pets;
/// an instance without its logical ID label gets it from the provision that created it).
fn available(
    spec: &GroupSpec,
    observed: &Observed,
    state: &GroupState,
    leaving: &HashSet<&str>,
    now: Time,
) -> usize {
    let healthy_for = spec.updating().healthy_for;
    let ok = |i: &&ObservedInstance| {
        matches!(i.state, InstanceState::Running | InstanceState::Unknown)
            && !leaving.contains(i.id.as_str())
            && i.health == Health::Healthy
            && now >= i.health_since.after(healthy_for)
    };
    match spec.logical_ids() {
        None => observed.instances.iter().filter(ok).count(),
        Some(ids) => {
            let mut up: HashSet<&str> = HashSet::new();
            for i in observed.instances.iter().filter(ok) {
                let by_token = i
                    .token
                    .as_deref()
                    .and_then(|t| state.pending.iter().find(|p| p.token == t));
                if let Some(l) = i
                    .logical_id
                    .as_deref()
                    .or(by_token.and_then(|p| p.logical_id.as_deref()))
                {
                    up.insert(l);
                }
            }
            ids.iter().filter(|id| up.contains(id.as_str())).count()
        }
    }
}

/// Checks the invariants of one plan; `Err` says which broke.
pub(super) fn check(
    spec: &GroupSpec,
    observed: &Observed,
    state: &GroupState,
    now: Time,
    p: &Plan,
) -> Result<(), String> {
    let desired = spec.desired() as usize;
    let (surge, unavailable) = spec.updating().budget(spec.desired());
    let provisions = p
        .actions
        .iter()
        .filter(|a| matches!(a, Action::Provision { .. }))
        .count();
    if provisions > 0 && total_after(observed, p) > desired + surge as usize {
        return Err(format!(
            "{} members after provisioning, more than {desired} + {surge}",
            total_after(observed, p)
        ));
    }
    let before: HashSet<&str> = state.leaving.iter().map(|d| d.id.as_str()).collect();
    let after: HashSet<&str> = p.state.leaving.iter().map(|d| d.id.as_str()).collect();
    let listed: HashSet<&str> = observed.instances.iter().map(|i| i.id.as_str()).collect();
    for a in &p.actions {
        if let Action::Destroy { id, .. } = a
            && (!listed.contains(id.as_str()) || before.contains(id.as_str()))
        {
            return Err(format!(
                "destroyed {id}, which is not listed or already leaving"
            ));
        }
    }
    if state.paused.is_some() && !p.actions.is_empty() {
        return Err(format!("a paused group acted: {:?}", p.actions));
    }
    let heals = p
        .actions
        .iter()
        .filter(|a| {
            matches!(
                a,
                Action::Destroy {
                    context: DestroyReason::Heal,
                    ..
                }
            )
        })
        .count();
    let healing = p
        .state
        .leaving
        .iter()
        .filter(|d| d.reason == DestroyReason::Heal)
        .count();
    let cap = spec.remediation().cap(spec.desired()) as usize;
    if heals > 0 && healing > cap {
        return Err(format!(
            "{healing} heal destroys in flight after this plan, more than the cap {cap}"
        ));
    }
    let (a0, a1) = (
        available(spec, observed, state, &before, now),
        available(spec, observed, state, &after, now),
    );
    let floor = desired.saturating_sub(unavailable as usize);
    if a1 < a0.min(floor) {
        return Err(format!(
            "available went from {a0} to {a1}, below the floor {floor}"
        ));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_plan_keeps_the_size_and_availability_bounds(seed in any::<u64>()) {
        let c = generate(seed);
        let p = plan(&c.spec, &c.observed, &c.state, NOW);
        prop_assert_eq!(check(&c.spec, &c.observed, &c.state, NOW, &p), Ok(()));
    }

    #[test]
    fn planning_again_on_a_lagging_listing_provisions_only_replacements_of_its_own_destroys(seed in any::<u64>()) {
        let c = generate(seed);
        let p1 = plan(&c.spec, &c.observed, &c.state, NOW);
        prop_assume!(p1.rollback_to.is_none());
        let p2 = plan(&c.spec, &c.observed, &p1.state, NOW);
        let count = |kind: &str| p2.actions.iter().filter(|a| a.kind() == kind).count();
        prop_assert!(count("provision") <= count("destroy"), "{:?}", p2.actions);
        prop_assert_eq!(check(&c.spec, &c.observed, &p1.state, NOW, &p2), Ok(()));
    }

    #[test]
    fn a_failed_observation_never_yields_an_action_nor_changes_the_state_twice(seed in any::<u64>()) {
        let c = generate(seed);
        let p = plan_degraded(&c.spec, &c.state, "timeout", NOW);
        prop_assert!(p.actions.is_empty());
        prop_assert_eq!(p.status.phase, Phase::Degraded);
        let again = plan_degraded(&c.spec, &p.state, "timeout", NOW.after(Duration::from_secs(5)));
        prop_assert_eq!(again.state, p.state);
    }

    #[test]
    fn feeding_back_the_results_reaches_a_fixed_point_that_is_converged_when_all_is_healthy(seed in any::<u64>()) {
        let c = generate(seed);
        let (mut spec, mut observed, mut state, mut now) = (c.spec, c.observed, c.state, NOW);
        let mut last = None;
        for _ in 0..300 {
            let p = plan(&spec, &observed, &state, now);
            prop_assert_eq!(check(&spec, &observed, &state, now, &p), Ok(()));
            if let Some(back) = &p.rollback_to {
                spec = back.clone();
            }
            let before = observed.clone();
            apply(&mut observed, &p, now);
            let idle = p.actions.is_empty() && p.rollback_to.is_none() && observed == before;
            let wait = p.requeue_after;
            state = p.state.clone();
            last = Some(p);
            match (idle, wait) {
                (true, None) => break,
                (_, Some(d)) if !d.is_zero() => now = now.after(d),
                _ => now = now.after(Duration::from_millis(100)),
            }
        }
        let p = last.expect("planned");
        prop_assert!(p.actions.is_empty() && p.requeue_after.is_none(), "no fixed point: {:?} {}", p.actions, p.status.message);
        let all_healthy = observed.instances.iter().all(|i| i.health == Health::Healthy && i.state == InstanceState::Running);
        let held = state.paused.is_some()
            || state.update.as_ref().is_some_and(|u| u.paused.is_some() || u.halted.is_some());
        if all_healthy && !held {
            prop_assert_eq!(p.status.phase, Phase::Converged, "{}", p.status.message);
            // And the converged group stays idle.
            let again = plan(&spec, &observed, &state, now.after(Duration::from_secs(3600)));
            prop_assert!(again.actions.is_empty());
        }
    }
}
