//! The set of managed groups and the operations on them (commit, free, destroy, resize, pause).
//!
//! # Guarantees
//! - A spec is parsed, validated (also by the instance and flavor plugins) and planned
//!   completely before it replaces the committed one; a failure leaves the group untouched.
//! - A pretend commit changes nothing anywhere.
//! - Every change to a group is stored before it takes effect: when the store fails, the
//!   change is undone in memory and the caller gets the error.
//! - Read-modify-write operations (SetSize, DestroyInstances) edit the spec under the group's
//!   lock, so a concurrent commit is never lost; two first commits of one ID start one group.
//! - A freed group never acts again: its worker and operations stop before FreeGroup returns,
//!   and its record is removed after the worker's last write.

use crate::error::GroupError;
use crate::events::Events;
use crate::feeds::Feeds;
use crate::observer::{Inbox, Observation, Shared as SharedObservation, observe_once};
use crate::ports::{Ports, Record};
use crate::{convert, worker};
use infrakit_group_core::{CommitPlan, GroupSpec, GroupState, Phase, Status, Time, plan_commit};
use infrakit_model::{Violation, Violations};
use infrakit_runtime::Shutdown;
use infrakit_runtime::status::violations_of;
use infrakit_spi::group::v1::{
    DescribeGroupResponse, EventKind, GroupSpec as SpiSpec, PauseInfo, Phase as SpiPhase,
};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tonic::Status as RpcStatus;

/// Tunables of the controller.
#[derive(Clone, Debug)]
pub struct Config {
    /// How often a group is observed when its instance plugin cannot watch.
    pub poll: Duration,
    /// How often a group is observed when its instance plugin pushes changes.
    pub poll_watched: Duration,
    /// How often each instance's health is asked.
    pub health_every: Duration,
    /// How long a DescribeInstances may take before the group is Degraded.
    pub describe_timeout: Duration,
    /// The most operations in flight per group.
    pub parallel: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            poll: Duration::from_millis(250),
            poll_watched: Duration::from_secs(30),
            health_every: Duration::from_secs(5),
            describe_timeout: crate::observer::DESCRIBE_TIMEOUT,
            parallel: 64,
        }
    }
}

/// A group's committed spec and state, behind the group's lock.
#[derive(Debug)]
pub(crate) struct Live {
    /// The committed spec.
    pub spec: GroupSpec,
    /// The controller's memory.
    pub state: GroupState,
    /// Increases with every change made outside the worker, so a pass planned on an older
    /// spec or state is discarded.
    pub generation: u64,
}

/// What DescribeGroup shows between passes.
#[derive(Clone, Debug, Default)]
pub(crate) struct View {
    pub status: Option<Status>,
    pub seen: SharedObservation,
    pub phase: Option<Phase>,
    /// The latest observation failed: `seen` is as last seen.
    pub stale: bool,
    /// Who paused the group, if it is paused.
    pub paused: Option<infrakit_group_core::PauseRecord>,
}

/// One managed group.
#[derive(Debug)]
pub(crate) struct GroupHandle {
    /// The group ID.
    pub id: String,
    /// The committed spec and state.
    pub live: tokio::sync::Mutex<Live>,
    /// Wakes the worker.
    pub wake: Notify,
    /// Stops the worker and its operations (FreeGroup, shutdown).
    pub stop: CancellationToken,
    /// Cancelled once the worker and every operation it started have ended (or when no worker
    /// will start): after that, nothing of this group calls a plugin again.
    pub stopped: CancellationToken,
    /// Whether the instance plugin pushes changes for this group.
    pub watching: AtomicBool,
    /// The changes it pushed, for the worker's next pass.
    pub inbox: Mutex<Inbox>,
    /// This controller's ownership of the group (0 without a coordinator); set once, before
    /// the worker starts.
    epoch: AtomicU64,
    /// Grows whenever what DescribeGroup shows may have changed (a pass, a phase).
    version: AtomicU64,
    view: Mutex<View>,
}

// === impl GroupHandle ===

