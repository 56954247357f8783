//! Readiness and per-node connection state, as the O-RAN SC xApp health endpoints and the
//! `xapp_e2_nodes{state}` gauges report them.
//!
//! Ready means: the E2T answered discovery, at least one node is subscribed (or the
//! replica's shard is empty, see [`crate::shard`]), and no node has been given up (a node task that kept panicking, see `supervise`). Node states are
//! counted per state (a gauge per state), never labelled by node ID, so the label set stays
//! bounded whatever the number of nodes. Node tasks and the run loop write it; nothing here
//! blocks for long (one short mutex around the names of given-up nodes).

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

use crate::metrics::Metrics;

/// Where the task of one E2 node stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeState {
    /// Sending (or about to send) its KPM subscription.
    Subscribing,
    /// Subscribed: indications flow.
    Subscribed,
    /// Waiting to resubscribe after a failed subscription or a lost stream.
    Backoff,
    /// Given up after its task kept panicking: the node is no longer served.
    Dead,
}

impl NodeState {
    /// Every state, in gauge order.
    pub const ALL: [NodeState; 4] = [
        NodeState::Subscribing,
        NodeState::Subscribed,
        NodeState::Backoff,
        NodeState::Dead,
    ];

    /// Bounded metric label.
    pub fn label(self) -> &'static str {
        match self {
            NodeState::Subscribing => "subscribing",
            NodeState::Subscribed => "subscribed",
            NodeState::Backoff => "backoff",
            NodeState::Dead => "dead",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    pub state: &'static str,
}

/// Readiness inputs of the process.
#[derive(Debug)]
pub struct Health {
    /// Discovery answered at least once.
    e2t_reached: AtomicBool,
    /// Discovery is done: the nodes to serve are known.
    discovered: AtomicBool,
    nodes_served: AtomicUsize,
    node_task_restarts: AtomicU64,
    dead_nodes: Mutex<Vec<String>>,
    /// `xapp_e2_nodes{state}`, registered by [`Metrics`].
    pub(crate) nodes: Family<StateLabel, Gauge>,
    /// One handle per [`NodeState::ALL`], resolved once.
    gauges: [Gauge; 4],
}

impl Default for Health {
    fn default() -> Self {
        let nodes = Family::<StateLabel, Gauge>::default();
        let gauges = NodeState::ALL.map(|s| {
            let label = StateLabel { state: s.label() };
            nodes.get_or_create(&label).clone()
        });
        Self {
            e2t_reached: AtomicBool::new(false),
            discovered: AtomicBool::new(false),
            nodes_served: AtomicUsize::new(0),
            node_task_restarts: AtomicU64::new(0),
            dead_nodes: Mutex::new(Vec::new()),
            nodes,
            gauges,
        }
    }
}

/// Why the process is not ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotReady {
    #[error("E2 node discovery not done")]
    Discovery,
    #[error("no E2 node subscribed")]
    NoSubscription,
    #[error("{0} E2 node(s) given up after their task kept failing")]
    DeadNodes(i64),
}

/// A copy of [`Health`] for one report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HealthSnapshot {
    /// Discovery has answered at least once.
    pub e2t_reached: bool,
    /// E2 nodes a task was started for (within the node limit).
    pub nodes_served: usize,
    /// Nodes whose KPM indication stream is open now.
    pub nodes_subscribed: usize,
    /// Node tasks restarted after a panic, over the run.
    pub node_task_restarts: u64,
    /// Nodes given up after their task kept failing.
    pub dead_nodes: Vec<String>,
}

impl Health {
    /// Nodes currently in `state`.
    pub fn nodes_in(&self, state: NodeState) -> i64 {
        self.gauges[state as usize].get()
    }

    /// `Ok` when ready to serve (see the module docs), else the first reason why not.
    pub fn ready(&self) -> Result<(), NotReady> {
        if !self.discovered.load(Ordering::Acquire) {
            return Err(NotReady::Discovery);
        }
        let dead = self.nodes_in(NodeState::Dead);
        if dead > 0 {
            return Err(NotReady::DeadNodes(dead));
        }
        // A sharded replica whose shard is empty has nothing to subscribe and is ready.
        if self.nodes_in(NodeState::Subscribed) == 0
            && self.nodes_served.load(Ordering::Relaxed) > 0
        {
            return Err(NotReady::NoSubscription);
        }
        Ok(())
    }

