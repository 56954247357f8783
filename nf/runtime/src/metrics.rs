//! Metrics, declared once and cheap on the hot path; exposed in the Prometheus text format.
//!
//! Every xApp name starts with `xapp_`; label sets are bounded (reasons and causes are fixed
//! enumerations, never cell or node IDs) and every known reason is created at zero, so a
//! series exists before its first event. Process metrics keep their standard `process_*`
//! names. The HTTP endpoint lives in [`crate::http`].

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use nf_core::latency::SharedLatencyHistogram;

use crate::health::Health;
use crate::lograte::LogLimiter;
use crate::summary::{CAUSES, DROP_REASONS, REJECT_REASONS};

/// Reasons of `xapp_measurement_notes_total`.
pub(crate) const NOTE_REASONS: &[&str] = &[
    "unknown_measurement",
    "non_finite_value",
    "no_value",
    "imputed_input",
];
/// Reasons of `xapp_indication_ingest_total`.
pub(crate) const INGEST_REASONS: &[&str] = &[
    "duplicate",
    "out_of_order",
    "late",
    "missing",
    "table_full",
    "too_far_ahead",
    "past_budget",
    "window_filling",
    "no_slice",
];
/// Reasons of `xapp_decisions_suppressed_total`.
pub(crate) const SUPPRESS_REASONS: &[&str] = &["hysteresis", "rate_limited"];
/// Reasons of `xapp_e2_nodes_refused_total`.
pub(crate) const NODE_REFUSALS: &[&str] = &[
    "node_id_empty",
    "node_id_too_long",
    "node_id_not_printable",
    "oversize_node_entry",
    "duplicate_node_entry",
    "ran_function_invalid",
    "node_limit",
];
/// Reasons of `xapp_e2_failures_total`.
pub(crate) const E2_FAILURES: &[&str] = &[
    "discovery_failed",
    "discovery_timeout",
    "node_list_unterminated",
    "node_list_broken",
    "node_list_unimplemented",
    "subscription_encode_failed",
    "silent_stream",
    "control_stream_late_headers",
    "node_task_panic",
    "unknown_control_outcome",
    "control_outcome_undecodable",
    "unexpected_e2ap_message",
];
/// Reasons of `xapp_rmr_dropped_total`: the RMR endpoint's own drop reasons
/// ([`nf_rmr::DropReason`]) and messages of a type the xApp does not take.
pub(crate) const RMR_DROPS: &[&str] = &[
    "no_route",
    "connect_failed",
    "queue_full",
    "oversize",
    "bad_frame",
    "send_failed",
    "no_return_path",
    "bad_message",
    "unexpected_mtype",
];
/// Reasons of `xapp_submgr_failures_total`: failed Subscription Manager calls
/// ([`nf_osc::SubMgrError::kind`]) and subscriptions that did not become active
/// ([`nf_osc::TrackerEvent::label`]).
pub(crate) const SUBMGR_FAILURES: &[&str] = &[
    "submgr_invalid_request",
    "submgr_unreachable",
    "submgr_timeout",
    "submgr_http",
    "submgr_status_4xx",
    "submgr_status_5xx",
    "submgr_unexpected_status",
    "submgr_body_too_large",
    "submgr_bad_response",
    "failed",
    "timed_out",
    "unknown_instance",
    "subscription_mismatch",
    "duplicate_e2_instance",
    "instance_in_use",
    "unsubscribe_failed",
];

/// Labels of the build info metric.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BuildLabels {
    pub version: &'static str,
}

/// Labels of the model info metric.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct InfoLabels {
    pub name: String,
    pub version: String,
    pub sha256: String,
}

/// Labels of HTTP requests by endpoint (a fixed set of paths).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Endpoint {
    pub endpoint: &'static str,
}

