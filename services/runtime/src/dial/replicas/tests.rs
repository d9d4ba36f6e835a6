use super::*;
use crate::host::{BindOptions, Listener};
use crate::{PluginHost, Shutdown};

/// A loopback TCP endpoint where nothing listens (the port was bound, then released).
fn closed() -> Replica {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    Replica {
        endpoint: ListenAddr::Tcp(format!("127.0.0.1:{port}")),
        tls: false,
    }
}

/// A plugin host serving on a loopback port, until `shutdown`.
async fn live(shutdown: &Shutdown) -> Replica {
    let opts = BindOptions {
        insecure: true,
        max_connections: 16,
        ..Default::default()
    };
    let listener = Listener::bind(&ListenAddr::Tcp("127.0.0.1:0".into()), &opts)
        .await
        .unwrap();
    let endpoint = listener.local_addr();
    tokio::spawn(PluginHost::new("g", "group-test").serve(listener, shutdown.clone()));
    Replica {
        endpoint,
        tls: false,
    }
}

#[tokio::test]
async fn a_refused_replica_is_skipped_for_the_next() {
    let shutdown = Shutdown::new();
    let (dead, up) = (closed(), live(&shutdown).await);
    let (got, _ch) = connect_first("g", &[dead, up.clone()], &DialOptions::default())
        .await
        .unwrap();
    assert_eq!(got, up);
    shutdown.trigger();
}

#[tokio::test]
async fn when_every_replica_fails_the_error_names_each_endpoint_in_order() {
    let (a, b) = (closed(), closed());
    let err = connect_first("g", &[a.clone(), b.clone()], &DialOptions::default())
        .await
        .unwrap_err();
    let DialError::NoReplica { name, tried } = &err else {
        panic!("not NoReplica: {err}");
    };
    assert_eq!(name, "g");
    let endpoints: Vec<String> = tried.iter().map(|t| t.endpoint.clone()).collect();
    assert_eq!(endpoints, [a.endpoint.to_string(), b.endpoint.to_string()]);
    let msg = err.to_string();
    assert!(
        msg.starts_with("cannot connect to any of the 2 replicas of plugin \"g\", tried in turn: "),
        "{msg}"
    );
    assert!(msg.contains(&a.endpoint.to_string()) && msg.contains(&b.endpoint.to_string()));
}

#[tokio::test]
async fn a_single_endpoint_keeps_its_own_error() {
    let a = closed();
    let err = connect_first("g", std::slice::from_ref(&a), &DialOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, DialError::Connect { endpoint, .. } if *endpoint == a.endpoint.to_string()),
        "{err}"
    );
}
