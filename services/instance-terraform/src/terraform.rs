//! Running the `terraform` command in the working directory, and the lock that makes the
//! plugin's runs one at a time per directory.
//!
//! # Guarantees
//! - Every run has `CHECKPOINT_DISABLE=1`, `TF_IN_AUTOMATION=1` and `TF_INPUT=0` set, passes
//!   `-input=false` where Terraform accepts it, and reads nothing from stdin.
//! - Terraform runs in a process group of its own, so a plugin that stops (or is killed) never
//!   interrupts an apply half-way: the apply finishes, and the next plugin waits for Terraform's
//!   state lock (`-lock-timeout`) before planning.
//! - A run that exceeds the command timeout is interrupted (SIGINT to its process group, which
//!   Terraform handles by stopping cleanly), then killed after a grace period.
//! - The output of the latest run of each command is kept in `.infrakit/log/<command>.out` and
//!   `.err` (mode 0600: it may quote configuration), never in the plugin's log. Terraform writes
//!   to these files, not to pipes, so one that outlives the plugin never fails on a closed pipe.

use crate::tfjson::{self, Diagnostic, ParseError, PlanView, Snapshot};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::time::Instant;

/// How long an interrupted run may take to stop before it is killed.
pub const INTERRUPT_GRACE: Duration = Duration::from_secs(60);

/// The oldest Terraform that supports `removed` blocks with provisioners.
pub const MIN_VERSION: (u64, u64) = (1, 9);

/// How to run Terraform.
#[derive(Clone, Debug)]
pub struct Config {
    /// The `terraform` command (a path, or a name looked up on PATH).
    pub program: PathBuf,
    /// The working directory.
    pub dir: PathBuf,
    /// How long to wait for the directory lock and for Terraform's state lock.
    pub lock_timeout: Duration,
    /// How long one Terraform command may run.
    pub command_timeout: Duration,
}

/// Why a Terraform run failed.
#[derive(Debug, thiserror::Error)]
pub enum TfError {
    /// The command could not be started.
    #[error("cannot run {program:?} (install Terraform 1.9 or later, or pass --terraform PATH)")]
    Spawn {
        /// The command.
        program: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The command ran longer than the command timeout and was interrupted.
    #[error("terraform {what} ran longer than {after:?} and was interrupted")]
    Timeout {
        /// Which command.
        what: &'static str,
        /// The timeout.
        after: Duration,
    },
    /// The command failed.
    #[error("terraform {what} failed (exit code {code:?}): {summary}")]
    Failed {
        /// Which command.
        what: &'static str,
        /// Its exit code.
        code: Option<i32>,
        /// Its error summaries.
        summary: String,
    },
    /// Its output was not what Terraform documents.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// Terraform is too old.
    #[error(
        "terraform {0} is too old: 1.9 or later is needed (for `removed` blocks with provisioners)"
    )]
    TooOld(String),
    /// The directory lock is held by someone else.
    #[error(
        "the working directory is locked by another process ({holder}) for longer than {after:?}; lock file {path:?}"
    )]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// Who holds it, as written in the file.
        holder: String,
        /// How long we waited.
        after: Duration,
    },
    /// The lock file or a log file could not be used.
    #[error("cannot use {path:?}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// The outcome of one run.
#[derive(Debug)]
pub struct Run {
    /// The exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
    /// How long it took.
    pub elapsed: Duration,
}

/// The outcome of a `-json` run that may fail with diagnostics (plan, apply).
#[derive(Debug)]
pub struct Reported {
    /// True when it exited 0.
    pub ok: bool,
    /// The diagnostics it printed.
    pub diagnostics: Vec<Diagnostic>,
    /// How long it took.
    pub elapsed: Duration,
}

/// The working directory's Terraform.
#[derive(Clone, Debug)]
pub struct Terraform {
    cfg: Config,
    log_dir: PathBuf,
}

/// The plugin's lock on the working directory, released when dropped.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

// === impl Run ===

impl Run {
    /// True when it exited 0.
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }
}

// === impl Reported ===

impl Reported {
    /// The error summaries, joined (never the details, which may quote secrets).
    pub fn errors(&self) -> String {
        summarize(&self.diagnostics)
    }
}

/// The error summaries of diagnostics, joined, with the resource or file they concern.
pub fn summarize(diags: &[Diagnostic]) -> String {
    let errors: Vec<String> = diags
        .iter()
        .filter(|d| d.severity == "error")
        .map(|d| match (&d.address, &d.filename) {
            (Some(a), _) => format!("{a}: {}", d.summary),
            (None, Some(f)) => format!("{f}: {}", d.summary),
            _ => d.summary.clone(),
        })
        .collect();
    if errors.is_empty() {
        "no error message (see .infrakit/log)".to_string()
    } else {
        errors.join("; ")
    }
}

