//! The live instances, their directories and their change events.
//!
//! # Guarantees
//! - An instance is listed from the moment Provision returns until Destroy removes it or its
//!   process ends for good; leaving the list is announced exactly once (GONE).
//! - Provision is idempotent by the `infrakit.provision.token` tag: a retry returns the live
//!   instance made with that token.
//! - Every change to a record is written to `instance.json` (atomically) while the slot is
//!   locked, so the file always holds the newest state and a restarted plugin knows everything.
//! - Ended instances keep their directory (log, record with how they ended) for post-mortem,
//!   until Destroy or until more than `keep_exited` ended ones exist (oldest pruned first).

use crate::record::{self, Exit, Layout, Record, RunSpec};
use crate::slot::{Phase, Slot, leader_of};
use crate::spawn;
use crate::supervisor::{self, Current};
use infrakit_model::tags;
use infrakit_runtime::turns::Turns;
use infrakit_runtime::watch::EventBroadcast;
use infrakit_spi::instance::v1::{InstanceDescription, InstanceEvent, InstanceEventKind};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::broadcast;

/// How many change events a slow watcher may fall behind before it is told to resync.
pub const EVENT_BUFFER: usize = 8192;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No live instance has this ID.
    #[error("no instance {0:?}")]
    NotFound(String),
    /// A file or directory could not be read or written, or the process could not start.
    #[error("{what} (instance {id})")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The instance.
        id: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A background task failed (should not happen).
    #[error("a background task failed")]
    Task(#[source] tokio::task::JoinError),
}

/// What Provision asks for, already checked.
#[derive(Clone, Debug)]
pub struct NewInstance {
    /// The tags.
    pub tags: BTreeMap<String, String>,
    /// The pet identity.
    pub logical_id: Option<String>,
    /// What to run.
    pub run: RunSpec,
    /// The Init script, when `run.command` is `None`.
    pub script: Option<String>,
}

/// The live instances and the directory.
#[derive(Debug)]
pub struct Store {
    layout: Layout,
    index: Mutex<HashMap<String, Arc<Slot>>>,
    events: EventBroadcast,
    tokens: Turns,
    keep_exited: usize,
}

// === impl Store ===

impl Store {
    /// Opens (creating if needed) the directory and takes over the instances in it: a process
    /// that still runs (same pid and start time) is re-adopted; one that ended while the plugin
    /// was down is restarted per its policy, or recorded as ended. Must run inside the runtime.
    pub fn open(dir: &Path, keep_exited: usize) -> std::io::Result<Arc<Self>> {
        std::fs::create_dir_all(dir)?;
        let store = Arc::new(Self {
            layout: Layout::new(dir),
            index: Mutex::new(HashMap::new()),
            events: EventBroadcast::new(EVENT_BUFFER),
            tokens: Turns::new(),
            keep_exited,
        });
        for id in store.layout.scan_and_clean()? {
            store.take_over(&id);
        }
        store.prune();
        Ok(store)
    }

    /// Where the files are.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The number of live instances.
    pub fn len(&self) -> usize {
        self.index().len()
    }

    /// True when no instance is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Subscribes to change events.
    pub fn subscribe(&self) -> broadcast::Receiver<InstanceEvent> {
        self.events.subscribe()
    }

    /// The change events, numbered: WatchInstances is served from them, and their revision is
    /// what a listing reflects.
    pub fn events(&self) -> &EventBroadcast {
        &self.events
    }

    /// The live instances carrying every given tag.
    pub fn describe(
        &self,
        tags: &HashMap<String, String>,
        with_properties: bool,
    ) -> Vec<InstanceDescription> {
        let slots: Vec<Arc<Slot>> = self.index().values().cloned().collect();
        slots
            .iter()
            .filter_map(|s| {
                let st = s.lock();
                st.record
                    .matches(tags)
                    .then(|| crate::slot::describe(&st, &self.layout, with_properties))
            })
            .collect()
    }

    /// Creates an instance and starts its process; returns its ID as soon as the process is
    /// spawned. A provision token already used by a live instance returns that instance.
    pub async fn provision(self: Arc<Self>, new: NewInstance) -> Result<String, StoreError> {
        let Some(token) = new.tags.get(tags::PROVISION_TOKEN).cloned() else {
            return self.provision_new(new).await;
        };
        // Provisions with the same token take turns; others run in parallel.
        let _turn = self.tokens.take(&token).await;
        match self.by_token(&token) {
            Some(id) => {
                tracing::info!(%id, "provision repeated with the same token: returning the existing instance");
                Ok(id)
            }
            None => self.clone().provision_new(new).await,
        }
    }

    async fn provision_new(self: Arc<Self>, new: NewInstance) -> Result<String, StoreError> {
        let store = self.clone();
        let (slot, child) = tokio::task::spawn_blocking(move || store.create(new))
            .await
            .map_err(StoreError::Task)??;
        let id = slot.id.clone();
        self.index().insert(id.clone(), slot.clone());
        self.emit(
            InstanceEventKind::Created,
            Some(slot.describe(&self.layout, false)),
        );
        tokio::spawn(supervisor::supervise(self.clone(), slot, child));
        Ok(id)
    }

