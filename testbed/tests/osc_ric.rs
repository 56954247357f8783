//! The simulator as an O-RAN SC near-RT RIC, driven over loopback by a test xApp made of
//! real parts: an RMR endpoint (`nf_rmr`), the Subscription Manager REST client
//! (`nf_osc::submgr::SubMgrClient`) with its notifications arriving at the xApp's real HTTP
//! endpoint (`nf_runtime::http`), and the APER codecs of `e2-asn1` for every payload.
//!
//! Indications are checked against the recorded traces they replay; controls built with
//! the srsRAN profile are acknowledged (12041), others refused (12042) with a cause.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use e2_asn1::e2ap::RicRequestId;
use e2_asn1::generated::e2ap_v02_03::e2_ap_ies::{Cause, CauseProtocol, CauseRICrequest};
use e2_asn1::kpm::{self, IndicationScope, KpmAperError, KpmVersion};
use e2_asn1::rc::{self, RcProfile};
use nf_core::e2sm::Limits;
use nf_core::policy::SliceQuota;
use nf_core::{CellId, Meas};
use nf_osc::submgr::{
    ActionToBeSetup, ActionType, ClientEndpoint, E2smOctets, SubMgrClient, SubMgrTimeouts,
    SubscriptionDetail, SubscriptionParams, SubscriptionResponse,
};
use nf_rmr::mtype::{
    RIC_CONTROL_ACK, RIC_CONTROL_FAILURE, RIC_CONTROL_REQ, RIC_HEALTH_CHECK_REQ,
    RIC_HEALTH_CHECK_RESP, RIC_INDICATION,
};
use nf_rmr::{Message, RmrConfig, RmrEndpoint, RouteTable};
use nf_runtime::http::{self, HttpLimits, XappEndpoints};
use nf_runtime::metrics::Metrics;
use testbed::sim::osc::{
    KPM_RAN_FUNCTION_ID, OscConfig, OscRic, RC_RAN_FUNCTION_ID, RIC_REQUESTOR_ID, ran_name,
};
use testbed::sim::{PLMN, Sim, SimConfig};
use testbed::trace::{self, CellTrace};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use wire as e2ap;
use wire::ControlRequest;

/// The E2AP messages of these tests through `e2_asn1::e2ap` (the typed E2AP layer), with
/// the IEs as plain fields.
mod wire {
    use e2_asn1::e2ap::{self, Cause, E2apMessage, IndicationType, Limits, RicRequestId};

    #[derive(Debug)]
    pub struct Indication {
        pub request: RicRequestId,
        pub ran_function_id: u16,
        pub action_id: u8,
        pub sn: Option<u16>,
        pub report: bool,
        pub header: Vec<u8>,
        pub message: Vec<u8>,
        pub call_process_id: Option<Vec<u8>>,
    }

    pub fn decode_indication(bytes: &[u8]) -> Result<Indication, String> {
        match e2ap::decode(bytes, &Limits::default()).map_err(|e| e.to_string())? {
            E2apMessage::Indication {
                request,
                ran_function,
                action,
                sn,
                kind,
                header,
                message,
                call_process_id,
            } => Ok(Indication {
                request,
                ran_function_id: ran_function,
                action_id: action,
                sn,
                report: kind == IndicationType::Report,
                header,
                message,
                call_process_id,
            }),
            other => Err(format!("{} is not an indication", other.name())),
        }
    }

    pub struct ControlRequest {
        pub request: RicRequestId,
        pub ran_function_id: u16,
        pub call_process_id: Option<Vec<u8>>,
        pub header: Vec<u8>,
        pub message: Vec<u8>,
        pub ack_request: Option<bool>,
    }

    pub fn encode_control_request(c: &ControlRequest) -> Result<Vec<u8>, String> {
        e2ap::encode(&E2apMessage::ControlRequest {
            request: c.request,
            ran_function: c.ran_function_id,
            call_process_id: c.call_process_id.clone(),
            header: c.header.clone(),
            message: c.message.clone(),
            ack_request: c.ack_request,
        })
        .map_err(|e| e.to_string())
    }

    #[derive(Debug)]
    pub struct Answer {
        pub request: RicRequestId,
        pub call_process_id: Option<Vec<u8>>,
        pub outcome: Option<Vec<u8>>,
        pub failure: Option<Cause>,
    }

