//! The multi-cell radio twin: a small cluster of cells coupled through SINR, with UEs
//! whose channels are replayed from `ucc5g` operator recordings, one second per step.
//!
//! # Model (every constant stated; the free ones calibrated by [`super::calib`])
//! - **Cells**: `cells` NR cells (default 4) on a ring, `prbs` DL PRBs each (default 106:
//!   40 MHz at 30 kHz SCS), NCI 1..=cells under the simulator's PLMN.
//! - **UEs**: `ues_per_cell × cells` UEs; UE *i* replays recording `i mod n` (recordings
//!   shuffled by the seed) from a seed-drawn start offset, wrapping at its end. The
//!   recording's serving cell is twin cell `a` (seed-drawn), its strongest neighbour is
//!   `b`, a ring neighbour of `a`. Per second the UE's **path gains** (as RSRP, dBm) are:
//!   to `a` the recorded `RSRP`, to `b` the recorded `NRxRSRP` (last value held while
//!   missing; `RSRP − 10 dB` before the first), to the k-th other cell (by ring distance)
//!   `min(gain_a, gain_b) − (6 + 3·k)` dB.
//! - **SINR** of a UE served by cell `s`:
//!   `gain_s − impl_loss − 10·log10(N_eff + Σ_{j≠s} c·(u_j / u_ref)·gain_j) + ε(t)` [dB, linear
//!   powers inside the log], `u_j` cell j's PRB utilisation this second, `c` the calibrated
//!   coupling at the reference load `u_ref`. `ε(t)` is the recording's residual: the
//!   recorded SNR minus the same formula on the recorded link at the reference load (what
//!   the physics does not explain: fast fading, unreported cells). It stays with the UE after
//!   a handover (conservative: a handover gains only what the physics explains).
//! - **Link abstraction**: attenuated Shannon, spectral efficiency
//!   `min(alpha · log2(1 + SINR), max_se)` bit/RE, 168 RE per PRB per 0.5 ms slot with 25 %
//!   overhead (126 data RE, 2000 slots/s): a PRB carries `252 000 · SE` bit/s.
//! - **Traffic**: offered load of a UE = the recorded `DL_bitrate` in seconds with
//!   `State = D`, 0 otherwise. Each cell also carries a background utilisation of users the
//!   twin does not model (seed-drawn in `background_load`). A UE needs the fraction
//!   `τ = offered / (cap · prbs · rate_per_prb)` of its cell's PRB-time.
//! - **Cell load** `u = min(cap, background + Σ τ)`, solved with the SINRs by a few
//!   fixed-point sweeps (interference depends on the neighbours' load and vice versa).
//! - **UE throughput** (the trial's metric, user-perceived throughput while downloading,
//!   processor sharing): `r · max(0.05, 1 − (u − τ)/cap)` where `r = cap · prbs ·
//!   rate_per_prb` (the rate it gets alone); in an overloaded cell every UE and the background
//!   get equal shares of the PRB-time (water-filling level `λ`): `r · λ / cap`. A handover costs
//!   `interruption_ms` (default 50 ms) //!   of that second's throughput.
//! - **Handover**: the UE's serving cell changes, its load moves with it, the old serving
//!   cell becomes an interferer. A network handover of the recording (serving `CellID`
//!   changes) swaps `a` and `b` and moves the UE to the new `a` in every arm.
//! - **Restriction**: `restrict(cell, pct)` caps the cell's PRB use at `pct` %: its load
//!   (so the interference it causes) and its own capacity.

use nf_core::CellId;
use nf_core::radio::{
    CQI_BINS, CellRadio, NOISE_PER_RE_DBM, Neighbour, RSRP_BINS, UeId, UeLevelReport, UeRadio,
    range, rsrp_bin,
};
use serde::{Deserialize, Serialize};

use super::trace::Recording;

/// Data bit/s a PRB carries per bit/RE of spectral efficiency (126 data RE × 2000 slots/s).
pub const BITS_PER_PRB_PER_SE: f32 = 252_000.0;
/// Report period of the twin [ms].
pub const STEP_MS: u64 = 1_000;

