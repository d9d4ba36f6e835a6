//! The work behind the calls: writing an instance's directory, `vagrant up` in the background,
//! `vagrant destroy -f` plus cleanup, and resuming both after a restart.
//!
//! # Guarantees
//! - Provision returns as soon as the directory is written and the instance listed (PENDING,
//!   `State: creating`); `vagrant up` runs in a background task.
//! - At most one Vagrant run per instance at a time: a Destroy interrupts a running `up` (SIGINT,
//!   so Vagrant cleans up), waits for it, then destroys.
//! - A Destroy runs to its end even if its caller goes away; concurrent Destroys of one instance
//!   share one run.
//! - Nothing is left behind a successful Destroy: not the machine, not a container carrying the
//!   instance's ID label, not the directory.

use crate::docker::Docker;
use crate::plan::Plan;
use crate::properties::{Provider, VagrantProperties};
use crate::record::Phase;
use crate::store::Store;
use crate::template::Template;
use crate::vagrant::{Outcome, Vagrant};
use crate::vagrantfile;
use infrakit_model::{Violations, tags};
use infrakit_runtime::Shutdown;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

mod teardown;
mod write;

/// The plugin's settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// The plugin's name (a container label).
    pub name: String,
    /// How Vagrant runs.
    pub vagrant: Vagrant,
    /// How the engine is asked.
    pub docker: Docker,
    /// The default Vagrantfile template (replacing the built-in ones), already checked.
    pub template: Option<(PathBuf, Template)>,
    /// The longest `vagrant up`.
    pub up_timeout: Duration,
    /// The longest `vagrant destroy -f`.
    pub destroy_timeout: Duration,
    /// How often machines are observed.
    pub poll_interval: Duration,
    /// How often machines of providers other than docker are asked about (`vagrant status`).
    pub status_interval: Duration,
}

/// A destroy's result, shared by everyone waiting for it.
pub type DestroyResult = Option<Result<(), String>>;

/// What runs for one instance.
#[derive(Default)]
pub(crate) struct Ops {
    pub(crate) cancel_up: Option<CancellationToken>,
    pub(crate) up: Option<JoinHandle<()>>,
    pub(crate) destroy: Option<watch::Receiver<DestroyResult>>,
    pub(crate) cleaning: bool,
}

/// The shared state of the plugin.
pub struct Inner {
    /// The instances.
    pub store: Arc<Store>,
    /// The settings.
    pub cfg: Config,
    /// The process's shutdown.
    pub shutdown: Shutdown,
    pub(crate) ops: Mutex<HashMap<String, Ops>>,
    provisioning: tokio::sync::Mutex<()>,
}

/// Why a Provision did not happen.
#[derive(Debug)]
pub enum ProvisionError {
    /// Bad input.
    Invalid(Violations),
    /// The engine could not be asked, or the instance is being cleaned up.
    Unavailable(String),
    /// The directory could not be written.
    Io(std::io::Error),
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("root", &self.store.root())
            .field("instances", &self.store.len())
            .finish_non_exhaustive()
    }
}

// === impl Inner ===

impl Inner {
    /// The plugin over `store`.
    pub fn new(store: Arc<Store>, cfg: Config, shutdown: Shutdown) -> Self {
        Self {
            store,
            cfg,
            shutdown,
            ops: Mutex::new(HashMap::new()),
            provisioning: tokio::sync::Mutex::new(()),
        }
    }

    pub(crate) fn ops(&self) -> MutexGuard<'_, HashMap<String, Ops>> {
        // Every update is a single assignment: the data stays consistent after a panic.
        self.ops.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// True while instance `id` is destroyed or cleaned up.
    pub fn busy(&self, id: &str) -> bool {
        self.ops()
            .get(id)
            .is_some_and(|o| o.cleaning || o.destroy.is_some())
    }

    /// Resumes what a stopped plugin left unfinished: `vagrant up` for instances still
    /// creating (it is idempotent), `vagrant destroy -f` for instances being destroyed.
    pub fn resume(self: &Arc<Self>) {
        for (id, _, phase) in self.store.list() {
            match phase {
                Phase::Creating => {
                    tracing::info!(%id, "resuming vagrant up after a restart");
                    self.spawn_up(&id);
                }
                Phase::Destroying => {
                    tracing::info!(%id, "resuming vagrant destroy after a restart");
                    drop(self.start_destroy(&id));
                }
                Phase::Running | Phase::Failed => {}
            }
        }
    }

