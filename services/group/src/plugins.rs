//! gRPC clients of the instance and flavor plugins a group uses, found by name through the
//! discovery service or the plugins directory. Channels are cached per plugin and reconnect by
//! themselves; a plugin that cannot be found is looked up again on the next call.

use infrakit_model::PluginName;
use infrakit_runtime::dial::{DialError, DialOptions, dial};
use infrakit_spi::flavor::v1::flavor_client::FlavorClient;
use infrakit_spi::instance::v1::instance_client::InstanceClient;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tonic::transport::Channel;

/// The largest message a plugin may send (a DescribeInstances of 100,000 instances fits).
pub const MAX_MESSAGE: usize = 256 * 1024 * 1024;

/// Dials plugins by name and caches the channels.
#[derive(Clone, Debug)]
pub struct Plugins {
    dir: PathBuf,
    opts: DialOptions,
    cache: Arc<Mutex<HashMap<String, Channel>>>,
}

// === impl Plugins ===

impl Plugins {
    /// Plugins found in `dir` (and through the discovery service there).
    pub fn new(dir: PathBuf, opts: DialOptions) -> Self {
        Self {
            dir,
            opts,
            cache: Arc::default(),
        }
    }

    /// A channel to plugin `name`.
    pub async fn channel(&self, name: &PluginName) -> Result<Channel, DialError> {
        if let Some(ch) = self.lock().get(&name.lookup) {
            return Ok(ch.clone());
        }
        let (_, ch) = dial(&name.lookup, &self.dir, &self.opts).await?;
        self.lock().insert(name.lookup.clone(), ch.clone());
        Ok(ch)
    }

    /// Drops the cached channel of a plugin (after it failed), so the next call looks it up again.
    pub fn forget(&self, name: &PluginName) {
        self.lock().remove(&name.lookup);
    }

    /// An Instance client.
    pub async fn instance(&self, name: &PluginName) -> Result<InstanceClient<Channel>, DialError> {
        Ok(InstanceClient::new(self.channel(name).await?)
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE))
    }

    /// A Flavor client.
    pub async fn flavor(&self, name: &PluginName) -> Result<FlavorClient<Channel>, DialError> {
        Ok(FlavorClient::new(self.channel(name).await?))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Channel>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}
