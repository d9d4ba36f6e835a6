//! The plan when the group cannot be observed, and how often to try again.
//!
//! # Guarantees
//!
//! - **No action.** Nothing is created, destroyed or labelled on a failed observation, and
//!   every expectation is kept.
//! - **Quiet while nothing changes.** The same error again leaves the state untouched (its
//!   first time is kept), so a driver that persists only changed states writes once per
//!   outage, not once per attempt.
//! - **Growing waits.** The requeue delay grows with the outage, whatever the poll interval.

use super::status::{Phase, Status, UpdateProgress};
use super::{Plan, len32};
use crate::spec::{Backoff, GroupSpec};
use crate::state::{ErrorRecord, ErrorSource, GroupState, retry_after};
use crate::time::Time;
use std::time::Duration;

/// The plan when the group could not be observed (DescribeInstances failed or timed out):
/// no action at all, phase [`Phase::Degraded`], the error recorded with the time it began,
/// every expectation kept. The error clears at the next [`super::plan()`].
///
/// `requeue_after` grows with the outage: as long as the same error has lasted, between
/// `Remediation.Backoff.Initial` and `Max` (so the attempts are spaced `Initial`, `Initial`,
/// `2×`, `4×`, ...). A driver that counts its failed observations may use [`degraded_retry`]
/// instead.
pub fn plan_degraded(spec: &GroupSpec, state: &GroupState, error: &str, now: Time) -> Plan {
    let mut next = state.clone();
    let message =
        format!("cannot observe the group: {error}; nothing is created or destroyed until it can");
    let f = &mut next.failures;
    let same = f.source == ErrorSource::Observation
        && f.last_error.as_ref().is_some_and(|e| e.message == message);
    if !same {
        f.last_error = Some(ErrorRecord {
            message: message.clone(),
            at: now,
        });
        f.source = ErrorSource::Observation;
    }
    let began = f.last_error.as_ref().map_or(now, |e| e.at);
    let backoff = spec.remediation().backoff;
    let wait = now
        .since(began)
        .max(backoff.initial)
        .min(backoff.max.max(backoff.initial));
    let status = Status {
        phase: Phase::Degraded,
        desired: if state.destroying { 0 } else { spec.desired() },
        actual: 0,
        healthy: 0,
        up_to_date: 0,
        pending: len32(state.pending.len()),
        leaving: 0,
        spec_hash: spec.config_hash().to_string(),
        message,
        last_error: next.failures.last_error.clone(),
        update: state
            .update
            .as_ref()
            .map(|u| UpdateProgress::of(u, u.done, spec.desired())),
    };
    Plan {
        actions: Vec::new(),
        status,
        state: next,
        requeue_after: Some(wait),
        rollback_to: None,
    }
}

/// The wait before observing again after `consecutive_failed_observations` failed ones in a
/// row (1 = the first failure): `Backoff.Initial`, doubling each time, capped at `Backoff.Max`.
/// Zero failures means no wait. Jitter is left to the driver.
pub fn degraded_retry(consecutive_failed_observations: u32, backoff: &Backoff) -> Duration {
    retry_after(
        consecutive_failed_observations,
        backoff.initial,
        backoff.max,
    )
}
