//! Connecting to plugins: by endpoint, or by name through the discovery service (when one runs)
//! and the plugins directory. A name may have several replicas (TCP plugins registered under
//! one name); [`dial`] tries them in turn (the private `replicas` module).

mod replicas;

use crate::listen::ListenAddr;
use crate::plugins_dir;
use crate::tls::{ClientTlsFiles, TlsError, client_config};
use infrakit_model::{PluginName, suggest};
use infrakit_spi::discovery::v1::discovery_client::DiscoveryClient;
use infrakit_spi::discovery::v1::{ListRequest, LookupRequest, Source};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tonic::transport::{Channel, Endpoint, Uri};

use replicas::connect_first;
pub use replicas::{Replica, Tried};

/// The name under which the discovery service listens in the plugins directory.
pub const DISCOVERY_NAME: &str = "discovery";

/// How long to wait for a connection before giving up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a call or stream may go without receiving anything before the connection is pinged,
/// so that a frozen or vanished peer is noticed (and open streams fail) within this plus
/// [`KEEPALIVE_TIMEOUT`].
///
/// Five minutes is the shortest interval that gRPC servers of other stacks accept by default:
/// C-core (Python, C++, Ruby, PHP), Go and Java count a ping that comes sooner than 5 minutes
/// after the previous one, without data in between, as a strike, and after two strikes close the
/// connection with GOAWAY `too_many_pings`, cutting every call on it. Unary calls do not depend
/// on pings: each has its own deadline.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(300);
// Shorter intervals get channels to other stacks' servers closed mid-call (see above).
const _: () = assert!(KEEPALIVE_INTERVAL.as_secs() >= 300);
/// How long a keepalive ping may go unanswered.
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a TCP connection may be silent before the kernel probes it, so that a peer host
/// that vanished (and will never answer) is noticed even between pings. It costs nothing at the
/// gRPC level: TCP probes are not HTTP/2 frames, so no server counts them.
pub const TCP_KEEPALIVE: Duration = Duration::from_secs(60);

/// Why a plugin could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    /// No plugin has this name.
    #[error("{}", not_found_message(name, known, dir))]
    NotFound {
        /// The name asked for.
        name: String,
        /// The names that exist.
        known: Vec<String>,
        /// The plugins directory searched.
        dir: PathBuf,
    },
    /// The name is not a valid plugin name.
    #[error(transparent)]
    BadName(#[from] infrakit_model::name::BadName),
    /// The endpoint is not a valid address.
    #[error(transparent)]
    BadAddr(#[from] crate::listen::BadAddr),
    /// TLS could not be configured.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The connection failed.
    #[error("cannot connect to {endpoint}: {cause}")]
    Connect {
        /// The endpoint dialled.
        endpoint: String,
        /// Why, in words.
        cause: String,
    },
    /// None of the replicas of a name accepted a connection.
    #[error("{}", no_replica_message(name, tried))]
    NoReplica {
        /// The plugin name.
        name: String,
        /// Each endpoint tried, in order, with why it failed.
        tried: Vec<Tried>,
    },
}

fn no_replica_message(name: &str, tried: &[Tried]) -> String {
    if tried.is_empty() {
        return format!(
            "plugin {name:?} has no endpoint to connect to (is it registered? see `ikctl plugin ls`)"
        );
    }
    format!(
        "cannot connect to any of the {} replicas of plugin {name:?}, tried in turn: {}; start one of them (`ikctl plugin ls` shows where each is registered)",
        tried.len(),
        replicas::list(tried)
    )
}

fn not_found_message(name: &str, known: &[String], dir: &Path) -> String {
    let mut msg = format!("no plugin named {name:?}");
    if let Some(s) = suggest::did_you_mean(name, known.iter().map(String::as_str)) {
        msg.push_str(&format!("; did you mean {s:?}?"));
    }
    if known.is_empty() {
        msg.push_str(&format!(
            " (no plugin is running: {} is empty; start one, or point INFRAKIT_PLUGINS_DIR at the right directory)",
            dir.display()
        ));
    } else {
        msg.push_str(&format!(" (running: {})", known.join(", ")));
    }
    msg
}

/// Client options: TLS for TCP plugins.
#[derive(Clone, Debug, Default)]
pub struct DialOptions {
    /// TLS files, used for `tcp://` endpoints that need TLS.
    pub tls: Option<ClientTlsFiles>,
}

/// A plugin found by name.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// The name as parsed.
    pub name: PluginName,
    /// Where the plugin can be reached, best first; never empty. A socket plugin and most TCP
    /// plugins have one endpoint; replicas registered under one name have one each.
    pub replicas: Vec<Replica>,
}

