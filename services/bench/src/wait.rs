//! Waiting for a group to reach a condition, timed from the client's side.
//!
//! The group's Watch stream is followed (subscribe *before* the change being timed): on every
//! `phase` event that says Converged, DescribeGroup is asked and the condition checked; the
//! moment the event arrived is the time reported. DescribeGroup is not polled in a tight loop
//! because at 10,000 members it is a multi-megabyte answer that would load the controller
//! being measured. If the stream ends (the controller drops a watcher that falls behind a
//! burst of events), it is opened again and the condition checked at once, so a phase change
//! in between is not missed; a check every second is the last safety net.

use anyhow::{Context, bail};
use infrakit_spi::group::v1::WatchRequest;
use infrakit_spi::group::v1::group_client::GroupClient;
use infrakit_spi::group::v1::{DescribeGroupRequest, DescribeGroupResponse, GroupEvent, Phase};
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};
use tonic::Streaming;
use tonic::transport::Channel;

/// How often the condition is checked besides phase events.
pub const SAFETY_CHECK: Duration = Duration::from_secs(1);

/// A subscription to one group's events, to wait on.
#[derive(Debug)]
pub struct Waiter {
    client: GroupClient<Channel>,
    id: String,
    stream: Option<Streaming<GroupEvent>>,
    /// How many times the stream had to be opened again.
    pub resubscribed: u32,
    /// When events of each kind arrived (first, last, count), since the last [`Waiter::until`]
    /// began: a breakdown of where the time went.
    pub marks: BTreeMap<String, Mark>,
}

/// When events of one kind arrived.
#[derive(Clone, Copy, Debug)]
pub struct Mark {
    /// The first one.
    pub first: Instant,
    /// The last one.
    pub last: Instant,
    /// How many.
    pub count: u32,
}

// === impl Waiter ===

impl Waiter {
    /// Subscribes to the events of group `id`.
    pub async fn subscribe(client: GroupClient<Channel>, id: &str) -> anyhow::Result<Self> {
        let mut w = Self {
            client,
            id: id.to_string(),
            stream: None,
            resubscribed: 0,
            marks: BTreeMap::new(),
        };
        w.open().await?;
        Ok(w)
    }

    async fn open(&mut self) -> anyhow::Result<()> {
        let s = self
            .client
            .watch(WatchRequest {
                id: self.id.clone(),
                replay: false,
            })
            .await
            .context("Watch failed")?
            .into_inner();
        self.stream = Some(s);
        Ok(())
    }

    /// DescribeGroup of the group.
    pub async fn describe(&mut self) -> anyhow::Result<DescribeGroupResponse> {
        Ok(self
            .client
            .describe_group(DescribeGroupRequest {
                id: self.id.clone(),
            })
            .await
            .context("DescribeGroup failed")?
            .into_inner())
    }

    /// Waits until `check` holds for DescribeGroup; returns when it was first seen to hold (the
    /// arrival of the phase event that led to it) and the description.
    pub async fn until(
        &mut self,
        check: impl Fn(&DescribeGroupResponse) -> bool,
        patience: Duration,
    ) -> anyhow::Result<(Instant, DescribeGroupResponse)> {
        let deadline = tokio::time::Instant::now() + patience;
        let mut tick = tokio::time::interval(SAFETY_CHECK);
        tick.tick().await; // the first tick is immediate
        let mut last: Option<DescribeGroupResponse> = None;
        self.marks.clear();
        loop {
            let event = async {
                match self.stream.as_mut() {
                    Some(s) => s.message().await,
                    None => std::future::pending().await,
                }
            };
            let check_now = tokio::select! {
                ev = event => match ev {
                    Ok(Some(ev)) => {
                        let now = Instant::now();
                        let kind = if ev.kind == "phase" {
                            format!("phase {:?}", Phase::try_from(ev.phase).unwrap_or(Phase::Unspecified))
                        } else {
                            ev.kind.clone()
                        };
                        self.marks
                            .entry(kind)
                            .and_modify(|m| {
                                m.last = now;
                                m.count += 1;
                            })
                            .or_insert(Mark { first: now, last: now, count: 1 });
                        ev.kind == "phase" && ev.phase == Phase::Converged as i32
                    }
                    Ok(None) | Err(_) => {
                        self.stream = None;
                        self.resubscribed += 1;
                        self.open().await?;
                        true
                    }
                },
                _ = tick.tick() => true,
                () = tokio::time::sleep_until(deadline) => {
                    bail!("timed out after {patience:?}; last status: {}", summary(last.as_ref()));
                }
            };
            if check_now {
                let at = Instant::now();
                let d = self.describe().await?;
                if check(&d) {
                    return Ok((at, d));
                }
                last = Some(d);
            }
        }
    }
}

/// The marks as one line of times relative to `start` (e.g. `provisioned ×1000 +5..310 ms`).
pub fn breakdown(marks: &BTreeMap<String, Mark>, start: Instant) -> String {
    let mut v: Vec<(&String, &Mark)> = marks.iter().collect();
    v.sort_by_key(|(_, m)| m.first);
    v.iter()
        .map(|(k, m)| {
            let a = m.first.saturating_duration_since(start).as_millis();
            let b = m.last.saturating_duration_since(start).as_millis();
            if m.count == 1 {
                format!("{k} +{a}ms")
            } else {
                format!("{k} ×{} +{a}..{b}ms", m.count)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The condition "Converged with `n` members, all up to date and healthy" (on config hash
/// `hash` when it is not empty).
pub fn converged(n: u32, hash: &str) -> impl Fn(&DescribeGroupResponse) -> bool + '_ {
    move |d| {
        d.phase == Phase::Converged as i32
            && d.desired == n
            && d.actual == n
            && d.up_to_date == n
            && d.healthy == n
            && (hash.is_empty() || d.spec_hash == hash)
    }
}

/// [`converged`], and none of `gone` is a member any more.
pub fn healed<'a>(
    n: u32,
    gone: &'a HashSet<String>,
) -> impl Fn(&DescribeGroupResponse) -> bool + 'a {
    move |d| converged(n, "")(d) && !d.instances.iter().any(|i| gone.contains(&i.id))
}

/// One line describing a group's status.
pub fn summary(d: Option<&DescribeGroupResponse>) -> String {
    match d {
        None => "none yet".to_string(),
        Some(d) => format!(
            "phase {:?}, desired {}, actual {}, up to date {}, healthy {}, last error {:?}",
            Phase::try_from(d.phase).unwrap_or(Phase::Unspecified),
            d.desired,
            d.actual,
            d.up_to_date,
            d.healthy,
            d.last_error
                .as_ref()
                .map(|e| e.message.as_str())
                .unwrap_or("")
        ),
    }
}
