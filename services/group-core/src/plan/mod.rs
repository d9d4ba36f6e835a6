//! The heart of the controller: one pure function from (spec, observation, memory, clock) to
//! the actions to take now, the group's status, and the memory to persist.
//!
//! [`plan`] is level-triggered and reason-blind: it never learns why it was called (a commit, a
//! timer, a health change, a restart), only what is. Calling it again with the same inputs
//! gives the same plan; calling it with the observation that results from its actions gives no
//! further action once the group has converged.
//!
//! # What the driver must do
//!
//! 1. Build a complete [`Observed`] (or call [`plan_degraded`] when it cannot).
//! 2. Call [`plan`]; if [`Plan::rollback_to`] is set, make that the committed spec.
//! 3. Persist [`Plan::state`] (with the spec, atomically) **before** executing the actions, so
//!    that a crash after a Provision still finds its expectation and adopts the instance.
//! 4. Execute the actions (bounded parallelism is fine; destroys drain first when asked).
//!    Report every answer with [`GroupState::apply`] (one round per pass: the pass's `now` in
//!    milliseconds is a good round ID) and persist again. A timeout or a lost reply is *not*
//!    a failure: [`crate::Outcome::ProvisionUncertain`], the expectation covers it.
//! 5. Plan again after the actions, on any change, and after [`Plan::requeue_after`]. When a
//!    plan clears the last error, [`crate::state::recovered`] gives its text for an event.

mod action;
mod cattle;
mod degraded;
mod draft;
mod heal;
mod pause;
mod pets;
mod status;
mod tally;
mod update;
mod victims;
mod view;

#[cfg(test)]
mod tests;

pub use action::{Action, DestroyReason, Drain};
pub use degraded::{degraded_retry, plan_degraded};
pub use status::{Phase, Status, UpdateProgress};
pub use view::BOOTSTRAP_HASH;

pub(crate) use tally::tally;

use crate::observe::{Health, Observed};
use crate::spec::GroupSpec;
use crate::state::{ErrorSource, GroupState, LastGood, RemediationRecord};
use crate::time::Time;
use cattle::{Rolling, short};
use draft::Draft;
use heal::Healing;
use std::time::Duration;
use view::View;

/// What to do now, and what to remember.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The actions to execute now, each with its reason. Labels come first, then destroys and
    /// provisions in decision order; they are independent and may run in parallel.
    pub actions: Vec<Action>,
    /// The group's status.
    pub status: Status,
    /// The state to persist before executing the actions.
    pub state: GroupState,
    /// Plan again after this long even if nothing changes (a grace period ends, a deadline
    /// passes, a backoff expires). `None`: nothing is due; plan again on a change.
    pub requeue_after: Option<Duration>,
    /// A rollback: the driver must commit this spec (the committed one with the last good
    /// Instance and Flavor sections) together with `state`, then plan again at once. Set only
    /// when an update with `AutoRollback` missed its deadline; `actions` is empty then.
    pub rollback_to: Option<GroupSpec>,
}

