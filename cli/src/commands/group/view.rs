//! What `ikctl group` prints for plans, group status and events: the serialisable views
//! (`-o json|yaml`) and the one-line texts shared by several verbs.

use crate::timestamp::{rfc3339, rfc3339_opt};
use infrakit_spi::group::v1::{
    DescribeGroupResponse, ErrorInfo, GroupEvent, InstanceStatus, PauseInfo, Phase, Plan,
    PlannedAction, UpdateProgress,
};
use serde::Serialize;
use std::collections::BTreeMap;

/// A plan: `{summary, create, destroy, roll, keep, spec_hash, noop, actions}`.
#[derive(Debug, Serialize)]
pub struct PlanView {
    /// One line, e.g. "Performing a rolling update on 5 instances".
    pub summary: String,
    /// Instances to create.
    pub create: u32,
    /// Instances to destroy.
    pub destroy: u32,
    /// Instances to replace.
    pub roll: u32,
    /// Instances kept.
    pub keep: u32,
    /// The config hash after the commit.
    pub spec_hash: String,
    /// True when the commit changes nothing.
    pub noop: bool,
    /// The first steps.
    pub actions: Vec<ActionView>,
}

/// One planned step: `{kind, instance_id, logical_id, reason}`.
#[derive(Debug, Serialize)]
pub struct ActionView {
    /// `provision`, `destroy`, `drain`, `label`.
    pub kind: String,
    /// The instance (`null` for a provision).
    pub instance_id: Option<String>,
    /// The logical ID (`null` for cattle).
    pub logical_id: Option<String>,
    /// Why.
    pub reason: String,
}

/// A group's status, as `describe` prints it with `-o json|yaml`.
#[derive(Debug, Serialize)]
pub struct DescribeView {
    /// The group ID.
    pub id: String,
    /// `converging`, `converged`, `updating`, `paused`, `degraded`, `failing`, `destroying`.
    pub phase: &'static str,
    /// Instances wanted.
    pub desired: u32,
    /// Instances that exist.
    pub actual: u32,
    /// Instances reported healthy.
    pub healthy: u32,
    /// Instances on the current config hash.
    pub up_to_date: u32,
    /// The current config hash.
    pub spec_hash: String,
    /// True when the phase is `converged`.
    pub converged: bool,
    /// What the controller is doing or waiting for.
    pub message: String,
    /// Who paused the group (`ikctl group pause`), since when and why; `null` when not paused.
    pub paused: Option<PauseView>,
    /// When the members were listed (RFC 3339), or `null`.
    pub observed_at: Option<String>,
    /// True when the latest listing failed: the members are shown as last seen at `observed_at`.
    pub stale: bool,
    /// The controller that owns the group, when controllers share groups through etcd, else `""`.
    pub owner: String,
    /// The owner's epoch (grows with every change of owner), else 0.
    pub epoch: u64,
    /// The members.
    pub instances: Vec<InstanceView>,
    /// The rolling update in progress, or `null`.
    pub update: Option<UpdateView>,
    /// The most recent error, or `null`.
    pub last_error: Option<ErrorView>,
    /// The most recent events, oldest first.
    pub recent_events: Vec<EventView>,
}

/// Who paused a group: `{by, since, reason}`.
#[derive(Debug, Serialize)]
pub struct PauseView {
    /// Who paused it (`user@host`).
    pub by: String,
    /// When (RFC 3339), or `null`.
    pub since: Option<String>,
    /// Why, or `null`.
    pub reason: Option<String>,
}

/// One member: `{id, logical_id, spec_hash, up_to_date, health, health_reason, state,
/// last_seen, tags}`.
#[derive(Debug, Serialize)]
pub struct InstanceView {
    /// The instance ID.
    pub id: String,
    /// The logical ID, or `null`.
    pub logical_id: Option<String>,
    /// The config hash it carries.
    pub spec_hash: String,
    /// True when it carries the group's current hash.
    pub up_to_date: bool,
    /// `healthy`, `unhealthy`, `unknown`.
    pub health: String,
    /// The flavor's reason, or `null`.
    pub health_reason: Option<String>,
    /// The provider's lifecycle state, or `null`.
    pub state: Option<String>,
    /// When its instance plugin last listed it (RFC 3339), or `null`.
    pub last_seen: Option<String>,
    /// The tags, sorted.
    pub tags: BTreeMap<String, String>,
}