    pub fn decode_control_answer(bytes: &[u8]) -> Result<Answer, String> {
        match e2ap::decode(bytes, &Limits::default()).map_err(|e| e.to_string())? {
            E2apMessage::ControlAcknowledge {
                request,
                call_process_id,
                outcome,
                ..
            } => Ok(Answer {
                request,
                call_process_id,
                outcome,
                failure: None,
            }),
            E2apMessage::ControlFailure {
                request,
                call_process_id,
                cause,
                outcome,
                ..
            } => Ok(Answer {
                request,
                call_process_id,
                outcome,
                failure: Some(cause),
            }),
            other => Err(format!("{} is not a control answer", other.name())),
        }
    }
}

/// Reporting period asked for [ms]; the simulator plays it `SPEED` times faster.
const PERIOD_MS: u32 = 1000;
const SPEED: f64 = 20.0;
/// Generous limit for anything to arrive on a loaded 2-core box.
const WAIT: Duration = Duration::from_secs(20);

struct Xapp {
    rmr: RmrEndpoint,
    rx: mpsc::Receiver<Message>,
    notes: mpsc::Receiver<SubscriptionResponse>,
    http: SocketAddr,
    client: SubMgrClient,
}

struct Setup {
    sim: Arc<Sim>,
    ric: OscRic,
    xapp: Xapp,
    traces: Vec<CellTrace>,
}

/// A simulator of 2 nodes × 2 cells (node 1 speaking KPM v02.03 and, with `flexric_node1`,
/// the FlexRIC RC profile) as an O-RAN SC RIC, and a test xApp routed to and from it.
async fn setup(flexric_node1: bool) -> Setup {
    let traces = trace::read_cells(&trace::bundled_root()).unwrap();
    let sim = Sim::new(
        SimConfig {
            nodes: 2,
            cells_per_node: 2,
            speed: SPEED,
            trace_time: true,
            ..SimConfig::default()
        },
        traces.clone(),
    );
    let (rmr, rx) = RmrEndpoint::bind(RmrConfig {
        listen: ([127, 0, 0, 1], 0).into(),
        ..RmrConfig::default()
    })
    .await
    .unwrap();
    let ric = OscRic::start(
        sim.clone(),
        OscConfig {
            xapp_rmr: Some(rmr.local_addr().to_string()),
            e2mgr_listen: Some(([127, 0, 0, 1], 0).into()),
            kpm_v2_nodes: vec![1],
            rc_profiles: if flexric_node1 {
                vec![(1, RcProfile::Flexric)]
            } else {
                Vec::new()
            },
            ..OscConfig::default()
        },
    )
    .await
    .unwrap();
    let e2t = ric.rmr_addr();
    rmr.set_routes(
        RouteTable::parse(&format!(
            "newrt|start\nrte|{RIC_CONTROL_REQ}|{e2t}\nrte|{RIC_HEALTH_CHECK_REQ}|{e2t}\nrte|999|{e2t}\nnewrt|end\n"
        ))
        .unwrap(),
    );
    let (tx, notes) = mpsc::channel(16);
    let listener = http::bind(([127, 0, 0, 1], 0).into()).unwrap();
    let http_addr = listener.local_addr().unwrap();
    http::spawn_with(
        listener,
        Arc::new(Metrics::new()),
        HttpLimits::default(),
        XappEndpoints::default().with_notifications(tx),
    )
    .unwrap();
    let client = SubMgrClient::new(ric.submgr_addr().to_string(), SubMgrTimeouts::default());
    Setup {
        sim,
        ric,
        xapp: Xapp {
            rmr,
            rx,
            notes,
            http: http_addr,
            client,
        },
        traces,
    }
}

fn version_of(node: usize) -> KpmVersion {
    if node == 1 {
        KpmVersion::V2_03
    } else {
        KpmVersion::V3_00
    }
}

/// Subscribes to every cell of `node` (action IDs 1, 2, ...); the `E2EventInstanceId`.
async fn subscribe(s: &mut Setup, node: usize, event_trigger: Vec<u8>) -> SubscriptionResponse {
    let v = version_of(node);
    let actions = s.sim.nodes[node]
        .cells
        .iter()
        .enumerate()
        .map(|(i, c)| ActionToBeSetup {
            action_id: i as u8 + 1,
            action_type: ActionType::Report,
            action_definition: Some(E2smOctets(kpm::encode_action_definition(
                &c.info, PERIOD_MS, v,
            ))),
            subsequent_action: None,
        })
        .collect();
    let params = SubscriptionParams {
        subscription_id: None,
        client_endpoint: ClientEndpoint {
            host: s.xapp.http.ip().to_string(),
            http_port: s.xapp.http.port(),
            rmr_port: s.xapp.rmr.local_addr().port(),
        },
        meid: ran_name(node),
        ran_function_id: KPM_RAN_FUNCTION_ID,
        e2_subscription_directives: None,
        subscription_details: vec![SubscriptionDetail {
            xapp_event_instance_id: 7,
            event_triggers: E2smOctets(event_trigger),
            action_to_be_setup_list: actions,
        }],
    };
    let created = s.xapp.client.subscribe(&params).await.unwrap();
    let note = tokio::time::timeout(WAIT, s.xapp.notes.recv())
        .await
        .expect("a notification")
        .unwrap();
    assert_eq!(note.subscription_id, created.subscription_id);
    note
}

