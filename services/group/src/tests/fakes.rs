//! In-memory fakes of the instance and flavor plugins and of the store, for driver tests under
//! tokio's paused time. Every behaviour a real plugin can show is a knob: latency, lost
//! replies, failures, hangs, listing outages; every call is recorded.

use crate::ports::{
    BoxFuture, ChangeStream, Clock, FlavorPort, InstancePort, Listing, Ports, Record, StorePort,
    TokioClock, Verdict,
};
use infrakit_group_core::{Health, Time};
use infrakit_model::{PluginName, tags};
use infrakit_runtime::watch::EventBroadcast;
use infrakit_spi::flavor::v1::{Allocation, PrepareRequest};
use infrakit_spi::instance::v1::{
    DestroyReason, Fence, InstanceDescription, InstanceSpec, InstanceState as SpiState,
};
use infrakit_spi::instance::v1::{InstanceEventKind, WatchInstancesRequest};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_stream::StreamExt;
use tonic::Status;

/// A call the fake received, with the time it started.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Call {
    Describe,
    /// A DescribeInstances answered "unchanged" (nothing listed).
    DescribeUnchanged,
    /// A WatchInstances stream opened.
    Watch,
    Provision {
        token: String,
    },
    Destroy {
        id: String,
        reason: DestroyReason,
    },
    Label {
        id: String,
    },
    Drain {
        id: String,
    },
    Healthy {
        id: String,
    },
}

/// How the fake answers one kind of call.
#[derive(Clone, Debug, Default)]
pub(crate) struct Behaviour {
    /// How long the call takes.
    pub delay: Duration,
    /// Answer with this error (after `delay`), without doing anything.
    pub fail: Option<tonic::Code>,
    /// Do the work, then never answer (the caller's deadline ends the call).
    pub lose_reply: bool,
}

// === impl Behaviour ===

impl Behaviour {
    /// Answers after `delay`.
    pub(crate) fn delayed(delay: Duration) -> Self {
        Self {
            delay,
            ..Self::default()
        }
    }

    /// Answers `code` at once, doing nothing.
    pub(crate) fn failing(code: tonic::Code) -> Self {
        Self {
            fail: Some(code),
            ..Self::default()
        }
    }

    /// Does the work and never answers.
    pub(crate) fn lost() -> Self {
        Self {
            lose_reply: true,
            ..Self::default()
        }
    }
}

/// The fake cloud: instances, their health, and the knobs.
pub(crate) struct Cloud {
    state: Mutex<CloudState>,
    next: AtomicU64,
    /// DescribeInstances fails while set.
    pub describe_down: AtomicBool,
    /// WatchInstances is served (and listings numbered) while set; else UNIMPLEMENTED.
    pub watchable: AtomicBool,
    /// Every change to the instances, numbered as a real plugin does.
    events: EventBroadcast,
    /// Ends the open watch streams.
    watch_stops: Mutex<Vec<infrakit_runtime::Shutdown>>,
}

impl Default for Cloud {
    fn default() -> Self {
        Self {
            state: Mutex::default(),
            next: AtomicU64::default(),
            describe_down: AtomicBool::default(),
            watchable: AtomicBool::default(),
            events: EventBroadcast::new(1024),
            watch_stops: Mutex::default(),
        }
    }
}

#[derive(Default)]
pub(crate) struct CloudState {
    /// Live instances by ID.
    pub instances: BTreeMap<String, InstanceDescription>,
    /// Provision tokens already used, with the instance each created.
    pub tokens: HashMap<String, String>,
    /// Every instance ever created, in order.
    pub created: Vec<String>,
    /// Every instance destroyed, with the reason.
    pub destroyed: Vec<(String, DestroyReason)>,
    /// Health by instance ID (missing: healthy).
    pub health: HashMap<String, Health>,
    /// Behaviours by call kind: "provision", "destroy", "drain", "label", "healthy",
    /// "prepare", "describe"; per instance ID with "drain:<id>".
    pub behaviours: HashMap<String, Behaviour>,
    /// Every call, with the clock's time at its start.
    pub calls: Vec<(Time, Call)>,
}

// === impl Cloud ===

impl Cloud {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut CloudState) -> R) -> R {
        f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// A cloud whose plugin watches: changes are pushed, listings numbered.
    pub(crate) fn watched() -> Arc<Self> {
        let c = Self::new();
        c.watchable.store(true, Ordering::SeqCst);
        c
    }

    /// Tells watchers that changes may have been lost.
    pub(crate) fn resync(&self) {
        self.events.emit(InstanceEventKind::Resync, None);
    }

