//! Decision latency: timestamps on one monotonic clock, the budget, and percentiles.
//!
//! Times are nanoseconds since an arbitrary origin chosen by the caller (the runtime uses
//! one `Instant` for the whole process), so the core stays free of the OS clock.

use hdrhistogram::Histogram;

/// Latency budget from indication arrival to control send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    pub budget_ns: u64,
}

impl Budget {
    pub fn from_ms(ms: f64) -> Self {
        Self {
            budget_ns: (ms * 1e6) as u64,
        }
    }

    /// True if a decision that arrived at `arrival_ns` may still leave at `now_ns`.
    pub fn allows(&self, arrival_ns: u64, now_ns: u64) -> bool {
        now_ns.saturating_sub(arrival_ns) <= self.budget_ns
    }
}

/// Percentiles of a latency distribution, microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Percentiles {
    pub count: u64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
}

/// HDR histogram of latencies in nanoseconds (1 ns .. 60 s, 3 significant digits).
#[derive(Clone, Debug)]
pub struct LatencyHistogram {
    hist: Histogram<u64>,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    pub fn new() -> Self {
        #[allow(clippy::unwrap_used)] // constant, valid bounds
        let hist = Histogram::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        Self { hist }
    }

    pub fn record_ns(&mut self, ns: u64) {
        self.hist.saturating_record(ns.max(1));
    }

    pub fn merge(&mut self, other: &LatencyHistogram) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.hist.add(&other.hist);
    }

    pub fn percentiles(&self) -> Percentiles {
        let us = |q: f64| self.hist.value_at_quantile(q) as f64 / 1e3;
        Percentiles {
            count: self.hist.len(),
            p50_us: us(0.5),
            p99_us: us(0.99),
            p999_us: us(0.999),
            max_us: self.hist.max() as f64 / 1e3,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_and_percentiles() {
        let b = Budget::from_ms(10.0);
        assert!(b.allows(0, 10_000_000));
        assert!(!b.allows(0, 10_000_001));
        let mut h = LatencyHistogram::new();
        for us in 1..=1000u64 {
            h.record_ns(us * 1000);
        }
        let p = h.percentiles();
        assert_eq!(p.count, 1000);
        assert!((p.p50_us - 500.0).abs() < 1.0, "{p:?}");
        assert!((p.p99_us - 990.0).abs() < 2.0, "{p:?}");
    }
}
