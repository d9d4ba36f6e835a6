//! The integration-test harness: real binaries, real sockets in a short temporary directory,
//! and waiting on conditions (health, files) with a deadline, never on fixed sleeps.

#![allow(dead_code)]
// Polling helpers block between checks; they never wait a fixed time for readiness.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long a condition may take before a test fails.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The directory holding the workspace's binaries (next to this test executable).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/mesh-<hash>
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_path_buf()
}

/// The path of a workspace binary; fails with the fix if it was not built.
pub fn bin(name: &str) -> PathBuf {
    let p = bin_dir().join(name);
    assert!(
        p.exists(),
        "{} is missing: build the binaries first with `cargo build --workspace --bins`",
        p.display()
    );
    p
}

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A tool installed by `.ci/setup` into `.venv-tools/bin` (grpcurl, python).
pub fn tool(name: &str) -> PathBuf {
    let p = repo().join(".venv-tools/bin").join(name);
    assert!(
        p.exists(),
        "{} is missing: run `bash .ci/setup` first",
        p.display()
    );
    p
}

/// The lines of the README's ```sh block between `<!-- NAME:begin -->` and `<!-- NAME:end -->`,
/// so that tests run the README's commands exactly as written.
pub fn readme_block(name: &str) -> String {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let begin = format!("<!-- {name}:begin -->");
    let end = format!("<!-- {name}:end -->");
    let start = readme
        .find(&begin)
        .unwrap_or_else(|| panic!("{begin} missing from README.md"));
    let stop = readme
        .find(&end)
        .unwrap_or_else(|| panic!("{end} missing from README.md"));
    readme[start..stop]
        .lines()
        .skip_while(|l| !l.starts_with("```sh"))
        .skip(1)
        .take_while(|l| !l.starts_with("```"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A short temporary directory (socket paths must stay under 107 bytes).
pub struct TestDir {
    dir: tempfile::TempDir,
}

impl TestDir {
    /// A new directory under /tmp.
    pub fn new() -> Self {
        Self {
            dir: tempfile::Builder::new()
                .prefix("ik")
                .tempdir_in("/tmp")
                .expect("temp dir"),
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The plugins directory inside it.
    pub fn plugins(&self) -> PathBuf {
        self.dir.path().join("p")
    }

    /// The socket of plugin `name`.
    pub fn socket(&self, name: &str) -> PathBuf {
        self.plugins().join(format!("{name}.sock"))
    }

    /// A path inside the directory.
    pub fn join(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// Starts a service binary with the plugins directory set, without waiting.
    pub fn spawn(&self, binary: &str, args: &[&str]) -> Proc {
        self.spawn_env(binary, args, &[])
    }

    /// Starts a service binary with the plugins directory and `env` set, without waiting.
    pub fn spawn_env(&self, binary: &str, args: &[&str], env: &[(&str, &str)]) -> Proc {
        let log = self.join(&format!(
            "{binary}-{}.log",
            infrakit_runtime::socket::random_hex(3)
        ));
        let out = std::fs::File::create(&log).expect("log file");
        let child = Command::new(bin(binary))
            .args(args)
            .envs(env.iter().copied())
            .env("INFRAKIT_PLUGINS_DIR", self.plugins())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .expect("spawn plugin");
        Proc {
            child: Some(child),
            log,
        }
    }

    /// Starts a plugin on its default socket `<plugins>/<name>.sock` and waits until it serves.
    pub fn start(&self, binary: &str, name: &str, args: &[&str]) -> Proc {
        let mut full = vec!["--name", name];
        full.extend_from_slice(args);
        let mut p = self.spawn(binary, &full);
        let sock = self.socket(name);
        wait_until(&format!("{name} serving"), || {
            p.assert_running();
            serving(&sock)
        });
        p
    }

    /// Starts `binary` as a plaintext TCP plugin on a free loopback port, registering with the
    /// discovery service as `name` with a lease of `ttl_secs`, without waiting. Several may
    /// register the same name: each is one replica. Returns the process and its endpoint
    /// `tcp://127.0.0.1:PORT`, as discovery lists it.
    pub fn spawn_tcp(
        &self,
        binary: &str,
        name: &str,
        ttl_secs: u32,
        args: &[&str],
    ) -> (Proc, String) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let endpoint = format!("tcp://127.0.0.1:{port}");
        let mut full = vec!["--name", name, "--listen", &endpoint, "--insecure"];
        full.extend_from_slice(args);
        let ttl = ttl_secs.to_string();
        let p = self.spawn_env(binary, &full, &[("INFRAKIT_REGISTER_TTL", &ttl)]);
        (p, endpoint)
    }

    /// Starts `infrakit-instance-file` as `instance-file` on a fresh instance directory, which it returns.
    pub fn start_file_plugin(&self) -> (Proc, PathBuf) {
        let inst = self.join("inst");
        let p = self.start(
            "infrakit-instance-file",
            "instance-file",
            &["--dir", &inst.display().to_string()],
        );
        (p, inst)
    }

    /// Runs ikctl with the plugins directory set.
    pub fn ikctl(&self, args: &[&str]) -> Output {
        self.ikctl_stdin(args, None)
    }

    /// Runs ikctl with the plugins directory set and `stdin` as input.
    pub fn ikctl_stdin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        use std::io::Write;
        let mut child = Command::new(bin("ikctl"))
            .args(args)
            .env("INFRAKIT_PLUGINS_DIR", self.plugins())
            .env_remove("RUST_LOG")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ikctl");
        if let Some(s) = stdin {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(s.as_bytes())
                .expect("write stdin");
        }
        child.wait_with_output().expect("ikctl output")
    }
}

/// A running service process, killed when dropped.
pub struct Proc {
    child: Option<Child>,
    /// Its stderr log.
    pub log: PathBuf,
}

impl Proc {
    /// The process ID.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or_default()
    }

    /// Fails the test with the log if the process has exited.
    pub fn assert_running(&mut self) {
        if let Some(c) = self.child.as_mut()
            && let Ok(Some(status)) = c.try_wait()
        {
            panic!("process exited early ({status}); its log:\n{}", self.logs());
        }
    }

    /// The process's stderr so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends a signal (e.g. "TERM", "KILL", "STOP").
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.pid().to_string()])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "kill -{sig} failed");
    }

    /// Waits for the process to exit, up to `limit`; returns its exit code (None if it did not exit).
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let c = self.child.as_mut()?;
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(status)) = c.try_wait() {
                return Some(status.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
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

/// Polls `cond` until it holds, failing the test after [`PATIENCE`].
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
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

/// A small runtime for blocking test code that needs to make gRPC calls.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A gRPC channel to a unix socket.
pub async fn channel(sock: &Path) -> tonic::transport::Channel {
    infrakit_runtime::dial::connect(
        &infrakit_runtime::ListenAddr::Unix(sock.to_path_buf()),
        false,
        &Default::default(),
    )
    .await
    .expect("connect")
}

/// stdout of a finished command, as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr of a finished command, as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs a command and returns its output.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run command")
}

/// The number of instance files in a directory.
pub fn instance_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                .count()
        })
        .unwrap_or(0)
}

/// `docker-compose ps` and the last log lines of a deployment, for a failure message.
pub fn compose_state(file: &str, project: &str) -> String {
    let compose = |args: &[&str]| {
        let mut all = vec!["-f", file, "-p", project];
        all.extend_from_slice(args);
        let o = run(Command::new("docker-compose")
            .args(&all)
            .current_dir(repo()));
        format!("{}{}", stdout(&o), stderr(&o))
    };
    format!(
        "--- docker-compose ps ---\n{}\n--- logs ---\n{}",
        compose(&["ps"]),
        compose(&["logs", "--tail=40"])
    )
}
