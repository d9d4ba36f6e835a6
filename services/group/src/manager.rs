//! The set of managed groups and the operations on them (commit, free, destroy, resize, ...).
//!
//! # Guarantees
//! - A spec is parsed, validated (also by the instance and flavor plugins) and planned
//!   completely before it replaces the committed one; a failure leaves the group untouched.
//! - A pretend commit changes nothing anywhere.
//! - Every change to a group's spec or state is persisted before any action it leads to.

use crate::events::Events;
use crate::observer::{Observation, Observer};
use crate::plugins::Plugins;
use crate::store::{Record, Store};
use crate::{convert, now, worker};
use infrakit_group_core::{CommitPlan, GroupSpec, GroupState, Phase, Status, plan_commit};
use infrakit_model::{Violation, Violations};
use infrakit_runtime::Shutdown;
use infrakit_runtime::status::{invalid, violations_of};
use infrakit_spi::flavor::v1::ValidateRequest as FlavorValidate;
use infrakit_spi::group::v1::EventKind;
use infrakit_spi::group::v1::{DescribeGroupResponse, GroupSpec as SpiSpec, Phase as SpiPhase};
use infrakit_spi::instance::v1::ValidateRequest as InstanceValidate;
use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tonic::Status as RpcStatus;

/// Tunables of the controller.
#[derive(Clone, Debug)]
pub struct Config {
    /// The most plugin calls in flight per group.
    pub parallel: usize,
    /// How often a group is observed when its instance plugin cannot watch.
    pub poll: Duration,
    /// How often a group is observed when its instance plugin pushes changes.
    pub poll_watched: Duration,
    /// How often each instance's health is asked.
    pub health_every: Duration,
    /// How long a DescribeInstances may take before the group is Degraded.
    pub describe_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            parallel: 64,
            poll: Duration::from_millis(250),
            poll_watched: Duration::from_secs(30),
            health_every: Duration::from_secs(5),
            describe_timeout: crate::observer::DESCRIBE_TIMEOUT,
        }
    }
}

/// A group's committed spec and state, behind the group's lock.
#[derive(Debug)]
pub struct Live {
    /// The committed spec.
    pub spec: GroupSpec,
    /// The controller's memory.
    pub state: GroupState,
    /// Increases with every commit, so a pass planned on an older spec is discarded.
    pub generation: u64,
}

/// What DescribeGroup shows between passes.
#[derive(Clone, Debug, Default)]
struct View {
    status: Option<Status>,
    seen: Arc<Observation>,
    phase: Option<Phase>,
}

/// One managed group.
#[derive(Debug)]
pub struct GroupHandle {
    /// The group ID.
    pub id: String,
    /// The committed spec and state.
    pub live: tokio::sync::Mutex<Live>,
    /// Wakes the reconcile loop.
    pub wake: Notify,
    /// Stops the reconcile loop.
    pub stop: CancellationToken,
    /// Whether the instance plugin pushes changes for this group.
    pub watching: AtomicBool,
    /// After a restart: when the provisions the previous process left in flight are over.
    pub orphans_settle_at: Mutex<Option<infrakit_group_core::Time>>,
    view: Mutex<View>,
}

// === impl GroupHandle ===

impl GroupHandle {
    /// Records the status and members of the latest pass.
    pub fn publish(&self, status: &Status, seen: Option<Arc<Observation>>) {
        let mut v = self.view.lock().unwrap_or_else(|e| e.into_inner());
        v.status = Some(status.clone());
        if let Some(seen) = seen {
            v.seen = seen;
        }
    }

    /// Emits a phase event when the phase changed.
    pub fn note_phase(&self, mgr: &Manager, phase: Phase, message: &str) {
        let changed = {
            let mut v = self.view.lock().unwrap_or_else(|e| e.into_inner());
            let changed = v.phase != Some(phase);
            v.phase = Some(phase);
            changed
        };
        if changed {
            mgr.events().emit(
                &self.id,
                EventKind::Phase,
                None,
                None,
                format!("{}: {message}", phase.as_str()),
                convert::phase(phase),
            );
        }
    }

