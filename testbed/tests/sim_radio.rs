//! The simulator's radio mode over the gRPC E2T: the multi-cell twin driven by the `ucc5g`
//! operator traces behind the nodes. UE-level (style 4, format 3) and cell radio (style 1)
//! indications decode under ASN1_PER and PROTO with the codec crates; a handover control
//! (E2SM-RC style 3 action 1, APER) moves the UE (it then reports from the target cell); a
//! handover of an unknown UE or to a cell the twin does not know is refused with an E2AP
//! cause; every control is in the control log with its app id.
//!
//! Needs `../shared/traces/ucc5g` (skipped with a message when absent).

#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use e2_asn1::kpm::{IndicationScope, KpmVersion};
use e2_proto::cause::E2Cause;
use e2_proto::pb::e2t::control_service_client::ControlServiceClient;
use e2_proto::pb::e2t::subscription_service_client::SubscriptionServiceClient;
use e2_proto::pb::e2t::{
    Action, ActionType, ControlMessage, ControlRequest, Encoding, EventTrigger, RequestHeaders,
    ServiceModel, SubscribeRequest, SubscribeResponse, SubscriptionSpec, subscribe_response,
};
use nf_core::CellId;
use nf_core::radio::{UeId, UeLevelReport};
use testbed::radio::{RadioTwin, TwinConfig};
use testbed::sim::{ControlParameter, RunningSim, Sim, SimConfig};
use tonic::Streaming;

const LIMIT: Duration = Duration::from_secs(20);
const PERIOD_MS: u32 = 1000;

fn twin() -> Option<RadioTwin> {
    let Some(root) = testbed::radio::trace::shared_root() else {
        eprintln!("../shared/traces/ucc5g not found: radio-mode tests skipped");
        return None;
    };
    let mut recs = testbed::radio::trace::read_all(&root).unwrap();
    recs.retain(|r| testbed::radio::trace::is_test_recording(&r.name));
    recs.truncate(6);
    Some(RadioTwin::new(
        &recs,
        &TwinConfig {
            cells: 4,
            ues_per_cell: 4,
            seed: 7,
            ..TwinConfig::default()
        },
    ))
}

async fn start() -> Option<RunningSim> {
    let sim = Sim::new_radio(
        SimConfig {
            nodes: 2,
            speed: 10.0,
            ..SimConfig::default()
        },
        twin()?,
    );
    Some(RunningSim::bind(sim, 0).await.unwrap())
}

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

