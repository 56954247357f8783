//! Rate limiting of repetitive log lines: the first few are written, then one per interval
//! carrying how many were suppressed since the last one written. Lock-free; time is an
//! argument.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Decides which occurrences of one kind of event are logged.
#[derive(Debug)]
pub struct LogLimiter {
    first: u64,
    interval_ns: u64,
    seen: AtomicU64,
    next_ns: AtomicU64,
    suppressed: AtomicU64,
}

impl LogLimiter {
    /// Logs the first `first` occurrences, then at most one per `interval`.
    pub fn new(first: u64, interval: Duration) -> Self {
        Self {
            first,
            interval_ns: interval.as_nanos() as u64,
            seen: AtomicU64::new(0),
            next_ns: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(n)` when this occurrence at `now_ns` is to be logged, `n` being the number of
    /// occurrences suppressed since the last one logged; `None` when it is suppressed.
    pub fn admit(&self, now_ns: u64) -> Option<u64> {
        if self.seen.fetch_add(1, Ordering::Relaxed) < self.first {
            return Some(0);
        }
        let next = self.next_ns.load(Ordering::Relaxed);
        if now_ns >= next
            && self
                .next_ns
                .compare_exchange(
                    next,
                    now_ns.saturating_add(self.interval_ns),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            return Some(self.suppressed.swap(0, Ordering::Relaxed));
        }
        self.suppressed.fetch_add(1, Ordering::Relaxed);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_then_one_per_interval_with_the_suppressed_count() {
        let l = LogLimiter::new(3, Duration::from_secs(1));
        let s = 1_000_000_000;
        // A flood of 10,000 failures within the same second: 3 + 1 lines.
        let logged: Vec<u64> = (0..10_000).filter_map(|i| l.admit(i)).collect();
        assert_eq!(logged, vec![0, 0, 0, 0]);
        // The next second's first failure carries the count of those left out.
        assert_eq!(l.admit(2 * s), Some(9_996));
        assert_eq!(l.admit(2 * s + 1), None);
        assert_eq!(l.admit(3 * s), Some(1));
    }
}
