//! Starting the service binaries in a short temporary directory and connecting to them.
//!
//! # Guarantees
//! - Every process a [`Mesh`] starts is killed (SIGKILL) and reaped when the mesh is dropped,
//!   also when a scenario fails or panics; the directory is removed after that.
//! - Readiness is a gRPC health check answered SERVING on the plugin's socket, never a sleep.

use anyhow::{Context, bail};
use infrakit_runtime::ListenAddr;
use infrakit_spi::flavor::v1::flavor_client::FlavorClient;
use infrakit_spi::group::v1::group_client::GroupClient;
use infrakit_spi::instance::v1::instance_client::InstanceClient;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// The largest message the bench accepts (a DescribeGroup of 10,000 members is a few MB).
pub const MAX_MESSAGE: usize = 512 * 1024 * 1024;

/// How long a plugin may take to serve after it was started.
pub const START_PATIENCE: Duration = Duration::from_secs(30);

/// The name of the file instance plugin in the mesh.
pub const INSTANCE: &str = "instance-file";
/// The name of the vanilla flavor in the mesh.
pub const FLAVOR: &str = "flavor-vanilla";
/// The name of the group plugin in the mesh.
pub const GROUP: &str = "group";

/// Where the binaries are and where meshes live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setup {
    /// The directory holding the service binaries.
    pub bins: PathBuf,
    /// The directory under which each mesh gets its own temporary directory (`/tmp`).
    pub work: PathBuf,
}

/// One started service.
#[derive(Debug)]
struct Service {
    name: String,
    binary: String,
    args: Vec<String>,
    child: Child,
    log: PathBuf,
}

/// Service processes in one temporary directory.
#[derive(Debug)]
pub struct Mesh {
    services: Vec<Service>,
    bins: PathBuf,
    /// `None` only once [`Mesh::into_dir`] took it.
    root: Option<tempfile::TempDir>,
}

// === impl Mesh ===

impl Mesh {
    /// An empty mesh in a new directory under the work directory (`/tmp`: socket paths must
    /// stay short).
    pub fn new(setup: &Setup) -> anyhow::Result<Self> {
        // Flush what earlier runs left to the disk (the deletion of a previous mesh's 10,000
        // files goes on in the kernel after it returns), so it is not charged to this run.
        let _ = std::process::Command::new("sync").status();
        let root = tempfile::Builder::new()
            .prefix("ikb")
            .tempdir_in(&setup.work)
            .with_context(|| {
                format!(
                    "cannot create a temporary directory under {}",
                    setup.work.display()
                )
            })?;
        std::fs::create_dir_all(root.path().join("p")).context("cannot create the plugins dir")?;
        Ok(Self {
            services: Vec::new(),
            bins: setup.bins.clone(),
            root: Some(root),
        })
    }

    /// The file plugin, the vanilla flavor and the group plugin (with `group_args` added to
    /// its command line), each serving.
    pub async fn standard(setup: &Setup, group_args: &[&str]) -> anyhow::Result<Self> {
        let mut mesh = Self::new(setup)?;
        mesh.start_plugins().await?;
        let state = mesh.root().join("state").display().to_string();
        let mut args = vec!["--state-dir", state.as_str()];
        args.extend_from_slice(group_args);
        mesh.start("infrakit-group", GROUP, &args).await?;
        Ok(mesh)
    }

    /// Starts the file instance plugin and the vanilla flavor, and waits until they serve.
    pub async fn start_plugins(&mut self) -> anyhow::Result<()> {
        let inst = self.instance_dir().display().to_string();
        self.start(
            "infrakit-instance-file",
            INSTANCE,
            &["--dir", inst.as_str()],
        )
        .await?;
        self.start("infrakit-flavor-vanilla", FLAVOR, &[]).await
    }

