//! The known plugins: socket plugins found in the directory and registered TCP plugins.
//!
//! A registration is keyed by (name, endpoint), not by name alone: several replicas of one
//! service (group controllers sharing their groups through etcd) register the same name from
//! different endpoints, each with its own lease, and each goes away alone.

use crate::order;
use infrakit_spi::discovery::v1::{DiscoveryEvent, DiscoveryEventKind, PluginEntry, Source};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};
use tokio::sync::broadcast;

/// The longest lease a registration may ask for.
pub const MAX_TTL: Duration = Duration::from_secs(3600);
/// The lease given when none is asked for.
pub const DEFAULT_TTL: Duration = Duration::from_secs(15);

/// A registered plugin and when its lease runs out.
#[derive(Clone, Debug)]
struct Lease {
    entry: PluginEntry,
    expires: SystemTime,
}

/// The key of a registration: (name, endpoint).
type LeaseKey = (String, String);

#[derive(Debug, Default)]
struct Inner {
    sockets: BTreeMap<String, PluginEntry>,
    leases: BTreeMap<LeaseKey, Lease>,
}

fn key(entry: &PluginEntry) -> LeaseKey {
    (entry.name.clone(), entry.endpoint.clone())
}

/// All known plugins, and a broadcast of changes.
#[derive(Debug)]
pub struct Registry {
    inner: Mutex<Inner>,
    events: broadcast::Sender<DiscoveryEvent>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

// === impl Registry ===

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            events: broadcast::channel(1024).0,
        }
    }

    /// Subscribes to changes.
    pub fn subscribe(&self) -> broadcast::Receiver<DiscoveryEvent> {
        self.events.subscribe()
    }

    /// Every plugin, sorted by name then endpoint (one entry per registration); a socket plugin
    /// hides the registrations of the same name.
    pub fn list(&self) -> Vec<PluginEntry> {
        let inner = self.lock();
        let mut all: BTreeMap<LeaseKey, PluginEntry> = inner
            .leases
            .iter()
            .filter(|((name, _), _)| !inner.sockets.contains_key(name))
            .map(|(k, l)| (k.clone(), l.entry.clone()))
            .collect();
        all.extend(inner.sockets.values().map(|e| (key(e), e.clone())));
        all.into_values().collect()
    }

    /// The best replica of the plugin named `name` (the first of [`Registry::replicas`]).
    pub fn get(&self, name: &str) -> Option<PluginEntry> {
        self.replicas(name).into_iter().next()
    }

    /// Every endpoint of the plugin named `name`, best first (see [`order`]): its socket alone
    /// when one is in the directory, else each live registration of the name.
    pub fn replicas(&self, name: &str) -> Vec<PluginEntry> {
        let inner = self.lock();
        if let Some(socket) = inner.sockets.get(name) {
            return vec![socket.clone()];
        }
        let mut found: Vec<PluginEntry> = inner
            .leases
            .iter()
            .filter(|((n, _), _)| n == name)
            .map(|(_, l)| l.entry.clone())
            .collect();
        drop(inner);
        order::best_first(&mut found);
        found
    }

    /// The names of the socket plugins.
    pub fn socket_names(&self) -> Vec<String> {
        self.lock().sockets.keys().cloned().collect()
    }

    /// Adds or updates a socket plugin.
    pub fn put_socket(&self, entry: PluginEntry) {
        let mut inner = self.lock();
        let kind = match inner.sockets.get(&entry.name) {
            None => Some(DiscoveryEventKind::Added),
            Some(old) if !same(old, &entry) => Some(DiscoveryEventKind::Changed),
            Some(_) => None,
        };
        inner.sockets.insert(entry.name.clone(), entry.clone());
        drop(inner);
        if let Some(kind) = kind {
            self.emit(kind, entry);
        }
    }

    /// Removes a socket plugin.
    pub fn remove_socket(&self, name: &str) {
        let removed = self.lock().sockets.remove(name);
        if let Some(e) = removed {
            self.emit(DiscoveryEventKind::Removed, e);
        }
    }

    /// Registers (or renews) a TCP plugin at its endpoint until `now + ttl`; other endpoints
    /// registered under the same name stay. Returns the lease granted.
    pub fn register(
        &self,
        mut entry: PluginEntry,
        ttl: Duration,
        now: SystemTime,
    ) -> (SystemTime, Duration) {
        let ttl = if ttl.is_zero() {
            DEFAULT_TTL
        } else {
            ttl.min(MAX_TTL)
        };
        let expires = now + ttl;
        entry.source = Source::Registered as i32;
        entry.lease_expires = Some(expires.into());
        let mut inner = self.lock();
        let kind = match inner.leases.get(&key(&entry)) {
            None => Some(DiscoveryEventKind::Added),
            Some(old) if old.entry.tls != entry.tls => Some(DiscoveryEventKind::Changed),
            Some(old) => {
                // Keep what probing learnt about the same endpoint.
                entry.health = old.entry.health;
                entry.spis = old.entry.spis.clone();
                entry.kind = old.entry.kind.clone();
                entry.version = old.entry.version.clone();
                entry.probed = old.entry.probed;
                None
            }
        };
        inner.leases.insert(
            key(&entry),
            Lease {
                entry: entry.clone(),
                expires,
            },
        );
        drop(inner);
        if let Some(kind) = kind {
            self.emit(kind, entry);
        }
        (expires, ttl)
    }

    /// Updates what probing learnt about a registered plugin.
    pub fn update_registered(&self, entry: PluginEntry) {
        let mut inner = self.lock();
        let changed = match inner.leases.get_mut(&key(&entry)) {
            Some(l) => {
                let changed = !same(&l.entry, &entry);
                l.entry = PluginEntry {
                    lease_expires: l.entry.lease_expires,
                    source: l.entry.source,
                    ..entry.clone()
                };
                changed.then(|| l.entry.clone())
            }
            None => None,
        };
        drop(inner);
        if let Some(e) = changed {
            self.emit(DiscoveryEventKind::Changed, e);
        }
    }

    /// Removes the registration of `name` at `endpoint`, or every registration of `name` when
    /// `endpoint` is `None`. Returns how many were removed.
    pub fn deregister(&self, name: &str, endpoint: Option<&str>) -> usize {
        self.remove_leases(|(n, e), _| n == name && endpoint.is_none_or(|want| want == e))
            .len()
    }

    /// The registered plugins (for probing).
    pub fn registered(&self) -> Vec<PluginEntry> {
        self.lock()
            .leases
            .values()
            .map(|l| l.entry.clone())
            .collect()
    }

    /// Drops the registrations whose lease ran out.
    pub fn expire(&self, now: SystemTime) {
        for e in self.remove_leases(|_, l| l.expires <= now) {
            tracing::info!(name = %e.name, endpoint = %e.endpoint, "lease expired");
        }
    }

    /// Removes the registrations `doomed` picks and announces each; returns them.
    fn remove_leases(&self, doomed: impl Fn(&LeaseKey, &Lease) -> bool) -> Vec<PluginEntry> {
        let mut inner = self.lock();
        let keys: Vec<LeaseKey> = inner
            .leases
            .iter()
            .filter(|(k, l)| doomed(k, l))
            .map(|(k, _)| k.clone())
            .collect();
        let removed: Vec<PluginEntry> = keys
            .iter()
            .filter_map(|k| inner.leases.remove(k))
            .map(|l| l.entry)
            .collect();
        drop(inner);
        for e in &removed {
            self.emit(DiscoveryEventKind::Removed, e.clone());
        }
        removed
    }

    fn emit(&self, kind: DiscoveryEventKind, plugin: PluginEntry) {
        let _ = self.events.send(DiscoveryEvent {
            kind: kind as i32,
            plugin: Some(plugin),
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Equal apart from the probe time.
fn same(a: &PluginEntry, b: &PluginEntry) -> bool {
    a.endpoint == b.endpoint
        && a.health == b.health
        && a.spis == b.spis
        && a.kind == b.kind
        && a.version == b.version
        && a.tls == b.tls
}

#[cfg(test)]
mod tests {
    use super::*;
    use infrakit_spi::discovery::v1::PluginHealth;

    fn entry(name: &str) -> PluginEntry {
        PluginEntry {
            name: name.into(),
            endpoint: "tcp://127.0.0.1:1".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_lease_that_is_not_renewed_expires() {
        let r = Registry::new();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let (_, ttl) = r.register(entry("a"), Duration::from_secs(5), t0);
        assert_eq!(ttl, Duration::from_secs(5));
        r.expire(t0 + Duration::from_secs(4));
        assert!(r.get("a").is_some());
        r.register(
            entry("a"),
            Duration::from_secs(5),
            t0 + Duration::from_secs(4),
        );
        r.expire(t0 + Duration::from_secs(6));
        assert!(r.get("a").is_some(), "renewed");
        r.expire(t0 + Duration::from_secs(9));
        assert!(r.get("a").is_none());
    }

    fn at(name: &str, endpoint: &str) -> PluginEntry {
        PluginEntry {
            endpoint: endpoint.into(),
            ..entry(name)
        }
    }

    fn endpoints(r: &Registry, name: &str) -> Vec<String> {
        r.replicas(name).into_iter().map(|e| e.endpoint).collect()
    }

    #[test]
    fn replicas_of_one_name_live_and_expire_apart() {
        let r = Registry::new();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let ttl = Duration::from_secs(5);
        r.register(at("group", "tcp://a:1"), ttl, t0);
        r.register(at("group", "tcp://b:2"), ttl, t0 + Duration::from_secs(1));
        assert_eq!(r.list().len(), 2, "each registration is listed");
        // b renewed last: its lease runs longer, so it is offered first among the unprobed.
        assert_eq!(endpoints(&r, "group"), ["tcp://b:2", "tcp://a:1"]);
        r.register(at("group", "tcp://b:2"), ttl, t0 + Duration::from_secs(4));
        r.expire(t0 + Duration::from_secs(5));
        assert_eq!(
            endpoints(&r, "group"),
            ["tcp://b:2"],
            "only a's lease ran out"
        );
        r.expire(t0 + Duration::from_secs(9));
        assert!(r.get("group").is_none());
    }

    #[test]
    fn deregistering_an_endpoint_keeps_the_other_replicas() {
        let r = Registry::new();
        let now = SystemTime::now();
        let ttl = Duration::from_secs(5);
        for ep in ["tcp://a:1", "tcp://b:2", "tcp://c:3"] {
            r.register(at("group", ep), ttl, now);
        }
        assert_eq!(r.deregister("group", Some("tcp://a:1")), 1);
        assert_eq!(r.deregister("group", Some("tcp://a:1")), 0);
        assert_eq!(r.replicas("group").len(), 2);
        assert_eq!(r.deregister("group", None), 2, "no endpoint: every one");
        assert!(r.list().is_empty());
    }

    #[test]
    fn probing_one_replica_leaves_the_others_alone() {
        let r = Registry::new();
        let mut rx = r.subscribe();
        let now = SystemTime::now();
        r.register(at("group", "tcp://a:1"), Duration::from_secs(5), now);
        r.register(at("group", "tcp://b:2"), Duration::from_secs(5), now);
        r.update_registered(PluginEntry {
            health: PluginHealth::Serving as i32,
            ..at("group", "tcp://a:1")
        });
        r.update_registered(PluginEntry {
            health: PluginHealth::Unreachable as i32,
            ..at("group", "tcp://b:2")
        });
        let health: Vec<(String, i32)> = r
            .replicas("group")
            .into_iter()
            .map(|e| (e.endpoint, e.health))
            .collect();
        assert_eq!(
            health,
            [
                ("tcp://a:1".to_string(), PluginHealth::Serving as i32),
                ("tcp://b:2".to_string(), PluginHealth::Unreachable as i32),
            ]
        );
        let added = std::iter::from_fn(|| rx.try_recv().ok())
            .filter(|e| e.kind == DiscoveryEventKind::Added as i32)
            .count();
        assert_eq!(
            added, 2,
            "the second endpoint is a new plugin, not a change"
        );
    }

    #[test]
    fn a_socket_plugin_hides_registrations_of_its_name() {
        let r = Registry::new();
        r.register(
            at("x", "tcp://a:1"),
            Duration::from_secs(5),
            SystemTime::now(),
        );
        r.put_socket(at("x", "unix:///p/x.sock"));
        assert_eq!(endpoints(&r, "x"), ["unix:///p/x.sock"]);
        assert_eq!(r.list().len(), 1);
    }

    #[test]
    fn changes_are_announced_once() {
        let r = Registry::new();
        let mut rx = r.subscribe();
        r.put_socket(entry("s"));
        r.put_socket(entry("s"));
        r.remove_socket("s");
        r.remove_socket("s");
        let kinds: Vec<i32> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|e| e.kind)
            .collect();
        assert_eq!(
            kinds,
            vec![
                DiscoveryEventKind::Added as i32,
                DiscoveryEventKind::Removed as i32
            ]
        );
        let (_, ttl) = r.register(entry("x"), Duration::from_secs(99999), SystemTime::now());
        assert_eq!(ttl, MAX_TTL);
    }
}
