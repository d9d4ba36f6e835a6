//! Connecting to the swarm manager's Docker engine, and turning its errors into gRPC statuses.
//!
//! The API version is always negotiated: bollard speaks a newer API than older engines (Debian
//! 12's engine 20.10 speaks 1.41), and an engine refuses a client that is too new.

use bollard::Docker;
use bollard::errors::Error as DockerError;
use std::path::PathBuf;
use tonic::Status;

/// How long one engine request may take before it fails.
pub const REQUEST_TIMEOUT_SECS: u64 = 30;

/// The default engine socket.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// Where the swarm manager's engine is, from the command line.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct EngineArgs {
    /// A swarm manager's engine: unix:///path/docker.sock or tcp://host:port [default: unix:///var/run/docker.sock].
    #[arg(long, env = "DOCKER_HOST", global = true)]
    pub docker_host: Option<String>,
    /// CA (PEM) that the engine's TLS certificate must be signed by (tcp:// only).
    #[arg(long, global = true, requires_all = ["docker_tls_cert", "docker_tls_key"])]
    pub docker_tls_ca: Option<PathBuf>,
    /// Client certificate (PEM) presented to a TLS engine.
    #[arg(long, global = true, requires_all = ["docker_tls_ca", "docker_tls_key"])]
    pub docker_tls_cert: Option<PathBuf>,
    /// Client private key (PEM) for a TLS engine.
    #[arg(long, global = true, requires_all = ["docker_tls_ca", "docker_tls_cert"])]
    pub docker_tls_key: Option<PathBuf>,
}

/// Why the engine cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The address or TLS options make no sense.
    #[error("invalid --docker-host {host:?}: {problem}")]
    Address {
        /// The address given.
        host: String,
        /// What is wrong.
        problem: String,
    },
    /// The client could not be set up (e.g. unreadable TLS files).
    #[error("cannot set up a Docker client for {host}")]
    Client {
        /// The engine's address.
        host: String,
        /// The cause.
        #[source]
        source: DockerError,
    },
    /// The engine did not answer.
    #[error(
        "cannot reach the Docker engine at {host} (is dockerd running there, and may this user reach it? \
         --docker-host or DOCKER_HOST choose another engine)"
    )]
    Unreachable {
        /// The engine's address.
        host: String,
        /// The cause.
        #[source]
        source: DockerError,
    },
}

/// Connects to the engine and negotiates the API version. Returns the client and the address
/// for messages.
pub async fn connect(args: &EngineArgs) -> Result<(Docker, String), EngineError> {
    let host = args
        .docker_host
        .clone()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| DEFAULT_HOST.to_string());
    let tls = match (
        &args.docker_tls_ca,
        &args.docker_tls_cert,
        &args.docker_tls_key,
    ) {
        (Some(ca), Some(cert), Some(key)) => Some((ca, cert, key)),
        _ => None,
    };
    let bad = |problem: &str| EngineError::Address {
        host: host.clone(),
        problem: problem.to_string(),
    };
    let client = |source| EngineError::Client {
        host: host.clone(),
        source,
    };
    let version = bollard::API_DEFAULT_VERSION;
    let docker = if let Some(path) = host.strip_prefix("unix://") {
        if tls.is_some() {
            return Err(bad("the --docker-tls-* options need a tcp:// address"));
        }
        if path.is_empty() {
            return Err(bad("write unix:///path/to/docker.sock"));
        }
        // bollard checks that the socket exists: a missing one means no engine there.
        Docker::connect_with_unix(path, REQUEST_TIMEOUT_SECS, version).map_err(|source| {
            EngineError::Unreachable {
                host: host.clone(),
                source,
            }
        })?
    } else if let Some(addr) = host.strip_prefix("tcp://") {
        if addr.is_empty() || !addr.contains(':') {
            return Err(bad("write tcp://host:port"));
        }
        match tls {
            Some((ca, cert, key)) => {
                Docker::connect_with_ssl(&host, key, cert, ca, REQUEST_TIMEOUT_SECS, version)
                    .map_err(client)?
            }
            None => {
                Docker::connect_with_http(&host, REQUEST_TIMEOUT_SECS, version).map_err(client)?
            }
        }
    } else {
        return Err(bad("use unix:///path/to/docker.sock or tcp://host:port"));
    };
    let docker = docker
        .negotiate_version()
        .await
        .map_err(|source| EngineError::Unreachable {
            host: host.clone(),
            source,
        })?;
    Ok((docker, host))
}

/// The HTTP status of an engine error answer, if it was one.
pub fn http_status(e: &DockerError) -> Option<u16> {
    match e {
        DockerError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// The engine's message for an error answer, or the error itself.
pub fn message(e: &DockerError) -> String {
    match e {
        DockerError::DockerResponseServerError { message, .. } => message.trim().to_string(),
        other => infrakit_runtime::dial::error_chain(other),
    }
}

/// The gRPC status for a failed engine call made while doing `what`.
pub fn status(what: &str, e: &DockerError) -> Status {
    let msg = format!("{what}: {}", message(e));
    match http_status(e) {
        Some(404) => Status::not_found(msg),
        Some(400) => Status::invalid_argument(msg),
        // 503: "This node is not a swarm manager" and friends.
        Some(409 | 503) => Status::failed_precondition(msg),
        Some(_) => {
            tracing::warn!(error = %msg, "the Docker engine refused a request");
            Status::internal(msg)
        }
        None => {
            tracing::warn!(error = %msg, "the Docker engine is unreachable");
            Status::unavailable(format!("{msg} (is the swarm manager's engine running?)"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bad_addresses_are_refused_before_connecting() {
        for (host, want) in [
            ("ftp://x", "use unix://"),
            ("tcp://", "tcp://host:port"),
            ("unix://", "unix:///path"),
        ] {
            let args = EngineArgs {
                docker_host: Some(host.into()),
                ..Default::default()
            };
            let e = connect(&args).await.unwrap_err().to_string();
            assert!(e.contains(want), "{host}: {e}");
        }
        let args = EngineArgs {
            docker_host: Some("unix:///x.sock".into()),
            docker_tls_ca: Some("ca".into()),
            docker_tls_cert: Some("c".into()),
            docker_tls_key: Some("k".into()),
        };
        let e = connect(&args).await.unwrap_err().to_string();
        assert!(e.contains("need a tcp://"), "{e}");
    }

    #[tokio::test]
    async fn an_absent_socket_is_unreachable() {
        let args = EngineArgs {
            docker_host: Some("unix:///nonexistent/docker.sock".into()),
            ..Default::default()
        };
        let e = connect(&args).await.unwrap_err();
        assert!(matches!(e, EngineError::Unreachable { .. }), "{e}");
    }

    #[test]
    fn engine_answers_map_to_grpc_codes() {
        let e = |code| DockerError::DockerResponseServerError {
            status_code: code,
            message: "node x not found".into(),
        };
        assert_eq!(status("x", &e(404)).code(), tonic::Code::NotFound);
        assert_eq!(status("x", &e(503)).code(), tonic::Code::FailedPrecondition);
        assert_eq!(status("x", &e(500)).code(), tonic::Code::Internal);
        let st = status("x", &DockerError::RequestTimeoutError);
        assert_eq!(st.code(), tonic::Code::Unavailable);
    }
}
