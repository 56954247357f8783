//! Serving the E2 nodes: every node at once (one replica), or this replica's shard of them
//! when the xApp runs as several StatefulSet replicas (`[shard]`, see
//! [`nf_core::shard`] for the ownership rules and `docs/operations.md`, "Sharding over
//! replicas").
//!
//! Each node task gets its own stop channel, so a node can be stopped (drained and
//! unsubscribed) while the others go on. With sharding, a loop here probes every peer's
//! `GET /ric/v1/shard` each `probe_interval`, feeds the answers to the core's
//! [`Shard`], starts and stops node tasks as it says, and publishes this replica's report
//! for the HTTP endpoint. Kubernetes gives the identities (pod ordinal, stable DNS names
//! through the headless Service, a restart under the same ordinal); nothing else is shared
//! between replicas.
//!
//! On shutdown a sharded replica reports `leaving`, stops every node it serves, and keeps
//! answering probes for two probe intervals (at most 5 s) after the last one ended, so that
//! the peers see its nodes released and take them over without waiting for it to be
//! declared dead.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::header::HOST;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use nf_core::shard::{Action, PeerChange, Shard, ShardReport, ShardSettings};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::metrics::{Metrics, Reason};
use crate::supervise::{Supervised, supervise, wait_shutdown_or_all_dead};

/// The path every replica answers its report on.
pub const SHARD_PATH: &str = "/ric/v1/shard";
/// Largest peer report read [bytes] (65,536 node IDs of ~100 bytes fit).
const MAX_REPORT_BYTES: usize = 8 * 1024 * 1024;
/// Longest wait after the last node was released on shutdown.
const MAX_LINGER: Duration = Duration::from_secs(5);

/// Reasons of `xapp_shard_peer_probe_failures_total`.
pub(crate) const PROBE_FAILURES: &[&str] = &[
    "unreachable",
    "timeout",
    "http",
    "status",
    "bad_answer",
    "ordinal_mismatch",
    "xapp_mismatch",
];

/// `[shard]`, validated: this replica's ordinal and how it finds and watches its peers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardConfig {
    pub ordinal: u32,
    /// Ordinals probed: `0..replicas` (at least 2; one replica is not sharded).
    pub replicas: u32,
    /// `host:port` of each ordinal's HTTP endpoint (this replica's entry unused).
    pub peers: Vec<String>,
    /// Every peer is probed this often; also each probe's timeout.
    pub probe_interval: Duration,
    /// Probes in a row that must fail before a peer is dead.
    pub failure_threshold: u32,
    /// Least time a node waits before it is started here (see [`nf_core::shard`]).
    pub handover_grace: Duration,
}

impl ShardConfig {
    /// The core's settings.
    pub fn settings(&self) -> ShardSettings {
        ShardSettings {
            ordinal: self.ordinal,
            replicas: self.replicas,
            failure_threshold: self.failure_threshold,
            handover_grace_ms: self.handover_grace.as_millis() as u64,
        }
    }