/// Plans the next step for a group.
///
/// # Guarantees
///
/// - **Bounded size.** A plan provisions only while the instances that exist (listed ones,
///   those being destroyed included until they are gone) plus the provisions not yet listed
///   stay within `desired + MaxSurge`; without a rolling update, members stay within
///   `desired`. Expectations make this hold when the listing lags behind a Provision or its
///   reply is lost, and counting instances being destroyed makes it hold when a destroy fails.
/// - **Bounded unavailability.** The destroys of a plan never take the number of available
///   instances below `desired - MaxUnavailable`, nor below what it already was; healing and
///   scale-down destroy unavailable instances first.
/// - **Idle when converged.** A group whose members are all present, up to date and
///   available, with no expectation outstanding, gets no action.
/// - **Membership.** Only instances in `observed` (the group's tagged instances) are ever
///   destroyed or labelled; no instance is destroyed twice while its destroy is expected.
/// - **Backoff.** While a reported failure's backoff runs, no action is planned. The
///   expectations a pass gives up count as one failure.
/// - **Pause.** While the group is paused ([`GroupState::pause`]) no action at all is planned
///   (no provision, destroy or label, healing included) and no update decision is made (no
///   progress, halt or rollback); expectations are matched as usual. The time spent paused is
///   added to the rolling update's deadline by the first plan after the resume.
/// - **Errors clear on recovery.** An observation error clears at the next plan (this one
///   observed the group); an action error clears when an expectation is fulfilled or the group
///   converges.
///
/// # Assumptions
///
/// `observed` is complete (see [`crate::observe`]) and `now` does not go backwards by more
/// than clock jitter.
pub fn plan(spec: &GroupSpec, observed: &Observed, state: &GroupState, now: Time) -> Plan {
    let view = View::build(spec, observed, state, now);
    let mut next = carry_over(state, &view);
    let mut draft = Draft::new(&view);
    draft.destroying = state.destroying;
    let backoff_until = next.failures.next_attempt_at.filter(|t| *t > now);
    let mut healing = Healing::default();
    let mut progressing = false;
    if state.paused.is_some() {
        // Nothing acts and nothing is decided; the update keeps its deadline for the resume.
    } else if state.destroying {
        next.resumed = None;
        if backoff_until.is_none() {
            for i in (0..view.seen.len()).filter(|&i| !view.seen[i].leaving) {
                draft.destroy(
                    &view,
                    i,
                    DestroyReason::Terminate,
                    "destroying the group".to_string(),
                );
            }
        }
    } else {
        next.resumed = None;
        let current = pause::update_after_resume(state, now);
        let step = update::step(&view, current.as_ref(), state.last_good.as_ref());
        next.update = step.state;
        if let Some(spec) = step.rollback_to {
            let mut plan = finish(&view, next, draft, &healing, false, backoff_until);
            plan.status.message = next_update_reason(&plan.state);
            plan.requeue_after = Some(Duration::ZERO);
            plan.rollback_to = Some(spec);
            return plan;
        }
        let rolling = match (view.counts.old, step.progress) {
            (0, _) => Rolling::Idle,
            (_, true) => Rolling::Progress,
            (_, false) => Rolling::Held,
        };
        progressing = rolling == Rolling::Progress;
        if backoff_until.is_none() {
            draft.actions.extend(view.labels.iter().cloned());
            healing = heal::heal(&view, &mut next.remediation, &mut draft);
            match view.wanted {
                Some(_) => pets::decide(&view, &mut draft, rolling),
                None => cattle::decide(&view, &mut draft, rolling),
            }
        }
    }
    finish(&view, next, draft, &healing, progressing, backoff_until)
}

// === impl Plan ===

impl Plan {
    /// True when a group being destroyed is empty: nothing listed, nothing expected. The
    /// driver may then forget the group.
    pub fn destroy_finished(&self) -> bool {
        let s = &self.status;
        s.phase == Phase::Destroying && s.actual == 0 && s.leaving == 0 && s.pending == 0
    }
}

/// The state carried into the next pass: expectations matched, failures updated.
fn carry_over(state: &GroupState, view: &View<'_>) -> GroupState {
    let mut next = GroupState {
        update: state.update.clone(),
        pending: view
            .pending
            .iter()
            .map(|p| (*p).clone())
            .chain(view.relabelling.iter().cloned())
            .collect(),
        leaving: view.leaving.clone(),
        failures: state.failures.clone(),
        remediation: state.remediation.clone(),
        destroying: state.destroying,
        sequence: view.max_sequence,
        last_good: state.last_good.clone(),
        removal_requested: Vec::new(),
        paused: state.paused.clone(),
        resumed: state.resumed.clone(),
    };
    if !state.removal_requested.is_empty() {
        let listed: std::collections::HashSet<&str> =
            view.seen.iter().map(|s| s.inst.id.as_str()).collect();
        next.removal_requested = state
            .removal_requested
            .iter()
            .filter(|id| listed.contains(id.as_str()))
            .cloned()
            .collect();
    }
    if next.failures.source == ErrorSource::Observation {
        next.clear_error(); // this plan observed the group
    }
    if view.fulfilled {
        next.end_backoff();
        next.clear_error();
    }
    if view.counts.available >= view.spec.desired() {
        // Every member is available: no replacement is in flight, and a short circuit ends.
        next.remediation.replaced = 0;
        next.remediation.short_circuit = None;
    }
    if let Some(first) = view.expired.first() {
        let message = match view.expired.len() {
            1 => first.clone(),
            n => format!("{first} (and {} more expectations given up)", n - 1),
        };
        let backoff = view.spec.remediation().backoff;
        next.record_failure_in_round(message, view.now.as_millis(), view.now, &backoff);
    }
    next
}

