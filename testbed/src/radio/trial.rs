//! Offline trial of the interference mitigation on the radio twin: arms `none` (UEs follow
//! only the recorded network's cell changes), `a3` (the A3-style rule alone through the
//! same [`MobilityGuard`]) and `model` (the interference model through onnxruntime →
//! [`Assessment`] → [`MobilityGuard`] → [`RadioTwin::handover`], optionally the
//! dominant-interferer restriction), on held-out recordings only, paired per seed.
//!
//! Metric: the 5th percentile and the median of the user-perceived DL throughput over every
//! downloading UE-second after the warm-up (see [`super::twin`] for the throughput
//! abstraction). Effects: per seed the relative change of an arm against `none` (the same
//! seed: same recordings, placement, offsets, background), and the mean change with a 95 %
//! t interval over seeds (`nf_core::trial::stats::paired`).

use std::collections::{HashMap, VecDeque};

use nf_core::CellId;
use nf_core::mobility::{
    Assessment, MobilityConfig, MobilityGuard, RestrictionConfig, propose_restriction,
};
use nf_core::radio::{UeId, UeRadio};
use nf_core::trial::stats::{Effect, paired};
use serde::Serialize;

use super::trace::{Recording, is_test_recording};
use super::twin::{RadioTwin, StepOutput, TwinConfig};

/// A mitigation arm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Arm {
    /// No mitigation.
    None,
    /// The A3-style rule alone (limited iff neighbour RSRP ≥ RSRP − offset).
    A3,
    /// The interference model.
    Model,
}

impl Arm {
    pub fn as_str(self) -> &'static str {
        match self {
            Arm::None => "none",
            Arm::A3 => "a3",
            Arm::Model => "model",
        }
    }
}

/// Something that turns UE windows into `(loss_db, p_limited)` per UE: the model, or a rule.
pub trait Assessor {
    /// `windows[i]`: the UE's reports, oldest first. Returns one verdict per window, or
    /// `None` for a window it cannot judge.
    fn assess(&mut self, windows: &[&[UeRadio]]) -> Result<Vec<Option<(f32, f32)>>, String>;
}

/// The A3-style rule of the model card (`nf_core::radio_features::a3_rule`: limited iff
/// `nbr_rsrp ≥ rsrp − offset_db`, offset 1 dB tuned on training); the loss is the measured one.
#[derive(Clone, Debug)]
pub struct A3Rule {
    pub offset_db: f32,
}

impl Assessor for A3Rule {
    fn assess(&mut self, windows: &[&[UeRadio]]) -> Result<Vec<Option<(f32, f32)>>, String> {
        Ok(windows
            .iter()
            .map(|w| {
                let u = w.last()?;
                u.rsrp_dbm?;
                let p = if nf_core::radio_features::a3_rule(u, self.offset_db) {
                    1.0
                } else {
                    0.0
                };
                Some((u.interference_loss_db().unwrap_or(0.0), p))
            })
            .collect())
    }
}

/// Trial settings.
#[derive(Clone, Debug, Serialize)]
pub struct TrialConfig {
    pub seeds: u64,
    pub first_seed: u64,
    pub duration_s: u64,
    /// Seconds before throughput counts (the model needs a full window).
    pub warmup_s: u64,
    pub twin: TwinConfig,
    pub mobility: MobilityConfig,
    /// Restriction of the dominant interferer in the `model` arm (`None`: off).
    pub restriction: Option<RestrictionConfig>,
    /// UE reports kept per UE (the model's window).
    pub window: usize,
}

impl Default for TrialConfig {
    fn default() -> Self {
        Self {
            seeds: 20,
            first_seed: 1,
            duration_s: 300,
            warmup_s: 10,
            twin: TwinConfig::default(),
            mobility: MobilityConfig::default(),
            restriction: None,
            window: 5,
        }
    }
}

/// One arm on one seed.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ArmRun {
    pub arm: Arm,
    pub seed: u64,
    pub samples: usize,
    pub p5_kbps: f64,
    pub p50_kbps: f64,
    pub mean_kbps: f64,
    pub handovers: u64,
    pub network_handovers: u64,
    pub restrictions: u64,
    /// Held decisions per reason.
    pub held: Vec<(&'static str, u64)>,
    /// UEs the assessor could not judge, summed over seconds.
    pub unjudged: u64,
}

