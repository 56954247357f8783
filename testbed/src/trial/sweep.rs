//! Many-seed trials and the static-split search.
//!
//! - [`search_static`]: the best static, work-conserving split (minimum ratio per slice in
//!   `step` % steps, maximum 100 %) by mean slice utility on the twin, each candidate
//!   played over every window of every given cell (the TRAINING trials' cells only).
//! - [`sweep`]: the same trial repeated over seeds (each seed draws other cell offsets and
//!   another assignment), with per seed the primary KPI's effect and 95 % interval, and
//!   over seeds the mean relative effect, its interval, and the share of seeds
//!   significant. Run with the same arm on both sides (A/A), that share is the false
//!   positive rate of the trial's analysis, to be compared with the nominal 5 %.

use nf_core::trial::kpi::Kpi;
use nf_core::trial::stats::{Effect, paired};
use nf_core::trial::utility::UtilityWeights;

use super::{Arm, ArmSpecError, StaticSplit, TrialConfig, TrialError, run};
use crate::twin::{self, LinkTable, Scheduler, TwinCell, TwinState};

/// Mean slice utility over every non-idle window of `cells` under `split`, and the number
/// of windows counted.
pub fn static_utility(
    cells: &[TwinCell],
    link: &LinkTable,
    split: &StaticSplit,
    w: &UtilityWeights,
    sched: Scheduler,
) -> (f64, usize) {
    let (mut sum, mut n) = (0.0, 0usize);
    for c in cells {
        let q = split.quotas(&c.slices);
        let mut st = TwinState::new(c);
        for _ in 0..c.len {
            let k = twin::step(c, &mut st, &q, link, sched);
            if let Some(u) = twin::window_utility(c, &k, w) {
                sum += u;
                n += 1;
            }
        }
    }
    (sum / n.max(1) as f64, n)
}

/// Every split of 100 % into minimum ratios for `ssts` in `step` % steps (Σ ≤ 100).
pub fn grid(ssts: &[u8], step: u8) -> Vec<StaticSplit> {
    let step = step.clamp(1, 100);
    let mut out = Vec::new();
    let mut cur = vec![0u8; ssts.len()];
    fn rec(
        i: usize,
        left: u8,
        step: u8,
        ssts: &[u8],
        cur: &mut Vec<u8>,
        out: &mut Vec<StaticSplit>,
    ) {
        if i == ssts.len() {
            out.push(StaticSplit {
                min_pct: ssts.iter().copied().zip(cur.iter().copied()).collect(),
            });
            return;
        }
        let mut p = 0u8;
        while p <= left {
            cur[i] = p;
            rec(i + 1, left - p, step, ssts, cur, out);
            p = match p.checked_add(step) {
                Some(x) => x,
                None => break,
            };
        }
    }
    rec(0, 100, step, ssts, &mut cur, &mut out);
    out
}

/// The result of the static-split search.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StaticSearch {
    pub split: StaticSplit,
    pub utility: f64,
    pub windows: usize,
    pub step_pct: u8,
    pub candidates: usize,
    /// The ten best candidates, best first.
    pub top: Vec<(String, f64)>,
    /// Utility of the split with no minimum (every slice 0 %, max 100 %): pure sharing.
    pub no_minimum_utility: f64,
}

/// Searches the grid for the split with the highest mean utility on `cells`.
pub fn search_static(
    cells: &[TwinCell],
    link: &LinkTable,
    w: &UtilityWeights,
    sched: Scheduler,
    step: u8,
) -> StaticSearch {
    let mut ssts: Vec<u8> = cells
        .iter()
        .flat_map(|c| c.slices.iter().map(|s| s.sst))
        .collect();
    ssts.sort_unstable();
    ssts.dedup();
    let cands = grid(&ssts, step);
    let mut scored: Vec<(StaticSplit, f64, usize)> = cands
        .iter()
        .map(|s| {
            let (u, n) = static_utility(cells, link, s, w, sched);
            (s.clone(), u, n)
        })
        .collect();
    let none = scored
        .iter()
        .find(|(s, ..)| s.min_pct.iter().all(|x| x.1 == 0))
        .map_or(f64::NAN, |x| x.1);
    // Best first; ties to the earlier (smaller minimums first) candidate.
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    let (split, utility, windows) = scored[0].clone();
    StaticSearch {
        split,
        utility,
        windows,
        step_pct: step,
        candidates: cands.len(),
        top: scored
            .iter()
            .take(10)
            .map(|(s, u, _)| (s.to_string(), *u))
            .collect(),
        no_minimum_utility: none,
    }
}

