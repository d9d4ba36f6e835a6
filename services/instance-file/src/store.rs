//! The instance directory plus an in-memory index kept in sync with it.
//!
//! The files are the source of truth; the index holds only what a listing without Properties
//! and the provision-token lookup need: each instance's ID, tags, logical ID and the inode of
//! its file, in about 400 bytes. Tag keys and the values many instances share (the group ID,
//! the config hash) are one string each ([`Interner`]), so an instance pays for its own
//! strings only (its ID and provision token). Properties and Init stay in the file, which is
//! read when a caller asks for Properties ([`Store::properties`]).
//!
//! # Guarantees
//! - Every write is atomic: a new instance's file is written unnamed (or under a temporary name
//!   in [`STAGING`]) and then linked into place, which also makes ID collisions impossible; a
//!   label replaces the file with [`infrakit_model::atomic::write`].
//! - Instance files are mode 0600: they hold the instance's Properties, which may carry secrets.
//! - Provision is idempotent by the `infrakit.provision.token` tag: the token is checked and the
//!   new file linked under one lock, so two Provisions with one token, sequential or concurrent,
//!   make one instance and both return its ID.
//! - All changes, ours and those made by others to the directory, go through one lock, so the
//!   index always matches the newest version of each file, and each change is announced once.
//! - Instance IDs are random (64 bits), so instances created in the same instant never collide.
//! - A listing's Properties are each instance's file as it is when the listing is made: a file
//!   changed behind the plugin's back shows its new Properties (its tags are indexed from the
//!   change's notification, as before).
//!
//! # Caveats
//! - A new instance's file is not fsynced (a label's is): the file plugin is the demo and test
//!   backend, and converging 0 -> 10,000 instances must stay well under 1.5 s, which one fsync
//!   per instance would not allow. A power loss may forget instances created in the last
//!   seconds; the group controller then sees them missing and provisions them again.

