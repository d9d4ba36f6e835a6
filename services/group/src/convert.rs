//! Planner types to protobuf messages.

use crate::observer::Observation;
use infrakit_group_core::plan::UpdateProgress as CoreProgress;
use infrakit_group_core::{
    Action, CommitPlan, Health, InstanceState, Phase as CorePhase, Status, Time,
};
use infrakit_spi::group::v1::{
    ErrorInfo, InstanceStatus, Phase, Plan, PlannedAction, UpdateProgress,
};

/// The protobuf phase of a planner phase.
pub(crate) fn phase(p: CorePhase) -> Phase {
    match p {
        CorePhase::Converging => Phase::Converging,
        CorePhase::Converged => Phase::Converged,
        CorePhase::Updating => Phase::Updating,
        CorePhase::Paused => Phase::Paused,
        CorePhase::Degraded => Phase::Degraded,
        CorePhase::Failing => Phase::Failing,
        CorePhase::Destroying => Phase::Destroying,
    }
}

/// A planner time as a protobuf timestamp.
pub(crate) fn timestamp(t: Time) -> prost_types::Timestamp {
    let ms = t.as_millis();
    prost_types::Timestamp {
        seconds: i64::try_from(ms / 1000).unwrap_or(i64::MAX),
        nanos: i32::try_from((ms % 1000) * 1_000_000).unwrap_or(0),
    }
}

/// The plan message of a commit.
pub(crate) fn plan(p: &CommitPlan) -> Plan {
    Plan {
        summary: p.summary.clone(),
        create: p.create,
        destroy: p.destroy,
        roll: p.roll,
        keep: p.keep,
        spec_hash: p.spec_hash.clone(),
        noop: p.noop,
        actions: p.first_actions.iter().map(planned).collect(),
    }
}

/// One planned action.
pub(crate) fn planned(a: &Action) -> PlannedAction {
    PlannedAction {
        kind: a.kind().to_string(),
        instance_id: a.instance_id().unwrap_or_default().to_string(),
        logical_id: a.logical_id().unwrap_or_default().to_string(),
        reason: a.reason().to_string(),
    }
}

/// The members as DescribeGroup shows them.
pub(crate) fn instances(seen: &Observation, current_hash: &str) -> Vec<InstanceStatus> {
    let members = &seen.observed.instances;
    // Sorted by (logical ID, ID) as positions first: moving positions is cheap, moving the
    // descriptions (hundreds of bytes each) through a sort of 100,000 is not.
    let mut order: Vec<usize> = (0..members.len()).collect();
    order.sort_unstable_by(|&a, &b| sort_key(&members[a]).cmp(&sort_key(&members[b])));
    order
        .into_iter()
        .map(|i| (i, &members[i]))
        .map(|(i, o)| {
            let hash = o.hash.clone().unwrap_or_default();
            InstanceStatus {
                id: o.id.clone(),
                logical_id: o.logical_id.clone().unwrap_or_default(),
                up_to_date: hash == current_hash,
                spec_hash: hash,
                health: health(o.health).to_string(),
                health_reason: o.health_reason.clone(),
                tags: seen.tags(i),
                state: match o.state {
                    InstanceState::Unknown => "",
                    other => other.as_str(),
                }
                .to_string(),
                last_seen: Some(timestamp(seen.at)),
            }
        })
        .collect()
}

/// Members are shown by logical ID (empty for cattle), then ID.
fn sort_key(o: &infrakit_group_core::ObservedInstance) -> (&str, &str) {
    (o.logical_id.as_deref().unwrap_or_default(), o.id.as_str())
}

fn health(h: Health) -> &'static str {
    match h {
        Health::Healthy => "healthy",
        Health::Unhealthy => "unhealthy",
        Health::Unknown => "unknown",
    }
}

/// The last error of a status.
pub(crate) fn last_error(s: &Status) -> Option<ErrorInfo> {
    s.last_error.as_ref().map(|e| ErrorInfo {
        message: e.message.clone(),
        time: Some(timestamp(e.at)),
    })
}

/// The update progress of a status.
pub(crate) fn update(u: &CoreProgress) -> UpdateProgress {
    UpdateProgress {
        target_hash: u.target_hash.clone(),
        previous_hash: u.previous_hash.clone().unwrap_or_default(),
        done: u.done,
        total: u.total,
        deadline: Some(timestamp(u.deadline_at)),
        rollback: u.rollback,
        halted_reason: u.halted_reason.clone().unwrap_or_default(),
    }
}
