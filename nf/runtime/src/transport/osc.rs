//! `osc-rmr`: the O-RAN SC near-RT RIC, as an xApp deployed in it sees it.
//!
//! - **Nodes** come from the configuration (`[[ric.nodes]]`): the E2 node name is the RMR
//!   `meid`; each node names its KPM and RC RAN function IDs ([`OscNode`]). With
//!   `ric.osc.e2mgr` set, each node's RAN function definitions are read from the E2
//!   manager ([`e2mgr`], `GET /v1/nodeb/{ranName}`): the E2SM-KPM version from the KPM
//!   definition (a configured `kpm_version` still wins), and the node is refused
//!   (`ran_function_invalid`) when a function is missing, undecodable, or its RC definition
//!   does not offer slice PRB quota control under the node's profile.
//! - **Subscribe** = Subscription Manager REST `POST /ric/v1/subscriptions` with this xApp's
//!   `ClientEndpoint` (HTTP host/port the manager calls back, RMR port), the node's `Meid`
//!   and KPM `RANFunctionID`, and one `SubscriptionDetail` (the KPM event trigger, one
//!   REPORT action per cell, action ID = the cell's position). The subscription is active
//!   when the manager's notification (`POST /ric/v1/subscriptions/response`, handed over by
//!   [`crate::http`]) names its `E2EventInstanceId`, within the subscribe timeout; every
//!   other outcome is a named [`E2Error::Osc`] and counted in `xapp_submgr_failures_total`.
//! - **Indications**: one RMR receiver serves every node. A 12050 message is routed by its
//!   `sub_id` (= `E2EventInstanceId`) *and* `meid` to the subscription's stream; one with an
//!   unknown pair is counted `unknown_subscription`, never delivered to another node. The
//!   payload is an E2AP RICindication decoded with `e2_asn1::e2ap` under the configured
//!   limits into an [`Indication`] (header, message, call process ID, action ID).
//! - **Unsubscribe** = `DELETE /ric/v1/subscriptions/{id}`; a resubscription (after a loss
//!   or a silent stream) deletes the node's previous subscription first.
//! - **Controls** ([`control`]): E2AP RICcontrolRequest as RMR 12040 to `meid` = node,
//!   routed by the route table; outcomes from 12041 / 12042.
//!
//! - **A1 policies**: `A1_POLICY_REQ` (20010) is handed to the A1 handler when one runs
//!   ([`OscRmr::take_a1`]; `crate::a1`), which answers through the same endpoint: one RMR
//!   port per xApp.
//!
//! RMR drops (the endpoint's own counters and messages of a type not taken here) are exported
//! as `xapp_rmr_dropped_total{reason}`.

mod control;
pub mod e2mgr;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use e2_asn1::e2ap::{self, E2apError, E2apMessage};
pub use e2_asn1::kpm::KpmVersion;
use nf_osc::submgr::model::{
    ActionToBeSetup, ActionType, ClientEndpoint, E2smOctets, SubscriptionDetail,
};
use nf_osc::{
    SubMgrClient, SubMgrTimeouts, SubscriptionParams, SubscriptionResponse, SubscriptionTracker,
    TrackerEvent,
};
use nf_rmr::{Message, RmrConfig, RmrEndpoint, mtype};
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;

pub use control::ControlSender;

use super::{Indication, RcProfile, StreamEvent, SubscriptionSpec};
use crate::config::RuntimeConfig;
use crate::e2::{Discovery, E2Error};
use crate::http::NotificationSink;
use crate::metrics::Metrics;

/// Labels of E2AP RICindication payloads refused (`e2ap_` + [`E2apError::kind`]).
pub const E2AP_REJECT_REASONS: [&str; 9] = [
    "e2ap_encode",
    "e2ap_oversize",
    "e2ap_malformed",
    "e2ap_unsupported_procedure",
    "e2ap_missing_ie",
    "e2ap_duplicate_ie",
    "e2ap_unknown_ie",
    "e2ap_too_many",
    "e2ap_unsupported_value",
];

/// Indications queued per subscription before the node task reads them.
const STREAM_QUEUE: usize = 4096;
/// Notifications queued between the HTTP endpoint and the handler (full: `503`, the
/// manager retries).
const NOTIFICATION_QUEUE: usize = 256;
/// How often pending subscriptions are expired and RMR counters exported.
const HOUSEKEEPING: Duration = Duration::from_millis(200);

