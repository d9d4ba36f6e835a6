//! The harness for tests against the real Docker engine: the real plugin binary on a socket in a
//! short temporary directory (an `infrakit_testkit::Mesh`), images built from local files
//! (Debian's static busybox copied into an empty image: nothing is pulled), waiting on
//! conditions with a deadline (never fixed sleeps), and a guard that removes every container and
//! image a test created, also when the test fails.
//!
//! The engine is required: a test fails when it is unavailable, unless `INFRAKIT_SKIP_DOCKER=1`
//! skips it explicitly (for machines without an engine).

#![allow(dead_code)]

use infrakit_testkit::docker::{BUSYBOX, busybox_image, remove_containers};
use infrakit_testkit::{Mesh, eventually, skip};
use std::path::PathBuf;
use std::time::Duration;

pub use infrakit_testkit::docker::{docker, docker_ok};
pub use infrakit_testkit::{Instance as Client, spec, violation_paths, with_token};

/// How long a condition may take before a test fails.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The label every container and image of one test run carries (its value is the run's ID).
pub const RUN_LABEL: &str = "infrakit-test.run";

/// The plugin binary under test.
pub fn plugin_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_infrakit-instance-docker"))
}

/// The lines of `docker ps -a` for containers matching every `filter` (e.g.
/// `label=infrakit.group=g`), as `name state image` triples.
pub fn containers(filters: &[String]) -> Vec<(String, String, String)> {
    let mut args = vec!["ps", "-a", "--format", "{{.Names}}\t{{.State}}\t{{.Image}}"];
    for f in filters {
        args.push("--filter");
        args.push(f);
    }
    docker_ok(&args)
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut parts = l.split('\t').map(str::to_string);
            (
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
            )
        })
        .collect()
}

/// Polls `cond` until it holds, failing the test after [`PATIENCE`]; returns how long it took.
pub fn wait_until(what: &str, cond: impl FnMut() -> bool) -> Duration {
    eventually(what, PATIENCE, Duration::from_millis(50), cond)
}

/// One test's world: a [`Mesh`] (reached through `Deref`) and a unique run ID labelling
/// everything it creates on the engine. Dropping it kills the processes first (so nothing
/// re-creates containers), then removes every container carrying the run's label or the run's
/// plugin marker, and the run's images.
pub struct Env {
    /// The run's ID (8 hex digits).
    pub id: String,
    mesh: Mesh,
    images: Vec<String>,
}

infrakit_testkit::deref_mesh!(Env);

impl Env {
    /// A new test world, or `None` when `INFRAKIT_SKIP_DOCKER=1` asks to skip. Fails the test
    /// when the engine is unavailable.
    pub fn new(test: &str) -> Option<Self> {
        if skip(test, "INFRAKIT_SKIP_DOCKER") {
            return None;
        }
        infrakit_testkit::docker::require_engine(test);
        infrakit_testkit::docker::require_busybox(
            "install Debian's busybox-static (apt-get install -y busybox-static)",
        );
        Some(Self {
            id: infrakit_runtime::socket::random_hex(4),
            mesh: Mesh::new("ikd").with_patience(PATIENCE),
            images: Vec::new(),
        })
    }

    /// The name of this run's Docker plugin (unique, so runs never see each other's containers).
    pub fn plugin_name(&self) -> String {
        format!("docker-{}", self.id)
    }

    /// The label filter for this run's plugin's containers.
    pub fn marker_filter(&self) -> String {
        format!("label=infrakit.instance-docker={}", self.plugin_name())
    }

    /// Builds `infrakit-test/<kind>-<run>:<tag>` from local files (no pull): busybox with `sh` and
    /// `sleep` (or, with `shell: false`, busybox alone at `/busybox`, no `/bin/sh`).
    pub fn build_image(&mut self, kind: &str, tag: &str, shell: bool) -> String {
        let name = format!("infrakit-test/{kind}-{}:{tag}", self.id);
        let ctx = self.join(&format!("img-{kind}-{tag}"));
        self.images.push(name.clone());
        if shell {
            busybox_image(
                &ctx,
                &name,
                &["sh", "sleep", "echo", "cat"],
                &[(RUN_LABEL, &self.id), ("infrakit-test.version", tag)],
            );
        } else {
            std::fs::create_dir_all(&ctx).expect("image context");
            std::fs::copy(BUSYBOX, ctx.join("busybox")).expect("copy busybox");
            let dockerfile = format!(
                "FROM scratch\nCOPY busybox /busybox\nLABEL {RUN_LABEL}={}\nCMD [\"/busybox\", \"sleep\", \"3600\"]\n",
                self.id
            );
            std::fs::write(ctx.join("Dockerfile"), dockerfile).expect("Dockerfile");
            docker_ok(&["build", "-q", "-t", &name, &ctx.display().to_string()]);
        }
        name
    }

    /// Starts this run's Docker plugin (state in `<dir>/docker-state`).
    pub fn start_plugin(&mut self) -> usize {
        let state = self.join("docker-state").display().to_string();
        let name = self.plugin_name();
        self.mesh
            .start(&plugin_binary(), &name, &["--state-dir", &state])
    }

    /// An Instance client for plugin `name`.
    pub fn instance_client(&self, name: &str) -> Client {
        self.instance(name)
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.mesh.kill_all();
        remove_containers(&[
            format!("label={RUN_LABEL}={}", self.id),
            self.marker_filter(),
        ]);
        for image in &self.images {
            let _ = docker(&["rmi", "-f", image]);
        }
    }
}
