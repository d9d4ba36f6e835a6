//! The instances of one working directory: their sidecars and Terraform files on disk, an
//! in-memory index that answers DescribeInstances at once, and change events.
//!
//! # Guarantees
//! - Every file is written atomically, the sidecar before the Terraform file, so each file the
//!   plugin made can be rendered again (after a crash, or when someone deleted it).
//! - An instance's Terraform file is a pure function of its sidecar (see [`crate::render`]); a
//!   cycle rewrites files that differ. A live instance's file deleted by hand is taken as a
//!   request to destroy it: it is replaced by its `removed` blocks, so nothing leaks.
//! - Only instances with a sidecar are listed, labelled or destroyed; other files in the working
//!   directory (providers, variables) are left alone.

use crate::disk::{self, IoError};
use crate::judge::{self, ApplyVerdict, PlanVerdict};
use crate::names;
use crate::record::{MAX_ATTEMPTS, Phase, Record};
use crate::render::{self, Rendered};
use crate::terraform::summarize;
use crate::tfjson::{Diagnostic, PlanView, Snapshot};
use infrakit_model::tags::PROVISION_TOKEN;
use infrakit_runtime::watch::EventBroadcast;
use infrakit_spi::instance::v1::{
    InstanceDescription, InstanceEvent, InstanceEventKind, InstanceState,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use tokio::sync::broadcast;

/// How many change events a slow watcher may fall behind before it is told to resync.
pub const EVENT_BUFFER: usize = 4096;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No instance has this ID.
    #[error("no instance {0:?}")]
    NotFound(String),
    /// An instance with this ID exists already.
    #[error("instance {0:?} exists already")]
    Exists(String),
    /// The instance's Properties can no longer be rendered, so the plugin cannot destroy it.
    #[error(
        "instance {0:?} cannot be destroyed by the plugin: its Properties are no longer valid; destroy it with terraform and remove its files by hand"
    )]
    Unrenderable(String),
    /// A file could not be read or written.
    #[error(transparent)]
    Io(#[from] IoError),
    /// A sidecar could not be encoded (should not happen: records are plain data).
    #[error("cannot encode the sidecar of {0:?}")]
    Encode(String, #[source] serde_json::Error),
}

/// One indexed instance.
#[derive(Clone, Debug)]
struct Entry {
    record: Record,
    /// `None` when the record cannot be rendered (then `record.broken` says why).
    rendered: Option<Rendered>,
    /// Bumped whenever the instance's Terraform file changes.
    rev: u64,
    /// Whether the plugin has written (or found) its Terraform file.
    file_written: bool,
    /// Why Terraform says it is broken, as of the last plan or apply.
    observed: Option<String>,
    /// The main resource's attributes in the last state seen.
    values: Option<serde_json::Value>,
}

/// What a cycle works on: the revision of every instance's file when the cycle began.
#[derive(Clone, Debug, Default)]
pub struct CycleView {
    /// Instance ID to file revision.
    pub revs: BTreeMap<String, u64>,
    /// The resource types in use (a new one needs `terraform init`).
    pub types: BTreeSet<String>,
}

#[derive(Debug)]
struct Inner {
    entries: BTreeMap<String, Entry>,
}

// === impl Inner ===

impl Inner {
    /// The instance (not being destroyed) provisioned with this provision token, if any.
    fn by_token(&self, token: &str) -> Option<String> {
        self.entries
            .values()
            .find(|e| {
                e.record.phase != Phase::Destroying
                    && e.record.tags.get(PROVISION_TOKEN).map(String::as_str) == Some(token)
            })
            .map(|e| e.record.id.clone())
    }
}

/// The working directory and its index.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    meta: PathBuf,
    sidecars: PathBuf,
    inner: Mutex<Inner>,
    events: EventBroadcast,
    revs: AtomicU64,
}

