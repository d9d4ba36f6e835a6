//! One reconcile loop per group: observe completely, plan, persist, act, report; then wait for
//! a trigger (a commit, an instance event, the planner's requeue time, or the poll interval).
//! Triggers that arrive during a pass coalesce into one more pass, and only this task ever
//! reconciles its group, so there is one reconcile in flight per group.

use crate::executor::{Outcome, execute};
use crate::manager::{GroupHandle, Manager};
use crate::now;
use crate::observer::Observer;
use infrakit_group_core::{Phase, plan, plan_degraded};
use infrakit_model::tags;
use infrakit_spi::group::v1::EventKind;
use infrakit_spi::group::v1::Phase as SpiPhase;
use infrakit_spi::instance::v1::WatchInstancesRequest;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// What to do after a pass.
enum Next {
    /// Reconcile again after this long (or sooner, on a trigger).
    After(Duration),
    /// The group is gone (destroyed and empty); stop.
    Gone,
}

/// Runs the loop of one group until it is freed, destroyed, or the process stops.
pub async fn run(mgr: Arc<Manager>, g: Arc<GroupHandle>) {
    tokio::spawn(watch_instances(mgr.clone(), g.clone()));
    let mut observer = Observer::default();
    let mut wait = Duration::ZERO;
    loop {
        if !wait.is_zero() {
            tokio::select! {
                () = g.stop.cancelled() => break,
                () = g.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        } else if g.stop.is_cancelled() {
            break;
        }
        match reconcile(&mgr, &g, &mut observer).await {
            Next::After(d) => wait = d,
            Next::Gone => {
                mgr.forget(&g.id);
                break;
            }
        }
    }
}

async fn reconcile(mgr: &Manager, g: &GroupHandle, observer: &mut Observer) -> Next {
    let cfg = mgr.config();
    let poll = if g.watching.load(Ordering::Relaxed) {
        cfg.poll_watched
    } else {
        cfg.poll
    };
    let t = now();
    let (spec, generation) = {
        let live = g.live.lock().await;
        (Arc::new(live.spec.clone()), live.generation)
    };
    let seen = observer
        .observe(
            &spec,
            mgr.plugins(),
            t,
            cfg.health_every,
            cfg.describe_timeout,
        )
        .await
        .map(Arc::new);
    let mut live = g.live.lock().await;
    if live.generation != generation {
        return Next::After(Duration::ZERO); // A commit landed meanwhile: observe again.
    }
    if let Ok(seen) = &seen {
        drop_orphans(g, &mut live.state, seen, t);
    }
    let p = match &seen {
        Ok(seen) => plan(&live.spec, &seen.observed, &live.state, t),
        Err(e) => plan_degraded(&live.spec, &live.state, e, t),
    };
    g.publish(&p.status, seen.as_ref().ok().cloned());
    let phase = crate::convert::phase(p.status.phase);
    if let Some(rollback) = p.rollback_to {
        live.spec = rollback;
        live.state = p.state;
        live.generation += 1;
        mgr.persist(&g.id, &live);
        mgr.events().emit(
            &g.id,
            EventKind::Rollback,
            None,
            None,
            p.status.message.clone(),
            SpiPhase::Updating,
        );
        return Next::After(Duration::ZERO);
    }
    if live.state != p.state {
        live.state = p.state.clone();
        mgr.persist(&g.id, &live);
    }
    g.note_phase(mgr, p.status.phase, &p.status.message);
    if p.status.phase == Phase::Destroying
        && p.status.actual == 0
        && p.actions.is_empty()
        && live.state.pending.is_empty()
        && live.state.leaving.is_empty()
    {
        mgr.events().emit(
            &g.id,
            EventKind::DestroyedGroup,
            None,
            None,
            "every member is gone; the group is forgotten",
            phase,
        );
        mgr.unpersist(&g.id);
        return Next::Gone;
    }
    let mut requeue = p.requeue_after.unwrap_or(poll).min(poll);
    if let Some(due) = observer.next_recheck(t) {
        requeue = requeue.min(due.max(Duration::from_millis(10)));
    }
    let settle = *g
        .orphans_settle_at
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(at) = settle {
        requeue = requeue.min(at.since(t).max(Duration::from_millis(10)));
    }
    if p.actions.is_empty() {
        return Next::After(requeue.max(Duration::from_millis(1)));
    }
    drop(live);

    let outcomes = execute(
        spec,
        mgr.plugins().clone(),
        p.actions,
        cfg.parallel,
        seen.as_ref().ok().map(|s| &**s),
    )
    .await;
    let t = now();
    let mut live = g.live.lock().await;
    let backoff = live.spec.remediation().backoff;
    let ev = mgr.events();
    let mut succeeded = Vec::new();
    for (o, reason) in outcomes {
        match o {
            Outcome::Provisioned {
                token,
                id,
                logical_id,
                verdict,
            } => {
                observer.prime(&id, &verdict, t, cfg.health_every);
                succeeded.push((token, id.clone()));
                ev.emit(
                    &g.id,
                    EventKind::Provisioned,
                    Some(&id),
                    logical_id.as_deref(),
                    reason,
                    phase,
                );
            }
            Outcome::ProvisionFailed { token, error } => {
                live.state
                    .provision_failed(&token, error.clone(), t, &backoff);
                ev.emit(
                    &g.id,
                    EventKind::Error,
                    None,
                    None,
                    format!("provision failed: {error}"),
                    SpiPhase::Failing,
                );
            }
            Outcome::ProvisionUncertain { error, .. } => {
                ev.emit(
                    &g.id,
                    EventKind::Warning,
                    None,
                    None,
                    format!("provision outcome unknown (will adopt it if it appears): {error}"),
                    phase,
                );
            }
            Outcome::Destroyed {
                id,
                reason: context,
            } => {
                let why = &reason;
                let reason = context;
                ev.emit(
                    &g.id,
                    EventKind::Destroyed,
                    Some(&id),
                    None,
                    format!("destroyed ({}): {why}", reason.as_str()),
                    phase,
                );
            }
            Outcome::DestroyFailed { id, error } => {
                live.state.destroy_failed(&id, error.clone(), t, &backoff);
                ev.emit(
                    &g.id,
                    EventKind::Error,
                    Some(&id),
                    None,
                    format!("destroy failed: {error}"),
                    SpiPhase::Failing,
                );
            }
            Outcome::Labelled { id } => {
                ev.emit(&g.id, EventKind::Labelled, Some(&id), None, reason, phase);
            }
            Outcome::LabelFailed { id, error } => {
                ev.emit(
                    &g.id,
                    EventKind::Error,
                    Some(&id),
                    None,
                    format!("label failed: {error}"),
                    phase,
                );
            }
        }
    }
    live.state.provisions_succeeded(succeeded);
    mgr.persist(&g.id, &live);
    Next::After(Duration::ZERO)
}

/// After a restart, once the previous process's calls are over, forgets the provisions it
/// left unconfirmed that no listed instance carries (see [`crate::manager::RESTART_GRACE`]).
fn drop_orphans(
    g: &GroupHandle,
    state: &mut infrakit_group_core::GroupState,
    seen: &crate::observer::Observation,
    t: infrakit_group_core::Time,
) {
    let mut settle = g
        .orphans_settle_at
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let Some(at) = *settle else { return };
    if t < at {
        return;
    }
    *settle = None;
    let listed: std::collections::HashSet<&str> = seen
        .observed
        .instances
        .iter()
        .filter_map(|o| o.token.as_deref())
        .collect();
    let before = state.pending.len();
    state
        .pending
        .retain(|p| p.instance_id.is_some() || listed.contains(p.token.as_str()));
    let dropped = before - state.pending.len();
    if dropped > 0 {
        tracing::info!(group = %g.id, dropped, "forgot provisions lost with the previous process");
    }
}

/// Follows the instance plugin's WatchInstances for the group and wakes the loop on every
/// change. Plugins that cannot watch (UNIMPLEMENTED) leave the loop to poll.
async fn watch_instances(mgr: Arc<Manager>, g: Arc<GroupHandle>) {
    loop {
        let name = { g.live.lock().await.spec.instance().plugin.clone() };
        let stream = async {
            let mut c = mgr
                .plugins()
                .instance(&name)
                .await
                .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
            c.watch_instances(WatchInstancesRequest {
                r#type: name.subtype_or_default().to_string(),
                tags: [(tags::GROUP.to_string(), g.id.clone())].into(),
            })
            .await
        }
        .await;
        match stream {
            Ok(resp) => {
                let mut s = resp.into_inner();
                g.watching.store(true, Ordering::Relaxed);
                loop {
                    tokio::select! {
                        () = g.stop.cancelled() => return,
                        m = s.message() => match m {
                            Ok(Some(_)) => g.wake.notify_one(),
                            _ => break,
                        }
                    }
                }
                g.watching.store(false, Ordering::Relaxed);
                g.wake.notify_one();
            }
            Err(st) if st.code() == tonic::Code::Unimplemented => {
                tracing::info!(group = %g.id, plugin = %name, "the instance plugin cannot watch; polling");
                return;
            }
            Err(_) => {}
        }
        tokio::select! {
            () = g.stop.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}
