//! The complete observation of a group: its tagged instances from the instance plugin, with the
//! flavor's health verdict for each. A failed or timed-out listing is an error, never "no
//! instances" (that would make the planner provision duplicates).
//!
//! Health is asked at most once per health interval per instance (and at once for a new
//! instance); verdicts and first-seen times are remembered across observations.

use crate::ports::{FlavorPort, InstancePort, Verdict};
use infrakit_group_core::{GroupSpec, Health, InstanceState, Observed, ObservedInstance, Time};
use infrakit_model::tags;
use infrakit_spi::instance::v1::{InstanceDescription, InstanceState as SpiState};
use std::collections::HashMap;
use std::time::Duration;

/// How long a DescribeInstances may take before the observation fails, by default.
pub(crate) const DESCRIBE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a Healthy call may take before the verdict is Unknown.
pub(crate) const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);
/// The most Healthy calls in flight at once.
const HEALTH_PARALLEL: usize = 64;
/// The longest a flavor's verdict is trusted without asking again.
const MAX_RECHECK: Duration = Duration::from_secs(3600);

/// What the observer remembers about one instance.
#[derive(Clone, Debug)]
struct Memory {
    first_seen: Time,
    health: Health,
    since: Time,
    reason: String,
    /// When to ask the flavor again; `None`: now.
    recheck_at: Option<Time>,
}

/// One complete observation of a group, shared (behind an `Arc`) by the planner and
/// DescribeGroup, so the instances are held once.
#[derive(Clone, Debug, Default)]
pub(crate) struct Observation {
    /// The group ID (the value of every member's group tag).
    pub group: String,
    /// When the members were listed.
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

/// Builds observations of one group and remembers health between them.
#[derive(Debug, Default)]
pub(crate) struct Observer {
    memory: HashMap<String, Memory>,
}

// === impl Observer ===

impl Observer {
    /// Lists the group's instances and their health. `health_every` is how often an instance's
    /// health is asked again; `describe_timeout` how long the listing may take.
    pub(crate) async fn observe(
        &mut self,
        spec: &GroupSpec,
        ports: (&dyn InstancePort, &dyn FlavorPort),
        now: Time,
        health_every: Duration,
        describe_timeout: Duration,
    ) -> Result<Observation, String> {
        let name = &spec.instance().plugin;
        let listed = ports
            .0
            .describe(name, spec.id(), describe_timeout)
            .await
            .map_err(|st| {
                format!(
                    "DescribeInstances on {:?} failed: {}",
                    name.lookup,
                    st.message()
                )
            })?;
        let mut instances = Vec::with_capacity(listed.len());
        let mut extra_tags = Vec::with_capacity(listed.len());
        // The members whose health is due, by index: their descriptions are rebuilt a few at a
        // time when asked, so the listing is not held while the flavor is asked.
        let mut due = Vec::new();
        for d in listed {
            let mut o = ObservedInstance::new(d.id.clone(), now).with_state(state_of(d.state));
            let mut extra = Vec::new();
            for (k, v) in &d.tags {
                match k.as_str() {
                    tags::GROUP if v == spec.id() => {}
                    tags::CONFIG_HASH => o.hash = Some(v.clone()),
                    tags::PROVISION_TOKEN => o.token = Some(v.clone()),
                    _ => extra.push((k.clone(), v.clone())),
                }
            }
            o.logical_id = d
                .logical_id
                .clone()
                .or_else(|| d.tags.get(tags::LOGICAL_ID).cloned());
            let is_due = self
                .memory
                .get(&d.id)
                .and_then(|m| m.recheck_at)
                .is_none_or(|t| now >= t);
            if is_due {
                due.push(instances.len());
            }
            instances.push(o);
            extra_tags.push(extra);
        }
        let mut observation = Observation {
            group: spec.id().to_string(),
            at: now,
            observed: Observed::new(instances),
            extra_tags,
        };
        let verdicts = check_health(spec, ports.1, &observation, due).await;
        let mut alive = HashMap::with_capacity(observation.len());
        for (i, o) in observation.observed.instances.iter_mut().enumerate() {
            let mut m = self.memory.remove(&o.id).unwrap_or(Memory {
                first_seen: now,
                health: Health::Unknown,
                since: now,
                reason: String::new(),
                recheck_at: None,
            });
            if let Some(v) = verdicts.get(&i) {
                if v.health != m.health {
                    m.since = now;
                }
                m.health = v.health;
                m.reason.clone_from(&v.reason);
                m.recheck_at = Some(recheck_at(v, now, health_every));
            }
            o.first_seen = m.first_seen;
            o.health = m.health;
            o.health_since = m.since;
            o.health_reason.clone_from(&m.reason);
            alive.insert(o.id.clone(), m);
        }
        self.memory = alive;
        Ok(observation)
    }

    /// Records a verdict asked outside an observation (right after a provision, or right
    /// before a heal), so the next observation uses it and does not ask again before it is due.
    pub(crate) fn prime(&mut self, id: &str, v: &Verdict, now: Time, health_every: Duration) {
        let m = self.memory.entry(id.to_string()).or_insert_with(|| Memory {
            first_seen: now,
            health: v.health,
            since: now,
            reason: String::new(),
            recheck_at: None,
        });
        if m.health != v.health {
            m.health = v.health;
            m.since = now;
        }
        m.reason.clone_from(&v.reason);
        m.recheck_at = Some(recheck_at(v, now, health_every));
    }

    /// How long until the next instance's health is due to be asked again, if any.
    pub(crate) fn next_recheck(&self, now: Time) -> Option<Duration> {
        self.memory
            .values()
            .filter_map(|m| m.recheck_at)
            .min()
            .map(|t| {
                if t > now {
                    t.since(now)
                } else {
                    Duration::ZERO
                }
            })
    }
}

/// Asks the flavor about each instance, at most [`HEALTH_PARALLEL`] calls (and their
/// descriptions) at once.
async fn check_health(
    spec: &GroupSpec,
    flavor: &dyn FlavorPort,
    seen: &Observation,
    due: Vec<usize>,
) -> HashMap<usize, Verdict> {
    use futures_util::stream::{self, StreamExt};
    let name = &spec.flavor().plugin;
    let props = spec.flavor().properties.to_string().into_bytes();
    let asks = due.into_iter().filter_map(|i| {
        let d = seen.description(i)?;
        let props = props.clone();
        Some(async move { (i, flavor.healthy(name, props, d, HEALTH_TIMEOUT).await) })
    });
    stream::iter(asks)
        .buffer_unordered(HEALTH_PARALLEL)
        .collect()
        .await
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
