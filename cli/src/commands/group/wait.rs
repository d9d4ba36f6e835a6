//! `--wait`: follow a group until it converges (or, after `destroy`, until it is gone).
//!
//! Two sources feed the wait: the `Watch` stream (`replay: false`), whose events are printed as
//! they come, and a `DescribeGroup` every [`POLL_INTERVAL`], which shows progress even when the
//! stream is quiet and decides the outcome ([`Judge`]). A plugin that stops answering for a
//! while (e.g. restarting) is waited for; the wait ends at the deadline in any case.
//!
//! Progress goes to stderr: one line redrawn in place on a terminal ([`Live`]), plain lines
//! otherwise ([`Plain`]: one per change of phase or counts, plus every event).

use super::view::{event_line, pause_text, progress_line};
use super::{NoGroup, Waiting, client};
use crate::context::Target;
use crate::rpc::{Failure, classify};
use infrakit_spi::group::v1::group_client::GroupClient;
use infrakit_spi::group::v1::{
    DescribeGroupRequest, DescribeGroupResponse, GroupEvent, Phase, WatchRequest,
};
use std::io::{IsTerminal, Write};
use std::time::Duration;
use tokio::time::{Instant, MissedTickBehavior};
use tonic::Streaming;
use tonic::transport::Channel;

/// How often the group is described while waiting.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// A terminal phase (failing, halted) must be seen this many times in a row (a Watch event
/// counts as one) before the wait gives up, so that a status from before the commit is not
/// taken for its outcome.
const STRIKES: u32 = 2;

/// What the wait is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Goal {
    /// Phase CONVERGED on this config hash (any hash when empty), every instance there.
    Converged {
        /// The hash of the committed spec (from the plan).
        spec_hash: String,
    },
    /// DescribeGroup answers NOT_FOUND.
    Gone,
}

/// Why a wait failed (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    /// The group reports FAILING.
    #[error("group {id:?} is failing: {reason}")]
    Failing {
        /// The group.
        id: String,
        /// Its last error.
        reason: String,
    },
    /// The rolling update is paused or halted.
    #[error("the update of group {id:?} is paused: {reason}")]
    Halted {
        /// The group.
        id: String,
        /// Why.
        reason: String,
    },
    /// The group is paused (`ikctl group pause`): it will not converge until resumed.
    #[error("group {id:?} is paused {how}; `ikctl group resume {id}` lets it converge")]
    Paused {
        /// The group.
        id: String,
        /// By whom, since when, why.
        how: String,
    },
    /// The group is being destroyed while waiting for it to converge.
    #[error("group {id:?} is being destroyed")]
    Destroying {
        /// The group.
        id: String,
    },
    /// The deadline passed.
    #[error(
        "gave up waiting for group {id:?} to {goal} after {limit} (last seen: {last}); it goes on: see `ikctl group describe {id}`"
    )]
    TimedOut {
        /// The group.
        id: String,
        /// `converge` or `be destroyed`.
        goal: &'static str,
        /// The limit, e.g. `10m`.
        limit: String,
        /// The last progress line seen.
        last: String,
    },
    /// Ctrl-C.
    #[error(
        "stopped waiting for group {id:?} (Ctrl-C); it goes on: see `ikctl group describe {id}`"
    )]
    Interrupted {
        /// The group.
        id: String,
    },
}

/// The verdict on one observation.
#[derive(Debug)]
pub enum Verdict {
    /// Keep waiting.
    Wait,
    /// The goal is reached.
    Done,
    /// The goal will not be reached.
    Fail(WaitError),
}

/// Decides, from successive DescribeGroup answers and Watch events, whether the goal is
/// reached; pure, so it is tested without a plugin.
#[derive(Debug)]
pub struct Judge {
    goal: Goal,
    strikes: u32,
}

impl Judge {
    /// A judge for `goal`.
    pub fn new(goal: Goal) -> Self {
        Self { goal, strikes: 0 }
    }

