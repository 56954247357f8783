//! Ingest: one indication in, at most one [`Job`] out. Decodes it with the run's E2SM codec,
//! refuses what is impossible (a bad payload, a cell not subscribed, a measurement out of
//! range, a collection time ahead of the node's clock), writes it into the node's cell table,
//! feeds the trial's bookkeeping (arm KPIs, guard rail) and drops what is already past the
//! latency budget on arrival. Every refusal is counted by reason.

use nf_core::CellId;
use nf_core::latency::{BudgetMode, NodeClock};
use nf_core::state::{CellTable, Ingest as Ingested, StateConfig};

use super::NodeTask;
use crate::metrics::{Metrics, Reason};
use crate::transport::Indication;

/// An indication accepted into the cell table, ready for a decision.
#[derive(Debug)]
pub(super) struct Job {
    pub cell: CellId,
    /// Report time (collection start) [ms].
    pub t_ms: u64,
    pub arrival_ns: u64,
    /// Age on arrival (collection end to arrival, offset-corrected) [ms].
    pub age_ms: u64,
    pub call_process_id: Vec<u8>,
    /// The arm acting on the cell, and the one deciding in its shadow, if any.
    pub acting: usize,
    pub shadow: Option<usize>,
}

/// The ingest stage of one node: its cell table and clock estimate.
pub(super) struct Ingest<'a> {
    task: &'a NodeTask,
    table: CellTable,
    /// Offset of the node's collection clock from ours.
    node_clock: NodeClock,
}

impl<'a> Ingest<'a> {
    pub fn new(task: &'a NodeTask) -> Self {
        Self {
            task,
            table: CellTable::new(StateConfig {
                window: task.window,
                stale_after_ms: task.cfg.stale_after_ms,
                max_cells: task.cfg.max_cells_per_node,
                max_ahead_ms: task.cfg.max_ahead_ms,
            }),
            node_clock: NodeClock::new(task.cfg.offset_window_ms, task.cfg.max_ahead_ms),
        }
    }

    /// The cell windows, read by the decide stage.
    pub fn table(&self) -> &CellTable {
        &self.table
    }

    /// A new subscription may come from another E2T or a restarted node: its collection
    /// clock is estimated afresh.
    pub fn resubscribed(&mut self) {
        let cfg = &self.task.cfg;
        self.node_clock = NodeClock::new(cfg.offset_window_ms, cfg.max_ahead_ms);
    }

    /// Takes one indication; the job to decide on, if it is accepted and still in budget.
    pub fn accept(&mut self, ind: Indication) -> Option<Job> {
        let t = self.task;
        let arrival_ns = t.clock.now_ns();
        t.metrics.indications.inc();
        // The action's cell (action ID = position in the subscription), where the RIC
        // says which action an indication reports on.
        let scope = ind
            .action_id
            .and_then(|a| t.node.cells.get(usize::from(a)))
            .map(|c| e2_asn1::kpm::IndicationScope {
                cell: c.cell,
                granularity_ms: t.cfg.report_period_ms,
            });
        let (report, notes) = match t.codec.decode_indication(
            &ind.header,
            &ind.message,
            &t.cfg.limits,
            Some(&t.layouts),
            scope,
        ) {
            Ok(ok) => ok,
            Err(e) => {
                Metrics::inc(&t.metrics.rejected, e.kind());
                tracing::debug!(e2_node = %t.node.id, cause = %e, "indication rejected");
                return None;
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
                    .get_or_create(&Reason { reason: kind })
                    .inc_by(u64::from(n));
            }
        }
        if !t.layouts.contains_key(&report.cell) {
            Metrics::inc(&t.metrics.rejected, "unknown_cell");
            return None;
        }
        let age_ms = self.check_report(&report)?;
        if !self.store(&report, age_ms) {
            return None;
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
        if t.cfg.budget_mode == BudgetMode::Drop
            && !t
                .cfg
                .budget
                .allows_aged(age_ms, arrival_ns, t.clock.now_ns())
        {
            // Already past the budget on arrival: no inference is spent on it.
            Metrics::inc(&t.metrics.dropped, "latency_budget");
            return None;
        }
        Some(Job {
            cell: report.cell,
            t_ms,
            arrival_ns,
            age_ms,
            call_process_id: ind.call_process_id,
            acting: roles.acting,
            shadow: roles.shadow,
        })
    }

    /// Writes a checked report into the cell table; false (counted) when it is not fresh.
    fn store(&mut self, report: &nf_core::KpmReport, age_ms: u64) -> bool {
        let t = self.task;
        let before = self.table.len();
        match self.table.ingest(report, t.clock.unix_ms()) {
            Ingested::Fresh { missing, .. } => {
                if missing > 0 {
                    t.metrics
                        .ingest
                        .get_or_create(&Reason { reason: "missing" })
                        .inc_by(missing);
                }
                if age_ms > t.cfg.late_after_ms {
                    Metrics::inc(&t.metrics.ingest, "late");
                }
            }
            Ingested::Duplicate => {
                Metrics::inc(&t.metrics.ingest, "duplicate");
                return false;
            }
            Ingested::OutOfOrder => {
                Metrics::inc(&t.metrics.ingest, "out_of_order");
                return false;
            }
            Ingested::TableFull => {
                Metrics::inc(&t.metrics.ingest, "table_full");
                return false;
            }
            Ingested::TooFarAhead => {
                tracing::warn!(e2_node = %t.node.id, cell = %report.cell, collection_start_ms = report.collection_start_ms, "report stamped too far ahead of the cell's last one: refused");
                Metrics::inc(&t.metrics.ingest, "too_far_ahead");
                return false;
            }
        }
        if self.table.len() > before {
            t.metrics.cells.inc();
        }
        true
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

    /// Forgets cells silent past `stale_after_ms`; returns them (counted, logged).
    pub fn age_out(&mut self) -> Vec<CellId> {
        let t = self.task;
        let gone = self.table.age_out(t.clock.unix_ms());
        if !gone.is_empty() {
            t.metrics.aged_out.inc_by(gone.len() as u64);
            t.metrics.cells.dec_by(gone.len() as i64);
            tracing::info!(e2_node = %t.node.id, cells = gone.len(), "silent cells aged out");
        }
        gone
    }
}
