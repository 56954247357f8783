//! The conflict-guidance service and two xApp clients over loopback gRPC: the real
//! `nf_conflict` server, two `nf_runtime::conflict::Gate`s (the scheduler and the
//! interference xApp), the manager's HTTP metrics read by a real HTTP client.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use nf_core::CellId;
use nf_core::conflict::{ControlIntent, Guidance, IndirectPolicy, ManagerConfig, Windows};
use nf_core::radio::UeId;
use nf_runtime::conflict::{Gate, GateConfig, OnUnavailable};
use nf_runtime::metrics::Metrics;

const SLICE: &str = "slice-xapp";
const INTF: &str = "interference-xapp";

fn cell(n: u64) -> CellId {
    CellId::new([0x00, 0xf1, 0x10], n)
}

fn manager_cfg(indirect: IndirectPolicy) -> ManagerConfig {
    ManagerConfig {
        xapps: [(SLICE.to_owned(), 10), (INTF.to_owned(), 5)].into(),
        slice_prb_quota: Windows {
            lease_ms: 400,
            guard_ms: 300,
        },
        indirect,
        ..ManagerConfig::default()
    }
}

fn gate(addr: std::net::SocketAddr, xapp: &str, metrics: &Metrics) -> Gate {
    let mut g = GateConfig::new(format!("http://{addr}"), xapp);
    g.timeout = Duration::from_millis(2_000);
    g.consumes = if xapp == SLICE {
        vec!["RRU.PrbUsedDl".into(), "DRB.UEThpDl".into()]
    } else {
        nf_core::radio::ue_meas::ALL
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    Gate::new(g, metrics)
}

fn count(m: &Metrics, result: &'static str) -> u64 {
    m.conflict_guidance
        .get_or_create(&nf_runtime::metrics::ResultLabel { result })
        .get()
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

fn metric(text: &str, line_start: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {line_start} in\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_xapps_direct_denied_indirect_counted_leases_cached() {
    let mgr = nf_conflict::start(nf_conflict::Config::local(manager_cfg(
        IndirectPolicy::Count,
    )))
    .await
    .unwrap();
    let (ms, mi) = (Metrics::new(), Metrics::new());
    let slice = gate(mgr.grpc_addr, SLICE, &ms);
    let intf = gate(mgr.grpc_addr, INTF, &mi);

    // The scheduler takes cell 2's quota; a second quota of it rides the cached lease.
    let q = ControlIntent::slice_quota(SLICE, "gnb-1", cell(2), "1:0/10/60");
    assert!(matches!(
        slice.ask(q.clone()).await,
        Guidance::Allow { lease_ms: 400 }
    ));
    assert!(matches!(slice.ask(q.clone()).await, Guidance::Allow { .. }));
    assert_eq!((count(&ms, "allow"), count(&ms, "allow_cached")), (1, 1));

    // The interference xApp's restriction of the same cell is a direct conflict: refused.
    let r = ControlIntent::slice_quota(INTF, "gnb-1", cell(2), "restrict 40");
    assert_eq!(
        intf.ask(r.clone()).await,
        Guidance::Deny {
            reason: "direct_conflict",
            holder: SLICE.into()
        }
    );
    // A handover into cell 2 right after the cut is an indirect conflict: allowed, counted.
    let ho = ControlIntent::handover(INTF, "gnb-1", cell(1), UeId(42), cell(2));
    assert!(matches!(intf.ask(ho.clone()).await, Guidance::Allow { .. }));
    slice.report_applied(&q, true);
    intf.report_applied(&ho, true);
    assert_eq!((count(&mi, "allow"), count(&mi, "deny")), (1, 1));

    // After the lease (400 ms) and the guard (300 ms) the restriction is granted (and is
    // itself an indirect conflict: it changes the load the scheduler steered 0.75 s ago).
    tokio::time::sleep(Duration::from_millis(750)).await;
    assert!(matches!(intf.ask(r).await, Guidance::Allow { .. }));

    // The manager's own view: counts, the recent list and the metrics endpoint.
    let mut client =
        e2_proto::pb::conflict::conflict_guidance_client::ConflictGuidanceClient::connect(format!(
            "http://{}",
            mgr.grpc_addr
        ))
        .await
        .unwrap();
    let list = client
        .list_conflicts(e2_proto::pb::conflict::ListConflictsRequest {})
        .await
        .unwrap()
        .into_inner();
    let n = |kind: &str, res: &str| {
        list.counts
            .iter()
            .find(|c| c.kind == kind && c.resolution == res)
            .map_or(0, |c| c.count)
    };
    assert_eq!(n("direct", "denied"), 1);
    assert_eq!(n("indirect", "counted"), 2);
    assert!(
        list.recent
            .iter()
            .any(|c| c.kind == "indirect" && c.other == SLICE)
    );
    let text = http_get(mgr.http_addr.unwrap(), "/metrics").await;
    assert_eq!(
        metric(
            &text,
            "conflicts_total{kind=\"direct\",resolution=\"denied\"}"
        ),
        1
    );
    assert_eq!(
        metric(
            &text,
            "conflicts_total{kind=\"indirect\",resolution=\"counted\"}"
        ),
        2
    );
    assert_eq!(
        metric(&text, "conflict_guidance_total{result=\"direct_conflict\"}"),
        1
    );
    assert!(
        http_get(mgr.http_addr.unwrap(), "/health")
            .await
            .contains("200 OK")
    );

    // A malformed intent is refused by name and counted; the manager keeps serving.
    let mut bad = e2_proto::pb::conflict::ProposeRequest {
        intent: Some(nf_conflict::wire::intent_to_pb(&ho)),
    };
    bad.intent.as_mut().unwrap().cell.as_mut().unwrap().plmn = vec![1, 2];
    let e = client.propose(bad).await.unwrap_err();
    assert!(e.message().contains("intent.cell"), "{}", e.message());
    let text = http_get(mgr.http_addr.unwrap(), "/metrics").await;
    assert_eq!(
        metric(
            &text,
            "conflict_requests_rejected_total{reason=\"bad_intent\"}"
        ),
        1
    );
    mgr.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_lower_priority_and_unknown_xapps() {
    let mgr = nf_conflict::start(nf_conflict::Config::local(manager_cfg(
        IndirectPolicy::DenyLowerPriority,
    )))
    .await
    .unwrap();
    let (ms, mi, mr) = (Metrics::new(), Metrics::new(), Metrics::new());
    let slice = gate(mgr.grpc_addr, SLICE, &ms);
    let intf = gate(mgr.grpc_addr, INTF, &mi);
    let q = ControlIntent::slice_quota(SLICE, "gnb-1", cell(2), "1:0/10/60");
    assert!(matches!(slice.ask(q).await, Guidance::Allow { .. }));
    let ho = ControlIntent::handover(INTF, "gnb-1", cell(1), UeId(42), cell(2));
    assert_eq!(
        intf.ask(ho).await,
        Guidance::Deny {
            reason: "indirect_conflict",
            holder: SLICE.into()
        }
    );
    // An xApp the manager was not configured with cannot register: with the default
    // policy its controls are denied (counted as unavailable guidance).
    let rogue = gate(mgr.grpc_addr, "rogue-xapp", &mr);
    let g = rogue
        .ask(ControlIntent::slice_quota(
            "rogue-xapp",
            "gnb-1",
            cell(9),
            "x",
        ))
        .await;
    assert!(
        matches!(
            g,
            Guidance::Deny {
                reason: "manager_unavailable",
                ..
            }
        ),
        "{g:?}"
    );
    assert_eq!(count(&mr, "unavailable_denied"), 1);
    mgr.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manager_down_is_bounded_and_follows_the_policy() {
    // A port nobody listens on.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let m = Metrics::new();
    let mut cfg = GateConfig::new(format!("http://{addr}"), SLICE);
    cfg.timeout = Duration::from_millis(200);
    let deny = Gate::new(cfg.clone(), &m);
    let q = ControlIntent::slice_quota(SLICE, "gnb-1", cell(2), "1:0/10/60");
    let t = std::time::Instant::now();
    assert!(matches!(
        deny.ask(q.clone()).await,
        Guidance::Deny {
            reason: "manager_unavailable",
            ..
        }
    ));
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    cfg.on_unavailable = OnUnavailable::Allow;
    let allow = Gate::new(cfg, &m);
    assert_eq!(allow.ask(q).await, Guidance::Allow { lease_ms: 0 });
    assert_eq!(count(&m, "unavailable_denied"), 1);
    assert_eq!(count(&m, "unavailable_allowed"), 1);

    // A manager that accepts the connection and never answers: still bounded.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let mut cfg = GateConfig::new(format!("http://{silent_addr}"), SLICE);
    cfg.timeout = Duration::from_millis(200);
    let g = Gate::new(cfg, &m);
    let t = std::time::Instant::now();
    let q = ControlIntent::slice_quota(SLICE, "gnb-1", cell(3), "1:0/10/60");
    assert!(matches!(
        g.ask(q).await,
        Guidance::Deny {
            reason: "manager_unavailable",
            ..
        }
    ));
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    hold.abort();
}
