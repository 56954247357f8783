//! Baseline slice policies the models are compared against.
//!
//! Each baseline maps what a cell reported in its last window to an RRM policy ratio triple
//! per slice, exactly as a model-driven decision does, so every arm of a trial goes through
//! the same guard rails and control path:
//!
//! - [`Baseline::Equal`]: a static equal split, each of `n` slices guaranteed `⌊100/n⌋ %`
//!   and capped at the same share (the slicing-off reference of most studies).
//! - [`Baseline::Fixed`]: a static split given in percent, like the per-slice RBG
//!   allocations swept in the ColO-RAN dataset; guaranteed and capped at the given share.
//! - [`Baseline::Proportional`]: the minimum ratio proportional to each slice's demand in
//!   the last window (PRBs requested, else used), the maximum left at 100 % (work
//!   conserving), with a small floor so an idle slice can start.

use crate::ids::Snssai;
use crate::policy::SliceQuota;

/// Floor of the proportional baseline's minimum ratio for a slice with no demand [%].
pub const PROPORTIONAL_FLOOR_PCT: u8 = 5;

/// A baseline policy.
#[derive(Clone, Debug, PartialEq)]
pub enum Baseline {
    Equal,
    /// Percent per slice in the cell's slice order; slices past the list get 0 %.
    Fixed(Vec<u8>),
    Proportional,
}

impl Baseline {
    /// Short name used in labels and reports.
    pub fn name(&self) -> &'static str {
        match self {
            Baseline::Equal => "equal",
            Baseline::Fixed(_) => "fixed",
            Baseline::Proportional => "proportional",
        }
    }

    /// Quotas for slices with last-window `demand_prb` (mean PRBs per TTI, one per slice).
    pub fn quotas(&self, slices: &[Snssai], demand_prb: &[f32]) -> Vec<SliceQuota> {
        let n = slices.len().max(1);
        let capped = |snssai: Snssai, pct: u8| SliceQuota {
            snssai,
            min_ratio: pct,
            max_ratio: pct,
            dedicated_ratio: 0,
        };
        match self {
            Baseline::Equal => {
                let pct = (100 / n) as u8;
                slices.iter().map(|s| capped(*s, pct)).collect()
            }
            Baseline::Fixed(split) => slices
                .iter()
                .enumerate()
                .map(|(i, s)| capped(*s, split.get(i).copied().unwrap_or(0)))
                .collect(),
            Baseline::Proportional => proportional(slices, demand_prb),
        }
    }
}

fn proportional(slices: &[Snssai], demand_prb: &[f32]) -> Vec<SliceQuota> {
    let clean = |d: Option<&f32>| d.copied().filter(|v| v.is_finite() && *v > 0.0);
    let total: f32 = (0..slices.len())
        .filter_map(|i| clean(demand_prb.get(i)))
        .sum();
    let floor = u32::from(PROPORTIONAL_FLOOR_PCT);
    // What is left once every slice has its floor, shared by demand.
    let spare = 100u32.saturating_sub(floor * slices.len() as u32);
    slices
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let share = match clean(demand_prb.get(i)) {
                Some(d) if total > 0.0 => (spare as f32 * d / total).floor() as u32,
                _ if total == 0.0 => spare / slices.len().max(1) as u32,
                _ => 0,
            };
            SliceQuota {
                snssai: *s,
                min_ratio: (floor + share).min(100) as u8,
                max_ratio: 100,
                dedicated_ratio: 0,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::validate;

    fn slices() -> Vec<Snssai> {
        vec![
            Snssai::new(1, None),
            Snssai::new(3, None),
            Snssai::new(2, None),
        ]
    }

    #[test]
    fn every_baseline_passes_the_guard_invariants() {
        for b in [
            Baseline::Equal,
            Baseline::Fixed(vec![70, 10, 20]),
            Baseline::Proportional,
        ] {
            for demand in [[0.0, 0.0, 0.0], [40.0, 1.0, 9.0], [f32::NAN, 3.0, 0.0]] {
                let q = b.quotas(&slices(), &demand);
                let wire: Vec<_> = q.iter().map(SliceQuota::wire).collect();
                assert!(validate(&wire).is_ok(), "{b:?} {demand:?} {q:?}");
            }
        }
    }

    #[test]
    fn proportional_follows_demand() {
        let q = Baseline::Proportional.quotas(&slices(), &[30.0, 0.0, 10.0]);
        assert_eq!(
            q.iter().map(|q| q.min_ratio).collect::<Vec<_>>(),
            [5 + 63, 5, 5 + 21]
        );
        assert!(q.iter().all(|q| q.max_ratio == 100));
        let eq = Baseline::Equal.quotas(&slices(), &[0.0; 3]);
        assert!(eq.iter().all(|q| q.min_ratio == 33 && q.max_ratio == 33));
    }
}
