//! E2T simulator: E2 nodes and cells built from recorded traces, served over the E2T
//! northbound gRPC API (`onos.e2t.e2.v1beta1`, `onos.e2t.admin`).
//!
//! Each simulated cell replays one trace cell from its own offset (so many cells can share
//! a few recordings without moving in lockstep). A KPM subscription starts a replay task
//! that emits one indication per cell per reporting period (divided by the speed-up).
//! Controls are decoded, validated against the E2SM-RC slice-level PRB quota rules,
//! recorded and answered. Every indication carries an 8-byte call process id (cell index,
//! sequence); a control that echoes it gives the indication→control round trip, measured
//! on the simulator's own clock.

mod control_log;
pub mod osc;
pub mod radio;
mod replay;
pub(crate) mod service;
mod sub_log;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use e2_asn1::kpm::KpmVersion;
use e2_asn1::rc::RcProfile;
use e2_proto::cause::E2Cause;
use e2_proto::kpm::CellInfo;
use e2_proto::record::{
    RecordEntry, RecordHeader, RecordWriter, RecordedCell, RecordedNode, RecordedSlice,
    record_entry,
};
use nf_core::CellId;
use nf_core::latency::LatencyHistogram;
use nf_core::policy::{SliceQuota, WireQuota};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::trace::CellTrace;

pub use control_log::{ControlParameter, ControlRecord};
pub use service::{serve, serve_tls};
pub use sub_log::{SubscriptionEvent, SubscriptionRecord};

/// PLMN of the simulated network: MCC 001, MNC 01 (test network).
pub const PLMN: [u8; 3] = [0x00, 0xf1, 0x10];
/// An unanswered indication's send time is kept this long [ns] (and at most
/// [`MAX_OUTSTANDING`] per cell); a control answering one forgotten is counted in
/// [`SimStats::rtt_discarded`] rather than measured.
const FORGET_AFTER_NS: u64 = 30_000_000_000;
/// Most unanswered send times kept per cell.
const MAX_OUTSTANDING: usize = 1 << 16;
/// Added to the times of a trace that starts at 0 (KPM's collection start time 0 reads
/// as absent): one day, a multiple of every usual report period [ms].
const ZERO_TIME_SHIFT_MS: u64 = 86_400_000;
/// gRPC message size limit of the simulator [bytes].
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// Faults injected into the indication stream (every Nth indication of the whole stream; 0 = never).
#[derive(Clone, Copy, Debug, Default)]
pub struct Faults {
    /// Replace the payload by bytes that are not a KPM message.
    pub malformed_every: u64,
    /// Put NaN into a slice's `RRU.PrbUsedDl`.
    pub nan_every: u64,
    /// Send a payload of 1 MiB of garbage.
    pub oversize_every: u64,
}

/// Shape of the simulated network.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub nodes: usize,
    pub cells_per_node: usize,
    /// Replay speed-up: 1 is real time, 10 plays 10 periods per period.
    pub speed: f64,
    pub faults: Faults,
    /// Bound of each subscription's outgoing queue [indications]; a full queue drops.
    pub stream_queue: usize,
    /// Spread the cells' reports over the period instead of sending them all at once.
    pub stagger: bool,
    /// Offer the `airan.e2t.v1` control stream (off: only SD-RAN's unary Control).
    pub control_stream: bool,
    /// Repeat the measurement-info list in every indication (it is optional: without it
    /// the records follow the subscription's action definition).
    pub meas_info_in_indications: bool,
    /// Replay: each cell plays its trace once from the start (no offsets, no looping).
    pub play_once: bool,
    /// Stamp indications with the trace's own collection times instead of the wall clock.
    pub trace_time: bool,
    /// Send as fast as the xApp reads (gRPC flow control paces the stream) instead of one
    /// period per period / speed.
    pub as_fast_as_possible: bool,
    /// Stamp every Nth indication of the stream 10 years ahead (0 = never): a hostile or
    /// broken node clock.
    pub future_stamp_every: u64,
    /// Total cells, spread as evenly as possible over the nodes (each trace cell once when
    /// it equals the number of traces); `None`: `nodes × cells_per_node`.
    pub total_cells: Option<usize>,
    /// A control answered later than this after its indication counts as late [ns]
    /// (0: not counted).
    pub late_after_ns: u64,
    /// Serve `E2TAdminService.ListE2NodeConnections` (off: `UNIMPLEMENTED`, like current
    /// onos-e2t, which leaves discovery to onos-topo).
    pub list_nodes: bool,
    /// Node numbers speaking E2SM-KPM v02.03 under `ASN1_PER` (the others v03.00).
    pub kpm_v2_nodes: Vec<usize>,
    /// E2SM-RC RAN parameter-ID profile of every node under `ASN1_PER` (srsRAN's by
    /// default, as the O-RAN SC face), unless overridden in `rc_profiles`.
    pub rc_profile: RcProfile,
    /// Per-node RC profile overrides (node number, profile).
    pub rc_profiles: Vec<(usize, RcProfile)>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            nodes: 2,
            cells_per_node: 4,
            speed: 1.0,
            faults: Faults::default(),
            stream_queue: 4096,
            stagger: true,
            control_stream: true,
            meas_info_in_indications: false,
            play_once: false,
            trace_time: false,
            as_fast_as_possible: false,
            future_stamp_every: 0,
            total_cells: None,
            late_after_ns: 0,
            list_nodes: true,
            kpm_v2_nodes: Vec::new(),
            rc_profile: RcProfile::Srsran,
            rc_profiles: Vec::new(),
        }
    }
}

