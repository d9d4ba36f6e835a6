//! What every plugin gets from the runtime: socket hygiene, TLS on TCP, version, shutdown.

use crate::support::*;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

#[test]
fn socket_is_created_owner_only_in_the_plugins_directory() {
    let t = TestDir::new();
    let _p = t.start("infrakit-flavor-vanilla", "flavor-vanilla", &[]);
    let mode = std::fs::metadata(t.socket("flavor-vanilla"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let dir_mode = std::fs::metadata(t.plugins()).unwrap().permissions().mode();
    assert_eq!(
        dir_mode & 0o777,
        0o700,
        "a new plugins directory is private"
    );
}

#[test]
fn a_stale_socket_left_by_a_crashed_plugin_is_replaced() {
    let t = TestDir::new();
    let mut p = t.start("infrakit-flavor-vanilla", "flavor-vanilla", &[]);
    p.signal("KILL");
    p.wait_exit(Duration::from_secs(5));
    assert!(
        t.socket("flavor-vanilla").exists(),
        "kill -9 leaves the socket file behind"
    );
    let mut again = t.start("infrakit-flavor-vanilla", "flavor-vanilla", &[]);
    assert!(again.logs().contains("stale socket"), "{}", again.logs());
    again.assert_running();
}

#[test]
fn a_live_socket_makes_a_second_plugin_fail_naming_the_path() {
    let t = TestDir::new();
    let _first = t.start("infrakit-flavor-vanilla", "flavor-vanilla", &[]);
    let mut second = t.spawn("infrakit-flavor-vanilla", &["--name", "flavor-vanilla"]);
    assert_eq!(second.wait_exit(Duration::from_secs(10)), Some(1));
    let log = second.logs();
    assert!(
        log.contains(&t.socket("flavor-vanilla").display().to_string()),
        "{log}"
    );
    assert!(log.contains("in use by a running plugin"), "{log}");
    assert!(
        serving(&t.socket("flavor-vanilla")),
        "the first plugin keeps serving"
    );
}

#[test]
fn an_overlong_socket_path_is_refused_with_a_fix() {
    let t = TestDir::new();
    let long = format!("unix://{}/{}.sock", t.path().display(), "x".repeat(110));
    let mut p = t.spawn("infrakit-flavor-vanilla", &["--listen", &long]);
    assert_eq!(p.wait_exit(Duration::from_secs(10)), Some(1));
    assert!(p.logs().contains("over the limit of 107"), "{}", p.logs());
}

#[test]
fn tcp_needs_tls_unless_insecure() {
    let t = TestDir::new();
    let mut p = t.spawn(
        "infrakit-flavor-vanilla",
        &["--listen", "tcp://127.0.0.1:0"],
    );
    assert_eq!(p.wait_exit(Duration::from_secs(10)), Some(1));
    assert!(p.logs().contains("needs TLS"), "{}", p.logs());
    assert!(p.logs().contains("--insecure"), "{}", p.logs());
}

#[test]
fn tcp_with_tls_serves_only_clients_that_trust_its_certificate() {
    let t = TestDir::new();
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(t.join("cert.pem"), ck.cert.pem()).unwrap();
    std::fs::write(t.join("key.pem"), ck.signing_key.serialize_pem()).unwrap();
    let port = free_port();
    let listen = format!("tcp://127.0.0.1:{port}");
    let cert = t.join("cert.pem").display().to_string();
    let key = t.join("key.pem").display().to_string();
    let mut p = t.spawn(
        "infrakit-flavor-vanilla",
        &["--listen", &listen, "--tls-cert", &cert, "--tls-key", &key],
    );
    let addr = infrakit_runtime::ListenAddr::Tcp(format!("localhost:{port}"));
    let trusting = infrakit_runtime::dial::DialOptions {
        tls: Some(infrakit_runtime::tls::ClientTlsFiles {
            ca: Some(t.join("cert.pem")),
            ..Default::default()
        }),
    };
    wait_until("TLS plugin answers Info", || {
        p.assert_running();
        rt().block_on(async {
            let Ok(ch) = infrakit_runtime::dial::connect(&addr, true, &trusting).await else {
                return false;
            };
            let mut c = infrakit_spi::plugin::v1::plugin_client::PluginClient::new(ch);
            c.info(infrakit_spi::plugin::v1::InfoRequest {})
                .await
                .is_ok()
        })
    });
    let plaintext = rt().block_on(async {
        match infrakit_runtime::dial::connect(&addr, false, &Default::default()).await {
            Err(_) => true,
            Ok(ch) => infrakit_spi::plugin::v1::plugin_client::PluginClient::new(ch)
                .info(infrakit_spi::plugin::v1::InfoRequest {})
                .await
                .is_err(),
        }
    });
    assert!(plaintext, "a plaintext client must not get an answer");
}

#[test]
fn sigterm_ends_open_watch_streams_and_removes_the_socket() {
    let t = TestDir::new();
    let mut p = t.start(
        "infrakit-instance-file",
        "instance-file",
        &["--dir", &t.join("inst").display().to_string()],
    );
    let sock = t.socket("instance-file");
    // A multi-thread runtime keeps driving the client connection (as a real client would) while
    // this thread waits for the plugin to exit.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut stream = runtime.block_on(async {
        let mut c =
            infrakit_spi::instance::v1::instance_client::InstanceClient::new(channel(&sock).await);
        c.watch_instances(infrakit_spi::instance::v1::WatchInstancesRequest::default())
            .await
            .unwrap()
            .into_inner()
    });
    let first = runtime.block_on(stream.message()).unwrap().unwrap();
    assert_eq!(
        first.kind,
        infrakit_spi::instance::v1::InstanceEventKind::Resync as i32
    );
    p.signal("TERM");
    assert_eq!(
        p.wait_exit(Duration::from_secs(4)),
        Some(0),
        "exits cleanly within the drain grace even with a stream open"
    );
    let end = runtime.block_on(stream.message());
    assert!(matches!(end, Ok(None) | Err(_)), "the stream ended");
    assert!(!sock.exists(), "the socket is removed on shutdown");
}

