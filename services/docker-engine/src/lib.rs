//! `infrakit-docker-engine`: connecting to a Docker engine, shared by the Docker plugins
//! (`infrakit-instance-docker`, `infrakit-flavor-swarm`).
//!
//! Layout:
//! - [`args`]: the `--docker-host` and `--docker-tls-*` flags.
//! - [`connect`]: building a client for a unix or TCP (optionally TLS) address and negotiating
//!   the API version, with errors that say what to check.
//! - [`status`]: the engine's error answers as gRPC statuses.
//!
//! The API version is always negotiated: bollard speaks a newer API than older engines (Debian
//! 12's engine 20.10 speaks 1.41), and an engine refuses a client that is too new.

pub mod args;
pub mod connect;
pub mod status;

pub use args::{DEFAULT_HOST, EngineArgs};
pub use connect::{EngineError, client, connect, describe};
pub use status::{http_status, message, status};
