//! Decision latency: timestamps on one monotonic clock, the budget, and percentiles.
//!
//! Times are nanoseconds since an arbitrary origin chosen by the caller (the runtime uses
//! one `Instant` for the whole process), so the core stays free of the OS clock.
//!
//! Two histograms: [`LatencyHistogram`] (HDR, 3 significant digits, ≈ 220 kB each) for tools
//! that own one, and [`SharedLatencyHistogram`] (≈ 30 kB, lock-free) that every E2 node task
//! of a process records into, so per-node latency memory is a pointer, not a histogram.
//!
//! # The budget is end to end
//! A report's age starts when the node finished collecting it, not when it reached the
//! xApp: a report that queued for 100 ms in the E2T or in the transport is already 100 ms
//! old on arrival. Node clocks are not ours (a skewed gNB clock, or a replay of a trace
//! recorded years ago), so [`NodeClock`] estimates each node's offset as the smallest
//! `arrival − collection end` seen recently (the fastest transit), and a report's age at
//! arrival is how much slower than that it came. [`Budget::allows_aged`] adds the time
//! spent in the xApp.

use std::sync::atomic::{AtomicU64, Ordering};

use hdrhistogram::Histogram;

/// What happens to a decision whose report is past the budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetMode {
    /// Live RAN: the decision is dropped (counted `latency_budget`).
    #[default]
    Drop,
    /// Replay: counted (`past_budget`) but still decided and sent, so decisions depend only
    /// on the data and not on how fast the host ran.
    Count,
}

/// Latency budget from report collection end (age-corrected) to control send.
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

    /// True if a decision on a report that was fresh when it arrived at `arrival_ns` may
    /// still leave at `now_ns`.
    pub fn allows(&self, arrival_ns: u64, now_ns: u64) -> bool {
        self.allows_aged(0, arrival_ns, now_ns)
    }

    /// True if a report `age_at_arrival_ms` old when it arrived at `arrival_ns` may still
    /// lead to a control at `now_ns`.
    pub fn allows_aged(&self, age_at_arrival_ms: u64, arrival_ns: u64, now_ns: u64) -> bool {
        age_at_arrival_ms
            .saturating_mul(1_000_000)
            .saturating_add(now_ns.saturating_sub(arrival_ns))
            <= self.budget_ns
    }
}

/// Default of how long one [`NodeClock`] minimum lives before it is renewed [ms].
pub const DEFAULT_OFFSET_WINDOW_MS: u64 = 10_000;
/// Consecutive reports more than `max_ahead_ms` behind the estimate after which it is
/// taken as poisoned (a first report stamped far ahead) and estimated afresh.
pub const RESEED_AFTER: u32 = 8;

/// A report stamped further ahead of its node's estimated clock than allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "report collected {ahead_ms} ms ahead of its node's clock (at most {max_ahead_ms} allowed)"
)]
pub struct AheadOfClock {
    pub ahead_ms: u64,
    pub max_ahead_ms: u64,
}

/// Offset between one node's collection clock and ours, estimated from the fastest recent
/// transit: the minimum of `arrival − collection end` over the current and the previous
/// window of `window_ms` (so one bad sample is forgotten within two windows, and a node
/// clock that drifts is followed). [`RESEED_AFTER`] reports in a row that look more than
/// `max_ahead_ms` old start the estimate afresh: the minimum came from a bad stamp.
#[derive(Clone, Debug)]
pub struct NodeClock {
    window_ms: u64,
    max_ahead_ms: u64,
    window_start_ms: Option<u64>,
    current: Option<i128>,
    previous: Option<i128>,
    behind_streak: u32,
}

impl NodeClock {
    pub fn new(window_ms: u64, max_ahead_ms: u64) -> Self {
        Self {
            window_ms: window_ms.max(1),
            max_ahead_ms,
            window_start_ms: None,
            current: None,
            previous: None,
            behind_streak: 0,
        }
    }

