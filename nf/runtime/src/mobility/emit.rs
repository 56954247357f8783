//! Emit: an [`Action`] in, nothing back. With a conflict gate configured, the action's
//! intent is asked first (on its own task; the answer comes back as
//! [`MobEvent::Guidance`]): `Allow` sends it, `Deny` drops it (counted, logged). The
//! control is encoded with the node's E2SM codec (E2SM-RC style 3 action 1 handover, or
//! the slice PRB quota control for a restriction), sent on the node's control path, and
//! its outcome comes back as [`MobEvent::Done`]: counted, logged, reported to the gate,
//! and an accepted handover handed to decide (`MobilityGuard::completed`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use nf_core::policy::SliceQuota;
use tokio::sync::mpsc;

use super::MobTask;
use super::decide::{Action, Completed, MobEvent};
use super::log::Line;
use crate::conflict::{ControlIntent, Guidance};
use crate::metrics::{Metrics, ResultLabel};
use crate::transport::{Control, ControlOutcome, ControlPath};

/// Every `result` of `xapp_handovers_total` and `xapp_restrictions_total` this stage
/// counts (decide adds the restrictions it holds).
pub const RESULTS: &[&str] = &[
    "sent",
    "accepted",
    "failed",
    "timeout",
    "denied",
    "encode_failed",
    "backpressure",
];

pub(crate) struct Emit<'a> {
    task: &'a MobTask,
    path: ControlPath,
    events: mpsc::Sender<MobEvent>,
    /// Controls sent and not answered (decremented by their completion).
    inflight: Arc<AtomicUsize>,
    /// Intents waiting for the gate's answer.
    asking: usize,
}

impl<'a> Emit<'a> {
    pub fn new(task: &'a MobTask, events: mpsc::Sender<MobEvent>) -> Self {
        Self {
            task,
            path: task
                .transport
                .control_path(&task.node.id, &task.cfg, task.metrics.clone()),
            events,
            inflight: Arc::new(AtomicUsize::new(0)),
            asking: 0,
        }
    }

    pub async fn open(&mut self) {
        self.path.open().await;
    }

    pub fn close(&mut self) {
        self.path.close();
    }

    pub fn sweep(&mut self) {
        self.path.sweep();
    }

    /// Nothing waiting for the gate or the RAN.
    pub fn idle(&self) -> bool {
        self.asking == 0 && self.inflight.load(Ordering::Relaxed) == 0
    }

    fn count(&self, action: &Action, result: &'static str) {
        let m = &self.task.metrics.mobility;
        let family = match action {
            Action::Handover { .. } => &m.handovers,
            Action::Restrict { .. } => &m.restrictions,
        };
        family.get_or_create(&ResultLabel { result }).inc();
    }

    /// The intent the conflict gate is asked about.
    fn intent(&self, action: &Action, xapp: &str) -> ControlIntent {
        let node = self.task.node.id.as_str();
        match action {
            Action::Handover { order, .. } => {
                ControlIntent::handover(xapp, node, order.source, order.ue, order.target)
            }
            Action::Restrict { restriction, .. } => ControlIntent::slice_quota(
                xapp,
                node,
                restriction.cell,
                format!("max={} per slice", restriction.max_prb_pct),
            ),
        }
    }

    /// Asks the gate (answer as an event), or sends at once without one.
    pub fn emit(&mut self, action: Action) {
        let t = self.task;
        let (Some(gate), Some(settings)) = (&t.gate, &t.icfg.conflict) else {
            self.send(action);
            return;
        };
        let intent = self.intent(&action, &settings.xapp);
        let gate = gate.clone();
        let events = self.events.clone();
        let metrics = t.metrics.clone();
        self.asking += 1;
        tokio::spawn(async move {
            let guidance = gate.ask(intent).await;
            // A node that stopped reading its events (shutdown) drops the action: counted.
            if events
                .send(MobEvent::Guidance { action, guidance })
                .await
                .is_err()
            {
                Metrics::inc(&metrics.dropped, "shutdown");
            }
        });
    }

    /// The gate's answer.
    pub fn guided(&mut self, action: Action, guidance: Guidance) {
        self.asking = self.asking.saturating_sub(1);
        match guidance {
            Guidance::Allow { .. } => self.send(action),
            Guidance::Deny { reason, holder } => {
                self.count(&action, "denied");
                let t = self.task;
                tracing::info!(e2_node = %t.node.id, reason, %holder, "control denied by the conflict manager");
                self.log(&action, "denied", reason);
            }
        }
    }

