//! One planned action carried out as an operation of its own: the worker starts it and goes
//! on observing and deciding; the operation reports its [`Done`] when it ends. A slow Drain,
//! Provision or Destroy thus holds up only its own instance.
//!
//! # Guarantees
//!
//! - Every plugin call has a deadline ([`CALL_TIMEOUT`]).
//! - A member is destroyed for being unhealthy only if its flavor, asked right before, still
//!   says UNHEALTHY (instances the instance plugin reports FAILED need no verdict).
//! - A required drain that fails stops the destroy; a best-effort one is logged and the destroy
//!   goes on.
//! - A Provision whose answer is lost is reported as uncertain, never as failed: the instance
//!   may exist, and the worker sends the same token again.

use crate::ports::{Ports, Verdict};
use infrakit_group_core::spec::Allocation;
use infrakit_group_core::{Action, DestroyReason, Drain, GroupSpec, Health, Outcome};
use infrakit_model::tags;
use infrakit_spi::flavor::v1::{Allocation as SpiAllocation, Index, PrepareRequest};
use infrakit_spi::group::v1::EventKind;
use infrakit_spi::instance::v1::{
    DestroyReason as SpiReason, Fence, InstanceDescription, InstanceSpec, InstanceState as SpiState,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tonic::Code;

/// How long one plugin call of an operation may take.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// What an operation works on: at most one operation per key is in flight.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum OpKey {
    /// A provision, by token.
    Provision(String),
    /// A destroy (with its drain), by instance ID.
    Destroy(String),
    /// A label, by instance ID.
    Label(String),
}

/// One operation to start.
#[derive(Debug)]
pub(crate) struct Op {
    /// The pass that issued it.
    pub round: u64,
    /// What to do.
    pub action: Action,
    /// The instance as last listed (for Drain and the fresh health check), if it is one.
    pub listed: Option<InstanceDescription>,
    /// Ask the flavor again before destroying (a heal of an instance not reported FAILED).
    pub confirm_unhealthy: bool,
}

/// How an operation ended.
#[derive(Debug)]
pub(crate) struct Done {
    /// The pass that issued it.
    pub round: u64,
    /// What it worked on.
    pub key: OpKey,
    /// The answer, for the state.
    pub outcome: Outcome,
    /// The event to report.
    pub event: EventKind,
    /// The event's message.
    pub message: String,
    /// The logical ID concerned, if any.
    pub logical_id: Option<String>,
    /// A verdict asked during the operation: (instance ID, verdict).
    pub verdict: Option<(String, Verdict)>,
}

/// What the operations of one spec share, computed once per commit.
#[derive(Debug)]
pub(crate) struct Shared {
    pub spec: Arc<GroupSpec>,
    pub instance_properties: Vec<u8>,
    pub flavor_properties: Vec<u8>,
    allocation: SpiAllocation,
    /// The group owner's fence, stamped on every mutating call (`None` without a coordinator).
    fence: Option<Fence>,
}

// === impl Shared ===

impl Shared {
    pub(crate) fn new(spec: Arc<GroupSpec>, epoch: u64) -> Self {
        Self {
            fence: (epoch > 0).then(|| Fence {
                group: spec.id().to_string(),
                epoch,
            }),
            instance_properties: spec.instance().properties.to_string().into_bytes(),
            flavor_properties: spec.flavor().properties.to_string().into_bytes(),
            allocation: spi_allocation(&spec),
            spec,
        }
    }
}

// === impl Op ===

impl Op {
    /// The key this operation holds while in flight.
    pub(crate) fn key(&self) -> OpKey {
        key_of(&self.action)
    }
}

/// The key an action would hold.
pub(crate) fn key_of(action: &Action) -> OpKey {
    match action {
        Action::Provision { token, .. } => OpKey::Provision(token.clone()),
        Action::Destroy { id, .. } => OpKey::Destroy(id.clone()),
        Action::Label { id, .. } => OpKey::Label(id.clone()),
    }
}

/// What a call refused by [`if_may_act`] answers.
const DEPOSED: &str = "this controller may not act now: its claim on the group may have lapsed (etcd lease not renewed in time); the group's owner carries on";

