//! The HTTP endpoint on a real loopback socket: it keeps answering under an idle-connection
//! flood, closes clients that send nothing, serves the RIC health probes, and exposes
//! every known series from the start.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use nf_runtime::health::{NodeState, NodeTracker};
use nf_runtime::http::{self, HttpLimits};
use nf_runtime::metrics::Metrics;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn start(limits: HttpLimits) -> (Arc<Metrics>, std::net::SocketAddr) {
    let metrics = Arc::new(Metrics::new());
    let listener = http::bind(([127, 0, 0, 1], 0).into()).unwrap();
    let addr = listener.local_addr().unwrap();
    http::spawn(listener, metrics.clone(), limits).unwrap();
    (metrics, addr)
}

/// One request on a fresh connection: (status line, body).
async fn get(addr: std::net::SocketAddr, path: &str) -> (String, String) {
    let mut sock = TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
    sock.write_all(req.as_bytes()).await.unwrap();
    let mut text = String::new();
    sock.read_to_string(&mut text).await.unwrap();
    let status = text.lines().next().unwrap_or_default().to_owned();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned());
    (status, body.unwrap_or_default())
}

/// Soft limit of open files of this process.
fn fd_limit() -> usize {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| {
            l["Max open files".len()..]
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_answer_promptly_through_an_idle_connection_flood() {
    let limits = HttpLimits {
        max_connections: 64,
        header_read_timeout: Duration::from_secs(30),
        connection_timeout: Duration::from_secs(60),
    };
    let (metrics, addr) = start(limits);
    // Far more idle connections than the limit: 60 % of this process's file descriptors.
    // Each costs one descriptor here; a server holding one per connection as well would
    // run out (the observed failure), this one holds at most 64.
    let flood = (fd_limit() * 3 / 5).min(15_000);
    assert!(
        flood > 4 * limits.max_connections,
        "fd limit too low: {flood}"
    );
    let mut idle = Vec::with_capacity(flood);
    for _ in 0..flood {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    let t = Instant::now();
    let (status, body) = get(addr, "/metrics").await;
    let took = t.elapsed();
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.contains("xapp_indications_total"), "{body}");
    assert!(
        took < Duration::from_secs(5),
        "scrape took {took:?} under the flood"
    );
    // The flood was shed oldest first instead of piling up.
    assert!(metrics.http_shed.get() as usize >= flood - limits.max_connections);
    let open = nf_runtime::process::ProcessStats::read().map(|s| s.open_fds);
    println!("{flood} idle connections: scrape in {took:?}, process fds {open:?}");
    drop(idle);
    let t = Instant::now();
    let (status, _) = get(addr, "/ric/v1/metrics").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_sends_no_headers_is_closed() {
    let (_, addr) = start(HttpLimits {
        header_read_timeout: Duration::from_millis(300),
        ..HttpLimits::default()
    });
    let mut sock = TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 256];
    let read = tokio::time::timeout(Duration::from_secs(10), sock.read(&mut buf)).await;
    // Closed by the server (EOF, or a 408 then EOF), long before our 10 s.
    let n = read
        .expect("server closes the idle connection")
        .unwrap_or(0);
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(n == 0 || text.starts_with("HTTP/1.1 408"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_probes_follow_discovery_and_node_tasks() {
    let (metrics, addr) = start(HttpLimits::default());
    assert_eq!(get(addr, "/ric/v1/health/alive").await.0, "HTTP/1.1 200 OK");
    let (status, body) = get(addr, "/ric/v1/health/ready").await;
    assert_eq!(status, "HTTP/1.1 503 Service Unavailable");
    assert!(body.contains("discovery"), "{body}");
    metrics.health.discovered(1);
    let mut node = NodeTracker::new(metrics.clone(), "gnb-1");
    assert!(
        get(addr, "/ric/v1/health/ready")
            .await
            .1
            .contains("no E2 node subscribed")
    );
    node.set(NodeState::Subscribed);
    assert_eq!(get(addr, "/ric/v1/health/ready").await.0, "HTTP/1.1 200 OK");
    node.set(NodeState::Backoff);
    assert_eq!(
        get(addr, "/ric/v1/health/ready").await.0,
        "HTTP/1.1 503 Service Unavailable"
    );
    assert_eq!(get(addr, "/nope").await.0, "HTTP/1.1 404 Not Found");
    // HTTP/1.0 clients are answered in their version.
    let mut sock = TcpStream::connect(addr).await.unwrap();
    sock.write_all(b"GET /metrics HTTP/1.0\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    sock.read_to_string(&mut text).await.unwrap();
    assert!(text.starts_with("HTTP/1.0 200 OK"), "{text}");
}

#[tokio::test]
async fn every_known_series_exists_before_its_first_event() {
    let (metrics, addr) = start(HttpLimits::default());
    metrics.model_loaded("slice_forecaster", "1.0.0", "ab12");
    let (_, body) = get(addr, "/metrics").await;
    for line in [
        "xapp_indications_rejected_total{reason=\"oversize\"} 0",
        "xapp_indications_rejected_total{reason=\"unknown_cell\"} 0",
        "xapp_indication_ingest_total{reason=\"table_full\"} 0",
        "xapp_measurement_notes_total{reason=\"no_value\"} 0",
        "xapp_decisions_suppressed_total{reason=\"rate_limited\"} 0",
        "xapp_decisions_dropped_total{reason=\"latency_budget\"} 0",
        "xapp_controls_rejected_total{reason=\"timeout\"} 0",
        "xapp_controls_rejected_total{reason=\"overload\"} 0",
        "xapp_e2_nodes_refused_total{reason=\"node_id_not_printable\"} 0",
        "xapp_e2_nodes{state=\"subscribed\"} 0",
        "xapp_e2_nodes{state=\"dead\"} 0",
        "xapp_inference_latency_seconds_count 0",
        "xapp_model_info{name=\"slice_forecaster\",version=\"1.0.0\",sha256=\"ab12\"} 1",
        "xapp_http_requests_total{endpoint=\"ready\"} 0",
    ] {
        assert!(body.contains(line), "`{line}` missing from\n{body}");
    }
    for name in [
        "xapp_build_info{",
        "process_resident_memory_bytes ",
        "process_open_fds ",
        "process_max_fds ",
        "process_cpu_seconds_total ",
        "process_start_time_seconds ",
    ] {
        assert!(body.contains(name), "`{name}` missing from\n{body}");
    }
    assert!(body.ends_with("# EOF\n"));
}

#[test]
fn a_taken_port_names_the_address_and_the_key() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let err = http::bind(addr).unwrap_err().to_string();
    assert!(
        err.contains("metrics.listen") && err.contains(&addr.to_string()),
        "{err}"
    );
}
