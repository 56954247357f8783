//! The end-of-run summary printed by the xApp, with the reason behind every rejected,
//! dropped or skipped indication.

use std::collections::BTreeMap;
use std::fmt;

use nf_core::latency::Percentiles;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

use crate::metrics::{Metrics, Reason};

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
    /// Rejected indications by reason (only reasons seen).
    pub rejected_by_reason: BTreeMap<&'static str, u64>,
    /// Dropped decisions by reason (only reasons seen).
    pub dropped_by_reason: BTreeMap<&'static str, u64>,
    /// Decoded indications the cell table did not take, by reason (only reasons seen).
    pub not_ingested_by_reason: BTreeMap<&'static str, u64>,
    /// Measurements skipped inside accepted indications, by kind (only kinds seen).
    pub skipped_measurements: BTreeMap<&'static str, u64>,
    /// Ingested indications that led to no decision, by reason (only reasons seen).
    pub undecided_by_reason: BTreeMap<&'static str, u64>,
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
    // asn1-per (E2SM-KPM over APER) and osc-rmr (E2AP over RMR).
    "kpm_version_skew",
    // E2SM-KPM APER radio reports (a cell radio value no node can measure).
    "impossible_value",
    "unknown_action",
    "unknown_subscription",
    "e2ap_encode",
    "e2ap_oversize",
    "e2ap_malformed",
    "e2ap_unsupported_procedure",
    "e2ap_missing_ie",
    "e2ap_duplicate_ie",
    "e2ap_unknown_ie",
    "e2ap_too_many",
    "e2ap_unsupported_value",
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
    "slice_not_in_contract",
    "duplicate_slice",
    "control_encode_failed",
    "indication_queue_full",
    "conflict_denied",
    // A decision still being made when its node task stopped (shutdown, after the drain):
    // its inference or remote answer came back to no one.
    "shutdown",
];
/// Reasons a decoded indication does not reach the cell table.
pub(crate) const NOT_INGESTED_REASONS: &[&str] =
    &["duplicate", "out_of_order", "table_full", "too_far_ahead"];
/// Why an ingested indication led to no decision (not a loss).
pub(crate) const UNDECIDED_REASONS: &[&str] = &["window_filling", "no_slice"];
/// Kinds of measurements skipped inside an accepted indication.
pub(crate) const SKIPPED_KINDS: &[&str] = &["unknown_measurement", "non_finite_value", "no_value"];

/// The non-zero counts of `family` for `reasons`.
fn breakdown(
    family: &Family<Reason, Counter>,
    reasons: &[&'static str],
) -> BTreeMap<&'static str, u64> {
    reasons
        .iter()
        .map(|r| (*r, Metrics::count(family, r)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// `reason n, reason n` or `none`.
fn list(counts: &BTreeMap<&'static str, u64>) -> String {
    if counts.is_empty() {
        return "none".into();
    }
    counts
        .iter()
        .map(|(r, n)| format!("{r} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

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
    // E2AP cause groups of a RICcontrolFailure (osc-rmr) with no finer label above.
    "ric_request",
    "ric_service",
    "e2_node",
    "protocol",
    "misc",
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
            rejected_by_reason: breakdown(&m.rejected, REJECT_REASONS),
            dropped_by_reason: breakdown(&m.dropped, DROP_REASONS),
            not_ingested_by_reason: breakdown(&m.ingest, NOT_INGESTED_REASONS),
            skipped_measurements: breakdown(&m.notes, SKIPPED_KINDS),
            undecided_by_reason: breakdown(&m.ingest, UNDECIDED_REASONS),
            inference_latency: m.latencies.inference_latency.percentiles(),
            decision_latency: m.latencies.decision_latency.percentiles(),
            control_rtt: m.latencies.control_rtt.percentiles(),
            ..Self::default()
        }
    }

    /// Indications or decisions lost on the way: rejected, not ingested or dropped.
    #[cfg(test)]
    fn lost(&self) -> u64 {
        self.rejected
            + self.not_ingested_by_reason.values().sum::<u64>()
            + self.dropped_by_reason.values().sum::<u64>()
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
            "  indications received        {} ({} rejected: {})",
            self.indications,
            self.rejected,
            list(&self.rejected_by_reason)
        )?;
        writeln!(
            f,
            "  not ingested                {}",
            list(&self.not_ingested_by_reason)
        )?;
        writeln!(
            f,
            "  measurements skipped        {}",
            list(&self.skipped_measurements)
        )?;
        writeln!(
            f,
            "  decisions                   {} ({} held by hysteresis/rate limit)",
            self.decisions, self.suppressed
        )?;
        writeln!(
            f,
            "  no decision                 {}",
            list(&self.undecided_by_reason)
        )?;
        writeln!(
            f,
            "  controls sent / accepted / rejected   {} / {} / {}",
            self.controls_sent, self.controls_accepted, self.controls_rejected
        )?;
        writeln!(
            f,
            "  dropped past latency budget {} (other drops {}: {})",
            self.dropped_past_budget,
            self.dropped_other,
            list(&self.dropped_by_reason)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_the_reason_of_every_loss() {
        let m = Metrics::new();
        m.indications.inc_by(5);
        Metrics::inc(&m.rejected, "record_count");
        Metrics::inc(&m.rejected, "record_count");
        Metrics::inc(&m.ingest, "duplicate");
        Metrics::inc(&m.dropped, "inference_queue_full");
        Metrics::inc(&m.notes, "no_value");
        let s = Summary::from_metrics(&m);
        assert_eq!(s.rejected_by_reason.get("record_count"), Some(&2));
        assert_eq!(s.lost(), 4);
        let text = s.to_string();
        assert!(text.contains("(2 rejected: record_count 2)"), "{text}");
        assert!(
            text.contains("not ingested                duplicate 1"),
            "{text}"
        );
        assert!(
            text.contains("other drops 1: inference_queue_full 1"),
            "{text}"
        );
        assert!(
            text.contains("measurements skipped        no_value 1"),
            "{text}"
        );
        let clean = Summary::from_metrics(&Metrics::new());
        assert_eq!(clean.lost(), 0);
        assert!(clean.to_string().contains("(0 rejected: none)"));
    }
}
