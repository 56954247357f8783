//! The O-RAN SC xApp endpoints on a real loopback socket, through a real HTTP/1.1 client:
//! `GET /ric/v1/config`, `POST /ric/v1/subscriptions/response` (validated, bounded, queued
//! or refused by name) and readiness that needs a subscription.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use nf_osc::submgr::SubscriptionResponse;
use nf_runtime::health::{NodeState, NodeTracker};
use nf_runtime::http::{self, HttpLimits, XappEndpoints};
use nf_runtime::metrics::Metrics;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

fn start(endpoints: XappEndpoints) -> (Arc<Metrics>, SocketAddr) {
    let metrics = Arc::new(Metrics::new());
    let listener = http::bind(([127, 0, 0, 1], 0).into()).unwrap();
    let addr = listener.local_addr().unwrap();
    http::spawn_with(listener, metrics.clone(), HttpLimits::default(), endpoints).unwrap();
    (metrics, addr)
}

/// One request with hyper's client: (status, content type, body).
async fn call(addr: SocketAddr, method: Method, path: &str, body: &str) -> (u16, String, String) {
    let sock = TcpStream::connect(addr).await.unwrap();
    let (mut tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(sock))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string())
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    let res = tx.send_request(req).await.unwrap();
    let status = res.status().as_u16();
    let ty = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, ty, String::from_utf8_lossy(&body).into_owned())
}

const NOTE: &str = r#"{"SubscriptionId":"2Vxm0aKqUH3aTBMDyDh4ZbJmSqy","SubscriptionInstances":[{"XappEventInstanceId":7,"E2EventInstanceId":12,"ErrorCause":""}]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_is_served_as_an_xapp_config_list() {
    let controls =
        serde_json::json!({"controls": {"e2": {"ran_function_id": 2}}, "name": "slice-sched"});
    let (_, addr) = start(XappEndpoints::default().with_config("slice-sched", controls.clone()));
    let (status, ty, body) = call(addr, Method::GET, "/ric/v1/config", "").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ty, "application/json");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["metadata"]["xappName"], "slice-sched");
    assert_eq!(list[0]["metadata"]["configType"], "json");
    assert_eq!(list[0]["config"], controls);
    let (status, _, _) = call(addr, Method::POST, "/ric/v1/config", "{}").await;
    assert_eq!(status, 405);

    // Not configured: not served.
    let (_, bare) = start(XappEndpoints::default());
    let (status, _, _) = call(bare, Method::GET, "/ric/v1/config", "").await;
    assert_eq!(status, 404);
    let (status, _, _) = call(bare, Method::POST, "/ric/v1/subscriptions/response", NOTE).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_are_validated_then_queued() {
    let (tx, mut rx) = mpsc::channel(1);
    let (metrics, addr) = start(XappEndpoints::default().with_notifications(tx));
    let path = "/ric/v1/subscriptions/response";

    let (status, _, body) = call(addr, Method::POST, path, NOTE).await;
    assert_eq!(status, 200, "{body}");
    let got: SubscriptionResponse = rx.recv().await.unwrap();
    assert_eq!(got.subscription_id, "2Vxm0aKqUH3aTBMDyDh4ZbJmSqy");
    assert_eq!(got.subscription_instances[0].e2_event_instance_id, 12);
    assert_eq!(got.subscription_instances[0].failure(), None);

    let refusals = [
        ("{\"SubscriptionId\":", "malformed_json"),
        (r#"{"SubscriptionId":"a"}"#, "missing_field"),
        (
            r#"{"SubscriptionId":"a","SubscriptionInstances":[{"XappEventInstanceId":7,"E2EventInstanceId":70000}]}"#,
            "invalid_field",
        ),
        (
            r#"{"SubscriptionId":"a","SubscriptionInstances":[{"XappEventInstanceId":7}]}"#,
            "missing_field",
        ),
        (
            r#"{"SubscriptionId":"a/b","SubscriptionInstances":[]}"#,
            "bad_text",
        ),
        (
            r#"{"SubscriptionId":"a","SubscriptionInstances":[{"XappEventInstanceId":7,"E2EventInstanceId":1,"TimeoutType":"Lunch-Timeout"}]}"#,
            "invalid_field",
        ),
    ];
    for (body, kind) in refusals {
        let (status, _, answer) = call(addr, Method::POST, path, body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer.contains(&format!("({kind})")), "{body}: {answer}");
    }
    let big = format!(
        r#"{{"SubscriptionId":"a","SubscriptionInstances":[],"x":"{}"}}"#,
        "y".repeat(70_000)
    );
    let (status, _, answer) = call(addr, Method::POST, path, &big).await;
    assert_eq!(status, 400);
    assert!(answer.contains("(body_too_large)"), "{answer}");
    // A length claiming gigabytes is refused at once, without reading.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /ric/v1/subscriptions/response HTTP/1.1\r\nhost: x\r\ncontent-length: 4000000000\r\n\r\n{")
        .await
        .unwrap();
    let mut text = String::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut text))
        .await
        .unwrap()
        .unwrap();
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(text.contains("body_too_large"), "{text}");
    let (status, _, _) = call(addr, Method::GET, path, "").await;
    assert_eq!(status, 405);
    assert!(rx.try_recv().is_err(), "a refused body reached the runtime");

    // Queue of one: the second notification waits for the runtime, the manager retries.
    let (status, _, _) = call(addr, Method::POST, path, NOTE).await;
    assert_eq!(status, 200);
    let (status, _, answer) = call(addr, Method::POST, path, NOTE).await;
    assert_eq!(status, 503, "{answer}");
    assert!(answer.contains("queue_full"), "{answer}");
    drop(rx);
    let (status, _, answer) = call(addr, Method::POST, path, NOTE).await;
    assert_eq!(status, 503);
    assert!(answer.contains("queue_closed"), "{answer}");

    // Two queued and the GET answered 405; eight refused bodies and two 503s.
    let text = metrics.encode();
    assert!(
        text.contains("xapp_http_requests_total{endpoint=\"subscriptions_response\"} 3"),
        "{text}"
    );
    assert!(
        text.contains("xapp_http_requests_total{endpoint=\"subscriptions_response_refused\"} 10"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_only_once_a_node_is_subscribed() {
    let (tx, _rx) = mpsc::channel(4);
    let (metrics, addr) = start(XappEndpoints::default().with_notifications(tx));
    let (status, _, body) = call(addr, Method::GET, "/ric/v1/health/ready", "").await;
    assert_eq!(status, 503);
    assert!(body.contains("discovery"), "{body}");
    metrics.health.discovered(1);
    let (status, _, body) = call(addr, Method::GET, "/ric/v1/health/ready", "").await;
    assert_eq!(status, 503);
    assert!(body.contains("no E2 node subscribed"), "{body}");
    let mut node = NodeTracker::new(metrics.clone(), "gnb-1");
    node.set(NodeState::Subscribed);
    let (status, _, _) = call(addr, Method::GET, "/ric/v1/health/ready", "").await;
    assert_eq!(status, 200);
    drop(node);
    let (status, _, _) = call(addr, Method::GET, "/ric/v1/health/ready", "").await;
    assert_eq!(status, 503, "ready must follow the subscription away");
    let (status, _, _) = call(addr, Method::GET, "/ric/v1/health/alive", "").await;
    assert_eq!(status, 200);
}
