//! Training data for the slice-scheduling policy: a hindsight oracle on the twin.
//!
//! The policy picks one of a small set of **actions**, each a weight vector over the
//! contract's slices. An action turns the cell's last reported demand (`VS.PrbReqDl` per
//! slice) into quotas the way the proportional baseline does, with the demand weighted:
//! `min_s = 5 % + 85 % · w_s·d_s / Σ w·d` (an equal share of the 85 % when no slice asked
//! for anything), `max_s = 100 %` (work conserving). The all-ones action *is* the
//! proportional baseline, so the policy can always fall back on it; the others give a
//! slice priority when its service is worth more than its PRB demand says (a URLLC slice
//! about to miss its delay target, a starving mMTC slice).
//!
//! Labels come from hindsight: along a run of the twin under a behaviour policy, every
//! `stride` windows the cell's state is copied and each action is played for the next
//! `horizon` windows on the copy, with the recorded future arrivals, re-reading the demand
//! every window as the deployed policy would. The label of the action is its mean slice
//! utility over those windows ([`crate::twin::window_utility`]). The policy is then
//! fitted to predict these values from what an E2 node reports (the KPM windows of the
//! slices, [`PolicyLayout`]), never from twin internals.
//!
//! Quotas of an action are built through [`quotas_from_output`] from the same float row
//! the ONNX graph writes, so the oracle scores exactly what the deployed policy sends.

use std::collections::VecDeque;

use nf_core::policy::SliceQuota;
use nf_core::slice_policy::{PolicyLayout, quotas_from_output};
use nf_core::trial::utility::UtilityWeights;
use nf_core::{Meas, MeasVec, Snssai};

use crate::twin::{self, LinkTable, Scheduler, TwinCell, TwinState};

/// Minimum share every contract slice keeps [%] (the proportional baseline's floor).
pub const FLOOR_PCT: f32 = 5.0;
/// Share distributed by weighted demand [%].
pub const SPARE_PCT: f32 = 100.0 - 3.0 * FLOOR_PCT;

/// The action set: weight vectors over the contract's (three) slices.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ActionSet {
    pub weights: Vec<[f32; 3]>,
}

impl ActionSet {
    /// Every weight vector with entries in `levels`, up to scale (vectors that are
    /// multiples of one another are one action); the all-ones vector first.
    pub fn grid(levels: &[f32]) -> Self {
        let mut weights: Vec<[f32; 3]> = vec![[1.0, 1.0, 1.0]];
        for a in levels {
            for b in levels {
                for c in levels {
                    let w = [*a, *b, *c];
                    let m = a.min(*b).min(*c);
                    let norm = w.map(|x| x / m);
                    if !weights
                        .iter()
                        .any(|v| v.iter().zip(&norm).all(|(x, y)| (x - y).abs() < 1e-4))
                    {
                        weights.push(norm);
                    }
                }
            }
        }
        Self { weights }
    }

    pub fn len(&self) -> usize {
        self.weights.len()
    }

    pub fn is_empty(&self) -> bool {
        self.weights.is_empty()
    }
}

/// The float output row (contract slices × [min, max]) action `w` gives for `demand` (per
/// contract slice, PRBs requested in the last window): what the ONNX graph computes.
pub fn action_row(w: &[f32; 3], demand: &[f32; 3]) -> [f32; 6] {
    let wd: [f32; 3] = std::array::from_fn(|s| w[s] * demand[s].max(0.0));
    let total: f32 = wd.iter().sum();
    let mut row = [0.0; 6];
    for s in 0..3 {
        let share = if total > 0.0 {
            wd[s] / total
        } else {
            1.0 / 3.0
        };
        row[2 * s] = FLOOR_PCT + SPARE_PCT * share;
        row[2 * s + 1] = 100.0;
    }
    row
}

/// Last-window `VS.PrbReqDl` per contract slice (0 for slices the cell lacks).
pub fn last_demand(layout: &PolicyLayout, cell: &TwinCell, last: &[MeasVec]) -> [f32; 3] {
    let mut d = [0.0; 3];
    for (s, m) in cell.slices.iter().zip(last) {
        if let Some(p) = layout.slices().iter().position(|c| c == s) {
            let v = m.get(Meas::PrbReqDl);
            d[p] = if v.is_finite() { v } else { 0.0 };
        }
    }
    d
}

