//! The command line of a controller sharing an etcd store, and how it starts.

use super::client::{Etcd, EtcdConfig};
use super::coordinator::Coordinator;
use super::keys::Keys;
use super::lease::Membership;
use super::replica::Replica;
use super::store::EtcdStore;
use crate::manager::{Config, Manager};
use crate::ports::{Ports, StorePort};
use crate::service::GroupService;
use infrakit_group_core::time::parse_duration;
use infrakit_runtime::cli::Context;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Where the groups are kept (`--store`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreChoice {
    /// One controller, one JSON file per group in this directory.
    File(PathBuf),
    /// Controllers sharing groups in etcd, at this address.
    Etcd(String),
}

// === impl StoreChoice ===

impl StoreChoice {
    /// Parses `file://[DIR]` (DIR defaults to `state_dir`), `etcd://...` or `https://...`.
    pub fn parse(store: &str, state_dir: &Path) -> Result<Self, String> {
        if let Some(dir) = store.strip_prefix("file://") {
            return Ok(Self::File(if dir.is_empty() {
                state_dir.to_path_buf()
            } else {
                PathBuf::from(dir)
            }));
        }
        EtcdConfig::parse(store)?;
        Ok(Self::Etcd(store.to_string()))
    }
}

/// Flags of the etcd store.
#[derive(clap::Args, Debug, Clone)]
pub struct EtcdArgs {
    /// The prefix of every key the controllers keep in etcd.
    #[arg(long, default_value = "/infrakit/", global = true)]
    etcd_prefix: String,
    /// How long a controller that stops answering keeps its groups: a dead controller's groups
    /// move after this; a controller cut off from etcd stops acting before it ends.
    #[arg(long, default_value = "5s", value_parser = parse_duration, global = true)]
    lease_ttl: Duration,
    /// This controller's name among the controllers (default: host name and a random suffix).
    #[arg(long, env = "INFRAKIT_GROUP_CONTROLLER", global = true)]
    controller_name: Option<String>,
    /// The CA certificate (PEM) that signed the etcd members' certificates, for https://.
    #[arg(long, global = true)]
    etcd_ca: Option<PathBuf>,
    /// This controller's client certificate (PEM), when etcd asks for one.
    #[arg(long, requires = "etcd_key", global = true)]
    etcd_cert: Option<PathBuf>,
    /// The key (PEM) of --etcd-cert.
    #[arg(long, requires = "etcd_cert", global = true)]
    etcd_key: Option<PathBuf>,
    /// How long one etcd call may take before the next member is tried.
    #[arg(long, default_value = "2s", value_parser = parse_duration, global = true)]
    etcd_timeout: Duration,
}

/// A started controller of a shared store.
pub struct Shared {
    /// The Group service: groups managed here, and the others through etcd.
    pub service: GroupService,
    /// Completes once the groups are released and the lease is given up, after shutdown.
    pub stopped: Pin<Box<dyn Future<Output = ()> + Send>>,
}

// === impl EtcdArgs ===

impl EtcdArgs {
    /// Joins the controllers in etcd at `url` and starts coordinating.
    pub async fn start(
        &self,
        url: &str,
        ports: impl FnOnce(Arc<dyn StorePort>) -> Ports,
        config: Config,
        ctx: &Context,
    ) -> Result<Shared, Box<dyn std::error::Error>> {
        if self.lease_ttl < Duration::from_secs(2) {
            return Err(format!(
                "invalid --lease-ttl {:?}: give at least 2s (etcd counts leases in whole seconds, and a controller renews at a third of it)",
                self.lease_ttl
            )
            .into());
        }
        let mut cfg = EtcdConfig::parse(url)?;
        cfg.timeout = self.etcd_timeout;
        if let Some(ca) = &self.etcd_ca {
            cfg.ca = Some(read(ca, "--etcd-ca")?);
        }
        if let (Some(cert), Some(key)) = (&self.etcd_cert, &self.etcd_key) {
            cfg.identity = Some((read(cert, "--etcd-cert")?, read(key, "--etcd-key")?));
        }
        let name = match &self.controller_name {
            Some(n) => check_name(n)?,
            None => default_name(),
        };
        let etcd = Etcd::new(&cfg)?;
        let keys = Keys::new(&self.etcd_prefix);
        let membership = Membership::new(etcd.clone(), keys.clone(), name.clone(), self.lease_ttl);
        let session = membership.session();
        let store = Arc::new(EtcdStore::new(
            etcd.clone(),
            keys.clone(),
            name.clone(),
            session.clone(),
            membership.act_until(),
            self.lease_ttl,
        ));
        let manager = Manager::new(ports(store), config, ctx.shutdown.clone());
        let replica = Arc::new(Replica::new(etcd.clone(), keys.clone(), name.clone()));
        let service = GroupService::shared(manager.clone(), ctx.shutdown.clone(), replica.clone());
        let coordinator = Coordinator::new(
            etcd,
            keys,
            name.clone(),
            manager,
            session,
            replica,
            service.local(),
        );
        let leave = CancellationToken::new();
        let lease_task = tokio::spawn(membership.run(leave.clone()));
        let shutdown = ctx.shutdown.token();
        let coordinating = tokio::spawn(coordinator.run(shutdown));
        tracing::info!(controller = %name, store = %url, prefix = %self.etcd_prefix, lease_ttl = ?self.lease_ttl, "sharing groups through etcd");
        let stopped = Box::pin(async move {
            // Every group released (workers and operations ended) before the lease is given up,
            // so the next owner never overlaps this one.
            let _ = coordinating.await;
            leave.cancel();
            let _ = lease_task.await;
        });
        Ok(Shared { service, stopped })
    }
}

fn read(path: &Path, flag: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{flag} {}: {e}", path.display()))
}

/// A controller name is one etcd key segment: letters, digits, `.`, `_`, `-`.
fn check_name(name: &str) -> Result<String, String> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(name.to_string())
    } else {
        Err(format!(
            "invalid --controller-name {name:?}: use 1-128 letters, digits, '.', '_' or '-'"
        ))
    }
}

/// The host name and a random suffix, so two controllers on one host differ.
fn default_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| check_name(h).is_ok())
        .unwrap_or_else(|| "controller".to_string());
    format!("{host}-{}", infrakit_runtime::socket::random_hex(3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_addresses_parse_and_bad_ones_say_the_forms() {
        let dir = Path::new("/var/lib/g");
        assert_eq!(
            StoreChoice::parse("file://", dir),
            Ok(StoreChoice::File(dir.to_path_buf()))
        );
        assert_eq!(
            StoreChoice::parse("file:///tmp/x", dir),
            Ok(StoreChoice::File(PathBuf::from("/tmp/x")))
        );
        assert_eq!(
            StoreChoice::parse("etcd://a:2379,b:2379", dir),
            Ok(StoreChoice::Etcd("etcd://a:2379,b:2379".into()))
        );
        let e = StoreChoice::parse("consul://x", dir).unwrap_err();
        assert!(e.contains("etcd://host:port"), "{e}");
    }

    #[test]
    fn controller_names_are_one_key_segment() {
        assert!(check_name("ctl-1.a_b").is_ok());
        assert!(check_name("a/b").is_err());
        assert!(check_name("").is_err());
        assert!(check_name(&default_name()).is_ok());
    }
}
