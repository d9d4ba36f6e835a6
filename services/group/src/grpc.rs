//! The production ports: gRPC clients of the instance and flavor plugins, found by name
//! through the discovery service or the plugins directory. Channels are cached per plugin and
//! reconnect by themselves; a plugin whose call failed at the transport is looked up again on
//! the next call (which, for a name served by several replicas, connects to the first of them
//! that accepts a connection).

use crate::ports::{BoxFuture, Change, ChangeStream, FlavorPort, InstancePort, Listing, Verdict};
use infrakit_group_core::Health;
use infrakit_model::{PluginName, tags};
use infrakit_runtime::dial::{DialError, DialOptions, dial};
use infrakit_spi::flavor::v1::flavor_client::FlavorClient;
use infrakit_spi::flavor::v1::{
    Allocation, DrainRequest, Health as SpiHealth, HealthyRequest, PrepareRequest,
    ValidateRequest as FlavorValidate,
};
use infrakit_spi::instance::v1::instance_client::InstanceClient;
use infrakit_spi::instance::v1::{
    DescribeInstancesRequest, DestroyReason, DestroyRequest, Fence, InstanceDescription,
    InstanceEvent, InstanceEventKind, InstanceSpec, LabelRequest, ProvisionRequest,
    ValidateRequest as InstanceValidate, WatchInstancesRequest,
};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_stream::StreamExt;
use tonic::transport::Channel;
use tonic::{Code, Status};

/// The largest message a plugin may send (a DescribeInstances of 100,000 instances fits).
const MAX_MESSAGE: usize = 256 * 1024 * 1024;

/// Dials plugins by name and caches the channels.
#[derive(Clone, Debug)]
pub struct GrpcPlugins {
    dir: PathBuf,
    opts: DialOptions,
    cache: Arc<Mutex<HashMap<String, Channel>>>,
}

// === impl GrpcPlugins ===

impl GrpcPlugins {
    /// Plugins found in `dir` (and through the discovery service there).
    pub fn new(dir: PathBuf, opts: DialOptions) -> Self {
        Self {
            dir,
            opts,
            cache: Arc::default(),
        }
    }

    async fn channel(&self, name: &PluginName) -> Result<Channel, DialError> {
        if let Some(ch) = self.lock().get(&name.lookup) {
            return Ok(ch.clone());
        }
        // Boxed: dialing (rare) has a large future, which would otherwise size every call.
        let ch = Box::pin(dial(&name.lookup, &self.dir, &self.opts))
            .await?
            .channel;
        self.lock().insert(name.lookup.clone(), ch.clone());
        Ok(ch)
    }

    /// Drops the cached channel of a plugin whose call failed at the transport, so the next
    /// call looks it up again (it may have restarted elsewhere).
    fn forget_on(&self, name: &PluginName, st: &Status) {
        if matches!(
            st.code(),
            Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::Unknown
        ) {
            self.lock().remove(&name.lookup);
        }
    }

    async fn instance(&self, name: &PluginName) -> Result<InstanceClient<Channel>, Status> {
        let ch = self.channel(name).await.map_err(unreachable)?;
        Ok(InstanceClient::new(ch)
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE))
    }

    async fn flavor(&self, name: &PluginName) -> Result<FlavorClient<Channel>, Status> {
        let ch = self.channel(name).await.map_err(unreachable)?;
        Ok(FlavorClient::new(ch))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Channel>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets the channel when the transport failed; passes the result on.
    fn checked<T>(&self, name: &PluginName, r: Result<T, Status>) -> Result<T, Status> {
        if let Err(st) = &r {
            self.forget_on(name, st);
        }
        r
    }
}

fn unreachable(e: DialError) -> Status {
    Status::unavailable(e.to_string())
}

fn timed<T>(msg: T, timeout: Duration) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.set_timeout(timeout);
    r
}

/// The answer of a call bounded by `tokio::time::timeout` (a server that ignores the deadline
/// header cannot hold us). A plain function over the finished result rather than a wrapping
/// future: every layer of async wrapping copies the (large) call future into its own state,
/// and the boxed future of a port call is allocated and moved once per call.
fn bounded<T>(
    r: Result<Result<T, Status>, tokio::time::error::Elapsed>,
    timeout: Duration,
    what: &str,
) -> Result<T, Status> {
    r.unwrap_or_else(|_| {
        Err(Status::deadline_exceeded(format!(
            "{what} timed out after {timeout:?}"
        )))
    })
}

fn subtype(name: &PluginName) -> String {
    name.subtype_or_default().to_string()
}

