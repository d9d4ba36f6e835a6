//! This controller's membership: an etcd lease kept alive, and the controller's registration
//! bound to it.
//!
//! # Guarantees
//! - The session is declared lost before etcd can have expired the lease: the lease is valid
//!   for its TTL from when the last successful keep-alive was *sent*, and the session ends a
//!   margin before that. Whoever acts on the session (the coordinator) stops then, so a
//!   survivor's claim, possible only after etcd expired the lease, never overlaps our acting.
//! - A lost session is followed by a new lease as soon as etcd answers again.

use super::client::{Etcd, EtcdError};
use super::keys::Keys;
use infrakit_spi::etcd::etcdserverpb::TxnRequest;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The lease this controller acts under: `None` while there is none (acting must stop).
pub type Session = Option<i64>;

/// Until when this controller may act (call plugins): a margin before its lease could expire
/// in etcd; `None` without a lease. Read on every call, so a controller woken from a freeze
/// stops before any task has run.
#[derive(Clone, Debug, Default)]
pub struct ActUntil(std::sync::Arc<std::sync::Mutex<Option<Instant>>>);

impl ActUntil {
    /// True while the lease is surely alive.
    pub fn now(&self) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|t| Instant::now() < t)
    }

    fn set(&self, until: Option<Instant>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = until;
    }
}

/// Keeps the lease and the registration; publishes the session.
pub struct Membership {
    etcd: Etcd,
    keys: Keys,
    name: String,
    ttl: Duration,
    session: watch::Sender<Session>,
    act_until: ActUntil,
}

// === impl Membership ===

impl Membership {
    /// A membership of controller `name` with leases of `ttl` (at least 2 s).
    pub fn new(etcd: Etcd, keys: Keys, name: String, ttl: Duration) -> Self {
        Self {
            etcd,
            keys,
            name,
            ttl: ttl.max(Duration::from_secs(2)),
            session: watch::channel(None).0,
            act_until: ActUntil::default(),
        }
    }

    /// Until when this controller may act, as the lease is renewed.
    pub fn act_until(&self) -> ActUntil {
        self.act_until.clone()
    }

    /// Stop acting this long before the lease could have expired in etcd.
    fn margin(&self) -> Duration {
        (self.ttl / 5).min(Duration::from_secs(1))
    }

    /// The session, as it changes.
    pub fn session(&self) -> watch::Receiver<Session> {
        self.session.subscribe()
    }

    /// Keeps a lease until `stop`; on stop the lease is revoked so survivors take over at once.
    pub async fn run(self, stop: CancellationToken) {
        let mut backoff = Duration::from_millis(200);
        while !stop.is_cancelled() {
            match self.start().await {
                Ok((lease, valid_until)) => {
                    backoff = Duration::from_millis(200);
                    tracing::info!(controller = %self.name, lease = format!("{lease:x}"), "joined the controllers in etcd");
                    self.act_until.set(Some(valid_until - self.margin()));
                    self.session.send_replace(Some(lease));
                    let revoke = self.keep(lease, valid_until, &stop).await;
                    self.act_until.set(None);
                    self.session.send_replace(None);
                    if revoke {
                        let _ = self.etcd.revoke(lease).await;
                        return;
                    }
                    tracing::error!(controller = %self.name, "lost the etcd lease: acting stopped until etcd answers again");
                }
                Err(e) => {
                    tracing::warn!(controller = %self.name, error = %e, "cannot get an etcd lease; trying again");
                }
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }

    /// Grants a lease and registers under it; returns the lease and until when it is valid.
    async fn start(&self) -> Result<(i64, Instant), EtcdError> {
        let sent = Instant::now();
        let secs = i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX);
        let (lease, ttl) = self.etcd.grant(secs).await?;
        let valid_until = sent + Duration::from_secs(u64::try_from(ttl).unwrap_or(0));
        let registration = serde_json::json!({ "name": self.name }).to_string();
        let key = self.keys.controller(&self.name);
        // Only if no other live controller has the name (a previous run's registration goes
        // when its lease expires).
        let put = TxnRequest {
            compare: vec![super::store::created_at(key.clone(), 0)],
            success: vec![super::store::put(key, registration.into_bytes(), lease)],
            failure: Vec::new(),
        };
        match self.etcd.txn(put).await {
            Ok(r) if r.succeeded => {}
            Ok(_) => {
                let _ = self.etcd.revoke(lease).await;
                return Err(EtcdError(format!(
                    "another controller named {:?} is registered (or this one's previous run, until its lease expires): give each controller its own --controller-name",
                    self.name
                )));
            }
            Err(e) => {
                let _ = self.etcd.revoke(lease).await;
                return Err(e);
            }
        }
        Ok((lease, valid_until))
    }

    /// Renews `lease` every third of its TTL until it is lost (false) or `stop` (true).
    async fn keep(&self, lease: i64, mut valid_until: Instant, stop: &CancellationToken) -> bool {
        let every = self.ttl / 3;
        let margin = self.margin();
        let mut stream = None;
        let mut next = Instant::now() + every;
        loop {
            let deadline = valid_until - margin;
            tokio::select! {
                () = stop.cancelled() => return true,
                () = tokio::time::sleep_until(deadline) => return false,
                () = tokio::time::sleep_until(next) => {}
            }
            let sent = Instant::now();
            let budget = deadline.saturating_duration_since(sent).min(every);
            let renewed = tokio::time::timeout(budget, async {
                if stream.is_none() {
                    stream = Some(self.etcd.keep_alive(lease).await?);
                }
                match stream.as_mut() {
                    Some(s) => s.renew().await,
                    None => Err(EtcdError("no keep-alive stream".into())),
                }
            })
            .await;
            match renewed {
                Ok(Ok(ttl)) if ttl > 0 => {
                    valid_until = sent + Duration::from_secs(u64::try_from(ttl).unwrap_or(0));
                    self.act_until.set(Some(valid_until - margin));
                    next = sent + every;
                }
                Ok(Ok(_)) => {
                    tracing::error!(controller = %self.name, "etcd says the lease has expired");
                    return false;
                }
                Ok(Err(e)) => {
                    tracing::warn!(controller = %self.name, error = %e, "cannot renew the etcd lease; trying another member");
                    self.etcd.move_on();
                    stream = None;
                    next = Instant::now() + Duration::from_millis(100);
                }
                Err(_) => {
                    tracing::warn!(controller = %self.name, "no answer to a lease renewal; trying another member");
                    self.etcd.move_on();
                    stream = None;
                    next = Instant::now();
                }
            }
        }
    }
}
