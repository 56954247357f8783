//! Offline A/B trials on the closed-loop twin.
//!
//! A trial runs `cells` virtual cells (twin cells started at seed-dependent offsets of the
//! recorded runs) for `windows` report periods. Each cell's arm comes from the design:
//! cell-randomised (pairs of cells matched on recorded load, one of each pair treated),
//! switchback (each cell alternates every `block_windows`), or shadow (the control acts,
//! the treatment only decides). An arm is a baseline policy or an ONNX model turned into
//! quotas, and every arm's quotas go through the same guard rails (invariants, hysteresis)
//! as in the xApp. The sequential guard rail looks every `look_every` windows and, once it
//! trips, every cell acts with the control arm.
//!
//! KPIs per cell and window are the trial vocabulary [`Kpi`] (summed over slices, the
//! delay proxy averaged), also kept per slice for the per-slice breakdown. Effects compare
//! the units of the design ([`analysis`]). A set-up that cannot give an answer (too few
//! cells for the design, more windows than the recorded runs hold) is refused with
//! [`TrialError`] before anything runs.
//!
//! # Layout
//! - this file: set-up, the trial loop, per-cell units and the report's data.
//! - [`analysis`]: the analysis that fits the design, and the verdict.
//! - `arms`: what decides for an arm (baseline, static split or model).
//! - [`sweep`]: many-seed trials (A/A false-positive rate) and the static-split search.

pub mod analysis;
mod arms;
pub mod sweep;

use std::collections::VecDeque;

use nf_core::a1::{EffectivePolicy, SliceLoad};
use nf_core::guard::{GuardConfig, GuardRails, enforce};
use nf_core::policy::SliceQuota;
use nf_core::trial::kpi::Kpi;
use nf_core::trial::sequential::{Look, Rail, RailConfig};
use nf_core::trial::utility::UtilityWeights;
use nf_core::trial::{Assignment, CONTROL, Design, TREATMENT, mix, stratified};
use nf_core::{CellId, Meas, MeasVec};

use crate::twin::{self, LinkTable, Scheduler, SliceKpi, TwinCell, TwinState};

use analysis::{CellMeans, KpiEffect, analyse};
pub use arms::{Arm, ArmInfo, ArmPolicy};
use arms::{decide, open_quotas};

/// The KPIs of a trial, in index order ([`Kpi::index`]).
pub const KPIS: [Kpi; NK] = Kpi::ALL;
/// Number of KPIs.
pub const NK: usize = Kpi::ALL.len();
/// Report period [ms].
pub const PERIOD_MS: u64 = 250;

/// A trial set-up that cannot give an answer.
#[derive(Debug, thiserror::Error)]
pub enum TrialError {
    /// No recorded run to drive the twin.
    #[error("no recorded run to drive the twin")]
    NoRuns,
    /// Too few virtual cells for the design's analysis.
    #[error("{design} needs at least {min} cells ({why}); got {cells}")]
    TooFewCells {
        design: &'static str,
        min: usize,
        why: &'static str,
        cells: usize,
    },
    /// More windows than a recorded run holds: the twin would repeat its last window.
    #[error(
        "{windows} windows ({} s) is longer than recorded run `{run}` ({len} windows, {} s); use at most {len} windows or drop that run",
        windows / 4, len / 4
    )]
    WindowsBeyondRun {
        windows: usize,
        run: String,
        len: usize,
    },
    /// A trial of no window.
    #[error("a trial needs at least one window")]
    NoWindows,
}

/// A static, work-conserving split: a minimum ratio per slice (by SST), maximum 100 %.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StaticSplit {
    /// (SST, minimum ratio [%]); Σ ≤ 100.
    pub min_pct: Vec<(u8, u8)>,
}

impl StaticSplit {
    /// Quotas for a cell's slices.
    pub fn quotas(&self, slices: &[nf_core::Snssai]) -> Vec<SliceQuota> {
        slices
            .iter()
            .map(|s| SliceQuota {
                snssai: *s,
                min_ratio: self
                    .min_pct
                    .iter()
                    .find(|(sst, _)| *sst == s.sst)
                    .map_or(0, |x| x.1),
                max_ratio: 100,
                dedicated_ratio: 0,
            })
            .collect()
    }
}