    /// Checks what only the engine or the file system can tell: the template, the image and the
    /// network. `at` is the Properties' JSON path.
    pub async fn external_checks(
        &self,
        props: &VagrantProperties,
        at: &str,
    ) -> Result<Option<Template>, ProvisionError> {
        let mut bad = Violations::new();
        let template = match &props.template {
            Some(path) => match load_template(path) {
                Ok(t) => Some(t),
                Err(problem) => {
                    bad.push(
                        format!("{at}.Template"),
                        problem,
                        "fix the template; placeholders are listed in the plugin's README",
                    );
                    None
                }
            },
            None => None,
        };
        if let Some(name) = &props.box_name {
            match self.cfg.vagrant.boxes().await {
                Ok(boxes) if boxes.contains(name) => {}
                Ok(_) => bad.push(
                    format!("{at}.Box"),
                    format!("{name:?} has not been added to Vagrant (boxes are never downloaded)"),
                    format!("add it first: vagrant box add {name} FILE.box"),
                ),
                Err(e) => {
                    return Err(ProvisionError::Unavailable(format!(
                        "cannot list Vagrant's boxes: {e}"
                    )));
                }
            }
        }
        if props.provider == Provider::Docker {
            let d = &self.cfg.docker;
            if let Some(image) = &props.image {
                match d.image_exists(image).await {
                    Ok(true) => {}
                    Ok(false) => bad.push(
                        format!("{at}.Image"),
                        format!("{image:?} is not on the Docker engine (images are never pulled)"),
                        format!("build or load it first: docker build -t {image} DIR, or docker load -i FILE.tar"),
                    ),
                    Err(e) => return Err(ProvisionError::Unavailable(format!("cannot ask the Docker engine about the image: {e}"))),
                }
            }
            if let Some(net) = props.network.as_deref().filter(|n| *n != "bridge") {
                match d.network_exists(net).await {
                    Ok(true) => {}
                    Ok(false) => bad.push(
                        format!("{at}.Network"),
                        format!("there is no docker network {net:?}"),
                        format!("create it first: docker network create --subnet CIDR {net}"),
                    ),
                    Err(e) => {
                        return Err(ProvisionError::Unavailable(format!(
                            "cannot ask the Docker engine about the network: {e}"
                        )));
                    }
                }
            }
        }
        bad.into_result(template).map_err(ProvisionError::Invalid)
    }

    /// Provisions `plan`: returns its ID once the directory is written and the instance listed;
    /// `vagrant up` continues in the background. Idempotent by the provision token.
    pub async fn provision(self: &Arc<Self>, plan: Plan) -> Result<String, ProvisionError> {
        if let Some(id) = self.existing(&plan) {
            return Ok(id);
        }
        let template = self
            .external_checks(&plan.props, "$.spec.properties")
            .await?;
        let template = template
            .or_else(|| self.cfg.template.as_ref().map(|(_, t)| t.clone()))
            .unwrap_or_else(|| vagrantfile::built_in(plan.props.provider));
        // One provision at a time past this point, so two attempts with one token make one
        // instance.
        let _guard = self.provisioning.lock().await;
        if let Some(id) = self.existing(&plan) {
            return Ok(id);
        }
        if self.busy(&plan.id) {
            return Err(ProvisionError::Unavailable(format!(
                "instance {} is still being cleaned up; retry in a few seconds",
                plan.id
            )));
        }
        let (store, name, id) = (self.store.clone(), self.cfg.name.clone(), plan.id.clone());
        let loaded =
            tokio::task::spawn_blocking(move || write::instance(&store, &name, &plan, &template))
                .await
                .map_err(|e| ProvisionError::Io(std::io::Error::other(e)))?
                .map_err(ProvisionError::Io)?;
        self.store.insert(loaded);
        self.spawn_up(&id);
        tracing::info!(%id, "provisioned; vagrant up runs in the background");
        Ok(id)
    }

    /// The instance a retried Provision must return, if any.
    fn existing(&self, plan: &Plan) -> Option<String> {
        if let Some(token) = plan.tags.get(tags::PROVISION_TOKEN)
            && let Some(id) = self.store.find_token(token)
        {
            return Some(id);
        }
        self.store.get(&plan.id).map(|_| plan.id.clone())
    }