// === impl Terraform ===

impl Terraform {
    /// Terraform for `cfg` (the log directory is created on first use).
    pub fn new(cfg: Config) -> Self {
        let log_dir = cfg.dir.join(crate::names::META_DIR).join("log");
        Self { cfg, log_dir }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Takes the plugin's lock on the working directory, waiting at most the lock timeout.
    pub async fn lock(&self) -> Result<DirLock, TfError> {
        let path = self.cfg.dir.join(crate::names::META_DIR).join("apply.lock");
        let io = |source| TfError::Io {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .mode(0o644)
            .open(&path)
            .map_err(io)?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if start.elapsed() < self.cfg.lock_timeout => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(TryLockError::WouldBlock) => {
                    let holder = std::fs::read_to_string(&path).unwrap_or_default();
                    return Err(TfError::Locked {
                        path,
                        holder: holder.trim().to_string(),
                        after: self.cfg.lock_timeout,
                    });
                }
                Err(TryLockError::Error(e)) => return Err(io(e)),
            }
        }
        file.set_len(0).map_err(io)?;
        writeln!(file, "pid {}", std::process::id()).map_err(io)?;
        Ok(DirLock { _file: file })
    }

    /// Runs `terraform <args>` in the working directory. Its output goes to files
    /// (`.infrakit/log/<what>.out` and `.err`), not pipes: a Terraform that outlives the plugin
    /// must never fail on a closed pipe.
    pub async fn run(&self, what: &'static str, args: &[&str]) -> Result<Run, TfError> {
        let start = Instant::now();
        let out_path = self.log_dir.join(format!("{what}.out"));
        let err_path = self.log_dir.join(format!("{what}.err"));
        let log_io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| TfError::Io { path, source }
        };
        std::fs::create_dir_all(&self.log_dir).map_err(log_io(&self.log_dir))?;
        let open = |p: &Path| {
            OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .mode(0o600)
                .open(p)
                .map_err(log_io(p))
        };
        let (out, err) = (open(&out_path)?, open(&err_path)?);
        let mut cmd = tokio::process::Command::new(&self.cfg.program);
        cmd.args(args)
            .current_dir(&self.cfg.dir)
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .process_group(0)
            .kill_on_drop(false);
        let mut child = cmd.spawn().map_err(|source| TfError::Spawn {
            program: self.cfg.program.clone(),
            source,
        })?;
        let status = match tokio::time::timeout(self.cfg.command_timeout, child.wait()).await {
            Ok(s) => s.ok(),
            Err(_) => {
                tracing::error!(what, timeout = ?self.cfg.command_timeout, "terraform ran too long; interrupting it");
                if let Some(pid) = child.id() {
                    interrupt(pid).await;
                }
                if tokio::time::timeout(INTERRUPT_GRACE, child.wait())
                    .await
                    .is_err()
                {
                    let _ = child.start_kill();
                    let _ = child.wait().await;
                }
                return Err(TfError::Timeout {
                    what,
                    after: self.cfg.command_timeout,
                });
            }
        };
        let run = Run {
            code: status.and_then(|s| s.code()),
            stdout: tokio::fs::read(&out_path).await.unwrap_or_default(),
            stderr: tokio::fs::read(&err_path).await.unwrap_or_default(),
            elapsed: start.elapsed(),
        };
        tracing::debug!(what, args = %args.join(" "), code = ?run.code, elapsed = ?run.elapsed, "terraform ran");
        Ok(run)
    }

    fn lock_timeout_arg(&self) -> String {
        format!("-lock-timeout={}s", self.cfg.lock_timeout.as_secs().max(1))
    }

    /// `terraform version -json`: the version, checked to be recent enough.
    pub async fn version(&self) -> Result<String, TfError> {
        let run = self.run("version", &["version", "-json"]).await?;
        if !run.ok() {
            return Err(failed("version", &run));
        }
        let v: serde_json::Value = serde_json::from_slice(&run.stdout)
            .map_err(|e| TfError::Parse(ParseError(e.to_string())))?;
        let version = v
            .get("terraform_version")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_string();
        let mut parts = version.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
        let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        if (major, minor) < MIN_VERSION {
            return Err(TfError::TooOld(version));
        }
        Ok(version)
    }

    /// `terraform init`.
    pub async fn init(&self) -> Result<(), TfError> {
        let run = self
            .run("init", &["init", "-input=false", "-no-color"])
            .await?;
        if run.ok() {
            Ok(())
        } else {
            Err(failed("init", &run))
        }
    }

    /// `terraform plan -out=<plan>` (which refreshes first).
    pub async fn plan(&self, plan: &Path) -> Result<Reported, TfError> {
        let out = format!("-out={}", plan.display());
        let lock = self.lock_timeout_arg();
        let run = self
            .run(
                "plan",
                &["plan", "-input=false", "-no-color", "-json", &lock, &out],
            )
            .await?;
        Ok(reported(&run))
    }

    /// `terraform show -json <plan>`.
    pub async fn show_plan(&self, plan: &Path) -> Result<PlanView, TfError> {
        let p = plan.display().to_string();
        let run = self
            .run("show-plan", &["show", "-json", "-no-color", &p])
            .await?;
        if !run.ok() {
            return Err(failed("show", &run));
        }
        Ok(tfjson::parse_plan(&run.stdout)?)
    }

    /// `terraform apply <plan>`.
    pub async fn apply(&self, plan: &Path) -> Result<Reported, TfError> {
        let p = plan.display().to_string();
        let lock = self.lock_timeout_arg();
        let run = self
            .run(
                "apply",
                &[
                    "apply",
                    "-input=false",
                    "-no-color",
                    "-json",
                    "-auto-approve",
                    &lock,
                    &p,
                ],
            )
            .await?;
        Ok(reported(&run))
    }

    /// `terraform show -json`: the state.
    pub async fn show_state(&self) -> Result<Snapshot, TfError> {
        let run = self
            .run("show-state", &["show", "-json", "-no-color"])
            .await?;
        if !run.ok() {
            return Err(failed("show", &run));
        }
        Ok(tfjson::parse_state(&run.stdout)?)
    }
}

