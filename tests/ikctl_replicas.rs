//! ikctl and a name served by several TCP replicas registered with discovery: a call goes to a
//! live replica when the first one offered is dead, and when none answers the error names every
//! endpoint tried.

use crate::support::*;
use infrakit_spi::discovery::v1::discovery_client::DiscoveryClient;
use infrakit_spi::discovery::v1::{LookupRequest, PluginHealth};
use std::time::Duration;

/// The replicas of `name` as discovery offers them (best first), with their health.
fn offered(dsock: &std::path::Path, name: &str) -> Vec<(String, i32)> {
    rt().block_on(async {
        DiscoveryClient::new(channel(dsock).await)
            .lookup(LookupRequest { name: name.into() })
            .await
            .map(|r| {
                r.into_inner()
                    .replicas
                    .into_iter()
                    .map(|p| (p.endpoint, p.health))
                    .collect()
            })
            .unwrap_or_default()
    })
}

/// `ikctl plugin info NAME -o json`: which endpoint ikctl reached, or its stderr.
fn reached(t: &TestDir, name: &str) -> Result<String, String> {
    let out = t.ikctl(&["plugin", "info", name, "-o", "json"]);
    if !out.status.success() {
        return Err(stderr(&out));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    Ok(v["endpoint"].as_str().unwrap().to_string())
}

#[test]
fn ikctl_falls_over_to_a_live_replica_and_names_every_endpoint_when_none_answers() {
    let t = TestDir::new();
    let _d = t.start("infrakit-discovery", "discovery", &[]);
    let dsock = t.socket("discovery");
    // Leases far longer than the test: killed replicas stay registered, and offered, throughout.
    let mut replicas = vec![
        t.spawn_tcp("infrakit-flavor-vanilla", "shared", 300, &[]),
        t.spawn_tcp("infrakit-flavor-vanilla", "shared", 300, &[]),
    ];
    wait_until("both replicas registered and serving", || {
        let o = offered(&dsock, "shared");
        o.len() == 2 && o.iter().all(|(_, h)| *h == PluginHealth::Serving as i32)
    });

    // Kill the replica offered first; ikctl must reach the other one.
    let first = offered(&dsock, "shared")[0].0.clone();
    let i = replicas.iter().position(|(_, e)| *e == first).unwrap();
    let (mut dead, dead_ep) = replicas.remove(i);
    let (mut live, live_ep) = replicas.remove(0);
    dead.signal("KILL");
    dead.wait_exit(Duration::from_secs(5));
    assert_eq!(reached(&t, "shared"), Ok(live_ep.clone()));
    let flavor = repo().join("deploy/examples/flavor.yaml");
    let spec = repo().join("deploy/examples/instance-spec.json");
    let out = t.ikctl(&[
        "flavor",
        "--plugin",
        "shared",
        "prepare",
        &flavor.display().to_string(),
        "--spec",
        &spec.display().to_string(),
        "--size",
        "1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));

    // With every replica down, the error lists each endpoint tried.
    live.signal("KILL");
    live.wait_exit(Duration::from_secs(5));
    let out = t.ikctl(&["plugin", "info", "shared"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("cannot connect to any of the 2 replicas of plugin \"shared\""),
        "{err}"
    );
    assert!(err.contains(&dead_ep) && err.contains(&live_ep), "{err}");
}