/// The recording tap.
struct Tap {
    writer: RecordWriter<std::io::BufWriter<std::fs::File>>,
    origin: Instant,
}

impl std::fmt::Debug for Tap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tap")
            .field("entries", &self.writer.entries())
            .finish()
    }
}

/// One simulated cell.
#[derive(Debug)]
pub struct SimCell {
    pub index: usize,
    pub info: CellInfo,
    pub trace: usize,
    pub offset: usize,
}

/// One simulated E2 node.
#[derive(Debug)]
pub struct SimNode {
    pub id: String,
    pub cells: Vec<SimCell>,
}

/// Counters of the simulator.
#[derive(Debug, Default)]
pub struct SimStats {
    pub subscriptions: AtomicU64,
    /// Of those, gRPC subscriptions with ASN1_PER payloads.
    pub aper_subscriptions: AtomicU64,
    pub unsubscriptions: AtomicU64,
    pub indications_sent: AtomicU64,
    pub indications_dropped: AtomicU64,
    pub ticks_skipped: AtomicU64,
    pub faults_malformed: AtomicU64,
    pub faults_nan: AtomicU64,
    pub faults_oversize: AtomicU64,
    pub controls_received: AtomicU64,
    /// Of those, how many came over the control stream extension.
    pub controls_via_stream: AtomicU64,
    pub controls_accepted: AtomicU64,
    pub controls_rejected: AtomicU64,
    /// Subscriptions whose cells have all played their trace once (`play_once`).
    pub replays_finished: AtomicU64,
    /// Controls whose indication's send time was no longer known (unanswered for more
    /// than 30 s, or past the per-cell bound): their round trip is missing from the
    /// histogram.
    pub rtt_discarded: AtomicU64,
    /// Controls answered later than [`SimConfig::late_after_ns`] after their indication.
    pub controls_late: AtomicU64,
}

/// Per-cell record of accepted controls.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CellControls {
    pub accepted: u64,
    pub last: Vec<SliceQuota>,
}

/// The simulator's state, shared by its services.
#[derive(Debug)]
pub struct Sim {
    pub cfg: SimConfig,
    pub nodes: Vec<SimNode>,
    /// Every window of each trace, flattened across runs.
    windows: Vec<Vec<crate::trace::Window>>,
    /// Per trace: added to its window times when stamping with trace time.
    time_shift_ms: Vec<u64>,
    pub stats: SimStats,
    origin: Instant,
    /// Per cell: indications built so far, over every subscription: the number a control
    /// echoes (in its call process id) only ever grows, so `outstanding` stays sorted.
    sends: Vec<AtomicU64>,
    /// Per cell: (send number, send time) of indications not answered yet, oldest first.
    outstanding: Vec<Mutex<VecDeque<(u64, u64)>>>,
    rtt: Mutex<LatencyHistogram>,
    controls: Mutex<HashMap<CellId, CellControls>>,
    /// Cell identity → (node, cell) positions.
    cell_index: HashMap<CellId, (usize, usize)>,
    subs: Mutex<HashMap<(String, String, String), watch::Sender<bool>>>,
    tap: Mutex<Option<Tap>>,
    shutdown: watch::Sender<bool>,
    /// Every control received with its sender (bounded, oldest dropped and counted).
    control_log: Mutex<control_log::ControlLog>,
    /// Every KPM subscription opened and closed on the gRPC face (bounded).
    sub_log: Mutex<sub_log::SubscriptionLog>,
    /// Radio mode: the twin behind the cells.
    pub radio: Option<radio::Radio>,
}

