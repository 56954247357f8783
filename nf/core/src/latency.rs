//! Decision latency: timestamps on one monotonic clock, the budget, and percentiles.
//!
//! Times are nanoseconds since an arbitrary origin chosen by the caller (the runtime uses
//! one `Instant` for the whole process), so the core stays free of the OS clock.
//!
//! Two histograms: [`LatencyHistogram`] (HDR, 3 significant digits, ≈ 220 kB each) for tools
//! that own one, and [`SharedLatencyHistogram`] (≈ 30 kB, lock-free) that every E2 node task
//! of a process records into, so per-node latency memory is a pointer, not a histogram.

use std::sync::atomic::{AtomicU64, Ordering};

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

/// Sub-buckets per power of two (2^7 = 128): a recorded value is off by < 0.8 %.
const SUB_BITS: u32 = 7;
const SUB: u64 = 1 << SUB_BITS;
/// Largest latency kept apart (60 s); longer ones count as 60 s.
const MAX_NS: u64 = 60_000_000_000;
/// Buckets: exact below `SUB`, then `SUB` per octave up to `MAX_NS`.
const BUCKETS: usize = ((64 - MAX_NS.leading_zeros() - SUB_BITS + 1) as usize) << SUB_BITS;

/// A log-linear latency histogram (1 ns .. 60 s, < 0.8 % relative error) recorded through
/// atomics: any number of tasks record into one without a lock, and its size does not
/// depend on how many record into it.
#[derive(Debug)]
pub struct SharedLatencyHistogram {
    counts: Box<[AtomicU64]>,
    max: AtomicU64,
}

impl Default for SharedLatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl SharedLatencyHistogram {
    pub fn new() -> Self {
        Self {
            counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            max: AtomicU64::new(0),
        }
    }

    /// Bytes the histogram holds, whatever the number of recorders.
    pub fn heap_bytes(&self) -> usize {
        self.counts.len() * size_of::<AtomicU64>()
    }

    pub fn record_ns(&self, ns: u64) {
        let ns = ns.clamp(1, MAX_NS);
        self.counts[bucket_of(ns)].fetch_add(1, Ordering::Relaxed);
        self.max.fetch_max(ns, Ordering::Relaxed);
    }

    /// Percentiles of what was recorded so far (a consistent-enough snapshot: recorders
    /// racing the read may or may not be in it).
    pub fn percentiles(&self) -> Percentiles {
        let counts: Vec<u64> = self
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        let max = self.max.load(Ordering::Relaxed);
        let us = |q: f64| value_at(&counts, total, q).min(max) as f64 / 1e3;
        Percentiles {
            count: total,
            p50_us: us(0.5),
            p99_us: us(0.99),
            p999_us: us(0.999),
            max_us: max as f64 / 1e3,
        }
    }
}

/// The bucket of `ns` (`1 ..= MAX_NS`).
fn bucket_of(ns: u64) -> usize {
    if ns < SUB {
        return ns as usize;
    }
    let exp = 63 - ns.leading_zeros();
    let shift = exp - SUB_BITS;
    let sub = (ns >> shift) & (SUB - 1);
    ((((exp - SUB_BITS + 1) as u64) << SUB_BITS) | sub) as usize
}

/// The middle of bucket `i`.
fn value_of(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB {
        return i;
    }
    let shift = (i >> SUB_BITS) - 1;
    let low = (SUB | (i & (SUB - 1))) << shift;
    low + (1 << shift) / 2
}

/// The value below which a fraction `q` of `total` recorded values lie.
fn value_at(counts: &[u64], total: u64, q: f64) -> u64 {
    if total == 0 {
        return 0;
    }
    let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
    let mut seen = 0;
    for (i, c) in counts.iter().enumerate() {
        seen += c;
        if seen >= rank {
            return value_of(i);
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_histogram_percentiles_match_hdr() {
        let shared = SharedLatencyHistogram::new();
        let mut hdr = LatencyHistogram::new();
        for us in 1..=1000u64 {
            shared.record_ns(us * 1000);
            hdr.record_ns(us * 1000);
        }
        let (s, h) = (shared.percentiles(), hdr.percentiles());
        assert_eq!(s.count, 1000);
        for (a, b) in [
            (s.p50_us, h.p50_us),
            (s.p99_us, h.p99_us),
            (s.p999_us, h.p999_us),
        ] {
            assert!((a - b).abs() <= b * 0.01, "{s:?} vs {h:?}");
        }
        assert_eq!(s.max_us, 1000.0);
    }

    #[test]
    fn shared_histogram_buckets_cover_the_range() {
        let mut last = 0;
        for ns in [1, 2, 127, 128, 129, 255, 256, 1_000_000, MAX_NS - 1, MAX_NS] {
            let b = bucket_of(ns);
            assert!(b >= last && b < BUCKETS, "{ns} -> {b}");
            let v = value_of(b) as f64;
            assert!((v - ns as f64).abs() <= ns as f64 / 128.0, "{ns} -> {v}");
            last = b;
        }
        let h = SharedLatencyHistogram::new();
        h.record_ns(u64::MAX);
        h.record_ns(0);
        assert_eq!(h.percentiles().count, 2);
        assert!(h.heap_bytes() < 40 * 1024, "{}", h.heap_bytes());
    }

    #[test]
    fn hdr_histogram_is_the_per_node_cost_we_left() {
        // What each E2 node task used to hold four of.
        let h = LatencyHistogram::new();
        let bytes = h.hist.distinct_values() * size_of::<u64>();
        assert!(bytes > 200 * 1024, "{bytes}");
    }

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
