//! The task of one E2 node: it owns the node's cell state and guard rails, reads the KPM
//! indication stream, submits fresh windows to the inference worker, turns forecasts into
//! guarded E2SM-RC controls and sends them. On a stream loss, or a stream silent for
//! `silent_periods` report periods, it resubscribes with backoff; on shutdown it
//! unsubscribes. Every wait on the E2T is bounded and gives way to shutdown.
//!
//! # The decision path (ingest → inference → quota)
//! Nothing reaches the RAN unchecked: a report with an impossible measurement or a time
//! stamped far ahead is refused; a report whose end-to-end age (see
//! [`nf_core::latency::NodeClock`]) is past the budget is not decided; a cell missing a model
//! input or of a size the model cannot serve is refused; a NaN, infinite or out-of-range
//! forecast is dropped and the cell keeps its last quota. Each is counted by reason and
//! logged (once per cell and reason where it would repeat every period).

use std::collections::HashSet;

use std::sync::Arc;
use std::time::Duration;

use e2_proto::kpm;
use e2_proto::pb::e2t::{SubscribeResponse, subscribe_response};
use nf_core::features::{FeatureLayout, MissingInputs};
use nf_core::guard::{GuardRails, Suppressed, enforce};
use nf_core::latency::{BudgetMode, NodeClock};
use nf_core::policy::{self, Forecast, SliceQuota};
use nf_core::state::{CellTable, Ingest, StateConfig};
use nf_core::{CellId, Snssai};
use nf_infer::InferenceHandle;
use nf_infer::contract::PrbScaling;
use nf_infer::worker::SubmitError;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};

use crate::clock::Clock;
use crate::config::{Overload, RuntimeConfig};
use crate::control::{ControlSender, Outcomes};
use crate::decisions::{DecisionKey, DecisionRecord, SliceOutput, digest};
use crate::e2::{Backoff, E2Client, E2Node};
use crate::health::{NodeState, NodeTracker};
use crate::metrics::Metrics;
use crate::trial::{ArmPolicy, Arms};

/// Longest wait on shutdown for in-flight decisions and their control outcomes.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Context travelling with an inference job and back.
#[derive(Debug)]
pub(crate) struct InferCtx {
    pub reply: mpsc::Sender<NodeEvent>,
    pub cell: CellId,
    pub slices: Vec<Snssai>,
    pub arrival_ns: u64,
    /// Age of the report when it arrived (collection end to arrival, offset-corrected) [ms].
    pub age_ms: u64,
    pub call_process_id: Vec<u8>,
    /// Report time (collection start) the decision is for [ms].
    pub t_ms: u64,
    /// Digest of the model input rows (decision log).
    pub digest: String,
    pub arm: usize,
    /// Decided in shadow: logged, never sent.
    pub shadow: bool,
    /// Pipeline slot held from submission to the control's outcome (backpressure mode).
    pub permit: Option<OwnedSemaphorePermit>,
}

/// Events delivered to a node task besides its stream.
#[derive(Debug)]
pub(crate) enum NodeEvent {
    /// Forecasts (p50, p90 per slice) for a cell, or the inference error.
    Inferred {
        ctx: InferCtx,
        forecasts: Result<Vec<[f32; 2]>, String>,
    },
    /// A control to `cell` failed; forget what it was last sent.
    ControlFailed(CellId),
}

/// Everything one node task needs; cloned to restart a task that died.
#[derive(Clone)]
pub(crate) struct NodeTask {
    pub node: E2Node,
    pub client: E2Client,
    pub cfg: Arc<RuntimeConfig>,
    pub layout: FeatureLayout,
    /// DL PRBs of the cells the model was trained on (contract `cell_prbs`).
    pub default_prbs: f32,
    /// How the model serves cells of other sizes.
    pub prb_scaling: PrbScaling,
    /// One inference worker per model (indexed as [`ArmPolicy::Model`]).
    pub infer: Vec<InferenceHandle<InferCtx>>,
    pub arms: Arc<Arms>,
    /// Counters of each arm, in `arms.arms` order.
    pub arm_metrics: Arc<[crate::metrics::ArmMetrics]>,
    pub metrics: Arc<Metrics>,
    pub clock: Clock,
    /// Where decisions are logged, if anywhere.
    pub log: Option<Arc<crate::decisions::DecisionLog>>,
    /// Record layout of each subscribed cell (the order of its action definition); also
    /// the set of cells this node may report on.
    pub layouts: kpm::Layouts,
}