/// One E2 node of the O-RAN SC path (`[[ric.nodes]]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OscNode {
    /// E2 node name: RMR `meid`, Subscription Manager `Meid`.
    pub meid: String,
    /// RAN function ID of E2SM-KPM on this node (subscriptions).
    pub kpm_function_id: u16,
    /// RAN function ID of E2SM-RC on this node (controls).
    pub rc_function_id: u16,
    /// E2SM-KPM version of the node, as its RAN function definition announces it.
    pub kpm_version: Option<KpmVersion>,
    /// E2SM-RC RAN parameter-ID profile of the node (`None`: `ric.rc_profile`).
    pub rc_profile: Option<RcProfile>,
}

/// `[ric.osc]` and the nodes' O-RAN SC settings, validated.
#[derive(Clone, Debug)]
pub struct OscConfig {
    /// Subscription Manager `host:port`.
    pub submgr: String,
    /// RMR data port to listen on (O-RAN SC xApps: `0.0.0.0:4560`).
    pub rmr_listen: SocketAddr,
    /// Static route table; `None`: librmr's environment (`RMR_SEED_RT`, `RMR_RTG_SVC`).
    pub rmr_route_table: Option<PathBuf>,
    /// `ClientEndpoint.Host`: how the manager reaches this xApp's HTTP endpoint.
    pub callback_host: String,
    /// `ClientEndpoint.HTTPPort`.
    pub callback_http_port: u16,
    /// `ClientEndpoint.RMRPort`; `None`: the bound RMR port.
    pub callback_rmr_port: Option<u16>,
    /// RICrequestID requestor of this xApp's controls.
    pub requestor_id: u16,
    /// Limits applied before an E2AP PDU is trusted.
    pub e2ap_limits: e2ap::Limits,
    /// Time limits of one Subscription Manager call.
    pub submgr_timeouts: SubMgrTimeouts,
    /// E2 manager `host:port` to read the nodes' RAN function definitions from, if any.
    pub e2mgr: Option<String>,
    /// The nodes' RAN function IDs, versions and profiles, by `meid`.
    pub nodes: Vec<OscNode>,
}

impl Default for OscConfig {
    fn default() -> Self {
        Self {
            submgr: nf_osc::submgr::client::DEFAULT_SUBMGR.into(),
            rmr_listen: SocketAddr::from(([0, 0, 0, 0], nf_rmr::endpoint::DEF_DATA_PORT)),
            rmr_route_table: None,
            callback_host: "127.0.0.1".into(),
            callback_http_port: 8080,
            callback_rmr_port: None,
            requestor_id: 1,
            e2ap_limits: e2ap::Limits::default(),
            submgr_timeouts: SubMgrTimeouts::default(),
            e2mgr: None,
            nodes: Vec::new(),
        }
    }
}

impl OscConfig {
    /// The settings of node `meid`.
    pub fn node(&self, meid: &str) -> Option<&OscNode> {
        self.nodes.iter().find(|n| n.meid == meid)
    }
}