/// Runs a mutating plugin call only while this controller may act (see
/// [`crate::ports::StorePort::may_act`]); the call is not sent otherwise.
async fn if_may_act<T>(
    ports: &Ports,
    call: impl std::future::Future<Output = Result<T, tonic::Status>>,
) -> Result<T, tonic::Status> {
    if !ports.store.may_act() {
        return Err(tonic::Status::failed_precondition(DEPOSED));
    }
    call.await
}

/// Carries out one operation.
pub(crate) async fn run(ports: Ports, shared: Arc<Shared>, op: Op) -> Done {
    let key = op.key();
    let round = op.round;
    let reason = op.action.reason().to_string();
    let logical_id = op.action.logical_id().map(str::to_string);
    let (outcome, event, message, verdict) = match op.action {
        Action::Provision {
            token,
            logical_id,
            hash,
            sequence,
            ..
        } => provision(&ports, &shared, token, logical_id, hash, sequence, reason).await,
        Action::Destroy {
            id,
            logical_id,
            context,
            drain,
            ..
        } => {
            let listed = op.listed.unwrap_or_else(|| InstanceDescription {
                id: id.clone(),
                logical_id,
                tags: HashMap::new(),
                state: SpiState::Unspecified as i32,
                properties: Vec::new(),
            });
            let d = Destroy {
                id,
                context,
                drain,
                reason,
                confirm: op.confirm_unhealthy,
            };
            destroy(&ports, &shared, listed, d).await
        }
        Action::Label { id, tags, .. } => {
            let name = &shared.spec.instance().plugin;
            let labels = tags.into_iter().collect();
            let call =
                ports
                    .instance
                    .label(name, id.clone(), labels, shared.fence.clone(), CALL_TIMEOUT);
            match if_may_act(&ports, call).await {
                Ok(()) => (Outcome::Labelled { id }, EventKind::Labelled, reason, None),
                Err(st) => {
                    let error = format!("Instance.Label: {}", st.message());
                    let message = format!("label failed: {error}");
                    (
                        Outcome::LabelFailed { id, error },
                        EventKind::Error,
                        message,
                        None,
                    )
                }
            }
        }
    };
    Done {
        round,
        key,
        outcome,
        event,
        message,
        logical_id,
        verdict,
    }
}

type Ended = (Outcome, EventKind, String, Option<(String, Verdict)>);

async fn provision(
    ports: &Ports,
    shared: &Shared,
    token: String,
    logical_id: Option<String>,
    hash: String,
    sequence: u64,
    reason: String,
) -> Ended {
    let spec = &*shared.spec;
    let mut group_tags: HashMap<String, String> = [
        (tags::GROUP.to_string(), spec.id().to_string()),
        (tags::CONFIG_HASH.to_string(), hash),
        (tags::PROVISION_TOKEN.to_string(), token.clone()),
    ]
    .into();
    if let Some(l) = &logical_id {
        group_tags.insert(tags::LOGICAL_ID.to_string(), l.clone());
    }
    let draft = InstanceSpec {
        properties: shared.instance_properties.clone(),
        tags: group_tags.clone(),
        init: String::new(),
        logical_id: logical_id.clone(),
        attachments: Vec::new(),
    };
    let flavor = &spec.flavor().plugin;
    let request = PrepareRequest {
        r#type: flavor.subtype_or_default().to_string(),
        properties: shared.flavor_properties.clone(),
        spec: Some(draft),
        allocation: Some(shared.allocation.clone()),
        index: Some(Index {
            group: spec.id().to_string(),
            sequence,
        }),
    };
    let failed = |token: String, error: String| -> Ended {
        let message = format!("provision failed: {error}");
        (
            Outcome::ProvisionFailed { token, error },
            EventKind::Error,
            message,
            None,
        )
    };
    let mut prepared = match ports.flavor.prepare(flavor, request, CALL_TIMEOUT).await {
        Ok(s) => s,
        Err(st) => return failed(token, format!("Flavor.Prepare: {}", st.message())),
    };
    // The group's own tags always win: membership depends on them.
    prepared.tags.extend(group_tags);
    prepared.logical_id = logical_id.clone();
    let described_tags = prepared.tags.clone();
    let name = &spec.instance().plugin;
    let call = ports
        .instance
        .provision(name, prepared, shared.fence.clone(), CALL_TIMEOUT);
    match if_may_act(ports, call).await {
        Ok(id) => {
            // Ask at once, so a converging group needs no second round of health checks.
            let instance = InstanceDescription {
                id: id.clone(),
                tags: described_tags,
                logical_id,
                properties: Vec::new(),
                state: SpiState::Running as i32,
            };
            let verdict = ports
                .flavor
                .healthy(
                    flavor,
                    shared.flavor_properties.clone(),
                    instance,
                    crate::observer::HEALTH_TIMEOUT,
                )
                .await;
            (
                Outcome::Provisioned {
                    token,
                    id: id.clone(),
                },
                EventKind::Provisioned,
                reason,
                Some((id, verdict)),
            )
        }
        Err(st) if uncertain(st.code()) => {
            let error = format!("Instance.Provision: {}", st.message());
            let message = format!(
                "provision {token} may or may not have happened; sending it again with the same token: {error}"
            );
            (
                Outcome::ProvisionUncertain { token, error },
                EventKind::Warning,
                message,
                None,
            )
        }
        Err(st) => failed(token, format!("Instance.Provision: {}", st.message())),
    }
}

