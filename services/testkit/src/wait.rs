//! Waiting on conditions with a deadline, and skipping a test on request.

use std::time::{Duration, Instant};

/// Polls `cond` every `interval` until it holds; returns how long that took. Fails the test
/// (`timed out after TIMEOUT waiting for: WHAT`) when it still does not hold after `timeout`.
///
/// Each crate wraps this with its own patience (`wait_until(what, cond)`), which suits its
/// backend: a process starts in milliseconds, a Docker-in-Docker node joins in tens of seconds.
pub fn eventually(
    what: &str,
    timeout: Duration,
    interval: Duration,
    mut cond: impl FnMut() -> bool,
) -> Duration {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for: {what}"
        );
        std::thread::sleep(interval);
    }
    start.elapsed()
}

/// True when environment variable `var` is `1`, which asks to skip the tests that need a tool
/// this machine lacks; says so on stderr, naming `test`. A test that is not skipped must then
/// fail when the tool is missing, never pass silently.
pub fn skip(test: &str, var: &str) -> bool {
    let skipped = std::env::var(var).as_deref() == Ok("1");
    if skipped {
        eprintln!("skipping {test}: {var}=1");
    }
    skipped
}
