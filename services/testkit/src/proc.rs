//! A process a test started, killed when dropped.

use crate::procfs;
use rustix::process::Signal;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

/// A running process and the file its output goes to. Dropping it kills it (SIGKILL) and reaps
/// it; when it leads its own process group ([`Proc::adopt_group`]), the whole group is killed.
pub struct Proc {
    child: Option<Child>,
    name: String,
    log: PathBuf,
    group: bool,
}

impl Proc {
    /// Takes charge of `child`, known as `name` (a plugin's name, or what the process is for),
    /// whose stderr goes to `log`.
    pub fn adopt(name: &str, child: Child, log: PathBuf) -> Self {
        Self {
            child: Some(child),
            name: name.to_string(),
            log,
            group: false,
        }
    }

    /// Like [`Proc::adopt`], for a child that leads its own process group (spawned with
    /// `CommandExt::process_group(0)`): killing it kills the group, so that what it started
    /// (a script's `exec`, its children) goes too.
    pub fn adopt_group(name: &str, child: Child, log: PathBuf) -> Self {
        let mut p = Self::adopt(name, child, log);
        p.group = true;
        p
    }

    /// What the process is known as: the plugin name it was started with.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file its output goes to.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// Its output so far (empty when there is none yet).
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Its process ID, until it has been killed or stopped.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Fails the test, with the process's output, if it has exited.
    pub fn assert_running(&mut self) {
        if let Some(c) = self.child.as_mut()
            && let Ok(Some(status)) = c.try_wait()
        {
            panic!(
                "{} exited early ({status}); its log:\n{}",
                self.name,
                self.logs()
            );
        }
    }

    /// Kills the process (SIGKILL; its group too when it leads one) and reaps it. Does nothing
    /// when it was already killed or stopped.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            if self.group {
                procfs::signal_group(c.id(), Signal::KILL);
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends `sig` (to the group when the process leads one) and waits for the process to exit.
    /// Fails the test, with the process's output, when it has not exited after `timeout` (it is
    /// killed first).
    pub fn stop(&mut self, sig: Signal, timeout: Duration) {
        let Some(mut c) = self.child.take() else {
            return;
        };
        if self.group {
            procfs::signal_group(c.id(), sig);
        } else {
            procfs::signal(c.id(), sig);
        }
        let start = Instant::now();
        while !matches!(c.try_wait(), Ok(Some(_))) {
            if start.elapsed() > timeout {
                let _ = c.kill();
                let _ = c.wait();
                panic!(
                    "{} did not exit on {sig:?} within {timeout:?}; its log:\n{}",
                    self.name,
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}
