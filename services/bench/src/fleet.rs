//! Waiting for many groups of one controller at once, on a single Watch of every group.
//!
//! The same method as [`crate::wait::Waiter`], for a set of groups: a group is checked with
//! DescribeGroup when a `phase` event says it is Converged, and the time reported for it is when
//! that event arrived; the wait is over when every group holds. One stream serves all groups,
//! so 1,000 groups cost the controller one watcher, not 1,000. Should the stream end (a watcher
//! that falls behind is dropped), it is opened again and every pending group checked at once.
//! The safety net checks every pending group when no event has come for a second, and at least
//! every ten seconds.

use crate::wait::{SAFETY_CHECK, summary};
use anyhow::{Context, bail};
use infrakit_spi::group::v1::group_client::GroupClient;
use infrakit_spi::group::v1::{
    DescribeGroupRequest, DescribeGroupResponse, GroupEvent, Phase, WatchRequest,
};
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};
use tonic::Streaming;
use tonic::transport::Channel;

/// Safety checks at most this many ticks apart, even while events keep coming.
const FORCED_CHECK_TICKS: u32 = 10;

/// A subscription to the events of every group, to wait on.
#[derive(Debug)]
pub struct Fleet {
    client: GroupClient<Channel>,
    stream: Option<Streaming<GroupEvent>>,
    /// How many times the stream had to be opened again.
    pub resubscribed: u32,
}

/// The end of a wait.
#[derive(Debug, Default)]
pub struct Done {
    /// When the last group was first seen to hold.
    pub at: Option<Instant>,
    /// The member instance IDs of each group waited for, as last described.
    pub members: HashMap<String, Vec<String>>,
}

// === impl Fleet ===

impl Fleet {
    /// Subscribes to the events of every group.
    pub async fn subscribe(client: GroupClient<Channel>) -> anyhow::Result<Self> {
        let mut f = Self {
            client,
            stream: None,
            resubscribed: 0,
        };
        f.open().await?;
        Ok(f)
    }

    async fn open(&mut self) -> anyhow::Result<()> {
        let s = self
            .client
            .watch(WatchRequest {
                id: String::new(),
                replay: false,
            })
            .await
            .context("Watch of every group failed")?
            .into_inner();
        self.stream = Some(s);
        Ok(())
    }

    /// DescribeGroup of group `id`.
    pub async fn describe(&mut self, id: &str) -> anyhow::Result<DescribeGroupResponse> {
        Ok(self
            .client
            .describe_group(DescribeGroupRequest { id: id.to_string() })
            .await
            .with_context(|| format!("DescribeGroup of {id} failed"))?
            .into_inner())
    }

    /// Waits until `check` holds for the DescribeGroup of every group in `ids`.
    pub async fn until_all(
        &mut self,
        ids: &[String],
        check: impl Fn(&DescribeGroupResponse) -> bool,
        patience: Duration,
    ) -> anyhow::Result<Done> {
        let deadline = tokio::time::Instant::now() + patience;
        let mut tick = tokio::time::interval(SAFETY_CHECK);
        tick.tick().await; // the first tick is immediate
        let mut pending: BTreeSet<String> = ids.iter().cloned().collect();
        let mut done = Done::default();
        let (mut quiet, mut ticks) = (true, 0u32);
        while !pending.is_empty() {
            let event = async {
                match self.stream.as_mut() {
                    Some(s) => s.message().await,
                    None => std::future::pending().await,
                }
            };
            let to_check: Vec<String> = tokio::select! {
                ev = event => match ev {
                    Ok(Some(ev)) => {
                        quiet = false;
                        let converged = ev.kind == "phase" && ev.phase == Phase::Converged as i32;
                        if converged && pending.contains(&ev.group_id) {
                            vec![ev.group_id]
                        } else {
                            Vec::new()
                        }
                    }
                    Ok(None) | Err(_) => {
                        self.stream = None;
                        self.resubscribed += 1;
                        self.open().await?;
                        pending.iter().cloned().collect()
                    }
                },
                _ = tick.tick() => {
                    ticks += 1;
                    let due = quiet || ticks.is_multiple_of(FORCED_CHECK_TICKS);
                    quiet = true;
                    if due { pending.iter().cloned().collect() } else { Vec::new() }
                }
                () = tokio::time::sleep_until(deadline) => {
                    let first = pending.first().cloned().unwrap_or_default();
                    let last = self.describe(&first).await.ok();
                    bail!(
                        "timed out after {patience:?} with {} of {} groups pending; {first}: {}",
                        pending.len(),
                        ids.len(),
                        summary(last.as_ref())
                    );
                }
            };
            for id in to_check {
                let at = Instant::now();
                let d = self.describe(&id).await?;
                if check(&d) {
                    pending.remove(&id);
                    done.at = Some(at);
                    done.members
                        .insert(id, d.instances.into_iter().map(|i| i.id).collect());
                }
            }
        }
        Ok(done)
    }
}
