//! Running the `vagrant` command in an instance's directory: no network (the version check is
//! off), no colours, no terminal; its output appended to `vagrant.log` and its last lines kept;
//! its process ID in `vagrant.pid` while it runs; interrupted (SIGINT, so Vagrant cleans up)
//! and then killed when cancelled or too slow. Vagrant writes straight into the log file, so it
//! is not disturbed if the plugin stops while it runs.

use crate::record;
use std::collections::VecDeque;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;
use tokio::time::Sleep;
use tokio_util::sync::CancellationToken;

/// How long Vagrant may clean up after SIGINT before it is killed.
pub const INTERRUPT_GRACE: Duration = Duration::from_secs(15);

/// How often the output is read while Vagrant runs.
const OUTPUT_POLL: Duration = Duration::from_millis(200);

/// How to run Vagrant.
#[derive(Clone, Debug)]
pub struct Vagrant {
    /// The `vagrant` executable.
    pub program: PathBuf,
    /// How many lines of output to keep.
    pub keep_lines: usize,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Exit status 0.
    Success,
    /// Another exit status (or a signal).
    Failed(Option<i32>),
    /// Cancelled by the plugin.
    Cancelled,
    /// Took longer than allowed.
    TimedOut,
}

/// A finished run.
#[derive(Clone, Debug)]
pub struct Run {
    /// How it ended.
    pub outcome: Outcome,
    /// The last lines of its output (stdout and stderr interleaved as they came).
    pub tail: Vec<String>,
}

/// Follows the log from an offset: complete lines, and the last few of them.
struct LogTail {
    path: PathBuf,
    pos: u64,
    partial: String,
    keep: usize,
    tail: VecDeque<String>,
}

// === impl Vagrant ===

impl Vagrant {
    /// Runs `vagrant <args>` in `dir`, calling `on_line` for each output line, until it exits,
    /// `cancel` fires or `timeout` passes. Fails only when Vagrant cannot be started.
    pub async fn run(
        &self,
        dir: &Path,
        args: &[&str],
        cancel: &CancellationToken,
        timeout: Duration,
        mut on_line: impl FnMut(&str),
    ) -> std::io::Result<Run> {
        let path = dir.join(record::LOG_FILE);
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        writeln!(log, "$ vagrant {}", args.join(" "))?;
        let mut reader = LogTail::new(&path, log.metadata()?.len(), self.keep_lines);
        // Vagrant writes straight into the log: it keeps running, and its output is kept, even
        // if this process stops while it runs.
        let stderr = log.try_clone()?;
        let mut child = Command::new(&self.program)
            .args(args)
            .current_dir(dir)
            .env("VAGRANT_CWD", dir)
            .env("VAGRANT_CHECKPOINT_DISABLE", "1")
            .env("VAGRANT_NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(stderr))
            .spawn()
            .map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("cannot run {}: {e}", self.program.display()),
                )
            })?;
        let pid = child.id();
        let pid_file = dir.join(record::PID_FILE);
        if let Some(pid) = pid {
            let _ = std::fs::write(&pid_file, format!("{pid}\n"));
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut ticks = tokio::time::interval(OUTPUT_POLL);
        let mut stopped = None;
        // Armed when Vagrant is interrupted: then it is killed if it has not finished.
        let mut grace: Option<Pin<Box<Sleep>>> = None;
        let status = loop {
            tokio::select! {
                s = child.wait() => break s?,
                _ = ticks.tick() => reader.read(&mut on_line),
                () = cancel.cancelled(), if stopped.is_none() => {
                    stopped = Some(Outcome::Cancelled);
                    interrupt(pid).await;
                    grace = Some(Box::pin(tokio::time::sleep(INTERRUPT_GRACE)));
                }
                () = &mut deadline, if stopped.is_none() => {
                    stopped = Some(Outcome::TimedOut);
                    interrupt(pid).await;
                    grace = Some(Box::pin(tokio::time::sleep(INTERRUPT_GRACE)));
                }
                () = elapsed(&mut grace) => {
                    let _ = child.start_kill();
                    grace = None;
                }
            }
        };
        reader.read(&mut on_line);
        let _ = std::fs::remove_file(&pid_file);
        let outcome = match stopped {
            Some(o) => o,
            None if status.success() => Outcome::Success,
            None => Outcome::Failed(status.code()),
        };
        if let Ok(mut log) = std::fs::OpenOptions::new().append(true).open(&path) {
            let _ = writeln!(log, "# {outcome:?}");
        }
        Ok(Run {
            outcome,
            tail: reader.tail.into(),
        })
    }
}