/// Codes after which a call may or may not have taken effect.
fn uncertain(code: Code) -> bool {
    matches!(
        code,
        Code::DeadlineExceeded | Code::Unavailable | Code::Cancelled | Code::Unknown
    )
}

struct Destroy {
    id: String,
    context: DestroyReason,
    drain: Drain,
    reason: String,
    confirm: bool,
}

async fn destroy(ports: &Ports, shared: &Shared, listed: InstanceDescription, d: Destroy) -> Ended {
    let spec = &*shared.spec;
    let flavor = &spec.flavor().plugin;
    let id = d.id;
    let mut verdict = None;
    if d.confirm {
        let v = ports
            .flavor
            .healthy(
                flavor,
                shared.flavor_properties.clone(),
                listed.clone(),
                crate::observer::HEALTH_TIMEOUT,
            )
            .await;
        if v.health != Health::Unhealthy {
            let message = format!(
                "kept: asked again before replacing it, the flavor said {}{}",
                v.health.as_str(),
                if v.reason.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", v.reason)
                }
            );
            return (
                Outcome::HealCancelled { id: id.clone() },
                EventKind::HealCancelled,
                message,
                Some((id, v)),
            );
        }
        verdict = Some((id.clone(), v));
    }
    if d.drain != Drain::Skip {
        let call = ports.flavor.drain(
            flavor,
            shared.flavor_properties.clone(),
            listed,
            shared.fence.clone(),
            CALL_TIMEOUT,
        );
        let r = if_may_act(ports, call).await;
        if let Err(st) = r {
            let error = format!("Flavor.Drain: {}", st.message());
            if d.drain == Drain::BestEffort {
                tracing::warn!(%id, error = %error, context = d.context.as_str(), "drain failed; destroying anyway");
            } else {
                let message = format!(
                    "drain failed, so the instance was not destroyed; retrying after the backoff: {error}"
                );
                return (
                    Outcome::DestroyFailed { id, error },
                    EventKind::DrainFailed,
                    message,
                    verdict,
                );
            }
        }
    }
    let name = &spec.instance().plugin;
    let reason = match d.context {
        DestroyReason::Terminate => SpiReason::Terminate,
        DestroyReason::RollingUpdate => SpiReason::RollingUpdate,
        DestroyReason::Heal => SpiReason::Heal,
    };
    let call = ports
        .instance
        .destroy(name, id.clone(), reason, shared.fence.clone(), CALL_TIMEOUT);
    match if_may_act(ports, call).await {
        Ok(()) => destroyed(id, d.context, &d.reason),
        Err(st) if st.code() == Code::NotFound => destroyed(id, d.context, &d.reason),
        Err(st) => {
            let error = format!("Instance.Destroy: {}", st.message());
            let message = format!("destroy failed: {error}");
            (
                Outcome::DestroyFailed { id, error },
                EventKind::Error,
                message,
                None,
            )
        }
    }
}

fn destroyed(id: String, context: DestroyReason, why: &str) -> Ended {
    (
        Outcome::Destroyed { id },
        EventKind::Destroyed,
        format!("destroyed ({}): {why}", context.as_str()),
        None,
    )
}

/// The SPI allocation of a spec (for Flavor.Validate and Prepare).
pub(crate) fn spi_allocation(spec: &GroupSpec) -> SpiAllocation {
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
