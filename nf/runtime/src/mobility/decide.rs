//! Decide: a [`Period`] in, one inference job out; the job's answer in, [`Action`]s out.
//!
//! One input row per UE with a full window (`radio_features::write_row`; a UE still filling
//! its window or missing RSRP / SINR in its newest period is counted and skipped), one job
//! per node and period. The answer's rows are checked: finite, `loss_db` in 0..=80 dB,
//! `p_limited` in 0..=1; a row failing any is dropped (counted by reason, logged rate
//! limited), never acted on. Each accepted row becomes an [`Assessment`] for the node's
//! [`MobilityGuard`]: a handover order, or the reason it is held (counted). When a
//! restriction is configured, each victim cell of the period is given to the core's rule
//! ([`propose_restriction`]: enough limited UEs naming one neighbour, loads from the latest
//! cell radio reports); a proposed interferer that is a cell of this node and was not
//! restricted within `min_interval_ms` is restricted.

use std::collections::HashMap;

use nf_core::CellId;
use nf_core::mobility::{
    Assessment, HandoverOrder, Held, MobilityGuard, Restriction, propose_restriction,
};
use nf_core::radio::{Neighbour, UeId};
use nf_core::radio_features::{self, FEATURES, RowError, WINDOW};
use nf_infer::worker::SubmitError;
use tokio::sync::mpsc;

use super::MobTask;
use super::ingest::{Ingest, Period};
use crate::metrics::Metrics;
use crate::transport::ControlOutcome;

/// Largest interference loss a model may answer [dB].
pub const MAX_LOSS_DB: f32 = 80.0;

/// Every `reason` of `xapp_interference_outputs_refused_total`.
pub const OUTPUT_REFUSALS: &[&str] = &[
    "non_finite",
    "loss_out_of_range",
    "p_out_of_range",
    "wrong_shape",
    "inference_failed",
    "inference_queue_full",
];

/// What travels with an inference job and back.
#[derive(Debug)]
pub struct MobCtx {
    pub(crate) reply: mpsc::Sender<MobEvent>,
    pub(crate) t_ms: u64,
    pub(crate) arrival_ns: u64,
    pub(crate) rows: Vec<RowMeta>,
}

/// The UE behind one input row.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RowMeta {
    pub ue: UeId,
    pub serving: CellId,
    pub neighbour: Option<Neighbour>,
    pub rsrp_dbm: f32,
}

/// A control decided: a handover, or the restriction of an interferer.
#[derive(Clone, Debug)]
pub enum Action {
    Handover {
        order: HandoverOrder,
        t_ms: u64,
        loss_db: f32,
        p_limited: f32,
    },
    Restrict {
        restriction: Restriction,
        t_ms: u64,
        /// The cell whose UEs it interferes with.
        victim: CellId,
    },
}

/// Events delivered to a node task besides its stream.
#[derive(Debug)]
pub enum MobEvent {
    /// The model's outputs for a period's rows (`2 × rows` values), or the error.
    Inferred {
        ctx: MobCtx,
        out: Result<Vec<f32>, String>,
    },
    /// The conflict gate's answer for an action.
    Guidance {
        action: Action,
        guidance: crate::conflict::Guidance,
    },
    /// A control's outcome.
    Done {
        action: Action,
        outcome: ControlOutcome,
    },
}

/// A handover the RAN accepted.
#[derive(Debug)]
pub(crate) struct Completed {
    pub ue: UeId,
    pub cell: CellId,
    pub t_ms: u64,
}

pub(crate) struct Decide<'a> {
    task: &'a MobTask,
    guard: MobilityGuard,
    events_tx: mpsc::Sender<MobEvent>,
    /// Inference jobs submitted and not answered.
    pending: usize,
    /// Last restriction per cell [ms, report time].
    restricted: HashMap<CellId, u64>,
    /// Latest report time seen [ms]: the guard's clock.
    now_ms: u64,
}

impl<'a> Decide<'a> {
    pub fn new(task: &'a MobTask, events_tx: mpsc::Sender<MobEvent>) -> Self {
        Self {
            task,
            guard: MobilityGuard::new(task.icfg.mobility.clone()),
            events_tx,
            pending: 0,
            restricted: HashMap::new(),
            now_ms: 0,
        }
    }

    /// No inference in flight.
    pub fn idle(&self) -> bool {
        self.pending == 0
    }