impl std::fmt::Display for StaticSplit {
    /// `1=40,2=30,3=20` (SST=min %).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let terms: Vec<String> = self
            .min_pct
            .iter()
            .map(|(s, p)| format!("{s}={p}"))
            .collect();
        f.write_str(&terms.join(","))
    }
}

impl std::str::FromStr for StaticSplit {
    type Err = ArmSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ArmSpecError::Split(s.to_owned());
        let mut min_pct = Vec::new();
        for t in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (k, v) = t.split_once('=').ok_or_else(bad)?;
            min_pct.push((
                k.trim().parse().map_err(|_| bad())?,
                v.trim().parse().map_err(|_| bad())?,
            ));
        }
        if min_pct.is_empty() || min_pct.iter().map(|x| u32::from(x.1)).sum::<u32>() > 100 {
            return Err(bad());
        }
        Ok(Self { min_pct })
    }
}

/// An arm specification that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ArmSpecError {
    #[error(
        "arm `{0}`: expected equal, proportional, fixed:a,b,c, static:SST=MIN,… (or static:FILE), model:CONTRACT, policy:CONTRACT"
    )]
    Unknown(String),
    #[error("static split `{0}`: expected SST=MIN_PERCENT,… with the minimums summing to ≤ 100")]
    Split(String),
    #[error("fixed split `{0}`: expected percent per slice summing to ≤ 100")]
    Fixed(String),
    #[error("{path}: {why}")]
    File { path: String, why: String },
    #[error("model arm `{path}`: {why}")]
    Model { path: String, why: String },
}

/// Parses an arm: `equal`, `proportional`, `fixed:70,10,20` (capped, percent per slice
/// position), `static:1=40,2=30,3=20` (work-conserving minimums by SST) or
/// `static:FILE.json` (what `abtrial search-static` writes), `model:CONTRACT` (forecaster
/// through the forecast-to-quota policy, or a slice policy when its contract's kind says
/// so) or `policy:CONTRACT` (the same). New arm kinds add a branch here.
pub fn parse_arm(spec: &str) -> Result<Arm, ArmSpecError> {
    use nf_core::baseline::Baseline;
    Ok(match spec.split_once(':') {
        None if spec == "equal" => Arm::baseline(spec, Baseline::Equal),
        None if spec == "proportional" => Arm::baseline(spec, Baseline::Proportional),
        Some(("fixed", split)) => {
            let v: Vec<u8> = split
                .split(',')
                .map(|x| x.trim().parse())
                .collect::<Result<_, _>>()
                .map_err(|_| ArmSpecError::Fixed(split.into()))?;
            if v.iter().map(|x| u32::from(*x)).sum::<u32>() > 100 {
                return Err(ArmSpecError::Fixed(split.into()));
            }
            Arm::baseline(spec, Baseline::Fixed(v))
        }
        Some(("static", arg)) => {
            let split = if arg.ends_with(".json") {
                read_static(arg)?
            } else {
                arg.parse()?
            };
            Arm {
                name: format!("static:{split}"),
                policy: ArmPolicy::Static(split),
            }
        }
        Some(("model" | "policy", path)) => {
            let model = nf_infer::runtime::load_model(&nf_infer::ModelConfig {
                contract: path.into(),
                onnxruntime_lib: None,
                providers: vec![nf_infer::Provider::Cpu],
            })
            .map_err(|e| ArmSpecError::Model {
                path: path.into(),
                why: e.to_string(),
            })?;
            let name = model.contract.name.clone();
            Arm::model(&name, model, nf_core::policy::PolicyConfig::default()).map_err(|why| {
                ArmSpecError::Model {
                    path: path.into(),
                    why,
                }
            })?
        }
        _ => return Err(ArmSpecError::Unknown(spec.into())),
    })
}

