//! The xApp's O-RAN SC path over loopback with real parts: the real runtime (`osc-rmr` +
//! `asn1-per`) against a RIC made of the real Subscription Manager REST server
//! (`testbed::osc::submgr`) and a real RMR endpoint (`nf_rmr`) playing the E2 termination
//! and two E2 nodes, one speaking E2SM-KPM v03.00, one v02.03.
//!
//! The RIC side decodes what the xApp sends with the codec crates (the KPM event trigger and
//! action definitions with each node's version, the E2AP RICcontrolRequest, the E2SM-RC
//! message with the srsRAN profile), and answers as a RIC does: indications as RMR 12050
//! with `sub_id` = the `E2EventInstanceId`, `meid` = the node; control outcomes as 12041 /
//! 12042 by return to sender.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use e2_asn1::e2ap::{self, Cause, E2apMessage, IndicationType, RicRequestId};
use e2_asn1::kpm::{self, KpmVersion};
use e2_asn1::rc::RcProfile;
use nf_core::{CellId, KpmReport, MeasVec};
use nf_osc::submgr::ActionToBeSetup;
use nf_rmr::{Message, RmrConfig, RmrEndpoint, mtype};
use nf_runtime::RuntimeConfig;
use nf_runtime::e2::{CellInfo, E2Node};
use nf_runtime::metrics::Metrics;
use nf_runtime::transport::osc::{OscConfig, OscNode};
use testbed::osc::submgr::{Cause as SubCause, E2Side, SubMgrServer, SubMgrServerConfig};
use testbed::ports::free_port;
use testbed::trace::{Window, bundled_root, read_cells};
use tokio::sync::oneshot;

use common::wait_for;

const PERIOD_MS: u32 = 100;
const REQUESTOR: u16 = 1001;
const KPM_FUNCTION: u16 = 2;
const RC_FUNCTION: u16 = 3;
/// The node whose controls the RIC refuses (RICcontrolFailure, control message invalid).
const REFUSING_NODE: &str = "gnb-v2";

