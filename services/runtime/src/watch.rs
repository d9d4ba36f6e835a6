//! Serving `Instance/WatchInstances` from a broadcast of change events ([`EventBroadcast`]): the
//! RESYNC first, then the events matching the watcher's tags, a RESYNC whenever the watcher fell
//! behind, and the end of the stream when the client leaves or the process shuts down.

use crate::shutdown::Shutdown;
use infrakit_spi::instance::v1::{
    InstanceDescription, InstanceEvent, InstanceEventKind, WatchInstancesRequest,
};
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_stream::Stream;
use tonic::{Response, Status};

/// An instance plugin's change events, numbered from 1 in the order they are emitted, sent to
/// every watcher.
#[derive(Debug)]
pub struct EventBroadcast {
    tx: broadcast::Sender<InstanceEvent>,
    sequence: AtomicU64,
}

/// The stream type of `WatchInstances`.
pub type InstanceEventStream = Pin<Box<dyn Stream<Item = Result<InstanceEvent, Status>> + Send>>;

// === impl EventBroadcast ===

impl EventBroadcast {
    /// A broadcast whose watchers may fall `capacity` events behind before they are told to
    /// resync.
    pub fn new(capacity: usize) -> Self {
        Self {
            tx: broadcast::channel(capacity).0,
            sequence: AtomicU64::new(0),
        }
    }

    /// A receiver of every event emitted from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<InstanceEvent> {
        self.tx.subscribe()
    }

    /// Sends an event of `kind` about `instance` to every watcher.
    pub fn emit(&self, kind: InstanceEventKind, instance: Option<InstanceDescription>) {
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed) + 1;
        // No receiver is fine: nobody watches.
        let _ = self.tx.send(InstanceEvent {
            kind: kind as i32,
            instance,
            sequence,
        });
    }
}

/// Answers `WatchInstances` for a plugin of `kind` that has no subtypes
/// ([`crate::status::no_subtype`]): the events of `rx` whose instance carries every tag the
/// request names ([`instance_events`]), until `shutdown`.
pub fn respond(
    kind: &str,
    req: WatchInstancesRequest,
    rx: broadcast::Receiver<InstanceEvent>,
    shutdown: Shutdown,
) -> Result<Response<InstanceEventStream>, Status> {
    crate::status::no_subtype(kind, &req.r#type)?;
    Ok(Response::new(instance_events(rx, req.tags, shutdown)))
}

/// Streams the events of `rx` whose instance carries every tag in `tags`.
pub fn instance_events(
    mut rx: broadcast::Receiver<InstanceEvent>,
    tags: HashMap<String, String>,
    shutdown: Shutdown,
) -> InstanceEventStream {
    let (tx, out) = tokio::sync::mpsc::channel(256);
    tokio::spawn(async move {
        let resync = InstanceEvent {
            kind: InstanceEventKind::Resync as i32,
            instance: None,
            sequence: 0,
        };
        if tx.send(Ok(resync.clone())).await.is_err() {
            return;
        }
        loop {
            let ev = tokio::select! {
                () = shutdown.wait() => break,
                () = tx.closed() => break,
                ev = rx.recv() => ev,
            };
            let ev = match ev {
                Ok(ev) if wanted(&ev, &tags) => ev,
                Ok(_) => continue,
                Err(RecvError::Lagged(_)) => resync.clone(),
                Err(RecvError::Closed) => break,
            };
            if tx.send(Ok(ev)).await.is_err() {
                break;
            }
        }
    });
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(out))
}

/// True when the event concerns an instance with every tag (RESYNC concerns everyone).
fn wanted(ev: &InstanceEvent, tags: &HashMap<String, String>) -> bool {
    match &ev.instance {
        None => true,
        Some(i) => tags.iter().all(|(k, v)| i.tags.get(k) == Some(v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_stream::StreamExt;

    #[test]
    fn emitted_events_are_numbered_in_order_and_need_no_watcher() {
        let events = EventBroadcast::new(8);
        events.emit(InstanceEventKind::Gone, None);
        let mut rx = events.subscribe();
        let about = InstanceDescription {
            id: "i-1".into(),
            ..Default::default()
        };
        events.emit(InstanceEventKind::Created, Some(about.clone()));
        events.emit(InstanceEventKind::Gone, None);
        let first = rx.try_recv().unwrap();
        assert_eq!(
            (first.kind, first.sequence, first.instance),
            (InstanceEventKind::Created as i32, 2, Some(about))
        );
        assert_eq!(rx.try_recv().unwrap().sequence, 3);
    }

    #[tokio::test]
    async fn a_watch_starts_with_a_resync_and_a_subtype_is_refused() {
        let tx = EventBroadcast::new(4);
        let shutdown = Shutdown::new();
        let req = |t: &str| WatchInstancesRequest {
            r#type: t.into(),
            ..Default::default()
        };
        let Err(st) = respond("instance-x", req("sub"), tx.subscribe(), shutdown.clone()) else {
            panic!("a subtype was accepted");
        };
        assert_eq!(st.code(), tonic::Code::NotFound);
        assert!(
            st.message()
                .starts_with("instance-x has no subtype \"sub\"")
        );
        let mut events = respond("instance-x", req(""), tx.subscribe(), shutdown.clone())
            .unwrap()
            .into_inner();
        let first = events.next().await.unwrap().unwrap();
        assert_eq!(first.kind, InstanceEventKind::Resync as i32);
        shutdown.trigger();
        assert!(events.next().await.is_none());
    }
}