/// The split of a `search-static` result file (`{"split": {"min_pct": [[1, 40], …]}, …}`).
fn read_static(path: &str) -> Result<StaticSplit, ArmSpecError> {
    let err = |why: String| ArmSpecError::File {
        path: path.into(),
        why,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
    serde_json::from_value(v["split"].clone()).map_err(|e| err(format!("no `split`: {e}")))
}

/// A trial's set-up.
#[derive(Clone, Debug)]
pub struct TrialConfig {
    pub design: Design,
    pub seed: u64,
    pub cells: usize,
    pub windows: usize,
    pub scheduler: Scheduler,
    pub guard: GuardConfig,
    /// Guard rail on KPI `rail_kpi`.
    pub rail: Option<RailConfig>,
    pub rail_kpi: Kpi,
    pub look_every: usize,
    /// Switchback: windows after each switch left out of the analysis (carry-over).
    pub washout: usize,
    pub bootstrap_iterations: usize,
    /// Weights of the slice utility (KPI `slice_utility`).
    pub weights: UtilityWeights,
    /// The KPI the verdict is about.
    pub primary_kpi: Kpi,
    /// Windows the treatment arm's decisions take to reach the cell (0: the window they are
    /// made for, as the control's): a remote model's answer arriving late, at its worst.
    pub treatment_lag_windows: usize,
    /// An A1 policy in force on every cell (`abtrial --a1-policy`): each arm's quotas are
    /// bounded by it before the quota invariants and the guard rails, as the xApp bounds
    /// them (`EffectivePolicy::bound`, with the cell's last KPM window as its loads); the
    /// caller takes `weights` from it (`EffectivePolicy::utility_weights`).
    pub a1: Option<EffectivePolicy>,
}

impl Default for TrialConfig {
    fn default() -> Self {
        Self {
            design: Design::CellRandomised {
                treatment_share: 0.5,
            },
            seed: 1,
            cells: 16,
            windows: 480,
            scheduler: Scheduler::RoundRobin,
            guard: GuardConfig {
                hysteresis_pct: 3,
                max_controls_per_cell_per_sec: 4,
            },
            rail: None,
            rail_kpi: Kpi::DelayDl,
            look_every: 40,
            washout: 4,
            bootstrap_iterations: 2_000,
            weights: UtilityWeights::default(),
            primary_kpi: Kpi::SliceUtility,
            treatment_lag_windows: 0,
            a1: None,
        }
    }
}

/// Where the virtual cells come from.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Provenance {
    /// Trace root the runs were read from (set by the caller).
    pub trace_root: Option<String>,
    /// The recorded runs (name, windows of 250 ms).
    pub runs: Vec<(String, usize)>,
    /// Per virtual cell: its run and its start offset in that run [windows].
    pub cells: Vec<(String, usize)>,
}

/// The guard rail as configured, and what it did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RailReport {
    pub kpi: Kpi,
    pub unit: &'static str,
    pub config: RailConfig,
    pub look_every_windows: usize,
    pub looks: usize,
    /// `tripped at window N (treatment rolled back)` or `not tripped after N looks`.
    pub status: String,
}

/// Per-slice breakdown: the effects of one slice's KPIs over the cells that carry it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SliceEffects {
    pub snssai: String,
    pub effects: Vec<KpiEffect>,
}

/// The result of a trial.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TrialReport {
    pub design: String,
    /// The KPI the trial is judged on (the others are secondary).
    pub primary_kpi: Kpi,
    /// The scenario the recorded traffic was played on (set by the caller).
    pub scenario: String,
    /// The primary analysis of every effect (fits the design).
    pub method: &'static str,
    pub seed: u64,
    pub cells: usize,
    pub windows: usize,
    pub period_ms: u64,
    pub arms: [String; 2],
    pub arm_info: [ArmInfo; 2],
    pub provenance: Provenance,
    /// Cells per arm at the start.
    pub cells_per_arm: [usize; 2],
    /// Per KPI of [`KPIS`], in that order.
    pub effects: Vec<KpiEffect>,
    pub slices: Vec<SliceEffects>,
    /// Per window, per arm: the mean of each KPI over the cells acting with the arm
    /// (0 when none did: see `series_cells`).
    pub series: Vec<[[f64; NK]; 2]>,
    /// Per window, per arm: cells acting with the arm.
    pub series_cells: Vec<[u32; 2]>,
    pub rail: Option<RailReport>,
    pub looks: Vec<Look>,
    /// Window at which the rail rolled the treatment back.
    pub rolled_back_at: Option<usize>,
    /// Shadow: share of decisions where the shadow arm's quotas differ from the acting arm's.
    pub shadow_disagreement: Option<f64>,
    pub controls: [u64; 2],
    /// The A1 policy the trial ran under, and how many decisions of each arm it changed.
    pub a1: Option<A1Report>,
}