/// Subscribes `app` to node `n`: per cell of the node a UE-level action (ID 2c) and a cell
/// radio action (ID 2c+1).
async fn subscribe(
    sim: &RunningSim,
    app: &str,
    n: usize,
    enc: Encoding,
) -> Streaming<SubscribeResponse> {
    let node = &sim.sim.nodes[n];
    let v = sim.sim.kpm_version(n);
    let aper = enc == Encoding::Asn1Per;
    let mut actions = Vec::new();
    for (c, cell) in node.cells.iter().enumerate() {
        let ue = if aper {
            e2_asn1::kpm::radio::encode_ue_action_definition(&cell.info, PERIOD_MS, v)
        } else {
            e2_proto::kpm::radio::encode_ue_action_definition(&cell.info, PERIOD_MS)
        };
        let radio = if aper {
            e2_asn1::kpm::radio::encode_cell_radio_action_definition(&cell.info, PERIOD_MS, v)
        } else {
            e2_proto::kpm::radio::encode_cell_radio_action_definition(&cell.info, PERIOD_MS)
        };
        for (k, payload) in [ue, radio].into_iter().enumerate() {
            actions.push(Action {
                id: (2 * c + k) as i32,
                r#type: ActionType::Report as i32,
                payload,
                subsequent_action: None,
            });
        }
    }
    let trigger = if aper {
        e2_asn1::kpm::encode_event_trigger(PERIOD_MS, v)
    } else {
        e2_proto::kpm::encode_event_trigger(PERIOD_MS)
    };
    let mut client = SubscriptionServiceClient::connect(format!("http://{}", sim.addr))
        .await
        .unwrap();
    client
        .subscribe(SubscribeRequest {
            headers: Some(headers(app, &node.id, "oran-e2sm-kpm", enc)),
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

enum Got {
    Ue(UeLevelReport),
    Cell(CellId),
}

/// The next indication decoded with the codec of `enc`.
async fn next(
    sim: &RunningSim,
    n: usize,
    enc: Encoding,
    s: &mut Streaming<SubscribeResponse>,
) -> Got {
    let limits = e2_proto::kpm::Limits::default();
    loop {
        let m = tokio::time::timeout(LIMIT, s.message())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let Some(subscribe_response::Message::Indication(i)) = m.message else {
            continue;
        };
        let action = i.action_id.expect("every indication names its action") as usize;
        let cell = sim.sim.nodes[n].cells[action / 2].info.cell;
        let scope = IndicationScope {
            cell,
            granularity_ms: PERIOD_MS,
        };
        let ue_level = action.is_multiple_of(2);
        return match (enc, ue_level) {
            (Encoding::Asn1Per, true) => Got::Ue(
                e2_asn1::kpm::radio::decode_ue_indication(
                    &i.header,
                    &i.payload,
                    &limits,
                    &scope,
                    KpmVersion::V3_00,
                )
                .unwrap()
                .0,
            ),
            (Encoding::Asn1Per, false) => Got::Cell(
                e2_asn1::kpm::radio::decode_cell_radio_indication(
                    &i.header,
                    &i.payload,
                    &limits,
                    &scope,
                    KpmVersion::V3_00,
                )
                .unwrap()
                .0
                .cell,
            ),
            (_, true) => Got::Ue(
                e2_proto::kpm::radio::decode_ue_indication(&i.header, &i.payload, &limits)
                    .unwrap()
                    .0,
            ),
            (_, false) => Got::Cell(
                e2_proto::kpm::radio::decode_cell_radio_indication(&i.header, &i.payload, &limits)
                    .unwrap()
                    .0
                    .cell,
            ),
        };
    }
}

async fn handover(
    sim: &RunningSim,
    n: usize,
    ue: UeId,
    target: CellId,
) -> Result<(), tonic::Status> {
    let h = e2_asn1::rc::HandoverControl::of_ue(ue, &target).unwrap();
    let (header, payload) = e2_asn1::rc::encode_handover_control(&h).unwrap();
    let mut client = ControlServiceClient::connect(format!("http://{}", sim.addr))
        .await
        .unwrap();
    client
        .control(ControlRequest {
            headers: Some(headers(
                "interference-xapp",
                &sim.sim.nodes[n].id,
                "oran-e2sm-rc",
                Encoding::Asn1Per,
            )),
            message: Some(ControlMessage { header, payload }),
            call_process_id: Vec::new(),
        })
        .await
        .map(|_| ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn radio_mode_reports_decode_in_both_encodings_and_a_handover_moves_the_ue() {
    let Some(sim) = start().await else { return };
    let all_cells: Vec<CellId> = sim
        .sim
        .nodes
        .iter()
        .flat_map(|n| n.cells.iter().map(|c| c.info.cell))
        .collect();
    let mut aper = subscribe(&sim, "interference-xapp", 0, Encoding::Asn1Per).await;
    let mut proto = subscribe(&sim, "other-app", 0, Encoding::Proto).await;
    let node0: HashSet<CellId> = sim.sim.nodes[0].cells.iter().map(|c| c.info.cell).collect();
    let (mut ues, mut radios) = (Vec::new(), 0);
    while ues.is_empty() || radios == 0 {
        match next(&sim, 0, Encoding::Asn1Per, &mut aper).await {
            Got::Ue(r) => {
                assert!(node0.contains(&r.cell));
                assert!(r.ues.iter().all(|u| u.check().is_ok()), "{r:?}");
                ues.push(r);
            }
            Got::Cell(c) => {
                assert!(node0.contains(&c));
                radios += 1;
            }
        }
    }
    let (mut pu, mut pc) = (0, 0);
    while pu == 0 || pc == 0 {
        match next(&sim, 0, Encoding::Proto, &mut proto).await {
            Got::Ue(r) => {
                assert!(node0.contains(&r.cell) && !r.ues.is_empty());
                pu += 1;
            }
            Got::Cell(_) => pc += 1,
        }
    }
    // Hand a UE of node 0 over to a cell of the other node.
    let report = &ues[0];
    let ue = report.ues[0].ue;
    let target = *all_cells.iter().find(|c| !node0.contains(c)).unwrap();
    handover(&sim, 0, ue, target).await.unwrap();
    assert_eq!(sim.sim.radio.as_ref().unwrap().serving(ue), Some(target));
    // The UE no longer reports on node 0's cells; it does on the target's node.
    let mut other = subscribe(&sim, "interference-xapp", 1, Encoding::Asn1Per).await;
    let mut seen_on_target = false;
    for _ in 0..40 {
        if let Got::Ue(r) = next(&sim, 1, Encoding::Asn1Per, &mut other).await
            && r.cell == target
            && r.ues.iter().any(|u| u.ue == ue)
        {
            seen_on_target = true;
            break;
        }
    }
    assert!(seen_on_target, "{ue} never reported from {target}");
    // Refusals: an unknown UE, a target the twin does not know, a UE of another node.
    let e = handover(&sim, 0, UeId(999_999), target).await.unwrap_err();
    assert_eq!(
        E2Cause::of_status(&e),
        E2Cause::ControlMessageInvalid,
        "{e:?}"
    );
    let stranger = CellId::new(all_cells[0].plmn, 0x3_ffff);
    let e = handover(&sim, 1, ue, stranger).await.unwrap_err();
    assert_eq!(
        E2Cause::of_status(&e),
        E2Cause::ControlMessageInvalid,
        "{e:?}"
    );
    let e = handover(&sim, 0, ue, all_cells[0]).await.unwrap_err();
    assert_eq!(
        E2Cause::of_status(&e),
        E2Cause::ControlMessageInvalid,
        "{e:?} (served by node 1 now)"
    );
    let log = sim.sim.control_log();
    assert_eq!(log.len(), 4);
    assert!(log.iter().all(
        |r| r.app_id == "interference-xapp" && r.parameter == Some(ControlParameter::Handover)
    ));
    assert!(log[0].accepted && log[0].ue == Some(ue) && !log[1].accepted);
    let radio = sim.sim.radio.as_ref().unwrap();
    assert_eq!(radio.handovers_applied.load(Ordering::Relaxed), 1);
    assert_eq!(radio.handovers_refused.load(Ordering::Relaxed), 3);
    sim.stop().await;
}
