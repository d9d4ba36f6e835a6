//! `--docker-host tcp://...` with `--docker-tls-*`: the plugin reaches a TLS engine that requires
//! a client certificate. The engine here only listens on its unix socket, so the test puts a
//! small TLS-terminating proxy (Python's `ssl` module) in front of it.

use crate::support::*;
use infrakit_spi::instance::v1::*;
use std::io::BufRead;
use std::process::{Command, Stdio};

const PROXY: &str = r#"
import socket, ssl, sys, threading
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain("server.pem", "server.key")
ctx.load_verify_locations("ca.pem")
ctx.verify_mode = ssl.CERT_REQUIRED
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(64)
print(srv.getsockname()[1], flush=True)
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
def handle(c):
    try:
        t = ctx.wrap_socket(c, server_side=True)
    except (OSError, ssl.SSLError) as e:
        print("refused:", e, file=sys.stderr, flush=True)
        return
    u = socket.socket(socket.AF_UNIX)
    u.connect(sys.argv[1])
    threading.Thread(target=pipe, args=(t, u), daemon=True).start()
    pipe(u, t)
while True:
    c, _ = srv.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
"#;

#[test]
fn a_tls_engine_is_reached_with_the_docker_tls_options() {
    let Some(mut env) = Env::new("tls") else {
        return;
    };
    let image = env.build_image("busybox", "1", true);
    let dir = env.join("tls");
    infrakit_testkit::write_test_pki(&dir, &["localhost"]);
    std::fs::write(dir.join("proxy.py"), PROXY).unwrap();
    let engine_socket = std::env::var("DOCKER_HOST")
        .ok()
        .and_then(|h| h.strip_prefix("unix://").map(str::to_string))
        .unwrap_or_else(|| "/var/run/docker.sock".to_string());
    let log = dir.join("proxy.log");
    let mut child = Command::new("python3")
        .arg("proxy.py")
        .arg(&engine_socket)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("python3 runs the TLS proxy (install python3)");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    env.adopt(child, log);
    let port: u16 = line.trim().parse().expect("the proxy prints its port");
    let host = format!("tcp://localhost:{port}");
    let p = |f: &str| dir.join(f).display().to_string();

    // Without the TLS options the plugin cannot talk to the engine, and says so.
    let out = Command::new(plugin_binary())
        .args(["--docker-host", &host, "--state-dir", &p("state0")])
        .env("INFRAKIT_PLUGINS_DIR", env.join("p0"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot reach the Docker engine at {host}")),
        "{err}"
    );

    // With them, it serves: Validate inspects the image over TLS, Provision and Destroy work.
    let name = env.plugin_name();
    env.start(
        &plugin_binary(),
        &name,
        &[
            "--docker-host",
            &host,
            "--docker-tls-ca",
            &p("ca.pem"),
            "--docker-tls-cert",
            &p("cert.pem"),
            "--docker-tls-key",
            &p("key.pem"),
            "--state-dir",
            &p("state"),
        ],
    );
    let mut c = env.instance_client(&name);
    let props = serde_json::json!({"Image": image, "StopTimeout": "0s"}).to_string();
    c.call(async |c| {
        c.validate(ValidateRequest {
            properties: props.clone().into_bytes(),
            ..Default::default()
        })
        .await
    })
    .expect("validate over TLS");
    let id = c
        .call(async |c| {
            c.provision(ProvisionRequest {
                spec: Some(InstanceSpec {
                    properties: props.clone().into_bytes(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
        })
        .expect("provision over TLS")
        .id;
    assert_eq!(containers(&[env.marker_filter()])[0].0, id);
    c.call(async |c| {
        c.destroy(DestroyRequest {
            id: id.clone(),
            ..Default::default()
        })
        .await
    })
    .expect("destroy over TLS");
    assert!(containers(&[env.marker_filter()]).is_empty());
}
