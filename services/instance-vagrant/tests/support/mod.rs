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

use infrakit_spi::instance::v1::instance_client::InstanceClient;
use infrakit_spi::instance::v1::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use tonic::transport::Channel;

/// How long a condition may take before a test fails.
pub const PATIENCE: Duration = Duration::from_secs(45);

/// The label every image, container and network a test makes by hand carries.
pub const RUN_LABEL: &str = "infrakit-test.run";

/// The label the plugin puts on containers: its instances directory.
pub const DIR_LABEL: &str = "infrakit.instance-vagrant.dir";

/// The label the plugin puts on containers: the instance ID.
pub const ID_LABEL: &str = "infrakit.instance-vagrant.id";

/// Where Debian's `busybox-static` puts its binary.
pub const BUSYBOX: &str = "/bin/busybox";

/// The plugin binary under test.
pub fn plugin_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_infrakit-instance-vagrant"))
}

/// Another workspace binary, next to the plugin's (built by `cargo build --workspace --bins`).
pub fn workspace_binary(name: &str) -> PathBuf {
    let p = plugin_binary()
        .parent()
        .map(|d| d.join(name))
        .unwrap_or_else(|| PathBuf::from(name));
    assert!(
        p.exists(),
        "{} is missing: build it first with `cargo build -p infrakit-group -p infrakit-flavor-vanilla` \
         (or `cargo build --workspace --bins`) into the same target directory",
        p.display()
    );
    p
}

/// Runs `docker` with `args`.
pub fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .env("DOCKER_BUILDKIT", "0")
        .stdin(Stdio::null())
        .output()
        .expect("run the docker CLI")
}

