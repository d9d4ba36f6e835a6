//! What every command shares: where plugins are, how long to wait, TLS, the output format; and
//! dialing a plugin by name.

use crate::cli::GlobalArgs;
use crate::output::Format;
use crate::rpc::RpcError;
use infrakit_model::PluginName;
use infrakit_runtime::dial::{self, DialError, DialOptions};
use infrakit_runtime::tls::ClientTlsFiles;
use std::path::PathBuf;
use std::time::Duration;
use tonic::transport::Channel;

/// How long each call may take when `--timeout` is not given.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// The settings of one `ikctl` run, from the global flags.
#[derive(Clone, Debug)]
pub struct Context {
    /// The plugins directory.
    pub plugins_dir: PathBuf,
    /// How long each call may take.
    pub timeout: Duration,
    /// TLS for TCP plugins.
    pub dial: DialOptions,
    /// The `-o` format.
    pub output: Format,
}

/// A connected plugin.
#[derive(Clone, Debug)]
pub struct Target {
    /// The name it was reached by (its subtype goes into each request's `type`).
    pub name: PluginName,
    /// Where it listens (the replica connected to, when the name has several).
    pub endpoint: String,
    /// The connection.
    pub channel: Channel,
    /// The per-call timeout, for messages.
    pub timeout: Duration,
}

/// Looking the plugin up took longer than the timeout.
#[derive(Debug, thiserror::Error)]
#[error(
    "looking up plugin {name:?} took longer than {timeout:?} (is the discovery service stuck? raise --timeout)"
)]
pub struct LookupTimeout {
    /// The plugin name.
    pub name: String,
    /// The limit.
    pub timeout: Duration,
}

// === impl Context ===

impl Context {
    /// The context described by the global flags.
    pub fn new(g: &GlobalArgs) -> Self {
        let any_tls = g.tls_ca.is_some()
            || g.tls_cert.is_some()
            || g.tls_key.is_some()
            || g.tls_server_name.is_some();
        let tls = any_tls.then(|| ClientTlsFiles {
            ca: g.tls_ca.clone(),
            cert: g.tls_cert.clone(),
            key: g.tls_key.clone(),
            domain: g.tls_server_name.clone(),
        });
        Self {
            plugins_dir: infrakit_runtime::plugins_dir::for_client(g.plugins_dir.as_deref()),
            timeout: g.timeout.unwrap_or(DEFAULT_CALL_TIMEOUT),
            dial: DialOptions { tls },
            output: g.output,
        }
    }

    /// Resolves a plugin by name (discovery service, then the plugins directory) and connects to
    /// the first of its replicas that accepts a connection.
    pub async fn dial(&self, name: &PluginName) -> anyhow::Result<Target> {
        let dialled = tokio::time::timeout(
            self.timeout,
            dial::dial(&name.to_string(), &self.plugins_dir, &self.dial),
        )
        .await
        .map_err(|_| LookupTimeout {
            name: name.to_string(),
            timeout: self.timeout,
        })?;
        let dialled = dialled.map_err(|e| match e {
            // Both already name the plugin.
            e @ (DialError::NotFound { .. } | DialError::NoReplica { .. }) => anyhow::Error::new(e),
            e => anyhow::Error::new(e).context(format!("cannot reach plugin {:?}", name.lookup)),
        })?;
        Ok(Target {
            name: name.clone(),
            endpoint: dialled.replica.endpoint.to_string(),
            channel: dialled.channel,
            timeout: self.timeout,
        })
    }

    /// A request carrying the per-call timeout (sent to the plugin as `grpc-timeout`).
    pub fn request<T>(&self, msg: T) -> tonic::Request<T> {
        let mut req = tonic::Request::new(msg);
        req.set_timeout(self.timeout);
        req
    }
}

// === impl Target ===

impl Target {
    /// The SPI `type` field: the subtype of `lookup/subtype`, or empty.
    pub fn subtype(&self) -> String {
        self.name.subtype_or_default().to_string()
    }

    /// An error for a failed `call` (e.g. `Instance/Provision`) to this plugin.
    pub fn error(&self, call: &'static str) -> impl FnOnce(tonic::Status) -> RpcError + '_ {
        move |status| RpcError {
            plugin: self.name.lookup.clone(),
            call,
            timeout: self.timeout,
            status,
        }
    }
}