impl Vagrant {
    /// The machine state `vagrant status` reports (`running`, `not_created`, `poweroff`, ...),
    /// for providers the plugin cannot ask directly.
    pub async fn status(&self, dir: &Path) -> Result<String, String> {
        let out = self.machine_readable(&["status"], Some(dir)).await?;
        machine_state(&out).ok_or_else(|| "vagrant status printed no state".to_string())
    }

    /// Runs `vagrant <args> --machine-readable` (in `dir`, if given) for at most 60 s; returns
    /// its output, or its error output when it fails.
    async fn machine_readable(&self, args: &[&str], dir: Option<&Path>) -> Result<String, String> {
        let mut cmd = Command::new(&self.program);
        cmd.args(args).arg("--machine-readable");
        if let Some(dir) = dir {
            cmd.current_dir(dir).env("VAGRANT_CWD", dir);
        }
        let out = cmd
            .env("VAGRANT_CHECKPOINT_DISABLE", "1")
            .env("VAGRANT_NO_COLOR", "1")
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(Duration::from_secs(60), out)
            .await
            .map_err(|_| format!("vagrant {} took longer than 60s", args.join(" ")))?
            .map_err(|e| format!("cannot run {}: {e}", self.program.display()))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Vagrant {
    /// The boxes already added (`vagrant box list`), so a missing one is refused instead of
    /// downloaded.
    pub async fn boxes(&self) -> Result<Vec<String>, String> {
        let out = self.machine_readable(&["box", "list"], None).await?;
        Ok(box_names(&out))
    }
}

/// The box names in `vagrant box list --machine-readable` output (`<time>,,box-name,<name>`).
pub fn box_names(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| {
            let mut f = l.splitn(4, ',');
            let (_, _, kind, value) = (f.next()?, f.next()?, f.next()?, f.next()?);
            (kind == "box-name").then(|| value.trim().to_string())
        })
        .collect()
}

/// The state in `vagrant status --machine-readable` output (`<time>,<machine>,state,<state>`).
pub fn machine_state(out: &str) -> Option<String> {
    out.lines().find_map(|l| {
        let mut f = l.splitn(4, ',');
        let (_, _, kind, value) = (f.next()?, f.next()?, f.next()?, f.next()?);
        (kind == "state").then(|| value.trim().to_string())
    })
}

// === impl LogTail ===

impl LogTail {
    fn new(path: &Path, pos: u64, keep: usize) -> Self {
        Self {
            path: path.to_path_buf(),
            pos,
            partial: String::new(),
            keep,
            tail: VecDeque::new(),
        }
    }

    /// Reads what was appended since the last call, calling `on_line` for each non-blank line.
    fn read(&mut self, on_line: &mut impl FnMut(&str)) {
        use std::io::{Read, Seek, SeekFrom};
        let Ok(mut f) = std::fs::File::open(&self.path) else {
            return;
        };
        let mut buf = Vec::new();
        if f.seek(SeekFrom::Start(self.pos)).is_err() || f.read_to_end(&mut buf).is_err() {
            return;
        }
        self.pos += buf.len() as u64;
        self.partial.push_str(&String::from_utf8_lossy(&buf));
        while let Some(nl) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=nl).collect();
            let line = line.trim_end();
            if line.trim().is_empty() {
                continue;
            }
            on_line(line);
            if self.tail.len() == self.keep {
                self.tail.pop_front();
            }
            self.tail.push_back(line.to_string());
        }
    }
}

