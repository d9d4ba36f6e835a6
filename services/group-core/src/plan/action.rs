//! The actions a plan asks the driver to carry out, each with its reason.

use std::collections::BTreeMap;

/// Whether a destroy asks the flavor to drain the instance first (leave its cluster, hand
/// over its work), and what a drain error means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Drain {
    /// No drain: the instance never came up.
    Skip,
    /// Drain first; a drain error aborts the destroy (the driver reports it with
    /// `Outcome::DestroyFailed`, and the destroy is retried): a healthy member is never removed
    /// behind its cluster's back.
    Required,
    /// Drain first so the flavor can clean up after the instance (a swarm node, a cluster
    /// membership), but a drain error is logged and the destroy goes on: the instance has
    /// already failed, or the whole group is being destroyed.
    BestEffort,
}

/// One step for the driver. Every action carries a one-line human `reason` for events and logs.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Create one instance: Flavor.Prepare then Instance.Provision with the committed spec,
    /// tagged with the group ID, `hash` (`infrakit.config.hash`), `token`
    /// (`infrakit.provision.token`) and, for pets, the logical ID (`infrakit.logical_id`).
    Provision {
        /// The unique provision token tag.
        token: String,
        /// The logical ID, for pets.
        logical_id: Option<String>,
        /// The config hash tag (always the committed spec's hash).
        hash: String,
        /// A per-group ordinal, for Flavor.Prepare's `Index.Sequence`.
        sequence: u64,
        /// Why.
        reason: String,
    },
    /// Destroy one instance: Flavor.Drain first unless `drain` is [`Drain::Skip`], then
    /// Instance.Destroy with `context`.
    Destroy {
        /// The instance ID.
        id: String,
        /// The logical ID, for pets.
        logical_id: Option<String>,
        /// Why, in the SPI's terms (Instance.Destroy's context).
        context: DestroyReason,
        /// Whether to drain first, and what a drain error means.
        drain: Drain,
        /// Why.
        reason: String,
    },
    /// Set tags on an instance (Instance.Label), e.g. to adopt an instance tagged `bootstrap`.
    Label {
        /// The instance ID.
        id: String,
        /// The tags to set (others are kept).
        tags: BTreeMap<String, String>,
        /// Why.
        reason: String,
    },
}

/// Why an instance is destroyed; sent to the instance plugin as the destroy context.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DestroyReason {
    /// Not wanted any more: scale-down, a stray or duplicate pet, DestroyGroup.
    Terminate,
    /// Replaced by an instance of the new configuration.
    RollingUpdate,
    /// Replaced because it is unhealthy or failed.
    Heal,
}

// === impl Action ===

impl Action {
    /// `provision`, `destroy` or `label`, as in the SPI's PlannedAction.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Provision { .. } => "provision",
            Action::Destroy { .. } => "destroy",
            Action::Label { .. } => "label",
        }
    }

    /// The one-line reason.
    pub fn reason(&self) -> &str {
        match self {
            Action::Provision { reason, .. }
            | Action::Destroy { reason, .. }
            | Action::Label { reason, .. } => reason,
        }
    }

    /// The instance concerned (none for a provision).
    pub fn instance_id(&self) -> Option<&str> {
        match self {
            Action::Provision { .. } => None,
            Action::Destroy { id, .. } | Action::Label { id, .. } => Some(id),
        }
    }

    /// The logical ID concerned, if any.
    pub fn logical_id(&self) -> Option<&str> {
        match self {
            Action::Provision { logical_id, .. } | Action::Destroy { logical_id, .. } => {
                logical_id.as_deref()
            }
            Action::Label { .. } => None,
        }
    }
}

// === impl DestroyReason ===

impl DestroyReason {
    /// `terminate`, `rolling_update` or `heal`, as sent to Instance.Destroy.
    pub fn as_str(self) -> &'static str {
        match self {
            DestroyReason::Terminate => "terminate",
            DestroyReason::RollingUpdate => "rolling_update",
            DestroyReason::Heal => "heal",
        }
    }
}