    /// Merges `labels` into an instance's tags (the process sees them after a restart).
    pub fn label(&self, id: &str, labels: BTreeMap<String, String>) -> Result<(), StoreError> {
        let slot = self
            .get(id)
            .ok_or_else(|| StoreError::NotFound(id.to_string()))?;
        let desc = {
            let mut st = slot.lock();
            let before = st.record.tags.clone();
            st.record.tags.extend(labels);
            if st.record.tags == before {
                return Ok(());
            }
            if let Err(source) = self.layout.write(&st.record) {
                st.record.tags = before;
                return Err(io("cannot write the instance record", id, source));
            }
            crate::slot::describe(&st, &self.layout, false)
        };
        self.emit(InstanceEventKind::TagsChanged, Some(desc));
        Ok(())
    }

    /// Stops an instance's process tree (SIGTERM, SIGKILL after its grace period) and removes
    /// its directory. An unknown or already ended instance is fine: its directory, if any, goes.
    pub async fn destroy(self: Arc<Self>, id: &str) -> Result<(), StoreError> {
        if !record::valid_id(id) {
            return Ok(()); // Never one of ours, and not a safe path.
        }
        if let Some(slot) = self.get(id) {
            let _one_at_a_time = slot.destroy_lock.lock().await;
            let (leader, grace, desc) = {
                let mut st = slot.lock();
                st.destroying = true;
                st.phase = Phase::Terminating;
                (
                    leader_of(&st.record),
                    std::time::Duration::from_millis(st.record.run.stop_grace_ms),
                    crate::slot::describe(&st, &self.layout, false),
                )
            };
            slot.wake.notify_one();
            self.emit(InstanceEventKind::StateChanged, Some(desc));
            if let Some(leader) = leader {
                let how = leader.stop(grace).await;
                tracing::debug!(%id, ?how, "process group stopped");
            }
            self.unindex(&slot);
        }
        let store = self.clone();
        let owned = id.to_string();
        tokio::task::spawn_blocking(move || store.layout.remove(&owned))
            .await
            .map_err(StoreError::Task)?
            .map_err(|source| io("cannot remove the instance directory", id, source))
    }

    // --- used by the supervisor ---

    /// Starts the process of `slot` again, unless it is being destroyed (`Ok(None)`).
    pub(crate) fn respawn(&self, slot: &Slot) -> Result<Option<Current>, StoreError> {
        let (current, desc) = {
            let mut st = slot.lock();
            if st.destroying {
                return Ok(None);
            }
            let sp = spawn::spawn(&self.layout, &st.record)
                .map_err(|source| io("cannot start the process", &slot.id, source))?;
            st.record.pid = Some(sp.pid);
            st.record.start_time = Some(sp.start_time);
            st.record.started_ms = record::now_ms();
            st.record.restarts += 1;
            st.phase = Phase::Running;
            if let Err(e) = self.layout.write(&st.record) {
                tracing::warn!(id = %slot.id, error = %e, "cannot record the restarted process");
            }
            let current = Current::child(sp);
            (current, crate::slot::describe(&st, &self.layout, false))
        };
        self.emit(InstanceEventKind::StateChanged, Some(desc));
        Ok(Some(current))
    }

    /// Marks `slot` as waiting to be started again.
    pub(crate) fn waiting(&self, slot: &Slot) {
        let desc = {
            let mut st = slot.lock();
            if st.destroying {
                return;
            }
            st.phase = Phase::Waiting;
            crate::slot::describe(&st, &self.layout, false)
        };
        self.emit(InstanceEventKind::StateChanged, Some(desc));
    }

    /// Records that the instance of `slot` ended for good and reports it gone (unless it is
    /// being destroyed, which reports it itself). Returns false when Destroy has it.
    pub(crate) fn ended(&self, slot: &Arc<Slot>, exit: Exit) -> bool {
        {
            let mut st = slot.lock();
            if st.destroying {
                return false;
            }
            tracing::info!(id = %slot.id, code = ?exit.code, signal = ?exit.signal, reason = %exit.reason, "instance ended");
            st.record.exited = Some(exit);
            if let Err(e) = self.layout.write(&st.record) {
                tracing::warn!(id = %slot.id, error = %e, "cannot record how the instance ended");
            }
        }
        self.unindex(slot);
        self.prune();
        true
    }

    // --- internals ---

