//! One worker per group: observe completely, plan, store, start the actions as operations;
//! then wait for a trigger (a commit, an instance event, an operation ending, the planner's
//! requeue time, or the poll interval). Operations run on their own: the worker keeps
//! observing and deciding while a slow Drain, Provision or Destroy holds up only its instance.
//!
//! # Guarantees
//!
//! - Only this worker writes its group's state between commits; every write happens under the
//!   group's lock, after checking that the group is not being freed.
//! - Nothing is started before the state that expects it is stored; when storing fails the
//!   group reports DEGRADED and acts on nothing.
//! - At most one operation per instance (or provision token) is in flight, and at most
//!   `Config::parallel` in all; the rest queue.
//! - A provision not known to have landed (a lost answer, or one left by a previous process)
//!   is sent again with the same token until it is listed or its deadline is near; a new token
//!   for its slot is planned only after that deadline, when no call for the first can be in
//!   flight any more.
//! - Failed observations are retried with a growing backoff.

use crate::feeds::Subscription;
use crate::manager::{GroupHandle, Live, Manager};
use crate::observer::Observer;
use crate::ops::{self, CALL_TIMEOUT, Done, Op, OpKey, Shared};
use crate::ports::Ports;
use infrakit_group_core::state::PROVISION_TIMEOUT;
use infrakit_group_core::{
    Action, DestroyReason, GroupState, Outcome, Phase, Plan, Status, Time, plan, plan_degraded,
    retry_after,
};
use infrakit_spi::group::v1::EventKind;
use infrakit_spi::instance::v1::InstanceState as SpiState;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::task::JoinSet;

/// What to do after a pass.
enum Next {
    /// Pass again after this long (or sooner, on a trigger).
    After(Duration),
    /// Stop: the group was freed, or destroyed and empty.
    Stop,
}

/// The shortest wait between passes that found something due.
const MIN_WAIT: Duration = Duration::from_millis(1);

/// The longest wait between two tries to observe a group that could not be observed.
const DEGRADED_RETRY_MAX: Duration = Duration::from_secs(10);

/// The shortest time between passes while operations run, when a change is seen (larger
/// groups, whose passes take longer, wait longer).
const BUSY_GAP: Duration = Duration::from_millis(200);

/// Runs the worker of one group until it is freed, destroyed, or the process stops.
pub(crate) async fn run(mgr: Arc<Manager>, g: Arc<GroupHandle>) {
    let mut w = Worker::new(mgr, g.clone());
    'passes: loop {
        if g.stop.is_cancelled() {
            break;
        }
        let started = tokio::time::Instant::now();
        let mut due = match w.pass().await {
            Next::After(d) => started + d,
            Next::Stop => break,
        };
        // Wait for a trigger. While operations run, their ends are recorded as they come, and
        // a change seen meanwhile is looked at after a gap: BUSY_GAP, or 100 times what the
        // pass took, so a converge of thousands of instances spends at most a hundredth of
        // its time looking again, and makes a few passes, not one per instance.
        let gap = BUSY_GAP.max(started.elapsed() * 100);
        let timer = tokio::time::sleep_until(due);
        tokio::pin!(timer);
        let stopping = g.stop.cancelled();
        tokio::pin!(stopping);
        let mut listening = true;
        loop {
            let busy = !w.ops.is_empty();
            tokio::select! {
                biased;
                () = &mut stopping => break 'passes,
                Some(r) = w.ops.join_next(), if busy => {
                    w.finish(r.ok()).await;
                    if w.ops.is_empty() && w.queue.is_empty() {
                        break; // everything started has ended: look again now
                    }
                }
                // While busy, one change is enough to schedule the next pass; later ones are
                // left as the Notify's permit, so a burst of instance events (a converge's own
                // creations) does not wake this task once per event.
                () = g.wake.notified(), if listening || !busy => {
                    if !busy {
                        break;
                    }
                    listening = false;
                    if started + gap < due {
                        due = started + gap;
                        timer.as_mut().reset(due);
                    }
                }
                () = &mut timer => break,
            }
        }
    }
    drop(w.feed.take());
    // Stop the operations and wait until they have: a call already sent cannot be unsent, but
    // none starts after this.
    w.ops.abort_all();
    while w.ops.join_next().await.is_some() {}
    g.stopped.cancel();
}