/// What an A1 policy did in a trial.
#[derive(Clone, Debug, serde::Serialize)]
pub struct A1Report {
    /// The policy's instances.
    pub instances: Vec<String>,
    /// Per arm: decisions (acting or shadow) whose quotas the policy changed.
    pub bounded: [u64; 2],
    /// The slice utility's weights under the policy.
    pub weights: UtilityWeights,
}

struct VCell {
    id: CellId,
    twin: usize,
    offset: usize,
    state: TwinState,
    history: Vec<VecDeque<MeasVec>>,
    last_kpm: Vec<(nf_core::Snssai, MeasVec)>,
    /// Treatment decisions on their way to the cell (`treatment_lag_windows`), oldest first.
    lagged: VecDeque<Option<Vec<SliceQuota>>>,
    /// KPI sums per arm.
    sums: [[f64; NK]; 2],
    /// Windows per arm and KPI that had a value (utility: non-idle windows).
    counts: [[u64; NK]; 2],
    /// The same per slice of the twin cell (controls left at 0).
    slice_sums: Vec<[[f64; NK]; 2]>,
    slice_counts: Vec<[[u64; NK]; 2]>,
}

/// Smallest number of cells the analysis of `design` needs.
fn min_cells(design: &Design) -> (usize, &'static str, &'static str) {
    match design {
        Design::CellRandomised { .. } => (
            4,
            "cell-randomised",
            "two load-matched pairs for a paired interval",
        ),
        Design::Switchback { .. } => (2, "switchback", "two cells for a paired interval"),
        Design::Shadow => (1, "shadow", "one cell"),
    }
}

impl TrialConfig {
    /// Refuses a set-up that cannot give an answer on `cells`.
    pub fn check(&self, cells: &[TwinCell]) -> Result<(), TrialError> {
        if cells.is_empty() {
            return Err(TrialError::NoRuns);
        }
        if self.windows == 0 {
            return Err(TrialError::NoWindows);
        }
        let (min, design, why) = min_cells(&self.design);
        if self.cells < min {
            return Err(TrialError::TooFewCells {
                design,
                min,
                why,
                cells: self.cells,
            });
        }
        match cells.iter().find(|c| c.len < self.windows) {
            Some(c) => Err(TrialError::WindowsBeyondRun {
                windows: self.windows,
                run: c.name.clone(),
                len: c.len,
            }),
            None => Ok(()),
        }
    }
}

