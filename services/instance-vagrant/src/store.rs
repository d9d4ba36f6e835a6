//! The instances directory plus an in-memory index of it: one entry per instance directory, its
//! phase and tags persisted in the directory, the machine state last observed, and a broadcast
//! of changes for WatchInstances.
//!
//! # Guarantees
//! - An instance is listed from the moment [`Store::insert`] returns until [`Store::remove`];
//!   both emit an event (CREATED, GONE).
//! - Tags and phases are on disk before the call that changed them returns.
//! - One plugin process per instances directory: a second one fails to open it (file lock).

use crate::record::{self, Loaded, Phase, StateRecord, StoredSpec};
use infrakit_runtime::watch::EventBroadcast;
use infrakit_spi::instance::v1::{
    InstanceDescription, InstanceEvent, InstanceEventKind, InstanceState,
};
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;
use tokio::sync::broadcast;

/// The lock file in the instances directory.
pub const LOCK_FILE: &str = ".lock";

/// What the provider last said about an instance's machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Machine {
    /// Not observed yet.
    Unknown,
    /// It runs.
    Running,
    /// It is being created or restarted (e.g. a container in state `created` or `restarting`).
    Pending(String),
    /// It exists but does not run (e.g. a container that exited); the raw state.
    Stopped(String),
    /// It does not exist.
    Absent,
}

/// One instance.
#[derive(Clone, Debug)]
pub struct Entry {
    /// What it was provisioned with.
    pub spec: StoredSpec,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
    /// Its phase.
    pub state: StateRecord,
    /// When this process saw the phase begin (observations older than this are ignored).
    pub phase_at: Instant,
    /// The machine as last observed.
    pub machine: Machine,
    /// The last line of Vagrant's output while it runs.
    pub progress: Option<String>,
}

/// One look at the machines.
#[derive(Clone, Debug)]
pub struct Observation {
    /// When the look started (before the provider was asked).
    pub started: Instant,
    /// The instances the look covers: those missing from `found` are absent.
    pub covered: Vec<String>,
    /// The machines found, by instance ID.
    pub found: HashMap<String, Machine>,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such instance.
    #[error("no instance {0:?}")]
    NotFound(String),
    /// The directory could not be written.
    #[error("cannot write the instance's files: {0}")]
    Io(#[from] io::Error),
}

/// The index of the instances directory.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    entries: Mutex<BTreeMap<String, Entry>>,
    events: EventBroadcast,
    _lock: File,
}

// === impl Entry ===

impl Entry {
    /// The lifecycle state reported to callers.
    pub fn instance_state(&self) -> InstanceState {
        match self.state.phase {
            Phase::Creating => InstanceState::Pending,
            Phase::Destroying => InstanceState::Terminating,
            Phase::Failed => InstanceState::Failed,
            Phase::Running => match self.machine {
                Machine::Pending(_) => InstanceState::Pending,
                Machine::Stopped(_) => InstanceState::Failed,
                Machine::Running | Machine::Unknown | Machine::Absent => InstanceState::Running,
            },
        }
    }

    /// The `State` property: the phase, or `stopped` for a machine that stopped by itself.
    pub fn state_name(&self) -> &'static str {
        match (&self.state.phase, &self.machine) {
            (Phase::Running, Machine::Stopped(_)) => "stopped",
            (Phase::Running, Machine::Pending(_)) => "restarting",
            (p, _) => p.as_str(),
        }
    }

    fn properties(&self, dir: &Path) -> serde_json::Value {
        let machine = match &self.machine {
            Machine::Unknown => "unknown",
            Machine::Running => "running",
            Machine::Absent => "absent",
            Machine::Pending(s) | Machine::Stopped(s) => s.as_str(),
        };
        serde_json::json!({
            "State": self.state_name(),
            "Progress": self.progress.clone().or_else(|| self.state.output.last().cloned()),
            "Output": self.state.output,
            "Since": self.state.since,
            "Provider": self.spec.provider,
            "Machine": machine,
            "Directory": dir.display().to_string(),
        })
    }
}

