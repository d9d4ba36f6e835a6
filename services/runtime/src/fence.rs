//! Fences: refusing the mutating calls of a deposed group owner.
//!
//! Group controllers that share groups through a coordinator own each group one at a time, and
//! every change of owner gives the group a higher epoch, which the owner sends with each
//! Provision, Label, Destroy and Drain (`infrakit.instance.v1.Fence`). A controller deposed while
//! it could not see the coordinator (a long pause, a frozen VM, a partition) may wake up still
//! believing it owns the group. [`Fences`] lets a plugin refuse it: it remembers, per group, the
//! highest epoch it has been called with, and refuses a call with a lower one.
//!
//! The file ([`FILE_NAME`] in the plugin's state directory) is a JSON object of group ID to
//! highest epoch: `{"web": 9, "db": 2}`.
//!
//! # Guarantees
//! - A call whose epoch is lower than the highest seen for its group is refused with
//!   `FAILED_PRECONDITION`, naming both epochs, before the plugin does anything for it.
//! - A higher epoch is on disk (atomically, durably, mode 0600) before the call that brought it
//!   is let through, so a restarted plugin still refuses the deposed owner. When it cannot be
//!   written, the call is refused with `UNAVAILABLE` (the owner retries), never let through
//!   unrecorded.
//! - Checks are serialized: once a call with epoch N has been let through, no call with a lower
//!   epoch for that group is, even one that was sent earlier and arrives at the same time.
//! - A call without a fence, or with epoch 0 (a controller without a coordinator), is never
//!   refused and writes nothing.
//!
//! # Caveats
//! - The fence orders admissions, not completions: a call let through just before a higher epoch
//!   arrived may still be running when the new owner's first call starts.
//! - One entry per group ever fenced is kept for good (a few bytes each), so that the deposed
//!   owner of a group destroyed since is refused too.
//! - The file is the plugin's only memory of epochs: without it, a deposed controller's calls
//!   are let through until the current owner calls again. Delete it only when no deposed
//!   controller can still be running.
//! - Each epoch increase rewrites the file under the lock (once per change of owner per group),
//!   so checks of other groups wait for those two fsyncs; checks that write nothing never touch
//!   the disk.

use infrakit_model::atomic;
use infrakit_spi::instance::v1::Fence;
use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tonic::Status;

/// The file name plugins give the fences file in their state directory. It starts with a dot
/// so that directory scans for instance files (which skip dot-names) never take it for one.
pub const FILE_NAME: &str = ".fences.json";

/// Highest epoch seen, by group ID.
type Epochs = BTreeMap<String, u64>;

/// The highest epoch seen per group, kept in a file. Cloning is cheap (a shared handle), so a
/// plugin's service and its tasks can each hold one.
#[derive(Clone)]
pub struct Fences {
    inner: Arc<Inner>,
}

/// Why the fences file could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum FenceError {
    /// The file (or its directory) could not be read or created.
    #[error("cannot {what} {path}")]
    Io {
        /// What was being done, e.g. `read`.
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The file is not a fences file.
    #[error(
        "{path} is not a fences file (a JSON object of group ID to epoch); restore it from a \
         backup, or delete it, but only if no deposed group controller can still be running: \
         until each group's owner calls again, its stale calls would be let through"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
}

struct Inner {
    path: PathBuf,
    /// Held while comparing and, on an increase, while writing the file: a check must not let a
    /// lower epoch through while a higher one is being recorded.
    epochs: Mutex<Epochs>,
    refused: AtomicU64,
}

/// What a fence asks of the table.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Let the call through; nothing to record.
    Pass,
    /// Let the call through once this higher epoch is recorded.
    Raise,
    /// Refuse the call: the group has been seen with this higher epoch.
    Stale(u64),
}

// === impl Fences ===

impl Fences {
    /// Opens the fences file [`FILE_NAME`] in `dir` (see [`Fences::open`]).
    pub fn open_in(dir: &Path) -> Result<Self, FenceError> {
        Self::open(&dir.join(FILE_NAME))
    }

