//! The decisions of a cycle, one instance at a time, as pure functions of what Terraform
//! reported: what a refreshed plan says (created by an earlier run, lost outside Terraform,
//! failing its check) and what the state says after an apply (created, destroyed, not created).
//!
//! # What "lost" means
//! An instance Terraform has created is lost when its main resource is no longer in the
//! refreshed state: a provider's refresh found the real object gone, or someone ran
//! `terraform state rm`. It is then destroyed like any other (its extras and destroy-time
//! provisioners included), never re-created behind the group's back: it is reported
//! TERMINATING at once and then gone, so the group replaces it. An instance whose `check`
//! fails, or whose resource is tainted, is reported FAILED; the group destroys and replaces it.

use crate::record::Phase;
use crate::tfjson::{CheckStatus, PlanView, Snapshot};

/// What a plan says about one instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanVerdict {
    /// A pending instance is already in the state (e.g. created by a run that outlived an
    /// earlier plugin process).
    Created,
    /// A created instance's resource has left the state.
    Lost,
    /// The instance exists but is broken (tainted, or its check fails).
    Failing(String),
    /// The instance exists and is fine.
    Fine,
    /// Nothing can be said (not created yet, or being destroyed).
    Unknown,
}

/// What the state after an apply says about one instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApplyVerdict {
    /// Created.
    Created,
    /// Created but tainted (a creation-time provisioner failed).
    Tainted,
    /// The apply included it but did not create it.
    NotCreated,
    /// Nothing it owns is left in the state: the destroy is complete.
    Destroyed,
    /// No change.
    Unchanged,
}

/// Judges one instance by a refreshed plan. `id` names its check block.
pub fn after_plan(phase: Phase, id: &str, address: &str, plan: &PlanView) -> PlanVerdict {
    let found = plan.prior.resources.get(address);
    match (phase, found) {
        (Phase::Pending, Some(r)) if !r.tainted => PlanVerdict::Created,
        (Phase::Pending | Phase::Applied, Some(r)) if r.tainted => {
            PlanVerdict::Failing("its creation failed part-way (the resource is tainted)".into())
        }
        (Phase::Applied, None) => PlanVerdict::Lost,
        (Phase::Applied, Some(_)) => match plan.prior.checks.get(id) {
            Some(CheckStatus::Fail(m)) => PlanVerdict::Failing(format!("its check failed: {m}")),
            _ => PlanVerdict::Fine,
        },
        _ => PlanVerdict::Unknown,
    }
}

/// Judges one instance by the state after an apply. `owned` are the addresses that must leave
/// the state for a destroy to be complete; `included` says whether the apply ran on a plan that
/// saw the instance's current file.
pub fn after_apply(
    phase: Phase,
    address: &str,
    owned: &[String],
    state: &Snapshot,
    included: bool,
) -> ApplyVerdict {
    match phase {
        Phase::Destroying => {
            if owned.iter().all(|a| !state.resources.contains_key(a)) {
                ApplyVerdict::Destroyed
            } else {
                ApplyVerdict::Unchanged
            }
        }
        Phase::Pending => match state.resources.get(address) {
            Some(r) if r.tainted => ApplyVerdict::Tainted,
            Some(_) => ApplyVerdict::Created,
            None if included => ApplyVerdict::NotCreated,
            None => ApplyVerdict::Unchanged,
        },
        Phase::Applied => match state.resources.get(address) {
            Some(r) if r.tainted => ApplyVerdict::Tainted,
            _ => ApplyVerdict::Unchanged,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tfjson::Resource;

    fn snap(addrs: &[(&str, bool)]) -> Snapshot {
        Snapshot {
            resources: addrs
                .iter()
                .map(|(a, t)| {
                    (
                        a.to_string(),
                        Resource {
                            tainted: *t,
                            values: serde_json::Value::Null,
                        },
                    )
                })
                .collect(),
            checks: Default::default(),
        }
    }

    fn plan(s: Snapshot) -> PlanView {
        PlanView {
            prior: s,
            actions: Default::default(),
        }
    }

    #[test]
    fn a_created_instance_missing_from_the_refreshed_state_is_lost() {
        let p = plan(snap(&[]));
        assert_eq!(
            after_plan(Phase::Applied, "i", "t.i", &p),
            PlanVerdict::Lost
        );
        assert_eq!(
            after_plan(Phase::Pending, "i", "t.i", &p),
            PlanVerdict::Unknown
        );
        assert_eq!(
            after_plan(Phase::Destroying, "i", "t.i", &p),
            PlanVerdict::Unknown
        );
    }

    #[test]
    fn a_pending_instance_found_in_the_state_was_created_by_an_earlier_run() {
        let p = plan(snap(&[("t.i", false)]));
        assert_eq!(
            after_plan(Phase::Pending, "i", "t.i", &p),
            PlanVerdict::Created
        );
        assert_eq!(
            after_plan(Phase::Applied, "i", "t.i", &p),
            PlanVerdict::Fine
        );
    }

    #[test]
    fn failed_checks_and_taint_are_failures() {
        let mut s = snap(&[("t.i", false), ("t.j", true)]);
        s.checks
            .insert("i".into(), CheckStatus::Fail("gone".into()));
        let p = plan(s);
        assert_eq!(
            after_plan(Phase::Applied, "i", "t.i", &p),
            PlanVerdict::Failing("its check failed: gone".into())
        );
        assert!(matches!(
            after_plan(Phase::Pending, "j", "t.j", &p),
            PlanVerdict::Failing(_)
        ));
    }

    #[test]
    fn a_destroy_is_complete_when_everything_owned_has_left_the_state() {
        let owned = ["t.i".to_string(), "t.i-disk".to_string()];
        assert_eq!(
            after_apply(
                Phase::Destroying,
                "t.i",
                &owned,
                &snap(&[("t.i-disk", false)]),
                true
            ),
            ApplyVerdict::Unchanged
        );
        assert_eq!(
            after_apply(
                Phase::Destroying,
                "t.i",
                &owned,
                &snap(&[("t.other", false)]),
                false
            ),
            ApplyVerdict::Destroyed
        );
    }

    #[test]
    fn a_pending_instance_is_created_tainted_or_not_created() {
        let o = ["t.i".to_string()];
        assert_eq!(
            after_apply(Phase::Pending, "t.i", &o, &snap(&[("t.i", false)]), true),
            ApplyVerdict::Created
        );
        assert_eq!(
            after_apply(Phase::Pending, "t.i", &o, &snap(&[("t.i", true)]), true),
            ApplyVerdict::Tainted
        );
        assert_eq!(
            after_apply(Phase::Pending, "t.i", &o, &snap(&[]), true),
            ApplyVerdict::NotCreated
        );
        assert_eq!(
            after_apply(Phase::Pending, "t.i", &o, &snap(&[]), false),
            ApplyVerdict::Unchanged
        );
    }
}