/// Runs one trial.
pub fn run(
    cfg: &TrialConfig,
    cells: &[TwinCell],
    link: &LinkTable,
    arms: &mut [Arm; 2],
) -> Result<TrialReport, TrialError> {
    cfg.check(cells)?;
    let mut v: Vec<VCell> = (0..cfg.cells)
        .map(|i| {
            let twin = i % cells.len();
            let span = cells[twin].len.saturating_sub(cfg.windows).max(1);
            let offset = (mix(cfg.seed ^ mix(i as u64 + 1)) % span as u64) as usize;
            let mut state = TwinState::new(&cells[twin]);
            state.k = offset;
            let id = CellId::new([0x00, 0xf1, 0x10], 0x1000 + i as u64);
            VCell {
                id,
                twin,
                offset,
                state,
                history: vec![VecDeque::new(); cells[twin].slices.len()],
                last_kpm: Vec::new(),
                lagged: VecDeque::new(),
                sums: [[0.0; NK]; 2],
                counts: [[0; NK]; 2],
                slice_sums: vec![[[0.0; NK]; 2]; cells[twin].slices.len()],
                slice_counts: vec![[[0; NK]; 2]; cells[twin].slices.len()],
            }
        })
        .collect();
    let assignment = Assignment {
        design: cfg.design,
        seed: cfg.seed,
    };
    let mut load: Vec<(CellId, f64)> = Vec::new();
    let strata: Vec<(CellId, usize)> = match cfg.design {
        Design::CellRandomised { .. } => {
            load = v
                .iter()
                .map(|c| {
                    let t = &cells[c.twin];
                    let l: f64 = t
                        .ues
                        .iter()
                        .flat_map(|u| {
                            u.windows[c.offset..(c.offset + cfg.windows).min(t.len)].iter()
                        })
                        .map(|w| w.rec_granted_prb)
                        .sum();
                    (c.id, l)
                })
                .collect();
            stratified(&load, cfg.seed)
        }
        _ => Vec::new(),
    };
    // Cell-randomised arms, resolved once per cell (index into `v`).
    let fixed_arm: Vec<usize> = v
        .iter()
        .map(|c| {
            strata
                .iter()
                .find(|(id, _)| *id == c.id)
                .map_or(CONTROL, |s| s.1)
        })
        .collect();
    let mut guard = GuardRails::new(cfg.guard);
    let mut rail = cfg.rail.map(Rail::new);
    let mut report = TrialReport {
        design: format!("{:?}", cfg.design),
        primary_kpi: cfg.primary_kpi,
        scenario: String::new(),
        method: analysis::method(&cfg.design),
        seed: cfg.seed,
        cells: cfg.cells,
        windows: cfg.windows,
        period_ms: PERIOD_MS,
        arms: [arms[0].name.clone(), arms[1].name.clone()],
        arm_info: [arms[0].info(), arms[1].info()],
        provenance: Provenance {
            trace_root: None,
            runs: cells.iter().map(|c| (c.name.clone(), c.len)).collect(),
            cells: v
                .iter()
                .map(|c| (cells[c.twin].name.clone(), c.offset))
                .collect(),
        },
        cells_per_arm: [0, 0],
        effects: Vec::new(),
        slices: Vec::new(),
        series: Vec::with_capacity(cfg.windows),
        series_cells: Vec::with_capacity(cfg.windows),
        rail: None,
        looks: Vec::new(),
        rolled_back_at: None,
        shadow_disagreement: None,
        controls: [0, 0],
        a1: cfg.a1.as_ref().map(|p| A1Report {
            instances: p.instances().to_vec(),
            bounded: [0, 0],
            weights: cfg.weights,
        }),
    };
    let (mut shadow_total, mut shadow_diff) = (0u64, 0u64);
    for k in 0..cfg.windows {
        let now_ms = k as u64 * PERIOD_MS;
        let roles: Vec<(usize, Option<usize>)> = v
            .iter()
            .zip(&fixed_arm)
            .map(|(c, fixed)| {
                if report.rolled_back_at.is_some() {
                    return (CONTROL, None);
                }
                match cfg.design {
                    Design::CellRandomised { .. } => (*fixed, None),
                    _ => {
                        let r = assignment.roles(&c.id, now_ms);
                        (r.acting, r.shadow)
                    }
                }
            })
            .collect();
        if k == 0 {
            for (a, _) in &roles {
                report.cells_per_arm[*a] += 1;
            }
        }
        let mut decided: Vec<[Option<Vec<SliceQuota>>; 2]> = vec![[None, None]; cfg.cells];
        for arm in [CONTROL, TREATMENT] {
            let who: Vec<usize> = (0..cfg.cells)
                .filter(|i| roles[*i].0 == arm || roles[*i].1 == Some(arm))
                .collect();
            let qs = decide(&mut arms[arm], &v, &who, cells);
            for (i, q) in who.into_iter().zip(qs) {
                decided[i][arm] = q;
            }
        }
        let mut window_kpis = [[0.0; NK]; 2];
        let mut window_kn = [[0u64; NK]; 2];
        let mut window_n = [0u32; 2];
        for (i, c) in v.iter_mut().enumerate() {
            let (acting, shadow) = roles[i];
            let t = &cells[c.twin];
            let mut sent = 0.0;
            let mut now = decided[i][acting].take();
            if acting == TREATMENT && cfg.treatment_lag_windows > 0 {
                // Made now, in effect `lag` windows later; what was made `lag` ago lands.
                c.lagged.push_back(now);
                now = if c.lagged.len() > cfg.treatment_lag_windows {
                    c.lagged.pop_front().flatten()
                } else {
                    None
                };
            } else {
                // Switched to control: what the treatment still had on its way is lost.
                c.lagged.clear();
            }
            // The policy bounds what reaches the cell, with the loads of the last report.
            let mut bound = |q: &mut Vec<SliceQuota>, arm: usize| {
                if let (Some(p), Some(r)) = (&cfg.a1, report.a1.as_mut()) {
                    let before = q.clone();
                    p.bound(q, &slice_loads(&c.last_kpm), Some(t.prbs as f32));
                    r.bounded[arm] += u64::from(*q != before);
                }
                enforce(q);
            };
            if let Some(mut q) = now {
                bound(&mut q, acting);
                if let Some(s) = shadow
                    && let Some(mut sq) = decided[i][s].take()
                {
                    bound(&mut sq, s);
                    shadow_total += 1;
                    shadow_diff += u64::from(sq != q);
                }
                if guard.admit(c.id, &q, now_ms).is_ok() {
                    guard.commit(c.id, &q, now_ms);
                    sent = 1.0;
                    report.controls[acting] += 1;
                }
            }
            let quotas = guard
                .last(&c.id)
                .map(<[SliceQuota]>::to_vec)
                .unwrap_or_else(|| open_quotas(t));
            let kpis = twin::step(t, &mut c.state, &quotas, link, cfg.scheduler);
            let vals = kpi_values(t, &kpis, sent, &cfg.weights);
            c.last_kpm = twin::kpm_window(t, &kpis);
            for (h, (_, m)) in c.history.iter_mut().zip(&c.last_kpm) {
                h.push_back(*m);
                if h.len() > 64 {
                    h.pop_front();
                }
            }
            let in_washout = matches!(cfg.design, Design::Switchback { block_ms } if (now_ms % block_ms.max(1)) / PERIOD_MS < cfg.washout as u64);
            if !in_washout {
                add(&mut c.sums[acting], &mut c.counts[acting], &vals);
                for (s, (sums, counts)) in t
                    .slices
                    .iter()
                    .zip(c.slice_sums.iter_mut().zip(c.slice_counts.iter_mut()))
                    .zip(&kpis)
                    .map(|((s, sc), k)| (slice_values(*s, k, &cfg.weights), sc))
                {
                    add(&mut sums[acting], &mut counts[acting], &s);
                }
            }
            add(&mut window_kpis[acting], &mut window_kn[acting], &vals);
            window_n[acting] += 1;
        }
        report.series.push(std::array::from_fn(|a| {
            std::array::from_fn(|j| window_kpis[a][j] / window_kn[a][j].max(1) as f64)
        }));
        report.series_cells.push(window_n);
        if let Some(r) = rail.as_mut()
            && report.rolled_back_at.is_none()
            && (k + 1) % cfg.look_every.max(1) == 0
        {
            let (c, t) = units(&v, cfg.rail_kpi.index());
            let look = r.look(&c, &t);
            report.looks.push(look);
            if look.tripped {
                report.rolled_back_at = Some(k + 1);
            }
        }
    }
    // The matched pairs of the stratified assignment (same order as `stratified`).
    load.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    let pos = |id: &CellId| v.iter().position(|c| c.id == *id);
    let pairs: Vec<(usize, usize)> = load
        .chunks(2)
        .filter(|p| p.len() == 2)
        .filter_map(|p| Some((pos(&p[0].0)?, pos(&p[1].0)?)))
        .collect();
    report.effects = KPIS
        .iter()
        .map(|k| effect(cfg, *k, &cell_means(&v, k.index(), None), &pairs))
        .collect();
    report.slices = slice_effects(cfg, &v, cells, &pairs);
    report.rail = cfg.rail.map(|r| rail_report(cfg, r, &report));
    if shadow_total > 0 {
        report.shadow_disagreement = Some(shadow_diff as f64 / shadow_total as f64);
    }
    Ok(report)
}

