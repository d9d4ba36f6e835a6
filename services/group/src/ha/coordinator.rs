//! Spreads the groups over the live controllers and moves them safely.
//!
//! Each controller runs one coordinator. It reads everything under the prefix, then follows
//! etcd's watch from that revision, so its view of the controllers, groups and owners is never
//! older than a few milliseconds. From that view:
//!
//! - A group without an owner that [`owner_of`] assigns to this controller is claimed: its
//!   owner key is created under this controller's lease (only if absent), and the group's
//!   record, read in the same transaction, is handed to the manager with the claim's epoch.
//! - A group this controller manages whose owner key is no longer its claim (the lease
//!   expired, someone deleted the key) is released at once: the worker and its operations stop.
//! - A group this controller owns that is now assigned to another live controller (one joined)
//!   is handed over gradually, one at a time at most every [`HANDOVER_PACE`]: the worker is
//!   stopped first (its last write done, its operations ended), then the owner key is deleted,
//!   so the new owner starts from the last record stored.
//! - When the session ends (etcd unreachable for about a lease TTL), every group is released.

use super::assign::owner_of;
use super::client::Etcd;
use super::keys::{Key, Keys};
use super::lease::Session;
use super::orders::{self, Order};
use super::replica::{Replica, published};
use super::store::{created_at, delete, get, put, read_value};
use crate::manager::Manager;
use crate::ports::Record;
use crate::service::GroupService;
use infrakit_spi::etcd::etcdserverpb::TxnRequest;
use infrakit_spi::etcd::mvccpb::event::EventType;
use infrakit_spi::group::v1::DescribeGroupResponse;
use prost::Message;
use std::collections::{BTreeMap, BTreeSet};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The least time between two hand-overs by one controller, so a joining controller receives
/// groups gradually rather than all at once.
pub const HANDOVER_PACE: Duration = Duration::from_millis(250);

/// What the coordinator knows of etcd.
#[derive(Debug, Default)]
struct View {
    controllers: BTreeSet<String>,
    groups: BTreeSet<String>,
    /// Group → (owner name, epoch).
    owners: BTreeMap<String, (String, u64)>,
    /// The store revision the view is complete up to.
    revision: i64,
    /// Orders not answered yet: key → (group, create revision, order).
    orders: BTreeMap<String, (String, i64, Order)>,
}

/// The coordinator of one controller.
pub struct Coordinator {
    etcd: Etcd,
    keys: Keys,
    name: String,
    mgr: Arc<Manager>,
    session: watch::Receiver<Session>,
    replica: Arc<Replica>,
    /// Carries out orders as a call to this controller would be.
    service: GroupService,
    /// Orders being carried out (until the view sees them answered).
    dispatched: Arc<Mutex<HashSet<String>>>,
    /// What was last published of each group owned here, and the describe version it was.
    published: HashMap<String, (DescribeGroupResponse, (u64, u64, u64))>,
    last_publish: Option<Instant>,
}

// === impl Coordinator ===

impl Coordinator {
    /// The coordinator of controller `name`, acting for `mgr` while `session` holds a lease.
    pub fn new(
        etcd: Etcd,
        keys: Keys,
        name: String,
        mgr: Arc<Manager>,
        session: watch::Receiver<Session>,
        replica: Arc<Replica>,
        service: GroupService,
    ) -> Self {
        Self {
            etcd,
            keys,
            name,
            mgr,
            session,
            replica,
            service,
            dispatched: Arc::default(),
            published: HashMap::new(),
            last_publish: None,
        }
    }

    /// Runs until `stop`; releases every group when it ends.
    pub async fn run(mut self, stop: CancellationToken) {
        // Whatever the coordinator is doing (an etcd call, a hand-over), a lost session stops
        // every group at once.
        let guard = tokio::spawn(release_on_loss(
            self.mgr.clone(),
            self.session.clone(),
            self.name.clone(),
        ));
        self.coordinate(&stop).await;
        guard.abort();
        self.release_all().await;
    }

