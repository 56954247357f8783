//! The A1 policy handler: O-RAN A1-P policies of slice SLA targets as the O-RAN SC A1
//! mediator delivers them over RMR (checks and merge in [`nf_core::a1`]).
//!
//! - **Receive** `A1_POLICY_REQ` (20010) on the xApp's RMR port: under `ric.transport =
//!   "osc-rmr"` the transport's endpoint (one RMR port per xApp, as the O-RAN SC platform
//!   expects; its receiver hands 20010 over), otherwise an endpoint of the handler's own
//!   (`[a1] rmr_listen`).
//! - **Apply or refuse**: the request is read and planned against the active instances; a
//!   change is written to the state file first (atomically) and only then made current and
//!   published to the node tasks through a `watch` channel. A node reads the policy once
//!   when a decision starts (a report arrived: the tick boundary) and bounds that
//!   decision's quotas with that snapshot, whatever arrives meanwhile.
//! - **Answer** `A1_POLICY_RESP` (20011) by route (to the mediator); with no route, by
//!   return to sender. `OK` / `DELETED`, or `ERROR` with the reason in `message`.
//! - **Query** at start: `A1_POLICY_QUERY` (20012) for the policy type, retried while there
//!   is no route yet (a routing manager's table may come after start). Instances restored
//!   from the state file that the mediator does not re-send within `confirm_within` are
//!   named in a warning and counted in `xapp_a1_unconfirmed_instances` (kept: the mediator
//!   may simply be down).
//!
//! Every request is counted in `xapp_a1_policy_requests_total{operation,result}` and logged
//! with its instance; the process keeps serving whatever a request holds.

pub mod metrics;
pub mod store;

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use nf_core::a1::request::{self, Status};
use nf_core::a1::{A1Error, A1Policies, EffectivePolicy, Operation};
use nf_rmr::{Message, RmrConfig, RmrEndpoint, SendError, mtype};
use tokio::sync::{mpsc, watch};
use tokio::task::AbortHandle;
use tokio::time::Instant;

pub use metrics::A1Metrics;
pub use store::{StateFile, StoreError};

use crate::metrics::Metrics;
use crate::transport::RicTransport;
use crate::transport::osc::OscRmr;

/// 20010 messages queued between the RMR receiver and the handler.
const REQUEST_QUEUE: usize = 256;

/// `[a1]`, validated.
#[derive(Clone, Debug)]
pub struct A1Config {
    /// The policy type handled (`nf_core::a1::DEFAULT_POLICY_TYPE_ID` by default).
    pub policy_type_id: u32,
    /// `handler_id` of the responses (the xApp instance).
    pub handler_id: String,
    /// Where the active instances are kept across restarts.
    pub state_file: PathBuf,
    /// The handler's own RMR data port; `None` under `osc-rmr` (the transport's is shared).
    pub rmr_listen: Option<SocketAddr>,
    /// Static routes of the own endpoint; `None`: librmr's environment (`RMR_SEED_RT`,
    /// `RMR_RTG_SVC`).
    pub rmr_route_table: Option<PathBuf>,
    /// Delay between query attempts while the query has no route.
    pub query_retry: Duration,
    /// Query attempts before giving up (logged).
    pub query_attempts: u32,
    /// Time the mediator has to re-send the restored instances after the query.
    pub confirm_within: Duration,
}

impl A1Config {
    /// Defaults for a handler keeping its state in `state_file`.
    pub fn new(state_file: impl Into<PathBuf>) -> Self {
        Self {
            policy_type_id: nf_core::a1::DEFAULT_POLICY_TYPE_ID,
            handler_id: "slice-xapp-1".into(),
            state_file: state_file.into(),
            rmr_listen: None,
            rmr_route_table: None,
            query_retry: Duration::from_secs(1),
            query_attempts: 120,
            confirm_within: Duration::from_secs(30),
        }
    }
}