/// Why the O-RAN SC transport could not start.
#[derive(Debug, thiserror::Error)]
pub enum OscStartError {
    #[error("ric.osc.rmr_listen: {0}")]
    Rmr(#[from] nf_rmr::BindError),
}

/// A node's subscription at the manager.
#[derive(Debug)]
struct NodeSub {
    subscription_id: String,
    xapp_instance: u16,
}

/// What the receiver, the notification handler and the node tasks share.
#[derive(Debug, Default)]
struct State {
    tracker: Option<SubscriptionTracker>,
    /// Subscribe calls waiting for their notification, by `XappEventInstanceId`.
    waiters: HashMap<u16, oneshot::Sender<Activated>>,
    /// Streams of active subscriptions, by `XappEventInstanceId`.
    streams: HashMap<u16, mpsc::Sender<StreamEvent>>,
    /// The manager's subscription of each node.
    by_node: HashMap<String, NodeSub>,
    next_instance: u16,
}

/// A notification's verdict for one waiting subscribe, with its stream when active.
#[derive(Debug)]
struct Activated {
    event: TrackerEvent,
    stream: Option<mpsc::Receiver<StreamEvent>>,
}

#[derive(Debug)]
struct Shared {
    cfg: OscConfig,
    nodes: Vec<crate::e2::E2Node>,
    client: SubMgrClient,
    metrics: OnceLock<Arc<Metrics>>,
    endpoint: OnceLock<RmrEndpoint>,
    state: Mutex<State>,
    controls: control::Pending,
    tasks: Mutex<Vec<AbortHandle>>,
    /// E2SM-KPM versions decided from the E2 manager's RAN function definitions.
    versions: Mutex<HashMap<String, KpmVersion>>,
    /// The run's E2SM-RC profile (`ric.rc_profile`).
    rc_profile: RcProfile,
    /// Where `A1_POLICY_REQ` goes, when an A1 handler runs.
    a1: OnceLock<mpsc::Sender<Message>>,
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The `osc-rmr` transport; clones share one RMR endpoint and one subscription table.
#[derive(Clone, Debug)]
pub struct OscRmr {
    shared: Arc<Shared>,
}

impl OscRmr {
    /// The transport of `cfg`; nothing runs until [`Self::start`].
    pub fn new(cfg: &RuntimeConfig) -> Self {
        let osc = cfg.osc.clone();
        let client = SubMgrClient::new(osc.submgr.clone(), osc.submgr_timeouts);
        let state = State {
            tracker: Some(SubscriptionTracker::new(cfg.discovery_timeout)),
            next_instance: 0,
            ..State::default()
        };
        Self {
            shared: Arc::new(Shared {
                cfg: osc,
                nodes: cfg.nodes.clone(),
                client,
                metrics: OnceLock::new(),
                endpoint: OnceLock::new(),
                state: Mutex::new(state),
                controls: control::Pending::default(),
                tasks: Mutex::default(),
                versions: Mutex::default(),
                rc_profile: cfg.rc_profile,
                a1: OnceLock::new(),
            }),
        }
    }

    /// Binds the RMR endpoint, starts its receiver and the notification handler; returns
    /// the sink the HTTP endpoint hands notifications to.
    pub(super) async fn start(
        &mut self,
        metrics: Arc<Metrics>,
    ) -> Result<NotificationSink, OscStartError> {
        let s = &self.shared;
        let rmr_cfg = rmr_config(&s.cfg);
        let (endpoint, rx) = RmrEndpoint::bind(rmr_cfg).await?;
        tracing::info!(
            rmr = %endpoint.local_addr(),
            submgr = %s.cfg.submgr,
            "o-ran sc transport started"
        );
        let _ = s.metrics.set(metrics);
        let _ = s.endpoint.set(endpoint);
        let (sink, notes) = mpsc::channel(NOTIFICATION_QUEUE);
        let mut tasks = s.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        tasks.push(tokio::spawn(receive(s.clone(), rx)).abort_handle());
        tasks.push(tokio::spawn(notifications(s.clone(), notes)).abort_handle());
        Ok(sink)
    }

    /// Stops the receiver and the handler (the endpoint closes with the last clone).
    pub(super) fn stop(&self) {
        for t in self
            .shared
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            t.abort();
        }
    }

    /// The bound RMR address, once started.
    pub fn rmr_addr(&self) -> Option<SocketAddr> {
        self.shared.endpoint.get().map(RmrEndpoint::local_addr)
    }

    /// The RMR endpoint, once started (the A1 handler answers through it).
    pub(crate) fn endpoint(&self) -> Option<&RmrEndpoint> {
        self.shared.endpoint.get()
    }

    /// Hands every `A1_POLICY_REQ` received from now on to `sink`; false when another sink
    /// already takes them.
    pub(crate) fn take_a1(&self, sink: mpsc::Sender<Message>) -> bool {
        self.shared.a1.set(sink).is_ok()
    }

    /// The configured nodes: the O-RAN SC RIC offers an xApp no node list over RMR. With an
    /// E2 manager configured, each node's RAN function definitions are read and checked
    /// first (its KPM version decided from them).
    pub(super) async fn list_nodes(&self, deadline: Duration) -> Result<Discovery, E2Error> {
        let s = &self.shared;
        let Some(e2mgr) = &s.cfg.e2mgr else {
            return Ok(Discovery {
                nodes: s.nodes.clone(),
                ..Discovery::default()
            });
        };
        let mut out = Discovery::default();
        for node in &s.nodes {
            let fs = e2mgr::ran_functions(e2mgr, &node.id, deadline)
                .await
                .map_err(|e| E2Error::Osc {
                    call: "e2 manager nodeb",
                    kind: e.kind(),
                    detail: e.to_string(),
                })?;
            match self.check_functions(&node.id, &fs) {
                Ok(version) => {
                    s.versions
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(node.id.clone(), version);
                    tracing::info!(e2_node = %node.id, kpm_version = %version, "ran functions read from the e2 manager");
                    out.nodes.push(node.clone());
                }
                Err(detail) => out.skipped.push(crate::e2::Skipped {
                    node: node.id.clone(),
                    reason: "ran_function_invalid",
                    detail,
                }),
            }
        }
        Ok(out)
    }

