//! One live instance in memory: its record, what its process is doing, and the locks that keep
//! its supervisor and a Destroy from stepping on each other.

use crate::record::{Layout, Record};
use crate::stop::Leader;
use infrakit_spi::instance::v1::{InstanceDescription, InstanceState};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// What an instance's process is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The process runs.
    Running,
    /// The process ended and is started again after a backoff.
    Waiting,
    /// Destroy is stopping it.
    Terminating,
}

/// The mutable part of a slot.
#[derive(Debug)]
pub struct SlotState {
    /// The record, as last written to `instance.json`.
    pub record: Record,
    /// What the process is doing.
    pub phase: Phase,
    /// Set by Destroy: the supervisor must not restart or report anything any more.
    pub destroying: bool,
}

/// One live instance.
#[derive(Debug)]
pub struct Slot {
    /// The instance ID.
    pub id: String,
    state: Mutex<SlotState>,
    /// Wakes the supervisor from a restart backoff (Destroy).
    pub wake: tokio::sync::Notify,
    /// Serialises Destroys of this instance.
    pub destroy_lock: tokio::sync::Mutex<()>,
}

// === impl Phase ===

impl Phase {
    /// The SPI's state.
    pub fn state(self) -> InstanceState {
        match self {
            Self::Running => InstanceState::Running,
            Self::Waiting => InstanceState::Pending,
            Self::Terminating => InstanceState::Terminating,
        }
    }
}

// === impl Slot ===

impl Slot {
    /// A slot for `record` in `phase`.
    pub fn new(record: Record, phase: Phase) -> Self {
        Self {
            id: record.id.clone(),
            state: Mutex::new(SlotState {
                record,
                phase,
                destroying: false,
            }),
            wake: tokio::sync::Notify::new(),
            destroy_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Locks the state (a panic elsewhere never makes the state unusable: it is plain data).
    pub fn lock(&self) -> MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current process, if one was spawned.
    pub fn leader(&self) -> Option<Leader> {
        leader_of(&self.lock().record)
    }

    /// The grace period between SIGTERM and SIGKILL.
    pub fn grace(&self) -> Duration {
        Duration::from_millis(self.lock().record.run.stop_grace_ms)
    }

    /// The SPI's description.
    pub fn describe(&self, layout: &Layout, with_properties: bool) -> InstanceDescription {
        describe(&self.lock(), layout, with_properties)
    }
}

/// The process of a record, if one was spawned.
pub fn leader_of(record: &Record) -> Option<Leader> {
    record
        .process()
        .map(|(pid, start_time)| Leader { pid, start_time })
}

/// The SPI's description of a slot's state. Properties (when asked for) are the process's
/// facts, never the instance's Properties (which may hold secrets in `Env`).
pub fn describe(s: &SlotState, layout: &Layout, with_properties: bool) -> InstanceDescription {
    let r = &s.record;
    InstanceDescription {
        id: r.id.clone(),
        logical_id: r.logical_id.clone(),
        tags: r.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        properties: if with_properties {
            serde_json::json!({
                "Pid": r.pid,
                "Dir": layout.instance(&r.id),
                "Log": layout.file(&r.id, crate::record::LOG),
                "Restart": r.run.restart,
                "Restarts": r.restarts,
                "StartedMs": r.started_ms,
            })
            .to_string()
            .into_bytes()
        } else {
            Vec::new()
        },
        state: s.phase.state() as i32,
    }
}
