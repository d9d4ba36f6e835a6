//! Free loopback ports for servers a test starts (etcd, TCP controllers).
//!
//! `bind(127.0.0.1:0)` hands out ports from the kernel's ephemeral range, the same range the
//! source ports of outgoing connections come from: between the probe and the server's own
//! bind, a busy test run can take the port for a connection and the server fails to start.
//! Ports here come from below that range (10000..32768), picked at random and probed.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};

const FIRST: u32 = 10_000;
const SPAN: u32 = 22_768;

/// A loopback port below the ephemeral range that nobody listens on now.
pub fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // Different test processes start at different places (their PIDs and start times).
    let seed = std::process::id()
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
    for _ in 0..SPAN {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let step = seed
            .wrapping_mul(2_654_435_761)
            .wrapping_add(n.wrapping_mul(7_919));
        // `FIRST + step % SPAN` is below 32768, so it fits a u16.
        let port = u16::try_from(FIRST + step % SPAN).unwrap_or(u16::MAX);
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port below the ephemeral range");
}
