//! Sizing and rolling a group of interchangeable instances.
//!
//! Each pass recomputes budgets from what exists (Cluster API and Nomad style); nothing waits
//! in a loop. With `D` desired, `S` max surge and `U` max unavailable:
//!
//! - **No update**: fewer than `D` members → create the difference at once; more → destroy the
//!   surplus in [victim order](super::victims).
//! - **Always**: instances being destroyed count until they are gone, and nothing is created
//!   while the listed and expected instances number `D + S` or more. So with `MaxSurge` 0 a
//!   replacement is created only once the instance it replaces has disappeared, and even a
//!   destroy that fails never leaves more than `D + S` instances.
//! - **Update paused or halted**: the same, but up to `D + S` members are kept, so nothing is
//!   rolled back or forward behind the user's back.
//! - **Update progressing**: destroy old instances only while the available ones stay at
//!   least `D - U` (counting new available ones), then create new ones up to `D + S` members
//!   and at most `D` new. Old instances that are not available go first.

use super::action::DestroyReason;
use super::draft::Draft;
use super::victims::{Member, pick};
use super::view::View;

/// How far a rolling update may move in this pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rolling {
    /// Every member is up to date.
    Idle,
    /// Old members exist but the update may not progress (paused, halted, rolling back).
    Held,
    /// Old members exist and the update may progress.
    Progress,
}

/// Decides creations and destructions for cattle.
pub(crate) fn decide(view: &View<'_>, draft: &mut Draft, rolling: Rolling) {
    let desired = view.spec.desired() as usize;
    let (surge, unavailable) = view.spec.updating().budget(view.spec.desired());
    let (surge, unavailable) = (surge as usize, unavailable as usize);
    let mut members = members(view, draft);
    match rolling {
        Rolling::Idle | Rolling::Held => {
            let ceiling = if rolling == Rolling::Held {
                desired + surge
            } else {
                desired
            };
            let n = members.len();
            let surplus = n.saturating_sub(ceiling);
            let reason = format!("scaling down: {n} instances, {desired} wanted");
            destroy_members(
                view,
                draft,
                &pick(view, &mut members, surplus),
                DestroyReason::Terminate,
                &reason,
            );
            // Instances being destroyed still exist: they count against `desired + surge`.
            let room = (desired + surge).saturating_sub(existing(view));
            for _ in 0..desired.saturating_sub(n).min(room) {
                draft.provision(
                    None,
                    format!("creating a missing instance: {n} of {desired} exist"),
                );
            }
        }
        Rolling::Progress => roll(view, draft, members, desired, surge, unavailable),
    }
}

/// One pass of a rolling update.
fn roll(
    view: &View<'_>,
    draft: &mut Draft,
    members: Vec<Member>,
    desired: usize,
    surge: usize,
    unavailable: usize,
) {
    let (mut new, mut old): (Vec<Member>, Vec<Member>) =
        members.into_iter().partition(|m| is_new(view, *m));
    let h8 = short(view.target);
    if new.len() > desired {
        let surplus = new.len() - desired;
        let victims = pick(view, &mut new, surplus);
        let reason = format!(
            "scaling down: {} instances of the new configuration, {desired} wanted",
            new.len()
        );
        destroy_members(view, draft, &victims, DestroyReason::Terminate, &reason);
        // `pick` put the victims first.
        new.drain(..victims.len());
    }
    let new_available = new
        .iter()
        .filter(|m| matches!(m, Member::Seen(i) if view.seen[*i].available))
        .count();
    let floor = desired.saturating_sub(unavailable);
    let budget = (old.len() + new_available)
        .saturating_sub(floor)
        .min(old.len());
    let mut count = new.len() + old.len();
    for m in pick(view, &mut old, budget) {
        if let Member::Seen(i) = m {
            let (context, reason) = if count > desired + surge {
                (
                    DestroyReason::Terminate,
                    format!("scaling down: {count} instances, {desired} wanted"),
                )
            } else {
                (
                    DestroyReason::RollingUpdate,
                    format!(
                        "rolling update to {h8}: {} of {desired} instances updated",
                        new.len()
                    ),
                )
            };
            draft.destroy(view, i, context, reason);
            count -= 1;
        }
    }
    let room = (desired + surge).saturating_sub(existing(view));
    let wanted_new = desired.saturating_sub(new.len());
    for k in 0..room.min(wanted_new) {
        draft.provision(
            None,
            format!("rolling update to {h8}: creating an instance of the new configuration ({} of {desired})", new.len() + k + 1),
        );
    }
}

/// Everything that exists or is expected: every listed instance (those being destroyed
/// included, until they are gone) and every provision not yet listed.
pub(crate) fn existing(view: &View<'_>) -> usize {
    view.seen.len() + view.pending.len()
}

/// Observed members not destroyed yet, and expected provisions.
fn members(view: &View<'_>, draft: &Draft) -> Vec<Member> {
    let seen = (0..view.seen.len())
        .filter(|&i| view.seen[i].member && !draft.destroyed[i])
        .map(Member::Seen);
    let pending = (0..view.pending.len()).map(Member::Pending);
    seen.chain(pending).collect()
}

fn is_new(view: &View<'_>, m: Member) -> bool {
    match m {
        Member::Seen(i) => view.seen[i].up_to_date,
        Member::Pending(j) => view.pending[j].hash == view.target,
    }
}

fn destroy_members(
    view: &View<'_>,
    draft: &mut Draft,
    victims: &[Member],
    context: DestroyReason,
    reason: &str,
) {
    for m in victims {
        if let Member::Seen(i) = *m {
            draft.destroy(view, i, context, reason.to_string());
        }
    }
}

/// The first 8 characters of a hash, for messages.
pub(crate) fn short(hash: &str) -> &str {
    hash.get(..8).unwrap_or(hash)
}