impl Sim {
    /// Builds the network: `nodes × cells_per_node` cells over the given trace cells.
    pub fn new(cfg: SimConfig, traces: Vec<CellTrace>) -> Arc<Self> {
        assert!(
            !traces.is_empty(),
            "the simulator needs at least one trace cell"
        );
        let counts = cells_per_node(&cfg);
        let firsts: Vec<usize> = counts
            .iter()
            .scan(0, |acc, c| {
                let first = *acc;
                *acc += c;
                Some(first)
            })
            .collect();
        let nodes: Vec<SimNode> = (0..cfg.nodes)
            .map(|n| SimNode {
                id: format!("e2:4/{:x}", 0xe0000 + n),
                cells: (0..counts[n])
                    .map(|i| {
                        let index = firsts[n] + i;
                        let trace = index % traces.len();
                        let len = traces[trace].windows().count().max(1);
                        SimCell {
                            index,
                            info: CellInfo {
                                cell: CellId::new(PLMN, ((n as u64 + 1) << 14) | i as u64),
                                slices: traces[trace].slices(),
                                prb_total_dl: crate::trace::CELL_PRBS as u32,
                            },
                            trace,
                            offset: if cfg.play_once { 0 } else { (index * 97) % len },
                        }
                    })
                    .collect(),
            })
            .collect();
        let total = counts.iter().sum::<usize>();
        let windows: Vec<Vec<_>> = traces
            .iter()
            .map(|t| t.windows().cloned().collect())
            .collect();
        let time_shift_ms = windows
            .iter()
            .map(|w| match w.first() {
                Some(first) if first.start_ms == 0 => ZERO_TIME_SHIFT_MS,
                _ => 0,
            })
            .collect();
        let cell_index = nodes
            .iter()
            .enumerate()
            .flat_map(|(n, node)| {
                node.cells
                    .iter()
                    .enumerate()
                    .map(move |(c, cell)| (cell.info.cell, (n, c)))
            })
            .collect();
        Arc::new(Self {
            cfg,
            nodes,
            windows,
            time_shift_ms,
            stats: SimStats::default(),
            origin: Instant::now(),
            sends: (0..total).map(|_| AtomicU64::new(0)).collect(),
            outstanding: (0..total).map(|_| Mutex::new(VecDeque::new())).collect(),
            rtt: Mutex::new(LatencyHistogram::new()),
            controls: Mutex::new(HashMap::new()),
            subs: Mutex::new(HashMap::new()),
            cell_index,
            tap: Mutex::new(None),
            shutdown: watch::channel(false).0,
            control_log: Mutex::new(control_log::ControlLog::default()),
            sub_log: Mutex::new(sub_log::SubscriptionLog::default()),
            radio: None,
        })
    }

