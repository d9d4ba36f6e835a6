//! The harness for tests against Debian's real ZooKeeper: plugin binaries on sockets in a short
//! temporary directory, ZooKeeper members as real JVMs on loopback addresses with free ports,
//! four-letter words over TCP, waiting on conditions with a deadline (never fixed sleeps), and
//! guards that kill every process a test started, also when it fails.
//!
//! ZooKeeper is required: a test fails when it is missing (with the script that installs it),
//! unless `INFRAKIT_SKIP_ZOOKEEPER=1` skips it explicitly.

#![allow(dead_code)]
// Polling helpers block between checks; they never wait a fixed time for readiness.
#![allow(clippy::disallowed_methods)]

use infrakit_spi::flavor::v1::flavor_client::FlavorClient;
use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tonic::transport::Channel;

/// How long a condition may take before a test fails.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The script that installs what these tests need.
pub const SETUP: &str = "tests/setup/zookeeper.sh";

/// JVM options that start ZooKeeper fast and small (three to six members run at once).
pub const TEST_JAVA_OPTS: &[&str] = &["-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"];

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The flavor binary under test.
pub fn flavor_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_infrakit-flavor-zookeeper"))
}

/// Another workspace binary, next to the flavor's.
pub fn workspace_binary(name: &str) -> PathBuf {
    let p = flavor_binary()
        .parent()
        .map(|d| d.join(name))
        .unwrap_or_else(|| PathBuf::from(name));
    assert!(
        p.exists(),
        "{} is missing: build it first into the same target directory with \
         `cargo build -p infrakit-group -p infrakit-discovery -p infrakit-instance-process --bins`",
        p.display()
    );
    p
}

/// The Python of `.venv-tools` (with kazoo, installed by [`SETUP`]).
pub fn python() -> PathBuf {
    repo().join(".venv-tools/bin/python")
}

/// True when `INFRAKIT_SKIP_ZOOKEEPER=1` asks to skip (the test says so); otherwise fails the
/// test unless Debian's ZooKeeper, java and (with `kazoo`) the Python client are installed.
pub fn skip_without_zookeeper(test: &str, kazoo: bool) -> bool {
    if std::env::var("INFRAKIT_SKIP_ZOOKEEPER").as_deref() == Ok("1") {
        eprintln!("skipping {test}: INFRAKIT_SKIP_ZOOKEEPER=1");
        return true;
    }
    let fix = format!(
        "run `bash {SETUP}` (as root) to install it, or set INFRAKIT_SKIP_ZOOKEEPER=1 to skip the ZooKeeper tests"
    );
    for jar in infrakit_flavor_zookeeper::properties::DEFAULT_CLASSPATH {
        assert!(
            Path::new(jar).exists(),
            "{test} needs Debian's ZooKeeper, and {jar} is missing: {fix}"
        );
    }
    let java = Command::new("java").arg("-version").output();
    assert!(
        java.is_ok_and(|o| o.status.success()),
        "{test} needs java on PATH: {fix}"
    );
    if kazoo {
        let ok = Command::new(python())
            .args(["-c", "import kazoo"])
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            ok,
            "{test} needs the Python client kazoo in {}: {fix}",
            python().display()
        );
    }
    false
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

/// A gRPC channel to a unix socket.
pub fn channel(rt: &tokio::runtime::Runtime, sock: &Path) -> Channel {
    rt.block_on(async {
        infrakit_runtime::dial::connect(
            &infrakit_runtime::ListenAddr::Unix(sock.to_path_buf()),
            false,
            &Default::default(),
        )
        .await
        .expect("connect")
    })
}

/// True when the unix socket answers a gRPC health check with SERVING.
pub fn serving(sock: &Path) -> bool {
    sock.exists()
        && rt().block_on(infrakit_runtime::dial::serving(
            &infrakit_runtime::ListenAddr::Unix(sock.to_path_buf()),
            false,
            &Default::default(),
        ))
}

/// Ports handed out in this test process (tests of one binary run in parallel threads under
/// `cargo test`; under nextest each test has its own process and the bind check decides).
static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// Three distinct ports (client, quorum, election) free on every one of `addrs`, outside the
/// ephemeral range, so that concurrent runs of the tests do not collide.
pub fn free_ports(addrs: &[&str]) -> [u16; 3] {
    let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
    let given = given.get_or_insert_with(HashSet::new);
    let seed = u16::from_str_radix(&infrakit_runtime::socket::random_hex(2), 16).unwrap_or(0);
    let mut out = Vec::new();
    for i in 0..10_000u16 {
        let p = 20_000 + (seed.wrapping_add(i.wrapping_mul(7919)) % 12_000);
        if given.contains(&p) {
            continue;
        }
        if addrs.iter().all(|a| TcpListener::bind((*a, p)).is_ok()) {
            given.insert(p);
            out.push(p);
            if out.len() == 3 {
                return [out[0], out[1], out[2]];
            }
        }
    }
    panic!("no free ports on {addrs:?}");
}