    pub fn forget_ue(&mut self, ue: UeId) {
        self.guard.forget_ue(ue);
    }

    /// A handover the RAN accepted: the UE now serves on its target.
    pub fn completed(&mut self, done: Completed) {
        self.guard
            .completed(done.t_ms.max(self.now_ms), done.ue, done.cell);
    }

    /// Builds the period's rows and submits them as one job.
    pub fn start(&mut self, period: Period, ingest: &Ingest<'_>) {
        let t = self.task;
        let m = &t.metrics.mobility;
        self.now_ms = self.now_ms.max(period.t_ms);
        let row_len = WINDOW * FEATURES;
        let mut rows = Vec::with_capacity(period.ues.len() * row_len);
        let mut meta = Vec::with_capacity(period.ues.len());
        for ue in &period.ues {
            let Some(w) = ingest.window(ue) else { continue };
            if w.last_t_ms != period.t_ms {
                continue;
            }
            let at = rows.len();
            rows.resize(at + row_len, 0.0);
            match radio_features::write_row(&w.reports, &mut rows[at..]) {
                Ok(()) => {}
                Err(e) => {
                    rows.truncate(at);
                    let reason = match e {
                        RowError::TooShort { .. } => "window_filling",
                        RowError::Missing { .. } => "missing_measurement",
                        RowError::Invalid { .. } => "impossible_value",
                    };
                    Metrics::inc(&m.ue_dropped, reason);
                    continue;
                }
            }
            let last = w.reports.last();
            meta.push(RowMeta {
                ue: *ue,
                serving: w.cell,
                neighbour: last.and_then(|r| r.neighbour),
                rsrp_dbm: last.and_then(|r| r.rsrp_dbm).unwrap_or(f32::NAN),
            });
        }
        if meta.is_empty() {
            return;
        }
        let ctx = MobCtx {
            reply: self.events_tx.clone(),
            t_ms: period.t_ms,
            arrival_ns: period.arrival_ns,
            rows: meta,
        };
        match t.infer.submit(rows, ctx) {
            Ok(()) => self.pending += 1,
            // The worker stopped (shutdown): the period goes undecided, counted.
            Err(SubmitError::Closed) => Metrics::inc(&t.metrics.dropped, "shutdown"),
            Err(SubmitError::QueueFull) => {
                Metrics::inc(&m.outputs_refused, "inference_queue_full");
            }
            Err(SubmitError::BadShape { expected, got }) => {
                tracing::error!(
                    expected,
                    got,
                    "radio rows do not fit the interference model"
                );
                Metrics::inc(&m.outputs_refused, "wrong_shape");
            }
        }
    }

    /// The actions of an inference answer.
    pub fn inferred(
        &mut self,
        ctx: MobCtx,
        out: Result<Vec<f32>, String>,
        ingest: &Ingest<'_>,
    ) -> Vec<Action> {
        let t = self.task;
        let m = &t.metrics.mobility;
        self.pending = self.pending.saturating_sub(1);
        let out = match out {
            Ok(v) if v.len() == ctx.rows.len() * 2 => v,
            Ok(v) => {
                Metrics::inc(&m.outputs_refused, "wrong_shape");
                tracing::error!(
                    rows = ctx.rows.len(),
                    values = v.len(),
                    "interference model answered the wrong number of values: batch dropped"
                );
                return Vec::new();
            }
            Err(e) => {
                Metrics::inc(&m.outputs_refused, "inference_failed");
                tracing::warn!(cause = %e, "interference inference failed: period dropped");
                return Vec::new();
            }
        };
        let inferred = t.clock.now_ns().saturating_sub(ctx.arrival_ns);
        t.metrics.inference_latency.observe(inferred as f64 / 1e9);
        let mut actions = Vec::new();
        let mut assessed = Vec::with_capacity(ctx.rows.len());
        for (row, o) in ctx.rows.iter().zip(out.chunks_exact(2)) {
            let (loss_db, p_limited) = (o[0], o[1]);
            if let Some(reason) = refusal(loss_db, p_limited) {
                Metrics::inc(&m.outputs_refused, reason);
                if let Some(n) = m.log_limit.admit(t.clock.now_ns()) {
                    tracing::warn!(e2_node = %t.node.id, ue = %row.ue, loss_db, p_limited, reason, suppressed = n, "interference model output refused: UE not assessed");
                }
                continue;
            }
            m.inferences.inc();
            // An unnamed neighbour (NCI 0) cannot be a handover target.
            let neighbour = row.neighbour.filter(|n| n.cell.nci != 0);
            let a = Assessment {
                ue: row.ue,
                serving: row.serving,
                neighbour,
                rsrp_dbm: row.rsrp_dbm,
                loss_db,
                p_limited,
            };
            match self.guard.consider(ctx.t_ms, &a) {
                Ok(order) => actions.push(Action::Handover {
                    order,
                    t_ms: ctx.t_ms,
                    loss_db,
                    p_limited,
                }),
                Err(held) => self.held(&a, &held, ctx.t_ms),
            }
            assessed.push(a);
        }
        actions.extend(self.restrictions(&assessed, ctx.t_ms, ingest));
        actions
    }

