//! CommitGroup's plan: what committing a spec would do, computed by the same code as
//! applying it (Nomad's `job plan`), and without any side effect.

use crate::observe::Observed;
use crate::plan::{Action, plan};
use crate::spec::GroupSpec;
use crate::state::{GroupState, RemediationRecord};
use crate::time::Time;

/// What committing a spec involves.
#[derive(Clone, Debug, PartialEq)]
pub struct CommitPlan {
    /// One line in the original's words, e.g. "Performing a rolling update on 5 instances,
    /// then adding 5 instances to increase the group size to 10".
    pub summary: String,
    /// Instances to create beyond replacements.
    pub create: u32,
    /// Instances to destroy beyond replacements.
    pub destroy: u32,
    /// Instances to replace with the new configuration.
    pub roll: u32,
    /// Instances kept as they are.
    pub keep: u32,
    /// True when the commit changes nothing: no instance to create, destroy or roll.
    pub noop: bool,
    /// The config hash instances will carry.
    pub spec_hash: String,
    /// The state to install with the spec when the commit is applied. It holds no
    /// expectation for `first_actions`: the driver installs it and then reconciles as usual.
    pub state: GroupState,
    /// What the first reconcile would do now, with reasons (for display).
    pub first_actions: Vec<Action>,
}

/// Plans a commit of `new` over the group's current spec and state (`None` for a new group).
///
/// The state to install keeps the old memory (expectations, last good configuration,
/// sequence) and:
/// - ends a DestroyGroup in progress (committing a spec means the group is wanted);
/// - clears the failure and remediation backoff and ends a remediation short circuit (a human
///   acted); replacements in flight still count against `Remediation.MaxUnhealthy`;
/// - resumes a paused or halted update when `new` has the same config hash (with a fresh
///   deadline), or drops the update when the hash differs (the new commit supersedes it; the
///   next plan starts an update to the new hash if any instance is out of date).
///
/// # Guarantees
///
/// Pure: nothing is changed anywhere, so a pretend commit cannot mark anything as committed.
/// The counts and the first actions come from the same view and code as [`plan`].
pub fn plan_commit(
    old: Option<(&GroupSpec, &GroupState)>,
    new: &GroupSpec,
    observed: &Observed,
    now: Time,
) -> CommitPlan {
    let state = install_state(old.map(|(_, s)| s), new, now);
    let t = crate::plan::tally(new, observed, &state, now);
    let first_actions = plan(new, observed, &state, now).actions;
    let noop = t.create == 0 && t.destroy == 0 && t.roll == 0;
    let summary = if old.is_none() {
        format!("Managing {}", instances(new.desired()))
    } else {
        summary(t.create, t.destroy, t.roll, new.desired())
    };
    CommitPlan {
        summary,
        create: t.create,
        destroy: t.destroy,
        roll: t.roll,
        keep: t.keep,
        noop,
        spec_hash: new.config_hash().to_string(),
        state,
        first_actions,
    }
}

fn install_state(old: Option<&GroupState>, new: &GroupSpec, now: Time) -> GroupState {
    let mut state = old.cloned().unwrap_or_default();
    state.destroying = false;
    state.end_backoff();
    state.remediation = RemediationRecord {
        replaced: state.remediation.replaced,
        ..RemediationRecord::default()
    };
    match &mut state.update {
        Some(u) if u.target_hash == new.config_hash() => {
            u.paused = None;
            u.halted = None;
            u.deadline_at = now.after(new.updating().deadline);
        }
        _ => state.update = None,
    }
    state
}

/// The one-line summary, in the words of InfraKit's plans.
fn summary(create: u32, destroy: u32, roll: u32, size: u32) -> String {
    let rolling = format!("performing a rolling update on {}", instances(roll));
    let text = match (create, destroy, roll) {
        (0, 0, 0) => return "Noop".to_string(),
        (0, 0, _) => rolling,
        (0, d, 0) => format!(
            "terminating {} to reduce the group size to {size}",
            instances(d)
        ),
        (0, d, _) => format!(
            "terminating {} to reduce the group size to {size}, then {rolling}",
            instances(d)
        ),
        (c, 0, 0) => format!(
            "adding {} to increase the group size to {size}",
            instances(c)
        ),
        (c, 0, _) => format!(
            "{rolling}, then adding {} to increase the group size to {size}",
            instances(c)
        ),
        (c, d, 0) => format!(
            "adding {} and terminating {} to reach the group size of {size}",
            instances(c),
            instances(d)
        ),
        (c, d, _) => format!(
            "adding {} and terminating {} to reach the group size of {size}, then {rolling}",
            instances(c),
            instances(d)
        ),
    };
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn instances(n: u32) -> String {
    if n == 1 {
        "1 instance".to_string()
    } else {
        format!("{n} instances")
    }
}

#[cfg(test)]
mod tests;
