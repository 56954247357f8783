//! Per-node and per-cell state as Prometheus series, with a hard bound on how many exist:
//!
//! - `xapp_e2_node_state{e2_node, state}`: 1 for the state the node's task is in
//!   (`subscribing`, `subscribed`, `backoff`, `dead`), 0 for the others; a node whose task
//!   ended (drained, handed to another replica) leaves the family;
//! - `xapp_cell_prb_quota_ratio{e2_node, cell, slice, bound}`: the slice PRB quota (percent;
//!   `bound` = `min`, `max`, `dedicated`) the E2 node last acknowledged for the cell: what the
//!   RAN applies now, as far as the xApp knows. Set on acknowledgement only, so a refused or
//!   timed-out control never shows as applied.
//!
//! At most [`MAX_NODE_SERIES`] nodes and [`MAX_CELL_SERIES`] cells get series: past that,
//! the rest are counted in `xapp_metric_series_capped_total{family}` and warned about once,
//! and the aggregate gauges (`xapp_e2_nodes{state}`, `xapp_cells`) still count them. The
//! node bound is the default `max_e2_nodes`, so a default deployment exports every node.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use nf_core::CellId;
use nf_core::policy::SliceQuota;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::health::NodeState;

/// Nodes with `xapp_e2_node_state` series at most.
pub const MAX_NODE_SERIES: usize = 1024;
/// Cells with `xapp_cell_prb_quota_ratio` series at most.
pub const MAX_CELL_SERIES: usize = 4096;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NodeStateLabels {
    pub e2_node: String,
    pub state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QuotaLabels {
    pub e2_node: String,
    pub cell: String,
    pub slice: String,
    pub bound: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FamilyLabel {
    pub family: &'static str,
}

/// Which nodes and cells have series (for the bounds and for removal).
#[derive(Debug, Default)]
struct Admitted {
    nodes: HashSet<String>,
    /// Per node: its cells with quota series, and the slices each has.
    cells: HashMap<String, HashMap<CellId, Vec<String>>>,
    cell_count: usize,
}

/// The per-node and per-cell families.
#[derive(Debug, Default)]
pub struct NodeSeries {
    state: Family<NodeStateLabels, Gauge>,
    quota: Family<QuotaLabels, Gauge>,
    capped: Family<FamilyLabel, Counter>,
    admitted: Mutex<Admitted>,
    warned_nodes: AtomicBool,
    warned_cells: AtomicBool,
}

const STATE_FAMILY: &str = "xapp_e2_node_state";
const QUOTA_FAMILY: &str = "xapp_cell_prb_quota_ratio";

impl NodeSeries {
    pub(crate) fn register(&self, r: &mut Registry) {
        for family in [STATE_FAMILY, QUOTA_FAMILY] {
            drop(self.capped.get_or_create(&FamilyLabel { family }));
        }
        r.register(
            "e2_node_state",
            "1 for the state the E2 node's task is in (subscribing, subscribed, backoff, dead), 0 for the others",
            self.state.clone(),
        );
        r.register(
            "cell_prb_quota_ratio",
            "Slice PRB quota (percent) the E2 node last acknowledged for the cell, by bound (min, max, dedicated)",
            self.quota.clone(),
        );
        r.register(
            "metric_series_capped",
            "Nodes or cells left out of a per-node or per-cell family by its series bound",
            self.capped.clone(),
        );
    }

    /// `node` is now in `state`.
    pub fn set_state(&self, node: &str, state: NodeState) {
        let Ok(mut a) = self.admitted.lock() else {
            return;
        };
        if !a.nodes.contains(node) {
            if a.nodes.len() >= MAX_NODE_SERIES {
                drop(a);
                self.cap(STATE_FAMILY, &self.warned_nodes, MAX_NODE_SERIES);
                return;
            }
            a.nodes.insert(node.to_owned());
        }
        for s in NodeState::ALL {
            let labels = NodeStateLabels {
                e2_node: node.to_owned(),
                state: s.label(),
            };
            self.state.get_or_create(&labels).set(i64::from(s == state));
        }
    }

    /// The node acknowledged `quotas` for `cell`.
    pub fn quotas_applied(&self, node: &str, cell: CellId, quotas: &[SliceQuota]) {
        let Ok(mut a) = self.admitted.lock() else {
            return;
        };
        let known = a.cells.get(node).is_some_and(|c| c.contains_key(&cell));
        if !known && a.cell_count >= MAX_CELL_SERIES {
            drop(a);
            self.cap(QUOTA_FAMILY, &self.warned_cells, MAX_CELL_SERIES);
            return;
        }
        if !known {
            a.cell_count += 1;
        }
        let slices = a
            .cells
            .entry(node.to_owned())
            .or_default()
            .entry(cell)
            .or_default();
        let cell_text = cell.to_string();
        for q in quotas {
            let slice = q.snssai.to_string();
            for (bound, value) in [
                ("min", q.min_ratio),
                ("max", q.max_ratio),
                ("dedicated", q.dedicated_ratio),
            ] {
                let labels = QuotaLabels {
                    e2_node: node.to_owned(),
                    cell: cell_text.clone(),
                    slice: slice.clone(),
                    bound,
                };
                self.quota.get_or_create(&labels).set(i64::from(value));
            }
            if !slices.contains(&slice) {
                slices.push(slice);
            }
        }
    }

    /// The node's task ended (drained, or handed to another replica): its series go.
    pub fn forget(&self, node: &str) {
        let Ok(mut a) = self.admitted.lock() else {
            return;
        };
        if a.nodes.remove(node) {
            for s in NodeState::ALL {
                self.state.remove(&NodeStateLabels {
                    e2_node: node.to_owned(),
                    state: s.label(),
                });
            }
        }
        if let Some(cells) = a.cells.remove(node) {
            a.cell_count -= cells.len();
            for (cell, slices) in cells {
                let cell = cell.to_string();
                for slice in slices {
                    for bound in ["min", "max", "dedicated"] {
                        self.quota.remove(&QuotaLabels {
                            e2_node: node.to_owned(),
                            cell: cell.clone(),
                            slice: slice.clone(),
                            bound,
                        });
                    }
                }
            }
        }
    }

    fn cap(&self, family: &'static str, warned: &AtomicBool, bound: usize) {
        self.capped.get_or_create(&FamilyLabel { family }).inc();
        if !warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                family,
                bound,
                "per-node/per-cell series bound reached: further nodes or cells are counted in xapp_metric_series_capped_total, not exported one by one"
            );
        }
    }

    #[cfg(test)]
    fn capped(&self, family: &'static str) -> u64 {
        self.capped.get_or_create(&FamilyLabel { family }).get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nf_core::ids::Snssai;

    fn encode(s: &NodeSeries) -> String {
        let mut r = Registry::default();
        s.register(r.sub_registry_with_prefix("xapp"));
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &r).unwrap();
        out
    }

    fn cell(nci: u64) -> CellId {
        CellId {
            plmn: [0x00, 0xf1, 0x10],
            nci,
        }
    }

    fn quota(sst: u8, max: u8) -> SliceQuota {
        SliceQuota {
            snssai: Snssai { sst, sd: None },
            min_ratio: 10,
            max_ratio: max,
            dedicated_ratio: 0,
        }
    }

    #[test]
    fn one_state_per_node_and_the_last_acknowledged_quota() {
        let s = NodeSeries::default();
        s.set_state("gnb-1", NodeState::Subscribing);
        s.set_state("gnb-1", NodeState::Subscribed);
        s.set_state("gnb-2", NodeState::Backoff);
        s.quotas_applied("gnb-1", cell(1), &[quota(1, 60), quota(2, 40)]);
        s.quotas_applied("gnb-1", cell(1), &[quota(1, 70), quota(2, 30)]);
        let text = encode(&s);
        assert!(
            text.contains(r#"xapp_e2_node_state{e2_node="gnb-1",state="subscribed"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"xapp_e2_node_state{e2_node="gnb-1",state="subscribing"} 0"#));
        assert!(text.contains(r#"xapp_e2_node_state{e2_node="gnb-2",state="backoff"} 1"#));
        let max1 = format!(
            r#"xapp_cell_prb_quota_ratio{{e2_node="gnb-1",cell="{}",slice="{}",bound="max"}} 70"#,
            cell(1),
            Snssai { sst: 1, sd: None }
        );
        assert!(text.contains(&max1), "{text}");

        s.forget("gnb-1");
        let text = encode(&s);
        assert!(!text.contains(r#"e2_node="gnb-1""#), "{text}");
        assert!(text.contains(r#"e2_node="gnb-2""#), "{text}");
    }

    #[test]
    fn series_stop_at_the_bound_and_are_counted() {
        let s = NodeSeries::default();
        for i in 0..MAX_NODE_SERIES + 3 {
            s.set_state(&format!("n{i}"), NodeState::Subscribed);
        }
        assert_eq!(s.capped(STATE_FAMILY), 3);
        // A node already admitted still updates.
        s.set_state("n0", NodeState::Backoff);
        assert_eq!(s.capped(STATE_FAMILY), 3);
        for i in 0..MAX_CELL_SERIES as u64 + 2 {
            s.quotas_applied("n0", cell(i), &[quota(1, 50)]);
        }
        assert_eq!(s.capped(QUOTA_FAMILY), 2);
        // Forgetting a node frees its cells' room.
        s.forget("n0");
        s.quotas_applied("n1", cell(1), &[quota(1, 50)]);
        assert_eq!(s.capped(QUOTA_FAMILY), 2);
    }
}
