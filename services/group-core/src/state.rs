//! What the controller remembers between reconciles, persisted by the driver after every plan.
//!
//! The instances themselves are never stored here (their tags are the truth); the state holds
//! only what a listing cannot show: provisions and destroys issued but not yet visible
//! (expectations), the progress and memory of a rolling update, the failure backoff, and the
//! last configuration known to be good.
//!
//! # Guarantees
//!
//! A controller restarted with the last persisted `GroupState` resumes on its own: an
//! unfinished update goes on (or halts, or rolls back) from `update`, expected instances are
//! still counted, and a group being destroyed goes on being destroyed.

use crate::plan::DestroyReason;
use crate::spec::Backoff;
use crate::time::Time;
use std::time::Duration;

/// How long a provision is expected before it is given up: from the moment it is planned until
/// an instance carrying its token is listed. Long on purpose: giving up too early is what
/// makes duplicates when a provider is slow, and a lost Provision reply is rare. A failure
/// reported by the driver ([`crate::Outcome::ProvisionFailed`] through [`GroupState::apply`]) ends
/// the wait at once.
pub const PROVISION_TIMEOUT: Duration = Duration::from_secs(300);

/// How long a destroyed instance is expected to disappear from the listing; after that it is
/// destroyed again.
pub const DESTROY_TIMEOUT: Duration = Duration::from_secs(300);

/// The persisted memory of one group.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct GroupState {
    /// The rolling update in progress, if any.
    pub update: Option<UpdateState>,
    /// Provisions planned but not yet listed. They count as members, so a lagging listing
    /// never causes a second provision.
    pub pending: Vec<PendingProvision>,
    /// Destroys planned but whose instance is still listed. Those instances are neither
    /// members nor available, and are not destroyed twice.
    pub leaving: Vec<PendingDestroy>,
    /// Failures reported by the driver, and the backoff they impose.
    pub failures: Failures,
    /// Waves of replacements of unhealthy instances since the group was last all healthy.
    pub remediation: RemediationRecord,
    /// DestroyGroup was called: destroy every member, create nothing.
    pub destroying: bool,
    /// The last sequence number used in a provision token.
    pub sequence: u64,
    /// The last configuration that was fully rolled out and healthy: the rollback target.
    pub last_good: Option<LastGood>,
    /// Instances the user asked to remove (DestroyInstances): the first victims of a
    /// scale-down.
    pub removal_requested: Vec<String>,
    /// PauseGroup: while set, nothing is created, destroyed or labelled.
    pub paused: Option<PauseRecord>,
    /// The pause that ResumeGroup ended, kept until the next plan has pushed the rolling
    /// update's deadline back by the time spent paused (a pause does not eat an update's
    /// deadline). After several pauses without a plan in between, the earliest `since` is kept.
    pub resumed: Option<PauseRecord>,
}

/// Who paused a group, when and why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PauseRecord {
    /// Who paused it, as the caller said.
    pub by: String,
    /// When.
    pub since: Time,
    /// Why, as the caller said (may be empty).
    pub reason: String,
}

/// A rolling update in progress.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UpdateState {
    /// The config hash being rolled to.
    pub target_hash: String,
    /// The hash of the last good configuration when the update started, if known.
    pub previous_hash: Option<String>,
    /// When the update started.
    pub started_at: Time,
    /// When it halts unless it makes progress first.
    pub deadline_at: Time,
    /// True when this update is a rollback (a rollback is never rolled back).
    pub rollback: bool,
    /// New instances available at the last progress.
    pub done: u32,
    /// Old instances left at the last progress.
    pub remaining: u32,
    /// Why the update is paused (StopUpdate); a commit resumes it.
    pub paused: Option<String>,
    /// Why the update halted on its deadline; a commit resumes it.
    pub halted: Option<String>,
    /// For a rollback: why the update it undid was rolled back.
    pub reason: Option<String>,
}

/// A provision that was planned and not yet seen in a listing.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PendingProvision {
    /// The unique token tag the instance will carry.
    pub token: String,
    /// The sequence number in the token.
    pub sequence: u64,
    /// The logical ID (pets).
    pub logical_id: Option<String>,
    /// The config hash it is created with.
    pub hash: String,
    /// When it was planned.
    pub issued_at: Time,
    /// The instance ID, once the driver reported the Provision reply.
    pub instance_id: Option<String>,
    /// The instance was listed, but without its logical ID: the entry stays (no longer
    /// counted as expected) until the Label shows in a listing, so a lagging listing cannot
    /// make the instance look like a nameless stray. Dropped when the instance is gone.
    #[serde(default)]
    pub listed: bool,
}

/// A destroy that was planned and whose instance is still listed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PendingDestroy {
    /// The instance ID.
    pub id: String,
    /// Why it is destroyed.
    pub reason: DestroyReason,
    /// When it was planned.
    pub issued_at: Time,
}