/// Runs `docker` with `args`, failing the test unless it succeeds; returns stdout, trimmed.
pub fn docker_ok(args: &[&str]) -> String {
    let o = docker(args);
    assert!(
        o.status.success(),
        "docker {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// Polls `cond` until it holds, failing the test after [`PATIENCE`]; returns how long it took.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
    start.elapsed()
}

/// A small runtime for blocking test code that makes gRPC calls.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// True when the unix socket answers a gRPC health check with SERVING.
pub fn serving(sock: &Path) -> bool {
    if !sock.exists() {
        return false;
    }
    let addr = infrakit_runtime::ListenAddr::Unix(sock.to_path_buf());
    rt().block_on(infrakit_runtime::dial::serving(
        &addr,
        false,
        &Default::default(),
    ))
}

/// A running process, killed when dropped.
pub struct Proc {
    child: Option<Child>,
    /// Its stderr log.
    pub log: PathBuf,
}

impl Proc {
    /// The process's stderr so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Fails the test with the log if the process has exited.
    pub fn assert_running(&mut self) {
        if let Some(c) = self.child.as_mut()
            && let Ok(Some(status)) = c.try_wait()
        {
            panic!("process exited early ({status}); its log:\n{}", self.logs());
        }
    }

    /// Kills the process (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One test's world: a short temporary directory (plugins dir, instances dir, VAGRANT_HOME,
/// logs), the processes it started, and a unique run ID. Dropping it kills the processes, then
/// any Vagrant still running in the test directory, then removes every container of the
/// test's instances directory or carrying the run's label, the run's networks and images, and
/// the directory.
pub struct Env {
    /// The run's ID (8 hex digits).
    pub id: String,
    dir: tempfile::TempDir,
    procs: Vec<Proc>,
    images: Vec<String>,
    networks: Vec<String>,
}

impl Env {
    /// A new test world, or `None` when `INFRAKIT_SKIP_VAGRANT=1` or `INFRAKIT_SKIP_DOCKER=1`
    /// asks to skip. Fails the test when Vagrant, busybox or the engine is missing.
    pub fn new(test: &str) -> Option<Self> {
        for skip in ["INFRAKIT_SKIP_VAGRANT", "INFRAKIT_SKIP_DOCKER"] {
            if std::env::var(skip).as_deref() == Ok("1") {
                eprintln!("skipping {test}: {skip}=1");
                return None;
            }
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
        let v = docker(&["version", "--format", "{{.Server.APIVersion}}"]);
        assert!(
            v.status.success(),
            "{test} needs a Docker engine, and `docker version` failed: {}\n\
             (start dockerd, or set INFRAKIT_SKIP_DOCKER=1 to skip these tests on a machine without one)",
            String::from_utf8_lossy(&v.stderr).trim()
        );
        assert!(
            Path::new(BUSYBOX).exists(),
            "{BUSYBOX} is missing: run sudo bash tests/setup/vagrant.sh (it installs busybox-static)"
        );
        let dir = tempfile::Builder::new()
            .prefix("ikv")
            .tempdir_in("/tmp")
            .expect("temp dir");
        Some(Self {
            id: infrakit_runtime::socket::random_hex(4),
            dir,
            procs: Vec::new(),
            images: Vec::new(),
            networks: Vec::new(),
        })
    }

    /// A path inside the test directory.
    pub fn join(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// The plugins directory.
    pub fn plugins(&self) -> PathBuf {
        self.join("p")
    }

    /// The socket of plugin `name`.
    pub fn socket(&self, name: &str) -> PathBuf {
        self.plugins().join(format!("{name}.sock"))
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
        let bin = ctx.join("rootfs/bin");
        std::fs::create_dir_all(&bin).expect("image context");
        std::fs::copy(BUSYBOX, bin.join("busybox")).expect("copy busybox");
        for link in ["sh", "sleep", "echo", "cat", "hostname", "env"] {
            std::os::unix::fs::symlink("busybox", bin.join(link)).expect("symlink");
        }
        let dockerfile = format!(
            "FROM scratch\nCOPY rootfs/ /\nLABEL {RUN_LABEL}={}\nCMD [\"sleep\", \"3600\"]\n",
            self.id
        );
        std::fs::write(ctx.join("Dockerfile"), dockerfile).expect("Dockerfile");
        self.images.push(name.clone());
        docker_ok(&["build", "-q", "-t", &name, &ctx.display().to_string()]);
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

    /// Starts a binary with the plugins directory and an offline Vagrant environment; waits
    /// until socket `name` serves.
    pub fn start(&mut self, binary: &Path, name: &str, args: &[&str]) -> usize {
        let log = self.join(&format!(
            "{name}-{}.log",
            infrakit_runtime::socket::random_hex(3)
        ));
        let out = std::fs::File::create(&log).expect("log file");
        let child = Command::new(binary)
            .arg("--name")
            .arg(name)
            .args(args)
            .env("INFRAKIT_PLUGINS_DIR", self.plugins())
            .env("VAGRANT_HOME", self.join("vagrant-home"))
            .env("VAGRANT_CHECKPOINT_DISABLE", "1")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .expect("spawn plugin");
        let mut p = Proc {
            child: Some(child),
            log,
        };
        let sock = self.socket(name);
        wait_until(&format!("{name} serving"), || {
            p.assert_running();
            serving(&sock)
        });
        self.procs.push(p);
        self.procs.len() - 1
    }

    /// Starts this run's Vagrant plugin on the test's instances directory.
    pub fn start_plugin(&mut self, extra: &[&str]) -> usize {
        let dir = self.instances().display().to_string();
        let name = self.plugin_name();
        let mut args = vec!["--dir", &dir, "--poll-interval", "250ms"];
        args.extend_from_slice(extra);
        self.start(&plugin_binary(), &name, &args)
    }

    /// A started process.
    pub fn proc(&mut self, i: usize) -> &mut Proc {
        &mut self.procs[i]
    }

    /// An Instance client for this run's plugin.
    pub fn client(&self) -> Client {
        let rt = rt();
        let sock = self.socket(&self.plugin_name());
        let ch = rt.block_on(async {
            infrakit_runtime::dial::connect(
                &infrakit_runtime::ListenAddr::Unix(sock),
                false,
                &Default::default(),
            )
            .await
            .expect("connect")
        });
        Client {
            c: InstanceClient::new(ch.clone()),
            ch,
            rt,
        }
    }

    /// Processes whose working directory is inside the test directory (Vagrant runs the plugin
    /// started, which may outlive a killed plugin).
    fn processes_inside(&self) -> Vec<u32> {
        let Ok(rd) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        rd.filter_map(Result::ok)
            .filter_map(|e| {
                let pid: u32 = e.file_name().to_str()?.parse().ok()?;
                let cwd = std::fs::read_link(e.path().join("cwd")).ok()?;
                cwd.starts_with(self.dir.path()).then_some(pid)
            })
            .collect()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        for p in &mut self.procs {
            p.kill();
        }
        // Vagrant runs left by a killed plugin: stop them before they create anything more.
        for pid in self.processes_inside() {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
        for filter in [format!("label={RUN_LABEL}={}", self.id), self.dir_filter()] {
            let ids = docker(&["ps", "-aq", "--filter", &filter]);
            let ids = String::from_utf8_lossy(&ids.stdout).to_string();
            let ids: Vec<&str> = ids.split_whitespace().collect();
            if !ids.is_empty() {
                let mut args = vec!["rm", "-f", "-v"];
                args.extend(ids);
                let _ = docker(&args);
            }
        }
        for n in &self.networks {
            let _ = docker(&["network", "rm", n]);
        }
        for image in &self.images {
            let _ = docker(&["rmi", "-f", image]);
        }
    }
}

/// A blocking Instance client.
pub struct Client {
    /// The generated client.
    pub c: InstanceClient<Channel>,
    /// The channel, for other services.
    pub ch: Channel,
    /// The runtime calls run on.
    pub rt: tokio::runtime::Runtime,
}

impl Client {
    /// Runs one call.
    pub fn call<T>(
        &mut self,
        f: impl AsyncFnOnce(&mut InstanceClient<Channel>) -> Result<tonic::Response<T>, tonic::Status>,
    ) -> Result<T, tonic::Status> {
        let c = &mut self.c;
        self.rt
            .block_on(async { f(c).await.map(|r| r.into_inner()) })
    }

    /// Provision.
    pub fn provision(&mut self, spec: InstanceSpec) -> Result<String, tonic::Status> {
        self.call(async |c| {
            c.provision(ProvisionRequest {
                r#type: String::new(),
                spec: Some(spec),
            })
            .await
        })
        .map(|r| r.id)
    }

    /// DescribeInstances with properties.
    pub fn describe(&mut self, tags: &[(&str, &str)]) -> Vec<InstanceDescription> {
        let tags = tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.call(async |c| {
            c.describe_instances(DescribeInstancesRequest {
                r#type: String::new(),
                tags,
                properties: true,
            })
            .await
        })
        .expect("describe")
        .instances
    }

    /// The instance `id`, if listed.
    pub fn find(&mut self, id: &str) -> Option<InstanceDescription> {
        self.describe(&[]).into_iter().find(|d| d.id == id)
    }

    /// Destroy.
    pub fn destroy(&mut self, id: &str) -> Result<(), tonic::Status> {
        let id = id.to_string();
        self.call(async |c| {
            c.destroy(DestroyRequest {
                r#type: String::new(),
                id,
                reason: DestroyReason::Terminate as i32,
            })
            .await
        })
        .map(|_| ())
    }

    /// Waits until instance `id` is in `state`; returns how long it took. Fails early, with the
    /// instance's properties, when it reaches another final state.
    pub fn wait_state(&mut self, id: &str, state: InstanceState) -> Duration {
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

/// An instance's properties as JSON.
pub fn props(d: &InstanceDescription) -> serde_json::Value {
    serde_json::from_slice(&d.properties).unwrap_or(serde_json::Value::Null)
}

/// A spec with `properties` (JSON), `tags`, an Init script and a logical ID.
pub fn spec(
    properties: serde_json::Value,
    tags: &[(&str, &str)],
    init: &str,
    logical_id: Option<&str>,
) -> InstanceSpec {
    InstanceSpec {
        properties: properties.to_string().into_bytes(),
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<HashMap<_, _>>(),
        init: init.to_string(),
        logical_id: logical_id.map(str::to_string),
        attachments: vec![],
    }
}

/// The field paths of a status's BadRequest violations.
pub fn violation_paths(st: &tonic::Status) -> Vec<String> {
    infrakit_runtime::status::violations_of(st)
        .into_iter()
        .map(|v| v.path)
        .collect()
}

/// An Init script that serves until Destroy (PID 1 needs a TERM handler to stop quickly).
pub const SERVE: &str = "trap 'exit 0' TERM\necho booting\nsleep 3600 & wait";
