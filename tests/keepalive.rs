//! Long calls to plugins written with another gRPC stack survive the shipped channel settings:
//! gRPC C-core servers (Python here, also C++ and Ruby) close a connection that is pinged too
//! often with GOAWAY `too_many_pings`, and our server takes pings from such clients.
//!
//! These tests take minutes each on purpose (a 40 s drain, a 2 minute quiet stream):
//! `.config/nextest.toml` gives them a longer slow-timeout.

use crate::support::*;
use infrakit_spi::flavor::v1::DrainRequest;
use infrakit_spi::flavor::v1::flavor_client::FlavorClient;
use infrakit_spi::instance::v1::instance_client::InstanceClient;
use infrakit_spi::instance::v1::{InstanceDescription, InstanceEventKind, WatchInstancesRequest};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A Python plugin from `tests/python/quiet_plugin.py`, on `<plugins>/<name>.sock`, killed when
/// dropped.
struct PythonPlugin {
    child: Child,
    out: PathBuf,
    sock: PathBuf,
}

impl PythonPlugin {
    /// Starts the plugin in `mode` (with `args`) and waits until it serves.
    fn start(t: &TestDir, name: &str, mode: &[&str]) -> Self {
        std::fs::create_dir_all(t.plugins()).unwrap();
        let stubs = t.join(&format!("py-{name}"));
        std::fs::create_dir_all(&stubs).unwrap();
        let sock = t.socket(name);
        let out = t.join(&format!("{name}.out"));
        let child = Command::new(tool("python"))
            .arg(repo().join("tests/python/quiet_plugin.py"))
            .arg(repo().join("proto"))
            .arg(&stubs)
            .arg(&sock)
            .args(mode)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(t.join(&format!("{name}.err"))).unwrap())
            .spawn()
            .unwrap();
        let mut p = Self { child, out, sock };
        wait_until(&format!("the python plugin {name} serves"), || {
            if let Ok(Some(status)) = p.child.try_wait() {
                panic!("the python plugin exited ({status}): {}", p.output());
            }
            p.output().contains("ready") && p.sock.exists()
        });
        p
    }

    /// What it printed so far.
    fn output(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }
}

impl Drop for PythonPlugin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_40s_drain_on_a_python_flavor_succeeds_through_the_shipped_dial_settings() {
    let t = TestDir::new();
    let py = PythonPlugin::start(&t, "flavor-slow", &["drain", "40"]);
    let answer = rt().block_on(async {
        // The same dialing the group controller does.
        let ch = infrakit_runtime::dial::dial("flavor-slow", &t.plugins(), &Default::default())
            .await
            .unwrap()
            .channel;
        let mut req = tonic::Request::new(DrainRequest {
            instance: Some(InstanceDescription {
                id: "i-1".into(),
                ..Default::default()
            }),
            ..Default::default()
        });
        req.set_timeout(Duration::from_secs(90));
        FlavorClient::new(ch).drain(req).await
    });
    assert!(
        answer.is_ok(),
        "the drain failed: {answer:?}\nthe plugin said: {}",
        py.output()
    );
    assert!(
        py.output().contains("drained i-1 after 40"),
        "{}",
        py.output()
    );
}

#[test]
fn a_quiet_watch_stream_from_a_python_instance_plugin_stays_up_for_2_minutes() {
    let t = TestDir::new();
    let py = PythonPlugin::start(&t, "instance-quiet", &["watch"]);
    rt().block_on(async {
        let ch = infrakit_runtime::dial::dial("instance-quiet", &t.plugins(), &Default::default())
            .await
            .unwrap()
            .channel;
        let mut stream = InstanceClient::new(ch)
            .watch_instances(WatchInstancesRequest::default())
            .await
            .unwrap()
            .into_inner();
        let first = stream.message().await.unwrap().unwrap();
        assert_eq!(first.kind, InstanceEventKind::Resync as i32);

        let quiet = tokio::time::timeout(Duration::from_secs(120), stream.message()).await;
        assert!(
            quiet.is_err(),
            "the stream ended within 2 quiet minutes: {quiet:?}\nthe plugin said: {}",
            py.output()
        );

        // Still the same live stream: the plugin's next event arrives on it.
        std::fs::write(py.sock.with_extension("sock.poke"), "").unwrap();
        let next = tokio::time::timeout(PATIENCE, stream.message())
            .await
            .expect("the event after the quiet minutes arrives")
            .unwrap()
            .unwrap();
        assert_eq!(next.kind, InstanceEventKind::Created as i32);
        assert_eq!(next.instance.unwrap().id, "poked");
    });
}

#[test]
fn a_python_client_that_pings_every_second_keeps_its_watch_stream_on_our_plugin() {
    let t = TestDir::new();
    let (_p, _inst) = t.start_file_plugin();
    let stubs = t.join("py");
    std::fs::create_dir_all(&stubs).unwrap();
    let out = run(Command::new(tool("python")).args([
        repo().join("tests/python/pinging_client.py").as_os_str(),
        repo().join("proto").as_os_str(),
        stubs.as_os_str(),
        t.socket("instance-file").as_os_str(),
    ]));
    assert!(
        out.status.success(),
        "the pinging client failed:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"], serde_json::Value::Null, "{v}");
    assert_eq!(
        v["events"],
        serde_json::json!(["INSTANCE_EVENT_KIND_RESYNC", "INSTANCE_EVENT_KIND_CREATED"]),
        "{v}"
    );
}