    /// The node's KPM version from its KPM definition; its RC definition must offer slice
    /// PRB quota control under the node's profile.
    fn check_functions(&self, node: &str, fs: &[e2mgr::RanFunction]) -> Result<KpmVersion, String> {
        let cfg = self
            .shared
            .cfg
            .node(node)
            .ok_or("no RAN function IDs configured")?;
        let find = |id: u16, what: &str| {
            fs.iter().find(|f| f.id == id).ok_or(format!(
                "the node's E2 setup has no {what} RAN function {id}"
            ))
        };
        let kpm = find(cfg.kpm_function_id, "E2SM-KPM")?;
        let decided = e2_asn1::kpm::decide_version(&kpm.definition, cfg.kpm_version)
            .map_err(|e| format!("E2SM-KPM RAN function definition: {e}"))?;
        let rc = find(cfg.rc_function_id, "E2SM-RC")?;
        let profile = cfg.rc_profile.unwrap_or(self.shared.rc_profile);
        e2_asn1::rc::decode_ran_function_definition(&rc.definition)
            .and_then(|d| d.require_slice_prb_quota(profile))
            .map_err(|e| format!("E2SM-RC RAN function definition: {e}"))?;
        Ok(decided.version)
    }

    /// The node's E2SM-KPM version as read from the E2 manager, if it was.
    pub fn kpm_version(&self, node: &str) -> Option<KpmVersion> {
        self.shared
            .versions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(node)
            .copied()
    }

    fn metrics(&self, call: &'static str) -> Result<&Arc<Metrics>, E2Error> {
        self.shared.metrics.get().ok_or(E2Error::Osc {
            call,
            kind: "not_started",
            detail: "the O-RAN SC transport was not started".into(),
        })
    }

    /// Subscribes `node` through the Subscription Manager and waits, at most `timeout` in
    /// all, for the notification that makes it active.
    pub(super) async fn subscribe(
        &mut self,
        node: &str,
        spec: SubscriptionSpec,
        timeout: Duration,
    ) -> Result<Indications, E2Error> {
        const CALL: &str = "subscribe";
        let until = tokio::time::Instant::now() + timeout;
        let metrics = self.metrics(CALL)?.clone();
        let s = &self.shared;
        let Some(n) = s.cfg.node(node) else {
            return Err(E2Error::Osc {
                call: CALL,
                kind: "unknown_node",
                detail: format!("{node} has no RAN function IDs configured"),
            });
        };
        // A resubscription: the previous subscription of the node goes first.
        self.release(node, &metrics).await;
        let (params, waiter) = self.register(n, spec)?;
        let xid = params.subscription_details[0].xapp_event_instance_id;
        let answer = tokio::time::timeout_at(until, s.client.subscribe(&params)).await;
        let resp = match answer {
            Ok(Ok(resp)) => resp,
            Ok(Err(e)) => {
                self.abandon(&params);
                Metrics::inc(&metrics.submgr_failures, e.kind());
                return Err(E2Error::Osc {
                    call: CALL,
                    kind: e.kind(),
                    detail: e.to_string(),
                });
            }
            Err(_) => {
                self.abandon(&params);
                Metrics::inc(&metrics.submgr_failures, "submgr_timeout");
                return Err(E2Error::Timeout {
                    call: "subscription manager subscribe",
                    after: timeout,
                });
            }
        };
        {
            let mut st = s.state();
            if let Some(t) = st.tracker.as_mut() {
                t.accepted(&params, &resp);
            }
            st.by_node.insert(
                node.to_owned(),
                NodeSub {
                    subscription_id: resp.subscription_id.clone(),
                    xapp_instance: xid,
                },
            );
        }
        match tokio::time::timeout_at(until, waiter).await {
            Ok(Ok(Activated {
                event:
                    TrackerEvent::Active {
                        e2_event_instance_id,
                        ..
                    },
                stream: Some(rx),
            })) => {
                tracing::info!(
                    e2_node = %node,
                    subscription_id = %resp.subscription_id,
                    sub_id = e2_event_instance_id,
                    "subscription active"
                );
                Ok(Indications { rx })
            }
            Ok(Ok(Activated { event, .. })) => {
                self.release(node, &metrics).await;
                Err(E2Error::Osc {
                    call: CALL,
                    kind: event.label(),
                    detail: format!("{event:?}"),
                })
            }
            Ok(Err(_)) | Err(_) => {
                Metrics::inc(&metrics.submgr_failures, "timed_out");
                self.abandon(&params);
                self.release(node, &metrics).await;
                Err(E2Error::Timeout {
                    call: "subscription notification",
                    after: timeout,
                })
            }
        }
    }