    /// Judges a DescribeGroup answer.
    pub fn describe(&mut self, d: &DescribeGroupResponse) -> Verdict {
        let Goal::Converged { spec_hash } = &self.goal else {
            return Verdict::Wait;
        };
        let id = d.id.clone();
        if let Some(p) = &d.paused {
            let how = pause_text(p);
            return self.strike(WaitError::Paused { id, how });
        }
        match Phase::try_from(d.phase).unwrap_or(Phase::Unspecified) {
            Phase::Converged => {
                self.strikes = 0;
                let on_hash = spec_hash.is_empty() || *spec_hash == d.spec_hash;
                let complete = d.actual == d.desired && d.up_to_date >= d.desired;
                if on_hash && complete {
                    Verdict::Done
                } else {
                    Verdict::Wait
                }
            }
            Phase::Failing => {
                let reason = d
                    .last_error
                    .as_ref()
                    .map(|e| e.message.clone())
                    .filter(|m| !m.is_empty())
                    .unwrap_or_else(|| "replacements keep failing".to_string());
                self.strike(WaitError::Failing { id, reason })
            }
            Phase::Paused => match d.update.as_ref().map(|u| u.halted_reason.clone()) {
                Some(reason) if !reason.is_empty() => self.strike(WaitError::Halted { id, reason }),
                _ => Verdict::Wait,
            },
            Phase::Destroying => Verdict::Fail(WaitError::Destroying { id }),
            _ => {
                self.strikes = 0;
                Verdict::Wait
            }
        }
    }

    /// Takes note of a Watch event: a failing or paused phase counts as one sighting.
    pub fn event(&mut self, e: &GroupEvent) {
        if e.phase == Phase::Failing as i32 || e.phase == Phase::Paused as i32 {
            self.strikes = self.strikes.max(1);
        }
    }

    fn strike(&mut self, err: WaitError) -> Verdict {
        self.strikes += 1;
        if self.strikes >= STRIKES {
            Verdict::Fail(err)
        } else {
            Verdict::Wait
        }
    }
}

/// Where progress goes.
pub trait Progress {
    /// The group's current one-line status.
    fn status(&mut self, line: &str);
    /// An event line, or a note such as "plugin not answering".
    fn event(&mut self, line: &str);
    /// The wait is over.
    fn finish(&mut self);
}

/// Progress for stderr: [`Live`] on a terminal, [`Plain`] otherwise.
pub fn progress_for_stderr() -> Box<dyn Progress> {
    let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
    if std::io::stderr().is_terminal() && !dumb {
        Box::new(Live::default())
    } else {
        Box::new(Plain::default())
    }
}

/// One status line redrawn in place (`\r`), events printed above it.
#[derive(Debug, Default)]
pub struct Live {
    current: String,
}

impl Progress for Live {
    fn status(&mut self, line: &str) {
        self.current = fit(line);
        let _ = write!(std::io::stderr(), "\r\x1b[2K{}", self.current);
        let _ = std::io::stderr().flush();
    }

    fn event(&mut self, line: &str) {
        let _ = write!(std::io::stderr(), "\r\x1b[2K{line}\n{}", self.current);
        let _ = std::io::stderr().flush();
    }

    fn finish(&mut self) {
        if !self.current.is_empty() {
            let _ = writeln!(std::io::stderr());
        }
    }
}

/// A line per change of status, and a line per event.
#[derive(Debug, Default)]
pub struct Plain {
    last: String,
}

impl Progress for Plain {
    fn status(&mut self, line: &str) {
        if line != self.last {
            eprintln!("{line}");
            self.last = line.to_string();
        }
    }

    fn event(&mut self, line: &str) {
        eprintln!("{line}");
    }

    fn finish(&mut self) {}
}

/// Cuts a live line to the terminal width (`COLUMNS`, else 120), so that `\r` redraws it.
fn fit(line: &str) -> String {
    let width = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
        .filter(|w| *w > 10)
        .unwrap_or(120);
    line.chars().take(width - 1).collect()
}

/// The Watch stream, if there is one.
enum Stream {
    Open(Box<Streaming<GroupEvent>>),
    Closed,
    Unsupported,
}

/// Follows group `id` until `goal`, the deadline of `waiting`, or Ctrl-C.
pub async fn follow(
    target: &Target,
    id: &str,
    goal: Goal,
    waiting: &Waiting,
    progress: &mut dyn Progress,
) -> anyhow::Result<()> {
    let outcome = follow_inner(target, id, goal, waiting, progress).await;
    progress.finish();
    outcome
}