use crate::record::{ID_PREFIX, Record, SUFFIX, StoredSpec, id_of_file_name};
use infrakit_model::tags::{GROUP, PROVISION_TOKEN};
use infrakit_runtime::watch::EventBroadcast;
use infrakit_spi::instance::v1::{
    DescribeInstancesResponse, InstanceDescription, InstanceEvent, InstanceEventKind, InstanceState,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use tokio::sync::broadcast;

/// The sub-directory where files are written before they are linked or renamed into place.
pub const STAGING: &str = ".staging";

/// How many change events a slow watcher may fall behind before it is told to resync.
pub const EVENT_BUFFER: usize = 8192;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No instance has this ID.
    #[error("no instance {0:?}")]
    NotFound(String),
    /// The directory or a file could not be read or written.
    #[error("{what} {path:?}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A record could not be serialised (should not happen: records are plain data).
    #[error("cannot encode instance {0:?}")]
    Encode(String, #[source] serde_json::Error),
    /// An instance file could not be parsed.
    #[error("instance file {0:?} is not valid")]
    Decode(PathBuf, #[source] serde_json::Error),
}

/// An instance's tags, sorted by key. Keys and values are shared with every other instance
/// carrying the same string ([`Interner`]), but for the provision token, which is unique.
type Tags = Box<[(Arc<str>, Arc<str>)]>;

/// One indexed instance: what a listing without Properties shows, and the inode of the file it
/// was read from. Its Properties and Init stay in the file.
#[derive(Debug)]
struct Entry {
    tags: Tags,
    logical_id: Option<Box<str>>,
    ino: u64,
    /// The number of the last rescan that found the file ([`Store::rescan`]).
    seen: AtomicU32,
}

/// The indexed instances, and which instance carries each provision token.
#[derive(Debug, Default)]
struct Index {
    entries: HashMap<Arc<str>, Entry>,
    /// Provision token to instance ID (the first instance seen with it); both strings are the
    /// ones of the instance's entry.
    tokens: HashMap<Arc<str>, Arc<str>>,
    /// Group ID (the `infrakit.group` tag) to its members' IDs: a group controller lists one
    /// group, and that costs the group's size, not the directory's.
    groups: HashMap<Arc<str>, HashSet<Arc<str>>>,
    strings: Interner,
}

/// The tag keys and values in use, one copy of each: thousands of instances carry the same
/// group ID and config hash. A string is forgotten when the last instance carrying it goes.
#[derive(Debug, Default)]
struct Interner {
    strings: HashSet<Arc<str>>,
}

/// The instance directory and its index.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    index: RwLock<Index>,
    events: EventBroadcast,
    /// The number of the last rescan; held while rescanning, so that rescans take turns.
    rescans: Mutex<u32>,
}

// === impl Store ===

impl Store {
    /// Opens (creating if needed) the directory and loads every instance file in it.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            what: "cannot create the instance directory",
            path: dir.to_path_buf(),
            source,
        })?;
        // Files are written in a sub-directory first: the watched directory then sees one
        // notification per new instance (its link) instead of one per step of the write.
        // Whatever a crash left there is garbage.
        let staging = dir.join(STAGING);
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::create_dir_all(&staging).map_err(|source| StoreError::Io {
            what: "cannot create the staging directory",
            path: staging.clone(),
            source,
        })?;
        // Leftovers of a label write cut short by a crash.
        if let Err(e) = infrakit_model::atomic::remove_leftovers(dir) {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot remove temporary files");
        }
        let store = Self {
            dir: dir.to_path_buf(),
            index: RwLock::new(Index::default()),
            events: EventBroadcast::new(EVENT_BUFFER),
            rescans: Mutex::new(0),
        };
        store.rescan();
        Ok(store)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
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
        self.read().entries.len()
    }

    /// True when there is no instance.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Creates an instance from `spec` and returns its ID; when an instance carries the spec's
    /// provision token already, creates nothing and returns that one's.
    pub fn provision(&self, spec: StoredSpec) -> Result<String, StoreError> {
        let token = spec.tags.get(PROVISION_TOKEN).cloned();
        if let Some(existing) = token.as_deref().and_then(|t| self.read().by_token(t)) {
            return Ok(existing);
        }
        let mut record = Record {
            id: String::new(),
            logical_id: spec.logical_id.clone(),
            tags: spec.tags.clone(),
            spec,
            created_ms: now_ms(),
        };
        // The file is written without the lock (provisions write in parallel); only linking
        // it into place and indexing it happen under the lock, so the watcher finds it indexed
        // and never reads it back, and a Provision with the same token that linked first wins.
        loop {
            record.id = format!("{ID_PREFIX}{}", infrakit_runtime::socket::random_hex(8));
            let staged = self.stage(&record)?;
            let path = self.path_of(&record.id);
            let linked = {
                let mut index = self.write();
                if let Some(existing) = token.as_deref().and_then(|t| index.by_token(t)) {
                    drop(index);
                    staged.discard();
                    return Ok(existing);
                }
                let linked = staged.link_to(&path);
                if linked.is_ok() {
                    self.upsert(&mut index, &record, staged.ino);
                }
                linked
            };
            staged.discard();
            match linked {
                Ok(()) => return Ok(record.id),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(source) => {
                    return Err(StoreError::Io {
                        what: "cannot create",
                        path,
                        source,
                    });
                }
            }
        }
    }

    /// Merges `labels` into an instance's tags, in its file and in the index.
    pub fn label(&self, id: &str, labels: &BTreeMap<String, String>) -> Result<(), StoreError> {
        let mut index = self.write();
        if !index.entries.contains_key(id) {
            return Err(StoreError::NotFound(id.to_string()));
        }
        // The rest of the instance (its spec) is only in its file.
        let path = self.path_of(id);
        let mut record = match read_record(&path) {
            Ok(r) => r,
            Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                // Deleted behind our back, and not noticed yet.
                self.remove(&mut index, id);
                return Err(StoreError::NotFound(id.to_string()));
            }
            Err(e) => return Err(e),
        };
        record.id = id.to_string();
        record
            .tags
            .extend(labels.iter().map(|(k, v)| (k.clone(), v.clone())));
        let ino = self.write_replace(&record)?;
        self.upsert(&mut index, &record, ino);
        Ok(())
    }

    /// Removes an instance.
    pub fn destroy(&self, id: &str) -> Result<(), StoreError> {
        let mut index = self.write();
        if !index.entries.contains_key(id) {
            return Err(StoreError::NotFound(id.to_string()));
        }
        let path = self.path_of(id);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(StoreError::Io {
                    what: "cannot remove",
                    path,
                    source,
                });
            }
        }
        self.remove(&mut index, id);
        Ok(())
    }

    /// The instances carrying every given tag, without Properties (see [`Store::properties`]).
    pub fn describe(&self, tags: &HashMap<String, String>) -> Vec<InstanceDescription> {
        self.describe_at(tags).1
    }

    /// The instances carrying every given tag, without Properties, and the revision of the
    /// listing: the sequence of the newest event it reflects (events are emitted under the
    /// index's write lock, after the change, so the revision read under the read lock matches
    /// the entries exactly).
    pub fn describe_at(&self, tags: &HashMap<String, String>) -> (u64, Vec<InstanceDescription>) {
        let index = self.read();
        let revision = self.events.revision();
        // Counted first, so that a listing of 100,000 instances is one allocation of the
        // right size, not a series of doublings.
        let mut listed = Vec::with_capacity(index.matching(tags).count());
        listed.extend(index.matching(tags).map(|(id, e)| e.describe(id)));
        (revision, listed)
    }

    /// Encodes the instances carrying every given tag, without Properties, and the revision of
    /// the listing ([`Store::describe_at`]) into `buf`, as a `DescribeInstancesResponse`: one
    /// encoded response per instance, then one with the revision. Protobuf decodes
    /// concatenated messages as one (repeated fields append), and each instance's description
    /// is dropped as soon as it is encoded: a listing costs its encoded bytes, not a
    /// description (about 600 bytes in many small allocations) per instance first.
    pub fn encode_listing(
        &self,
        tags: &HashMap<String, String>,
        buf: &mut impl prost::bytes::BufMut,
    ) -> Result<(), prost::EncodeError> {
        use prost::Message;
        let index = self.read();
        let revision = self.events.revision();
        let mut one = DescribeInstancesResponse {
            instances: Vec::with_capacity(1),
            revision: 0,
            unchanged: false,
        };
        for (id, e) in index.matching(tags) {
            one.instances.push(e.describe(id));
            one.encode(buf)?;
            one.instances.clear();
        }
        one.revision = revision;
        one.encode(buf)
    }

    /// One instance, without Properties.
    pub fn get(&self, id: &str) -> Option<InstanceDescription> {
        self.read().entries.get(id).map(|e| e.describe(id))
    }

    /// The Properties of instance `id` in a description (its stored spec, as JSON), read from
    /// its file: they are not kept in memory. `None` when the file cannot be read or parsed
    /// (e.g. it was deleted since it was listed).
    pub fn properties(&self, id: &str) -> Option<Vec<u8>> {
        let record = read_record(&self.path_of(id)).ok()?;
        serde_json::to_vec(&record.spec).ok()
    }

    /// Brings the index in line with the file named `file_name` (created, changed or removed by
    /// anyone). Files that are not instance files are ignored.
    pub fn file_changed(&self, file_name: &str) {
        let Some(id) = id_of_file_name(file_name) else {
            return;
        };
        // Most notifications are about our own writes, already indexed: check that under the
        // shared lock, so they do not queue behind (or hold up) provisions.
        if let Ok(meta) = std::fs::metadata(self.path_of(id))
            && self
                .read()
                .entries
                .get(id)
                .is_some_and(|e| e.ino == meta.ino())
        {
            return;
        }
        let mut index = self.write();
        self.refresh(&mut index, id);
    }

    /// Compares the directory listing with the index and fixes every difference. Cheap when
    /// nothing changed: it lists names, marking each indexed instance found, and keeps only the
    /// names of new files; then it checks (stats) only the instances it did not find.
    pub fn rescan(&self) {
        let mut rescans = self.rescans.lock().unwrap_or_else(|e| e.into_inner());
        let Ok(listing) = std::fs::read_dir(&self.dir) else {
            tracing::warn!(dir = %self.dir.display(), "cannot list the instance directory");
            return;
        };
        *rescans = rescans.wrapping_add(1);
        let scan = *rescans;
        let mut new = Vec::new();
        for name in listing.filter_map(Result::ok).map(|e| e.file_name()) {
            let Some(id) = name.to_str().and_then(id_of_file_name) else {
                continue;
            };
            // One short shared lock per name: provisions go on while the directory is listed.
            match self.read().entries.get(id) {
                Some(e) => e.seen.store(scan, Ordering::Relaxed),
                None => new.push(id.to_string()),
            }
        }
        let mut index = self.write();
        // Not found by the listing: gone, or created after the listing passed (refresh stats
        // the file and keeps those).
        let unseen: Vec<Arc<str>> = index
            .entries
            .iter()
            .filter(|(_, e)| e.seen.load(Ordering::Relaxed) != scan)
            .map(|(id, _)| id.clone())
            .collect();
        for id in unseen
            .iter()
            .map(|id| &**id)
            .chain(new.iter().map(String::as_str))
        {
            self.refresh(&mut index, id);
        }
    }

    /// Announces that events may have been lost (watchers must list again).
    pub fn announce_resync(&self) {
        self.emit(InstanceEventKind::Resync, None);
    }

    // --- internals ---

    fn refresh(&self, index: &mut Index, id: &str) {
        let path = self.path_of(id);
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(_) => {
                self.remove(index, id);
                return;
            }
        };
        if index.entries.get(id).is_some_and(|e| e.ino == meta.ino()) {
            return; // Our own write, already indexed.
        }
        match read_record(&path) {
            Ok(mut record) => {
                record.id = id.to_string();
                self.upsert(index, &record, meta.ino());
            }
            Err(e @ StoreError::Decode(..)) => {
                tracing::warn!(file = %path.display(), error = %e, "ignoring an instance file that is not valid");
            }
            Err(_) => self.remove(index, id),
        }
    }

    /// Indexes `record` (read from, or written to, a file of inode `ino`) and announces the
    /// change, if any.
    fn upsert(&self, index: &mut Index, record: &Record, ino: u64) {
        let mut tags = index.strings.tags(&record.tags);
        // One copy of a token: the token map's, when it has the token already (a relabelled
        // instance, or a file rewritten by others).
        if let Ok(i) = tags.binary_search_by(|(k, _)| (**k).cmp(PROVISION_TOKEN))
            && let Some((token, _)) = index.tokens.get_key_value(&*tags[i].1)
        {
            tags[i].1 = token.clone();
        }
        let (id, kind) = match index.entries.get_key_value(record.id.as_str()) {
            None => (
                Arc::from(record.id.as_str()),
                Some(InstanceEventKind::Created),
            ),
            Some((id, e)) if e.tags != tags => (id.clone(), Some(InstanceEventKind::TagsChanged)),
            Some((id, _)) => (id.clone(), None),
        };
        let entry = Entry {
            tags,
            logical_id: record.logical_id.as_deref().map(Box::from),
            ino,
            seen: AtomicU32::new(0),
        };
        if let Some(token) = entry.tag(PROVISION_TOKEN) {
            index
                .tokens
                .entry(token.clone())
                .or_insert_with(|| id.clone());
        }
        let desc = kind.map(|_| entry.describe(&id));
        let group = entry.tag(GROUP).cloned();
        if let Some(old) = index.entries.insert(id.clone(), entry) {
            index.leave_group(&old, &id);
            index.forget(old);
        }
        if let Some(g) = group {
            index.groups.entry(g).or_default().insert(id);
        }
        if let Some(kind) = kind {
            self.emit(kind, desc);
        }
    }

    fn remove(&self, index: &mut Index, id: &str) {
        if let Some((id, e)) = index.entries.remove_entry(id) {
            let desc = e.describe(&id);
            if let Some(token) = e.tag(PROVISION_TOKEN)
                && index.tokens.get(token).is_some_and(|t| *t == id)
            {
                index.tokens.remove(token);
            }
            index.leave_group(&e, &id);
            index.forget(e);
            self.emit(InstanceEventKind::Gone, Some(desc));
        }
    }

    fn emit(&self, kind: InstanceEventKind, instance: Option<InstanceDescription>) {
        self.events.emit(kind, instance);
    }

    fn path_of(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}{SUFFIX}"))
    }

    fn tmp_path(&self) -> PathBuf {
        self.dir
            .join(STAGING)
            .join(infrakit_runtime::socket::random_hex(8))
    }

    fn encode(record: &Record) -> Result<Vec<u8>, StoreError> {
        serde_json::to_vec_pretty(record).map_err(|e| StoreError::Encode(record.id.clone(), e))
    }

    /// Writes `record` to a file that has no name yet: an unnamed `O_TMPFILE` in the
    /// directory where the file system supports it (then linking it is the only change to the
    /// directory, and the only notification), else a file in [`STAGING`].
    fn stage(&self, record: &Record) -> Result<Staged, StoreError> {
        let bytes = Self::encode(record)?;
        match open_unnamed(&self.dir) {
            Ok(file) => {
                let ino = write_all(&file, &bytes).map_err(io("cannot write in", &self.dir))?;
                return Ok(Staged {
                    file: Some(file),
                    path: None,
                    ino,
                });
            }
            Err(e) if unnamed_unsupported(&e) => {}
            Err(e) => return Err(io("cannot create a file in", &self.dir)(e)),
        }
        let tmp = self.tmp_path();
        let file = {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(infrakit_model::atomic::PRIVATE)
                .open(&tmp)
                .map_err(io("cannot create", &tmp))?
        };
        match write_all(&file, &bytes) {
            Ok(ino) => Ok(Staged {
                file: None,
                path: Some(tmp),
                ino,
            }),
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(io("cannot write", &tmp)(e))
            }
        }
    }

    /// Replaces an existing file atomically and durably (mode 0600). Returns the new inode.
    fn write_replace(&self, record: &Record) -> Result<u64, StoreError> {
        let path = self.path_of(&record.id);
        infrakit_model::atomic::write(&path, &Self::encode(record)?)
            .map(|meta| meta.ino())
            .map_err(|e| StoreError::Io {
                what: e.what,
                path: e.path,
                source: e.source,
            })
    }

    fn read(&self) -> RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(|e| e.into_inner())
    }
}

