//! Accepting connections for the plugin host: at most a fixed number open at once, and a backoff
//! instead of a busy loop when accepting fails.
//!
//! # Guarantees
//! - No more than `max` connections accepted by one listener are open at once. Connection
//!   `max + 1` is not accepted until one closes: it waits in the kernel's backlog (its TCP connect
//!   succeeds, its TLS or HTTP/2 handshake waits), so a client's own timeout decides how long.
//!   A connection still in its TLS handshake counts, so clients that never finish one cannot
//!   hold more than `max` descriptors, and the handshake timeout frees theirs.
//! - An accept error that is about the listener or the process (`EMFILE`: out of descriptors,
//!   `ENFILE`, `ENOBUFS`, `ENOMEM`, ...) pauses accepting for [`BACKOFF_FIRST`], doubling up to
//!   [`BACKOFF_MAX`] while it lasts, instead of retrying at once and spinning a core. An error
//!   about one connection (the peer reset it before it was accepted) is skipped at once.
//! - Each kind of trouble (accept errors, the cap reached) is logged at most once per
//!   [`REPORT_EVERY`], with the number of occurrences not logged since the previous report.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::Connected;

/// How many connections one listener holds open at once unless told otherwise.
pub(crate) const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// The first pause after an accept error.
pub(crate) const BACKOFF_FIRST: Duration = Duration::from_millis(100);
/// The longest pause between accept attempts while errors last.
pub(crate) const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// The least time between two log lines about the same trouble.
pub(crate) const REPORT_EVERY: Duration = Duration::from_secs(10);

/// A listener the accept loop can take connections from.
pub(crate) trait Accept: Send + 'static {
    /// A connection.
    type Io: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static;
    /// Waits for the next connection.
    fn accept(&self) -> impl Future<Output = io::Result<Self::Io>> + Send;
}

/// A connection that holds one of its listener's slots until it is dropped.
#[derive(Debug)]
pub(crate) struct Capped<Io> {
    io: Io,
    _slot: OwnedSemaphorePermit,
}

/// Accept errors seen in a row: how long to pause next, and when they were last logged.
#[derive(Debug, Default)]
struct Backoff {
    delay: Option<Duration>,
    report: Throttle,
}

/// Lets a message through at most once per [`REPORT_EVERY`] and counts the ones held back.
#[derive(Debug, Default)]
struct Throttle {
    last: Option<Instant>,
    held_back: u64,
}

/// Starts accepting on `listener` in a task and returns the connections as a stream for
/// tonic's `serve_with_incoming_shutdown`. The task, and with it the listener, ends when the
/// stream is dropped.
pub(crate) fn incoming<L: Accept>(
    listener: L,
    max: usize,
    listen: String,
) -> ReceiverStream<io::Result<Capped<L::Io>>> {
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(accept_loop(listener, max.max(1), listen, tx));
    ReceiverStream::new(rx)
}

async fn accept_loop<L: Accept>(
    listener: L,
    max: usize,
    listen: String,
    tx: mpsc::Sender<io::Result<Capped<L::Io>>>,
) {
    let slots = Arc::new(Semaphore::new(max));
    let mut backoff = Backoff::default();
    let mut full = Throttle::default();
    loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                if let Some(held_back) = full.tick(Instant::now()) {
                    tracing::warn!(
                        %listen,
                        max,
                        held_back,
                        "{max} connections are open, the limit (--max-connections): new ones wait until one closes"
                    );
                }
                tokio::select! {
                    slot = slots.clone().acquire_owned() => match slot {
                        Ok(slot) => slot,
                        Err(_) => return, // never closed: the loop owns the only handle
                    },
                    () = tx.closed() => return,
                }
            }
        };
        let accepted = tokio::select! {
            r = listener.accept() => r,
            () = tx.closed() => return,
        };
        match accepted {
            Ok(io) => {
                backoff.succeeded();
                if tx.send(Ok(Capped { io, _slot: slot })).await.is_err() {
                    return;
                }
            }
            Err(e) if about_one_connection(&e) => {
                tracing::debug!(%listen, error = %e, "a connection failed before it was accepted");
            }
            Err(e) => {
                let delay = backoff.failed(&e, &listen, Instant::now());
                drop(slot);
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = tx.closed() => return,
                }
            }
        }
    }
}

/// True for accept errors that concern one pending connection only (Linux reports network
/// errors of a connection that failed in the backlog from `accept`); retrying at once is right.
fn about_one_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable
            | io::ErrorKind::NetworkDown
    )
}

// === impl Accept ===

impl Accept for tokio::net::TcpListener {
    type Io = tokio::net::TcpStream;

