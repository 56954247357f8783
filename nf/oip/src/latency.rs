//! The latencies of a remote model's most recent calls, and their quantiles.
//!
//! The placement asks "does the remote model's p99 still fit what is left of this tick's
//! budget?": a question about the link as it is now, so it is answered from the last
//! `capacity` calls, not from the whole run. No I/O and no clock: durations come in as
//! arguments.

use std::time::Duration;

/// A ring of the last `capacity` latencies [µs].
#[derive(Clone, Debug)]
pub struct LatencyWindow {
    samples: Vec<u32>,
    next: usize,
    capacity: usize,
}

/// Calls remembered by default: enough for a p99 that moves with one slow call in a
/// hundred, few enough to follow a link that changes within seconds at 10 ticks/s.
pub const DEFAULT_CAPACITY: usize = 256;

impl Default for LatencyWindow {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl LatencyWindow {
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            samples: Vec::with_capacity(capacity),
            next: 0,
            capacity,
        }
    }

    /// Remembers one call's latency, forgetting the oldest once full.
    pub fn record(&mut self, latency: Duration) {
        let us = u32::try_from(latency.as_micros()).unwrap_or(u32::MAX);
        if self.samples.len() < self.capacity {
            self.samples.push(us);
        } else {
            self.samples[self.next] = us;
        }
        self.next = (self.next + 1) % self.capacity;
    }

    /// Calls remembered.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The `q` quantile (0..=1, nearest rank) of the remembered latencies; `None` before
    /// the first call.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        if self.samples.is_empty() {
            return None;
        }
        let mut sorted = self.samples.clone();
        sorted.sort_unstable();
        let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
        let at = rank.saturating_sub(1).min(sorted.len() - 1);
        Some(Duration::from_micros(u64::from(sorted[at])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn quantiles_by_nearest_rank() {
        let mut w = LatencyWindow::new(100);
        assert_eq!(w.quantile(0.5), None);
        for i in 1..=100 {
            w.record(ms(i));
        }
        assert_eq!(w.quantile(0.5), Some(ms(50)));
        assert_eq!(w.quantile(0.99), Some(ms(99)));
        assert_eq!(w.quantile(1.0), Some(ms(100)));
        assert_eq!(w.quantile(0.0), Some(ms(1)));
    }

    #[test]
    fn old_calls_are_forgotten() {
        let mut w = LatencyWindow::new(4);
        for _ in 0..4 {
            w.record(ms(400));
        }
        assert_eq!(w.quantile(0.5), Some(ms(400)));
        // The link got faster: four fast calls push every slow one out.
        for _ in 0..4 {
            w.record(ms(5));
        }
        assert_eq!(w.len(), 4);
        assert_eq!(w.quantile(1.0), Some(ms(5)));
    }
}
