//! The E2T goes away mid-run and comes back on the same address: the xApp notices, backs
//! off, resubscribes every node and keeps controlling. An E2T that comes up after the xApp
//! is found by discovery's retries, and the health state follows both.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use testbed::sim::RunningSim;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xapp_resubscribes_after_e2t_restart() {
    let first = start_sim(fast()).await;
    let (addr, sim) = (first.addr, first.sim.clone());
    let xapp = Xapp::start(xapp_config(addr));
    assert!(
        wait_for(Duration::from_secs(20), || sim
            .stats
            .controls_accepted
            .load(Ordering::Relaxed)
            > 0)
        .await
    );
    first.stop().await;
    let before = sim.stats.controls_accepted.load(Ordering::Relaxed);
    assert_eq!(sim.stats.subscriptions.load(Ordering::Relaxed), 2);
    tokio::time::sleep(Duration::from_millis(300)).await; // the E2T is down for a while

    let second = RunningSim::bind(sim.clone(), addr.port())
        .await
        .expect("rebind the same port");
    let resubscribed = wait_for(Duration::from_secs(20), || {
        sim.stats.subscriptions.load(Ordering::Relaxed) >= 4
    })
    .await;
    let resumed = wait_for(Duration::from_secs(20), || {
        sim.stats.controls_accepted.load(Ordering::Relaxed) > before + 8
    })
    .await;
    let summary = xapp.stop().await;
    second.stop().await;
    assert!(
        resubscribed,
        "subscriptions: {}",
        sim.stats.subscriptions.load(Ordering::Relaxed)
    );
    assert!(
        resumed,
        "controls before {before}, after {}",
        sim.stats.controls_accepted.load(Ordering::Relaxed)
    );
    assert!(summary.reconnects >= 2, "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xapp_started_before_the_e2t_discovers_it_and_reports_health() {
    // Reserve a port, then leave it closed while the xApp starts.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let xapp = Xapp::start(xapp_config(addr));
    let failed = wait_for(Duration::from_secs(20), || {
        nf_runtime::metrics::Metrics::count(&xapp.metrics.e2_failures, "discovery_failed") >= 2
    })
    .await;
    assert!(
        failed,
        "discovery failures are counted while the E2T is down"
    );
    assert!(!xapp.metrics.health.snapshot().e2t_reached);

    let running = RunningSim::bind(sim(fast()), port).await.unwrap();
    let controlled = wait_for(Duration::from_secs(30), || {
        running.sim.stats.controls_accepted.load(Ordering::Relaxed) > 8
    })
    .await;
    let health = xapp.metrics.health.snapshot();
    assert!(controlled, "controls once the E2T is up");
    assert_eq!(xapp.metrics.health.ready(), Ok(()), "{health:?}");
    assert_eq!((health.nodes_served, health.nodes_subscribed), (2, 2));

    let stop_sim = running.sim.clone();
    running.stop().await;
    let noticed = wait_for(Duration::from_secs(20), || {
        xapp.metrics.health.snapshot().nodes_subscribed == 0
    })
    .await;
    assert!(noticed, "health shows the streams lost");
    let summary = xapp.stop().await;
    assert!(summary.controls_accepted > 0, "{summary}");
    assert_eq!(stop_sim.stats.subscriptions.load(Ordering::Relaxed), 2);
}
