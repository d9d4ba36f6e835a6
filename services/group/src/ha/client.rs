//! A small etcd v3 client over the generated tonic stubs: one lazy channel per endpoint, every
//! call bounded by a deadline, and a call that cannot reach a member tried on the next one.
//!
//! Streams (watch, lease keep-alive) carry etcd's `hasleader` metadata, so a member cut off
//! from its quorum ends them instead of staying silent.

use infrakit_spi::etcd::etcdserverpb::kv_client::KvClient;
use infrakit_spi::etcd::etcdserverpb::lease_client::LeaseClient;
use infrakit_spi::etcd::etcdserverpb::watch_client::WatchClient;
use infrakit_spi::etcd::etcdserverpb::{
    LeaseGrantRequest, LeaseKeepAliveRequest, LeaseKeepAliveResponse, LeaseRevokeRequest,
    RangeRequest, TxnRequest, TxnResponse, WatchCreateRequest, WatchRequest, WatchResponse,
    watch_request,
};
use infrakit_spi::etcd::mvccpb::KeyValue;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Code, Request, Status, Streaming};

/// How to reach etcd.
#[derive(Clone, Debug)]
pub struct EtcdConfig {
    /// `http://host:port` or `https://host:port`, one per member.
    pub endpoints: Vec<String>,
    /// The CA that signed the members' certificates (PEM), for `https://`.
    pub ca: Option<Vec<u8>>,
    /// This client's certificate and key (PEM), when the members ask for one.
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
    /// The deadline of each unary call.
    pub timeout: Duration,
}

// === impl EtcdConfig ===

impl EtcdConfig {
    /// Parses `etcd://host:port[,host:port...]` (plain) or `https://host:port[,...]` (TLS).
    pub fn parse(url: &str) -> Result<Self, String> {
        let (scheme, rest) = if let Some(r) = url.strip_prefix("etcd://") {
            ("http", r)
        } else if let Some(r) = url.strip_prefix("etcds://") {
            ("https", r)
        } else if let Some(r) = url.strip_prefix("https://") {
            ("https", r)
        } else if let Some(r) = url.strip_prefix("http://") {
            ("http", r)
        } else {
            return Err(format!(
                "{url:?} is not an etcd address: use etcd://host:port[,host:port...] (or https:// for TLS)"
            ));
        };
        let endpoints: Vec<String> = rest
            .trim_end_matches('/')
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(|h| format!("{scheme}://{h}"))
            .collect();
        if endpoints.is_empty() {
            return Err(format!(
                "{url:?} names no etcd member: use etcd://host:port[,host:port...]"
            ));
        }
        Ok(Self {
            endpoints,
            ca: None,
            identity: None,
            timeout: Duration::from_secs(2),
        })
    }
}

/// Why an etcd call failed.
#[derive(Debug, thiserror::Error)]
#[error("etcd: {0}")]
pub struct EtcdError(pub String);

impl From<Status> for EtcdError {
    fn from(s: Status) -> Self {
        Self(format!("{:?}: {}", s.code(), s.message()))
    }
}

/// The client.
#[derive(Clone, Debug)]
pub struct Etcd {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    channels: Vec<(String, Channel)>,
    current: AtomicUsize,
    timeout: Duration,
}

// === impl Etcd ===

