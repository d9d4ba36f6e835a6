//! What became of the actions a plan asked for, and how each answer changes the controller's
//! memory. The driver reports every outcome here and persists the result; this is the only
//! place that turns plugin answers into state, so the rules are tested without I/O.
//!
//! # Guarantees
//!
//! - **One backoff step per round.** A round is the set of actions issued by one pass; however
//!   many of them fail, the group's failure count grows by one, so ten failed destroys of one
//!   wave back off like one.
//! - **A lost answer is not a failure.** [`Outcome::ProvisionUncertain`] changes nothing: the
//!   expectation stays until an instance with the token is listed or the provision deadline
//!   passes, and the driver sends the same Provision again meanwhile (Provision is idempotent by
//!   token).
//! - **A kept instance is not charged.** [`Outcome::HealCancelled`] (the fresh health check
//!   before a heal said the instance is no longer unhealthy) drops the destroy expectation
//!   and gives back its count in `RemediationRecord::replaced`, without recording a failure.
//!   A failed heal destroy gives its count back too: the instance stays, and counts against
//!   `Remediation.MaxUnhealthy` as unhealthy instead of as a replacement in flight.

use crate::plan::DestroyReason;
use crate::spec::Backoff;
use crate::state::GroupState;
use crate::time::Time;

/// The answer to one action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Instance.Provision returned an instance ID.
    Provisioned {
        /// The provision token.
        token: String,
        /// The instance created (or found, for a repeated token).
        id: String,
    },
    /// The provision failed for sure: Flavor.Prepare or Instance.Provision said no.
    ProvisionFailed {
        /// The provision token.
        token: String,
        /// Why, naming the call.
        error: String,
    },
    /// The provision may or may not have happened (timeout, lost connection).
    ProvisionUncertain {
        /// The provision token.
        token: String,
        /// Why, naming the call.
        error: String,
    },
    /// The instance was destroyed, or was already gone.
    Destroyed {
        /// The instance.
        id: String,
    },
    /// A required drain, or the destroy itself, failed: the instance stays and is destroyed
    /// again after the backoff.
    DestroyFailed {
        /// The instance.
        id: String,
        /// Why, naming the call.
        error: String,
    },
    /// The instance was to be replaced for being unhealthy, but the flavor, asked again right
    /// before, no longer said UNHEALTHY: it is kept.
    HealCancelled {
        /// The instance.
        id: String,
    },
    /// Tags were set.
    Labelled {
        /// The instance.
        id: String,
    },
    /// Instance.Label failed.
    LabelFailed {
        /// The instance.
        id: String,
        /// Why.
        error: String,
    },
}

// === impl Outcome ===

impl Outcome {
    /// The error this outcome reports, if it is a failure (an uncertain provision is not).
    pub fn error(&self) -> Option<&str> {
        match self {
            Outcome::ProvisionFailed { error, .. }
            | Outcome::DestroyFailed { error, .. }
            | Outcome::LabelFailed { error, .. } => Some(error),
            _ => None,
        }
    }
}

// === impl GroupState ===

impl GroupState {
    /// Records the outcome of an action issued in `round` (see the module's guarantees).
    pub fn apply(&mut self, outcome: &Outcome, round: u64, now: Time, backoff: &Backoff) {
        match outcome {
            Outcome::Provisioned { token, id } => self.provision_succeeded(token, id.clone()),
            Outcome::ProvisionFailed { token, error } => {
                self.pending.retain(|p| &p.token != token);
                self.record_failure_in_round(error.clone(), round, now, backoff);
            }
            Outcome::ProvisionUncertain { .. }
            | Outcome::Destroyed { .. }
            | Outcome::Labelled { .. } => {}
            Outcome::DestroyFailed { id, error } => {
                self.stop_expecting_destroy(id);
                self.record_failure_in_round(error.clone(), round, now, backoff);
            }
            Outcome::HealCancelled { id } => self.stop_expecting_destroy(id),
            Outcome::LabelFailed { error, .. } => {
                self.record_failure_in_round(error.clone(), round, now, backoff);
            }
        }
    }

    /// The destroy of `id` will not happen (it failed, or a heal was cancelled): the instance
    /// is no longer expected to leave and, if it was a heal, no longer counts as a
    /// replacement in flight (while it stays it counts as unhealthy itself, if it is).
    pub(crate) fn stop_expecting_destroy(&mut self, id: &str) {
        let heal = self
            .leaving
            .iter()
            .any(|d| d.id == id && d.reason == DestroyReason::Heal);
        self.leaving.retain(|d| d.id != id);
        if heal {
            self.remediation.replaced = self.remediation.replaced.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests;
