//! The closed-loop RAN twin: cells whose slices react to the PRB quotas they are given.
//!
//! Driven by the SCOPE per-UE traces (`mappings/scope-twin.toml`), per UE and 250 ms
//! window `k`:
//!
//! - **Offered load.** Bytes arriving at the UE's DL buffer: what the recording served plus
//!   the recorded buffer change, `A_k = max(0, R_k·T/8 + b_k − b_{k−1})` (R recorded MAC
//!   throughput, b recorded buffer, T = 250 ms). The traffic is the recording's; what the
//!   twin serves of it depends on the quotas.
//! - **Channel.** Bits per PRB per TTI from the UE's recorded DL MCS through a link table
//!   fitted on traces (median of `R / PRBs granted` per MCS, [`LinkTable::fit`]).
//! - **Demand.** PRBs per TTI to empty the backlog in the window:
//!   `d = (B + A)·8 / (bits(MCS) · 250)`, capped at the cell's PRBs.
//! - **Slices.** With quota (min, max, dedicated) in percent of N PRBs: each slice first
//!   gets `min(D_s, min_s·N)`; dedicated PRBs a slice leaves unused are lost to the others;
//!   the rest is shared by water-filling among slices with demand left, each capped at
//!   `max_s·N`.
//! - **Inside a slice.** Round robin: water-filling of equal shares over UEs with demand.
//!   Proportional fair: water-filling with weights `bits(MCS_u) / avḡR_u` (EWMA of the
//!   twin's own UE throughput), the time-domain PF metric applied per window.
//! - **Queues.** Served bytes `S = p·bits·250/8 ≤ B + A`, `B ← B + A − S`; throughput
//!   `S·8/T`; delay proxy by Little's law `B / (S/T)` (capped at 1 s); an SLA violation is
//!   a window whose delay proxy passes its slice's target while bytes wait.
//!
//! - **Slice outcomes.** Per slice and window the bytes offered (backlog + arrivals),
//!   servable (what the slice's UEs would get with the whole cell), served, the delay and
//!   its target: the inputs of the slice utility (`nf_core::trial::utility`).
//!
//! [`trials`] builds the cells of a whole trial with UEs sliced by service class, and the
//! scenario (carrier size, load multiplier) the traffic is played on.
//!
//! Seeded and deterministic: the only randomness is the trial harness's assignment; the
//! twin itself is a pure function of the trace, the quotas and its state.

pub mod trials;

use std::collections::BTreeMap;
use std::path::Path;

use nf_core::policy::SliceQuota;
use nf_core::trial::utility::{SliceOutcome, UtilityWeights, cell_utility};
use nf_core::{Meas, MeasVec, Snssai};

use crate::mapping::{Mapping, MappingError, OnBadRow, Row, bundled};
use crate::trace::{PERIOD_MS, RUN_GAP_MS, run_spans};

/// TTIs per window.
const TTIS: f64 = 250.0;
/// Window length [s].
const T_S: f64 = 0.25;
/// Highest LTE DL MCS index.
const MAX_MCS: usize = 28;
/// Delay proxy cap [ms].
pub const MAX_DELAY_MS: f64 = 1_000.0;

/// Delay-proxy target of a slice [ms] (configurable defaults, not 3GPP values: at 250 ms
/// granularity the proxy only separates "keeps up" from "falls behind").
pub fn delay_target_ms(s: Snssai) -> f64 {
    match s.sst {
        2 => 50.0,   // URLLC
        3 => 1000.0, // mMTC
        _ => 300.0,  // eMBB and others
    }
}

/// One UE in one window, as recorded.
#[derive(Clone, Copy, Debug, Default)]
pub struct UeWindow {
    pub present: bool,
    pub arrivals_bytes: f64,
    pub mcs: f64,
    pub rec_granted_prb: f64,
    pub rec_thp_kbps: f64,
    /// Recorded UL MAC throughput [kbit/s] (service-class inference only).
    pub rec_ul_kbps: f64,
    /// Slice PRB cap in force (`slice_prb`), when slicing was on.
    pub rec_cap_prb: Option<f64>,
    pub rec_sched: u8,
}

/// One UE's windows.
#[derive(Clone, Debug)]
pub struct UeTrace {
    /// The UE's IMSI as recorded.
    pub imsi: String,
    pub slice: Snssai,
    pub windows: Vec<UeWindow>,
}