    fn index(&self) -> MutexGuard<'_, HashMap<String, Arc<Slot>>> {
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self, id: &str) -> Option<Arc<Slot>> {
        self.index().get(id).cloned()
    }

    fn by_token(&self, token: &str) -> Option<String> {
        self.index()
            .values()
            .find(|s| {
                s.lock()
                    .record
                    .tags
                    .get(tags::PROVISION_TOKEN)
                    .map(String::as_str)
                    == Some(token)
            })
            .map(|s| s.id.clone())
    }

    /// Removes `slot` from the index and announces it gone, once.
    fn unindex(&self, slot: &Arc<Slot>) {
        let removed = {
            let mut index = self.index();
            match index.get(&slot.id) {
                Some(s) if Arc::ptr_eq(s, slot) => index.remove(&slot.id),
                _ => None,
            }
        };
        if removed.is_some() {
            self.emit(
                InstanceEventKind::Gone,
                Some(slot.describe(&self.layout, false)),
            );
        }
    }

    /// Makes the directory and files of a new instance and spawns its process (blocking).
    fn create(&self, new: NewInstance) -> Result<(Arc<Slot>, Current), StoreError> {
        let id = loop {
            let id = record::new_id();
            match self.layout.create(&id) {
                Ok(()) => break id,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(source) => {
                    return Err(io("cannot create the instance directory", &id, source));
                }
            }
        };
        let result = self.start_new(&id, new);
        if result.is_err()
            && let Err(e) = self.layout.remove(&id)
        {
            tracing::warn!(%id, error = %e, "cannot remove the directory of an instance that failed to start");
        }
        result
    }

    fn start_new(&self, id: &str, new: NewInstance) -> Result<(Arc<Slot>, Current), StoreError> {
        if let Some(script) = &new.script {
            self.layout
                .write_script(id, script)
                .map_err(|source| io("cannot write the Init script", id, source))?;
        }
        let now = record::now_ms();
        let mut rec = Record {
            id: id.to_string(),
            logical_id: new.logical_id,
            tags: new.tags,
            run: new.run,
            pid: None,
            start_time: None,
            restarts: 0,
            created_ms: now,
            started_ms: now,
            exited: None,
        };
        // Written before the spawn, so a crash in between leaves a known, ended instance.
        self.layout
            .write(&rec)
            .map_err(|source| io("cannot write the instance record", id, source))?;
        let sp = spawn::spawn(&self.layout, &rec)
            .map_err(|source| io("cannot start the process", id, source))?;
        rec.pid = Some(sp.pid);
        rec.start_time = Some(sp.start_time);
        if let Err(source) = self.layout.write(&rec) {
            let current = Current::child(sp);
            if let Some(l) = current.leader() {
                // Not recorded means not ours after a restart: do not leave it running.
                l.signal(rustix::process::Signal::KILL);
            }
            return Err(io("cannot write the instance record", id, source));
        }
        tracing::info!(%id, pid = sp.pid, "provisioned");
        Ok((Arc::new(Slot::new(rec, Phase::Running)), Current::child(sp)))
    }

    /// Takes over the instance in directory `id` at start.
    fn take_over(self: &Arc<Self>, id: &str) {
        let mut rec = match self.layout.read(id) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(%id, error = %e, "ignoring an instance directory without a valid record");
                return;
            }
        };
        if rec.exited.is_some() {
            return;
        }
        rec.id = id.to_string();
        let leader = leader_of(&rec);
        if let Some(l) = leader.filter(|l| l.alive()) {
            tracing::info!(%id, pid = l.pid, "re-adopted a running instance");
            self.insert_and_supervise(rec, Phase::Running, Current::Adopted(l));
        } else if rec.run.restart.restarts_after(None) {
            tracing::info!(%id, "the process ended while the plugin was not running: restarting it");
            self.insert_and_supervise(rec, Phase::Waiting, Current::Ended(leader));
        } else {
            tracing::info!(%id, "the process ended while the plugin was not running: reporting it gone");
            rec.exited = Some(Exit {
                at_ms: record::now_ms(),
                code: None,
                signal: None,
                reason: "ended while the plugin was not running".to_string(),
            });
            if let Err(e) = self.layout.write(&rec) {
                tracing::warn!(%id, error = %e, "cannot record how the instance ended");
            }
            if let Some(l) = leader {
                let grace = std::time::Duration::from_millis(rec.run.stop_grace_ms);
                tokio::spawn(async move { l.stop(grace).await });
            }
        }
    }

    fn insert_and_supervise(self: &Arc<Self>, rec: Record, phase: Phase, current: Current) {
        let slot = Arc::new(Slot::new(rec, phase));
        self.index().insert(slot.id.clone(), slot.clone());
        tokio::spawn(supervisor::supervise(self.clone(), slot, current));
    }

    /// Removes the directories of ended instances beyond the newest `keep_exited`.
    pub(crate) fn prune(&self) {
        let Ok(ids) = self.layout.scan() else { return };
        let live: std::collections::HashSet<String> = self.index().keys().cloned().collect();
        let mut ended: Vec<(u64, String)> = ids
            .into_iter()
            .filter(|id| !live.contains(id))
            .filter_map(|id| {
                let at = self.layout.read(&id).ok()?.exited?.at_ms;
                Some((at, id))
            })
            .collect();
        ended.sort_unstable_by(|a, b| b.cmp(a));
        for (_, id) in ended.into_iter().skip(self.keep_exited) {
            if let Err(e) = self.layout.remove(&id) {
                tracing::warn!(%id, error = %e, "cannot prune an ended instance's directory");
            }
        }
    }

    fn emit(&self, kind: InstanceEventKind, instance: Option<InstanceDescription>) {
        self.events.emit(kind, instance);
    }
}

fn io(what: &'static str, id: &str, source: std::io::Error) -> StoreError {
    StoreError::Io {
        what,
        id: id.to_string(),
        source,
    }
}