/// Quotas of action `w` for `cell` after the windows `last` (one per cell slice).
pub fn action_quotas(
    layout: &PolicyLayout,
    cell: &TwinCell,
    w: &[f32; 3],
    last: &[MeasVec],
) -> Option<Vec<SliceQuota>> {
    let row = action_row(w, &last_demand(layout, cell, last));
    quotas_from_output(&row, &cell.slices, layout).ok()
}

/// How labels are made.
#[derive(Clone, Debug, serde::Serialize)]
pub struct OracleConfig {
    /// Windows between two labelled states of a run.
    pub stride: usize,
    /// Windows each action is played for on the copy.
    pub horizon: usize,
    pub scheduler: Scheduler,
    #[serde(skip)]
    pub weights: UtilityWeights,
    /// Behaviour policy's action index while rolling the run forward (0 = proportional).
    pub behaviour: usize,
}

/// One labelled state.
#[derive(Clone, Debug)]
pub struct Sample {
    /// Twin cell (run) index.
    pub cell: usize,
    /// Window of the run.
    pub k: usize,
    /// Input row (`layout.row_len()` floats).
    pub x: Vec<f32>,
    /// Mean utility of each action over the horizon.
    pub values: Vec<f32>,
}

fn push_history(hist: &mut [VecDeque<MeasVec>], kpm: &[(Snssai, MeasVec)], window: usize) {
    for (h, (_, m)) in hist.iter_mut().zip(kpm) {
        h.push_back(*m);
        while h.len() > window {
            h.pop_front();
        }
    }
}

/// Plays `w` for `horizon` windows from `st` (a copy) and returns the mean utility over
/// the windows that had one (`None` when the cell was idle throughout).
#[allow(clippy::too_many_arguments)]
fn rollout(
    layout: &PolicyLayout,
    cell: &TwinCell,
    link: &LinkTable,
    cfg: &OracleConfig,
    st: &TwinState,
    last: &[MeasVec],
    w: &[f32; 3],
) -> Option<f64> {
    let mut st = st.clone();
    let mut last = last.to_vec();
    let (mut sum, mut n) = (0.0, 0u32);
    for _ in 0..cfg.horizon {
        if st.k >= cell.len {
            break;
        }
        let q = action_quotas(layout, cell, w, &last)?;
        let kpis = twin::step(cell, &mut st, &q, link, cfg.scheduler);
        if let Some(u) = twin::window_utility(cell, &kpis, &cfg.weights) {
            sum += u;
            n += 1;
        }
        last = twin::kpm_window(cell, &kpis)
            .into_iter()
            .map(|(_, m)| m)
            .collect();
    }
    (n > 0).then(|| sum / f64::from(n))
}

