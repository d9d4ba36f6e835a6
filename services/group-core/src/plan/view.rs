//! The planner's view of one observation: every instance classified once (member or stray,
//! up to date, leaving, available), expectations matched against the listing, and the counts
//! the decisions need. Built in one pass with hash maps, so planning stays linear.

use super::action::Action;
use crate::observe::{Health, InstanceState, Observed, ObservedInstance};
use crate::spec::GroupSpec;
use crate::state::{
    DESTROY_TIMEOUT, GroupState, PROVISION_TIMEOUT, PendingDestroy, PendingProvision,
};
use crate::time::Time;
use infrakit_model::tags;
use std::collections::{BTreeMap, HashMap, HashSet};

/// The `hash` tag value that asks the group to adopt an instance with its current hash.
pub const BOOTSTRAP_HASH: &str = "bootstrap";

/// One observed instance, classified.
pub(crate) struct Seen<'a> {
    pub inst: &'a ObservedInstance,
    /// From the listing, or from the provision that created it.
    pub logical_id: Option<&'a str>,
    /// Carries the committed spec's hash (or `bootstrap`).
    pub up_to_date: bool,
    /// Terminating, or destroyed by an earlier plan and still listed.
    pub leaving: bool,
    /// Healthy for at least `Updating.HealthyFor`, and not leaving or failed.
    pub available: bool,
    /// Named by DestroyInstances.
    pub requested: bool,
    /// Counts toward the group: not leaving and, for pets, holding a wanted logical ID.
    pub member: bool,
}

/// Counts over members (observed and expected).
#[derive(Default)]
pub(crate) struct Counts {
    /// Observed members and expected provisions of wanted logical IDs.
    pub members: u32,
    /// Members not on the committed hash.
    pub old: u32,
    /// Observed members on the committed hash and available.
    pub new_available: u32,
    /// Observed members available.
    pub available: u32,
    /// Everything that exists or is expected and is not leaving, strays included.
    pub total: u32,
}

/// The classified observation.
pub(crate) struct View<'a> {
    pub spec: &'a GroupSpec,
    pub now: Time,
    pub target: &'a str,
    pub seen: Vec<Seen<'a>>,
    /// Provisions still expected (not listed yet, not expired).
    pub pending: Vec<&'a PendingProvision>,
    /// Listed provisions whose instance still lacks its logical ID label (not expected any more).
    pub relabelling: Vec<PendingProvision>,
    /// Destroys still expected to disappear from the listing.
    pub leaving: Vec<PendingDestroy>,
    /// Some expectation was met: the last actions worked.
    pub fulfilled: bool,
    /// Expectations given up, as failure messages.
    pub expired: Vec<String>,
    /// Label actions needed to adopt instances.
    pub labels: Vec<Action>,
    /// The highest provision sequence number known.
    pub max_sequence: u64,
    /// The next instant at which time alone changes a decision.
    pub next_event: Option<Time>,
    /// Pets: wanted logical ID → position in the spec.
    pub wanted: Option<&'a HashMap<String, usize>>,
    pub counts: Counts,
}

// === impl View ===

impl<'a> View<'a> {
    /// Classifies `observed` against `spec` and `state` at `now`.
    pub(crate) fn build(
        spec: &'a GroupSpec,
        observed: &'a Observed,
        state: &'a GroupState,
        now: Time,
    ) -> Self {
        let wanted = spec.logical_ids().map(|_| spec.logical_index());
        let mut view = View {
            spec,
            now,
            target: spec.config_hash(),
            seen: Vec::with_capacity(observed.instances.len()),
            pending: Vec::new(),
            relabelling: Vec::new(),
            leaving: Vec::new(),
            fulfilled: false,
            expired: Vec::new(),
            labels: Vec::new(),
            max_sequence: state.sequence,
            next_event: None,
            wanted,
            counts: Counts::default(),
        };
        let adopted = view.adopt(observed, state);
        view.keep_pending(state, &adopted);
        view.track_leaving(observed, state);
        view.classify(state);
        view
    }