async fn next(rx: &mut mpsc::Receiver<Message>, mtype: i32) -> Message {
    tokio::time::timeout(WAIT, async {
        loop {
            let m = rx.recv().await.expect("endpoint open");
            if m.mtype == mtype {
                return m;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no message of type {mtype} within {WAIT:?}"))
}

fn same(a: f32, b: f32) -> bool {
    (a.is_nan() && b.is_nan()) || a == b
}

/// Subscribed indications arrive as RMR 12050 with the instance as `sub_id` and the RAN name
/// as `meid`, carry an APER RICindication, and their E2SM-KPM v03.00 content is the trace
/// window the simulator replays (found by its collection start), value for value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indications_are_aper_e2ap_with_sub_id_meid_and_the_traces_values() {
    let mut s = setup(false).await;
    let v = KpmVersion::V3_00;
    let note = subscribe(&mut s, 0, kpm::encode_event_trigger(PERIOD_MS, v)).await;
    let inst = &note.subscription_instances[0];
    assert_eq!(inst.failure(), None, "{note:?}");
    let sub_id = inst.e2_event_instance_id;
    let cells: Vec<_> = s.sim.nodes[0].cells.iter().collect();
    let mut checked = [0usize; 2];
    let mut last_sn = None;
    while checked.iter().any(|&c| c < 3) {
        let m = next(&mut s.xapp.rx, RIC_INDICATION).await;
        assert_eq!(m.sub_id, i32::from(sub_id));
        assert_eq!(m.meid, ran_name(0));
        let ind = e2ap::decode_indication(&m.payload).unwrap();
        assert_eq!(
            ind.request,
            RicRequestId {
                requestor: RIC_REQUESTOR_ID,
                instance: sub_id
            }
        );
        assert_eq!(ind.ran_function_id, KPM_RAN_FUNCTION_ID);
        assert!(ind.report);
        let sn = ind.sn.unwrap();
        if let Some(prev) = last_sn {
            assert_eq!(
                sn,
                u16::wrapping_add(prev, 1),
                "indication SNs follow each other"
            );
        }
        last_sn = Some(sn);
        assert_eq!(
            kpm::header_timestamp_version(&ind.header),
            Some(KpmVersion::V3_00)
        );
        let k = usize::from(ind.action_id) - 1;
        let cell = cells[k];
        let scope = IndicationScope {
            cell: cell.info.cell,
            granularity_ms: PERIOD_MS,
        };
        let (report, _) = kpm::decode_indication(
            &ind.header,
            &ind.message,
            &Limits::default(),
            &scope,
            None,
            v,
        )
        .unwrap();
        let trace = &s.traces[cell.trace];
        let first = trace.windows().next().unwrap().start_ms;
        let shift = if first == 0 { 86_400_000 } else { 0 };
        let w = trace
            .windows()
            .find(|w| w.start_ms + shift == report.collection_start_ms)
            .unwrap_or_else(|| panic!("no trace window starts at {}", report.collection_start_ms));
        for m in &Meas::PER_CELL {
            assert!(same(report.cell_meas.get(*m), w.cell.get(*m)), "{m:?}");
        }
        for (snssai, meas) in &w.slices {
            let got = report.slices.iter().find(|(s, _)| s == snssai).unwrap();
            for m in &Meas::PER_SLICE {
                assert!(same(got.1.get(*m), meas.get(*m)), "{snssai} {m:?}");
            }
        }
        let cpid = ind.call_process_id.unwrap();
        assert_eq!(
            u64::from_be_bytes(cpid.try_into().unwrap()) >> 32,
            cell.index as u64
        );
        checked[k] += 1;
    }
    s.ric.stop().await;
}

/// A KPM v02.03 node sends 4-byte timestamps: read as v03.00 it is the named skew error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v02_03_node_sends_four_byte_timestamps() {
    let mut s = setup(false).await;
    let note = subscribe(
        &mut s,
        1,
        kpm::encode_event_trigger(PERIOD_MS, KpmVersion::V2_03),
    )
    .await;
    assert_eq!(note.subscription_instances[0].failure(), None, "{note:?}");
    let m = next(&mut s.xapp.rx, RIC_INDICATION).await;
    assert_eq!(m.meid, ran_name(1));
    let ind = e2ap::decode_indication(&m.payload).unwrap();
    assert_eq!(
        kpm::header_timestamp_version(&ind.header),
        Some(KpmVersion::V2_03)
    );
    let err = kpm::decode_indication_header(&ind.header, KpmVersion::V3_00).unwrap_err();
    assert!(
        matches!(
            err,
            KpmAperError::VersionSkew {
                observed_octets: 4,
                ..
            }
        ),
        "{err}"
    );
    assert!(kpm::decode_indication_header(&ind.header, KpmVersion::V2_03).is_ok());
    s.ric.stop().await;
}

/// Sends a control for `cell` of `node` built with `profile`, echoing `cpid`.
fn send_control(
    s: &Setup,
    node: usize,
    profile: RcProfile,
    quotas: &[SliceQuota],
    cpid: Option<Vec<u8>>,
) {
    let (header, message) =
        rc::encode_quota_control(profile, &rc::cell_level_ue_id(), PLMN, quotas).unwrap();
    let payload = e2ap::encode_control_request(&ControlRequest {
        request: RicRequestId {
            requestor: 1001,
            instance: 5,
        },
        ran_function_id: RC_RAN_FUNCTION_ID,
        call_process_id: cpid,
        header,
        message,
        ack_request: None,
    })
    .unwrap();
    s.xapp
        .rmr
        .send(Message::new(RIC_CONTROL_REQ, payload).with_meid(ran_name(node)))
        .unwrap();
}

fn quotas_for(sim: &Sim, node: usize) -> Vec<SliceQuota> {
    sim.nodes[node].cells[0]
        .info
        .slices
        .iter()
        .map(|&snssai| SliceQuota {
            snssai,
            min_ratio: 10,
            max_ratio: 40,
            dedicated_ratio: 0,
        })
        .collect()
}

/// A control built with the srsRAN profile and echoing an indication's call process id is
/// applied to that cell, acknowledged with 12041 carrying the RC outcome, and timed; one
/// built with FlexRIC's IDs is refused with 12042 and a cause; the same FlexRIC control is
/// accepted by a node configured with the FlexRIC profile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controls_are_acknowledged_or_refused_by_the_nodes_rc_profile() {
    let mut s = setup(true).await;
    let note = subscribe(
        &mut s,
        0,
        kpm::encode_event_trigger(PERIOD_MS, KpmVersion::V3_00),
    )
    .await;
    assert_eq!(note.subscription_instances[0].failure(), None, "{note:?}");
    let m = next(&mut s.xapp.rx, RIC_INDICATION).await;
    let ind = e2ap::decode_indication(&m.payload).unwrap();
    let cpid = ind.call_process_id.clone().unwrap();
    let cell_index = (u64::from_be_bytes(cpid.clone().try_into().unwrap()) >> 32) as usize;
    let cell: CellId = s.sim.nodes[0]
        .cells
        .iter()
        .find(|c| c.index == cell_index)
        .unwrap()
        .info
        .cell;
    let quotas = quotas_for(&s.sim, 0);

    send_control(&s, 0, RcProfile::Srsran, &quotas, Some(cpid.clone()));
    let ack = next(&mut s.xapp.rx, RIC_CONTROL_ACK).await;
    assert_eq!(ack.meid, ran_name(0));
    let a = e2ap::decode_control_answer(&ack.payload).unwrap();
    assert_eq!(a.failure, None);
    assert_eq!(
        a.request,
        RicRequestId {
            requestor: 1001,
            instance: 5
        }
    );
    assert_eq!(a.call_process_id.as_deref(), Some(cpid.as_slice()));
    let outcome = rc::decode_control_outcome(&a.outcome.unwrap()).unwrap();
    let ids = RcProfile::Srsran.ids();
    assert_eq!(outcome.len(), 2 * quotas.len());
    assert_eq!(outcome[0].0, ids.min_prb_policy_ratio);
    assert_eq!(outcome[1].0, ids.max_prb_policy_ratio);
    let applied = s.sim.controls();
    assert_eq!(applied.len(), 1, "only the echoed cell: {applied:?}");
    assert_eq!(applied[&cell].last, quotas);
    assert_eq!(s.sim.round_trips().percentiles().count, 1);

    // FlexRIC numbering (1..=12 without the spec's gap) is not srsRAN's: refused.
    send_control(&s, 0, RcProfile::Flexric, &quotas, None);
    let fail = next(&mut s.xapp.rx, RIC_CONTROL_FAILURE).await;
    let f = e2ap::decode_control_answer(&fail.payload).unwrap();
    assert_eq!(
        f.failure,
        Some(Cause::ricRequest(CauseRICrequest::control_message_invalid))
    );
    assert_eq!(
        f.request,
        RicRequestId {
            requestor: 1001,
            instance: 5
        }
    );
    assert_eq!(
        s.sim.controls().len(),
        1,
        "a refused control changes nothing"
    );
    let refused: Vec<_> = s.ric.refusals().into_iter().map(|(r, _)| r).collect();
    assert!(
        refused.iter().any(|r| r.contains("parameter")),
        "{refused:?}"
    );

    // Node 1 speaks FlexRIC's numbering: the same control is applied to all its cells.
    send_control(&s, 1, RcProfile::Flexric, &quotas_for(&s.sim, 1), None);
    let ack = next(&mut s.xapp.rx, RIC_CONTROL_ACK).await;
    assert_eq!(ack.meid, ran_name(1));
    assert_eq!(s.sim.controls().len(), 1 + s.sim.nodes[1].cells.len());
    s.ric.stop().await;
}

/// Hostile or unexpected input is refused by name and counted, never a panic: an
/// undecodable control (12042, transfer syntax error), a control for an unknown RAN name,
/// an unknown message type, a subscription whose event trigger is not E2SM-KPM (a failed
/// instance in the notification). Health checks are answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_is_refused_by_reason_and_health_checks_are_answered() {
    let mut s = setup(false).await;
    s.xapp
        .rmr
        .send(Message::new(RIC_CONTROL_REQ, vec![0xff; 40]).with_meid(ran_name(0)))
        .unwrap();
    let fail = next(&mut s.xapp.rx, RIC_CONTROL_FAILURE).await;
    let f = e2ap::decode_control_answer(&fail.payload).unwrap();
    assert_eq!(
        f.failure,
        Some(Cause::protocol(CauseProtocol::transfer_syntax_error))
    );

    send_control(&s, 0, RcProfile::Srsran, &quotas_for(&s.sim, 0), None);
    let _ = next(&mut s.xapp.rx, RIC_CONTROL_ACK).await;
    let payload = e2ap::encode_control_request(&ControlRequest {
        request: RicRequestId {
            requestor: 1,
            instance: 1,
        },
        ran_function_id: RC_RAN_FUNCTION_ID,
        call_process_id: None,
        header: vec![0],
        message: vec![0],
        ack_request: None,
    })
    .unwrap();
    s.xapp
        .rmr
        .send(Message::new(RIC_CONTROL_REQ, payload).with_meid("gnb_999_999_00000000"))
        .unwrap();
    let _ = next(&mut s.xapp.rx, RIC_CONTROL_FAILURE).await;

    s.xapp.rmr.send(Message::new(999, vec![1, 2, 3])).unwrap();
    s.xapp
        .rmr
        .send(Message::new(RIC_HEALTH_CHECK_REQ, b"ping".to_vec()))
        .unwrap();
    let _ = next(&mut s.xapp.rx, RIC_HEALTH_CHECK_RESP).await;

    let note = subscribe(&mut s, 0, vec![0xde, 0xad]).await;
    let failure = note.subscription_instances[0].failure().unwrap().to_owned();
    assert!(failure.contains("event trigger"), "{failure}");

    let refused = s.ric.refusals();
    for reason in [
        "e2ap_malformed",
        "unknown_meid",
        "unexpected_mtype",
        "event_trigger_invalid",
    ] {
        assert!(
            refused.iter().any(|(r, n)| *r == reason && *n == 1),
            "{reason} in {refused:?}"
        );
    }
    s.ric.stop().await;
}

