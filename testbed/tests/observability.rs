//! Observability of a live closed loop (real simulator, real runtime, real onnxruntime):
//! an E2 node whose ID would forge log lines is refused and counted while the others are
//! served; readiness, node-state gauges and every latency histogram follow the run.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use nf_runtime::health::NodeState;
use nf_runtime::metrics::Metrics;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_node_id_is_refused_counted_and_the_rest_served() {
    let mut sim = sim(fast());
    let forged = "gnb-1\n2026-01-01T00:00:00Z ERROR forged \u{1b}[2Jline";
    Arc::get_mut(&mut sim).unwrap().nodes[0].id = forged.into();
    let served = sim.nodes[1].id.clone();
    let running = testbed::sim::RunningSim::bind(sim, 0).await.unwrap();
    let xapp = Xapp::start(xapp_config(running.addr));
    let m = xapp.metrics.clone();
    assert!(wait_for(Duration::from_secs(20), || m.controls_accepted.get() > 0).await);
    assert_eq!(m.health.ready(), Ok(()));
    assert_eq!(m.health.nodes_in(NodeState::Subscribed), 1);
    assert_eq!(Metrics::count(&m.nodes_refused, "node_id_not_printable"), 1);
    let text = m.encode();
    assert!(!text.contains("forged"), "the raw ID leaked into metrics");
    // Per-node state and the quotas the node acknowledged, labelled by the served node only.
    assert!(
        text.contains(&format!(
            "xapp_e2_node_state{{e2_node=\"{served}\",state=\"subscribed\"}} 1"
        )),
        "{text}"
    );
    let quota = format!("xapp_cell_prb_quota_ratio{{e2_node=\"{served}\",cell=");
    assert!(text.contains(&quota), "{text}");
    for line in text.lines().filter(|l| l.starts_with(&quota)) {
        let v: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!((0.0..=100.0).contains(&v), "{line}");
    }
    assert!(
        text.contains("xapp_model_info{name=\"slice-prb-forecaster\""),
        "{text}"
    );
    let summary = xapp.stop().await;
    assert_eq!(summary.nodes, 1);
    // Every node task recorded into the shared histograms.
    assert!(summary.inference_latency.count > 0, "{summary:?}");
    assert!(summary.decision_latency.count > 0, "{summary:?}");
    assert!(summary.control_rtt.count > 0, "{summary:?}");
    let text = m.encode();
    let count = text
        .lines()
        .find_map(|l| l.strip_prefix("xapp_inference_latency_seconds_count "))
        .and_then(|v| v.parse::<u64>().ok());
    assert!(count.is_some_and(|n| n > 0), "{text}");
    assert_eq!(m.health.nodes_in(NodeState::Subscribed), 0);
    assert_eq!(m.health.nodes_in(NodeState::Dead), 0);
    // A drained node leaves the per-node families.
    assert!(!text.contains("e2_node=\""), "{text}");
    running.stop().await;
}