// === impl Index ===

impl Index {
    /// The ID of the instance provisioned with `token`, if it is still here.
    fn by_token(&self, token: &str) -> Option<String> {
        self.tokens.get(token).map(|id| id.to_string())
    }

    /// The instances carrying every tag in `tags`: the members of the group when `tags` names
    /// one, else every instance, filtered.
    fn matching<'a>(
        &'a self,
        tags: &'a HashMap<String, String>,
    ) -> Box<dyn Iterator<Item = (&'a Arc<str>, &'a Entry)> + 'a> {
        match tags.get(GROUP) {
            Some(g) => Box::new(
                self.groups
                    .get(g.as_str())
                    .into_iter()
                    .flatten()
                    .filter_map(|id| self.entries.get_key_value(id))
                    .filter(|(_, e)| e.matches(tags)),
            ),
            None => Box::new(self.entries.iter().filter(|(_, e)| e.matches(tags))),
        }
    }

    /// Takes instance `id` (whose entry `e` was) out of its group's members.
    fn leave_group(&mut self, e: &Entry, id: &str) {
        let Some(g) = e.tag(GROUP) else {
            return;
        };
        if let Some(members) = self.groups.get_mut(g) {
            members.remove(id);
            if members.is_empty() {
                self.groups.remove(g);
            }
        }
    }

    /// Lets go of a removed or replaced entry's strings.
    fn forget(&mut self, entry: Entry) {
        for (k, v) in Vec::from(entry.tags) {
            self.strings.release(k);
            self.strings.release(v);
        }
    }
}