    /// Builds the request of `n` under a fresh `XappEventInstanceId` and registers it
    /// (before it is sent: the notification may come before the manager's answer).
    fn register(
        &self,
        n: &OscNode,
        spec: SubscriptionSpec,
    ) -> Result<(SubscriptionParams, oneshot::Receiver<Activated>), E2Error> {
        let cfg = &self.shared.cfg;
        let rmr_port = cfg
            .callback_rmr_port
            .or_else(|| self.rmr_addr().map(|a| a.port()))
            .unwrap_or(nf_rmr::endpoint::DEF_DATA_PORT);
        let actions = spec
            .actions
            .into_iter()
            .enumerate()
            .map(|(i, def)| ActionToBeSetup {
                action_id: u8::try_from(i).unwrap_or(u8::MAX),
                action_type: ActionType::Report,
                action_definition: Some(E2smOctets(def)),
                subsequent_action: None,
            })
            .collect();
        let mut st = self.shared.state();
        let mut detail = SubscriptionDetail {
            xapp_event_instance_id: 0,
            event_triggers: E2smOctets(spec.event_trigger),
            action_to_be_setup_list: actions,
        };
        let now = std::time::Instant::now();
        // Instance IDs cycle through 1..=65535, skipping those still in use.
        for _ in 0..=u16::MAX {
            st.next_instance = st.next_instance.wrapping_add(1).max(1);
            detail.xapp_event_instance_id = st.next_instance;
            let params = SubscriptionParams {
                subscription_id: None,
                client_endpoint: ClientEndpoint {
                    host: cfg.callback_host.clone(),
                    http_port: cfg.callback_http_port,
                    rmr_port,
                },
                meid: n.meid.clone(),
                ran_function_id: n.kpm_function_id,
                e2_subscription_directives: None,
                subscription_details: vec![detail.clone()],
            };
            let Some(tracker) = st.tracker.as_mut() else {
                break;
            };
            if tracker.register(&params, now).is_ok() {
                let (tx, rx) = oneshot::channel();
                st.waiters.insert(detail.xapp_event_instance_id, tx);
                return Ok((params, rx));
            }
        }
        Err(E2Error::Osc {
            call: "subscribe",
            kind: "instance_in_use",
            detail: "every XappEventInstanceId is in use".into(),
        })
    }

    /// Forgets a request the manager never took.
    fn abandon(&self, params: &SubscriptionParams) {
        let mut st = self.shared.state();
        if let Some(t) = st.tracker.as_mut() {
            t.abandon(params);
        }
        for id in params.xapp_event_instance_ids() {
            st.waiters.remove(&id);
        }
    }

    /// Takes the node's subscription out of the tables (its stream ends); the ID to delete.
    fn take(&self, node: &str) -> Option<String> {
        let mut st = self.shared.state();
        let sub = st.by_node.remove(node)?;
        st.streams.remove(&sub.xapp_instance);
        st.waiters.remove(&sub.xapp_instance);
        if let Some(t) = st.tracker.as_mut() {
            t.remove_subscription(&sub.subscription_id);
        }
        Some(sub.subscription_id)
    }

    /// Deletes the node's subscription, if any, logging and counting a failure.
    async fn release(&self, node: &str, metrics: &Metrics) {
        let Some(id) = self.take(node) else { return };
        if let Err(e) = self.shared.client.unsubscribe(&id).await {
            Metrics::inc(&metrics.submgr_failures, "unsubscribe_failed");
            tracing::warn!(e2_node = %node, subscription_id = %id, cause = %e, "previous subscription not deleted");
        }
    }

