//! Serving `Instance/WatchInstances` from a broadcast of change events: the RESYNC first, then
//! the events matching the watcher's tags, a RESYNC whenever the watcher fell behind, and the
//! end of the stream when the client leaves or the process shuts down.

use crate::shutdown::Shutdown;
use infrakit_spi::instance::v1::{InstanceEvent, InstanceEventKind};
use std::collections::HashMap;
use std::pin::Pin;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_stream::Stream;
use tonic::Status;

/// The stream type of `WatchInstances`.
pub type InstanceEventStream = Pin<Box<dyn Stream<Item = Result<InstanceEvent, Status>> + Send>>;

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