/// Percentile (nearest rank on the sorted values).
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((q / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Held-out recordings only.
pub fn held_out(recordings: &[Recording]) -> Vec<Recording> {
    recordings
        .iter()
        .filter(|r| is_test_recording(&r.name))
        .cloned()
        .collect()
}

/// Runs one arm on one seed. `assessor` is used by `a3` and `model` (ignored for `none`).
pub fn run_arm(
    recordings: &[Recording],
    cfg: &TrialConfig,
    arm: Arm,
    seed: u64,
    assessor: Option<&mut dyn Assessor>,
) -> Result<ArmRun, String> {
    let twin_cfg = TwinConfig {
        seed,
        ..cfg.twin.clone()
    };
    twin_cfg.validate()?;
    cfg.mobility.validate()?;
    let mut twin = RadioTwin::new(recordings, &twin_cfg);
    let mut guard = MobilityGuard::new(cfg.mobility.clone());
    let mut windows: HashMap<UeId, VecDeque<UeRadio>> = HashMap::new();
    let mut thp = Vec::new();
    let mut held: Vec<(&'static str, u64)> = nf_core::mobility::Held::REASONS
        .iter()
        .map(|r| (*r, 0))
        .collect();
    let (mut unjudged, mut restrictions) = (0u64, 0u64);
    let mut assessor = assessor;
    for t in 0..cfg.duration_s {
        let out: StepOutput = twin.step();
        if t >= cfg.warmup_s {
            thp.extend(out.ue_throughput_kbps.iter().map(|(_, v)| f64::from(*v)));
        }
        if arm == Arm::None {
            continue;
        }
        let Some(assessor) = assessor.as_deref_mut() else {
            return Err(format!("arm {} needs an assessor", arm.as_str()));
        };
        // Windows per UE (a UE that changed cell keeps its history: it is one UE).
        let mut order: Vec<(CellId, UeRadio)> = Vec::new();
        for rep in &out.ue_reports {
            for u in &rep.ues {
                let w = windows.entry(u.ue).or_default();
                w.push_back(u.clone());
                while w.len() > cfg.window {
                    w.pop_front();
                }
                order.push((rep.cell, u.clone()));
            }
        }
        let ready: Vec<(CellId, UeRadio)> = order
            .into_iter()
            .filter(|(_, u)| windows[&u.ue].len() >= cfg.window)
            .collect();
        let slices: Vec<Vec<UeRadio>> = ready
            .iter()
            .map(|(_, u)| windows[&u.ue].iter().cloned().collect())
            .collect();
        let refs: Vec<&[UeRadio]> = slices.iter().map(Vec::as_slice).collect();
        let verdicts = assessor.assess(&refs)?;
        let now = twin.now_ms();
        let mut by_cell: HashMap<CellId, Vec<Assessment>> = HashMap::new();
        for ((cell, u), v) in ready.iter().zip(verdicts) {
            let (Some((loss, p)), Some(rsrp)) = (v, u.rsrp_dbm) else {
                unjudged += 1;
                continue;
            };
            let a = Assessment {
                ue: u.ue,
                serving: *cell,
                neighbour: u.neighbour,
                rsrp_dbm: rsrp,
                loss_db: loss,
                p_limited: p,
            };
            match guard.consider(now, &a) {
                Ok(order) => {
                    if twin.handover(order.ue, order.target).is_ok() {
                        guard.completed(now, order.ue, order.target);
                        // The history of the old link no longer describes the UE.
                        windows.remove(&order.ue);
                    }
                }
                Err(h) => {
                    if let Some(e) = held.iter_mut().find(|(r, _)| *r == h.reason()) {
                        e.1 += 1;
                    }
                }
            }
            by_cell.entry(*cell).or_default().push(a);
        }
        if arm == Arm::Model
            && let Some(rc) = &cfg.restriction
        {
            let loads: HashMap<CellId, f32> = out
                .cells
                .iter()
                .filter_map(|c| Some((c.cell, c.load()?)))
                .collect();
            let mut cells: Vec<_> = by_cell.keys().copied().collect();
            cells.sort();
            for victim in cells {
                if let Some(r) =
                    propose_restriction(&cfg.mobility, rc, victim, &by_cell[&victim], |c| {
                        loads.get(&c).copied()
                    })
                {
                    twin.restrict(r.cell, r.max_prb_pct);
                    restrictions += 1;
                }
            }
        }
    }
    thp.sort_by(f64::total_cmp);
    let (hos, net) = twin.handover_counts();
    Ok(ArmRun {
        arm,
        seed,
        samples: thp.len(),
        p5_kbps: percentile(&thp, 5.0),
        p50_kbps: percentile(&thp, 50.0),
        mean_kbps: thp.iter().sum::<f64>() / thp.len().max(1) as f64,
        handovers: hos,
        network_handovers: net,
        restrictions,
        held,
        unjudged,
    })
}

/// The paired effect of one arm against `none`, relative per seed [%].
#[derive(Clone, Debug, Serialize)]
pub struct ArmEffect {
    pub arm: Arm,
    pub seeds: usize,
    /// Mean over seeds of the arm's p5 and median [kbit/s], and of `none`'s.
    pub p5_kbps: f64,
    pub p50_kbps: f64,
    pub none_p5_kbps: f64,
    pub none_p50_kbps: f64,
    /// Mean relative change of p5 [%] and its 95 % t interval over seeds.
    pub p5_change: Effect,
    pub p50_change: Effect,
    pub handovers_per_seed: f64,
    pub restrictions_per_seed: f64,
    /// Target: p5 +15 % or more (lower CI bound ≥ 15) and the median not lower (upper
    /// CI bound of its change ≥ 0, i.e. a decrease is not shown).
    pub target_met: bool,
}

/// Paired effects of every arm but `none` against `none` over the same seeds.
pub fn effects(runs: &[ArmRun]) -> Vec<ArmEffect> {
    let none: HashMap<u64, &ArmRun> = runs
        .iter()
        .filter(|r| r.arm == Arm::None)
        .map(|r| (r.seed, r))
        .collect();
    let mut out = Vec::new();
    for arm in [Arm::A3, Arm::Model] {
        let mine: Vec<(&ArmRun, &ArmRun)> = runs
            .iter()
            .filter(|r| r.arm == arm)
            .filter_map(|r| Some((*none.get(&r.seed)?, r)))
            .collect();
        let rel = |f: fn(&ArmRun) -> f64| -> Vec<(f64, f64)> {
            mine.iter()
                .map(|(n, a)| (0.0, 100.0 * (f(a) - f(n)) / f(n).max(1e-9)))
                .collect()
        };
        let (Some(p5), Some(p50)) = (paired(&rel(|r| r.p5_kbps)), paired(&rel(|r| r.p50_kbps)))
        else {
            continue;
        };
        let n = mine.len() as f64;
        let mean = |f: fn(&ArmRun) -> f64, pick_none: bool| {
            mine.iter()
                .map(|(nr, a)| if pick_none { f(nr) } else { f(a) })
                .sum::<f64>()
                / n
        };
        out.push(ArmEffect {
            arm,
            seeds: mine.len(),
            p5_kbps: mean(|r| r.p5_kbps, false),
            p50_kbps: mean(|r| r.p50_kbps, false),
            none_p5_kbps: mean(|r| r.p5_kbps, true),
            none_p50_kbps: mean(|r| r.p50_kbps, true),
            target_met: p5.lo >= 15.0 && p50.hi >= 0.0 && p50.diff >= 0.0,
            p5_change: p5,
            p50_change: p50,
            handovers_per_seed: mean(|r| r.handovers as f64, false),
            restrictions_per_seed: mean(|r| r.restrictions as f64, false),
        });
    }
    out
}

/// The interference model through the real onnxruntime (`nf_infer`), rows built by
/// `nf_core::radio_features`.
pub struct ModelAssessor {
    model: nf_infer::runtime::LoadedModel,
    input: String,
    buf: Vec<f32>,
    /// Model outputs refused (non-finite or out of range), counted.
    pub bad_outputs: u64,
}

impl std::fmt::Debug for ModelAssessor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelAssessor")
            .field("model", &self.model.contract.name)
            .field("bad_outputs", &self.bad_outputs)
            .finish()
    }
}

impl ModelAssessor {
    /// Loads the model of `contract` on the CPU.
    pub fn load(contract: &std::path::Path) -> Result<Self, String> {
        let model = nf_infer::runtime::load_model(&nf_infer::runtime::ModelConfig {
            contract: contract.into(),
            onnxruntime_lib: None,
            providers: vec![nf_infer::runtime::Provider::Cpu],
        })
        .map_err(|e| format!("{}: {e}", contract.display()))?;
        let input = model.contract.input.name.clone();
        Ok(Self {
            model,
            input,
            buf: Vec::new(),
            bad_outputs: 0,
        })
    }
}

impl Assessor for ModelAssessor {
    fn assess(&mut self, windows: &[&[UeRadio]]) -> Result<Vec<Option<(f32, f32)>>, String> {
        use nf_core::radio_features::{FEATURES, WINDOW, write_row};
        let row = WINDOW * FEATURES;
        self.buf.clear();
        let mut idx = Vec::with_capacity(windows.len());
        let mut tmp = vec![0f32; row];
        for w in windows {
            match write_row(w, &mut tmp) {
                Ok(()) => {
                    idx.push(Some(self.buf.len() / row));
                    self.buf.extend_from_slice(&tmp);
                }
                Err(_) => idx.push(None),
            }
        }
        let rows = self.buf.len() / row;
        let out = if rows > 0 {
            nf_infer::worker::infer(
                &mut self.model,
                &self.input,
                &self.buf,
                [rows, WINDOW, FEATURES],
                2,
            )?
        } else {
            Vec::new()
        };
        Ok(idx
            .into_iter()
            .map(|i| {
                let i = i?;
                let (loss, p) = (out[2 * i], out[2 * i + 1]);
                if loss.is_finite() && p.is_finite() && (0.0..=1.0).contains(&p) && loss >= -1e-3 {
                    Some((loss.max(0.0), p))
                } else {
                    self.bad_outputs += 1;
                    None
                }
            })
            .collect())
    }
}
