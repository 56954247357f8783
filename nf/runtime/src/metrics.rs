//! Metrics, declared once and cheap on the hot path; exposed in the Prometheus text format.
//!
//! Every name starts with `xapp_`; label sets are bounded (reasons and causes are fixed
//! enumerations, never cell IDs).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Reason {
    pub reason: &'static str,
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

/// Cell KPIs summed per A/B arm: metric label and the measurement (summed over slices).
const TRIAL_KPIS: [(&str, nf_core::Meas); 3] = [
    ("DRB.UEThpDl", nf_core::Meas::UeThpDl),
    ("RRU.PrbUsedDl", nf_core::Meas::PrbUsedDl),
    ("VS.DlBufferBytes", nf_core::Meas::DlBufferBytes),
];

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
        for ((_, meas), sum) in TRIAL_KPIS.iter().zip(&self.kpi_sums) {
            let v: f32 = report
                .slices
                .iter()
                .map(|(_, m)| m.get(*meas))
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
    /// E2T misbehaviour the runtime survived, by reason (see `docs/operations.md`).
    pub e2_failures: Family<Reason, Counter>,
    /// Liveness of the E2 side, read by health endpoints.
    pub health: Arc<crate::health::Health>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut m = Self {
            registry: Registry::with_prefix("xapp"),
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
            e2_failures: Family::default(),
            health: Arc::default(),
        };
        let r = &mut m.registry;
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
            "Ingest outcomes other than fresh (duplicate, out_of_order, late, missing, table_full)",
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
            "e2_failures",
            "E2T misbehaviour survived, by reason (discovery, node list, silent streams, node tasks)",
            m.e2_failures.clone(),
        );
        m
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
        let kpi_sums = TRIAL_KPIS.map(|(kpi, _)| {
            let key = ArmKpi {
                arm: arm.to_owned(),
                kpi,
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

/// Serves `GET /metrics` on `addr` until the task is dropped. A minimal HTTP/1.0 responder:
/// one request per connection, which is all a Prometheus scrape needs.
pub async fn serve(metrics: Arc<Metrics>, addr: SocketAddr) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    tracing::info!(%addr, "metrics endpoint listening");
    loop {
        let (mut sock, _) = listener.accept().await?;
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            let n = sock.read(&mut buf).await.unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]);
            let (status, body) = if req.starts_with("GET /metrics") {
                ("200 OK", metrics.encode())
            } else {
                ("404 Not Found", "try /metrics\n".to_owned())
            };
            let head = format!(
                "HTTP/1.0 {status}\r\nContent-Type: application/openmetrics-text; version=1.0.0; charset=utf-8\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            let _ = sock.write_all(head.as_bytes()).await;
            let _ = sock.write_all(body.as_bytes()).await;
        });
    }
}
