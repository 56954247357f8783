//! The end-of-run summary printed by the xApp.

use std::fmt;

use nf_core::latency::Percentiles;

use crate::metrics::Metrics;

/// What a run did, read off the metrics and latency histograms.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    pub nodes: usize,
    pub cells: usize,
    pub indications: u64,
    pub rejected: u64,
    pub decisions: u64,
    pub suppressed: u64,
    pub controls_sent: u64,
    pub controls_accepted: u64,
    pub controls_rejected: u64,
    pub dropped_past_budget: u64,
    pub dropped_other: u64,
    pub reconnects: u64,
    /// Indication arrival → forecast available.
    pub inference_latency: Percentiles,
    /// Indication arrival → control send.
    pub decision_latency: Percentiles,
    /// Indication arrival → control outcome received.
    pub control_rtt: Percentiles,
    pub inference_batches: u64,
    pub mean_batch_rows: f64,
    /// Mean time of one batch inside onnxruntime [µs].
    pub mean_batch_run_us: f64,
    /// The A/B trial's guard rail rolled the treatment back.
    pub rolled_back: bool,
}

pub(crate) const REJECT_REASONS: &[&str] = &[
    "oversize",
    "malformed",
    "missing_field",
    "record_count",
    "too_many",
    "invalid_id",
    "unknown_cell",
    "not_indication",
    "negative_measurement",
    "prb_above_available",
    "measurement_out_of_range",
    "ahead_of_node_clock",
];
pub(crate) const DROP_REASONS: &[&str] = &[
    "latency_budget",
    "inference_queue_full",
    "reply_queue_full",
    "control_backpressure",
    "inference_failed",
    "missing_input",
    "cell_size_mismatch",
    "model_output_nan",
    "model_output_pos_inf",
    "model_output_neg_inf",
    "model_output_out_of_range",
    "model_output_rows",
];
/// Every reason label of `xapp_controls_rejected_total`.
pub const CAUSES: &[&str] = &[
    "control_message_invalid",
    "action_not_supported",
    "ran_function_id_invalid",
    "transfer_syntax_error",
    "control_processing_overload",
    "unspecified",
    "timeout",
    "transport",
    "overload",
];

impl Summary {
    pub(crate) fn from_metrics(m: &Metrics) -> Self {
        Self {
            indications: m.indications.get(),
            rejected: Metrics::total(&m.rejected, REJECT_REASONS),
            decisions: m.decisions.get(),
            suppressed: Metrics::total(&m.suppressed, crate::metrics::SUPPRESS_REASONS),
            controls_sent: m.controls_sent.get(),
            controls_accepted: m.controls_accepted.get(),
            controls_rejected: Metrics::total(&m.controls_rejected, CAUSES),
            dropped_past_budget: Metrics::count(&m.dropped, "latency_budget"),
            dropped_other: Metrics::total(&m.dropped, &DROP_REASONS[1..]),
            reconnects: m.reconnects.get(),
            ..Self::default()
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = |p: &Percentiles| {
            format!(
                "p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs (n={})",
                p.p50_us, p.p99_us, p.max_us, p.count
            )
        };
        writeln!(f, "slice-xapp run summary")?;
        writeln!(
            f,
            "  E2 nodes / cells            {} / {}",
            self.nodes, self.cells
        )?;
        writeln!(
            f,
            "  indications received        {} ({} rejected)",
            self.indications, self.rejected
        )?;
        writeln!(
            f,
            "  decisions                   {} ({} held by hysteresis/rate limit)",
            self.decisions, self.suppressed
        )?;
        writeln!(
            f,
            "  controls sent / accepted / rejected   {} / {} / {}",
            self.controls_sent, self.controls_accepted, self.controls_rejected
        )?;
        writeln!(
            f,
            "  dropped past latency budget {} (other drops {})",
            self.dropped_past_budget, self.dropped_other
        )?;
        writeln!(f, "  E2 reconnects               {}", self.reconnects)?;
        writeln!(
            f,
            "  inference batches           {} (mean {:.1} rows, {:.1} µs in onnxruntime)",
            self.inference_batches, self.mean_batch_rows, self.mean_batch_run_us
        )?;
        writeln!(
            f,
            "  indication→forecast         {}",
            p(&self.inference_latency)
        )?;
        writeln!(
            f,
            "  indication→control sent     {}",
            p(&self.decision_latency)
        )?;
        write!(f, "  indication→control outcome  {}", p(&self.control_rtt))
    }
}