    /// Ends every open watch stream (a plugin restart, a broken connection).
    pub(crate) fn drop_watches(&self) {
        let stops =
            std::mem::take(&mut *self.watch_stops.lock().unwrap_or_else(|e| e.into_inner()));
        for s in stops {
            s.trigger();
        }
    }

    /// Starts or ends an outage of the plugin: listings fail and watch streams end.
    pub(crate) fn set_down(&self, down: bool) {
        self.describe_down.store(down, Ordering::SeqCst);
        if down {
            self.drop_watches();
        }
    }

    /// Announces a change (called with the state locked, after the change, as a real plugin
    /// does).
    fn announce(&self, kind: InstanceEventKind, d: &InstanceDescription) {
        self.events.emit(kind, Some(d.clone()));
    }

    pub(crate) fn set(&self, kind: &str, b: Behaviour) {
        self.with(|s| s.behaviours.insert(kind.to_string(), b));
    }

    pub(crate) fn set_health(&self, id: &str, h: Health) {
        self.with(|s| s.health.insert(id.to_string(), h));
    }

    pub(crate) fn ids(&self) -> Vec<String> {
        self.with(|s| s.instances.keys().cloned().collect())
    }

    pub(crate) fn count(&self) -> usize {
        self.with(|s| s.instances.len())
    }

    /// Removes an instance without announcing it (a plugin that lost the event).
    pub(crate) fn lose(&self, id: &str) {
        self.with(|s| s.instances.remove(id));
    }

    /// Removes an instance behind the controller's back (a machine that died).
    pub(crate) fn kill(&self, id: &str) {
        self.with(|s| {
            if let Some(d) = s.instances.remove(id) {
                self.announce(InstanceEventKind::Gone, &d);
            }
        });
    }

    pub(crate) fn calls(&self) -> Vec<(Time, Call)> {
        self.with(|s| s.calls.clone())
    }

    fn behaviour(&self, kind: &str, id: Option<&str>) -> Behaviour {
        self.with(|s| {
            id.and_then(|id| s.behaviours.get(&format!("{kind}:{id}")))
                .or_else(|| s.behaviours.get(kind))
                .cloned()
                .unwrap_or_default()
        })
    }
}

/// The fake plugins: the cloud seen through a clock (to time-stamp calls).
#[derive(Clone)]
pub(crate) struct FakePlugins {
    pub cloud: Arc<Cloud>,
    pub clock: Arc<dyn Clock>,
}

// === impl FakePlugins ===

impl FakePlugins {
    fn record(&self, c: Call) {
        let t = self.clock.now();
        self.cloud.with(|s| s.calls.push((t, c)));
    }

    /// Waits as the behaviour says; then `Err` when it fails, or hangs forever when the reply
    /// is lost *after* running `work`.
    async fn act<T>(&self, b: Behaviour, work: impl FnOnce() -> T) -> Result<T, Status> {
        tokio::time::sleep(b.delay).await;
        if let Some(code) = b.fail {
            return Err(Status::new(code, "fake failure"));
        }
        let out = work();
        if b.lose_reply {
            std::future::pending::<()>().await;
        }
        Ok(out)
    }
}

