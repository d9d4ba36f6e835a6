//! Serving a plugin: its gRPC services plus `grpc.health.v1`, server reflection (v1 and v1alpha,
//! so that grpcurl 1.8 works) and `infrakit.plugin.v1.Plugin/Info`, on a unix socket or TCP.

use crate::accept::{self, DEFAULT_MAX_CONNECTIONS};
use crate::listen::ListenAddr;
use crate::shutdown::Shutdown;
use crate::socket::{SocketError, SocketGuard, bind_unix};
use crate::tls::{ServerTlsFiles, TlsError, server_config};
use infrakit_spi::plugin::v1::plugin_server::{Plugin, PluginServer};
use infrakit_spi::plugin::v1::{InfoRequest, InfoResponse, Spi};
use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;
use tonic::server::NamedService;
use tonic::service::{Routes, RoutesBuilder};
use tonic::transport::Server;
use tonic::{Request, Response, Status};
use tonic_health::ServingStatus;

/// How long open connections may take to finish after a shutdown starts.
pub const DRAIN_GRACE: Duration = Duration::from_secs(5);
/// How long a TLS client may take to finish its handshake unless told otherwise.
pub const DEFAULT_TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection may send nothing before the server pings its client, so that the
/// descriptors of clients that vanished are freed. Clients never police a server's pings (gRPC
/// C-core, Go and Java only limit the pings a server receives), so this may be short.
const SERVER_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);

/// Why a plugin could not serve.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The unix socket could not be bound.
    #[error(transparent)]
    Socket(#[from] SocketError),
    /// TLS could not be configured.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// A TCP listener was asked for without TLS and without `--insecure`.
    #[error(
        "TCP listener {0} needs TLS: give --tls-cert and --tls-key (and --tls-client-ca to verify clients), or --insecure to serve plaintext on a trusted network"
    )]
    TlsRequired(String),
    /// The TCP address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Reflection could not be built from the descriptor sets.
    #[error("cannot build server reflection")]
    Reflection(#[source] tonic_reflection::server::Error),
    /// The server failed while running.
    #[error("server failed")]
    Transport(#[source] tonic::transport::Error),
}

/// Options for binding a listener.
#[derive(Clone, Debug)]
pub struct BindOptions {
    /// Group allowed to connect to a unix socket (mode 0660); otherwise 0600.
    pub socket_group: Option<String>,
    /// TLS files for a TCP listener.
    pub tls: Option<ServerTlsFiles>,
    /// Serve plaintext TCP without TLS.
    pub insecure: bool,
    /// The most connections open at once; more wait in the backlog until one closes.
    pub max_connections: usize,
    /// How long a TLS client may take to finish its handshake before it is disconnected.
    pub tls_handshake_timeout: Duration,
}

/// A bound listener, ready to serve.
#[derive(Debug)]
pub struct Listener {
    socket: Socket,
    max_connections: usize,
}

/// The socket of a [`Listener`].
#[derive(Debug)]
enum Socket {
    /// A unix socket, removed again when the guard is dropped.
    Unix {
        listener: tokio::net::UnixListener,
        guard: SocketGuard,
    },
    /// A TCP listener, with TLS unless `--insecure` was given.
    Tcp {
        listener: tokio::net::TcpListener,
        tls: Option<Box<tonic::transport::ServerTlsConfig>>,
    },
}

// === impl BindOptions ===

impl Default for BindOptions {
    fn default() -> Self {
        Self {
            socket_group: None,
            tls: None,
            insecure: false,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            tls_handshake_timeout: DEFAULT_TLS_HANDSHAKE_TIMEOUT,
        }
    }
}

// === impl Listener ===

impl Listener {
    /// Binds `addr` with the given options. Must be called inside a tokio runtime.
    pub async fn bind(addr: &ListenAddr, opts: &BindOptions) -> Result<Self, HostError> {
        let socket = match addr {
            ListenAddr::Unix(path) => {
                let (std_listener, guard) = bind_unix(path, opts.socket_group.as_deref())?;
                let listener =
                    tokio::net::UnixListener::from_std(std_listener).map_err(|source| {
                        HostError::Bind {
                            addr: addr.to_string(),
                            source,
                        }
                    })?;
                Socket::Unix { listener, guard }
            }
            ListenAddr::Tcp(hostport) => {
                let tls = match (&opts.tls, opts.insecure) {
                    (Some(files), _) => Some(Box::new(
                        server_config(files)?.timeout(opts.tls_handshake_timeout),
                    )),
                    (None, true) => None,
                    (None, false) => return Err(HostError::TlsRequired(addr.to_string())),
                };
                let listener = tokio::net::TcpListener::bind(hostport)
                    .await
                    .map_err(|source| HostError::Bind {
                        addr: addr.to_string(),
                        source,
                    })?;
                Socket::Tcp { listener, tls }
            }
        };
        Ok(Self {
            socket,
            max_connections: opts.max_connections,
        })
    }

    /// The address actually bound (with the real port for `tcp://host:0`).
    pub fn local_addr(&self) -> ListenAddr {
        match &self.socket {
            Socket::Unix { guard, .. } => ListenAddr::Unix(guard.path().to_path_buf()),
            Socket::Tcp { listener, .. } => ListenAddr::Tcp(
                listener
                    .local_addr()
                    .map(|a| a.to_string())
                    .unwrap_or_else(|_| "unknown".into()),
            ),
        }
    }

    /// True when this is a TCP listener with TLS.
    pub fn has_tls(&self) -> bool {
        matches!(self.socket, Socket::Tcp { tls: Some(_), .. })
    }
}

/// A plugin's services, served together with health, reflection and `Plugin/Info`.
#[derive(Debug)]
pub struct PluginHost {
    name: String,
    kind: String,
    routes: RoutesBuilder,
    services: Vec<&'static str>,
    after_stop: Vec<AfterStop>,
}

/// Work to finish once serving has stopped (e.g. giving up an etcd lease).
struct AfterStop(std::pin::Pin<Box<dyn Future<Output = ()> + Send>>);

impl std::fmt::Debug for AfterStop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AfterStop")
    }
}