/// A twin cell: one contiguous run of a recorded cell.
#[derive(Clone, Debug)]
pub struct TwinCell {
    pub name: String,
    pub slices: Vec<Snssai>,
    pub ues: Vec<UeTrace>,
    pub start_ms: u64,
    pub len: usize,
    pub prbs: f64,
}

/// Bits per PRB per TTI by DL MCS.
#[derive(Clone, Debug)]
pub struct LinkTable {
    pub bits: [f64; MAX_MCS + 1],
}

impl LinkTable {
    /// Median of recorded `throughput / PRBs granted` per MCS over windows with at least
    /// one PRB; MCS values never seen are interpolated from their neighbours.
    pub fn fit<'a>(cells: impl IntoIterator<Item = &'a TwinCell>) -> Self {
        let mut samples: Vec<Vec<f64>> = vec![Vec::new(); MAX_MCS + 1];
        for c in cells {
            for ue in &c.ues {
                for w in ue
                    .windows
                    .iter()
                    .filter(|w| w.present && w.rec_granted_prb >= 1.0 && w.mcs > 0.0)
                {
                    let m = (w.mcs.round() as usize).min(MAX_MCS);
                    samples[m].push(w.rec_thp_kbps * 1000.0 / (w.rec_granted_prb * 1000.0));
                }
            }
        }
        let mut bits = [f64::NAN; MAX_MCS + 1];
        for (m, s) in samples.iter_mut().enumerate() {
            if s.len() >= 5 {
                s.sort_by(f64::total_cmp);
                bits[m] = s[s.len() / 2];
            }
        }
        // Fill gaps: nearest known neighbour, or a floor of 16 bits.
        for m in 0..=MAX_MCS {
            if bits[m].is_nan() {
                let near = (0..=MAX_MCS)
                    .filter(|k| !bits[*k].is_nan())
                    .min_by_key(|k| k.abs_diff(m));
                bits[m] = near.map_or(16.0, |k| bits[k]);
            }
        }
        Self { bits }
    }

    pub fn bits(&self, mcs: f64) -> f64 {
        self.bits[(mcs.round().max(0.0) as usize).min(MAX_MCS)].max(1.0)
    }
}

/// Reads twin cells (one per run of at least `min_windows`) from a SCOPE trace root.
pub fn load(root: &Path, min_windows: usize) -> Result<Vec<TwinCell>, MappingError> {
    let m = Mapping::load(&bundled("scope-twin"))?;
    let files = m.files(root)?;
    let (rows, _) = m.read_rows(&files, OnBadRow::Skip)?;
    let idx = |n: &str| m.index_of(n).unwrap_or(usize::MAX);
    let ix = Ix {
        granted: idx("granted_prb"),
        thp: idx("thp_dl_kbps"),
        ul: idx("thp_ul_kbps"),
        buf: idx("dl_buffer_bytes"),
        mcs: idx("dl_mcs"),
        slicing: idx("slicing_enabled"),
        cap: idx("slice_prb"),
        sched: idx("scheduling_policy"),
    };
    let mut by_cell: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for r in &rows {
        by_cell.entry(&r.cell).or_default().push(r);
    }
    let mut out = Vec::new();
    for (name, rows) in by_cell {
        let mut bins: BTreeMap<i64, Vec<&Row>> = BTreeMap::new();
        for r in rows {
            bins.entry(r.t_ms.div_euclid(250)).or_default().push(r);
        }
        let keys: Vec<i64> = bins.keys().copied().collect();
        let gap = (RUN_GAP_MS / PERIOD_MS) as i64;
        for span in run_spans(keys.len(), |i| keys[i] - keys[i - 1] > gap) {
            let (first, last) = (keys[span.start], keys[span.end - 1]);
            if last - first + 1 >= min_windows as i64 {
                out.push(build(name, &bins, first, last, &ix, out.len()));
            }
        }
    }
    Ok(out)
}

struct Ix {
    granted: usize,
    thp: usize,
    ul: usize,
    buf: usize,
    mcs: usize,
    slicing: usize,
    cap: usize,
    sched: usize,
}