fn rail_report(cfg: &TrialConfig, r: RailConfig, report: &TrialReport) -> RailReport {
    RailReport {
        kpi: cfg.rail_kpi,
        unit: cfg.rail_kpi.unit(),
        config: r,
        look_every_windows: cfg.look_every.max(1),
        looks: report.looks.len(),
        status: match report.rolled_back_at {
            Some(at) => format!("tripped at window {at} (treatment rolled back)"),
            None => format!("not tripped after {} looks", report.looks.len()),
        },
    }
}

/// Per virtual cell, KPI `j`'s mean per arm (of slice `slice` of its twin cell, if given).
fn cell_means(v: &[VCell], j: usize, slice: Option<&[Option<usize>]>) -> Vec<CellMeans> {
    v.iter()
        .enumerate()
        .map(|(i, c)| {
            let sums = match slice {
                None => Some((&c.sums, &c.counts)),
                Some(idx) => idx[i].map(|s| (&c.slice_sums[s], &c.slice_counts[s])),
            };
            std::array::from_fn(|a| {
                let (s, n) = sums?;
                (n[a][j] > 0).then(|| s[a][j] / n[a][j] as f64)
            })
        })
        .collect()
}

fn effect(cfg: &TrialConfig, kpi: Kpi, means: &[CellMeans], pairs: &[(usize, usize)]) -> KpiEffect {
    analyse(
        &cfg.design,
        kpi,
        means,
        pairs,
        cfg.bootstrap_iterations,
        cfg.seed ^ kpi.index() as u64,
    )
}