fn model() -> nf_infer::runtime::LoadedModel {
    common::forecaster()
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A route file sending every type of `mtypes` to `to`.
fn route_file(dir: &Path, name: &str, mtypes: &[i32], to: SocketAddr) -> PathBuf {
    let routes: Vec<(i32, SocketAddr)> = mtypes.iter().map(|m| (*m, to)).collect();
    common::route_file(dir, name, &routes)
}

/// One E2 node of the fake RIC.
#[derive(Clone, Debug)]
struct Node {
    meid: String,
    version: KpmVersion,
    cells: Vec<CellInfo>,
    /// Trace windows of each cell.
    windows: Vec<Arc<Vec<Window>>>,
}

/// A live subscription as the E2 side set it up, with what it decoded.
#[derive(Clone, Debug)]
struct Sub {
    meid: String,
    e2_instance: u16,
    period_ms: u32,
    /// Cell of each action, by action ID, decoded from the action definitions.
    cells: Vec<(u8, CellId)>,
}

/// The E2 side behind the Subscription Manager: checks and records subscriptions.
#[derive(Default)]
struct E2 {
    nodes: Vec<Node>,
    subs: Mutex<Vec<Sub>>,
    refused: Mutex<Vec<String>>,
}

impl E2Side for E2 {
    fn subscribe(
        &self,
        meid: &str,
        ran_function_id: u16,
        e2_event_instance_id: u16,
        event_trigger: &[u8],
        actions: &[ActionToBeSetup],
    ) -> Result<(), SubCause> {
        let refuse = |why: String| {
            self.refused.lock().unwrap().push(why.clone());
            Err(SubCause {
                cause: why,
                source: nf_osc::submgr::ErrorSource::E2Node,
                timeout_type: None,
            })
        };
        let Some(node) = self.nodes.iter().find(|n| n.meid == meid) else {
            return refuse(format!("no node {meid}"));
        };
        if ran_function_id != KPM_FUNCTION {
            return refuse(format!("RAN function {ran_function_id} is not KPM"));
        }
        // Decoded with the node's own E2SM-KPM version, as the node would.
        let period_ms = match kpm::decode_event_trigger(event_trigger, node.version) {
            Ok(p) => p,
            Err(e) => return refuse(format!("event trigger: {e}")),
        };
        let mut cells = Vec::new();
        for a in actions {
            let Some(def) = &a.action_definition else {
                return refuse("action without definition".into());
            };
            match kpm::decode_action_definition(&def.0, node.version) {
                Ok((cell, _)) => cells.push((a.action_id, cell)),
                Err(e) => return refuse(format!("action definition: {e}")),
            }
        }
        self.subs.lock().unwrap().push(Sub {
            meid: meid.to_owned(),
            e2_instance: e2_event_instance_id,
            period_ms,
            cells,
        });
        Ok(())
    }

    fn unsubscribe(&self, meid: &str, _ran_function_id: u16, e2_event_instance_id: u16) {
        self.subs
            .lock()
            .unwrap()
            .retain(|s| !(s.meid == meid && s.e2_instance == e2_event_instance_id));
    }
}

/// What the fake E2T saw of the xApp's controls.
#[derive(Debug, Default)]
struct Seen {
    controls: Vec<(String, RicRequestId, u16, Option<bool>, usize)>,
    bad_controls: Vec<String>,
}

/// The fake RIC: E2 side, Subscription Manager, RMR endpoint of the E2 termination.
struct Ric {
    e2: Arc<E2>,
    submgr: SubMgrServer,
    seen: Arc<Mutex<Seen>>,
    stop: Option<oneshot::Sender<()>>,
    _dir: PathBuf,
}

impl Ric {
    async fn start(xapp_rmr: SocketAddr, dir: PathBuf) -> (Self, SocketAddr) {
        let traces = read_cells(&bundled_root()).expect("bundled traces");
        let sim = testbed::sim::Sim::new(
            testbed::sim::SimConfig {
                nodes: 2,
                cells_per_node: 2,
                ..testbed::sim::SimConfig::default()
            },
            traces.clone(),
        );
        let versions = [
            ("gnb-v3", KpmVersion::V3_00),
            (REFUSING_NODE, KpmVersion::V2_03),
        ];
        let nodes = sim
            .nodes
            .iter()
            .zip(versions)
            .map(|(n, (meid, version))| Node {
                meid: meid.to_owned(),
                version,
                cells: n.cells.iter().map(|c| c.info.clone()).collect(),
                windows: n
                    .cells
                    .iter()
                    .map(|c| Arc::new(traces[c.trace].windows().cloned().collect()))
                    .collect(),
            })
            .collect();
        let e2 = Arc::new(E2 {
            nodes,
            ..E2::default()
        });
        let submgr = SubMgrServer::start(
            "127.0.0.1:0".parse().unwrap(),
            e2.clone(),
            SubMgrServerConfig::default(),
        )
        .await
        .unwrap();
        let (ep, rx) = RmrEndpoint::bind(RmrConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            seed_routes: Some(route_file(
                &dir,
                "e2t.rt",
                &[mtype::RIC_INDICATION],
                xapp_rmr,
            )),
            ..RmrConfig::default()
        })
        .await
        .unwrap();
        let e2t = ep.local_addr();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (stop, stopped) = oneshot::channel();
        tokio::spawn(serve_e2t(ep, rx, e2.clone(), seen.clone(), stopped));
        (
            Self {
                e2,
                submgr,
                seen,
                stop: Some(stop),
                _dir: dir,
            },
            e2t,
        )
    }

    fn node(&self, meid: &str) -> &Node {
        self.e2.nodes.iter().find(|n| n.meid == meid).unwrap()
    }
}