fn build(
    name: &str,
    bins: &BTreeMap<i64, Vec<&Row>>,
    first: i64,
    last: i64,
    ix: &Ix,
    n: usize,
) -> TwinCell {
    let len = (last - first + 1) as usize;
    let mut ues: BTreeMap<(String, Snssai), UeTrace> = BTreeMap::new();
    let mut last_buf: BTreeMap<(String, Snssai), f64> = BTreeMap::new();
    for b in first..=last {
        for r in bins.get(&b).map_or(&[][..], |v| v) {
            let slice = r.slice.unwrap_or(Snssai::new(1, None));
            let key = (r.ue.clone(), slice);
            let ue = ues.entry(key.clone()).or_insert_with(|| UeTrace {
                imsi: r.ue.clone(),
                slice,
                windows: vec![UeWindow::default(); len],
            });
            let v = |i: usize| {
                r.values
                    .get(i)
                    .copied()
                    .filter(|x| x.is_finite())
                    .unwrap_or(0.0)
            };
            let prev = last_buf.insert(key, v(ix.buf)).unwrap_or(0.0);
            let served = v(ix.thp) * 1000.0 * T_S / 8.0;
            ue.windows[(b - first) as usize] = UeWindow {
                present: true,
                arrivals_bytes: (served + v(ix.buf) - prev).max(0.0),
                mcs: v(ix.mcs),
                rec_granted_prb: v(ix.granted),
                rec_thp_kbps: v(ix.thp),
                rec_ul_kbps: v(ix.ul),
                rec_cap_prb: (v(ix.slicing) > 0.0).then(|| v(ix.cap)),
                rec_sched: v(ix.sched) as u8,
            };
        }
    }
    let mut slices: Vec<Snssai> = ues.values().map(|u| u.slice).collect();
    slices.sort_unstable();
    slices.dedup();
    TwinCell {
        name: format!("{name}#{n}"),
        slices,
        ues: ues.into_values().collect(),
        start_ms: (first * 250) as u64,
        len,
        prbs: f64::from(crate::trace::CELL_PRBS),
    }
}

/// Scheduler inside each slice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Scheduler {
    RoundRobin,
    ProportionalFair,
}

/// What a slice did in one window.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct SliceKpi {
    pub prb: f64,
    pub thp_kbps: f64,
    pub demand_prb: f64,
    pub buffer_bytes: f64,
    pub delay_ms: f64,
    pub sla_violation: bool,
    /// Backlog at the window's start plus arrivals [byte].
    pub offered_bytes: f64,
    /// What the slice's UEs could have been served with the whole cell to themselves, at
    /// their channel and under the same in-slice scheduler [byte].
    pub servable_bytes: f64,
    /// What they were served [byte].
    pub served_bytes: f64,
    /// The slice's delay target [ms] ([`delay_target_ms`]).
    pub delay_target_ms: f64,
}

impl SliceKpi {
    /// The slice's outcome for the slice utility.
    pub fn outcome(&self, snssai: Snssai) -> SliceOutcome {
        SliceOutcome {
            snssai,
            offered_bytes: self.offered_bytes,
            servable_bytes: self.servable_bytes,
            served_bytes: self.served_bytes,
            delay_ms: self.delay_ms,
            delay_target_ms: self.delay_target_ms,
            sla_violation: self.sla_violation,
        }
    }
}

/// The slice outcomes of one window of `cell` (`kpis` from [`step`]).
pub fn outcomes(cell: &TwinCell, kpis: &[SliceKpi]) -> Vec<SliceOutcome> {
    cell.slices
        .iter()
        .zip(kpis)
        .map(|(s, k)| k.outcome(*s))
        .collect()
}

/// The cell's slice utility in one window (`None` when no slice had anything to serve).
pub fn window_utility(cell: &TwinCell, kpis: &[SliceKpi], w: &UtilityWeights) -> Option<f64> {
    cell_utility(&outcomes(cell, kpis), w)
}

/// The evolving state of a twin cell.
#[derive(Clone, Debug)]
pub struct TwinState {
    buffers: Vec<f64>,
    avg_kbps: Vec<f64>,
    last_mcs: Vec<f64>,
    pub k: usize,
}

impl TwinState {
    pub fn new(cell: &TwinCell) -> Self {
        Self {
            buffers: vec![0.0; cell.ues.len()],
            avg_kbps: vec![1.0; cell.ues.len()],
            last_mcs: vec![10.0; cell.ues.len()],
            k: 0,
        }
    }
}

/// Water-filling of `total` over `demand` with `weights`: nobody gets more than asked.
pub fn water_fill(total: f64, demand: &[f64], weights: &[f64]) -> Vec<f64> {
    let mut got = vec![0.0; demand.len()];
    let mut left = total.max(0.0);
    let mut open: Vec<usize> = (0..demand.len()).filter(|i| demand[*i] > 1e-9).collect();
    while left > 1e-9 && !open.is_empty() {
        let wsum: f64 = open.iter().map(|i| weights[*i].max(1e-12)).sum();
        let mut next = Vec::new();
        let mut used = 0.0;
        for &i in &open {
            let share = left * weights[i].max(1e-12) / wsum;
            let give = share.min(demand[i] - got[i]);
            got[i] += give;
            used += give;
            if demand[i] - got[i] > 1e-9 {
                next.push(i);
            }
        }
        left -= used;
        if next.len() == open.len() {
            break;
        }
        open = next;
    }
    got
}

