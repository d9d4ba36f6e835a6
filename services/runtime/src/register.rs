//! Keeping a TCP plugin registered with the discovery service: register, renew the lease at a
//! third of its TTL, deregister on shutdown.

use crate::dial::{DialOptions, discovery};
use crate::shutdown::Shutdown;
use infrakit_spi::discovery::v1::{DeregisterRequest, RegisterRequest};
use std::path::PathBuf;
use std::time::Duration;

/// The lease requested by plugins, in seconds.
pub const LEASE_SECONDS: u32 = 15;

/// Spawns the registration loop for a TCP plugin named `name` reachable at `endpoint`
/// (`tcp://host:port`). It retries quietly while no discovery service runs in `dir`.
pub fn spawn(name: String, endpoint: String, tls: bool, dir: PathBuf, shutdown: Shutdown) {
    tokio::spawn(async move {
        let opts = DialOptions::default();
        let mut registered = false;
        loop {
            let renew = Duration::from_secs(u64::from(LEASE_SECONDS) / 3);
            if let Some(mut d) = discovery(&dir, &opts).await {
                let req = RegisterRequest {
                    name: name.clone(),
                    endpoint: endpoint.clone(),
                    ttl_seconds: LEASE_SECONDS,
                    tls,
                };
                match d.register(req).await {
                    Ok(_) if !registered => {
                        tracing::info!(%endpoint, "registered with discovery");
                        registered = true;
                    }
                    Ok(_) => {}
                    Err(st) => {
                        tracing::warn!(status = %st, "discovery refused the registration");
                        registered = false;
                    }
                }
            }
            tokio::select! {
                () = shutdown.wait() => break,
                () = tokio::time::sleep(renew) => {}
            }
        }
        if registered && let Some(mut d) = discovery(&dir, &opts).await {
            let _ = d.deregister(DeregisterRequest { name }).await;
        }
    });
}
