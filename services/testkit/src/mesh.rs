//! One test's world: a short temporary directory, its plugins directory, and the processes the
//! test started.

use crate::bin::bin;
use crate::client::{Blocking, Flavor};
use crate::group::GroupHarness;
use crate::instance::Instance;
use crate::proc::Proc;
use crate::wait::eventually;
use infrakit_spi::flavor::v1::flavor_client::FlavorClient;
use infrakit_spi::group::v1::group_client::GroupClient;
use infrakit_spi::instance::v1::instance_client::InstanceClient;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How long a started plugin may take to serve, unless [`Mesh::with_patience`] says otherwise.
const DEFAULT_PATIENCE: Duration = Duration::from_secs(60);

/// One test's world: a short temporary directory under `/tmp` (socket paths must stay under
/// 107 bytes) holding the plugins directory `p/`, the processes' logs and whatever else the test
/// keeps there, and the processes the test started.
///
/// Dropping it kills every process (see [`Mesh::kill_all`]), then removes the directory. A
/// crate's own harness wraps it, and in its `Drop` calls [`Mesh::kill_all`] before it removes
/// what its backend made (containers, instance processes), so that no plugin re-creates them.
pub struct Mesh {
    _dir: tempfile::TempDir,
    path: PathBuf,
    patience: Duration,
    env: Vec<(String, String)>,
    procs: Vec<Proc>,
}

impl Mesh {
    /// A new world in a fresh directory `/tmp/<prefix>XXXXXX`.
    pub fn new(prefix: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in("/tmp")
            .expect("a temporary directory");
        // Resolved (as `pwd -P` shows it), so that paths compare equal to what processes see.
        let path = dir
            .path()
            .canonicalize()
            .unwrap_or_else(|_| dir.path().to_path_buf());
        Self {
            _dir: dir,
            path,
            patience: DEFAULT_PATIENCE,
            env: Vec::new(),
            procs: Vec::new(),
        }
    }

    /// Gives a started plugin `patience` to serve (60 s unless told).
    pub fn with_patience(mut self, patience: Duration) -> Self {
        self.patience = patience;
        self
    }

    /// Sets environment variable `key` for every process started from now on.
    pub fn set_env(&mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) {
        let value = value.as_ref().to_string_lossy().into_owned();
        self.env.push((key.to_string(), value));
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside the directory.
    pub fn join(&self, p: &str) -> PathBuf {
        self.path.join(p)
    }

    /// The plugins directory (`INFRAKIT_PLUGINS_DIR` of every process started).
    pub fn plugins(&self) -> PathBuf {
        self.join("p")
    }

    /// The socket of plugin `name` in the plugins directory.
    pub fn socket(&self, name: &str) -> PathBuf {
        self.plugins().join(format!("{name}.sock"))
    }

    /// Starts `binary --name NAME ARGS...` (see [`Mesh::start_with`]).
    pub fn start(&mut self, binary: &Path, name: &str, args: &[&str]) -> usize {
        self.start_with(binary, name, args, &[])
    }

    /// Starts `binary --name NAME ARGS...` with `env` added to its environment, the plugins
    /// directory set and `RUST_LOG=info`, its stderr in a log file of the directory; waits until
    /// socket `NAME` serves. Fails the test, with the log, if the process exits first or does not
    /// serve in time. Returns the process's index for [`Mesh::proc`].
    pub fn start_with(
        &mut self,
        binary: &Path,
        name: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> usize {
        let log = self.join(&format!(
            "{}-{}.log",
            name.replace('/', "_"),
            infrakit_runtime::socket::random_hex(3)
        ));
        let out = std::fs::File::create(&log).expect("a log file");
        let child = Command::new(binary)
            .arg("--name")
            .arg(name)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(env.iter().copied())
            .env("INFRAKIT_PLUGINS_DIR", self.plugins())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));
        let mut p = Proc::adopt(name, child, log);
        let sock = self.socket(name);
        eventually(
            &format!("{name} serving"),
            self.patience,
            Duration::from_millis(20),
            || {
                p.assert_running();
                crate::client::serving(&sock)
            },
        );
        self.procs.push(p);
        self.procs.len() - 1
    }

    /// Starts the vanilla flavor (`infrakit-flavor-vanilla`) as `flavor-vanilla`.
    pub fn start_vanilla(&mut self) -> usize {
        self.start(&bin("infrakit-flavor-vanilla"), "flavor-vanilla", &[])
    }

    /// Starts the group controller (`infrakit-group`) as `group`, its state in `group-state/`,
    /// with `extra` flags (e.g. `--health-interval 200ms`).
    pub fn start_group(&mut self, extra: &[&str]) -> usize {
        let state = self.join("group-state").display().to_string();
        let mut args = vec!["--state-dir", &state];
        args.extend_from_slice(extra);
        self.start(&bin("infrakit-group"), "group", &args)
    }

    /// Keeps a helper process the test started (killed with the others); its stderr is `log`.
    pub fn adopt(&mut self, child: Child, log: PathBuf) -> usize {
        let name = log
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.procs.push(Proc::adopt(&name, child, log));
        self.procs.len() - 1
    }

    /// A started process, by the index [`Mesh::start`] or [`Mesh::adopt`] returned.
    pub fn proc(&mut self, i: usize) -> &mut Proc {
        &mut self.procs[i]
    }

    /// The log of the process last started as `name` (empty when there is none).
    pub fn logs_of(&self, name: &str) -> String {
        self.procs
            .iter()
            .rev()
            .find(|p| p.name() == name)
            .map(Proc::logs)
            .unwrap_or_default()
    }

    /// The logs of every process started, each under its file name, for failure messages.
    pub fn logs(&self) -> String {
        self.procs
            .iter()
            .map(|p| format!("--- {}\n{}", p.log().display(), p.logs()))
            .collect()
    }

    /// A blocking client of plugin `name`; `new` makes the generated client from the channel.
    pub fn client<C>(
        &self,
        name: &str,
        new: impl FnOnce(tonic::transport::Channel) -> C,
    ) -> Blocking<C> {
        Blocking::connect(&self.socket(name), new)
    }

    /// A blocking Instance client of plugin `name`.
    pub fn instance(&self, name: &str) -> Instance {
        self.client(name, InstanceClient::new)
    }

    /// A blocking Flavor client of plugin `name`.
    pub fn flavor(&self, name: &str) -> Flavor {
        self.client(name, FlavorClient::new)
    }

    /// A blocking Group client of the group controller started by [`Mesh::start_group`].
    pub fn group(&self) -> GroupHarness {
        self.client("group", GroupClient::new)
    }

    /// Kills every process started or adopted, in the order they were started.
    pub fn kill_all(&mut self) {
        for p in &mut self.procs {
            p.kill();
        }
    }
}

impl Drop for Mesh {
    fn drop(&mut self) {
        // The directory goes after this, with its field.
        self.kill_all();
    }
}

/// Implements `Deref<Target = Mesh>` and `DerefMut` for a crate's test world, a struct whose
/// field `mesh` holds its [`Mesh`], so that tests call the mesh's methods (`env.start(..)`,
/// `env.join(..)`, `env.proc(i)`) on the world itself: `infrakit_testkit::deref_mesh!(Env);`.
#[macro_export]
macro_rules! deref_mesh {
    ($world:ty) => {
        impl ::std::ops::Deref for $world {
            type Target = $crate::Mesh;
            fn deref(&self) -> &$crate::Mesh {
                &self.mesh
            }
        }

        impl ::std::ops::DerefMut for $world {
            fn deref_mut(&mut self) -> &mut $crate::Mesh {
                &mut self.mesh
            }
        }
    };
}