async fn http_get(addr: SocketAddr, path: &str) -> (u16, serde_json::Value) {
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    sock.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(WAIT, sock.read_to_end(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8(buf).unwrap();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").unwrap().1;
    (status, serde_json::from_str(body).unwrap())
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// The E2 manager serves each node's RAN functions from its E2 setup: the KPM definition
/// names the node's version (OID arc) and the RC definition offers slice-level PRB quota
/// control with the node's RAN parameter IDs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_e2_manager_serves_each_nodes_ran_functions() {
    let s = setup(true).await;
    let addr = s.ric.e2mgr_addr().unwrap();
    let (status, states) = http_get(addr, "/v1/nodeb/states").await;
    assert_eq!(status, 200);
    assert_eq!(states.as_array().unwrap().len(), 2);
    for node in 0..2 {
        let (status, nb) = http_get(addr, &format!("/v1/nodeb/{}", ran_name(node))).await;
        assert_eq!(status, 200);
        let fns = nb["gnb"]["ranFunctions"].as_array().unwrap();
        let kpm_fn = fns
            .iter()
            .find(|f| f["ranFunctionId"] == KPM_RAN_FUNCTION_ID)
            .unwrap();
        let def = unhex(kpm_fn["ranFunctionDefinition"].as_str().unwrap());
        let decided = kpm::decide_version(&def, None).unwrap();
        assert_eq!(decided.version, version_of(node), "node {node}");
        let rc_fn = fns
            .iter()
            .find(|f| f["ranFunctionId"] == RC_RAN_FUNCTION_ID)
            .unwrap();
        let rc_def = rc::decode_ran_function_definition(&unhex(
            rc_fn["ranFunctionDefinition"].as_str().unwrap(),
        ))
        .unwrap();
        let profile = if node == 1 {
            RcProfile::Flexric
        } else {
            RcProfile::Srsran
        };
        rc_def.require_slice_prb_quota(profile).unwrap();
    }
    let (status, _) = http_get(addr, "/v1/nodeb/gnb_000_000_00000000").await;
    assert_eq!(status, 404);
    s.ric.stop().await;
}

/// Builds librmr_si (once per target folder) and the C xApp `tests/peer/xapp.c` against
/// it; `None`, with the reason printed, when the kit, cmake or cc is absent.
fn c_xapp() -> Option<std::path::PathBuf> {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    testbed::librmr::build_peer(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")),
        &manifest.join("tests/peer/xapp.c"),
        "osc-xapp",
    )
}

async fn line(lines: &mut mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(Duration::from_secs(60), lines.recv())
        .await
        .expect("the C xApp answers within 60 s")
        .expect("a line")
}

/// A child process killed when dropped (a failed assertion must not leave it running).
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The real librmr as the xApp: it receives the simulator's indications (routed by the
/// per-subscription `mse|12050|<sub_id>|xapp` entry), and its control, sent with
/// `rmr_send_msg` by a 12040 route, is answered with 12041 by return to sender.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_librmr_xapp_receives_indications_and_gets_its_control_acknowledged() {
    let Some(exe) = c_xapp() else { return };
    let port = testbed::ports::free_port();
    let traces = trace::read_cells(&trace::bundled_root()).unwrap();
    let sim = Sim::new(
        SimConfig {
            nodes: 1,
            cells_per_node: 2,
            speed: SPEED,
            ..SimConfig::default()
        },
        traces,
    );
    let ric = OscRic::start(
        sim.clone(),
        OscConfig {
            xapp_rmr: Some(format!("127.0.0.1:{port}")),
            ..OscConfig::default()
        },
    )
    .await
    .unwrap();
    let routes = std::env::temp_dir().join(format!("osc-ric-xapp-{}.rt", std::process::id()));
    std::fs::write(
        &routes,
        format!(
            "newrt|start\nrte|{RIC_CONTROL_REQ}|{}\nnewrt|end\n",
            ric.rmr_addr()
        ),
    )
    .unwrap();
    let (header, message) = rc::encode_quota_control(
        RcProfile::Srsran,
        &rc::cell_level_ue_id(),
        PLMN,
        &quotas_for(&sim, 0),
    )
    .unwrap();
    let control = e2ap::encode_control_request(&ControlRequest {
        request: RicRequestId {
            requestor: 2002,
            instance: 9,
        },
        ran_function_id: RC_RAN_FUNCTION_ID,
        call_process_id: None,
        header,
        message,
        ack_request: None,
    })
    .unwrap();
    let mut child = Killed(
        std::process::Command::new(&exe)
            .args([&port.to_string(), "3", &ran_name(0), &hex(&control)])
            .env("RMR_SEED_RT", &routes)
            .env("RMR_RTG_SVC", "-1")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let (line_tx, mut lines) = mpsc::unbounded_channel();
    let stdout = child.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for l in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = line_tx.send(l);
        }
    });
    assert_eq!(line(&mut lines).await, "ready");

    let (tx, mut notes) = mpsc::channel(4);
    let listener = http::bind(([127, 0, 0, 1], 0).into()).unwrap();
    let http_addr = listener.local_addr().unwrap();
    http::spawn_with(
        listener,
        Arc::new(Metrics::new()),
        HttpLimits::default(),
        XappEndpoints::default().with_notifications(tx),
    )
    .unwrap();
    let client = SubMgrClient::new(ric.submgr_addr().to_string(), SubMgrTimeouts::default());
    let v = KpmVersion::V3_00;
    let params = SubscriptionParams {
        subscription_id: None,
        client_endpoint: ClientEndpoint {
            host: "127.0.0.1".into(),
            http_port: http_addr.port(),
            rmr_port: port,
        },
        meid: ran_name(0),
        ran_function_id: KPM_RAN_FUNCTION_ID,
        e2_subscription_directives: None,
        subscription_details: vec![SubscriptionDetail {
            xapp_event_instance_id: 1,
            event_triggers: E2smOctets(kpm::encode_event_trigger(PERIOD_MS, v)),
            action_to_be_setup_list: vec![ActionToBeSetup {
                action_id: 4,
                action_type: ActionType::Report,
                action_definition: Some(E2smOctets(kpm::encode_action_definition(
                    &sim.nodes[0].cells[1].info,
                    PERIOD_MS,
                    v,
                ))),
                subsequent_action: None,
            }],
        }],
    };
    client.subscribe(&params).await.unwrap();
    let note = tokio::time::timeout(WAIT, notes.recv())
        .await
        .unwrap()
        .unwrap();
    let sub_id = note.subscription_instances[0].e2_event_instance_id;
    for _ in 0..3 {
        let l = line(&mut lines).await;
        let f: Vec<&str> = l.split(' ').collect();
        assert_eq!(
            &f[..4],
            ["ind", "12050", &sub_id.to_string(), &ran_name(0)],
            "{l}"
        );
        let ind = e2ap::decode_indication(&unhex(f[4])).unwrap();
        assert_eq!(ind.request.instance, sub_id);
        assert_eq!(ind.action_id, 4);
        assert_eq!(kpm::header_timestamp_version(&ind.header), Some(v));
    }
    let l = line(&mut lines).await;
    let f: Vec<&str> = l.split(' ').collect();
    assert_eq!(&f[..2], ["ans", "12041"], "{l}");
    let ans = e2ap::decode_control_answer(&unhex(f[4])).unwrap();
    assert_eq!(ans.failure, None);
    assert_eq!(
        ans.request,
        RicRequestId {
            requestor: 2002,
            instance: 9
        }
    );
    assert!(child.0.wait().unwrap().success());
    assert_eq!(sim.controls().len(), sim.nodes[0].cells.len());
    let _ = std::fs::remove_file(&routes);
    ric.stop().await;
}

