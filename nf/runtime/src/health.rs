//! Readiness and per-node connection state, as the O-RAN SC xApp health endpoints and the
//! `xapp_e2_nodes{state}` gauges report them.
//!
//! Ready means: E2 node discovery is done, at least one node is subscribed, and no node task
//! has died. Node states are counted per state (a gauge per state), never labelled by node
//! ID, so the label set stays bounded whatever the number of nodes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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
    /// The task ended on a panic: the node is no longer served.
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
    discovered: AtomicBool,
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
            discovered: AtomicBool::new(false),
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
    #[error("{0} E2 node task(s) died")]
    DeadNodes(i64),
}

impl Health {
    /// E2 node discovery has returned the nodes to serve.
    pub fn discovery_done(&self) {
        self.discovered.store(true, Ordering::Release);
    }

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
        if self.nodes_in(NodeState::Subscribed) == 0 {
            return Err(NotReady::NoSubscription);
        }
        Ok(())
    }

    fn enter(&self, state: NodeState) {
        self.gauges[state as usize].inc();
    }

    fn leave(&self, state: NodeState) {
        self.gauges[state as usize].dec();
    }
}

/// The state of one node task in the gauges. Dropped when the task ends: a normal end
/// leaves the gauges, a panic moves the node to [`NodeState::Dead`].
#[derive(Debug)]
pub struct NodeTracker {
    metrics: Arc<Metrics>,
    state: NodeState,
}

impl NodeTracker {
    /// A node entering [`NodeState::Subscribing`].
    pub fn new(metrics: Arc<Metrics>) -> Self {
        metrics.health.enter(NodeState::Subscribing);
        Self {
            metrics,
            state: NodeState::Subscribing,
        }
    }

    pub fn set(&mut self, state: NodeState) {
        if state != self.state {
            self.metrics.health.leave(self.state);
            self.metrics.health.enter(state);
            self.state = state;
        }
    }

    pub fn state(&self) -> NodeState {
        self.state
    }
}

impl Drop for NodeTracker {
    fn drop(&mut self) {
        self.metrics.health.leave(self.state);
        if std::thread::panicking() {
            self.metrics.health.enter(NodeState::Dead);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_needs_discovery_a_subscription_and_no_dead_node() {
        let m = Arc::new(Metrics::new());
        assert_eq!(m.health.ready(), Err(NotReady::Discovery));
        m.health.discovery_done();
        assert_eq!(m.health.ready(), Err(NotReady::NoSubscription));
        let mut a = NodeTracker::new(m.clone());
        a.set(NodeState::Subscribed);
        assert_eq!(m.health.ready(), Ok(()));
        let m2 = m.clone();
        let died = std::thread::spawn(move || {
            let mut b = NodeTracker::new(m2);
            b.set(NodeState::Subscribed);
            panic!("node task bug");
        })
        .join();
        assert!(died.is_err());
        assert_eq!(m.health.ready(), Err(NotReady::DeadNodes(1)));
        assert_eq!(m.health.nodes_in(NodeState::Subscribed), 1);
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
