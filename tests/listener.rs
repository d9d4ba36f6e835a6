//! A plugin's listener holds up against clients that connect and do nothing, and against running
//! out of file descriptors: handshakes have a deadline, connections a cap, accept errors a
//! backoff.

use crate::plugin_host::free_port;
use crate::support::*;
use infrakit_runtime::ListenAddr;
use infrakit_runtime::dial::DialOptions;
use infrakit_runtime::tls::ClientTlsFiles;
use std::io::Read;
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// True when a plugin at `addr` answers `Plugin/Info` within [`PATIENCE`].
fn answers_info(addr: &ListenAddr, tls: bool, opts: &DialOptions) -> bool {
    rt().block_on(async {
        let call = async {
            let ch = infrakit_runtime::dial::connect(addr, tls, opts)
                .await
                .ok()?;
            infrakit_spi::plugin::v1::plugin_client::PluginClient::new(ch)
                .info(infrakit_spi::plugin::v1::InfoRequest {})
                .await
                .ok()
        };
        matches!(tokio::time::timeout(PATIENCE, call).await, Ok(Some(_)))
    })
}

/// Waits until the peer closes `conn` (end of file or a reset), failing after [`PATIENCE`].
fn closed_by_peer(mut conn: TcpStream) -> bool {
    conn.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut buf = [0u8; 64];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn connections_that_never_finish_a_tls_handshake_are_dropped_and_do_not_block_real_clients() {
    let t = TestDir::new();
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(t.join("cert.pem"), ck.cert.pem()).unwrap();
    std::fs::write(t.join("key.pem"), ck.signing_key.serialize_pem()).unwrap();
    let port = free_port();
    let (cert, key) = (
        t.join("cert.pem").display().to_string(),
        t.join("key.pem").display().to_string(),
    );
    let mut p = t.spawn(
        "infrakit-flavor-vanilla",
        &[
            "--listen",
            &format!("tcp://127.0.0.1:{port}"),
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--tls-handshake-timeout",
            "3s",
        ],
    );
    let addr = ListenAddr::Tcp(format!("localhost:{port}"));
    let trusting = DialOptions {
        tls: Some(ClientTlsFiles {
            ca: Some(t.join("cert.pem")),
            ..Default::default()
        }),
    };
    wait_until("the TLS plugin answers", || {
        p.assert_running();
        answers_info(&addr, true, &trusting)
    });

    let idle: Vec<TcpStream> = (0..50)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    assert!(
        answers_info(&addr, true, &trusting),
        "a real client is served while 50 connections sit in their handshake"
    );
    for (i, conn) in idle.into_iter().enumerate() {
        assert!(
            closed_by_peer(conn),
            "idle connection {i} was not closed after the handshake timeout"
        );
    }
    p.assert_running();
    assert!(answers_info(&addr, true, &trusting), "still serving after");
}

#[test]
fn with_n_connections_open_connection_n_plus_1_waits_until_one_closes() {
    let t = TestDir::new();
    let mut p = t.spawn(
        "infrakit-flavor-vanilla",
        &["--name", "flavor-vanilla", "--max-connections", "3"],
    );
    let sock = t.socket("flavor-vanilla");
    wait_until("the plugin serves", || {
        p.assert_running();
        sock.exists()
    });
    // Three connections that never speak: a plaintext listener has no handshake deadline.
    let mut open: Vec<UnixStream> = (0..3)
        .map(|_| UnixStream::connect(&sock).unwrap())
        .collect();
    wait_until("the plugin reports the limit", || {
        p.logs().contains("3 connections are open, the limit")
    });

    let (tx, rx) = std::sync::mpsc::channel();
    let addr = ListenAddr::Unix(sock.clone());
    std::thread::spawn(move || {
        let _ = tx.send(answers_info(&addr, false, &DialOptions::default()));
    });
    assert!(
        rx.recv_timeout(Duration::from_secs(2)).is_err(),
        "a fourth connection was served while three were open"
    );
    drop(open.pop());
    assert_eq!(
        rx.recv_timeout(PATIENCE),
        Ok(true),
        "the waiting client is served once a connection closes"
    );
    p.assert_running();
}

/// Lets a fixed time pass: the one place a test needs an interval rather than a condition, to
/// measure what a process does over it.
#[allow(clippy::disallowed_methods)]
fn watch_for(d: Duration) {
    std::thread::sleep(d);
}

/// A plugin process started through `prlimit`, killed when dropped.
struct Limited {
    child: Child,
    log: std::path::PathBuf,
}

impl Drop for Limited {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Limited {
    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// CPU time (user + system) the process has used so far, in clock ticks.
    fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        // Fields after the command name (which is in parentheses): utime is the 12th, stime
        // the 13th.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = rest.split(' ').collect();
        f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
    }
}

#[test]
fn out_of_file_descriptors_the_plugin_backs_off_logs_once_and_recovers() {
    let t = TestDir::new();
    let log = t.join("limited.log");
    let child = Command::new("prlimit")
        .arg("--nofile=64:64")
        .arg(bin("infrakit-flavor-vanilla"))
        .args(["--name", "flavor-vanilla"])
        .env("INFRAKIT_PLUGINS_DIR", t.plugins())
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let p = Limited { child, log };
    let sock = t.socket("flavor-vanilla");
    wait_until("the plugin serves", || serving(&sock));

    // More connections than descriptors: the kernel queues them, accept fails with EMFILE.
    let flood: Vec<UnixStream> = (0..100)
        .map(|_| UnixStream::connect(&sock).unwrap())
        .collect();
    wait_until("the plugin reports the accept error", || {
        p.logs().contains("cannot accept connections")
    });
    let logs = p.logs();
    assert!(logs.contains("Too many open files"), "{logs}");

    // While descriptors stay exhausted, the accept loop sleeps instead of spinning: over 3 s
    // (300 clock ticks on Linux) it uses a small fraction of one core, where a busy loop takes
    // all the CPU it can get.
    let ticks = p.cpu_ticks();
    watch_for(Duration::from_secs(3));
    let used = p.cpu_ticks() - ticks;
    assert!(
        used < 75,
        "the plugin used {used} of 300 CPU ticks in 3 s: it spins on accept errors"
    );
    let reports = p.logs().matches("cannot accept connections").count();
    assert!(
        reports <= 2,
        "accept errors are logged at most once per 10s, not {reports} times:\n{}",
        p.logs()
    );

    drop(flood);
    wait_until("the plugin serves again", || serving(&sock));
}