    /// Starts `vagrant up` for instance `id` in the background.
    fn spawn_up(self: &Arc<Self>, id: &str) {
        let cancel = CancellationToken::new();
        let me = self.clone();
        let task = tokio::spawn({
            let (id, cancel) = (id.to_string(), cancel.clone());
            async move { me.up(&id, &cancel).await }
        });
        let mut ops = self.ops();
        let o = ops.entry(id.to_string()).or_default();
        o.cancel_up = Some(cancel);
        o.up = Some(task);
    }

    async fn up(&self, id: &str, cancel: &CancellationToken) {
        let dir = self.store.dir(id);
        vagrant_leftover(&dir).await;
        let Some(entry) = self.store.get(id) else {
            return;
        };
        let provider = format!("--provider={}", entry.spec.provider);
        let store = self.store.clone();
        let mut attempt = 1;
        let run = loop {
            let run = self
                .cfg
                .vagrant
                .run(&dir, &["up", &provider], cancel, self.cfg.up_timeout, |l| {
                    store.set_progress(id, l)
                })
                .await;
            match &run {
                Ok(r) if attempt < UP_ATTEMPTS && is_transient(r) => {
                    tracing::info!(%id, attempt, "vagrant up lost a race with another container's removal; retrying");
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                _ => break run,
            }
        };
        let (phase, output) = match run {
            Ok(r) => match r.outcome {
                Outcome::Success => (Phase::Running, r.tail),
                // The Destroy that cancelled it takes over.
                Outcome::Cancelled => return,
                Outcome::Failed(code) => {
                    let mut out = r.tail;
                    out.push(match code {
                        Some(c) => format!("vagrant up failed (exit status {c})"),
                        None => "vagrant up was killed".to_string(),
                    });
                    (Phase::Failed, out)
                }
                Outcome::TimedOut => {
                    let mut out = r.tail;
                    out.push(format!(
                        "vagrant up took longer than {:?} and was stopped",
                        self.cfg.up_timeout
                    ));
                    (Phase::Failed, out)
                }
            },
            Err(e) => (Phase::Failed, vec![e.to_string()]),
        };
        tracing::info!(%id, phase = phase.as_str(), "vagrant up finished");
        // Only a machine still creating: a Destroy that began meanwhile owns the phase.
        if let Err(e) = self
            .store
            .transition(id, Some(Phase::Creating), phase, output)
        {
            tracing::warn!(%id, error = %e, "cannot record the end of vagrant up");
        }
    }
}

/// How many times `vagrant up` runs when it fails for a transient reason.
pub const UP_ATTEMPTS: u32 = 3;

/// True when `vagrant up` failed only because a container elsewhere on the engine was removed
/// while Vagrant looked at it: Vagrant 2.3.4's docker provider inspects every container on the
/// engine to find forwarded ports in use (`read_used_ports`, hashicorp/vagrant#9067; later
/// versions look only at running ones, #13146), and fails when one disappears meanwhile.
/// Nothing was created yet, so `vagrant up` can simply run again.
pub fn is_transient(run: &crate::vagrant::Run) -> bool {
    matches!(run.outcome, Outcome::Failed(_))
        && run
            .tail
            .iter()
            .any(|l| l.contains("Command: [\"docker\", \"inspect\""))
        && run.tail.iter().any(|l| l.contains("No such object"))
}

/// Reads and checks a template file.
pub fn load_template(path: &Path) -> Result<Template, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Template::parse(&text).map_err(|bad| {
        let list: Vec<String> = bad.iter().map(ToString::to_string).collect();
        format!("{}: {}", path.display(), list.join("; "))
    })
}

/// Waits for a Vagrant left running by an earlier plugin process in `dir`.
pub(crate) async fn vagrant_leftover(dir: &Path) {
    crate::vagrant::wait_for_leftover(dir).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vagrant::Run;

    #[test]
    fn only_the_inspect_race_is_retried() {
        let race = Run {
            outcome: Outcome::Failed(Some(1)),
            tail: vec![
                "Command: [\"docker\", \"inspect\", \"ffe6\", {:notify=>[:stdout, :stderr]}]"
                    .into(),
                "Stderr: Error: No such object: ffe6".into(),
            ],
        };
        assert!(is_transient(&race));
        let other = Run {
            outcome: Outcome::Failed(Some(1)),
            tail: vec!["Stderr: docker: Error response from daemon: no such file".into()],
        };
        assert!(!is_transient(&other));
        let ok = Run {
            outcome: Outcome::Success,
            ..race
        };
        assert!(!is_transient(&ok));
    }
}