    fn view(&self) -> View {
        self.view.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// How long after a restart the provisions the previous process had in flight may still land.
/// The SPI requires an instance to be listed as soon as its Provision returns, so a provision
/// whose token is still not listed after this was lost with the process, and is dropped instead
/// of being waited for until its expectation times out.
pub const RESTART_GRACE: Duration = Duration::from_secs(2);

/// All groups, and what they share.
#[derive(Debug)]
pub struct Manager {
    groups: RwLock<HashMap<String, Arc<GroupHandle>>>,
    store: Store,
    plugins: Plugins,
    events: Events,
    config: Config,
    shutdown: Shutdown,
}

// === impl Manager ===

impl Manager {
    /// A manager; call [`Manager::resume`] to pick up the stored groups.
    pub fn new(store: Store, plugins: Plugins, config: Config, shutdown: Shutdown) -> Arc<Self> {
        Arc::new(Self {
            groups: RwLock::default(),
            store,
            plugins,
            events: Events::new(),
            config,
            shutdown,
        })
    }

    /// Resumes every stored group (and its unfinished update) on its own.
    pub fn resume(self: &Arc<Self>) -> usize {
        let mut n = 0;
        for (id, record) in self.store.load_all() {
            match GroupSpec::from_json(&record.spec) {
                Ok(spec) => {
                    let g = self.start(spec, record.state);
                    *g.orphans_settle_at
                        .lock()
                        .unwrap_or_else(|e| e.into_inner()) = Some(now().after(RESTART_GRACE));
                    n += 1;
                }
                Err(v) => {
                    tracing::error!(group = %id, violations = %v, "the stored spec is no longer valid; not resuming it")
                }
            }
        }
        n
    }

    /// The controller's tunables.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The plugin clients.
    pub fn plugins(&self) -> &Plugins {
        &self.plugins
    }

    /// The event log.
    pub fn events(&self) -> &Events {
        &self.events
    }

    /// Persists a group; a failure is logged (and retried with the next change).
    pub fn persist(&self, id: &str, live: &Live) {
        let record = Record {
            spec: live.spec.to_json(),
            state: live.state.clone(),
        };
        if let Err(e) = self.store.save(id, &record) {
            tracing::error!(group = %id, error = %infrakit_runtime::dial::error_chain(&e), "cannot persist the group");
        }
    }

    /// Removes a group's record.
    pub fn unpersist(&self, id: &str) {
        if let Err(e) = self.store.remove(id) {
            tracing::error!(group = %id, error = %infrakit_runtime::dial::error_chain(&e), "cannot remove the group record");
        }
    }

    /// Drops a group from memory (its loop has stopped).
    pub fn forget(&self, id: &str) {
        self.groups
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }

    fn get(&self, id: &str) -> Result<Arc<GroupHandle>, RpcStatus> {
        self.groups
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
            .ok_or_else(|| RpcStatus::not_found(format!("no group {id:?}")))
    }

    fn start(self: &Arc<Self>, spec: GroupSpec, state: GroupState) -> Arc<GroupHandle> {
        let id = spec.id().to_string();
        let g = Arc::new(GroupHandle {
            id: id.clone(),
            live: tokio::sync::Mutex::new(Live {
                spec,
                state,
                generation: 0,
            }),
            wake: Notify::new(),
            stop: self.shutdown.token().child_token(),
            watching: AtomicBool::new(false),
            orphans_settle_at: Mutex::new(None),
            view: Mutex::default(),
        });
        self.groups
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, g.clone());
        tokio::spawn(worker::run(self.clone(), g.clone()));
        g
    }

    /// CommitGroup: validates and plans `spec`; unless `pretend`, installs it.
    pub async fn commit(
        self: &Arc<Self>,
        spec: &SpiSpec,
        pretend: bool,
    ) -> Result<CommitPlan, RpcStatus> {
        let new = parse(spec)?;
        self.validate_with_plugins(&new).await?;
        self.install(new, pretend, |_| {}).await
    }

    /// Plans `new` against the group's current state and, unless `pretend`, installs it after
    /// `adjust` has edited the state to install.
    async fn install(
        self: &Arc<Self>,
        new: GroupSpec,
        pretend: bool,
        adjust: impl FnOnce(&mut GroupState),
    ) -> Result<CommitPlan, RpcStatus> {
        let t = now();
        let seen = Observer::default()
            .observe(
                &new,
                &self.plugins,
                t,
                Duration::ZERO,
                self.config.describe_timeout,
            )
            .await
            .map_err(|e| RpcStatus::unavailable(format!("cannot plan the commit: {e}")))?;
        let obs = &seen.observed;
        let existing = self.get(new.id()).ok();
        let Some(g) = existing else {
            let mut plan = plan_commit(None, &new, obs, t);
            if !pretend {
                adjust(&mut plan.state);
                let g = self.start(new.clone(), plan.state.clone());
                let live = g.live.lock().await;
                self.persist(&g.id, &live);
                self.events.emit(
                    &g.id,
                    EventKind::Committed,
                    None,
                    None,
                    plan.summary.clone(),
                    SpiPhase::Converging,
                );
            }
            return Ok(plan);
        };
        let mut live = g.live.lock().await;
        let mut plan = plan_commit(Some((&live.spec, &live.state)), &new, obs, t);
        if !pretend {
            adjust(&mut plan.state);
            live.spec = new;
            live.state = plan.state.clone();
            live.generation += 1;
            self.persist(&g.id, &live);
            drop(live);
            self.events.emit(
                &g.id,
                EventKind::Committed,
                None,
                None,
                plan.summary.clone(),
                SpiPhase::Converging,
            );
            g.wake.notify_one();
        }
        Ok(plan)
    }

    /// Calls the instance and flavor plugins' Validate; their violations are reported at the
    /// spec's JSON paths.
    async fn validate_with_plugins(&self, spec: &GroupSpec) -> Result<(), RpcStatus> {
        let mut bad = Violations::new();
        let inst = &spec.instance().plugin;
        match self.plugins.instance(inst).await {
            Err(e) => bad.push(
                "$.Properties.Instance.Plugin",
                e.to_string(),
                "start that plugin, or name a running one",
            ),
            Ok(mut c) => {
                let r = c
                    .validate(InstanceValidate {
                        r#type: inst.subtype_or_default().to_string(),
                        properties: spec.instance().properties.to_string().into_bytes(),
                    })
                    .await;
                collect(r.err(), "$.Properties.Instance.Properties", &mut bad);
            }
        }
        let flavor = &spec.flavor().plugin;
        match self.plugins.flavor(flavor).await {
            Err(e) => bad.push(
                "$.Properties.Flavor.Plugin",
                e.to_string(),
                "start that plugin, or name a running one",
            ),
            Ok(mut c) => {
                let r = c
                    .validate(FlavorValidate {
                        r#type: flavor.subtype_or_default().to_string(),
                        properties: spec.flavor().properties.to_string().into_bytes(),
                        allocation: Some(crate::executor::spi_allocation(spec)),
                    })
                    .await;
                collect(r.err(), "$.Properties.Flavor.Properties", &mut bad);
            }
        }
        bad.into_result(()).map_err(|v| invalid(&v))
    }

    /// FreeGroup: stop managing the group; its instances are left alone.
    pub async fn free(&self, id: &str) -> Result<(), RpcStatus> {
        let g = self.get(id)?;
        g.stop.cancel();
        self.forget(id);
        self.unpersist(id);
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
    pub async fn destroy(&self, id: &str) -> Result<u32, RpcStatus> {
        let g = self.get(id)?;
        let mut live = g.live.lock().await;
        live.state.start_destroying();
        live.generation += 1;
        self.persist(id, &live);
        drop(live);
        let remaining = u32::try_from(g.view().seen.len()).unwrap_or(u32::MAX);
        self.events.emit(
            id,
            EventKind::Destroying,
            None,
            None,
            "destroying every member",
            SpiPhase::Destroying,
        );
        g.wake.notify_one();
        Ok(remaining)
    }

    /// DescribeGroup.
    pub fn describe(&self, id: &str) -> Result<DescribeGroupResponse, RpcStatus> {
        let g = self.get(id)?;
        let view = g.view();
        let mut out = DescribeGroupResponse {
            id: id.to_string(),
            recent_events: self.events.recent(id),
            ..Default::default()
        };
        if let Some(s) = &view.status {
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
            out.instances = convert::instances(&view.seen, &s.spec_hash);
        } else {
            out.phase = SpiPhase::Converging as i32;
        }
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
    pub async fn set_size(self: &Arc<Self>, id: &str, size: u32) -> Result<(u32, u32), RpcStatus> {
        let g = self.get(id)?;
        let spec = g.live.lock().await.spec.clone();
        if spec.logical_ids().is_some() {
            return Err(RpcStatus::failed_precondition(format!(
                "group {id:?} is a group of pets (Allocation.LogicalIDs): change its logical IDs in the spec and commit it"
            )));
        }
        let previous = spec.desired();
        let new = spec.with_size(size).map_err(|v| invalid(&v))?;
        self.install(new, false, |_| {}).await?;
        Ok((previous, size))
    }

    /// DestroyInstances: destroy these members and shrink the group by as many. Every ID must be
    /// a member, else nothing happens.
    pub async fn destroy_instances(
        self: &Arc<Self>,
        id: &str,
        ids: &[String],
    ) -> Result<u32, RpcStatus> {
        let g = self.get(id)?;
        let spec = g.live.lock().await.spec.clone();
        if spec.logical_ids().is_some() {
            return Err(RpcStatus::failed_precondition(format!(
                "group {id:?} is a group of pets: remove the logical IDs from the spec and commit it"
            )));
        }
        let seen = Observer::default()
            .observe(
                &spec,
                &self.plugins,
                now(),
                Duration::from_secs(3600),
                self.config.describe_timeout,
            )
            .await
            .map_err(|e| RpcStatus::unavailable(format!("cannot list the group's members: {e}")))?;
        let members: std::collections::HashSet<&str> = seen
            .observed
            .instances
            .iter()
            .map(|o| o.id.as_str())
            .collect();
        let strangers: Vec<&String> = ids
            .iter()
            .filter(|i| !members.contains(i.as_str()))
            .collect();
        if !strangers.is_empty() {
            return Err(RpcStatus::not_found(format!(
                "not members of group {id:?}: {}; nothing was destroyed",
                strangers
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let mut unique = ids.to_vec();
        unique.sort();
        unique.dedup();
        let size = spec
            .desired()
            .saturating_sub(u32::try_from(unique.len()).unwrap_or(u32::MAX));
        let new = spec.with_size(size).map_err(|v| invalid(&v))?;
        let requested = unique.clone();
        self.install(new, false, move |s| s.request_removal(requested))
            .await?;
        Ok(size)
    }

    /// PauseGroup: no action until [`Manager::resume_group`]. Idempotent.
    pub async fn pause(&self, id: &str, by: &str, reason: &str) -> Result<(), RpcStatus> {
        let g = self.get(id)?;
        let mut live = g.live.lock().await;
        let by = if by.is_empty() {
            "an unnamed caller"
        } else {
            by
        };
        if !live.state.pause(by, reason, now()) {
            return Ok(());
        }
        live.generation += 1;
        self.persist(id, &live);
        drop(live);
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
        g.wake.notify_one();
        Ok(())
    }

    /// ResumeGroup: undoes [`Manager::pause`]. Harmless when the group is not paused.
    pub async fn resume_group(&self, id: &str, by: &str) -> Result<(), RpcStatus> {
        let g = self.get(id)?;
        let mut live = g.live.lock().await;
        if !live.state.resume() {
            return Ok(());
        }
        live.generation += 1;
        self.persist(id, &live);
        drop(live);
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
        g.wake.notify_one();
        Ok(())
    }

    /// StopUpdate: pause the rolling update in progress.
    pub async fn stop_update(&self, id: &str) -> Result<(), RpcStatus> {
        let g = self.get(id)?;
        let mut live = g.live.lock().await;
        if !live
            .state
            .stop_update("stopped by StopUpdate; commit the spec again to resume")
        {
            return Err(RpcStatus::failed_precondition(format!(
                "group {id:?} has no update in progress"
            )));
        }
        live.generation += 1;
        self.persist(id, &live);
        drop(live);
        self.events.emit(
            id,
            EventKind::UpdatePaused,
            None,
            None,
            "rolling update paused by StopUpdate",
            SpiPhase::Paused,
        );
        g.wake.notify_one();
        Ok(())
    }
}

fn parse(spec: &SpiSpec) -> Result<GroupSpec, RpcStatus> {
    let props: serde_json::Value = if spec.properties.iter().all(u8::is_ascii_whitespace) {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&spec.properties).map_err(|e| {
            invalid(&infrakit_runtime::status::json_violation("$.Properties", &e).into())
        })?
    };
    GroupSpec::from_json(&serde_json::json!({"ID": spec.id, "Properties": props}))
        .map_err(|v| invalid(&v))
}

/// Moves a plugin's violations (paths under `$.properties`) under `prefix`.
fn collect(err: Option<RpcStatus>, prefix: &str, bad: &mut Violations) {
    let Some(st) = err else { return };
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