    /// `DELETE /ric/v1/subscriptions/{id}` of the node's subscription.
    pub(super) async fn unsubscribe(&mut self, node: &str) -> Result<(), E2Error> {
        let Some(id) = self.take(node) else {
            return Ok(());
        };
        self.shared.client.unsubscribe(&id).await.map_err(|e| {
            if let Some(m) = self.shared.metrics.get() {
                Metrics::inc(&m.submgr_failures, "unsubscribe_failed");
            }
            E2Error::Osc {
                call: "unsubscribe",
                kind: e.kind(),
                detail: e.to_string(),
            }
        })
    }

    /// The control path of `node`.
    pub(super) fn control_path(
        &self,
        node: &str,
        cfg: &RuntimeConfig,
        metrics: Arc<Metrics>,
    ) -> ControlSender {
        let rc_function_id = self.shared.cfg.node(node).map_or(0, |n| n.rc_function_id);
        // Transport-level drops are the RMR endpoint's to count (xapp_rmr_dropped_total).
        let _ = metrics;
        ControlSender::new(
            self.shared.clone(),
            node,
            rc_function_id,
            cfg.control_timeout,
            cfg.max_inflight_controls,
        )
    }
}

/// The RMR endpoint settings: a configured route table means static routes only;
/// otherwise librmr's environment decides (`RMR_SEED_RT`, `RMR_RTG_SVC`, `RMR_CTL_PORT`).
fn rmr_config(cfg: &OscConfig) -> RmrConfig {
    let base = RmrConfig {
        listen: cfg.rmr_listen,
        max_frame: cfg.e2ap_limits.max_pdu_bytes + 64 * 1024,
        ..RmrConfig::default()
    };
    match &cfg.rmr_route_table {
        Some(path) => RmrConfig {
            seed_routes: Some(path.clone()),
            ..base
        },
        None => base.with_env(),
    }
}

/// The indications of one subscription.
#[derive(Debug)]
pub struct Indications {
    rx: mpsc::Receiver<StreamEvent>,
}

impl Indications {
    pub(super) async fn next(&mut self) -> StreamEvent {
        // The sender goes when the subscription is deleted or replaced.
        self.rx.recv().await.unwrap_or(StreamEvent::Ended)
    }
}

/// Reads the RMR endpoint until it closes.
async fn receive(s: Arc<Shared>, mut rx: mpsc::Receiver<Message>) {
    while let Some(msg) = rx.recv().await {
        let Some(metrics) = s.metrics.get() else {
            continue;
        };
        match msg.mtype {
            mtype::RIC_INDICATION => on_indication(&s, metrics, &msg),
            mtype::RIC_CONTROL_ACK | mtype::RIC_CONTROL_FAILURE => {
                control::on_outcome(&s, metrics, &msg);
            }
            mtype::A1_POLICY_REQ if s.a1.get().is_some() => {
                let full = s.a1.get().is_some_and(|a1| {
                    matches!(a1.try_send(msg), Err(mpsc::error::TrySendError::Full(_)))
                });
                if full {
                    Metrics::inc(&metrics.rmr_dropped, "queue_full");
                    tracing::warn!("a1 policy request dropped: the a1 handler's queue is full");
                }
            }
            other => {
                Metrics::inc(&metrics.rmr_dropped, "unexpected_mtype");
                tracing::debug!(mtype = other, meid = %msg.meid, "rmr message of a type not taken");
            }
        }
    }
}

/// The bounded label of an E2AP decode failure.
fn e2ap_label(e: &E2apError) -> &'static str {
    E2AP_REJECT_REASONS
        .iter()
        .find(|l| l.strip_prefix("e2ap_") == Some(e.kind()))
        .copied()
        .unwrap_or("e2ap_malformed")
}