/// Failures reported by the driver.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Failures {
    /// Failures since the last success (an expected instance appearing or disappearing).
    pub consecutive: u32,
    /// No action is planned before this instant.
    pub next_attempt_at: Option<Time>,
    /// The most recent error; cleared when the group recovers (the event log keeps it).
    pub last_error: Option<ErrorRecord>,
    /// The round whose failure was last counted in `consecutive`: further failures of the
    /// same round update `last_error` only. [`crate::plan()`] counts the expectations it gives
    /// up in the round `now.as_millis()`, so a driver that uses the pass's time in
    /// milliseconds as its round ID counts a pass once however its failures are found.
    #[serde(default)]
    pub round: Option<u64>,
    /// Where `last_error` came from, which decides when it clears.
    #[serde(default)]
    pub source: ErrorSource,
}

/// Where the last error came from, which decides when it clears (the event log keeps it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorSource {
    /// An action failed, or an expectation was given up: cleared when an expectation is
    /// fulfilled (an action worked) or the group converges.
    #[default]
    Action,
    /// The group could not be observed ([`crate::plan_degraded`]): cleared by the next plan
    /// on a complete observation.
    Observation,
}

/// An error with the time it happened.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ErrorRecord {
    /// What went wrong.
    pub message: String,
    /// When.
    pub at: Time,
}

/// Replacements of unhealthy instances since the group was last all healthy.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct RemediationRecord {
    /// Waves of replacements so far.
    pub waves: u32,
    /// The next wave may not start before this instant.
    pub next_at: Option<Time>,
    /// Instances destroyed for health since every member was last available (one per heal
    /// destroy issued; a cancelled or failed heal gives its count back). They count against
    /// `Remediation.MaxUnhealthy` as replacements in flight, at most as many as the members
    /// missing or unavailable for another reason than being unhealthy themselves.
    pub replaced: u32,
    /// When more members were unhealthy or being replaced at once than
    /// `Remediation.MaxUnhealthy` allows. From then on nothing is replaced for health until
    /// every member is available again or a commit clears it: a fault that hit that many
    /// instances at once is not fixed by replacing the rest of them.
    pub short_circuit: Option<Time>,
}

/// The last configuration fully rolled out and healthy.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LastGood {
    /// Its config hash.
    pub hash: String,
    /// The whole spec, in canonical JSON.
    pub spec: serde_json::Value,
}

/// The wait before attempt number `attempt` (1 = the first retry): `initial`, doubling each
/// attempt, capped at `max`; zero for attempt 0. Jitter is left to the driver.
pub fn retry_after(attempt: u32, initial: Duration, max: Duration) -> Duration {
    if attempt == 0 {
        return Duration::ZERO;
    }
    let factor = 1u32.checked_shl(attempt - 1).unwrap_or(u32::MAX);
    initial.checked_mul(factor).unwrap_or(max).min(max)
}

// === impl GroupState ===

impl GroupState {
    /// Records a failed action: the group backs off for
    /// `retry_after(consecutive, backoff.initial, backoff.max)` before planning any action.
    pub fn record_failure(&mut self, error: impl Into<String>, now: Time, backoff: &Backoff) {
        let f = &mut self.failures;
        f.consecutive = f.consecutive.saturating_add(1);
        f.next_attempt_at =
            Some(now.after(retry_after(f.consecutive, backoff.initial, backoff.max)));
        f.last_error = Some(ErrorRecord {
            message: error.into(),
            at: now,
        });
        f.source = ErrorSource::Action;
    }

    /// Records a failed action of `round`: the first failure of a round counts like
    /// [`GroupState::record_failure`]; later ones of the same round only update `last_error`.
    pub fn record_failure_in_round(
        &mut self,
        error: impl Into<String>,
        round: u64,
        now: Time,
        backoff: &Backoff,
    ) {
        if self.failures.round == Some(round) {
            self.failures.last_error = Some(ErrorRecord {
                message: error.into(),
                at: now,
            });
            self.failures.source = ErrorSource::Action;
            return;
        }
        self.failures.round = Some(round);
        self.record_failure(error, now, backoff);
    }

    /// PauseGroup: stops healing and updates until [`GroupState::resume`]. Returns false when
    /// the group was already paused (the first pause is kept).
    pub fn pause(&mut self, by: impl Into<String>, reason: impl Into<String>, now: Time) -> bool {
        if self.paused.is_some() {
            return false;
        }
        self.paused = Some(PauseRecord {
            by: by.into(),
            since: now,
            reason: reason.into(),
        });
        true
    }

    /// ResumeGroup: undoes [`GroupState::pause`]. Returns false when the group was not paused.
    /// The next plan pushes a rolling update's deadline back by the time spent paused.
    pub fn resume(&mut self) -> bool {
        let Some(p) = self.paused.take() else {
            return false;
        };
        self.resumed = match self.resumed.take() {
            Some(earlier) if earlier.since <= p.since => Some(earlier),
            _ => Some(p),
        };
        true
    }

