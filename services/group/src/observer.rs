//! The complete observation of a group: its tagged instances from the instance plugin, with the
//! flavor's health verdict for each. A failed or timed-out listing is an error, never "no
//! instances" (that would make the planner provision duplicates).
//!
//! Health is asked at most once per health interval per instance (and at once for a new
//! instance); verdicts and first-seen times are remembered across observations.

use crate::plugins::Plugins;
use infrakit_group_core::{GroupSpec, Health, InstanceState, Observed, ObservedInstance, Time};
use infrakit_model::tags;
use infrakit_spi::flavor::v1::flavor_client::FlavorClient;
use infrakit_spi::flavor::v1::{Health as SpiHealth, HealthyRequest};
use infrakit_spi::instance::v1::{
    DescribeInstancesRequest, InstanceDescription, InstanceState as SpiState,
};
use std::collections::HashMap;
use std::time::Duration;
use tonic::transport::Channel;

/// How long a DescribeInstances may take before the observation fails, by default.
pub const DESCRIBE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a Healthy call may take before the verdict is Unknown.
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);
/// The most Healthy calls in flight at once.
pub const HEALTH_PARALLEL: usize = 64;
/// The longest a flavor's verdict is trusted without asking again.
pub const MAX_RECHECK: Duration = Duration::from_secs(3600);

/// A flavor's answer about one instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The health.
    pub health: Health,
    /// Why, in the flavor's words.
    pub reason: String,
    /// When the flavor wants to be asked again (`None`: at the health interval).
    pub recheck_after: Option<Duration>,
}

impl Verdict {
    /// The verdict when the flavor could not be asked: Unknown, asked again at the health
    /// interval.
    pub fn unknown(reason: String) -> Self {
        Self {
            health: Health::Unknown,
            reason,
            recheck_after: None,
        }
    }
}

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
pub struct Observation {
    /// The group ID (the value of every member's group tag).
    pub group: String,
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
    pub fn len(&self) -> usize {
        self.observed.instances.len()
    }

    /// Whether no member was seen.
    pub fn is_empty(&self) -> bool {
        self.observed.instances.is_empty()
    }

    /// The member at `index` as the instance plugin described it (without Properties).
    pub fn description(&self, index: usize) -> Option<InstanceDescription> {
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
    pub fn tags(&self, index: usize) -> HashMap<String, String> {
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
pub struct Observer {
    memory: HashMap<String, Memory>,
}

// === impl Observer ===

impl Observer {
    /// Lists the group's instances and their health. `health_every` is how often an instance's
    /// health is asked again; `describe_timeout` how long the listing may take.
    pub async fn observe(
        &mut self,
        spec: &GroupSpec,
        plugins: &Plugins,
        now: Time,
        health_every: Duration,
        describe_timeout: Duration,
    ) -> Result<Observation, String> {
        let listed = describe(spec, plugins, describe_timeout).await?;
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
            observed: Observed::new(instances),
            extra_tags,
        };
        let verdicts = check_health(spec, plugins, &observation, due).await;
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

    /// Records a verdict asked outside an observation (right after a provision), so the next
    /// observation does not ask again before it is due.
    pub fn prime(&mut self, id: &str, v: &Verdict, now: Time, health_every: Duration) {
        self.memory.insert(
            id.to_string(),
            Memory {
                first_seen: now,
                health: v.health,
                since: now,
                reason: v.reason.clone(),
                recheck_at: Some(recheck_at(v, now, health_every)),
            },
        );
    }

    /// How long until the next instance's health is due to be asked again, if any.
    pub fn next_recheck(&self, now: Time) -> Option<Duration> {
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

/// DescribeInstances filtered by the group tag.
async fn describe(
    spec: &GroupSpec,
    plugins: &Plugins,
    timeout: Duration,
) -> Result<Vec<InstanceDescription>, String> {
    let name = &spec.instance().plugin;
    let mut client = plugins
        .instance(name)
        .await
        .map_err(|e| format!("instance plugin {:?}: {e}", name.lookup))?;
    let mut req = tonic::Request::new(DescribeInstancesRequest {
        r#type: name.subtype_or_default().to_string(),
        tags: [(tags::GROUP.to_string(), spec.id().to_string())].into(),
        properties: false,
    });
    req.set_timeout(timeout);
    match tokio::time::timeout(timeout, client.describe_instances(req)).await {
        Ok(Ok(r)) => Ok(r.into_inner().instances),
        Ok(Err(st)) => {
            plugins.forget(name);
            Err(format!(
                "DescribeInstances on {:?} failed: {}",
                name.lookup,
                st.message()
            ))
        }
        Err(_) => {
            plugins.forget(name);
            Err(format!(
                "DescribeInstances on {:?} timed out after {timeout:?}",
                name.lookup
            ))
        }
    }
}

/// Asks the flavor about each instance, with bounded parallelism.
async fn check_health(
    spec: &GroupSpec,
    plugins: &Plugins,
    seen: &Observation,
    due: Vec<usize>,
) -> HashMap<usize, Verdict> {
    let mut out = HashMap::with_capacity(due.len());
    if due.is_empty() {
        return out;
    }
    let name = spec.flavor().plugin.clone();
    let client = match plugins.flavor(&name).await {
        Ok(c) => c,
        Err(e) => {
            let reason = format!("flavor plugin {:?}: {e}", name.lookup);
            for i in due {
                out.insert(i, Verdict::unknown(reason.clone()));
            }
            return out;
        }
    };
    let props = spec.flavor().properties.to_string().into_bytes();
    let mut set = tokio::task::JoinSet::new();
    for i in due {
        let Some(d) = seen.description(i) else {
            continue;
        };
        // A JoinSet keeps finished tasks until they are joined: join as we go, so at most
        // HEALTH_PARALLEL tasks (and their memory) exist at once.
        while set.len() >= HEALTH_PARALLEL {
            if let Some(Ok((id, v))) = set.join_next().await {
                out.insert(id, v);
            }
        }
        let mut client = client.clone();
        let props = props.clone();
        let subtype = name.subtype_or_default().to_string();
        set.spawn(async move { (i, ask(&mut client, subtype, props, d).await) });
    }
    while let Some(r) = set.join_next().await {
        if let Ok((id, v)) = r {
            out.insert(id, v);
        }
    }
    out
}

/// When a verdict is due to be asked again.
fn recheck_at(v: &Verdict, now: Time, health_every: Duration) -> Time {
    now.after(v.recheck_after.unwrap_or(health_every).min(MAX_RECHECK))
}

/// Asks the flavor about one instance; a failed or timed-out call is an Unknown verdict.
pub async fn ask(
    client: &mut FlavorClient<Channel>,
    subtype: String,
    properties: Vec<u8>,
    instance: InstanceDescription,
) -> Verdict {
    let mut req = tonic::Request::new(HealthyRequest {
        r#type: subtype,
        properties,
        instance: Some(instance),
    });
    req.set_timeout(HEALTH_TIMEOUT);
    match client.healthy(req).await {
        Ok(r) => {
            let r = r.into_inner();
            let health = match r.health() {
                SpiHealth::Healthy => Health::Healthy,
                SpiHealth::Unhealthy => Health::Unhealthy,
                SpiHealth::Unknown => Health::Unknown,
            };
            let recheck_after = r.recheck_after.and_then(|d| Duration::try_from(d).ok());
            Verdict {
                health,
                reason: r.reason,
                recheck_after,
            }
        }
        Err(st) => Verdict::unknown(format!("Healthy failed: {}", st.message())),
    }
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