    fn held(&self, a: &Assessment, held: &Held, t_ms: u64) {
        let t = self.task;
        let reason = held.reason();
        t.metrics
            .mobility
            .held
            .get_or_create(&crate::metrics::Reason { reason })
            .inc();
        // A UE that is not limited is the common case: not logged.
        if matches!(held, Held::NotLimited) {
            return;
        }
        if let Some(log) = &t.log {
            log.decision(&super::log::Line {
                t_ms,
                node: &t.node.id,
                action: "handover",
                event: "held",
                ue: Some(a.ue.0),
                source: a.serving.to_string(),
                target: a.neighbour.map(|n| n.cell.to_string()),
                loss_db: Some(a.loss_db),
                p_limited: Some(a.p_limited),
                reason,
            });
        }
    }

    /// Restrictions of the dominant interferers of this period's victim cells (the core's
    /// rule), each interferer at most once per `min_interval_ms`.
    fn restrictions(
        &mut self,
        assessed: &[Assessment],
        t_ms: u64,
        ingest: &Ingest<'_>,
    ) -> Vec<Action> {
        let t = self.task;
        let Some(rs) = &t.icfg.restriction else {
            return Vec::new();
        };
        let count = |result| {
            t.metrics
                .mobility
                .restrictions
                .get_or_create(&crate::metrics::ResultLabel { result })
                .inc();
        };
        let mut victims: Vec<CellId> = assessed.iter().map(|a| a.serving).collect();
        victims.sort();
        victims.dedup();
        let load = |c: CellId| ingest.cell_radio(&c).and_then(|r| r.load());
        let mut out: Vec<Action> = Vec::new();
        for victim in victims {
            let Some(r) = propose_restriction(&t.icfg.mobility, &rs.rule, victim, assessed, load)
            else {
                continue;
            };
            if !t.node.cells.iter().any(|c| c.cell == r.cell) {
                count("not_this_node");
                continue;
            }
            let recent = self
                .restricted
                .get(&r.cell)
                .is_some_and(|last| t_ms.saturating_sub(*last) < rs.min_interval_ms);
            let twice = out.iter().any(
                |a| matches!(a, Action::Restrict { restriction, .. } if restriction.cell == r.cell),
            );
            if recent || twice {
                count("rate_limited");
                continue;
            }
            self.restricted.insert(r.cell, t_ms);
            out.push(Action::Restrict {
                restriction: r,
                t_ms,
                victim,
            });
        }
        out
    }
}

/// Why a model output row is refused, if it is.
pub(super) fn refusal(loss_db: f32, p_limited: f32) -> Option<&'static str> {
    if !loss_db.is_finite() || !p_limited.is_finite() {
        Some("non_finite")
    } else if !(0.0..=MAX_LOSS_DB).contains(&loss_db) {
        Some("loss_out_of_range")
    } else if !(0.0..=1.0).contains(&p_limited) {
        Some("p_out_of_range")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::refusal;

    #[test]
    fn garbage_outputs_are_named() {
        assert_eq!(refusal(3.0, 0.5), None);
        assert_eq!(refusal(0.0, 0.0), None);
        assert_eq!(refusal(80.0, 1.0), None);
        assert_eq!(refusal(f32::NAN, 0.5), Some("non_finite"));
        assert_eq!(refusal(1.0, f32::INFINITY), Some("non_finite"));
        assert_eq!(refusal(-0.1, 0.5), Some("loss_out_of_range"));
        assert_eq!(refusal(81.0, 0.5), Some("loss_out_of_range"));
        assert_eq!(refusal(1.0, 1.01), Some("p_out_of_range"));
        assert_eq!(refusal(1.0, -0.01), Some("p_out_of_range"));
    }
}