/// The calibrated constants of the SINR and link model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    /// Effective noise plus unmodelled background interference per RE [dBm].
    pub noise_eff_dbm: f32,
    /// Coupling of a neighbour's RSRP into interference at the reference load [dB].
    pub coupling_db: f32,
    /// Implementation loss [dB].
    pub impl_loss_db: f32,
    /// PRB utilisation of the recorded network's cells the coupling refers to (assumed;
    /// the operator's load is not in the data).
    pub ref_load: f32,
    /// Shannon attenuation (0.75 after Mogensen et al., VTC 2007; not fitted).
    pub alpha: f32,
    /// Spectral-efficiency ceiling [bit/RE] (256QAM, code rate 0.93).
    pub max_se: f32,
}

impl Default for Calibration {
    /// The constants `radiotrial calibrate` fitted on the training recordings (see
    /// `docs/interference-twin.md`).
    fn default() -> Self {
        Self {
            noise_eff_dbm: -135.0,
            coupling_db: -35.0,
            impl_loss_db: 30.57,
            ref_load: 0.5,
            alpha: 0.75,
            max_se: 7.4,
        }
    }
}

impl Calibration {
    /// Modelled SINR [dB] of a link with serving gain `g_s` and interferers `(gain dBm,
    /// utilisation)`.
    pub fn sinr_db(&self, g_s: f32, interferers: impl Iterator<Item = (f32, f32)>) -> f32 {
        let mut den = db_to_lin(self.noise_eff_dbm);
        let c = db_to_lin(self.coupling_db) / self.ref_load.max(1e-3);
        for (g, u) in interferers {
            den += c * u.clamp(0.0, 1.0) * db_to_lin(g);
        }
        g_s - self.impl_loss_db - 10.0 * den.log10()
    }

    /// Data rate of one PRB [bit/s] at `sinr_db`.
    pub fn rate_per_prb(&self, sinr_db: f32) -> f32 {
        let se = (self.alpha * (1.0 + db_to_lin(sinr_db)).log2()).min(self.max_se);
        BITS_PER_PRB_PER_SE * se.max(0.0)
    }
}

/// Rule for cells beyond the assigned neighbour: gain = `min(gain_a, gain_b) − (6 + 3·k)` dB.
pub fn other_cell_gain(g_a: f32, g_b: f32, k: usize) -> f32 {
    g_a.min(g_b) - (6.0 + 3.0 * k as f32)
}

pub(crate) fn db_to_lin(db: f32) -> f32 {
    10f32.powf(db / 10.0)
}

/// Configuration of one twin run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TwinConfig {
    /// Cells of the cluster (≥ 3).
    pub cells: usize,
    /// UEs per cell at the start.
    pub ues_per_cell: usize,
    /// DL PRBs per cell.
    pub prbs: u32,
    /// Seed: recording order, UE placement, start offsets, background load.
    pub seed: u64,
    /// Range of the per-cell background utilisation (users the twin does not model).
    pub background_load: (f32, f32),
    /// Throughput lost to a handover [ms of the second].
    pub interruption_ms: u32,
    /// Time of the first step [ms since the epoch].
    pub start_ms: u64,
    pub calibration: Calibration,
}

impl Default for TwinConfig {
    fn default() -> Self {
        Self {
            cells: 4,
            ues_per_cell: 8,
            prbs: 106,
            seed: 1,
            background_load: (0.2, 0.6),
            interruption_ms: 50,
            start_ms: 1_700_000_000_000,
            calibration: Calibration::default(),
        }
    }
}

impl TwinConfig {
    /// Refuses values that make no sense, naming the key.
    pub fn validate(&self) -> Result<(), String> {
        if !(3..=64).contains(&self.cells) {
            return Err(format!("cells = {} must be within 3..=64", self.cells));
        }
        if !(1..=200).contains(&self.ues_per_cell) {
            return Err(format!(
                "ues_per_cell = {} must be within 1..=200",
                self.ues_per_cell
            ));
        }
        if !(1..=275).contains(&self.prbs) {
            return Err(format!("prbs = {} must be within 1..=275", self.prbs));
        }
        let (lo, hi) = self.background_load;
        if !(lo.is_finite() && hi.is_finite() && 0.0 <= lo && lo <= hi && hi < 1.0) {
            return Err(format!(
                "background_load = ({lo}, {hi}) must satisfy 0 ≤ lo ≤ hi < 1"
            ));
        }
        if self.interruption_ms > 1_000 {
            return Err(format!(
                "interruption_ms = {} is above 1000",
                self.interruption_ms
            ));
        }
        let c = &self.calibration;
        for (k, v) in [
            ("noise_eff_dbm", c.noise_eff_dbm),
            ("coupling_db", c.coupling_db),
            ("impl_loss_db", c.impl_loss_db),
        ] {
            if !v.is_finite() {
                return Err(format!("calibration.{k} = {v} is not finite"));
            }
        }
        if !(c.ref_load > 0.0 && c.ref_load <= 1.0) {
            return Err(format!(
                "calibration.ref_load = {} must be within (0, 1]",
                c.ref_load
            ));
        }
        if !(c.alpha > 0.0 && c.alpha <= 1.0 && c.max_se > 0.0 && c.max_se <= 10.0) {
            return Err("calibration.alpha must be in (0, 1], max_se in (0, 10]".into());
        }
        Ok(())
    }
}

