//! The SD-RAN path as current onos-e2t offers it: no `ListE2NodeConnections` (discovery is
//! onos-topo's), service models named `oran-e2sm-kpm` `v2` / `oran-e2sm-rc` `v1`, the
//! `Encoding` header saying how E2SM payloads are encoded. The real runtime, the real
//! simulator, gRPC on loopback.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use e2_proto::pb::e2t::subscription_service_client::SubscriptionServiceClient;
use e2_proto::pb::e2t::{Encoding, RequestHeaders, ServiceModel, SubscribeRequest};
use nf_runtime::e2::E2Node;
use nf_runtime::metrics::Metrics;
use testbed::sim::{RunningSim, SimConfig};

fn unlisted() -> SimConfig {
    SimConfig {
        list_nodes: false,
        ..fast()
    }
}

/// The simulator's nodes as an operator would write them in `[[ric.nodes]]`.
fn configured_nodes(sim: &RunningSim) -> Vec<E2Node> {
    sim.sim
        .nodes
        .iter()
        .map(|n| E2Node {
            id: n.id.clone(),
            cells: n.cells.iter().map(|c| c.info.clone()).collect(),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_nodes_are_served_when_the_e2t_cannot_list_them() {
    let sim = start_sim(unlisted()).await;
    let mut cfg = xapp_config(sim.addr);
    cfg.budget = nf_core::latency::Budget::from_ms(1000.0);
    cfg.nodes = configured_nodes(&sim);
    let xapp = Xapp::start(cfg);
    let cells = sim.sim.cell_count();
    let all = wait_for(Duration::from_secs(20), || {
        sim.sim.controls().len() == cells
    })
    .await;
    let m = xapp.metrics.clone();
    let summary = xapp.stop().await;
    assert!(
        all,
        "only {} of {cells} cells were controlled",
        sim.sim.controls().len()
    );
    assert_eq!(summary.nodes, 2);
    assert_eq!(summary.cells, cells);
    assert_eq!(summary.controls_rejected, 0);
    assert_eq!(
        Metrics::count(&m.e2_failures, "node_list_unimplemented"),
        1,
        "the fallback is counted once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_configured_nodes_an_unlisting_e2t_is_retried_and_counted() {
    let sim = start_sim(unlisted()).await;
    let metrics = std::sync::Arc::new(Metrics::new());
    let run = nf_runtime::run(
        xapp_config(sim.addr),
        model(),
        metrics.clone(),
        tokio::time::sleep(Duration::from_millis(1500)),
    )
    .await;
    let err = run.expect_err("no node to serve");
    assert!(
        matches!(err, nf_runtime::RuntimeError::NoE2Nodes { .. }),
        "{err}"
    );
    let tries = Metrics::count(&metrics.e2_failures, "node_list_unimplemented");
    assert!(tries >= 2, "retried and counted each time: {tries}");
}

async fn subscribe_as(sim: &RunningSim, name: &str, encoding: Encoding) -> tonic::Status {
    let mut client = SubscriptionServiceClient::connect(format!("http://{}", sim.addr))
        .await
        .unwrap();
    let req = SubscribeRequest {
        headers: Some(RequestHeaders {
            app_id: "probe".into(),
            app_instance_id: "probe-1".into(),
            e2_node_id: sim.sim.nodes[0].id.clone(),
            service_model: Some(ServiceModel {
                name: name.into(),
                version: "v2".into(),
            }),
            encoding: encoding as i32,
        }),
        ..SubscribeRequest::default()
    };
    client.subscribe(req).await.expect_err("refused")
}

#[tokio::test]
async fn the_simulator_accepts_only_onos_e2t_names_and_per_or_protobuf_payloads() {
    let sim = start_sim(fast()).await;
    let old = subscribe_as(&sim, "ORAN-E2SM-KPM", Encoding::Proto).await;
    assert!(old.message().contains("oran-e2sm-kpm"), "{old:?}");
    // XER is not offered; APER (like PROTO) passes the header checks (`sim_aper` drives it).
    let xer = subscribe_as(&sim, "oran-e2sm-kpm", Encoding::Asn1Xer).await;
    assert!(xer.message().contains("ASN1_XER"), "{xer:?}");
    let per = subscribe_as(&sim, "oran-e2sm-kpm", Encoding::Asn1Per).await;
    assert!(!per.message().contains("encoding"), "{per:?}");
    // The right name and encoding pass the header checks (and fail later, on the empty
    // subscription, for another reason).
    let ok = subscribe_as(&sim, "oran-e2sm-kpm", Encoding::Proto).await;
    assert!(!ok.message().contains("oran-e2sm-kpm"), "{ok:?}");
    assert!(!ok.message().contains("encoding"), "{ok:?}");
}

#[tokio::test]
async fn the_osc_transport_that_cannot_start_is_refused_by_key() {
    // `osc-rmr` and `asn1-per` are built: a transport that cannot start (its RMR port
    // taken) stops the run before anything starts, naming the key.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut cfg = nf_runtime::RuntimeConfig::local("http://127.0.0.1:1");
    cfg.transport = nf_runtime::transport::TransportKind::OscRmr;
    cfg.encoding = nf_runtime::transport::WireEncoding::Asn1Per;
    cfg.osc.rmr_listen = taken.local_addr().unwrap();
    let metrics = std::sync::Arc::new(Metrics::new());
    let err = nf_runtime::run(cfg, model(), metrics, std::future::pending())
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("ric.osc.rmr_listen"), "{err}");
}
