//! Carries out planned actions through the plugins, with bounded parallelism, and reports each
//! outcome. A Provision whose reply is lost or times out is reported as such (not as a
//! failure): its expectation in the state covers it, and the instance is adopted by its token.

use crate::observer::{Observation, Verdict, ask};
use crate::plugins::Plugins;
use infrakit_group_core::spec::Allocation;
use infrakit_group_core::{Action, DestroyReason, Drain, GroupSpec};
use infrakit_model::tags;
use infrakit_spi::flavor::v1::{Allocation as SpiAllocation, DrainRequest, Index, PrepareRequest};
use infrakit_spi::instance::v1::{
    DestroyReason as SpiReason, DestroyRequest, InstanceDescription, InstanceSpec,
    InstanceState as SpiState, LabelRequest, ProvisionRequest,
};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tonic::Code;

/// How long one plugin call of an action may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// What became of one action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The instance was created.
    Provisioned {
        /// The provision token.
        token: String,
        /// The new instance.
        id: String,
        /// Its logical ID.
        logical_id: Option<String>,
        /// The flavor's first verdict, asked right after the provision (so a group converges
        /// without a second round of health checks once every instance exists).
        verdict: Verdict,
    },
    /// The provision failed for sure (the plugin said no).
    ProvisionFailed {
        /// The provision token.
        token: String,
        /// Why.
        error: String,
    },
    /// The provision may or may not have happened (timeout, lost connection).
    ProvisionUncertain {
        /// The provision token.
        token: String,
        /// Why.
        error: String,
    },
    /// The instance was destroyed (or was already gone).
    Destroyed {
        /// The instance.
        id: String,
        /// Why it was destroyed.
        reason: DestroyReason,
    },
    /// The drain or destroy failed.
    DestroyFailed {
        /// The instance.
        id: String,
        /// Why.
        error: String,
    },
    /// Tags were set.
    Labelled {
        /// The instance.
        id: String,
    },
    /// Labelling failed.
    LabelFailed {
        /// The instance.
        id: String,
        /// Why.
        error: String,
    },
}

/// Executes `actions` for the group `spec`, at most `parallel` at a time. Each outcome comes
/// with the reason of the action it answers.
pub async fn execute(
    spec: Arc<GroupSpec>,
    plugins: Plugins,
    actions: Vec<Action>,
    parallel: usize,
    seen: Option<&Observation>,
) -> Vec<(Outcome, String)> {
    let parallel = parallel.max(1);
    let pass = Arc::new(Pass::new(spec, plugins, &actions, seen));
    let mut set = tokio::task::JoinSet::new();
    let mut out = Vec::with_capacity(actions.len());
    for action in actions {
        // A JoinSet keeps finished tasks until they are joined: join as we go, so at most
        // `parallel` tasks (and their memory) exist at once.
        while set.len() >= parallel {
            join_one(&mut set, &mut out).await;
        }
        let pass = Arc::clone(&pass);
        set.spawn(async move {
            let reason = action.reason().to_string();
            (run(&pass, action).await, reason)
        });
    }
    while !set.is_empty() {
        join_one(&mut set, &mut out).await;
    }
    out
}

/// What every action of one pass shares, computed once: the Properties serialised, the
/// allocation, and the instances to drain as last listed (so the flavor can find them by
/// their tags).
struct Pass {
    spec: Arc<GroupSpec>,
    plugins: Plugins,
    instance_properties: Vec<u8>,
    flavor_properties: Vec<u8>,
    allocation: SpiAllocation,
    drained: HashMap<String, InstanceDescription>,
}

