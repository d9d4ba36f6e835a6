//! A paused group (PauseGroup): its status line, and its rolling update's deadline after the
//! resume.
//!
//! While paused, [`super::plan()`] makes no decision about the update at all (no progress, no
//! halt, no rollback), so the deadline cannot pass during the pause. The first plan after the
//! resume adds the time spent paused to the deadline, so the update gets the time it had left.

use crate::state::{GroupState, PauseRecord, UpdateState};
use crate::time::Time;

/// The update to decide on now: the persisted one, with its deadline pushed back by the pause
/// that just ended, if any (only when the deadline had not passed before the pause began).
pub(crate) fn update_after_resume(state: &GroupState, now: Time) -> Option<UpdateState> {
    let mut u = state.update.clone()?;
    if let Some(p) = &state.resumed
        && u.deadline_at > p.since
    {
        u.deadline_at = u.deadline_at.after(now.since(p.since));
    }
    Some(u)
}

/// The status line of a paused group: `paused by <by> since <time>: <reason>`, then what that
/// means for this group.
pub(crate) fn message(p: &PauseRecord, next: &GroupState, total: u32) -> String {
    let mut text = format!("paused by {} since {}", p.by, p.since.rfc3339());
    if !p.reason.is_empty() {
        text.push_str(": ");
        text.push_str(&p.reason);
    }
    if next.destroying {
        text.push_str(&format!(
            "; the group is being destroyed ({total} instances left) and goes on once resumed"
        ));
    } else {
        text.push_str("; nothing is created, destroyed or labelled until it is resumed");
    }
    text
}