    /// Radio mode: the cells of `twin` (one eMBB slice each, the twin's PRBs) spread over
    /// `cfg.nodes` nodes (`cells_per_node` and `total_cells` are ignored), the twin stepped
    /// once per second of twin time while the simulator serves.
    pub fn new_radio(mut cfg: SimConfig, twin: crate::radio::RadioTwin) -> Arc<Self> {
        let cells = twin.cells().to_vec();
        let prbs = twin.config().prbs;
        cfg.total_cells = Some(cells.len());
        cfg.play_once = false;
        let counts = cells_per_node(&cfg);
        let mut next = cells.iter();
        let mut index = 0;
        let nodes: Vec<SimNode> = counts
            .iter()
            .enumerate()
            .map(|(n, &count)| SimNode {
                id: format!("e2:4/{:x}", 0xe0000 + n),
                cells: next
                    .by_ref()
                    .take(count)
                    .map(|&cell| {
                        index += 1;
                        SimCell {
                            index: index - 1,
                            info: CellInfo {
                                cell,
                                slices: vec![radio::EMBB],
                                prb_total_dl: prbs,
                            },
                            trace: 0,
                            offset: 0,
                        }
                    })
                    .collect(),
            })
            .collect();
        let total = cells.len();
        let cell_index = nodes
            .iter()
            .enumerate()
            .flat_map(|(n, node)| {
                node.cells
                    .iter()
                    .enumerate()
                    .map(move |(c, cell)| (cell.info.cell, (n, c)))
            })
            .collect();
        Arc::new(Self {
            cfg,
            nodes,
            windows: vec![Vec::new()],
            time_shift_ms: vec![0],
            stats: SimStats::default(),
            origin: Instant::now(),
            sends: (0..total).map(|_| AtomicU64::new(0)).collect(),
            outstanding: (0..total).map(|_| Mutex::new(VecDeque::new())).collect(),
            rtt: Mutex::new(LatencyHistogram::new()),
            controls: Mutex::new(HashMap::new()),
            subs: Mutex::new(HashMap::new()),
            cell_index,
            tap: Mutex::new(None),
            shutdown: watch::channel(false).0,
            control_log: Mutex::new(control_log::ControlLog::default()),
            sub_log: Mutex::new(sub_log::SubscriptionLog::default()),
            radio: Some(radio::Radio::new(twin)),
        })
    }

    /// Windows of the trace behind each cell, summed: what the simulator sends when every
    /// cell plays its trace once.
    pub fn cell_windows(&self) -> u64 {
        self.nodes
            .iter()
            .flat_map(|n| n.cells.iter())
            .map(|c| self.windows[c.trace].len() as u64)
            .sum()
    }

    /// Starts recording indications sent and controls received to `path`
    /// (`airan.record.v1`).
    pub fn record_to(&self, path: &std::path::Path, period_ms: u32) -> std::io::Result<()> {
        let header = RecordHeader {
            version: 0,
            source: "e2sim tap".into(),
            created_unix_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            report_period_ms: period_ms,
            nodes: self
                .nodes
                .iter()
                .map(|n| RecordedNode {
                    e2_node_id: n.id.clone(),
                    cells: n
                        .cells
                        .iter()
                        .map(|c| RecordedCell {
                            plmn: c.info.cell.plmn.to_vec(),
                            nci: c.info.cell.nci,
                            slices: c
                                .info
                                .slices
                                .iter()
                                .map(|s| RecordedSlice {
                                    sst: u32::from(s.sst),
                                    sd: s.sd,
                                })
                                .collect(),
                            prb_total_dl: c.info.prb_total_dl,
                        })
                        .collect(),
                })
                .collect(),
        };
        let file = std::io::BufWriter::new(std::fs::File::create(path)?);
        let w = RecordWriter::new(file, header)?;
        if let Ok(mut t) = self.tap.lock() {
            *t = Some(Tap {
                writer: w,
                origin: Instant::now(),
            });
        }
        Ok(())
    }

    /// Stops recording and flushes; returns the entries written.
    pub fn finish_recording(&self) -> std::io::Result<u64> {
        let tap = self.tap.lock().ok().and_then(|mut t| t.take());
        match tap {
            Some(t) => {
                let n = t.writer.entries();
                t.writer.finish()?;
                Ok(n)
            }
            None => Ok(0),
        }
    }

    pub(crate) fn tap(&self, node: usize, kind: record_entry::Kind) {
        if let Ok(mut guard) = self.tap.lock()
            && let Some(t) = guard.as_mut()
        {
            let entry = RecordEntry {
                t_ns: t.origin.elapsed().as_nanos() as u64,
                e2_node_id: self.nodes[node].id.clone(),
                kind: Some(kind),
            };
            if let Err(e) = t.writer.write(&entry) {
                tracing::error!(cause = %e, "recording stopped");
                *guard = None;
            }
        }
    }

    fn now_ns(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }

    /// The next send number of cell `cell_index` (echoed by its control).
    fn next_send(&self, cell_index: usize) -> u64 {
        self.sends[cell_index].fetch_add(1, Ordering::Relaxed)
    }

