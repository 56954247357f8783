//! The latency budget is end to end: under overload, reports that queued in the E2T or the
//! transport arrive already old, and no control may answer them past the budget. Measured
//! on the E2T side (the simulator's indication→control round trip), not by the xApp.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use nf_core::latency::Budget;
use nf_runtime::config::Overload;
use nf_runtime::metrics::Metrics;
use testbed::sim::SimConfig;

/// Budget of the test and the slack allowed on top (the control's own trip to the E2T,
/// and a 2-core CI box).
const BUDGET_MS: f64 = 40.0;
const SLACK_MS: f64 = 100.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_control_answers_a_report_past_the_end_to_end_budget_under_overload() {
    // A delayed stream: real-time node clocks (speed 1), a 50 ms report period over 200
    // cells (4,000 reports/s), and an xApp that reads its stream only while no decision is
    // in flight (backpressure with one slot), so indications queue in the E2T for up to a
    // second. The budget must count that wait. (The simulator stamps collection times by
    // counting its ticks, so a tick it skips on a starved host steps its clock back by a
    // period; 50 ms ticks make that rare.)
    let cfg = SimConfig {
        nodes: 2,
        cells_per_node: 100,
        speed: 1.0,
        stagger: false,
        stream_queue: 2048,
        ..SimConfig::default()
    };
    let running = start_sim(cfg).await;
    let sim = running.sim.clone();
    let mut xcfg = xapp_config(running.addr);
    xcfg.report_period_ms = 50;
    xcfg.budget = Budget::from_ms(BUDGET_MS);
    xcfg.late_after_ms = 20;
    xcfg.overload = Overload::Backpressure;
    xcfg.max_inflight_controls = 1;
    let xapp = Xapp::start(xcfg);
    let m = xapp.metrics.clone();
    tokio::time::sleep(Duration::from_secs(8)).await;
    let loaded = wait_for(Duration::from_secs(20), || {
        // Decisions held by hysteresis send nothing: count decisions, and some controls.
        m.decisions.get() >= 200
            && m.controls_sent.get() >= 20
            && Metrics::count(&m.dropped, "latency_budget") >= 1_000
    })
    .await;
    let summary = xapp.stop().await;
    running.stop().await;
    let rtt = sim.round_trips().percentiles();
    println!(
        "indications sent {} dropped {}, ticks skipped {}, E2T-side rtt {rtt:?}\n{summary}",
        sim.stats.indications_sent.load(Ordering::Relaxed),
        sim.stats.indications_dropped.load(Ordering::Relaxed),
        sim.stats.ticks_skipped.load(Ordering::Relaxed)
    );
    assert!(loaded, "overload not reached: {summary}");
    assert!(rtt.count > 0, "{summary}");
    assert!(
        rtt.max_us <= (BUDGET_MS + SLACK_MS) * 1e3,
        "a control answered a report {} ms after the E2T sent it (budget {BUDGET_MS} ms): {rtt:?}",
        rtt.max_us / 1e3
    );
}