    async fn coordinate(&mut self, stop: &CancellationToken) {
        loop {
            // Wait for a session.
            let lease = loop {
                if let Some(l) = *self.session.borrow_and_update() {
                    break l;
                }
                tokio::select! {
                    () = stop.cancelled() => return,
                    r = self.session.changed() => if r.is_err() { return },
                }
            };
            if let Err(e) = self.follow(lease, stop).await {
                tracing::warn!(controller = %self.name, error = %e, "lost the view of etcd; reading it again");
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
    }

    /// Reads the view, then follows the watch while the session `lease` lasts.
    async fn follow(&mut self, lease: i64, stop: &CancellationToken) -> Result<(), String> {
        let (kvs, rev) = self
            .etcd
            .list(self.keys.root())
            .await
            .map_err(|e| e.to_string())?;
        let mut view = View {
            revision: rev,
            ..View::default()
        };
        self.dispatched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        for kv in &kvs {
            apply(&self.keys, &mut view, EventType::Put, kv, &self.dispatched);
        }
        let mut watch = self
            .etcd
            .watch(self.keys.root(), rev + 1)
            .await
            .map_err(|e| e.to_string())?;
        let mut last_handover: Option<Instant> = None;
        let mut tick = tokio::time::interval(HANDOVER_PACE);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            self.reconcile(lease, &mut view, &mut last_handover).await;
            tokio::select! {
                () = stop.cancelled() => return Ok(()),
                r = self.session.changed() => {
                    if r.is_err() || *self.session.borrow() != Some(lease) {
                        return Ok(());
                    }
                }
                r = watch.next() => match r {
                    Ok(Some(resp)) => {
                        if resp.canceled || resp.compact_revision > 0 {
                            return Err(format!("the watch was cancelled: {}", resp.cancel_reason));
                        }
                        if let Some(h) = &resp.header {
                            view.revision = view.revision.max(h.revision);
                        }
                        for ev in &resp.events {
                            let kind = EventType::try_from(ev.r#type).unwrap_or(EventType::Put);
                            if let Some(kv) = &ev.kv {
                                apply(&self.keys, &mut view, kind, kv, &self.dispatched);
                            }
                        }
                    }
                    Ok(None) => return Err("the watch ended".into()),
                    Err(e) => {
                        self.etcd.move_on();
                        return Err(e.to_string());
                    }
                },
                _ = tick.tick() => {}
            }
        }
    }

    /// Claims, releases and hands over as the view says; carries out orders and publishes.
    async fn reconcile(
        &mut self,
        lease: i64,
        view: &mut View,
        last_handover: &mut Option<Instant>,
    ) {
        self.act(lease, view, last_handover).await;
        self.carry_out_orders(view);
        if self
            .last_publish
            .is_none_or(|t| t.elapsed() >= HANDOVER_PACE)
        {
            self.last_publish = Some(Instant::now());
            self.publish().await;
        }
    }

    /// Starts the orders for groups managed here.
    fn carry_out_orders(&self, view: &View) {
        let managed: HashSet<String> = self.mgr.managed().into_iter().map(|(g, _)| g).collect();
        let mut dispatched = self.dispatched.lock().unwrap_or_else(|e| e.into_inner());
        for (key, (group, rev, order)) in &view.orders {
            if !managed.contains(group) || !dispatched.insert(key.clone()) {
                continue;
            }
            tracing::info!(group = %group, method = %order.method, from = %order.from, "carrying out an order sent to another controller");
            let (etcd, service, name) =
                (self.etcd.clone(), self.service.clone(), self.name.clone());
            let (key, rev, order) = (key.clone(), *rev, order.clone());
            tokio::spawn(async move {
                let answer =
                    crate::service::execute(&service, &order.method, &order.request, &name).await;
                orders::answer(&etcd, &key, rev, order, answer).await;
            });
        }
    }

    /// Writes the status of each group owned here that changed since it was last written.
    async fn publish(&mut self) {
        let managed = self.mgr.managed();
        let keep: HashSet<&str> = managed.iter().map(|(g, _)| g.as_str()).collect();
        self.published.retain(|g, _| keep.contains(g.as_str()));
        for (g, epoch) in &managed {
            let Some((view, events)) = self.mgr.describe_version(g) else {
                continue;
            };
            let version = (view, events, *epoch);
            if self.published.get(g).is_some_and(|(_, v)| *v == version) {
                continue; // nothing new since it was last published
            }
            let Ok(mut d) = self.mgr.describe(g) else {
                continue;
            };
            d.owner = self.name.clone();
            d.epoch = *epoch;
            self.replica.remember(&d);
            let status = published(&d);
            if self.published.get(g).is_some_and(|(s, _)| *s == status) {
                self.published.insert(g.clone(), (status, version));
                continue;
            }
            let txn = TxnRequest {
                compare: vec![created_at(
                    self.keys.owner(g),
                    i64::try_from(*epoch).unwrap_or(i64::MAX),
                )],
                success: vec![put(self.keys.status(g), status.encode_to_vec(), 0)],
                failure: Vec::new(),
            };
            match self.etcd.txn(txn).await {
                Ok(r) if r.succeeded => {
                    self.published.insert(g.clone(), (status, version));
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(group = %g, error = %e, "cannot publish the group's status");
                    return;
                }
            }
        }
    }

    /// Claims, releases and hands over as the view says.
    async fn act(&self, lease: i64, view: &mut View, last_handover: &mut Option<Instant>) {
        let managed: BTreeMap<String, u64> = self.mgr.managed().into_iter().collect();
        // Lost claims: stop at once.
        for (g, epoch) in &managed {
            let ours = view
                .owners
                .get(g)
                .is_some_and(|(o, e)| *o == self.name && e == epoch);
            // A claim newer than the view (a group created here just now) is not known yet.
            let seen = i64::try_from(*epoch).unwrap_or(i64::MAX) <= view.revision;
            if !ours && *epoch > 0 && seen {
                tracing::warn!(group = %g, epoch, controller = %self.name, "no longer the owner of the group: stopping it");
                if self.mgr.release(g, *epoch).await {
                    self.released(g, *epoch, "ownership lost (the claim is gone from etcd)");
                }
            }
        }
        // Claims.
        let unowned: Vec<String> = view
            .groups
            .iter()
            .filter(|g| !view.owners.contains_key(*g))
            .filter(|g| {
                owner_of(g, view.controllers.iter().map(String::as_str)) == Some(&self.name)
            })
            .cloned()
            .collect();
        for g in unowned {
            if let Some(epoch) = self.claim(&g, lease).await {
                view.owners.insert(g, (self.name.clone(), epoch));
            }
        }
        // One hand-over at a time, paced.
        if last_handover.is_some_and(|t| t.elapsed() < HANDOVER_PACE) {
            return;
        }
        let leaving = view.owners.iter().find(|(g, (o, _))| {
            *o == self.name
                && owner_of(g, view.controllers.iter().map(String::as_str))
                    .is_some_and(|want| want != self.name)
        });
        if let Some((g, (_, epoch))) = leaving.map(|(g, v)| (g.clone(), v.clone())) {
            *last_handover = Some(Instant::now());
            if self.hand_over(&g, epoch).await {
                view.owners.remove(&g);
            }
        }
    }

    /// Claims `g` under `lease`; adopts it and returns the epoch on success.
    async fn claim(&self, g: &str, lease: i64) -> Option<u64> {
        let txn = TxnRequest {
            compare: vec![created_at(self.keys.owner(g), 0)],
            success: vec![
                put(self.keys.owner(g), self.name.clone().into_bytes(), lease),
                get(self.keys.group(g)),
            ],
            failure: Vec::new(),
        };
        let r = match self.etcd.txn(txn).await {
            Ok(r) if r.succeeded => r,
            Ok(_) => return None, // claimed by another meanwhile
            Err(e) => {
                tracing::warn!(group = %g, error = %e, "cannot claim the group");
                return None;
            }
        };
        let epoch = r
            .header
            .and_then(|h| u64::try_from(h.revision).ok())
            .unwrap_or(0);
        let Some(bytes) = read_value(r.responses.get(1)) else {
            // Freed between our view and the claim: give the claim back.
            self.give_back(g, epoch).await;
            return None;
        };
        let record: Record = match super::record::decode(&bytes) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(group = %g, error = %e, "the group's record in etcd cannot be read; not managing it");
                return Some(epoch);
            }
        };
        if *self.session.borrow() != Some(lease) {
            return None; // the session ended meanwhile: the claim dies with its lease
        }
        match self.mgr.adopt(g, record, epoch) {
            Ok(_) if *self.session.borrow() != Some(lease) => {
                self.mgr.release(g, epoch).await;
            }
            Ok(_) => {
                tracing::info!(group = %g, epoch, controller = %self.name, "claimed the group");
                self.mgr.events().emit(
                    g,
                    infrakit_spi::group::v1::EventKind::Claimed,
                    None,
                    None,
                    format!(
                        "controller {} owns the group now (epoch {epoch})",
                        self.name
                    ),
                    infrakit_spi::group::v1::Phase::Converging,
                );
            }
            Err(e) => {
                tracing::error!(group = %g, error = %e, "cannot manage the claimed group");
            }
        }
        Some(epoch)
    }