async fn follow_inner(
    target: &Target,
    id: &str,
    goal: Goal,
    waiting: &Waiting,
    progress: &mut dyn Progress,
) -> anyhow::Result<()> {
    let ctx = &waiting.ctx;
    let deadline = waiting.deadline();
    let mut client = client(target);
    let mut judge = Judge::new(goal.clone());
    let mut stream = open_watch(&mut client, id, ctx.timeout).await;
    let mut tick = tokio::time::interval(POLL_INTERVAL);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut ctrl_c_armed = true;
    let mut last = String::from("nothing yet");
    let mut outage = false;
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => {
                return Err(WaitError::TimedOut {
                    id: id.to_string(),
                    goal: if goal == Goal::Gone { "be destroyed" } else { "converge" },
                    limit: human(waiting.limit),
                    last,
                }
                .into());
            }
            r = &mut ctrl_c, if ctrl_c_armed => {
                if r.is_ok() {
                    return Err(WaitError::Interrupted { id: id.to_string() }.into());
                }
                ctrl_c_armed = false;
            }
            event = next_event(&mut stream) => {
                if let Some(e) = event {
                    progress.event(&event_line(&e, false));
                    judge.event(&e);
                }
            }
            _ = tick.tick() => {
                let left = deadline.saturating_duration_since(Instant::now());
                let mut req = tonic::Request::new(DescribeGroupRequest { id: id.to_string() });
                req.set_timeout(ctx.timeout.min(left).max(Duration::from_millis(10)));
                match client.describe_group(req).await {
                    Ok(resp) => {
                        outage = false;
                        let d = resp.into_inner();
                        last = progress_line(&d);
                        progress.status(&last);
                        match judge.describe(&d) {
                            Verdict::Wait => {}
                            Verdict::Done => return Ok(()),
                            Verdict::Fail(e) => return Err(e.into()),
                        }
                        if matches!(stream, Stream::Closed) {
                            stream = open_watch(&mut client, id, ctx.timeout).await;
                        }
                    }
                    Err(status) if status.code() == tonic::Code::NotFound => {
                        return match goal {
                            Goal::Gone => {
                                progress.status(&format!("{id}: destroyed"));
                                Ok(())
                            }
                            Goal::Converged { .. } => Err(NoGroup(id.to_string()).into()),
                        };
                    }
                    Err(status) if matches!(classify(&status), Failure::Stopped | Failure::Timeout) => {
                        if !outage {
                            let err = target.error("Group/DescribeGroup")(status);
                            progress.event(&format!("{err}; still waiting"));
                            outage = true;
                        }
                        if matches!(stream, Stream::Open(_)) {
                            stream = Stream::Closed;
                        }
                    }
                    Err(status) => return Err(target.error("Group/DescribeGroup")(status).into()),
                }
            }
        }
    }
}

/// Opens `Watch{id, replay: false}`; the stream itself has no deadline.
async fn open_watch(client: &mut GroupClient<Channel>, id: &str, timeout: Duration) -> Stream {
    let req = WatchRequest {
        id: id.to_string(),
        replay: false,
    };
    match tokio::time::timeout(timeout, client.watch(req)).await {
        Ok(Ok(resp)) => Stream::Open(Box::new(resp.into_inner())),
        Ok(Err(status)) if status.code() == tonic::Code::Unimplemented => Stream::Unsupported,
        Ok(Err(_)) | Err(_) => Stream::Closed,
    }
}

/// The next event; pending forever when there is no stream (the stream is marked closed when it
/// ends or fails).
async fn next_event(stream: &mut Stream) -> Option<GroupEvent> {
    let Stream::Open(s) = stream else {
        return std::future::pending().await;
    };
    match s.message().await {
        Ok(Some(e)) => Some(e),
        Ok(None) | Err(_) => {
            *stream = Stream::Closed;
            None
        }
    }
}

/// A duration as a person writes it: `10m`, `1h`, `90s`, `1.5s`.
pub fn human(d: Duration) -> String {
    let secs = d.as_secs();
    if d.subsec_nanos() != 0 {
        format!("{d:?}")
    } else if secs >= 3600 && secs.is_multiple_of(3600) {
        format!("{}h", secs / 3600)
    } else if secs >= 60 && secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}
