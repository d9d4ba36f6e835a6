//! Keeping the store in line with the directory: inotify events as they happen, plus a periodic
//! rescan as the safety net (cheap: it lists names and only reads new files, see
//! [`Store::rescan`]).

use crate::store::Store;
use infrakit_runtime::Shutdown;
use notify::{RecursiveMode, Watcher};
use std::sync::Arc;
use std::time::Duration;

/// How often the directory is rescanned besides notifications, unless told otherwise
/// (`--rescan-every`).
pub const RESCAN_EVERY: Duration = Duration::from_secs(30);

/// Starts watching the store's directory, and rescanning it every `rescan_every`. The returned
/// watcher must be kept alive.
pub fn start(
    store: Arc<Store>,
    rescan_every: Duration,
    shutdown: Shutdown,
) -> notify::Result<notify::RecommendedWatcher> {
    let s = store.clone();
    let mut watcher =
        notify::recommended_watcher(move |res: notify::Result<notify::Event>| match res {
            Ok(ev) if ev.need_rescan() => {
                s.rescan();
                s.announce_resync();
            }
            Ok(ev) => {
                for p in &ev.paths {
                    if let Some(name) = p.file_name().and_then(|n| n.to_str()) {
                        s.file_changed(name);
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "directory watch error; rescanning");
                s.rescan();
                s.announce_resync();
            }
        })?;
    watcher.watch(store.dir(), RecursiveMode::NonRecursive)?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = shutdown.wait() => break,
                () = tokio::time::sleep(rescan_every) => {}
            }
            let s = store.clone();
            let _ = tokio::task::spawn_blocking(move || s.rescan()).await;
        }
    });
    Ok(watcher)
}
