//! Keeping one instance per logical ID, and rolling pets one logical ID at a time.
//!
//! - An instance with no logical ID, or one not in the spec, is destroyed (context
//!   `terminate`): in a pet group every member has a name, and a nameless or unknown one is a
//!   leftover. (The driver fills the logical ID from the description or the
//!   `infrakit.logical_id` tag, and an instance created by one of our provisions gets it from
//!   the provision's token.)
//! - Duplicates of a logical ID are destroyed, keeping the best instance of the committed
//!   configuration and the best of an old one (the pair a rolling update needs); "best" is the
//!   reverse of the [victim order](super::victims).
//! - A missing logical ID is provisioned at once with that ID, but only after any instance
//!   holding it has disappeared, so two instances never claim the same name (or address).
//! - Rolling update, one logical ID at a time. With `MaxSurge` > 0: create the replacement
//!   with the same logical ID, wait until it is available, then destroy the old one. With
//!   `MaxSurge` 0 (then `MaxUnavailable` ≥ 1): destroy the old one first, within
//!   `MaxUnavailable`, and create the replacement once it is gone (needed when a logical ID
//!   is an address two instances cannot share). The next logical ID starts only when the
//!   previous one's replacement is available. Unavailable old instances go first, then the
//!   spec's order.

use super::action::DestroyReason;
use super::cattle::{Rolling, short};
use super::draft::Draft;
use super::victims::{Member, keeps_over};
use super::view::View;

/// The instances of one logical ID.
#[derive(Default)]
struct Slot {
    /// The best instance of the committed configuration.
    new: Option<Member>,
    /// The best instance of another configuration.
    old: Option<Member>,
    /// An instance holding this ID is on its way out.
    leaving: bool,
}

/// Decides creations and destructions for pets.
pub(crate) fn decide(view: &View<'_>, draft: &mut Draft, rolling: Rolling) {
    let (Some(ids), Some(wanted)) = (view.spec.logical_ids(), view.wanted) else {
        return;
    };
    let mut slots: Vec<Slot> = (0..ids.len()).map(|_| Slot::default()).collect();
    // Duplicates of a logical ID (beyond the best new and the best old), with the slot.
    let mut dups: Vec<(Member, usize)> = Vec::new();
    for (i, s) in view.seen.iter().enumerate() {
        let slot = s.logical_id.and_then(|l| wanted.get(l)).copied();
        match slot {
            Some(k) if s.leaving || draft.destroyed[i] => slots[k].leaving = true,
            Some(k) => push(view, &mut slots[k], Member::Seen(i), &mut dups),
            None if !s.leaving && !draft.destroyed[i] => {
                let reason = match s.logical_id {
                    None => "an instance without a logical ID in a group of pets".to_string(),
                    Some(l) => format!("logical ID {l:?} is not in the spec"),
                };
                draft.destroy(view, i, DestroyReason::Terminate, reason);
            }
            None => {}
        }
    }
    for (j, p) in view.pending.iter().enumerate() {
        if let Some(&k) = p.logical_id.as_deref().and_then(|l| wanted.get(l)) {
            push(view, &mut slots[k], Member::Pending(j), &mut dups);
        }
    }
    for (m, k) in dups {
        if let Member::Seen(i) = m {
            let reason = format!("a duplicate of logical ID {:?}", ids[k]);
            draft.destroy(view, i, DestroyReason::Terminate, reason);
        }
    }
    let mut pass = Pass::new(view, draft, &slots);
    let progress = rolling == Rolling::Progress;
    if progress {
        pass.finish_replacements(ids, &mut slots);
    }
    pass.fill_missing(ids, &slots);
    if progress {
        pass.start_next(ids, &slots);
    }
}

/// Records `m` in its slot, keeping the best new and the best old instance; the other goes
/// to `dups`. "Best" is the reverse of the victim order, so the choice is stable.
fn push(view: &View<'_>, slot: &mut Slot, m: Member, dups: &mut Vec<(Member, usize)>) {
    let new = match m {
        Member::Seen(i) => view.seen[i].up_to_date,
        Member::Pending(j) => view.pending[j].hash == view.target,
    };
    let k = match m {
        Member::Seen(i) => view.seen[i].logical_id,
        Member::Pending(j) => view.pending[j].logical_id.as_deref(),
    }
    .and_then(|l| view.wanted.and_then(|w| w.get(l)).copied())
    .unwrap_or_default();
    let place = if new { &mut slot.new } else { &mut slot.old };
    match *place {
        None => *place = Some(m),
        Some(current) if keeps_over(view, m, current) => {
            dups.push((current, k));
            *place = Some(m);
        }
        Some(_) => dups.push((m, k)),
    }
}