/// The worker's memory between passes (nothing here is persisted).
struct Worker {
    mgr: Arc<Manager>,
    g: Arc<GroupHandle>,
    ports: Ports,
    observer: Observer,
    /// Running operations; each ends with a [`Done`] (the worker aborts them when it stops).
    ops: JoinSet<Done>,
    /// The keys of running and queued operations.
    busy: HashSet<OpKey>,
    /// Operations waiting for a free slot.
    queue: VecDeque<Op>,
    /// What the operations of the committed spec share, by the generation it was built for.
    shared: Option<(u64, Arc<Shared>)>,
    /// Provisions whose outcome is unknown: when to send them again, and how often they were.
    resend: HashMap<String, (Time, u32)>,
    /// The round of the latest pass that started actions (its time, in milliseconds).
    round: u64,
    /// Observations (or stores) that failed in a row.
    failed: u32,
    /// The state in memory is newer than the stored one (a store failed after outcomes).
    dirty: bool,
    /// Provisions that returned their instance, to record with the next pass: (token, ID).
    provisioned: Vec<(String, String)>,
    /// The group's place in its instance plugin's feed of changes.
    feed: Option<Subscription>,
}

// === impl Worker ===

impl Worker {
    fn new(mgr: Arc<Manager>, g: Arc<GroupHandle>) -> Self {
        Self {
            ports: mgr.ports().clone(),
            mgr,
            g,
            observer: Observer::default(),
            ops: JoinSet::new(),
            busy: HashSet::new(),
            queue: VecDeque::new(),
            shared: None,
            resend: HashMap::new(),
            round: 0,
            failed: 0,
            dirty: false,
            provisioned: Vec::new(),
            feed: None,
        }
    }

    /// One pass: observe, plan, store, start.
    async fn pass(&mut self) -> Next {
        let (shared, generation) = self.snapshot().await;
        let cfg = self.mgr.config().clone();
        self.follow(&shared.spec.instance().plugin);
        let t = self.ports.clock.now();
        // Observing has no side effect: a group being freed stops it at once.
        let observing = self.observer.observe(
            &shared.spec,
            (&*self.ports.instance, &*self.ports.flavor),
            t,
            cfg.health_every,
            cfg.describe_timeout,
            cfg.poll_watched,
            &self.g.inbox,
        );
        let seen = tokio::select! {
            biased;
            () = self.g.stop.cancelled() => return Next::Stop,
            seen = observing => seen,
        };
        let g = Arc::clone(&self.g);
        let mut live = g.live.lock().await;
        if g.stop.is_cancelled() {
            return Next::Stop;
        }
        if live.generation != generation {
            return Next::After(Duration::ZERO); // changed meanwhile: observe again
        }
        if !self.provisioned.is_empty() {
            live.state
                .provisions_succeeded(std::mem::take(&mut self.provisioned));
        }
        let mut p = match &seen {
            Ok(()) => {
                self.failed = 0;
                plan(&live.spec, &self.observer.read().observed, &live.state, t)
            }
            Err(e) => {
                self.failed = self.failed.saturating_add(1);
                plan_degraded(&live.spec, &live.state, e, t)
            }
        };
        let backoff = live.spec.remediation().backoff;
        // A group that cannot be observed is looked at again with a growing wait, but at least
        // every DEGRADED_RETRY_MAX: a plugin that cannot push changes is noticed back soon.
        let degraded_wait = retry_after(
            self.failed.max(1),
            backoff.initial,
            backoff.max.min(DEGRADED_RETRY_MAX),
        );
        g.publish(
            &p.status,
            seen.as_ref().ok().map(|()| self.observer.shared()),
            p.state.paused.as_ref(),
        );
        if let Some(rollback) = p.rollback_to.take() {
            let old = std::mem::replace(&mut live.spec, rollback);
            if let Err(e) = self.mgr.persist(&g, &live.spec, &p.state).await {
                live.spec = old;
                return self.cannot_store(&p.status, &e.to_string(), backoff);
            }
            live.state = p.state;
            live.generation += 1;
            self.emit(EventKind::Rollback, None, None, p.status.message.clone());
            return Next::After(Duration::ZERO);
        }
        let mut next = std::mem::take(&mut p.state);
        let planned: HashSet<&str> = p
            .actions
            .iter()
            .filter_map(|a| match a {
                Action::Provision { token, .. } => Some(token.as_str()),
                _ => None,
            })
            .collect();
        let resends = self.resends(&mut next, &planned, &shared.spec, t);
        if let Err(e) = self.store(&mut live, next).await {
            return self.cannot_store(&p.status, &e, backoff);
        }
        g.note_phase(self.mgr.events(), p.status.phase, &p.status.message);
        if p.destroy_finished() && self.busy.is_empty() {
            if let Err(e) = self.mgr.unpersist(&g).await {
                return self.cannot_store(&p.status, &e.to_string(), backoff);
            }
            self.emit(
                EventKind::DestroyedGroup,
                None,
                None,
                "every member is gone; the group is forgotten".to_string(),
            );
            drop(live);
            self.mgr.forget(&g);
            return Next::Stop;
        }
        if seen.is_err() {
            return Next::After(degraded_wait);
        }
        let wait = self.requeue(&p, t);
        self.start(
            p.actions.into_iter().chain(resends),
            &shared,
            cfg.parallel,
            t,
        );
        drop(live);
        // Resends are due again only after their next answer.
        Next::After(wait)
    }

