//! Decide: a [`Job`] in, [`Decision`]s out. Builds the model input rows of the cell's ready
//! slices, submits them to the arm's inference worker (a baseline arm decides at once),
//! checks the forecasts that come back, turns them into slice quotas by the arm's policy,
//! and passes them through the guard rails (hysteresis, rate limit), the latency budget and
//! the in-flight bound. What is to be sent leaves with a pipeline slot
//! ([`Verdict::Send`]); what is held leaves with the reason, for the decision log.
//!
//! A cell missing a model input or of a size the model cannot serve is refused; a NaN,
//! infinite or out-of-range forecast is dropped and the cell keeps its last quota. Each is
//! counted by reason and logged once per cell and reason.
//!
//! An active A1 policy ([`nf_core::a1::EffectivePolicy`]) is read once when a decision
//! starts (with the loads its SLA floors need) and bounds that decision's quotas before the
//! guard invariants; a policy arriving while the decision waits for inference applies from
//! the next report on.
//!
//! A slice-policy arm ([`ServedPolicy`]) differs in two steps only: one input row per cell
//! (all its slices, contract order; a cell slice the contract lacks refuses the cell,
//! `slice_not_in_contract`), and its output is checked as quotas (finite, `0 ≤ min ≤ max ≤
//! 100`, Σ min ≤ 100) instead of being turned into quotas by headroom. Same refusals, guard
//! rails, budget and log as a forecaster.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use nf_core::CellId;
use nf_core::Snssai;
use nf_core::features::{FeatureLayout, MissingInputs};
use nf_core::guard::{GuardRails, Suppressed, enforce};
use nf_core::latency::BudgetMode;
use nf_core::policy::{self, Forecast, SliceQuota};
use nf_core::state::CellTable;
use nf_infer::contract::PrbScaling;
use nf_infer::worker::SubmitError;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use super::a1::{A1Snapshot, A1View};
use super::ingest::Job;
use super::{NodeTask, ServedPolicy};
use crate::config::Overload;
use crate::decisions::{DecisionKey, digest};
use crate::metrics::Metrics;
use crate::placement::{self, PendingRemote, PlacementMode, Plan, RemoteState};
use crate::trial::ArmPolicy;

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
    /// Held while the decision is being made (inference, a remote answer), in every mode:
    /// the drain waits for the last one.
    pub _making: Arc<()>,
    /// The model that answered (set by the inference worker; `None` for a baseline arm).
    pub model: Option<Arc<nf_infer::ModelId>>,
    /// The A1 policy this decision is bounded by (`None`: no active instance).
    pub a1: Option<Box<A1Snapshot>>,
    /// The remote model's side of this decision (see [`crate::placement`]).
    pub remote: RemoteState,
    /// Where the decision's answer came from, for the decision log (`None`: no remote
    /// model configured, or not the acting forecaster arm).
    pub placed: Option<Box<Placed>>,
}

/// What the decision log says about placement.
#[derive(Debug, Default)]
pub(crate) struct Placed {
    /// `local` or `remote`: whose answer the decision used.
    pub decided_by: &'static str,
    /// The remote call's result (`ok`, a fallback reason, an error kind; `pending` in
    /// shadow until it answers).
    pub remote_result: &'static str,
    /// Shadow: the remote model's outputs (p50, p90 per slice), once answered.
    pub remote_outputs: Option<Vec<[f32; 2]>>,
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
    /// The conflict manager's guidance on a decision held for it (see `emit`).
    Guided(Box<super::emit::Guided>),
    /// Shadow placement: the remote model's answer for a decision already taken (logged
    /// with it, never used).
    RemoteShadow {
        key: DecisionKey,
        result: Result<Vec<[f32; 2]>, &'static str>,
    },
}

/// The model input rows of `cell`'s ready slices under `layout` (each model reads the tail
/// of the table's window it needs).
fn rows_of(table: &CellTable, cell: CellId, layout: &FeatureLayout, scale: f32) -> Vec<f32> {
    let row_len = layout.row_len();
    let need = layout.window();
    let mut rows = Vec::new();
    let mut tail = VecDeque::new();
    for (_, window) in table.ready_slices(&cell) {
        let at = rows.len();
        rows.resize(at + row_len, 0.0);
        // The table keeps the longest window of the models: this one reads its tail.
        let window = if window.len() > need {
            tail.clear();
            tail.extend(window.iter().skip(window.len() - need).copied());
            &tail
        } else {
            window
        };
        layout.write_row_scaled(window, &mut rows[at..], scale);
    }
    rows
}

