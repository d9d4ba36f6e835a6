//! Keeping a TCP plugin registered with the discovery service: register, renew the lease at a
//! third of its TTL, deregister on shutdown. A registration is one endpoint of a name: replicas
//! of one service register the same name from their own endpoints, and each removes only its
//! own when it stops.

use crate::dial::{DialOptions, discovery};
use crate::shutdown::Shutdown;
use infrakit_spi::discovery::v1::{DeregisterRequest, RegisterRequest};
use std::path::PathBuf;
use std::time::Duration;
use tokio::task::JoinHandle;

/// The lease requested by plugins, in seconds, unless `INFRAKIT_REGISTER_TTL` says otherwise.
pub const LEASE_SECONDS: u32 = 15;

/// How long a stopping plugin waits for discovery to take its registration back. Without the
/// wait the process would exit before the request is sent, and clients would keep being offered
/// a dead endpoint until its lease runs out; with no answer in this time, the lease does it.
pub const DEREGISTER_TIMEOUT: Duration = Duration::from_secs(2);

/// The lease to ask for: `INFRAKIT_REGISTER_TTL` (seconds, at least 1) or [`LEASE_SECONDS`].
pub fn lease_seconds() -> u32 {
    std::env::var("INFRAKIT_REGISTER_TTL")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .filter(|v| *v >= 1)
        .unwrap_or(LEASE_SECONDS)
}

/// Spawns the registration loop for a TCP plugin named `name` reachable at `endpoint`
/// (`tcp://host:port`). It retries quietly while no discovery service runs in `dir`. When
/// `shutdown` starts, the task deregisters (within [`DEREGISTER_TIMEOUT`]) and ends: a stopping
/// process awaits the handle before it exits.
pub fn spawn(
    name: String,
    endpoint: String,
    tls: bool,
    dir: PathBuf,
    shutdown: Shutdown,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let opts = DialOptions::default();
        let mut registered = false;
        let ttl = lease_seconds();
        let renew = Duration::from_millis(u64::from(ttl) * 1000 / 3);
        loop {
            if let Some(mut d) = discovery(&dir, &opts).await {
                let req = RegisterRequest {
                    name: name.clone(),
                    endpoint: endpoint.clone(),
                    ttl_seconds: ttl,
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
        if registered {
            let _ = tokio::time::timeout(DEREGISTER_TIMEOUT, async {
                if let Some(mut d) = discovery(&dir, &opts).await {
                    // Our endpoint only: the other replicas of the name keep serving.
                    let _ = d.deregister(DeregisterRequest { name, endpoint }).await;
                }
            })
            .await;
        }
    })
}