/// Labelled states of one twin cell (run index `ci`) under `actions`.
pub fn label_cell(
    layout: &PolicyLayout,
    actions: &ActionSet,
    cells: &[TwinCell],
    ci: usize,
    link: &LinkTable,
    cfg: &OracleConfig,
) -> Vec<Sample> {
    let cell = &cells[ci];
    let window = layout.window();
    let mut st = TwinState::new(cell);
    let mut hist: Vec<VecDeque<MeasVec>> = vec![VecDeque::new(); cell.slices.len()];
    let mut last: Vec<MeasVec> = vec![MeasVec::default(); cell.slices.len()];
    let mut out = Vec::new();
    let open: Vec<SliceQuota> = cell
        .slices
        .iter()
        .map(|s| SliceQuota {
            snssai: *s,
            min_ratio: 0,
            max_ratio: 100,
            dedicated_ratio: 0,
        })
        .collect();
    while st.k + cfg.horizon < cell.len {
        let full = hist.iter().all(|h| h.len() >= window);
        if full && st.k.is_multiple_of(cfg.stride) {
            let values: Vec<Option<f64>> = actions
                .weights
                .iter()
                .map(|w| rollout(layout, cell, link, cfg, &st, &last, w))
                .collect();
            if values.iter().all(Option::is_some) {
                let mut x = vec![0.0; layout.row_len()];
                let rows: Vec<(Snssai, &VecDeque<MeasVec>)> =
                    cell.slices.iter().copied().zip(hist.iter()).collect();
                if layout.write_row(&rows, &mut x).is_ok() {
                    out.push(Sample {
                        cell: ci,
                        k: st.k,
                        x,
                        values: values.iter().map(|v| v.unwrap_or(0.0) as f32).collect(),
                    });
                }
            }
        }
        let q = if full {
            action_quotas(layout, cell, &actions.weights[cfg.behaviour], &last)
                .unwrap_or_else(|| open.clone())
        } else {
            open.clone()
        };
        let kpis = twin::step(cell, &mut st, &q, link, cfg.scheduler);
        let kpm = twin::kpm_window(cell, &kpis);
        last = kpm.iter().map(|(_, m)| *m).collect();
        push_history(&mut hist, &kpm, window);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_all_ones_action_is_proportional_and_weights_shift_minimums() {
        let a = ActionSet::grid(&[1.0, 2.0, 4.0]);
        assert_eq!(a.weights[0], [1.0, 1.0, 1.0]);
        // 27 vectors; the 8 with every entry in {2, 4} are twice one with entries in {1, 2}.
        assert_eq!(a.len(), 19);
        let row = action_row(&[1.0, 1.0, 1.0], &[30.0, 10.0, 0.0]);
        assert_eq!(row, [5.0 + 63.75, 100.0, 5.0 + 21.25, 100.0, 5.0, 100.0]);
        let row = action_row(&[1.0, 4.0, 1.0], &[30.0, 10.0, 0.0]);
        assert!(row[2] > 5.0 + 21.25 && row[0] < 5.0 + 63.75, "{row:?}");
        let idle = action_row(&[4.0, 1.0, 1.0], &[0.0; 3]);
        assert!(
            idle.iter()
                .step_by(2)
                .all(|m| (m - (5.0 + 85.0 / 3.0)).abs() < 1e-4)
        );
        assert!(idle.iter().step_by(2).sum::<f32>() <= 100.0 + 1e-3);
    }
}

/// What the training script needs to read a dataset back.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DatasetMeta {
    pub samples: usize,
    /// `[slices, window, features]` of one input row.
    pub row_shape: [usize; 3],
    pub slices: Vec<String>,
    pub features: Vec<String>,
    pub actions: ActionSet,
    pub oracle: OracleConfig,
    /// Per sample: (run name, window) — the unit of the blocked validation split.
    pub index: Vec<(String, usize)>,
    /// Trace folders the runs came from.
    pub traces: Vec<String>,
    /// Carrier size and load the traffic was played on.
    pub scenario: String,
    /// Carrier size [PRB] (the contract's `cell_prbs`).
    pub cell_prbs: f64,
}

/// Writes `x.f32` (samples × row), `values.f32` (samples × actions), little-endian, and
/// `meta.json` into `dir`.
pub fn write_dataset(
    dir: &std::path::Path,
    samples: &[Sample],
    cells: &[TwinCell],
    mut meta: DatasetMeta,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut x = Vec::new();
    let mut y = Vec::new();
    for s in samples {
        x.extend(s.x.iter().flat_map(|v| v.to_le_bytes()));
        y.extend(s.values.iter().flat_map(|v| v.to_le_bytes()));
    }
    std::fs::write(dir.join("x.f32"), x)?;
    std::fs::write(dir.join("values.f32"), y)?;
    meta.samples = samples.len();
    meta.index = samples
        .iter()
        .map(|s| (cells[s.cell].name.clone(), s.k))
        .collect();
    let json = serde_json::to_vec_pretty(&meta).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("meta.json"), json)
}

/// Mean slice utility of one twin cell played from window `from` for `windows` windows,
/// with `decide` choosing the quotas each window from the slices' KPM history (oldest
/// first, at most `history` windows; `None` keeps the quotas in force). Returns the mean
/// over windows that had a utility and their count.
pub fn play(
    cell: &TwinCell,
    link: &LinkTable,
    sched: Scheduler,
    weights: &UtilityWeights,
    (from, windows, history): (usize, usize, usize),
    mut decide: impl FnMut(&[VecDeque<MeasVec>]) -> Option<Vec<SliceQuota>>,
) -> (f64, u32) {
    let mut st = TwinState::new(cell);
    st.k = from;
    let mut hist: Vec<VecDeque<MeasVec>> = vec![VecDeque::new(); cell.slices.len()];
    let mut q: Vec<SliceQuota> = cell
        .slices
        .iter()
        .map(|s| SliceQuota {
            snssai: *s,
            min_ratio: 0,
            max_ratio: 100,
            dedicated_ratio: 0,
        })
        .collect();
    let (mut sum, mut n) = (0.0, 0u32);
    for _ in 0..windows {
        if st.k >= cell.len {
            break;
        }
        if let Some(next) = decide(&hist) {
            q = next;
        }
        let kpis = twin::step(cell, &mut st, &q, link, sched);
        if let Some(u) = twin::window_utility(cell, &kpis, weights) {
            sum += u;
            n += 1;
        }
        push_history(&mut hist, &twin::kpm_window(cell, &kpis), history);
    }
    (if n > 0 { sum / f64::from(n) } else { 0.0 }, n)
}