    fn note_sent(&self, cell_index: usize, seq: u64) {
        let now = self.now_ns();
        if let Some(Ok(mut q)) = self.outstanding.get(cell_index).map(Mutex::lock) {
            while q.len() >= MAX_OUTSTANDING
                || q.front().is_some_and(|(_, t)| now - t > FORGET_AFTER_NS)
            {
                q.pop_front();
            }
            q.push_back((seq, now));
        }
    }

    /// Records the round trip of the indication a control answered; a control for one no
    /// longer known is counted in [`SimStats::rtt_discarded`].
    fn note_answered(&self, call_process_id: &[u8]) {
        let Ok(bytes) = <[u8; 8]>::try_from(call_process_id) else {
            return;
        };
        let v = u64::from_be_bytes(bytes);
        let (cell, seq) = ((v >> 32) as usize, v & 0xffff_ffff);
        let Some(Ok(mut q)) = self.outstanding.get(cell).map(Mutex::lock) else {
            return;
        };
        let Ok(at) = q.binary_search_by_key(&seq, |(s, _)| *s) else {
            drop(q);
            self.stats.rtt_discarded.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let sent_ns = q.remove(at).map_or(0, |(_, ns)| ns);
        drop(q);
        let rtt = self.now_ns().saturating_sub(sent_ns);
        if self.cfg.late_after_ns > 0 && rtt > self.cfg.late_after_ns {
            self.stats.controls_late.fetch_add(1, Ordering::Relaxed);
        }
        if let Ok(mut h) = self.rtt.lock() {
            h.record_ns(rtt);
        }
    }

    /// The cell with global identity `cell` on node number `node`.
    pub fn find_cell(&self, node: usize, cell: &CellId) -> Option<&SimCell> {
        let (n, c) = *self.cell_index.get(cell)?;
        (n == node).then(|| &self.nodes[n].cells[c])
    }

    /// Indication→control round trips seen so far.
    pub fn round_trips(&self) -> LatencyHistogram {
        self.rtt.lock().map(|h| h.clone()).unwrap_or_default()
    }

    /// Clears the round-trip histogram (e.g. after a warm-up).
    pub fn reset_round_trips(&self) {
        if let Ok(mut h) = self.rtt.lock() {
            *h = LatencyHistogram::new();
        }
    }

    /// Accepted controls per cell.
    pub fn controls(&self) -> HashMap<CellId, CellControls> {
        self.controls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Validates slice quotas for cell `cell` of node number `node` and records them: the
    /// rules every control path shares (SD-RAN gRPC / PROTO and O-RAN SC RMR / APER).
    pub(crate) fn apply_quotas(
        &self,
        node: usize,
        cell: &CellId,
        quotas: &[WireQuota],
    ) -> Result<(), (E2Cause, String)> {
        let node_id = &self.nodes[node].id;
        let found = self.find_cell(node, cell).ok_or_else(|| {
            (
                E2Cause::ControlMessageInvalid,
                format!("cell {cell} is not on node {node_id}"),
            )
        })?;
        nf_core::guard::validate(quotas)
            .map_err(|e| (E2Cause::ControlMessageInvalid, e.to_string()))?;
        if let Some((s, ..)) = quotas.iter().find(|(s, ..)| !found.info.slices.contains(s)) {
            return Err((
                E2Cause::ControlMessageInvalid,
                format!("slice {s} is not configured on cell {cell}"),
            ));
        }
        self.record_control(*cell, quotas);
        Ok(())
    }

    /// Counts one control whichever transport brought it, records it on the tap (when its
    /// node is known) and, once accepted, times the round trip its call process id names.
    pub(crate) fn account_control(
        &self,
        node: Option<usize>,
        header: Vec<u8>,
        payload: Vec<u8>,
        call_process_id: &[u8],
        outcome: Result<(), (E2Cause, String)>,
    ) {
        self.stats.controls_received.fetch_add(1, Ordering::Relaxed);
        if let Some(node) = node {
            let cause = match &outcome {
                Ok(()) => String::new(),
                Err((c, _)) => c.label().to_owned(),
            };
            self.tap(
                node,
                record_entry::Kind::Control(e2_proto::record::RecordedControl {
                    header,
                    payload,
                    call_process_id: call_process_id.to_vec(),
                    accepted: outcome.is_ok(),
                    cause,
                }),
            );
        }
        match &outcome {
            Ok(()) => {
                self.stats.controls_accepted.fetch_add(1, Ordering::Relaxed);
                self.note_answered(call_process_id);
            }
            Err((cause, msg)) => {
                self.stats.controls_rejected.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(cause = cause.label(), reason = %msg, "control rejected");
            }
        }
    }

    fn record_control(&self, cell: CellId, quotas: &[WireQuota]) {
        if let Ok(mut all) = self.controls.lock() {
            let e = all.entry(cell).or_default();
            e.accepted += 1;
            e.last = quotas.iter().map(SliceQuota::from_wire).collect();
        }
    }

    /// The cells an `ASN1_PER` slice quota control applies to (E2SM-RC names no cell): the
    /// one whose indication its call process id echoes, or every cell of node number
    /// `node` (a node-wide policy).
    pub(crate) fn control_targets(
        &self,
        node: usize,
        call_process_id: Option<&[u8]>,
    ) -> Vec<CellId> {
        let cells = &self.nodes[node].cells;
        let echoed = call_process_id
            .and_then(|c| <[u8; 8]>::try_from(c).ok())
            .map(|b| (u64::from_be_bytes(b) >> 32) as usize)
            .and_then(|idx| cells.iter().find(|c| c.index == idx));
        match echoed {
            Some(c) => vec![c.info.cell],
            None => cells.iter().map(|c| c.info.cell).collect(),
        }
    }

    /// The E2SM-KPM version node number `node` speaks under `ASN1_PER`.
    pub fn kpm_version(&self, node: usize) -> KpmVersion {
        if self.cfg.kpm_v2_nodes.contains(&node) {
            KpmVersion::V2_03
        } else {
            KpmVersion::V3_00
        }
    }

    /// The E2SM-RC RAN parameter-ID profile of node number `node` under `ASN1_PER`.
    pub fn rc_profile(&self, node: usize) -> RcProfile {
        self.cfg
            .rc_profiles
            .iter()
            .rev()
            .find(|(n, _)| *n == node)
            .map_or(self.cfg.rc_profile, |(_, p)| *p)
    }

    /// Logs one control received (whoever sent it, accepted or not); `t_ms` is set here
    /// (milliseconds since the simulator started).
    pub(crate) fn log_control(&self, mut record: ControlRecord) {
        record.t_ms = self.origin.elapsed().as_millis() as u64;
        tracing::info!(
            app_id = %record.app_id,
            node = %record.node,
            cells = ?record.cells.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ue = ?record.ue.map(|u| u.0),
            parameter = record.parameter.map_or("undecodable", ControlParameter::label),
            value = %record.value,
            accepted = record.accepted,
            cause = record.cause.unwrap_or(""),
            "control received"
        );
        if let Ok(mut log) = self.control_log.lock() {
            log.push(record);
        }
    }

    /// The controls received so far, oldest first (at most [`control_log::MAX_ENTRIES`]).
    pub fn control_log(&self) -> Vec<ControlRecord> {
        self.control_log
            .lock()
            .map(|l| l.entries().cloned().collect())
            .unwrap_or_default()
    }

    /// Controls that reached a node while another app's control on the same node, cell and
    /// RAN parameter (for a handover: the same UE) was less than `window_ms` old: direct
    /// conflicts (see [`control_log::direct_conflicts`]).
    pub fn direct_conflicts(&self, window_ms: u64) -> u64 {
        control_log::direct_conflicts(&self.control_log(), window_ms)
    }

    /// Logs a subscription of node number `node` opened now by `app_id` /
    /// `app_instance_id`; the guard logs it closed when the subscription's task ends.
    pub(crate) fn log_subscription(
        self: &Arc<Self>,
        app_id: &str,
        app_instance_id: &str,
        node: usize,
    ) -> SubscriptionGuard {
        let record = SubscriptionRecord {
            t_ms: self.origin.elapsed().as_millis() as u64,
            app_id: app_id.to_owned(),
            app_instance_id: app_instance_id.to_owned(),
            node: self.nodes[node].id.clone(),
            event: SubscriptionEvent::Opened,
        };
        self.push_subscription(record.clone());
        SubscriptionGuard {
            sim: self.clone(),
            record,
        }
    }

    fn push_subscription(&self, record: SubscriptionRecord) {
        if let Ok(mut log) = self.sub_log.lock() {
            log.push(record);
        }
    }

    /// The subscriptions opened and closed so far, oldest first (at most
    /// [`sub_log::MAX_ENTRIES`]).
    pub fn subscription_log(&self) -> Vec<SubscriptionRecord> {
        self.sub_log
            .lock()
            .map(|l| l.entries().cloned().collect())
            .unwrap_or_default()
    }

    /// Log entries dropped because the control log was full.
    pub fn control_log_dropped(&self) -> u64 {
        self.control_log.lock().map_or(0, |l| l.dropped())
    }

    /// Milliseconds since the simulator started: the clock of its control and subscription
    /// logs.
    pub fn elapsed_ms(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }

    /// Number of cells.
    pub fn cell_count(&self) -> usize {
        self.nodes.iter().map(|n| n.cells.len()).sum()
    }

    /// Ends every replay stream (used on shutdown so the server can drain).
    pub fn stop_streams(&self) {
        let _ = self.shutdown.send(true);
    }
}

/// Logs its subscription closed when its task ends (see [`Sim::log_subscription`]).
#[derive(Debug)]
pub(crate) struct SubscriptionGuard {
    sim: Arc<Sim>,
    record: SubscriptionRecord,
}

impl SubscriptionGuard {
    /// Runs `task` (the subscription's replay), then logs the subscription closed.
    pub async fn after(self, task: impl Future<Output = ()>) {
        task.await;
        let mut record = self.record;
        record.t_ms = self.sim.origin.elapsed().as_millis() as u64;
        record.event = SubscriptionEvent::Closed;
        self.sim.push_subscription(record);
    }
}

/// Cells of each node: `total_cells` spread evenly (the first nodes take one more), or
/// `cells_per_node` each.
fn cells_per_node(cfg: &SimConfig) -> Vec<usize> {
    let nodes = cfg.nodes.max(1);
    match cfg.total_cells {
        Some(total) => (0..nodes)
            .map(|n| total / nodes + usize::from(n < total % nodes))
            .collect(),
        None => vec![cfg.cells_per_node; nodes],
    }
}

/// A simulator serving on a loopback socket, for tests and benchmarks.
#[derive(Debug)]
pub struct RunningSim {
    pub addr: SocketAddr,
    pub sim: Arc<Sim>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    join: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
}

impl RunningSim {
    /// Serves `sim` on `listener`.
    pub fn start(sim: Arc<Sim>, listener: TcpListener) -> std::io::Result<Self> {
        Self::start_tls(sim, listener, None)
    }

    /// Serves `sim` on `listener`, through TLS when `tls` is set.
    pub fn start_tls(
        sim: Arc<Sim>,
        listener: TcpListener,
        tls: Option<nf_tls::ServerTls>,
    ) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        sim.shutdown.send_replace(false);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        if sim.radio.is_some() {
            tokio::spawn(radio::drive(sim.clone()));
        }
        let join = tokio::spawn(service::serve_tls(sim.clone(), listener, tls, async move {
            let _ = rx.await;
        }));
        Ok(Self {
            addr,
            sim,
            stop: Some(tx),
            join,
        })
    }

    /// Binds 127.0.0.1 on `port` (0 for any) and serves.
    pub async fn bind(sim: Arc<Sim>, port: u16) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        Self::start(sim, listener)
    }

    /// Stops the server (streams end, connections close) and waits for it.
    pub async fn stop(mut self) {
        self.sim.stop_streams();
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = self.join.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_spread_over_nodes_without_duplicates() {
        let cfg = |nodes, total| SimConfig {
            nodes,
            total_cells: Some(total),
            ..SimConfig::default()
        };
        assert_eq!(cells_per_node(&cfg(2, 5)), [3, 2]);
        assert_eq!(cells_per_node(&cfg(4, 5)), [2, 1, 1, 1]);
        assert_eq!(cells_per_node(&cfg(1, 5)), [5]);
        let fixed = SimConfig {
            nodes: 2,
            cells_per_node: 4,
            ..SimConfig::default()
        };
        assert_eq!(cells_per_node(&fixed), [4, 4]);
    }
}
