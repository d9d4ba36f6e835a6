//! The background worker: runs Terraform cycles, one at a time, never inside an RPC.
//!
//! A cycle, under the directory lock:
//! 1. bring the instance files in line with the sidecars ([`Store::prepare_cycle`]);
//! 2. `terraform init` when a resource type appears for the first time;
//! 3. `terraform plan -out` (it refreshes) and `terraform show -json` of the plan: instances
//!    that left the state are lost (destroyed and reported gone), failing checks and tainted
//!    resources are FAILED, files Terraform rejects are set aside (their instances FAILED) and
//!    the plan is made again;
//! 4. `terraform apply` of that very plan, only when it changes something;
//! 5. `terraform show -json`: created instances become RUNNING, destroyed ones disappear.
//!
//! A cycle runs when changes were batched ([`Batcher`]), and every refresh interval besides, to
//! notice drift. A failed cycle is retried with backoff.

use crate::batch::Batcher;
use crate::store::{Store, StoreError};
use crate::terraform::{Terraform, TfError, summarize};
use infrakit_runtime::Shutdown;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// How many times a cycle plans again (after setting files aside or losing instances).
pub const MAX_REPLANS: usize = 5;

/// When cycles run.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// A batch starts after this long without a new change.
    pub quiet: Duration,
    /// ... and at most this long after its first change.
    pub max_wait: Duration,
    /// How often a cycle runs without changes (to refresh and notice drift).
    pub refresh: Duration,
}

/// Why a cycle failed.
#[derive(Debug, thiserror::Error)]
pub enum CycleError {
    /// Terraform failed.
    #[error(transparent)]
    Terraform(#[from] TfError),
    /// The working directory could not be written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Planning failed for a reason that no instance's file explains.
    #[error("terraform plan failed: {0}")]
    Plan(String),
    /// The apply failed (what it could do was done; the rest is retried).
    #[error("terraform apply failed: {0}")]
    Apply(String),
}

/// What the last cycle did, for tests and logs.
#[derive(Clone, Debug, Default)]
pub struct CycleReport {
    /// Whether an apply ran.
    pub applied: bool,
    /// How long the cycle took.
    pub elapsed: Duration,
}

/// The worker of one working directory.
#[derive(Debug)]
pub struct Engine {
    store: Arc<Store>,
    tf: Terraform,
    timing: Timing,
    batcher: Mutex<Batcher>,
    wake: Notify,
    /// The resource types `terraform init` has run for.
    initialized: Mutex<Option<BTreeSet<String>>>,
}

// === impl Engine ===

impl Engine {
    /// A worker for `store`, running `tf`.
    pub fn new(store: Arc<Store>, tf: Terraform, timing: Timing) -> Arc<Self> {
        Arc::new(Self {
            store,
            tf,
            timing,
            batcher: Mutex::new(Batcher::new(timing.quiet, timing.max_wait)),
            wake: Notify::new(),
            initialized: Mutex::new(None),
        })
    }

    /// Records a change for the next batch.
    pub fn changed(&self) {
        self.batch().changed(Instant::now());
        self.wake.notify_one();
    }