impl Etcd {
    /// A client of these members; nothing is dialed until the first call.
    pub fn new(config: &EtcdConfig) -> Result<Self, EtcdError> {
        let mut channels = Vec::new();
        for url in &config.endpoints {
            let mut ep = Endpoint::from_shared(url.clone())
                .map_err(|e| EtcdError(format!("{url:?} is not a valid address: {e}")))?
                .connect_timeout(config.timeout)
                .tcp_nodelay(true)
                .http2_keep_alive_interval(Duration::from_secs(10))
                .keep_alive_timeout(Duration::from_secs(5))
                .keep_alive_while_idle(true);
            if url.starts_with("https://") {
                let mut tls = ClientTlsConfig::new().with_enabled_roots();
                if let Some(ca) = &config.ca {
                    tls = tls.ca_certificate(Certificate::from_pem(ca));
                }
                if let Some((cert, key)) = &config.identity {
                    tls = tls.identity(Identity::from_pem(cert, key));
                }
                ep = ep
                    .tls_config(tls)
                    .map_err(|e| EtcdError(format!("TLS for {url:?}: {e}")))?;
            }
            channels.push((url.clone(), ep.connect_lazy()));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                channels,
                current: AtomicUsize::new(0),
                timeout: config.timeout,
            }),
        })
    }

    /// Runs `call` on the current member, then on each other one while the failure says the
    /// member could not answer (unreachable, no leader, deadline).
    async fn each_member<T, F, Fut>(&self, what: &str, call: F) -> Result<T, EtcdError>
    where
        F: Fn(Channel) -> Fut,
        Fut: std::future::Future<Output = Result<T, Status>>,
    {
        let n = self.inner.channels.len();
        let start = self.inner.current.load(Ordering::Relaxed);
        let mut last = None;
        for i in 0..n {
            let at = (start + i) % n;
            let (url, ch) = &self.inner.channels[at];
            match tokio::time::timeout(self.inner.timeout, call(ch.clone())).await {
                Ok(Ok(v)) => {
                    self.inner.current.store(at, Ordering::Relaxed);
                    return Ok(v);
                }
                Ok(Err(s)) if !member_failure(&s) => return Err(EtcdError::from(s)),
                Ok(Err(s)) => last = Some(format!("{url}: {:?}: {}", s.code(), s.message())),
                Err(_) => last = Some(format!("{url}: no answer within {:?}", self.inner.timeout)),
            }
        }
        Err(EtcdError(format!(
            "{what}: no etcd member answered ({})",
            last.unwrap_or_default()
        )))
    }

    /// The value of one key, if it exists.
    pub async fn get(&self, key: &str) -> Result<Option<KeyValue>, EtcdError> {
        let req = RangeRequest {
            key: key.as_bytes().to_vec(),
            ..Default::default()
        };
        let r = self
            .each_member("get", |ch| {
                let req = req.clone();
                async move { KvClient::new(ch).range(req).await }
            })
            .await?
            .into_inner();
        Ok(r.kvs.into_iter().next())
    }

    /// Every key under `prefix`, and the store revision they were read at.
    pub async fn list(&self, prefix: &str) -> Result<(Vec<KeyValue>, i64), EtcdError> {
        let req = RangeRequest {
            key: prefix.as_bytes().to_vec(),
            range_end: prefix_end(prefix.as_bytes()),
            ..Default::default()
        };
        let r = self
            .each_member("list", |ch| {
                let req = req.clone();
                async move { KvClient::new(ch).range(req).await }
            })
            .await?
            .into_inner();
        let rev = r.header.map(|h| h.revision).unwrap_or_default();
        Ok((r.kvs, rev))
    }

    /// A transaction. A lost answer is an error: the caller must not assume either branch.
    pub async fn txn(&self, req: TxnRequest) -> Result<TxnResponse, EtcdError> {
        Ok(self
            .each_member("txn", |ch| {
                let req = req.clone();
                async move { KvClient::new(ch).txn(req).await }
            })
            .await?
            .into_inner())
    }

    /// A new lease of `ttl` seconds: its ID and the TTL granted.
    pub async fn grant(&self, ttl: i64) -> Result<(i64, i64), EtcdError> {
        let r = self
            .each_member("lease grant", |ch| async move {
                LeaseClient::new(ch)
                    .lease_grant(LeaseGrantRequest { ttl, id: 0 })
                    .await
            })
            .await?
            .into_inner();
        if !r.error.is_empty() {
            return Err(EtcdError(format!("lease grant: {}", r.error)));
        }
        Ok((r.id, r.ttl))
    }

    /// Ends a lease and deletes its keys.
    pub async fn revoke(&self, id: i64) -> Result<(), EtcdError> {
        self.each_member("lease revoke", |ch| async move {
            LeaseClient::new(ch)
                .lease_revoke(LeaseRevokeRequest { id })
                .await
        })
        .await
        .map(|_| ())
    }

    /// A keep-alive stream for lease `id` on the current member: send a request, read the
    /// answer with [`KeepAlive::renew`].
    pub async fn keep_alive(&self, id: i64) -> Result<KeepAlive, EtcdError> {
        let (tx, rx) = mpsc::channel(4);
        // The first request goes with the opening: etcd answers the call only once it has one.
        tx.send(LeaseKeepAliveRequest { id })
            .await
            .map_err(|_| EtcdError("lease keep-alive: the request stream closed".into()))?;
        let responses = self
            .open(
                "lease keep-alive",
                ReceiverStream::new(rx),
                |ch, req| async move { LeaseClient::new(ch).lease_keep_alive(req).await },
            )
            .await?;
        Ok(KeepAlive {
            id,
            tx,
            responses,
            primed: true,
        })
    }

    /// Opens a bidirectional stream on the current member (moving on to the next member when
    /// it fails, for the next try).
    async fn open<S, T, F, Fut>(&self, what: &str, input: S, call: F) -> Result<T, EtcdError>
    where
        F: FnOnce(Channel, Request<S>) -> Fut,
        Fut: std::future::Future<Output = Result<tonic::Response<T>, Status>>,
    {
        let at = self.current_member();
        let (url, ch) = &self.inner.channels[at];
        let mut req = Request::new(input);
        require_leader(&mut req);
        match tokio::time::timeout(self.inner.timeout, call(ch.clone(), req)).await {
            Ok(Ok(r)) => Ok(r.into_inner()),
            Ok(Err(s)) => {
                self.next_member(at);
                Err(EtcdError(format!("{what} on {url}: {}", s.message())))
            }
            Err(_) => {
                self.next_member(at);
                Err(EtcdError(format!("{what} on {url}: no answer")))
            }
        }
    }

    /// Watches every key under `prefix` from store revision `from` (inclusive), on the current
    /// member.
    pub async fn watch(&self, prefix: &str, from: i64) -> Result<Watch, EtcdError> {
        let (tx, rx) = mpsc::channel(4);
        let create = WatchRequest {
            request_union: Some(watch_request::RequestUnion::CreateRequest(
                WatchCreateRequest {
                    key: prefix.as_bytes().to_vec(),
                    range_end: prefix_end(prefix.as_bytes()),
                    start_revision: from,
                    progress_notify: true,
                    ..Default::default()
                },
            )),
        };
        tx.send(create)
            .await
            .map_err(|_| EtcdError("watch: the request stream closed".into()))?;
        let responses = self
            .open("watch", ReceiverStream::new(rx), |ch, req| async move {
                WatchClient::new(ch).watch(req).await
            })
            .await?;
        Ok(Watch { _tx: tx, responses })
    }

    /// Moves on from the current member after one of its streams failed.
    pub fn move_on(&self) {
        self.next_member(self.current_member());
    }

    /// Moves on from member `at` (unless another call already did).
    fn next_member(&self, at: usize) {
        let n = self.inner.channels.len();
        let _ = self.inner.current.compare_exchange(
            at,
            (at + 1) % n,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// The member streams are opened on now.
    fn current_member(&self) -> usize {
        self.inner.current.load(Ordering::Relaxed) % self.inner.channels.len()
    }
}

/// A lease keep-alive stream.
#[derive(Debug)]
pub struct KeepAlive {
    id: i64,
    tx: mpsc::Sender<LeaseKeepAliveRequest>,
    responses: Streaming<LeaseKeepAliveResponse>,
    /// A request was sent with the opening and awaits its answer.
    primed: bool,
}

// === impl KeepAlive ===

impl KeepAlive {
    /// Renews the lease; returns the TTL (seconds) it has from when the request was sent. An
    /// answer of 0 or less means the lease is gone.
    pub async fn renew(&mut self) -> Result<i64, EtcdError> {
        if !std::mem::take(&mut self.primed) {
            self.tx
                .send(LeaseKeepAliveRequest { id: self.id })
                .await
                .map_err(|_| EtcdError("lease keep-alive: the stream closed".into()))?;
        }
        match self.responses.message().await {
            Ok(Some(r)) => Ok(r.ttl),
            Ok(None) => Err(EtcdError("lease keep-alive: the stream ended".into())),
            Err(s) => Err(EtcdError::from(s)),
        }
    }
}

/// A watch stream.
#[derive(Debug)]
pub struct Watch {
    _tx: mpsc::Sender<WatchRequest>,
    responses: Streaming<WatchResponse>,
}

// === impl Watch ===

impl Watch {
    /// The next batch of events (or progress notice); an error or `None` ends the watch.
    pub async fn next(&mut self) -> Result<Option<WatchResponse>, EtcdError> {
        self.responses.message().await.map_err(EtcdError::from)
    }
}

/// True when a failure says "this member could not answer", so another may.
fn member_failure(s: &Status) -> bool {
    matches!(
        s.code(),
        Code::Unavailable | Code::DeadlineExceeded | Code::Unknown | Code::Cancelled
    ) || s.message().contains("no leader")
        || s.message().contains("timed out")
}

/// Makes etcd end a stream when its member has no leader.
fn require_leader<T>(req: &mut Request<T>) {
    req.metadata_mut().insert(
        "hasleader",
        tonic::metadata::MetadataValue::from_static("true"),
    );
}

/// The end of the range of every key starting with `prefix`.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0] // every key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_and_bad_ones_say_the_form() {
        let c = EtcdConfig::parse("etcd://a:2379,b:2379/").unwrap();
        assert_eq!(c.endpoints, ["http://a:2379", "http://b:2379"]);
        let c = EtcdConfig::parse("https://a:2379").unwrap();
        assert_eq!(c.endpoints, ["https://a:2379"]);
        let e = EtcdConfig::parse("file:///x").unwrap_err();
        assert!(e.contains("etcd://host:port"), "{e}");
        assert!(EtcdConfig::parse("etcd://").is_err());
    }

    #[test]
    fn a_prefix_range_ends_after_the_last_key_with_it() {
        assert_eq!(prefix_end(b"/a/"), b"/a0".to_vec());
        assert_eq!(prefix_end(b"a\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b"\xff"), vec![0]);
    }
}