    /// Starts `binary` as plugin `name` and waits until its socket answers SERVING.
    pub async fn start(&mut self, binary: &str, name: &str, args: &[&str]) -> anyhow::Result<()> {
        let log = self.root().join(format!("{name}.log"));
        let err = std::fs::File::options()
            .create(true)
            .append(true)
            .open(&log)
            .context("cannot create a log file")?;
        let child = Command::new(self.bins.join(binary))
            .arg("--name")
            .arg(name)
            .args(args)
            .env("INFRAKIT_PLUGINS_DIR", self.plugins_dir())
            .env_remove("RUST_LOG")
            .env_remove("INFRAKIT_LOG_LEVEL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .with_context(|| format!("cannot start {binary}"))?;
        self.services.push(Service {
            name: name.to_string(),
            binary: binary.to_string(),
            args: args.iter().map(|a| a.to_string()).collect(),
            child,
            log,
        });
        let sock = self.socket(name);
        let start = Instant::now();
        loop {
            if let Some(s) = self.services.last_mut()
                && let Ok(Some(status)) = s.child.try_wait()
            {
                bail!(
                    "{binary} exited early ({status}); its log:\n{}",
                    tail(&s.log)
                );
            }
            if serving(&sock).await {
                return Ok(());
            }
            if start.elapsed() > START_PATIENCE {
                bail!(
                    "{binary} did not serve on {} within {START_PATIENCE:?}",
                    sock.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Kills plugin `name` (SIGKILL) and starts it again with the same arguments; waits until
    /// it serves.
    pub async fn restart(&mut self, name: &str) -> anyhow::Result<()> {
        let i = self
            .services
            .iter()
            .position(|s| s.name == name)
            .with_context(|| format!("no service {name} in this mesh"))?;
        let mut old = self.services.remove(i);
        let _ = old.child.kill();
        let _ = old.child.wait();
        let args: Vec<&str> = old.args.iter().map(String::as_str).collect();
        self.start(&old.binary, name, &args).await
    }

    /// Kills plugin `name` (SIGKILL) and reaps it; [`Mesh::restart`] starts it again.
    pub fn kill(&mut self, name: &str) -> anyhow::Result<()> {
        let s = self
            .services
            .iter_mut()
            .find(|s| s.name == name)
            .with_context(|| format!("no service {name} in this mesh"))?;
        let _ = s.child.kill();
        let _ = s.child.wait();
        Ok(())
    }

    /// The plugins directory.
    pub fn plugins_dir(&self) -> PathBuf {
        self.root().join("p")
    }

    /// The directory of the file plugin's instances.
    pub fn instance_dir(&self) -> PathBuf {
        self.root().join("inst")
    }

    /// The socket of plugin `name`.
    pub fn socket(&self, name: &str) -> PathBuf {
        self.plugins_dir().join(format!("{name}.sock"))
    }

    /// Stops the services and hands back the mesh's directory instead of deleting it: a
    /// scenario that runs again keeps the files until it is over, because on ext4 a run
    /// that allocates 10,000 inodes right after 10,000 were freed pays for the allocator
    /// skipping recently freed ones (up to a second) -- the cost of the bench's own cleanup,
    /// not of the next run.
    pub fn into_dir(mut self) -> Option<tempfile::TempDir> {
        self.stop();
        self.root.take()
    }

    /// The mesh's directory.
    fn root(&self) -> &Path {
        self.root
            .as_ref()
            .map_or(Path::new("/nonexistent"), |r| r.path())
    }

    /// Kills every service (the group first, so that it does not react to its plugins
    /// going away).
    fn stop(&mut self) {
        for s in self.services.iter_mut().rev() {
            let _ = s.child.kill();
            let _ = s.child.wait();
        }
        self.services.clear();
    }

    /// The process ID of plugin `name`.
    pub fn pid(&self, name: &str) -> anyhow::Result<u32> {
        self.services
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.child.id())
            .with_context(|| format!("no service {name} in this mesh"))
    }

    /// The last lines of every service's log (for error messages).
    pub fn logs(&self) -> String {
        self.services
            .iter()
            .map(|s| format!("--- {} ---\n{}", s.name, tail(&s.log)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Fails with the services' logs if any service has exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        for s in &mut self.services {
            if let Ok(Some(status)) = s.child.try_wait() {
                bail!("{} exited ({status}); its log:\n{}", s.name, tail(&s.log));
            }
        }
        Ok(())
    }

    /// A new channel (its own connection) to plugin `name`.
    pub async fn channel(&self, name: &str) -> anyhow::Result<Channel> {
        let addr = ListenAddr::Unix(self.socket(name));
        infrakit_runtime::dial::connect(&addr, false, &Default::default())
            .await
            .with_context(|| format!("cannot connect to {name}"))
    }

    /// A Group client on a new connection.
    pub async fn group(&self) -> anyhow::Result<GroupClient<Channel>> {
        Ok(GroupClient::new(self.channel(GROUP).await?)
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE))
    }

    /// An Instance client on a new connection.
    pub async fn instance(&self) -> anyhow::Result<InstanceClient<Channel>> {
        Ok(InstanceClient::new(self.channel(INSTANCE).await?)
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE))
    }

    /// A Flavor client on a new connection.
    pub async fn flavor(&self) -> anyhow::Result<FlavorClient<Channel>> {
        Ok(FlavorClient::new(self.channel(FLAVOR).await?))
    }

    /// The number of instance files (`*.json`) in the file plugin's directory.
    pub fn instance_files(&self) -> usize {
        std::fs::read_dir(self.instance_dir())
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                    .count()
            })
            .unwrap_or(0)
    }
}

impl Drop for Mesh {
    fn drop(&mut self) {
        self.stop();
        // `root` is removed when its field is dropped, after this.
    }
}

/// True when the unix socket answers a gRPC health check with SERVING.
pub async fn serving(sock: &Path) -> bool {
    if !sock.exists() {
        return false;
    }
    let check = async {
        let addr = ListenAddr::Unix(sock.to_path_buf());
        let Ok(ch) = infrakit_runtime::dial::connect(&addr, false, &Default::default()).await
        else {
            return false;
        };
        let mut h = HealthClient::new(ch);
        matches!(
            h.check(HealthCheckRequest { service: String::new() }).await,
            Ok(r) if r.get_ref().status == ServingStatus::Serving as i32
        )
    };
    tokio::time::timeout(Duration::from_secs(2), check)
        .await
        .unwrap_or(false)
}

/// The last 40 lines of a log file.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}
