//! The E2T goes away mid-run and comes back on the same address: the xApp notices, backs
//! off, resubscribes every node and keeps controlling.

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
