//! Turns by key: async calls with the same key (a provision token) run one after another, calls
//! with other keys in parallel. Instance plugins use it to make Provision idempotent by token:
//! the second call with a token waits for the first to finish, then finds its instance.
//!
//! # Guarantees
//! - At most one [`Turn`] per key exists at a time; waiters get the key in the order they
//!   asked (tokio's mutex is fair).
//! - The table holds only keys someone holds or waits for: the last [`Turn`] dropped (or the
//!   last waiting future cancelled) removes its key, so tokens never accumulate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::OwnedMutexGuard;

type Slot = Arc<tokio::sync::Mutex<()>>;

/// A table of per-key turns.
#[derive(Debug, Default)]
pub struct Turns {
    slots: Mutex<HashMap<String, Slot>>,
}

/// The exclusive turn for one key, held until dropped.
#[derive(Debug)]
pub struct Turn<'a> {
    turns: &'a Turns,
    key: String,
    slot: Option<Slot>,
    guard: Option<OwnedMutexGuard<()>>,
}

// === impl Turns ===

impl Turns {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Waits for the turn of `key`. Cancel-safe: dropping the future gives up the place.
    pub async fn take(&self, key: &str) -> Turn<'_> {
        let slot = self.slots().entry(key.to_string()).or_default().clone();
        let mut turn = Turn {
            turns: self,
            key: key.to_string(),
            slot: Some(slot.clone()),
            guard: None,
        };
        turn.guard = Some(slot.lock_owned().await);
        turn
    }

    /// How many keys are held or waited for.
    pub fn len(&self) -> usize {
        self.slots().len()
    }

    /// True when no key is held or waited for.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn slots(&self) -> MutexGuard<'_, HashMap<String, Slot>> {
        // The map stays consistent whatever panicked: every change is one insert or remove.
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }
}

// === impl Turn ===

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.guard.take();
        let mut slots = self.turns.slots();
        // References are taken under the table's lock, so the count is exact here: one is the
        // table's own, one ours.
        if let Some(slot) = self.slot.take()
            && Arc::strong_count(&slot) == 2
        {
            slots.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_key_is_held_by_one_caller_at_a_time() {
        let turns = Arc::new(Turns::new());
        let inside = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        let most = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let (turns, inside, most) = (turns.clone(), inside.clone(), most.clone());
                tokio::spawn(async move {
                    let key = ["a", "b"][i % 2];
                    let _turn = turns.take(key).await;
                    let now = inside[i % 2].fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    for _ in 0..20 {
                        tokio::task::yield_now().await;
                    }
                    inside[i % 2].fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 1, "one holder per key");
        assert!(turns.is_empty(), "no key left behind");
    }

    #[tokio::test]
    async fn a_cancelled_waiter_leaves_no_key_behind() {
        let turns = Turns::new();
        let held = turns.take("a").await;
        tokio::select! {
            biased;
            _ = turns.take("a") => panic!("the key is held"),
            () = std::future::ready(()) => {}
        }
        assert_eq!(turns.len(), 1);
        drop(held);
        assert!(turns.is_empty());
        drop(turns.take("a").await);
        assert!(turns.is_empty());
    }
}