/// Resolves when an armed timer fires; never for an unarmed one.
async fn elapsed(s: &mut Option<Pin<Box<Sleep>>>) {
    match s {
        Some(s) => s.as_mut().await,
        None => std::future::pending().await,
    }
}

/// Sends SIGINT to `pid` (Vagrant then cleans up what it was doing).
async fn interrupt(pid: Option<u32>) {
    let Some(pid) = pid else { return };
    let _ = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
}

/// Waits until the Vagrant process recorded in `dir`'s `vagrant.pid` (left by a plugin that
/// stopped while Vagrant ran) has exited, so that two runs never overlap on one machine.
pub async fn wait_for_leftover(dir: &Path) {
    let Ok(text) = std::fs::read_to_string(dir.join(record::PID_FILE)) else {
        return;
    };
    let Ok(pid) = text.trim().parse::<u32>() else {
        return;
    };
    let proc = PathBuf::from(format!("/proc/{pid}"));
    let is_vagrant = || {
        std::fs::read(proc.join("cmdline"))
            .map(|c| String::from_utf8_lossy(&c).contains("vagrant"))
            .unwrap_or(false)
    };
    if is_vagrant() {
        tracing::info!(dir = %dir.display(), pid, "waiting for a Vagrant run left by an earlier plugin process");
    }
    while is_vagrant() {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = std::fs::remove_file(dir.join(record::PID_FILE));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake `vagrant` (a shell script) stands in for the real one: this tests the plumbing.
    fn fake(dir: &Path, body: &str) -> Vagrant {
        let p = dir.join("fake-vagrant");
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        Vagrant {
            program: p,
            keep_lines: 2,
        }
    }

    #[test]
    fn the_machine_state_is_read_from_machine_readable_output() {
        let out = "1795597882,default,metadata,provider,docker\n\
                   1795597882,default,provider-name,docker\n\
                   1795597882,default,state,running\n\
                   1795597882,default,state-human-short,running\n";
        assert_eq!(machine_state(out).as_deref(), Some("running"));
        assert_eq!(machine_state("nothing"), None);
    }

    #[test]
    fn box_names_are_read_from_machine_readable_output() {
        let out = "1,,ui,info,There are no installed boxes!\n\
                   1,,box-name,debian/bookworm64\n1,,box-provider,virtualbox\n";
        assert_eq!(box_names(out), vec!["debian/bookworm64"]);
    }

    #[tokio::test]
    async fn output_is_logged_and_its_tail_kept() {
        let d = tempfile::tempdir().unwrap();
        let v = fake(d.path(), "echo one; echo two >&2; echo three; exit 3");
        let mut seen = Vec::new();
        let run = v
            .run(
                d.path(),
                &["up"],
                &CancellationToken::new(),
                Duration::from_secs(10),
                |l| seen.push(l.to_string()),
            )
            .await
            .unwrap();
        assert_eq!(run.outcome, Outcome::Failed(Some(3)));
        assert_eq!(run.tail.len(), 2);
        assert_eq!(seen.len(), 3);
        let log = std::fs::read_to_string(d.path().join(record::LOG_FILE)).unwrap();
        assert!(
            log.contains("$ vagrant up") && log.contains("three"),
            "{log}"
        );
        assert!(!d.path().join(record::PID_FILE).exists());
    }

    #[tokio::test]
    async fn a_cancelled_run_is_interrupted() {
        let d = tempfile::tempdir().unwrap();
        let v = fake(
            d.path(),
            "trap 'echo cleaning; exit 130' INT; echo started; while :; do sleep 0.1; done",
        );
        let cancel = CancellationToken::new();
        let c = cancel.clone();
        let run = tokio::spawn({
            let dir = d.path().to_path_buf();
            async move {
                v.run(&dir, &["up"], &c, Duration::from_secs(30), |_| {})
                    .await
                    .unwrap()
            }
        });
        while !d.path().join(record::PID_FILE).exists() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        cancel.cancel();
        let run = run.await.unwrap();
        assert_eq!(run.outcome, Outcome::Cancelled);
        assert_eq!(run.tail.last().map(String::as_str), Some("cleaning"));
    }
}
