//! Emit: a [`Decision`] in, nothing back. Encodes a control to be sent with the run's E2SM
//! codec, sends it on the node's [`ControlPath`], records its outcome (accepted with the
//! indication→outcome time, or failed with its cause label, which also tells the node to
//! make the guard rails forget the cell's last quota), and writes the decision log line.
//!
//! With a conflict gate ([`crate::conflict::Gate`]) a decision to send is first held for
//! the manager's guidance: a task asks (bounded by the gate's timeout) and hands the answer
//! back to the node as [`NodeEvent::Guided`], which comes here again ([`Emit::guided`]):
//! `Allow` sends it, `Deny` drops it (`xapp_decisions_dropped_total{reason="conflict_denied"}`,
//! decision log action `conflict_denied`). The pipeline slot travels with the held decision,
//! so backpressure and drain see it. Each control's outcome is reported to the manager.

use std::sync::Arc;

use nf_core::CellId;
use nf_core::policy::SliceQuota;
use tokio::sync::{OwnedSemaphorePermit, mpsc};

use super::NodeTask;
use super::decide::{Decision, NodeEvent, Verdict};
use crate::clock::Clock;
use crate::conflict::{ControlIntent, Gate, Guidance};
use crate::decisions::{DecisionKey, DecisionLog, DecisionRecord, ModelRef, SliceOutput};
use crate::metrics::Metrics;
use crate::transport::{Completion, Control, ControlOutcome, ControlPath};

/// Where control outcomes go.
#[derive(Clone, Debug)]
struct Outcomes {
    metrics: Arc<Metrics>,
    events: mpsc::Sender<NodeEvent>,
    clock: Clock,
    node: Arc<str>,
    log: Option<Arc<DecisionLog>>,
    /// The intent to report to the conflict manager once the outcome is known.
    applied: Option<(Arc<Gate>, ControlIntent)>,
}

impl Outcomes {
    fn record(
        &self,
        key: &DecisionKey,
        quotas: &[SliceQuota],
        arrival_ns: u64,
        outcome: ControlOutcome,
    ) {
        if let Some((gate, intent)) = &self.applied {
            gate.report_applied(intent, matches!(outcome, ControlOutcome::Ack { .. }));
        }
        match outcome {
            ControlOutcome::Ack { .. } => {
                self.metrics
                    .node_series
                    .quotas_applied(&self.node, key.2, quotas);
                self.accepted(key, arrival_ns)
            }
            ControlOutcome::Failure { cause, detail } => self.failed(key, cause, &detail),
            ControlOutcome::Timeout { detail } => self.failed(key, "timeout", &detail),
        }
    }

    fn accepted(&self, key: &DecisionKey, arrival_ns: u64) {
        if let Some(log) = &self.log {
            log.outcome(key, "accepted");
        }
        let d = self.clock.now_ns().saturating_sub(arrival_ns);
        self.metrics.controls_accepted.inc();
        self.metrics.control_rtt.observe(d as f64 / 1e9);
        self.metrics.latencies.control_rtt.record_ns(d);
    }

    fn failed(&self, key: &DecisionKey, cause: &'static str, detail: &str) {
        let cell = key.2;
        if let Some(log) = &self.log {
            log.outcome(key, cause);
        }
        Metrics::inc(&self.metrics.controls_rejected, cause);
        if let Some(suppressed) = self.metrics.control_failed_log.admit(self.clock.now_ns()) {
            let detail = nf_core::ids::Escaped(detail);
            tracing::warn!(e2_node = %self.node, %cell, cause, %detail, suppressed, "control failed");
        }
        self.forget(cell);
    }

    fn forget(&self, cell: CellId) {
        let _ = self.events.try_send(NodeEvent::ControlFailed(cell));
    }

    /// The completion of one control: records its outcome, then frees its slot.
    fn completion(
        &self,
        key: DecisionKey,
        quotas: Vec<SliceQuota>,
        arrival_ns: u64,
        permit: OwnedSemaphorePermit,
        applied: Option<(Arc<Gate>, ControlIntent)>,
    ) -> Completion {
        let mut outcomes = self.clone();
        outcomes.applied = applied;
        Box::new(move |outcome| {
            outcomes.record(&key, &quotas, arrival_ns, outcome);
            drop(permit);
        })
    }
}

/// The emit stage of one node: its control path and outcome recording.
pub(super) struct Emit<'a> {
    task: &'a NodeTask,
    path: ControlPath,
    outcomes: Outcomes,
}

