//! The discovery service: socket plugins with their health, leased TCP registrations, lookups.

use crate::support::*;
use infrakit_spi::discovery::v1::discovery_client::DiscoveryClient;
use infrakit_spi::discovery::v1::*;

fn list(sock: &std::path::Path) -> Vec<PluginEntry> {
    rt().block_on(async {
        DiscoveryClient::new(channel(sock).await)
            .list(ListRequest {})
            .await
            .unwrap()
            .into_inner()
            .plugins
    })
}

fn lookup(sock: &std::path::Path, name: &str) -> LookupResponse {
    rt().block_on(async {
        DiscoveryClient::new(channel(sock).await)
            .lookup(LookupRequest { name: name.into() })
            .await
            .unwrap()
            .into_inner()
    })
}

/// The endpoints listed under `name`, in the order of the list (sorted).
fn listed(sock: &std::path::Path, name: &str) -> Vec<String> {
    list(sock)
        .into_iter()
        .filter(|p| p.name == name)
        .map(|p| p.endpoint)
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn discovery_lists_socket_plugins_with_health_and_forgets_stopped_ones() {
    let t = TestDir::new();
    let _d = t.start("infrakit-discovery", "discovery", &[]);
    let mut v = t.start("infrakit-flavor-vanilla", "flavor-vanilla", &[]);
    let dsock = t.socket("discovery");
    wait_until("vanilla listed as serving", || {
        list(&dsock).iter().any(|p| {
            p.name == "flavor-vanilla"
                && p.health == PluginHealth::Serving as i32
                && p.spis
                    .iter()
                    .any(|s| s.starts_with("infrakit.flavor.v1.Flavor"))
                && p.kind == "flavor-vanilla"
        })
    });
    v.signal("KILL");
    v.wait_exit(std::time::Duration::from_secs(5));
    wait_until("a killed plugin (stale socket) is no longer listed", || {
        !list(&dsock).iter().any(|p| p.name == "flavor-vanilla")
    });
    let st = rt()
        .block_on(async {
            DiscoveryClient::new(channel(&dsock).await)
                .lookup(LookupRequest {
                    name: "discovry/x".into(),
                })
                .await
        })
        .unwrap_err();
    assert_eq!(st.code(), tonic::Code::NotFound);
    assert!(
        st.message().contains("did you mean \"discovery\""),
        "{}",
        st.message()
    );
}

#[test]
fn a_tcp_plugin_registers_with_a_lease_and_disappears_when_it_dies() {
    let t = TestDir::new();
    let _d = t.start("infrakit-discovery", "discovery", &[]);
    let dsock = t.socket("discovery");
    let port = crate::plugin_host::free_port();
    let listen = format!("tcp://127.0.0.1:{port}");
    let mut tcp = {
        let log = t.join("tcp.log");
        let child = std::process::Command::new(bin("infrakit-flavor-vanilla"))
            .args(["--name", "vanilla-tcp", "--listen", &listen, "--insecure"])
            .env("INFRAKIT_PLUGINS_DIR", t.plugins())
            .env("INFRAKIT_REGISTER_TTL", "2")
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        (child, log)
    };
    wait_until("the TCP plugin is registered and serving", || {
        list(&dsock).iter().any(|p| {
            p.name == "vanilla-tcp"
                && p.endpoint == listen
                && p.source == Source::Registered as i32
                && p.lease_expires.is_some()
        })
    });
    let found = rt().block_on(async {
        DiscoveryClient::new(channel(&dsock).await)
            .lookup(LookupRequest {
                name: "vanilla-tcp/sub".into(),
            })
            .await
            .unwrap()
            .into_inner()
    });
    assert_eq!(found.subtype, "sub");
    tcp.0.kill().unwrap();
    tcp.0.wait().unwrap();
    wait_until("the lease of a killed TCP plugin runs out", || {
        !list(&dsock).iter().any(|p| p.name == "vanilla-tcp")
    });
    let _ = std::fs::remove_file(tcp.1);
}

#[test]
fn watchers_see_current_plugins_then_arrivals_and_departures() {
    let t = TestDir::new();
    let _d = t.start("infrakit-discovery", "discovery", &[]);
    let dsock = t.socket("discovery");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut watch = runtime.block_on(async {
        DiscoveryClient::new(channel(&dsock).await)
            .watch(WatchRequest {})
            .await
            .unwrap()
            .into_inner()
    });
    let mut next = || {
        runtime
            .block_on(async { tokio::time::timeout(PATIENCE, watch.message()).await })
            .expect("an event in time")
            .unwrap()
            .unwrap()
    };
    let first = next();
    assert_eq!(
        first.plugin.unwrap().name,
        "discovery",
        "current plugins come first"
    );
    let v = t.start("infrakit-flavor-vanilla", "flavor-vanilla", &[]);
    let mut seen = next();
    while seen.plugin.as_ref().unwrap().name != "flavor-vanilla" {
        seen = next();
    }
    assert_eq!(seen.kind, DiscoveryEventKind::Added as i32);
    v.signal("TERM");
    loop {
        let ev = next();
        if ev.kind == DiscoveryEventKind::Removed as i32
            && ev.plugin.unwrap().name == "flavor-vanilla"
        {
            break;
        }
    }
}

#[test]
fn replicas_of_one_name_are_all_listed_and_looked_up_and_a_killed_one_expires_alone() {
    let t = TestDir::new();
    let _d = t.start("infrakit-discovery", "discovery", &[]);
    let dsock = t.socket("discovery");
    let (mut a, ea) = t.spawn_tcp("infrakit-flavor-vanilla", "shared", 2, &[]);
    let (_b, eb) = t.spawn_tcp("infrakit-flavor-vanilla", "shared", 2, &[]);
    let both = sorted(vec![ea.clone(), eb.clone()]);
    wait_until("both replicas listed, serving", || {
        let serving: Vec<String> = list(&dsock)
            .into_iter()
            .filter(|p| p.name == "shared" && p.health == PluginHealth::Serving as i32)
            .map(|p| p.endpoint)
            .collect();
        serving == both
    });
    let found = lookup(&dsock, "shared");
    let replicas: Vec<String> = found.replicas.iter().map(|p| p.endpoint.clone()).collect();
    assert_eq!(sorted(replicas), both, "Lookup returns every replica");
    assert_eq!(
        found.plugin.map(|p| p.endpoint),
        Some(found.replicas[0].endpoint.clone()),
        "the single plugin of older clients is the best replica"
    );

    a.signal("KILL");
    a.wait_exit(std::time::Duration::from_secs(5));
    wait_until(
        "the killed replica's lease runs out; the live one stays",
        || listed(&dsock, "shared") == [eb.clone()],
    );
    let found = lookup(&dsock, "shared");
    let replicas: Vec<String> = found.replicas.into_iter().map(|p| p.endpoint).collect();
    assert_eq!(replicas, [eb]);
}

#[test]
fn a_replica_that_stops_deregisters_itself_and_not_the_others() {
    let t = TestDir::new();
    let _d = t.start("infrakit-discovery", "discovery", &[]);
    let dsock = t.socket("discovery");
    // Leases far longer than the test: only a deregistration can remove an entry, and the
    // survivor does not renew (re-register) while the test looks.
    let (mut a, ea) = t.spawn_tcp("infrakit-flavor-vanilla", "shared", 300, &[]);
    let (_b, eb) = t.spawn_tcp("infrakit-flavor-vanilla", "shared", 300, &[]);
    wait_until("both replicas registered", || {
        listed(&dsock, "shared") == sorted(vec![ea.clone(), eb.clone()])
    });
    a.signal("TERM");
    assert_eq!(a.wait_exit(std::time::Duration::from_secs(10)), Some(0));
    wait_until("the stopped replica is gone at once", || {
        !listed(&dsock, "shared").contains(&ea)
    });
    assert_eq!(listed(&dsock, "shared"), [eb], "the other replica stays");
}