/// Why the twin refused a handover.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HandoverRefusal {
    #[error("{0} is not a UE of the twin")]
    UnknownUe(UeId),
    #[error("{0} is not a cell of the twin")]
    UnknownCell(CellId),
    #[error("{ue} is already served by {cell}")]
    AlreadyServing { ue: UeId, cell: CellId },
}

/// What one step produced.
#[derive(Clone, Debug, PartialEq)]
pub struct StepOutput {
    /// One UE-level report per cell (cells without UEs report an empty list).
    pub ue_reports: Vec<UeLevelReport>,
    pub cells: Vec<CellRadio>,
    /// User-perceived throughput of every UE that was downloading this second [kbit/s].
    pub ue_throughput_kbps: Vec<(UeId, f32)>,
}

/// Deterministic 64-bit generator (SplitMix64): the twin needs reproducible draws only.
#[derive(Clone, Debug)]
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9e37_79b9_7f4a_7c15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// One recorded second as the twin uses it.
#[derive(Clone, Copy, Debug)]
struct Sec {
    cell: u32,
    rsrp: Option<f32>,
    nbr: Option<f32>,
    sinr: Option<f32>,
    offered_kbps: f32,
}

#[derive(Clone, Debug)]
struct Track {
    secs: Vec<Sec>,
}

#[derive(Clone, Debug)]
struct TwinUe {
    id: UeId,
    track: usize,
    pos: usize,
    /// Twin cell of the recording's serving cell, and of its strongest neighbour.
    a: usize,
    b: usize,
    serving: usize,
    rec_cell: Option<u32>,
    g_a: f32,
    g_b: Option<f32>,
    resid_db: f32,
    offered_kbps: f32,
    interrupted: bool,
}

/// The multi-cell twin (see the module documentation).
#[derive(Clone, Debug)]
pub struct RadioTwin {
    cfg: TwinConfig,
    cell_ids: Vec<CellId>,
    tracks: Vec<Track>,
    ues: Vec<TwinUe>,
    background: Vec<f32>,
    cap: Vec<f32>,
    load: Vec<f32>,
    now_ms: u64,
    handovers: u64,
    network_handovers: u64,
}

impl RadioTwin {
    /// UEs placed on cells, tracks from `recordings` (those without usable seconds are
    /// skipped). Panics on an invalid config or no usable recording: check with
    /// [`TwinConfig::validate`] first.
    pub fn new(recordings: &[Recording], cfg: &TwinConfig) -> Self {
        cfg.validate().expect("valid twin config");
        let mut rng = SplitMix::new(cfg.seed);
        let mut tracks: Vec<Track> = recordings
            .iter()
            .map(|r| Track {
                secs: r
                    .samples
                    .iter()
                    .map(|s| Sec {
                        cell: s.serving,
                        rsrp: s.radio.rsrp_dbm,
                        nbr: s.radio.neighbour.map(|n| n.rsrp_dbm),
                        sinr: s.radio.sinr_db,
                        offered_kbps: if s.downloading {
                            s.radio.thp_dl_kbps.unwrap_or(0.0).max(0.0)
                        } else {
                            0.0
                        },
                    })
                    .collect(),
            })
            .filter(|t| t.secs.iter().any(|s| s.rsrp.is_some()))
            .collect();
        assert!(!tracks.is_empty(), "no recording with an RSRP");
        // Recording order by the seed (Fisher–Yates).
        for i in (1..tracks.len()).rev() {
            let j = rng.below(i + 1);
            tracks.swap(i, j);
        }
        let n = cfg.cells;
        let cell_ids = (1..=n as u64)
            .map(|nci| CellId::new(crate::sim::PLMN, nci))
            .collect();
        let background = (0..n)
            .map(|_| {
                let (lo, hi) = cfg.background_load;
                lo + (hi - lo) * rng.unit()
            })
            .collect::<Vec<_>>();
        let mut ues = Vec::new();
        for i in 0..n * cfg.ues_per_cell {
            let track = i % tracks.len();
            let a = i % n;
            let b = if rng.below(2) == 0 {
                (a + 1) % n
            } else {
                (a + n - 1) % n
            };
            let pos = rng.below(tracks[track].secs.len());
            ues.push(TwinUe {
                id: UeId(i as u64 + 1),
                track,
                pos,
                a,
                b,
                serving: a,
                rec_cell: None,
                g_a: -100.0,
                g_b: None,
                resid_db: 0.0,
                offered_kbps: 0.0,
                interrupted: false,
            });
        }
        Self {
            cfg: cfg.clone(),
            cell_ids,
            tracks,
            load: background.clone(),
            background,
            cap: vec![1.0; n],
            ues,
            now_ms: cfg.start_ms,
            handovers: 0,
            network_handovers: 0,
        }
    }

