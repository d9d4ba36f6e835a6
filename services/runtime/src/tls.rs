//! TLS for TCP listeners and clients, from PEM files (rustls with the ring provider).

use std::path::{Path, PathBuf};
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

/// Why TLS could not be configured.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read.
    #[error("cannot read {what} {path:?}")]
    Read {
        /// Which file it was (e.g. "TLS certificate").
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Only one of certificate and key was given.
    #[error("TLS needs both a certificate and a key: give --tls-cert and --tls-key together")]
    Incomplete,
}

/// The PEM files of a TLS server.
#[derive(Clone, Debug)]
pub struct ServerTlsFiles {
    /// The server certificate chain.
    pub cert: PathBuf,
    /// The server private key.
    pub key: PathBuf,
    /// When given, clients must present a certificate signed by this CA.
    pub client_ca: Option<PathBuf>,
}

/// The PEM files of a TLS client.
#[derive(Clone, Debug, Default)]
pub struct ClientTlsFiles {
    /// The CA that signed the server's certificate.
    pub ca: Option<PathBuf>,
    /// The client certificate, for servers that verify clients.
    pub cert: Option<PathBuf>,
    /// The client key.
    pub key: Option<PathBuf>,
    /// The name to verify the server certificate against (default: the host dialled).
    pub domain: Option<String>,
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_path_buf(),
        source,
    })
}

/// Builds a tonic server TLS configuration.
pub fn server_config(files: &ServerTlsFiles) -> Result<ServerTlsConfig, TlsError> {
    let cert = read("TLS certificate", &files.cert)?;
    let key = read("TLS key", &files.key)?;
    let mut cfg = ServerTlsConfig::new().identity(Identity::from_pem(cert, key));
    if let Some(ca) = &files.client_ca {
        cfg = cfg.client_ca_root(Certificate::from_pem(read("client CA", ca)?));
    }
    Ok(cfg)
}

/// Builds a tonic client TLS configuration.
pub fn client_config(files: &ClientTlsFiles) -> Result<ClientTlsConfig, TlsError> {
    let mut cfg = ClientTlsConfig::new();
    if let Some(ca) = &files.ca {
        cfg = cfg.ca_certificate(Certificate::from_pem(read("TLS CA", ca)?));
    }
    match (&files.cert, &files.key) {
        (Some(c), Some(k)) => {
            cfg = cfg.identity(Identity::from_pem(
                read("TLS certificate", c)?,
                read("TLS key", k)?,
            ));
        }
        (None, None) => {}
        _ => return Err(TlsError::Incomplete),
    }
    if let Some(d) = &files.domain {
        cfg = cfg.domain_name(d.clone());
    }
    Ok(cfg)
}
