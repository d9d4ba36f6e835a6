//! What is kept on disk per instance, under `<dir>/<id>/`:
//!
//! - `instance.json`: the [`Record`]: tags, logical ID, what to run, the pid and its start time,
//!   restarts, and how it ended. Written with [`infrakit_model::atomic::write`] (atomic,
//!   durable), mode 0600 (`Env` may hold secrets).
//! - `init.sh`: the spec's Init script, when the instance runs it.
//! - `output.log`: the process's stdout and stderr, appended (across restarts too).
//! - `pid`: the current pid, for people (`kill $(cat pid)`); the plugin reads `instance.json`.
//!   Also 0600.
//! - `work/`: the process's working directory.
//!
//! The instance directory is 0700.

use crate::properties::Restart;
use infrakit_model::atomic;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The prefix of generated instance IDs.
pub const ID_PREFIX: &str = "instance-";

/// The record's file name.
pub const RECORD: &str = "instance.json";
/// The Init script's file name.
pub const SCRIPT: &str = "init.sh";
/// The log's file name.
pub const LOG: &str = "output.log";
/// The pid file's name.
pub const PID: &str = "pid";
/// The working directory's name.
pub const WORK: &str = "work";
/// The prefix of directories being deleted (a crash mid-delete leaves one; it is removed at start).
pub const TRASH_PREFIX: &str = ".trash-";

/// One instance as stored in its `instance.json` (field names follow InfraKit's JSON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Record {
    /// The instance ID (also the directory name).
    #[serde(rename = "ID")]
    pub id: String,
    /// The pet identity, if any.
    #[serde(rename = "LogicalID", default, skip_serializing_if = "Option::is_none")]
    pub logical_id: Option<String>,
    /// The instance's tags, as provisioned and labelled.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// What to run, and how.
    pub run: RunSpec,
    /// The pid of the current process (also its process group ID), once spawned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// The current process's start time from `/proc/<pid>/stat` (clock ticks since boot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<u64>,
    /// How many times the process was started again.
    #[serde(default)]
    pub restarts: u32,
    /// When the instance was provisioned, in milliseconds since the Unix epoch.
    #[serde(default)]
    pub created_ms: u64,
    /// When the current process started, in milliseconds since the Unix epoch.
    #[serde(default)]
    pub started_ms: u64,
    /// How the instance ended, once it has (the directory is kept for post-mortem).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exited: Option<Exit>,
}

/// What an instance runs, resolved at Provision (so a restarted plugin can restart it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RunSpec {
    /// The `sh -c` command; `None` runs `init.sh`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Extra environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Milliseconds between SIGTERM and SIGKILL.
    #[serde(rename = "StopGracePeriodMs")]
    pub stop_grace_ms: u64,
    /// The restart policy.
    #[serde(default)]
    pub restart: Restart,
}

/// How an instance's process ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Exit {
    /// When it was noticed, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The exit code, when it exited normally and the plugin saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i32>,
    /// The signal that ended it, when the plugin saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// A sentence saying what happened.
    pub reason: String,
}

/// Where an instance's files are.
#[derive(Clone, Debug)]
pub struct Layout {
    root: PathBuf,
}

// === impl Record ===

impl Record {
    /// True when every given tag is on this instance.
    pub fn matches(&self, tags: &HashMap<String, String>) -> bool {
        tags.iter().all(|(k, v)| self.tags.get(k) == Some(v))
    }

    /// The current process's pid and start time, once spawned.
    pub fn process(&self) -> Option<(u32, u64)> {
        Some((self.pid?, self.start_time?))
    }
}

// === impl Layout ===