    /// Stops managing `g`, then deletes its owner key (if still our claim) so the controller it
    /// is assigned to claims it.
    async fn hand_over(&self, g: &str, epoch: u64) -> bool {
        if !self.mgr.release(g, epoch).await {
            return false; // not managed here under this claim (yet): looked at again next time
        }
        tracing::info!(group = %g, epoch, controller = %self.name, "handed the group over");
        self.released(g, epoch, "handed over to the controller it is assigned to");
        self.give_back(g, epoch).await;
        true
    }

    async fn give_back(&self, g: &str, epoch: u64) {
        let txn = TxnRequest {
            compare: vec![created_at(
                self.keys.owner(g),
                i64::try_from(epoch).unwrap_or(i64::MAX),
            )],
            success: vec![delete(self.keys.owner(g))],
            failure: Vec::new(),
        };
        if let Err(e) = self.etcd.txn(txn).await {
            tracing::warn!(group = %g, error = %e, "cannot give the group back; it moves when the lease expires");
        }
    }

    async fn release_all(&self) {
        release_all(&self.mgr, &self.name, "this controller is stopping").await;
    }

    fn released(&self, g: &str, epoch: u64, why: &str) {
        released(&self.mgr, &self.name, g, epoch, why);
    }
}

/// Releases every group whenever the session ends.
async fn release_on_loss(mgr: Arc<Manager>, mut session: watch::Receiver<Session>, name: String) {
    loop {
        if session.borrow_and_update().is_none() && !mgr.managed().is_empty() {
            release_all(
                &mgr,
                &name,
                "etcd cannot be reached, so this controller stopped acting",
            )
            .await;
        }
        if session.changed().await.is_err() {
            return;
        }
    }
}

