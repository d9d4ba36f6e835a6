//! What the driver saw: a complete snapshot of the instances that carry the group's tag.
//!
//! # Assumptions
//!
//! An [`Observed`] is always *complete*: every instance plugin the group uses answered
//! DescribeInstances in full. When a describe fails or times out, the driver must not build an
//! `Observed` (an empty list would read as "every instance is gone"); it calls
//! [`crate::plan::plan_degraded`] instead. Instances without the group's tag must not be in
//! the snapshot: the group never touches them.

use crate::time::Time;

/// A complete snapshot of the group's members.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Observed {
    /// Every instance carrying the group's tag, in any order.
    pub instances: Vec<ObservedInstance>,
}

/// One instance as listed by its instance plugin, with the flavor's health verdict.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ObservedInstance {
    /// The instance ID given by the instance plugin.
    pub id: String,
    /// The logical ID (pets), from the description or the `infrakit.logical_id` tag.
    pub logical_id: Option<String>,
    /// The `infrakit.config.hash` tag. The special value `bootstrap` means "adopt me with the
    /// current hash", as in InfraKit.
    pub hash: Option<String>,
    /// The `infrakit.provision.token` tag, linking the instance to the Provision that made it.
    pub token: Option<String>,
    /// The lifecycle state reported by the instance plugin.
    pub state: InstanceState,
    /// The flavor's health verdict.
    pub health: Health,
    /// The flavor's reason for the verdict, shown in status messages.
    pub health_reason: String,
    /// When the driver first listed this instance.
    pub first_seen: Time,
    /// When the current `health` value began (the driver keeps it across listings).
    pub health_since: Time,
}

/// The lifecycle state of an instance, as reported by its instance plugin.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum InstanceState {
    /// The plugin does not report a state (treated as running).
    #[default]
    Unknown,
    /// Being created.
    Pending,
    /// Up.
    Running,
    /// Being destroyed: no longer a member, never destroyed again.
    Terminating,
    /// Broken beyond repair: replaced like an unhealthy instance, without waiting.
    Failed,
}

/// The flavor's verdict on an instance.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// No verdict (yet): never acted upon, never counted as available.
    #[default]
    Unknown,
    /// Serving.
    Healthy,
    /// Not serving: replaced after `Health.GracePeriod` and `Health.UnhealthyAfter`.
    Unhealthy,
}

// === impl Observed ===

impl Observed {
    /// A snapshot of these instances.
    pub fn new(instances: Vec<ObservedInstance>) -> Self {
        Self { instances }
    }
}

// === impl ObservedInstance ===

impl ObservedInstance {
    /// A running instance first seen at `first_seen`, with no tags and unknown health.
    pub fn new(id: impl Into<String>, first_seen: Time) -> Self {
        Self {
            id: id.into(),
            logical_id: None,
            hash: None,
            token: None,
            state: InstanceState::Running,
            health: Health::Unknown,
            health_reason: String::new(),
            first_seen,
            health_since: first_seen,
        }
    }

    /// The same instance with a config hash tag.
    pub fn with_hash(mut self, hash: impl Into<String>) -> Self {
        self.hash = Some(hash.into());
        self
    }

    /// The same instance with a logical ID.
    pub fn with_logical_id(mut self, logical_id: impl Into<String>) -> Self {
        self.logical_id = Some(logical_id.into());
        self
    }

    /// The same instance with a provision token tag.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The same instance with a health verdict that began at `since`.
    pub fn with_health(mut self, health: Health, since: Time) -> Self {
        self.health = health;
        self.health_since = since;
        self
    }

    /// The same instance in another lifecycle state.
    pub fn with_state(mut self, state: InstanceState) -> Self {
        self.state = state;
        self
    }
}

// === impl Health ===

impl Health {
    /// `healthy`, `unhealthy` or `unknown`, as in DescribeGroup.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
        }
    }
}

// === impl InstanceState ===

impl InstanceState {
    /// The lower-case name, as in DescribeGroup.
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceState::Unknown => "unknown",
            InstanceState::Pending => "pending",
            InstanceState::Running => "running",
            InstanceState::Terminating => "terminating",
            InstanceState::Failed => "failed",
        }
    }
}