    /// Joins the feed of changes of `plugin` (before listing the members from it), leaving
    /// the previous one if the committed spec names another plugin now.
    fn follow(&mut self, plugin: &infrakit_model::PluginName) {
        if self.feed.as_ref().is_some_and(|f| f.plugin() == plugin) {
            return;
        }
        if self.feed.take().is_some() {
            self.g.inbox().push(crate::ports::Change::Resync);
        }
        self.feed = Some(self.mgr.feeds().join(plugin, &self.g));
    }

    /// Stores the state a pass planned, if it changed (or outcomes are not stored yet), and
    /// reports a recovery when it clears the last error.
    async fn store(&mut self, live: &mut Live, next: GroupState) -> Result<(), String> {
        if next == live.state && !self.dirty {
            return Ok(());
        }
        self.mgr
            .persist(&self.g, &live.spec, &next)
            .await
            .map_err(|e| e.to_string())?;
        self.dirty = false;
        let cleared = live
            .state
            .last_error()
            .filter(|_| next.last_error().is_none())
            .map(|e| e.message.clone());
        live.state = next;
        if let Some(was) = cleared {
            self.emit(
                EventKind::Recovered,
                None,
                None,
                format!("recovered from: {was}"),
            );
        }
        Ok(())
    }

    /// The committed spec's shared parts and the generation they belong to.
    async fn snapshot(&mut self) -> (Arc<Shared>, u64) {
        let live = self.g.live.lock().await;
        if let Some((gen_, shared)) = &self.shared
            && *gen_ == live.generation
        {
            return (Arc::clone(shared), *gen_);
        }
        let shared = Arc::new(Shared::new(Arc::new(live.spec.clone()), self.g.epoch()));
        self.shared = Some((live.generation, Arc::clone(&shared)));
        (shared, live.generation)
    }

