//! The group event log: every action with its reason, and phase changes. Recent events are kept
//! per group for DescribeGroup; all events are broadcast for Watch.

use infrakit_spi::group::v1::{EventKind, GroupEvent, Phase};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// How many recent events are kept per group.
pub const RECENT: usize = 50;

/// The event log.
#[derive(Debug)]
pub struct Events {
    tx: broadcast::Sender<Arc<GroupEvent>>,
    sequence: AtomicU64,
    recent: Mutex<HashMap<String, VecDeque<Arc<GroupEvent>>>>,
}

impl Default for Events {
    fn default() -> Self {
        Self::new()
    }
}

// === impl Events ===

impl Events {
    /// An empty log.
    pub fn new() -> Self {
        Self {
            // Slots hold an `Arc` (8 bytes): a deep buffer, for watchers of a 10,000-instance
            // converge, costs a quarter of a megabyte instead of several.
            tx: broadcast::channel(32_768).0,
            sequence: AtomicU64::new(0),
            recent: Mutex::default(),
        }
    }

    /// Records and broadcasts an event.
    pub fn emit(
        &self,
        group: &str,
        kind: EventKind,
        instance: Option<&str>,
        logical_id: Option<&str>,
        message: impl Into<String>,
        phase: Phase,
    ) {
        let message = message.into();
        let name = kind_name(kind);
        tracing::info!(group, kind = %name, instance = instance.unwrap_or(""), "{message}");
        let ev = Arc::new(GroupEvent {
            sequence: self.sequence.fetch_add(1, Ordering::Relaxed) + 1,
            time: Some(std::time::SystemTime::now().into()),
            group_id: group.to_string(),
            kind: name,
            r#type: kind as i32,
            instance_id: instance.unwrap_or_default().to_string(),
            logical_id: logical_id.unwrap_or_default().to_string(),
            message,
            phase: phase as i32,
        });
        {
            let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
            let q = recent.entry(group.to_string()).or_default();
            if q.len() == RECENT {
                q.pop_front();
            }
            q.push_back(Arc::clone(&ev));
        }
        let _ = self.tx.send(ev);
    }

    /// The recent events of a group, oldest first.
    pub fn recent(&self, group: &str) -> Vec<GroupEvent> {
        self.recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(group)
            .map(|q| q.iter().map(|e| GroupEvent::clone(e)).collect())
            .unwrap_or_default()
    }

    /// How many events group `id` has had (of those still remembered, and before).
    pub fn version(&self, group: &str) -> u64 {
        self.recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(group)
            .and_then(|q| q.back())
            .map(|e| e.sequence)
            .unwrap_or_default()
    }

    /// Forgets a group's recent events.
    pub fn forget(&self, group: &str) {
        self.recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(group);
    }

    /// Subscribes to all events (every group's).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<GroupEvent>> {
        self.tx.subscribe()
    }
}

/// The name of an event kind as sent in `GroupEvent.kind`: the enum value's name without its
/// prefix, lower case, words joined by dashes (`EVENT_KIND_DESTROYED_GROUP` is
/// `destroyed-group`).
pub fn kind_name(kind: EventKind) -> String {
    let full = kind.as_str_name();
    full.strip_prefix("EVENT_KIND_")
        .unwrap_or(full)
        .to_ascii_lowercase()
        .replace('_', "-")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// The kinds the driver emits are exactly the kinds `proto/` documents (each one emitted
    /// somewhere), and the README lists every one by its name.
    #[test]
    fn every_documented_event_kind_is_emitted_and_listed_in_the_readme() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut driver = String::new();
        let mut dirs = vec![src.clone()];
        while let Some(dir) = dirs.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() && !p.ends_with("tests") {
                    dirs.push(p);
                } else if p.extension().is_some_and(|x| x == "rs") && !p.ends_with("events.rs") {
                    driver.push_str(&std::fs::read_to_string(&p).unwrap());
                }
            }
        }
        let readme = std::fs::read_to_string(src.join("../../../README.md")).unwrap();
        let kinds: Vec<EventKind> = (1..64)
            .filter_map(|v| EventKind::try_from(v).ok())
            .collect();
        assert!(kinds.len() >= 17, "{kinds:?}");
        for k in kinds {
            let used = format!("EventKind::{k:?}");
            assert!(
                driver.contains(&used),
                "{used} is documented but never emitted"
            );
            let name = kind_name(k);
            assert!(
                readme.contains(&format!("`{name}`")),
                "the README does not list the event kind `{name}`"
            );
        }
        assert_eq!(kind_name(EventKind::DestroyedGroup), "destroyed-group");
    }
}
