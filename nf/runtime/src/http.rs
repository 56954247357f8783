//! The xApp's HTTP endpoint (hyper, HTTP/1): Prometheus metrics and the O-RAN SC xApp
//! health probes.
//!
//! | path | answer |
//! |---|---|
//! | `/metrics`, `/ric/v1/metrics` | the Prometheus / OpenMetrics text exposition |
//! | `/ric/v1/health/alive` | 200 while the process serves |
//! | `/ric/v1/health/ready` | 200 when ready (see [`crate::health`]), else 503 with the reason |
//!
//! Hostile or idle clients cannot take it down: connections are capped
//! ([`HttpLimits::max_connections`]; over the cap the oldest connection is closed to admit
//! the new one, counted in `xapp_http_connections_shed_total`), a client must send its
//! request headers within [`HttpLimits::header_read_timeout`], every connection serves one
//! request and lives at most [`HttpLimits::connection_timeout`], and a failed accept (out of
//! file descriptors) is counted and retried instead of ending the listener.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use crate::metrics::{Endpoint, Metrics};

/// Every `endpoint` label of `xapp_http_requests_total`.
pub(crate) const ENDPOINTS: [&str; 4] = ["metrics", "alive", "ready", "not_found"];

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Bounds of the HTTP endpoint.
#[derive(Clone, Copy, Debug)]
pub struct HttpLimits {
    /// Connections open at once; a new one past this closes the oldest.
    pub max_connections: usize,
    /// Time a client has to send its request headers.
    pub header_read_timeout: Duration,
    /// Longest life of a connection (request, response and a slow reader included).
    pub connection_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_connections: 256,
            header_read_timeout: Duration::from_secs(5),
            connection_timeout: Duration::from_secs(30),
        }
    }
}

/// The metrics listener could not be bound.
#[derive(Debug, thiserror::Error)]
#[error("metrics.listen = {addr}: cannot listen: {source}")]
pub struct BindError {
    pub addr: SocketAddr,
    #[source]
    pub source: std::io::Error,
}

/// Binds the metrics listener (`metrics.listen`) without a running tokio runtime, so a
/// taken port stops the xApp before anything starts.
pub fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, BindError> {
    let err = |source| BindError { addr, source };
    let listener = std::net::TcpListener::bind(addr).map_err(err)?;
    listener.set_nonblocking(true).map_err(err)?;
    Ok(listener)
}

/// Spawns the server on `listener` onto the current tokio runtime; it runs until the runtime
/// ends.
pub fn spawn(
    listener: std::net::TcpListener,
    metrics: Arc<Metrics>,
    limits: HttpLimits,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let listener = TcpListener::from_std(listener)?;
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "metrics and health endpoint listening");
    }
    Ok(tokio::spawn(serve(listener, metrics, limits)))
}

/// Connections open, oldest first; dropping a sender closes its connection.
#[derive(Debug, Default)]
struct Open {
    next_id: u64,
    conns: BTreeMap<u64, oneshot::Sender<()>>,
}

/// Accepts until the task is dropped.
pub(crate) async fn serve(listener: TcpListener, metrics: Arc<Metrics>, limits: HttpLimits) {
    let open = Arc::new(Mutex::new(Open::default()));
    let origin = std::time::Instant::now();
    let accept_log = crate::lograte::LogLimiter::new(5, Duration::from_secs(10));
    loop {
        match listener.accept().await {
            Ok((sock, _)) => admit(sock, &open, &metrics, limits),
            Err(e) => {
                metrics.http_accept_errors.inc();
                if let Some(suppressed) = accept_log.admit(origin.elapsed().as_nanos() as u64) {
                    tracing::warn!(cause = %e, suppressed, "metrics endpoint cannot accept; retrying");
                }
                // Typically out of file descriptors: give the process time to release some.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Registers a connection (shedding the oldest past the limit) and serves it on a task.
fn admit(sock: TcpStream, open: &Arc<Mutex<Open>>, metrics: &Arc<Metrics>, limits: HttpLimits) {
    let (close_tx, close_rx) = oneshot::channel();
    let id = {
        let Ok(mut o) = open.lock() else { return };
        while o.conns.len() >= limits.max_connections.max(1) {
            o.conns.pop_first();
            metrics.http_shed.inc();
        }
        let id = o.next_id;
        o.next_id += 1;
        o.conns.insert(id, close_tx);
        id
    };
    let open = open.clone();
    let metrics = metrics.clone();
    tokio::spawn(async move {
        serve_connection(sock, metrics, limits, close_rx).await;
        if let Ok(mut o) = open.lock() {
            o.conns.remove(&id);
        }
    });
}

async fn serve_connection(
    sock: TcpStream,
    metrics: Arc<Metrics>,
    limits: HttpLimits,
    close: oneshot::Receiver<()>,
) {
    let _ = sock.set_nodelay(true);
    let service = service_fn(move |req| {
        let res = respond(&metrics, &req);
        async move { Ok::<_, Infallible>(res) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(false)
        .max_buf_size(16 * 1024)
        .serve_connection(TokioIo::new(sock), service);
    tokio::select! {
        _ = conn => {}
        _ = close => {}
        _ = tokio::time::sleep(limits.connection_timeout) => {}
    }
}

/// The answer to one request.
fn respond(metrics: &Metrics, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let (endpoint, status, content_type, body) = route(metrics, req.method(), req.uri().path());
    metrics
        .http_requests
        .get_or_create(&Endpoint { endpoint })
        .inc();
    let mut res = Response::new(Full::new(Bytes::from(body)));
    *res.status_mut() = status;
    // Answer HTTP/1.0 clients in their version.
    *res.version_mut() = req.version();
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    res
}

/// Endpoint label, status, content type and body of a request.
fn route(
    metrics: &Metrics,
    method: &Method,
    path: &str,
) -> (&'static str, StatusCode, &'static str, String) {
    const TEXT: &str = "text/plain; charset=utf-8";
    let endpoint = match path {
        "/metrics" | "/ric/v1/metrics" => "metrics",
        "/ric/v1/health/alive" => "alive",
        "/ric/v1/health/ready" => "ready",
        _ => "not_found",
    };
    if endpoint == "not_found" {
        let body = "not found; try /metrics, /ric/v1/health/alive, /ric/v1/health/ready\n";
        return (endpoint, StatusCode::NOT_FOUND, TEXT, body.into());
    }
    if method != Method::GET && method != Method::HEAD {
        return (
            endpoint,
            StatusCode::METHOD_NOT_ALLOWED,
            TEXT,
            "use GET\n".into(),
        );
    }
    match endpoint {
        "metrics" => (endpoint, StatusCode::OK, OPENMETRICS, metrics.encode()),
        "alive" => (endpoint, StatusCode::OK, TEXT, "alive\n".into()),
        _ => match metrics.health.ready() {
            Ok(()) => (endpoint, StatusCode::OK, TEXT, "ready\n".into()),
            Err(why) => (
                endpoint,
                StatusCode::SERVICE_UNAVAILABLE,
                TEXT,
                format!("not ready: {why}\n"),
            ),
        },
    }
}