    /// The group could not be stored: report it, act on nothing, try again later.
    fn cannot_store(
        &mut self,
        status: &Status,
        error: &str,
        backoff: infrakit_group_core::spec::Backoff,
    ) -> Next {
        self.failed = self.failed.saturating_add(1);
        let mut s = status.clone();
        s.phase = Phase::Degraded;
        s.message =
            format!("cannot store the group's state, so nothing is done until it can: {error}");
        self.g.publish(&s, None, None);
        self.g.note_phase(self.mgr.events(), s.phase, &s.message);
        tracing::error!(group = %self.g.id, error, "cannot store the group's state");
        Next::After(retry_after(self.failed, backoff.initial, backoff.max))
    }

    /// Provisions to send again with their token: not known to have landed, not in flight,
    /// due, and far enough from their deadline that no call can outlive it. Their hash becomes
    /// the committed one (they are sent with the committed spec).
    fn resends(
        &mut self,
        next: &mut GroupState,
        planned: &HashSet<&str>,
        spec: &infrakit_group_core::GroupSpec,
        now: Time,
    ) -> Vec<Action> {
        let tokens: HashSet<&str> = next.pending.iter().map(|p| p.token.as_str()).collect();
        self.resend.retain(|t, _| tokens.contains(t.as_str()));
        if next.paused.is_some() || next.destroying {
            return Vec::new();
        }
        let mut out = Vec::new();
        for p in &mut next.pending {
            if p.instance_id.is_some()
                || p.listed
                || planned.contains(p.token.as_str())
                || self.busy.contains(&OpKey::Provision(p.token.clone()))
                || now.after(CALL_TIMEOUT) >= p.issued_at.after(PROVISION_TIMEOUT)
                || self.resend.get(&p.token).is_some_and(|(at, _)| *at > now)
            {
                continue;
            }
            spec.config_hash().clone_into(&mut p.hash);
            out.push(Action::Provision {
                token: p.token.clone(),
                logical_id: p.logical_id.clone(),
                hash: p.hash.clone(),
                sequence: p.sequence,
                reason: "sending again, with the same token, a provision whose outcome is unknown"
                    .to_string(),
            });
        }
        out
    }

    /// Starts (or queues) the actions whose instance or token is not busy.
    fn start(
        &mut self,
        actions: impl Iterator<Item = Action>,
        shared: &Arc<Shared>,
        parallel: usize,
        now: Time,
    ) {
        // The planner counts its own failures of a pass under the pass's time: the
        // operations of the pass share that round.
        self.round = now.as_millis();
        for action in actions {
            let key = ops::key_of(&action);
            if self.busy.contains(&key) {
                continue;
            }
            let (listed, confirm_unhealthy) = match &action {
                Action::Destroy { id, context, .. } => {
                    let listed = self.observer.description_of(id);
                    let failed = listed
                        .as_ref()
                        .is_some_and(|d| d.state == SpiState::Failed as i32);
                    (listed, *context == DestroyReason::Heal && !failed)
                }
                _ => (None, false),
            };
            self.busy.insert(key);
            self.queue.push_back(Op {
                round: self.round,
                action,
                listed,
                confirm_unhealthy,
            });
        }
        self.fill(shared, parallel);
    }

    /// Moves queued operations into free slots.
    fn fill(&mut self, shared: &Arc<Shared>, parallel: usize) {
        while self.ops.len() < parallel.max(1) {
            let Some(op) = self.queue.pop_front() else {
                break;
            };
            let (ports, shared) = (self.ports.clone(), Arc::clone(shared));
            self.ops.spawn(ops::run(ports, shared, op));
        }
    }

