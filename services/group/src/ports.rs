//! The seam between the driver and the world: the instance and flavor plugins, the store, and
//! the clock, each behind a small trait. Production uses [`crate::grpc::GrpcPlugins`],
//! [`crate::store::FileStore`] and [`TokioClock`]; the driver's tests use in-memory fakes and
//! tokio's paused time.
//!
//! Calls return `tonic::Status` errors as the plugins sent them (or as the transport made
//! them): the driver tells a definite "no" from a lost answer by the status code.

use infrakit_group_core::{GroupState, Health, Time};
use infrakit_model::PluginName;
use infrakit_spi::flavor::v1::PrepareRequest;
use infrakit_spi::instance::v1::{DestroyReason, Fence, InstanceDescription, InstanceSpec};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tokio_stream::Stream;
use tonic::Status;

/// A boxed future, so the ports can be used as trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The changes to a group's members pushed by WatchInstances.
pub type ChangeStream = Pin<Box<dyn Stream<Item = Result<Change, Status>> + Send>>;

/// One change pushed by WatchInstances.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// Changes may have been lost: the members must be listed again.
    Resync,
    /// An instance appeared or changed: its description now (without Properties).
    Upsert {
        /// The plugin's event sequence.
        sequence: u64,
        /// The instance.
        instance: InstanceDescription,
    },
    /// An instance is gone.
    Gone {
        /// The plugin's event sequence.
        sequence: u64,
        /// The instance ID.
        id: String,
        /// The group it was a member of (its group tag), if any.
        group: Option<String>,
    },
}

/// The members of a group as DescribeInstances listed them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Listing {
    /// The members.
    pub instances: Vec<InstanceDescription>,
    /// The sequence of the newest change event the listing reflects; 0 when the plugin does
    /// not number its listings (the members must then be listed on every pass).
    pub revision: u64,
    /// Nothing changed since the revision the caller gave (`instances` is then empty).
    pub unchanged: bool,
}

