//! The harness for tests against Debian's real ZooKeeper: plugin binaries on sockets in a short
//! temporary directory, ZooKeeper members as real JVMs on loopback addresses with free ports,
//! four-letter words over TCP, waiting on conditions with a deadline (never fixed sleeps), and
//! guards that kill every process a test started, also when it fails.
//!
//! ZooKeeper is required: a test fails when it is missing (with the script that installs it),
//! unless `INFRAKIT_SKIP_ZOOKEEPER=1` skips it explicitly.

#![allow(dead_code)]

use infrakit_testkit::{Mesh, Proc, eventually, skip};
use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

pub use infrakit_testkit::procfs::kill as kill_pid;
pub use infrakit_testkit::{Flavor, bin, violation_paths};

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

/// The Python of `.venv-tools` (with kazoo, installed by [`SETUP`]).
pub fn python() -> PathBuf {
    repo().join(".venv-tools/bin/python")
}

/// True when `INFRAKIT_SKIP_ZOOKEEPER=1` asks to skip (the test says so); otherwise fails the
/// test unless Debian's ZooKeeper, java and (with `kazoo`) the Python client are installed.
pub fn skip_without_zookeeper(test: &str, kazoo: bool) -> bool {
    if skip(test, "INFRAKIT_SKIP_ZOOKEEPER") {
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
pub fn wait_until(what: &str, cond: impl FnMut() -> bool) -> Duration {
    eventually(what, PATIENCE, Duration::from_millis(50), cond)
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

/// A ZooKeeper member run by the test itself: `sh init.sh` in its own directory and process
/// group (the script `exec`s java, so the group is the JVM); the group is killed on drop.
pub struct Member {
    proc: Proc,
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
        let log_path = dir.join("output.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
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
            proc: Proc::adopt_group(logical_id, child, log_path),
            dir: dir.to_path_buf(),
        }
    }

    /// The process ID (the JVM's, once the script has exec'd).
    pub fn pid(&self) -> u32 {
        self.proc.pid().unwrap_or_default()
    }

    /// The member's output so far.
    pub fn logs(&self) -> String {
        self.proc.logs()
    }

    /// kill -9 of the whole process group, and reaping it.
    pub fn kill(&mut self) {
        self.proc.kill();
    }
}

/// The IDs of the processes whose command line mentions `needle` (e.g. a member's zoo.cfg).
pub fn pids_mentioning(needle: &str) -> Vec<u32> {
    pids_where(needle, false)
}

/// The IDs of the processes whose command line or environment mentions `needle` (a test's
/// directory: the process plugin gives its instances `INFRAKIT_INSTANCE_DIR=<dir>/<id>`, also
/// to an Init script that has not reached `exec java` yet).
pub fn pids_of(needle: &str) -> Vec<u32> {
    pids_where(needle, true)
}

fn pids_where(needle: &str, environment_too: bool) -> Vec<u32> {
    use infrakit_testkit::procfs;
    procfs::pids()
        .into_iter()
        .filter(|pid| {
            procfs::cmdline(*pid).contains(needle)
                || (environment_too && procfs::environ(*pid).values().any(|v| v.contains(needle)))
        })
        .collect()
}

/// One test's world: a [`Mesh`] (reached through `Deref`; its directory also holds the
/// members' directories). Dropping it kills the processes it started, then every process whose
/// command line or environment mentions the directory (ZooKeeper members started by the process
/// plugin run in their own sessions and outlive it).
pub struct Env {
    mesh: Mesh,
}

infrakit_testkit::deref_mesh!(Env);

impl Env {
    /// A new test world.
    pub fn new() -> Self {
        Self {
            mesh: Mesh::new("ikz").with_patience(PATIENCE),
        }
    }

    /// Starts the flavor under test as `flavor-zookeeper`; returns a blocking client.
    pub fn start_flavor(&mut self) -> Flavor {
        self.mesh.start(&flavor_binary(), "flavor-zookeeper", &[]);
        self.flavor("flavor-zookeeper")
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.mesh.kill_all();
        let me = self.path().display().to_string();
        for pid in pids_of(&me) {
            kill_pid(pid);
        }
    }
}
