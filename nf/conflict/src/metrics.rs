//! The manager's Prometheus metrics: every label value from a bounded set, created at zero.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use nf_core::conflict::{DENY_REASONS, KIND_RESOLUTIONS};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    /// `allow`, or the deny reason.
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindResolution {
    pub kind: &'static str,
    pub resolution: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Reason {
    pub reason: &'static str,
}

/// Reasons of `conflict_requests_rejected_total`.
pub const REJECT_REASONS: [&str; 3] = ["bad_intent", "bad_registration", "unknown_xapp"];

#[derive(Debug)]
pub struct ManagerMetrics {
    pub registry: Registry,
    pub guidance: Family<ResultLabel, Counter>,
    pub conflicts: Family<KindResolution, Counter>,
    pub rejected: Family<Reason, Counter>,
    pub registrations: Counter,
    pub applied: Family<ResultLabel, Counter>,
    pub kpi_reports: Counter,
    pub leases: Gauge,
    /// TLS of the gRPC listener: `conflict_tls_*` (link `server`).
    pub tls: nf_tls::TlsMetrics,
}

impl Default for ManagerMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl ManagerMetrics {
    pub fn new() -> Self {
        let mut m = Self {
            registry: Registry::default(),
            guidance: Family::default(),
            conflicts: Family::default(),
            rejected: Family::default(),
            registrations: Counter::default(),
            applied: Family::default(),
            kpi_reports: Counter::default(),
            leases: Gauge::default(),
            tls: nf_tls::TlsMetrics::default(),
        };
        m.tls.precreate("server");
        for r in std::iter::once("allow").chain(DENY_REASONS) {
            if r != "manager_unavailable" {
                let _ = m.guidance.get_or_create(&ResultLabel { result: r });
            }
        }
        for (k, r) in KIND_RESOLUTIONS {
            let _ = m.conflicts.get_or_create(&KindResolution {
                kind: k.name(),
                resolution: r.name(),
            });
        }
        for r in REJECT_REASONS {
            let _ = m.rejected.get_or_create(&Reason { reason: r });
        }
        for r in ["ok", "failed"] {
            let _ = m.applied.get_or_create(&ResultLabel { result: r });
        }
        let reg = &mut m.registry;
        reg.register(
            "conflict_guidance",
            "Guidance answered, by result (allow or the deny reason)",
            m.guidance.clone(),
        );
        reg.register(
            "conflicts",
            "Conflicts between xApps, by kind (direct, indirect, implicit) and resolution",
            m.conflicts.clone(),
        );
        reg.register(
            "conflict_requests_rejected",
            "Requests refused as malformed or from an xApp not in the configuration, by reason",
            m.rejected.clone(),
        );
        reg.register(
            "conflict_registrations",
            "xApp registrations accepted",
            m.registrations.clone(),
        );
        reg.register(
            "conflict_controls_applied",
            "Controls reported by xApps after their outcome (ok or failed)",
            m.applied.clone(),
        );
        reg.register(
            "conflict_kpi_reports",
            "KPI reports received for implicit-conflict detection",
            m.kpi_reports.clone(),
        );
        reg.register(
            "conflict_leases",
            "Parameter leases held (including guard windows)",
            m.leases.clone(),
        );
        m.tls.register(reg.sub_registry_with_prefix("conflict"));
        m
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
