//! `Remediation.MaxUnhealthy` under real-world timing: verdicts that arrive at different
//! passes, replacements that leave the listing before they are available, faults that clear.

use crate::commit::plan_commit;
use crate::fixtures::{apply, cattle, destroyed, healthy_group};
use crate::observe::{Health, Observed};
use crate::plan::{Action, DestroyReason, Phase, Plan, plan};
use crate::spec::GroupSpec;
use crate::state::GroupState;
use crate::time::Time;
use std::time::Duration;

/// Marks instance `i-k` unhealthy since `since` (seconds).
fn unhealthy(observed: &mut Observed, id: &str, since: u64) {
    let inst = observed
        .instances
        .iter_mut()
        .find(|i| i.id == id)
        .unwrap_or_else(|| panic!("{id} is not listed"));
    inst.health = Health::Unhealthy;
    inst.health_since = Time::from_secs(since);
    inst.health_reason = "no route to host".into();
}

fn heals(p: &Plan) -> usize {
    p.actions
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
        .count()
}

/// Plans and applies passes one second apart from `from` (seconds) for `secs` seconds, with
/// a perfect provider; returns the instances destroyed for health and the last plan.
fn run(
    spec: &GroupSpec,
    observed: &mut Observed,
    state: &mut GroupState,
    from: u64,
    secs: u64,
) -> (usize, Plan) {
    let mut healed = 0;
    let mut last = None;
    for t in from..from + secs {
        let now = Time::from_secs(t);
        let p = plan(spec, observed, state, now);
        healed += heals(&p);
        apply(observed, &p, now);
        *state = p.state.clone();
        last = Some(p);
    }
    (healed, last.expect("at least one pass"))
}

#[test]
fn staggered_verdicts_replace_at_most_the_cap_and_short_circuit_until_the_fault_clears() {
    // 10 instances, MaxUnhealthy 34%: at most 3 at once.
    let spec = cattle(10).build();
    let mut observed = healthy_group(&spec, 10);
    // Six turn unhealthy at 90s; the health checks of three of them report it first.
    for id in ["i-0", "i-1", "i-2"] {
        unhealthy(&mut observed, id, 90);
    }
    let first = plan(
        &spec,
        &observed,
        &GroupState::default(),
        Time::from_secs(100),
    );
    assert_eq!(destroyed(&first), ["i-0", "i-1", "i-2"]);
    assert_eq!(first.state.remediation.replaced, 3);
    let mut state = first.state.clone();
    // One pass later the other three verdicts arrive, already older than UnhealthyAfter.
    for id in ["i-3", "i-4", "i-5"] {
        unhealthy(&mut observed, id, 90);
    }
    let p = plan(&spec, &observed, &state, Time::from_secs(101));
    assert_eq!(heals(&p), 0, "{:?}", p.actions);
    assert_eq!(p.status.phase, Phase::Failing);
    let m = &p.status.message;
    assert!(m.contains("short circuit"), "{m}");
    assert!(
        m.contains("3 unhealthy and 3 replacements in flight of 10 instances"),
        "{m}"
    );
    assert!(m.contains("Remediation.MaxUnhealthy (3)"), "{m}");
    assert!(m.contains("fix the cause"), "{m}");
    // The destroyed ones leave the listing, their replacements come up healthy: the fault
    // lasts ten minutes and nothing more is replaced.
    apply(&mut observed, &first, Time::from_secs(101));
    let (healed, p) = run(&spec, &mut observed, &mut state, 101, 600);
    assert_eq!(healed, 0);
    assert!(
        p.status.message.contains("short circuit"),
        "{}",
        p.status.message
    );
    // The fault clears: the three left in place are healthy again, nothing is destroyed, the
    // group converges and the short circuit ends.
    for i in &mut observed.instances {
        if i.health == Health::Unhealthy {
            i.health = Health::Healthy;
            i.health_since = Time::from_secs(701);
        }
    }
    let (healed, p) = run(&spec, &mut observed, &mut state, 701, 60);
    assert_eq!(healed, 0);
    assert_eq!(p.status.phase, Phase::Converged, "{}", p.status.message);
    assert_eq!(state.remediation.short_circuit, None);
    assert_eq!(observed.instances.len(), 10);
}

