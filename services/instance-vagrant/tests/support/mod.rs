//! The harness for tests against the real Vagrant (Debian's 2.3.4, docker provider) and the
//! real Docker engine: the real plugin binary on a socket in a short temporary directory, a
//! tiny image built from local files (Debian's static busybox copied into an empty image:
//! nothing is pulled), Vagrant kept offline (`VAGRANT_CHECKPOINT_DISABLE=1`, `VAGRANT_HOME` in
//! the test directory), waiting on conditions with a deadline (never fixed sleeps), and a guard
//! that removes every process, container, network, image and directory a test created, also
//! when the test fails.
//!
//! Vagrant and the engine are required: a test fails when either is missing, unless
//! `INFRAKIT_SKIP_VAGRANT=1` or `INFRAKIT_SKIP_DOCKER=1` skips it explicitly.

#![allow(dead_code)]

use infrakit_spi::instance::v1::*;
use infrakit_testkit::docker::{busybox_image, remove_containers};
use infrakit_testkit::{Mesh, eventually, skip};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub use infrakit_testkit::docker::{docker, docker_ok};
pub use infrakit_testkit::{
    Instance as Client, instance_spec as spec, props, violation_paths, with_token,
};

/// How long a condition may take before a test fails.
pub const PATIENCE: Duration = Duration::from_secs(45);

/// The label every image, container and network a test makes by hand carries.
pub const RUN_LABEL: &str = "infrakit-test.run";

/// The label the plugin puts on containers: its instances directory.
pub const DIR_LABEL: &str = "infrakit.instance-vagrant.dir";

/// The label the plugin puts on containers: the instance ID.
pub const ID_LABEL: &str = "infrakit.instance-vagrant.id";

/// The plugin binary under test.
pub fn plugin_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_infrakit-instance-vagrant"))
}

/// Polls `cond` until it holds, failing the test after [`PATIENCE`]; returns how long it took.
pub fn wait_until(what: &str, cond: impl FnMut() -> bool) -> Duration {
    eventually(what, PATIENCE, Duration::from_millis(50), cond)
}

/// One test's world: a [`Mesh`] (reached through `Deref`; its directory also holds the
/// instances dir and VAGRANT_HOME), and a unique run ID. Dropping it kills the processes, then
/// any Vagrant still running in the test directory, then removes every container of the
/// test's instances directory or carrying the run's label, the run's networks and images, and
/// the directory.
pub struct Env {
    /// The run's ID (8 hex digits).
    pub id: String,
    mesh: Mesh,
    images: Vec<String>,
    networks: Vec<String>,
}

infrakit_testkit::deref_mesh!(Env);

impl Env {
    /// A new test world, or `None` when `INFRAKIT_SKIP_VAGRANT=1` or `INFRAKIT_SKIP_DOCKER=1`
    /// asks to skip. Fails the test when Vagrant, busybox or the engine is missing.
    pub fn new(test: &str) -> Option<Self> {
        if skip(test, "INFRAKIT_SKIP_VAGRANT") || skip(test, "INFRAKIT_SKIP_DOCKER") {
            return None;
        }
        let vagrant = Command::new("vagrant")
            .arg("--version")
            .env("VAGRANT_CHECKPOINT_DISABLE", "1")
            .stdin(Stdio::null())
            .output();
        assert!(
            vagrant.as_ref().is_ok_and(|o| o.status.success()),
            "{test} needs vagrant, and `vagrant --version` failed ({}).\n\
             Install it with: sudo bash tests/setup/vagrant.sh   (Debian's vagrant 2.3.4 and busybox-static)\n\
             or set INFRAKIT_SKIP_VAGRANT=1 to skip these tests on a machine without it",
            match &vagrant {
                Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
                Err(e) => e.to_string(),
            }
        );
        infrakit_testkit::docker::require_engine(test);
        infrakit_testkit::docker::require_busybox(
            "run sudo bash tests/setup/vagrant.sh (it installs busybox-static)",
        );
        let mut mesh = Mesh::new("ikv").with_patience(PATIENCE);
        // Vagrant kept offline, its state in the test directory.
        mesh.set_env("VAGRANT_HOME", mesh.join("vagrant-home"));
        mesh.set_env("VAGRANT_CHECKPOINT_DISABLE", "1");
        Some(Self {
            id: infrakit_runtime::socket::random_hex(4),
            mesh,
            images: Vec::new(),
            networks: Vec::new(),
        })
    }

    /// The plugin's instances directory.
    pub fn instances(&self) -> PathBuf {
        self.join("instances")
    }

    /// The name of this run's Vagrant plugin.
    pub fn plugin_name(&self) -> String {
        format!("vagrant-{}", self.id)
    }

    /// The label filter for the containers of this run's plugin.
    pub fn dir_filter(&self) -> String {
        format!("label={DIR_LABEL}={}", self.instances().display())
    }

