//! Keeps the registry in line with the plugins directory and the leases: a directory listing
//! every second (and at once on inotify events), a probe of each new plugin at once, and of every
//! plugin every [`PROBE_EVERY`].

use crate::probe::probe;
use crate::registry::Registry;
use infrakit_runtime::dial::DialOptions;
use infrakit_runtime::{Shutdown, plugins_dir};
use infrakit_spi::discovery::v1::{PluginEntry, PluginHealth, Source};
use notify::event::ModifyKind;
use notify::{EventKind, RecursiveMode, Watcher};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How often the directory is listed when no notification arrives.
pub const SCAN_EVERY: Duration = Duration::from_secs(1);
/// How often every known plugin is probed.
pub const PROBE_EVERY: Duration = Duration::from_secs(5);

/// Runs the scanner until shutdown.
pub async fn run(registry: Arc<Registry>, dir: PathBuf, opts: DialOptions, shutdown: Shutdown) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(1);
    let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        // Only sockets appearing or going away matter. Reads of the directory (our own listing
        // included) raise access events; reacting to those would rescan forever.
        let relevant = match &res {
            Ok(ev) => {
                matches!(
                    ev.kind,
                    EventKind::Create(_)
                        | EventKind::Remove(_)
                        | EventKind::Modify(ModifyKind::Name(_))
                ) || ev.need_rescan()
            }
            Err(_) => true,
        };
        if relevant {
            let _ = tx.try_send(());
        }
    })
    .and_then(|mut w| w.watch(&dir, RecursiveMode::NonRecursive).map(|()| w));
    if let Err(e) = &watcher {
        tracing::warn!(error = %e, dir = %dir.display(), "cannot watch the plugins directory; listing it every second");
    }
    let mut last_full_probe = tokio::time::Instant::now();
    loop {
        let full = last_full_probe.elapsed() >= PROBE_EVERY;
        if full {
            last_full_probe = tokio::time::Instant::now();
        }
        scan_once(&registry, &dir, &opts, full).await;
        registry.expire(SystemTime::now());
        tokio::select! {
            () = shutdown.wait() => break,
            _ = rx.recv() => {}
            () = tokio::time::sleep(SCAN_EVERY) => {}
        }
    }
    drop(watcher);
}

/// One pass: add new sockets (probed), drop vanished ones, and when `full`, probe everything.
pub async fn scan_once(registry: &Registry, dir: &std::path::Path, opts: &DialOptions, full: bool) {
    let on_disk = plugins_dir::socket_names(dir);
    for gone in registry
        .socket_names()
        .into_iter()
        .filter(|n| !on_disk.contains(n))
    {
        registry.remove_socket(&gone);
    }
    let mut probes = Vec::new();
    for name in on_disk {
        let known = registry
            .get(&name)
            .filter(|e| e.source == Source::SocketDir as i32);
        if known.is_some() && !full {
            continue;
        }
        let entry = known.unwrap_or_else(|| PluginEntry {
            name: name.clone(),
            endpoint: format!("unix://{}", plugins_dir::socket_path(dir, &name).display()),
            source: Source::SocketDir as i32,
            health: PluginHealth::Unknown as i32,
            ..Default::default()
        });
        probes.push(entry);
    }
    for e in probe_all(probes, opts).await {
        // A socket nobody answers on is a stale file left by a crashed plugin: not a plugin.
        if e.health == PluginHealth::Unreachable as i32 {
            registry.remove_socket(&e.name);
        } else {
            registry.put_socket(e);
        }
    }
    if full {
        for e in probe_all(registry.registered(), opts).await {
            registry.update_registered(e);
        }
    }
}

/// Probes every entry concurrently.
async fn probe_all(entries: Vec<PluginEntry>, opts: &DialOptions) -> Vec<PluginEntry> {
    let mut set = tokio::task::JoinSet::new();
    for e in entries {
        let opts = opts.clone();
        set.spawn(async move { probe(e, &opts).await });
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        if let Ok(e) = r {
            out.push(e);
        }
    }
    out
}
