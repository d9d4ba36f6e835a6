//! Tag changes Docker cannot store: the engine has no API to change an existing container's
//! labels, so `Label` records new tag values here, keyed by container ID, and every listing
//! merges them over the labels the container was created with.
//!
//! # Guarantees
//! - The overlay is persisted in `<state dir>/labels.json` before `Label` returns (with
//!   [`infrakit_model::atomic::write`]: atomic, durable, mode 0600), so it survives a restart of
//!   the plugin.
//! - Entries are keyed by the immutable container ID, so a new container that reuses a name
//!   never inherits them; entries of removed containers are dropped (on the engine's `destroy` event,
//!   and at start-up).
//!
//! # Caveats
//! - `docker inspect` and `docker ps --filter label=...` still show the values the container was
//!   created with; only this plugin's view (DescribeInstances, WatchInstances) shows the change.
//! - Losing the state directory reverts labelled tags to their values at creation.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use tokio::sync::Mutex;

/// Tag overrides per container ID.
pub type Entries = BTreeMap<String, BTreeMap<String, String>>;

/// Why the overlay could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum OverlayError {
    /// A file operation failed.
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
    /// The file is not an overlay.
    #[error("{path:?} is not a label overlay (JSON object of container ID to tags)")]
    Corrupt {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
}

/// The persisted overlay.
#[derive(Debug)]
pub struct Overlay {
    file: PathBuf,
    entries: Mutex<Entries>,
}

// === impl Overlay ===

impl Overlay {
    /// The file name inside the state directory.
    pub const FILE: &'static str = "labels.json";

    /// Opens the overlay in `dir` (created 0700 if missing).
    pub fn open(dir: &Path) -> Result<Self, OverlayError> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| OverlayError::Io {
                what: "cannot create the state directory",
                path: dir.to_path_buf(),
                source,
            })?;
        // Temporary files of a write a crash cut short.
        let _ = infrakit_model::atomic::remove_leftovers(dir);
        let file = dir.join(Self::FILE);
        let entries = match std::fs::read(&file) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|source| OverlayError::Corrupt {
                    path: file.clone(),
                    source,
                })?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Entries::new(),
            Err(source) => {
                return Err(OverlayError::Io {
                    what: "cannot read",
                    path: file,
                    source,
                });
            }
        };
        Ok(Self {
            file,
            entries: Mutex::new(entries),
        })
    }

    /// The overrides of one container.
    pub async fn get(&self, container_id: &str) -> Option<BTreeMap<String, String>> {
        self.entries.lock().await.get(container_id).cloned()
    }

    /// A copy of every entry.
    pub async fn snapshot(&self) -> Entries {
        self.entries.lock().await.clone()
    }

    /// Every tag key overridden on some container (such keys cannot be filtered on the engine).
    pub async fn keys(&self) -> HashSet<String> {
        self.entries
            .lock()
            .await
            .values()
            .flat_map(|m| m.keys().cloned())
            .collect()
    }

    /// Applies `changes` to one container: a key whose value is `None` loses its override.
    /// Persists before returning.
    pub async fn update(
        &self,
        container_id: &str,
        changes: BTreeMap<String, Option<String>>,
    ) -> Result<(), OverlayError> {
        let mut entries = self.entries.lock().await;
        let mut next = entries.clone();
        let e = next.entry(container_id.to_string()).or_default();
        for (k, v) in changes {
            match v {
                Some(v) => e.insert(k, v),
                None => e.remove(&k),
            };
        }
        if e.is_empty() {
            next.remove(container_id);
        }
        if next != *entries {
            self.persist(&next).await?;
            *entries = next;
        }
        Ok(())
    }

    /// Drops the entries of containers not in `live` (when given) and of `gone`.
    pub async fn forget(
        &self,
        gone: &[&str],
        live: Option<&HashSet<String>>,
    ) -> Result<(), OverlayError> {
        let mut entries = self.entries.lock().await;
        let mut next = entries.clone();
        for id in gone {
            next.remove(*id);
        }
        if let Some(live) = live {
            next.retain(|id, _| live.contains(id));
        }
        if next != *entries {
            self.persist(&next).await?;
            *entries = next;
        }
        Ok(())
    }

    async fn persist(&self, entries: &Entries) -> Result<(), OverlayError> {
        let bytes = serde_json::to_vec_pretty(entries).unwrap_or_default();
        let file = self.file.clone();
        // Two fsyncs: off the async threads.
        let written = tokio::task::spawn_blocking(move || {
            infrakit_model::atomic::write(&file, &bytes).map(|_| ())
        })
        .await;
        match written {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(OverlayError::Io {
                what: e.what,
                path: e.path,
                source: e.source,
            }),
            Err(e) => Err(OverlayError::Io {
                what: "the write task failed for",
                path: self.file.clone(),
                source: std::io::Error::other(e),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn updates_survive_a_reopen_and_forgetting_drops_them() {
        let dir = tempfile::tempdir().unwrap();
        let o = Overlay::open(dir.path()).unwrap();
        o.update("c1", [("tier".to_string(), Some("db".to_string()))].into())
            .await
            .unwrap();
        o.update("c2", [("x".to_string(), Some("1".to_string()))].into())
            .await
            .unwrap();
        let o = Overlay::open(dir.path()).unwrap();
        assert_eq!(o.get("c1").await.unwrap()["tier"], "db");
        assert_eq!(o.keys().await, ["tier".to_string(), "x".to_string()].into());
        o.update("c1", [("tier".to_string(), None)].into())
            .await
            .unwrap();
        assert_eq!(o.get("c1").await, None);
        o.forget(&[], Some(&HashSet::new())).await.unwrap();
        assert!(
            Overlay::open(dir.path())
                .unwrap()
                .snapshot()
                .await
                .is_empty()
        );
    }

    #[test]
    fn a_corrupt_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(Overlay::FILE), "[").unwrap();
        let e = Overlay::open(dir.path()).unwrap_err().to_string();
        assert!(e.contains("labels.json"), "{e}");
    }
}
