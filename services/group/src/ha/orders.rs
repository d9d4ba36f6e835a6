//! Changes sent to a controller that does not own the group: stored in etcd as an order, carried
//! out by the owner (which follows the orders through its watch), answered in the same key.
//!
//! An order is the gRPC request itself (method and encoded message), so the owner runs exactly
//! the code a call sent to it would, and the caller gets exactly its answer (status code,
//! message and error details included). Orders wait in etcd while the group has no owner (its
//! controller died and the lease has not expired yet); the next owner carries them out when it
//! claims the group.

use super::client::{Etcd, EtcdError};
use super::keys::Keys;
use super::store::{created_at, delete, put};
use infrakit_spi::etcd::etcdserverpb::TxnRequest;
use prost::Message;
use std::time::Duration;
use tonic::{Code, Status};

/// An order: a Group method and its encoded request, and, once carried out, the answer.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Order {
    /// The Group method, e.g. `CommitGroup`.
    #[prost(string, tag = "1")]
    pub method: String,
    /// The encoded request.
    #[prost(bytes = "vec", tag = "2")]
    pub request: Vec<u8>,
    /// The owner's answer, once there is one.
    #[prost(message, optional, tag = "3")]
    pub answer: Option<Answer>,
    /// Who sent it (a controller name), for the logs.
    #[prost(string, tag = "4")]
    pub from: String,
}

/// The answer to an order: a status, and the encoded response when the status is OK.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Answer {
    /// The gRPC status code.
    #[prost(int32, tag = "1")]
    pub code: i32,
    /// The status message.
    #[prost(string, tag = "2")]
    pub message: String,
    /// The status details (e.g. field violations).
    #[prost(bytes = "vec", tag = "3")]
    pub details: Vec<u8>,
    /// The encoded response.
    #[prost(bytes = "vec", tag = "4")]
    pub response: Vec<u8>,
    /// The controller that carried it out.
    #[prost(string, tag = "5")]
    pub by: String,
}

// === impl Answer ===

impl Answer {
    /// The answer of a call that returned `result`.
    pub fn of<T: Message>(result: Result<T, Status>, by: &str) -> Self {
        match result {
            Ok(r) => Self {
                code: Code::Ok as i32,
                response: r.encode_to_vec(),
                by: by.to_string(),
                ..Default::default()
            },
            Err(s) => Self {
                code: s.code() as i32,
                message: s.message().to_string(),
                details: s.details().to_vec(),
                by: by.to_string(),
                ..Default::default()
            },
        }
    }

    /// The call's result, as the owner returned it.
    pub fn into_result<T: Message + Default>(self) -> Result<T, Status> {
        if self.code == Code::Ok as i32 {
            return T::decode(self.response.as_slice())
                .map_err(|e| Status::internal(format!("the owner's answer cannot be read: {e}")));
        }
        Err(Status::with_details(
            Code::from_i32(self.code),
            self.message,
            self.details.into(),
        ))
    }
}

/// How long a caller waits for the owner's answer before giving up on it.
pub const ANSWER_WAIT: Duration = Duration::from_secs(30);

/// Sends `request` (method `method`) to the owner of `group` and waits for the answer.
pub async fn relay<Req: Message, Resp: Message + Default>(
    etcd: &Etcd,
    keys: &Keys,
    from: &str,
    group: &str,
    method: &str,
    request: &Req,
) -> Result<Resp, Status> {
    let key = keys.order(
        group,
        &format!("{from}-{}", infrakit_runtime::socket::random_hex(6)),
    );
    let order = Order {
        method: method.to_string(),
        request: request.encode_to_vec(),
        answer: None,
        from: from.to_string(),
    };
    let unavailable = |e: EtcdError| {
        Status::unavailable(format!(
            "group {group:?} is managed by another controller, and the change cannot be sent to it through etcd: {e}"
        ))
    };
    let r = etcd
        .txn(TxnRequest {
            compare: vec![created_at(key.clone(), 0)],
            success: vec![put(key.clone(), order.encode_to_vec(), 0)],
            failure: Vec::new(),
        })
        .await
        .map_err(unavailable)?;
    let rev = r.header.map(|h| h.revision).unwrap_or_default();
    let mut watch = etcd.watch(&key, rev + 1).await.map_err(unavailable)?;
    let waited = tokio::time::timeout(ANSWER_WAIT, async {
        loop {
            match watch.next().await {
                Ok(Some(resp)) => {
                    for ev in resp.events {
                        let Some(kv) = ev.kv else { continue };
                        if kv.value.is_empty() {
                            continue;
                        }
                        if let Ok(Order {
                            answer: Some(a), ..
                        }) = Order::decode(kv.value.as_slice())
                        {
                            return Ok(a);
                        }
                    }
                }
                Ok(None) => return Err(EtcdError("the watch ended".into())),
                Err(e) => return Err(e),
            }
        }
    })
    .await;
    let cleanup = TxnRequest {
        compare: Vec::new(),
        success: vec![delete(key.clone())],
        failure: Vec::new(),
    };
    let _ = etcd.txn(cleanup).await;
    match waited {
        Ok(Ok(answer)) => answer.into_result(),
        Ok(Err(e)) => Err(Status::unavailable(format!(
            "the change to group {group:?} was sent to its owner through etcd, but its answer was lost ({e}); it may or may not have been applied: describe the group"
        ))),
        Err(_) => Err(Status::unavailable(format!(
            "no controller answered the change to group {group:?} within {ANSWER_WAIT:?} (its owner may have just died; its groups move within a lease TTL); it was withdrawn unless already applied: describe the group and try again"
        ))),
    }
}

/// Writes `answer` into order `key` (created at `rev`), unless the caller withdrew it.
pub async fn answer(etcd: &Etcd, key: &str, rev: i64, mut order: Order, answer: Answer) {
    order.answer = Some(answer);
    let txn = TxnRequest {
        compare: vec![created_at(key.to_string(), rev)],
        success: vec![put(key.to_string(), order.encode_to_vec(), 0)],
        failure: Vec::new(),
    };
    if let Err(e) = etcd.txn(txn).await {
        tracing::warn!(order = %key, error = %e, "cannot answer an order");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use infrakit_spi::group::v1::SetSizeResponse;

    #[test]
    fn answers_carry_the_response_or_the_whole_status() {
        let ok = Answer::of(
            Ok(SetSizeResponse {
                previous: 2,
                size: 3,
            }),
            "c",
        );
        let r: SetSizeResponse = ok.into_result().unwrap();
        assert_eq!(r.size, 3);
        let bad = Status::with_details(Code::InvalidArgument, "no", vec![1, 2, 3].into());
        let back = Answer::of::<SetSizeResponse>(Err(bad), "c")
            .into_result::<SetSizeResponse>()
            .unwrap_err();
        assert_eq!(back.code(), Code::InvalidArgument);
        assert_eq!(back.message(), "no");
        assert_eq!(back.details(), &[1, 2, 3]);
    }
}