/// The Instance SPI as the driver uses it.
pub trait InstancePort: Send + Sync + 'static {
    /// Instance.Validate.
    fn validate(
        &self,
        plugin: &PluginName,
        properties: Vec<u8>,
    ) -> BoxFuture<'_, Result<(), Status>>;
    /// DescribeInstances of the group's members (tagged with its ID), within `timeout`; just
    /// "unchanged" when `unless_revision` (if not 0) is still the plugin's revision.
    fn describe(
        &self,
        plugin: &PluginName,
        group: &str,
        unless_revision: u64,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<Listing, Status>>;
    /// Instance.Provision; returns the instance ID.
    fn provision(
        &self,
        plugin: &PluginName,
        spec: InstanceSpec,
        fence: Option<Fence>,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<String, Status>>;
    /// Instance.Destroy.
    fn destroy(
        &self,
        plugin: &PluginName,
        id: String,
        reason: DestroyReason,
        fence: Option<Fence>,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<(), Status>>;
    /// Instance.Label.
    fn label(
        &self,
        plugin: &PluginName,
        id: String,
        labels: HashMap<String, String>,
        fence: Option<Fence>,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<(), Status>>;
    /// WatchInstances of the members of `group` (`None`: of every instance of the plugin),
    /// resuming after revision `since` (0: from a RESYNC); UNIMPLEMENTED when the plugin
    /// cannot watch.
    fn watch(
        &self,
        plugin: &PluginName,
        group: Option<&str>,
        since: u64,
    ) -> BoxFuture<'_, Result<ChangeStream, Status>>;
}

/// The Flavor SPI as the driver uses it.
pub trait FlavorPort: Send + Sync + 'static {
    /// Flavor.Validate.
    fn validate(
        &self,
        plugin: &PluginName,
        properties: Vec<u8>,
        allocation: infrakit_spi::flavor::v1::Allocation,
    ) -> BoxFuture<'_, Result<(), Status>>;
    /// Flavor.Prepare; returns the spec to provision.
    fn prepare(
        &self,
        plugin: &PluginName,
        request: PrepareRequest,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<InstanceSpec, Status>>;
    /// Flavor.Healthy; a failed call is an Unknown verdict.
    fn healthy(
        &self,
        plugin: &PluginName,
        properties: Vec<u8>,
        instance: InstanceDescription,
        timeout: Duration,
    ) -> BoxFuture<'_, Verdict>;
    /// Flavor.Drain.
    fn drain(
        &self,
        plugin: &PluginName,
        properties: Vec<u8>,
        instance: InstanceDescription,
        fence: Option<Fence>,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<(), Status>>;
}

/// A flavor's answer about one instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The health.
    pub health: Health,
    /// Why, in the flavor's words.
    pub reason: String,
    /// When the flavor wants to be asked again (`None`: at the health interval).
    pub recheck_after: Option<Duration>,
}

// === impl Verdict ===

impl Verdict {
    /// The verdict when the flavor could not be asked: Unknown, asked again at the health
    /// interval.
    pub fn unknown(reason: String) -> Self {
        Self {
            health: Health::Unknown,
            reason,
            recheck_after: None,
        }
    }
}

/// What is persisted for one group.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Record {
    /// The committed spec, as JSON (`{"ID": ..., "Properties": ...}`).
    pub spec: serde_json::Value,
    /// The controller's memory of the group.
    pub state: GroupState,
}

/// Where committed specs and group state are kept. Writes complete (durably) before they
/// return; the driver acts only after a successful write.
///
/// `epoch` is this controller's ownership of the group: 0 for a store without a coordinator
/// (the file store), else the epoch of the claim, and a store shared by several controllers
/// refuses the write when the group has been claimed since (the fence of a deposed owner).
pub trait StorePort: Send + Sync + 'static {
    /// Every stored group, by ID.
    fn load_all(&self) -> BoxFuture<'_, Result<Vec<(String, Record)>, String>>;
    /// Stores the first record of a group this controller does not manage yet, and claims it;
    /// returns the epoch. Fails, naming the owner, when a shared store has the group already.
    fn create(&self, id: &str, record: Record) -> BoxFuture<'_, Result<u64, String>> {
        let id = id.to_string();
        Box::pin(async move { self.save(&id, record, 0).await.map(|()| 0) })
    }
    /// Saves a group's record, replacing the previous one.
    fn save(&self, id: &str, record: Record, epoch: u64) -> BoxFuture<'_, Result<(), String>>;
    /// Forgets a group. Removing a missing record succeeds.
    fn remove(&self, id: &str, epoch: u64) -> BoxFuture<'_, Result<(), String>>;
    /// Whether this controller may call the plugins now. A store shared by several controllers
    /// says no once its claims may have lapsed (the lease not renewed in time), at once, even
    /// before the groups are released: a controller frozen and woken up must not send one more
    /// call. Always yes without a coordinator.
    fn may_act(&self) -> bool {
        true
    }
}

/// The controller's clock, in the planner's wall-clock [`Time`].
pub trait Clock: Send + Sync + 'static {
    /// Now.
    fn now(&self) -> Time;
}

/// The wall clock read once at start, then advanced by tokio's monotonic clock: immune to wall
/// clock jumps while running, and driven by tokio's paused time in tests.
#[derive(Clone, Debug)]
pub struct TokioClock {
    base: Time,
    start: tokio::time::Instant,
}

// === impl TokioClock ===

impl TokioClock {
    /// A clock that reads `base` now.
    pub fn starting_at(base: Time) -> Self {
        Self {
            base,
            start: tokio::time::Instant::now(),
        }
    }

    /// A clock that reads the system's wall clock now.
    pub fn system() -> Self {
        Self::starting_at(crate::wall_clock())
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Time {
        self.base.after(self.start.elapsed())
    }
}

/// Everything the driver talks to, shared by the manager and every group's worker.
#[derive(Clone)]
pub struct Ports {
    /// The instance plugins.
    pub instance: std::sync::Arc<dyn InstancePort>,
    /// The flavor plugins.
    pub flavor: std::sync::Arc<dyn FlavorPort>,
    /// Where groups are persisted.
    pub store: std::sync::Arc<dyn StorePort>,
    /// The clock.
    pub clock: std::sync::Arc<dyn Clock>,
}

impl std::fmt::Debug for Ports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ports").finish_non_exhaustive()
    }
}