    /// Records what ended operations did, stores it, and reports it.
    async fn finish(&mut self, first: Option<Done>) {
        let mut done: Vec<Done> = first.into_iter().collect();
        while let Some(r) = self.ops.try_join_next() {
            done.extend(r.ok());
        }
        for d in &done {
            self.busy.remove(&d.key);
        }
        if self.busy.is_empty() {
            // A converge of thousands leaves large, empty tables behind: give the memory back.
            self.busy.shrink_to_fit();
            self.queue.shrink_to_fit();
        }
        let t = self.ports.clock.now();
        let health_every = self.mgr.config().health_every;
        // Most outcomes (a provision's instance, a destroy) need no change to the state now:
        // only failures and kept instances take the lock and are stored at once.
        let urgent = done.iter().any(|d| {
            !matches!(
                d.outcome,
                Outcome::Provisioned { .. }
                    | Outcome::ProvisionUncertain { .. }
                    | Outcome::Destroyed { .. }
                    | Outcome::Labelled { .. }
            )
        });
        let g = Arc::clone(&self.g);
        let mut live = if urgent || self.dirty {
            Some(g.live.lock().await)
        } else {
            None
        };
        if g.stop.is_cancelled() {
            return;
        }
        let backoff = self
            .shared
            .as_ref()
            .map(|(_, s)| s.spec.remediation().backoff)
            .unwrap_or_default();
        // Failures and kept instances change what the next pass may do: they are recorded and
        // stored now. Instance IDs of provisions are recorded with the next pass, all at once,
        // so a burst of thousands of outcomes is neither a burst of writes nor a scan of the
        // expectations per outcome.
        for d in &done {
            match &d.outcome {
                Outcome::Provisioned { token, id } => {
                    self.provisioned.push((token.clone(), id.clone()));
                }
                Outcome::ProvisionUncertain { token, .. } => {
                    let tries = self.resend.get(token).map_or(0, |(_, n)| *n) + 1;
                    let wait = retry_after(
                        tries,
                        backoff.initial,
                        backoff.max.min(Duration::from_secs(30)),
                    );
                    self.resend.insert(token.clone(), (t.after(wait), tries));
                }
                Outcome::Destroyed { .. } | Outcome::Labelled { .. } => {}
                other => {
                    if let Some(live) = live.as_mut() {
                        live.state.apply(other, d.round, t, &backoff);
                    }
                }
            }
            if let Some((id, v)) = &d.verdict {
                self.observer.prime(id, v, t, health_every);
            }
        }
        if let Some(live) = live.as_ref() {
            match self.mgr.persist(&g, &live.spec, &live.state).await {
                Ok(()) => self.dirty = false,
                Err(e) => {
                    // The outcomes happened: keep them in memory, store them with the next pass.
                    self.dirty = true;
                    tracing::error!(group = %g.id, error = %e, "cannot store the outcome of actions");
                }
            }
        }
        for d in done {
            let instance = match &d.key {
                OpKey::Destroy(id) | OpKey::Label(id) => Some(id.clone()),
                OpKey::Provision(_) => match &d.outcome {
                    Outcome::Provisioned { id, .. } => Some(id.clone()),
                    _ => None,
                },
            };
            self.emit(
                d.event,
                instance.as_deref(),
                d.logical_id.as_deref(),
                d.message,
            );
        }
        drop(live);
        if let Some((_, shared)) = self.shared.clone() {
            self.fill(&shared, self.mgr.config().parallel);
        }
    }

    /// When to pass again if nothing happens first.
    fn requeue(&self, p: &Plan, now: Time) -> Duration {
        let cfg = self.mgr.config();
        let poll = if self.g.watching.load(Ordering::Relaxed) {
            cfg.poll_watched
        } else {
            cfg.poll
        };
        let mut wait = p.requeue_after.unwrap_or(poll).min(poll);
        if let Some(due) = self.observer.next_recheck(now) {
            wait = wait.min(due.max(Duration::from_millis(10)));
        }
        if let Some(at) = self.resend.values().map(|(at, _)| *at).min() {
            let due = if at > now {
                at.since(now)
            } else {
                Duration::ZERO
            };
            wait = wait.min(due.max(Duration::from_millis(10)));
        }
        wait.max(MIN_WAIT)
    }

    fn emit(
        &self,
        kind: EventKind,
        instance: Option<&str>,
        logical_id: Option<&str>,
        message: String,
    ) {
        let phase = self.g.phase().map_or(
            infrakit_spi::group::v1::Phase::Converging,
            crate::convert::phase,
        );
        self.mgr
            .events()
            .emit(&self.g.id, kind, instance, logical_id, message, phase);
    }
}