/// The quotas the recording ran under: the slice PRB cap when slicing was on (isolated:
/// min = max = cap), else the whole cell.
pub fn recorded_quotas(cell: &TwinCell, k: usize) -> Vec<SliceQuota> {
    cell.slices
        .iter()
        .map(|s| {
            let cap = cell
                .ues
                .iter()
                .filter(|u| u.slice == *s && u.windows[k].present)
                .find_map(|u| u.windows[k].rec_cap_prb);
            let pct = cap.map_or(100, |c| {
                (100.0 * c / cell.prbs).round().clamp(0.0, 100.0) as u8
            });
            SliceQuota {
                snssai: *s,
                min_ratio: if cap.is_some() { pct } else { 0 },
                max_ratio: pct,
                dedicated_ratio: 0,
            }
        })
        .collect()
}

/// The scheduler the recording ran (0/1 → round robin, 2 → proportional fair).
pub fn recorded_scheduler(cell: &TwinCell, k: usize) -> Scheduler {
    let pf = cell
        .ues
        .iter()
        .any(|u| u.windows[k].present && u.windows[k].rec_sched == 2);
    if pf {
        Scheduler::ProportionalFair
    } else {
        Scheduler::RoundRobin
    }
}

/// Plays window `state.k` of `cell` under `quotas` (one per slice, in `cell.slices` order
/// or matched by S-NSSAI) and advances the state.
pub fn step(
    cell: &TwinCell,
    st: &mut TwinState,
    quotas: &[SliceQuota],
    link: &LinkTable,
    sched: Scheduler,
) -> Vec<SliceKpi> {
    let k = st.k.min(cell.len - 1);
    let n = cell.prbs;
    let mut backlog = vec![0.0; cell.ues.len()];
    let mut bits = vec![0.0; cell.ues.len()];
    let mut demand = vec![0.0; cell.ues.len()];
    for (u, ue) in cell.ues.iter().enumerate() {
        let w = ue.windows[k];
        if w.present && w.mcs > 0.0 {
            st.last_mcs[u] = w.mcs;
        }
        backlog[u] = st.buffers[u] + if w.present { w.arrivals_bytes } else { 0.0 };
        bits[u] = link.bits(st.last_mcs[u]);
        demand[u] = (backlog[u] * 8.0 / (bits[u] * TTIS)).min(n);
    }
    let slice_demand: Vec<f64> = cell
        .slices
        .iter()
        .map(|s| {
            cell.ues
                .iter()
                .zip(&demand)
                .filter(|(u, _)| u.slice == *s)
                .map(|(_, d)| d)
                .sum::<f64>()
                .min(n)
        })
        .collect();
    let q = |s: &Snssai| quotas.iter().find(|q| q.snssai == *s).copied();
    let pct = |v: u8| f64::from(v) / 100.0 * n;
    let mut alloc = vec![0.0; cell.slices.len()];
    let mut lost = 0.0;
    let mut residual = vec![0.0; cell.slices.len()];
    for (i, s) in cell.slices.iter().enumerate() {
        let (min, max, ded) = q(s).map_or((0.0, 0.0, 0.0), |q| {
            (pct(q.min_ratio), pct(q.max_ratio), pct(q.dedicated_ratio))
        });
        alloc[i] = slice_demand[i].min(min);
        lost += (ded - alloc[i]).max(0.0);
        residual[i] = (slice_demand[i].min(max) - alloc[i]).max(0.0);
    }
    let spare = (n - alloc.iter().sum::<f64>() - lost).max(0.0);
    let extra = water_fill(spare, &residual, &vec![1.0; residual.len()]);
    let mut out = Vec::with_capacity(cell.slices.len());
    for (i, s) in cell.slices.iter().enumerate() {
        let members: Vec<usize> = (0..cell.ues.len())
            .filter(|u| cell.ues[*u].slice == *s)
            .collect();
        let d: Vec<f64> = members.iter().map(|u| demand[*u]).collect();
        let w: Vec<f64> = members
            .iter()
            .map(|u| match sched {
                Scheduler::RoundRobin => 1.0,
                Scheduler::ProportionalFair => bits[*u] / st.avg_kbps[*u].max(1.0),
            })
            .collect();
        let prbs = water_fill(alloc[i] + extra[i], &d, &w);
        let alone = water_fill(n, &d, &w);
        let mut kpi = SliceKpi {
            demand_prb: slice_demand[i],
            delay_target_ms: delay_target_ms(*s),
            ..SliceKpi::default()
        };
        for (j, u) in members.iter().enumerate() {
            let served = (prbs[j] * bits[*u] * TTIS / 8.0).min(backlog[*u]);
            kpi.offered_bytes += backlog[*u];
            kpi.servable_bytes += (alone[j] * bits[*u] * TTIS / 8.0).min(backlog[*u]);
            kpi.served_bytes += served;
            st.buffers[*u] = backlog[*u] - served;
            let kbps = served * 8.0 / T_S / 1000.0;
            st.avg_kbps[*u] = 0.9 * st.avg_kbps[*u] + 0.1 * kbps;
            kpi.prb += prbs[j];
            kpi.thp_kbps += kbps;
            kpi.buffer_bytes += st.buffers[*u];
        }
        kpi.delay_ms = if kpi.buffer_bytes <= 0.0 {
            0.0
        } else if kpi.thp_kbps <= 0.0 {
            MAX_DELAY_MS
        } else {
            (kpi.buffer_bytes * 8.0 / (kpi.thp_kbps * 1000.0) * 1000.0).min(MAX_DELAY_MS)
        };
        kpi.sla_violation = kpi.buffer_bytes > 0.0 && kpi.delay_ms > delay_target_ms(*s);
        out.push(kpi);
    }
    st.k += 1;
    out
}