    pub fn cells(&self) -> &[CellId] {
        &self.cell_ids
    }

    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    pub fn config(&self) -> &TwinConfig {
        &self.cfg
    }

    /// Handovers made through [`RadioTwin::handover`], and by the recorded network.
    pub fn handover_counts(&self) -> (u64, u64) {
        (self.handovers, self.network_handovers)
    }

    /// The UE's serving cell now.
    pub fn serving(&self, ue: UeId) -> Option<CellId> {
        self.ue_index(ue)
            .map(|i| self.cell_ids[self.ues[i].serving])
    }

    /// PRB utilisation of every cell in the last step, in [`RadioTwin::cells`] order.
    pub fn loads(&self) -> &[f32] {
        &self.load
    }

    /// Sets a cell's background utilisation (tests and what-if runs).
    pub fn set_background(&mut self, cell: CellId, load: f32) {
        if let Some(c) = self.cell_index(cell) {
            self.background[c] = load.clamp(0.0, 1.0);
        }
    }

    fn ue_index(&self, ue: UeId) -> Option<usize> {
        let i = usize::try_from(ue.0).ok()?.checked_sub(1)?;
        (i < self.ues.len()).then_some(i)
    }

    fn cell_index(&self, cell: CellId) -> Option<usize> {
        self.cell_ids.iter().position(|c| *c == cell)
    }

    /// Hands `ue` over to `target` now: its load moves there from the next step, its
    /// throughput in the next step loses the interruption.
    pub fn handover(&mut self, ue: UeId, target: CellId) -> Result<(), HandoverRefusal> {
        let i = self.ue_index(ue).ok_or(HandoverRefusal::UnknownUe(ue))?;
        let c = self
            .cell_index(target)
            .ok_or(HandoverRefusal::UnknownCell(target))?;
        if self.ues[i].serving == c {
            return Err(HandoverRefusal::AlreadyServing { ue, cell: target });
        }
        self.ues[i].serving = c;
        self.ues[i].interrupted = true;
        self.handovers += 1;
        Ok(())
    }

    /// Caps a cell's PRB use at `max_prb_pct` % (5..=100).
    pub fn restrict(&mut self, cell: CellId, max_prb_pct: u32) {
        if let Some(c) = self.cell_index(cell) {
            self.cap[c] = (max_prb_pct.clamp(5, 100) as f32) / 100.0;
        }
    }

    /// Gain [dBm] of UE `u` to twin cell `c`.
    fn gain(&self, u: &TwinUe, c: usize) -> f32 {
        let g_b = u.g_b.unwrap_or(u.g_a - 10.0);
        if c == u.a {
            u.g_a
        } else if c == u.b {
            g_b
        } else {
            let n = self.cfg.cells;
            // Rank of c among the other cells by ring distance from a (ties: index).
            let dist = |x: usize| {
                let d = (x + n - u.a) % n;
                d.min(n - d)
            };
            let mut others: Vec<usize> = (0..n).filter(|&x| x != u.a && x != u.b).collect();
            others.sort_by_key(|&x| (dist(x), x));
            let k = others.iter().position(|&x| x == c).unwrap_or(0);
            other_cell_gain(u.g_a, g_b, k)
        }
    }