/// Why the handler could not start.
#[derive(Debug, thiserror::Error)]
pub enum A1StartError {
    #[error("a1.state_file: {0}")]
    State(#[from] StoreError),
    #[error("a1.rmr_listen: {0}")]
    Rmr(#[from] nf_rmr::BindError),
    #[error("a1: {0}")]
    NoEndpoint(&'static str),
}

/// What node tasks read the effective policy from.
pub type PolicyWatch = watch::Receiver<Arc<EffectivePolicy>>;

/// The handler with its state file read, before anything is bound.
#[derive(Debug)]
pub struct Prepared {
    cfg: A1Config,
    store: StateFile,
    policies: A1Policies,
    refused: Vec<(String, A1Error)>,
}

/// Reads the state file of `cfg` (a missing file: no instance yet). An unreadable or
/// corrupt file stops the start: policies the xApp answered `OK` to are never dropped
/// silently.
pub fn prepare(cfg: A1Config) -> Result<Prepared, A1StartError> {
    let store = StateFile::new(cfg.state_file.clone());
    let (policies, refused) = store.load(cfg.policy_type_id)?;
    Ok(Prepared {
        cfg,
        store,
        policies,
        refused,
    })
}

/// The RMR endpoint the handler talks through.
#[derive(Debug)]
enum Link {
    Shared(OscRmr),
    Own(RmrEndpoint),
}

impl Link {
    fn endpoint(&self) -> Option<&RmrEndpoint> {
        match self {
            Self::Shared(t) => t.endpoint(),
            Self::Own(e) => Some(e),
        }
    }
}

/// A running handler.
#[derive(Debug)]
pub struct A1Service {
    policy: PolicyWatch,
    task: AbortHandle,
    rmr: Option<SocketAddr>,
}

impl A1Service {
    /// The effective policy, as node tasks read it.
    pub fn policy(&self) -> PolicyWatch {
        self.policy.clone()
    }

    /// The RMR data port the handler receives on.
    pub fn rmr_addr(&self) -> Option<SocketAddr> {
        self.rmr
    }

    /// Stops the handler (its own endpoint closes with it).
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Prepared {
    /// The policy restored from the state file.
    pub fn restored(&self) -> &A1Policies {
        &self.policies
    }

    /// Starts the handler on the transport's RMR endpoint (`osc-rmr`, started already) or
    /// on its own.
    pub async fn start(
        self,
        transport: &RicTransport,
        metrics: &Arc<Metrics>,
    ) -> Result<A1Service, A1StartError> {
        let (tx, rx) = mpsc::channel(REQUEST_QUEUE);
        let (link, rx) = match (transport, self.cfg.rmr_listen) {
            (RicTransport::OscRmr(t), _) => {
                if !t.take_a1(tx) {
                    return Err(A1StartError::NoEndpoint(
                        "the O-RAN SC transport already hands A1 requests to another handler",
                    ));
                }
                (Link::Shared(t.clone()), rx)
            }
            (_, Some(listen)) => {
                let cfg = RmrConfig {
                    listen,
                    ..RmrConfig::default()
                };
                let cfg = match &self.cfg.rmr_route_table {
                    Some(table) => RmrConfig {
                        seed_routes: Some(table.clone()),
                        ..cfg
                    },
                    None => cfg.with_env(),
                };
                let (endpoint, rx) = RmrEndpoint::bind(cfg).await?;
                (Link::Own(endpoint), rx)
            }
            (_, None) => {
                return Err(A1StartError::NoEndpoint(
                    "rmr_listen is required unless ric.transport = \"osc-rmr\"",
                ));
            }
        };
        let rmr = link.endpoint().map(RmrEndpoint::local_addr);
        for (id, e) in &self.refused {
            metrics.a1.count("restore", e.kind());
            tracing::error!(instance = %id, state_file = %self.store.path().display(), reason = %e, "a1 policy instance of the state file refused: not applied");
        }
        for i in self.policies.instances() {
            metrics.a1.count("restore", "ok");
            tracing::info!(instance = %i.id, slices = i.slices.len(), "a1 policy instance restored from the state file");
        }
        let (policy_tx, policy) = watch::channel(Arc::new(self.policies.effective()));
        metrics.a1.instances.set(self.policies.len() as i64);
        tracing::info!(rmr = ?rmr, policy_type_id = self.cfg.policy_type_id, instances = self.policies.len(), "a1 policy handler started");
        let handler = Handler {
            unconfirmed: self.policies.instances().map(|i| i.id.clone()).collect(),
            cfg: self.cfg,
            store: self.store,
            policies: self.policies,
            tx: policy_tx,
            link,
            metrics: metrics.clone(),
            next_query: Some(Instant::now()),
            query_tries: 0,
            confirm_at: None,
            reported: false,
            exported: HashMap::new(),
        };
        let task = tokio::spawn(handler.run(rx)).abort_handle();
        Ok(A1Service { policy, task, rmr })
    }
}

/// The handler task's state.
struct Handler {
    cfg: A1Config,
    store: StateFile,
    policies: A1Policies,
    tx: watch::Sender<Arc<EffectivePolicy>>,
    link: Link,
    metrics: Arc<Metrics>,
    /// When the next query attempt is due (`None`: sent, or given up).
    next_query: Option<Instant>,
    query_tries: u32,
    /// Restored instances the mediator has not re-sent yet, when to say so, and whether it
    /// was said (the gauge follows from then on).
    unconfirmed: BTreeSet<String>,
    confirm_at: Option<Instant>,
    reported: bool,
    /// The own endpoint's drops already exported.
    exported: HashMap<&'static str, u64>,
}

async fn at(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

impl Handler {
    async fn run(mut self, mut rx: mpsc::Receiver<Message>) {
        let mut housekeeping = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                m = rx.recv() => match m {
                    Some(m) if m.mtype == mtype::A1_POLICY_REQ => self.on_request(&m).await,
                    Some(m) => {
                        Metrics::inc(&self.metrics.rmr_dropped, "unexpected_mtype");
                        tracing::debug!(mtype = m.mtype, "rmr message of a type the a1 handler does not take");
                    }
                    None => break,
                },
                _ = at(self.next_query) => self.query(),
                _ = at(self.confirm_at) => self.report_unconfirmed(),
                _ = housekeeping.tick() => self.export_drops(),
            }
        }
    }

    /// One `A1_POLICY_REQ`: applied or refused, answered either way.
    async fn on_request(&mut self, msg: &Message) {
        let req = match request::parse(&msg.payload) {
            Ok(r) => r,
            Err(r) => {
                let type_id = r
                    .policy_type_id
                    .unwrap_or(u64::from(self.cfg.policy_type_id));
                let id = r.instance_id.unwrap_or_default();
                return self.refuse(msg, r.operation, type_id, &id, &r.error);
            }
        };
        let (next, change) = match self.policies.plan(&req) {
            Ok(planned) => planned,
            Err(e) => {
                let op = Some(req.operation);
                return self.refuse(msg, op, req.policy_type_id, &req.instance_id, &e);
            }
        };
        if change.changes_policy() {
            if let Err(e) = self.store_state(&next).await {
                let e = A1Error::NotStored(e);
                let op = Some(req.operation);
                return self.refuse(msg, op, req.policy_type_id, &req.instance_id, &e);
            }
            self.policies = next;
            self.metrics.a1.instances.set(self.policies.len() as i64);
            self.tx.send_replace(Arc::new(self.policies.effective()));
        }
        if self.unconfirmed.remove(&req.instance_id) && self.reported {
            self.metrics
                .a1
                .unconfirmed
                .set(self.unconfirmed.len() as i64);
        }
        self.metrics.a1.request(Some(req.operation), change.label());
        tracing::info!(
            instance = %req.instance_id,
            operation = req.operation.label(),
            change = ?change,
            active = self.policies.len(),
            "a1 policy request applied"
        );
        let status = change.status();
        self.respond(msg, req.policy_type_id, &req.instance_id, status, None);
    }

    /// Writes `next` to the state file off the runtime's threads.
    async fn store_state(&self, next: &A1Policies) -> Result<(), String> {
        let (store, next) = (self.store.clone(), next.clone());
        match tokio::task::spawn_blocking(move || store.write(&next)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(e.to_string()),
        }
    }

    fn refuse(
        &self,
        msg: &Message,
        op: Option<Operation>,
        type_id: u64,
        instance: &str,
        e: &A1Error,
    ) {
        self.metrics.a1.request(op, e.kind());
        let operation = op.map_or("unknown", Operation::label);
        let shown = nf_core::ids::Escaped(instance);
        tracing::warn!(instance = %shown, operation, reason = e.kind(), cause = %e, "a1 policy request refused");
        let text = e.to_string();
        self.respond(msg, type_id, instance, Status::Error, Some(&text));
    }

    /// Sends an `A1_POLICY_RESP` by route, else back to the request's sender.
    fn respond(
        &self,
        req: &Message,
        type_id: u64,
        instance: &str,
        status: Status,
        message: Option<&str>,
    ) {
        let body = request::response(type_id, instance, &self.cfg.handler_id, status, message);
        let resp = Message::new(mtype::A1_POLICY_RESP, body);
        let Some(ep) = self.link.endpoint() else {
            self.metrics.a1.sent("response", "no_route");
            return;
        };
        let result = match ep.send(resp.clone()) {
            Ok(()) => "sent",
            Err(SendError::NoRoute(_)) => match ep.rts(req, resp) {
                Ok(()) => "returned_to_sender",
                Err(e) => e.kind(),
            },
            Err(e) => e.kind(),
        };
        self.metrics.a1.sent("response", result);
        if !matches!(result, "sent" | "returned_to_sender") {
            tracing::warn!(instance = %nf_core::ids::Escaped(instance), result, "a1 policy response not sent");
        }
    }

    /// One query attempt; retried while there is no route.
    fn query(&mut self) {
        self.query_tries += 1;
        let body = request::query(self.cfg.policy_type_id);
        let msg = Message::new(mtype::A1_POLICY_QUERY, body);
        let result = match self.link.endpoint().map(|ep| ep.send(msg)) {
            Some(Ok(())) => "sent",
            Some(Err(e)) => e.kind(),
            None => "no_route",
        };
        self.metrics.a1.sent("query", result);
        if result == "sent" {
            tracing::info!(
                policy_type_id = self.cfg.policy_type_id,
                attempt = self.query_tries,
                "a1 policy query sent"
            );
            self.next_query = None;
            if !self.unconfirmed.is_empty() {
                self.confirm_at = Some(Instant::now() + self.cfg.confirm_within);
            }
        } else if self.query_tries >= self.cfg.query_attempts {
            tracing::error!(
                attempts = self.query_tries,
                result,
                "a1 policy query never sent: the mediator will not re-send its instances"
            );
            self.next_query = None;
        } else {
            if self.query_tries == 1 {
                tracing::warn!(
                    result,
                    retry_in_ms = self.cfg.query_retry.as_millis() as u64,
                    "a1 policy query not sent yet; retrying"
                );
            }
            self.next_query = Some(Instant::now() + self.cfg.query_retry);
        }
    }

    fn report_unconfirmed(&mut self) {
        self.confirm_at = None;
        self.reported = true;
        self.metrics
            .a1
            .unconfirmed
            .set(self.unconfirmed.len() as i64);
        if !self.unconfirmed.is_empty() {
            let ids: Vec<&String> = self.unconfirmed.iter().collect();
            tracing::warn!(instances = ?ids, "restored a1 policy instances not re-sent by the a1 mediator after the query (deleted while the xapp was down?): still applied");
        }
    }

    /// Adds what the own endpoint dropped to `xapp_rmr_dropped_total` (the O-RAN SC
    /// transport exports the shared endpoint's).
    fn export_drops(&mut self) {
        let Link::Own(ep) = &self.link else { return };
        for (reason, total) in ep.counters().drops() {
            let before = self.exported.insert(reason, total).unwrap_or(0);
            if total > before {
                self.metrics
                    .rmr_dropped
                    .get_or_create(&crate::metrics::Reason { reason })
                    .inc_by(total - before);
            }
        }
    }
}