/// How long the work given to [`PluginHost::after_stop`] may take in all.
pub const AFTER_STOP_GRACE: Duration = Duration::from_secs(10);

// === impl PluginHost ===

impl PluginHost {
    /// A host for a plugin named `name` of kind `kind` (e.g. `instance-file`).
    pub fn new(name: impl Into<String>, kind: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            kind: kind.into(),
            routes: Routes::builder(),
            services: Vec::new(),
            after_stop: Vec::new(),
        }
    }

    /// Runs `work` once serving has stopped, before the process exits (all such work together
    /// gets [`AFTER_STOP_GRACE`]).
    pub fn after_stop(mut self, work: impl Future<Output = ()> + Send + 'static) -> Self {
        self.after_stop.push(AfterStop(Box::pin(work)));
        self
    }

    /// Adds a generated tonic service; its name is reported by health and `Plugin/Info`.
    pub fn add_service<S>(mut self, svc: S) -> Self
    where
        S: tower::Service<
                tonic::codegen::http::Request<tonic::body::Body>,
                Error = Infallible,
                Response = tonic::codegen::http::Response<tonic::body::Body>,
            > + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.services.push(S::NAME);
        self.routes.add_service(svc);
        self
    }

    /// The names of the services added so far.
    pub fn service_names(&self) -> &[&'static str] {
        &self.services
    }

    /// Serves until `shutdown` starts, then stops accepting, reports NOT_SERVING, and gives open
    /// connections [`DRAIN_GRACE`] to finish.
    pub async fn serve(mut self, listener: Listener, shutdown: Shutdown) -> Result<(), HostError> {
        let after_stop = std::mem::take(&mut self.after_stop);
        let served = self.serve_routes(listener, shutdown).await;
        let all = async {
            for work in after_stop {
                work.0.await;
            }
        };
        if tokio::time::timeout(AFTER_STOP_GRACE, all).await.is_err() {
            tracing::warn!("the work after stopping did not end within {AFTER_STOP_GRACE:?}");
        }
        served
    }

    async fn serve_routes(self, listener: Listener, shutdown: Shutdown) -> Result<(), HostError> {
        let listen = listener.local_addr().to_string();
        let (reporter, health) = tonic_health::server::health_reporter();
        let mut spis = Vec::new();
        for name in self
            .services
            .iter()
            .copied()
            .chain([infrakit_spi::service_names::PLUGIN])
        {
            reporter
                .set_service_status(name, ServingStatus::Serving)
                .await;
            spis.push(Spi {
                name: name.to_string(),
                version: infrakit_spi::SPI_VERSION.to_string(),
            });
        }
        let info = InfoService(InfoResponse {
            name: self.name.clone(),
            kind: self.kind.clone(),
            spis,
            version: infrakit_spi::VERSION.to_string(),
            revision: infrakit_spi::REVISION.to_string(),
            listen: listen.clone(),
        });
        let mut routes = self.routes;
        routes.add_service(PluginServer::new(info));
        routes.add_service(health);
        let served: Vec<&str> = self.services.iter().copied().chain(HOST_SERVICES).collect();
        routes.add_service(
            reflection_builder(&served)
                .build_v1()
                .map_err(HostError::Reflection)?,
        );
        routes.add_service(
            reflection_builder(&served)
                .build_v1alpha()
                .map_err(HostError::Reflection)?,
        );
        let routes = routes.routes();

        let stopping = {
            let shutdown = shutdown.clone();
            let reporter = reporter.clone();
            let services = self.services.clone();
            async move {
                shutdown.wait().await;
                for name in services {
                    reporter
                        .set_service_status(name, ServingStatus::NotServing)
                        .await;
                }
                reporter
                    .set_service_status("", ServingStatus::NotServing)
                    .await;
            }
        };
        tracing::info!(name = %self.name, kind = %self.kind, %listen, "serving");
        let mut builder =
            Server::builder().http2_keepalive_interval(Some(SERVER_KEEPALIVE_INTERVAL));
        let max = listener.max_connections;
        let serve = async {
            match listener.socket {
                Socket::Unix { listener, guard } => {
                    let incoming = accept::incoming(listener, max, listen.clone());
                    let r = builder
                        .add_routes(routes)
                        .serve_with_incoming_shutdown(incoming, stopping)
                        .await;
                    drop(guard);
                    r
                }
                Socket::Tcp { listener, tls } => {
                    if let Some(tls) = tls {
                        builder = builder.tls_config(*tls).map_err(HostError::Transport)?;
                    }
                    let incoming = accept::incoming(listener, max, listen.clone());
                    builder
                        .add_routes(routes)
                        .serve_with_incoming_shutdown(incoming, stopping)
                        .await
                }
            }
            .map_err(HostError::Transport)
        };
        tokio::pin!(serve);
        tokio::select! {
            r = &mut serve => r,
            () = async { shutdown.wait().await; tokio::time::sleep(DRAIN_GRACE).await } => {
                tracing::warn!("connections did not close within {DRAIN_GRACE:?}; stopping anyway");
                Ok(())
            }
        }
    }
}

/// The services every plugin host serves besides the plugin's own.
const HOST_SERVICES: [&str; 4] = [
    infrakit_spi::service_names::PLUGIN,
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// Reflection that lists exactly the services in `served`, and can describe every type of the
/// SPI, health, reflection and rich error details (a flavor's messages use the instance SPI's
/// types, so every file stays registered even when its services are not listed).
fn reflection_builder<'a>(served: &[&str]) -> tonic_reflection::server::Builder<'a> {
    let mut b = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(infrakit_spi::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET);
    for name in served {
        b = b.with_service_name(*name);
    }
    b
}

/// Serves `Plugin/Info` from a fixed answer.
#[derive(Debug, Clone)]
struct InfoService(InfoResponse);

#[tonic::async_trait]
impl Plugin for InfoService {
    async fn info(&self, _req: Request<InfoRequest>) -> Result<Response<InfoResponse>, Status> {
        Ok(Response::new(self.0.clone()))
    }
}

#[cfg(test)]
mod tests;
