//! The replay task of one KPM subscription: one report per subscribed cell per period,
//! handed to a [`ReportSink`] that encodes and sends it the way its RIC expects
//! ([`GrpcSink`]: SD-RAN E2T gRPC with PROTO payloads; `osc::OscSink`: RMR with APER).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use e2_asn1::kpm::KpmVersion;
use e2_proto::pb::e2t::{
    Encoding, Indication, ResponseHeaders, SubscribeResponse, subscribe_response,
};
use e2_proto::record::{RecordedIndication, record_entry};
use nf_core::{CellId, KpmReport, Meas, MeasVec, Snssai};
use tokio::sync::{mpsc, watch};
use tokio::time::MissedTickBehavior;

use super::{Sim, SimCell};

/// A payload fault injected in place of the encoded KPM indication message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PayloadFault {
    /// Bytes that are not a KPM message.
    Malformed,
    /// 1 MiB of garbage.
    Oversize,
}

impl PayloadFault {
    /// The bytes sent instead of the indication message.
    pub fn bytes(self) -> Vec<u8> {
        match self {
            PayloadFault::Malformed => vec![0x0a, 0xff, 0xff, 0xff, 0x7f, 0x01],
            PayloadFault::Oversize => vec![0x55; 1 << 20],
        }
    }
}

/// One report of one cell, ready to be encoded by a sink.
#[derive(Clone, Debug)]
pub(crate) struct Report {
    /// Node number.
    pub node: usize,
    /// Global cell index (the first half of the call process id).
    pub cell_index: usize,
    /// The cell's global identity.
    pub cell: CellId,
    pub payload: Payload,
    /// (cell index, send number): what a control echoes for its round trip.
    pub call_process_id: [u8; 8],
    /// Report number of this cell within the subscription.
    pub seq: u64,
    pub fault: Option<PayloadFault>,
    /// The RIC action it reports on, when the cell alone does not say (radio mode: several
    /// actions per cell); `None`: the sink's cell → action map.
    pub action_id: Option<u8>,
}

/// What one indication reports.
#[derive(Clone, Debug)]
pub(crate) enum Payload {
    /// Report style 1, slice measurements (message format 1).
    Slice(KpmReport),
    /// Report style 1, the cell radio report (radio mode).
    CellRadio(nf_core::radio::CellRadio),
    /// Report style 4, UE-level (message format 3; radio mode).
    Ue(nf_core::radio::UeLevelReport),
}

/// What became of a report handed to a sink.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Delivery {
    Sent,
    /// Dropped (a full queue, no route): counted, the replay goes on.
    Dropped,
    /// The subscriber is gone: the replay ends.
    Closed,
}

/// Where a replay's reports go: encodes them for one RIC flavour and sends them.
pub(crate) trait ReportSink: Send + 'static {
    /// Sends one report; `wait` (as fast as possible mode) waits for room instead of
    /// dropping when the transport queues are full.
    fn emit(
        &mut self,
        sim: &Sim,
        report: Report,
        wait: bool,
    ) -> impl Future<Output = Delivery> + Send;
}

/// The SD-RAN E2T sink: indications on the subscription's gRPC stream, E2SM payloads in
/// the encoding the subscriber asked for (PROTO, or ASN1_PER with the node's KPM version),
/// each carrying the RIC action ID it reports on.
pub(crate) struct GrpcSink {
    pub tx: mpsc::Sender<Result<SubscribeResponse, tonic::Status>>,
    pub encoding: Encoding,
    pub kpm: KpmVersion,
    /// Global cell index → RIC action ID.
    pub actions: HashMap<usize, u8>,
}

impl ReportSink for GrpcSink {
    async fn emit(&mut self, sim: &Sim, r: Report, wait: bool) -> Delivery {
        let meas_info = sim.cfg.meas_info_in_indications;
        let aper = self.encoding == Encoding::Asn1Per;
        let (header, mut payload) = match (&r.payload, aper) {
            (Payload::Slice(k), true) => e2_asn1::kpm::encode_indication(k, meas_info, self.kpm),
            (Payload::Slice(k), false) => e2_proto::kpm::encode_indication(k, meas_info),
            (Payload::CellRadio(c), true) => {
                e2_asn1::kpm::radio::encode_cell_radio_indication(c, self.kpm)
            }
            (Payload::CellRadio(c), false) => e2_proto::kpm::radio::encode_cell_radio_indication(c),
            (Payload::Ue(u), true) => e2_asn1::kpm::radio::encode_ue_indication(u, self.kpm),
            (Payload::Ue(u), false) => e2_proto::kpm::radio::encode_ue_indication(u),
        };
        if payload.is_empty() {
            // Nothing the encoding can carry (e.g. no UE ID fits): not sent, counted.
            return Delivery::Dropped;
        }
        if let Some(f) = r.fault {
            payload = f.bytes();
        }
        let call_process_id = r.call_process_id.to_vec();
        sim.tap(
            r.node,
            record_entry::Kind::Indication(RecordedIndication {
                header: header.clone(),
                payload: payload.clone(),
                call_process_id: call_process_id.clone(),
            }),
        );
        let msg = SubscribeResponse {
            headers: Some(ResponseHeaders {
                encoding: self.encoding as i32,
            }),
            message: Some(subscribe_response::Message::Indication(Indication {
                header,
                payload,
                call_process_id,
                action_id: r
                    .action_id
                    .or_else(|| self.actions.get(&r.cell_index).copied())
                    .map(u32::from),
            })),
        };
        let sent = if wait {
            self.tx
                .send(Ok(msg))
                .await
                .map_err(|e| mpsc::error::TrySendError::Closed(e.0))
        } else {
            self.tx.try_send(Ok(msg))
        };
        match sent {
            Ok(()) => Delivery::Sent,
            Err(mpsc::error::TrySendError::Full(_)) => Delivery::Dropped,
            Err(mpsc::error::TrySendError::Closed(_)) => Delivery::Closed,
        }
    }
}

