//! The gRPC E2T simulator speaking ASN1_PER next to PROTO, to several apps at once:
//!
//! - two apps (different `app_id`) subscribe to the same node, one in PROTO, one in
//!   ASN1_PER, each with its own actions: each stream carries only its own actions' cells
//!   (named by RIC action ID), decodes with its own codec, and ends on its own unsubscribe
//!   while the other goes on;
//! - APER E2SM-RC slice quota controls over the gRPC `Control` call are applied, logged with
//!   their sender's app id, and a crafted sequence from two apps gives the right direct
//!   conflict count; undecodable and unoffered controls are refused with their E2AP cause;
//! - the real `slice-xapp` binary with `ric.transport = "sdran-grpc"`, `ric.encoding =
//!   "asn1-per"` closes its loop against the simulator (`target/debug/slice-xapp`, or
//!   `SLICE_XAPP_BIN`; `cargo build -p slice-xapp` builds it).

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::xapp_proc::{XappProcess, demo_config, ric_nodes};
use common::*;
use e2_asn1::kpm::{IndicationScope, KpmVersion};
use e2_asn1::rc::RcProfile;
use e2_proto::cause::E2Cause;
use e2_proto::pb::e2t::control_service_client::ControlServiceClient;
use e2_proto::pb::e2t::subscription_service_client::SubscriptionServiceClient;
use e2_proto::pb::e2t::{
    Action, ActionType, ControlMessage, ControlRequest, Encoding, EventTrigger, RequestHeaders,
    ServiceModel, SubscribeRequest, SubscribeResponse, SubscriptionSpec, UnsubscribeRequest,
    subscribe_response,
};
use nf_core::policy::SliceQuota;
use testbed::sim::{ControlParameter, RunningSim, SimConfig};
use tonic::Streaming;

const LIMIT: Duration = Duration::from_secs(20);
const PERIOD_MS: u32 = 250;

fn headers(app: &str, node: &str, sm: &str, encoding: Encoding) -> RequestHeaders {
    RequestHeaders {
        app_id: app.into(),
        app_instance_id: format!("{app}-1"),
        e2_node_id: node.into(),
        service_model: Some(ServiceModel {
            name: sm.into(),
            version: String::new(),
        }),
        encoding: encoding as i32,
    }
}

async fn start(cfg: SimConfig) -> RunningSim {
    start_sim(cfg).await
}

/// Subscribes `app` to `node` with one report action per (action ID, cell number).
async fn subscribe(
    sim: &RunningSim,
    app: &str,
    encoding: Encoding,
    actions: &[(i32, usize)],
) -> Streaming<SubscribeResponse> {
    let node = &sim.sim.nodes[0];
    let version = sim.sim.kpm_version(0);
    let trigger = match encoding {
        Encoding::Asn1Per => e2_asn1::kpm::encode_event_trigger(PERIOD_MS, version),
        _ => e2_proto::kpm::encode_event_trigger(PERIOD_MS),
    };
    let actions = actions
        .iter()
        .map(|&(id, c)| {
            let info = &node.cells[c].info;
            Action {
                id,
                r#type: ActionType::Report as i32,
                payload: match encoding {
                    Encoding::Asn1Per => {
                        e2_asn1::kpm::encode_action_definition(info, PERIOD_MS, version)
                    }
                    _ => e2_proto::kpm::encode_action_definition(info, PERIOD_MS),
                },
                subsequent_action: None,
            }
        })
        .collect();
    let mut client = SubscriptionServiceClient::connect(format!("http://{}", sim.addr))
        .await
        .unwrap();
    client
        .subscribe(SubscribeRequest {
            headers: Some(headers(app, &node.id, "oran-e2sm-kpm", encoding)),
            transaction_id: format!("{app}-kpm"),
            subscription: Some(SubscriptionSpec {
                event_trigger: Some(EventTrigger { payload: trigger }),
                actions,
            }),
            transaction_timeout: None,
        })
        .await
        .unwrap()
        .into_inner()
}