// === impl Entry ===

impl Entry {
    /// The value of tag `key`.
    fn tag(&self, key: &str) -> Option<&Arc<str>> {
        self.tags
            .binary_search_by(|(k, _)| (**k).cmp(key))
            .ok()
            .map(|i| &self.tags[i].1)
    }

    /// True when every given tag is on this instance.
    fn matches(&self, tags: &HashMap<String, String>) -> bool {
        tags.iter()
            .all(|(k, v)| self.tag(k).is_some_and(|t| **t == **v))
    }

    /// The instance's description, without Properties.
    fn describe(&self, id: &str) -> InstanceDescription {
        InstanceDescription {
            id: id.to_string(),
            logical_id: self.logical_id.as_deref().map(str::to_string),
            tags: self
                .tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            properties: Vec::new(),
            state: InstanceState::Running as i32,
        }
    }
}

// === impl Interner ===

impl Interner {
    /// The shared copy of `s`.
    fn get(&mut self, s: &str) -> Arc<str> {
        if let Some(shared) = self.strings.get(s) {
            return shared.clone();
        }
        let shared: Arc<str> = Arc::from(s);
        self.strings.insert(shared.clone());
        shared
    }

    /// `tags` with shared strings, sorted by key (a `BTreeMap` iterates in key order). The
    /// provision token is unique to its instance: it is not kept in the interner.
    fn tags(&mut self, tags: &BTreeMap<String, String>) -> Tags {
        tags.iter()
            .map(|(k, v)| {
                let v = if k == PROVISION_TOKEN {
                    Arc::from(v.as_str())
                } else {
                    self.get(v)
                };
                (self.get(k), v)
            })
            .collect()
    }