#[test]
fn staggered_verdicts_that_arrive_fresh_short_circuit_before_they_qualify() {
    let spec = cattle(10).build();
    let mut observed = healthy_group(&spec, 10);
    for id in ["i-0", "i-1", "i-2"] {
        unhealthy(&mut observed, id, 90);
    }
    let first = plan(
        &spec,
        &observed,
        &GroupState::default(),
        Time::from_secs(100),
    );
    assert_eq!(heals(&first), 3);
    for id in ["i-3", "i-4", "i-5"] {
        unhealthy(&mut observed, id, 101);
    }
    let mut state = first.state.clone();
    let (healed, p) = run(&spec, &mut observed, &mut state, 101, 120);
    assert_eq!(healed, 0);
    assert!(
        p.status.message.contains("short circuit"),
        "{}",
        p.status.message
    );
}

#[test]
fn every_member_unhealthy_now_counts_not_only_those_past_unhealthy_after() {
    let spec = cattle(10).build();
    let mut observed = healthy_group(&spec, 10);
    for id in ["i-0", "i-1", "i-2"] {
        unhealthy(&mut observed, id, 90);
    }
    unhealthy(&mut observed, "i-3", 99); // unhealthy for 1s only
    let p = plan(
        &spec,
        &observed,
        &GroupState::default(),
        Time::from_secs(100),
    );
    assert!(p.actions.is_empty(), "{:?}", p.actions);
    assert!(
        p.status
            .message
            .contains("short circuit: 4 unhealthy and 0 replacements"),
        "{}",
        p.status.message
    );
}

#[test]
fn replacements_count_until_available_even_once_their_old_instance_is_gone() {
    let spec = cattle(6).build(); // MaxUnhealthy 34%: 2
    let mut observed = healthy_group(&spec, 6);
    unhealthy(&mut observed, "i-0", 90);
    let first = plan(
        &spec,
        &observed,
        &GroupState::default(),
        Time::from_secs(100),
    );
    assert_eq!(heals(&first), 1);
    // i-0 is gone; its replacement is listed but not healthy yet.
    apply(&mut observed, &first, Time::from_secs(100));
    for i in observed.instances.iter_mut().filter(|i| i.token.is_some()) {
        i.health = Health::Unknown;
    }
    let mut state = first.state.clone();
    unhealthy(&mut observed, "i-1", 90);
    unhealthy(&mut observed, "i-2", 90);
    let p = plan(&spec, &observed, &state, Time::from_secs(105));
    assert_eq!(heals(&p), 0, "2 unhealthy + 1 in flight > 2");
    assert!(p.status.message.contains("short circuit"));
    state = p.state;
    // A commit (the fix the message gives) resumes replacing, within the cap.
    let c = plan_commit(
        Some((&spec, &state)),
        &spec,
        &observed,
        Time::from_secs(106),
    );
    let p = plan(&spec, &observed, &c.state, Time::from_secs(106));
    assert_eq!(
        heals(&p),
        0,
        "still 2 unhealthy + 1 in flight: {}",
        p.status.message
    );
    for i in observed.instances.iter_mut().filter(|i| i.token.is_some()) {
        i.health = Health::Healthy;
    }
    let p = plan(&spec, &observed, &c.state, Time::from_secs(107));
    assert_eq!(destroyed(&p), ["i-1", "i-2"]);
}

#[test]
fn a_member_unhealthy_while_a_replacement_boots_is_replaced_once_it_is_available() {
    // MaxUnhealthy 50% of 4: 2. One replaced, another turns unhealthy meanwhile: within the
    // cap, so it is replaced after the wave backoff; counted once, not as in flight too.
    let spec = cattle(4)
        .section("Remediation", serde_json::json!({"MaxUnhealthy": "50%"}))
        .build();
    let mut observed = healthy_group(&spec, 4);
    unhealthy(&mut observed, "i-0", 90);
    let first = plan(
        &spec,
        &observed,
        &GroupState::default(),
        Time::from_secs(100),
    );
    assert_eq!(heals(&first), 1);
    apply(&mut observed, &first, Time::from_secs(100));
    unhealthy(&mut observed, "i-1", 90);
    let p = plan(
        &spec,
        &observed,
        &first.state,
        Time::from_secs(100).after(Duration::from_secs(5)),
    );
    assert_eq!(destroyed(&p), ["i-1"], "{}", p.status.message);
    assert_eq!(p.state.remediation.replaced, 2);
}