/// The window's slices in the order of the cell's announced slices (the subscription's
/// record layout). A slice with no data in this window gets an all-missing measurement
/// vector, which the encoder writes as KPM `noValue` records: the record count always
/// matches the layout, and the xApp reads "no data for this slice in this window".
fn in_layout(announced: &[Snssai], present: &[(Snssai, MeasVec)]) -> Vec<(Snssai, MeasVec)> {
    announced
        .iter()
        .map(|s| {
            let meas = present
                .iter()
                .find(|(p, _)| p == s)
                .map_or_else(MeasVec::default, |(_, m)| *m);
            (*s, meas)
        })
        .collect()
}

/// Most report phases within one period.
const MAX_GROUPS: usize = 50;

/// What one subscription streams.
pub(super) struct Replay<S> {
    pub sim: Arc<Sim>,
    pub node: usize,
    /// Indices into the node's cells.
    pub cells: Vec<usize>,
    pub period_ms: u32,
    pub sink: S,
    pub unsubscribed: watch::Receiver<bool>,
}

pub(crate) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl<S: ReportSink> Replay<S> {
    pub async fn run(mut self) {
        let period_wall = Duration::from_secs_f64(
            f64::from(self.period_ms) / 1000.0 / self.sim.cfg.speed.max(1e-3),
        );
        // Cells report at their own phase within the period (as independent gNBs do), in
        // `groups` evenly spaced bursts; `stagger = false` sends every cell at once.
        let groups = if self.sim.cfg.stagger {
            self.cells.len().clamp(1, MAX_GROUPS)
        } else {
            1
        };
        let wall = period_wall / groups as u32;
        let started = tokio::time::Instant::now();
        let mut tick = tokio::time::interval_at(started, wall);
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut shutdown = self.sim.shutdown.subscribe();
        // Collection periods are aligned to the period, starting at the subscription.
        let period = u64::from(self.period_ms);
        let epoch0 = unix_ms() / period * period;
        let mut seq: u64 = 0;
        let mut step: u64 = 0;
        let mut last_tick = tokio::time::Instant::now();
        let afap = self.sim.cfg.as_fast_as_possible;
        // A live node's collection periods follow its clock: when this task falls behind
        // (ticks skipped on a starved host, counted), the periods it missed are skipped too,
        // not stamped later and later. A trace-time replay sends every window instead.
        let clock_steps = !afap && !self.sim.cfg.trace_time;
        let lengths: Vec<u64> = self
            .cells
            .iter()
            .map(|&c| self.sim.windows[self.sim.nodes[self.node].cells[c].trace].len() as u64)
            .collect();
        let longest = lengths.iter().copied().max().unwrap_or(0);
        loop {
            if self.sim.cfg.play_once && seq >= longest {
                self.sim
                    .stats
                    .replays_finished
                    .fetch_add(1, Ordering::Relaxed);
                tokio::select! {
                    _ = shutdown.wait_for(|s| *s) => {}
                    _ = self.unsubscribed.wait_for(|s| *s) => {}
                }
                return;
            }
            if afap {
                if *shutdown.borrow() || *self.unsubscribed.borrow() {
                    return;
                }
            } else {
                tokio::select! {
                    t = tick.tick() => {
                        let late = t.saturating_duration_since(last_tick);
                        if seq > 0 && late > wall * 2 {
                            let skipped = (late.as_nanos() / wall.as_nanos().max(1)) as u64 - 1;
                            self.sim.stats.ticks_skipped.fetch_add(skipped, Ordering::Relaxed);
                        }
                        last_tick = t;
                        if clock_steps {
                            step = (t.saturating_duration_since(started).as_nanos()
                                / wall.as_nanos().max(1)) as u64;
                            seq = step / groups as u64;
                        }
                    }
                    _ = shutdown.wait_for(|s| *s) => return,
                    _ = self.unsubscribed.wait_for(|s| *s) => return,
                }
            }
            let group = (step % groups as u64) as usize;
            step += 1;
            // A cell reporting at its own phase also collects at that phase: its period
            // ends as it reports, so a report's age on arrival is transit only.
            let start_ms = epoch0 + seq * period + group as u64 * period / groups as u64;
            for (k, &c) in self.cells.iter().enumerate().skip(group).step_by(groups) {
                if self.sim.cfg.play_once && seq >= lengths[k] {
                    continue;
                }
                let cell = &self.sim.nodes[self.node].cells[c];
                let send = self.sim.next_send(cell.index);
                let report = self.report(cell, seq, send, start_ms);
                match self.sink.emit(&self.sim, report, afap).await {
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
            if group + 1 == groups {
                seq += 1;
            }
        }
    }

    /// Report `seq` of `cell`'s trace, numbered `send` for the control to echo, with the
    /// faults due at this point of the stream applied (or scheduled, for payload faults).
    fn report(&self, cell: &SimCell, seq: u64, send: u64, start_ms: u64) -> Report {
        let windows = &self.sim.windows[cell.trace];
        let w = windows.get((cell.offset + seq as usize) % windows.len().max(1));
        let mut report = KpmReport {
            cell: cell.info.cell,
            collection_start_ms: match (self.sim.cfg.trace_time, w) {
                (true, Some(w)) => w.start_ms + self.sim.time_shift_ms[cell.trace],
                _ => start_ms,
            },
            granularity_ms: self.period_ms,
            cell_meas: w.map(|w| w.cell).unwrap_or_default(),
            slices: in_layout(&cell.info.slices, w.map_or(&[], |w| &w.slices)),
        };
        let n = self.sim.stats.indications_sent.load(Ordering::Relaxed) + 1;
        let faults = self.sim.cfg.faults;
        let hit = |every: u64| every > 0 && n.is_multiple_of(every);
        if hit(self.sim.cfg.future_stamp_every) {
            report.collection_start_ms = report
                .collection_start_ms
                .saturating_add(10 * 365 * 86_400_000);
        }
        if hit(faults.nan_every) && !hit(faults.malformed_every) && !hit(faults.oversize_every) {
            if let Some((_, m)) = report.slices.first_mut() {
                m.set(Meas::PrbUsedDl, f32::INFINITY);
                m.set(Meas::UeThpDl, f32::NEG_INFINITY);
            }
            self.sim.stats.faults_nan.fetch_add(1, Ordering::Relaxed);
        }
        let fault = if hit(faults.malformed_every) {
            self.sim
                .stats
                .faults_malformed
                .fetch_add(1, Ordering::Relaxed);
            Some(PayloadFault::Malformed)
        } else if hit(faults.oversize_every) {
            self.sim
                .stats
                .faults_oversize
                .fetch_add(1, Ordering::Relaxed);
            Some(PayloadFault::Oversize)
        } else {
            None
        };
        let cpid = ((cell.index as u64) << 32) | (send & 0xffff_ffff);
        Report {
            node: self.node,
            cell_index: cell.index,
            cell: cell.info.cell,
            payload: Payload::Slice(report),
            call_process_id: cpid.to_be_bytes(),
            seq,
            fault,
            action_id: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use e2_proto::kpm::{Layouts, Limits, decode_indication, encode_indication, layout};
    use nf_core::CellId;

    #[test]
    fn a_slice_without_data_is_sent_as_no_value_records_and_read_as_absent() {
        let (a, b) = (Snssai::new(1, None), Snssai::new(2, None));
        let mut m = MeasVec::default();
        m.set(Meas::PrbUsedDl, 3.0);
        let slices = in_layout(&[a, b], &[(b, m)]);
        assert_eq!(slices.len(), 2);
        assert!(slices[0].1.get(Meas::PrbUsedDl).is_nan());
        let report = KpmReport {
            cell: CellId::new(super::super::PLMN, 7),
            collection_start_ms: 1_000,
            granularity_ms: 250,
            cell_meas: MeasVec::default(),
            slices,
        };
        let (h, p) = encode_indication(&report, false);
        let layouts: Layouts = [(report.cell, layout(&[a, b]))].into_iter().collect();
        let (back, notes) = decode_indication(&h, &p, &Limits::default(), Some(&layouts)).unwrap();
        assert_eq!(back.slices.len(), 1, "{back:?}");
        assert_eq!(back.slices[0].0, b);
        assert_eq!(back.slices[0].1.get(Meas::PrbUsedDl), 3.0);
        assert!(notes.no_values as usize >= Meas::PER_SLICE.len());
    }
}