    /// Longest time from a peer's death to the start of its nodes here
    /// ([`ShardSettings::takeover_bound_ms`]).
    pub fn takeover_bound(&self) -> Duration {
        let interval = self.probe_interval.as_millis() as u64;
        Duration::from_millis(self.settings().takeover_bound_ms(interval))
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Direction {
    pub direction: &'static str,
}

/// The `xapp_shard_*` families (zero and unused when the xApp is not sharded).
#[derive(Debug, Default)]
pub struct ShardMetrics {
    /// Nodes served here (their task runs or is stopping).
    pub owned: Gauge,
    /// Nodes waiting to be started here.
    pub acquiring: Gauge,
    /// Replicas counted for ownership, this one included.
    pub live: Gauge,
    /// Nodes started here (`acquired`) and stopped after moving away (`released`).
    pub handovers: Family<Direction, Counter>,
    /// Failed probes of a peer's report, by reason ([`PROBE_FAILURES`]).
    pub probe_failures: Family<Reason, Counter>,
    /// Peers declared dead (`failure_threshold` probes in a row failed).
    pub peers_dead: Counter,
}

impl ShardMetrics {
    /// Registers the families under `r` (prefix `xapp`), every label at zero.
    pub(crate) fn register(&self, r: &mut Registry) {
        for direction in ["acquired", "released"] {
            drop(self.handovers.get_or_create(&Direction { direction }));
        }
        for reason in PROBE_FAILURES {
            drop(self.probe_failures.get_or_create(&Reason { reason }));
        }
        r.register(
            "shard_owned_nodes",
            "E2 nodes this replica serves (task running or stopping)",
            self.owned.clone(),
        );
        r.register(
            "shard_acquiring_nodes",
            "E2 nodes this replica owns by rendezvous and will start after the handover grace",
            self.acquiring.clone(),
        );
        r.register(
            "shard_live_replicas",
            "Replicas counted for ownership (this one included; 0 when not sharded)",
            self.live.clone(),
        );
        r.register(
            "shard_node_handovers",
            "E2 nodes started on this replica (acquired) or stopped here after moving away (released)",
            self.handovers.clone(),
        );
        r.register(
            "shard_peer_probe_failures",
            "Probes of a peer replica's /ric/v1/shard that failed, by reason",
            self.probe_failures.clone(),
        );
        r.register(
            "shard_peers_dead",
            "Peer replicas declared dead after failure_threshold failed probes in a row",
            self.peers_dead.clone(),
        );
    }

    fn handover(&self, direction: &'static str) {
        self.handovers.get_or_create(&Direction { direction }).inc();
    }
}

/// What `GET /ric/v1/shard` answers: the core's report and the xApp it belongs to.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Wire {
    /// `e2t.app_id`: a report of another xApp's replica is refused.
    xapp: String,
    #[serde(flatten)]
    report: ShardReport,
}

/// Sharding prepared before discovery, so that peers can read this replica's (empty)
/// report while it starts.
#[derive(Debug)]
pub(crate) struct Sharding {
    cfg: ShardConfig,
    xapp: String,
    reports: watch::Sender<Bytes>,
}

impl Sharding {
    pub fn new(cfg: ShardConfig, xapp: String) -> Self {
        let empty = ShardReport {
            ordinal: cfg.ordinal,
            replicas: cfg.replicas,
            ..ShardReport::default()
        };
        let reports = watch::channel(encode(&xapp, &empty)).0;
        Self { cfg, xapp, reports }
    }

    /// What the HTTP endpoint serves at [`SHARD_PATH`].
    pub fn reports(&self) -> watch::Receiver<Bytes> {
        self.reports.subscribe()
    }
}

fn encode(xapp: &str, report: &ShardReport) -> Bytes {
    let wire = Wire {
        xapp: xapp.to_owned(),
        report: report.clone(),
    };
    let mut body = serde_json::to_vec(&wire).unwrap_or_default();
    body.push(b'\n');
    Bytes::from(body)
}

/// A node task running, with its own stop channel.
struct Running {
    stop: watch::Sender<bool>,
    join: JoinHandle<()>,
}

/// The node tasks of a run: a template per node (cloned at each start) and those running.
pub(crate) struct NodeSet<T> {
    templates: BTreeMap<String, T>,
    running: BTreeMap<String, Running>,
    dead_tx: mpsc::UnboundedSender<(String, String)>,
}

impl<T: Supervised> NodeSet<T> {
    fn new(tasks: Vec<T>, dead_tx: mpsc::UnboundedSender<(String, String)>) -> Self {
        let templates = tasks
            .into_iter()
            .map(|t| (t.node_id().to_owned(), t))
            .collect();
        Self {
            templates,
            running: BTreeMap::new(),
            dead_tx,
        }
    }

    fn ids(&self) -> Vec<String> {
        self.templates.keys().cloned().collect()
    }

    fn start(&mut self, node: &str) {
        let Some(task) = self.templates.get(node) else {
            return;
        };
        let (stop, rx) = watch::channel(false);
        let join = tokio::spawn(supervise(task.clone(), rx, self.dead_tx.clone()));
        if let Some(old) = self.running.insert(node.to_owned(), Running { stop, join }) {
            // Never expected (the shard starts a node only once released): stop the old
            // one rather than leave it running unseen.
            let _ = old.stop.send(true);
        }
    }

    /// Tells `node`'s task to stop; its handle ends once it has drained and unsubscribed.
    fn stop(&mut self, node: &str) -> Option<JoinHandle<()>> {
        let r = self.running.remove(node)?;
        let _ = r.stop.send(true);
        Some(r.join)
    }