impl Layout {
    /// The layout under `root` (the `--dir`).
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }

    /// The `--dir`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<dir>/<id>`.
    pub fn instance(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// `<dir>/<id>/<file>`.
    pub fn file(&self, id: &str, file: &str) -> PathBuf {
        self.root.join(id).join(file)
    }

    /// Creates `<dir>/<id>` (0700) and its `work/`; fails with `AlreadyExists` if the ID is taken.
    pub fn create(&self, id: &str) -> std::io::Result<()> {
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(self.instance(id))?;
        std::fs::create_dir(self.file(id, WORK))
    }

    /// Reads an instance's record.
    pub fn read(&self, id: &str) -> Result<Record, String> {
        let path = self.file(id, RECORD);
        let bytes =
            std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        serde_json::from_slice(&bytes).map_err(|e| format!("{} is not valid: {e}", path.display()))
    }

    /// Writes an instance's record atomically, and its pid file.
    pub fn write(&self, record: &Record) -> std::io::Result<()> {
        let mut bytes = serde_json::to_vec_pretty(record).map_err(std::io::Error::other)?;
        bytes.push(b'\n');
        atomic::write(&self.file(&record.id, RECORD), &bytes)?;
        if let Some(pid) = record.pid {
            atomic::write(&self.file(&record.id, PID), format!("{pid}\n").as_bytes())?;
        }
        Ok(())
    }

    /// Writes the Init script (0700).
    pub fn write_script(&self, id: &str, script: &str) -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o700)
            .open(self.file(id, SCRIPT))?;
        f.write_all(script.as_bytes())?;
        f.sync_all()
    }

    /// Opens the log for appending (0600).
    pub fn open_log(&self, id: &str) -> std::io::Result<std::fs::File> {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(self.file(id, LOG))
    }

    /// Removes an instance's directory: renamed away first (atomic), then deleted, so a crash
    /// never leaves a half-deleted instance that looks real. Missing is fine.
    pub fn remove(&self, id: &str) -> std::io::Result<()> {
        let trash = self.root.join(format!(
            "{TRASH_PREFIX}{id}-{}",
            infrakit_runtime::socket::random_hex(4)
        ));
        match std::fs::rename(self.instance(id), &trash) {
            Ok(()) => std::fs::remove_dir_all(&trash),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The IDs of the instance directories (every entry that is a valid ID and a directory).
    /// Touches nothing, so it is safe while instances are being written or removed.
    pub fn scan(&self) -> std::io::Result<Vec<String>> {
        let mut ids = Vec::new();
        for e in std::fs::read_dir(&self.root)?.filter_map(Result::ok) {
            let Ok(name) = e.file_name().into_string() else {
                continue;
            };
            if valid_id(&name) && e.file_type().is_ok_and(|t| t.is_dir()) {
                ids.push(name);
            }
        }
        Ok(ids)
    }

    /// Like [`Layout::scan`], and first removes what interrupted deletes and writes left
    /// behind. Only at start: while the plugin runs, a temporary file or a trash directory
    /// belongs to a write or a delete still in progress.
    pub fn scan_and_clean(&self) -> std::io::Result<Vec<String>> {
        for e in std::fs::read_dir(&self.root)?.filter_map(Result::ok) {
            let Ok(name) = e.file_name().into_string() else {
                continue;
            };
            if name.starts_with(TRASH_PREFIX) {
                let _ = std::fs::remove_dir_all(e.path());
            } else if valid_id(&name) && e.file_type().is_ok_and(|t| t.is_dir()) {
                let _ = atomic::remove_leftovers(&e.path());
            }
        }
        self.scan()
    }
}

/// True when `id` could be an instance ID: 1-128 characters of `[A-Za-z0-9._-]`, not starting
/// with a dot (so it is a safe directory name, never a path).
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// A new random instance ID.
pub fn new_id() -> String {
    format!("{ID_PREFIX}{}", infrakit_runtime::socket::random_hex(8))
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> Record {
        Record {
            id: id.into(),
            logical_id: Some("db-1".into()),
            tags: [("infrakit.group".to_string(), "g".to_string())].into(),
            run: RunSpec {
                command: Some("sleep 1".into()),
                env: BTreeMap::new(),
                stop_grace_ms: 10_000,
                restart: Restart::OnFailure,
            },
            pid: Some(42),
            start_time: Some(7),
            restarts: 0,
            created_ms: 1,
            started_ms: 1,
            exited: None,
        }
    }

    #[test]
    fn records_round_trip_and_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let l = Layout::new(d.path());
        l.create("instance-1").unwrap();
        assert!(l.create("instance-1").is_err(), "IDs cannot collide");
        let r = record("instance-1");
        l.write(&r).unwrap();
        assert_eq!(l.read("instance-1").unwrap(), r);
        let mode = |p: PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(l.file("instance-1", RECORD)), 0o600);
        assert_eq!(mode(l.instance("instance-1")), 0o700);
        assert_eq!(
            std::fs::read_to_string(l.file("instance-1", PID)).unwrap(),
            "42\n"
        );
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(l.file("instance-1", RECORD)).unwrap()).unwrap();
        assert_eq!(json["Run"]["Restart"], "on-failure");
        assert_eq!(json["LogicalID"], "db-1");
    }

    #[test]
    fn remove_and_scan_skip_trash_and_odd_names() {
        let d = tempfile::tempdir().unwrap();
        let l = Layout::new(d.path());
        l.create("instance-1").unwrap();
        l.create("instance-2").unwrap();
        std::fs::create_dir(d.path().join(".trash-instance-3-abcd")).unwrap();
        std::fs::write(d.path().join("notes.txt"), "x").unwrap();
        l.remove("instance-2").unwrap();
        l.remove("instance-2").unwrap();
        assert_eq!(l.scan().unwrap(), vec!["instance-1".to_string()]);
        assert!(
            d.path().join(".trash-instance-3-abcd").exists(),
            "a delete may be under way"
        );
        assert_eq!(l.scan_and_clean().unwrap(), vec!["instance-1".to_string()]);
        assert!(!d.path().join(".trash-instance-3-abcd").exists());
        assert!(!valid_id("../etc") && !valid_id(".x") && !valid_id(""));
    }
}