/// What happens to a guarded decision.
#[derive(Debug)]
pub(super) enum Verdict {
    /// Send it; the slot is held until the control's outcome.
    Send(OwnedSemaphorePermit),
    /// Not sent: `shadow`, `hysteresis`, `rate_limited`, `latency_budget`,
    /// `control_backpressure` (the decision log's action).
    Held(&'static str),
}

/// A guarded decision, ready to be emitted.
#[derive(Debug)]
pub(super) struct Decision {
    pub ctx: InferCtx,
    pub key: DecisionKey,
    pub quotas: Vec<SliceQuota>,
    /// The model's forecasts (empty for a baseline arm).
    pub forecasts: Vec<Forecast>,
    pub verdict: Verdict,
}

/// The decide stage of one node: guard rails and pipeline slots.
pub(super) struct Decide<'a> {
    task: &'a NodeTask,
    guard: GuardRails,
    events_tx: mpsc::Sender<NodeEvent>,
    inflight: Arc<Semaphore>,
    /// One clone per decision being made ([`InferCtx::_making`]).
    making: Arc<()>,
    /// (cell, reason) pairs already logged, so a per-period refusal logs once.
    logged: HashSet<(CellId, &'static str)>,
    /// What the node remembers of the A1 policy between decisions.
    a1: A1View,
}

impl<'a> Decide<'a> {
    /// `events_tx` is where inference results come back to the node.
    pub fn new(task: &'a NodeTask, events_tx: mpsc::Sender<NodeEvent>) -> Self {
        Self {
            task,
            guard: GuardRails::new(task.cfg.guard),
            events_tx,
            inflight: Arc::new(Semaphore::new(task.cfg.max_inflight_controls)),
            making: Arc::new(()),
            logged: HashSet::new(),
            a1: A1View::default(),
        }
    }

    /// False while backpressure is on and every pipeline slot is taken: the stream is not
    /// read until decisions complete.
    pub fn can_accept(&self) -> bool {
        self.task.cfg.overload == Overload::Shed || self.inflight.available_permits() > 0
    }

    /// Whether no decision is in the pipeline (being made, or waiting for its outcome).
    pub fn idle(&self) -> bool {
        Arc::strong_count(&self.making) == 1
            && self.inflight.available_permits() >= self.task.cfg.max_inflight_controls
    }

    /// A control to `cell` failed: its next quota is not compared with the last one.
    pub fn forget(&mut self, cell: CellId) {
        self.guard.forget(cell);
    }

    /// Cells aged out of the table: their guard state and log marks go too.
    pub fn remove(&mut self, gone: &[CellId]) {
        for cell in gone {
            self.guard.remove(cell);
        }
        if !gone.is_empty() {
            self.logged.retain(|(c, _)| !gone.contains(c));
        }
    }

