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
            drain: match inst.state {
                InstanceState::Pending => Drain::Skip,
                InstanceState::Failed => Drain::BestEffort,
                _ if context == DestroyReason::Terminate => Drain::BestEffort,
                _ => Drain::Required,
            },
            reason,
        });
    }

    /// Number of actions decided.
    pub(crate) fn len(&self) -> usize {
        self.actions.len()
    }
}
