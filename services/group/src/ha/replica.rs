//! Answering for groups another controller owns: reads from etcd (the spec, the owner, the
//! status the owner published), changes relayed to the owner as orders.
//!
//! While etcd cannot be reached, a group is described as last known, DEGRADED, with a message
//! saying that this controller stopped acting.

use super::client::Etcd;
use super::keys::{Key, Keys};
use super::orders;
use super::store::get;
use infrakit_spi::etcd::etcdserverpb::TxnRequest;
use infrakit_spi::group::v1::{DescribeGroupResponse, GroupEvent, GroupSpec as SpiSpec, Phase};
use prost::Message;
use std::collections::HashMap;
use std::sync::Mutex;
use tonic::Status;

/// The most members a published status lists (a replica's DescribeGroup); the owner lists all.
pub const PUBLISHED_MEMBERS: usize = 1000;

/// This controller's view of the groups it does not own.
#[derive(Debug)]
pub struct Replica {
    etcd: Etcd,
    keys: Keys,
    name: String,
    last: Mutex<HashMap<String, DescribeGroupResponse>>,
}

// === impl Replica ===

impl Replica {
    /// The replica side of controller `name`.
    pub fn new(etcd: Etcd, keys: Keys, name: String) -> Self {
        Self {
            etcd,
            keys,
            name,
            last: Mutex::default(),
        }
    }

    /// This controller's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Remembers what a group looked like, for when etcd cannot be reached.
    pub fn remember(&self, d: &DescribeGroupResponse) {
        self.last
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(d.id.clone(), d.clone());
    }

    /// DescribeGroup of a group this controller does not manage now.
    pub async fn describe(&self, id: &str) -> Result<DescribeGroupResponse, Status> {
        let txn = TxnRequest {
            compare: Vec::new(),
            success: vec![
                get(self.keys.group(id)),
                get(self.keys.owner(id)),
                get(self.keys.status(id)),
            ],
            failure: Vec::new(),
        };
        let r = match self.etcd.txn(txn).await {
            Ok(r) => r,
            Err(e) => return self.last_known(id, &e.to_string()),
        };
        let value = |i: usize| super::store::read_value(r.responses.get(i));
        let Some(record) = value(0) else {
            self.last
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(id);
            return Err(Status::not_found(format!("no group {id:?}")));
        };
        let owner = value(1)
            .map(|v| String::from_utf8_lossy(&v).into_owned())
            .unwrap_or_default();
        let epoch = owner_revision(r.responses.get(1));
        let mut d = match value(2).map(|v| DescribeGroupResponse::decode(v.as_slice())) {
            Some(Ok(d)) => d,
            _ => {
                let desired = super::record::decode(&record)
                    .ok()
                    .and_then(|r| r.spec["Properties"]["Allocation"]["Size"].as_u64())
                    .and_then(|n| u32::try_from(n).ok())
                    .unwrap_or_default();
                DescribeGroupResponse {
                    id: id.to_string(),
                    phase: Phase::Converging as i32,
                    desired,
                    message: "no status published yet by its owner".to_string(),
                    ..Default::default()
                }
            }
        };
        d.owner = owner;
        d.epoch = epoch;
        if d.owner.is_empty() {
            d.message = format!(
                "no controller owns the group right now (its owner stopped; a live controller claims it within a lease TTL); last published: {}",
                d.message
            );
        }
        self.remember(&d);
        Ok(d)
    }

    /// The group as last known, DEGRADED, when etcd cannot be reached.
    fn last_known(&self, id: &str, error: &str) -> Result<DescribeGroupResponse, Status> {
        let last = self
            .last
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned();
        let Some(mut d) = last else {
            return Err(Status::unavailable(format!(
                "controller {} cannot reach etcd ({error}), so it does not act on any group and knows nothing of group {id:?}",
                self.name
            )));
        };
        d.phase = Phase::Degraded as i32;
        d.converged = false;
        d.stale = true;
        d.message = format!(
            "controller {} cannot reach etcd, so it stopped acting on its groups (no create, no destroy) until etcd answers again; the group is shown as last known ({error})",
            self.name
        );
        Ok(d)
    }

