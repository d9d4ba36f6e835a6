//! Builders shared by the unit, property and simulation tests.

use crate::observe::{Health, InstanceState, Observed, ObservedInstance};
use crate::plan::{Action, Plan};
use crate::spec::GroupSpec;
use crate::time::Time;
use serde_json::{Value, json};

/// A spec under construction, as JSON.
pub(crate) struct SpecBuilder(Value);

/// A cattle group `g` of `size` instances with Instance Note `v1`.
pub(crate) fn cattle(size: u32) -> SpecBuilder {
    SpecBuilder(json!({"ID": "g", "Properties": {
        "Allocation": {"Size": size},
        "Instance": {"Plugin": "instance-file", "Properties": {"Note": "v1"}},
        "Flavor": {"Plugin": "flavor-vanilla", "Properties": {"Init": ["echo hi"]}}}}))
}

/// A pet group `g` with these logical IDs.
pub(crate) fn pets(ids: &[&str]) -> SpecBuilder {
    let mut b = cattle(0);
    b.0["Properties"]["Allocation"] = json!({ "LogicalIDs": ids });
    b
}

// === impl SpecBuilder ===

impl SpecBuilder {
    /// Sets the Instance Note (changes the config hash).
    pub(crate) fn note(mut self, note: &str) -> Self {
        self.0["Properties"]["Instance"]["Properties"]["Note"] = json!(note);
        self
    }

    /// Sets a policy section (`Updating`, `Health`, `Remediation`).
    pub(crate) fn section(mut self, name: &str, v: Value) -> Self {
        self.0["Properties"][name] = v;
        self
    }

    /// Parses the spec.
    pub(crate) fn build(self) -> GroupSpec {
        match GroupSpec::from_json(&self.0) {
            Ok(s) => s,
            Err(e) => panic!("invalid test spec: {e}"),
        }
    }
}

/// A running instance of `spec`'s configuration, healthy since `t`, first seen at `t`.
pub(crate) fn healthy(id: &str, spec: &GroupSpec, t: u64) -> ObservedInstance {
    ObservedInstance::new(id, Time::from_secs(t))
        .with_hash(spec.config_hash())
        .with_health(Health::Healthy, Time::from_secs(t))
}

/// `n` healthy cattle instances `i-0`.. of `spec`'s configuration, seen at time 0.
pub(crate) fn healthy_group(spec: &GroupSpec, n: usize) -> Observed {
    Observed::new(
        (0..n)
            .map(|i| healthy(&format!("i-{i}"), spec, 0))
            .collect(),
    )
}

/// Applies a plan's actions to an observation, as a perfect provider would: provisions appear
/// healthy at `now`, destroys disappear, labels apply, terminating instances finish.
pub(crate) fn apply(observed: &mut Observed, plan: &Plan, now: Time) {
    observed
        .instances
        .retain(|i| i.state != InstanceState::Terminating);
    for a in &plan.actions {
        match a {
            Action::Provision {
                token,
                logical_id,
                hash,
                ..
            } => {
                let mut i = ObservedInstance::new(format!("i-{token}"), now)
                    .with_hash(hash.clone())
                    .with_token(token.clone())
                    .with_health(Health::Healthy, now);
                i.logical_id = logical_id.clone();
                observed.instances.push(i);
            }
            Action::Destroy { id, .. } => observed.instances.retain(|i| &i.id != id),
            Action::Label { id, tags, .. } => {
                for i in observed.instances.iter_mut().filter(|i| &i.id == id) {
                    if let Some(h) = tags.get(infrakit_model::tags::CONFIG_HASH) {
                        i.hash = Some(h.clone());
                    }
                    if let Some(l) = tags.get(infrakit_model::tags::LOGICAL_ID) {
                        i.logical_id = Some(l.clone());
                    }
                }
            }
        }
    }
}

/// The provisions of a plan.
pub(crate) fn provisions(plan: &Plan) -> Vec<&Action> {
    plan.actions
        .iter()
        .filter(|a| matches!(a, Action::Provision { .. }))
        .collect()
}

/// The IDs destroyed by a plan, in order.
pub(crate) fn destroyed(plan: &Plan) -> Vec<&str> {
    plan.actions
        .iter()
        .filter_map(|a| match a {
            Action::Destroy { id, .. } => Some(id.as_str()),
            _ => None,
        })
        .collect()
}

/// A small deterministic random number generator (SplitMix64) for generated cases and the
/// simulation: reproducible from its seed, no dependency.
pub(crate) struct Rng(u64);

// === impl Rng ===

impl Rng {
    /// A generator seeded with `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    /// True with probability `percent`%.
    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One element of a non-empty slice.
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}
