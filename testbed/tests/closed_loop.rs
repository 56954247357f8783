//! The full loop over gRPC on loopback: every cell of every node gets E2SM-RC slice quotas
//! that satisfy the RRM policy invariants, and shutdown unsubscribes.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use nf_core::policy::SliceQuota;
use nf_runtime::config::ControlTransport;
use testbed::sim::{RunningSim, SimConfig};

/// Runs the xApp with `budget_ms` against a simulator until every cell was controlled (at
/// most 20 s); whether all were, and the run summary.
async fn until_all_controlled(sim: &RunningSim, budget_ms: f64) -> (bool, nf_runtime::Summary) {
    let mut cfg = xapp_config(sim.addr);
    cfg.budget = nf_core::latency::Budget::from_ms(budget_ms);
    let xapp = Xapp::start(cfg);
    let cells = sim.sim.cell_count();
    let all = wait_for(Duration::from_secs(20), || {
        sim.sim.controls().len() == cells
    })
    .await;
    (all, xapp.stop().await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cell_receives_bounded_quota_controls() {
    let sim = start_sim(fast()).await;
    // Tests share two cores with a debug build: the functional check uses a generous
    // budget (the budget itself is unit-tested in nf-core; latency is measured by loadbench).
    let (all, summary) = until_all_controlled(&sim, 1000.0).await;
    let cells = sim.sim.cell_count();
    let s = &sim.sim.stats;
    assert!(
        all,
        "only {} of {cells} cells were controlled",
        sim.sim.controls().len()
    );
    for (cell, c) in sim.sim.controls() {
        let wire: Vec<_> = c.last.iter().map(SliceQuota::wire).collect();
        nf_core::guard::validate(&wire).unwrap_or_else(|e| panic!("cell {cell}: {e}"));
        assert!(
            c.last.iter().all(|q| q.max_ratio >= 10),
            "cell {cell}: {:?}",
            c.last
        );
    }
    assert_eq!(summary.nodes, 2);
    assert_eq!(summary.cells, cells);
    assert_eq!(summary.controls_rejected, 0);
    assert_eq!(
        summary.controls_accepted,
        s.controls_accepted.load(Ordering::Relaxed)
    );
    assert_eq!(summary.rejected, 0);
    assert!(summary.indications > 0 && summary.decisions > 0);
    // Every control left within the budget, and nothing was dropped.
    assert!(summary.decision_latency.max_us < 1_000_000.0, "{summary}");
    assert_eq!(
        summary.dropped_past_budget + summary.dropped_other,
        0,
        "{summary}"
    );
    // The simulator measured the round trip of the indications that caused controls.
    assert!(sim.sim.round_trips().percentiles().count > 0);
    // Shutdown deleted both subscriptions.
    assert!(
        wait_for(Duration::from_secs(2), || s
            .unsubscriptions
            .load(Ordering::Relaxed)
            == 2)
        .await
    );
    sim.stop().await;
}

/// Runs the loop until every cell is controlled; returns (via stream, received) at the E2T.
/// Cells of one node report at their own phases; each collects at its phase too, so a tight
/// end-to-end budget drops nothing and every cell is controlled (before, later-phase cells
/// carried the first phase's collection time and looked up to a period old on arrival).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staggered_cells_are_young_on_arrival_and_all_controlled() {
    let sim = start_sim(SimConfig {
        nodes: 2,
        cells_per_node: 4,
        speed: 2.0,
        ..SimConfig::default()
    })
    .await;
    let (all, summary) = until_all_controlled(&sim, 25.0).await;
    let cells = sim.sim.cell_count();
    assert!(
        all,
        "{} of {cells} cells controlled: {summary}",
        sim.sim.controls().len()
    );
    // A phase is 31 ms at this speed: the old stamps put three of four phases past budget.
    assert!(
        summary.dropped_past_budget * 20 < summary.indications,
        "{summary}"
    );
}

async fn controls_by_transport(sim_cfg: SimConfig, transport: ControlTransport) -> (u64, u64) {
    let sim = start_sim(sim_cfg).await;
    let state = sim.sim.clone();
    let mut cfg = xapp_config(sim.addr);
    cfg.control_transport = transport;
    let xapp = Xapp::start(cfg);
    let cells = sim.sim.cell_count();
    assert!(
        wait_for(Duration::from_secs(20), || sim.sim.controls().len()
            == cells)
        .await
    );
    let summary = xapp.stop().await;
    sim.stop().await;
    assert_eq!(summary.controls_rejected, 0, "{summary}");
    assert_eq!(
        summary.controls_accepted, summary.controls_sent,
        "{summary}"
    );
    let s = &state.stats;
    (
        s.controls_via_stream.load(Ordering::Relaxed),
        s.controls_received.load(Ordering::Relaxed),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controls_use_the_stream_when_offered_and_unary_otherwise() {
    let (stream, all) = controls_by_transport(fast(), ControlTransport::Auto).await;
    assert!(
        all > 0 && stream == all,
        "auto with a stream-capable E2T: {stream} of {all} on the stream"
    );
    let no_stream = SimConfig {
        control_stream: false,
        ..fast()
    };
    let (stream, all) = controls_by_transport(no_stream, ControlTransport::Auto).await;
    assert!(
        all > 0 && stream == 0,
        "auto falls back to unary: {stream} of {all} on the stream"
    );
    let (stream, all) = controls_by_transport(fast(), ControlTransport::Unary).await;
    assert!(
        all > 0 && stream == 0,
        "unary forced: {stream} of {all} on the stream"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hysteresis_holds_controls_back() {
    // Indications here repeat their measurement-info list (the self-describing form).
    let sim = start_sim(SimConfig {
        meas_info_in_indications: true,
        ..fast()
    })
    .await;
    let mut cfg = xapp_config(sim.addr);
    cfg.guard.hysteresis_pct = 101; // only the first quota of each cell may go out
    let xapp = Xapp::start(cfg);
    let cells = sim.sim.cell_count();
    assert!(
        wait_for(Duration::from_secs(20), || sim.sim.controls().len()
            == cells)
        .await
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let summary = xapp.stop().await;
    assert_eq!(summary.controls_sent as usize, cells, "{summary}");
    assert!(summary.suppressed > 0);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_past_the_latency_budget_are_dropped_and_counted() {
    let sim = start_sim(fast()).await;
    let mut cfg = xapp_config(sim.addr);
    cfg.budget = nf_core::latency::Budget::from_ms(0.000_001); // 1 ns: nothing can make it
    let xapp = Xapp::start(cfg);
    let metrics = xapp.metrics.clone();
    assert!(
        wait_for(Duration::from_secs(20), || {
            nf_runtime::metrics::Metrics::count(&metrics.dropped, "latency_budget") >= 16
        })
        .await
    );
    let summary = xapp.stop().await;
    assert_eq!(summary.controls_sent, 0, "{summary}");
    assert_eq!(sim.sim.stats.controls_received.load(Ordering::Relaxed), 0);
    assert!(summary.dropped_past_budget >= 16, "{summary}");
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_endpoint_exposes_the_counters() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sim = start_sim(fast()).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cfg = xapp_config(sim.addr);
    cfg.metrics_listen = Some(([127, 0, 0, 1], port).into());
    let xapp = Xapp::start(cfg);
    let metrics = xapp.metrics.clone();
    assert!(
        wait_for(Duration::from_secs(20), || metrics.controls_accepted.get()
            > 0)
        .await
    );
    let mut sock = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    sock.write_all(b"GET /metrics HTTP/1.0\r\n\r\n")
        .await
        .unwrap();
    let mut body = String::new();
    sock.read_to_string(&mut body).await.unwrap();
    xapp.stop().await;
    sim.stop().await;
    assert!(body.starts_with("HTTP/1.0 200 OK"), "{body}");
    for name in [
        "xapp_indications_total",
        "xapp_controls_accepted_total",
        "xapp_decision_latency_seconds_bucket",
        "xapp_inference_batch_rows_count",
        "xapp_cells",
    ] {
        assert!(body.contains(name), "{name} missing from /metrics");
    }
}
