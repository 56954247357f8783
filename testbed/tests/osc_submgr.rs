//! The O-RAN SC subscription flow over loopback: the xApp's [`SubMgrClient`] against the
//! simulator's [`SubMgrServer`], whose notifications arrive at the xApp's real HTTP
//! endpoint (`nf_runtime::http`, `POST /ric/v1/subscriptions/response`) and feed a
//! [`SubscriptionTracker`]; plus every refusal, by name, in both directions.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nf_osc::submgr::{
    ActionToBeSetup, ActionType, ClientEndpoint, E2smOctets, ErrorSource, SubMgrClient,
    SubMgrError, SubMgrTimeouts, SubscriptionDetail, SubscriptionParams, SubscriptionResponse,
    SubscriptionTracker, TrackerEvent,
};
use nf_runtime::http::{self, HttpLimits, XappEndpoints};
use nf_runtime::metrics::Metrics;
use testbed::osc::submgr::{Cause, E2Side, SubMgrServer, SubMgrServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Opaque E2SM bytes: the manager passes them to the E2 side unchanged.
const EVENT_TRIGGER: [u8; 4] = [0x00, 0x00, 0x03, 0xe7];
const ACTION_DEFINITION: [u8; 6] = [0x00, 0x01, 0x00, 0x00, 0x40, 0x01];

#[derive(Debug, Clone, PartialEq)]
struct Seen {
    meid: String,
    ran_function_id: u16,
    e2_event_instance_id: u16,
    event_trigger: Vec<u8>,
    actions: Vec<ActionToBeSetup>,
}

/// An E2 side that records what it is asked and refuses the node named `refuse`.
#[derive(Default)]
struct RecordingE2 {
    refuse: Option<String>,
    subscribed: Mutex<Vec<Seen>>,
    unsubscribed: Mutex<Vec<(String, u16, u16)>>,
}

impl E2Side for RecordingE2 {
    fn subscribe(
        &self,
        meid: &str,
        ran_function_id: u16,
        e2_event_instance_id: u16,
        event_trigger: &[u8],
        actions: &[ActionToBeSetup],
    ) -> Result<(), Cause> {
        if self.refuse.as_deref() == Some(meid) {
            return Err(Cause {
                cause: "RAN function not supported".into(),
                source: ErrorSource::E2Node,
                timeout_type: None,
            });
        }
        self.subscribed.lock().unwrap().push(Seen {
            meid: meid.into(),
            ran_function_id,
            e2_event_instance_id,
            event_trigger: event_trigger.to_vec(),
            actions: actions.to_vec(),
        });
        Ok(())
    }

    fn unsubscribe(&self, meid: &str, ran_function_id: u16, e2_event_instance_id: u16) {
        self.unsubscribed.lock().unwrap().push((
            meid.into(),
            ran_function_id,
            e2_event_instance_id,
        ));
    }
}

/// The xApp side: its real HTTP endpoint with a notification queue of `depth`.
fn xapp_endpoint(depth: usize) -> (SocketAddr, mpsc::Receiver<SubscriptionResponse>) {
    let (addr, rx, _) = xapp_endpoint_metrics(depth);
    (addr, rx)
}

fn xapp_endpoint_metrics(
    depth: usize,
) -> (
    SocketAddr,
    mpsc::Receiver<SubscriptionResponse>,
    Arc<Metrics>,
) {
    let metrics = Arc::new(Metrics::new());
    let (tx, rx) = mpsc::channel(depth);
    let listener = http::bind(([127, 0, 0, 1], 0).into()).unwrap();
    let addr = listener.local_addr().unwrap();
    let endpoints = XappEndpoints::default().with_notifications(tx);
    http::spawn_with(listener, metrics.clone(), HttpLimits::default(), endpoints).unwrap();
    (addr, rx, metrics)
}

fn params(meid: &str, xapp: SocketAddr, instances: &[u16]) -> SubscriptionParams {
    SubscriptionParams {
        subscription_id: None,
        client_endpoint: ClientEndpoint {
            host: xapp.ip().to_string(),
            http_port: xapp.port(),
            rmr_port: 4560,
        },
        meid: meid.into(),
        ran_function_id: 2,
        e2_subscription_directives: None,
        subscription_details: instances
            .iter()
            .map(|&x| SubscriptionDetail {
                xapp_event_instance_id: x,
                event_triggers: E2smOctets(EVENT_TRIGGER.to_vec()),
                action_to_be_setup_list: vec![ActionToBeSetup {
                    action_id: 1,
                    action_type: ActionType::Report,
                    action_definition: Some(E2smOctets(ACTION_DEFINITION.to_vec())),
                    subsequent_action: None,
                }],
            })
            .collect(),
    }
}

async fn manager(e2: Arc<RecordingE2>, cfg: SubMgrServerConfig) -> (SubMgrServer, SubMgrClient) {
    let server = SubMgrServer::start(([127, 0, 0, 1], 0).into(), e2, cfg)
        .await
        .unwrap();
    let client = SubMgrClient::new(server.local_addr().to_string(), SubMgrTimeouts::default());
    (server, client)
}

async fn next_notification(rx: &mut mpsc::Receiver<SubscriptionResponse>) -> SubscriptionResponse {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("no notification within 10 s")
        .expect("queue closed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_notify_route_indications_and_delete() {
    let e2 = Arc::new(RecordingE2::default());
    let (server, client) = manager(e2.clone(), SubMgrServerConfig::default()).await;
    let (xapp, mut rx) = xapp_endpoint(16);
    let mut tracker = SubscriptionTracker::new(Duration::from_secs(30));

    let p = params("gnb_001_001_00000001", xapp, &[7, 8]);
    tracker.register(&p, Instant::now()).unwrap();
    let resp = client.subscribe(&p).await.unwrap();
    assert!(!resp.subscription_id.is_empty());
    tracker.accepted(&p, &resp);

    // One notification per detail, each naming its XappEventInstanceId.
    let mut events = Vec::new();
    for _ in 0..2 {
        let n = next_notification(&mut rx).await;
        assert_eq!(n.subscription_id, resp.subscription_id);
        events.extend(tracker.on_notification(&n));
    }
    assert_eq!(tracker.active(), 2);
    assert_eq!(tracker.pending(), 0);
    let seen = e2.subscribed.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    for ev in &events {
        let TrackerEvent::Active {
            meid,
            xapp_event_instance_id,
            e2_event_instance_id,
            ..
        } = ev
        else {
            panic!("not active: {ev:?}");
        };
        assert_eq!(meid, "gnb_001_001_00000001");
        // The E2 side was asked for exactly that instance, with the bytes unchanged.
        let s = seen
            .iter()
            .find(|s| s.e2_event_instance_id == *e2_event_instance_id)
            .unwrap();
        assert_eq!(s.ran_function_id, 2);
        assert_eq!(s.event_trigger, EVENT_TRIGGER);
        assert_eq!(
            s.actions[0].action_definition.as_ref().unwrap().0,
            ACTION_DEFINITION
        );
        // An indication with RMR sub_id = E2EventInstanceId from that node routes back.
        assert_eq!(
            tracker.route("gnb_001_001_00000001", *e2_event_instance_id),
            Some(*xapp_event_instance_id)
        );
        assert_eq!(
            tracker.sub_id("gnb_001_001_00000001", *xapp_event_instance_id),
            Some(*e2_event_instance_id)
        );
        // The same sub_id from another node does not.
        assert_eq!(tracker.route("gnb_other", *e2_event_instance_id), None);
    }
    let e2_ids: Vec<u16> = seen.iter().map(|s| s.e2_event_instance_id).collect();
    assert_ne!(e2_ids[0], e2_ids[1], "instances must differ");
    assert_eq!(tracker.route("gnb_001_001_00000001", 999), None);

    // Delete: 204, the E2 side tears both instances down, a second delete is refused.
    client.unsubscribe(&resp.subscription_id).await.unwrap();
    assert_eq!(tracker.remove_subscription(&resp.subscription_id), 2);
    assert_eq!(tracker.active(), 0);
    let mut torn: Vec<u16> = e2
        .unsubscribed
        .lock()
        .unwrap()
        .iter()
        .map(|t| t.2)
        .collect();
    torn.sort_unstable();
    let mut want = e2_ids.clone();
    want.sort_unstable();
    assert_eq!(torn, want);
    assert!(server.subscriptions().is_empty());
    let again = client.unsubscribe(&resp.subscription_id).await.unwrap_err();
    assert_eq!(again.kind(), "submgr_status_4xx", "{again}");
    assert_eq!(
        server
            .stats()
            .notifications_delivered
            .load(Ordering::Relaxed),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_subscription_is_reported_with_its_cause() {
    let e2 = Arc::new(RecordingE2 {
        refuse: Some("gnb_bad".into()),
        ..Default::default()
    });
    let (_server, client) = manager(e2, SubMgrServerConfig::default()).await;
    let (xapp, mut rx) = xapp_endpoint(16);
    let mut tracker = SubscriptionTracker::new(Duration::from_secs(30));
    let p = params("gnb_bad", xapp, &[3]);
    tracker.register(&p, Instant::now()).unwrap();
    let resp = client.subscribe(&p).await.unwrap();
    tracker.accepted(&p, &resp);
    let events = tracker.on_notification(&next_notification(&mut rx).await);
    assert_eq!(events.len(), 1);
    match &events[0] {
        TrackerEvent::Failed {
            meid,
            xapp_event_instance_id,
            cause,
            source,
            ..
        } => {
            assert_eq!(meid, "gnb_bad");
            assert_eq!(*xapp_event_instance_id, 3);
            assert_eq!(cause, "RAN function not supported");
            assert_eq!(*source, Some(ErrorSource::E2Node));
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert_eq!(events[0].label(), "failed");
    assert_eq!(tracker.active(), 0);
    // The instance ID is free again for a retry.
    tracker.register(&p, Instant::now()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_that_never_comes_times_out_by_name() {
    let cfg = SubMgrServerConfig {
        silent: true,
        ..Default::default()
    };
    let (_server, client) = manager(Arc::new(RecordingE2::default()), cfg).await;
    let (xapp, mut rx) = xapp_endpoint(16);
    let mut tracker = SubscriptionTracker::new(Duration::from_millis(300));
    let p = params("gnb_1", xapp, &[11]);
    let t0 = Instant::now();
    tracker.register(&p, t0).unwrap();
    let resp = client.subscribe(&p).await.unwrap();
    tracker.accepted(&p, &resp);
    assert!(tracker.expire(t0).is_empty(), "nothing is due yet");
    let waited = tokio::time::timeout(Duration::from_millis(600), rx.recv()).await;
    assert!(waited.is_err(), "a silent manager sent {waited:?}");
    let events = tracker.expire(Instant::now());
    assert_eq!(
        events,
        vec![TrackerEvent::TimedOut {
            meid: "gnb_1".into(),
            subscription_id: Some(resp.subscription_id.clone()),
            xapp_event_instance_id: 11,
            waited: Duration::from_millis(300),
        }]
    );
    assert_eq!(events[0].label(), "timed_out");
    assert_eq!(tracker.pending(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_notification_queue_answers_503_and_the_manager_retries() {
    let cfg = SubMgrServerConfig {
        notify_retry_delay: Duration::from_millis(100),
        ..Default::default()
    };
    let (server, client) = manager(Arc::new(RecordingE2::default()), cfg).await;
    let (xapp, mut rx, metrics) = xapp_endpoint_metrics(1);
    // Three details, a queue of one: the 2nd and 3rd notifications get 503 until drained.
    let resp = client
        .subscribe(&params("gnb_q", xapp, &[1, 2, 3]))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut got = Vec::new();
    for _ in 0..3 {
        let n = next_notification(&mut rx).await;
        assert_eq!(n.subscription_id, resp.subscription_id);
        got.push(n.subscription_instances[0].xapp_event_instance_id);
    }
    assert_eq!(got, vec![1, 2, 3], "nothing lost, in order");
    // The manager counts a delivery once it has read the 200.
    let t = Instant::now();
    while server
        .stats()
        .notifications_delivered
        .load(Ordering::Relaxed)
        < 3
        && t.elapsed() < Duration::from_secs(10)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        server
            .stats()
            .notifications_delivered
            .load(Ordering::Relaxed),
        3
    );
    assert_eq!(
        server
            .stats()
            .notifications_undelivered
            .load(Ordering::Relaxed),
        0
    );
    // The queue was full at least once: the xApp answered 503 and counted it.
    let text = metrics.encode();
    let refused = text
        .lines()
        .find(|l| l.contains("endpoint=\"subscriptions_response_refused\""))
        .and_then(|l| l.split_whitespace().last()?.parse::<u64>().ok())
        .unwrap();
    assert!(refused >= 1, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manager_down_or_mute_is_a_typed_error() {
    // Nothing listens: bind a port, then free it.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let client = SubMgrClient::new(addr.to_string(), SubMgrTimeouts::default());
    let p = params("gnb_1", addr, &[1]);
    let e = client.subscribe(&p).await.unwrap_err();
    assert_eq!(e.kind(), "submgr_unreachable", "{e}");
    assert!(e.is_transient());

    // Accepts, never answers.
    let mute = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mute_addr = mute.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut socks = Vec::new();
        while let Ok((s, _)) = mute.accept().await {
            socks.push(s);
        }
    });
    let timeouts = SubMgrTimeouts {
        connect: Duration::from_secs(2),
        request: Duration::from_millis(300),
    };
    let client = SubMgrClient::new(mute_addr.to_string(), timeouts);
    let e = client.subscribe(&p).await.unwrap_err();
    assert_eq!(e.kind(), "submgr_timeout", "{e}");
    let e = client.unsubscribe("abc").await.unwrap_err();
    assert_eq!(e.kind(), "submgr_timeout", "{e}");
    hold.abort();
}

/// A one-shot server answering every connection with `answer` (raw HTTP).
async fn hostile(answer: String) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let mut buf = vec![0u8; 64 * 1024];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(answer.as_bytes()).await;
            let _ = s.shutdown().await;
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_answers_from_the_manager_are_refused_by_name() {
    let json = |status: &str, body: &str| {
        format!(
            "HTTP/1.1 {status}\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let cases: [(String, &str); 7] = [
        (json("201 Created", "{\"Subscr"), "submgr_bad_response"),
        (
            json("201 Created", "{\"SubscriptionInstances\":[]}"),
            "submgr_bad_response",
        ),
        (
            json(
                "201 Created",
                "{\"SubscriptionId\":\"a b\",\"SubscriptionInstances\":null}",
            ),
            "submgr_bad_response",
        ),
        (
            "HTTP/1.1 201 Created\r\ncontent-length: 10000000000\r\n\r\n{}".into(),
            "submgr_body_too_large",
        ),
        (
            json("500 Internal Server Error", "oops"),
            "submgr_status_5xx",
        ),
        (json("200 OK", "{}"), "submgr_unexpected_status"),
        ("SSH-2.0-OpenSSH\r\n\r\n".into(), "submgr_http"),
    ];
    for (answer, kind) in cases {
        let addr = hostile(answer.clone()).await;
        let client = SubMgrClient::new(addr.to_string(), SubMgrTimeouts::default());
        let e = client
            .subscribe(&params("gnb_1", addr, &[1]))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), kind, "{answer:?}: {e}");
    }
    // An answer whose body is cut short of its length.
    let addr = hostile("HTTP/1.1 201 Created\r\ncontent-length: 100\r\n\r\n{\"Su".into()).await;
    let client = SubMgrClient::new(addr.to_string(), SubMgrTimeouts::default());
    let e = client
        .subscribe(&params("gnb_1", addr, &[1]))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), "submgr_http", "{e}");
}

/// One raw request to the manager: (status, body).
async fn raw(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).await.unwrap();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned());
    (status, body.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_to_the_manager_are_refused_by_name() {
    let (server, client) = manager(
        Arc::new(RecordingE2::default()),
        SubMgrServerConfig::default(),
    )
    .await;
    let addr = server.local_addr();
    let good = serde_json::to_value(params("gnb_1", addr, &[1])).unwrap();
    let with = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = good.clone();
        f(&mut v);
        v.to_string()
    };
    let cases: Vec<(String, &str, &str)> = vec![
        ("{\"ClientEndpoint\":".into(), "malformed_json", "EOF"),
        (
            with(&|v| {
                v.as_object_mut().unwrap().remove("Meid");
            }),
            "missing_field",
            "Meid",
        ),
        (
            with(&|v| v["SubscriptionDetails"][0]["EventTriggers"] = serde_json::json!([1, 256])),
            "invalid_field",
            "byte 256 at index 1",
        ),
        (
            with(&|v| v["RANFunctionID"] = serde_json::json!(4096)),
            "out_of_range",
            "RANFunctionID",
        ),
        (
            with(&|v| v["SubscriptionDetails"] = serde_json::json!([])),
            "empty",
            "SubscriptionDetails",
        ),
        (
            with(&|v| v["Meid"] = serde_json::json!("x".repeat(40))),
            "too_long",
            "Meid",
        ),
        (
            with(&|v| {
                v["SubscriptionDetails"][0]["ActionToBeSetupList"][0]["ActionType"] =
                    serde_json::json!("subscribe")
            }),
            "invalid_field",
            "unknown variant",
        ),
    ];
    for (body, kind, names) in &cases {
        let (status, answer) = raw(addr, "POST", "/ric/v1/subscriptions", body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        let a: serde_json::Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(a["kind"], *kind, "{body}: {answer}");
        assert!(a["error"].as_str().unwrap().contains(names), "{answer}");
    }
    let (status, _) = raw(addr, "DELETE", "/ric/v1/subscriptions/a%2Fb", "").await;
    assert_eq!(status, 400);
    let (status, _) = raw(addr, "GET", "/ric/v1/nothing", "").await;
    assert_eq!(status, 404);
    let (status, _) = raw(addr, "PUT", "/ric/v1/subscriptions", "{}").await;
    assert_eq!(status, 405);
    // A body claiming gigabytes is refused without reading it.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        b"POST /ric/v1/subscriptions HTTP/1.1\r\nhost: x\r\ncontent-length: 5000000000\r\n\r\n{",
    )
    .await
    .unwrap();
    let mut text = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut text)).await;
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(text.contains("body_too_large"), "{text}");
    assert_eq!(server.stats().subscribe_accepted.load(Ordering::Relaxed), 0);

    // The client refuses to send what the manager would refuse, naming the field.
    let mut bad = params("gnb_1", addr, &[1, 1]);
    let e = client.subscribe(&bad).await.unwrap_err();
    assert!(matches!(e, SubMgrError::InvalidRequest(_)), "{e}");
    assert_eq!(e.kind(), "submgr_invalid_request");
    assert!(e.to_string().contains("XappEventInstanceId 1"), "{e}");
    bad = params("gnb_1", addr, &[1]);
    bad.client_endpoint.host = "bad host".into();
    let e = client.subscribe(&bad).await.unwrap_err();
    assert!(e.to_string().contains("ClientEndpoint.Host"), "{e}");
    let e = client.unsubscribe("../../etc").await.unwrap_err();
    assert_eq!(e.kind(), "submgr_invalid_request", "{e}");
    assert_eq!(server.stats().subscribe_accepted.load(Ordering::Relaxed), 0);
}
