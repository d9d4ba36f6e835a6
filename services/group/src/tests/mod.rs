//! Driver tests: the whole worker and manager over in-memory fakes, under tokio's paused
//! time. Each test reproduces a way the driver once broke its promises.

mod driver;
mod fakes;
mod sim;

use crate::manager::{Config, Manager};
use fakes::Rig;
use infrakit_runtime::Shutdown;
use infrakit_spi::group::v1::{DescribeGroupResponse, GroupSpec as SpiSpec};
use std::sync::Arc;
use std::time::Duration;

/// A controller over the rig, resumed from its store; stop it with the returned shutdown.
async fn controller(rig: &Rig) -> (Arc<Manager>, Shutdown) {
    let shutdown = Shutdown::new();
    let config = Config {
        poll: Duration::from_millis(250),
        poll_watched: Duration::from_secs(30),
        health_every: Duration::from_secs(5),
        describe_timeout: Duration::from_secs(10),
        parallel: 64,
    };
    let mgr = Manager::new(rig.ports(), config, shutdown.clone());
    mgr.resume().await.expect("the fake store loads");
    (mgr, shutdown)
}

/// A group spec message from its Properties.
fn spec(id: &str, properties: serde_json::Value) -> SpiSpec {
    SpiSpec {
        id: id.to_string(),
        properties: properties.to_string().into_bytes(),
    }
}

/// Cattle of `size` with the given extra sections merged in.
fn cattle(size: u32, extra: serde_json::Value) -> serde_json::Value {
    let mut p = serde_json::json!({
        "Allocation": {"Size": size},
        "Instance": {"Plugin": "fake-instance", "Properties": {"Note": "v1"}},
        "Flavor": {"Plugin": "fake-flavor"},
        "Health": {"GracePeriod": "0s", "UnhealthyAfter": "3s"},
    });
    if let (Some(p), Some(extra)) = (p.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            p.insert(k.clone(), v.clone());
        }
    }
    p
}

async fn sleep(secs: f64) {
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
}

fn describe(mgr: &Manager, id: &str) -> DescribeGroupResponse {
    mgr.describe(id).expect("the group exists")
}

/// Waits (in paused time) until `f` holds, up to `secs`; panics with `what` otherwise.
async fn eventually(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..secs * 10 {
        if f() {
            return;
        }
        sleep(0.1).await;
    }
    assert!(f(), "not within {secs}s: {what}");
}