    fn sinr(&self, u: &TwinUe, s: usize, load: &[f32]) -> f32 {
        let cal = &self.cfg.calibration;
        let ints = (0..self.cfg.cells)
            .filter(|&j| j != s)
            .map(|j| (self.gain(u, j), load[j]));
        cal.sinr_db(self.gain(u, s), ints) + u.resid_db
    }

    /// Reads every UE's next recorded second (network handovers included).
    fn advance_tracks(&mut self) {
        let cal = self.cfg.calibration.clone();
        let n = self.cfg.cells;
        for idx in 0..self.ues.len() {
            let (track, pos) = (self.ues[idx].track, self.ues[idx].pos);
            let secs = &self.tracks[track].secs;
            let sec = secs[pos % secs.len()];
            let u = &mut self.ues[idx];
            u.pos = (pos + 1) % secs.len();
            if let Some(prev) = u.rec_cell
                && prev != sec.cell
            {
                // The recorded network handed the UE over: the old neighbour serves.
                std::mem::swap(&mut u.a, &mut u.b);
                if u.serving != u.a {
                    u.serving = u.a;
                    u.interrupted = true;
                    self.network_handovers += 1;
                }
                if let Some(old_b) = u.g_b {
                    u.g_b = Some(u.g_a);
                    u.g_a = old_b;
                }
            }
            u.rec_cell = Some(sec.cell);
            if let Some(r) = sec.rsrp {
                u.g_a = r;
            }
            if let Some(nb) = sec.nbr {
                u.g_b = Some(nb);
            }
            u.offered_kbps = sec.offered_kbps;
            if let Some(s) = sec.sinr {
                // Residual against the model on the recorded link at the reference load.
                let g_b = u.g_b.unwrap_or(u.g_a - 10.0);
                let mut ints = vec![(g_b, cal.ref_load)];
                for k in 0..n.saturating_sub(2) {
                    ints.push((other_cell_gain(u.g_a, g_b, k), cal.ref_load));
                }
                u.resid_db = s - cal.sinr_db(u.g_a, ints.into_iter());
            }
        }
    }

