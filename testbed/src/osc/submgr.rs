//! [`SubMgrServer`]: the simulator's Subscription Manager, a real HTTP/1.1 server speaking
//! the O-RAN SC REST API to xApps.
//!
//! As the real manager does, `POST /ric/v1/subscriptions` validates the
//! `SubscriptionParams`, allocates a `SubscriptionId` and one `E2EventInstanceId` per
//! subscription detail, answers `201` with the `SubscriptionId`, and then, on its own task,
//! subscribes on the E2 side and POSTs one notification per detail (a
//! `SubscriptionResponse` with one instance, successful or with `ErrorCause` /
//! `ErrorSource`) to `http://{Host}:{HTTPPort}/ric/v1/subscriptions/response` of the
//! client endpoint the request named, retrying until the xApp answers `200`.
//! `DELETE /ric/v1/subscriptions/{id}` releases the instances and answers `204`.
//! Refusals: `400` with a JSON `{"kind", "error"}` body naming what is wrong; unknown paths
//! `404`; other methods `405`.
//!
//! What a subscription does on the E2 side is behind [`E2Side`].

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HOST, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use nf_osc::submgr::model::{self, MAX_PARAMS_BODY};
use nf_osc::submgr::{
    ActionToBeSetup, ErrorSource, NOTIFICATION_PATH, SUBSCRIPTIONS_PATH, SubscriptionInstance,
    SubscriptionParams, SubscriptionResponse, TimeoutType,
};
use tokio::net::{TcpListener, TcpStream};

/// Why the E2 side refused a subscription; goes into the notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cause {
    /// `ErrorCause`.
    pub cause: String,
    /// `ErrorSource`.
    pub source: ErrorSource,
    /// `TimeoutType`, when the refusal is a timeout.
    pub timeout_type: Option<TimeoutType>,
}

/// The E2 side of subscriptions (the E2 termination and nodes behind the manager).
pub trait E2Side: Send + Sync + 'static {
    /// Sets up the subscription `e2_event_instance_id` on `meid`'s RAN function.
    fn subscribe(
        &self,
        meid: &str,
        ran_function_id: u16,
        e2_event_instance_id: u16,
        event_trigger: &[u8],
        actions: &[ActionToBeSetup],
    ) -> Result<(), Cause>;

    /// Tears the subscription down.
    fn unsubscribe(&self, meid: &str, ran_function_id: u16, e2_event_instance_id: u16);
}

/// Behaviour of the server.
#[derive(Clone, Copy, Debug)]
pub struct SubMgrServerConfig {
    /// Wait between the `201` answer and the E2 side / notification.
    pub notify_delay: Duration,
    /// Notification attempts per instance (xapp-frame's default is 10).
    pub notify_attempts: u32,
    /// Wait between attempts.
    pub notify_retry_delay: Duration,
    /// Time limit of one notification POST.
    pub notify_timeout: Duration,
    /// Send no notification at all (a manager that lost the request), for timeout tests.
    pub silent: bool,
    /// Time a client has to send its request headers.
    pub header_read_timeout: Duration,
}

impl Default for SubMgrServerConfig {
    fn default() -> Self {
        Self {
            notify_delay: Duration::from_millis(10),
            notify_attempts: 10,
            notify_retry_delay: Duration::from_millis(200),
            notify_timeout: Duration::from_secs(2),
            silent: false,
            header_read_timeout: Duration::from_secs(5),
        }
    }
}

/// Counters of the server, for tests.
#[derive(Debug, Default)]
pub struct SubMgrStats {
    pub subscribe_accepted: AtomicU64,
    pub requests_refused: AtomicU64,
    pub notifications_delivered: AtomicU64,
    pub notifications_undelivered: AtomicU64,
    pub deletes: AtomicU64,
}

/// One REST subscription.
#[derive(Clone, Debug)]
struct Sub {
    meid: String,
    ran_function_id: u16,
    /// `(XappEventInstanceId, E2EventInstanceId)` of the instances alive on the E2 side.
    instances: Vec<(u16, u16)>,
}