    /// Stops every task and waits for each to end.
    async fn stop_all(&mut self) {
        let all: Vec<_> = std::mem::take(&mut self.running).into_values().collect();
        for r in &all {
            let _ = r.stop.send(true);
        }
        for r in all {
            // A node given up already ended (counted and named in the health state).
            let _ = r.join.await;
        }
    }
}

/// Serves `tasks` until `shutdown`: every node (no `sharding`) or this replica's shard, then
/// stops them (drain, unsubscribe). Returns the nodes given up and the last cause, if any.
pub(crate) async fn serve_nodes<T: Supervised>(
    tasks: Vec<T>,
    sharding: Option<Sharding>,
    metrics: &Arc<Metrics>,
    shutdown: Pin<&mut impl Future<Output = ()>>,
) -> Option<(Vec<String>, String)> {
    let (dead_tx, dead_rx) = mpsc::unbounded_channel();
    let mut set = NodeSet::new(tasks, dead_tx);
    match sharding {
        None => {
            let n = set.templates.len();
            for id in set.ids() {
                set.start(&id);
            }
            let dead = wait_shutdown_or_all_dead(shutdown, dead_rx, n).await;
            tracing::info!("shutting down: draining decisions and unsubscribing");
            set.stop_all().await;
            dead
        }
        Some(s) => s.run(set, metrics, shutdown, dead_rx).await,
    }
}

/// Nodes given up during the run, and the last cause.
#[derive(Default)]
struct GivenUp {
    nodes: Vec<String>,
    cause: String,
}

impl GivenUp {
    fn take(&mut self, rx: &mut mpsc::UnboundedReceiver<(String, String)>) {
        while let Ok((node, why)) = rx.try_recv() {
            self.nodes.push(node);
            self.cause = why;
        }
    }

    fn result(self) -> Option<(Vec<String>, String)> {
        (!self.nodes.is_empty()).then_some((self.nodes, self.cause))
    }
}

/// One probe round's outcome per peer ordinal.
type Answers = Vec<(u32, Result<Wire, ProbeError>)>;

impl Sharding {
    async fn run<T: Supervised>(
        self,
        mut set: NodeSet<T>,
        metrics: &Arc<Metrics>,
        mut shutdown: Pin<&mut impl Future<Output = ()>>,
        mut dead_rx: mpsc::UnboundedReceiver<(String, String)>,
    ) -> Option<(Vec<String>, String)> {
        let origin = tokio::time::Instant::now();
        let now_ms = move || origin.elapsed().as_millis() as u64;
        let mut shard = Shard::new(self.cfg.settings(), set.ids());
        let (ended_tx, mut ended_rx) = mpsc::unbounded_channel::<String>();
        let mut given_up = GivenUp::default();
        tracing::info!(
            ordinal = self.cfg.ordinal,
            replicas = self.cfg.replicas,
            nodes = set.templates.len(),
            takeover_bound_ms = self.cfg.takeover_bound().as_millis() as u64,
            "sharding E2 nodes over replicas"
        );
        let actions = shard.step(now_ms());
        self.apply(&mut set, actions, &ended_tx, metrics);
        self.publish(&shard, metrics);
        let mut tick = tokio::time::interval(self.cfg.probe_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.as_mut() => break,
                _ = tick.tick() => {
                    let sent = now_ms();
                    let answers = tokio::select! {
                        a = self.probe_round(&shard) => a,
                        _ = shutdown.as_mut() => break,
                    };
                    self.take(&mut shard, sent, answers, metrics);
                    let actions = shard.step(now_ms());
                    self.apply(&mut set, actions, &ended_tx, metrics);
                    self.publish(&shard, metrics);
                }
                Some(node) = ended_rx.recv() => {
                    self.ended(&mut shard, &node, metrics);
                }
                Some((node, why)) = dead_rx.recv() => {
                    given_up.nodes.push(node);
                    given_up.cause = why;
                }
            }
        }
        tracing::info!("shutting down: releasing this replica's E2 nodes (drain, unsubscribe)");
        let actions = shard.leave();
        self.apply(&mut set, actions, &ended_tx, metrics);
        self.publish(&shard, metrics);
        while !shard.report().owned.is_empty() {
            let Some(node) = ended_rx.recv().await else {
                break;
            };
            self.ended(&mut shard, &node, metrics);
        }
        given_up.take(&mut dead_rx);
        // Peers read the empty report instead of waiting to declare this replica dead.
        let linger = (self.cfg.probe_interval * 2).min(MAX_LINGER);
        tokio::time::sleep(linger).await;
        given_up.result()
    }

    /// A stopped node's task ended.
    fn ended(&self, shard: &mut Shard, node: &str, metrics: &Metrics) {
        shard.stopped(node);
        metrics.shard.handover("released");
        tracing::info!(e2_node = %node, "E2 node released");
        self.publish(shard, metrics);
    }