    /// Drops `s`, and forgets its shared copy when nobody else holds it.
    fn release(&mut self, s: Arc<str>) {
        let only_user = self
            .strings
            .get(&*s)
            .is_some_and(|shared| Arc::ptr_eq(shared, &s) && Arc::strong_count(&s) == 2);
        if only_user {
            self.strings.remove(&*s);
        }
    }
}

/// Reads and parses the instance file at `path`.
fn read_record(path: &Path) -> Result<Record, StoreError> {
    let bytes = std::fs::read(path).map_err(io("cannot read", path))?;
    serde_json::from_slice(&bytes).map_err(|e| StoreError::Decode(path.to_path_buf(), e))
}

/// Turns an I/O error about `path` into a [`StoreError`] saying `what` failed.
fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.to_path_buf();
    move |source| StoreError::Io { what, path, source }
}

/// A fully written file waiting to be linked into place.
struct Staged {
    /// An unnamed file (`O_TMPFILE`), or
    file: Option<std::fs::File>,
    /// a file in the staging directory.
    path: Option<PathBuf>,
    /// Its inode.
    ino: u64,
}

impl Staged {
    /// Gives the file the name `path`; fails with `AlreadyExists` if the name is taken.
    fn link_to(&self, path: &Path) -> std::io::Result<()> {
        use std::os::fd::AsRawFd;
        match (&self.file, &self.path) {
            (Some(f), _) => rustix::fs::linkat(
                rustix::fs::CWD,
                format!("/proc/self/fd/{}", f.as_raw_fd()),
                rustix::fs::CWD,
                path,
                rustix::fs::AtFlags::SYMLINK_FOLLOW,
            )
            .map_err(std::io::Error::from),
            (None, Some(tmp)) => std::fs::hard_link(tmp, path),
            (None, None) => Err(std::io::Error::other("nothing was staged")),
        }
    }