struct Pipeline<'a> {
    task: &'a NodeTask,
    table: CellTable,
    guard: GuardRails,
    events_tx: mpsc::Sender<NodeEvent>,
    inflight: Arc<Semaphore>,
    ctl: ControlSender,
    /// Offset of the node's collection clock from ours.
    node_clock: NodeClock,
    /// (cell, reason) pairs already logged, so a per-period refusal logs once.
    logged: HashSet<(CellId, &'static str)>,
}

impl NodeTask {
    /// Runs until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let (events_tx, mut events_rx) = mpsc::channel(self.cfg.inference_queue.min(1 << 16));
        let mut state = NodeTracker::new(self.metrics.clone());
        let outcomes = Outcomes {
            metrics: self.metrics.clone(),
            events: events_tx.clone(),
            clock: self.clock,
            node: self.node.id.as_str().into(),
            log: self.log.clone(),
        };
        let ctl = ControlSender::new(
            self.client.clone(),
            self.cfg.control_transport,
            self.cfg.control_timeout,
            self.cfg.max_inflight_controls,
            outcomes,
        );
        let mut p = Pipeline {
            task: &self,
            table: CellTable::new(StateConfig {
                window: self.layout.window(),
                stale_after_ms: self.cfg.stale_after_ms,
                max_cells: self.cfg.max_cells_per_node,
                max_ahead_ms: self.cfg.max_ahead_ms,
            }),
            guard: GuardRails::new(self.cfg.guard),
            events_tx,
            inflight: Arc::new(Semaphore::new(self.cfg.max_inflight_controls)),
            ctl,
            node_clock: NodeClock::new(self.cfg.offset_window_ms, self.cfg.max_ahead_ms),
            logged: HashSet::new(),
        };
        let mut backoff = Backoff::new(self.cfg.backoff);
        let mut sweep_tick = tokio::time::interval(self.cfg.control_timeout / 2);
        let mut client = self.client.clone();
        let mut age_tick =
            tokio::time::interval(Duration::from_millis(self.cfg.stale_after_ms.max(100) / 2));
        let silent_after = self.cfg.silent_after();
        'connect: loop {
            if *shutdown.borrow() {
                break;
            }
            state.set(NodeState::Subscribing);
            let subscribed = tokio::select! {
                r = client.subscribe(&self.node, self.cfg.report_period_ms, self.cfg.discovery_timeout) => r,
                _ = shutdown.wait_for(|s| *s) => break 'connect,
            };
            let mut stream = match subscribed {
                Ok(s) => {
                    self.metrics.subscriptions.inc();
                    state.set(NodeState::Subscribed);
                    // A new subscription may come from another E2T or a restarted node:
                    // its collection clock is estimated afresh.
                    p.node_clock = NodeClock::new(self.cfg.offset_window_ms, self.cfg.max_ahead_ms);
                    tokio::select! {
                        _ = p.ctl.open() => {}
                        _ = shutdown.wait_for(|s| *s) => break 'connect,
                    }
                    tracing::info!(e2_node = %self.node.id, cells = self.node.cells.len(), "subscribed to KPM");
                    s
                }
                Err(e) => {
                    state.set(NodeState::Backoff);
                    let wait = backoff.next_delay();
                    tracing::warn!(e2_node = %self.node.id, cause = %e, retry_in_ms = wait.as_millis() as u64, "subscribe failed");
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => continue 'connect,
                        _ = shutdown.wait_for(|s| *s) => break 'connect,
                    }
                }
            };
            let silence = tokio::time::sleep(silent_after);
            tokio::pin!(silence);
            let stopping = loop {
                if !p.can_accept() {
                    // Not reading (backpressure) is not the E2T's silence.
                    silence
                        .as_mut()
                        .reset(tokio::time::Instant::now() + silent_after);
                }
                tokio::select! {
                    biased;
                    _ = shutdown.wait_for(|s| *s) => break true,
                    Some(ev) = events_rx.recv() => p.on_event(ev),
                    msg = stream.message(), if p.can_accept() => {
                        silence.as_mut().reset(tokio::time::Instant::now() + silent_after);
                        match msg {
                            Ok(Some(resp)) => {
                                backoff.reset();
                                p.on_message(resp);
                            }
                            Ok(None) => {
                                tracing::warn!(e2_node = %self.node.id, "indication stream ended by the E2T");
                                break false;
                            }
                            Err(status) => {
                                self.stream_failed(&status);
                                break false;
                            }
                        }
                    },
                    _ = &mut silence, if p.can_accept() => {
                        self.stream_silent(silent_after);
                        break false;
                    }
                    _ = age_tick.tick() => p.age_out(),
                    _ = sweep_tick.tick() => p.ctl.sweep(),
                }
            };
            if stopping {
                break 'connect;
            }
            self.metrics.reconnects.inc();
            state.set(NodeState::Backoff);
            p.ctl.close();
            drop(stream);
            let wait = backoff.next_delay();
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.wait_for(|s| *s) => break 'connect,
            }
        }
        // Drain: decisions still being inferred are taken, decided and sent, and their
        // outcomes awaited (every in-flight decision holds a permit), then unsubscribe.
        let drained = tokio::time::Instant::now() + DRAIN_TIMEOUT;
        while p.inflight.available_permits() < self.cfg.max_inflight_controls {
            tokio::select! {
                Some(ev) = events_rx.recv() => p.on_event(ev),
                _ = tokio::time::sleep(Duration::from_millis(5)) => {}
                _ = tokio::time::sleep_until(drained) => break,
            }
        }
        while let Ok(ev) = events_rx.try_recv() {
            p.on_event(ev);
        }
        match tokio::time::timeout(Duration::from_secs(1), client.unsubscribe(&self.node.id)).await
        {
            Ok(Ok(())) => tracing::info!(e2_node = %self.node.id, "unsubscribed"),
            Ok(Err(e)) => tracing::warn!(e2_node = %self.node.id, cause = %e, "unsubscribe failed"),
            Err(_) => tracing::warn!(e2_node = %self.node.id, "unsubscribe timed out"),
        }
    }
}