/// The independent oracle (`../shared/interop/asn1-oracle.py`: pycrate for E2AP, asn1tools
/// for E2SM) run by the Python named in `ASN1_ORACLE_PYTHON` or the workspace `.venv`;
/// `None`, with the reason printed, when either is absent.
fn oracle() -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let script = root.join("../shared/interop/asn1-oracle.py");
    if !script.exists() {
        println!(
            "SKIP: {} absent (the interop kit in ../shared)",
            script.display()
        );
        return None;
    }
    // `ASN1_ORACLE_PYTHON`, else the pinned venv `scripts/oracle-venv.sh` makes or reuses.
    let python = match std::env::var_os("ASN1_ORACLE_PYTHON") {
        Some(p) => std::path::PathBuf::from(p),
        None => {
            if std::process::Command::new("python3")
                .arg("--version")
                .output()
                .is_err()
            {
                println!("SKIP: python3 not found (the oracle needs it)");
                return None;
            }
            let out = std::process::Command::new("bash")
                .arg(root.join("scripts/oracle-venv.sh"))
                .output()
                .expect("run scripts/oracle-venv.sh");
            assert!(
                out.status.success(),
                "python3 exists but the oracle venv could not be made: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let stdout = String::from_utf8_lossy(&out.stdout);
            std::path::PathBuf::from(stdout.lines().last().expect("venv python").trim())
        }
    };
    let ok = std::process::Command::new(&python)
        .args(["-c", "import pycrate_asn1c, asn1tools"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        println!(
            "SKIP: {} cannot import pycrate and asn1tools (scripts/oracle-venv.sh makes the pinned venv, or set ASN1_ORACLE_PYTHON)",
            python.display()
        );
        return None;
    }
    Some((python, script))
}

/// Runs the oracle; (exit success, stdout).
fn run_oracle(o: &(std::path::PathBuf, std::path::PathBuf), args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(&o.0)
        .arg(&o.1)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// What the simulator sends, read by a codec nobody here wrote: the E2AP indication and
/// control acknowledge decode and re-encode byte for byte under pycrate with the expected
/// IEs, and the E2SM-KPM header and message do under asn1tools with the node's module
/// (v03.00, and v02.03 for the v02.03 node), as does the E2SM-RC control outcome.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_simulator_sends_decodes_with_the_independent_oracle() {
    let Some(o) = oracle() else { return };
    let mut s = setup(false).await;
    for (node, kpm_spec) in [(0, "e2sm-kpm-v3"), (1, "e2sm-kpm-v2")] {
        let version = version_of(node);
        let note = subscribe(&mut s, node, kpm::encode_event_trigger(PERIOD_MS, version)).await;
        let sub_id = note.subscription_instances[0].e2_event_instance_id;
        let m = loop {
            let m = next(&mut s.xapp.rx, RIC_INDICATION).await;
            if m.meid == ran_name(node) {
                break m;
            }
        };
        let pdu = hex(&m.payload);
        let (same, out) = run_oracle(&o, &["roundtrip", "e2ap-v2", "E2AP-PDU", &pdu]);
        assert!(
            same,
            "E2AP indication does not round-trip under pycrate: {out}"
        );
        let (_, json) = run_oracle(&o, &["decode", "e2ap-v2", "E2AP-PDU", &pdu]);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let msg = &v["initiatingMessage"];
        assert_eq!(msg["procedureCode"], 5, "{json}");
        let ies = msg["value"]["protocolIEs"].as_array().unwrap();
        let ie = |id: u64| &ies.iter().find(|i| i["id"] == id).unwrap()["value"];
        assert_eq!(ie(29)["ricInstanceID"], sub_id);
        assert_eq!(ie(29)["ricRequestorID"], RIC_REQUESTOR_ID);
        assert_eq!(ie(5), KPM_RAN_FUNCTION_ID);
        assert_eq!(ie(28), "report");
        let ind = e2ap::decode_indication(&m.payload).unwrap();
        let ty = "E2SM-KPM-IndicationHeader";
        let (same, out) = run_oracle(&o, &["roundtrip", kpm_spec, ty, &hex(&ind.header)]);
        assert!(
            same,
            "{ty} of node {node} does not round-trip under {kpm_spec}: {out}"
        );
        // The message holds REALs, whose mantissa asn1tools re-encodes with a leading zero
        // octet when its top bit is set (ours is the minimal X.690 form): compare values,
        // not bytes. The oracle's reading, encoded again by the oracle, must decode to the
        // very report the simulator sent.
        let ty = "E2SM-KPM-IndicationMessage";
        let (ok, json) = run_oracle(&o, &["decode", kpm_spec, ty, &hex(&ind.message)]);
        assert!(
            ok,
            "{ty} of node {node} not decodable under {kpm_spec}: {json}"
        );
        let (ok, again) = run_oracle(&o, &["encode", kpm_spec, ty, json.trim()]);
        assert!(ok, "{ty}: oracle cannot encode its own reading: {again}");
        let cell = s.sim.nodes[node].cells[usize::from(ind.action_id) - 1]
            .info
            .cell;
        let scope = IndicationScope {
            cell,
            granularity_ms: PERIOD_MS,
        };
        let read = |msg: &[u8]| {
            let (r, _) =
                kpm::decode_indication(&ind.header, msg, &Limits::default(), &scope, None, version)
                    .unwrap();
            format!("{r:?}")
        };
        assert_eq!(
            read(&unhex(again.trim())),
            read(&ind.message),
            "node {node}"
        );
    }
    send_control(&s, 0, RcProfile::Srsran, &quotas_for(&s.sim, 0), None);
    let ack = next(&mut s.xapp.rx, RIC_CONTROL_ACK).await;
    let (same, out) = run_oracle(
        &o,
        &["roundtrip", "e2ap-v2", "E2AP-PDU", &hex(&ack.payload)],
    );
    assert!(
        same,
        "RICcontrolAcknowledge does not round-trip under pycrate: {out}"
    );
    let a = e2ap::decode_control_answer(&ack.payload).unwrap();
    let (same, out) = run_oracle(
        &o,
        &[
            "roundtrip",
            "e2sm-rc-v5",
            "E2SM-RC-ControlOutcome",
            &hex(&a.outcome.unwrap()),
        ],
    );
    assert!(same, "E2SM-RC control outcome does not round-trip: {out}");
    s.ric.stop().await;
}