    /// Drops the staged name, if it has one (an unnamed file vanishes when closed).
    fn discard(self) {
        if let Some(tmp) = &self.path {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

/// Opens an unnamed file in `dir` (`O_TMPFILE`), mode 0600 (it will hold Properties).
///
/// This is the fast path of Provision and deliberately not [`infrakit_model::atomic::write`]:
/// it gives the same atomicity (the file appears complete, by one `linkat`) and the same mode,
/// but no fsync, so that thousands of instances are created in well under a second (see the
/// module's caveats).
fn open_unnamed(dir: &Path) -> std::io::Result<std::fs::File> {
    use rustix::fs::{Mode, OFlags};
    let fd = rustix::fs::openat(
        rustix::fs::CWD,
        dir,
        OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC,
        Mode::from_bits_truncate(infrakit_model::atomic::PRIVATE),
    )?;
    Ok(std::fs::File::from(fd))
}

/// Whether the file system cannot make unnamed files.
fn unnamed_unsupported(e: &std::io::Error) -> bool {
    matches!(
        rustix::io::Errno::from_io_error(e),
        Some(rustix::io::Errno::OPNOTSUPP | rustix::io::Errno::ISDIR | rustix::io::Errno::INVAL)
    )
}

/// Writes `bytes` to `file`; returns its inode.
fn write_all(mut file: &std::fs::File, bytes: &[u8]) -> std::io::Result<u64> {
    use std::io::Write;
    file.write_all(bytes)?;
    Ok(file.metadata()?.ino())
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(tags: &[(&str, &str)]) -> StoredSpec {
        StoredSpec {
            properties: serde_json::json!({"Note": "x"}),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            init: String::new(),
            logical_id: None,
            attachments: vec![],
        }
    }

    #[test]
    fn many_instances_created_at_once_get_unique_ids() {
        let d = tempfile::tempdir().unwrap();
        let s = std::sync::Arc::new(Store::open(d.path()).unwrap());
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let s = s.clone();
                std::thread::spawn(move || {
                    (0..250)
                        .map(|_| s.provision(spec(&[])).unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut ids: Vec<String> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 1000);
        assert_eq!(
            std::fs::read_dir(d.path()).unwrap().count(),
            1001,
            "the instance files and the staging directory"
        );
        assert_eq!(
            std::fs::read_dir(d.path().join(STAGING)).unwrap().count(),
            0,
            "no temporary file is left"
        );
    }

    #[test]
    fn provisions_racing_with_one_token_make_one_instance() {
        let d = tempfile::tempdir().unwrap();
        let s = std::sync::Arc::new(Store::open(d.path()).unwrap());
        let ids: Vec<String> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let s = s.clone();
                    scope.spawn(move || s.provision(spec(&[(PROVISION_TOKEN, "t")])).unwrap())
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
        assert_eq!(s.len(), 1);
        s.destroy(&ids[0]).unwrap();
        let again = s.provision(spec(&[(PROVISION_TOKEN, "t")])).unwrap();
        assert_ne!(again, ids[0], "a destroyed instance's token is free again");
    }

    #[test]
    fn a_group_s_listing_holds_exactly_its_members_as_they_come_go_and_move() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        let q = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let ids = |pairs: &[(&str, &str)]| -> Vec<String> {
            let mut v: Vec<String> = s.describe(&q(pairs)).into_iter().map(|d| d.id).collect();
            v.sort();
            v
        };
        let sorted = |mut v: Vec<String>| {
            v.sort();
            v
        };
        let a1 = s.provision(spec(&[(GROUP, "a"), ("tier", "web")])).unwrap();
        let a2 = s.provision(spec(&[(GROUP, "a")])).unwrap();
        let b1 = s.provision(spec(&[(GROUP, "b")])).unwrap();
        let loose = s.provision(spec(&[("tier", "web")])).unwrap();
        assert_eq!(ids(&[(GROUP, "a")]), sorted(vec![a1.clone(), a2.clone()]));
        assert_eq!(ids(&[(GROUP, "a"), ("tier", "web")]), vec![a1.clone()]);
        assert_eq!(ids(&[("tier", "web")]), sorted(vec![a1.clone(), loose]));
        assert!(ids(&[(GROUP, "c")]).is_empty());
        // Relabelled into another group, destroyed, found gone by a rescan.
        s.label(&a2, &[(GROUP.to_string(), "b".to_string())].into())
            .unwrap();
        assert_eq!(ids(&[(GROUP, "a")]), vec![a1.clone()]);
        assert_eq!(ids(&[(GROUP, "b")]), sorted(vec![a2.clone(), b1.clone()]));
        s.destroy(&a1).unwrap();
        assert!(ids(&[(GROUP, "a")]).is_empty());
        std::fs::remove_file(d.path().join(format!("{b1}{SUFFIX}"))).unwrap();
        s.rescan();
        assert_eq!(ids(&[(GROUP, "b")]), vec![a2.clone()]);
        // A restart indexes the groups from the files.
        let reopened = Store::open(d.path()).unwrap();
        let listed: Vec<String> = reopened
            .describe(&q(&[(GROUP, "b")]))
            .into_iter()
            .map(|d| d.id)
            .collect();
        assert_eq!(listed, vec![a2]);
    }

    #[test]
    fn describe_filters_by_all_tags_and_label_rewrites_the_file() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        let a = s
            .provision(spec(&[("group", "g"), ("tier", "web")]))
            .unwrap();
        s.provision(spec(&[("group", "g")])).unwrap();
        let q = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(s.describe(&q(&[("group", "g")])).len(), 2);
        assert_eq!(s.describe(&q(&[("group", "g"), ("tier", "web")])).len(), 1);
        s.label(&a, &[("tier".to_string(), "db".to_string())].into())
            .unwrap();
        let reopened = Store::open(d.path()).unwrap();
        assert_eq!(reopened.get(&a).unwrap().tags["tier"], "db");
    }

    #[test]
    fn a_deleted_file_is_noticed_by_a_rescan_with_one_gone_event() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        let a = s.provision(spec(&[])).unwrap();
        let mut rx = s.subscribe();
        std::fs::remove_file(d.path().join(format!("{a}.json"))).unwrap();
        s.rescan();
        s.rescan();
        let ev = rx.try_recv().unwrap();
        assert_eq!(ev.kind, InstanceEventKind::Gone as i32);
        assert!(rx.try_recv().is_err(), "only one event");
        assert!(s.is_empty());
        assert!(matches!(s.destroy(&a), Err(StoreError::NotFound(_))));
    }

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn an_encoded_listing_decodes_as_the_listing_with_its_revision() {
        use prost::Message;
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        for i in 0..5 {
            let group = if i % 2 == 0 { "a" } else { "b" };
            let token = format!("t-{i}");
            s.provision(spec(&[("group", group), (PROVISION_TOKEN, &token)]))
                .unwrap();
        }
        for query in [q(&[]), q(&[("group", "a")]), q(&[("group", "none")])] {
            let mut buf = Vec::new();
            s.encode_listing(&query, &mut buf).unwrap();
            let mut got = DescribeInstancesResponse::decode(&buf[..]).unwrap();
            let (revision, mut want) = s.describe_at(&query);
            got.instances.sort_by(|a, b| a.id.cmp(&b.id));
            want.sort_by(|a, b| a.id.cmp(&b.id));
            assert_eq!(
                got,
                DescribeInstancesResponse {
                    instances: want,
                    revision,
                    unchanged: false,
                },
                "{query:?}"
            );
        }
    }

    #[test]
    fn shared_tag_strings_are_held_once_and_forgotten_with_the_last_instance() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        let ids: Vec<String> = (0..3)
            .map(|i| {
                let token = format!("t-{i}");
                s.provision(spec(&[("group", "g"), (PROVISION_TOKEN, &token)]))
                    .unwrap()
            })
            .collect();
        s.label(&ids[0], &[("tier".to_string(), "web".to_string())].into())
            .unwrap();
        {
            let index = s.read();
            let group = |id: &str| index.entries[id].tag("group").unwrap().clone();
            assert!(Arc::ptr_eq(&group(&ids[0]), &group(&ids[2])), "one copy");
            // group, g, the token key, tier, web: the tokens themselves are not interned.
            assert_eq!(index.strings.strings.len(), 5);
            // The relabelled instance's token is the token map's copy.
            let (token, _) = index.tokens.get_key_value("t-0").unwrap();
            let entry_token = index.entries[ids[0].as_str()].tag(PROVISION_TOKEN).unwrap();
            assert!(Arc::ptr_eq(token, entry_token));
        }
        s.destroy(&ids[0]).unwrap();
        assert_eq!(s.read().strings.strings.len(), 3, "tier and web are gone");
        for id in &ids[1..] {
            s.destroy(id).unwrap();
        }
        let index = s.read();
        assert!(index.strings.strings.is_empty());
        assert!(index.tokens.is_empty());
    }

    #[test]
    fn a_rescan_indexes_files_made_by_others_and_announces_nothing_when_nothing_changed() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        let a = s.provision(spec(&[("group", "g")])).unwrap();
        let mut rx = s.subscribe();
        s.rescan();
        assert!(rx.try_recv().is_err(), "nothing changed");
        let copy = format!("{ID_PREFIX}copy");
        std::fs::copy(
            d.path().join(format!("{a}{SUFFIX}")),
            d.path().join(format!("{copy}{SUFFIX}")),
        )
        .unwrap();
        s.rescan();
        let ev = rx.try_recv().unwrap();
        assert_eq!(ev.kind, InstanceEventKind::Created as i32);
        let listed = ev.instance.unwrap();
        assert_eq!(
            (listed.id.as_str(), listed.tags["group"].as_str()),
            (copy.as_str(), "g")
        );
        assert!(rx.try_recv().is_err(), "only the new file");
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn properties_are_read_from_the_file_as_it_is_now() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        let a = s.provision(spec(&[("group", "g")])).unwrap();
        let props = |s: &Store| -> serde_json::Value {
            serde_json::from_slice(&s.properties(&a).unwrap()).unwrap()
        };
        assert_eq!(props(&s)["Properties"]["Note"], "x");
        let path = d.path().join(format!("{a}{SUFFIX}"));
        let mut record: Record = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        record.spec.properties = serde_json::json!({"Note": "edited"});
        std::fs::write(&path, serde_json::to_vec(&record).unwrap()).unwrap();
        assert_eq!(props(&s)["Properties"]["Note"], "edited");
        std::fs::remove_file(&path).unwrap();
        assert_eq!(s.properties(&a), None, "the file is gone");
    }
}