#[derive(Debug, Default)]
struct Registry {
    next_sub: u64,
    next_e2: u16,
    subs: BTreeMap<String, Sub>,
    e2_in_use: std::collections::BTreeSet<u16>,
}

impl Registry {
    /// A free `E2EventInstanceId` in `1..=65535`, or `None` when all are taken.
    fn allocate_e2(&mut self) -> Option<u16> {
        for _ in 0..=u16::MAX {
            self.next_e2 = self.next_e2.wrapping_add(1).max(1);
            if self.e2_in_use.insert(self.next_e2) {
                return Some(self.next_e2);
            }
        }
        None
    }

    fn new_subscription_id(&mut self) -> String {
        self.next_sub += 1;
        format!("simsub{:021}", self.next_sub)
    }
}

struct Shared {
    e2: Arc<dyn E2Side>,
    cfg: SubMgrServerConfig,
    registry: Mutex<Registry>,
    stats: SubMgrStats,
}

/// A running Subscription Manager; it stops when dropped.
pub struct SubMgrServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for SubMgrServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubMgrServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for SubMgrServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SubMgrServer {
    /// Binds `addr` and serves on the current tokio runtime.
    pub async fn start(
        addr: SocketAddr,
        e2: Arc<dyn E2Side>,
        cfg: SubMgrServerConfig,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            e2,
            cfg,
            registry: Mutex::new(Registry::default()),
            stats: SubMgrStats::default(),
        });
        tracing::info!(%addr, "subscription manager listening");
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(Self { addr, shared, task })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its counters.
    pub fn stats(&self) -> &SubMgrStats {
        &self.shared.stats
    }

    /// `(SubscriptionId, Meid, E2EventInstanceIds)` of the subscriptions alive now.
    pub fn subscriptions(&self) -> Vec<(String, String, Vec<u16>)> {
        let Ok(reg) = self.shared.registry.lock() else {
            return Vec::new();
        };
        reg.subs
            .iter()
            .map(|(id, s)| {
                let e2 = s.instances.iter().map(|(_, e)| *e).collect();
                (id.clone(), s.meid.clone(), e2)
            })
            .collect()
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((sock, _)) => {
                tokio::spawn(serve_connection(sock, shared.clone()));
            }
            Err(e) => {
                tracing::warn!(cause = %e, "subscription manager cannot accept; retrying");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn serve_connection(sock: TcpStream, shared: Arc<Shared>) {
    let timeout = shared.cfg.header_read_timeout;
    let service = service_fn(move |req| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(handle(&shared, req).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(timeout)
        .serve_connection(TokioIo::new(sock), service)
        .await;
}

fn reply(status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::from(body)));
    *res.status_mut() = status;
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

fn refuse(shared: &Shared, status: StatusCode, kind: &str, error: &str) -> Response<Full<Bytes>> {
    shared
        .stats
        .requests_refused
        .fetch_add(1, Ordering::Relaxed);
    tracing::debug!(status = status.as_u16(), kind, error, "request refused");
    let body = serde_json::json!({ "kind": kind, "error": error });
    reply(status, serde_json::to_vec(&body).unwrap_or_default())
}

async fn handle(shared: &Arc<Shared>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    if path == SUBSCRIPTIONS_PATH {
        if method != Method::POST {
            return refuse(shared, StatusCode::METHOD_NOT_ALLOWED, "method", "use POST");
        }
        return subscribe(shared, req.into_body()).await;
    }
    if let Some(id) = path
        .strip_prefix(SUBSCRIPTIONS_PATH)
        .and_then(|r| r.strip_prefix('/'))
    {
        if method != Method::DELETE {
            return refuse(
                shared,
                StatusCode::METHOD_NOT_ALLOWED,
                "method",
                "use DELETE",
            );
        }
        return unsubscribe(shared, id);
    }
    refuse(shared, StatusCode::NOT_FOUND, "not_found", "no such path")
}

async fn subscribe(shared: &Arc<Shared>, body: Incoming) -> Response<Full<Bytes>> {
    use hyper::body::Body as _;
    // A length claiming more than the limit is refused before reading anything.
    let claimed = body.size_hint().lower();
    let read = if claimed > MAX_PARAMS_BODY as u64 {
        Err(())
    } else {
        Limited::new(body, MAX_PARAMS_BODY)
            .collect()
            .await
            .map_err(|_| ())
    };
    let body = match read {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return refuse(
                shared,
                StatusCode::BAD_REQUEST,
                "body_too_large",
                "body exceeds the limit or was cut",
            );
        }
    };
    let params = match SubscriptionParams::from_json(&body) {
        Ok(p) => p,
        Err(e) => return refuse(shared, StatusCode::BAD_REQUEST, e.kind(), &e.to_string()),
    };
    let planned = match plan(shared, &params) {
        Ok(p) => p,
        Err((status, kind, error)) => return refuse(shared, status, kind, error),
    };
    shared
        .stats
        .subscribe_accepted
        .fetch_add(1, Ordering::Relaxed);
    let answer = SubscriptionResponse {
        subscription_id: planned.subscription_id.clone(),
        subscription_instances: Vec::new(),
    };
    let worker = shared.clone();
    tokio::spawn(async move { carry_out(worker, params, planned).await });
    reply(StatusCode::CREATED, answer.to_json())
}

/// A subscription accepted, its E2 instances allocated.
struct Planned {
    subscription_id: String,
    /// `(XappEventInstanceId, E2EventInstanceId or None when the pool is exhausted)`.
    instances: Vec<(u16, Option<u16>)>,
}

/// Why a request is refused: status, `kind` label, message.
type Refusal = (StatusCode, &'static str, &'static str);

fn plan(shared: &Shared, params: &SubscriptionParams) -> Result<Planned, Refusal> {
    let Ok(mut reg) = shared.registry.lock() else {
        return Err((
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "registry poisoned",
        ));
    };
    let subscription_id = match &params.subscription_id {
        Some(id) if reg.subs.contains_key(id) => {
            return Err((
                StatusCode::BAD_REQUEST,
                "subscription_exists",
                "SubscriptionId already in use",
            ));
        }
        Some(id) => id.clone(),
        None => reg.new_subscription_id(),
    };
    let instances = params
        .xapp_event_instance_ids()
        .map(|x| (x, reg.allocate_e2()))
        .collect();
    reg.subs.insert(
        subscription_id.clone(),
        Sub {
            meid: params.meid.clone(),
            ran_function_id: params.ran_function_id,
            instances: Vec::new(),
        },
    );
    Ok(Planned {
        subscription_id,
        instances,
    })
}

/// The E2 side and the notifications of one accepted subscription.
async fn carry_out(shared: Arc<Shared>, params: SubscriptionParams, planned: Planned) {
    tokio::time::sleep(shared.cfg.notify_delay).await;
    for (detail, (xid, e2)) in params.subscription_details.iter().zip(planned.instances) {
        let outcome = match e2 {
            None => Err(Cause {
                cause: "no free E2EventInstanceId".into(),
                source: ErrorSource::Submgr,
                timeout_type: None,
            }),
            Some(e2) => shared.e2.subscribe(
                &params.meid,
                params.ran_function_id,
                e2,
                &detail.event_triggers.0,
                &detail.action_to_be_setup_list,
            ),
        };
        let e2_id = e2.unwrap_or(0);
        let instance = record_outcome(&shared, &planned.subscription_id, xid, e2_id, outcome);
        if shared.cfg.silent {
            continue;
        }
        let note = SubscriptionResponse {
            subscription_id: planned.subscription_id.clone(),
            subscription_instances: vec![instance],
        };
        notify(&shared, &params, &note).await;
    }
}

/// Keeps a successful instance in the registry (or frees a failed one's ID) and builds its
/// notification entry.
fn record_outcome(
    shared: &Shared,
    subscription_id: &str,
    xid: u16,
    e2: u16,
    outcome: Result<(), Cause>,
) -> SubscriptionInstance {
    let mut reg = match shared.registry.lock() {
        Ok(r) => r,
        Err(p) => p.into_inner(),
    };
    match outcome {
        Ok(()) => {
            if let Some(sub) = reg.subs.get_mut(subscription_id) {
                sub.instances.push((xid, e2));
            }
            SubscriptionInstance::ok(xid, e2)
        }
        Err(c) => {
            reg.e2_in_use.remove(&e2);
            SubscriptionInstance {
                xapp_event_instance_id: xid,
                e2_event_instance_id: e2,
                error_cause: Some(c.cause),
                error_source: Some(c.source),
                timeout_type: c.timeout_type,
            }
        }
    }
}

/// POSTs `note` to the client endpoint of `params` until it answers `200` or the attempts
/// run out.
async fn notify(shared: &Shared, params: &SubscriptionParams, note: &SubscriptionResponse) {
    let ep = &params.client_endpoint;
    let authority = format!("{}:{}", ep.host, ep.http_port);
    let body = Bytes::from(note.to_json());
    for attempt in 1..=shared.cfg.notify_attempts.max(1) {
        let sent = tokio::time::timeout(
            shared.cfg.notify_timeout,
            post(&authority, NOTIFICATION_PATH, body.clone()),
        )
        .await;
        match sent {
            Ok(Ok(StatusCode::OK)) => {
                shared
                    .stats
                    .notifications_delivered
                    .fetch_add(1, Ordering::Relaxed);
                return;
            }
            Ok(Ok(status)) => {
                tracing::debug!(%authority, attempt, status = status.as_u16(), "notification refused");
            }
            Ok(Err(e)) => tracing::debug!(%authority, attempt, cause = %e, "notification failed"),
            Err(_) => tracing::debug!(%authority, attempt, "notification timed out"),
        }
        tokio::time::sleep(shared.cfg.notify_retry_delay).await;
    }
    shared
        .stats
        .notifications_undelivered
        .fetch_add(1, Ordering::Relaxed);
    tracing::warn!(%authority, subscription_id = %note.subscription_id, "notification undelivered");
}

/// One JSON POST on a fresh connection; the answer's status.
async fn post(authority: &str, path: &str, body: Bytes) -> Result<StatusCode, String> {
    let sock = TcpStream::connect(authority)
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(sock))
        .await
        .map_err(|e| e.to_string())?;
    let driver = tokio::spawn(conn);
    let mut req = Request::new(Full::new(body));
    *req.method_mut() = Method::POST;
    *req.uri_mut() = path.parse().map_err(|_| "bad path".to_owned())?;
    let host = HeaderValue::from_str(authority).map_err(|_| "bad host".to_owned())?;
    req.headers_mut().insert(HOST, host);
    req.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let res = sender.send_request(req).await.map_err(|e| e.to_string());
    driver.abort();
    res.map(|r| r.status())
}

fn unsubscribe(shared: &Shared, id: &str) -> Response<Full<Bytes>> {
    if let Err(e) = model::check_subscription_id(id) {
        return refuse(shared, StatusCode::BAD_REQUEST, e.kind(), &e.to_string());
    }
    let removed = {
        let mut reg = match shared.registry.lock() {
            Ok(r) => r,
            Err(p) => p.into_inner(),
        };
        let sub = reg.subs.remove(id);
        if let Some(s) = &sub {
            for (_, e2) in &s.instances {
                reg.e2_in_use.remove(e2);
            }
        }
        sub
    };
    let Some(sub) = removed else {
        return refuse(
            shared,
            StatusCode::BAD_REQUEST,
            "unknown_subscription",
            "no such SubscriptionId",
        );
    };
    for (_, e2) in &sub.instances {
        shared.e2.unsubscribe(&sub.meid, sub.ran_function_id, *e2);
    }
    shared.stats.deletes.fetch_add(1, Ordering::Relaxed);
    reply(StatusCode::NO_CONTENT, Vec::new())
}
