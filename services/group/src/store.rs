//! Committed specs and controller state on disk: one JSON file per group in the state
//! directory, written atomically (temporary file, fsync, rename).

use infrakit_group_core::GroupState;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// What is persisted for one group.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    /// The committed spec, as JSON (`{"ID": ..., "Properties": ...}`).
    pub spec: serde_json::Value,
    /// The controller's memory of the group.
    pub state: GroupState,
}

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
#[error("{what} {path:?}")]
pub struct StoreError {
    what: &'static str,
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

/// The state directory.
#[derive(Clone, Debug)]
pub struct Store {
    dir: PathBuf,
}

// === impl Store ===

impl Store {
    /// Opens the state directory, creating it (0700) if needed.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| StoreError {
                what: "cannot create the state directory",
                path: dir.to_path_buf(),
                source,
            })?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    /// Every stored group. Files that cannot be read are skipped with an error in the log.
    pub fn load_all(&self) -> Vec<(String, Record)> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for e in entries.filter_map(Result::ok) {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(id) = name.strip_suffix(".json").filter(|n| !n.starts_with('.')) else {
                continue;
            };
            match std::fs::read(e.path()).map(|b| serde_json::from_slice::<Record>(&b)) {
                Ok(Ok(r)) => out.push((id.to_string(), r)),
                Ok(Err(err)) => {
                    tracing::error!(file = %e.path().display(), error = %err, "skipping an unreadable group record")
                }
                Err(err) => {
                    tracing::error!(file = %e.path().display(), error = %err, "skipping an unreadable group record")
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Saves a group's record atomically.
    pub fn save(&self, id: &str, record: &Record) -> Result<(), StoreError> {
        let path = self.path(id);
        let tmp = self.dir.join(format!(".{id}.tmp"));
        let err = |what, p: &Path| {
            let p = p.to_path_buf();
            move |source| StoreError {
                what,
                path: p,
                source,
            }
        };
        let bytes = serde_json::to_vec(record).map_err(|e| StoreError {
            what: "cannot encode the record of",
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        let mut f = std::fs::File::create(&tmp).map_err(err("cannot write", &tmp))?;
        f.write_all(&bytes).map_err(err("cannot write", &tmp))?;
        f.sync_all().map_err(err("cannot sync", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(err("cannot replace", &path))?;
        Ok(())
    }

    /// Forgets a group.
    pub fn remove(&self, id: &str) -> Result<(), StoreError> {
        match std::fs::remove_file(self.path(id)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StoreError {
                what: "cannot remove",
                path: self.path(id),
                source: e,
            }),
            _ => Ok(()),
        }
    }

    fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_removal_is_idempotent() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(&d.path().join("state")).unwrap();
        let r = Record {
            spec: serde_json::json!({"ID": "g"}),
            state: GroupState::default(),
        };
        s.save("g", &r).unwrap();
        s.save("g", &r).unwrap();
        let all = s.load_all();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].0, "g");
        s.remove("g").unwrap();
        s.remove("g").unwrap();
        assert!(s.load_all().is_empty());
    }
}