    /// The instance directories that exist.
    pub fn instance_dirs(&self) -> Vec<String> {
        let mut out: Vec<String> = std::fs::read_dir(self.instances())
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .filter(|e| e.path().is_dir())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }

    /// `name state` of every container of this run's plugin.
    pub fn containers(&self) -> Vec<(String, String)> {
        docker_ok(&[
            "ps",
            "-a",
            "--filter",
            &self.dir_filter(),
            "--format",
            "{{.Names}}\t{{.State}}",
        ])
        .lines()
        .filter_map(|l| {
            l.split_once('\t')
                .map(|(a, b)| (a.to_string(), b.to_string()))
        })
        .collect()
    }

    /// Builds `infrakit-test/vagrant-<run>:<tag>` from local files (no pull): busybox with
    /// `sh`, `sleep`, `echo`, `cat` and `hostname`.
    pub fn build_image(&mut self, tag: &str) -> String {
        let name = format!("infrakit-test/vagrant-{}:{tag}", self.id);
        let ctx = self.join(&format!("img-{tag}"));
        self.images.push(name.clone());
        busybox_image(
            &ctx,
            &name,
            &["sh", "sleep", "echo", "cat", "hostname", "env"],
            &[(RUN_LABEL, &self.id)],
        );
        name
    }

    /// Creates a user-defined network with a free /24 subnet; returns its name and subnet
    /// prefix (`10.x.y.`).
    pub fn network(&mut self) -> (String, String) {
        let name = format!("ikv-{}", self.id);
        for _ in 0..20 {
            let b = infrakit_runtime::socket::random_hex(2);
            let (x, y) = (
                u8::from_str_radix(&b[..2], 16).unwrap() % 200 + 20,
                u8::from_str_radix(&b[2..], 16).unwrap(),
            );
            let prefix = format!("10.{x}.{y}.");
            let o = docker(&[
                "network",
                "create",
                "--label",
                &format!("{RUN_LABEL}={}", self.id),
                "--subnet",
                &format!("{prefix}0/24"),
                &name,
            ]);
            if o.status.success() {
                self.networks.push(name.clone());
                return (name, prefix);
            }
        }
        panic!("cannot create a docker network with a free subnet");
    }

    /// Starts this run's Vagrant plugin on the test's instances directory.
    pub fn start_plugin(&mut self, extra: &[&str]) -> usize {
        let dir = self.instances().display().to_string();
        let name = self.plugin_name();
        let mut args = vec!["--dir", &dir, "--poll-interval", "250ms"];
        args.extend_from_slice(extra);
        self.mesh.start(&plugin_binary(), &name, &args)
    }

    /// An Instance client for this run's plugin.
    pub fn client(&self) -> Client {
        self.instance(&self.plugin_name())
    }

    /// Processes whose working directory is inside the test directory (Vagrant runs the plugin
    /// started, which may outlive a killed plugin).
    fn processes_inside(&self) -> Vec<u32> {
        infrakit_testkit::procfs::pids()
            .into_iter()
            .filter(|pid| {
                infrakit_testkit::procfs::cwd(*pid).is_some_and(|cwd| cwd.starts_with(self.path()))
            })
            .collect()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.mesh.kill_all();
        // Vagrant runs left by a killed plugin: stop them before they create anything more.
        for pid in self.processes_inside() {
            infrakit_testkit::procfs::kill(pid);
        }
        remove_containers(&[format!("label={RUN_LABEL}={}", self.id), self.dir_filter()]);
        for n in &self.networks {
            let _ = docker(&["network", "rm", n]);
        }
        for image in &self.images {
            let _ = docker(&["rmi", "-f", image]);
        }
    }
}

/// What the tests ask the Vagrant plugin beyond the common calls.
pub trait VagrantClient {
    /// Waits until instance `id` is in `state`; returns how long it took. Fails early, with the
    /// instance's properties, when it reaches another final state.
    fn wait_state(&mut self, id: &str, state: InstanceState) -> Duration;
}

impl VagrantClient for Client {
    fn wait_state(&mut self, id: &str, state: InstanceState) -> Duration {
        let start = Instant::now();
        loop {
            let d = self.find(id);
            if let Some(d) = &d {
                if d.state == state as i32 {
                    return start.elapsed();
                }
                let failed = d.state == InstanceState::Failed as i32;
                assert!(
                    !(failed && state == InstanceState::Running),
                    "{id} failed instead of running: {}",
                    props(d)
                );
            }
            assert!(
                start.elapsed() < PATIENCE,
                "{id} did not reach {state:?}; last: {:?}",
                d.as_ref().map(props)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// An Init script that serves until Destroy (PID 1 needs a TERM handler to stop quickly).
pub const SERVE: &str = "trap 'exit 0' TERM\necho booting\nsleep 3600 & wait";