fn reported(run: &Run) -> Reported {
    Reported {
        ok: run.ok(),
        diagnostics: tfjson::diagnostics(&run.stdout),
        elapsed: run.elapsed,
    }
}

fn failed(what: &'static str, run: &Run) -> TfError {
    // Plain-text errors: the first lines that say "Error", without the configuration excerpts.
    let text = String::from_utf8_lossy(&run.stderr);
    let summary: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("Error"))
        .take(3)
        .collect();
    TfError::Failed {
        what,
        code: run.code,
        summary: if summary.is_empty() {
            "no error message (see .infrakit/log)".to_string()
        } else {
            summary.join("; ")
        },
    }
}

/// Sends SIGINT to a process group.
async fn interrupt(pgid: u32) {
    let r = tokio::process::Command::new("kill")
        .arg("-INT")
        .arg("--")
        .arg(format!("-{pgid}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
    if let Err(e) = r {
        tracing::warn!(error = %e, "cannot interrupt terraform");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tf(dir: &Path) -> Terraform {
        Terraform::new(Config {
            program: PathBuf::from("/bin/sh"),
            dir: dir.to_path_buf(),
            lock_timeout: Duration::from_millis(300),
            command_timeout: Duration::from_secs(10),
        })
    }

    #[tokio::test]
    async fn the_directory_lock_is_exclusive_and_times_out_naming_the_holder() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join(".infrakit")).unwrap();
        let t = tf(d.path());
        let held = t.lock().await.unwrap();
        let e = t.lock().await.unwrap_err();
        assert!(
            e.to_string()
                .contains(&format!("pid {}", std::process::id())),
            "{e}"
        );
        drop(held);
        t.lock().await.unwrap();
    }

    #[tokio::test]
    async fn runs_capture_output_and_keep_a_log() {
        let d = tempfile::tempdir().unwrap();
        let t = tf(d.path());
        let run = t
            .run(
                "probe",
                &[
                    "-c",
                    "echo $TF_IN_AUTOMATION$CHECKPOINT_DISABLE; echo e >&2; exit 3",
                ],
            )
            .await
            .unwrap();
        assert_eq!(run.code, Some(3));
        assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), "11");
        assert_eq!(String::from_utf8_lossy(&run.stderr).trim(), "e");
        assert!(d.path().join(".infrakit/log/probe.out").exists());
    }

    #[tokio::test]
    async fn a_missing_program_is_a_clear_error() {
        let d = tempfile::tempdir().unwrap();
        let t = Terraform::new(Config {
            program: PathBuf::from("/nonexistent/terraform"),
            ..tf(d.path()).cfg
        });
        let e = t.version().await.unwrap_err();
        assert!(e.to_string().contains("--terraform"), "{e}");
    }

    #[tokio::test]
    async fn a_run_longer_than_the_timeout_is_interrupted() {
        let d = tempfile::tempdir().unwrap();
        let t = Terraform::new(Config {
            command_timeout: Duration::from_millis(200),
            ..tf(d.path()).cfg
        });
        let start = Instant::now();
        let e = t.run("slow", &["-c", "sleep 30"]).await.unwrap_err();
        assert!(matches!(e, TfError::Timeout { .. }), "{e}");
        assert!(start.elapsed() < Duration::from_secs(10));
    }
}