    /// The current offset estimate (our clock minus the node's, fastest transit) [ms].
    pub fn offset_ms(&self) -> Option<i128> {
        match (self.current, self.previous) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Observes a report whose collection ended at `collected_ms` (node clock) and that
    /// arrived at `arrival_ms` (our clock); returns its age on arrival [ms], or refuses it
    /// when it is stamped more than `max_ahead_ms` ahead of the estimate.
    pub fn observe(&mut self, collected_ms: u64, arrival_ms: u64) -> Result<u64, AheadOfClock> {
        self.rotate(arrival_ms);
        let transit = i128::from(arrival_ms) - i128::from(collected_ms);
        if let Some(offset) = self.offset_ms() {
            let ahead = offset - transit;
            if ahead > i128::from(self.max_ahead_ms) {
                return Err(AheadOfClock {
                    ahead_ms: u64::try_from(ahead).unwrap_or(u64::MAX),
                    max_ahead_ms: self.max_ahead_ms,
                });
            }
        }
        self.current = Some(self.current.map_or(transit, |c| c.min(transit)));
        let offset = self.offset_ms().unwrap_or(transit);
        let age = u64::try_from(transit - offset).unwrap_or(u64::MAX);
        if age <= self.max_ahead_ms {
            self.behind_streak = 0;
            return Ok(age);
        }
        self.behind_streak += 1;
        if self.behind_streak >= RESEED_AFTER {
            self.current = Some(transit);
            self.previous = None;
            self.behind_streak = 0;
            return Ok(0);
        }
        Ok(age)
    }

    fn rotate(&mut self, now_ms: u64) {
        let start = *self.window_start_ms.get_or_insert(now_ms);
        if now_ms.saturating_sub(start) >= self.window_ms {
            self.previous = self.current.take();
            self.window_start_ms = Some(now_ms);
        }
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

    #[test]
    fn age_counts_from_collection_not_arrival() {
        let b = Budget::from_ms(10.0);
        assert!(b.allows_aged(4, 0, 6_000_000));
        assert!(!b.allows_aged(5, 0, 6_000_000));
        assert!(!b.allows_aged(u64::MAX, 0, 1));
    }

    #[test]
    fn node_clock_offset_handles_skew_replays_and_hostile_stamps() {
        // A node whose clock runs 3 years behind ours (or a replay of an old trace).
        let skew = 3 * 365 * 86_400_000u64;
        let mut c = NodeClock::new(10_000, 60_000);
        let our = 2_000_000_000_000u64;
        assert_eq!(c.observe(our - skew - 2, our), Ok(0));
        // Same transit: age 0. A report that queued 150 ms longer: age 150.
        assert_eq!(c.observe(our - skew + 248, our + 250), Ok(0));
        assert_eq!(c.observe(our - skew + 250, our + 402), Ok(150));
        // Stamped 10 years ahead: refused, and the estimate is unchanged.
        let err = c
            .observe(our + 10 * 365 * 86_400_000, our + 500)
            .unwrap_err();
        assert!(err.ahead_ms > 60_000, "{err}");
        assert_eq!(c.observe(our - skew + 498, our + 500), Ok(0));
        // Timestamps at the ends of u64 neither wrap nor panic.
        assert!(c.observe(u64::MAX, our).is_err());
        assert_eq!(c.observe(0, our + 600), Ok(our + 600 - skew - 2));
    }

    #[test]
    fn a_poisoned_first_report_is_forgotten_after_a_few_good_ones() {
        let mut c = NodeClock::new(10_000, 60_000);
        assert_eq!(c.observe(u64::MAX / 2, 0), Ok(0));
        for i in 1..RESEED_AFTER {
            assert!(c.observe(u64::from(i) * 10, u64::from(i) * 10).unwrap() > 60_000);
        }
        assert_eq!(c.observe(80, 80), Ok(0));
        assert_eq!(c.observe(90, 95), Ok(5));
    }

    #[test]
    fn a_poisoned_estimate_is_forgotten_within_two_windows() {
        let mut c = NodeClock::new(1_000, 60_000);
        // The very first report is stamped far ahead: nothing to compare with, accepted.
        assert_eq!(c.observe(u64::MAX / 2, 0), Ok(0));
        assert!(c.observe(0, 10).unwrap() > 1_000_000);
        c.observe(1_000, 1_000).ok();
        // Two windows later the bad minimum has rotated out.
        c.observe(2_000, 2_000).ok();
        assert_eq!(c.observe(2_100, 2_100), Ok(0));
    }
}