impl Pass {
    fn new(
        spec: Arc<GroupSpec>,
        plugins: Plugins,
        actions: &[Action],
        seen: Option<&Observation>,
    ) -> Self {
        let to_drain: HashSet<&str> = actions
            .iter()
            .filter_map(|a| match a {
                Action::Destroy { id, drain, .. } if *drain != Drain::Skip => Some(id.as_str()),
                _ => None,
            })
            .collect();
        let drained = seen
            .filter(|_| !to_drain.is_empty())
            .map(|seen| {
                seen.observed
                    .instances
                    .iter()
                    .enumerate()
                    .filter(|(_, o)| to_drain.contains(o.id.as_str()))
                    .filter_map(|(i, o)| Some((o.id.clone(), seen.description(i)?)))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            instance_properties: spec.instance().properties.to_string().into_bytes(),
            flavor_properties: spec.flavor().properties.to_string().into_bytes(),
            allocation: allocation(&spec),
            drained,
            spec,
            plugins,
        }
    }
}

async fn join_one(
    set: &mut tokio::task::JoinSet<(Outcome, String)>,
    out: &mut Vec<(Outcome, String)>,
) {
    match set.join_next().await {
        Some(Ok(o)) => out.push(o),
        Some(Err(e)) => tracing::error!(error = %e, "an action task failed"),
        None => {}
    }
}

async fn run(pass: &Pass, action: Action) -> Outcome {
    let (spec, plugins) = (&*pass.spec, &pass.plugins);
    match action {
        Action::Provision {
            token,
            logical_id,
            hash,
            sequence,
            ..
        } => provision(pass, token, logical_id, hash, sequence).await,
        Action::Destroy {
            id,
            logical_id,
            context,
            drain,
            ..
        } => destroy(pass, id, logical_id, context, drain).await,
        Action::Label { id, tags, .. } => {
            let name = &spec.instance().plugin;
            let r = async {
                let mut c = plugins.instance(name).await.map_err(|e| e.to_string())?;
                c.label(timed(LabelRequest {
                    r#type: name.subtype_or_default().to_string(),
                    id: id.clone(),
                    labels: tags.into_iter().collect(),
                }))
                .await
                .map_err(|s| s.message().to_string())
            }
            .await;
            match r {
                Ok(_) => Outcome::Labelled { id },
                Err(error) => Outcome::LabelFailed { id, error },
            }
        }
    }
}

async fn provision(
    pass: &Pass,
    token: String,
    logical_id: Option<String>,
    hash: String,
    sequence: u64,
) -> Outcome {
    let (spec, plugins) = (&*pass.spec, &pass.plugins);
    let mut group_tags: std::collections::HashMap<String, String> = [
        (tags::GROUP.to_string(), spec.id().to_string()),
        (tags::CONFIG_HASH.to_string(), hash),
        (tags::PROVISION_TOKEN.to_string(), token.clone()),
    ]
    .into();
    if let Some(l) = &logical_id {
        group_tags.insert(tags::LOGICAL_ID.to_string(), l.clone());
    }
    let draft = InstanceSpec {
        properties: pass.instance_properties.clone(),
        tags: group_tags.clone(),
        init: String::new(),
        logical_id: logical_id.clone(),
        attachments: Vec::new(),
    };
    let flavor = &spec.flavor().plugin;
    let prepared = async {
        let mut c = plugins.flavor(flavor).await.map_err(|e| e.to_string())?;
        c.prepare(timed(PrepareRequest {
            r#type: flavor.subtype_or_default().to_string(),
            properties: pass.flavor_properties.clone(),
            spec: Some(draft),
            allocation: Some(pass.allocation.clone()),
            index: Some(Index {
                group: spec.id().to_string(),
                sequence,
            }),
        }))
        .await
        .map(|r| r.into_inner().spec.unwrap_or_default())
        .map_err(|s| format!("Flavor.Prepare: {}", s.message()))
    }
    .await;
    let mut prepared = match prepared {
        Ok(s) => s,
        Err(error) => return Outcome::ProvisionFailed { token, error },
    };
    // The group's own tags always win: membership depends on them.
    prepared.tags.extend(group_tags);
    prepared.logical_id = logical_id.clone();
    let name = &spec.instance().plugin;
    let mut client = match plugins.instance(name).await {
        Ok(c) => c,
        Err(e) => {
            return Outcome::ProvisionFailed {
                token,
                error: e.to_string(),
            };
        }
    };
    let described = InstanceDescription {
        id: String::new(),
        tags: prepared.tags.clone(),
        logical_id: logical_id.clone(),
        properties: Vec::new(),
        state: SpiState::Running as i32,
    };
    match client
        .provision(timed(ProvisionRequest {
            r#type: name.subtype_or_default().to_string(),
            spec: Some(prepared),
        }))
        .await
    {
        Ok(r) => {
            let id = r.into_inner().id;
            let verdict = first_verdict(
                pass,
                InstanceDescription {
                    id: id.clone(),
                    ..described
                },
            )
            .await;
            Outcome::Provisioned {
                token,
                id,
                logical_id,
                verdict,
            }
        }
        Err(st)
            if matches!(
                st.code(),
                Code::DeadlineExceeded | Code::Unavailable | Code::Cancelled | Code::Unknown
            ) =>
        {
            plugins.forget(name);
            Outcome::ProvisionUncertain {
                token,
                error: format!("Instance.Provision: {}", st.message()),
            }
        }
        Err(st) => Outcome::ProvisionFailed {
            token,
            error: format!("Instance.Provision: {}", st.message()),
        },
    }
}

/// Asks the flavor about an instance just provisioned.
async fn first_verdict(pass: &Pass, instance: InstanceDescription) -> Verdict {
    let flavor = &pass.spec.flavor().plugin;
    match pass.plugins.flavor(flavor).await {
        Ok(mut c) => {
            ask(
                &mut c,
                flavor.subtype_or_default().to_string(),
                pass.flavor_properties.clone(),
                instance,
            )
            .await
        }
        Err(e) => Verdict::unknown(format!("flavor plugin {:?}: {e}", flavor.lookup)),
    }
}

async fn destroy(
    pass: &Pass,
    id: String,
    logical_id: Option<String>,
    reason: DestroyReason,
    drain: Drain,
) -> Outcome {
    let (spec, plugins) = (&*pass.spec, &pass.plugins);
    if drain != Drain::Skip {
        let flavor = &spec.flavor().plugin;
        let r = async {
            let mut c = plugins.flavor(flavor).await.map_err(|e| e.to_string())?;
            c.drain(timed(DrainRequest {
                r#type: flavor.subtype_or_default().to_string(),
                properties: pass.flavor_properties.clone(),
                instance: Some(pass.drained.get(&id).cloned().unwrap_or_else(|| {
                    InstanceDescription {
                        id: id.clone(),
                        logical_id: logical_id.clone(),
                        tags: HashMap::new(),
                        state: SpiState::Unspecified as i32,
                        properties: Vec::new(),
                    }
                })),
            }))
            .await
            .map_err(|s| s.message().to_string())
        }
        .await;
        if let Err(e) = r {
            if drain == Drain::BestEffort {
                tracing::warn!(%id, error = %e, context = reason.as_str(), "drain failed; destroying anyway");
            } else {
                return Outcome::DestroyFailed {
                    id,
                    error: format!("Flavor.Drain: {e}"),
                };
            }
        }
    }
    let name = &spec.instance().plugin;
    let r = async {
        let mut c = plugins
            .instance(name)
            .await
            .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        c.destroy(timed(DestroyRequest {
            r#type: name.subtype_or_default().to_string(),
            id: id.clone(),
            reason: match reason {
                DestroyReason::Terminate => SpiReason::Terminate,
                DestroyReason::RollingUpdate => SpiReason::RollingUpdate,
                DestroyReason::Heal => SpiReason::Heal,
            } as i32,
        }))
        .await
    }
    .await;
    match r {
        Ok(_) => Outcome::Destroyed { id, reason },
        Err(st) if st.code() == Code::NotFound => Outcome::Destroyed { id, reason },
        Err(st) => Outcome::DestroyFailed {
            id,
            error: format!("Instance.Destroy: {}", st.message()),
        },
    }
}

fn allocation(spec: &GroupSpec) -> SpiAllocation {
    match spec.allocation() {
        Allocation::Size(n) => SpiAllocation {
            size: *n,
            logical_ids: Vec::new(),
        },
        Allocation::LogicalIds(ids) => SpiAllocation {
            size: 0,
            logical_ids: ids.clone(),
        },
    }
}

/// The SPI allocation of a spec (for Flavor.Validate).
pub fn spi_allocation(spec: &GroupSpec) -> SpiAllocation {
    allocation(spec)
}

fn timed<T>(msg: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.set_timeout(CALL_TIMEOUT);
    r
}
