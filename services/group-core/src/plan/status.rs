//! The group's status as computed by a plan: phase, counts and a one-line message.

use crate::state::{ErrorRecord, UpdateState};
use crate::time::Time;

/// A group's overall condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Creating or removing instances, or waiting for them to become healthy.
    Converging,
    /// Every desired instance exists, is up to date and available; nothing to do.
    Converged,
    /// Rolling instances to a new configuration (or back to the last good one).
    Updating,
    /// The group is paused (PauseGroup), or its rolling update is (StopUpdate), or the update
    /// halted on its deadline without rollback.
    Paused,
    /// The group cannot be observed; nothing destructive is done.
    Degraded,
    /// Actions keep failing (backing off), or remediation stopped at its cap.
    Failing,
    /// DestroyGroup: members are being destroyed.
    Destroying,
}

/// What a plan says about the group.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Status {
    /// The overall condition.
    pub phase: Phase,
    /// Instances wanted (0 while destroying).
    pub desired: u32,
    /// Instances listed and not on their way out.
    pub actual: u32,
    /// Of those, the ones the flavor reports healthy.
    pub healthy: u32,
    /// Of those, the ones on the committed config hash.
    pub up_to_date: u32,
    /// Provisions issued and not yet listed.
    pub pending: u32,
    /// Instances being destroyed and still listed.
    pub leaving: u32,
    /// The committed config hash.
    pub spec_hash: String,
    /// What is going on, in one line.
    pub message: String,
    /// The most recent error, with its time.
    pub last_error: Option<ErrorRecord>,
    /// The rolling update in progress, if any.
    pub update: Option<UpdateProgress>,
}

/// A rolling update in progress, for DescribeGroup.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UpdateProgress {
    /// The hash being rolled to.
    pub target_hash: String,
    /// The hash being rolled from (the rollback target), if known.
    pub previous_hash: Option<String>,
    /// Instances on the target hash and available.
    pub done: u32,
    /// Instances to roll in all (the desired size).
    pub total: u32,
    /// When the update halts unless it progresses.
    pub deadline_at: Time,
    /// True for a rollback.
    pub rollback: bool,
    /// Why the update is paused or halted, if it is.
    pub halted_reason: Option<String>,
}

// === impl Phase ===

impl Phase {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Converging => "converging",
            Phase::Converged => "converged",
            Phase::Updating => "updating",
            Phase::Paused => "paused",
            Phase::Degraded => "degraded",
            Phase::Failing => "failing",
            Phase::Destroying => "destroying",
        }
    }
}

// === impl UpdateProgress ===

impl UpdateProgress {
    /// The progress of `u` with `done` of `total` instances updated.
    pub(crate) fn of(u: &UpdateState, done: u32, total: u32) -> Self {
        Self {
            target_hash: u.target_hash.clone(),
            previous_hash: u.previous_hash.clone(),
            done,
            total,
            deadline_at: u.deadline_at,
            rollback: u.rollback,
            halted_reason: u.halted.clone().or_else(|| u.paused.clone()),
        }
    }
}