impl InstancePort for FakePlugins {
    fn validate(&self, _: &PluginName, _: Vec<u8>) -> BoxFuture<'_, Result<(), Status>> {
        Box::pin(async { Ok(()) })
    }

    fn describe(
        &self,
        _: &PluginName,
        group: &str,
        unless_revision: u64,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<Listing, Status>> {
        let group = group.to_string();
        Box::pin(async move {
            self.record(Call::Describe);
            let b = self.cloud.behaviour("describe", None);
            let f = async {
                if self.cloud.describe_down.load(Ordering::SeqCst) {
                    return Err(Status::unavailable("fake outage"));
                }
                self.act(b, || {
                    self.cloud.with(|s| {
                        let revision = if self.cloud.watchable.load(Ordering::SeqCst) {
                            self.cloud.events.revision()
                        } else {
                            0
                        };
                        if revision != 0 && revision == unless_revision {
                            s.calls.pop_if(|(_, c)| *c == Call::Describe);
                            s.calls.push((self.clock.now(), Call::DescribeUnchanged));
                            return Listing {
                                instances: Vec::new(),
                                revision,
                                unchanged: true,
                            };
                        }
                        let instances = s
                            .instances
                            .values()
                            .filter(|d| d.tags.get(tags::GROUP) == Some(&group))
                            .cloned()
                            .collect();
                        Listing {
                            instances,
                            revision,
                            unchanged: false,
                        }
                    })
                })
                .await
            };
            tokio::time::timeout(timeout, f)
                .await
                .unwrap_or_else(|_| Err(Status::deadline_exceeded("describe timed out")))
        })
    }

    fn provision(
        &self,
        _: &PluginName,
        spec: InstanceSpec,
        _: Option<Fence>,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<String, Status>> {
        Box::pin(async move {
            let token = spec
                .tags
                .get(tags::PROVISION_TOKEN)
                .cloned()
                .unwrap_or_default();
            self.record(Call::Provision {
                token: token.clone(),
            });
            let b = self.cloud.behaviour("provision", None);
            // The provider goes on with the work even when the caller gives up or dies: the
            // creation is its own task.
            let cloud = Arc::clone(&self.cloud);
            let work = tokio::spawn(async move {
                tokio::time::sleep(b.delay).await;
                if let Some(code) = b.fail {
                    return Err(Status::new(code, "fake provision failure"));
                }
                let id = cloud.with(|s| {
                    if let Some(id) = s.tokens.get(&token) {
                        return id.clone(); // idempotent by token
                    }
                    let id = format!("i-{}", cloud.next.fetch_add(1, Ordering::SeqCst) + 1);
                    s.tokens.insert(token.clone(), id.clone());
                    s.created.push(id.clone());
                    let d = InstanceDescription {
                        id: id.clone(),
                        logical_id: spec.logical_id.clone(),
                        tags: spec.tags.clone(),
                        properties: Vec::new(),
                        state: SpiState::Running as i32,
                    };
                    cloud.announce(InstanceEventKind::Created, &d);
                    s.instances.insert(id.clone(), d);
                    id
                });
                Ok(id)
            });
            let f = async move {
                let r = work
                    .await
                    .unwrap_or_else(|e| Err(Status::internal(e.to_string())));
                if b.lose_reply {
                    std::future::pending::<()>().await;
                }
                r
            };
            tokio::time::timeout(timeout, f)
                .await
                .unwrap_or_else(|_| Err(Status::deadline_exceeded("provision timed out")))
        })
    }

    fn destroy(
        &self,
        _: &PluginName,
        id: String,
        reason: DestroyReason,
        _: Option<Fence>,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<(), Status>> {
        Box::pin(async move {
            self.record(Call::Destroy {
                id: id.clone(),
                reason,
            });
            let b = self.cloud.behaviour("destroy", Some(&id));
            let f = self.act(b, || {
                self.cloud.with(|s| {
                    if let Some(d) = s.instances.remove(&id) {
                        self.cloud.announce(InstanceEventKind::Gone, &d);
                        s.destroyed.push((id.clone(), reason));
                    }
                })
            });
            tokio::time::timeout(timeout, f)
                .await
                .unwrap_or_else(|_| Err(Status::deadline_exceeded("destroy timed out")))
        })
    }

    fn label(
        &self,
        _: &PluginName,
        id: String,
        labels: HashMap<String, String>,
        _: Option<Fence>,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<(), Status>> {
        Box::pin(async move {
            self.record(Call::Label { id: id.clone() });
            let b = self.cloud.behaviour("label", Some(&id));
            let f = self.act(b, || {
                self.cloud.with(|s| {
                    if let Some(d) = s.instances.get_mut(&id) {
                        d.tags.extend(labels);
                        self.cloud.announce(InstanceEventKind::TagsChanged, d);
                    }
                })
            });
            tokio::time::timeout(timeout, f)
                .await
                .unwrap_or_else(|_| Err(Status::deadline_exceeded("label timed out")))
        })
    }

    fn watch(
        &self,
        _: &PluginName,
        group: Option<&str>,
        since: u64,
    ) -> BoxFuture<'_, Result<ChangeStream, Status>> {
        let req = WatchInstancesRequest {
            tags: group
                .map(|g| [(tags::GROUP.to_string(), g.to_string())].into())
                .unwrap_or_default(),
            since_revision: since,
            ..Default::default()
        };
        Box::pin(async move {
            if !self.cloud.watchable.load(Ordering::SeqCst) {
                return Err(Status::unimplemented("the fake cannot watch"));
            }
            self.record(Call::Watch);
            if self.cloud.describe_down.load(Ordering::SeqCst) {
                return Err(Status::unavailable("fake outage"));
            }
            let stop = infrakit_runtime::Shutdown::new();
            self.cloud
                .watch_stops
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(stop.clone());
            let s = self.cloud.events.stream(req, stop);
            Ok(Box::pin(s.map(|m| m.map(crate::grpc::change))) as ChangeStream)
        })
    }
}

impl FlavorPort for FakePlugins {
    fn validate(
        &self,
        _: &PluginName,
        _: Vec<u8>,
        _: Allocation,
    ) -> BoxFuture<'_, Result<(), Status>> {
        Box::pin(async { Ok(()) })
    }

    fn prepare(
        &self,
        _: &PluginName,
        request: PrepareRequest,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<InstanceSpec, Status>> {
        Box::pin(async move {
            let b = self.cloud.behaviour("prepare", None);
            let f = self.act(b, || request.spec.unwrap_or_default());
            tokio::time::timeout(timeout, f)
                .await
                .unwrap_or_else(|_| Err(Status::deadline_exceeded("prepare timed out")))
        })
    }

    fn healthy(
        &self,
        _: &PluginName,
        _: Vec<u8>,
        instance: InstanceDescription,
        timeout: Duration,
    ) -> BoxFuture<'_, Verdict> {
        Box::pin(async move {
            self.record(Call::Healthy {
                id: instance.id.clone(),
            });
            let b = self.cloud.behaviour("healthy", Some(&instance.id));
            let f = self.act(b, || {
                self.cloud.with(|s| {
                    s.health
                        .get(&instance.id)
                        .copied()
                        .unwrap_or(Health::Healthy)
                })
            });
            match tokio::time::timeout(timeout, f).await {
                Ok(Ok(health)) => Verdict {
                    health,
                    reason: format!("fake says {}", health.as_str()),
                    recheck_after: None,
                },
                Ok(Err(st)) => Verdict::unknown(st.message().to_string()),
                Err(_) => Verdict::unknown("healthy timed out".to_string()),
            }
        })
    }

    fn drain(
        &self,
        _: &PluginName,
        _: Vec<u8>,
        instance: InstanceDescription,
        _: Option<Fence>,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<(), Status>> {
        Box::pin(async move {
            self.record(Call::Drain {
                id: instance.id.clone(),
            });
            let b = self.cloud.behaviour("drain", Some(&instance.id));
            let f = self.act(b, || ());
            tokio::time::timeout(timeout, f)
                .await
                .unwrap_or_else(|_| Err(Status::deadline_exceeded("drain timed out")))
        })
    }
}

/// The fake store: records in memory; writes fail while `down` is set.
#[derive(Default)]
pub(crate) struct MemStore {
    pub records: Mutex<BTreeMap<String, Record>>,
    pub down: AtomicBool,
    pub saves: AtomicU64,
    /// The controller's claims have lapsed (a shared store's `may_act` says no).
    pub deposed: AtomicBool,
}

// === impl MemStore ===

impl MemStore {
    pub(crate) fn get(&self, id: &str) -> Option<Record> {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }
}

impl StorePort for MemStore {
    fn may_act(&self) -> bool {
        !self.deposed.load(Ordering::SeqCst)
    }

    fn load_all(&self) -> BoxFuture<'_, Result<Vec<(String, Record)>, String>> {
        Box::pin(async {
            Ok(self
                .records
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect())
        })
    }

    fn save(&self, id: &str, record: Record, _: u64) -> BoxFuture<'_, Result<(), String>> {
        let id = id.to_string();
        Box::pin(async move {
            if self.down.load(Ordering::SeqCst) {
                return Err("fake disk full".to_string());
            }
            self.saves.fetch_add(1, Ordering::SeqCst);
            self.records
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id, record);
            Ok(())
        })
    }

    fn remove(&self, id: &str, _: u64) -> BoxFuture<'_, Result<(), String>> {
        let id = id.to_string();
        Box::pin(async move {
            if self.down.load(Ordering::SeqCst) {
                return Err("fake disk full".to_string());
            }
            self.records
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
            Ok(())
        })
    }
}

/// A fake world that outlives controllers: the cloud, the store and the clock (a restarted
/// controller reads the same time).
pub(crate) struct Rig {
    pub cloud: Arc<Cloud>,
    pub store: Arc<MemStore>,
    pub clock: Arc<dyn Clock>,
}

// === impl Rig ===

impl Rig {
    pub(crate) fn new() -> Self {
        Self::over(Cloud::new())
    }

    /// A rig whose instance plugin watches (changes pushed, listings numbered).
    pub(crate) fn watched() -> Self {
        Self::over(Cloud::watched())
    }

    fn over(cloud: Arc<Cloud>) -> Self {
        Self {
            cloud,
            store: Arc::default(),
            clock: Arc::new(TokioClock::starting_at(Time::from_secs(1_000_000))),
        }
    }

    /// The ports a controller uses.
    pub(crate) fn ports(&self) -> Ports {
        let plugins = Arc::new(FakePlugins {
            cloud: Arc::clone(&self.cloud),
            clock: Arc::clone(&self.clock),
        });
        Ports {
            instance: plugins.clone(),
            flavor: plugins,
            store: Arc::clone(&self.store) as Arc<dyn StorePort>,
            clock: Arc::clone(&self.clock),
        }
    }
}
