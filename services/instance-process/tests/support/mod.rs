//! The harness for tests of the process plugin: the real plugin binary on a socket in a short
//! temporary directory (an `infrakit_testkit::Mesh`), real processes, waiting on conditions with
//! a deadline (never fixed sleeps for readiness), and a guard that kills every process a test
//! started, also when the test fails: the plugins it ran, and every process whose environment
//! names an instance directory of the test (instances, their children, and orphans left by a
//! killed plugin).

#![allow(dead_code)]

use infrakit_instance_process::procfs;
use infrakit_spi::instance::v1::*;
use infrakit_testkit::{Mesh, eventually};
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub use infrakit_testkit::procfs::signal;
pub use infrakit_testkit::{
    Instance as Client, props, spec, tags as tag_map, violation_paths, with_token,
};

/// How long a condition may take before a test fails.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The plugin's name in tests.
pub const PLUGIN: &str = "instance-process";

/// The plugin binary under test.
pub fn plugin_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_infrakit-instance-process"))
}

/// Polls `cond` until it holds, failing the test after [`PATIENCE`]; returns how long it took.
pub fn wait_until(what: &str, cond: impl FnMut() -> bool) -> Duration {
    eventually(what, PATIENCE, Duration::from_millis(10), cond)
}

/// True while `pid` runs (a zombie does not).
pub fn running(pid: u32) -> bool {
    procfs::stat(pid).is_some_and(|s| s.running())
}

/// The live processes of process group `pgid`.
pub fn group(pgid: u32) -> Vec<u32> {
    procfs::group_members(pgid)
}

/// One test's world: a [`Mesh`] (reached through `Deref`) whose directory also holds the
/// plugin's instance directory. Dropping it kills the plugins first (so nothing restarts), then
/// every process of the test's instances.
pub struct Env {
    mesh: Mesh,
}

infrakit_testkit::deref_mesh!(Env);

impl Env {
    /// A new test world.
    pub fn new() -> Self {
        Self {
            mesh: Mesh::new("ikp").with_patience(PATIENCE),
        }
    }

    /// The plugin's `--dir`.
    pub fn instances(&self) -> PathBuf {
        self.join("inst")
    }

    /// An instance's directory.
    pub fn instance(&self, id: &str) -> PathBuf {
        self.instances().join(id)
    }

    /// Starts the process plugin on this test's instance directory.
    pub fn start_plugin(&mut self) -> usize {
        self.start_plugin_with(&[])
    }

    /// Starts the process plugin on this test's instance directory, with more flags.
    pub fn start_plugin_with(&mut self, args: &[&str]) -> usize {
        let dir = self.instances().display().to_string();
        let mut all = vec!["--dir", &dir];
        all.extend_from_slice(args);
        // Also proves the plugin does not pass its listen address on to instances.
        let listen = format!("unix://{}", self.socket(PLUGIN).display());
        self.mesh.start_with(
            &plugin_binary(),
            PLUGIN,
            &all,
            &[("INFRAKIT_LISTEN", &listen)],
        )
    }

    /// A blocking Instance client for the process plugin.
    pub fn client(&self) -> Client {
        self.mesh.instance(PLUGIN)
    }

    /// The pids of every process whose environment names one of this test's instance
    /// directories.
    pub fn instance_processes(&self) -> Vec<u32> {
        let prefix = format!("{}/", self.instances().display());
        infrakit_testkit::procfs::pids()
            .into_iter()
            .filter(|pid| {
                infrakit_testkit::procfs::environ(*pid)
                    .get("INFRAKIT_INSTANCE_DIR")
                    .is_some_and(|d| d.starts_with(&prefix))
            })
            .collect()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.mesh.kill_all();
        let start = Instant::now();
        loop {
            let left: Vec<u32> = self
                .instance_processes()
                .into_iter()
                .filter(|p| running(*p))
                .collect();
            if left.is_empty() || start.elapsed() > Duration::from_secs(10) {
                break;
            }
            for pid in left {
                infrakit_testkit::procfs::kill(pid);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// What the tests ask the process plugin beyond the common calls.
pub trait ProcessClient {
    /// The pid of a listed instance.
    fn pid(&mut self, id: &str) -> u32;
}

impl ProcessClient for Client {
    fn pid(&mut self, id: &str) -> u32 {
        let d = self.find(id).expect("instance listed");
        props(&d)["Pid"].as_u64().expect("Pid") as u32
    }
}

/// Waits for the next event of `kind` about `id`, failing after [`PATIENCE`].
pub fn next_event(
    rx: &std::sync::mpsc::Receiver<InstanceEvent>,
    kind: InstanceEventKind,
    id: &str,
) -> InstanceEvent {
    let start = Instant::now();
    loop {
        let left = PATIENCE.saturating_sub(start.elapsed());
        let ev = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no {kind:?} event for {id}"));
        if ev.kind == kind as i32 && ev.instance.as_ref().is_some_and(|i| i.id == id) {
            return ev;
        }
    }
}
