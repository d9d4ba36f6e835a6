//! Serving `Instance/WatchInstances` from a plugin's numbered change events
//! ([`EventBroadcast`]): a RESYNC first (or, for a watch resuming from a revision the plugin
//! still holds, the events since then), then the events matching the watcher's tags, a RESYNC
//! whenever the watcher fell behind, and the end of the stream when the client leaves or the
//! process shuts down.
//!
//! # Guarantees
//! - Sequences increase by one per event and start each run at the run's start time in
//!   microseconds, so a revision from an earlier run is never mistaken for one of this run.
//! - [`EventBroadcast::revision`] read before a listing is a valid resume point for it: an
//!   event is numbered and kept under one lock, and a resumed watch subscribes under that lock,
//!   so it gets every later event exactly once.

use crate::shutdown::Shutdown;
use infrakit_spi::instance::v1::{
    InstanceDescription, InstanceEvent, InstanceEventKind, WatchInstancesRequest,
};
use prost::Message;
use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::Mutex;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_stream::Stream;
use tonic::{Response, Status};

/// An instance plugin's change events, numbered in the order they are emitted, sent to every
/// watcher and kept (the newest `capacity`) for watches that resume.
#[derive(Debug)]
pub struct EventBroadcast {
    tx: broadcast::Sender<InstanceEvent>,
    backlog: Mutex<Backlog>,
}

/// The newest events, for watches that resume from a revision.
#[derive(Debug)]
struct Backlog {
    /// The events, oldest first, numbered up to `last`, each protobuf-encoded: a quarter of
    /// the memory of the decoded message with its many small strings, for events that are
    /// seldom read again (only by a watch that resumes).
    events: VecDeque<Box<[u8]>>,
    capacity: usize,
    /// The sequence of the newest event (one less than the first, before any).
    last: u64,
}

/// The stream type of `WatchInstances`.
pub type InstanceEventStream = Pin<Box<dyn Stream<Item = Result<InstanceEvent, Status>> + Send>>;

// === impl EventBroadcast ===

