//! The store shared by several controllers: group records in etcd, every write a transaction
//! guarded by the group's owner key.
//!
//! # Guarantees
//! - A record is written only while the owner key still has the create revision (the epoch)
//!   of this controller's claim: a controller that lost the group (its lease expired, the
//!   group was handed over and claimed again) cannot write, whatever it believes.
//! - A new group's record and its owner key are created in one transaction, so a group is
//!   never created twice, nor created without an owner.

use super::client::Etcd;
use super::keys::Keys;
use super::lease::{ActUntil, Session};
use crate::ports::{BoxFuture, Record, StorePort};
use infrakit_spi::etcd::etcdserverpb::{
    Compare, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest, compare,
    request_op, response_op,
};
use std::time::Duration;
use tokio::sync::watch;

/// Group records in etcd.
pub struct EtcdStore {
    etcd: Etcd,
    keys: Keys,
    name: String,
    session: watch::Receiver<Session>,
    act_until: ActUntil,
    join_wait: Duration,
}

// === impl EtcdStore ===

impl EtcdStore {
    /// The store of controller `name`, creating groups under the lease of `session`; a
    /// group created while the controller is joining waits for the lease up to `join_wait`.
    pub fn new(
        etcd: Etcd,
        keys: Keys,
        name: String,
        session: watch::Receiver<Session>,
        act_until: ActUntil,
        join_wait: Duration,
    ) -> Self {
        Self {
            etcd,
            keys,
            name,
            session,
            act_until,
            join_wait,
        }
    }

    /// The lease to create groups under, waiting up to `join_wait` for one (a controller just
    /// started, or renewing its lease after an etcd hiccup, has none for a moment).
    async fn lease(&self) -> Option<i64> {
        let mut session = self.session.clone();
        let joined = session.wait_for(Option::is_some);
        match tokio::time::timeout(self.join_wait, joined).await {
            Ok(Ok(lease)) => *lease,
            _ => None,
        }
    }

    /// Applies `ops` if this controller still owns group `id` under `epoch`.
    async fn as_owner(&self, id: &str, epoch: u64, ops: Vec<RequestOp>) -> Result<(), String> {
        let txn = TxnRequest {
            compare: vec![created_at(self.keys.owner(id), epoch_of(epoch))],
            success: ops,
            failure: Vec::new(),
        };
        let r = self.etcd.txn(txn).await.map_err(|e| e.to_string())?;
        if r.succeeded {
            Ok(())
        } else {
            Err(self.fenced(id, epoch))
        }
    }

    fn fenced(&self, id: &str, epoch: u64) -> String {
        let message = format!(
            "controller {} no longer owns group {id:?} (its epoch {epoch} is over: the group was claimed again or the lease expired); the write was refused",
            self.name
        );
        tracing::warn!(group = %id, epoch, controller = %self.name, "etcd refused a write of a group this controller no longer owns");
        message
    }
}

/// `key`'s create revision equals `rev` (0: the key does not exist).
pub(crate) fn created_at(key: String, rev: i64) -> Compare {
    Compare {
        result: compare::CompareResult::Equal as i32,
        target: compare::CompareTarget::Create as i32,
        key: key.into_bytes(),
        target_union: Some(compare::TargetUnion::CreateRevision(rev)),
        range_end: Vec::new(),
    }
}

pub(crate) fn put(key: String, value: Vec<u8>, lease: i64) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestPut(PutRequest {
            key: key.into_bytes(),
            value,
            lease,
            ..Default::default()
        })),
    }
}

pub(crate) fn get(key: String) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestRange(RangeRequest {
            key: key.into_bytes(),
            ..Default::default()
        })),
    }
}

pub(crate) fn delete(key: String) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestDeleteRange(
            DeleteRangeRequest {
                key: key.into_bytes(),
                ..Default::default()
            },
        )),
    }
}

/// The value of the key read by a range in a transaction's answer, if any.
pub(crate) fn read_value(
    op: Option<&infrakit_spi::etcd::etcdserverpb::ResponseOp>,
) -> Option<Vec<u8>> {
    match op?.response.as_ref()? {
        response_op::Response::ResponseRange(r) => r.kvs.first().map(|kv| kv.value.clone()),
        _ => None,
    }
}

fn epoch_of(rev: u64) -> i64 {
    i64::try_from(rev).unwrap_or(i64::MAX)
}

impl StorePort for EtcdStore {
    fn load_all(&self) -> BoxFuture<'_, Result<Vec<(String, Record)>, String>> {
        Box::pin(async move {
            let (kvs, _) = self
                .etcd
                .list(&format!("{}groups/", self.keys.root()))
                .await
                .map_err(|e| e.to_string())?;
            let mut out = Vec::new();
            for kv in kvs {
                let Some(super::keys::Key::Group(id)) = self.keys.parse(&kv.key) else {
                    continue;
                };
                match super::record::decode(&kv.value) {
                    Ok(r) => out.push((id.to_string(), r)),
                    Err(e) => {
                        tracing::error!(group = %id, error = %e, "skipping an unreadable group record in etcd")
                    }
                }
            }
            Ok(out)
        })
    }

    fn create(&self, id: &str, record: Record) -> BoxFuture<'_, Result<u64, String>> {
        let id = id.to_string();
        Box::pin(async move {
            let Some(lease) = self.lease().await else {
                return Err(format!(
                    "controller {} has not been connected to etcd for the last {:?}, so it cannot create group {id:?}; try again when it is (or on another controller)",
                    self.name, self.join_wait
                ));
            };
            let value = super::record::encode(&id, &record)?;
            let txn = TxnRequest {
                compare: vec![
                    created_at(self.keys.group(&id), 0),
                    created_at(self.keys.owner(&id), 0),
                ],
                success: vec![
                    put(self.keys.group(&id), value, 0),
                    put(self.keys.owner(&id), self.name.clone().into_bytes(), lease),
                ],
                failure: vec![get(self.keys.owner(&id))],
            };
            let r = self.etcd.txn(txn).await.map_err(|e| e.to_string())?;
            if r.succeeded {
                let rev = r.header.map(|h| h.revision).unwrap_or_default();
                return u64::try_from(rev)
                    .ok()
                    .filter(|&e| e > 0)
                    .ok_or_else(|| "etcd answered without a revision".to_string());
            }
            let owner =
                read_value(r.responses.first()).map(|v| String::from_utf8_lossy(&v).into_owned());
            Err(match owner {
                Some(o) => format!(
                    "group {id:?} was committed meanwhile and is managed by controller {o}; commit again to change it"
                ),
                None => format!(
                    "group {id:?} exists in etcd and is being claimed by its controller; commit again in a moment"
                ),
            })
        })
    }

    fn save(&self, id: &str, record: Record, epoch: u64) -> BoxFuture<'_, Result<(), String>> {
        let id = id.to_string();
        Box::pin(async move {
            let value = super::record::encode(&id, &record)?;
            self.as_owner(&id, epoch, vec![put(self.keys.group(&id), value, 0)])
                .await
        })
    }

    fn may_act(&self) -> bool {
        self.act_until.now()
    }

    fn remove(&self, id: &str, epoch: u64) -> BoxFuture<'_, Result<(), String>> {
        let id = id.to_string();
        Box::pin(async move {
            // Orders stay: the one being carried out (FreeGroup) is answered after this, and
            // each sender removes its own.
            let ops = vec![
                delete(self.keys.group(&id)),
                delete(self.keys.status(&id)),
                delete(self.keys.owner(&id)),
            ];
            self.as_owner(&id, epoch, ops).await
        })
    }
}
