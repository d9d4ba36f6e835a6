//! The observation of a group, kept current: its tagged instances from the instance plugin,
//! with the flavor's health verdict for each.
//!
//! Like Kubernetes' list-and-watch: the members are listed (DescribeInstances, with the
//! listing's revision), then kept current from WatchInstances' changes numbered after it, so a
//! pass costs what changed, not the size of the group. They are listed again only when the
//! watch is not live, when it said RESYNC, when the plugin does not number its listings
//! (revision 0: every pass lists, as with a plugin that cannot watch), or every resync
//! interval as a safety net. That resync first asks whether anything changed since the
//! observation's revision (DescribeInstancesRequest.unless_revision), so a group at rest costs
//! nothing to resync; every [`FULL_RESYNC_EVERY`]th lists anyway.
//!
//! # Guarantees
//! - A failed or timed-out listing is an error, never "no instances" (that would make the
//!   planner provision duplicates); the last observation is kept for DescribeGroup, marked
//!   stale by the worker, and the next pass lists again.
//! - A change is applied only if numbered after everything already applied (the listing's
//!   revision or an earlier change), so a change already in a listing is not replayed.
//! - Health is asked at most once per health interval per instance (and at once for a new
//!   instance); verdicts and first-seen times are kept as long as the instance is a member.

use crate::ports::{Change, FlavorPort, InstancePort, Listing, Verdict};
use infrakit_group_core::{GroupSpec, InstanceState, Observed, ObservedInstance, Time};
use infrakit_model::tags;
use infrakit_spi::instance::v1::{InstanceDescription, InstanceState as SpiState};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

/// How long a DescribeInstances may take before the observation fails, by default.
pub(crate) const DESCRIBE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a Healthy call may take before the verdict is Unknown.
pub(crate) const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);
/// The most Healthy calls in flight at once.
const HEALTH_PARALLEL: usize = 64;
/// The longest a flavor's verdict is trusted without asking again.
const MAX_RECHECK: Duration = Duration::from_secs(3600);
/// Every this many resyncs of a watched group, the members are listed even if the plugin says
/// nothing changed: the safety net under a plugin that changed something without announcing it.
const FULL_RESYNC_EVERY: u32 = 10;

/// The observation of a group, shared by the worker (which keeps it current) and DescribeGroup,
/// so the members are held once.
pub(crate) type Shared = Arc<RwLock<Observation>>;

/// The members of a group as last observed.
#[derive(Clone, Debug, Default)]
pub(crate) struct Observation {
    /// The group ID (the value of every member's group tag).
    pub group: String,
    /// When the members were last known current.
    pub at: Time,
    /// The planner's view of every member.
    pub observed: Observed,
    /// Per member, in the same order, the tags that the planner's view does not already
    /// carry (the group, config hash and provision token tags are rebuilt from it): for
    /// cattle none, so no memory is spent on them.
    pub extra_tags: Vec<Vec<(String, String)>>,
}

// === impl Observation ===

impl Observation {
    /// How many members were seen.
    pub(crate) fn len(&self) -> usize {
        self.observed.instances.len()
    }

    /// The member at `index` as the instance plugin described it (without Properties).
    pub(crate) fn description(&self, index: usize) -> Option<InstanceDescription> {
        let o = self.observed.instances.get(index)?;
        Some(InstanceDescription {
            id: o.id.clone(),
            logical_id: o.logical_id.clone(),
            tags: self.tags(index),
            properties: Vec::new(),
            state: spi_state(o.state) as i32,
        })
    }

    /// Every tag of the member at `index`, as the instance plugin listed it.
    pub(crate) fn tags(&self, index: usize) -> HashMap<String, String> {
        let Some(o) = self.observed.instances.get(index) else {
            return HashMap::new();
        };
        let extra = self.extra_tags.get(index).map_or(&[][..], Vec::as_slice);
        let mut out: HashMap<String, String> = extra.iter().cloned().collect();
        out.insert(tags::GROUP.to_string(), self.group.clone());
        if let Some(h) = &o.hash {
            out.insert(tags::CONFIG_HASH.to_string(), h.clone());
        }
        if let Some(t) = &o.token {
            out.insert(tags::PROVISION_TOKEN.to_string(), t.clone());
        }
        out
    }
}

