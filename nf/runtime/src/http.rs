//! The xApp's HTTP endpoint (hyper, HTTP/1): Prometheus metrics and the O-RAN SC xApp
//! health probes.
//!
//! | path | answer |
//! |---|---|
//! | `/metrics`, `/ric/v1/metrics` | the Prometheus / OpenMetrics text exposition |
//! | `/ric/v1/health/alive` | 200 while the process serves |
//! | `/ric/v1/health/ready` | 200 when ready (see [`crate::health`]: at least one E2 node subscribed), else 503 with the reason |
//! | `GET /ric/v1/config` | the xApp's configuration as an O-RAN SC `XappConfigList` (when [`XappEndpoints::config`] is set) |
//! | `POST /ric/v1/subscriptions/response` | a Subscription Manager notification, validated and handed to [`XappEndpoints::notifications`] (when set) |
//! | `GET /ric/v1/shard` | a sharded replica's report (ordinal, replicas, nodes owned and acquiring, live replicas, leaving) as JSON, read by its peers (when [`XappEndpoints::shard`] is set; see [`crate::shard`]) |
//! | `GET /ric/v1/admin/models` | loopback callers only: the model serving each slot, with its arms (when [`XappEndpoints::models`] is set) |
//! | `POST /ric/v1/admin/models/{arm}` | loopback callers only: body `{"contract": "/path/new.contract.toml"}`; swaps the arm's model (see [`crate::models`]) and answers the outcome as JSON |
//!
//! The admin routes answer `403` to any caller whose TCP peer address is not a loopback
//! address (IPv4 `127.0.0.0/8`, IPv6 `::1`, or `::ffff:127.x.y.z`), whatever the listen
//! address: the metrics port may be reachable from the cluster, model swaps must not be. A
//! swap answers `200` when the new model serves (`swapped` or `unchanged`), `422` when it
//! was refused (the old model serves; `result` and `detail` say why), `404` for an unknown
//! arm, `409` for a baseline arm, `400` for a bad body and `503` while the run stops.
//!
//! A notification is answered `200` once it is queued for the runtime, `400` with the
//! reason when its body is refused (too large, not JSON, a field missing or out of range),
//! and `503` when the queue is full or gone: the manager retries until it gets `200`, so
//! nothing is dropped silently.
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
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use nf_osc::submgr::SubscriptionResponse;
use nf_osc::submgr::model::MAX_RESPONSE_BODY;

use crate::metrics::{Endpoint, Metrics};

/// Every `endpoint` label of `xapp_http_requests_total` (a refused notification counts as
/// `subscriptions_response_refused`).
pub(crate) const ENDPOINTS: [&str; 10] = [
    "metrics",
    "alive",
    "ready",
    "config",
    "subscriptions_response",
    "subscriptions_response_refused",
    "admin_models",
    "admin_forbidden",
    "shard",
    "not_found",
];

/// Admin routes (loopback callers only).
const ADMIN_MODELS: &str = "/ric/v1/admin/models";
/// Largest admin request body [bytes].
const MAX_ADMIN_BODY: usize = 4096;

/// Where the Subscription Manager's notifications go: a bounded queue the runtime's
/// transport drains (a full queue answers `503`, so the manager retries).
pub type NotificationSink = tokio::sync::mpsc::Sender<SubscriptionResponse>;

/// The O-RAN SC xApp endpoints served besides metrics and health.
#[derive(Clone, Debug, Default)]
pub struct XappEndpoints {
    /// Body of `GET /ric/v1/config`, already serialised; `404` when `None`.
    pub config: Option<Bytes>,
    /// Receiver of `POST /ric/v1/subscriptions/response`; `404` when `None`.
    pub notifications: Option<NotificationSink>,
    /// The run's model slots, for the admin routes; `404` when `None`.
    pub models: Option<Arc<crate::models::ModelRegistry>>,
    /// This replica's shard report, for `GET /ric/v1/shard`; `404` when `None`.
    pub shard: Option<tokio::sync::watch::Receiver<Bytes>>,
}