/// Renders a record (parsing its Properties again).
pub fn render_record(r: &Record) -> Result<Rendered, String> {
    let props =
        crate::properties::parse(&r.properties, "$.properties").map_err(|v| v.to_string())?;
    render::render(
        &props,
        &render::Instance {
            id: &r.id,
            logical_id: r.logical_id.as_deref(),
            tags: &r.tags,
            init: &r.init,
        },
        "$.properties",
    )
    .map_err(|v| v.to_string())
}

// === impl Entry ===

impl Entry {
    fn failure(&self) -> Option<&str> {
        self.record
            .broken
            .as_deref()
            .or(self.record.gave_up.as_deref())
            .or(self.observed.as_deref())
    }

    fn state(&self) -> InstanceState {
        match self.record.phase {
            Phase::Destroying => InstanceState::Terminating,
            _ if self.failure().is_some() => InstanceState::Failed,
            Phase::Pending => InstanceState::Pending,
            Phase::Applied => InstanceState::Running,
        }
    }

    fn describe(&self, with_properties: bool) -> InstanceDescription {
        let properties = if with_properties {
            let v = serde_json::json!({
                "address": self.rendered.as_ref().map(|r| r.address.clone()),
                "phase": self.record.phase,
                "problem": self.failure(),
                "values": self.values,
            });
            serde_json::to_vec(&v).unwrap_or_default()
        } else {
            Vec::new()
        };
        InstanceDescription {
            id: self.record.id.clone(),
            logical_id: self.record.logical_id.clone(),
            tags: self
                .record
                .tags
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            properties,
            state: self.state() as i32,
        }
    }

    /// What its Terraform file must be.
    fn desired_file(&self) -> Desired<'_> {
        let Some(r) = self.rendered.as_ref() else {
            // Its Properties cannot be rendered any more: leave its file to the operator.
            return Desired::Leave;
        };
        if self.record.broken.is_some() {
            return Desired::Absent;
        }
        Desired::Content(match self.record.phase {
            Phase::Destroying => &r.removal,
            _ => &r.file,
        })
    }
}

/// What an instance's Terraform file must be.
enum Desired<'a> {
    /// This content.
    Content(&'a serde_json::Value),
    /// No file (Terraform rejected it).
    Absent,
    /// Whatever it is (the plugin cannot render it).
    Leave,
}

// === impl Store ===