/// A plugin connected to by name.
#[derive(Clone, Debug)]
pub struct Dialled {
    /// The name as parsed.
    pub name: PluginName,
    /// The replica connected to (the first that accepted a connection).
    pub replica: Replica,
    /// The connection.
    pub channel: Channel,
}

impl Resolved {
    fn socket(name: PluginName, socket: PathBuf) -> Self {
        Self {
            name,
            replicas: vec![Replica {
                endpoint: ListenAddr::Unix(socket),
                tls: false,
            }],
        }
    }
}

/// The connect timeout and HTTP/2 keepalive every plugin channel uses. Pings are sent only while
/// a call or stream is open ([`KEEPALIVE_INTERVAL`] explains the interval): an idle connection is
/// never pinged, because servers of other stacks refuse pings without calls (C-core allows one
/// every 2 hours), and a dead idle connection costs nothing until the next call, which
/// reconnects.
fn with_liveness(ep: Endpoint) -> Endpoint {
    ep.connect_timeout(CONNECT_TIMEOUT)
        .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
        .keep_alive_timeout(KEEPALIVE_TIMEOUT)
        .keep_alive_while_idle(false)
}

/// Connects to an endpoint. Unix sockets are dialled with `:authority` `localhost`.
pub async fn connect(
    addr: &ListenAddr,
    tls: bool,
    opts: &DialOptions,
) -> Result<Channel, DialError> {
    let err = |e: &(dyn std::error::Error + 'static)| DialError::Connect {
        endpoint: addr.to_string(),
        cause: error_chain(e),
    };
    match addr {
        ListenAddr::Unix(path) => {
            let path = path.clone();
            with_liveness(Endpoint::from_static("http://localhost"))
                .connect_with_connector(tower::service_fn(move |_: Uri| {
                    let path = path.clone();
                    async move {
                        Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(
                            tokio::net::UnixStream::connect(path).await?,
                        ))
                    }
                }))
                .await
                .map_err(|e| err(&e))
        }
        ListenAddr::Tcp(hostport) => {
            let scheme = if tls { "https" } else { "http" };
            let mut ep = with_liveness(
                Endpoint::from_shared(format!("{scheme}://{hostport}")).map_err(|e| err(&e))?,
            )
            .tcp_keepalive(Some(TCP_KEEPALIVE));
            if tls {
                let files = opts.tls.clone().unwrap_or_default();
                ep = ep.tls_config(client_config(&files)?).map_err(|e| err(&e))?;
            }
            ep.connect().await.map_err(|e| err(&e))
        }
    }
}

/// Connects to `addr` and asks for the plugin's overall `grpc.health.v1` status (the raw
/// `ServingStatus` value). The error says what failed, in words.
pub async fn health(addr: &ListenAddr, tls: bool, opts: &DialOptions) -> Result<i32, String> {
    let ch = connect(addr, tls, opts).await.map_err(|e| e.to_string())?;
    tonic_health::pb::health_client::HealthClient::new(ch)
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map(|r| r.into_inner().status)
        .map_err(|s| s.message().to_string())
}

/// True when the plugin at `addr` answers a health check with SERVING.
pub async fn serving(addr: &ListenAddr, tls: bool, opts: &DialOptions) -> bool {
    health(addr, tls, opts).await
        == Ok(tonic_health::pb::health_check_response::ServingStatus::Serving as i32)
}