impl<'a> Emit<'a> {
    /// `events` is where a failed control tells the node to forget the cell's quota.
    pub fn new(task: &'a NodeTask, events: mpsc::Sender<NodeEvent>) -> Self {
        Self {
            task,
            path: task
                .transport
                .control_path(&task.node.id, &task.cfg, task.metrics.clone()),
            outcomes: Outcomes {
                metrics: task.metrics.clone(),
                events,
                clock: task.clock,
                node: task.node.id.as_str().into(),
                log: task.log.clone(),
                applied: None,
            },
        }
    }

    /// Prepares the control path after a (re)subscription.
    pub async fn open(&mut self) {
        self.path.open().await;
    }

    /// Drops the control path's connection state after a stream loss.
    pub fn close(&mut self) {
        self.path.close();
    }

    /// Times out controls waiting past the control timeout.
    pub fn sweep(&mut self) {
        self.path.sweep();
    }

    /// Sends (or holds) one decision and logs it; with a conflict gate, a decision to send
    /// first waits for the manager's guidance (answered as [`NodeEvent::Guided`]).
    pub fn emit(&mut self, d: Decision) {
        if let (Verdict::Send(_), Some(gate)) = (&d.verdict, &self.task.cfg.conflict) {
            self.ask(gate.clone(), d);
            return;
        }
        self.dispatch(d, None);
    }

    /// Holds `d` in a task until the gate answers; the answer comes back to the node.
    fn ask(&mut self, gate: Arc<Gate>, d: Decision) {
        let intent = ControlIntent::slice_quota(
            gate.config().xapp.clone(),
            self.task.node.id.as_str(),
            d.ctx.cell,
            quota_value(&d.quotas),
        );
        let events = self.outcomes.events.clone();
        let metrics = self.task.metrics.clone();
        tokio::spawn(async move {
            let guidance = gate.ask(intent.clone()).await;
            let guided = Guided {
                decision: d,
                intent,
                guidance,
            };
            // A node that stopped reading its events (shutdown) drops the decision with its
            // slot: counted, never silent.
            if events
                .send(NodeEvent::Guided(Box::new(guided)))
                .await
                .is_err()
            {
                Metrics::inc(&metrics.dropped, "shutdown");
            }
        });
    }

    /// A held decision's guidance: sends it on `Allow`; on `Deny` drops it (counted) and
    /// returns the cell, whose last quota the guard must forget.
    pub fn guided(&mut self, g: Guided) -> Option<CellId> {
        let Guided {
            decision,
            intent,
            guidance,
        } = g;
        match guidance {
            Guidance::Allow { .. } => {
                let gate = self.task.cfg.conflict.clone();
                self.dispatch(decision, gate.map(|g| (g, intent)));
                None
            }
            Guidance::Deny { reason, holder } => {
                let t = self.task;
                let cell = decision.ctx.cell;
                Metrics::inc(&t.metrics.dropped, "conflict_denied");
                if let Some(suppressed) = t.metrics.control_failed_log.admit(t.clock.now_ns()) {
                    tracing::info!(e2_node = %t.node.id, %cell, reason, %holder, suppressed, "control denied by the conflict manager: not sent");
                }
                let Decision {
                    mut ctx,
                    key,
                    quotas,
                    forecasts,
                    verdict,
                } = decision;
                drop(verdict); // frees the pipeline slot
                self.log(&mut ctx, key, &quotas, &forecasts, "conflict_denied");
                Some(cell)
            }
        }
    }

    /// Sends (or holds) one decision and logs it; `applied`: the gate to report the
    /// outcome to.
    fn dispatch(&mut self, d: Decision, applied: Option<(Arc<Gate>, ControlIntent)>) {
        let Decision {
            mut ctx,
            key,
            quotas,
            forecasts,
            verdict,
        } = d;
        let action = match verdict {
            Verdict::Held(action) => action,
            Verdict::Send(permit) => self.send(&key, &mut ctx, &quotas, permit, applied),
        };
        self.log(&mut ctx, key, &quotas, &forecasts, action);
    }

