//! The harness for tests against the real Docker engine: the real plugin binary on a socket in a
//! short temporary directory, images built from local files (Debian's static busybox copied into
//! an empty image: nothing is pulled), waiting on conditions with a deadline (never fixed
//! sleeps), and a guard that removes every container and image a test created, also when the
//! test fails.
//!
//! The engine is required: a test fails when it is unavailable, unless `INFRAKIT_SKIP_DOCKER=1`
//! skips it explicitly (for machines without an engine).

#![allow(dead_code)]

use infrakit_spi::instance::v1::instance_client::InstanceClient;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use tonic::transport::Channel;

/// How long a condition may take before a test fails.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The label every container and image of one test run carries (its value is the run's ID).
pub const RUN_LABEL: &str = "infrakit-test.run";

/// Where Debian's `busybox-static` puts its binary.
pub const BUSYBOX: &str = "/bin/busybox";

/// The plugin binary under test.
pub fn plugin_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_infrakit-instance-docker"))
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

    /// Waits for the process to exit by itself; returns its exit code.
    pub fn wait_exit(&mut self) -> Option<i32> {
        let c = self.child.as_mut()?;
        let mut code = None;
        wait_until("the process to exit", || match c.try_wait() {
            Ok(Some(s)) => {
                code = s.code();
                true
            }
            _ => false,
        });
        code
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

/// One test's world: a short temporary directory (plugins dir, state, logs), the processes it
/// started, and a unique run ID labelling everything it creates on the engine. Dropping it kills
/// the processes first (so nothing re-creates containers), then removes every container carrying
/// the run's label or the run's plugin marker, and the run's images.
pub struct Env {
    /// The run's ID (8 hex digits).
    pub id: String,
    dir: tempfile::TempDir,
    procs: Vec<Proc>,
    images: Vec<String>,
}

impl Env {
    /// A new test world, or `None` when `INFRAKIT_SKIP_DOCKER=1` asks to skip. Fails the test
    /// when the engine is unavailable.
    pub fn new(test: &str) -> Option<Self> {
        if std::env::var("INFRAKIT_SKIP_DOCKER").as_deref() == Ok("1") {
            eprintln!("skipping {test}: INFRAKIT_SKIP_DOCKER=1");
            return None;
        }
        let v = docker(&["version", "--format", "{{.Server.APIVersion}}"]);
        assert!(
            v.status.success(),
            "{test} needs a Docker engine, and `docker version` failed: {}\n\
             (start dockerd, or set INFRAKIT_SKIP_DOCKER=1 to skip these tests on a machine without one)",
            String::from_utf8_lossy(&v.stderr).trim()
        );
        assert!(
            Path::new(BUSYBOX).exists(),
            "{BUSYBOX} is missing: install Debian's busybox-static (apt-get install -y busybox-static)"
        );
        let dir = tempfile::Builder::new()
            .prefix("ikd")
            .tempdir_in("/tmp")
            .expect("temp dir");
        Some(Self {
            id: infrakit_runtime::socket::random_hex(4),
            dir,
            procs: Vec::new(),
            images: Vec::new(),
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
        let dockerfile = if shell {
            let bin = ctx.join("rootfs/bin");
            std::fs::create_dir_all(&bin).expect("image context");
            std::fs::copy(BUSYBOX, bin.join("busybox")).expect("copy busybox");
            for link in ["sh", "sleep", "echo", "cat"] {
                std::os::unix::fs::symlink("busybox", bin.join(link)).expect("symlink");
            }
            format!(
                "FROM scratch\nCOPY rootfs/ /\nLABEL {RUN_LABEL}={} infrakit-test.version={tag}\nCMD [\"sleep\", \"3600\"]\n",
                self.id
            )
        } else {
            std::fs::create_dir_all(&ctx).expect("image context");
            std::fs::copy(BUSYBOX, ctx.join("busybox")).expect("copy busybox");
            format!(
                "FROM scratch\nCOPY busybox /busybox\nLABEL {RUN_LABEL}={}\nCMD [\"/busybox\", \"sleep\", \"3600\"]\n",
                self.id
            )
        };
        std::fs::write(ctx.join("Dockerfile"), dockerfile).expect("Dockerfile");
        self.images.push(name.clone());
        docker_ok(&["build", "-q", "-t", &name, &ctx.display().to_string()]);
        name
    }

    /// Starts a binary with the plugins directory set; waits until socket `name` serves.
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

    /// Keeps a helper process (killed when the test ends); its stderr log is `log`.
    pub fn adopt(&mut self, child: Child, log: PathBuf) -> usize {
        self.procs.push(Proc {
            child: Some(child),
            log,
        });
        self.procs.len() - 1
    }

    /// Starts this run's Docker plugin (state in `<dir>/docker-state`).
    pub fn start_plugin(&mut self) -> usize {
        let state = self.join("docker-state").display().to_string();
        let name = self.plugin_name();
        self.start(&plugin_binary(), &name, &["--state-dir", &state])
    }

    /// A started process.
    pub fn proc(&mut self, i: usize) -> &mut Proc {
        &mut self.procs[i]
    }

    /// An Instance client for plugin `name`, with its own runtime.
    pub fn instance_client(&self, name: &str) -> Client {
        let rt = rt();
        let sock = self.socket(name);
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
}

impl Drop for Env {
    fn drop(&mut self) {
        for p in &mut self.procs {
            p.kill();
        }
        for filter in [
            format!("label={RUN_LABEL}={}", self.id),
            self.marker_filter(),
        ] {
            let ids = docker(&["ps", "-aq", "--filter", &filter]);
            let ids = String::from_utf8_lossy(&ids.stdout).to_string();
            let ids: Vec<&str> = ids.split_whitespace().collect();
            if !ids.is_empty() {
                let mut args = vec!["rm", "-f", "-v"];
                args.extend(ids);
                let _ = docker(&args);
            }
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
}

/// The field paths of a status's BadRequest violations.
pub fn violation_paths(st: &tonic::Status) -> Vec<String> {
    infrakit_runtime::status::violations_of(st)
        .into_iter()
        .map(|v| v.path)
        .collect()
}
