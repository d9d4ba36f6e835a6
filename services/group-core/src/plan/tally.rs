//! Counting what converging to a spec involves, for the commit plan.

use super::victims::{Member, pick};
use super::view::View;
use crate::observe::Observed;
use crate::spec::GroupSpec;
use crate::state::GroupState;
use crate::time::Time;
use std::collections::HashMap;

/// Instances to create, destroy, roll and keep to reach a spec.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub create: u32,
    pub destroy: u32,
    pub roll: u32,
    pub keep: u32,
}

/// Counts, with the planner's own view and victim order, what reaching `spec` involves.
pub(crate) fn tally(spec: &GroupSpec, observed: &Observed, state: &GroupState, now: Time) -> Tally {
    let view = View::build(spec, observed, state, now);
    match view.wanted {
        Some(_) => tally_pets(&view),
        None => tally_cattle(&view),
    }
}

fn tally_cattle(view: &View<'_>) -> Tally {
    let desired = view.spec.desired() as usize;
    let mut members: Vec<Member> = (0..view.seen.len())
        .filter(|&i| view.seen[i].member)
        .map(Member::Seen)
        .chain((0..view.pending.len()).map(Member::Pending))
        .collect();
    let n = members.len();
    let old = view.counts.old as usize;
    let victims = pick(view, &mut members, n.saturating_sub(desired));
    let old_victims = victims.iter().filter(|m| !is_new(view, **m)).count();
    let roll = old - old_victims;
    Tally {
        create: count(desired.saturating_sub(n)),
        destroy: count(victims.len()),
        roll: count(roll),
        keep: count(n - victims.len() - roll),
    }
}

fn tally_pets(view: &View<'_>) -> Tally {
    let mut t = Tally::default();
    let mut slots: HashMap<&str, (u32, bool)> = HashMap::new();
    for (i, s) in view.seen.iter().enumerate() {
        match s.logical_id {
            _ if s.leaving => {}
            Some(l) if s.member => {
                let e = slots.entry(l).or_default();
                e.0 += 1;
                e.1 |= is_new(view, Member::Seen(i));
            }
            _ => t.destroy += 1,
        }
    }
    for (j, p) in view.pending.iter().enumerate() {
        if let Some(l) = p
            .logical_id
            .as_deref()
            .filter(|_| view.pending_is_member(p))
        {
            let e = slots.entry(l).or_default();
            e.0 += 1;
            e.1 |= is_new(view, Member::Pending(j));
        }
    }
    for id in view.spec.logical_ids().unwrap_or_default() {
        match slots.get(id.as_str()) {
            None => t.create += 1,
            Some(&(n, has_new)) => {
                t.destroy += n - 1;
                if has_new { t.keep += 1 } else { t.roll += 1 }
            }
        }
    }
    t
}

fn is_new(view: &View<'_>, m: Member) -> bool {
    match m {
        Member::Seen(i) => view.seen[i].up_to_date,
        Member::Pending(j) => view.pending[j].hash == view.target,
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
