//! Where the engine is, from the command line.

use std::path::PathBuf;

/// The default engine socket.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// The engine's address and TLS files. A plugin whose engine plays a special role rewords the
/// `--docker-host` help with `#[command(mut_arg("docker_host", ...))]`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct EngineArgs {
    /// The Docker engine: unix:///path/docker.sock or tcp://host:port [default: unix:///var/run/docker.sock].
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

// === impl EngineArgs ===

impl EngineArgs {
    /// The engine's address: `--docker-host` (or `DOCKER_HOST`) unless empty, else
    /// [`DEFAULT_HOST`].
    pub fn host(&self) -> String {
        self.docker_host
            .clone()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| DEFAULT_HOST.to_string())
    }
}
