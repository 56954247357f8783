//! Radio mode of the simulator: the E2 nodes' cells are the cells of one multi-cell radio
//! twin ([`crate::radio::RadioTwin`]) driven by the operator traces (`ucc5g`), instead of
//! replayed slice traces.
//!
//! - One driver task steps the twin once per second of twin time (1 s / speed of wall time)
//!   and publishes each step's output; every subscription reads the latest step at its own
//!   report period (a 250 ms subscriber sees each second's state four times, stamped with
//!   its own collection periods on the wall clock, as the replay does).
//! - Per subscribed action (classified by its definition): report style 4 → a UE-level
//!   indication (message format 3) of the cell's UEs; style 1 with the cell radio names →
//!   the cell radio report (load, CQI and SS-RSRP distributions); style 1 with the slice
//!   names (the slice xApp's) → a slice-level report derived from the twin's cell, see
//!   [`slice_report`].
//! - Controls: E2SM-RC style 3 action 1 hands the UE over in the twin (refused if the UE
//!   is unknown, not served by the node the control went to, or the target is not a cell of
//!   the twin); style 2 action 6 caps the cell's PRB use at the eMBB slice's max ratio
//!   ([`crate::radio::RadioTwin::restrict`]).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use e2_proto::cause::E2Cause;
use nf_core::radio::{CellRadio, UeId, UeLevelReport};
use nf_core::{CellId, KpmReport, Meas, MeasVec, Snssai};
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use super::replay::{Delivery, Payload, Report, ReportSink, unix_ms};
use super::{Sim, SimCell};
use crate::radio::{HandoverRefusal, RadioTwin, StepOutput};

/// The one slice of every radio-mode cell: eMBB (SST 1, no SD).
pub const EMBB: Snssai = Snssai { sst: 1, sd: None };

/// What a subscribed action asks the node for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionKind {
    /// Report style 1, slice measurements (the slice-scheduling xApp).
    Slice,
    /// Report style 1, cell radio names.
    CellRadio,
    /// Report style 4, UE-level measurements.
    UeLevel,
}

impl ActionKind {
    pub fn label(self) -> &'static str {
        match self {
            Self::Slice => "slice_style1",
            Self::CellRadio => "cell_radio_style1",
            Self::UeLevel => "ue_level_style4",
        }
    }
}

/// The twin behind the radio-mode nodes and its latest step.
#[derive(Debug)]
pub struct Radio {
    twin: Mutex<RadioTwin>,
    latest: watch::Sender<Option<Arc<StepOutput>>>,
    /// Steps taken.
    pub steps: std::sync::atomic::AtomicU64,
    /// Handovers applied / refused.
    pub handovers_applied: std::sync::atomic::AtomicU64,
    pub handovers_refused: std::sync::atomic::AtomicU64,
    /// PRB restrictions applied.
    pub restrictions: std::sync::atomic::AtomicU64,
}

