//! Building a client for the engine and negotiating the API version.

use crate::args::EngineArgs;
use bollard::Docker;
use bollard::errors::Error as DockerError;

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

/// Builds a client for the engine in `args` whose requests may each take `timeout_secs`,
/// without talking to it yet (only a unix socket's existence is checked). Returns the client
/// and the engine's address, for messages.
pub fn client(args: &EngineArgs, timeout_secs: u64) -> Result<(Docker, String), EngineError> {
    let host = args.host();
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
        Docker::connect_with_unix(path, timeout_secs, version).map_err(|source| {
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
                Docker::connect_with_ssl(&host, key, cert, ca, timeout_secs, version)
                    .map_err(client)?
            }
            None => Docker::connect_with_http(&host, timeout_secs, version).map_err(client)?,
        }
    } else {
        return Err(bad("use unix:///path/to/docker.sock or tcp://host:port"));
    };
    Ok((docker, host))
}

/// Connects to the engine in `args` ([`client`]) and negotiates the API version. Returns the
/// client and the engine's address, for messages.
pub async fn connect(
    args: &EngineArgs,
    timeout_secs: u64,
) -> Result<(Docker, String), EngineError> {
    let (docker, host) = client(args, timeout_secs)?;
    match docker.negotiate_version().await {
        Ok(docker) => Ok((docker, host)),
        Err(source) => Err(EngineError::Unreachable { host, source }),
    }
}

/// Asks the engine at `host` its version: `"<host>, engine <version>, API <negotiated API>"`,
/// for the logs.
pub async fn describe(docker: &Docker, host: String) -> Result<String, EngineError> {
    match docker.version().await {
        Ok(v) => Ok(format!(
            "{host}, engine {}, API {}",
            v.version.unwrap_or_default(),
            docker.client_version()
        )),
        Err(source) => Err(EngineError::Unreachable { host, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(host: &str) -> EngineArgs {
        EngineArgs {
            docker_host: Some(host.into()),
            ..Default::default()
        }
    }

    #[test]
    fn bad_addresses_are_refused_before_connecting() {
        for (host, want) in [
            ("ftp://x", "use unix://"),
            ("tcp://", "tcp://host:port"),
            ("tcp://host", "tcp://host:port"),
            ("unix://", "unix:///path"),
        ] {
            let e = client(&args(host), 30).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("invalid --docker-host {host:?}")),
                "{e}"
            );
            assert!(e.contains(want), "{host}: {e}");
        }
        let tls = EngineArgs {
            docker_host: Some("unix:///x.sock".into()),
            docker_tls_ca: Some("ca".into()),
            docker_tls_cert: Some("c".into()),
            docker_tls_key: Some("k".into()),
        };
        let e = client(&tls, 30).unwrap_err().to_string();
        assert!(e.contains("need a tcp://"), "{e}");
    }

    #[test]
    fn an_empty_host_means_the_default_socket() {
        assert_eq!(args("").host(), crate::DEFAULT_HOST);
        assert_eq!(EngineArgs::default().host(), crate::DEFAULT_HOST);
        assert_eq!(args("tcp://h:2375").host(), "tcp://h:2375");
    }

    #[test]
    fn an_absent_socket_is_unreachable() {
        let e = client(&args("unix:///nonexistent/docker.sock"), 30).unwrap_err();
        assert!(matches!(e, EngineError::Unreachable { .. }), "{e}");
        assert!(e.to_string().contains("is dockerd running there"), "{e}");
    }

    #[test]
    fn missing_tls_files_are_named() {
        let e = client(
            &EngineArgs {
                docker_host: Some("tcp://127.0.0.1:2376".into()),
                docker_tls_ca: Some("/nonexistent/ca.pem".into()),
                docker_tls_cert: Some("/nonexistent/cert.pem".into()),
                docker_tls_key: Some("/nonexistent/key.pem".into()),
            },
            30,
        )
        .unwrap_err();
        assert!(matches!(e, EngineError::Client { .. }), "{e}");
        let chain = infrakit_runtime::dial::error_chain(&e);
        assert!(chain.contains("/nonexistent/ca.pem"), "{chain}");
    }

    #[test]
    fn a_plain_tcp_engine_gets_a_client_without_being_asked() {
        let (_, host) = client(&args("tcp://127.0.0.1:1"), 30).unwrap();
        assert_eq!(host, "tcp://127.0.0.1:1");
    }
}
