//! Following the engine's event stream and turning it into instance events for watchers.
//!
//! One task per plugin subscribes to the engine's `/events` for containers carrying this
//! plugin's ownership label (filtered on the engine) and broadcasts what it hears:
//!
//! | Docker event | instance event |
//! | --- | --- |
//! | `create` | CREATED (state PENDING) |
//! | `start`, `restart`, `unpause`, `pause`, `kill`, `die`, `oom`, `stop` | STATE_CHANGED, with the state inspected at that moment (after `die`: FAILED) |
//! | `rename` | GONE for the old name, CREATED for the new one (the name is the instance ID) |
//! | `destroy` | GONE |
//!
//! # Guarantees
//! - When the stream breaks (engine restarted, socket closed) watchers get RESYNC at once, and
//!   again when the engine answers again; the stream is resumed from the time of the last event
//!   seen, so the engine replays what happened in between.

use crate::ops::{Inner, Seen};
use bollard::models::EventMessage;
use bollard::query_parameters::EventsOptions;
use infrakit_spi::instance::v1::{InstanceDescription, InstanceEventKind, InstanceState};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_stream::StreamExt;

/// The container actions followed.
pub const ACTIONS: &[&str] = &[
    "create", "start", "restart", "pause", "unpause", "kill", "die", "oom", "stop", "rename",
    "destroy",
];

const FIRST_RETRY: Duration = Duration::from_millis(250);
const LAST_RETRY: Duration = Duration::from_secs(10);

/// Follows the engine's events until shutdown.
pub(crate) async fn pump(inner: Arc<Inner>) {
    let mut since: Option<i64> = None;
    let mut retry = FIRST_RETRY;
    let mut reconnecting = false;
    loop {
        if inner.shutdown.is_triggered() {
            return;
        }
        if inner.docker.ping().await.is_err() {
            if !pause(&inner, &mut retry).await {
                return;
            }
            continue;
        }
        let filters = HashMap::from([
            ("type".to_string(), vec!["container".to_string()]),
            ("label".to_string(), vec![inner.marker_filter()]),
            (
                "event".to_string(),
                ACTIONS.iter().map(|a| a.to_string()).collect(),
            ),
        ]);
        let mut stream = inner.docker.events(Some(EventsOptions {
            since: since.map(|t| t.to_string()),
            filters: Some(filters),
            ..Default::default()
        }));
        if reconnecting {
            tracing::info!("following the Docker engine's events again");
            inner.emit(InstanceEventKind::Resync, None);
        }
        loop {
            let item = tokio::select! {
                () = inner.shutdown.wait() => return,
                item = stream.next() => item,
            };
            match item {
                Some(Ok(ev)) => {
                    retry = FIRST_RETRY;
                    if let Some(t) = ev.time {
                        since = Some(t);
                    }
                    handle(&inner, ev).await;
                }
                Some(Err(e)) => {
                    tracing::warn!(error = %crate::engine::message(&e), "the Docker engine's event stream failed; resyncing");
                    break;
                }
                None => {
                    tracing::warn!("the Docker engine's event stream ended; resyncing");
                    break;
                }
            }
        }
        inner.emit(InstanceEventKind::Resync, None);
        reconnecting = true;
        if !pause(&inner, &mut retry).await {
            return;
        }
    }
}

/// Waits before the next attempt (doubling the wait); false on shutdown.
async fn pause(inner: &Inner, retry: &mut Duration) -> bool {
    let wait = *retry;
    *retry = (*retry * 2).min(LAST_RETRY);
    tokio::select! {
        () = inner.shutdown.wait() => false,
        () = tokio::time::sleep(wait) => true,
    }
}

async fn handle(inner: &Inner, ev: EventMessage) {
    let action = ev.action.unwrap_or_default();
    let actor = ev.actor.unwrap_or_default();
    let id = actor.id.unwrap_or_default();
    let attrs = actor.attributes.unwrap_or_default();
    match action.as_str() {
        "destroy" => {
            let d = gone(
                inner,
                &id,
                attrs.get("name").cloned().unwrap_or_default(),
                attrs,
            )
            .await;
            // Forgotten before watchers hear of it, so a watcher never sees a stale overlay.
            if let Err(e) = inner.overlay.forget(&[id.as_str()], None).await {
                tracing::warn!(error = %infrakit_runtime::dial::error_chain(&e), "cannot update the label overlay");
            }
            inner.emit(InstanceEventKind::Gone, Some(d));
        }
        "rename" => {
            let old = attrs
                .get("oldName")
                .map(|n| n.trim_start_matches('/').to_string())
                .unwrap_or_default();
            let d = gone(inner, &id, old, attrs).await;
            inner.emit(InstanceEventKind::Gone, Some(d));
            current(inner, &id, InstanceEventKind::Created).await;
        }
        "create" => current(inner, &id, InstanceEventKind::Created).await,
        _ => current(inner, &id, InstanceEventKind::StateChanged).await,
    }
}

/// The instance of a GONE event, described from the event's attributes (the container no
/// longer exists, or no longer has that name).
async fn gone(
    inner: &Inner,
    id: &str,
    name: String,
    attrs: HashMap<String, String>,
) -> InstanceDescription {
    let seen = Seen {
        id: id.to_string(),
        name,
        labels: attrs,
        ..Default::default()
    };
    let overlay = inner.overlay.get(id).await;
    let mut d = seen.describe(overlay.as_ref(), false);
    d.state = InstanceState::Terminating as i32;
    d
}

/// An event describing the container as it is now (skipped if it is already gone: its
/// `destroy` event follows).
async fn current(inner: &Inner, id: &str, kind: InstanceEventKind) {
    match inner.seen(id).await {
        Ok(Some(seen)) => {
            let overlay = inner.overlay.get(&seen.id).await;
            inner.emit(kind, Some(seen.describe(overlay.as_ref(), false)));
        }
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(error = %crate::engine::message(&e), "cannot inspect a container after an event; resyncing");
            inner.emit(InstanceEventKind::Resync, None);
        }
    }
}