    pub fn snapshot(&self) -> HealthSnapshot {
        HealthSnapshot {
            e2t_reached: self.e2t_reached.load(Ordering::Relaxed),
            nodes_served: self.nodes_served.load(Ordering::Relaxed),
            nodes_subscribed: usize::try_from(self.nodes_in(NodeState::Subscribed)).unwrap_or(0),
            node_task_restarts: self.node_task_restarts.load(Ordering::Relaxed),
            dead_nodes: self
                .dead_nodes
                .lock()
                .map(|d| d.clone())
                .unwrap_or_default(),
        }
    }

    /// Discovery answered (perhaps with no node yet).
    pub(crate) fn reached(&self) {
        self.e2t_reached.store(true, Ordering::Relaxed);
    }

    /// Discovery is done (so the E2T was reached): `served` nodes get a task.
    pub fn discovered(&self, served: usize) {
        self.e2t_reached.store(true, Ordering::Relaxed);
        self.nodes_served.store(served, Ordering::Relaxed);
        self.discovered.store(true, Ordering::Release);
    }

    /// A sharded replica's nodes (served or about to be): its share changes at run time.
    pub(crate) fn serving(&self, nodes: usize) {
        self.nodes_served.store(nodes, Ordering::Relaxed);
    }

    pub(crate) fn restarted(&self) {
        self.node_task_restarts.fetch_add(1, Ordering::Relaxed);
    }

    /// `node` is given up: counted in `xapp_e2_nodes{state="dead"}` and named.
    pub(crate) fn dead(&self, node: &str) {
        self.enter(NodeState::Dead);
        if let Ok(mut d) = self.dead_nodes.lock() {
            d.push(node.to_owned());
        }
    }

    fn enter(&self, state: NodeState) {
        self.gauges[state as usize].inc();
    }

    fn leave(&self, state: NodeState) {
        self.gauges[state as usize].dec();
    }
}

/// The state of one node task in the gauges. Dropped when the task ends, normally or by a
/// panic: the node leaves the gauges; the supervisor then restarts it (a new tracker) or
/// gives it up ([`Health::dead`]).
#[derive(Debug)]
pub struct NodeTracker {
    metrics: Arc<Metrics>,
    node: String,
    state: NodeState,
}

impl NodeTracker {
    /// Node `node` entering [`NodeState::Subscribing`].
    pub fn new(metrics: Arc<Metrics>, node: &str) -> Self {
        metrics.health.enter(NodeState::Subscribing);
        metrics.node_series.set_state(node, NodeState::Subscribing);
        Self {
            metrics,
            node: node.to_owned(),
            state: NodeState::Subscribing,
        }
    }

    pub fn set(&mut self, state: NodeState) {
        if state != self.state {
            self.metrics.health.leave(self.state);
            self.metrics.health.enter(state);
            self.metrics.node_series.set_state(&self.node, state);
            self.state = state;
        }
    }
}

impl Drop for NodeTracker {
    fn drop(&mut self) {
        self.metrics.health.leave(self.state);
        self.metrics.node_series.forget(&self.node);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_needs_discovery_a_subscription_and_no_given_up_node() {
        let m = Arc::new(Metrics::new());
        assert_eq!(m.health.ready(), Err(NotReady::Discovery));
        assert!(!m.health.snapshot().e2t_reached);
        m.health.discovered(2);
        assert_eq!(m.health.ready(), Err(NotReady::NoSubscription));
        let mut a = NodeTracker::new(m.clone(), "a");
        a.set(NodeState::Subscribed);
        assert_eq!(m.health.ready(), Ok(()));
        let s = m.health.snapshot();
        assert!(s.e2t_reached && s.nodes_subscribed == 1 && s.dead_nodes.is_empty());
        let m2 = m.clone();
        let died = std::thread::spawn(move || {
            let mut b = NodeTracker::new(m2, "b");
            b.set(NodeState::Subscribed);
            panic!("node task bug");
        })
        .join();
        assert!(died.is_err());
        // A panicked task leaves the gauges; only the supervisor gives a node up.
        assert_eq!(m.health.nodes_in(NodeState::Subscribed), 1);
        assert_eq!(m.health.ready(), Ok(()));
        m.health.dead("gnb-1");
        assert_eq!(m.health.ready(), Err(NotReady::DeadNodes(1)));
        let s = m.health.snapshot();
        assert!(!s.dead_nodes.is_empty());
        assert_eq!(s.dead_nodes, vec!["gnb-1".to_owned()]);
        drop(a);
        assert_eq!(m.health.nodes_in(NodeState::Subscribed), 0);
        let text = m.encode();
        assert!(text.contains("xapp_e2_nodes{state=\"dead\"} 1"), "{text}");
        assert!(
            text.contains("xapp_e2_nodes{state=\"backoff\"} 0"),
            "{text}"
        );
    }
}