/// Changes pushed by the watch, waiting for the next pass; shared by the watch task (which
/// fills it) and the observer (which empties it).
#[derive(Debug, Default)]
pub(crate) struct Inbox {
    changes: Vec<Change>,
    /// The watch said changes may have been lost (or has not started): list again.
    resync: bool,
    /// A watch stream is open: without one, the members are listed on every pass.
    live: bool,
    /// While it is, the sequence of the newest change it delivered (to any group): every
    /// change of this group numbered up to it is in `changes` already.
    position: Option<Arc<AtomicU64>>,
}

// === impl Inbox ===

impl Inbox {
    /// A watch stream opened (a RESYNC, if it comes, says it did not resume where the last
    /// one ended).
    pub(crate) fn opened(&mut self, position: Arc<AtomicU64>) {
        self.live = true;
        self.position = Some(position);
    }

    /// The watch stream ended: until another is open, every pass lists.
    pub(crate) fn closed(&mut self) {
        self.live = false;
        self.position = None;
    }

    /// Records a change pushed by the watch.
    pub(crate) fn push(&mut self, change: Change) {
        if change == Change::Resync {
            self.resync = true;
            self.changes.clear();
        } else {
            self.changes.push(change);
        }
    }
}

/// What the observer keeps besides the observation.
#[derive(Clone, Debug)]
struct Memory {
    /// When to ask the flavor again; `None`: now.
    recheck_at: Option<Time>,
}

/// Keeps one group's observation current.
#[derive(Debug, Default)]
pub(crate) struct Observer {
    seen: Shared,
    /// Member ID to its position in `seen`.
    index: HashMap<String, usize>,
    /// Per member, in the same order as `seen`.
    memory: Vec<Memory>,
    /// Verdicts asked for instances not yet members (a provision that just returned): the
    /// verdict, when it was asked, and the health interval it was asked with.
    primed: HashMap<String, (Verdict, Time, Duration)>,
    /// The newest change applied (a listing's revision or a change's sequence); 0 while the
    /// plugin does not number its listings.
    revision: u64,
    /// When the members were last listed; `None`: they must be (never listed, or the last
    /// listing failed).
    listed_at: Option<Time>,
    /// Resyncs answered "unchanged" since the last full listing.
    unchanged_resyncs: u32,
}

// === impl Observer ===

impl Observer {
    /// The observation, shared.
    pub(crate) fn shared(&self) -> Shared {
        Arc::clone(&self.seen)
    }