impl Radio {
    pub fn new(twin: RadioTwin) -> Self {
        Self {
            twin: Mutex::new(twin),
            latest: watch::channel(None).0,
            steps: Default::default(),
            handovers_applied: Default::default(),
            handovers_refused: Default::default(),
            restrictions: Default::default(),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut RadioTwin) -> T) -> T {
        f(&mut self.twin.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Advances the twin one second and publishes the step.
    pub fn step(&self) -> Arc<StepOutput> {
        let out = Arc::new(self.with(RadioTwin::step));
        self.steps.fetch_add(1, Ordering::Relaxed);
        self.latest.send_replace(Some(out.clone()));
        out
    }

    /// The latest step (none before the first).
    pub fn latest(&self) -> Option<Arc<StepOutput>> {
        self.latest.borrow().clone()
    }

    /// The UE's serving cell now.
    pub fn serving(&self, ue: UeId) -> Option<CellId> {
        self.with(|t| t.serving(ue))
    }

    /// The twin's cells.
    pub fn cells(&self) -> Vec<CellId> {
        self.with(|t| t.cells().to_vec())
    }
}

/// Steps the twin every second of twin time until the simulator stops.
pub(crate) async fn drive(sim: Arc<Sim>) {
    let Some(radio) = sim.radio.as_ref() else {
        return;
    };
    let period = Duration::from_secs_f64(1.0 / sim.cfg.speed.max(1e-3));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut shutdown = sim.shutdown.subscribe();
    loop {
        tokio::select! {
            _ = tick.tick() => { radio.step(); }
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

/// The slice-level report of a radio-mode cell (one eMBB slice, [`EMBB`]), derived from
/// the twin's step: cell `RRU.PrbUsedDl` / `RRU.PrbAvailDl` / `RRU.PrbTotDl` from the cell's
/// load; the slice's `RRU.PrbUsedDl` = the cell's (one slice), `DRB.UEThpDl` = mean of
/// the cell's UEs' DL throughput, `RRC.ConnMean` = UEs reported on the cell, `VS.DlCqiMean`
/// = mean UE CQI, `VS.PrbReqDl` = PRBs used (the twin has no demand beyond what it
/// schedules); `VS.DlBufferBytes` is not modelled and sent as no value.
pub fn slice_report(cell: &CellRadio, ues: Option<&UeLevelReport>) -> KpmReport {
    let mut c = MeasVec::default();
    let mut s = MeasVec::default();
    if let Some(used) = cell.prb_used_dl {
        c.set(Meas::PrbUsedDl, used);
        s.set(Meas::PrbUsedDl, used);
        s.set(Meas::PrbReqDl, used);
        if let Some(avail) = cell.prb_avail_dl.filter(|a| *a > 0.0) {
            c.set(Meas::PrbTotDl, (used / avail * 100.0).clamp(0.0, 100.0));
        }
    }
    if let Some(avail) = cell.prb_avail_dl {
        c.set(Meas::PrbAvailDl, avail);
    }
    if let Some(r) = ues {
        let mean = |f: fn(&nf_core::radio::UeRadio) -> Option<f32>| {
            let v: Vec<f32> = r.ues.iter().filter_map(f).collect();
            (!v.is_empty()).then(|| v.iter().sum::<f32>() / v.len() as f32)
        };
        s.set(Meas::ConnMean, r.ues.len() as f32);
        if let Some(t) = mean(|u| u.thp_dl_kbps) {
            s.set(Meas::UeThpDl, t);
        }
        if let Some(q) = mean(|u| u.cqi) {
            s.set(Meas::DlCqiMean, q);
        }
    }
    KpmReport {
        cell: cell.cell,
        collection_start_ms: cell.collection_start_ms,
        granularity_ms: cell.granularity_ms,
        cell_meas: c,
        slices: vec![(EMBB, s)],
    }
}

/// One subscribed action of a radio-mode subscription.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FeedAction {
    /// Index into the node's cells.
    pub cell: usize,
    /// RIC action ID the indications carry.
    pub id: u8,
    pub kind: ActionKind,
}

/// What one radio-mode subscription streams.
pub(crate) struct Feed<S> {
    pub sim: Arc<Sim>,
    pub node: usize,
    pub actions: Vec<FeedAction>,
    pub period_ms: u32,
    pub sink: S,
    pub unsubscribed: watch::Receiver<bool>,
}

impl<S: ReportSink> Feed<S> {
    pub async fn run(mut self) {
        let Some(radio) = self.sim.radio.as_ref() else {
            return;
        };
        let mut steps = radio.latest.subscribe();
        let wall = Duration::from_secs_f64(
            f64::from(self.period_ms) / 1000.0 / self.sim.cfg.speed.max(1e-3),
        );
        let mut tick = tokio::time::interval(wall);
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut shutdown = self.sim.shutdown.subscribe();
        let period = u64::from(self.period_ms);
        let epoch0 = unix_ms() / period * period;
        let mut seq: u64 = 0;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.wait_for(|s| *s) => return,
                _ = self.unsubscribed.wait_for(|s| *s) => return,
            }
            let Some(step) = steps.borrow_and_update().clone() else {
                continue;
            };
            let start_ms = epoch0 + seq * period;
            seq += 1;
            for a in self.actions.clone() {
                let cell = &self.sim.nodes[self.node].cells[a.cell];
                let Some(payload) = payload(&step, cell, a.kind, start_ms, self.period_ms) else {
                    continue;
                };
                let send = self.sim.next_send(cell.index);
                let cpid = ((cell.index as u64) << 32) | (send & 0xffff_ffff);
                let report = Report {
                    node: self.node,
                    cell_index: cell.index,
                    cell: cell.info.cell,
                    payload,
                    call_process_id: cpid.to_be_bytes(),
                    seq,
                    fault: None,
                    action_id: Some(a.id),
                };
                match self.sink.emit(&self.sim, report, false).await {
                    Delivery::Sent => {
                        self.sim.note_sent(cell.index, send);
                        self.sim
                            .stats
                            .indications_sent
                            .fetch_add(1, Ordering::Relaxed);
                    }
                    Delivery::Dropped => {
                        self.sim
                            .stats
                            .indications_dropped
                            .fetch_add(1, Ordering::Relaxed);
                    }
                    Delivery::Closed => return,
                }
            }
        }
    }
}

/// The payload of `kind` for `cell` from `step`, stamped with the subscription's period;
/// `None` when there is nothing to send (a UE-level report of a cell without UEs: message
/// format 3 needs at least one UE).
fn payload(
    step: &StepOutput,
    cell: &SimCell,
    kind: ActionKind,
    start_ms: u64,
    granularity_ms: u32,
) -> Option<Payload> {
    let id = cell.info.cell;
    let radio = step.cells.iter().find(|c| c.cell == id)?;
    let ues = step.ue_reports.iter().find(|r| r.cell == id);
    let mut radio = radio.clone();
    radio.collection_start_ms = start_ms;
    radio.granularity_ms = granularity_ms;
    Some(match kind {
        ActionKind::CellRadio => Payload::CellRadio(radio),
        ActionKind::Slice => Payload::Slice(slice_report(&radio, ues)),
        ActionKind::UeLevel => {
            let mut r = ues?.clone();
            if r.ues.is_empty() {
                return None;
            }
            r.collection_start_ms = start_ms;
            r.granularity_ms = granularity_ms;
            Payload::Ue(r)
        }
    })
}

impl Sim {
    /// Hands `ue` over to `target` in the twin, for a control sent to node number `node`;
    /// the UE's serving cell before it.
    pub(crate) fn apply_handover(
        &self,
        node: usize,
        ue: UeId,
        target: CellId,
    ) -> Result<CellId, (E2Cause, String)> {
        let Some(radio) = self.radio.as_ref() else {
            return Err((
                E2Cause::ActionNotSupported,
                "E2SM-RC style 3 action 1 (handover) is offered in radio mode only".into(),
            ));
        };
        let refused = |msg: String| {
            radio.handovers_refused.fetch_add(1, Ordering::Relaxed);
            Err((E2Cause::ControlMessageInvalid, msg))
        };
        let Some(source) = radio.serving(ue) else {
            return refused(format!("{ue} is not a UE of this network"));
        };
        if self.find_cell(node, &source).is_none() {
            return refused(format!(
                "{ue} is served by {source}, not by a cell of node {}",
                self.nodes[node].id
            ));
        }
        match radio.with(|t| t.handover(ue, target)) {
            Ok(()) => {
                radio.handovers_applied.fetch_add(1, Ordering::Relaxed);
                Ok(source)
            }
            Err(HandoverRefusal::UnknownCell(c)) => refused(format!(
                "target {c} is not a neighbour cell this node knows"
            )),
            Err(e) => refused(e.to_string()),
        }
    }

    /// Radio mode: caps `cell`'s PRB use at the eMBB slice's max ratio of `quotas`.
    pub(crate) fn restrict_radio(&self, cell: &CellId, quotas: &[nf_core::policy::WireQuota]) {
        if let Some(radio) = self.radio.as_ref()
            && let Some((_, _, max, _)) = quotas.iter().find(|(s, ..)| *s == EMBB)
        {
            radio.with(|t| t.restrict(*cell, *max));
            radio.restrictions.fetch_add(1, Ordering::Relaxed);
        }
    }
}