/// The process-wide latency histograms every E2 node task records into (lock-free, shared:
/// a node holds three pointers, not three histograms). Clones share the histograms.
#[derive(Clone, Debug, Default)]
pub struct Latencies {
    /// Indication arrival → forecast back on the node task.
    pub inference_latency: Arc<SharedLatencyHistogram>,
    /// Indication arrival → control sent.
    pub decision_latency: Arc<SharedLatencyHistogram>,
    /// Indication arrival → control outcome.
    pub control_rtt: Arc<SharedLatencyHistogram>,
}

/// Labels of `xapp_model_swaps_total` (a fixed set: [`crate::models::SWAP_RESULTS`]).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SwapResult {
    pub result: &'static str,
}

/// Labels of `xapp_model_inferences_total`: the model that answered.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModelLabels {
    pub name: String,
    pub version: String,
}

/// Labels of `xapp_conflict_guidance_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Reason {
    pub reason: &'static str,
}

/// The interference xApp's own families (see [`crate::mobility`]); registered by
/// [`Metrics::for_interference`] only, so the slice xApp does not expose them.
#[derive(Debug)]
pub struct MobilityMetrics {
    /// UE measurement entries accepted into a window.
    pub ue_reports: Counter,
    /// UE entries (and radio indications) not used, by reason.
    pub ue_dropped: Family<Reason, Counter>,
    /// Cell radio reports accepted.
    pub cell_reports: Counter,
    /// UEs tracked.
    pub ues: Gauge,
    /// UE rows the interference model answered with a usable output.
    pub inferences: Counter,
    /// Model output rows refused, by reason.
    pub outputs_refused: Family<Reason, Counter>,
    pub handovers: Family<ResultLabel, Counter>,
    pub held: Family<Reason, Counter>,
    pub restrictions: Family<ResultLabel, Counter>,
    /// Rate limit of the per-UE warnings (first 20, then one per 10 s).
    pub log_limit: LogLimiter,
}

impl Default for MobilityMetrics {
    fn default() -> Self {
        Self {
            ue_reports: Counter::default(),
            ue_dropped: Family::default(),
            cell_reports: Counter::default(),
            ues: Gauge::default(),
            inferences: Counter::default(),
            outputs_refused: Family::default(),
            handovers: Family::default(),
            held: Family::default(),
            restrictions: Family::default(),
            log_limit: LogLimiter::new(20, Duration::from_secs(10)),
        }
    }
}

