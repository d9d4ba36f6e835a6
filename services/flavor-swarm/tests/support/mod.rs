//! The harness for tests against the real Docker engine and a real swarm: the real plugin
//! binaries on sockets in a short temporary directory, the local engine as the swarm's first
//! manager (initialised by the test, advertised on a network of its own that containers reach),
//! docker-in-docker containers from `infrakit/dind:local` (built offline by
//! `tests/setup/dind-image.sh`) as the instances that join, waiting on conditions with a deadline
//! (never fixed sleeps), and a guard that removes everything a test created (processes,
//! containers with their volumes, networks, the swarm) also when the test fails.
//!
//! # Assumptions
//! - The engine is required: a test fails when it is unavailable, unless `INFRAKIT_SKIP_DOCKER=1`
//!   skips it explicitly (for machines without an engine).
//! - A test refuses to run (fails with a message) when the engine is already in a swarm that the
//!   test did not create: it would otherwise disturb, and then leave, somebody's swarm.
//! - Swarm tests run one at a time, also across processes (nextest runs each test in its own):
//!   each holds an exclusive lock on [`LOCK_FILE`] while it runs.

#![allow(dead_code)]

use infrakit_testkit::docker::remove_containers;
use infrakit_testkit::{Mesh, eventually, skip};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

pub use infrakit_testkit::docker::{docker, docker_ok};
pub use infrakit_testkit::{Flavor, bin, violation_paths};

/// How long a condition may take before a test fails.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The label every container, network and volume of one test run carries (value: the run's ID).
pub const RUN_LABEL: &str = "infrakit-test.run";

/// Held (exclusively locked) by the swarm test that runs: the engine has one swarm.
pub const LOCK_FILE: &str = "/tmp/infrakit-flavor-swarm-tests.lock";

/// The docker-in-docker image (built by `tests/setup/dind-image.sh`).
pub const DIND_IMAGE: &str = "infrakit/dind:local";

/// The plugin binary under test.
pub fn plugin_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_infrakit-flavor-swarm"))
}

/// Polls `cond` until it holds, failing the test after `patience`; returns how long it took.
pub fn wait_for(what: &str, patience: Duration, cond: impl FnMut() -> bool) -> Duration {
    eventually(what, patience, Duration::from_millis(100), cond)
}

/// [`wait_for`] with [`PATIENCE`].
pub fn wait_until(what: &str, cond: impl FnMut() -> bool) -> Duration {
    wait_for(what, PATIENCE, cond)
}

/// How dind containers get the privileges their engine needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Privileges {
    /// `--privileged` works on this engine.
    Privileged,
    /// `--privileged` is refused ("unable to apply caps: operation not permitted", an engine whose
    /// bounding set lacks CAP_SYS_RESOURCE): every other capability, and no seccomp filter.
    AllCapsButSysResource,
}

impl Privileges {
    /// What this engine allows (probed once per process).
    pub fn probe() -> Self {
        static P: OnceLock<Privileges> = OnceLock::new();
        *P.get_or_init(|| {
            let name = format!("ikswarm-probe-{}", std::process::id());
            let o = docker(&[
                "run",
                "--rm",
                "--name",
                &name,
                "--privileged",
                "--entrypoint",
                "true",
                DIND_IMAGE,
            ]);
            // A container whose start failed may stay behind despite --rm.
            let _ = docker(&["rm", "-f", &name]);
            if o.status.success() {
                return Privileges::Privileged;
            }
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(
                err.contains("unable to apply caps"),
                "probing --privileged failed for another reason: {err}"
            );
            eprintln!(
                "note: --privileged is refused by this engine ({}); using --cap-add ALL --cap-drop SYS_RESOURCE --security-opt seccomp=unconfined",
                err.trim()
            );
            Privileges::AllCapsButSysResource
        })
    }

    /// The `docker run` flags.
    pub fn flags(self) -> Vec<&'static str> {
        match self {
            Self::Privileged => vec!["--privileged"],
            Self::AllCapsButSysResource => vec![
                "--cap-add",
                "ALL",
                "--cap-drop",
                "SYS_RESOURCE",
                "--security-opt",
                "seccomp=unconfined",
            ],
        }
    }

    /// The Docker instance plugin's Properties fields.
    pub fn properties(self) -> serde_json::Value {
        match self {
            Self::Privileged => serde_json::json!({"Privileged": true}),
            Self::AllCapsButSysResource => serde_json::json!({
                "CapAdd": ["ALL"], "CapDrop": ["SYS_RESOURCE"], "SecurityOpt": ["seccomp=unconfined"]
            }),
        }
    }
}

/// The swarm a test initialised on the local engine.
#[derive(Clone, Debug)]
pub struct Swarm {
    /// The network containers join it over.
    pub network: String,
    /// The manager address containers reach (the network's gateway on the host).
    pub addr: String,
    /// The local engine's node ID.
    pub self_node: String,
}

/// One test's world: a [`Mesh`] (reached through `Deref`), and a unique run ID labelling
/// everything it creates on the engine. Dropping it kills
/// the processes first (so nothing re-creates containers), removes every container of the run
/// (with its volumes), leaves the swarm it initialised, and removes the networks it created.
pub struct Env {
    /// The run's ID (8 hex digits).
    pub id: String,
    mesh: Mesh,
    swarm: Option<Swarm>,
    created_gwbridge: bool,
    /// Locked while the test runs; unlocked when dropped, after the cleanup.
    _one_at_a_time: std::fs::File,
}

