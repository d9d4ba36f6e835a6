//! The `infrakit.discovery.v1.Discovery` service.

use crate::registry::Registry;
use infrakit_model::{PluginName, suggest};
use infrakit_runtime::{ListenAddr, Shutdown};
use infrakit_spi::discovery::v1::discovery_server::Discovery;
use infrakit_spi::discovery::v1::*;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::broadcast::error::RecvError;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

/// The discovery service over a [`Registry`].
#[derive(Clone, Debug)]
pub struct DiscoveryService {
    registry: Arc<Registry>,
    shutdown: Shutdown,
}

// === impl DiscoveryService ===

impl DiscoveryService {
    /// A service over `registry`; watch streams end when `shutdown` starts.
    pub fn new(registry: Arc<Registry>, shutdown: Shutdown) -> Self {
        Self { registry, shutdown }
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<DiscoveryEvent, Status>> + Send>>;

#[tonic::async_trait]
impl Discovery for DiscoveryService {
    async fn register(
        &self,
        req: Request<RegisterRequest>,
    ) -> Result<Response<RegisterResponse>, Status> {
        let req = req.into_inner();
        let mut bad = infrakit_model::Violations::new();
        if let Err(p) = infrakit_model::name::validate_lookup(&req.name) {
            bad.push("$.name", p, "use letters, digits, '.', '_' and '-'");
        }
        match ListenAddr::parse(&req.endpoint) {
            Ok(ListenAddr::Tcp(_)) => {}
            Ok(ListenAddr::Unix(_)) => bad.push(
                "$.endpoint",
                "is a unix socket",
                "unix-socket plugins are found in the plugins directory; register only tcp://host:port endpoints",
            ),
            Err(e) => bad.push("$.endpoint", e.problem, "write tcp://host:port"),
        }
        if self
            .registry
            .get(&req.name)
            .is_some_and(|e| e.source == Source::SocketDir as i32)
        {
            return Err(Status::already_exists(format!(
                "a plugin named {:?} already listens in the plugins directory; register under another name",
                req.name
            )));
        }
        bad.into_result(())
            .map_err(|v| infrakit_runtime::status::invalid(&v))?;
        let entry = PluginEntry {
            name: req.name.clone(),
            endpoint: req.endpoint.clone(),
            tls: req.tls,
            ..Default::default()
        };
        let (expires, ttl) = self.registry.register(
            entry,
            Duration::from_secs(u64::from(req.ttl_seconds)),
            SystemTime::now(),
        );
        tracing::debug!(name = %req.name, endpoint = %req.endpoint, ?ttl, "registered");
        Ok(Response::new(RegisterResponse {
            lease_expires: Some(expires.into()),
            ttl_seconds: u32::try_from(ttl.as_secs()).unwrap_or(u32::MAX),
        }))
    }

    async fn deregister(
        &self,
        req: Request<DeregisterRequest>,
    ) -> Result<Response<DeregisterResponse>, Status> {
        let DeregisterRequest { name, endpoint } = req.into_inner();
        // Empty: every registration of the name, as before replicas existed.
        let endpoint = Some(endpoint.as_str()).filter(|e| !e.is_empty());
        if self.registry.deregister(&name, endpoint) > 0 {
            return Ok(Response::new(DeregisterResponse {}));
        }
        let registered: Vec<String> = self
            .registry
            .replicas(&name)
            .into_iter()
            .filter(|e| e.source == Source::Registered as i32)
            .map(|e| e.endpoint)
            .collect();
        Err(Status::not_found(match endpoint {
            Some(ep) if !registered.is_empty() => format!(
                "plugin {name:?} is not registered at {ep} (it is at {}); pass one of those endpoints, or none to remove them all",
                registered.join(", ")
            ),
            _ => format!("no registered plugin named {name:?}"),
        }))
    }

    async fn lookup(
        &self,
        req: Request<LookupRequest>,
    ) -> Result<Response<LookupResponse>, Status> {
        let name = req.into_inner().name;
        let parsed =
            PluginName::parse(&name).map_err(|e| Status::invalid_argument(e.to_string()))?;
        let replicas = self.registry.replicas(&parsed.lookup);
        match replicas.first() {
            Some(best) => Ok(Response::new(LookupResponse {
                plugin: Some(best.clone()),
                subtype: parsed.subtype.unwrap_or_default(),
                replicas,
            })),
            None => {
                let mut names: Vec<String> =
                    self.registry.list().into_iter().map(|p| p.name).collect();
                names.dedup();
                let mut msg = format!("no plugin named {:?}", parsed.lookup);
                if let Some(s) =
                    suggest::did_you_mean(&parsed.lookup, names.iter().map(String::as_str))
                {
                    msg.push_str(&format!("; did you mean {s:?}?"));
                }
                Err(Status::not_found(msg))
            }
        }
    }

    async fn list(&self, _req: Request<ListRequest>) -> Result<Response<ListResponse>, Status> {
        Ok(Response::new(ListResponse {
            plugins: self.registry.list(),
        }))
    }

    type WatchStream = EventStream;

    async fn watch(
        &self,
        _req: Request<WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let mut rx = self.registry.subscribe();
        let current = self.registry.list();
        let (tx, out) = tokio::sync::mpsc::channel(64);
        let shutdown = self.shutdown.clone();
        let registry = self.registry.clone();
        tokio::spawn(async move {
            for p in current {
                let ev = DiscoveryEvent {
                    kind: DiscoveryEventKind::Added as i32,
                    plugin: Some(p),
                };
                if tx.send(Ok(ev)).await.is_err() {
                    return;
                }
            }
            loop {
                let ev = tokio::select! {
                    () = shutdown.wait() => break,
                    () = tx.closed() => break,
                    ev = rx.recv() => ev,
                };
                match ev {
                    Ok(ev) => {
                        if tx.send(Ok(ev)).await.is_err() {
                            break;
                        }
                    }
                    Err(RecvError::Lagged(_)) => {
                        // Too slow: resend the whole current state as CHANGED events.
                        for p in registry.list() {
                            let ev = DiscoveryEvent {
                                kind: DiscoveryEventKind::Changed as i32,
                                plugin: Some(p),
                            };
                            if tx.send(Ok(ev)).await.is_err() {
                                return;
                            }
                        }
                    }
                    Err(RecvError::Closed) => break,
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(out),
        )))
    }
}