    /// The Provision carrying `token` returned `instance_id`: the instance is also adopted by
    /// that ID, for plugins slow to list tags. Optional.
    pub fn provision_succeeded(&mut self, token: &str, instance_id: impl Into<String>) {
        if let Some(p) = self.pending.iter_mut().find(|p| p.token == token) {
            p.instance_id = Some(instance_id.into());
        }
    }

    /// Many provisions returned their instances: [`GroupState::provision_succeeded`] for each
    /// `(token, instance_id)`, in one pass over the expectations.
    pub fn provisions_succeeded<I: IntoIterator<Item = (String, String)>>(&mut self, results: I) {
        let by_token: std::collections::HashMap<String, String> = results.into_iter().collect();
        if by_token.is_empty() {
            return;
        }
        for p in &mut self.pending {
            if let Some(id) = by_token.get(&p.token) {
                p.instance_id = Some(id.clone());
            }
        }
    }

    /// StopUpdate: pauses the rolling update in progress (healing goes on). Returns false when
    /// no update is in progress. A commit resumes it.
    pub fn stop_update(&mut self, reason: impl Into<String>) -> bool {
        match &mut self.update {
            Some(u) => {
                u.paused = Some(reason.into());
                true
            }
            None => false,
        }
    }

    /// DestroyInstances: makes these instances the first victims of the next scale-down. The
    /// driver then commits the spec with the size reduced by as many.
    pub fn request_removal<I: IntoIterator<Item = String>>(&mut self, ids: I) {
        for id in ids {
            if !self.removal_requested.contains(&id) {
                self.removal_requested.push(id);
            }
        }
    }

    /// DestroyGroup: from now on every member is destroyed and nothing is created. Idempotent.
    pub fn start_destroying(&mut self) {
        self.destroying = true;
        self.update = None;
    }

    /// The most recent error, for the status.
    pub fn last_error(&self) -> Option<&ErrorRecord> {
        self.failures.last_error.as_ref()
    }

    /// Ends the failure backoff: something worked, or a human acted. A failure reported
    /// later, even of an earlier round, counts again.
    pub(crate) fn end_backoff(&mut self) {
        self.failures.consecutive = 0;
        self.failures.next_attempt_at = None;
        self.failures.round = None;
    }

    /// Forgets the last error: the group recovered from it.
    pub(crate) fn clear_error(&mut self) {
        self.failures.last_error = None;
        self.failures.source = ErrorSource::Action;
    }
}

/// The error the group recovered from between two states, if it did: `before` held an error
/// and `after` holds none. The driver emits a `recovered` event with this text when a plan
/// clears the error (the error itself stays in the event log).
pub fn recovered(before: &GroupState, after: &GroupState) -> Option<String> {
    match (&before.failures.last_error, &after.failures.last_error) {
        (Some(e), None) => Some(e.message.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backoff() -> Backoff {
        Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
        }
    }

    #[test]
    fn retry_after_doubles_from_initial_up_to_max() {
        let (i, m) = (Duration::from_secs(1), Duration::from_secs(60));
        let waits: Vec<u64> = (0..9).map(|a| retry_after(a, i, m).as_secs()).collect();
        assert_eq!(waits, [0, 1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(retry_after(500, i, m), m);
    }

    #[test]
    fn failures_back_off_and_keep_the_last_error() {
        let mut s = GroupState::default();
        s.record_failure("boom", Time::from_secs(10), &backoff());
        s.record_failure("boom again", Time::from_secs(11), &backoff());
        assert_eq!(s.failures.consecutive, 2);
        assert_eq!(s.failures.next_attempt_at, Some(Time::from_secs(13)));
        assert_eq!(
            s.last_error().map(|e| e.message.as_str()),
            Some("boom again")
        );
    }

    #[test]
    fn a_failed_provision_is_no_longer_expected() {
        let mut s = GroupState::default();
        s.pending.push(PendingProvision {
            token: "g-1".into(),
            sequence: 1,
            logical_id: None,
            hash: "h".into(),
            issued_at: Time(0),
            instance_id: None,
            listed: false,
        });
        let failed = crate::Outcome::ProvisionFailed {
            token: "g-1".into(),
            error: "quota".into(),
        };
        s.apply(&failed, 1, Time(5), &backoff());
        assert!(s.pending.is_empty());
        s.apply(&failed, 2, Time(6), &backoff());
        assert!(
            s.pending.is_empty(),
            "a failure of an unknown token changes no expectation"
        );
    }

    #[test]
    fn state_survives_a_json_round_trip_and_old_files_missing_fields() {
        let mut s = GroupState {
            sequence: 7,
            destroying: true,
            ..GroupState::default()
        };
        s.request_removal(["i-1".to_string(), "i-1".to_string()]);
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<GroupState>(&text).unwrap(), s);
        assert_eq!(
            serde_json::from_str::<GroupState>("{}").unwrap(),
            GroupState::default()
        );
        assert_eq!(s.removal_requested, ["i-1"]);
    }

    #[test]
    fn stop_update_needs_an_update() {
        let mut s = GroupState::default();
        assert!(!s.stop_update("user"));
    }
}