    fn batch(&self) -> std::sync::MutexGuard<'_, Batcher> {
        self.batcher.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs cycles until `shutdown`. The first cycle starts at once (it finishes whatever an
    /// earlier process left pending).
    pub async fn run(self: Arc<Self>, shutdown: Shutdown) {
        let mut next_refresh = Instant::now();
        loop {
            let due = self.batch().due();
            let at = due.map_or(next_refresh, |d| d.min(next_refresh));
            tokio::select! {
                () = shutdown.wait() => break,
                () = self.wake.notified() => continue,
                () = tokio::time::sleep_until(at) => {}
            }
            if Instant::now() < at {
                continue;
            }
            self.batch().start();
            let wait = match self.cycle().await {
                Ok(r) => {
                    self.batch().succeeded();
                    tracing::debug!(applied = r.applied, elapsed = ?r.elapsed, "cycle done");
                    self.timing.refresh
                }
                Err(e) => {
                    let backoff = self.batch().failed(Instant::now());
                    tracing::error!(error = %infrakit_runtime::dial::error_chain(&e), retry_in = ?backoff, "terraform cycle failed");
                    backoff.max(self.timing.refresh)
                }
            };
            next_refresh = Instant::now() + wait;
        }
    }

    /// One cycle (see the module documentation).
    pub async fn cycle(&self) -> Result<CycleReport, CycleError> {
        let start = Instant::now();
        let _lock = self.tf.lock().await?;
        let mut view = self.store.prepare_cycle()?;
        self.init_if_needed(&view.types).await;
        let plan_file = PathBuf::from(crate::names::META_DIR).join("cycle.tfplan");
        let mut init_retried = false;
        let mut replans = 0;
        let plan = loop {
            replans += 1;
            if replans > MAX_REPLANS {
                return Err(CycleError::Plan(format!(
                    "the plan kept changing after {MAX_REPLANS} attempts"
                )));
            }
            if !has_configuration(&self.tf.config().dir) {
                // Nothing to plan (Terraform refuses an empty configuration).
                return Ok(CycleReport::default());
            }
            let planned = self.tf.plan(&plan_file).await?;
            if !planned.ok {
                let rejected: BTreeMap<String, String> = planned
                    .diagnostics
                    .iter()
                    .filter(|d| d.severity == "error")
                    .filter_map(|d| {
                        let f = d.filename.as_ref()?;
                        crate::names::id_of_file(f)?;
                        Some((f.clone(), d.summary.clone()))
                    })
                    .collect();
                let unexplained = self.store.reject(&rejected)?;
                if !rejected.is_empty() && unexplained.is_empty() {
                    continue;
                }
                if !init_retried && rejected.is_empty() {
                    // A provider may be missing (e.g. the lock file changed): init once, then retry.
                    init_retried = true;
                    self.tf.init().await?;
                    continue;
                }
                return Err(CycleError::Plan(planned.errors()));
            }
            let plan = self.tf.show_plan(&plan_file).await?;
            if self.store.after_plan(&plan)? {
                view = self.store.prepare_cycle()?;
                continue;
            }
            break plan;
        };
        let mut problem = None;
        let mut errors = Vec::new();
        let applied = plan.has_changes();
        if applied {
            let done = self.tf.apply(&plan_file).await?;
            tracing::info!(ok = done.ok, elapsed = ?done.elapsed, "terraform apply ran");
            errors = done
                .diagnostics
                .into_iter()
                .filter(|d| d.severity == "error")
                .collect();
            if !done.ok {
                problem = Some(summarize(&errors));
                if errors.is_empty() {
                    // Failed without saying why: nobody's fault.
                    errors.push(crate::tfjson::Diagnostic {
                        severity: "error".into(),
                        summary: "terraform apply failed".into(),
                        detail: String::new(),
                        address: None,
                        filename: None,
                    });
                }
            }
        }
        let _ = std::fs::remove_file(self.tf.config().dir.join(&plan_file));
        let state = self.tf.show_state().await?;
        self.store
            .after_apply(&state, &view, applied.then_some(errors.as_slice()))?;
        match problem {
            Some(p) => Err(CycleError::Apply(p)),
            None => Ok(CycleReport {
                applied,
                elapsed: start.elapsed(),
            }),
        }
    }

    async fn init_if_needed(&self, types: &BTreeSet<String>) {
        if types.is_empty() {
            return;
        }
        let needed = {
            let done = self.initialized.lock().unwrap_or_else(|e| e.into_inner());
            done.as_ref().is_none_or(|d| !types.is_subset(d))
        };
        if needed {
            if let Err(e) = self.tf.init().await {
                // A configuration error also fails the plan, which says which file is to blame;
                // init runs again next cycle.
                tracing::warn!(error = %e, "terraform init failed");
                return;
            }
            self.initialized
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert_with(BTreeSet::new)
                .extend(types.iter().cloned());
        }
    }
}

/// True when the directory holds a Terraform configuration file.
fn has_configuration(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.filter_map(Result::ok).any(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            !name.starts_with('.') && (name.ends_with(".tf") || name.ends_with(".tf.json"))
        })
    })
}