    /// The observation, to read.
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Observation> {
        self.seen.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Observation> {
        self.seen.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The member with this ID as the instance plugin described it.
    pub(crate) fn description_of(&self, id: &str) -> Option<InstanceDescription> {
        let i = *self.index.get(id)?;
        self.read().description(i)
    }

    /// Brings the observation up to date: lists the members when needed (see the module doc),
    /// else applies the changes in `inbox`; then asks the health of the members due.
    /// `health_every` is how often an instance's health is asked again; `describe_timeout`
    /// how long a listing may take; `resync_every` how old a listing may get while changes are
    /// applied to it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn observe(
        &mut self,
        spec: &GroupSpec,
        ports: (&dyn InstancePort, &dyn FlavorPort),
        now: Time,
        health_every: Duration,
        describe_timeout: Duration,
        resync_every: Duration,
        inbox: &Mutex<Inbox>,
    ) -> Result<(), String> {
        let (changes, current, due, delivered) = {
            let mut ib = lock(inbox);
            let current = ib.live && !ib.resync && self.revision != 0 && self.listed_at.is_some();
            let due = self.listed_at.is_none_or(|t| now >= t.after(resync_every));
            ib.resync = false;
            // Read with the changes, under the same lock: once they are applied, nothing of
            // this group numbered up to it is missing.
            let delivered = ib
                .position
                .as_ref()
                .filter(|_| current)
                .map(|p| p.load(Ordering::Acquire));
            (std::mem::take(&mut ib.changes), current, due, delivered)
        };
        if current {
            self.apply(spec.id(), changes, now);
            // Exact up to what the stream delivered, changes of other groups included: a
            // group at rest among busy ones resyncs cheaply.
            if let Some(p) = delivered {
                self.revision = self.revision.max(p);
            }
            if due {
                // First ask whether anything changed at all; every so often, list anyway.
                let cheap = self.unchanged_resyncs + 1 < FULL_RESYNC_EVERY;
                let unless = if cheap { self.revision } else { 0 };
                self.relist(
                    spec,
                    ports.0,
                    unless,
                    describe_timeout,
                    Vec::new(),
                    inbox,
                    now,
                )
                .await?;
            }
        } else {
            self.relist(spec, ports.0, 0, describe_timeout, changes, inbox, now)
                .await?;
        }
        self.check_health(spec, ports.1, now, health_every).await;
        self.write().at = now;
        Ok(())
    }

    /// Lists the members (or learns that nothing changed since `unless_revision`), then
    /// applies the changes numbered after the listing: `earlier` (taken before it) and those
    /// received while it was made.
    #[allow(clippy::too_many_arguments)]
    async fn relist(
        &mut self,
        spec: &GroupSpec,
        instance: &dyn InstancePort,
        unless_revision: u64,
        describe_timeout: Duration,
        earlier: Vec<Change>,
        inbox: &Mutex<Inbox>,
        now: Time,
    ) -> Result<(), String> {
        let listing = match self
            .list(spec, instance, unless_revision, describe_timeout)
            .await
        {
            Ok(l) => l,
            Err(e) => {
                self.listed_at = None;
                return Err(e);
            }
        };
        let revision = listing.revision;
        if listing.unchanged {
            self.listed_at = Some(now);
            self.unchanged_resyncs += 1;
        } else {
            self.unchanged_resyncs = 0;
            self.install(spec.id(), listing, now);
        }
        let later = std::mem::take(&mut lock(inbox).changes);
        if revision > 0 {
            self.apply(spec.id(), earlier.into_iter().chain(later), now);
        }
        Ok(())
    }

    async fn list(
        &self,
        spec: &GroupSpec,
        instance: &dyn InstancePort,
        unless_revision: u64,
        describe_timeout: Duration,
    ) -> Result<Listing, String> {
        let name = &spec.instance().plugin;
        instance
            .describe(name, spec.id(), unless_revision, describe_timeout)
            .await
            .map_err(|st| {
                format!(
                    "DescribeInstances on {:?} failed: {}",
                    name.lookup,
                    st.message()
                )
            })
    }

    /// Replaces the members with a listing, keeping what is known of those still listed.
    fn install(&mut self, group: &str, listing: Listing, now: Time) {
        self.listed_at = Some(now);
        self.revision = listing.revision;
        let mut seen = self.seen.write().unwrap_or_else(|e| e.into_inner());
        let old_instances = std::mem::take(&mut seen.observed.instances);
        let old_memory = std::mem::take(&mut self.memory);
        let mut old: HashMap<String, (ObservedInstance, Memory)> = old_instances
            .into_iter()
            .zip(old_memory)
            .map(|(o, m)| (o.id.clone(), (o, m)))
            .collect();
        let n = listing.instances.len();
        let mut instances = Vec::with_capacity(n);
        let mut extra_tags = Vec::with_capacity(n);
        let mut memory = Vec::with_capacity(n);
        self.index.clear();
        self.index.reserve(n);
        for d in listing.instances {
            if self.index.contains_key(&d.id) {
                continue; // listed twice: the first counts
            }
            let (before, m) = match old.remove(&d.id) {
                Some((o, m)) => (Some(o), m),
                None => (None, Memory { recheck_at: None }),
            };
            let (o, extra) = member(group, &d, before, now);
            self.index.insert(d.id.clone(), instances.len());
            instances.push(o);
            extra_tags.push(extra);
            memory.push(m);
        }
        seen.group = group.to_string();
        seen.observed = Observed::new(instances);
        seen.extra_tags = extra_tags;
        drop(seen);
        self.memory = memory;
        self.take_primed(now);
    }

    /// Applies pushed changes numbered after the newest applied.
    fn apply(&mut self, group: &str, changes: impl IntoIterator<Item = Change>, now: Time) {
        let mut touched = false;
        for c in changes {
            match c {
                Change::Resync => {
                    self.listed_at = None;
                }
                Change::Upsert { sequence, instance } if sequence > self.revision => {
                    self.revision = sequence;
                    touched = true;
                    if instance.tags.get(tags::GROUP).map(String::as_str) == Some(group) {
                        self.upsert(group, &instance, now);
                    } else {
                        self.remove(&instance.id);
                    }
                }
                Change::Gone { sequence, id, .. } if sequence > self.revision => {
                    self.revision = sequence;
                    touched = true;
                    self.remove(&id);
                }
                Change::Upsert { .. } | Change::Gone { .. } => {}
            }
        }
        if touched {
            self.take_primed(now);
        }
    }

    fn upsert(&mut self, group: &str, d: &InstanceDescription, now: Time) {
        let mut seen = self.seen.write().unwrap_or_else(|e| e.into_inner());
        match self.index.get(&d.id) {
            Some(&i) => {
                let old = seen.observed.instances[i].clone();
                let (o, extra) = member(group, d, Some(old), now);
                seen.observed.instances[i] = o;
                seen.extra_tags[i] = extra;
            }
            None => {
                let (o, extra) = member(group, d, None, now);
                self.index
                    .insert(d.id.clone(), seen.observed.instances.len());
                seen.observed.instances.push(o);
                seen.extra_tags.push(extra);
                self.memory.push(Memory { recheck_at: None });
            }
        }
    }

    fn remove(&mut self, id: &str) {
        let Some(i) = self.index.remove(id) else {
            return;
        };
        let mut seen = self.seen.write().unwrap_or_else(|e| e.into_inner());
        seen.observed.instances.swap_remove(i);
        seen.extra_tags.swap_remove(i);
        self.memory.swap_remove(i);
        if let Some(moved) = seen.observed.instances.get(i) {
            self.index.insert(moved.id.clone(), i);
        }
    }

    /// Gives members the verdicts primed before they were listed.
    fn take_primed(&mut self, now: Time) {
        if self.primed.is_empty() {
            return;
        }
        let ids: Vec<String> = self
            .primed
            .keys()
            .filter(|id| self.index.contains_key(*id))
            .cloned()
            .collect();
        for id in ids {
            if let Some((v, at, every)) = self.primed.remove(&id) {
                self.set_verdict(&id, &v, at, every);
            }
        }
        // Verdicts of instances that never showed up are forgotten after a while.
        self.primed
            .retain(|_, (_, at, _)| now < at.after(Duration::from_secs(600)));
    }

    /// Asks the flavor about every member whose verdict is due, at most [`HEALTH_PARALLEL`]
    /// calls (and their descriptions) at once.
    async fn check_health(
        &mut self,
        spec: &GroupSpec,
        flavor: &dyn FlavorPort,
        now: Time,
        health_every: Duration,
    ) {
        use futures_util::stream::{self, StreamExt};
        let due: Vec<String> = {
            let seen = self.read();
            self.memory
                .iter()
                .enumerate()
                .filter(|(_, m)| m.recheck_at.is_none_or(|t| now >= t))
                .filter_map(|(i, _)| seen.observed.instances.get(i).map(|o| o.id.clone()))
                .collect()
        };
        if due.is_empty() {
            return;
        }
        let name = &spec.flavor().plugin;
        let props = spec.flavor().properties.to_string().into_bytes();
        let this = &*self;
        let asks = due.into_iter().filter_map(|id| {
            let d = this.description_of(&id)?;
            let props = props.clone();
            Some(async move { (id, flavor.healthy(name, props, d, HEALTH_TIMEOUT).await) })
        });
        let verdicts: Vec<(String, Verdict)> = stream::iter(asks)
            .buffer_unordered(HEALTH_PARALLEL)
            .collect()
            .await;
        for (id, v) in verdicts {
            self.set_verdict(&id, &v, now, health_every);
        }
    }

    /// Records a verdict asked at `at` for a member: its health (and since when, if it
    /// changed) and when to ask again (after `health_every`, unless the flavor said when).
    fn set_verdict(&mut self, id: &str, v: &Verdict, at: Time, health_every: Duration) {
        let Some(&i) = self.index.get(id) else {
            return;
        };
        let mut seen = self.seen.write().unwrap_or_else(|e| e.into_inner());
        let o = &mut seen.observed.instances[i];
        if o.health != v.health {
            o.health = v.health;
            o.health_since = at;
        }
        o.health_reason.clone_from(&v.reason);
        self.memory[i].recheck_at = Some(recheck_at(v, at, health_every));
    }

    /// Records a verdict asked outside an observation (right after a provision, or right
    /// before a heal), so the next observation uses it and does not ask again before it is due.
    pub(crate) fn prime(&mut self, id: &str, v: &Verdict, now: Time, health_every: Duration) {
        if self.index.contains_key(id) {
            self.set_verdict(id, v, now, health_every);
            return;
        }
        self.primed
            .insert(id.to_string(), (v.clone(), now, health_every));
    }

    /// How long until the next instance's health is due to be asked again, if any.
    pub(crate) fn next_recheck(&self, now: Time) -> Option<Duration> {
        self.memory
            .iter()
            .map(|m| m.recheck_at)
            .min()
            .map(|t| match t {
                Some(t) if t > now => t.since(now),
                _ => Duration::ZERO,
            })
    }
}

/// Lists a group's members and asks their health once, without keeping anything.
pub(crate) async fn observe_once(
    spec: &GroupSpec,
    ports: (&dyn InstancePort, &dyn FlavorPort),
    now: Time,
    describe_timeout: Duration,
) -> Result<Observation, String> {
    let mut observer = Observer::default();
    let not_watched = Mutex::new(Inbox::default());
    observer
        .observe(
            spec,
            ports,
            now,
            MAX_RECHECK,
            describe_timeout,
            Duration::ZERO,
            &not_watched,
        )
        .await?;
    let seen = std::mem::take(&mut *observer.write());
    Ok(seen)
}

/// The planner's view of an instance described by its plugin, keeping what `old` (the same
/// instance as observed before) knew of its health; and its other tags.
fn member(
    group: &str,
    d: &InstanceDescription,
    old: Option<ObservedInstance>,
    now: Time,
) -> (ObservedInstance, Vec<(String, String)>) {
    let mut o = match old {
        Some(mut o) => {
            o.hash = None;
            o.token = None;
            o
        }
        None => ObservedInstance::new(d.id.clone(), now),
    };
    o.state = state_of(d.state);
    let mut extra = Vec::new();
    for (k, v) in &d.tags {
        match k.as_str() {
            tags::GROUP if v == group => {}
            tags::CONFIG_HASH => o.hash = Some(v.clone()),
            tags::PROVISION_TOKEN => o.token = Some(v.clone()),
            _ => extra.push((k.clone(), v.clone())),
        }
    }
    o.logical_id = d
        .logical_id
        .clone()
        .or_else(|| d.tags.get(tags::LOGICAL_ID).cloned());
    (o, extra)
}

/// Locks `m`; a panic elsewhere while it was held leaves the value usable (every holder here
/// leaves it consistent between statements).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// When a verdict is due to be asked again.
fn recheck_at(v: &Verdict, now: Time, health_every: Duration) -> Time {
    now.after(v.recheck_after.unwrap_or(health_every).min(MAX_RECHECK))
}

fn spi_state(s: InstanceState) -> SpiState {
    match s {
        InstanceState::Unknown => SpiState::Unspecified,
        InstanceState::Pending => SpiState::Pending,
        InstanceState::Running => SpiState::Running,
        InstanceState::Terminating => SpiState::Terminating,
        InstanceState::Failed => SpiState::Failed,
    }
}

fn state_of(s: i32) -> InstanceState {
    match SpiState::try_from(s).unwrap_or(SpiState::Unspecified) {
        SpiState::Unspecified => InstanceState::Unknown,
        SpiState::Pending => InstanceState::Pending,
        SpiState::Running => InstanceState::Running,
        SpiState::Terminating => InstanceState::Terminating,
        SpiState::Failed => InstanceState::Failed,
    }
}