/// A rolling update in progress.
#[derive(Debug, Serialize)]
pub struct UpdateView {
    /// The hash rolled to.
    pub target_hash: String,
    /// The hash rolled from, or `null`.
    pub previous_hash: Option<String>,
    /// Instances done.
    pub done: u32,
    /// Instances to roll in all.
    pub total: u32,
    /// When it must be finished (RFC 3339), or `null`.
    pub deadline: Option<String>,
    /// True for a rollback.
    pub rollback: bool,
    /// Why it is paused or halted, or `null`.
    pub halted_reason: Option<String>,
}

/// An error with its time.
#[derive(Debug, Serialize)]
pub struct ErrorView {
    /// What went wrong.
    pub message: String,
    /// When (RFC 3339), or `null`.
    pub time: Option<String>,
}

/// One event: `{sequence, time, group_id, kind, instance_id, logical_id, message, phase}`.
#[derive(Debug, Serialize)]
pub struct EventView {
    /// The plugin's event counter.
    pub sequence: u64,
    /// When (RFC 3339), or `null`.
    pub time: Option<String>,
    /// The group.
    pub group_id: String,
    /// What happened.
    pub kind: String,
    /// The instance, or `null`.
    pub instance_id: Option<String>,
    /// The logical ID, or `null`.
    pub logical_id: Option<String>,
    /// Why.
    pub message: String,
    /// The phase after the event.
    pub phase: &'static str,
}

/// The lower-case name of a phase (`unspecified` for 0 or an unknown value).
pub fn phase_name(phase: i32) -> &'static str {
    match Phase::try_from(phase) {
        Ok(Phase::Converging) => "converging",
        Ok(Phase::Converged) => "converged",
        Ok(Phase::Updating) => "updating",
        Ok(Phase::Paused) => "paused",
        Ok(Phase::Degraded) => "degraded",
        Ok(Phase::Failing) => "failing",
        Ok(Phase::Destroying) => "destroying",
        Ok(Phase::Unspecified) | Err(_) => "unspecified",
    }
}

/// The phase name with a capital, for progress lines (`Updating`).
pub fn phase_title(phase: i32) -> String {
    let name = phase_name(phase);
    let mut chars = name.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_ascii_uppercase().to_string() + chars.as_str()
    })
}

/// The first 12 characters of a hash, or `-` when empty.
pub fn short_hash(hash: &str) -> String {
    if hash.is_empty() {
        "-".to_string()
    } else {
        hash.chars().take(12).collect()
    }
}

/// The view of a plan (an absent plan is an empty one).
pub fn plan_view(plan: Option<&Plan>) -> PlanView {
    let default = Plan::default();
    let p = plan.unwrap_or(&default);
    PlanView {
        summary: p.summary.clone(),
        create: p.create,
        destroy: p.destroy,
        roll: p.roll,
        keep: p.keep,
        spec_hash: p.spec_hash.clone(),
        noop: p.noop,
        actions: p.actions.iter().map(action_view).collect(),
    }
}

fn action_view(a: &PlannedAction) -> ActionView {
    ActionView {
        kind: a.kind.clone(),
        instance_id: nonempty(&a.instance_id),
        logical_id: nonempty(&a.logical_id),
        reason: a.reason.clone(),
    }
}

/// The view of a group's status.
pub fn describe_view(d: &DescribeGroupResponse) -> DescribeView {
    DescribeView {
        id: d.id.clone(),
        phase: phase_name(d.phase),
        desired: d.desired,
        actual: d.actual,
        healthy: d.healthy,
        up_to_date: d.up_to_date,
        spec_hash: d.spec_hash.clone(),
        converged: d.converged,
        message: d.message.clone(),
        paused: d.paused.as_ref().map(pause_view),
        observed_at: rfc3339_opt(d.observed_at.as_ref()),
        stale: d.stale,
        owner: d.owner.clone(),
        epoch: d.epoch,
        instances: d.instances.iter().map(instance_view).collect(),
        update: d.update.as_ref().map(update_view),
        last_error: d.last_error.as_ref().map(error_view),
        recent_events: d.recent_events.iter().map(event_view).collect(),
    }
}

