//! One WatchInstances stream per instance plugin, shared by every group of this controller that
//! uses it: each change is routed by the instance's group tag to that group's inbox.
//!
//! With one stream per group, a plugin serving a thousand groups would wake a thousand
//! watchers for every change (each filtering it out but one); here it encodes each change once
//! and the controller routes it with one lookup.
//!
//! # Guarantees
//! - A group joins its plugin's feed before its first listing, so every change numbered after
//!   that listing reaches its inbox (earlier ones are in the listing or skipped by number).
//! - A RESYNC, or a stream that ends, reaches every group of the feed: each lists again (or
//!   polls) until the stream is back.
//! - A feed's stream is closed when its last group leaves.

use crate::manager::GroupHandle;
use crate::observer::lock;
use crate::ports::{Change, InstancePort};
use infrakit_model::{PluginName, tags};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The feeds of one controller, by instance plugin.
pub(crate) struct Feeds {
    instance: Arc<dyn InstancePort>,
    feeds: Mutex<HashMap<PluginName, Arc<Feed>>>,
}

/// The groups following one plugin, and whether its stream is open.
#[derive(Default)]
struct Feed {
    groups: Mutex<HashMap<String, Arc<GroupHandle>>>,
    /// The sequence of the newest change routed (stored after it is in its group's inbox).
    position: Arc<AtomicU64>,
    live: std::sync::atomic::AtomicBool,
    task: Mutex<Option<tokio::task::AbortHandle>>,
}

/// A group's place in a feed: it leaves when this is dropped.
pub(crate) struct Subscription {
    feeds: Arc<Feeds>,
    plugin: PluginName,
    group: String,
}

impl std::fmt::Debug for Feeds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feeds").finish_non_exhaustive()
    }
}

// === impl Feeds ===

impl Feeds {
    /// Feeds from the instance plugins behind `instance`.
    pub(crate) fn new(instance: Arc<dyn InstancePort>) -> Arc<Self> {
        Arc::new(Self {
            instance,
            feeds: Mutex::default(),
        })
    }

    /// Adds group `g` to the feed of `plugin` (opening its stream if it is the first).
    pub(crate) fn join(
        self: &Arc<Self>,
        plugin: &PluginName,
        g: &Arc<GroupHandle>,
    ) -> Subscription {
        let mut feeds = lock(&self.feeds);
        let feed = feeds.entry(plugin.clone()).or_default().clone();
        {
            let mut groups = lock(&feed.groups);
            if feed.live.load(Ordering::Acquire) {
                g.inbox().opened(Arc::clone(&feed.position));
                g.watching.store(true, Ordering::Relaxed);
            }
            groups.insert(g.id.clone(), Arc::clone(g));
        }
        let mut task = lock(&feed.task);
        if task.is_none() {
            let run = tokio::spawn(follow(
                Arc::clone(&self.instance),
                plugin.clone(),
                Arc::clone(&feed),
            ));
            *task = Some(run.abort_handle());
        }
        Subscription {
            feeds: Arc::clone(self),
            plugin: plugin.clone(),
            group: g.id.clone(),
        }
    }

    fn leave(&self, plugin: &PluginName, group: &str) {
        let mut feeds = lock(&self.feeds);
        let Some(feed) = feeds.get(plugin) else {
            return;
        };
        let empty = {
            let mut groups = lock(&feed.groups);
            if let Some(g) = groups.remove(group) {
                g.inbox().closed();
                g.watching.store(false, Ordering::Relaxed);
            }
            groups.is_empty()
        };
        if empty {
            if let Some(task) = lock(&feed.task).take() {
                task.abort();
            }
            feeds.remove(plugin);
        }
    }
}

// === impl Subscription ===

impl Subscription {
    /// The plugin followed.
    pub(crate) fn plugin(&self) -> &PluginName {
        &self.plugin
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.feeds.leave(&self.plugin, &self.group);
    }
}

// === impl Feed ===

impl Feed {
    /// Marks the stream open or closed for every group, and wakes them.
    fn set_live(&self, live: bool) {
        self.live.store(live, Ordering::Release);
        for g in lock(&self.groups).values() {
            if live {
                g.inbox().opened(Arc::clone(&self.position));
            } else {
                g.inbox().closed();
            }
            g.watching.store(live, Ordering::Relaxed);
            g.wake.notify_one();
        }
    }

    /// Hands a change to the group it concerns (a RESYNC to every group).
    fn route(&self, change: Change) {
        let groups = lock(&self.groups);
        let group = match &change {
            Change::Resync => {
                for g in groups.values() {
                    g.inbox().push(Change::Resync);
                    g.wake.notify_one();
                }
                return;
            }
            Change::Upsert { instance, .. } => instance.tags.get(tags::GROUP),
            Change::Gone { group, .. } => group.as_ref(),
        };
        if let Some(g) = group.and_then(|id| groups.get(id)) {
            g.inbox().push(change);
            g.wake.notify_one();
        }
    }
}

/// Follows the WatchInstances stream of `plugin` for the feed's groups: opened again after it
/// ends, resuming after the newest change received. A plugin that cannot watch (UNIMPLEMENTED)
/// leaves its groups to poll.
async fn follow(instance: Arc<dyn InstancePort>, plugin: PluginName, feed: Arc<Feed>) {
    use tokio_stream::StreamExt;
    let mut resume_at = 0;
    loop {
        match instance.watch(&plugin, None, resume_at).await {
            Ok(mut s) => {
                feed.set_live(true);
                while let Some(Ok(change)) = s.next().await {
                    let sequence = match &change {
                        Change::Upsert { sequence, .. } | Change::Gone { sequence, .. } => {
                            Some(*sequence)
                        }
                        Change::Resync => None,
                    };
                    feed.route(change);
                    if let Some(s) = sequence {
                        resume_at = resume_at.max(s);
                        feed.position.store(resume_at, Ordering::Release);
                    }
                }
                feed.set_live(false);
            }
            Err(st) if st.code() == tonic::Code::Unimplemented => {
                tracing::info!(plugin = %plugin, "the instance plugin cannot watch; its groups are polled");
                return;
            }
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
