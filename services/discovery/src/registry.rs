//! The known plugins: socket plugins found in the directory and registered TCP plugins.

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

#[derive(Debug, Default)]
struct Inner {
    sockets: BTreeMap<String, PluginEntry>,
    leases: BTreeMap<String, Lease>,
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

    /// Every plugin, sorted by name; a socket plugin hides a registration of the same name.
    pub fn list(&self) -> Vec<PluginEntry> {
        let inner = self.lock();
        let mut all: BTreeMap<String, PluginEntry> = inner
            .leases
            .iter()
            .map(|(n, l)| (n.clone(), l.entry.clone()))
            .collect();
        all.extend(inner.sockets.iter().map(|(n, e)| (n.clone(), e.clone())));
        all.into_values().collect()
    }

    /// The plugin named `name`.
    pub fn get(&self, name: &str) -> Option<PluginEntry> {
        let inner = self.lock();
        inner
            .sockets
            .get(name)
            .cloned()
            .or_else(|| inner.leases.get(name).map(|l| l.entry.clone()))
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

    /// Registers (or renews) a TCP plugin until `now + ttl`. Returns the lease granted.
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
        let kind = match inner.leases.get(&entry.name) {
            None => Some(DiscoveryEventKind::Added),
            Some(old) if old.entry.endpoint != entry.endpoint || old.entry.tls != entry.tls => {
                Some(DiscoveryEventKind::Changed)
            }
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
            entry.name.clone(),
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
        let changed = match inner.leases.get_mut(&entry.name) {
            Some(l) if l.entry.endpoint == entry.endpoint => {
                let changed = !same(&l.entry, &entry);
                l.entry = PluginEntry {
                    lease_expires: l.entry.lease_expires,
                    source: l.entry.source,
                    ..entry.clone()
                };
                changed.then(|| l.entry.clone())
            }
            _ => None,
        };
        drop(inner);
        if let Some(e) = changed {
            self.emit(DiscoveryEventKind::Changed, e);
        }
    }

    /// Removes a registration. Returns whether there was one.
    pub fn deregister(&self, name: &str) -> bool {
        let removed = self.lock().leases.remove(name);
        match removed {
            Some(l) => {
                self.emit(DiscoveryEventKind::Removed, l.entry);
                true
            }
            None => false,
        }
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
        let mut inner = self.lock();
        let dead: Vec<String> = inner
            .leases
            .iter()
            .filter(|(_, l)| l.expires <= now)
            .map(|(n, _)| n.clone())
            .collect();
        let removed: Vec<PluginEntry> = dead
            .iter()
            .filter_map(|n| inner.leases.remove(n))
            .map(|l| l.entry)
            .collect();
        drop(inner);
        for e in removed {
            tracing::info!(name = %e.name, endpoint = %e.endpoint, "lease expired");
            self.emit(DiscoveryEventKind::Removed, e);
        }
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