/// The KPM window a policy sees after a step (what an E2 node would report).
pub fn kpm_window(cell: &TwinCell, kpis: &[SliceKpi]) -> Vec<(Snssai, MeasVec)> {
    cell.slices
        .iter()
        .zip(kpis)
        .map(|(s, k)| {
            let mut m = MeasVec::default();
            m.set(Meas::PrbUsedDl, k.prb as f32);
            m.set(Meas::UeThpDl, k.thp_kbps as f32);
            m.set(Meas::UeThpUl, 0.0);
            m.set(
                Meas::ConnMean,
                cell.ues.iter().filter(|u| u.slice == *s).count() as f32,
            );
            m.set(Meas::DlBufferBytes, k.buffer_bytes as f32);
            m.set(Meas::PrbReqDl, k.demand_prb as f32);
            m.set(Meas::DlCqiMean, 0.0);
            (*s, m)
        })
        .collect()
}

/// Twin-vs-recording error of one cell under the recorded control state.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Calibration {
    pub cell: String,
    pub windows: usize,
    /// Σ|twin − recorded| / Σ recorded, per-slice PRBs per window.
    pub prb_nmae: f64,
    /// Same for per-slice throughput.
    pub thp_nmae: f64,
    /// (Σ twin − Σ recorded) / Σ recorded.
    pub prb_bias: f64,
    pub thp_bias: f64,
}

/// Drives `cell` with its recorded quotas and scheduler and compares per-slice PRBs and
/// throughput with the recording.
pub fn calibrate(cell: &TwinCell, link: &LinkTable) -> Calibration {
    let mut st = TwinState::new(cell);
    let (mut e_prb, mut e_thp, mut s_prb, mut s_thp, mut t_prb, mut t_thp) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for k in 0..cell.len {
        let kpis = step(
            cell,
            &mut st,
            &recorded_quotas(cell, k),
            link,
            recorded_scheduler(cell, k),
        );
        for (s, kpi) in cell.slices.iter().zip(&kpis) {
            let (mut rp, mut rt) = (0.0, 0.0);
            for u in cell.ues.iter().filter(|u| u.slice == *s) {
                rp += u.windows[k].rec_granted_prb;
                rt += u.windows[k].rec_thp_kbps;
            }
            e_prb += (kpi.prb - rp).abs();
            e_thp += (kpi.thp_kbps - rt).abs();
            s_prb += rp;
            s_thp += rt;
            t_prb += kpi.prb;
            t_thp += kpi.thp_kbps;
        }
    }
    Calibration {
        cell: cell.name.clone(),
        windows: cell.len,
        prb_nmae: e_prb / s_prb.max(1e-9),
        thp_nmae: e_thp / s_thp.max(1e-9),
        prb_bias: (t_prb - s_prb) / s_prb.max(1e-9),
        thp_bias: (t_thp - s_thp) / s_thp.max(1e-9),
    }
}
