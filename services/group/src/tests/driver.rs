//! Each way the driver once broke a promise, reproduced with fakes under paused time.

use super::fakes::{Behaviour, Call, Rig};
use super::{cattle, controller, describe, eventually, sleep, spec};
use infrakit_group_core::Health;
use infrakit_spi::group::v1::Phase;
use infrakit_spi::instance::v1::DestroyReason;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tonic::Code;

fn kinds(mgr: &crate::manager::Manager, id: &str) -> Vec<String> {
    mgr.events()
        .recent(id)
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

/// A controller over a fresh rig with group `g` of `size` converged.
async fn converged_group(
    size: u32,
) -> (
    Rig,
    std::sync::Arc<crate::manager::Manager>,
    infrakit_runtime::Shutdown,
) {
    converged_group_on(Rig::new(), size).await
}

/// A controller over `rig` with group `g` of `size` converged.
async fn converged_group_on(
    rig: Rig,
    size: u32,
) -> (
    Rig,
    std::sync::Arc<crate::manager::Manager>,
    infrakit_runtime::Shutdown,
) {
    let (mgr, shutdown) = controller(&rig).await;
    mgr.commit(&spec("g", cattle(size, json!({}))), false)
        .await
        .unwrap();
    converged(&mgr, "g").await;
    (rig, mgr, shutdown)
}

async fn converged(mgr: &crate::manager::Manager, id: &str) {
    eventually(60, "the group converges", || {
        describe(mgr, id).phase == Phase::Converged as i32
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn mass_unhealthiness_seen_on_staggered_checks_is_capped_and_said() {
    let (rig, mgr, _s) = converged_group(7).await;
    sleep(2.5).await; // the next members' checks fall on another schedule
    mgr.set_size("g", 10).await.unwrap();
    converged(&mgr, "g").await;
    let ids = rig.cloud.ids();
    for id in ids
        .iter()
        .step_by(2)
        .chain(ids.iter().skip(1).step_by(5))
        .take(6)
    {
        rig.cloud.set_health(id, Health::Unhealthy);
    }
    let mut said = false;
    for _ in 0..600 {
        sleep(0.1).await;
        said |= describe(&mgr, "g").message.contains("short circuit");
    }
    let healed = rig.cloud.with(|s| {
        s.destroyed
            .iter()
            .filter(|(_, r)| *r == DestroyReason::Heal)
            .count()
    });
    assert!(
        healed <= 3,
        "{healed} replaced, above MaxUnhealthy (3 of 10)"
    );
    assert!(
        said,
        "the status never said the remediation short-circuited"
    );
}

#[tokio::test(start_paused = true)]
async fn an_instance_healthy_again_is_not_destroyed_on_its_stale_verdict() {
    let (rig, mgr, _s) = converged_group(3).await;
    let victim = rig.cloud.ids()[0].clone();
    rig.cloud.set_health(&victim, Health::Unhealthy);
    eventually(10, "the controller sees it unhealthy", || {
        describe(&mgr, "g")
            .instances
            .iter()
            .any(|i| i.id == victim && i.health == "unhealthy")
    })
    .await;
    rig.cloud.set_health(&victim, Health::Healthy); // the fault clears at once
    sleep(20.0).await;
    assert!(
        rig.cloud.ids().contains(&victim),
        "a healthy instance was destroyed on a stale verdict"
    );
    assert!(
        kinds(&mgr, "g").iter().any(|k| k == "heal-cancelled"),
        "{:?}",
        kinds(&mgr, "g")
    );
}

#[tokio::test(start_paused = true)]
async fn a_restart_during_a_slow_provision_sends_the_same_token_and_makes_no_duplicate() {
    let rig = Rig::new();
    rig.cloud
        .set("provision", Behaviour::delayed(Duration::from_secs(4)));
    let (mgr, shutdown) = controller(&rig).await;
    mgr.commit(&spec("g", cattle(3, json!({}))), false)
        .await
        .unwrap();
    sleep(1.0).await;
    shutdown.trigger(); // kill -9: the provider goes on creating
    drop(mgr);
    sleep(0.5).await;
    let (mgr, _s) = controller(&rig).await;
    converged(&mgr, "g").await;
    sleep(30.0).await;
    let created = rig.cloud.with(|s| s.created.len());
    assert_eq!(created, 3, "a duplicate was created after the restart");
    assert_eq!(rig.cloud.count(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_slow_drain_holds_up_only_its_own_instance() {
    let (rig, mgr, _s) = converged_group(3).await;
    rig.cloud
        .set("drain", Behaviour::delayed(Duration::from_secs(20)));
    mgr.set_size("g", 2).await.unwrap();
    eventually(2, "the scale-down drain starts", || {
        rig.cloud
            .calls()
            .iter()
            .any(|(_, c)| matches!(c, Call::Drain { .. }))
    })
    .await;
    let draining = rig.cloud.with(|s| {
        s.calls.iter().find_map(|(_, c)| match c {
            Call::Drain { id } => Some(id.clone()),
            _ => None,
        })
    });
    let other = rig
        .cloud
        .ids()
        .into_iter()
        .find(|i| Some(i) != draining.as_ref())
        .unwrap();
    rig.cloud.kill(&other);
    eventually(
        3,
        "the dead member is replaced while the drain runs",
        || rig.cloud.with(|s| s.created.len()) == 4,
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_lost_provision_reply_does_not_stop_the_group_converging_or_duplicate() {
    let rig = Rig::new();
    rig.cloud.set("provision", Behaviour::lost());
    let (mgr, _s) = controller(&rig).await;
    mgr.commit(&spec("g", cattle(2, json!({}))), false)
        .await
        .unwrap();
    eventually(5, "the group converges from the listing alone", || {
        describe(&mgr, "g").phase == Phase::Converged as i32
    })
    .await;
    sleep(400.0).await; // past every call deadline and the provision deadline
    assert_eq!(rig.cloud.with(|s| s.created.len()), 2);
    assert_eq!(describe(&mgr, "g").phase, Phase::Converged as i32);
}

#[tokio::test(start_paused = true)]
async fn a_failing_drain_stops_a_scale_down_and_is_reported() {
    let (rig, mgr, _s) = converged_group(3).await;
    rig.cloud
        .set("drain", Behaviour::failing(Code::FailedPrecondition));
    mgr.set_size("g", 2).await.unwrap();
    sleep(5.0).await;
    assert_eq!(rig.cloud.count(), 3, "destroyed although its drain failed");
    assert!(kinds(&mgr, "g").iter().any(|k| k == "drain-failed"));
    let err = describe(&mgr, "g").last_error.unwrap_or_default().message;
    assert!(err.contains("Flavor.Drain"), "last_error: {err:?}");
}

#[tokio::test(start_paused = true)]
async fn failures_of_one_round_back_off_once() {
    let (rig, mgr, _s) = converged_group(10).await;
    rig.cloud.set("destroy", Behaviour::failing(Code::Internal));
    mgr.set_size("g", 0).await.unwrap();
    sleep(1.0).await;
    let record = rig.store.get("g").unwrap();
    assert_eq!(
        record.state.failures.consecutive, 1,
        "one round of failed destroys counts once"
    );
    let destroys = |rig: &Rig| {
        rig.cloud
            .calls()
            .iter()
            .filter(|(_, c)| matches!(c, Call::Destroy { .. }))
            .count()
    };
    let first = destroys(&rig);
    assert_eq!(first, 10);
    sleep(3.0).await;
    assert!(
        destroys(&rig) > first,
        "the next round waits the initial backoff, not minutes"
    );
}

#[tokio::test(start_paused = true)]
async fn an_unobservable_group_is_retried_with_backoff_and_not_rewritten() {
    let (rig, mgr, _s) = converged_group(2).await;
    rig.cloud.describe_down.store(true, Ordering::SeqCst);
    sleep(1.0).await;
    let (calls, saves) = (
        rig.cloud.calls().len(),
        rig.store.saves.load(Ordering::SeqCst),
    );
    sleep(30.0).await;
    let describes = rig.cloud.calls()[calls..]
        .iter()
        .filter(|(_, c)| *c == Call::Describe)
        .count();
    assert!(
        describes <= 8,
        "{describes} listings in 30s while the plugin is down"
    );
    assert_eq!(
        rig.store.saves.load(Ordering::SeqCst),
        saves,
        "an unchanged state was written again"
    );
    let d = describe(&mgr, "g");
    assert_eq!(d.phase, Phase::Degraded as i32);
    assert!(d.stale, "members are shown as last seen");
    assert_eq!(d.actual, 2, "the last seen count, not zero");
    assert!(d.observed_at.is_some());
    assert!(
        d.instances.iter().all(|i| i.last_seen == d.observed_at),
        "each member says when it was last listed"
    );
    rig.cloud.describe_down.store(false, Ordering::SeqCst);
    eventually(40, "the group recovers and clears last_error", || {
        describe(&mgr, "g").last_error.is_none()
    })
    .await;
    assert!(kinds(&mgr, "g").iter().any(|k| k == "recovered"));
}

#[tokio::test(start_paused = true)]
async fn a_freed_group_never_acts_again_and_stays_forgotten() {
    let rig = Rig::new();
    rig.cloud
        .set("provision", Behaviour::delayed(Duration::from_secs(10)));
    let (mgr, _s) = controller(&rig).await;
    mgr.commit(&spec("g", cattle(3, json!({}))), false)
        .await
        .unwrap();
    sleep(1.0).await;
    mgr.free("g").await.unwrap();
    let at = rig.clock.now();
    sleep(120.0).await;
    let late: Vec<_> = rig
        .cloud
        .calls()
        .into_iter()
        .filter(|(t, _)| *t > at)
        .collect();
    assert!(late.is_empty(), "a freed group acted: {late:?}");
    assert!(rig.store.get("g").is_none(), "the record came back");
    assert!(mgr.describe("g").is_err());
}

#[tokio::test(start_paused = true)]
async fn two_first_commits_of_one_group_start_one_worker() {
    let rig = Rig::new();
    let (mgr, _s) = controller(&rig).await;
    let s = spec("g", cattle(3, json!({})));
    let (a, b) = tokio::join!(mgr.commit(&s, false), mgr.commit(&s, false));
    a.unwrap();
    b.unwrap();
    converged(&mgr, "g").await;
    sleep(10.0).await;
    assert_eq!(rig.cloud.with(|s| s.created.len()), 3);
}

#[tokio::test(start_paused = true)]
async fn nothing_is_done_while_the_state_cannot_be_stored() {
    let (rig, mgr, _s) = converged_group(2).await;
    rig.store.down.store(true, Ordering::SeqCst);
    assert!(
        mgr.commit(&spec("g", cattle(5, json!({}))), false)
            .await
            .is_err(),
        "a commit that cannot be stored is refused"
    );
    rig.cloud.kill(&rig.cloud.ids()[0]);
    sleep(5.0).await;
    assert_eq!(
        rig.cloud.with(|s| s.created.len()),
        2,
        "acted without storing"
    );
    let d = describe(&mgr, "g");
    assert_eq!(d.phase, Phase::Degraded as i32);
    assert!(d.message.contains("cannot store"), "{}", d.message);
    assert_eq!(d.desired, 2, "the refused commit left the group as it was");
    rig.store.down.store(false, Ordering::SeqCst);
    eventually(30, "the group heals once it can store", || {
        rig.cloud.count() == 2
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_controller_whose_claims_lapsed_sends_no_mutating_call() {
    let (rig, mgr, _s) = converged_group(3).await;
    let calls_before = rig.cloud.calls().len();
    rig.store.deposed.store(true, Ordering::SeqCst);
    rig.cloud.kill(&rig.cloud.ids()[0]);
    mgr.commit(&spec("g", cattle(5, json!({}))), false)
        .await
        .unwrap();
    sleep(10.0).await;
    let mutating: Vec<_> = rig.cloud.calls()[calls_before..]
        .iter()
        .filter(|(_, c)| {
            matches!(
                c,
                Call::Provision { .. }
                    | Call::Destroy { .. }
                    | Call::Label { .. }
                    | Call::Drain { .. }
            )
        })
        .cloned()
        .collect();
    assert!(
        mutating.is_empty(),
        "calls sent while deposed: {mutating:?}"
    );
    rig.store.deposed.store(false, Ordering::SeqCst);
    eventually(30, "acting again once the claims are valid", || {
        rig.cloud.count() == 5
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_paused_group_does_nothing_until_resumed() {
    let (rig, mgr, _s) = converged_group(3).await;
    mgr.pause("g", "alice@host", "maintenance").await.unwrap();
    rig.cloud.kill(&rig.cloud.ids()[0]);
    sleep(10.0).await;
    assert_eq!(rig.cloud.count(), 2, "a paused group healed");
    let d = describe(&mgr, "g");
    assert_eq!(d.phase, Phase::Paused as i32);
    let p = d.paused.expect("describe says who paused it");
    assert_eq!(
        (p.by.as_str(), p.reason.as_str()),
        ("alice@host", "maintenance")
    );
    // A paused group stays paused across a restart.
    assert!(rig.store.get("g").unwrap().state.paused.is_some());
    mgr.resume_group("g", "bob@host").await.unwrap();
    eventually(5, "the group heals once resumed", || rig.cloud.count() == 3).await;
    assert!(describe(&mgr, "g").paused.is_none());
}

#[tokio::test(start_paused = true)]
async fn provisions_whose_outcome_is_unknown_are_sent_again_with_their_token() {
    let rig = Rig::new();
    rig.cloud
        .set("provision", Behaviour::failing(Code::Unavailable));
    let (mgr, shutdown) = controller(&rig).await;
    mgr.commit(&spec("g", cattle(3, json!({}))), false)
        .await
        .unwrap();
    sleep(0.5).await;
    shutdown.trigger();
    drop(mgr);
    rig.cloud.set("provision", Behaviour::default()); // the plugin is back
    let (mgr, _s) = controller(&rig).await;
    eventually(
        10,
        "the restarted controller sends the same provisions again",
        || describe(&mgr, "g").phase == Phase::Converged as i32,
    )
    .await;
    let tokens: std::collections::HashSet<String> = rig
        .cloud
        .calls()
        .into_iter()
        .filter_map(|(_, c)| match c {
            Call::Provision { token } => Some(token),
            _ => None,
        })
        .collect();
    assert_eq!(tokens.len(), 3, "one token per slot: {tokens:?}");
    assert_eq!(rig.cloud.with(|s| s.created.len()), 3);
}

#[tokio::test(start_paused = true)]
async fn a_resize_racing_a_commit_never_undoes_the_commit() {
    let (rig, mgr, _s) = converged_group(2).await;
    // Slow listings widen the window between a resize's read and its write.
    rig.cloud
        .set("describe", Behaviour::delayed(Duration::from_millis(300)));
    let mut v2 = cattle(2, json!({}));
    v2["Instance"]["Properties"] = json!({"Note": "v2"});
    // The resize reads the spec before the commit is stored, and writes after it.
    let v2 = spec("g", v2);
    let (resized, committed) = tokio::join!(
        async {
            sleep(0.1).await;
            mgr.set_size("g", 4).await
        },
        mgr.commit(&v2, false)
    );
    resized.unwrap();
    committed.unwrap();
    let record = rig.store.get("g").unwrap();
    assert_eq!(
        record.spec["Properties"]["Instance"]["Properties"]["Note"], "v2",
        "the resize wrote back the spec it had read before the commit"
    );
    assert_eq!(record.spec["Properties"]["Allocation"]["Size"], 4);
}

/// How many calls of this kind the fake received.
fn calls_of(rig: &Rig, kind: &Call) -> usize {
    rig.cloud.calls().iter().filter(|(_, c)| c == kind).count()
}

fn listings(rig: &Rig) -> usize {
    calls_of(rig, &Call::Describe)
}

/// A controller over a rig whose plugin watches, with group `g` of `size` converged.
async fn converged_watched_group(
    size: u32,
) -> (
    Rig,
    std::sync::Arc<crate::manager::Manager>,
    infrakit_runtime::Shutdown,
) {
    converged_group_on(Rig::watched(), size).await
}

#[tokio::test(start_paused = true)]
async fn a_watched_group_heals_and_scales_from_pushed_changes_without_listing_again() {
    let (rig, mgr, _s) = converged_watched_group(5).await;
    sleep(1.0).await;
    let before = listings(&rig);
    let victim = rig.cloud.ids()[2].clone();
    rig.cloud.kill(&victim);
    eventually(10, "the killed member is replaced", || {
        let ids = rig.cloud.ids();
        ids.len() == 5 && !ids.contains(&victim)
    })
    .await;
    converged(&mgr, "g").await;
    mgr.set_size("g", 7).await.unwrap();
    eventually(10, "7 members", || {
        let d = describe(&mgr, "g");
        d.actual == 7 && d.phase == Phase::Converged as i32
    })
    .await;
    assert_eq!(rig.cloud.count(), 7);
    assert_eq!(
        listings(&rig),
        before,
        "the members were listed again although every change was pushed"
    );
}

#[tokio::test(start_paused = true)]
async fn a_resync_makes_a_watched_group_list_again() {
    let (rig, mgr, _s) = converged_watched_group(3).await;
    sleep(1.0).await;
    let before = listings(&rig);
    rig.cloud.resync();
    eventually(5, "the members are listed again", || {
        listings(&rig) > before
    })
    .await;
    let relisted = listings(&rig);
    sleep(5.0).await;
    assert!(
        listings(&rig) <= relisted + 1,
        "after the resync the group kept listing"
    );
    converged(&mgr, "g").await;
}

#[tokio::test(start_paused = true)]
async fn changes_made_while_the_watch_was_broken_are_not_missed() {
    let (rig, mgr, _s) = converged_watched_group(4).await;
    sleep(1.0).await;
    // The stream breaks and the plugin is unreachable for a while: two members die meanwhile.
    rig.cloud.set_down(true);
    let ids = rig.cloud.ids();
    rig.cloud.kill(&ids[0]);
    rig.cloud.kill(&ids[1]);
    sleep(3.0).await;
    assert_eq!(
        rig.cloud.count(),
        2,
        "nothing is done while the plugin is down"
    );
    rig.cloud.set_down(false);
    eventually(20, "both are replaced", || {
        let now = rig.cloud.ids();
        now.len() == 4 && !now.contains(&ids[0]) && !now.contains(&ids[1])
    })
    .await;
    converged(&mgr, "g").await;
    // Watching again, resumed: the next death is healed without another listing.
    sleep(2.0).await;
    let before = listings(&rig);
    rig.cloud.kill(&rig.cloud.ids()[0]);
    eventually(10, "the next death is healed", || rig.cloud.count() == 4).await;
    converged(&mgr, "g").await;
    assert_eq!(listings(&rig), before);
}

#[tokio::test(start_paused = true)]
async fn a_watched_group_at_rest_resyncs_without_listing_and_lists_every_tenth_time() {
    let (rig, mgr, _s) = converged_watched_group(3).await;
    sleep(1.0).await;
    let full = listings(&rig);
    let cheap = |rig: &Rig| calls_of(rig, &Call::DescribeUnchanged);
    // The plugin loses the death of a member: only the safety net can notice.
    let lost = rig.cloud.ids()[0].clone();
    rig.cloud.lose(&lost);
    sleep(95.0).await; // three resyncs of 30 s
    assert_eq!(cheap(&rig), 3, "each resync asked whether anything changed");
    assert_eq!(listings(&rig), full, "a group at rest was listed again");
    assert_eq!(
        describe(&mgr, "g").actual,
        3,
        "the lost death cannot be seen yet"
    );
    eventually(
        300,
        "the tenth resync lists and the member is replaced",
        || {
            let ids = rig.cloud.ids();
            ids.len() == 3 && !ids.contains(&lost)
        },
    )
    .await;
    assert_eq!(listings(&rig), full + 1);
}

#[tokio::test(start_paused = true)]
async fn groups_on_one_plugin_share_one_watch_and_each_heals_from_its_own_changes() {
    let rig = Rig::watched();
    let (mgr, _s) = controller(&rig).await;
    for (id, size) in [("a", 3), ("b", 2)] {
        mgr.commit(&spec(id, cattle(size, json!({}))), false)
            .await
            .unwrap();
    }
    converged(&mgr, "a").await;
    converged(&mgr, "b").await;
    sleep(1.0).await;
    let watches = |rig: &Rig| calls_of(rig, &Call::Watch);
    assert_eq!(watches(&rig), 1, "one stream for both groups");
    let members = |group: &str| {
        rig.cloud.with(|s| {
            s.instances
                .values()
                .filter(|d| d.tags.get("infrakit.group").map(String::as_str) == Some(group))
                .map(|d| d.id.clone())
                .collect::<Vec<_>>()
        })
    };
    let before = listings(&rig);
    let victim = members("a")[0].clone();
    rig.cloud.kill(&victim);
    eventually(10, "a heals", || {
        let a = members("a");
        a.len() == 3 && !a.contains(&victim)
    })
    .await;
    assert_eq!(members("b").len(), 2, "b is untouched");
    // a leaves; b keeps the stream and heals from it alone.
    mgr.free("a").await.unwrap();
    sleep(1.0).await;
    let victim = members("b")[0].clone();
    rig.cloud.kill(&victim);
    eventually(10, "b heals", || {
        let b = members("b");
        b.len() == 2 && !b.contains(&victim)
    })
    .await;
    assert_eq!(listings(&rig), before, "nobody listed again");
    assert_eq!(watches(&rig), 1);
}

#[tokio::test(start_paused = true)]
async fn a_group_at_rest_among_busy_ones_resyncs_without_listing() {
    let rig = Rig::watched();
    let (mgr, _s) = controller(&rig).await;
    for id in ["quiet", "busy"] {
        mgr.commit(&spec(id, cattle(2, json!({}))), false)
            .await
            .unwrap();
    }
    converged(&mgr, "quiet").await;
    converged(&mgr, "busy").await;
    sleep(1.0).await;
    let before = listings(&rig);
    // "busy" changes (each change moves the plugin's revision past what "quiet" listed), then
    // rests too.
    for _ in 0..4 {
        let victim = rig.cloud.with(|s| {
            s.instances
                .values()
                .find(|d| d.tags.get("infrakit.group").map(String::as_str) == Some("busy"))
                .map(|d| d.id.clone())
        });
        rig.cloud.kill(&victim.unwrap());
        sleep(5.0).await;
    }
    sleep(50.0).await; // past both groups' resync, twice
    assert_eq!(listings(&rig), before, "a resync listed a group again");
    let cheap = calls_of(&rig, &Call::DescribeUnchanged);
    assert!(cheap >= 4, "{cheap} cheap resyncs");
}