    /// Matches listed instances to expected provisions by token (or reported ID). Returns which
    /// pending entries were adopted; fills `seen` with unclassified entries.
    fn adopt(&mut self, observed: &'a Observed, state: &'a GroupState) -> Vec<bool> {
        let by_token: HashMap<&str, usize> = state
            .pending
            .iter()
            .enumerate()
            .map(|(i, p)| (p.token.as_str(), i))
            .collect();
        let by_id: HashMap<&str, usize> = state
            .pending
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.instance_id.as_deref().map(|id| (id, i)))
            .collect();
        let mut adopted = vec![false; state.pending.len()];
        let group = self.spec.id();
        for inst in &observed.instances {
            let token = inst.token.as_deref();
            if let Some(seq) = token.and_then(|t| token_sequence(group, t)) {
                self.max_sequence = self.max_sequence.max(seq);
            }
            let matched = token
                .and_then(|t| by_token.get(t))
                .or_else(|| by_id.get(inst.id.as_str()))
                .copied();
            let mut logical_id = inst.logical_id.as_deref();
            if let Some(i) = matched {
                let p = &state.pending[i];
                adopted[i] = true;
                self.fulfilled |= !p.listed;
                if logical_id.is_none() {
                    logical_id = p.logical_id.as_deref();
                    if let Some(l) = logical_id {
                        self.labels.push(label(
                            &inst.id,
                            tags::LOGICAL_ID,
                            l,
                            "adopting the logical ID of the provision that created it",
                        ));
                        let mut keep = p.clone();
                        keep.listed = true;
                        keep.instance_id = Some(inst.id.clone());
                        self.relabelling.push(keep);
                    }
                }
            }
            let up_to_date = match inst.hash.as_deref() {
                Some(BOOTSTRAP_HASH) => {
                    self.labels.push(label(
                        &inst.id,
                        tags::CONFIG_HASH,
                        self.target,
                        "adopting an instance tagged bootstrap",
                    ));
                    true
                }
                Some(h) => h == self.target,
                None => false,
            };
            self.seen.push(Seen {
                inst,
                logical_id,
                up_to_date,
                leaving: false,
                available: false,
                requested: false,
                member: false,
            });
        }
        adopted
    }

    /// Keeps the provisions not yet listed; gives up those older than [`PROVISION_TIMEOUT`].
    fn keep_pending(&mut self, state: &'a GroupState, adopted: &[bool]) {
        for (p, _) in state.pending.iter().zip(adopted).filter(|(_, a)| !**a) {
            self.max_sequence = self.max_sequence.max(p.sequence);
            if p.listed {
                continue; // listed once, now gone: nothing is expected any more
            }
            let expires = p.issued_at.after(PROVISION_TIMEOUT);
            if self.now >= expires {
                self.expired.push(format!(
                    "provision {} was not listed within {}s; it may have been lost",
                    p.token,
                    PROVISION_TIMEOUT.as_secs()
                ));
            } else {
                self.event_at(expires);
                self.pending.push(p);
            }
        }
    }

    /// Matches expected destroys against the listing.
    fn track_leaving(&mut self, observed: &Observed, state: &GroupState) {
        if state.leaving.is_empty() {
            return;
        }
        let listed: HashSet<&str> = observed.instances.iter().map(|i| i.id.as_str()).collect();
        for d in &state.leaving {
            let expires = d.issued_at.after(DESTROY_TIMEOUT);
            if !listed.contains(d.id.as_str()) {
                self.fulfilled = true;
            } else if self.now >= expires {
                self.expired.push(format!(
                    "instance {} was still listed {}s after it was destroyed; destroying it again",
                    d.id,
                    DESTROY_TIMEOUT.as_secs()
                ));
            } else {
                self.event_at(expires);
                self.leaving.push(d.clone());
            }
        }
    }

    /// Classifies every seen instance and computes the counts.
    fn classify(&mut self, state: &GroupState) {
        let leaving: HashSet<&str> = self.leaving.iter().map(|d| d.id.as_str()).collect();
        let requested: HashSet<&str> = state.removal_requested.iter().map(String::as_str).collect();
        let healthy_for = self.spec.updating().healthy_for;
        let health = *self.spec.health();
        let mut next = self.next_event;
        let mut counts = Counts::default();
        for s in &mut self.seen {
            let inst = s.inst;
            s.leaving =
                inst.state == InstanceState::Terminating || leaving.contains(inst.id.as_str());
            s.requested = requested.contains(inst.id.as_str());
            s.member = !s.leaving
                && match &self.wanted {
                    None => true,
                    Some(w) => s.logical_id.is_some_and(|l| w.contains_key(l)),
                };
            let ready =
                !s.leaving && !matches!(inst.state, InstanceState::Failed | InstanceState::Pending);
            if ready && inst.health == Health::Healthy {
                let at = inst.health_since.after(healthy_for);
                s.available = self.now >= at;
                if !s.available {
                    next = min_time(next, at);
                }
            }
            if !s.leaving && inst.health == Health::Unhealthy {
                let at = inst
                    .first_seen
                    .after(health.grace_period)
                    .max(inst.health_since.after(health.unhealthy_after));
                if at > self.now {
                    next = min_time(next, at);
                }
            }
            if !s.leaving {
                counts.total += 1;
            }
            if s.member {
                counts.members += 1;
                counts.old += u32::from(!s.up_to_date);
                counts.available += u32::from(s.available);
                counts.new_available += u32::from(s.available && s.up_to_date);
            }
        }
        for p in &self.pending {
            counts.total += 1;
            if self.pending_is_member(p) {
                counts.members += 1;
                counts.old += u32::from(p.hash != self.target);
            }
        }
        self.next_event = next;
        self.counts = counts;
    }

    /// True when an expected provision fills a wanted slot (always, for cattle).
    pub(crate) fn pending_is_member(&self, p: &PendingProvision) -> bool {
        match (&self.wanted, p.logical_id.as_deref()) {
            (None, _) => true,
            (Some(w), Some(l)) => w.contains_key(l),
            (Some(_), None) => false,
        }
    }

    /// True when `s` is unhealthy now, however recently: failed, or reported unhealthy and
    /// older than `Health.GracePeriod`. Every such member counts against
    /// `Remediation.MaxUnhealthy`, so verdicts arriving at different times cannot let more
    /// replacements through than the cap.
    pub(crate) fn is_unhealthy(&self, s: &Seen<'_>) -> bool {
        if s.leaving {
            return false;
        }
        let inst = s.inst;
        inst.state == InstanceState::Failed
            || (inst.health == Health::Unhealthy
                && self.now >= inst.first_seen.after(self.spec.health().grace_period))
    }

    /// True when `s` has been unhealthy (or failed) long enough to be replaced: also without
    /// a break for `Health.UnhealthyAfter`, unless it failed.
    pub(crate) fn qualifies_for_healing(&self, s: &Seen<'_>) -> bool {
        self.is_unhealthy(s)
            && (s.inst.state == InstanceState::Failed
                || self.now
                    >= s.inst
                        .health_since
                        .after(self.spec.health().unhealthy_after))
    }

    /// Records an instant at which a decision may change.
    pub(crate) fn event_at(&mut self, at: Time) {
        if at > self.now {
            self.next_event = min_time(self.next_event, at);
        }
    }
}

/// The sequence number in one of this group's provision tokens (`<group>-<n>`).
pub(crate) fn token_sequence(group: &str, token: &str) -> Option<u64> {
    token.strip_prefix(group)?.strip_prefix('-')?.parse().ok()
}

/// The provision token for sequence `n` of `group`.
pub(crate) fn token_for(group: &str, n: u64) -> String {
    format!("{group}-{n}")
}

fn label(id: &str, tag: &str, value: &str, reason: &str) -> Action {
    Action::Label {
        id: id.to_string(),
        tags: BTreeMap::from([(tag.to_string(), value.to_string())]),
        reason: reason.to_string(),
    }
}

fn min_time(a: Option<Time>, b: Time) -> Option<Time> {
    Some(a.map_or(b, |a| a.min(b)))
}