/// KPIs measured per slice (controls are per cell).
const SLICE_KPIS: [Kpi; 6] = [
    Kpi::SliceUtility,
    Kpi::ThroughputDl,
    Kpi::PrbUsedDl,
    Kpi::DelayDl,
    Kpi::SlaViolationShare,
    Kpi::BufferDl,
];

fn slice_effects(
    cfg: &TrialConfig,
    v: &[VCell],
    cells: &[TwinCell],
    pairs: &[(usize, usize)],
) -> Vec<SliceEffects> {
    let mut all: Vec<nf_core::Snssai> = cells.iter().flat_map(|c| c.slices.clone()).collect();
    all.sort();
    all.dedup();
    all.into_iter()
        .map(|s| {
            let idx: Vec<Option<usize>> = v
                .iter()
                .map(|c| cells[c.twin].slices.iter().position(|x| *x == s))
                .collect();
            SliceEffects {
                snssai: s.to_string(),
                effects: SLICE_KPIS
                    .iter()
                    .map(|k| effect(cfg, *k, &cell_means(v, k.index(), Some(&idx)), pairs))
                    .collect(),
            }
        })
        .collect()
}

/// Per-cell mean of KPI `j` for each arm (cells that acted with it).
fn units(v: &[VCell], j: usize) -> (Vec<f64>, Vec<f64>) {
    let per = |a: usize| -> Vec<f64> {
        v.iter()
            .filter(|c| c.counts[a][j] > 0)
            .map(|c| c.sums[a][j] / c.counts[a][j] as f64)
            .collect()
    };
    (per(CONTROL), per(TREATMENT))
}

/// Adds a window's values to sums and counts (a `None` value is not counted).
fn add(sums: &mut [f64; NK], counts: &mut [u64; NK], vals: &[Option<f64>; NK]) {
    for ((s, n), x) in sums.iter_mut().zip(counts.iter_mut()).zip(vals) {
        if let Some(x) = x {
            *s += x;
            *n += 1;
        }
    }
}

/// The cell's KPIs of one window, in [`KPIS`] order (utility `None` when idle).
fn kpi_values(t: &TwinCell, kpis: &[SliceKpi], sent: f64, w: &UtilityWeights) -> [Option<f64>; NK] {
    let n = kpis.len().max(1) as f64;
    [
        Some(kpis.iter().map(|k| k.thp_kbps).sum()),
        Some(kpis.iter().map(|k| k.prb).sum()),
        Some(kpis.iter().map(|k| k.delay_ms).sum::<f64>() / n),
        Some(kpis.iter().filter(|k| k.sla_violation).count() as f64 / n),
        Some(sent),
        Some(kpis.iter().map(|k| k.buffer_bytes).sum()),
        twin::window_utility(t, kpis, w),
    ]
}

/// The loads an A1 policy reads (`SliceLoad`) from a cell's last KPM window.
fn slice_loads(kpm: &[(nf_core::Snssai, MeasVec)]) -> Vec<(nf_core::Snssai, SliceLoad)> {
    kpm.iter()
        .map(|(s, m)| {
            let load = SliceLoad {
                thp_kbps: m.get(Meas::UeThpDl),
                prb_used: m.get(Meas::PrbUsedDl),
                buffer_bytes: m.get(Meas::DlBufferBytes),
            };
            (*s, load)
        })
        .collect()
}

/// One slice's KPIs of one window, in [`KPIS`] order (controls: 0).
fn slice_values(s: nf_core::Snssai, k: &SliceKpi, w: &UtilityWeights) -> [Option<f64>; NK] {
    [
        Some(k.thp_kbps),
        Some(k.prb),
        Some(k.delay_ms),
        Some(f64::from(u8::from(k.sla_violation))),
        Some(0.0),
        Some(k.buffer_bytes),
        nf_core::trial::utility::slice_utility(&k.outcome(s), w),
    ]
}