impl EventBroadcast {
    /// A broadcast whose watchers may fall `capacity` events behind before they are told to
    /// resync, and that can resume a watch from any of its newest `capacity` events.
    pub fn new(capacity: usize) -> Self {
        let start = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX / 2));
        Self::starting_at(capacity, start)
    }

    fn starting_at(capacity: usize, first: u64) -> Self {
        let capacity = capacity.max(1);
        Self {
            tx: broadcast::channel(capacity).0,
            backlog: Mutex::new(Backlog {
                events: VecDeque::new(),
                capacity,
                last: first.max(1) - 1,
            }),
        }
    }

    /// A receiver of every event emitted from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<InstanceEvent> {
        self.tx.subscribe()
    }

    /// The sequence of the newest event emitted: read before listing, it is the listing's
    /// revision (DescribeInstancesResponse.revision).
    pub fn revision(&self) -> u64 {
        self.lock().last
    }

    /// Sends an event of `kind` about `instance` to every watcher.
    pub fn emit(&self, kind: InstanceEventKind, instance: Option<InstanceDescription>) {
        let mut b = self.lock();
        b.last += 1;
        let ev = InstanceEvent {
            kind: kind as i32,
            instance,
            sequence: b.last,
        };
        if b.events.len() == b.capacity {
            b.events.pop_front();
        }
        b.events.push_back(ev.encode_to_vec().into_boxed_slice());
        // No receiver is fine: nobody watches.
        let _ = self.tx.send(ev);
    }

    /// The events after `since` and a receiver of the later ones, if `since` is of this run
    /// and every event after it is still held; `None` otherwise (the watcher must resync).
    fn resume(
        &self,
        since: u64,
    ) -> Option<(Vec<InstanceEvent>, broadcast::Receiver<InstanceEvent>)> {
        let b = self.lock();
        // Sequences are consecutive: the held events are numbered up to `last`.
        let held = u64::try_from(b.events.len()).unwrap_or(u64::MAX);
        let oldest = (b.last + 1).saturating_sub(held);
        if since == 0 || since > b.last || since + 1 < oldest {
            return None;
        }
        let skip = usize::try_from(since + 1 - oldest).unwrap_or(usize::MAX);
        // Our own encoding decodes; were one not to, the watcher resyncs instead.
        let missed = b
            .events
            .iter()
            .skip(skip)
            .map(|e| InstanceEvent::decode(&e[..]))
            .collect::<Result<_, _>>()
            .ok()?;
        Some((missed, self.tx.subscribe()))
    }

    /// The events a watch asks for: those whose instance carries every tag `req` names,
    /// resumed from `req.since_revision` when this broadcast still holds it, until `shutdown`.
    pub fn stream(&self, req: WatchInstancesRequest, shutdown: Shutdown) -> InstanceEventStream {
        let (missed, rx) = match self.resume(req.since_revision) {
            Some((missed, rx)) => (Some(missed), rx),
            None => (None, self.subscribe()),
        };
        instance_events(missed, rx, req.tags, shutdown)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Backlog> {
        self.backlog.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The DescribeInstances answer of a plugin that does not number its listings (revision 0):
/// its watchers list again on every change instead of following changes one by one.
pub fn unnumbered_listing(
    instances: Vec<InstanceDescription>,
) -> Response<infrakit_spi::instance::v1::DescribeInstancesResponse> {
    Response::new(infrakit_spi::instance::v1::DescribeInstancesResponse {
        instances,
        revision: 0,
        unchanged: false,
    })
}

/// Answers `WatchInstances` for a plugin of `kind` that has no subtypes
/// ([`crate::status::no_subtype`]) from its `events`: the events whose instance carries every
/// tag the request names, resumed from `since_revision` when the plugin still holds it, until
/// `shutdown`.
pub fn respond(
    kind: &str,
    req: WatchInstancesRequest,
    events: &EventBroadcast,
    shutdown: Shutdown,
) -> Result<Response<InstanceEventStream>, Status> {
    crate::status::no_subtype(kind, &req.r#type)?;
    Ok(Response::new(events.stream(req, shutdown)))
}

/// Streams `missed` (or a RESYNC, without them), then the events of `rx`, of those whose
/// instance carries every tag in `tags`.
fn instance_events(
    missed: Option<Vec<InstanceEvent>>,
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
        let first = match missed {
            Some(missed) => missed,
            None => vec![resync.clone()],
        };
        for ev in first.into_iter().filter(|ev| wanted(ev, &tags)) {
            if tx.send(Ok(ev)).await.is_err() {
                return;
            }
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
        let events = EventBroadcast::starting_at(8, 1);
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
        let Err(st) = respond("instance-x", req("sub"), &tx, shutdown.clone()) else {
            panic!("a subtype was accepted");
        };
        assert_eq!(st.code(), tonic::Code::NotFound);
        assert!(
            st.message()
                .starts_with("instance-x has no subtype \"sub\"")
        );
        let mut events = respond("instance-x", req(""), &tx, shutdown.clone())
            .unwrap()
            .into_inner();
        let first = events.next().await.unwrap().unwrap();
        assert_eq!(first.kind, InstanceEventKind::Resync as i32);
        shutdown.trigger();
        assert!(events.next().await.is_none());
    }

    fn about(id: &str, group: &str) -> InstanceDescription {
        InstanceDescription {
            id: id.into(),
            tags: [("g".to_string(), group.to_string())].into(),
            ..Default::default()
        }
    }

    fn watch_from(tx: &EventBroadcast, since: u64, group: &str) -> InstanceEventStream {
        let req = WatchInstancesRequest {
            tags: [("g".to_string(), group.to_string())].into(),
            since_revision: since,
            ..Default::default()
        };
        respond("instance-x", req, tx, Shutdown::new())
            .unwrap()
            .into_inner()
    }

    #[test]
    fn sequences_start_at_the_run_s_start_time_so_runs_never_share_one() {
        let before = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros();
        let events = EventBroadcast::new(4);
        let revision = u128::from(events.revision());
        assert!(
            revision + 1 >= before,
            "{revision} is before the run started ({before})"
        );
        events.emit(InstanceEventKind::Created, Some(about("i-1", "a")));
        assert_eq!(u128::from(events.revision()), revision + 1);
    }

    #[tokio::test]
    async fn a_watch_resumed_from_a_held_revision_gets_the_events_since_then_and_no_resync() {
        let tx = EventBroadcast::starting_at(8, 100);
        tx.emit(InstanceEventKind::Created, Some(about("i-1", "a")));
        let listed = tx.revision(); // 100: i-1 is in the listing
        tx.emit(InstanceEventKind::Created, Some(about("i-2", "b")));
        tx.emit(InstanceEventKind::Gone, Some(about("i-1", "a")));
        let mut events = watch_from(&tx, listed, "a");
        tx.emit(InstanceEventKind::Created, Some(about("i-3", "a")));
        let mut got = Vec::new();
        for _ in 0..2 {
            let e = events.next().await.unwrap().unwrap();
            got.push((e.kind, e.sequence, e.instance.unwrap().id));
        }
        assert_eq!(
            got,
            vec![
                (InstanceEventKind::Gone as i32, 102, "i-1".to_string()),
                (InstanceEventKind::Created as i32, 103, "i-3".to_string()),
            ]
        );
    }

    #[tokio::test]
    async fn a_watch_from_a_revision_no_longer_held_or_not_of_this_run_starts_with_resync() {
        let tx = EventBroadcast::starting_at(2, 100);
        let first = tx.revision();
        for i in 0..3 {
            tx.emit(
                InstanceEventKind::Created,
                Some(about(&format!("i-{i}"), "a")),
            );
        }
        // 100 and 101 are gone from a backlog of 2 (101 is the oldest held: resuming after
        // 100 still works, after 99 does not).
        for since in [first, 0, 7, 5_000] {
            let mut events = watch_from(&tx, since, "a");
            let e = events.next().await.unwrap().unwrap();
            assert_eq!(e.kind, InstanceEventKind::Resync as i32, "since {since}");
        }
        let mut events = watch_from(&tx, 100, "a");
        let e = events.next().await.unwrap().unwrap();
        assert_eq!(
            (e.kind, e.sequence),
            (InstanceEventKind::Created as i32, 101)
        );
    }
}
