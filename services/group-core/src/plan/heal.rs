//! Replacing unhealthy and failed instances, within the `Remediation` cap and backoff.
//!
//! An instance qualifies when its plugin reports it failed, or when the flavor has reported it
//! unhealthy without a break for `Health.UnhealthyAfter` and it is older than
//! `Health.GracePeriod`. Qualified instances are drained and destroyed (context `heal`); the
//! sizing rules then create their replacements (pets: with the same logical ID, once the old
//! instance is gone).
//!
//! # Guarantees
//!
//! - When more instances qualify than `Remediation.MaxUnhealthy` allows, none is replaced and
//!   the status says why: so many failures at once usually mean a broken health check or
//!   network, which replacing machines does not fix (Cluster API's short-circuit).
//! - Replacements in flight (destroyed, not yet gone) count against the cap.
//! - Waves of replacements while the group has not been all healthy in between are spaced by
//!   `Remediation.Backoff`, so a configuration that never gets healthy does not spin.
//! - Healing only destroys instances that are not available, so it never lowers the count of
//!   available instances.

use super::action::DestroyReason;
use super::draft::Draft;
use super::view::View;
use crate::observe::InstanceState;
use crate::state::{RemediationRecord, retry_after};
use crate::time::Time;

/// What healing decided besides its actions.
#[derive(Default)]
pub(crate) struct Healing {
    /// Why unhealthy instances are not being replaced, if they are not.
    pub note: Option<String>,
    /// True when the group needs attention (cap exceeded or backing off).
    pub failing: bool,
    /// When healing may act again.
    pub wake_at: Option<Time>,
}

/// Destroys the instances that qualify for healing, if the cap and backoff allow.
pub(crate) fn heal(view: &View<'_>, record: &mut RemediationRecord, draft: &mut Draft) -> Healing {
    let mut qualified: Vec<usize> = (0..view.seen.len())
        .filter(|&i| view.seen[i].member && view.qualifies_for_healing(&view.seen[i]))
        .collect();
    if qualified.is_empty() {
        return Healing::default();
    }
    let n = qualified.len();
    let policy = view.spec.remediation();
    let cap = policy.cap(view.spec.desired()) as usize;
    let in_flight = view
        .leaving
        .iter()
        .filter(|d| d.reason == DestroyReason::Heal)
        .count();
    if cap == 0 {
        return note(
            format!(
                "{n} unhealthy {} left in place: Remediation.MaxUnhealthy is 0",
                noun(n)
            ),
            false,
        );
    }
    if n > cap {
        return note(
            format!(
                "remediation stopped: {n} instances are unhealthy, more than Remediation.MaxUnhealthy ({cap}); \
                 so many at once usually means a broken health check or network, not broken machines: \
                 fix the cause or raise MaxUnhealthy"
            ),
            true,
        );
    }
    let budget = cap.saturating_sub(in_flight);
    if budget == 0 {
        return note(
            format!(
                "{n} unhealthy {} waiting: {in_flight} replacements are in flight",
                noun(n)
            ),
            false,
        );
    }
    if let Some(at) = record.next_at.filter(|at| *at > view.now) {
        let wait = at.since(view.now).as_millis();
        let mut h = note(
            format!(
                "replacements keep failing: backing off {wait}ms before replacing {n} unhealthy {}",
                noun(n)
            ),
            true,
        );
        h.wake_at = Some(at);
        return h;
    }
    // Oldest problem first, then by ID, so the order is stable.
    qualified.sort_unstable_by_key(|&i| {
        let inst = view.seen[i].inst;
        (
            inst.state != InstanceState::Failed,
            inst.health_since,
            inst.id.as_str(),
        )
    });
    for &i in qualified.iter().take(budget) {
        let reason = heal_reason(view, i);
        draft.destroy(view, i, DestroyReason::Heal, reason);
    }
    record.waves = record.waves.saturating_add(1);
    let wait = retry_after(record.waves, policy.backoff.initial, policy.backoff.max);
    record.next_at = Some(view.now.after(wait));
    Healing::default()
}

fn heal_reason(view: &View<'_>, i: usize) -> String {
    let inst = view.seen[i].inst;
    if inst.state == InstanceState::Failed {
        return "replacing a failed instance".to_string();
    }
    let secs = view.now.since(inst.health_since).as_secs();
    if inst.health_reason.is_empty() {
        format!("replacing an instance unhealthy for {secs}s")
    } else {
        format!(
            "replacing an instance unhealthy for {secs}s: {}",
            inst.health_reason
        )
    }
}

fn note(text: String, failing: bool) -> Healing {
    Healing {
        note: Some(text),
        failing,
        wake_at: None,
    }
}

fn noun(n: usize) -> &'static str {
    if n == 1 { "instance" } else { "instances" }
}