/// The next indication: (action ID, header, message); `None` when the stream ended.
async fn next(s: &mut Streaming<SubscribeResponse>) -> Option<(Option<u32>, Vec<u8>, Vec<u8>)> {
    loop {
        let m = tokio::time::timeout(LIMIT, s.message())
            .await
            .expect("stream stalled")
            .ok()??;
        if let Some(subscribe_response::Message::Indication(i)) = m.message {
            return Some((i.action_id, i.header, i.payload));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_apps_get_their_own_streams_in_their_own_encoding_and_end_independently() {
    let sim = start(SimConfig {
        nodes: 1,
        cells_per_node: 3,
        speed: 10.0,
        // Decoded here without the subscription's layouts.
        meas_info_in_indications: true,
        ..SimConfig::default()
    })
    .await;
    let cells: Vec<_> = sim.sim.nodes[0].cells.iter().map(|c| c.info.cell).collect();
    let mut a = subscribe(&sim, "app-a", Encoding::Proto, &[(3, 0)]).await;
    let mut b = subscribe(&sim, "app-b", Encoding::Asn1Per, &[(0, 1), (1, 2)]).await;
    let limits = e2_proto::kpm::Limits::default();
    for _ in 0..6 {
        let (action, h, m) = next(&mut a).await.unwrap();
        assert_eq!(action, Some(3));
        let (r, _) = e2_proto::kpm::decode_indication(&h, &m, &limits, None).unwrap();
        assert_eq!(r.cell, cells[0], "app-a asked for cell 0 only");
    }
    let mut seen = [0; 2];
    for _ in 0..6 {
        let (action, h, m) = next(&mut b).await.unwrap();
        let action = action.expect("ASN1_PER indications name their action") as usize;
        assert!(action < 2, "app-b has actions 0 and 1 only, got {action}");
        seen[action] += 1;
        let scope = IndicationScope {
            cell: cells[action + 1],
            granularity_ms: PERIOD_MS,
        };
        // APER, E2SM-KPM v03.00: PROTO bytes would not decode here.
        let (r, _) =
            e2_asn1::kpm::decode_indication(&h, &m, &limits, &scope, None, KpmVersion::V3_00)
                .unwrap();
        assert_eq!(r.cell, cells[action + 1]);
        assert!(e2_proto::kpm::decode_indication(&h, &m, &limits, None).is_err());
    }
    assert!(
        seen.iter().all(|&n| n > 0),
        "both of app-b's actions report: {seen:?}"
    );
    // app-a ends its subscription: its stream ends, app-b's goes on.
    let mut client = SubscriptionServiceClient::connect(format!("http://{}", sim.addr))
        .await
        .unwrap();
    client
        .unsubscribe(UnsubscribeRequest {
            headers: Some(headers(
                "app-a",
                &sim.sim.nodes[0].id,
                "oran-e2sm-kpm",
                Encoding::Proto,
            )),
            transaction_id: "app-a-kpm".into(),
        })
        .await
        .unwrap();
    let deadline = Instant::now() + LIMIT;
    while next(&mut a).await.is_some() {
        assert!(Instant::now() < deadline, "app-a's stream never ended");
    }
    for _ in 0..4 {
        assert!(
            next(&mut b).await.is_some(),
            "app-b's stream ended with app-a's"
        );
    }
    // Unsubscribing app-a again: nothing of app-b's is touched.
    let again = client
        .unsubscribe(UnsubscribeRequest {
            headers: Some(headers(
                "app-a",
                &sim.sim.nodes[0].id,
                "oran-e2sm-kpm",
                Encoding::Proto,
            )),
            transaction_id: "app-a-kpm".into(),
        })
        .await;
    assert_eq!(again.unwrap_err().code(), tonic::Code::NotFound);
    assert!(next(&mut b).await.is_some());
    assert_eq!(sim.sim.stats.unsubscriptions.load(Ordering::Relaxed), 1);
    sim.stop().await;
}

fn quotas(max: u8) -> Vec<SliceQuota> {
    vec![SliceQuota {
        snssai: nf_core::Snssai::new(1, Some(1)),
        min_ratio: 10,
        max_ratio: max,
        dedicated_ratio: 5,
    }]
}

/// The call process id of cell number `c`'s indications (cell index, send number 0).
fn cpid(sim: &RunningSim, c: usize) -> Vec<u8> {
    ((sim.sim.nodes[0].cells[c].index as u64) << 32)
        .to_be_bytes()
        .to_vec()
}

async fn control(
    sim: &RunningSim,
    app: &str,
    encoding: Encoding,
    (header, payload): (Vec<u8>, Vec<u8>),
    call_process_id: Vec<u8>,
) -> Result<(), tonic::Status> {
    let mut client = ControlServiceClient::connect(format!("http://{}", sim.addr))
        .await
        .unwrap();
    client
        .control(ControlRequest {
            headers: Some(headers(app, &sim.sim.nodes[0].id, "oran-e2sm-rc", encoding)),
            message: Some(ControlMessage { header, payload }),
            call_process_id,
        })
        .await
        .map(|_| ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aper_controls_are_applied_logged_by_app_and_direct_conflicts_counted() {
    let sim = start(SimConfig {
        nodes: 1,
        cells_per_node: 2,
        ..SimConfig::default()
    })
    .await;
    let slices = sim.sim.nodes[0].cells[0].info.slices.clone();
    let q = |max| {
        let mut q = quotas(max);
        q[0].snssai = slices[0];
        q
    };
    let cells: Vec<_> = sim.sim.nodes[0].cells.iter().map(|c| c.info.cell).collect();
    let plmn = cells[0].plmn;
    let aper = |max| {
        e2_asn1::rc::encode_quota_control(
            RcProfile::Srsran,
            &e2_asn1::rc::cell_level_ue_id(),
            plmn,
            &q(max),
        )
        .unwrap()
    };
    // slice-xapp on cell 0, then the other app on cell 0 within the window: one conflict.
    control(
        &sim,
        "slice-xapp",
        Encoding::Asn1Per,
        aper(60),
        cpid(&sim, 0),
    )
    .await
    .unwrap();
    control(
        &sim,
        "intf-xapp",
        Encoding::Asn1Per,
        aper(40),
        cpid(&sim, 0),
    )
    .await
    .unwrap();
    // The other app on cell 1 only: no conflict. slice-xapp again on cell 1: conflict.
    control(
        &sim,
        "intf-xapp",
        Encoding::Asn1Per,
        aper(50),
        cpid(&sim, 1),
    )
    .await
    .unwrap();
    control(
        &sim,
        "intf-xapp",
        Encoding::Asn1Per,
        aper(55),
        cpid(&sim, 1),
    )
    .await
    .unwrap();
    control(
        &sim,
        "slice-xapp",
        Encoding::Proto,
        e2_proto::rc::encode_quota_control(&cells[1], &q(70)),
        Vec::new(),
    )
    .await
    .unwrap();
    let applied = sim.sim.controls();
    assert_eq!(applied[&cells[0]].accepted, 2);
    assert_eq!(applied[&cells[0]].last[0].max_ratio, 40);
    assert_eq!(applied[&cells[1]].last[0].max_ratio, 70);
    // Refusals: bytes that are not E2SM-RC, a PROTO control sent as ASN1_PER, a handover
    // (no radio mode, so not offered), a PLMN that is not the node's.
    let e = control(
        &sim,
        "intf-xapp",
        Encoding::Asn1Per,
        (vec![0xff, 0x00], vec![1]),
        Vec::new(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        E2Cause::of_status(&e),
        E2Cause::TransferSyntaxError,
        "{e:?}"
    );
    let e = control(
        &sim,
        "intf-xapp",
        Encoding::Asn1Per,
        e2_proto::rc::encode_quota_control(&cells[1], &q(70)),
        Vec::new(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        E2Cause::of_status(&e),
        E2Cause::TransferSyntaxError,
        "{e:?}"
    );
    let ho = e2_asn1::rc::encode_handover_control(&e2_asn1::rc::HandoverControl {
        ue_id: e2_asn1::rc::cell_level_ue_id(),
        target_cell: cells[1],
    })
    .unwrap();
    let e = control(&sim, "intf-xapp", Encoding::Asn1Per, ho, Vec::new())
        .await
        .unwrap_err();
    assert_eq!(E2Cause::of_status(&e), E2Cause::ActionNotSupported, "{e:?}");
    let other = e2_asn1::rc::encode_quota_control(
        RcProfile::Srsran,
        &e2_asn1::rc::cell_level_ue_id(),
        [0x02, 0xf8, 0x39],
        &q(60),
    )
    .unwrap();
    let e = control(&sim, "intf-xapp", Encoding::Asn1Per, other, cpid(&sim, 0))
        .await
        .unwrap_err();
    assert_eq!(
        E2Cause::of_status(&e),
        E2Cause::ControlMessageInvalid,
        "{e:?}"
    );

    let log = sim.sim.control_log();
    assert_eq!(log.len(), 9);
    let apps: Vec<&str> = log.iter().map(|r| r.app_id.as_str()).collect();
    assert_eq!(
        apps[..5],
        [
            "slice-xapp",
            "intf-xapp",
            "intf-xapp",
            "intf-xapp",
            "slice-xapp"
        ]
    );
    assert!(log[..5].iter().all(|r| r.accepted
        && r.parameter == Some(ControlParameter::SlicePrbQuota)
        && r.node == sim.sim.nodes[0].id));
    assert_eq!(log[0].cells, [cells[0]]);
    assert!(log[1].value.contains("10..40/5%"), "{}", log[1].value);
    assert_eq!(log[4].cells, [cells[1]]);
    assert!(log[5..].iter().all(|r| !r.accepted && r.cause.is_some()));
    assert_eq!(log[5].parameter, None, "undecodable: no parameter");
    // The refused PLMN one still reached the node on cell 0 after slice-xapp's: counted.
    assert_eq!(sim.sim.direct_conflicts(60_000), 3);
    assert_eq!(log[7].parameter, Some(ControlParameter::Handover));
    sim.stop().await;
}

/// The demo config with `[ric]` = sdran-grpc + asn1-per (srsRAN RC profile) and the
/// simulator's nodes and cells in `[[ric.nodes]]` (an APER KPM RAN function names none).
fn aper_config(sim: &RunningSim) -> String {
    let mut text = demo_config();
    text.push_str(
        "\n[ric]\ntransport = \"sdran-grpc\"\nencoding = \"asn1-per\"\nrc_profile = \"srsran\"\n",
    );
    text.push_str(&ric_nodes(sim));
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slice_xapp_closes_its_loop_over_aper_on_the_grpc_e2t() {
    let sim = start(SimConfig {
        speed: 25.0,
        // As current onos-e2t: no node list, the xApp serves its [[ric.nodes]].
        list_nodes: false,
        ..SimConfig::default()
    })
    .await;
    let xapp = XappProcess::start("slice-xapp", "sim-aper-xapp", &sim, &aper_config(&sim));
    let accepted = || sim.sim.stats.controls_accepted.load(Ordering::Relaxed);
    let ok = wait_for(Duration::from_secs(40), || accepted() >= 8).await;
    if !ok {
        panic!(
            "slice-xapp closed no loop over ASN1_PER ({} accepted, {} rejected):\n{}",
            accepted(),
            sim.sim.stats.controls_rejected.load(Ordering::Relaxed),
            xapp.stderr()
        );
    }
    let (exit, _, stderr) = xapp.stop().await;
    assert!(exit.success(), "exit {exit}:\n{stderr}");
    let log = sim.sim.control_log();
    assert!(!log.is_empty());
    assert!(
        log.iter().all(|r| r.app_id == "slice-xapp"
            && r.parameter == Some(ControlParameter::SlicePrbQuota)
            && r.cells.len() == 1),
        "{log:?}"
    );
    assert_eq!(sim.sim.stats.aper_subscriptions.load(Ordering::Relaxed), 2);
    assert_eq!(sim.sim.stats.unsubscriptions.load(Ordering::Relaxed), 2);
    assert_eq!(
        sim.sim.direct_conflicts(1_000),
        0,
        "one app cannot conflict"
    );
    sim.stop().await;
}
