//! When to run the next Terraform cycle: changes (provisions, labels, destroys) are batched so
//! that a burst of calls becomes one `terraform apply`, and failed cycles are retried with an
//! exponential backoff. Pure: time is passed in.
//!
//! A cycle starts when no change has arrived for `quiet`, or `max_wait` after the first change
//! of the batch, whichever comes first, but never before a failed cycle's backoff has passed.
//! Changes that arrive while a cycle runs belong to the next batch.

use std::time::Duration;
use tokio::time::Instant;

/// The longest backoff after repeated failures.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The batch queue.
#[derive(Clone, Debug)]
pub struct Batcher {
    quiet: Duration,
    max_wait: Duration,
    first: Option<Instant>,
    last: Option<Instant>,
    retry_at: Option<Instant>,
    failures: u32,
}

// === impl Batcher ===

impl Batcher {
    /// A queue that waits for `quiet` without changes, at most `max_wait`.
    pub fn new(quiet: Duration, max_wait: Duration) -> Self {
        Self {
            quiet,
            max_wait: max_wait.max(quiet),
            first: None,
            last: None,
            retry_at: None,
            failures: 0,
        }
    }

    /// Records a change at `now`.
    pub fn changed(&mut self, now: Instant) {
        self.first.get_or_insert(now);
        self.last = Some(now);
    }

    /// True when changes wait for a cycle.
    pub fn is_dirty(&self) -> bool {
        self.first.is_some()
    }

    /// When the next cycle should start, if anything waits.
    pub fn due(&self) -> Option<Instant> {
        let first = self.first?;
        let last = self.last.unwrap_or(first);
        let at = (first + self.max_wait).min(last + self.quiet);
        Some(match self.retry_at {
            Some(r) => at.max(r),
            None => at,
        })
    }

    /// A cycle starts now: the waiting changes are taken.
    pub fn start(&mut self) {
        self.first = None;
        self.last = None;
    }

    /// The cycle succeeded.
    pub fn succeeded(&mut self) {
        self.failures = 0;
        self.retry_at = None;
    }

    /// The cycle failed at `now`: its changes wait again, until the backoff has passed.
    /// Returns the backoff.
    pub fn failed(&mut self, now: Instant) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let backoff = backoff(self.failures);
        self.retry_at = Some(now + backoff);
        self.first.get_or_insert(now);
        self.last.get_or_insert(now);
        backoff
    }

    /// How many cycles in a row have failed.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

/// 1 s after the first failure, doubling, at most [`MAX_BACKOFF`].
pub fn backoff(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(16);
    Duration::from_secs(1u64 << exp).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn nothing_waits_until_something_changes() {
        let b = Batcher::new(100 * MS, 1000 * MS);
        assert_eq!(b.due(), None);
        assert!(!b.is_dirty());
    }

    #[test]
    fn a_burst_is_one_batch_started_after_a_quiet_period() {
        let t0 = Instant::now();
        let mut b = Batcher::new(100 * MS, 1000 * MS);
        b.changed(t0);
        b.changed(t0 + 50 * MS);
        b.changed(t0 + 90 * MS);
        assert_eq!(b.due(), Some(t0 + 190 * MS));
        b.start();
        assert_eq!(b.due(), None);
    }

    #[test]
    fn a_steady_stream_still_gets_applied_after_max_wait() {
        let t0 = Instant::now();
        let mut b = Batcher::new(100 * MS, 300 * MS);
        for i in 0..10 {
            b.changed(t0 + i * 50 * MS);
        }
        assert_eq!(b.due(), Some(t0 + 300 * MS));
    }

    #[test]
    fn changes_during_a_cycle_make_the_next_batch() {
        let t0 = Instant::now();
        let mut b = Batcher::new(100 * MS, 300 * MS);
        b.changed(t0);
        b.start();
        b.changed(t0 + 20 * MS);
        b.succeeded();
        assert_eq!(b.due(), Some(t0 + 120 * MS));
    }

    #[test]
    fn failures_back_off_exponentially_and_success_resets() {
        let t0 = Instant::now();
        let mut b = Batcher::new(100 * MS, 300 * MS);
        b.changed(t0);
        b.start();
        assert_eq!(b.failed(t0), Duration::from_secs(1));
        assert_eq!(b.due(), Some(t0 + Duration::from_secs(1)));
        b.start();
        assert_eq!(b.failed(t0), Duration::from_secs(2));
        b.start();
        b.succeeded();
        assert_eq!(b.failures(), 0);
        assert_eq!(b.due(), None);
        assert_eq!(backoff(30), MAX_BACKOFF);
    }
}
