//! Replacing unhealthy and failed instances, within the `Remediation` cap and backoff.
//!
//! An instance qualifies when its plugin reports it failed, or when the flavor has reported it
//! unhealthy without a break for `Health.UnhealthyAfter` and it is older than
//! `Health.GracePeriod`. Qualified instances are drained and destroyed (context `heal`); the
//! sizing rules then create their replacements (pets: with the same logical ID, once the old
//! instance is gone).
//!
//! # The cap
//!
//! Counted against `Remediation.MaxUnhealthy` at every pass:
//!
//! - every member unhealthy **now**: failed, or reported unhealthy and past its grace period,
//!   however recently (not only those past `UnhealthyAfter`), so health checks that run on
//!   different schedules cannot let a second batch through before the first is counted;
//! - every replacement **in flight**: `min(replaced, desired - available - unhealthy)`, where
//!   `replaced` counts the heal destroys issued since every member was last available. An
//!   instance destroyed for health stays in flight while it is listed, while its replacement
//!   is being created, and until that replacement is available; the `min` keeps members that
//!   are unhealthy themselves from being counted twice. (It is never less than the heal
//!   destroys still listed.) When the gap has another cause as well (a scale-up or an update
//!   running at the same time) this errs on the side of replacing fewer.
//!
//! # Guarantees
//!
//! - **Short circuit.** When the count exceeds the cap, none is replaced and the status says
//!   "short circuit", with the counts and the fix: so many failures at once usually mean a
//!   broken health check or network, which replacing machines does not fix (Cluster API's
//!   short-circuit). It holds (recorded in `RemediationRecord::short_circuit`) until every
//!   member is available again, a commit clears it, or the members unhealthy now plus those
//!   replaced since the group was last all available fit the cap again (part of the cause was
//!   fixed); so the rest of a mass failure is not replaced in a second wave once the first
//!   wave's replacements are up. A commit keeps the count of
//!   replacements in flight.
//! - Below the cap, the instances replaced at once plus those in flight never exceed it.
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

/// The members counted against the cap.
struct Tally {
    /// Members unhealthy now.
    unhealthy: usize,
    /// Replacements in flight.
    in_flight: usize,
    /// Members that qualify for replacement now, by index into `View::seen`.
    qualified: Vec<usize>,
}

/// Destroys the instances that qualify for healing, if the cap and backoff allow.
pub(crate) fn heal(view: &View<'_>, record: &mut RemediationRecord, draft: &mut Draft) -> Healing {
    let t = tally(view, record);
    if t.unhealthy == 0 {
        return Healing::default();
    }
    let desired = view.spec.desired() as usize;
    let policy = view.spec.remediation();
    let cap = policy.cap(view.spec.desired()) as usize;
    let n = t.unhealthy;
    if cap == 0 {
        return note(
            format!(
                "{n} unhealthy {} left in place: Remediation.MaxUnhealthy is 0",
                noun(n)
            ),
            false,
        );
    }
    if n + t.in_flight > cap && record.short_circuit.is_none() {
        record.short_circuit = Some(view.now);
    }
    // It also ends when what is unhealthy now, with every replacement made since the group was
    // last all available, fits the cap again: the operator fixed part of the cause. A second
    // wave of a mass failure (its first wave's replacements now available) does not fit.
    if record.short_circuit.is_some()
        && n + t.in_flight <= cap
        && n + record.replaced as usize <= cap
    {
        record.short_circuit = None;
    }
    if let Some(since) = record.short_circuit {
        return note(
            format!(
                "short circuit: {n} unhealthy and {} replacements in flight of {desired} \
                 instances; more than Remediation.MaxUnhealthy ({cap}) at once since {}, so \
                 nothing more is replaced until every instance is available again; so many at \
                 once usually means a broken health check or network, not broken machines: fix \
                 the cause, or commit the spec again once fewer are unhealthy (or with a higher \
                 MaxUnhealthy) to resume replacing",
                t.in_flight,
                since.rfc3339()
            ),
            true,
        );
    }
    let mut qualified = t.qualified;
    if qualified.is_empty() {
        return Healing::default();
    }
    if let Some(at) = record.next_at.filter(|at| *at > view.now) {
        let wait = at.since(view.now).as_millis();
        let q = qualified.len();
        let mut h = note(
            format!(
                "replacements keep failing: backing off {wait}ms before replacing {q} unhealthy {}",
                noun(q)
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
    // Within the cap by the check above; `take` keeps it so if that check ever changes.
    for &i in qualified.iter().take(cap.saturating_sub(t.in_flight)) {
        let reason = heal_reason(view, i);
        draft.destroy(view, i, DestroyReason::Heal, reason);
        record.replaced = record.replaced.saturating_add(1);
    }
    record.waves = record.waves.saturating_add(1);
    let wait = retry_after(record.waves, policy.backoff.initial, policy.backoff.max);
    record.next_at = Some(view.now.after(wait));
    Healing::default()
}

/// Counts the members unhealthy now and the replacements in flight (see the module docs).
fn tally(view: &View<'_>, record: &RemediationRecord) -> Tally {
    let mut t = Tally {
        unhealthy: 0,
        in_flight: 0,
        qualified: Vec::new(),
    };
    for (i, s) in view.seen.iter().enumerate() {
        if s.member && view.is_unhealthy(s) {
            t.unhealthy += 1;
            if view.qualifies_for_healing(s) {
                t.qualified.push(i);
            }
        }
    }
    let listed = view
        .leaving
        .iter()
        .filter(|d| d.reason == DestroyReason::Heal)
        .count();
    let gap =
        (view.spec.desired() as usize).saturating_sub(view.counts.available as usize + t.unhealthy);
    t.in_flight = (record.replaced as usize).min(gap).max(listed);
    t
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