    /// Opens the fences file at `path`: loads it if it exists (an empty table if not), creating
    /// its directory (0700) if needed, and removes the temporary files of a write to it that a
    /// crash cut short. Fails on a file that cannot be read or is not a fences file, rather than
    /// forgetting the epochs it holds.
    pub fn open(path: &Path) -> Result<Self, FenceError> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        create_private_dir(dir)?;
        remove_own_leftovers(path, dir);
        let epochs = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| FenceError::Corrupt {
                path: path.to_path_buf(),
                source,
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Epochs::new(),
            Err(source) => {
                return Err(FenceError::Io {
                    what: "read",
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                epochs: Mutex::new(epochs),
                refused: AtomicU64::new(0),
            }),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The highest epoch seen for `group`, if any.
    pub fn epoch(&self, group: &str) -> Option<u64> {
        self.inner.lock().get(group).copied()
    }

    /// How many calls have been refused since the plugin started.
    pub fn refused(&self) -> u64 {
        self.inner.refused.load(Ordering::Relaxed)
    }

    /// Checks the fence of a mutating call, for async handlers: `Ok` lets the call through,
    /// `Err` is the status to answer with (see [`Fences::check_blocking`]). The rare check that
    /// records a higher epoch writes the file on tokio's blocking threads; the others never
    /// touch the disk.
    pub async fn check(&self, fence: Option<&Fence>) -> Result<(), Status> {
        let Some(fence) = fence.filter(|f| f.epoch > 0) else {
            return Ok(());
        };
        if self.inner.verdict(&self.inner.lock(), fence)? != Verdict::Raise {
            // Epochs only grow, so a call that needed no write a moment ago still needs none:
            // this does no I/O on the async thread.
            return self.check_blocking(Some(fence));
        }
        let (me, fence) = (self.clone(), fence.clone());
        crate::status::blocking_task("fence check", move || me.check_blocking(Some(&fence))).await?
    }

    /// Checks the fence of a mutating call: `Ok` lets the call through; `Err` is
    /// `FAILED_PRECONDITION` for an epoch lower than one seen for the group, `INVALID_ARGUMENT`
    /// for a fence without a group, `UNAVAILABLE` when a higher epoch cannot be recorded. Blocks
    /// on file I/O only when the epoch is higher than any seen for the group; async code calls
    /// [`Fences::check`].
    pub fn check_blocking(&self, fence: Option<&Fence>) -> Result<(), Status> {
        let Some(fence) = fence.filter(|f| f.epoch > 0) else {
            return Ok(());
        };
        let mut epochs = self.inner.lock();
        match self.inner.verdict(&epochs, fence)? {
            Verdict::Pass => Ok(()),
            Verdict::Stale(seen) => Err(self.inner.refuse(fence, seen)),
            Verdict::Raise => {
                let mut next = epochs.clone();
                next.insert(fence.group.clone(), fence.epoch);
                self.inner.persist(&next)?;
                *epochs = next;
                tracing::info!(group = %fence.group, epoch = fence.epoch, "a group has a new owner");
                Ok(())
            }
        }
    }
}

impl fmt::Debug for Fences {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fences")
            .field("path", &self.inner.path)
            .field("groups", &self.inner.lock().len())
            .field("refused", &self.refused())
            .finish()
    }
}

// === impl Inner ===

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Epochs> {
        // The table is replaced whole, after the file was written, so a panic while the lock
        // was held cannot have left it half changed.
        self.epochs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What `fence` (whose epoch is not 0) asks of `epochs`.
    fn verdict(&self, epochs: &Epochs, fence: &Fence) -> Result<Verdict, Status> {
        if fence.group.is_empty() {
            return Err(crate::status::invalid(
                &infrakit_model::Violation::new(
                    "$.fence.group",
                    format!("is empty while $.fence.epoch is {}", fence.epoch),
                    "send the ID of the group the call is for, or no fence",
                )
                .into(),
            ));
        }
        Ok(match epochs.get(&fence.group) {
            Some(&seen) if fence.epoch < seen => Verdict::Stale(seen),
            Some(&seen) if fence.epoch == seen => Verdict::Pass,
            _ => Verdict::Raise,
        })
    }

    /// Counts and logs a refusal; returns the status to answer with.
    fn refuse(&self, fence: &Fence, seen: u64) -> Status {
        self.refused.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            group = %fence.group,
            epoch = fence.epoch,
            seen,
            "refused a call from a deposed group owner"
        );
        Status::failed_precondition(format!(
            "group {:?}: epoch {} is older than epoch {seen} already seen: another controller \
             owns this group now; this call was refused",
            fence.group, fence.epoch
        ))
    }

    /// Writes `epochs` to the file, atomically and durably.
    fn persist(&self, epochs: &Epochs) -> Result<(), Status> {
        let bytes = serde_json::to_vec_pretty(epochs)
            .map_err(|e| crate::status::internal("cannot encode the fences", &e))?;
        atomic::write_mode(&self.path, &bytes, atomic::PRIVATE).map_err(|e| {
            tracing::error!(error = %e, cause = %e.source, "cannot record a fence");
            Status::unavailable(format!(
                "cannot record the group's new epoch ({e}: {}); nothing was done, retry once \
                 the plugin can write its state directory",
                e.source
            ))
        })?;
        Ok(())
    }
}

/// Creates `dir` (and its parents) with mode 0700 when missing.
fn create_private_dir(dir: &Path) -> Result<(), FenceError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| FenceError::Io {
            what: "create the directory",
            path: dir.to_path_buf(),
            source,
        })
}

/// Removes the temporary files a crash left from writing `path` (and no one else's: the
/// directory is the plugin's, whose other writes may be in flight).
fn remove_own_leftovers(path: &Path, dir: &Path) {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return;
    };
    let prefix = format!(".{name}{}", atomic::TEMP_MARK);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        if e.file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(&prefix))
        {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests;