    /// Starts and stops node tasks; a stopped task's end comes back on `ended`.
    fn apply<T: Supervised>(
        &self,
        set: &mut NodeSet<T>,
        actions: Vec<Action>,
        ended: &mpsc::UnboundedSender<String>,
        metrics: &Metrics,
    ) {
        for a in actions {
            match a {
                Action::Start(node) => {
                    tracing::info!(e2_node = %node, ordinal = self.cfg.ordinal, "E2 node acquired: serving it");
                    set.start(&node);
                    metrics.shard.handover("acquired");
                }
                Action::Stop(node) => {
                    tracing::info!(e2_node = %node, ordinal = self.cfg.ordinal, "E2 node moves away: draining and unsubscribing");
                    let ended = ended.clone();
                    let join = set.stop(&node);
                    tokio::spawn(async move {
                        if let Some(j) = join {
                            let _ = j.await;
                        }
                        let _ = ended.send(node);
                    });
                }
            }
        }
    }

    /// Probes every peer at once, each bounded by the probe interval.
    async fn probe_round(&self, shard: &Shard) -> Answers {
        let timeout = self.cfg.probe_interval;
        let probes = shard.peer_ordinals().map(|o| {
            let authority = self.cfg.peers[o as usize].clone();
            async move {
                let r = tokio::time::timeout(timeout, probe(&authority))
                    .await
                    .unwrap_or(Err(ProbeError::Timeout));
                (o, r)
            }
        });
        futures::future::join_all(probes).await
    }

    /// Feeds one round's answers (probes sent at `sent_ms`) to the shard.
    fn take(&self, shard: &mut Shard, sent_ms: u64, answers: Answers, metrics: &Metrics) {
        for (o, answer) in answers {
            let refused = match answer {
                Ok(w) if w.report.ordinal != o => Err((
                    "ordinal_mismatch",
                    format!("answered as ordinal {}", w.report.ordinal),
                )),
                Ok(w) if w.xapp != self.xapp => {
                    Err(("xapp_mismatch", format!("answered as xApp {:?}", w.xapp)))
                }
                Ok(w) => Ok(w),
                Err(e) => Err((e.kind(), e.to_string())),
            };
            let peer = &self.cfg.peers[o as usize];
            match refused {
                Ok(w) => {
                    if shard.answered(sent_ms, w.report) == Some(PeerChange::Returned) {
                        tracing::info!(ordinal = o, %peer, "peer replica answers again");
                    }
                }
                Err((reason, detail)) => {
                    Metrics::inc(&metrics.shard.probe_failures, reason);
                    tracing::debug!(ordinal = o, %peer, reason, %detail, "peer probe failed");
                    if shard.failed(o) == Some(PeerChange::Died) {
                        metrics.shard.peers_dead.inc();
                        tracing::warn!(ordinal = o, %peer, reason, %detail, failures = self.cfg.failure_threshold, "peer replica declared dead: its E2 nodes move to the live replicas");
                    }
                }
            }
        }
    }

    /// Publishes this replica's report (HTTP endpoint, gauges, readiness).
    fn publish(&self, shard: &Shard, metrics: &Metrics) {
        let report = shard.report();
        let gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        metrics.shard.owned.set(gauge(report.owned.len()));
        metrics.shard.acquiring.set(gauge(report.acquiring.len()));
        metrics.shard.live.set(gauge(report.live.len()));
        metrics
            .health
            .serving(report.owned.len() + report.acquiring.len());
        self.reports.send_replace(encode(&self.xapp, &report));
    }
}

/// Why a peer's report could not be read.
#[derive(Debug, thiserror::Error)]
enum ProbeError {
    #[error("unreachable: {0}")]
    Unreachable(std::io::Error),
    #[error("no answer within the probe interval")]
    Timeout,
    #[error("HTTP exchange failed: {0}")]
    Http(String),
    #[error("answered HTTP {0}")]
    Status(u16),
    #[error("not a shard report: {0}")]
    BadAnswer(String),
}

impl ProbeError {
    /// Bounded label ([`PROBE_FAILURES`]).
    fn kind(&self) -> &'static str {
        match self {
            Self::Unreachable(_) => "unreachable",
            Self::Timeout => "timeout",
            Self::Http(_) => "http",
            Self::Status(_) => "status",
            Self::BadAnswer(_) => "bad_answer",
        }
    }
}