#[test]
fn version_prints_the_original_json_shape() {
    for (binary, kind) in [
        ("infrakit-instance-file", "instance-file"),
        ("infrakit-flavor-vanilla", "flavor-vanilla"),
        ("infrakit-discovery", "discovery"),
    ] {
        let out = run(std::process::Command::new(bin(binary)).arg("version"));
        assert!(out.status.success());
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["name"], kind);
        for k in ["name", "revision", "type", "version"] {
            assert!(v[k].is_string(), "{binary}: {k} missing in {v}");
        }
    }
}

/// A TCP port that is free right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn with_a_client_ca_only_clients_with_a_signed_certificate_are_served() {
    let t = TestDir::new();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, &ca_key);
    let issue = |names: Vec<String>| {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (server_cert, server_key) = issue(vec!["localhost".into()]);
    let (client_cert, client_key) = issue(vec!["client".into()]);
    for (f, body) in [
        ("ca.pem", ca.pem()),
        ("server.pem", server_cert),
        ("server.key", server_key),
        ("client.pem", client_cert),
        ("client.key", client_key),
    ] {
        std::fs::write(t.join(f), body).unwrap();
    }
    let port = free_port();
    let p = |f: &str| t.join(f).display().to_string();
    let mut plugin = t.spawn(
        "infrakit-flavor-vanilla",
        &[
            "--listen",
            &format!("tcp://127.0.0.1:{port}"),
            "--tls-cert",
            &p("server.pem"),
            "--tls-key",
            &p("server.key"),
            "--tls-client-ca",
            &p("ca.pem"),
        ],
    );
    let addr = infrakit_runtime::ListenAddr::Tcp(format!("localhost:{port}"));
    let call = |with_cert: bool| {
        let opts = infrakit_runtime::dial::DialOptions {
            tls: Some(infrakit_runtime::tls::ClientTlsFiles {
                ca: Some(t.join("ca.pem")),
                cert: with_cert.then(|| t.join("client.pem")),
                key: with_cert.then(|| t.join("client.key")),
                domain: None,
            }),
        };
        rt().block_on(async {
            let Ok(ch) = infrakit_runtime::dial::connect(&addr, true, &opts).await else {
                return false;
            };
            infrakit_spi::plugin::v1::plugin_client::PluginClient::new(ch)
                .info(infrakit_spi::plugin::v1::InfoRequest {})
                .await
                .is_ok()
        })
    };
    wait_until("a client with a signed certificate is served", || {
        plugin.assert_running();
        call(true)
    });
    assert!(!call(false), "a client without a certificate is refused");
}

#[test]
fn json_logs_are_one_object_per_line_on_stderr() {
    let t = TestDir::new();
    let mut p = t.spawn("infrakit-flavor-vanilla", &["--log-format", "json"]);
    wait_until("serving", || {
        p.assert_running();
        serving(&t.socket("flavor-vanilla"))
    });
    let logs = p.logs();
    let line = logs
        .lines()
        .find(|l| l.contains("serving"))
        .expect("a serving line");
    let v: serde_json::Value = serde_json::from_str(line).expect("JSON log line");
    assert_eq!(v["level"], "INFO");
    assert_eq!(v["fields"]["message"], "serving");
}

#[test]
fn the_healthcheck_subcommand_reports_whether_the_plugin_serves() {
    let t = TestDir::new();
    let check = || {
        run(std::process::Command::new(bin("infrakit-flavor-vanilla"))
            .arg("healthcheck")
            .env("INFRAKIT_PLUGINS_DIR", t.plugins()))
        .status
        .code()
    };
    assert_eq!(check(), Some(1), "nothing serves yet");
    let mut p = t.start("infrakit-flavor-vanilla", "flavor-vanilla", &[]);
    assert_eq!(check(), Some(0));
    p.signal("TERM");
    p.wait_exit(Duration::from_secs(5));
    assert_eq!(check(), Some(1));
}
