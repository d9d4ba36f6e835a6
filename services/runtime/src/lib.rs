//! The plugin host and client plumbing shared by every InfraKit service and by `ikctl`.
//!
//! A plugin is an implementation of a generated tonic server trait plus a short `main` that calls
//! [`cli::run_plugin`]. Everything else (listening on a unix socket or TCP, socket permissions
//! and stale sockets, TLS, `grpc.health.v1`, server reflection v1 and v1alpha, `Plugin/Info`,
//! graceful shutdown, logging) lives here, once.
//!
//! Layout:
//! - [`listen`]: parsing `unix:///path.sock` and `tcp://host:port` addresses.
//! - [`socket`]: binding unix sockets safely (0600/0660, stale-socket replacement, path limit).
//! - [`tls`]: server and client TLS from PEM files.
//! - [`host`]: serving a set of gRPC services with health, reflection and `Plugin/Info`.
//! - `accept` (private): the accept loop of every listener (a connection cap, a backoff on accept
//!   errors).
//! - [`shutdown`]: SIGTERM/SIGINT handling and the token that ends open streams.
//! - [`logging`]: tracing to stderr as text or JSON.
//! - [`plugins_dir`]: where plugin sockets live.
//! - [`fence`]: refusing the calls of a deposed group owner (the highest epoch per group).
//! - [`dial`]: connecting to a plugin by endpoint or by name (discovery service, then directory).
//! - [`status`]: turning violations and input errors into gRPC statuses with field details.
//! - [`cli`]: the flags every service binary shares, and the `version` subcommand.
//! - [`register`]: keeping a TCP plugin registered with the discovery service.
//! - [`watch`]: serving `WatchInstances` from a broadcast of change events.
//! - [`turns`]: per-key turns, which make Provision idempotent by token.

mod accept;
pub mod cli;
pub mod dial;
pub mod fence;
pub mod host;
pub mod listen;
pub mod logging;
pub mod plugins_dir;
pub mod register;
pub mod shutdown;
pub mod socket;
pub mod status;
pub mod tls;
pub mod turns;
pub mod watch;

pub use host::PluginHost;
pub use listen::ListenAddr;
pub use shutdown::Shutdown;