/// Records the draft's expectations and computes the status and the requeue delay.
fn finish(
    view: &View<'_>,
    mut next: GroupState,
    mut draft: Draft,
    healing: &Healing,
    progressing: bool,
    backoff_until: Option<Time>,
) -> Plan {
    next.sequence = draft.sequence;
    next.pending.append(&mut draft.provisions);
    next.leaving.append(&mut draft.destroys);
    let desired = if next.destroying {
        0
    } else {
        view.spec.desired()
    };
    let c = &view.counts;
    // Only a pass free to act can tell: in a backoff or a pause, a group of pets may count
    // right with a duplicate and a missing logical ID.
    let converged = !next.destroying
        && backoff_until.is_none()
        && next.paused.is_none()
        && draft.actions.is_empty()
        && c.members == desired
        && c.total == desired
        && c.available == desired
        && c.old == 0
        && next.pending.is_empty()
        && next.leaving.is_empty();
    if converged {
        next.end_backoff();
        next.clear_error();
        next.remediation = RemediationRecord::default();
        if next
            .last_good
            .as_ref()
            .is_none_or(|g| g.hash != view.target)
        {
            next.last_good = Some(LastGood {
                hash: view.target.to_string(),
                spec: view.spec.to_json(),
            });
        }
    }
    let phase = phase(&next, healing, converged, backoff_until);
    let message = message(view, &next, &draft, healing, phase, backoff_until);
    let status = counts_status(view, &next, phase, desired, message);
    let deadline = next
        .update
        .as_ref()
        .filter(|_| progressing)
        .map(|u| u.deadline_at);
    let backoff_until = backoff_until.filter(|_| next.paused.is_none());
    let wake = [view.next_event, backoff_until, healing.wake_at, deadline];
    let requeue_after = wake
        .into_iter()
        .flatten()
        .filter(|t| *t > view.now)
        .min()
        .map(|t| t.since(view.now));
    Plan {
        actions: draft.actions,
        status,
        state: next,
        requeue_after,
        rollback_to: None,
    }
}

fn phase(
    next: &GroupState,
    healing: &Healing,
    converged: bool,
    backoff_until: Option<Time>,
) -> Phase {
    if next.paused.is_some() {
        Phase::Paused
    } else if next.destroying {
        Phase::Destroying
    } else if backoff_until.is_some() || healing.failing {
        Phase::Failing
    } else if let Some(u) = &next.update {
        if u.paused.is_some() || u.halted.is_some() {
            Phase::Paused
        } else {
            Phase::Updating
        }
    } else if converged {
        Phase::Converged
    } else {
        Phase::Converging
    }
}

fn message(
    view: &View<'_>,
    next: &GroupState,
    draft: &Draft,
    healing: &Healing,
    phase: Phase,
    backoff_until: Option<Time>,
) -> String {
    let desired = view.spec.desired();
    let c = &view.counts;
    match phase {
        Phase::Destroying => format!("destroying the group: {} instances left", c.total),
        Phase::Failing => match (backoff_until, &next.failures.last_error) {
            (Some(t), Some(e)) => format!(
                "backing off after {} failures, {}ms more: {}",
                next.failures.consecutive,
                t.since(view.now).as_millis(),
                e.message
            ),
            _ => healing.note.clone().unwrap_or_default(),
        },
        Phase::Paused => match &next.paused {
            Some(p) => pause::message(p, next, c.total),
            None => next_update_reason(next),
        },
        Phase::Updating => next_update_reason(next),
        Phase::Converged => format!("{desired} of {desired} instances available and up to date"),
        Phase::Degraded => String::new(),
        Phase::Converging => {
            let mut parts = Vec::new();
            if draft.len() > 0 {
                parts.push(format!(
                    "{} actions for {} of {desired} instances",
                    draft.len(),
                    c.members
                ));
            }
            if !next.pending.is_empty() {
                parts.push(format!("{} provisions not listed yet", next.pending.len()));
            }
            if c.available < desired {
                parts.push(format!("{} of {desired} instances available", c.available));
            }
            parts.extend(healing.note.clone());
            parts.join("; ")
        }
    }
}

/// The update line of the status.
pub(crate) fn next_update_reason(next: &GroupState) -> String {
    let Some(u) = &next.update else {
        return String::new();
    };
    let h8 = short(&u.target_hash);
    if let Some(halted) = &u.halted {
        return halted.clone();
    }
    if let Some(paused) = &u.paused {
        return format!("update to {h8} paused: {paused}; healing goes on; commit again to resume");
    }
    match (&u.reason, u.rollback) {
        (Some(r), true) => format!("rolling back to {h8}: {r}"),
        _ => format!("rolling update to {h8}: {} instances updated", u.done),
    }
}

fn counts_status(
    view: &View<'_>,
    next: &GroupState,
    phase: Phase,
    desired: u32,
    message: String,
) -> Status {
    let (mut actual, mut healthy, mut up_to_date, mut leaving) = (0, 0, 0, 0);
    for s in &view.seen {
        if s.leaving {
            leaving += 1;
            continue;
        }
        actual += 1;
        healthy += u32::from(s.inst.health == Health::Healthy);
        up_to_date += u32::from(s.up_to_date);
    }
    Status {
        phase,
        desired,
        actual,
        healthy,
        up_to_date,
        pending: len32(next.pending.iter().filter(|p| !p.listed).count()),
        leaving,
        spec_hash: view.target.to_string(),
        message,
        last_error: next.failures.last_error.clone(),
        update: next
            .update
            .as_ref()
            .map(|u| UpdateProgress::of(u, view.counts.new_available, desired)),
    }
}

pub(crate) fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