    /// Starts the decisions of `job` (acting arm, then shadow); baseline arms decide at
    /// once and their decisions are returned, model arms answer later as
    /// [`NodeEvent::Inferred`].
    pub fn start(&mut self, job: &Job, table: &CellTable) -> Vec<Decision> {
        let mut now = Vec::new();
        now.extend(self.start_arm(job, table, job.acting, false));
        if let Some(shadow) = job.shadow {
            now.extend(self.start_arm(job, table, shadow, true));
        }
        now
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
    fn prb_scale(
        table: &CellTable,
        cell: &CellId,
        model_prbs: f32,
        scaling: PrbScaling,
    ) -> Result<f32, f32> {
        match table.prb_avail_dl(cell) {
            None => Ok(1.0),
            Some(avail) if (avail - model_prbs).abs() < 0.5 => Ok(1.0),
            Some(avail) if scaling == PrbScaling::Linear => Ok(model_prbs / avail),
            Some(avail) => Err(avail),
        }
    }

    /// The PRB scale of `cell` for a model of `model_prbs` PRBs, or `None` (counted) when
    /// its contract refuses the cell's size.
    fn scale_or_refuse(
        &mut self,
        table: &CellTable,
        cell: CellId,
        model_prbs: f32,
        scaling: PrbScaling,
    ) -> Option<f32> {
        match Self::prb_scale(table, &cell, model_prbs, scaling) {
            Ok(s) => Some(s),
            Err(avail) => {
                let msg = format!(
                    "cell has {avail} DL PRBs, the model was trained on {model_prbs} and its contract refuses scaling: cell refused"
                );
                self.refuse(cell, "cell_size_mismatch", &msg);
                None
            }
        }
    }

    /// False (counted) when a feature of `layout` is never reported by any ready slice of
    /// `cell` and the config refuses such cells; true when the cell may be served.
    fn inputs_present(&mut self, table: &CellTable, cell: CellId, layout: &FeatureLayout) -> bool {
        let t = self.task;
        let absent = table
            .ready_slices(&cell)
            .find_map(|(_, window)| layout.absent(window));
        let Some(meas) = absent else {
            return true;
        };
        match t.cfg.missing_inputs {
            MissingInputs::Refuse => {
                let msg = format!(
                    "model input {} is never reported by this cell: cell refused (set missing_inputs = \"impute_zero\" to feed 0)",
                    meas.name()
                );
                self.refuse(cell, "missing_input", &msg);
                false
            }
            MissingInputs::ImputeZero => {
                Metrics::inc(&t.metrics.notes, "imputed_input");
                if self.logged.insert((cell, "imputed_input")) {
                    tracing::warn!(e2_node = %t.node.id, %cell, input = meas.name(), "model input never reported: imputed as 0");
                }
                true
            }
        }
    }

    /// The slice policy's input row of `cell` (all its ready slices), or `None` (counted)
    /// when the policy cannot serve the cell.
    fn policy_row(
        &mut self,
        table: &CellTable,
        cell: CellId,
        policy: &ServedPolicy,
    ) -> Option<Vec<f32>> {
        let scale = self.scale_or_refuse(table, cell, policy.cell_prbs, policy.prb_scaling)?;
        if !self.inputs_present(table, cell, policy.layout.features()) {
            return None;
        }
        let slices: Vec<_> = table.ready_slices(&cell).collect();
        match policy.row(&slices, scale) {
            Ok(row) => Some(row),
            Err(e) => {
                let msg = policy.refusal_message(&cell, &e);
                self.refuse(cell, e.reason(), &msg);
                None
            }
        }
    }

    /// Model input rows of `cell`'s ready slices, or `None` (counted) when the cell cannot
    /// be served: an input it never reports, or a size the model cannot scale to.
    fn model_rows(&mut self, table: &CellTable, cell: CellId) -> Option<Vec<f32>> {
        let t = self.task;
        let scale = self.scale_or_refuse(table, cell, t.default_prbs, t.prb_scaling)?;
        // First the inputs no slice window carries (refused before any row is written).
        if !self.inputs_present(table, cell, &t.layout) {
            return None;
        }
        Some(rows_of(table, cell, &t.layout, scale))
    }

    /// Asks the remote model for `job`'s cell when the placement says so; what the
    /// decision will take from it.
    fn ask_remote(&mut self, job: &Job, table: &CellTable) -> RemoteState {
        let t = self.task;
        let Some(rp) = &t.cfg.remote else {
            return RemoteState::None;
        };
        let spent = job
            .age_ms
            .saturating_mul(1_000_000)
            .saturating_add(t.clock.now_ns().saturating_sub(job.arrival_ns));
        let remaining = Duration::from_nanos(t.cfg.budget.budget_ns.saturating_sub(spent));
        let wait = match rp.plan(remaining) {
            Plan::Off => return RemoteState::None,
            Plan::Skip(reason) => {
                t.metrics.placement.result(reason);
                if rp.probe_due()
                    && let Some(rows) = Self::remote_rows(rp, table, job.cell, t.cfg.missing_inputs)
                {
                    rp.probe(rows, &t.metrics);
                }
                return RemoteState::Resolved(Err(reason));
            }
            Plan::Ask { wait } => wait,
        };
        let Some(rows) = Self::remote_rows(rp, table, job.cell, t.cfg.missing_inputs) else {
            t.metrics.placement.result("skipped_cell");
            return RemoteState::Resolved(Err("skipped_cell"));
        };
        RemoteState::Pending(PendingRemote {
            rx: rp.ask(rows, &t.metrics),
            until: wait.map(|w| tokio::time::Instant::now() + w),
        })
    }

    /// The remote model's rows of `cell`, or `None` when its contract cannot serve the cell
    /// (its size, or an input the cell never reports).
    fn remote_rows(
        rp: &placement::RemotePlacement,
        table: &CellTable,
        cell: CellId,
        missing: MissingInputs,
    ) -> Option<Vec<f32>> {
        let absent = table
            .ready_slices(&cell)
            .any(|(_, w)| rp.layout.absent(w).is_some());
        let scale = Self::prb_scale(table, &cell, rp.cell_prbs, rp.prb_scaling);
        match scale {
            Ok(s) if !absent || missing == MissingInputs::ImputeZero => {
                Some(rows_of(table, cell, &rp.layout, s))
            }
            _ => None,
        }
    }

    /// Takes the remote side of a forecaster decision whose local answer is `local`:
    /// the forecasts the decision uses, or `None` when it waits for the remote answer
    /// (it comes back as [`NodeEvent::Inferred`] once there, or once too late).
    fn place(
        &mut self,
        mut ctx: InferCtx,
        local: Vec<[f32; 2]>,
    ) -> Option<(InferCtx, Vec<[f32; 2]>)> {
        let t = self.task;
        let Some(rp) = t.cfg.remote.clone() else {
            return Some((ctx, local));
        };
        let pm = &t.metrics.placement;
        let resolved = match std::mem::take(&mut ctx.remote) {
            RemoteState::None => {
                if !ctx.shadow {
                    pm.placed("local", rp.mode);
                }
                return Some((ctx, local));
            }
            RemoteState::Resolved(r) => r,
            RemoteState::Pending(mut p) => match placement::try_take(&mut p) {
                Some(r) => placement::settle(r, rp.columns, ctx.slices.len(), rp.cell_prbs, pm),
                None if rp.mode == PlacementMode::Shadow => {
                    self.log_shadow_later(&ctx, p, &rp);
                    Err("pending")
                }
                None => {
                    self.wait_remote(ctx, p, local, &rp);
                    return None;
                }
            },
        };
        let (decided_by, used) = match resolved {
            Ok(remote) if rp.mode != PlacementMode::Shadow => {
                ctx.model = Some(rp.id.clone());
                ("remote", Ok(remote))
            }
            other => {
                if let Err(reason) = other
                    && rp.mode != PlacementMode::Shadow
                {
                    pm.fallback(reason);
                }
                ("local", other)
            }
        };
        pm.placed(decided_by, rp.mode);
        let mut placed = Placed {
            decided_by,
            remote_result: used.as_ref().err().copied().unwrap_or("ok"),
            remote_outputs: None,
        };
        match used {
            Ok(remote) if decided_by == "remote" => {
                ctx.placed = Some(Box::new(placed));
                Some((ctx, remote))
            }
            other => {
                placed.remote_outputs = other.ok();
                ctx.placed = Some(Box::new(placed));
                Some((ctx, local))
            }
        }
    }

    /// Waits for the remote answer off the node task (at most until the decision's
    /// deadline), then hands the decision back with it resolved.
    fn wait_remote(
        &self,
        mut ctx: InferCtx,
        p: PendingRemote,
        local: Vec<[f32; 2]>,
        rp: &Arc<placement::RemotePlacement>,
    ) {
        let metrics = self.task.metrics.clone();
        let (columns, prbs) = (rp.columns, rp.cell_prbs);
        tokio::spawn(async move {
            let pm = &metrics.placement;
            let r = match placement::wait(p, pm).await {
                Ok(r) => placement::settle(r, columns, ctx.slices.len(), prbs, pm),
                Err(()) => Err("late"),
            };
            ctx.remote = RemoteState::Resolved(r);
            let reply = ctx.reply.clone();
            // A closed queue is a node task that stopped, the decision with it.
            let sent = reply
                .send(NodeEvent::Inferred {
                    ctx,
                    forecasts: Ok(local),
                })
                .await;
            if sent.is_err() {
                Metrics::inc(&metrics.dropped, "shutdown");
            }
        });
    }

    /// Shadow: the remote answer goes into the decision's log line when it comes.
    fn log_shadow_later(
        &self,
        ctx: &InferCtx,
        p: PendingRemote,
        rp: &Arc<placement::RemotePlacement>,
    ) {
        let t = self.task;
        let metrics = t.metrics.clone();
        let key: DecisionKey = (ctx.t_ms, t.node.id.to_string(), ctx.cell, false);
        let (columns, prbs, slices) = (rp.columns, rp.cell_prbs, ctx.slices.len());
        let reply = ctx.reply.clone();
        tokio::spawn(async move {
            let pm = &metrics.placement;
            let result = match placement::wait(p, pm).await {
                Ok(r) => placement::settle(r, columns, slices, prbs, pm),
                Err(()) => Err("late"),
            };
            let _ = reply.send(NodeEvent::RemoteShadow { key, result }).await;
        });
    }

    /// Starts a decision for `job` under `arm`: model arms submit their window to the
    /// arm's inference worker, baseline arms decide at once (returned).
    fn start_arm(
        &mut self,
        job: &Job,
        table: &CellTable,
        arm: usize,
        shadow: bool,
    ) -> Option<Decision> {
        let t = self.task;
        let mut slices = Vec::new();
        let mut demand = Vec::new();
        for (snssai, window) in table.ready_slices(&job.cell) {
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
            return None;
        }
        let rows = match &t.arms.arms[arm].policy {
            ArmPolicy::Model(m) => match &t.policies[*m] {
                Some(policy) => self.policy_row(table, job.cell, policy)?,
                None => self.model_rows(table, job.cell)?,
            },
            ArmPolicy::Baseline(_) => Vec::new(),
        };
        let permit = if t.cfg.overload == Overload::Backpressure && !shadow {
            self.inflight.clone().try_acquire_owned().ok()
        } else {
            None
        };
        let mut ctx = InferCtx {
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
            _making: self.making.clone(),
            model: None,
            a1: self
                .a1
                .snapshot(t.a1.as_ref(), &mut self.guard, table, job.cell),
            remote: RemoteState::None,
            placed: None,
        };
        if let ArmPolicy::Model(m) = t.arms.arms[arm].policy
            && !shadow
            && t.policies[m].is_none()
        {
            ctx.remote = self.ask_remote(job, table);
        }
        match &t.arms.arms[arm].policy {
            ArmPolicy::Baseline(b) => {
                let quotas = b.quotas(&ctx.slices, &demand);
                t.metrics.decisions.inc();
                Some(self.finish(ctx, quotas, Vec::new()))
            }
            ArmPolicy::Model(m) => {
                match t.infer[*m].submit(rows, ctx) {
                    Ok(()) => {}
                    Err(SubmitError::Closed) => Metrics::inc(&t.metrics.dropped, "shutdown"),
                    Err(SubmitError::QueueFull) => {
                        Metrics::inc(&t.metrics.dropped, "inference_queue_full");
                    }
                    Err(SubmitError::BadShape { expected, got }) => {
                        tracing::error!(expected, got, "feature rows do not fit the model");
                        Metrics::inc(&t.metrics.dropped, "inference_failed");
                    }
                }
                None
            }
        }
    }

    /// The decision of an inference result, unless the forecasts are refused (counted).
    pub fn inferred(
        &mut self,
        ctx: InferCtx,
        forecasts: Result<Vec<[f32; 2]>, String>,
    ) -> Option<Decision> {
        let t = self.task;
        let Ok(forecasts) = forecasts else {
            Metrics::inc(&t.metrics.dropped, "inference_failed");
            return None;
        };
        if let ArmPolicy::Model(m) = t.arms.arms[ctx.arm].policy
            && let Some(policy) = &t.policies[m]
        {
            return self.policy_inferred(ctx, &forecasts, policy);
        }
        let (ctx, forecasts) = self.place(ctx, forecasts)?;
        if let Err(e) = policy::check_outputs(&forecasts, ctx.slices.len(), t.default_prbs) {
            // Never a control: the cell keeps the quota it last received.
            Metrics::inc(&t.metrics.dropped, e.kind());
            tracing::warn!(e2_node = %t.node.id, cell = %ctx.cell, cause = %e, "model output refused");
            return None;
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
        Some(self.finish(ctx, quotas, forecasts))
    }

    /// The decision of a slice policy's output for one cell, unless refused (counted; the
    /// cell keeps the quota it last received).
    fn policy_inferred(
        &mut self,
        ctx: InferCtx,
        out: &[[f32; 2]],
        policy: &ServedPolicy,
    ) -> Option<Decision> {
        let t = self.task;
        let quotas = match policy.quotas(out, &ctx.slices) {
            Ok(q) => q,
            Err(e) => {
                let msg = format!("slice policy {} output refused: {e}", policy.name);
                self.refuse(ctx.cell, e.reason(), &msg);
                return None;
            }
        };
        t.metrics.decisions.inc();
        let inferred = t.clock.now_ns().saturating_sub(ctx.arrival_ns);
        t.metrics.latencies.inference_latency.record_ns(inferred);
        t.metrics.inference_latency.observe(inferred as f64 / 1e9);
        Some(self.finish(ctx, quotas, Vec::new()))
    }

    /// Enforces the quota invariants and passes the decision through the guard rails.
    fn finish(
        &mut self,
        mut ctx: InferCtx,
        mut quotas: Vec<SliceQuota>,
        forecasts: Vec<Forecast>,
    ) -> Decision {
        let t = self.task;
        if let Some(a1) = &ctx.a1 {
            a1.bound(&mut quotas, &t.metrics);
        }
        if enforce(&mut quotas) {
            t.metrics.clamped.inc();
        }
        t.arm_metrics[ctx.arm].decision(ctx.shadow);
        let key: DecisionKey = (ctx.t_ms, t.node.id.to_string(), ctx.cell, ctx.shadow);
        let verdict = self.verdict(&mut ctx, &quotas);
        Decision {
            ctx,
            key,
            quotas,
            forecasts,
            verdict,
        }
    }

    /// Whether a guarded decision is sent; a sent one is committed to the guard rails.
    fn verdict(&mut self, ctx: &mut InferCtx, quotas: &[SliceQuota]) -> Verdict {
        let t = self.task;
        if ctx.shadow {
            return Verdict::Held("shadow");
        }
        if let Some(a1) = &ctx.a1 {
            a1.lift_hysteresis(&mut self.guard, ctx.cell);
        }
        match self.guard.admit(ctx.cell, quotas, ctx.t_ms) {
            Ok(()) => {}
            Err(Suppressed::Hysteresis) => {
                Metrics::inc(&t.metrics.suppressed, "hysteresis");
                return Verdict::Held("hysteresis");
            }
            Err(Suppressed::RateLimited) => {
                Metrics::inc(&t.metrics.suppressed, "rate_limited");
                return Verdict::Held("rate_limited");
            }
        }
        let now_ns = t.clock.now_ns();
        if !t.cfg.budget.allows_aged(ctx.age_ms, ctx.arrival_ns, now_ns) {
            if t.cfg.budget_mode == BudgetMode::Drop {
                Metrics::inc(&t.metrics.dropped, "latency_budget");
                return Verdict::Held("latency_budget");
            }
            Metrics::inc(&t.metrics.ingest, "past_budget");
        }
        let permit = match ctx.permit.take() {
            Some(p) => p,
            None => match self.inflight.clone().try_acquire_owned() {
                Ok(p) => p,
                Err(_) => {
                    Metrics::inc(&t.metrics.dropped, "control_backpressure");
                    return Verdict::Held("control_backpressure");
                }
            },
        };
        self.guard.commit(ctx.cell, quotas, ctx.t_ms);
        Verdict::Send(permit)
    }
}