/// One seed of a sweep.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SeedResult {
    pub seed: u64,
    /// Primary KPI effect (treatment − control) and its 95 % interval.
    pub effect: Option<Effect>,
    /// The effect relative to the control mean.
    pub relative: Option<f64>,
    pub significant: bool,
    /// `better`, `worse`, `no_detectable_difference`, `not_estimable`.
    pub call: &'static str,
}

/// The result of a sweep.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SweepReport {
    pub design: String,
    pub method: &'static str,
    pub kpi: Kpi,
    pub control: String,
    pub treatment: String,
    pub cells: usize,
    pub windows: usize,
    pub scenario: String,
    pub seeds: Vec<SeedResult>,
    /// Mean over seeds of the relative effect, and its 95 % t interval over seeds.
    pub mean_relative: f64,
    pub relative_lo: f64,
    pub relative_hi: f64,
    /// Share of seeds whose interval excludes 0 (A/A: the false-positive rate).
    pub share_significant: f64,
    /// Share of seeds with a significant improvement.
    pub share_better: f64,
}

/// Why a sweep could not run.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Trial(#[from] TrialError),
    #[error(transparent)]
    Arm(#[from] ArmSpecError),
    #[error("a sweep needs at least one seed")]
    NoSeeds,
}

/// Runs `cfg` once per seed in `seeds` with fresh arms from `arms`.
pub fn sweep(
    cfg: &TrialConfig,
    cells: &[TwinCell],
    link: &LinkTable,
    seeds: &[u64],
    mut arms: impl FnMut() -> Result<[Arm; 2], ArmSpecError>,
) -> Result<SweepReport, SweepError> {
    if seeds.is_empty() {
        return Err(SweepError::NoSeeds);
    }
    let mut out = Vec::with_capacity(seeds.len());
    let mut names = [String::new(), String::new()];
    for &seed in seeds {
        let mut a = arms()?;
        names = [a[0].name.clone(), a[1].name.clone()];
        let c = TrialConfig {
            seed,
            ..cfg.clone()
        };
        let r = run(&c, cells, link, &mut a)?;
        let e = &r.effects[cfg.primary_kpi.index()];
        out.push(SeedResult {
            seed,
            effect: e.primary,
            relative: e.primary.map(|p| p.relative()),
            significant: e.primary.is_some_and(|p| p.significant()),
            call: e.verdict.call.name(),
        });
    }
    let rel: Vec<(f64, f64)> = out
        .iter()
        .filter_map(|s| s.relative)
        .filter(|r| r.is_finite())
        .map(|r| (0.0, r))
        .collect();
    let across = paired(&rel);
    let n = out.len() as f64;
    Ok(SweepReport {
        design: format!("{:?}", cfg.design),
        method: super::analysis::method(&cfg.design),
        kpi: cfg.primary_kpi,
        control: names[0].clone(),
        treatment: names[1].clone(),
        cells: cfg.cells,
        windows: cfg.windows,
        scenario: String::new(),
        mean_relative: across.map_or(f64::NAN, |e| e.diff),
        relative_lo: across.map_or(f64::NAN, |e| e.lo),
        relative_hi: across.map_or(f64::NAN, |e| e.hi),
        share_significant: out.iter().filter(|s| s.significant).count() as f64 / n,
        share_better: out.iter().filter(|s| s.call == "better").count() as f64 / n,
        seeds: out,
    })
}