/// Sends a four-letter word to `host:port`; `None` when the member does not answer.
pub fn four(host: &str, port: u16, word: &str) -> Option<String> {
    let addr = (host, port);
    let sa = std::net::ToSocketAddrs::to_socket_addrs(&addr)
        .ok()?
        .next()?;
    let mut s = TcpStream::connect_timeout(&sa, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(word.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// A member's `srvr` mode (`leader`, `follower`, ...), if it serves.
pub fn mode(host: &str, port: u16) -> Option<String> {
    four(host, port, "srvr")?
        .lines()
        .find_map(|l| l.strip_prefix("Mode:"))
        .map(|m| m.trim().to_string())
}

/// A running process, killed (SIGKILL) when dropped.
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

    /// Kills the process and waits for it.
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

/// A ZooKeeper member run by the test itself: `sh init.sh` in its own directory and process
/// group (the script `exec`s java, so the group is the JVM); the group is killed on drop.
pub struct Member {
    child: Option<Child>,
    /// Its directory (`init.sh`, `output.log`, `work/`).
    pub dir: PathBuf,
}

impl Member {
    /// Writes `script` to `<dir>/init.sh` and runs it with cwd `<dir>/work`, as the process
    /// instance plugin would.
    pub fn start(dir: &Path, script: &str, logical_id: &str) -> Self {
        let work = dir.join("work");
        std::fs::create_dir_all(&work).expect("member dir");
        std::fs::write(dir.join("init.sh"), script).expect("init.sh");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("output.log"))
            .expect("output.log");
        let child = Command::new("sh")
            .arg(dir.join("init.sh"))
            .current_dir(&work)
            .env("INFRAKIT_LOGICAL_ID", logical_id)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("run init.sh");
        Self {
            child: Some(child),
            dir: dir.to_path_buf(),
        }
    }

    /// The process ID (the JVM's, once the script has exec'd).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or_default()
    }

    /// The member's output so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.dir.join("output.log")).unwrap_or_default()
    }

    /// kill -9 of the whole process group, and reaping it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill_group(c.id());
            let _ = c.wait();
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.kill();
    }
}

/// SIGKILL to process group `pgid`.
pub fn kill_group(pgid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status();
}

/// The IDs of the processes whose command line mentions `needle` (e.g. a member's zoo.cfg).
pub fn pids_mentioning(needle: &str) -> Vec<u32> {
    pids_where(needle, &["cmdline"])
}

/// The IDs of the processes whose command line or environment mentions `needle` (a test's
/// directory: the process plugin gives its instances `INFRAKIT_INSTANCE_DIR=<dir>/<id>`, also
/// to an Init script that has not reached `exec java` yet).
pub fn pids_of(needle: &str) -> Vec<u32> {
    pids_where(needle, &["cmdline", "environ"])
}

fn pids_where(needle: &str, files: &[&str]) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id();
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            files.iter().any(|f| {
                std::fs::read(format!("/proc/{pid}/{f}"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
            })
        })
        .collect()
}

/// kill -9 of one process.
pub fn kill_pid(pid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

/// One test's world: a short temporary directory (plugins dir, state, member dirs, logs) and
/// the processes it started. Dropping it kills them, then every process whose command line or
/// environment mentions the directory (ZooKeeper members started by the process plugin run in
/// their own sessions and outlive it).
pub struct Env {
    dir: tempfile::TempDir,
    procs: Vec<Proc>,
}

impl Env {
    /// A new test world.
    pub fn new() -> Self {
        Self {
            dir: tempfile::Builder::new()
                .prefix("ikz")
                .tempdir_in("/tmp")
                .expect("temp dir"),
            procs: Vec::new(),
        }
    }

    /// The directory, with symlinks resolved (as `pwd -P` shows it).
    pub fn path(&self) -> PathBuf {
        self.dir
            .path()
            .canonicalize()
            .unwrap_or_else(|_| self.dir.path().to_path_buf())
    }

    /// A path inside the directory.
    pub fn join(&self, p: &str) -> PathBuf {
        self.path().join(p)
    }

    /// The plugins directory.
    pub fn plugins(&self) -> PathBuf {
        self.join("p")
    }

    /// The socket of plugin `name`.
    pub fn socket(&self, name: &str) -> PathBuf {
        self.plugins().join(format!("{name}.sock"))
    }

    /// Starts a plugin binary as `name` with the plugins directory set; waits until it serves.
    pub fn start(&mut self, binary: &Path, name: &str, args: &[&str]) -> usize {
        let log = self.join(&format!("{name}.log"));
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

    /// Keeps a helper process (killed when the test ends).
    pub fn adopt(&mut self, child: Child, log: PathBuf) -> usize {
        self.procs.push(Proc {
            child: Some(child),
            log,
        });
        self.procs.len() - 1
    }

    /// A started process.
    pub fn proc(&mut self, i: usize) -> &mut Proc {
        &mut self.procs[i]
    }

    /// The flavor plugin's log.
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.join(&format!("{name}.log"))).unwrap_or_default()
    }

    /// Starts the flavor under test as `flavor-zookeeper`; returns a blocking client.
    pub fn start_flavor(&mut self) -> Flavor {
        self.start(&flavor_binary(), "flavor-zookeeper", &[]);
        let rt = rt();
        let ch = channel(&rt, &self.socket("flavor-zookeeper"));
        Flavor {
            c: FlavorClient::new(ch),
            rt,
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        for p in &mut self.procs {
            p.kill();
        }
        let me = self.path().display().to_string();
        for pid in pids_of(&me) {
            kill_pid(pid);
        }
    }
}

/// A blocking Flavor client.
pub struct Flavor {
    /// The generated client.
    pub c: FlavorClient<Channel>,
    /// The runtime calls run on.
    pub rt: tokio::runtime::Runtime,
}

impl Flavor {
    /// Runs one call.
    pub fn call<T>(
        &mut self,
        f: impl AsyncFnOnce(&mut FlavorClient<Channel>) -> Result<tonic::Response<T>, tonic::Status>,
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