/// The counters of one pass.
struct Pass<'v, 'a, 'd> {
    view: &'v View<'a>,
    draft: &'d mut Draft,
    /// Instances that exist (being destroyed included) or are expected.
    total: usize,
    /// The most `total` may reach: `desired + MaxSurge`.
    ceiling: usize,
    /// Available members kept.
    available: usize,
    floor: usize,
    surge: usize,
}

// === impl Pass ===

impl<'v, 'a, 'd> Pass<'v, 'a, 'd> {
    fn new(view: &'v View<'a>, draft: &'d mut Draft, slots: &[Slot]) -> Self {
        let desired = view.spec.desired() as usize;
        let (surge, unavailable) = view.spec.updating().budget(view.spec.desired());
        let total = super::cattle::existing(view);
        let available = slots
            .iter()
            .flat_map(|s| s.new.iter().chain(s.old.iter()))
            .filter(|m| is_available(view, **m))
            .count();
        Self {
            view,
            draft,
            total,
            ceiling: desired + surge as usize,
            available,
            floor: desired.saturating_sub(unavailable as usize),
            surge: surge as usize,
        }
    }

    /// Provisions every logical ID that has no instance at all.
    fn fill_missing(&mut self, ids: &[String], slots: &[Slot]) {
        for (k, slot) in slots.iter().enumerate() {
            if self.total < self.ceiling
                && slot.new.is_none()
                && slot.old.is_none()
                && !slot.leaving
            {
                self.total += 1;
                self.draft.provision(
                    Some(&ids[k]),
                    format!("creating missing logical ID {:?}", ids[k]),
                );
            }
        }
    }

    /// Destroys the old instance of every logical ID whose replacement is available. This
    /// never lowers the logical IDs available (the replacement serves the ID), so it is not
    /// held to the `MaxUnavailable` floor: holding it there could leave every slot waiting on
    /// another when old instances elsewhere never become available.
    fn finish_replacements(&mut self, ids: &[String], slots: &mut [Slot]) {
        let h8 = short(self.view.target);
        for (k, slot) in slots.iter_mut().enumerate() {
            let ready = slot.new.is_some_and(|m| is_available(self.view, m));
            if let (true, Some(old @ Member::Seen(_))) = (ready, slot.old) {
                let reason = format!(
                    "rolling update to {h8}: logical ID {:?} has its replacement",
                    ids[k]
                );
                self.destroy(old, reason);
                slot.old = None;
                slot.leaving = true;
            }
        }
    }

    /// Starts replacing the next logical ID, if none is in flight.
    fn start_next(&mut self, ids: &[String], slots: &[Slot]) {
        let h8 = short(self.view.target);
        let busy = slots.iter().any(|s| {
            let new_ready = s.new.is_some_and(|m| is_available(self.view, m));
            let replacing = s.new.is_some() && (!new_ready || s.old.is_some());
            let vacant = s.new.is_none() && s.old.is_none();
            replacing || vacant
        });
        if busy {
            return;
        }
        let next = (0..slots.len())
            .filter(|&k| slots[k].new.is_none() && slots[k].old.is_some())
            .min_by_key(|&k| (slots[k].old.is_some_and(|m| is_available(self.view, m)), k));
        let Some(k) = next else { return };
        let id = &ids[k];
        if self.surge > 0 {
            if self.total < self.ceiling {
                self.total += 1;
                self.draft.provision(
                    Some(id),
                    format!("rolling update to {h8}: replacing logical ID {id:?}"),
                );
            }
        } else if let Some(old) = slots[k].old
            && self.may_destroy(old)
        {
            let reason = format!(
                "rolling update to {h8}: replacing logical ID {id:?} (destroy first: MaxSurge is 0)"
            );
            self.destroy(old, reason);
        }
    }

    /// True when destroying `m` keeps the available count at or above the floor.
    fn may_destroy(&self, m: Member) -> bool {
        !is_available(self.view, m) || self.available > self.floor
    }

    fn destroy(&mut self, m: Member, reason: String) {
        if let Member::Seen(i) = m {
            if self.view.seen[i].available {
                self.available -= 1;
            }
            self.draft
                .destroy(self.view, i, DestroyReason::RollingUpdate, reason);
        }
    }
}

fn is_available(view: &View<'_>, m: Member) -> bool {
    matches!(m, Member::Seen(i) if view.seen[i].available)
}