/// `GET /ric/v1/shard` of the replica at `authority` (`host:port`).
async fn probe(authority: &str) -> Result<Wire, ProbeError> {
    let sock = TcpStream::connect(authority)
        .await
        .map_err(ProbeError::Unreachable)?;
    let _ = sock.set_nodelay(true);
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(sock))
        .await
        .map_err(|e| ProbeError::Http(e.to_string()))?;
    let conn = tokio::spawn(conn);
    let req = Request::builder()
        .method(Method::GET)
        .uri(SHARD_PATH)
        .header(HOST, authority)
        .body(Empty::<Bytes>::new())
        .map_err(|e| ProbeError::Http(e.to_string()))?;
    let answer = async {
        let resp = send
            .send_request(req)
            .await
            .map_err(|e| ProbeError::Http(e.to_string()))?;
        if resp.status() != StatusCode::OK {
            return Err(ProbeError::Status(resp.status().as_u16()));
        }
        let body = Limited::new(resp.into_body(), MAX_REPORT_BYTES)
            .collect()
            .await
            .map_err(|e| ProbeError::BadAnswer(format!("body: {e}")))?
            .to_bytes();
        serde_json::from_slice::<Wire>(&body).map_err(|e| ProbeError::BadAnswer(e.to_string()))
    }
    .await;
    conn.abort();
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_round_trips_with_its_xapp() {
        let report = ShardReport {
            ordinal: 2,
            replicas: 3,
            owned: vec!["a".into()],
            acquiring: vec!["b".into()],
            live: vec![0, 2],
            leaving: false,
        };
        let body = encode("slice-xapp", &report);
        let text = std::str::from_utf8(&body).unwrap_or_default();
        assert!(text.contains("\"xapp\":\"slice-xapp\""), "{text}");
        assert!(text.contains("\"owned\":[\"a\"]"), "{text}");
        let back: Wire = serde_json::from_slice(&body).expect("own report parses");
        assert_eq!(back.report, report);
        assert_eq!(back.xapp, "slice-xapp");
    }

    #[test]
    fn answers_naming_another_replica_or_xapp_are_counted_failed_probes() {
        let cfg = ShardConfig {
            ordinal: 0,
            replicas: 2,
            peers: vec!["a:1".into(), "b:1".into()],
            probe_interval: Duration::from_millis(100),
            failure_threshold: 2,
            handover_grace: Duration::ZERO,
        };
        let sharding = Sharding::new(cfg.clone(), "slice-xapp".into());
        let mut shard = Shard::new(cfg.settings(), ["e2:4/e0000".to_owned()]);
        let metrics = Metrics::new();
        let wire = |ordinal, xapp: &str| Wire {
            xapp: xapp.into(),
            report: ShardReport {
                ordinal,
                replicas: 2,
                ..ShardReport::default()
            },
        };
        sharding.take(
            &mut shard,
            0,
            vec![(1, Ok(wire(0, "slice-xapp")))],
            &metrics,
        );
        assert_eq!(shard.live(), vec![0, 1], "one failure is not death");
        let other = wire(1, "interference-xapp");
        sharding.take(&mut shard, 0, vec![(1, Ok(other))], &metrics);
        let failures = &metrics.shard.probe_failures;
        assert_eq!(Metrics::count(failures, "ordinal_mismatch"), 1);
        assert_eq!(Metrics::count(failures, "xapp_mismatch"), 1);
        assert_eq!(metrics.shard.peers_dead.get(), 1);
        assert_eq!(shard.live(), vec![0]);
        // Alone, this replica takes the node (grace 0, no live peer to hear from).
        assert!(shard.step(1).is_empty(), "acquiring first");
        let actions = shard.step(2);
        assert_eq!(actions, vec![Action::Start("e2:4/e0000".into())]);
        sharding.publish(&shard, &metrics);
        let body = sharding.reports().borrow().clone();
        let back: Wire = serde_json::from_slice(&body).expect("report");
        assert_eq!(back.report.owned, ["e2:4/e0000"]);
        assert_eq!(back.report.live, [0]);
        assert_eq!(metrics.shard.owned.get(), 1);
        assert_eq!(metrics.shard.live.get(), 1);
        // It answers again: live, and the node moves back if it wins it.
        let ok = wire(1, "slice-xapp");
        sharding.take(&mut shard, 3, vec![(1, Ok(ok))], &metrics);
        assert_eq!(shard.live(), vec![0, 1]);
    }

    #[test]
    fn the_takeover_bound_counts_whole_probe_rounds() {
        let cfg = ShardConfig {
            ordinal: 0,
            replicas: 3,
            peers: vec![String::new(); 3],
            probe_interval: Duration::from_millis(1000),
            failure_threshold: 3,
            handover_grace: Duration::from_millis(2000),
        };
        assert_eq!(cfg.takeover_bound(), Duration::from_millis(6000));
        let no_grace = ShardConfig {
            handover_grace: Duration::ZERO,
            ..cfg
        };
        assert_eq!(no_grace.takeover_bound(), Duration::from_millis(5000));
    }
}
