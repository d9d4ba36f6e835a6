//! The harness for tests of the process plugin: the real plugin binary on a socket in a short
//! temporary directory, real processes, waiting on conditions with a deadline (never fixed
//! sleeps for readiness), and a guard that kills every process a test started, also when the
//! test fails: the plugins it ran, and every process whose environment names an instance
//! directory of the test (instances, their children, and orphans left by a killed plugin).

#![allow(dead_code)]

use infrakit_instance_process::procfs;
use infrakit_spi::instance::v1::instance_client::InstanceClient;
use infrakit_spi::instance::v1::*;
use rustix::process::{Pid, Signal};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tonic::transport::Channel;

/// How long a condition may take before a test fails.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The plugin's name in tests.
pub const PLUGIN: &str = "instance-process";

/// The plugin binary under test.
pub fn plugin_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_infrakit-instance-process"))
}

/// Another workspace binary, next to the plugin's.
pub fn workspace_binary(name: &str) -> PathBuf {
    let p = plugin_binary()
        .parent()
        .map(|d| d.join(name))
        .unwrap_or_else(|| PathBuf::from(name));
    assert!(
        p.exists(),
        "{} is missing: build it first with `cargo build -p infrakit-group -p infrakit-flavor-vanilla \
         -p infrakit-discovery --bins` into the same target directory",
        p.display()
    );
    p
}

/// Polls `cond` until it holds, failing the test after [`PATIENCE`]; returns how long it took.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
    start.elapsed()
}

/// A runtime for blocking test code that makes gRPC calls (one worker, so spawned stream
/// readers run between calls).
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
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

/// Sends `sig` to process `pid` (errors ignored: it may be gone).
pub fn kill(pid: u32, sig: Signal) {
    if let Some(p) = Pid::from_raw(pid as i32) {
        let _ = rustix::process::kill_process(p, sig);
    }
}

/// True while `pid` runs (a zombie does not).
pub fn running(pid: u32) -> bool {
    procfs::stat(pid).is_some_and(|s| s.running())
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

    /// Its pid, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Fails the test with the log if the process has exited.
    pub fn assert_running(&mut self) {
        if let Some(c) = self.child.as_mut()
            && let Ok(Some(status)) = c.try_wait()
        {
            panic!("process exited early ({status}); its log:\n{}", self.logs());
        }
    }

    /// Sends `sig` and waits for the process to exit.
    pub fn stop(&mut self, sig: Signal) {
        if let Some(mut c) = self.child.take() {
            kill(c.id(), sig);
            let start = Instant::now();
            loop {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                if start.elapsed() > PATIENCE {
                    let _ = c.kill();
                    let _ = c.wait();
                    panic!("process did not exit on {sig:?}; its log:\n{}", self.logs());
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// One test's world: a short temporary directory (plugins dir, instance dir, logs) and the
/// processes it started. Dropping it kills the plugins first (so nothing restarts), then every
/// process of the test's instances.
pub struct Env {
    dir: tempfile::TempDir,
    procs: Vec<Proc>,
}

impl Env {
    /// A new test world.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("ikp")
            .tempdir_in("/tmp")
            .expect("temp dir");
        Self {
            dir,
            procs: Vec::new(),
        }
    }

    /// A path inside the test directory.
    pub fn join(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// The plugins directory.
    pub fn plugins(&self) -> PathBuf {
        self.join("p")
    }

    /// The plugin's `--dir`.
    pub fn instances(&self) -> PathBuf {
        self.join("inst")
    }

    /// An instance's directory.
    pub fn instance(&self, id: &str) -> PathBuf {
        self.instances().join(id)
    }

    /// The socket of plugin `name`.
    pub fn socket(&self, name: &str) -> PathBuf {
        self.plugins().join(format!("{name}.sock"))
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
            // Also proves the plugin does not pass its listen address on to instances.
            .env(
                "INFRAKIT_LISTEN",
                format!("unix://{}", self.socket(name).display()),
            )
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

    /// Starts the process plugin on this test's instance directory.
    pub fn start_plugin(&mut self) -> usize {
        self.start_plugin_with(&[])
    }

    /// Starts the process plugin on this test's instance directory, with more flags.
    pub fn start_plugin_with(&mut self, args: &[&str]) -> usize {
        let dir = self.instances().display().to_string();
        let mut all = vec!["--dir", &dir];
        all.extend_from_slice(args);
        self.start(&plugin_binary(), PLUGIN, &all)
    }

    /// A started process.
    pub fn proc(&mut self, i: usize) -> &mut Proc {
        &mut self.procs[i]
    }

    /// A blocking Instance client for the process plugin.
    pub fn client(&self) -> Client {
        let rt = rt();
        let sock = self.socket(PLUGIN);
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

    /// The pids of every process whose environment names one of this test's instance
    /// directories.
    pub fn instance_processes(&self) -> Vec<u32> {
        let marker = format!("INFRAKIT_INSTANCE_DIR={}/", self.instances().display());
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
                    env.split(|b| *b == 0)
                        .any(|kv| kv.starts_with(marker.as_bytes()))
                })
            })
            .collect()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        for p in &mut self.procs {
            if let Some(mut c) = p.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
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
                kill(pid, Signal::KILL);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A blocking Instance client.
pub struct Client {
    /// The generated client.
    pub c: InstanceClient<Channel>,
    /// The channel.
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

    /// Provisions `spec`; returns the ID.
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

    /// Describes the instances with every tag in `tags`, with their properties.
    pub fn describe(&mut self, tags: &[(&str, &str)]) -> Vec<InstanceDescription> {
        let tags = tag_map(tags);
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

    /// One instance, if listed.
    pub fn get(&mut self, id: &str) -> Option<InstanceDescription> {
        self.describe(&[]).into_iter().find(|d| d.id == id)
    }

    /// The pid of a listed instance.
    pub fn pid(&mut self, id: &str) -> u32 {
        let d = self.get(id).expect("instance listed");
        props(&d)["Pid"].as_u64().expect("Pid") as u32
    }

    /// Destroys an instance.
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

    /// Starts watching instances with `tags`; events arrive on the returned channel.
    pub fn watch(&mut self, tags: &[(&str, &str)]) -> std::sync::mpsc::Receiver<InstanceEvent> {
        let tags = tag_map(tags);
        let mut c = self.c.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let mut stream = self
            .rt
            .block_on(async {
                c.watch_instances(WatchInstancesRequest {
                    r#type: String::new(),
                    tags,
                })
                .await
            })
            .expect("watch")
            .into_inner();
        self.rt.spawn(async move {
            while let Ok(Some(ev)) = stream.message().await {
                if tx.send(ev).is_err() {
                    break;
                }
            }
        });
        rx
    }
}

/// A tag map.
pub fn tag_map(tags: &[(&str, &str)]) -> HashMap<String, String> {
    tags.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// An instance spec.
pub fn spec(properties: serde_json::Value, tags: &[(&str, &str)]) -> InstanceSpec {
    InstanceSpec {
        properties: properties.to_string().into_bytes(),
        tags: tag_map(tags),
        ..Default::default()
    }
}

/// The properties JSON of a description.
pub fn props(d: &InstanceDescription) -> serde_json::Value {
    serde_json::from_slice(&d.properties).expect("properties JSON")
}

/// The field paths of a status's BadRequest violations.
pub fn violation_paths(st: &tonic::Status) -> Vec<String> {
    infrakit_runtime::status::violations_of(st)
        .into_iter()
        .map(|v| v.path)
        .collect()
}

/// The live processes of process group `pgid`.
pub fn group(pgid: u32) -> Vec<u32> {
    procfs::group_members(pgid)
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
