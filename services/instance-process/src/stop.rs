//! Stopping an instance's process tree: SIGTERM to its whole process group, then SIGKILL to
//! whatever is left after the grace period.
//!
//! # Guarantees
//! - A group is only signalled while its number is not held by another process (see
//!   [`procfs::pid_not_reused`]), so pid reuse never makes the plugin signal a stranger.
//! - Processes that left the group (`setsid`) are out of reach; everything else in the tree,
//!   grandchildren included, is stopped.

use crate::procfs;
use rustix::process::{Pid, Signal, kill_process, kill_process_group};
use std::time::Duration;
use tokio::time::{Instant, sleep};

/// How often, at most, the group is checked while waiting for it to end (the checks start at
/// 1 ms apart and slow down to this, so a quick exit is seen at once).
pub const CHECK_EVERY: Duration = Duration::from_millis(20);

/// How long to wait for the group to disappear after SIGKILL before giving up.
pub const AFTER_KILL: Duration = Duration::from_secs(5);

/// How a stop went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// Nothing was running.
    AlreadyGone,
    /// Everything ended within the grace period after SIGTERM.
    Terminated,
    /// Something was still running after the grace period and got SIGKILL.
    Killed,
}

/// The process (group leader) of an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Leader {
    /// Its pid, which is also the process group ID.
    pub pid: u32,
    /// Its start time, as recorded at spawn.
    pub start_time: u64,
}

// === impl Leader ===

impl Leader {
    /// True while the leader itself runs.
    pub fn alive(&self) -> bool {
        procfs::alive(self.pid, self.start_time)
    }

    /// True while anything of the instance runs: the leader, or a member of its group.
    pub fn anything_left(&self) -> bool {
        procfs::pid_not_reused(self.pid, self.start_time)
            && (self.alive() || !procfs::group_members(self.pid).is_empty())
    }

    /// Sends `sig` to the group (and to the leader, should it have left its group). Returns
    /// false when nothing was signalled.
    pub fn signal(&self, sig: Signal) -> bool {
        if !procfs::pid_not_reused(self.pid, self.start_time) {
            return false;
        }
        let Some(pid) = i32::try_from(self.pid).ok().and_then(Pid::from_raw) else {
            return false;
        };
        let mut sent = kill_process_group(pid, sig).is_ok();
        if self.alive()
            && procfs::stat(self.pid).is_some_and(|s| u32::try_from(s.pgrp).ok() != Some(self.pid))
        {
            sent |= kill_process(pid, sig).is_ok();
        }
        sent
    }

    /// Stops the whole tree: SIGTERM, up to `grace` for it to end, then SIGKILL, and up to
    /// [`AFTER_KILL`] more.
    pub async fn stop(&self, grace: Duration) -> Stopped {
        if !self.anything_left() {
            return Stopped::AlreadyGone;
        }
        self.signal(Signal::TERM);
        if self.wait_gone(grace).await {
            return Stopped::Terminated;
        }
        self.signal(Signal::KILL);
        if !self.wait_gone(AFTER_KILL).await {
            tracing::warn!(
                pid = self.pid,
                "processes of the group are still there after SIGKILL"
            );
        }
        Stopped::Killed
    }

    /// Waits up to `limit` for everything to end; true when it did.
    async fn wait_gone(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut every = Duration::from_millis(1);
        loop {
            if !self.anything_left() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            sleep(every.min(deadline - Instant::now())).await;
            every = (every * 2).min(CHECK_EVERY);
        }
    }
}