impl XappEndpoints {
    /// Serves `config` (the xApp's active configuration, e.g. its descriptor with its
    /// `controls`) at `/ric/v1/config` as the `XappConfigList` of the xApp `xapp_name`.
    pub fn with_config(mut self, xapp_name: &str, config: serde_json::Value) -> Self {
        let list = nf_osc::xapp_config::config_list(xapp_name, config);
        self.config = Some(Bytes::from(serde_json::to_vec(&list).unwrap_or_default()));
        self
    }

    /// Serves the admin routes over `models`.
    pub fn with_models(mut self, models: Arc<crate::models::ModelRegistry>) -> Self {
        self.models = Some(models);
        self
    }

    /// Serves this replica's shard report (the latest `reports` holds).
    pub fn with_shard(mut self, reports: tokio::sync::watch::Receiver<Bytes>) -> Self {
        self.shard = Some(reports);
        self
    }

    /// Hands the Subscription Manager's notifications to `sink`.
    pub fn with_notifications(mut self, sink: NotificationSink) -> Self {
        self.notifications = Some(sink);
        self
    }
}

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
    spawn_with(listener, metrics, limits, XappEndpoints::default())
}

/// [`spawn`], also serving the O-RAN SC endpoints of `endpoints`.
pub fn spawn_with(
    listener: std::net::TcpListener,
    metrics: Arc<Metrics>,
    limits: HttpLimits,
    endpoints: XappEndpoints,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let listener = TcpListener::from_std(listener)?;
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "metrics and health endpoint listening");
    }
    Ok(tokio::spawn(serve(listener, metrics, limits, endpoints)))
}

/// Connections open, oldest first; dropping a sender closes its connection.
#[derive(Debug, Default)]
struct Open {
    next_id: u64,
    conns: BTreeMap<u64, oneshot::Sender<()>>,
}

