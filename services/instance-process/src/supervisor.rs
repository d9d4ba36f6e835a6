//! One task per live instance: waits for its process to end (the child's exit status, or, for a
//! process re-adopted after a plugin restart, `/proc` polled every [`POLL_ADOPTED`]), then either
//! reports the instance gone or starts it again per its restart policy, with exponential backoff
//! so a crash-looping command does not spin.
//!
//! When the process ends, whatever is left of its process group (background children) is
//! stopped too (SIGTERM, SIGKILL after the grace period), so nothing leaks.

use crate::record::{Exit, now_ms};
use crate::slot::Slot;
use crate::spawn::Spawned;
use crate::stop::Leader;
use crate::store::Store;
use std::os::unix::process::ExitStatusExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{Instant, sleep};

/// How often a re-adopted process (not the plugin's child) is checked.
pub const POLL_ADOPTED: Duration = Duration::from_millis(200);

/// The first wait before a restart.
pub const BACKOFF_INITIAL: Duration = Duration::from_millis(250);

/// The longest wait before a restart (the wait doubles after each quick exit).
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// A process that ran at least this long resets the backoff.
pub const BACKOFF_RESET: Duration = Duration::from_secs(10);

/// The process an instance has now.
#[derive(Debug)]
pub enum Current {
    /// The plugin's own child.
    Child {
        /// The handle to wait on (and reap).
        child: tokio::process::Child,
        /// Its pid and start time.
        leader: Leader,
    },
    /// A process started by an earlier run of the plugin.
    Adopted(Leader),
    /// The process ended while the plugin was not running (the old one, if it was spawned).
    Ended(Option<Leader>),
}

/// How a process ended, as far as the plugin could see.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Ending {
    code: Option<i32>,
    signal: Option<i32>,
}

// === impl Current ===

impl Current {
    /// A freshly spawned child.
    pub fn child(sp: Spawned) -> Self {
        Self::Child {
            child: sp.child,
            leader: Leader {
                pid: sp.pid,
                start_time: sp.start_time,
            },
        }
    }

    /// Its pid and start time, if it was spawned.
    pub fn leader(&self) -> Option<Leader> {
        match self {
            Self::Child { leader, .. } | Self::Adopted(leader) => Some(*leader),
            Self::Ended(l) => *l,
        }
    }

    /// Waits until the process ends.
    async fn ended(self) -> Ending {
        match self {
            Self::Child { mut child, leader } => match child.wait().await {
                Ok(st) => Ending {
                    code: st.code(),
                    signal: st.signal(),
                },
                Err(e) => {
                    tracing::warn!(pid = leader.pid, error = %e, "cannot wait for the process; watching /proc instead");
                    poll_until_gone(leader).await;
                    Ending::default()
                }
            },
            Self::Adopted(leader) => {
                poll_until_gone(leader).await;
                Ending::default()
            }
            Self::Ended(_) => Ending::default(),
        }
    }
}

async fn poll_until_gone(leader: Leader) {
    while leader.alive() {
        sleep(POLL_ADOPTED).await;
    }
}

/// Supervises `slot` until it is destroyed or ends for good.
pub async fn supervise(store: Arc<Store>, slot: Arc<Slot>, mut current: Current) {
    let mut backoff = BACKOFF_INITIAL;
    loop {
        let started = Instant::now();
        let leader = current.leader();
        let ending = current.ended().await;
        let ran = started.elapsed();
        let (destroying, restart) = {
            let st = slot.lock();
            (
                st.destroying,
                st.record.run.restart.restarts_after(ending.code),
            )
        };
        if destroying {
            return; // Destroy stops what is left and reports.
        }
        let grace = slot.grace();
        if !restart {
            let exit = Exit {
                at_ms: now_ms(),
                code: ending.code,
                signal: ending.signal,
                reason: describe(ending),
            };
            let (s, sl) = (store.clone(), slot.clone());
            let reported = tokio::task::spawn_blocking(move || {
                let reported = s.ended(&sl, exit);
                s.prune();
                reported
            })
            .await
            .unwrap_or(false);
            if reported && let Some(l) = leader {
                l.stop(grace).await;
            }
            return;
        }
        if let Some(l) = leader {
            l.stop(grace).await;
        }
        if ran >= BACKOFF_RESET {
            backoff = BACKOFF_INITIAL;
        }
        tracing::info!(id = %slot.id, code = ?ending.code, signal = ?ending.signal, wait = ?backoff, "the process ended; restarting it");
        store.waiting(&slot);
        tokio::select! {
            () = sleep(backoff) => {}
            () = slot.wake.notified() => {}
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
        let (s, sl) = (store.clone(), slot.clone());
        let respawned = tokio::task::spawn_blocking(move || s.respawn(&sl)).await;
        current = match respawned {
            Ok(Ok(Some(c))) => c,
            Ok(Ok(None)) => return,
            Ok(Err(e)) => {
                // The environment is broken (no /bin/sh, directory removed, ...): retrying
                // would not help, so the instance ends and the group replaces it.
                let exit = Exit {
                    at_ms: now_ms(),
                    code: None,
                    signal: None,
                    reason: format!(
                        "could not be restarted: {}",
                        infrakit_runtime::dial::error_chain(&e)
                    ),
                };
                let (s, sl) = (store.clone(), slot.clone());
                let _ = tokio::task::spawn_blocking(move || s.ended(&sl, exit)).await;
                return;
            }
            Err(e) => {
                tracing::warn!(id = %slot.id, error = %e, "the restart task failed");
                Current::Ended(None)
            }
        };
    }
}

fn describe(e: Ending) -> String {
    match (e.code, e.signal) {
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        (None, None) => {
            "ended (its exit status was not seen by this run of the plugin)".to_string()
        }
    }
}
