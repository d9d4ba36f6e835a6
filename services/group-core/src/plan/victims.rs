//! Which instances go first when some must go: the scale-down priority.
//!
//! Victims are taken in this order, each rule breaking ties of the one before:
//!
//! 1. instances named by DestroyInstances;
//! 2. failed or unhealthy instances;
//! 3. instances not available (not yet healthy for `HealthyFor`, health unknown, pending,
//!    and provisions not yet listed);
//! 4. out-of-date instances (available, on an old configuration);
//! 5. the newest first (latest `first_seen`);
//! 6. the smallest instance ID (token for an expected provision), so the order is stable.
//!
//! Unavailable instances go before out-of-date ones so that a scale-down never takes away a
//! serving instance while a non-serving one remains: the count of available instances never
//! drops below what the remaining size allows.

use super::view::View;
use crate::observe::{Health, InstanceState};
use std::cmp::Reverse;

/// A member of the group: an observed instance or an expected provision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Member {
    /// Index into `View::seen`.
    Seen(usize),
    /// Index into `View::pending`.
    Pending(usize),
}

type Key<'a> = (bool, u8, Reverse<u64>, &'a str);

/// The sort key of a member: smaller goes first.
fn key<'a>(view: &'a View<'_>, m: Member) -> Key<'a> {
    match m {
        Member::Seen(i) => {
            let s = &view.seen[i];
            let broken =
                s.inst.state == InstanceState::Failed || s.inst.health == Health::Unhealthy;
            let class = match (broken, s.available, s.up_to_date) {
                (true, _, _) => 0,
                (false, false, _) => 1,
                (false, true, false) => 2,
                (false, true, true) => 3,
            };
            (
                !s.requested,
                class,
                Reverse(s.inst.first_seen.as_millis()),
                s.inst.id.as_str(),
            )
        }
        Member::Pending(j) => {
            let p = view.pending[j];
            (true, 1, Reverse(p.issued_at.as_millis()), p.token.as_str())
        }
    }
}

/// Reorders `members` so that its first `k` entries are the first `k` victims, in order, and
/// returns them. Linear time plus `k log k`.
pub(crate) fn pick(view: &View<'_>, members: &mut [Member], k: usize) -> Vec<Member> {
    let k = k.min(members.len());
    if k == 0 {
        return Vec::new();
    }
    if k < members.len() {
        members.select_nth_unstable_by(k - 1, |a, b| key(view, *a).cmp(&key(view, *b)));
    }
    let chosen = &mut members[..k];
    chosen.sort_unstable_by(|a, b| key(view, *a).cmp(&key(view, *b)));
    chosen.to_vec()
}

/// True when `a` is better to keep than `b` (the reverse of the victim order).
pub(crate) fn keeps_over(view: &View<'_>, a: Member, b: Member) -> bool {
    key(view, a) > key(view, b)
}