impl GroupHandle {
    fn new(id: String, spec: GroupSpec, state: GroupState, stop: CancellationToken) -> Self {
        Self {
            id,
            live: tokio::sync::Mutex::new(Live {
                spec,
                state,
                generation: 0,
            }),
            wake: Notify::new(),
            stop,
            stopped: CancellationToken::new(),
            watching: AtomicBool::new(false),
            inbox: Mutex::default(),
            epoch: AtomicU64::new(0),
            version: AtomicU64::new(0),
            view: Mutex::default(),
        }
    }

    /// The changes the instance plugin pushed for this group.
    pub(crate) fn inbox(&self) -> std::sync::MutexGuard<'_, Inbox> {
        crate::observer::lock(&self.inbox)
    }

    /// This controller's ownership of the group: stamped on plugin calls and store writes.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Records the status and members of the latest pass (`seen` is `None` when the
    /// observation failed: the members are then shown as last seen).
    pub(crate) fn publish(
        &self,
        status: &Status,
        seen: Option<SharedObservation>,
        paused: Option<&infrakit_group_core::PauseRecord>,
    ) {
        self.version.fetch_add(1, Ordering::Release);
        let mut v = self.view.lock().unwrap_or_else(|e| e.into_inner());
        v.paused = paused.cloned();
        let mut status = status.clone();
        match seen {
            Some(seen) => {
                v.seen = seen;
                v.stale = false;
            }
            None => {
                // The counts of the last observation, not zeros: the members are not known to
                // be gone, only not seen now.
                if let Some(last) = &v.status {
                    status.actual = last.actual;
                    status.healthy = last.healthy;
                    status.up_to_date = last.up_to_date;
                }
                v.stale = true;
            }
        }
        v.status = Some(status);
    }

    /// Emits a phase event when the phase changed.
    pub(crate) fn note_phase(&self, events: &Events, phase: Phase, message: &str) {
        self.version.fetch_add(1, Ordering::Release);
        let changed = {
            let mut v = self.view.lock().unwrap_or_else(|e| e.into_inner());
            let changed = v.phase != Some(phase);
            v.phase = Some(phase);
            changed
        };
        if changed {
            events.emit(
                &self.id,
                EventKind::Phase,
                None,
                None,
                format!("{}: {message}", phase.as_str()),
                convert::phase(phase),
            );
        }
    }

    /// The phase of the latest pass, if any.
    pub(crate) fn phase(&self) -> Option<Phase> {
        self.view.lock().unwrap_or_else(|e| e.into_inner()).phase
    }

    pub(crate) fn view(&self) -> View {
        self.view.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// How a commit changes the spec.
enum Edit {
    /// Replace it.
    Replace(Box<GroupSpec>),
    /// Same spec, this size.
    Resize(u32),
    /// Same spec, smaller by the instances removed, which become the first victims.
    Remove(Vec<String>),
}

/// All groups, and what they share.
#[derive(Debug)]
pub struct Manager {
    groups: RwLock<HashMap<String, Arc<GroupHandle>>>,
    feeds: Arc<Feeds>,
    ports: Ports,
    events: Events,
    config: Config,
    shutdown: Shutdown,
}

// === impl Manager ===

impl Manager {
    /// A manager; call [`Manager::resume`] to pick up the stored groups.
    pub fn new(ports: Ports, config: Config, shutdown: Shutdown) -> Arc<Self> {
        Arc::new(Self {
            groups: RwLock::default(),
            feeds: Feeds::new(Arc::clone(&ports.instance)),
            ports,
            events: Events::new(),
            config,
            shutdown,
        })
    }

    /// Resumes every stored group (and its unfinished update) on its own. Returns how many.
    pub async fn resume(self: &Arc<Self>) -> Result<usize, String> {
        let mut n = 0;
        for (id, record) in self.ports.store.load_all().await? {
            match GroupSpec::from_json(&record.spec) {
                Ok(spec) => {
                    let g = self.handle(spec, record.state);
                    self.groups
                        .write()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(id, g.clone());
                    self.start(g);
                    n += 1;
                }
                Err(v) => {
                    tracing::error!(group = %id, violations = %v, "the stored spec is no longer valid; not resuming it")
                }
            }
        }
        Ok(n)
    }

    /// Starts managing a group this controller has just claimed in a shared store, from its
    /// record as stored and with the claim's epoch. A group already managed here is left
    /// alone (returns false).
    pub fn adopt(self: &Arc<Self>, id: &str, record: Record, epoch: u64) -> Result<bool, String> {
        let spec = GroupSpec::from_json(&record.spec)
            .map_err(|v| format!("the stored spec of group {id:?} is no longer valid: {v}"))?;
        let g = self.handle(spec, record.state);
        g.epoch.store(epoch, Ordering::Release);
        {
            let mut groups = self.groups.write().unwrap_or_else(|e| e.into_inner());
            match groups.entry(id.to_string()) {
                Entry::Occupied(_) => return Ok(false),
                Entry::Vacant(v) => {
                    v.insert(g.clone());
                }
            }
        }
        self.start(g);
        Ok(true)
    }

    /// Stops managing a group that another controller now owns (or may own): its worker and
    /// operations end before this returns; the stored record stays for the new owner. Only the
    /// handle of this `epoch` is released (0: whichever is managed); returns whether one was.
    pub async fn release(&self, id: &str, epoch: u64) -> bool {
        let Ok(g) = self.get(id) else { return false };
        // A commit creating the group holds the lock until its claim is stored and its epoch
        // set: wait for it, so the epoch compared is the claim's.
        let live = g.live.lock().await;
        if epoch != 0 && g.epoch() != epoch {
            return false;
        }
        g.stop.cancel();
        self.forget(&g);
        drop(live);
        g.stopped.cancelled().await;
        true
    }

    /// The epoch under which group `id` is managed here, if it is.
    pub fn managed_epoch(&self, id: &str) -> Option<u64> {
        self.groups
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .map(|g| g.epoch())
    }

    /// A number that changes whenever DescribeGroup of group `id` may show something new (its
    /// passes, phases and events), so a publisher can skip a group that did not change.
    pub fn describe_version(&self, id: &str) -> Option<(u64, u64)> {
        let v = self
            .groups
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .map(|g| g.version.load(Ordering::Acquire))?;
        Some((v, self.events.version(id)))
    }

    /// The groups managed here, with their epochs.
    pub fn managed(&self) -> Vec<(String, u64)> {
        self.groups
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(|g| (g.id.clone(), g.epoch()))
            .collect()
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn ports(&self) -> &Ports {
        &self.ports
    }

    /// The shared WatchInstances streams.
    pub(crate) fn feeds(&self) -> &Arc<Feeds> {
        &self.feeds
    }

    /// The event log.
    pub fn events(&self) -> &Events {
        &self.events
    }

    /// Stores a group, unless it is being freed. Call with the group's lock held.
    pub(crate) async fn persist(
        &self,
        g: &GroupHandle,
        spec: &GroupSpec,
        state: &GroupState,
    ) -> Result<(), GroupError> {
        if g.stop.is_cancelled() {
            return Err(GroupError::NotFound(g.id.clone()));
        }
        let record = Record {
            spec: spec.to_json(),
            state: state.clone(),
        };
        self.ports
            .store
            .save(&g.id, record, g.epoch())
            .await
            .map_err(|error| GroupError::Persist {
                id: g.id.clone(),
                error,
            })
    }

    /// Removes a group's record. Call with the group's lock held.
    pub(crate) async fn unpersist(&self, g: &GroupHandle) -> Result<(), GroupError> {
        self.ports
            .store
            .remove(&g.id, g.epoch())
            .await
            .map_err(|error| GroupError::Persist {
                id: g.id.clone(),
                error,
            })
    }

    /// Drops this handle of a group from memory (its worker has stopped); a newer handle
    /// of the same ID is left alone.
    pub(crate) fn forget(&self, g: &Arc<GroupHandle>) {
        let mut groups = self.groups.write().unwrap_or_else(|e| e.into_inner());
        if groups.get(&g.id).is_some_and(|cur| Arc::ptr_eq(cur, g)) {
            groups.remove(&g.id);
        }
    }

    fn get(&self, id: &str) -> Result<Arc<GroupHandle>, GroupError> {
        self.groups
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
            .ok_or_else(|| GroupError::NotFound(id.to_string()))
    }

    fn handle(&self, spec: GroupSpec, state: GroupState) -> Arc<GroupHandle> {
        let id = spec.id().to_string();
        let stop = self.shutdown.token().child_token();
        Arc::new(GroupHandle::new(id, spec, state, stop))
    }

    fn start(self: &Arc<Self>, g: Arc<GroupHandle>) {
        tokio::spawn(worker::run(self.clone(), g));
    }

    /// CommitGroup: validates and plans `spec`; unless `pretend`, installs it.
    pub async fn commit(
        self: &Arc<Self>,
        spec: &SpiSpec,
        pretend: bool,
    ) -> Result<CommitPlan, GroupError> {
        let new = parse(spec)?;
        self.validate_with_plugins(&new).await?;
        self.install(new, pretend, |s| Edit::Replace(Box::new(s)))
            .await
    }

    /// The members of a managed group as its worker keeps them, when they are current and
    /// from the instance plugin `spec` names: a commit is then planned without listing the
    /// group again (its cost does not grow with the group).
    async fn current_members(&self, spec: &GroupSpec) -> Option<SharedObservation> {
        let g = self.get(spec.id()).ok()?;
        let same_plugin = g.live.lock().await.spec.instance().plugin == spec.instance().plugin;
        let view = g.view();
        (same_plugin && view.status.is_some() && !view.stale).then_some(view.seen)
    }

    /// Plans the edit against the group's current state and, unless `pretend`, stores and
    /// installs it.
    async fn install<F>(
        self: &Arc<Self>,
        basis: GroupSpec,
        pretend: bool,
        edit: F,
    ) -> Result<CommitPlan, GroupError>
    where
        F: Fn(GroupSpec) -> Edit,
    {
        let t = self.ports.clock.now();
        let seen = match self.current_members(&basis).await {
            Some(current) => Members::Current(current),
            None => Members::Listed(
                observe_once(
                    &basis,
                    (&*self.ports.instance, &*self.ports.flavor),
                    t,
                    self.config.describe_timeout,
                )
                .await
                .map_err(|e| GroupError::Unavailable(format!("cannot plan the commit: {e}")))?,
            ),
        };
        let id = basis.id().to_string();
        let edit = edit(basis);
        loop {
            let Ok(g) = self.get(&id) else {
                let Edit::Replace(new) = &edit else {
                    return Err(GroupError::NotFound(id));
                };
                let new: &GroupSpec = new;
                let plan = seen.plan(None, new, t);
                if pretend {
                    return Ok(plan);
                }
                let g = self.handle(new.clone(), plan.state.clone());
                {
                    let mut groups = self.groups.write().unwrap_or_else(|e| e.into_inner());
                    match groups.entry(id.clone()) {
                        Entry::Occupied(_) => continue, // committed meanwhile: edit that one
                        Entry::Vacant(v) => {
                            v.insert(g.clone());
                        }
                    }
                }
                let live = g.live.lock().await;
                let record = Record {
                    spec: live.spec.to_json(),
                    state: live.state.clone(),
                };
                match self.ports.store.create(&id, record).await {
                    Ok(0) => {}
                    Ok(epoch) => {
                        g.epoch.store(epoch, Ordering::Release);
                        self.events.emit(
                            &id,
                            EventKind::Claimed,
                            None,
                            None,
                            format!(
                                "this controller created the group and owns it now (epoch {epoch})"
                            ),
                            SpiPhase::Converging,
                        );
                    }
                    Err(error) => {
                        drop(live);
                        self.forget(&g);
                        g.stopped.cancel(); // no worker will start
                        return Err(GroupError::Persist { id, error });
                    }
                }
                drop(live);
                self.start(g);
                self.events.emit(
                    &id,
                    EventKind::Committed,
                    None,
                    None,
                    plan.summary.clone(),
                    SpiPhase::Converging,
                );
                return Ok(plan);
            };
            let mut live = g.live.lock().await;
            if g.stop.is_cancelled() {
                drop(live);
                self.forget(&g);
                continue; // freed meanwhile
            }
            let (new, removed) = match &edit {
                Edit::Replace(new) => (GroupSpec::clone(new), Vec::new()),
                Edit::Resize(size) => (resized(&live.spec, *size)?, Vec::new()),
                Edit::Remove(ids) => {
                    let size = live
                        .spec
                        .desired()
                        .saturating_sub(u32::try_from(ids.len()).unwrap_or(u32::MAX));
                    (resized(&live.spec, size)?, ids.clone())
                }
            };
            let mut plan = seen.plan(Some((&live.spec, &live.state)), &new, t);
            if pretend {
                return Ok(plan);
            }
            plan.state.request_removal(removed);
            let old_spec = std::mem::replace(&mut live.spec, new);
            let old_state = std::mem::replace(&mut live.state, plan.state.clone());
            if let Err(e) = self.persist(&g, &live.spec, &live.state).await {
                live.spec = old_spec;
                live.state = old_state;
                return Err(e);
            }
            live.generation += 1;
            drop(live);
            self.events.emit(
                &id,
                EventKind::Committed,
                None,
                None,
                plan.summary.clone(),
                SpiPhase::Converging,
            );
            g.wake.notify_one();
            return Ok(plan);
        }
    }

    /// Calls the instance and flavor plugins' Validate; their violations are reported at the
    /// spec's JSON paths.
    async fn validate_with_plugins(&self, spec: &GroupSpec) -> Result<(), GroupError> {
        let mut bad = Violations::new();
        let inst = &spec.instance().plugin;
        let r = self
            .ports
            .instance
            .validate(inst, spec.instance().properties.to_string().into_bytes())
            .await;
        collect(r.err(), "$.Properties.Instance", &mut bad);
        let flavor = &spec.flavor().plugin;
        let r = self
            .ports
            .flavor
            .validate(
                flavor,
                spec.flavor().properties.to_string().into_bytes(),
                crate::ops::spi_allocation(spec),
            )
            .await;
        collect(r.err(), "$.Properties.Flavor", &mut bad);
        bad.into_result(()).map_err(GroupError::Invalid)
    }

    /// Runs `change` on a group's state under its lock and stores the result; returns
    /// `change`'s answer. When `change` answers false nothing is stored; when storing fails the
    /// state is restored.
    async fn edit_state<F>(&self, id: &str, change: F) -> Result<bool, GroupError>
    where
        F: FnOnce(&mut GroupState) -> bool,
    {
        let g = self.get(id)?;
        let mut live = g.live.lock().await;
        let before = live.state.clone();
        if !change(&mut live.state) {
            return Ok(false);
        }
        if let Err(e) = self.persist(&g, &live.spec, &live.state).await {
            live.state = before;
            return Err(e);
        }
        live.generation += 1;
        drop(live);
        g.wake.notify_one();
        Ok(true)
    }

    /// FreeGroup: stop managing the group; its instances are left alone.
    pub async fn free(&self, id: &str) -> Result<(), GroupError> {
        let g = {
            let mut groups = self.groups.write().unwrap_or_else(|e| e.into_inner());
            groups
                .remove(id)
                .ok_or_else(|| GroupError::NotFound(id.to_string()))?
        };
        // The worker checks `stop` before every write and stops its operations before it ends:
        // once it has ended and the lock is ours, no write or call of this group is under way,
        // and none can follow.
        g.stop.cancel();
        g.stopped.cancelled().await;
        let _live = g.live.lock().await;
        self.unpersist(&g).await?;
        self.events.emit(
            id,
            EventKind::Freed,
            None,
            None,
            "no longer managed; instances left as they are",
            SpiPhase::Unspecified,
        );
        self.events.forget(id);
        Ok(())
    }

    /// DestroyGroup: destroy every member, then forget the group. Idempotent.
    pub async fn destroy(&self, id: &str) -> Result<u32, GroupError> {
        // Destroying is an explicit order: it also ends a pause.
        self.edit_state(id, |s| {
            s.resume();
            s.start_destroying();
            true
        })
        .await?;
        let seen = self.get(id)?.view().seen;
        let remaining = u32::try_from(read(&seen).len()).unwrap_or(u32::MAX);
        self.events.emit(
            id,
            EventKind::Destroying,
            None,
            None,
            "destroying every member",
            SpiPhase::Destroying,
        );
        Ok(remaining)
    }

    /// DescribeGroup.
    pub fn describe(&self, id: &str) -> Result<DescribeGroupResponse, GroupError> {
        let g = self.get(id)?;
        let view = g.view();
        let mut out = DescribeGroupResponse {
            id: id.to_string(),
            recent_events: self.events.recent(id),
            ..Default::default()
        };
        let Some(s) = &view.status else {
            out.phase = SpiPhase::Converging as i32;
            return Ok(out);
        };
        out.phase = convert::phase(s.phase) as i32;
        out.desired = s.desired;
        out.actual = s.actual;
        out.healthy = s.healthy;
        out.up_to_date = s.up_to_date;
        out.spec_hash = s.spec_hash.clone();
        out.last_error = convert::last_error(s);
        out.update = s.update.as_ref().map(convert::update);
        out.converged = s.phase == Phase::Converged;
        out.message = s.message.clone();
        // A copy, so the worker is held up for the copy only, not for the conversion of
        // every member (ten times longer for a large group).
        let seen = read(&view.seen).clone();
        out.instances = convert::instances(&seen, &s.spec_hash);
        out.stale = view.stale;
        if !seen.group.is_empty() {
            out.observed_at = Some(convert::timestamp(seen.at));
        }
        out.paused = view.paused.as_ref().map(|p| PauseInfo {
            by: p.by.clone(),
            since: Some(convert::timestamp(p.since)),
            reason: p.reason.clone(),
        });
        Ok(out)
    }

    /// InspectGroups: the committed specs.
    pub async fn inspect(&self) -> Vec<SpiSpec> {
        let groups: Vec<Arc<GroupHandle>> = self
            .groups
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        let mut out = Vec::new();
        for g in groups {
            let live = g.live.lock().await;
            let json = live.spec.to_json();
            out.push(SpiSpec {
                id: g.id.clone(),
                properties: json
                    .get("Properties")
                    .map(|p| p.to_string().into_bytes())
                    .unwrap_or_default(),
            });
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// SetSize: resize a cattle group without rolling anything. Returns (previous, new).
    pub async fn set_size(self: &Arc<Self>, id: &str, size: u32) -> Result<(u32, u32), GroupError> {
        let spec = self.cattle_spec(id).await?;
        let previous = spec.desired();
        self.install(spec, false, |_| Edit::Resize(size)).await?;
        Ok((previous, size))
    }

    /// DestroyInstances: destroy these members and shrink the group by as many. Every ID must be
    /// a member, else nothing happens. Returns the new size.
    pub async fn destroy_instances(
        self: &Arc<Self>,
        id: &str,
        ids: &[String],
    ) -> Result<u32, GroupError> {
        let spec = self.cattle_spec(id).await?;
        let seen = observe_once(
            &spec,
            (&*self.ports.instance, &*self.ports.flavor),
            self.ports.clock.now(),
            self.config.describe_timeout,
        )
        .await
        .map_err(|e| GroupError::Unavailable(format!("cannot list the group's members: {e}")))?;
        let members: std::collections::HashSet<&str> = seen
            .observed
            .instances
            .iter()
            .map(|o| o.id.as_str())
            .collect();
        let strangers: Vec<&str> = ids
            .iter()
            .map(String::as_str)
            .filter(|i| !members.contains(i))
            .collect();
        if !strangers.is_empty() {
            return Err(GroupError::NotFound(format!(
                "{} (not members of group {id:?}; nothing was destroyed)",
                strangers.join(", ")
            )));
        }
        let mut unique = ids.to_vec();
        unique.sort();
        unique.dedup();
        self.install(spec, false, move |_| Edit::Remove(unique.clone()))
            .await?;
        Ok(self.get(id)?.live.lock().await.spec.desired())
    }

    async fn cattle_spec(&self, id: &str) -> Result<GroupSpec, GroupError> {
        let spec = self.get(id)?.live.lock().await.spec.clone();
        if spec.logical_ids().is_some() {
            return Err(GroupError::Precondition(format!(
                "group {id:?} is a group of pets (Allocation.LogicalIDs): change its logical IDs in the spec and commit it"
            )));
        }
        Ok(spec)
    }

    /// StopUpdate: pause the rolling update in progress.
    pub async fn stop_update(&self, id: &str) -> Result<(), GroupError> {
        let stopped = self
            .edit_state(id, |s| {
                s.stop_update("stopped by StopUpdate; commit the spec again to resume")
            })
            .await?;
        if !stopped {
            return Err(GroupError::Precondition(format!(
                "group {id:?} has no update in progress (to stop healing too, pause the group: ikctl group pause {id})"
            )));
        }
        self.events.emit(
            id,
            EventKind::UpdatePaused,
            None,
            None,
            "rolling update paused by StopUpdate",
            SpiPhase::Paused,
        );
        Ok(())
    }

    /// PauseGroup: no action until [`Manager::resume_group`]. Idempotent.
    pub async fn pause(&self, id: &str, by: &str, reason: &str) -> Result<(), GroupError> {
        let by = if by.is_empty() {
            "an unnamed caller"
        } else {
            by
        };
        let now = self.ports.clock.now();
        if !self.edit_state(id, |s| s.pause(by, reason, now)).await? {
            return Ok(());
        }
        let why = if reason.is_empty() {
            String::new()
        } else {
            format!(": {reason}")
        };
        self.events.emit(
            id,
            EventKind::Paused,
            None,
            None,
            format!("healing and updates paused by {by}{why}"),
            SpiPhase::Paused,
        );
        Ok(())
    }

    /// ResumeGroup: undoes [`Manager::pause`]. Harmless when the group is not paused.
    pub async fn resume_group(&self, id: &str, by: &str) -> Result<(), GroupError> {
        if !self.edit_state(id, GroupState::resume).await? {
            return Ok(());
        }
        let by = if by.is_empty() {
            "an unnamed caller"
        } else {
            by
        };
        self.events.emit(
            id,
            EventKind::Resumed,
            None,
            None,
            format!("healing and updates resumed by {by}"),
            SpiPhase::Converging,
        );
        Ok(())
    }
}

fn resized(spec: &GroupSpec, size: u32) -> Result<GroupSpec, GroupError> {
    spec.with_size(size).map_err(GroupError::Invalid)
}

fn parse(spec: &SpiSpec) -> Result<GroupSpec, GroupError> {
    let props: serde_json::Value = if spec.properties.iter().all(u8::is_ascii_whitespace) {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&spec.properties).map_err(|e| {
            GroupError::Invalid(infrakit_runtime::status::json_violation("$.Properties", &e).into())
        })?
    };
    GroupSpec::from_json(&serde_json::json!({"ID": spec.id, "Properties": props}))
        .map_err(GroupError::Invalid)
}

/// Moves a plugin's violations (paths under `$.properties`) under `<section>.Properties`; a
/// plugin that cannot be reached is reported at `<section>.Plugin`.
fn collect(err: Option<RpcStatus>, section: &str, bad: &mut Violations) {
    let Some(st) = err else { return };
    if st.code() == tonic::Code::Unavailable {
        bad.push(
            format!("{section}.Plugin"),
            st.message().to_string(),
            "start that plugin, or name a running one",
        );
        return;
    }
    let prefix = format!("{section}.Properties");
    let found = violations_of(&st);
    if found.is_empty() {
        bad.push(prefix, st.message().to_string(), "");
        return;
    }
    for v in found {
        let path = match v.path.strip_prefix("$.properties") {
            Some(rest) => format!("{prefix}{rest}"),
            None => format!("{prefix} ({})", v.path),
        };
        bad.0.push(Violation::new(path, v.problem, v.fix));
    }
}

/// The observation, to read (a panic elsewhere while it was written leaves it readable: it is
/// replaced or corrected by the next pass).
fn read(seen: &SharedObservation) -> std::sync::RwLockReadGuard<'_, Observation> {
    seen.read().unwrap_or_else(|e| e.into_inner())
}

/// The members a commit is planned against.
enum Members {
    /// The group's worker keeps them current.
    Current(SharedObservation),
    /// Listed for this commit.
    Listed(Observation),
}

// === impl Members ===

impl Members {
    fn plan(
        &self,
        old: Option<(&GroupSpec, &GroupState)>,
        new: &GroupSpec,
        now: Time,
    ) -> CommitPlan {
        match self {
            Members::Current(seen) => plan_commit(old, new, &read(seen).observed, now),
            Members::Listed(seen) => plan_commit(old, new, &seen.observed, now),
        }
    }
}