/// The training trial's class model applied to a held-out trial without class files:
/// the trial's twin cells with each UE in the slice its traffic says, under `scenario`.
pub fn heldout_cells(
    traces: &std::path::Path,
    heldout: &str,
    training: &str,
    scenario: &crate::twin::trials::Scenario,
    min_windows: usize,
) -> Result<Vec<TwinCell>, crate::twin::trials::TwinError> {
    use crate::twin::trials::{self, ClassSource, Classifier, TwinTrial};
    let train = TwinTrial::named(training, traces)?;
    let labelled: Vec<_> = trials::labelled_ues(&train)?
        .into_iter()
        .map(|u| (u.class, u.features))
        .collect();
    let classes = ClassSource::Inferred(Classifier::fit(&labelled));
    let mut cells = trials::load_trial(&TwinTrial::named(heldout, traces)?, min_windows, &classes)?;
    trials::apply(&mut cells, scenario);
    Ok(cells)
}

/// A work-conserving static split: minimum ratios per SST 1, 2, 3, maximum 100.
pub fn static_quotas(cell: &TwinCell, mins: [u8; 3]) -> Vec<SliceQuota> {
    cell.slices
        .iter()
        .map(|s| SliceQuota {
            snssai: *s,
            min_ratio: mins
                .get(usize::from(s.sst).wrapping_sub(1))
                .copied()
                .unwrap_or(0),
            max_ratio: 100,
            dedicated_ratio: 0,
        })
        .collect()
}

/// The static split (minimums in steps of `step` %, summing to at most 100) with the
/// highest mean utility over `units` (cell index, start window) of `cells`.
pub fn best_static(
    cells: &[TwinCell],
    link: &LinkTable,
    sched: Scheduler,
    weights: &UtilityWeights,
    units: &[(usize, usize)],
    windows: usize,
    step: u8,
) -> ([u8; 3], f64) {
    let mut best = ([0, 0, 0], f64::NEG_INFINITY);
    for a in (0..=100).step_by(usize::from(step)) {
        for b in (0..=100 - a).step_by(usize::from(step)) {
            for c in (0..=100 - a - b).step_by(usize::from(step)) {
                let mins = [a, b, c];
                let mean = units
                    .iter()
                    .map(|(ci, from)| {
                        let cell = &cells[*ci];
                        let q = static_quotas(cell, mins);
                        play(cell, link, sched, weights, (*from, windows, 1), |_| {
                            Some(q.clone())
                        })
                        .0
                    })
                    .sum::<f64>()
                    / units.len().max(1) as f64;
                if mean > best.1 {
                    best = (mins, mean);
                }
            }
        }
    }
    best
}

/// Quotas of a slice-policy model for one cell from its slices' history; `None` while the
/// window fills or when the row or the output is refused.
pub fn policy_quotas(
    model: &mut nf_infer::runtime::LoadedModel,
    layout: &PolicyLayout,
    cell: &TwinCell,
    hist: &[VecDeque<MeasVec>],
) -> Option<Vec<SliceQuota>> {
    let rows: Vec<(Snssai, &VecDeque<MeasVec>)> =
        cell.slices.iter().copied().zip(hist.iter()).collect();
    let mut x = vec![0.0; layout.row_len()];
    layout.write_row(&rows, &mut x).ok()?;
    let name = model.contract.input.name.clone();
    let shape = [
        1,
        layout.slices().len(),
        layout.window(),
        layout.features().features().len(),
    ];
    let out = nf_infer::worker::infer_shaped(model, &name, &x, &shape, layout.output_len()).ok()?;
    quotas_from_output(&out, &cell.slices, layout).ok()
}

/// Evaluation units of `seed`: every run longer than `windows`, from a start window drawn
/// from the seed.
pub fn eval_units(cells: &[TwinCell], windows: usize, seed: u64) -> Vec<(usize, usize)> {
    cells
        .iter()
        .enumerate()
        .filter(|(_, c)| c.len > windows)
        .map(|(i, c)| {
            let span = (c.len - windows) as u64;
            let r = nf_core::trial::mix(seed ^ nf_core::trial::mix(i as u64 + 1));
            (i, (r % span) as usize)
        })
        .collect()
}