fn instance_view(i: &InstanceStatus) -> InstanceView {
    InstanceView {
        id: i.id.clone(),
        logical_id: nonempty(&i.logical_id),
        spec_hash: i.spec_hash.clone(),
        up_to_date: i.up_to_date,
        health: i.health.clone(),
        health_reason: nonempty(&i.health_reason),
        state: nonempty(&i.state),
        last_seen: rfc3339_opt(i.last_seen.as_ref()),
        tags: i.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
    }
}

fn pause_view(p: &PauseInfo) -> PauseView {
    PauseView {
        by: p.by.clone(),
        since: rfc3339_opt(p.since.as_ref()),
        reason: nonempty(&p.reason),
    }
}

/// The `paused` line: `by alice@host since <time>: <reason>`.
pub fn pause_text(p: &PauseInfo) -> String {
    let by = if p.by.is_empty() {
        "an unnamed caller"
    } else {
        &p.by
    };
    let mut s = format!("by {by}");
    if let Some(t) = &p.since {
        s.push_str(&format!(" since {}", rfc3339(t)));
    }
    if !p.reason.is_empty() {
        s.push_str(&format!(": {}", p.reason));
    }
    s
}

fn update_view(u: &UpdateProgress) -> UpdateView {
    UpdateView {
        target_hash: u.target_hash.clone(),
        previous_hash: nonempty(&u.previous_hash),
        done: u.done,
        total: u.total,
        deadline: rfc3339_opt(u.deadline.as_ref()),
        rollback: u.rollback,
        halted_reason: nonempty(&u.halted_reason),
    }
}

fn error_view(e: &ErrorInfo) -> ErrorView {
    ErrorView {
        message: e.message.clone(),
        time: rfc3339_opt(e.time.as_ref()),
    }
}

/// The view of an event.
pub fn event_view(e: &GroupEvent) -> EventView {
    EventView {
        sequence: e.sequence,
        time: rfc3339_opt(e.time.as_ref()),
        group_id: e.group_id.clone(),
        kind: e.kind.clone(),
        instance_id: nonempty(&e.instance_id),
        logical_id: nonempty(&e.logical_id),
        message: e.message.clone(),
        phase: phase_name(e.phase),
    }
}

/// An event as one line: `time  kind  instance  message` (the instance is the logical ID
/// when there is no instance ID, `-` when neither), with the group first when `with_group`.
pub fn event_line(e: &GroupEvent, with_group: bool) -> String {
    let time = e.time.as_ref().map_or_else(|| "-".to_string(), rfc3339);
    let mut cells = vec![time];
    if with_group {
        cells.push(or_dash(&e.group_id));
    }
    cells.push(or_dash(&e.kind));
    cells.push(instance_cell(&e.instance_id, &e.logical_id));
    cells.push(e.message.clone());
    cells.join("  ").trim_end().to_string()
}

/// The instance of an action or event: `i-1`, `i-1 (10.0.0.1)`, `(10.0.0.1)` or `-`.
pub fn instance_cell(instance_id: &str, logical_id: &str) -> String {
    match (instance_id.is_empty(), logical_id.is_empty()) {
        (false, false) => format!("{instance_id} ({logical_id})"),
        (false, true) => instance_id.to_string(),
        (true, false) => format!("({logical_id})"),
        (true, true) => "-".to_string(),
    }
}

/// The one-line progress of a group, e.g. `cattle: Updating 7/10 up-to-date, 9 healthy,
/// 10 actual`.
pub fn progress_line(d: &DescribeGroupResponse) -> String {
    if d.phase == Phase::Destroying as i32 {
        return format!("{}: Destroying, {} instances left", d.id, d.actual);
    }
    format!(
        "{}: {} {}/{} up-to-date, {} healthy, {} actual",
        d.id,
        phase_title(d.phase),
        d.up_to_date,
        d.desired,
        d.healthy,
        d.actual
    )
}

/// `s`, or `-` when empty.
pub fn or_dash(s: &str) -> String {
    if s.is_empty() {
        "-".to_string()
    } else {
        s.to_string()
    }
}

fn nonempty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}