infrakit_testkit::deref_mesh!(Env);

impl Env {
    /// A new test world, or `None` when `INFRAKIT_SKIP_DOCKER=1` asks to skip. Fails the test
    /// when the engine is unavailable, when the dind image is missing, or when the engine is
    /// already in a swarm.
    pub fn new(test: &str) -> Option<Self> {
        if skip(test, "INFRAKIT_SKIP_DOCKER") {
            return None;
        }
        let guard = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(LOCK_FILE)
            .expect("open the swarm tests' lock file");
        guard.lock().expect("lock the swarm tests' lock file");
        infrakit_testkit::docker::require_engine(test);
        assert!(
            docker(&["image", "inspect", DIND_IMAGE]).status.success(),
            "{DIND_IMAGE} is missing: build it with `bash tests/setup/dind-image.sh` (offline: debootstrap \
             from apt, then docker import; about 80 s the first time)"
        );
        let state = swarm_state();
        assert!(
            state == "inactive",
            "refusing to run {test}: the engine is already in a swarm (state {state:?}) that this test \
             did not create. Leave it first (`docker swarm leave --force`) if it is a leftover."
        );
        Some(Self {
            id: infrakit_runtime::socket::random_hex(4),
            mesh: Mesh::new("iks").with_patience(PATIENCE),
            swarm: None,
            created_gwbridge: false,
            _one_at_a_time: guard,
        })
    }

    /// Initialises a swarm on the local engine, advertised on a new network's gateway, with a
    /// 1 s dispatcher heartbeat (so a dead node is Down within seconds).
    pub fn init_swarm(&mut self) -> Swarm {
        let network = format!("ik-swarm-{}", self.id);
        self.created_gwbridge = !docker(&["network", "inspect", "docker_gwbridge"])
            .status
            .success();
        docker_ok(&[
            "network",
            "create",
            "--label",
            &format!("{RUN_LABEL}={}", self.id),
            &network,
        ]);
        // Recorded before the swarm exists, so that a failing init is still cleaned up.
        self.swarm = Some(Swarm {
            network: network.clone(),
            addr: String::new(),
            self_node: String::new(),
        });
        let gateway = docker_ok(&[
            "network",
            "inspect",
            "-f",
            "{{(index .IPAM.Config 0).Gateway}}",
            &network,
        ]);
        assert!(!gateway.is_empty(), "network {network} has no gateway");
        docker_ok(&[
            "swarm",
            "init",
            "--advertise-addr",
            &gateway,
            "--dispatcher-heartbeat",
            "1s",
        ]);
        let s = Swarm {
            network,
            addr: format!("{gateway}:2377"),
            self_node: docker_ok(&["info", "--format", "{{.Swarm.NodeID}}"]),
        };
        self.swarm = Some(s.clone());
        s
    }

    /// Starts the flavor under test as `flavor-swarm`, talking to the local engine.
    pub fn start_flavor(&mut self) -> usize {
        self.mesh.start(&plugin_binary(), "flavor-swarm", &[])
    }

    /// A Flavor client for plugin `name`.
    pub fn flavor_client(&self, name: &str) -> Flavor {
        self.flavor(name)
    }

    /// Starts a dind container on the swarm's network whose main process runs `init`, then the
    /// engine, as the Docker instance plugin runs a flavor's Init; returns its name.
    pub fn run_dind(&self, name: &str, init: &str) -> String {
        let swarm = self.swarm.as_ref().expect("init_swarm first");
        let name = format!("ikswarm-{}-{name}", self.id);
        let label = format!("{RUN_LABEL}={}", self.id);
        let script = format!("{init}\nexec \"$@\"");
        let mut args = vec![
            "run",
            "-d",
            "--name",
            &name,
            "--label",
            &label,
            "--network",
            &swarm.network,
            "-v",
            "/var/lib/docker",
        ];
        args.extend(Privileges::probe().flags());
        args.extend([
            "--entrypoint",
            "/bin/sh",
            DIND_IMAGE,
            "-c",
            &script,
            "sh",
            "/usr/local/bin/dind",
            "dockerd",
        ]);
        docker_ok(&args);
        name
    }

    /// The IDs of the swarm's nodes other than the local engine's.
    pub fn other_nodes(&self) -> Vec<String> {
        let me = self
            .swarm
            .as_ref()
            .map(|s| s.self_node.clone())
            .unwrap_or_default();
        docker_ok(&["node", "ls", "-q"])
            .lines()
            .map(str::to_string)
            .filter(|n| !n.is_empty() && *n != me)
            .collect()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.mesh.kill_all();
        remove_containers(&[
            format!("label={RUN_LABEL}={}", self.id),
            // Containers made by a run's Docker instance plugin carry its marker, not the run label.
            format!("label=infrakit.instance-docker=docker-{}", self.id),
        ]);
        if let Some(s) = self.swarm.take() {
            if swarm_state() != "inactive" {
                let _ = docker(&["swarm", "leave", "--force"]);
            }
            let _ = docker(&["network", "rm", &s.network]);
            if self.created_gwbridge {
                let _ = docker(&["network", "rm", "docker_gwbridge"]);
            }
        }
    }
}

/// The engine's swarm state: `inactive`, `active`, `pending`, `locked` or `error`.
pub fn swarm_state() -> String {
    docker_ok(&["info", "--format", "{{.Swarm.LocalNodeState}}"])
}

/// Flavor calls with the request plumbing written once.
pub mod calls;