impl InstancePort for GrpcPlugins {
    fn validate(
        &self,
        plugin: &PluginName,
        properties: Vec<u8>,
    ) -> BoxFuture<'_, Result<(), Status>> {
        let plugin = plugin.clone();
        Box::pin(async move {
            let mut c = self.instance(&plugin).await?;
            let req = InstanceValidate {
                r#type: subtype(&plugin),
                properties,
            };
            let r = c.validate(req).await.map(|_| ());
            self.checked(&plugin, r)
        })
    }

    fn describe(
        &self,
        plugin: &PluginName,
        group: &str,
        unless_revision: u64,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<Listing, Status>> {
        let plugin = plugin.clone();
        let req = DescribeInstancesRequest {
            r#type: subtype(&plugin),
            tags: [(tags::GROUP.to_string(), group.to_string())].into(),
            properties: false,
            unless_revision,
        };
        Box::pin(async move {
            let mut c = self.instance(&plugin).await?;
            let r = tokio::time::timeout(timeout, c.describe_instances(timed(req, timeout))).await;
            let r = bounded(r, timeout, "DescribeInstances").map(|r| {
                let r = r.into_inner();
                Listing {
                    instances: r.instances,
                    revision: r.revision,
                    // Only an answer to a revision that was asked about can say "unchanged".
                    unchanged: r.unchanged && unless_revision != 0 && r.revision == unless_revision,
                }
            });
            self.checked(&plugin, r)
        })
    }

    fn provision(
        &self,
        plugin: &PluginName,
        spec: InstanceSpec,
        fence: Option<Fence>,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<String, Status>> {
        let plugin = plugin.clone();
        Box::pin(async move {
            let mut c = self.instance(&plugin).await?;
            let req = ProvisionRequest {
                fence,
                r#type: subtype(&plugin),
                spec: Some(spec),
            };
            let r = tokio::time::timeout(timeout, c.provision(timed(req, timeout))).await;
            let r = bounded(r, timeout, "Instance.Provision").map(|r| r.into_inner().id);
            self.checked(&plugin, r)
        })
    }

    fn destroy(
        &self,
        plugin: &PluginName,
        id: String,
        reason: DestroyReason,
        fence: Option<Fence>,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<(), Status>> {
        let plugin = plugin.clone();
        Box::pin(async move {
            let mut c = self.instance(&plugin).await?;
            let req = DestroyRequest {
                fence,
                r#type: subtype(&plugin),
                id,
                reason: reason as i32,
            };
            let r = tokio::time::timeout(timeout, c.destroy(timed(req, timeout))).await;
            let r = bounded(r, timeout, "Instance.Destroy").map(|_| ());
            self.checked(&plugin, r)
        })
    }

    fn label(
        &self,
        plugin: &PluginName,
        id: String,
        labels: HashMap<String, String>,
        fence: Option<Fence>,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<(), Status>> {
        let plugin = plugin.clone();
        Box::pin(async move {
            let mut c = self.instance(&plugin).await?;
            let req = LabelRequest {
                fence,
                r#type: subtype(&plugin),
                id,
                labels,
            };
            let r = tokio::time::timeout(timeout, c.label(timed(req, timeout))).await;
            let r = bounded(r, timeout, "Instance.Label").map(|_| ());
            self.checked(&plugin, r)
        })
    }

    fn watch(
        &self,
        plugin: &PluginName,
        group: Option<&str>,
        since: u64,
    ) -> BoxFuture<'_, Result<ChangeStream, Status>> {
        let plugin = plugin.clone();
        let req = WatchInstancesRequest {
            r#type: subtype(&plugin),
            tags: group
                .map(|g| [(tags::GROUP.to_string(), g.to_string())].into())
                .unwrap_or_default(),
            since_revision: since,
        };
        Box::pin(async move {
            let mut c = self.instance(&plugin).await?;
            let r = c.watch_instances(req).await;
            let s = self.checked(&plugin, r)?.into_inner();
            Ok(Box::pin(s.map(|m| m.map(change))) as ChangeStream)
        })
    }
}

/// An event of WatchInstances as a change to the members. Anything not understood, an event
/// without its instance, or one without a sequence (a plugin that does not number its events
/// cannot be followed change by change) is a reason to list again.
pub(crate) fn change(ev: InstanceEvent) -> Change {
    let sequence = ev.sequence;
    if sequence == 0 {
        return Change::Resync;
    }
    match (InstanceEventKind::try_from(ev.kind), ev.instance) {
        (Ok(InstanceEventKind::Gone), Some(mut i)) => Change::Gone {
            sequence,
            group: i.tags.remove(tags::GROUP),
            id: i.id,
        },
        (
            Ok(
                InstanceEventKind::Created
                | InstanceEventKind::TagsChanged
                | InstanceEventKind::StateChanged,
            ),
            Some(instance),
        ) => Change::Upsert { sequence, instance },
        _ => Change::Resync,
    }
}

impl FlavorPort for GrpcPlugins {
    fn validate(
        &self,
        plugin: &PluginName,
        properties: Vec<u8>,
        allocation: Allocation,
    ) -> BoxFuture<'_, Result<(), Status>> {
        let plugin = plugin.clone();
        Box::pin(async move {
            let mut c = self.flavor(&plugin).await?;
            let req = FlavorValidate {
                r#type: subtype(&plugin),
                properties,
                allocation: Some(allocation),
            };
            let r = c.validate(req).await.map(|_| ());
            self.checked(&plugin, r)
        })
    }

    fn prepare(
        &self,
        plugin: &PluginName,
        request: PrepareRequest,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<InstanceSpec, Status>> {
        let plugin = plugin.clone();
        Box::pin(async move {
            let mut c = self.flavor(&plugin).await?;
            let r = tokio::time::timeout(timeout, c.prepare(timed(request, timeout))).await;
            let r = bounded(r, timeout, "Flavor.Prepare")
                .map(|r| r.into_inner().spec.unwrap_or_default());
            self.checked(&plugin, r)
        })
    }

    fn healthy(
        &self,
        plugin: &PluginName,
        properties: Vec<u8>,
        instance: InstanceDescription,
        timeout: Duration,
    ) -> BoxFuture<'_, Verdict> {
        let plugin = plugin.clone();
        Box::pin(async move {
            let mut c = match self.flavor(&plugin).await {
                Ok(c) => c,
                Err(st) => {
                    return Verdict::unknown(format!(
                        "flavor plugin {:?}: {}",
                        plugin.lookup,
                        st.message()
                    ));
                }
            };
            let req = HealthyRequest {
                r#type: subtype(&plugin),
                properties,
                instance: Some(instance),
            };
            let r = tokio::time::timeout(timeout, c.healthy(timed(req, timeout))).await;
            match self.checked(&plugin, bounded(r, timeout, "Flavor.Healthy")) {
                Ok(r) => {
                    let r = r.into_inner();
                    let health = match r.health() {
                        SpiHealth::Healthy => Health::Healthy,
                        SpiHealth::Unhealthy => Health::Unhealthy,
                        SpiHealth::Unknown => Health::Unknown,
                    };
                    Verdict {
                        health,
                        reason: r.reason,
                        recheck_after: r.recheck_after.and_then(|d| Duration::try_from(d).ok()),
                    }
                }
                Err(st) => Verdict::unknown(format!("Healthy failed: {}", st.message())),
            }
        })
    }

    fn drain(
        &self,
        plugin: &PluginName,
        properties: Vec<u8>,
        instance: InstanceDescription,
        fence: Option<Fence>,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<(), Status>> {
        let plugin = plugin.clone();
        Box::pin(async move {
            let mut c = self.flavor(&plugin).await?;
            let req = DrainRequest {
                fence,
                r#type: subtype(&plugin),
                properties,
                instance: Some(instance),
            };
            let r = tokio::time::timeout(timeout, c.drain(timed(req, timeout))).await;
            let r = bounded(r, timeout, "Flavor.Drain").map(|_| ());
            self.checked(&plugin, r)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: InstanceEventKind, sequence: u64) -> InstanceEvent {
        InstanceEvent {
            kind: kind as i32,
            instance: Some(InstanceDescription {
                id: "i-1".into(),
                tags: [(tags::GROUP.to_string(), "g".to_string())].into(),
                ..Default::default()
            }),
            sequence,
        }
    }

    #[test]
    fn numbered_events_become_changes_and_anything_else_a_resync() {
        assert_eq!(
            change(event(InstanceEventKind::Gone, 7)),
            Change::Gone {
                sequence: 7,
                id: "i-1".into(),
                group: Some("g".into())
            }
        );
        assert!(matches!(
            change(event(InstanceEventKind::StateChanged, 8)),
            Change::Upsert { sequence: 8, .. }
        ));
        // Unnumbered (a plugin that cannot be followed change by change), unknown, or
        // without its instance: list again.
        assert_eq!(change(event(InstanceEventKind::Created, 0)), Change::Resync);
        let mut unknown = event(InstanceEventKind::Created, 9);
        unknown.kind = 99;
        assert_eq!(change(unknown), Change::Resync);
        let mut bare = event(InstanceEventKind::Created, 10);
        bare.instance = None;
        assert_eq!(change(bare), Change::Resync);
    }
}