impl Store {
    /// Opens (creating if needed) the working directory and loads every sidecar in it.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let meta = dir.join(names::META_DIR);
        let sidecars = meta.join("instances");
        for d in [dir, &meta, &sidecars] {
            disk::create_dir(d)?;
        }
        for d in [dir, &sidecars] {
            disk::remove_leftovers(d)?;
        }
        let store = Self {
            dir: dir.to_path_buf(),
            meta,
            sidecars,
            inner: Mutex::new(Inner {
                entries: BTreeMap::new(),
            }),
            events: EventBroadcast::new(EVENT_BUFFER),
            revs: AtomicU64::new(0),
        };
        store.load()?;
        Ok(store)
    }

    fn load(&self) -> Result<(), StoreError> {
        let mut inner = self.lock();
        for name in disk::list(&self.sidecars)? {
            let Some(id) = name
                .strip_suffix(".json")
                .filter(|i| names::is_instance_id(i))
            else {
                continue;
            };
            let path = self.sidecars.join(&name);
            let Some(bytes) = disk::read_opt(&path)? else {
                continue;
            };
            let mut record: Record = match serde_json::from_slice(&bytes) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "ignoring a sidecar that cannot be read");
                    continue;
                }
            };
            record.id = id.to_string();
            let rendered = match render_record(&record) {
                Ok(r) => Some(r),
                Err(problem) => {
                    tracing::warn!(id, %problem, "an instance's Properties are no longer valid");
                    record.broken = Some(format!("its Properties are not valid: {problem}"));
                    None
                }
            };
            // A created instance always had its file: if it is missing, it was deleted by hand
            // (and is destroyed). A pending one may have crashed before its file was written.
            let file_written =
                record.phase == Phase::Applied || self.dir.join(names::instance_file(id)).exists();
            let rev = self.next_rev();
            inner.entries.insert(
                id.to_string(),
                Entry {
                    record,
                    rendered,
                    rev,
                    file_written,
                    observed: None,
                    values: None,
                },
            );
        }
        for name in disk::list(&self.dir)? {
            if let Some(id) = names::id_of_file(&name)
                && !inner.entries.contains_key(id)
            {
                tracing::warn!(
                    file = %self.dir.join(&name).display(),
                    "an instance file without a sidecar: Terraform applies it, but the plugin does not manage it"
                );
            }
        }
        Ok(())
    }

    /// The working directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The plugin's own directory inside it (`.infrakit`).
    pub fn meta_dir(&self) -> &Path {
        &self.meta
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

    /// The number of instances.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// True when there is no instance.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The instance (not being destroyed) provisioned with this provision token, if any.
    pub fn find_by_token(&self, token: &str) -> Option<String> {
        self.lock().by_token(token)
    }

    /// Adds a new instance: its sidecar, then its file. It is listed (PENDING) from now on.
    /// Returns its ID; when an instance (not being destroyed) carries the record's provision
    /// token already, adds nothing and returns that instance's ID (checked under the lock that
    /// adding takes, so concurrent Provisions with one token make one instance).
    pub fn provision(&self, record: Record, rendered: Rendered) -> Result<String, StoreError> {
        let mut inner = self.lock();
        if let Some(token) = record.tags.get(PROVISION_TOKEN)
            && let Some(existing) = inner.by_token(token)
        {
            return Ok(existing);
        }
        let id = record.id.clone();
        if inner.entries.contains_key(&id) {
            return Err(StoreError::Exists(id));
        }
        self.save(&record)?;
        let rev = self.next_rev();
        let mut entry = Entry {
            record,
            rendered: Some(rendered),
            rev,
            file_written: false,
            observed: None,
            values: None,
        };
        self.write_file(&mut entry)?;
        if let Some((name, content)) = entry.rendered.as_ref().and_then(|r| r.pet.as_ref()) {
            self.write_if_changed(&self.dir.join(name), content)?;
        }
        let desc = entry.describe(false);
        inner.entries.insert(id.clone(), entry);
        self.emit(InstanceEventKind::Created, Some(desc));
        Ok(id)
    }

    /// Merges labels into an instance's tags (and its Terraform file).
    pub fn label(&self, id: &str, labels: &BTreeMap<String, String>) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let entry = inner
            .entries
            .get_mut(id)
            .ok_or_else(|| StoreError::NotFound(id.to_string()))?;
        let mut record = entry.record.clone();
        record
            .tags
            .extend(labels.iter().map(|(k, v)| (k.clone(), v.clone())));
        if record == entry.record {
            return Ok(());
        }
        self.save(&record)?;
        entry.record = record;
        if let Ok(r) = render_record(&entry.record) {
            entry.rendered = Some(r);
        }
        self.write_file(entry)?;
        let desc = entry.describe(false);
        self.emit(InstanceEventKind::TagsChanged, Some(desc));
        Ok(())
    }

    /// Starts destroying an instance: its file is replaced by `removed` blocks, and it is listed
    /// as TERMINATING until Terraform has destroyed it. An instance Terraform never saw (its
    /// configuration was rejected) is forgotten at once.
    pub fn destroy(&self, id: &str) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let entry = inner
            .entries
            .get_mut(id)
            .ok_or_else(|| StoreError::NotFound(id.to_string()))?;
        if entry.record.phase == Phase::Destroying {
            return Ok(());
        }
        if entry.record.broken.is_some() && entry.record.phase == Phase::Pending {
            self.forget(&mut inner, id)?;
            return Ok(());
        }
        if entry.rendered.is_none() {
            return Err(StoreError::Unrenderable(id.to_string()));
        }
        self.start_destroying(entry, "destroy requested")?;
        Ok(())
    }

    /// The instances carrying every given tag.
    pub fn describe(
        &self,
        tags: &HashMap<String, String>,
        with_properties: bool,
    ) -> Vec<InstanceDescription> {
        self.lock()
            .entries
            .values()
            .filter(|e| e.record.matches(tags))
            .map(|e| e.describe(with_properties))
            .collect()
    }

    /// Makes the working directory match the sidecars before a cycle: writes missing or
    /// differing files, destroys live instances whose file was deleted by hand, and keeps the
    /// files of rejected instances out. Returns what the cycle works on.
    pub fn prepare_cycle(&self) -> Result<CycleView, StoreError> {
        let mut inner = self.lock();
        let ids: Vec<String> = inner.entries.keys().cloned().collect();
        let mut pets: BTreeMap<String, (u64, serde_json::Value)> = BTreeMap::new();
        for id in ids {
            let Some(entry) = inner.entries.get_mut(&id) else {
                continue;
            };
            if entry.record.broken.is_some()
                && entry.rendered.is_some()
                && entry.record.phase == Phase::Destroying
            {
                // Terraform never had it: nothing to destroy.
                self.forget(&mut inner, &id)?;
                continue;
            }
            let path = self.dir.join(names::instance_file(&id));
            let exists = path.exists();
            let live = entry.record.phase != Phase::Destroying
                && matches!(entry.desired_file(), Desired::Content(_));
            if !exists && entry.file_written && live {
                tracing::warn!(id, file = %path.display(), "the instance's file was deleted by hand; destroying the instance");
                self.start_destroying(entry, "its file was deleted")?;
            } else {
                self.write_file(entry)?;
            }
            if entry.record.phase != Phase::Destroying
                && entry.record.broken.is_none()
                && let Some((name, content)) = entry.rendered.as_ref().and_then(|r| r.pet.as_ref())
            {
                let newer = pets
                    .get(name)
                    .is_none_or(|(at, _)| *at <= entry.record.created_ms);
                if newer {
                    pets.insert(name.clone(), (entry.record.created_ms, content.clone()));
                }
            }
        }
        for (name, (_, content)) in pets {
            self.write_if_changed(&self.dir.join(name), &content)?;
        }
        let mut view = CycleView::default();
        for (id, e) in &inner.entries {
            view.revs.insert(id.clone(), e.rev);
            if let Some(r) = &e.rendered {
                view.types.extend(r.resource_types.iter().cloned());
            }
        }
        Ok(view)
    }

    /// Keeps the files named in `rejected` (file name to Terraform's reason) out of the working
    /// directory: their pending instances are reported FAILED. Returns the names that belong to
    /// no pending instance (those cannot be set aside: the cycle fails).
    pub fn reject(&self, rejected: &BTreeMap<String, String>) -> Result<Vec<String>, StoreError> {
        let mut inner = self.lock();
        let mut others = Vec::new();
        for (file, reason) in rejected {
            let entry = names::id_of_file(file).and_then(|id| inner.entries.get_mut(id));
            match entry {
                Some(e) if e.record.phase == Phase::Pending => {
                    tracing::warn!(id = %e.record.id, %reason, "Terraform rejected the instance's configuration; reporting it FAILED");
                    let mut record = e.record.clone();
                    record.broken = Some(format!("Terraform rejected its configuration: {reason}"));
                    self.save(&record)?;
                    e.record = record;
                    disk::remove(&self.dir.join(file))?;
                    e.file_written = false;
                    let desc = e.describe(false);
                    self.emit(InstanceEventKind::StateChanged, Some(desc));
                }
                _ => others.push(file.clone()),
            }
        }
        Ok(others)
    }

    /// Applies what a refreshed plan says. Returns true when an instance was found lost: its
    /// file now holds `removed` blocks, so the plan is stale and must be made again.
    pub fn after_plan(&self, plan: &PlanView) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        let mut replan = false;
        for entry in inner.entries.values_mut() {
            let Some(address) = entry.rendered.as_ref().map(|r| r.address.clone()) else {
                continue;
            };
            if entry.record.broken.is_some() {
                continue;
            }
            let before = (entry.state(), entry.failure().map(str::to_string));
            match judge::after_plan(entry.record.phase, &entry.record.id, &address, plan) {
                PlanVerdict::Created => {
                    self.set_applied(entry)?;
                }
                PlanVerdict::Lost => {
                    tracing::warn!(id = %entry.record.id, %address, "the instance's resource left Terraform's state (deleted outside Terraform); destroying what is left and reporting it gone");
                    self.start_destroying(entry, "its resource left Terraform's state")?;
                    replan = true;
                    continue;
                }
                PlanVerdict::Failing(why) => entry.observed = Some(why),
                PlanVerdict::Fine => entry.observed = None,
                PlanVerdict::Unknown => {}
            }
            if let Some(r) = plan.prior.resources.get(&address) {
                entry.values = Some(r.values.clone());
            }
            self.emit_if_changed(entry, before);
        }
        Ok(replan)
    }

    /// Applies what the state after an apply says. `applied` holds the error diagnostics of the
    /// apply (empty when it succeeded), or is `None` when no apply ran. A pending instance the
    /// apply did not create counts a failed attempt only when the apply succeeded or blamed
    /// one of its resources (a lock timeout or a stale plan is nobody's fault).
    pub fn after_apply(
        &self,
        state: &Snapshot,
        view: &CycleView,
        applied: Option<&[Diagnostic]>,
    ) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let ids: Vec<String> = inner.entries.keys().cloned().collect();
        for id in ids {
            let Some(entry) = inner.entries.get_mut(&id) else {
                continue;
            };
            let Some(rendered) = entry.rendered.clone() else {
                continue;
            };
            if entry.record.broken.is_some() {
                continue;
            }
            let own_errors: Vec<Diagnostic> = applied
                .unwrap_or_default()
                .iter()
                .filter(|d| {
                    d.address
                        .as_ref()
                        .is_some_and(|a| rendered.owned.contains(a))
                })
                .cloned()
                .collect();
            let problem = (!own_errors.is_empty()).then(|| summarize(&own_errors));
            let problem = problem.as_deref();
            let before = (entry.state(), entry.failure().map(str::to_string));
            let blameless = applied.is_some_and(<[Diagnostic]>::is_empty);
            let included =
                (blameless || problem.is_some()) && view.revs.get(&id) == Some(&entry.rev);
            match judge::after_apply(
                entry.record.phase,
                &rendered.address,
                &rendered.owned,
                state,
                included,
            ) {
                ApplyVerdict::Destroyed => {
                    tracing::info!(id, "destroyed");
                    self.forget(&mut inner, &id)?;
                    continue;
                }
                ApplyVerdict::Created => {
                    entry.observed = None;
                    self.set_applied(entry)?;
                }
                ApplyVerdict::Tainted => {
                    entry.observed = Some(format!(
                        "its creation failed part-way (the resource is tainted){}",
                        problem.map(|p| format!(": {p}")).unwrap_or_default()
                    ));
                }
                ApplyVerdict::NotCreated => {
                    let mut record = entry.record.clone();
                    record.attempts += 1;
                    if record.attempts >= MAX_ATTEMPTS {
                        record.gave_up = Some(format!(
                            "Terraform did not create it in {} applies{}",
                            record.attempts,
                            problem
                                .map(|p| format!(" (last error: {p})"))
                                .unwrap_or_default()
                        ));
                        tracing::warn!(
                            id,
                            attempts = record.attempts,
                            "giving up creating the instance; reporting it FAILED"
                        );
                    }
                    self.save(&record)?;
                    entry.record = record;
                }
                ApplyVerdict::Unchanged => {}
            }
            if let Some(r) = state.resources.get(&rendered.address) {
                entry.values = Some(r.values.clone());
            }
            self.emit_if_changed(entry, before);
        }
        Ok(())
    }

    /// Announces that events may have been lost (watchers must list again).
    pub fn announce_resync(&self) {
        self.emit(InstanceEventKind::Resync, None);
    }

    // --- internals ---

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn next_rev(&self) -> u64 {
        self.revs.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn sidecar_path(&self, id: &str) -> PathBuf {
        self.sidecars.join(format!("{id}.json"))
    }

    fn save(&self, record: &Record) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec_pretty(record)
            .map_err(|e| StoreError::Encode(record.id.clone(), e))?;
        disk::write_atomic(&self.sidecar_path(&record.id), &bytes)?;
        Ok(())
    }

    fn write_if_changed(
        &self,
        path: &Path,
        content: &serde_json::Value,
    ) -> Result<bool, StoreError> {
        let mut bytes = serde_json::to_vec_pretty(content)
            .map_err(|e| StoreError::Encode(path.display().to_string(), e))?;
        bytes.push(b'\n');
        if disk::read_opt(path)?.as_deref() == Some(bytes.as_slice()) {
            return Ok(false);
        }
        disk::write_atomic(path, &bytes)?;
        Ok(true)
    }

    /// Brings an entry's Terraform file in line with its record; bumps its revision when the
    /// content changed.
    fn write_file(&self, entry: &mut Entry) -> Result<(), StoreError> {
        let path = self.dir.join(names::instance_file(&entry.record.id));
        let changed = match entry.desired_file() {
            Desired::Content(content) => {
                let c = content.clone();
                let changed = self.write_if_changed(&path, &c)?;
                entry.file_written = true;
                changed
            }
            Desired::Absent => {
                let existed = path.exists();
                disk::remove(&path)?;
                existed
            }
            Desired::Leave => false,
        };
        if changed {
            entry.rev = self.next_rev();
        }
        Ok(())
    }

    fn start_destroying(&self, entry: &mut Entry, why: &str) -> Result<(), StoreError> {
        let mut record = entry.record.clone();
        record.phase = Phase::Destroying;
        self.save(&record)?;
        entry.record = record;
        self.write_file(entry)?;
        tracing::info!(id = %entry.record.id, why, "destroying");
        let desc = entry.describe(false);
        self.emit(InstanceEventKind::StateChanged, Some(desc));
        Ok(())
    }

    fn set_applied(&self, entry: &mut Entry) -> Result<(), StoreError> {
        if entry.record.phase != Phase::Pending {
            return Ok(());
        }
        let mut record = entry.record.clone();
        record.phase = Phase::Applied;
        record.attempts = 0;
        record.gave_up = None;
        self.save(&record)?;
        entry.record = record;
        tracing::info!(id = %entry.record.id, "created");
        Ok(())
    }

    /// Deletes an instance's files and forgets it.
    fn forget(&self, inner: &mut Inner, id: &str) -> Result<(), StoreError> {
        disk::remove(&self.dir.join(names::instance_file(id)))?;
        disk::remove(&self.sidecar_path(id))?;
        if let Some(e) = inner.entries.remove(id) {
            self.emit(InstanceEventKind::Gone, Some(e.describe(false)));
        }
        Ok(())
    }

    fn emit_if_changed(&self, entry: &Entry, before: (InstanceState, Option<String>)) {
        if (entry.state(), entry.failure().map(str::to_string)) != before {
            self.emit(InstanceEventKind::StateChanged, Some(entry.describe(false)));
        }
    }

    fn emit(&self, kind: InstanceEventKind, instance: Option<InstanceDescription>) {
        self.events.emit(kind, instance);
    }
}

#[cfg(test)]
mod tests;