/// Routes one 12050 by (`meid`, `sub_id`) to its subscription's stream.
fn on_indication(s: &Shared, metrics: &Metrics, msg: &Message) {
    let stream = {
        let st = s.state();
        u16::try_from(msg.sub_id)
            .ok()
            .and_then(|sub| st.tracker.as_ref()?.route(&msg.meid, sub))
            .and_then(|xid| st.streams.get(&xid).cloned())
    };
    let Some(stream) = stream else {
        Metrics::inc(&metrics.rejected, "unknown_subscription");
        tracing::debug!(sub_id = msg.sub_id, meid = %msg.meid, "indication of no subscription of ours");
        return;
    };
    let event = match e2ap::decode(&msg.payload, &s.cfg.e2ap_limits) {
        Ok(E2apMessage::Indication {
            header,
            message,
            call_process_id,
            action,
            ..
        }) => StreamEvent::Indication(Indication {
            header,
            message,
            call_process_id: call_process_id.unwrap_or_default(),
            action_id: Some(action),
        }),
        Ok(_) => StreamEvent::NotIndication,
        Err(e) => {
            Metrics::inc(&metrics.rejected, e2ap_label(&e));
            tracing::debug!(meid = %msg.meid, cause = %e, "indication refused");
            return;
        }
    };
    if let Err(mpsc::error::TrySendError::Full(_)) = stream.try_send(event) {
        Metrics::inc(&metrics.dropped, "indication_queue_full");
    }
}

/// Applies the manager's notifications; expires subscriptions never notified; exports the
/// RMR endpoint's drop counters.
async fn notifications(s: Arc<Shared>, mut notes: mpsc::Receiver<SubscriptionResponse>) {
    let mut tick = tokio::time::interval(HOUSEKEEPING);
    let mut exported = HashMap::<&'static str, u64>::new();
    loop {
        tokio::select! {
            n = notes.recv() => {
                let Some(n) = n else { break };
                let events = {
                    let mut st = s.state();
                    st.tracker.as_mut().map(|t| t.on_notification(&n)).unwrap_or_default()
                };
                for e in events {
                    resolve(&s, e);
                }
            }
            _ = tick.tick() => {
                let events = {
                    let mut st = s.state();
                    st.tracker
                        .as_mut()
                        .map(|t| t.expire(std::time::Instant::now()))
                        .unwrap_or_default()
                };
                for e in events {
                    resolve(&s, e);
                }
                export_rmr_drops(&s, &mut exported);
            }
        }
    }
}

/// Hands a tracker event to the subscribe call waiting for it (with a new stream when the
/// subscription became active); counts what is not an activation.
fn resolve(s: &Shared, event: TrackerEvent) {
    let Some(metrics) = s.metrics.get() else {
        return;
    };
    let xid = match &event {
        TrackerEvent::Active {
            xapp_event_instance_id,
            ..
        }
        | TrackerEvent::Failed {
            xapp_event_instance_id,
            ..
        }
        | TrackerEvent::TimedOut {
            xapp_event_instance_id,
            ..
        }
        | TrackerEvent::UnknownInstance {
            xapp_event_instance_id,
            ..
        }
        | TrackerEvent::SubscriptionMismatch {
            xapp_event_instance_id,
            ..
        }
        | TrackerEvent::DuplicateE2Instance {
            xapp_event_instance_id,
            ..
        } => *xapp_event_instance_id,
    };
    let active = matches!(event, TrackerEvent::Active { .. });
    if !active {
        Metrics::inc(&metrics.submgr_failures, event.label());
        tracing::warn!(event = ?event, "subscription not activated");
    }
    let mut st = s.state();
    let Some(waiter) = st.waiters.remove(&xid) else {
        return;
    };
    let stream = active.then(|| {
        let (tx, rx) = mpsc::channel(STREAM_QUEUE);
        st.streams.insert(xid, tx);
        rx
    });
    drop(st);
    let _ = waiter.send(Activated { event, stream });
}

/// Adds what the RMR endpoint dropped since the last export to `xapp_rmr_dropped_total`.
fn export_rmr_drops(s: &Shared, exported: &mut HashMap<&'static str, u64>) {
    let (Some(ep), Some(metrics)) = (s.endpoint.get(), s.metrics.get()) else {
        return;
    };
    for (reason, total) in ep.counters().drops() {
        let before = exported.insert(reason, total).unwrap_or(0);
        if total > before {
            metrics
                .rmr_dropped
                .get_or_create(&crate::metrics::Reason { reason })
                .inc_by(total - before);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_e2ap_error_kind_has_its_label() {
        for kind in E2apError::KINDS {
            assert!(
                E2AP_REJECT_REASONS.contains(&format!("e2ap_{kind}").as_str()),
                "{kind}"
            );
        }
        let e = E2apError::Missing("RICrequestID");
        assert_eq!(e2ap_label(&e), "e2ap_missing_ie");
    }
}