/// Accepts until the task is dropped.
pub(crate) async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    limits: HttpLimits,
    endpoints: XappEndpoints,
) {
    let endpoints = Arc::new(endpoints);
    let open = Arc::new(Mutex::new(Open::default()));
    let origin = std::time::Instant::now();
    let accept_log = crate::lograte::LogLimiter::new(5, Duration::from_secs(10));
    loop {
        match listener.accept().await {
            Ok((sock, _)) => admit(sock, &open, &metrics, &endpoints, limits),
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
fn admit(
    sock: TcpStream,
    open: &Arc<Mutex<Open>>,
    metrics: &Arc<Metrics>,
    endpoints: &Arc<XappEndpoints>,
    limits: HttpLimits,
) {
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
    let endpoints = endpoints.clone();
    tokio::spawn(async move {
        serve_connection(sock, metrics, endpoints, limits, close_rx).await;
        if let Ok(mut o) = open.lock() {
            o.conns.remove(&id);
        }
    });
}

async fn serve_connection(
    sock: TcpStream,
    metrics: Arc<Metrics>,
    endpoints: Arc<XappEndpoints>,
    limits: HttpLimits,
    close: oneshot::Receiver<()>,
) {
    let _ = sock.set_nodelay(true);
    let peer = sock.peer_addr().ok();
    let service = service_fn(move |req| {
        let metrics = metrics.clone();
        let endpoints = endpoints.clone();
        async move { Ok::<_, Infallible>(respond(&metrics, &endpoints, peer, req).await) }
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
async fn respond(
    metrics: &Metrics,
    endpoints: &XappEndpoints,
    peer: Option<SocketAddr>,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let version = req.version();
    let (endpoint, status, content_type, body) = match xapp_route(endpoints, peer, req).await {
        Ok(answer) => answer,
        Err(req) => {
            let (e, s, c, b) = route(metrics, req.method(), req.uri().path());
            (e, s, c, Bytes::from(b))
        }
    };
    metrics
        .http_requests
        .get_or_create(&Endpoint { endpoint })
        .inc();
    let mut res = Response::new(Full::new(body));
    *res.status_mut() = status;
    // Answer HTTP/1.0 clients in their version.
    *res.version_mut() = version;
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

type Answer = (&'static str, StatusCode, &'static str, Bytes);

const JSON: &str = "application/json";

/// The O-RAN SC routes of `endpoints`; hands the request back when it is not one of them.
async fn xapp_route(
    endpoints: &XappEndpoints,
    peer: Option<SocketAddr>,
    req: Request<Incoming>,
) -> Result<Answer, Request<Incoming>> {
    let path = req.uri().path();
    if path == ADMIN_MODELS || path.starts_with("/ric/v1/admin/models/") {
        let Some(models) = &endpoints.models else {
            return Err(req);
        };
        return Ok(admin(models, peer, req).await);
    }
    if path == "/ric/v1/config" {
        let Some(config) = &endpoints.config else {
            return Err(req);
        };
        if req.method() != Method::GET && req.method() != Method::HEAD {
            return Ok(plain("config", StatusCode::METHOD_NOT_ALLOWED, "use GET\n"));
        }
        return Ok(("config", StatusCode::OK, JSON, config.clone()));
    }
    if path == crate::shard::SHARD_PATH {
        let Some(reports) = &endpoints.shard else {
            return Err(req);
        };
        if req.method() != Method::GET && req.method() != Method::HEAD {
            return Ok(plain("shard", StatusCode::METHOD_NOT_ALLOWED, "use GET\n"));
        }
        return Ok(("shard", StatusCode::OK, JSON, reports.borrow().clone()));
    }
    if path == nf_osc::submgr::NOTIFICATION_PATH {
        let Some(sink) = &endpoints.notifications else {
            return Err(req);
        };
        if req.method() != Method::POST {
            return Ok(plain(
                "subscriptions_response",
                StatusCode::METHOD_NOT_ALLOWED,
                "use POST\n",
            ));
        }
        return Ok(notification(sink, req.into_body()).await);
    }
    Err(req)
}

fn plain(endpoint: &'static str, status: StatusCode, text: &str) -> Answer {
    let ty = "text/plain; charset=utf-8";
    (endpoint, status, ty, Bytes::from(text.to_owned()))
}

/// Reads, validates and queues one Subscription Manager notification.
async fn notification(sink: &NotificationSink, body: Incoming) -> Answer {
    use hyper::body::Body as _;
    const REFUSED: &str = "subscriptions_response_refused";
    // A length claiming more than the limit is refused before reading anything.
    let read = if body.size_hint().lower() > MAX_RESPONSE_BODY as u64 {
        Err(())
    } else {
        http_body_util::Limited::new(body, MAX_RESPONSE_BODY)
            .collect()
            .await
            .map_err(|_| ())
    };
    let bytes = match read {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            tracing::warn!(
                reason = "body_too_large",
                "subscription notification refused"
            );
            let text = format!("refused (body_too_large): over {MAX_RESPONSE_BODY} bytes or cut\n");
            return plain(REFUSED, StatusCode::BAD_REQUEST, &text);
        }
    };
    let note = match SubscriptionResponse::from_json(&bytes) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(reason = e.kind(), cause = %e, "subscription notification refused");
            let text = format!("refused ({}): {e}\n", e.kind());
            return plain(REFUSED, StatusCode::BAD_REQUEST, &text);
        }
    };
    match sink.try_send(note) {
        Ok(()) => (
            "subscriptions_response",
            StatusCode::OK,
            JSON,
            Bytes::from_static(b"{}"),
        ),
        Err(e) => {
            let reason = match e {
                tokio::sync::mpsc::error::TrySendError::Full(_) => "queue_full",
                tokio::sync::mpsc::error::TrySendError::Closed(_) => "queue_closed",
            };
            tracing::warn!(
                reason,
                "subscription notification not queued; the manager will retry"
            );
            let text = format!("not queued ({reason}); retry\n");
            plain(REFUSED, StatusCode::SERVICE_UNAVAILABLE, &text)
        }
    }
}

/// Whether `peer` is this host's loopback (IPv4-mapped IPv6 loopback included).
pub fn is_loopback(peer: &SocketAddr) -> bool {
    match peer.ip() {
        std::net::IpAddr::V4(v4) => v4.is_loopback(),
        std::net::IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

fn json(endpoint: &'static str, status: StatusCode, value: &serde_json::Value) -> Answer {
    let mut body = serde_json::to_vec(value).unwrap_or_default();
    body.push(b'\n');
    (endpoint, status, JSON, Bytes::from(body))
}

fn admin_error(status: StatusCode, error: &str, detail: String) -> Answer {
    let value = serde_json::json!({ "error": error, "detail": detail });
    json("admin_models", status, &value)
}

/// The admin routes: loopback callers only.
async fn admin(
    models: &crate::models::ModelRegistry,
    peer: Option<SocketAddr>,
    req: Request<Incoming>,
) -> Answer {
    if !peer.as_ref().is_some_and(is_loopback) {
        let who = peer.map_or_else(|| "unknown".to_owned(), |p| p.ip().to_string());
        tracing::warn!(peer = %who, path = req.uri().path(), "admin call refused: not a loopback caller");
        let value = serde_json::json!({
            "error": "forbidden",
            "detail": format!("admin calls are served to loopback callers only; {who} is not one"),
        });
        return json("admin_forbidden", StatusCode::FORBIDDEN, &value);
    }
    let path = req.uri().path().to_owned();
    if path == ADMIN_MODELS {
        if req.method() != Method::GET {
            return plain("admin_models", StatusCode::METHOD_NOT_ALLOWED, "use GET\n");
        }
        let slots: Vec<_> = models
            .serving()
            .into_iter()
            .enumerate()
            .map(|(slot, (arms, model))| serde_json::json!({"slot": slot, "arms": arms, "model": model}))
            .collect();
        return json(
            "admin_models",
            StatusCode::OK,
            &serde_json::json!({ "models": slots }),
        );
    }
    let arm = &path[ADMIN_MODELS.len() + 1..];
    if req.method() != Method::POST {
        return plain("admin_models", StatusCode::METHOD_NOT_ALLOWED, "use POST\n");
    }
    if let Err(e) = models.slot_of(arm) {
        let status = match e {
            crate::models::AdminError::UnknownArm(_) => StatusCode::NOT_FOUND,
            crate::models::AdminError::NotAModelArm(_) => StatusCode::CONFLICT,
        };
        return admin_error(status, "no_model_arm", e.to_string());
    }
    let contract = match admin_body(req.into_body()).await {
        Ok(c) => c,
        Err(detail) => return admin_error(StatusCode::BAD_REQUEST, "bad_request", detail),
    };
    let outcome = match models.swap_arm(arm, &contract).await {
        Ok(o) => o,
        Err(e) => return admin_error(StatusCode::NOT_FOUND, "no_model_arm", e.to_string()),
    };
    let status = match outcome.result {
        "swapped" | "unchanged" => StatusCode::OK,
        "unavailable" => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let value = serde_json::to_value(&outcome).unwrap_or_default();
    json("admin_models", status, &value)
}

/// The `contract` path of an admin swap body.
async fn admin_body(body: Incoming) -> Result<std::path::PathBuf, String> {
    use hyper::body::Body as _;
    if body.size_hint().lower() > MAX_ADMIN_BODY as u64 {
        return Err(format!("body over {MAX_ADMIN_BODY} bytes"));
    }
    let bytes = http_body_util::Limited::new(body, MAX_ADMIN_BODY)
        .collect()
        .await
        .map_err(|_| format!("body over {MAX_ADMIN_BODY} bytes or cut"))?
        .to_bytes();
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        contract: std::path::PathBuf,
    }
    let b: Body = serde_json::from_slice(&bytes)
        .map_err(|e| format!("expected {{\"contract\": \"/path/model.contract.toml\"}}: {e}"))?;
    if b.contract.as_os_str().is_empty() {
        return Err("`contract` is empty".into());
    }
    Ok(b.contract)
}

#[cfg(test)]
mod admin_tests {
    use super::*;

    #[test]
    fn only_loopback_peers_are_admitted() {
        for ok in [
            "127.0.0.1:1",
            "127.9.9.9:1",
            "[::1]:1",
            "[::ffff:127.0.0.1]:1",
        ] {
            assert!(is_loopback(&ok.parse().unwrap()), "{ok}");
        }
        for bad in [
            "10.0.0.5:1",
            "0.0.0.0:1",
            "[::]:1",
            "[::ffff:10.0.0.1]:1",
            "[fe80::1]:1",
        ] {
            assert!(!is_loopback(&bad.parse().unwrap()), "{bad}");
        }
    }
}
