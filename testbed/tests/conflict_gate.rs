//! The slice-scheduling xApp with a conflict gate, against the real simulator and a real
//! conflict manager on loopback: cells whose quota another xApp holds receive no control
//! from the scheduler (the manager's deny is honoured and counted), the others are
//! controlled as usual, and leases spare the manager a question per decision.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use nf_core::conflict::{ControlIntent, Guidance, ManagerConfig, Windows};
use nf_runtime::conflict::{Gate, GateConfig};
use nf_runtime::metrics::{Metrics, ResultLabel};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deny_is_honoured_and_counted() {
    let sim = start_sim(fast()).await;
    let mgr = nf_conflict::start(nf_conflict::Config::local(ManagerConfig {
        xapps: [
            ("slice-xapp".to_owned(), 5),
            ("interference-xapp".to_owned(), 10),
        ]
        .into(),
        // Long leases: the interference xApp holds its cells for the whole test.
        slice_prb_quota: Windows {
            lease_ms: 120_000,
            guard_ms: 1_000,
        },
        ..ManagerConfig::default()
    }))
    .await
    .unwrap();
    let endpoint = format!("http://{}", mgr.grpc_addr);

    // The other xApp restricts two cells of the first node first.
    let other_metrics = Metrics::new();
    let mut other_cfg = GateConfig::new(&endpoint, "interference-xapp");
    other_cfg.timeout = Duration::from_secs(2);
    let other = Gate::new(other_cfg, &other_metrics);
    let node = &sim.sim.nodes[0];
    let held: Vec<_> = node.cells[..2].iter().map(|c| c.info.cell).collect();
    for cell in &held {
        let g = other
            .ask(ControlIntent::slice_quota(
                "interference-xapp",
                node.id.clone(),
                *cell,
                "restrict 40",
            ))
            .await;
        assert!(matches!(g, Guidance::Allow { .. }), "{g:?}");
    }

    let metrics = Arc::new(Metrics::new());
    let mut cfg = xapp_config(sim.addr);
    cfg.budget = nf_core::latency::Budget::from_ms(1000.0);
    let mut gate = GateConfig::new(&endpoint, "slice-xapp");
    gate.timeout = Duration::from_secs(2);
    cfg.conflict = Some(Arc::new(Gate::new(gate, &metrics)));
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(nf_runtime::run(cfg, model(), metrics.clone(), async move {
        let _ = rx.await;
    }));

    let free = sim.sim.cell_count() - held.len();
    let denied = || nf_runtime::metrics::Metrics::count(&metrics.dropped, "conflict_denied");
    let guidance = |result| {
        metrics
            .conflict_guidance
            .get_or_create(&ResultLabel { result })
            .get()
    };
    let done = wait_for(Duration::from_secs(30), || {
        sim.sim.controls().len() >= free && denied() >= 4 && guidance("allow_cached") >= free as u64
    })
    .await;
    let _ = stop.send(());
    let summary = run.await.unwrap().unwrap();
    let controls = sim.sim.controls();
    assert!(
        done,
        "{} of {free} free cells controlled, {} denied, {} cached",
        controls.len(),
        denied(),
        guidance("allow_cached")
    );
    for cell in &held {
        assert!(
            !controls.contains_key(cell),
            "held cell {cell} got a control from the scheduler"
        );
    }
    assert_eq!(controls.len(), free);
    // Decisions for a free cell ask until a lease is granted, then ride it (decisions in
    // flight before the first answer ask too).
    assert!(guidance("allow") >= free as u64);
    assert!(guidance("allow_cached") >= free as u64);
    assert!(guidance("deny") >= 4);
    assert_eq!(guidance("unavailable_denied"), 0);
    assert_eq!(
        summary.dropped_by_reason.get("conflict_denied").copied(),
        Some(denied())
    );
    // The manager counted the direct conflicts it refused (the scheduler ranks lower).
    let text = mgr.metrics.encode();
    let direct = text
        .lines()
        .find(|l| l.starts_with("conflicts_total{kind=\"direct\",resolution=\"denied\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .unwrap();
    assert_eq!(direct, guidance("deny"));
    mgr.stop().await;
    sim.stop().await;
}
