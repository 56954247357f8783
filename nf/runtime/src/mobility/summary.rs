//! The interference xApp's end-of-run summary, read off its metrics: every UE entry not
//! used, every output refused, every period or control dropped and every handover held or
//! failed, by reason.

use std::collections::BTreeMap;
use std::fmt;

use crate::metrics::{Metrics, Reason, ResultLabel};

/// What a run of the interference xApp did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MobilitySummary {
    pub nodes: usize,
    pub cells: usize,
    pub indications: u64,
    pub ue_reports: u64,
    pub cell_reports: u64,
    pub inferences: u64,
    pub inference_batches: u64,
    pub mean_batch_rows: f64,
    pub reconnects: u64,
    /// Only reasons or results seen.
    pub ue_dropped: BTreeMap<&'static str, u64>,
    pub outputs_refused: BTreeMap<&'static str, u64>,
    /// `xapp_decisions_dropped_total`: periods or controls lost on the way (a full or
    /// closed reply queue, e.g. at shutdown).
    pub dropped: BTreeMap<&'static str, u64>,
    pub handovers: BTreeMap<&'static str, u64>,
    pub held: BTreeMap<&'static str, u64>,
    pub restrictions: BTreeMap<&'static str, u64>,
}

impl MobilitySummary {
    pub fn from_metrics(m: &Metrics) -> Self {
        let mob = &m.mobility;
        let reasons = |f: &prometheus_client::metrics::family::Family<Reason, _>,
                       list: &[&'static str]| {
            list.iter()
                .map(|r| (*r, Metrics::count(f, r)))
                .filter(|(_, n)| *n > 0)
                .collect::<BTreeMap<_, _>>()
        };
        let results = |f: &prometheus_client::metrics::family::Family<
            ResultLabel,
            prometheus_client::metrics::counter::Counter,
        >,
                       list: &[&'static str]| {
            list.iter()
                .map(|r| (*r, f.get_or_create(&ResultLabel { result: r }).get()))
                .filter(|(_, n)| *n > 0)
                .collect::<BTreeMap<_, _>>()
        };
        Self {
            indications: m.indications.get(),
            ue_reports: mob.ue_reports.get(),
            cell_reports: mob.cell_reports.get(),
            inferences: mob.inferences.get(),
            reconnects: m.reconnects.get(),
            ue_dropped: reasons(&mob.ue_dropped, super::UE_DROP_REASONS),
            outputs_refused: reasons(&mob.outputs_refused, super::OUTPUT_REFUSALS),
            dropped: reasons(&m.dropped, crate::summary::DROP_REASONS),
            held: reasons(&mob.held, &nf_core::mobility::Held::REASONS),
            handovers: results(&mob.handovers, super::HANDOVER_RESULTS),
            restrictions: results(&mob.restrictions, super::RESTRICTION_RESULTS),
            ..Self::default()
        }
    }

    /// Handovers with a result (0 when none).
    pub fn handovers(&self, result: &str) -> u64 {
        self.handovers.get(result).copied().unwrap_or(0)
    }
}

fn line(f: &mut fmt::Formatter<'_>, what: &str, m: &BTreeMap<&'static str, u64>) -> fmt::Result {
    if m.is_empty() {
        return writeln!(f, "  {what}: none");
    }
    let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k} {v}")).collect();
    writeln!(f, "  {what}: {}", parts.join(", "))
}

impl fmt::Display for MobilitySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "interference-xapp summary")?;
        writeln!(
            f,
            "  E2 nodes {}, cells {}, indications {}, reconnects {}",
            self.nodes, self.cells, self.indications, self.reconnects
        )?;
        writeln!(
            f,
            "  UE reports {}, cell radio reports {}, UE rows assessed {} in {} batches ({:.1} rows/batch)",
            self.ue_reports,
            self.cell_reports,
            self.inferences,
            self.inference_batches,
            self.mean_batch_rows
        )?;
        line(f, "UE entries not used", &self.ue_dropped)?;
        line(f, "model outputs refused", &self.outputs_refused)?;
        line(f, "periods or controls dropped", &self.dropped)?;
        line(f, "handovers", &self.handovers)?;
        line(f, "handovers held", &self.held)?;
        line(f, "restrictions", &self.restrictions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A period or control lost at shutdown is in the summary with its reason; a run
    /// without one says none.
    #[test]
    fn the_summary_names_every_dropped_period_or_control() {
        let m = Metrics::new();
        assert!(
            MobilitySummary::from_metrics(&m)
                .to_string()
                .contains("periods or controls dropped: none")
        );
        Metrics::inc(&m.dropped, "shutdown");
        Metrics::inc(&m.dropped, "shutdown");
        Metrics::inc(&m.dropped, "reply_queue_full");
        let s = MobilitySummary::from_metrics(&m);
        assert_eq!(s.dropped.get("shutdown"), Some(&2));
        assert!(
            s.to_string()
                .contains("periods or controls dropped: reply_queue_full 1, shutdown 2"),
            "{s}"
        );
    }
}
