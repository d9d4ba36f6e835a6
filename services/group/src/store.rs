//! Committed specs and controller state on disk: one JSON file per group in the state
//! directory, written atomically (temporary file, fsync, rename, fsync of the directory). The
//! file work runs on tokio's blocking threads, never on the runtime's.

use crate::ports::{BoxFuture, Record, StorePort};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

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
pub struct FileStore {
    dir: PathBuf,
}

// === impl Store ===

impl FileStore {
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
        // Temporary files of writes cut short by a crash.
        if let Err(e) = infrakit_model::atomic::remove_leftovers(dir) {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot clear leftover temporary files");
        }
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    /// Every stored group. Files that cannot be read are skipped with an error in the log.
    fn load_all_now(&self) -> Result<Vec<(String, Record)>, String> {
        let entries = std::fs::read_dir(&self.dir)
            .map_err(|e| format!("cannot read the state directory {:?}: {e}", self.dir))?;
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
        Ok(out)
    }

    /// Saves a group's record atomically.
    fn save_now(&self, id: &str, record: &Record) -> Result<(), StoreError> {
        let path = self.path(id);
        let bytes = serde_json::to_vec(record).map_err(|e| StoreError {
            what: "cannot encode the record of",
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        infrakit_model::atomic::write(&path, &bytes).map_err(|e| StoreError {
            what: e.what,
            path: e.path.clone(),
            source: e.into(),
        })?;
        Ok(())
    }

    /// Forgets a group.
    fn remove_now(&self, id: &str) -> Result<(), StoreError> {
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

impl StorePort for FileStore {
    fn load_all(&self) -> BoxFuture<'_, Result<Vec<(String, Record)>, String>> {
        let me = self.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || me.load_all_now())
                .await
                .map_err(|e| e.to_string())?
        })
    }

    fn save(&self, id: &str, record: Record, _: u64) -> BoxFuture<'_, Result<(), String>> {
        let (me, id) = (self.clone(), id.to_string());
        Box::pin(async move {
            tokio::task::spawn_blocking(move || me.save_now(&id, &record))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| infrakit_runtime::dial::error_chain(&e))
        })
    }

    fn remove(&self, id: &str, _: u64) -> BoxFuture<'_, Result<(), String>> {
        let (me, id) = (self.clone(), id.to_string());
        Box::pin(async move {
            tokio::task::spawn_blocking(move || me.remove_now(&id))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| infrakit_runtime::dial::error_chain(&e))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_removal_is_idempotent() {
        let d = tempfile::tempdir().unwrap();
        let s = FileStore::open(&d.path().join("state")).unwrap();
        let r = Record {
            spec: serde_json::json!({"ID": "g"}),
            state: infrakit_group_core::GroupState::default(),
        };
        s.save_now("g", &r).unwrap();
        s.save_now("g", &r).unwrap();
        let all = s.load_all_now().unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].0, "g");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(s.path("g")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "records may hold secrets");
        s.remove_now("g").unwrap();
        s.remove_now("g").unwrap();
        assert!(s.load_all_now().unwrap().is_empty());
    }
}
