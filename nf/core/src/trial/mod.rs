//! A/B trials: which arm decides for a cell, and the statistics that compare arms.
//!
//! Assignment is a pure function of the trial's seed, the cell identity and `now`, so every
//! replica of the xApp (and a replay of the same trial) puts every cell in the same arm
//! with no shared state. Arm 0 is the control (production) arm, arm 1 the treatment.
//!
//! # Layout
//! - this file: designs and the assignment.
//! - [`stats`]: effects with 95 % confidence intervals (Welch, paired t, cluster bootstrap).
//! - [`kpi`]: the KPI vocabulary shared by online and offline trials.
//! - [`sequential`]: the always-valid guard rail that stops a harmful treatment.
//! - [`utility`]: the slice utility, the primary KPI of offline trials.

pub mod kpi;
pub mod sequential;
pub mod stats;
pub mod utility;

use crate::ids::CellId;

/// Index of the control arm.
pub const CONTROL: usize = 0;
/// Index of the treatment arm.
pub const TREATMENT: usize = 1;

/// How cells and time are split between the arms.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Design {
    /// Each cell stays in one arm for the whole trial; `treatment_share` of the cells get
    /// the treatment.
    CellRandomised { treatment_share: f64 },
    /// Each cell alternates arms every `block_ms` (from a random phase), for when
    /// neighbouring cells interfere and a cell-level split would leak.
    Switchback { block_ms: u64 },
    /// The control arm acts on every cell; the treatment decides in parallel and its
    /// actions are logged, never sent.
    Shadow,
}

/// Who decides for a cell at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Roles {
    /// The arm whose controls are sent.
    pub acting: usize,
    /// An arm deciding in shadow (logged, not sent).
    pub shadow: Option<usize>,
}

/// A trial's assignment rule.
#[derive(Clone, Debug)]
pub struct Assignment {
    pub design: Design,
    pub seed: u64,
}

/// SplitMix64: a stable, well-mixed 64-bit hash step (the assignment must not change with
/// a library's hasher).
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform number in [0, 1) from a hash.
pub fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

fn cell_hash(seed: u64, cell: &CellId) -> u64 {
    let plmn =
        u64::from(cell.plmn[0]) << 16 | u64::from(cell.plmn[1]) << 8 | u64::from(cell.plmn[2]);
    mix(mix(seed ^ plmn.rotate_left(40)) ^ cell.nci)
}

impl Assignment {
    /// Roles for `cell` at `now_ms` (the report's collection time).
    pub fn roles(&self, cell: &CellId, now_ms: u64) -> Roles {
        let h = cell_hash(self.seed, cell);
        match self.design {
            Design::CellRandomised { treatment_share } => Roles {
                acting: usize::from(unit(h) < treatment_share),
                shadow: None,
            },
            Design::Switchback { block_ms } => {
                let block = now_ms / block_ms.max(1);
                Roles {
                    acting: ((h & 1) ^ (block & 1)) as usize,
                    shadow: None,
                }
            }
            Design::Shadow => Roles {
                acting: CONTROL,
                shadow: Some(TREATMENT),
            },
        }
    }

    /// Time block of `now_ms` (switchback), or 0.
    pub fn block(&self, now_ms: u64) -> u64 {
        match self.design {
            Design::Switchback { block_ms } => now_ms / block_ms.max(1),
            _ => 0,
        }
    }
}

/// Cell-randomised assignment stratified by load: cells sorted by `load` are taken in
/// consecutive pairs and one of each pair, chosen by the seed, gets the treatment (an odd
/// last cell is a coin flip). Arms then carry the same mix of busy and quiet cells.
pub fn stratified(cells: &[(CellId, f64)], seed: u64) -> Vec<(CellId, usize)> {
    let mut sorted: Vec<&(CellId, f64)> = cells.iter().collect();
    sorted.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    let mut out = Vec::with_capacity(cells.len());
    for (k, pair) in sorted.chunks(2).enumerate() {
        let flip = (mix(seed ^ mix(k as u64)) & 1) as usize;
        for (i, (cell, _)) in pair.iter().enumerate() {
            let arm = if pair.len() == 2 { i ^ flip } else { flip };
            out.push((*cell, arm));
        }
    }
    out.sort_by_key(|(c, _)| *c);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(n: u64) -> CellId {
        CellId::new([0, 0xf1, 0x10], n)
    }

    #[test]
    fn cell_randomised_is_stable_and_near_the_share() {
        let a = Assignment {
            design: Design::CellRandomised {
                treatment_share: 0.3,
            },
            seed: 7,
        };
        let treated = (0..10_000)
            .filter(|n| a.roles(&cell(*n), 0).acting == TREATMENT)
            .count();
        assert!((2_800..3_200).contains(&treated), "{treated}");
        assert_eq!(a.roles(&cell(5), 0), a.roles(&cell(5), 99_999));
    }

    #[test]
    fn switchback_alternates_and_balances_each_block() {
        let a = Assignment {
            design: Design::Switchback { block_ms: 1_000 },
            seed: 1,
        };
        let c = cell(3);
        assert_ne!(a.roles(&c, 500).acting, a.roles(&c, 1_500).acting);
        assert_eq!(a.roles(&c, 500).acting, a.roles(&c, 2_500).acting);
        let treated = (0..1_000)
            .filter(|n| a.roles(&cell(*n), 0).acting == TREATMENT)
            .count();
        assert!((430..570).contains(&treated), "{treated}");
    }

    #[test]
    fn stratified_pairs_split_busy_and_quiet_cells() {
        let cells: Vec<_> = (0..8).map(|n| (cell(n), n as f64)).collect();
        let arms = stratified(&cells, 11);
        for pair in [[0, 1], [2, 3], [4, 5], [6, 7]] {
            assert_ne!(arms[pair[0]].1, arms[pair[1]].1);
        }
        assert_ne!(stratified(&cells, 11), stratified(&cells, 12));
    }
}