    /// InspectGroups: every committed spec in etcd.
    pub async fn inspect(&self) -> Result<Vec<SpiSpec>, Status> {
        let (kvs, _) = self
            .etcd
            .list(&format!("{}groups/", self.keys.root()))
            .await
            .map_err(|e| Status::unavailable(format!("cannot read the groups from etcd: {e}")))?;
        let mut out = Vec::new();
        for kv in kvs {
            let Some(Key::Group(id)) = self.keys.parse(&kv.key) else {
                continue;
            };
            let Ok(r) = super::record::decode(&kv.value) else {
                continue;
            };
            out.push(SpiSpec {
                id: id.to_string(),
                properties: r
                    .spec
                    .get("Properties")
                    .map(|p| p.to_string().into_bytes())
                    .unwrap_or_default(),
            });
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// True when group `id` exists in etcd.
    pub async fn exists(&self, id: &str) -> Result<bool, Status> {
        self.etcd
            .get(&self.keys.group(id))
            .await
            .map(|kv| kv.is_some())
            .map_err(|e| Status::unavailable(format!("cannot read group {id:?} from etcd: {e}")))
    }

    /// Streams the events of group `id` as its owner publishes them (with its status, at most
    /// a few times a second), into `tx` until it closes or `stop`; with `replay`, the recent
    /// ones first. Follows the group also before it exists and across owners; `seen` holds the
    /// events already sent (by this or another stream into `tx`), which are not sent again.
    pub async fn watch(
        &self,
        id: &str,
        replay: bool,
        tx: tokio::sync::mpsc::Sender<Result<GroupEvent, Status>>,
        seen: std::sync::Arc<Mutex<std::collections::HashSet<EventKey>>>,
        stop: tokio_util::sync::CancellationToken,
    ) {
        let mut first = true;
        loop {
            let (kv, rev) = match self.etcd.list(&self.keys.status(id)).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::debug!(group = %id, error = %e, "cannot read the group's status; trying again");
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = tx.closed() => return,
                        () = tokio::time::sleep(std::time::Duration::from_secs(1)) => continue,
                    }
                }
            };
            let mut statuses: Vec<Vec<u8>> = kv.into_iter().map(|kv| kv.value).collect();
            let mut watch = self.etcd.watch(&self.keys.status(id), rev + 1).await.ok();
            loop {
                for value in statuses.drain(..) {
                    let Ok(d) = DescribeGroupResponse::decode(value.as_slice()) else {
                        continue;
                    };
                    for ev in d.recent_events {
                        let fresh = seen
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(event_key(&ev));
                        if !fresh || (first && !replay) {
                            continue;
                        }
                        if tx.send(Ok(ev)).await.is_err() {
                            return;
                        }
                    }
                }
                first = false;
                let Some(w) = watch.as_mut() else { break };
                let next = tokio::select! {
                    () = stop.cancelled() => return,
                    () = tx.closed() => return,
                    n = w.next() => n,
                };
                match next {
                    Ok(Some(resp)) => statuses.extend(
                        resp.events
                            .into_iter()
                            .filter_map(|ev| ev.kv)
                            .map(|kv| kv.value)
                            .filter(|v| !v.is_empty()),
                    ),
                    _ => break,
                }
            }
            // The watch broke: read again after a pause (events seen are not sent twice).
            tokio::select! {
                () = stop.cancelled() => return,
                () = tx.closed() => return,
                () = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
            }
        }
    }

    /// Sends a change to the owner of `group`, and returns its answer.
    pub async fn relay<Req: Message, Resp: Message + Default>(
        &self,
        group: &str,
        method: &str,
        request: &Req,
    ) -> Result<Resp, Status> {
        orders::relay(&self.etcd, &self.keys, &self.name, group, method, request).await
    }
}

/// What tells one event from another across controllers: its time and sequence.
pub type EventKey = (Option<(i64, i32)>, u64);

/// The key of an event.
pub fn event_key(ev: &GroupEvent) -> EventKey {
    (ev.time.as_ref().map(|t| (t.seconds, t.nanos)), ev.sequence)
}

/// The create revision of the owner key read in a transaction: the owner's epoch.
fn owner_revision(op: Option<&infrakit_spi::etcd::etcdserverpb::ResponseOp>) -> u64 {
    use infrakit_spi::etcd::etcdserverpb::response_op::Response;
    match op.and_then(|o| o.response.as_ref()) {
        Some(Response::ResponseRange(r)) => r
            .kvs
            .first()
            .and_then(|kv| u64::try_from(kv.create_revision).ok())
            .unwrap_or(0),
        _ => 0,
    }
}

/// What the owner publishes of a group's DescribeGroup: without what changes at every look
/// (observation times), so that a group that does not change is not written again, and with at
/// most [`PUBLISHED_MEMBERS`] members. Compare these, not their encodings: maps (tags) encode
/// in no fixed order.
pub fn published(d: &DescribeGroupResponse) -> DescribeGroupResponse {
    let mut d = d.clone();
    d.observed_at = None;
    d.instances.truncate(PUBLISHED_MEMBERS);
    for i in &mut d.instances {
        i.last_seen = None;
    }
    d
}