    async fn accept(&self) -> io::Result<Self::Io> {
        let (stream, _) = tokio::net::TcpListener::accept(self).await?;
        // Small gRPC messages should not wait for Nagle; failing to say so is harmless.
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }
}

impl Accept for tokio::net::UnixListener {
    type Io = tokio::net::UnixStream;

    async fn accept(&self) -> io::Result<Self::Io> {
        tokio::net::UnixListener::accept(self)
            .await
            .map(|(stream, _)| stream)
    }
}

// === impl Capped ===

impl<Io: Connected> Connected for Capped<Io> {
    type ConnectInfo = Io::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.connect_info()
    }
}

impl<Io: AsyncRead + Unpin> AsyncRead for Capped<Io> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<Io: AsyncWrite + Unpin> AsyncWrite for Capped<Io> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

// === impl Backoff ===

impl Backoff {
    /// Records an accept error at `now`, logs it unless one was logged within
    /// [`REPORT_EVERY`], and returns how long to pause before accepting again.
    fn failed(&mut self, e: &io::Error, listen: &str, now: Instant) -> Duration {
        let delay = self
            .delay
            .map_or(BACKOFF_FIRST, |d| (d * 2).min(BACKOFF_MAX));
        self.delay = Some(delay);
        if let Some(held_back) = self.report.tick(now) {
            tracing::error!(
                %listen,
                error = %e,
                retry_in = ?delay,
                held_back,
                "cannot accept connections; pausing (reported at most once per {REPORT_EVERY:?}; held_back = errors since the last report)"
            );
        }
        delay
    }

    /// Records an accepted connection: the next error starts the backoff over.
    fn succeeded(&mut self) {
        self.delay = None;
    }
}

// === impl Throttle ===

impl Throttle {
    /// Returns the number of messages held back since the last one let through when a message
    /// may be logged at `now`, and `None` (counting it) when not.
    fn tick(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now.saturating_duration_since(last) < REPORT_EVERY => {
                self.held_back += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.held_back))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emfile() -> io::Error {
        io::Error::from_raw_os_error(24)
    }

    #[test]
    fn the_pause_doubles_from_100ms_to_at_most_1s_and_starts_over_after_a_success() {
        let now = Instant::now();
        let mut b = Backoff::default();
        let delays: Vec<_> = (0..6).map(|_| b.failed(&emfile(), "x", now)).collect();
        let ms = |n| Duration::from_millis(n);
        assert_eq!(
            delays,
            [ms(100), ms(200), ms(400), ms(800), ms(1000), ms(1000)]
        );
        b.succeeded();
        assert_eq!(b.failed(&emfile(), "x", now), ms(100));
    }

    #[test]
    fn a_throttle_lets_one_message_through_per_interval_and_counts_the_rest() {
        let start = Instant::now();
        let mut t = Throttle::default();
        assert_eq!(t.tick(start), Some(0));
        for s in 1..10 {
            assert_eq!(t.tick(start + Duration::from_secs(s)), None);
        }
        assert_eq!(t.tick(start + REPORT_EVERY), Some(9));
        assert_eq!(t.tick(start + REPORT_EVERY), None);
    }

    #[test]
    fn only_errors_about_one_connection_are_retried_at_once() {
        assert!(about_one_connection(&io::Error::from(
            io::ErrorKind::ConnectionAborted
        )));
        assert!(!about_one_connection(&emfile()));
        assert!(!about_one_connection(&io::Error::from_raw_os_error(23))); // ENFILE
    }

    #[tokio::test]
    async fn connection_n_plus_1_waits_until_one_of_n_closes() {
        let dir = tempfile::Builder::new()
            .prefix("ik")
            .tempdir_in("/tmp")
            .unwrap();
        let path = dir.path().join("cap.sock");
        let listener = tokio::net::UnixListener::bind(&path).unwrap();
        let mut conns = incoming(listener, 2, "test".into());
        use tokio_stream::StreamExt;
        let _a = tokio::net::UnixStream::connect(&path).await.unwrap();
        let _b = tokio::net::UnixStream::connect(&path).await.unwrap();
        let _c = tokio::net::UnixStream::connect(&path).await.unwrap();
        let first = conns.next().await.unwrap().unwrap();
        let _second = conns.next().await.unwrap().unwrap();
        // Each yield lets the accept task run after the runtime polled for readiness: a loop
        // that ignored the cap would have taken the third connection by the end.
        for _ in 0..50 {
            tokio::select! {
                biased;
                _ = conns.next() => panic!("a third connection was accepted while two were open"),
                () = tokio::task::yield_now() => {}
            }
        }
        drop(first);
        let third = tokio::time::timeout(Duration::from_secs(20), conns.next()).await;
        assert!(matches!(third, Ok(Some(Ok(_)))), "{third:?}");
    }
}
