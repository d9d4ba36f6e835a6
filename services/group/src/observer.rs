//! The complete observation of a group: its tagged instances from the instance plugin, with the
//! flavor's health verdict for each. A failed or timed-out listing is an error, never "no
//! instances" (that would make the planner provision duplicates).
//!
//! Health is asked at most once per health interval per instance (and at once for a new
//! instance); verdicts and first-seen times are remembered across observations.

use crate::plugins::Plugins;
use infrakit_group_core::{GroupSpec, Health, InstanceState, Observed, ObservedInstance, Time};
use infrakit_model::tags;
use infrakit_spi::flavor::v1::{Health as SpiHealth, HealthyRequest};
use infrakit_spi::instance::v1::{
    DescribeInstancesRequest, InstanceDescription, InstanceState as SpiState,
};
use std::collections::HashMap;
use std::time::Duration;

/// How long a DescribeInstances may take before the observation fails, by default.
pub const DESCRIBE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a Healthy call may take before the verdict is Unknown.
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);
/// The most Healthy calls in flight at once.
pub const HEALTH_PARALLEL: usize = 64;
/// The longest a flavor's verdict is trusted without asking again.
pub const MAX_RECHECK: Duration = Duration::from_secs(3600);

/// A flavor's answer about one instance.
#[derive(Clone, Debug)]
struct Verdict {
    health: Health,
    reason: String,
    recheck_after: Option<Duration>,
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

/// One instance as last seen, for DescribeGroup.
#[derive(Clone, Debug)]
pub struct Seen {
    /// The planner's view.
    pub observed: ObservedInstance,
    /// The instance's tags.
    pub tags: HashMap<String, String>,
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
    ) -> Result<Vec<Seen>, String> {
        let listed = describe(spec, plugins, describe_timeout).await?;
        let due: Vec<InstanceDescription> = listed
            .iter()
            .filter(|d| {
                self.memory
                    .get(&d.id)
                    .and_then(|m| m.recheck_at)
                    .is_none_or(|t| now >= t)
            })
            .cloned()
            .collect();
        let verdicts = check_health(spec, plugins, due).await;
        let mut seen = Vec::with_capacity(listed.len());
        let mut alive = HashMap::with_capacity(listed.len());
        for d in listed {
            let mut m = self.memory.remove(&d.id).unwrap_or(Memory {
                first_seen: now,
                health: Health::Unknown,
                since: now,
                reason: String::new(),
                recheck_at: None,
            });
            if let Some(v) = verdicts.get(&d.id) {
                if v.health != m.health {
                    m.since = now;
                }
                m.health = v.health;
                m.reason.clone_from(&v.reason);
                m.recheck_at =
                    Some(now.after(v.recheck_after.unwrap_or(health_every).min(MAX_RECHECK)));
            }
            let logical_id = d
                .logical_id
                .clone()
                .or_else(|| d.tags.get(tags::LOGICAL_ID).cloned());
            let mut o = ObservedInstance::new(d.id.clone(), m.first_seen)
                .with_health(m.health, m.since)
                .with_state(state_of(d.state));
            o.health_reason.clone_from(&m.reason);
            if let Some(h) = d.tags.get(tags::CONFIG_HASH) {
                o = o.with_hash(h.clone());
            }
            if let Some(t) = d.tags.get(tags::PROVISION_TOKEN) {
                o = o.with_token(t.clone());
            }
            if let Some(l) = logical_id {
                o = o.with_logical_id(l);
            }
            alive.insert(d.id.clone(), m);
            seen.push(Seen {
                observed: o,
                tags: d.tags,
            });
        }
        self.memory = alive;
        Ok(seen)
    }
}

impl Observer {
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

/// The planner's input from what was seen.
pub fn observed(seen: &[Seen]) -> Observed {
    Observed::new(seen.iter().map(|s| s.observed.clone()).collect())
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
    due: Vec<InstanceDescription>,
) -> HashMap<String, Verdict> {
    let mut out = HashMap::with_capacity(due.len());
    if due.is_empty() {
        return out;
    }
    let name = spec.flavor().plugin.clone();
    let client = match plugins.flavor(&name).await {
        Ok(c) => c,
        Err(e) => {
            let reason = format!("flavor plugin {:?}: {e}", name.lookup);
            for d in due {
                out.insert(
                    d.id,
                    Verdict {
                        health: Health::Unknown,
                        reason: reason.clone(),
                        recheck_after: None,
                    },
                );
            }
            return out;
        }
    };
    let props = spec.flavor().properties.to_string().into_bytes();
    let mut set = tokio::task::JoinSet::new();
    for d in due {
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
        set.spawn(async move {
            let id = d.id.clone();
            let mut req = tonic::Request::new(HealthyRequest {
                r#type: subtype,
                properties: props,
                instance: Some(d),
            });
            req.set_timeout(HEALTH_TIMEOUT);
            let verdict = match client.healthy(req).await {
                Ok(r) => {
                    let r = r.into_inner();
                    let h = match r.health() {
                        SpiHealth::Healthy => Health::Healthy,
                        SpiHealth::Unhealthy => Health::Unhealthy,
                        SpiHealth::Unknown => Health::Unknown,
                    };
                    let recheck_after = r.recheck_after.and_then(|d| Duration::try_from(d).ok());
                    Verdict {
                        health: h,
                        reason: r.reason,
                        recheck_after,
                    }
                }
                Err(st) => Verdict {
                    health: Health::Unknown,
                    reason: format!("Healthy failed: {}", st.message()),
                    recheck_after: None,
                },
            };
            (id, verdict)
        });
    }
    while let Some(r) = set.join_next().await {
        if let Ok((id, v)) = r {
            out.insert(id, v);
        }
    }
    out
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
