//! The plan being written: actions, and the expectations they create.

use super::action::{Action, DestroyReason, Drain};
use super::view::{View, token_for};
use crate::observe::InstanceState;
use crate::state::{PendingDestroy, PendingProvision};
use crate::time::Time;

/// Actions decided so far, with the expectations to record in the next state.
pub(crate) struct Draft {
    pub actions: Vec<Action>,
    /// Seen instances destroyed by this plan, by index into `View::seen`.
    pub destroyed: Vec<bool>,
    pub provisions: Vec<PendingProvision>,
    pub destroys: Vec<PendingDestroy>,
    pub sequence: u64,
    /// DestroyGroup is in progress: drains are best effort.
    pub destroying: bool,
    group: String,
    hash: String,
    now: Time,
}

// === impl Draft ===

impl Draft {
    /// An empty plan for `view`.
    pub(crate) fn new(view: &View<'_>) -> Self {
        Self {
            actions: Vec::new(),
            destroyed: vec![false; view.seen.len()],
            provisions: Vec::new(),
            destroys: Vec::new(),
            sequence: view.max_sequence,
            destroying: false,
            group: view.spec.id().to_string(),
            hash: view.target.to_string(),
            now: view.now,
        }
    }

    /// Provisions one instance of the committed configuration.
    pub(crate) fn provision(&mut self, logical_id: Option<&str>, reason: String) {
        self.sequence += 1;
        let token = token_for(&self.group, self.sequence);
        let logical_id = logical_id.map(str::to_string);
        self.provisions.push(PendingProvision {
            token: token.clone(),
            sequence: self.sequence,
            logical_id: logical_id.clone(),
            hash: self.hash.clone(),
            issued_at: self.now,
            instance_id: None,
            listed: false,
        });
        self.actions.push(Action::Provision {
            token,
            logical_id,
            hash: self.hash.clone(),
            sequence: self.sequence,
            reason,
        });
    }

    /// Destroys seen instance `i` (once; later calls are ignored).
    pub(crate) fn destroy(
        &mut self,
        view: &View<'_>,
        i: usize,
        context: DestroyReason,
        reason: String,
    ) {
        if self.destroyed[i] {
            return;
        }
        self.destroyed[i] = true;
        let s = &view.seen[i];
        let inst = s.inst;
        self.destroys.push(PendingDestroy {
            id: inst.id.clone(),
            reason: context,
            issued_at: self.now,
        });
        self.actions.push(Action::Destroy {
            id: inst.id.clone(),
            logical_id: s.logical_id.map(str::to_string),
            context,
            drain: drain_for(inst.state, self.destroying),
            reason,
        });
    }

    /// Number of actions decided.
    pub(crate) fn len(&self) -> usize {
        self.actions.len()
    }
}

/// How an instance in `state` is drained before its destroy:
///
/// - never came up ([`InstanceState::Pending`]): no drain, there is nothing to hand over;
/// - failed, or the whole group is being destroyed: best effort, the flavor may clean up but
///   a drain error does not keep a broken or unwanted instance alive;
/// - otherwise required, whatever the reason (scale-down, DestroyInstances, a logical ID
///   removed, a rolling update, healing): a member that may be serving is never removed
///   behind its cluster's back, and a drain error stops its destroy.
fn drain_for(state: InstanceState, destroying: bool) -> Drain {
    match state {
        InstanceState::Pending => Drain::Skip,
        InstanceState::Failed => Drain::BestEffort,
        _ if destroying => Drain::BestEffort,
        _ => Drain::Required,
    }
}