    /// Advances 1 s: replays the next recorded second, solves loads and SINRs, reports.
    pub fn step(&mut self) -> StepOutput {
        self.advance_tracks();
        let n = self.cfg.cells;
        let prbs = self.cfg.prbs as f32;
        let cal = self.cfg.calibration.clone();
        let mut load = self.load.clone();
        let mut tau = vec![0.0f32; self.ues.len()];
        let mut sinr = vec![0.0f32; self.ues.len()];
        let mut demand = vec![0.0f32; n];
        for _sweep in 0..4 {
            demand.copy_from_slice(&self.background);
            for (i, u) in self.ues.iter().enumerate() {
                let s = u.serving;
                sinr[i] = self.sinr(u, s, &load);
                let r = self.cap[s] * prbs * cal.rate_per_prb(sinr[i]);
                tau[i] = if u.offered_kbps > 0.0 {
                    (u.offered_kbps * 1000.0 / r.max(1.0)).min(10.0)
                } else {
                    0.0
                };
                demand[s] += tau[i];
            }
            for c in 0..n {
                load[c] = demand[c].min(self.cap[c]);
            }
        }
        self.load = load;
        // Water-filling level of every overloaded cell: the background and each UE are
        // served up to an equal share of the cell's PRB-time.
        let mut level = vec![0.0f32; n];
        for c in 0..n {
            if demand[c] > self.cap[c] {
                let mut d: Vec<f32> = std::iter::once(self.background[c])
                    .chain(
                        self.ues
                            .iter()
                            .enumerate()
                            .filter(|(_, u)| u.serving == c)
                            .map(|(i, _)| tau[i]),
                    )
                    .filter(|v| *v > 0.0)
                    .collect();
                level[c] = water_level(&mut d, self.cap[c]);
            }
        }
        let t = self.now_ms;
        let mut ue_reports: Vec<UeLevelReport> = self
            .cell_ids
            .iter()
            .map(|&cell| UeLevelReport {
                cell,
                collection_start_ms: t,
                granularity_ms: STEP_MS as u32,
                ues: Vec::new(),
            })
            .collect();
        let mut cqi_bins = vec![[0u32; CQI_BINS]; n];
        let mut rsrp_bins = vec![[0u32; RSRP_BINS]; n];
        let mut thp = Vec::new();
        for (i, u) in self.ues.iter().enumerate() {
            let s = u.serving;
            let cap = self.cap[s];
            let r_kbps = cap * prbs * cal.rate_per_prb(sinr[i]) / 1000.0;
            let mut upt = if demand[s] <= cap {
                r_kbps * (1.0 - (self.load[s] - tau[i]) / cap).max(0.05)
            } else {
                // Overloaded: equal time shares (water-filling), this UE's share of `cap`.
                r_kbps * level[s].min(cap) / cap
            };
            if u.interrupted {
                upt *= 1.0 - self.cfg.interruption_ms as f32 / 1000.0;
            }
            let delivered = u.offered_kbps.min(upt);
            if u.offered_kbps > 0.0 {
                thp.push((u.id, upt));
            }
            let g_s = self.gain(u, s);
            // Strongest other cell as the UE's neighbour.
            let (nc, g_n) = (0..n)
                .filter(|&j| j != s)
                .map(|j| (j, self.gain(u, j)))
                .fold((usize::MAX, f32::NEG_INFINITY), |b, x| {
                    if x.1 > b.1 { x } else { b }
                });
            let sinr_rep = sinr[i].clamp(range::SINR_DB.0, range::SINR_DB.1);
            let cqi = cqi_of(sinr[i]);
            cqi_bins[s][cqi as usize] += 1;
            rsrp_bins[s][rsrp_bin(g_s)] += 1;
            let rsrq = |g: f32, c: usize| self.rsrq_db(u, g, c);
            let radio = UeRadio {
                ue: u.id,
                rsrp_dbm: Some(g_s.clamp(range::RSRP_DBM.0, range::RSRP_DBM.1)),
                rsrq_db: Some(rsrq(g_s, s)),
                sinr_db: Some(sinr_rep),
                cqi: Some(cqi as f32),
                thp_dl_kbps: Some(delivered.max(0.0)),
                prb_used_dl: Some((tau[i].min(cap) * prbs).min(prbs)),
                neighbour: (nc != usize::MAX).then(|| Neighbour {
                    cell: self.cell_ids[nc],
                    rsrp_dbm: g_n.clamp(range::RSRP_DBM.0, range::RSRP_DBM.1),
                    rsrq_db: Some(rsrq(g_n, nc)),
                }),
            };
            ue_reports[s].ues.push(radio);
        }
        let cells = (0..n)
            .map(|c| CellRadio {
                cell: self.cell_ids[c],
                collection_start_ms: t,
                granularity_ms: STEP_MS as u32,
                prb_used_dl: Some(self.load[c] * prbs),
                prb_avail_dl: Some(prbs),
                cqi_bins: cqi_bins[c],
                rsrp_bins: rsrp_bins[c],
            })
            .collect();
        for u in &mut self.ues {
            u.interrupted = false;
        }
        self.now_ms += STEP_MS;
        StepOutput {
            ue_reports,
            cells,
            ue_throughput_kbps: thp,
        }
    }

    /// RSRQ [dB] of cell `c` seen by `u`: RSRP over the per-RB RSSI (12 RE of every cell's
    /// received power weighted by its load, plus noise), within the reporting range.
    fn rsrq_db(&self, u: &TwinUe, g_c: f32, c: usize) -> f32 {
        let mut rssi_per_re = db_to_lin(NOISE_PER_RE_DBM);
        for j in 0..self.cfg.cells {
            let g = if j == c { g_c } else { self.gain(u, j) };
            rssi_per_re += self.load[j].max(0.05) * db_to_lin(g);
        }
        let v = g_c - 10.0 * (12.0 * rssi_per_re).log10();
        v.clamp(range::RSRQ_DB.0, range::RSRQ_DB.1)
    }
}

/// Water-filling: the level `λ` with `Σ min(d_i, λ) = capacity` (`d` sorted in place).
pub fn water_level(d: &mut [f32], capacity: f32) -> f32 {
    d.sort_by(f32::total_cmp);
    let mut left = capacity;
    for (k, &v) in d.iter().enumerate() {
        let share = left / (d.len() - k) as f32;
        if v >= share {
            return share;
        }
        left -= v;
    }
    f32::INFINITY
}

/// Wideband CQI from SINR (4-bit table 1 of TS 38.214, ≈ 1.9 dB per step from −6 dB).
pub fn cqi_of(sinr_db: f32) -> u8 {
    if !sinr_db.is_finite() || sinr_db < -6.9 {
        return 0;
    }
    (1.0 + (sinr_db + 6.0) / 1.9).floor().clamp(1.0, 15.0) as u8
}