/// Resolves a plugin name to its replicas: through the discovery service when one is running in
/// `dir`, else by its socket file in `dir`.
pub async fn resolve(name: &str, dir: &Path, opts: &DialOptions) -> Result<Resolved, DialError> {
    let parsed = PluginName::parse(name)?;
    let socket = plugins_dir::socket_path(dir, &parsed.lookup);
    if parsed.lookup != DISCOVERY_NAME
        && let Some(mut disco) = discovery(dir, opts).await
    {
        match disco
            .lookup(LookupRequest {
                name: parsed.to_string(),
            })
            .await
        {
            Ok(r) => {
                let r = r.into_inner();
                // A discovery service that predates replicas sends `plugin` alone.
                let entries = if r.replicas.is_empty() {
                    r.plugin.into_iter().collect()
                } else {
                    r.replicas
                };
                let replicas = entries
                    .into_iter()
                    .map(|p| {
                        // A socket plugin is dialled in *our* view of the plugins directory:
                        // discovery may see the same directory under another path (a container).
                        let endpoint = if p.source == Source::SocketDir as i32 {
                            ListenAddr::Unix(socket.clone())
                        } else {
                            ListenAddr::parse(&p.endpoint)?
                        };
                        Ok(Replica {
                            endpoint,
                            tls: p.tls,
                        })
                    })
                    .collect::<Result<Vec<_>, DialError>>()?;
                if !replicas.is_empty() {
                    return Ok(Resolved {
                        name: parsed,
                        replicas,
                    });
                }
            }
            Err(st) if st.code() == tonic::Code::NotFound => {
                // Discovery may lag a plugin that just started: the directory decides.
                if socket_exists(&socket) {
                    return Ok(Resolved::socket(parsed, socket));
                }
                let known = disco
                    .list(ListRequest {})
                    .await
                    .map(|r| r.into_inner().plugins.into_iter().map(|p| p.name).collect())
                    .unwrap_or_else(|_| plugins_dir::socket_names(dir));
                return Err(DialError::NotFound {
                    name: parsed.lookup,
                    known,
                    dir: dir.to_path_buf(),
                });
            }
            Err(st) => {
                tracing::debug!(status = %st, "discovery lookup failed; using the plugins directory");
            }
        }
    }
    if socket_exists(&socket) {
        return Ok(Resolved::socket(parsed, socket));
    }
    Err(DialError::NotFound {
        name: parsed.lookup,
        known: plugins_dir::socket_names(dir),
        dir: dir.to_path_buf(),
    })
}

/// Resolves and connects in one step, to the first replica that accepts a connection: a
/// replica that refuses (or does not answer within [`CONNECT_TIMEOUT`]) is skipped for the next,
/// and when none accepts, the error names every endpoint tried.
pub async fn dial(name: &str, dir: &Path, opts: &DialOptions) -> Result<Dialled, DialError> {
    let r = resolve(name, dir, opts).await?;
    let (replica, channel) = connect_first(&r.name.lookup, &r.replicas, opts).await?;
    Ok(Dialled {
        name: r.name,
        replica,
        channel,
    })
}

/// A client of the discovery service in `dir`, if one answers.
pub async fn discovery(dir: &Path, opts: &DialOptions) -> Option<DiscoveryClient<Channel>> {
    let socket = plugins_dir::socket_path(dir, DISCOVERY_NAME);
    if !socket_exists(&socket) {
        return None;
    }
    let ch = connect(&ListenAddr::Unix(socket), false, opts).await.ok()?;
    Some(DiscoveryClient::new(ch))
}

fn socket_exists(p: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::symlink_metadata(p)
        .map(|m| m.file_type().is_socket())
        .unwrap_or(false)
}

/// Renders a `std::error::Error` with all its sources, `a: b: c`.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let cs = c.to_string();
        if !s.contains(&cs) {
            s.push_str(": ");
            s.push_str(&cs);
        }
        cur = c.source();
    }
    s
}
