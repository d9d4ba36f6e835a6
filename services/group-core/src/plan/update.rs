//! The life of a rolling update: start, progress, deadline, halt, rollback, end.
//!
//! An update exists while some member is not on the committed config hash. It is recorded in
//! [`UpdateState`] so that its deadline and rollback survive a restart.
//!
//! - **Start**: when old members exist and no update targets the committed hash (a new commit
//!   supersedes any other update).
//! - **Progress**: one more new instance available, or one fewer old instance; each pushes the
//!   deadline to `now + Updating.Deadline`.
//! - **Deadline**: the update halts; old instances keep serving and the status names the
//!   instance that did not become available, and why. With `AutoRollback` (and a last good
//!   configuration that differs), the plan returns [`Plan::rollback_to`](super::Plan): the
//!   committed spec with the last good Instance and Flavor sections; the next update rolls to
//!   it with the same pacing. A rollback that misses its deadline halts; it is never rolled
//!   back.
//! - **Paused or halted**: no progress (healing goes on); a commit resumes.
//! - **End**: no old member is left.

use super::cattle::short;
use super::view::View;
use crate::spec::GroupSpec;
use crate::state::{LastGood, UpdateState};

/// The update decision of one pass.
pub(crate) struct UpdateStep {
    /// The update to persist.
    pub state: Option<UpdateState>,
    /// The update may progress in this pass.
    pub progress: bool,
    /// The spec the driver must commit instead (a rollback).
    pub rollback_to: Option<GroupSpec>,
}

/// Advances the update for this observation.
pub(crate) fn step(
    view: &View<'_>,
    current: Option<&UpdateState>,
    last_good: Option<&LastGood>,
) -> UpdateStep {
    let counts = &view.counts;
    if counts.old == 0 {
        return UpdateStep {
            state: None,
            progress: true,
            rollback_to: None,
        };
    }
    let policy = view.spec.updating();
    let mut u = match current {
        Some(u) if u.target_hash == view.target => u.clone(),
        _ => UpdateState {
            target_hash: view.target.to_string(),
            previous_hash: last_good
                .map(|g| g.hash.clone())
                .filter(|h| h != view.target),
            started_at: view.now,
            deadline_at: view.now.after(policy.deadline),
            rollback: false,
            done: counts.new_available,
            remaining: counts.old,
            paused: None,
            halted: None,
            reason: None,
        },
    };
    if u.paused.is_some() || u.halted.is_some() {
        return UpdateStep {
            state: Some(u),
            progress: false,
            rollback_to: None,
        };
    }
    if counts.new_available > u.done || counts.old < u.remaining {
        u.done = u.done.max(counts.new_available);
        u.remaining = u.remaining.min(counts.old);
        u.deadline_at = view.now.after(policy.deadline);
    }
    if view.now < u.deadline_at {
        return UpdateStep {
            state: Some(u),
            progress: true,
            rollback_to: None,
        };
    }
    let culprit = culprit(view);
    if let Some(rollback) = rollback(view, &u, last_good, &culprit) {
        return rollback;
    }
    let why_no_rollback = if u.rollback {
        "this was already a rollback"
    } else if !policy.auto_rollback {
        "AutoRollback is off"
    } else {
        "no earlier configuration was ever fully rolled out"
    };
    u.halted = Some(format!(
        "update to {} halted: {culprit}; old instances keep serving; not rolled back: {why_no_rollback}; \
         commit again to retry, or commit a fixed spec",
        short(view.target)
    ));
    UpdateStep {
        state: Some(u),
        progress: false,
        rollback_to: None,
    }
}

/// The rollback to the last good configuration, if it is allowed and possible.
fn rollback(
    view: &View<'_>,
    u: &UpdateState,
    last_good: Option<&LastGood>,
    culprit: &str,
) -> Option<UpdateStep> {
    let policy = view.spec.updating();
    let good =
        last_good.filter(|g| policy.auto_rollback && !u.rollback && g.hash != view.target)?;
    let previous = GroupSpec::from_json(&good.spec).ok()?;
    let spec = view.spec.with_config_of(&previous);
    let state = UpdateState {
        target_hash: spec.config_hash().to_string(),
        previous_hash: Some(view.target.to_string()),
        started_at: view.now,
        deadline_at: view.now.after(policy.deadline),
        rollback: true,
        done: 0,
        remaining: u32::MAX,
        paused: None,
        halted: None,
        reason: Some(format!(
            "update to {} rolled back: {culprit}",
            short(view.target)
        )),
    };
    Some(UpdateStep {
        state: Some(state),
        progress: false,
        rollback_to: Some(spec),
    })
}

/// Names the new instance that kept the update from progressing, and why.
fn culprit(view: &View<'_>) -> String {
    let deadline = infrakit_model::duration::format(view.spec.updating().deadline);
    let stuck = view
        .seen
        .iter()
        .filter(|s| s.member && s.up_to_date && !s.available)
        .min_by_key(|s| (s.inst.first_seen, s.inst.id.as_str()));
    if let Some(s) = stuck {
        let inst = s.inst;
        let name = match s.logical_id {
            Some(l) => format!("instance {} (logical ID {l:?})", inst.id),
            None => format!("instance {}", inst.id),
        };
        let reason = if inst.health_reason.is_empty() {
            String::new()
        } else {
            format!(": {}", inst.health_reason)
        };
        return format!(
            "{name} was not available within {deadline} (state {}, health {}{reason})",
            inst.state.as_str(),
            inst.health.as_str()
        );
    }
    if let Some(p) = view
        .pending
        .iter()
        .filter(|p| p.hash == view.target)
        .min_by_key(|p| p.issued_at)
    {
        return format!("provision {} was not listed within {deadline}", p.token);
    }
    format!("no instance of the new configuration became available within {deadline}")
}