    /// Encodes and sends one control.
    fn send(&mut self, action: Action) {
        let t = self.task;
        if self.inflight.load(Ordering::Relaxed) >= t.cfg.max_inflight_controls {
            self.count(&action, "backpressure");
            self.log(&action, "held", "control_backpressure");
            self.report_applied(&action, false);
            return;
        }
        let encoded = match &action {
            Action::Handover { order, .. } => {
                t.codec.encode_handover_control(order.ue, &order.target)
            }
            Action::Restrict { restriction, .. } => {
                let pct = u8::try_from(restriction.max_prb_pct.min(100)).unwrap_or(100);
                let quotas: Vec<SliceQuota> = t
                    .node
                    .cells
                    .iter()
                    .find(|c| c.cell == restriction.cell)
                    .map(|c| {
                        c.slices
                            .iter()
                            .map(|s| SliceQuota {
                                snssai: *s,
                                min_ratio: 0,
                                max_ratio: pct,
                                dedicated_ratio: 0,
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                t.codec.encode_control(&restriction.cell, &quotas)
            }
        };
        let (header, message) = match encoded {
            Ok(hm) => hm,
            Err(e) => {
                self.count(&action, "encode_failed");
                tracing::warn!(e2_node = %t.node.id, cause = %e, "control not encodable");
                self.log(&action, "encode_failed", e.kind());
                self.report_applied(&action, false);
                return;
            }
        };
        self.count(&action, "sent");
        t.metrics.controls_sent.inc();
        self.log(&action, "sent", "");
        self.inflight.fetch_add(1, Ordering::Relaxed);
        let inflight = self.inflight.clone();
        let events = self.events.clone();
        let metrics = t.metrics.clone();
        let done = Box::new(move |outcome: ControlOutcome| {
            inflight.fetch_sub(1, Ordering::Relaxed);
            if let Err(e) = events.try_send(MobEvent::Done { action, outcome }) {
                metrics.undelivered(&e);
            }
        });
        self.path.send(
            Control {
                header,
                message,
                call_process_id: Vec::new(),
            },
            done,
        );
    }

    /// A control's outcome; the accepted handover, for the guard.
    pub fn done(&mut self, action: Action, outcome: ControlOutcome) -> Option<Completed> {
        let t = self.task;
        let (result, detail) = match &outcome {
            ControlOutcome::Ack { .. } => ("accepted", ""),
            ControlOutcome::Failure { cause, .. } => ("failed", *cause),
            ControlOutcome::Timeout { .. } => ("timeout", "timeout"),
        };
        self.count(&action, result);
        if result == "accepted" {
            t.metrics.controls_accepted.inc();
        } else {
            // The transport's bounded cause label (`timeout` for a timeout).
            Metrics::inc(&t.metrics.controls_rejected, detail);
            if let ControlOutcome::Failure { detail, .. } | ControlOutcome::Timeout { detail } =
                &outcome
                && let Some(n) = t.metrics.control_failed_log.admit(t.clock.now_ns())
            {
                let detail = nf_core::ids::Escaped(detail);
                tracing::warn!(e2_node = %t.node.id, result, %detail, suppressed = n, "control failed");
            }
        }
        self.log(&action, result, detail);
        self.report_applied(&action, result == "accepted");
        match action {
            Action::Handover { order, t_ms, .. } if result == "accepted" => Some(Completed {
                ue: order.ue,
                cell: order.target,
                t_ms,
            }),
            _ => None,
        }
    }

    fn report_applied(&self, action: &Action, ok: bool) {
        let t = self.task;
        if let (Some(gate), Some(settings)) = (&t.gate, &t.icfg.conflict) {
            gate.report_applied(&self.intent(action, &settings.xapp), ok);
        }
    }

    fn log(&self, action: &Action, event: &'static str, reason: &'static str) {
        let t = self.task;
        let Some(log) = &t.log else { return };
        let line = match action {
            Action::Handover {
                order,
                t_ms,
                loss_db,
                p_limited,
            } => Line {
                t_ms: *t_ms,
                node: &t.node.id,
                action: "handover",
                event,
                ue: Some(order.ue.0),
                source: order.source.to_string(),
                target: Some(order.target.to_string()),
                loss_db: Some(*loss_db),
                p_limited: Some(*p_limited),
                reason,
            },
            Action::Restrict {
                restriction, t_ms, ..
            } => Line {
                t_ms: *t_ms,
                node: &t.node.id,
                action: "restriction",
                event,
                ue: None,
                source: restriction.cell.to_string(),
                target: None,
                loss_db: None,
                p_limited: None,
                reason: if reason.is_empty() {
                    restriction.reason
                } else {
                    reason
                },
            },
        };
        log.decision(&line);
    }
}