    /// Writes the decision log line, when a log is kept.
    fn log(
        &self,
        ctx: &mut super::InferCtx,
        key: DecisionKey,
        quotas: &[nf_core::policy::SliceQuota],
        forecasts: &[nf_core::policy::Forecast],
        action: &'static str,
    ) {
        let t = self.task;
        // The log line is built only when a decision log is kept.
        let Some(log) = &t.log else { return };
        let placed = ctx.placed.take();
        let record = DecisionRecord {
            decided_by: placed.as_ref().map(|p| p.decided_by),
            remote_result: placed.as_ref().map(|p| p.remote_result),
            remote_outputs: placed
                .and_then(|p| p.remote_outputs)
                .map(|o| slice_outputs(&ctx.slices, &o)),
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
            quotas: DecisionRecord::quotas_of(quotas),
            action,
            model: ctx.model.as_deref().map(ModelRef::from),
            a1_instances: ctx.a1.as_ref().map(|a| a.policy.instances().to_vec()),
            outcome: if action == "sent" { "pending" } else { "none" }.into(),
            latency_us: log
                .timings
                .then(|| t.clock.now_ns().saturating_sub(ctx.arrival_ns) / 1_000),
        };
        log.add(key, record);
    }

    /// Shadow placement: the remote answer for the decision `key`, into its log line.
    pub fn remote_shadow(&self, key: &DecisionKey, result: Result<Vec<[f32; 2]>, &'static str>) {
        let t = self.task;
        let Some(log) = &t.log else { return };
        let logged = log.annotate(key, |r| {
            r.remote_result = Some(result.as_ref().err().copied().unwrap_or("ok"));
            if let Ok(out) = &result {
                r.remote_outputs = Some(
                    r.outputs
                        .iter()
                        .zip(out)
                        .map(|(s, [p50, p90])| SliceOutput {
                            snssai: s.snssai.clone(),
                            p50: *p50,
                            p90: *p90,
                        })
                        .collect(),
                );
            }
        });
        if !logged {
            t.metrics.placement.shadow_unlogged.inc();
        }
    }

    /// Encodes and sends one control (taking the indication's call process ID from `ctx`);
    /// the decision log's action (`sent`, or `encode_failed` when the codec refused the
    /// quotas).
    fn send(
        &mut self,
        key: &DecisionKey,
        ctx: &mut super::InferCtx,
        quotas: &[nf_core::policy::SliceQuota],
        permit: OwnedSemaphorePermit,
        applied: Option<(Arc<Gate>, ControlIntent)>,
    ) -> &'static str {
        let t = self.task;
        let (arm, arrival_ns) = (ctx.arm, ctx.arrival_ns);
        let call_process_id = std::mem::take(&mut ctx.call_process_id);
        let cell = key.2;
        let (header, message) = match t.codec.encode_control(&cell, quotas) {
            Ok(encoded) => encoded,
            Err(e) => {
                Metrics::inc(&t.metrics.dropped, "control_encode_failed");
                tracing::warn!(e2_node = %t.node.id, %cell, cause = %e, "control not encodable");
                self.outcomes.forget(cell);
                return "encode_failed";
            }
        };
        let sent_ns = t.clock.now_ns();
        let latency = sent_ns.saturating_sub(arrival_ns);
        t.metrics.latencies.decision_latency.record_ns(latency);
        t.metrics.decision_latency.observe(latency as f64 / 1e9);
        t.metrics.controls_sent.inc();
        t.arm_metrics[arm].control();
        let control = Control {
            header,
            message,
            call_process_id,
        };
        let done =
            self.outcomes
                .completion(key.clone(), quotas.to_vec(), arrival_ns, permit, applied);
        self.path.send(control, done);
        "sent"
    }
}

/// A decision held for the conflict manager's guidance, with the intent asked about.
#[derive(Debug)]
pub(crate) struct Guided {
    decision: Decision,
    intent: ControlIntent,
    guidance: Guidance,
}

/// The quotas as a short human-readable value for the manager's logs.
fn quota_value(quotas: &[nf_core::policy::SliceQuota]) -> String {
    let mut out = String::new();
    for q in quotas.iter().take(8) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&format!(
            "{}:{}/{}/{}",
            q.snssai, q.dedicated_ratio, q.min_ratio, q.max_ratio
        ));
    }
    out
}

/// Outputs (p50, p90) of `slices`, in the log's form.
fn slice_outputs(slices: &[nf_core::Snssai], out: &[[f32; 2]]) -> Vec<SliceOutput> {
    slices
        .iter()
        .zip(out)
        .map(|(s, [p50, p90])| SliceOutput {
            snssai: s.to_string(),
            p50: *p50,
            p90: *p90,
        })
        .collect()
}
