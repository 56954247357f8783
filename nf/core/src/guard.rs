//! Guard rails between model outputs and the RAN.
//!
//! Every quota set leaving the xApp satisfies the RRM policy ratio invariants
//! (TS 28.541: ratios in 0..=100, dedicated ≤ min ≤ max, Σ dedicated ≤ 100, Σ min ≤ 100),
//! differs from what the cell last received by at least the hysteresis, and respects a
//! per-cell rate limit. Failed controls are not retried here: the next forecast decides
//! again, within the same rate limit, so a failing node never sees a storm.

use std::collections::VecDeque;

use rustc_hash::FxHashMap;

use crate::ids::CellId;
use crate::policy::{SliceQuota, WireQuota};

/// Why a quota set was not sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suppressed {
    /// No ratio moved by the hysteresis or more.
    Hysteresis,
    /// The cell already received its allowance of controls this second.
    RateLimited,
}

/// A quota set that breaks an invariant (used to validate incoming controls too).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QuotaError {
    #[error("slice {slice}: ratio {value} is above 100")]
    OutOfRange { slice: String, value: u32 },
    #[error("slice {slice}: dedicated {dedicated} ≤ min {min} ≤ max {max} does not hold")]
    Order {
        slice: String,
        dedicated: u32,
        min: u32,
        max: u32,
    },
    #[error("sum of {what} ratios is {sum}, above 100")]
    Sum { what: &'static str, sum: u32 },
    #[error("slice {0} appears twice")]
    DuplicateSlice(String),
    #[error("no slice quotas")]
    Empty,
}

/// Checks the invariants on ratios given as plain integers (as decoded from the wire).
pub fn validate(quotas: &[WireQuota]) -> Result<(), QuotaError> {
    if quotas.is_empty() {
        return Err(QuotaError::Empty);
    }
    let (mut sum_min, mut sum_ded) = (0u32, 0u32);
    for (i, (slice, min, max, ded)) in quotas.iter().enumerate() {
        if quotas[..i].iter().any(|q| &q.0 == slice) {
            return Err(QuotaError::DuplicateSlice(slice.to_string()));
        }
        if let Some(&value) = [*min, *max, *ded].iter().find(|v| **v > 100) {
            return Err(QuotaError::OutOfRange {
                slice: slice.to_string(),
                value,
            });
        }
        if !(ded <= min && min <= max) {
            return Err(QuotaError::Order {
                slice: slice.to_string(),
                dedicated: *ded,
                min: *min,
                max: *max,
            });
        }
        sum_min += min;
        sum_ded += ded;
    }
    if sum_ded > 100 {
        return Err(QuotaError::Sum {
            what: "dedicated",
            sum: sum_ded,
        });
    }
    if sum_min > 100 {
        return Err(QuotaError::Sum {
            what: "minimum",
            sum: sum_min,
        });
    }
    Ok(())
}

/// Tunables of the guard rails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuardConfig {
    /// Smallest change of any ratio worth a control [percentage points].
    pub hysteresis_pct: u8,
    /// Most controls per cell in any one-second window.
    pub max_controls_per_cell_per_sec: u32,
}

#[derive(Debug, Default)]
struct CellGuard {
    last_sent: Vec<SliceQuota>,
    sent_at_ms: VecDeque<u64>,
}

/// Per-cell guard state of one shard.
#[derive(Debug)]
pub struct GuardRails {
    cfg: GuardConfig,
    cells: FxHashMap<CellId, CellGuard>,
}

/// Brings a quota set inside the invariants: clamps, orders, and scales the minimum and
/// dedicated ratios down proportionally when their sums pass 100. Returns true if it had
/// to change anything.
pub fn enforce(quotas: &mut [SliceQuota]) -> bool {
    let before = quotas.to_vec();
    for q in quotas.iter_mut() {
        q.max_ratio = q.max_ratio.min(100);
        q.min_ratio = q.min_ratio.min(q.max_ratio);
        q.dedicated_ratio = q.dedicated_ratio.min(q.min_ratio);
    }
    scale_sum(quotas, |q| &mut q.min_ratio);
    for q in quotas.iter_mut() {
        q.dedicated_ratio = q.dedicated_ratio.min(q.min_ratio);
    }
    scale_sum(quotas, |q| &mut q.dedicated_ratio);
    before != quotas
}

fn scale_sum(quotas: &mut [SliceQuota], field: impl Fn(&mut SliceQuota) -> &mut u8) {
    let sum: u32 = quotas.iter_mut().map(|q| u32::from(*field(q))).sum();
    if sum > 100 {
        for q in quotas.iter_mut() {
            let v = field(q);
            *v = (u32::from(*v) * 100 / sum) as u8;
        }
    }
}

impl GuardRails {
    pub fn new(cfg: GuardConfig) -> Self {
        Self {
            cfg,
            cells: FxHashMap::default(),
        }
    }

    /// Decides whether `quotas` (already inside the invariants) may go to `cell` at `now_ms`.
    pub fn admit(
        &mut self,
        cell: CellId,
        quotas: &[SliceQuota],
        now_ms: u64,
    ) -> Result<(), Suppressed> {
        let g = self.cells.entry(cell).or_default();
        if !moved(&g.last_sent, quotas, self.cfg.hysteresis_pct) {
            return Err(Suppressed::Hysteresis);
        }
        while g
            .sent_at_ms
            .front()
            .is_some_and(|t| t.saturating_add(1000) <= now_ms)
        {
            g.sent_at_ms.pop_front();
        }
        if g.sent_at_ms.len() >= self.cfg.max_controls_per_cell_per_sec as usize {
            return Err(Suppressed::RateLimited);
        }
        Ok(())
    }