impl NodeTask {
    fn stream_failed(&self, status: &tonic::Status) {
        if stream_error_is_message(status) {
            // One bad frame (e.g. over the size limit) ends a gRPC stream.
            Metrics::inc(&self.metrics.rejected, "oversize");
        }
        tracing::warn!(e2_node = %self.node.id, cause = %status.message(), code = ?status.code(), "indication stream failed");
    }

    fn stream_silent(&self, silent_after: Duration) {
        Metrics::inc(&self.metrics.e2_failures, "silent_stream");
        tracing::warn!(
            e2_node = %self.node.id,
            silent_ms = silent_after.as_millis() as u64,
            periods = self.cfg.silent_periods,
            "indication stream silent; resubscribing"
        );
    }
}

/// An indication accepted into the cell table, ready for a decision.
struct Job {
    cell: CellId,
    t_ms: u64,
    arrival_ns: u64,
    age_ms: u64,
    call_process_id: Vec<u8>,
}

fn stream_error_is_message(status: &tonic::Status) -> bool {
    status.code() == tonic::Code::OutOfRange
        || status.message().contains("message length too large")
}

impl Pipeline<'_> {
    fn on_message(&mut self, resp: SubscribeResponse) {
        let t = self.task;
        let arrival_ns = t.clock.now_ns();
        let ind = match resp.message {
            Some(subscribe_response::Message::Indication(ind)) => ind,
            Some(subscribe_response::Message::Ack(ack)) => {
                tracing::debug!(e2_node = %t.node.id, channel = %ack.channel_id, "subscription acknowledged");
                return;
            }
            None => {
                Metrics::inc(&t.metrics.rejected, "not_indication");
                return;
            }
        };
        t.metrics.indications.inc();
        let (report, notes) = match kpm::decode_indication(
            &ind.header,
            &ind.payload,
            &t.cfg.limits,
            Some(&t.layouts),
        ) {
            Ok(ok) => ok,
            Err(e) => {
                Metrics::inc(&t.metrics.rejected, e.kind());
                tracing::debug!(e2_node = %t.node.id, cause = %e, "indication rejected");
                return;
            }
        };
        for (n, kind) in [
            (notes.unknown_measurements, "unknown_measurement"),
            (notes.non_finite_values, "non_finite_value"),
            (notes.no_values, "no_value"),
        ] {
            if n > 0 {
                t.metrics
                    .notes
                    .get_or_create(&crate::metrics::Reason { reason: kind })
                    .inc_by(u64::from(n));
            }
        }
        if !t.layouts.contains_key(&report.cell) {
            Metrics::inc(&t.metrics.rejected, "unknown_cell");
            return;
        }
        let Some(age_ms) = self.check_report(&report) else {
            return;
        };
        let before = self.table.len();
        match self.table.ingest(&report, t.clock.unix_ms()) {
            Ingest::Fresh { missing, .. } => {
                let late = age_ms > t.cfg.late_after_ms;
                if missing > 0 {
                    t.metrics
                        .ingest
                        .get_or_create(&crate::metrics::Reason { reason: "missing" })
                        .inc_by(missing);
                }
                if late {
                    Metrics::inc(&t.metrics.ingest, "late");
                }
            }
            Ingest::Duplicate => return Metrics::inc(&t.metrics.ingest, "duplicate"),
            Ingest::OutOfOrder => return Metrics::inc(&t.metrics.ingest, "out_of_order"),
            Ingest::TableFull => return Metrics::inc(&t.metrics.ingest, "table_full"),
            Ingest::TooFarAhead => {
                tracing::warn!(e2_node = %t.node.id, cell = %report.cell, collection_start_ms = report.collection_start_ms, "report stamped too far ahead of the cell's last one: refused");
                return Metrics::inc(&t.metrics.ingest, "too_far_ahead");
            }
        }
        if self.table.len() > before {
            t.metrics.cells.inc();
        }
        let t_ms = report.collection_start_ms;
        let roles = t.arms.roles(&report.cell, t_ms);
        t.arm_metrics[roles.acting].observe(&report);
        if let Some(look) = t.arms.observe(&report, roles.acting)
            && look.tripped
        {
            t.metrics.trial_rolled_back.set(1);
            tracing::error!(
                excess = look.excess,
                lambda = look.lambda,
                "trial guard rail tripped: treatment cells roll back to the control arm"
            );
        }
        let job = Job {
            cell: report.cell,
            t_ms,
            arrival_ns,
            age_ms,
            call_process_id: ind.call_process_id,
        };
        if t.cfg.budget_mode == BudgetMode::Drop
            && !t
                .cfg
                .budget
                .allows_aged(age_ms, arrival_ns, t.clock.now_ns())
        {
            // Already past the budget on arrival: no inference is spent on it.
            return Metrics::inc(&t.metrics.dropped, "latency_budget");
        }
        self.start(&job, roles.acting, false);
        if let Some(shadow) = roles.shadow {
            self.start(&job, shadow, true);
        }
    }

    /// Range and time checks of a decoded report; its age on arrival [ms] if accepted.
    fn check_report(&mut self, report: &nf_core::KpmReport) -> Option<u64> {
        let t = self.task;
        if let Err(e) = report.check_ranges(self.table.prb_avail_dl(&report.cell)) {
            Metrics::inc(&t.metrics.rejected, e.kind());
            tracing::warn!(e2_node = %t.node.id, cell = %report.cell, cause = %e, "indication refused: impossible measurement");
            return None;
        }
        let period = u64::from(report.granularity_ms);
        let collected = report.collection_start_ms.saturating_add(period);
        match self.node_clock.observe(collected, t.clock.unix_ms()) {
            Ok(age) => Some(age),
            Err(e) => {
                Metrics::inc(&t.metrics.rejected, "ahead_of_node_clock");
                tracing::warn!(e2_node = %t.node.id, cell = %report.cell, cause = %e, "indication refused: collection time ahead of the node's clock");
                None
            }
        }
    }

    /// Logs `message` for `cell` and `reason` once; counts every time.
    fn refuse(&mut self, cell: CellId, reason: &'static str, message: &str) {
        let t = self.task;
        Metrics::inc(&t.metrics.dropped, reason);
        if self.logged.insert((cell, reason)) {
            tracing::warn!(e2_node = %t.node.id, %cell, reason, "{message}");
        }
    }

    /// Scale of the cell's PRB-count inputs to the model's cell size; `Err` with the
    /// cell's size when the model cannot serve it.
    fn prb_scale(&self, cell: &CellId) -> Result<f32, f32> {
        let t = self.task;
        match self.table.prb_avail_dl(cell) {
            None => Ok(1.0),
            Some(avail) if (avail - t.default_prbs).abs() < 0.5 => Ok(1.0),
            Some(avail) if t.prb_scaling == PrbScaling::Linear => Ok(t.default_prbs / avail),
            Some(avail) => Err(avail),
        }
    }

    /// Model input rows of `cell`'s ready slices, or `None` (counted) when the cell cannot
    /// be served: an input it never reports, or a size the model cannot scale to.
    fn model_rows(&mut self, cell: CellId) -> Option<Vec<f32>> {
        let t = self.task;
        let scale = match self.prb_scale(&cell) {
            Ok(s) => s,
            Err(avail) => {
                let msg = format!(
                    "cell has {avail} DL PRBs, the model was trained on {} and its contract refuses scaling: cell refused",
                    t.default_prbs
                );
                self.refuse(cell, "cell_size_mismatch", &msg);
                return None;
            }
        };
        // First the inputs no slice window carries (refused before any row is written).
        let absent = self
            .table
            .ready_slices(&cell)
            .find_map(|(_, window)| t.layout.absent(window));
        if let Some(meas) = absent {
            match t.cfg.missing_inputs {
                MissingInputs::Refuse => {
                    let msg = format!(
                        "model input {} is never reported by this cell: cell refused (set missing_inputs = \"impute_zero\" to feed 0)",
                        meas.name()
                    );
                    self.refuse(cell, "missing_input", &msg);
                    return None;
                }
                MissingInputs::ImputeZero => {
                    Metrics::inc(&t.metrics.notes, "imputed_input");
                    if self.logged.insert((cell, "imputed_input")) {
                        tracing::warn!(e2_node = %t.node.id, %cell, input = meas.name(), "model input never reported: imputed as 0");
                    }
                }
            }
        }
        let row_len = t.layout.row_len();
        let mut rows = Vec::new();
        for (_, window) in self.table.ready_slices(&cell) {
            let at = rows.len();
            rows.resize(at + row_len, 0.0);
            t.layout.write_row_scaled(window, &mut rows[at..], scale);
        }
        Some(rows)
    }

    /// False while backpressure is on and every pipeline slot is taken: the stream is not
    /// read until decisions complete.
    fn can_accept(&self) -> bool {
        self.task.cfg.overload == Overload::Shed || self.inflight.available_permits() > 0
    }

    /// Starts a decision for `job` under `arm`: model arms submit their window to the
    /// arm's inference worker, baseline arms decide at once.
    fn start(&mut self, job: &Job, arm: usize, shadow: bool) {
        let t = self.task;
        let mut slices = Vec::new();
        let mut demand = Vec::new();
        for (snssai, window) in self.table.ready_slices(&job.cell) {
            slices.push(snssai);
            let last = window.back().copied().unwrap_or_default();
            let req = last.get(nf_core::Meas::PrbReqDl);
            demand.push(if req.is_finite() {
                req
            } else {
                last.get(nf_core::Meas::PrbUsedDl)
            });
        }
        if slices.is_empty() {
            // No decision, and the summary says why: the cell announced no slice, or its
            // slices are still filling the model's window.
            if !shadow {
                let sliced = t
                    .layouts
                    .get(&job.cell)
                    .is_some_and(|l| l.iter().any(|(_, s)| s.is_some()));
                let reason = if sliced { "window_filling" } else { "no_slice" };
                Metrics::inc(&t.metrics.ingest, reason);
            }
            return;
        }
        let rows = match &t.arms.arms[arm].policy {
            ArmPolicy::Model(_) => match self.model_rows(job.cell) {
                Some(rows) => rows,
                None => return,
            },
            ArmPolicy::Baseline(_) => Vec::new(),
        };
        let permit = if t.cfg.overload == Overload::Backpressure && !shadow {
            self.inflight.clone().try_acquire_owned().ok()
        } else {
            None
        };
        let ctx = InferCtx {
            reply: self.events_tx.clone(),
            cell: job.cell,
            slices,
            arrival_ns: job.arrival_ns,
            age_ms: job.age_ms,
            call_process_id: job.call_process_id.clone(),
            t_ms: job.t_ms,
            // Only the decision log reads the digest.
            digest: if t.log.is_some() {
                digest(&rows)
            } else {
                String::new()
            },
            arm,
            shadow,
            permit,
        };
        match &t.arms.arms[arm].policy {
            ArmPolicy::Baseline(b) => {
                let quotas = b.quotas(&ctx.slices, &demand);
                t.metrics.decisions.inc();
                self.finish(ctx, quotas, Vec::new());
            }
            ArmPolicy::Model(m) => match t.infer[*m].submit(rows, ctx) {
                Ok(()) => {}
                Err(SubmitError::QueueFull) => {
                    Metrics::inc(&t.metrics.dropped, "inference_queue_full");
                }
                Err(SubmitError::Closed) => {}
                Err(SubmitError::BadShape { expected, got }) => {
                    tracing::error!(expected, got, "feature rows do not fit the model");
                    Metrics::inc(&t.metrics.dropped, "inference_failed");
                }
            },
        }
    }

    fn on_event(&mut self, ev: NodeEvent) {
        match ev {
            NodeEvent::ControlFailed(cell) => self.guard.forget(cell),
            NodeEvent::Inferred { ctx, forecasts } => self.decide(ctx, forecasts),
        }
    }

    fn decide(&mut self, ctx: InferCtx, forecasts: Result<Vec<[f32; 2]>, String>) {
        let t = self.task;
        let Ok(forecasts) = forecasts else {
            return Metrics::inc(&t.metrics.dropped, "inference_failed");
        };
        if let Err(e) = policy::check_outputs(&forecasts, ctx.slices.len(), t.default_prbs) {
            // Never a control: the cell keeps the quota it last received.
            Metrics::inc(&t.metrics.dropped, e.kind());
            tracing::warn!(e2_node = %t.node.id, cell = %ctx.cell, cause = %e, "model output refused");
            return;
        }
        t.metrics.decisions.inc();
        let inferred = t.clock.now_ns().saturating_sub(ctx.arrival_ns);
        t.metrics.latencies.inference_latency.record_ns(inferred);
        t.metrics.inference_latency.observe(inferred as f64 / 1e9);
        let forecasts: Vec<Forecast> = ctx
            .slices
            .iter()
            .zip(&forecasts)
            .map(|(s, [p50, p90])| Forecast {
                snssai: *s,
                p50_prb: *p50,
                p90_prb: *p90,
            })
            .collect();
        // Forecasts are in the model's PRBs: inputs of other cell sizes were scaled to it.
        let quotas = policy::quotas(&forecasts, t.default_prbs, &t.arms.arms[ctx.arm].policy_cfg);
        self.finish(ctx, quotas, forecasts);
    }

    /// Guards, logs and sends (or, in shadow, only logs) one decision.
    fn finish(&mut self, mut ctx: InferCtx, mut quotas: Vec<SliceQuota>, forecasts: Vec<Forecast>) {
        let t = self.task;
        if enforce(&mut quotas) {
            t.metrics.clamped.inc();
        }
        t.arm_metrics[ctx.arm].decision(ctx.shadow);
        let key: DecisionKey = (ctx.t_ms, t.node.id.to_string(), ctx.cell, ctx.shadow);
        let action = self.act(&mut ctx, &quotas, &key);
        // The log line is built only when a decision log is kept.
        let Some(log) = &t.log else { return };
        let record = DecisionRecord {
            format: crate::decisions::FORMAT,
            t_ms: ctx.t_ms,
            node: key.1.clone(),
            cell: ctx.cell.to_string(),
            arm: t.arms.arms[ctx.arm].name.clone(),
            role: if ctx.shadow { "shadow" } else { "acting" },
            digest: std::mem::take(&mut ctx.digest),
            outputs: forecasts
                .iter()
                .map(|f| SliceOutput {
                    snssai: f.snssai.to_string(),
                    p50: f.p50_prb,
                    p90: f.p90_prb,
                })
                .collect(),
            quotas: DecisionRecord::quotas_of(&quotas),
            action,
            outcome: if action == "sent" { "pending" } else { "none" }.into(),
            latency_us: log
                .timings
                .then(|| t.clock.now_ns().saturating_sub(ctx.arrival_ns) / 1_000),
        };
        log.add(key, record);
    }

    /// What happens to a guarded decision; returns the decision log's action.
    fn act(
        &mut self,
        ctx: &mut InferCtx,
        quotas: &[SliceQuota],
        key: &DecisionKey,
    ) -> &'static str {
        let t = self.task;
        if ctx.shadow {
            return "shadow";
        }
        match self.guard.admit(ctx.cell, quotas, ctx.t_ms) {
            Ok(()) => {}
            Err(Suppressed::Hysteresis) => {
                Metrics::inc(&t.metrics.suppressed, "hysteresis");
                return "hysteresis";
            }
            Err(Suppressed::RateLimited) => {
                Metrics::inc(&t.metrics.suppressed, "rate_limited");
                return "rate_limited";
            }
        }
        let now_ns = t.clock.now_ns();
        if !t.cfg.budget.allows_aged(ctx.age_ms, ctx.arrival_ns, now_ns) {
            if t.cfg.budget_mode == BudgetMode::Drop {
                Metrics::inc(&t.metrics.dropped, "latency_budget");
                return "latency_budget";
            }
            Metrics::inc(&t.metrics.ingest, "past_budget");
        }
        let permit = match ctx.permit.take() {
            Some(p) => p,
            None => match self.inflight.clone().try_acquire_owned() {
                Ok(p) => p,
                Err(_) => {
                    Metrics::inc(&t.metrics.dropped, "control_backpressure");
                    return "control_backpressure";
                }
            },
        };
        let (header, payload) = e2_proto::rc::encode_quota_control(&ctx.cell, quotas);
        self.guard.commit(ctx.cell, quotas, ctx.t_ms);
        let sent_ns = t.clock.now_ns();
        let latency = sent_ns.saturating_sub(ctx.arrival_ns);
        t.metrics.latencies.decision_latency.record_ns(latency);
        t.metrics.decision_latency.observe(latency as f64 / 1e9);
        t.metrics.controls_sent.inc();
        t.arm_metrics[ctx.arm].control();
        let req = t.client.control_request(
            &t.node.id,
            header,
            payload,
            std::mem::take(&mut ctx.call_process_id),
        );
        self.ctl.send(key.clone(), ctx.arrival_ns, req, permit);
        "sent"
    }

    fn age_out(&mut self) {
        let t = self.task;
        let gone = self.table.age_out(t.clock.unix_ms());
        for cell in &gone {
            self.guard.remove(cell);
        }
        if !gone.is_empty() {
            self.logged.retain(|(c, _)| !gone.contains(c));
            t.metrics.aged_out.inc_by(gone.len() as u64);
            t.metrics.cells.dec_by(gone.len() as i64);
            tracing::info!(e2_node = %t.node.id, cells = gone.len(), "silent cells aged out");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rss() -> u64 {
        crate::process::ProcessStats::read().map_or(0, |s| s.resident_bytes)
    }

    /// What each node task holds for latencies is three pointers to the shared histograms:
    /// 10,000 nodes recording into them add next to nothing (four HDR histograms per node,
    /// as before, took ≈ 0.88 MB each).
    #[test]
    fn per_node_latency_memory_is_a_few_pointers() {
        assert!(size_of::<crate::metrics::Latencies>() <= 3 * size_of::<usize>());
        let metrics = Metrics::new();
        let before = rss();
        let nodes: Vec<crate::metrics::Latencies> =
            (0..10_000).map(|_| metrics.latencies.clone()).collect();
        for (i, n) in nodes.iter().enumerate() {
            let ns = 1_000 + i as u64 * 997;
            n.inference_latency.record_ns(ns);
            n.decision_latency.record_ns(ns * 7);
            n.control_rtt.record_ns(ns * 31);
        }
        let grown = rss().saturating_sub(before);
        if before > 0 {
            assert!(grown < 8 << 20, "10,000 nodes grew RSS by {grown} bytes");
        }
        assert_eq!(metrics.latencies.control_rtt.percentiles().count, 10_000);
    }
}