impl Drop for Ric {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// The E2 termination: plays indications of every live subscription each period, answers
/// controls (and sends one indication of no subscription, and one of another node's).
async fn serve_e2t(
    ep: RmrEndpoint,
    mut rx: tokio::sync::mpsc::Receiver<Message>,
    e2: Arc<E2>,
    seen: Arc<Mutex<Seen>>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut tick = tokio::time::interval(Duration::from_millis(u64::from(PERIOD_MS)));
    let mut seq: u64 = 0;
    let mut strays_sent = false;
    loop {
        tokio::select! {
            _ = &mut stop => return,
            m = rx.recv() => {
                let Some(m) = m else { return };
                answer_control(&ep, &m, &seen);
            }
            _ = tick.tick() => {
                seq += 1;
                let subs = e2.subs.lock().unwrap().clone();
                for s in &subs {
                    play(&ep, &e2, s, seq);
                }
                if !strays_sent && seq > 20 && !subs.is_empty() {
                    strays_sent = true;
                    send_strays(&ep, &e2, &subs[0]);
                }
            }
        }
    }
}

fn indication_pdu(node: &Node, sub: &Sub, action: u8, report: &KpmReport, sn: u16) -> Vec<u8> {
    let (header, message) = kpm::encode_indication(report, true, node.version);
    e2ap::encode(&E2apMessage::Indication {
        request: RicRequestId {
            requestor: REQUESTOR,
            instance: sub.e2_instance,
        },
        ran_function: KPM_FUNCTION,
        action,
        sn: Some(sn),
        kind: IndicationType::Report,
        header,
        message,
        call_process_id: None,
    })
    .unwrap()
}

fn report_of(node: &Node, cell: &CellId, seq: u64, period_ms: u32) -> Option<KpmReport> {
    let i = node.cells.iter().position(|c| c.cell == *cell)?;
    let w = &node.windows[i];
    let w = w.get(seq as usize % w.len().max(1))?;
    let now = unix_ms();
    let p = u64::from(period_ms);
    Some(KpmReport {
        cell: *cell,
        collection_start_ms: now / p * p - p,
        granularity_ms: period_ms,
        cell_meas: w.cell,
        slices: node.cells[i]
            .slices
            .iter()
            .map(|s| {
                let m = w
                    .slices
                    .iter()
                    .find(|(x, _)| x == s)
                    .map_or_else(MeasVec::default, |(_, m)| *m);
                (*s, m)
            })
            .collect(),
    })
}

fn play(ep: &RmrEndpoint, e2: &E2, sub: &Sub, seq: u64) {
    let Some(node) = e2.nodes.iter().find(|n| n.meid == sub.meid) else {
        return;
    };
    for (action, cell) in &sub.cells {
        let Some(report) = report_of(node, cell, seq, sub.period_ms) else {
            continue;
        };
        let pdu = indication_pdu(node, sub, *action, &report, seq as u16);
        let msg = Message::new(mtype::RIC_INDICATION, pdu)
            .with_sub_id(i32::from(sub.e2_instance))
            .with_meid(node.meid.clone());
        let _ = ep.send(msg);
    }
}

/// An indication with a sub_id nobody subscribed, and one with a live sub_id but another
/// node's meid: neither may reach a node.
fn send_strays(ep: &RmrEndpoint, e2: &E2, sub: &Sub) {
    let node = e2.nodes.iter().find(|n| n.meid == sub.meid).unwrap();
    let (action, cell) = sub.cells[0];
    let report = report_of(node, &cell, 0, sub.period_ms).unwrap();
    let pdu = indication_pdu(node, sub, action, &report, 0);
    let other = e2.nodes.iter().find(|n| n.meid != sub.meid).unwrap();
    for (sub_id, meid) in [
        (4242, node.meid.clone()),
        (i32::from(sub.e2_instance), other.meid.clone()),
    ] {
        let msg = Message::new(mtype::RIC_INDICATION, pdu.clone())
            .with_sub_id(sub_id)
            .with_meid(meid);
        let _ = ep.send(msg);
    }
}

/// Decodes a RICcontrolRequest as the node would and answers it by return to sender.
fn answer_control(ep: &RmrEndpoint, m: &Message, seen: &Mutex<Seen>) {
    if m.mtype != mtype::RIC_CONTROL_REQ {
        seen.lock()
            .unwrap()
            .bad_controls
            .push(format!("mtype {}", m.mtype));
        return;
    }
    let Ok(E2apMessage::ControlRequest {
        request,
        ran_function,
        header,
        message,
        ack_request,
        call_process_id,
    }) = e2ap::decode(&m.payload, &e2ap::Limits::default())
    else {
        seen.lock()
            .unwrap()
            .bad_controls
            .push("not a RICcontrolRequest".into());
        return;
    };
    // srsRAN's RAN parameter IDs: the control must decode under its profile.
    let quotas = match e2_asn1::rc::decode_quota_control(RcProfile::Srsran, &header, &message) {
        Ok(q) => q.quotas.len(),
        Err(e) => {
            seen.lock()
                .unwrap()
                .bad_controls
                .push(format!("E2SM-RC: {e}"));
            0
        }
    };
    seen.lock().unwrap().controls.push((
        m.meid.clone(),
        request,
        ran_function,
        ack_request,
        quotas,
    ));
    let reply = if m.meid == REFUSING_NODE {
        Message::new(
            mtype::RIC_CONTROL_FAILURE,
            e2ap::encode(&E2apMessage::ControlFailure {
                request,
                ran_function,
                call_process_id,
                cause: Cause::ricRequest(
                    e2_asn1::generated::e2ap_v02_03::e2_ap_ies::CauseRICrequest::control_message_invalid,
                ),
                outcome: None,
            })
            .unwrap(),
        )
    } else {
        let outcome = e2_asn1::rc::encode_control_outcome(&[]).ok();
        Message::new(
            mtype::RIC_CONTROL_ACK,
            e2ap::encode(&E2apMessage::ControlAcknowledge {
                request,
                ran_function,
                call_process_id,
                outcome,
            })
            .unwrap(),
        )
    };
    let _ = ep.rts(m, reply.with_meid(m.meid.clone()));
}

fn xapp_config(ric: &Ric, xapp_rmr: SocketAddr, e2t: SocketAddr, dir: &Path) -> RuntimeConfig {
    let http_port = free_port();
    let mut cfg = common::osc_config(http_port);
    cfg.report_period_ms = PERIOD_MS;
    cfg.nodes = ric
        .e2
        .nodes
        .iter()
        .map(|n| E2Node {
            id: n.meid.clone(),
            cells: n.cells.clone(),
        })
        .collect();
    cfg.osc = OscConfig {
        submgr: ric.submgr.local_addr().to_string(),
        rmr_listen: xapp_rmr,
        rmr_route_table: Some(route_file(dir, "xapp.rt", &[mtype::RIC_CONTROL_REQ], e2t)),
        callback_host: "127.0.0.1".into(),
        callback_http_port: http_port,
        callback_rmr_port: None,
        requestor_id: REQUESTOR,
        nodes: ric
            .e2
            .nodes
            .iter()
            .map(|n| OscNode {
                meid: n.meid.clone(),
                kpm_function_id: KPM_FUNCTION,
                rc_function_id: RC_FUNCTION,
                kpm_version: Some(n.version),
                rc_profile: None,
            })
            .collect(),
        ..OscConfig::default()
    };
    cfg
}

fn temp_dir(name: &str) -> PathBuf {
    common::temp_dir("osc-path", name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loop_closes_over_rmr_and_aper_with_the_subscription_manager() {
    let dir = temp_dir("loop");
    let xapp_rmr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let (ric, e2t) = Ric::start(xapp_rmr, dir.clone()).await;
    let cfg = xapp_config(&ric, xapp_rmr, e2t, &dir);
    let metrics = Arc::new(Metrics::new());
    let (stop, stopped) = oneshot::channel::<()>();
    let run = tokio::spawn(nf_runtime::run(cfg, model(), metrics.clone(), async move {
        let _ = stopped.await;
    }));

    // Both nodes subscribed through REST, and both controlled over RMR.
    let both = wait_for(Duration::from_secs(40), || {
        let seen = ric.seen.lock().unwrap();
        ["gnb-v3", REFUSING_NODE]
            .iter()
            .all(|n| seen.controls.iter().filter(|c| c.0 == *n).count() >= 2)
            && metrics.controls_accepted.get() > 0
            && Metrics::count(&metrics.rejected, "unknown_subscription") >= 2
    })
    .await;
    let m = metrics.clone();
    let _ = stop.send(());
    let summary = run.await.unwrap().expect("runtime ran");
    let seen = ric.seen.lock().unwrap();
    assert!(
        both,
        "controls seen: {:?}, accepted {}, refused: {:?}, unknown_subscription {}",
        seen.controls.iter().map(|c| &c.0).collect::<Vec<_>>(),
        m.controls_accepted.get(),
        ric.e2.refused.lock().unwrap(),
        Metrics::count(&m.rejected, "unknown_subscription"),
    );

    // Subscriptions went through the manager, whose notifications reached the xApp.
    let st = ric.submgr.stats();
    assert!(st.subscribe_accepted.load(Ordering::Relaxed) >= 2);
    assert!(st.notifications_delivered.load(Ordering::Relaxed) >= 2);
    assert!(
        ric.e2.refused.lock().unwrap().is_empty(),
        "{:?}",
        ric.e2.refused.lock().unwrap()
    );

    // Controls: APER RICcontrolRequests with our requestor, the RC function, ack asked,
    // an E2SM-RC message that decodes under srsRAN's parameter IDs; instances count up.
    assert!(seen.bad_controls.is_empty(), "{:?}", seen.bad_controls);
    for (meid, request, ran_function, ack, quotas) in &seen.controls {
        assert_eq!(request.requestor, REQUESTOR, "{meid}");
        assert_eq!(*ran_function, RC_FUNCTION, "{meid}");
        assert_eq!(*ack, Some(true), "{meid}");
        assert!(*quotas > 0, "{meid}");
    }
    let v3: Vec<u16> = seen
        .controls
        .iter()
        .filter(|c| c.0 == "gnb-v3")
        .map(|c| c.1.instance)
        .collect();
    assert!(
        v3.windows(2).all(|w| w[1] == w[0].wrapping_add(1)),
        "{v3:?}"
    );

    // Indications of both versions were decoded: no version skew, nothing malformed.
    assert!(m.indications.get() > 20);
    for reason in [
        "kpm_version_skew",
        "malformed",
        "unknown_action",
        "e2ap_malformed",
    ] {
        assert_eq!(Metrics::count(&m.rejected, reason), 0, "{reason}");
    }
    // The strays: an unknown sub_id, and a live sub_id under another node's meid.
    assert!(Metrics::count(&m.rejected, "unknown_subscription") >= 2);
    // Acks come back; the refusing node's failures are counted by their E2AP cause.
    assert!(m.controls_accepted.get() > 0);
    assert!(Metrics::count(&m.controls_rejected, "control_message_invalid") > 0);
    assert_eq!(Metrics::count(&m.controls_rejected, "timeout"), 0);
    assert_eq!(summary.nodes, 2);
    assert_eq!(summary.cells, 4);

    // Shutdown deleted both subscriptions at the manager.
    drop(seen);
    assert!(
        st.deletes.load(Ordering::Relaxed) >= 2,
        "deletes {}",
        st.deletes.load(Ordering::Relaxed)
    );
    assert!(
        ric.submgr.subscriptions().is_empty(),
        "{:?}",
        ric.submgr.subscriptions()
    );
    let _ = ric.node("gnb-v3");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_manager_that_is_down_is_named_and_retried_with_backoff() {
    let dir = temp_dir("down");
    let xapp_rmr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let (ric, e2t) = Ric::start(xapp_rmr, dir.clone()).await;
    let mut cfg = xapp_config(&ric, xapp_rmr, e2t, &dir);
    // Nothing listens there.
    cfg.osc.submgr = format!("127.0.0.1:{}", free_port());
    let metrics = Arc::new(Metrics::new());
    let summary = nf_runtime::run(
        cfg,
        model(),
        metrics.clone(),
        tokio::time::sleep(Duration::from_millis(2500)),
    )
    .await
    .expect("runtime ran");
    let failures = Metrics::count(&metrics.submgr_failures, "submgr_unreachable");
    // Two nodes, backoff from 20 ms doubling to 200 ms: a handful of tries each, not a spin.
    assert!(failures >= 4, "{failures}");
    assert!(failures <= 60, "{failures}");
    assert_eq!(summary.controls_sent, 0);
    assert_eq!(metrics.subscriptions.get(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The same runtime against the simulator's O-RAN SC face (`testbed::sim::osc::OscRic`:
/// RMR E2 termination, Subscription Manager, E2 manager, APER nodes): node 1 speaks
/// E2SM-KPM v02.03, node 0 v03.00, and the xApp learns which from the E2 manager's RAN
/// function definitions (no `kpm_version` configured).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loop_closes_against_the_simulators_oran_sc_face() {
    use testbed::sim::osc as simosc;
    let dir = temp_dir("sim");
    let xapp_rmr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let sim = common::bundled_sim(2);
    let ric = simosc::OscRic::start(
        sim.clone(),
        simosc::OscConfig {
            xapp_rmr: Some(xapp_rmr.to_string()),
            e2mgr_listen: Some(([127, 0, 0, 1], 0).into()),
            kpm_v2_nodes: vec![1],
            ..simosc::OscConfig::default()
        },
    )
    .await
    .unwrap();
    let http_port = free_port();
    let mut cfg = common::osc_config(http_port);
    cfg.nodes = common::sim_e2_nodes(&sim);
    cfg.osc = OscConfig {
        submgr: ric.submgr_addr().to_string(),
        e2mgr: ric.e2mgr_addr().map(|a| a.to_string()),
        rmr_listen: xapp_rmr,
        rmr_route_table: Some(route_file(
            &dir,
            "xapp-sim.rt",
            &[mtype::RIC_CONTROL_REQ],
            ric.rmr_addr(),
        )),
        callback_host: "127.0.0.1".into(),
        callback_http_port: http_port,
        requestor_id: REQUESTOR,
        nodes: common::sim_osc_nodes(&sim, None),
        ..OscConfig::default()
    };
    let metrics = Arc::new(Metrics::new());
    let (stop, stopped) = oneshot::channel::<()>();
    let run = tokio::spawn(nf_runtime::run(cfg, model(), metrics.clone(), async move {
        let _ = stopped.await;
    }));
    let cells = sim.cell_count();
    let all = wait_for(Duration::from_secs(40), || sim.controls().len() == cells).await;
    let _ = stop.send(());
    let summary = run.await.unwrap().expect("runtime ran");
    assert!(
        all,
        "{} of {cells} cells controlled; rejected {:?}",
        sim.controls().len(),
        summary.rejected_by_reason
    );
    assert!(metrics.controls_accepted.get() > 0);
    assert_eq!(Metrics::count(&metrics.rejected, "kpm_version_skew"), 0);
    assert_eq!(
        Metrics::count(&metrics.nodes_refused, "ran_function_invalid"),
        0
    );
    assert_eq!(summary.nodes, 2);
    let st = ric.submgr().stats();
    assert!(st.deletes.load(Ordering::Relaxed) >= 2);
    ric.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