    /// Records that `quotas` were sent to `cell` at `now_ms`.
    pub fn commit(&mut self, cell: CellId, quotas: &[SliceQuota], now_ms: u64) {
        let g = self.cells.entry(cell).or_default();
        g.last_sent.clear();
        g.last_sent.extend_from_slice(quotas);
        g.sent_at_ms.push_back(now_ms);
    }

    /// Forgets what `cell` was last sent (after a failed control), so the next decision is
    /// compared with nothing; the rate limit still holds.
    pub fn forget(&mut self, cell: CellId) {
        if let Some(g) = self.cells.get_mut(&cell) {
            g.last_sent.clear();
        }
    }

    /// Forgets what every cell was last sent (an A1 policy changed: each cell's next
    /// decision is not held back by the hysteresis); the rate limit still holds.
    pub fn forget_all(&mut self) {
        for g in self.cells.values_mut() {
            g.last_sent.clear();
        }
    }

    /// The quotas `cell` was last sent (empty after [`Self::forget`]), if any.
    pub fn last(&self, cell: &CellId) -> Option<&[SliceQuota]> {
        self.cells
            .get(cell)
            .map(|g| g.last_sent.as_slice())
            .filter(|q| !q.is_empty())
    }

    /// Drops the state of a cell that aged out.
    pub fn remove(&mut self, cell: &CellId) {
        self.cells.remove(cell);
    }
}

fn moved(last: &[SliceQuota], new: &[SliceQuota], hysteresis: u8) -> bool {
    if last.len() != new.len() {
        return true;
    }
    last.iter().zip(new).any(|(a, b)| {
        a.snssai != b.snssai
            || a.min_ratio.abs_diff(b.min_ratio) >= hysteresis
            || a.max_ratio.abs_diff(b.max_ratio) >= hysteresis
            || a.dedicated_ratio.abs_diff(b.dedicated_ratio) >= hysteresis
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Snssai;

    fn q(sst: u8, min: u8, max: u8, ded: u8) -> SliceQuota {
        SliceQuota {
            snssai: Snssai::new(sst, None),
            min_ratio: min,
            max_ratio: max,
            dedicated_ratio: ded,
        }
    }

    fn as_wire(qs: &[SliceQuota]) -> Vec<WireQuota> {
        qs.iter().map(SliceQuota::wire).collect()
    }

    #[test]
    fn enforce_restores_every_invariant() {
        let mut qs = vec![q(1, 90, 80, 95), q(2, 70, 200, 60), q(3, 40, 50, 30)];
        assert!(enforce(&mut qs));
        validate(&as_wire(&qs)).unwrap();
        let mut ok = vec![q(1, 20, 40, 10)];
        assert!(!enforce(&mut ok));
    }

    #[test]
    fn validate_names_the_broken_rule() {
        assert!(matches!(
            validate(&as_wire(&[q(1, 30, 20, 10)])),
            Err(QuotaError::Order { .. })
        ));
        assert!(matches!(
            validate(&as_wire(&[q(1, 60, 90, 60), q(2, 50, 90, 50)])),
            Err(QuotaError::Sum {
                what: "dedicated",
                ..
            })
        ));
        assert!(matches!(
            validate(&[(Snssai::new(1, None), 10, 101, 0)]),
            Err(QuotaError::OutOfRange { value: 101, .. })
        ));
        assert_eq!(validate(&[]), Err(QuotaError::Empty));
    }

    #[test]
    fn hysteresis_and_rate_limit() {
        let cell = CellId::new([0; 3], 1);
        let mut g = GuardRails::new(GuardConfig {
            hysteresis_pct: 5,
            max_controls_per_cell_per_sec: 2,
        });
        let a = [q(1, 20, 40, 10)];
        assert_eq!(g.admit(cell, &a, 0), Ok(()));
        g.commit(cell, &a, 0);
        assert_eq!(
            g.admit(cell, &[q(1, 24, 40, 10)], 10),
            Err(Suppressed::Hysteresis)
        );
        let b = [q(1, 25, 40, 10)];
        assert_eq!(g.admit(cell, &b, 10), Ok(()));
        g.commit(cell, &b, 10);
        assert_eq!(g.admit(cell, &a, 20), Err(Suppressed::RateLimited));
        assert_eq!(g.admit(cell, &a, 1000), Ok(()));
        g.forget(cell);
        assert_eq!(g.admit(cell, &b, 1011), Ok(()));
        g.commit(cell, &b, 1011);
        assert_eq!(g.admit(cell, &b, 2100), Err(Suppressed::Hysteresis));
        g.forget_all();
        assert_eq!(g.admit(cell, &b, 2100), Ok(()));
    }

    #[test]
    fn report_times_near_u64_max_neither_wrap_nor_panic() {
        let cell = CellId::new([0; 3], 1);
        let mut g = GuardRails::new(GuardConfig {
            hysteresis_pct: 5,
            max_controls_per_cell_per_sec: 1,
        });
        let a = [q(1, 20, 40, 10)];
        g.commit(cell, &a, u64::MAX - 10);
        assert_eq!(
            g.admit(cell, &[q(1, 30, 40, 10)], u64::MAX - 5),
            Err(Suppressed::RateLimited)
        );
    }
}
