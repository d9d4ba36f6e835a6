//! Asking a plugin for its info and health.

use infrakit_runtime::ListenAddr;
use infrakit_runtime::dial::{DialOptions, connect};
use infrakit_spi::discovery::v1::{PluginEntry, PluginHealth};
use infrakit_spi::plugin::v1::InfoRequest;
use infrakit_spi::plugin::v1::plugin_client::PluginClient;
use std::time::{Duration, SystemTime};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// How long one probe may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Probes the plugin at `endpoint`, filling in what it learns. Never fails: an unreachable
/// plugin is reported as such.
pub async fn probe(mut entry: PluginEntry, opts: &DialOptions) -> PluginEntry {
    entry.probed = Some(SystemTime::now().into());
    let result = tokio::time::timeout(PROBE_TIMEOUT, async {
        let addr = ListenAddr::parse(&entry.endpoint).ok()?;
        let ch = connect(&addr, entry.tls, opts).await.ok()?;
        let health = HealthClient::new(ch.clone())
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .map(|r| r.into_inner().status)
            .ok();
        let info = PluginClient::new(ch)
            .info(InfoRequest {})
            .await
            .ok()
            .map(|r| r.into_inner());
        Some((health, info))
    })
    .await
    .ok()
    .flatten();
    match result {
        None => entry.health = PluginHealth::Unreachable as i32,
        Some((health, info)) => {
            entry.health = match health {
                Some(s) if s == ServingStatus::Serving as i32 => PluginHealth::Serving,
                Some(_) => PluginHealth::NotServing,
                None => PluginHealth::Unreachable,
            } as i32;
            if let Some(info) = info {
                entry.kind = info.kind;
                entry.version = info.version;
                entry.spis = info
                    .spis
                    .into_iter()
                    .map(|s| format!("{}@{}", s.name, s.version))
                    .collect();
            }
        }
    }
    entry
}