// === impl Store ===

impl Store {
    /// Opens (creating, mode 0700) the instances directory `root` and reads every instance in
    /// it. Fails if another process holds the directory.
    pub fn open(root: &Path) -> io::Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)?;
        let root = root.canonicalize()?;
        let lock = File::create(root.join(LOCK_FILE))?;
        lock.try_lock().map_err(|_| {
            io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "{} is used by another infrakit-instance-vagrant; give each plugin its own --dir",
                    root.display()
                ),
            )
        })?;
        let mut entries = BTreeMap::new();
        for e in std::fs::read_dir(&root)? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            if !e.file_type()?.is_dir() || !crate::naming::is_instance_id(&name) {
                continue;
            }
            // Temporary files of a write a crash cut short.
            infrakit_model::atomic::remove_leftovers(&e.path())?;
            match record::load(&e.path()) {
                Ok(l) => {
                    entries.insert(name, Self::entry(l));
                }
                Err(err) if err.kind() == io::ErrorKind::NotFound => {
                    tracing::warn!(dir = %e.path().display(), "not an instance directory (no spec.json); ignored");
                }
                Err(err) => return Err(err),
            }
        }
        Ok(Self {
            root,
            entries: Mutex::new(entries),
            events: EventBroadcast::new(1024),
            _lock: lock,
        })
    }

    fn entry(l: Loaded) -> Entry {
        Entry {
            spec: l.spec,
            tags: l.tags,
            state: l.state,
            phase_at: Instant::now(),
            machine: Machine::Unknown,
            progress: None,
        }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Entry>> {
        // A panic while holding the lock leaves consistent data (every update is one assignment).
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The instances directory (absolute).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of instance `id`.
    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// The number of instances.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when there is no instance.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// A copy of instance `id`.
    pub fn get(&self, id: &str) -> Option<Entry> {
        self.lock().get(id).cloned()
    }

    /// The IDs, providers and phases of every instance.
    pub fn list(&self) -> Vec<(String, String, Phase)> {
        self.lock()
            .iter()
            .map(|(id, e)| (id.clone(), e.spec.provider.clone(), e.state.phase))
            .collect()
    }

    /// The instance carrying `token` as its provision token, if any.
    pub fn find_token(&self, token: &str) -> Option<String> {
        self.lock()
            .iter()
            .find(|(_, e)| {
                e.tags
                    .get(infrakit_model::tags::PROVISION_TOKEN)
                    .map(String::as_str)
                    == Some(token)
            })
            .map(|(id, _)| id.clone())
    }

    /// Lists a new instance whose files are written.
    pub fn insert(&self, loaded: Loaded) {
        let id = loaded.spec.id.clone();
        let entry = Self::entry(loaded);
        let desc = self.describe_entry(&id, &entry, false);
        self.lock().insert(id, entry);
        self.emit(InstanceEventKind::Created, desc);
    }

    /// Moves instance `id` to `phase` (persisted), with `output` as its last lines.
    pub fn set_phase(&self, id: &str, phase: Phase, output: Vec<String>) -> Result<(), StoreError> {
        self.transition(id, None, phase, output).map(|_| ())
    }

    /// Moves instance `id` from phase `from` (any when `None`) to `phase` (persisted), with
    /// `output` as its last lines; `Ok(false)`, changing nothing, when it is in another phase
    /// (e.g. a Destroy began while `vagrant up` was finishing).
    pub fn transition(
        &self,
        id: &str,
        from: Option<Phase>,
        phase: Phase,
        output: Vec<String>,
    ) -> Result<bool, StoreError> {
        let state = StateRecord::now(phase, output);
        let mut entries = self.lock();
        let e = entries
            .get_mut(id)
            .ok_or_else(|| StoreError::NotFound(id.to_string()))?;
        if from.is_some_and(|f| f != e.state.phase) {
            return Ok(false);
        }
        record::write_json(&self.root.join(id).join(record::STATE_FILE), &state)?;
        e.state = state;
        e.phase_at = Instant::now();
        e.progress = None;
        let desc = self.describe_entry(id, e, false);
        drop(entries);
        self.emit(InstanceEventKind::StateChanged, desc);
        Ok(true)
    }

    /// Records the last line of Vagrant's output (in memory only).
    pub fn set_progress(&self, id: &str, line: &str) {
        if let Some(e) = self.lock().get_mut(id) {
            e.progress = Some(line.to_string());
        }
    }

    /// Merges `labels` into instance `id`'s tags (persisted).
    pub fn label(&self, id: &str, labels: &BTreeMap<String, String>) -> Result<(), StoreError> {
        let mut entries = self.lock();
        let e = entries
            .get_mut(id)
            .ok_or_else(|| StoreError::NotFound(id.to_string()))?;
        let mut tags = e.tags.clone();
        tags.extend(labels.clone());
        if tags == e.tags {
            return Ok(());
        }
        record::write_json(&self.root.join(id).join(record::TAGS_FILE), &tags)?;
        e.tags = tags;
        let desc = self.describe_entry(id, e, false);
        drop(entries);
        self.emit(InstanceEventKind::TagsChanged, desc);
        Ok(())
    }

    /// Unlists instance `id` (its directory is the caller's business).
    pub fn remove(&self, id: &str) -> Option<Entry> {
        let e = self.lock().remove(id)?;
        let desc = self.describe_entry(id, &e, false);
        self.emit(InstanceEventKind::Gone, desc);
        Some(e)
    }

    /// Applies an observation; returns the running instances whose machine is gone (they are
    /// unlisted, with a GONE event; their directories are the caller's to clean up).
    pub fn observe(&self, obs: &Observation) -> Vec<String> {
        let mut gone = Vec::new();
        let mut changed = Vec::new();
        let mut entries = self.lock();
        for id in &obs.covered {
            let Some(e) = entries.get_mut(id) else {
                continue;
            };
            // An observation that began before the phase did may predate the machine.
            if obs.started < e.phase_at {
                continue;
            }
            let machine = obs.found.get(id).cloned().unwrap_or(Machine::Absent);
            if e.state.phase == Phase::Running && machine == Machine::Absent {
                gone.push(id.clone());
                continue;
            }
            let before = e.instance_state();
            e.machine = machine;
            if e.instance_state() != before {
                changed.push(self.describe_entry(id, e, false));
            }
        }
        let mut removed = Vec::new();
        for id in &gone {
            if let Some(e) = entries.remove(id) {
                removed.push(self.describe_entry(id, &e, false));
            }
        }
        drop(entries);
        for d in changed {
            self.emit(InstanceEventKind::StateChanged, d);
        }
        for d in removed {
            self.emit(InstanceEventKind::Gone, d);
        }
        gone
    }

    /// The instances carrying every tag in `tags`.
    pub fn describe(
        &self,
        tags: &HashMap<String, String>,
        with_properties: bool,
    ) -> Vec<InstanceDescription> {
        self.lock()
            .iter()
            .filter(|(_, e)| tags.iter().all(|(k, v)| e.tags.get(k) == Some(v)))
            .map(|(id, e)| self.describe_entry(id, e, with_properties))
            .collect()
    }

    fn describe_entry(&self, id: &str, e: &Entry, with_properties: bool) -> InstanceDescription {
        InstanceDescription {
            id: id.to_string(),
            logical_id: e.spec.logical_id.clone(),
            tags: e.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            properties: if with_properties {
                serde_json::to_vec(&e.properties(&self.root.join(id))).unwrap_or_default()
            } else {
                Vec::new()
            },
            state: e.instance_state() as i32,
        }
    }

    /// Changes from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<InstanceEvent> {
        self.events.subscribe()
    }

    /// The change events, numbered: WatchInstances is served from them, and their revision is
    /// what a listing reflects.
    pub fn events(&self) -> &EventBroadcast {
        &self.events
    }

    fn emit(&self, kind: InstanceEventKind, instance: InstanceDescription) {
        self.events.emit(kind, Some(instance));
    }
}

#[cfg(test)]
mod tests;