async fn release_all(mgr: &Manager, name: &str, why: &str) {
    for (g, epoch) in mgr.managed() {
        if mgr.release(&g, epoch).await {
            released(mgr, name, &g, epoch, why);
        }
    }
}

fn released(mgr: &Manager, name: &str, g: &str, epoch: u64, why: &str) {
    mgr.events().emit(
        g,
        infrakit_spi::group::v1::EventKind::Released,
        None,
        None,
        format!("controller {name} released the group (epoch {epoch}): {why}"),
        infrakit_spi::group::v1::Phase::Unspecified,
    );
}

/// Applies one key's change to the view.
fn apply(
    keys: &Keys,
    view: &mut View,
    kind: EventType,
    kv: &infrakit_spi::etcd::mvccpb::KeyValue,
    dispatched: &Mutex<HashSet<String>>,
) {
    let put = kind == EventType::Put;
    match keys.parse(&kv.key) {
        Some(Key::Order(group, _)) => {
            let key = String::from_utf8_lossy(&kv.key).into_owned();
            let pending = put
                .then(|| Order::decode(kv.value.as_slice()).ok())
                .flatten()
                .filter(|o| o.answer.is_none());
            match pending {
                Some(o) => {
                    view.orders
                        .insert(key, (group.to_string(), kv.create_revision, o));
                }
                None => {
                    view.orders.remove(&key);
                    dispatched
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&key);
                }
            }
        }
        Some(Key::Status(_)) => {}
        Some(Key::Controller(name)) => {
            if put {
                view.controllers.insert(name.to_string());
            } else {
                view.controllers.remove(name);
            }
        }
        Some(Key::Group(id)) => {
            if put {
                view.groups.insert(id.to_string());
            } else {
                view.groups.remove(id);
            }
        }
        Some(Key::Owner(id)) => {
            if put {
                let owner = String::from_utf8_lossy(&kv.value).into_owned();
                let epoch = u64::try_from(kv.create_revision).unwrap_or(0);
                view.owners.insert(id.to_string(), (owner, epoch));
            } else {
                view.owners.remove(id);
            }
        }
        None => {}
    }
}