/// Labels of per-arm metrics (arm names come from the trial config: a bounded set).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ArmLabel {
    pub arm: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ArmRole {
    pub arm: String,
    pub role: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ArmKpi {
    pub arm: String,
    pub kpi: &'static str,
}

/// Cell KPIs summed per A/B arm: the trial vocabulary's online KPIs, labelled with their
/// measurement name (summed over slices).
const TRIAL_KPIS: [nf_core::trial::kpi::Kpi; 3] = nf_core::trial::kpi::Kpi::ONLINE;

/// The counters of one A/B arm (clones share the registered counters).
#[derive(Clone, Debug)]
pub struct ArmMetrics {
    acting: Counter,
    shadow: Counter,
    controls: Counter,
    reports: Counter,
    kpi_sums: [Counter<f64, AtomicU64>; 3],
}

impl ArmMetrics {
    /// Counts a decision, acting or in shadow.
    pub fn decision(&self, shadow: bool) {
        if shadow { &self.shadow } else { &self.acting }.inc();
    }

    /// Counts a control sent.
    pub fn control(&self) {
        self.controls.inc();
    }

    /// Adds a report of a cell acting under this arm to the KPI sums.
    pub fn observe(&self, report: &nf_core::KpmReport) {
        self.reports.inc();
        for (kpi, sum) in TRIAL_KPIS.iter().zip(&self.kpi_sums) {
            let Some(meas) = kpi.meas() else { continue };
            let v: f32 = report
                .slices
                .iter()
                .map(|(_, m)| m.get(meas))
                .filter(|v| v.is_finite())
                .sum();
            sum.inc_by(f64::from(v));
        }
    }
}

/// All metrics of the runtime.
#[derive(Debug)]
pub struct Metrics {
    pub registry: Registry,
    pub indications: Counter,
    pub rejected: Family<Reason, Counter>,
    pub notes: Family<Reason, Counter>,
    pub ingest: Family<Reason, Counter>,
    pub decisions: Counter,
    pub suppressed: Family<Reason, Counter>,
    pub dropped: Family<Reason, Counter>,
    pub clamped: Counter,
    pub controls_sent: Counter,
    pub controls_accepted: Counter,
    pub controls_rejected: Family<Reason, Counter>,
    pub reconnects: Counter,
    pub subscriptions: Counter,
    pub aged_out: Counter,
    pub cells: Gauge,
    pub inference_latency: Histogram,
    pub decision_latency: Histogram,
    pub control_rtt: Histogram,
    pub batch_rows: Histogram,
    pub trial_decisions: Family<ArmRole, Counter>,
    pub trial_controls: Family<ArmLabel, Counter>,
    pub trial_reports: Family<ArmLabel, Counter>,
    pub trial_kpi_sum: Family<ArmKpi, Counter<f64, AtomicU64>>,
    pub trial_rolled_back: Gauge,
    /// E2 nodes listed by the E2T but not served, by reason.
    pub nodes_refused: Family<Reason, Counter>,
    /// `xapp_build_info` and `xapp_model_info` (value 1, the labels carry the information).
    pub build_info: Family<BuildLabels, Gauge>,
    pub model_info: Family<InfoLabels, Gauge>,
    /// Model swap attempts by result (see [`crate::models`]).
    pub model_swaps: Family<SwapResult, Counter>,
    /// Inference jobs (one per cell decision) answered, by the model that answered.
    pub model_inferences: Family<ModelLabels, Counter>,
    /// HTTP requests served, by endpoint.
    pub http_requests: Family<Endpoint, Counter>,
    /// HTTP connections closed to make room under the connection limit.
    pub http_shed: Counter,
    /// Failed accepts of the HTTP listener (e.g. out of file descriptors).
    pub http_accept_errors: Counter,
    /// Readiness inputs and `xapp_e2_nodes{state}`.
    pub health: Health,
    /// `xapp_e2_node_state{e2_node,state}` and `xapp_cell_prb_quota_ratio{…}`, bounded.
    pub node_series: crate::node_series::NodeSeries,
    /// Run-wide latency histograms for the summary.
    pub latencies: Latencies,
    /// Rate limit of the `control failed` warning (first 20, then one per 10 s).
    pub control_failed_log: LogLimiter,
    /// E2T misbehaviour the runtime survived, by reason (see `docs/operations.md`).
    pub e2_failures: Family<Reason, Counter>,
    /// RMR messages dropped (osc-rmr), by reason.
    pub rmr_dropped: Family<Reason, Counter>,
    /// Subscription Manager failures (osc-rmr), by reason.
    pub submgr_failures: Family<Reason, Counter>,
    /// Conflict-manager guidance asked before controls, by result
    /// ([`crate::conflict::GUIDANCE_RESULTS`]).
    pub conflict_guidance: Family<ResultLabel, Counter>,
    /// The interference xApp's families (registered by [`Metrics::for_interference`]).
    pub mobility: MobilityMetrics,
    /// `xapp_shard_*`: this replica's share of the E2 nodes ([`crate::shard`]).
    pub shard: crate::shard::ShardMetrics,
    /// The A1 policy handler's families (`xapp_a1_*`, see [`crate::a1`]).
    pub a1: crate::a1::A1Metrics,
    /// Edge/remote placement of forecaster inference (`xapp_inference_placement_total`,
    /// `xapp_remote_*`, see [`crate::placement`]), every label created at zero.
    pub placement: crate::placement::PlacementMetrics,
    /// TLS of the E2T and conflict-manager links: `xapp_tls_reloads_total{link}`,
    /// `xapp_tls_reload_failures_total{link}`, `xapp_tls_handshake_failures_total{link,reason}`
    /// (both links' labels created at zero).
    pub tls: nf_tls::TlsMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut m = Self {
            registry: Registry::default(),
            indications: Counter::default(),
            rejected: Family::default(),
            notes: Family::default(),
            ingest: Family::default(),
            decisions: Counter::default(),
            suppressed: Family::default(),
            dropped: Family::default(),
            clamped: Counter::default(),
            controls_sent: Counter::default(),
            controls_accepted: Counter::default(),
            controls_rejected: Family::default(),
            reconnects: Counter::default(),
            subscriptions: Counter::default(),
            aged_out: Counter::default(),
            cells: Gauge::default(),
            inference_latency: Histogram::new(exponential_buckets(25e-6, 2.0, 16)),
            decision_latency: Histogram::new(exponential_buckets(25e-6, 2.0, 16)),
            control_rtt: Histogram::new(exponential_buckets(25e-6, 2.0, 16)),
            batch_rows: Histogram::new(exponential_buckets(1.0, 2.0, 16)),
            trial_decisions: Family::default(),
            trial_controls: Family::default(),
            trial_reports: Family::default(),
            trial_kpi_sum: Family::default(),
            trial_rolled_back: Gauge::default(),
            nodes_refused: Family::default(),
            build_info: Family::default(),
            model_info: Family::default(),
            model_swaps: Family::default(),
            model_inferences: Family::default(),
            http_requests: Family::default(),
            http_shed: Counter::default(),
            http_accept_errors: Counter::default(),
            health: Health::default(),
            node_series: Default::default(),
            latencies: Latencies::default(),
            control_failed_log: LogLimiter::new(20, Duration::from_secs(10)),
            e2_failures: Family::default(),
            rmr_dropped: Family::default(),
            submgr_failures: Family::default(),
            conflict_guidance: Family::default(),
            mobility: MobilityMetrics::default(),
            shard: crate::shard::ShardMetrics::default(),
            a1: crate::a1::A1Metrics::default(),
            placement: crate::placement::PlacementMetrics::default(),
            tls: nf_tls::TlsMetrics::default(),
        };
        // Both links' TLS series exist at zero from the start, configured or not.
        m.tls.precreate("e2t");
        m.tls.precreate("conflict");
        m.registry
            .register_collector(Box::new(crate::process::ProcessCollector));
        m.precreate();
        let build = BuildLabels {
            version: env!("CARGO_PKG_VERSION"),
        };
        m.build_info.get_or_create(&build).set(1);
        m.register_all();
        m
    }

    /// The metrics of the interference xApp: the runtime's, plus its own families
    /// (`xapp_ue_reports_total`, `xapp_ue_reports_dropped_total{reason}`,
    /// `xapp_cell_radio_reports_total`, `xapp_tracked_ues`,
    /// `xapp_interference_inferences_total`, `xapp_interference_outputs_refused_total{reason}`,
    /// `xapp_handovers_total{result}`, `xapp_handovers_held_total{reason}`,
    /// `xapp_restrictions_total{result}`), every label created at zero.
    pub fn for_interference() -> Self {
        let mut m = Self::new();
        let mob = &m.mobility;
        for (family, reasons) in [
            (&mob.ue_dropped, crate::mobility::UE_DROP_REASONS),
            (&mob.outputs_refused, crate::mobility::OUTPUT_REFUSALS),
            (&mob.held, &nf_core::mobility::Held::REASONS[..]),
        ] {
            for reason in reasons {
                drop(family.get_or_create(&Reason { reason }));
            }
        }
        for result in crate::mobility::HANDOVER_RESULTS {
            drop(mob.handovers.get_or_create(&ResultLabel { result }));
        }
        for result in crate::mobility::RESTRICTION_RESULTS {
            drop(mob.restrictions.get_or_create(&ResultLabel { result }));
        }
        let r = m.registry.sub_registry_with_prefix("xapp");
        let mob = &m.mobility;
        r.register(
            "ue_reports",
            "UE-level measurement entries accepted into a UE window",
            mob.ue_reports.clone(),
        );
        r.register(
            "ue_reports_dropped",
            "UE-level entries and radio indications not used, by reason",
            mob.ue_dropped.clone(),
        );
        r.register(
            "cell_radio_reports",
            "Cell radio reports (load, CQI and SS-RSRP distributions) accepted",
            mob.cell_reports.clone(),
        );
        r.register("tracked_ues", "UEs with a window", mob.ues.clone());
        r.register(
            "interference_inferences",
            "UE rows the interference model answered with a usable output",
            mob.inferences.clone(),
        );
        r.register(
            "interference_outputs_refused",
            "Interference model output rows refused (never acted on), by reason",
            mob.outputs_refused.clone(),
        );
        r.register(
            "handovers",
            "Handover controls (E2SM-RC style 3 action 1), by result",
            mob.handovers.clone(),
        );
        r.register(
            "handovers_held",
            "UE assessments that did not lead to a handover, by reason",
            mob.held.clone(),
        );
        r.register(
            "restrictions",
            "PRB restrictions of a dominant interferer, by result",
            mob.restrictions.clone(),
        );
        m
    }

    /// Creates every known reason label at zero.
    fn precreate(&self) {
        for (family, reasons) in [
            (&self.rejected, REJECT_REASONS),
            (&self.notes, NOTE_REASONS),
            (&self.ingest, INGEST_REASONS),
            (&self.suppressed, SUPPRESS_REASONS),
            (&self.dropped, DROP_REASONS),
            (&self.controls_rejected, CAUSES),
            (&self.nodes_refused, NODE_REFUSALS),
            (&self.e2_failures, E2_FAILURES),
            (&self.rmr_dropped, RMR_DROPS),
            (&self.submgr_failures, SUBMGR_FAILURES),
        ] {
            for reason in reasons {
                drop(family.get_or_create(&Reason { reason }));
            }
        }
        for result in crate::models::SWAP_RESULTS {
            drop(self.model_swaps.get_or_create(&SwapResult { result }));
        }
        for endpoint in crate::http::ENDPOINTS {
            drop(self.http_requests.get_or_create(&Endpoint { endpoint }));
        }
        for result in crate::conflict::GUIDANCE_RESULTS {
            drop(
                self.conflict_guidance
                    .get_or_create(&ResultLabel { result }),
            );
        }
    }

    /// Publishes `xapp_model_info{name, version, sha256} 1` for a loaded model.
    pub fn model_loaded(&self, name: &str, version: &str, sha256: &str) {
        let labels = InfoLabels {
            name: name.into(),
            version: version.into(),
            sha256: sha256.into(),
        };
        self.model_info.get_or_create(&labels).set(1);
        let labels = ModelLabels {
            name: name.into(),
            version: version.into(),
        };
        drop(self.model_inferences.get_or_create(&labels));
    }

    /// Removes `xapp_model_info` of a model no slot serves any more.
    pub fn model_unloaded(&self, name: &str, version: &str, sha256: &str) {
        let labels = InfoLabels {
            name: name.into(),
            version: version.into(),
            sha256: sha256.into(),
        };
        self.model_info.remove(&labels);
    }

    /// Counts one model swap attempt by its result.
    pub fn model_swap(&self, result: &'static str) {
        self.model_swaps.get_or_create(&SwapResult { result }).inc();
    }

    /// Reads `xapp_model_swaps_total{result}`.
    pub fn model_swap_count(&self, result: &'static str) -> u64 {
        self.model_swaps.get_or_create(&SwapResult { result }).get()
    }

    /// The counter of inference jobs answered by `model` (resolve once per model, not per
    /// job).
    pub fn model_inference_counter(&self, model: &nf_infer::ModelId) -> Counter {
        let labels = ModelLabels {
            name: model.name.clone(),
            version: model.version.clone(),
        };
        self.model_inferences.get_or_create(&labels).clone()
    }

    fn register_all(&mut self) {
        let m = self;
        let r = m.registry.sub_registry_with_prefix("xapp");
        m.node_series.register(r);
        m.tls.register(r);
        r.register(
            "indications",
            "RIC indications read off the E2 streams",
            m.indications.clone(),
        );
        r.register(
            "indications_rejected",
            "Indications rejected, by reason",
            m.rejected.clone(),
        );
        r.register(
            "measurement_notes",
            "Measurements skipped inside accepted indications, by kind",
            m.notes.clone(),
        );
        r.register(
            "indication_ingest",
            "Ingest outcomes other than fresh: not ingested (duplicate, out_of_order, table_full, too_far_ahead), ingested but noted (late, missing periods, past_budget in count mode), no decision (window_filling, no_slice)",
            m.ingest.clone(),
        );
        r.register(
            "decisions",
            "Model outputs turned into decisions",
            m.decisions.clone(),
        );
        r.register(
            "decisions_suppressed",
            "Decisions not sent by the guard rails, by reason",
            m.suppressed.clone(),
        );
        r.register(
            "decisions_dropped",
            "Decisions dropped, by reason (latency_budget, queues, inference failures)",
            m.dropped.clone(),
        );
        r.register(
            "quota_clamped",
            "Quota sets the guard rails had to bring inside the invariants",
            m.clamped.clone(),
        );
        r.register(
            "controls_sent",
            "E2SM-RC controls sent",
            m.controls_sent.clone(),
        );
        r.register(
            "controls_accepted",
            "E2SM-RC controls acknowledged by the E2 node",
            m.controls_accepted.clone(),
        );
        r.register(
            "controls_rejected",
            "E2SM-RC controls failed, by E2AP cause",
            m.controls_rejected.clone(),
        );
        r.register(
            "e2_reconnects",
            "E2T stream losses followed by a reconnect",
            m.reconnects.clone(),
        );
        r.register(
            "e2_subscriptions",
            "KPM subscriptions opened",
            m.subscriptions.clone(),
        );
        r.register(
            "cells_aged_out",
            "Cells forgotten after going silent",
            m.aged_out.clone(),
        );
        r.register("cells", "Cells currently tracked", m.cells.clone());
        r.register(
            "inference_latency_seconds",
            "Indication arrival to forecast back from the inference worker",
            m.inference_latency.clone(),
        );
        r.register(
            "decision_latency_seconds",
            "Indication arrival to control send",
            m.decision_latency.clone(),
        );
        r.register(
            "control_rtt_seconds",
            "Indication arrival to control outcome",
            m.control_rtt.clone(),
        );
        r.register(
            "inference_batch_rows",
            "Rows per inference batch",
            m.batch_rows.clone(),
        );
        r.register(
            "trial_decisions",
            "Decisions by A/B arm and role (acting or shadow)",
            m.trial_decisions.clone(),
        );
        r.register(
            "trial_controls",
            "Controls sent by A/B arm",
            m.trial_controls.clone(),
        );
        r.register(
            "trial_reports",
            "KPM reports of cells acting under each A/B arm",
            m.trial_reports.clone(),
        );
        r.register(
            "trial_kpi_sum",
            "Sum over reports of a cell KPI (summed over slices) by A/B arm; divide by xapp_trial_reports_total for the mean",
            m.trial_kpi_sum.clone(),
        );
        r.register(
            "trial_rolled_back",
            "1 once the trial guard rail has rolled the treatment arm back",
            m.trial_rolled_back.clone(),
        );
        r.register(
            "e2_nodes_refused",
            "E2 nodes listed by the E2T and not served, by reason (invalid node ID, undecodable KPM RAN function)",
            m.nodes_refused.clone(),
        );
        r.register(
            "e2_nodes",
            "E2 node tasks by connection state (subscribing, subscribed, backoff, dead)",
            m.health.nodes.clone(),
        );
        r.register(
            "build_info",
            "Build of the xApp (value 1; its version as label)",
            m.build_info.clone(),
        );
        r.register(
            "model_info",
            "ONNX models serving (value 1; contract name, version and model file sha256 as labels; a model swapped out is removed)",
            m.model_info.clone(),
        );
        r.register(
            "model_swaps",
            "Model swap attempts at run time (SIGHUP or the admin call), by result: swapped, unchanged, or why the new model was refused",
            m.model_swaps.clone(),
        );
        r.register(
            "model_inferences",
            "Inference jobs (one per cell decision) answered, by the model (contract name and version) that answered",
            m.model_inferences.clone(),
        );
        r.register(
            "http_requests",
            "HTTP requests served, by endpoint",
            m.http_requests.clone(),
        );
        r.register(
            "http_connections_shed",
            "HTTP connections closed, oldest first, to admit a new one over the connection limit",
            m.http_shed.clone(),
        );
        r.register(
            "http_accept_errors",
            "Failed accepts on the HTTP listener (e.g. out of file descriptors)",
            m.http_accept_errors.clone(),
        );
        r.register(
            "e2_failures",
            "E2T misbehaviour survived, by reason (discovery, node list, silent streams, node tasks)",
            m.e2_failures.clone(),
        );
        r.register(
            "rmr_dropped",
            "RMR messages dropped on the O-RAN SC path, by reason (no route, connect or send failure, full queue, bad frame, unexpected message type)",
            m.rmr_dropped.clone(),
        );
        r.register(
            "submgr_failures",
            "Subscription Manager calls failed and subscriptions not activated, by reason",
            m.submgr_failures.clone(),
        );
        r.register(
            "conflict_guidance",
            "Conflict-manager guidance before controls, by result (allow, allow_cached, deny, unavailable_denied, unavailable_allowed)",
            m.conflict_guidance.clone(),
        );
        m.shard.register(r);
        m.a1.register(r);
        m.placement.register(r);
    }

    /// The per-arm counters of `arm`, resolved once (no label lookup or allocation on the
    /// hot path).
    pub fn arm(&self, arm: &str) -> ArmMetrics {
        let label = ArmLabel {
            arm: arm.to_owned(),
        };
        let role = |role| ArmRole {
            arm: arm.to_owned(),
            role,
        };
        // One statement per lookup: `get_or_create` returns a read guard, and a second
        // insertion into the same family while it is alive would wait on it forever.
        let acting = self.trial_decisions.get_or_create(&role("acting")).clone();
        let shadow = self.trial_decisions.get_or_create(&role("shadow")).clone();
        let controls = self.trial_controls.get_or_create(&label).clone();
        let reports = self.trial_reports.get_or_create(&label).clone();
        let kpi_sums = TRIAL_KPIS.map(|kpi| {
            let key = ArmKpi {
                arm: arm.to_owned(),
                kpi: kpi.source(),
            };
            self.trial_kpi_sum.get_or_create(&key).clone()
        });
        ArmMetrics {
            acting,
            shadow,
            controls,
            reports,
            kpi_sums,
        }
    }

    /// Reads a labelled counter.
    pub fn count(family: &Family<Reason, Counter>, reason: &'static str) -> u64 {
        family.get_or_create(&Reason { reason }).get()
    }

    /// Increments a labelled counter.
    pub fn inc(family: &Family<Reason, Counter>, reason: &'static str) {
        family.get_or_create(&Reason { reason }).inc();
    }

    /// Counts in `xapp_decisions_dropped_total` an event (an answer, a control's outcome)
    /// that could not reach its node task: `reply_queue_full`, or `shutdown` when the task
    /// has stopped and closed its queue.
    pub fn undelivered<T>(&self, e: &tokio::sync::mpsc::error::TrySendError<T>) {
        use tokio::sync::mpsc::error::TrySendError;
        let reason = match e {
            TrySendError::Full(_) => "reply_queue_full",
            TrySendError::Closed(_) => "shutdown",
        };
        Self::inc(&self.dropped, reason);
    }

    /// Sum over every label of a family.
    pub fn total(family: &Family<Reason, Counter>, reasons: &[&'static str]) -> u64 {
        reasons.iter().map(|r| Self::count(family, r)).sum()
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::{NOT_INGESTED_REASONS, SKIPPED_KINDS, UNDECIDED_REASONS};

    /// The pre-created reasons of each `reason`-labelled family.
    fn families() -> [(&'static str, &'static [&'static str]); 10] {
        [
            ("rejected", REJECT_REASONS),
            ("notes", NOTE_REASONS),
            ("ingest", INGEST_REASONS),
            ("suppressed", SUPPRESS_REASONS),
            ("dropped", DROP_REASONS),
            ("controls_rejected", CAUSES),
            ("nodes_refused", NODE_REFUSALS),
            ("e2_failures", E2_FAILURES),
            ("rmr_dropped", RMR_DROPS),
            ("submgr_failures", SUBMGR_FAILURES),
        ]
    }

    /// Every `Metrics::inc(&….family, "reason")` in the runtime's sources names a reason
    /// of its family's list: a reason missing there would appear only after its first event
    /// and, for the summary's lists, be left out of the run summary (a silent loss).
    #[test]
    fn every_literal_reason_counted_is_pre_created() {
        let sources = [
            include_str!("node/mod.rs"),
            include_str!("node/ingest.rs"),
            include_str!("node/decide.rs"),
            include_str!("node/emit.rs"),
            include_str!("transport/sdran_control.rs"),
            include_str!("transport/osc.rs"),
            include_str!("transport/osc/control.rs"),
            include_str!("discovery.rs"),
            include_str!("supervise.rs"),
            include_str!("run.rs"),
            include_str!("a1/mod.rs"),
        ];
        let mut checked = 0;
        for src in sources {
            for call in src.split("Metrics::inc(").skip(1) {
                let args: String = call.chars().take_while(|c| *c != ')').collect();
                let Some((target, reason)) = args.split_once(',') else {
                    continue;
                };
                let reason = reason.trim();
                let Some(reason) = reason.strip_prefix('"').and_then(|r| r.strip_suffix('"'))
                else {
                    continue;
                };
                let family = target.trim().rsplit('.').next().unwrap_or_default();
                let (_, list) = families()
                    .into_iter()
                    .find(|(f, _)| *f == family)
                    .unwrap_or_else(|| panic!("unknown family `{family}`"));
                assert!(
                    list.contains(&reason),
                    "{family}: `{reason}` not pre-created"
                );
                checked += 1;
            }
        }
        assert!(checked > 20, "only {checked} calls found");
    }

    #[test]
    fn the_summarys_reason_lists_are_pre_created() {
        for r in NOT_INGESTED_REASONS.iter().chain(UNDECIDED_REASONS) {
            assert!(INGEST_REASONS.contains(r), "{r}");
        }
        for r in SKIPPED_KINDS {
            assert!(NOTE_REASONS.contains(r), "{r}");
        }
        // Labels the codec crates and the platform clients name themselves.
        for r in e2_asn1::kpm::KpmAperError::KINDS
            .iter()
            .chain(&crate::transport::codec::ASN1_PER_REJECT_REASONS)
            .chain(&crate::transport::osc::E2AP_REJECT_REASONS)
        {
            assert!(REJECT_REASONS.contains(r), "{r}");
        }
        for r in nf_rmr::DropReason::ALL {
            assert!(RMR_DROPS.contains(&r.as_str()), "{}", r.as_str());
        }
        // Labels the core names itself.
        for r in nf_core::ids::NodeIdError::KINDS {
            assert!(NODE_REFUSALS.contains(&r), "{r}");
        }
    }
}
