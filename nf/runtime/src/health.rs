//! Liveness of the E2 side of the runtime, shared with whatever reports health (the
//! readiness endpoint reads [`Health::snapshot`]).
//!
//! Node tasks and the run loop write it; nothing here blocks for long (one short mutex
//! around the list of failed nodes, taken only when a task dies or a snapshot is read).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Counters and flags describing what the runtime is connected to right now.
#[derive(Debug, Default)]
pub struct Health {
    e2t_reached: AtomicBool,
    nodes_served: AtomicUsize,
    nodes_subscribed: AtomicUsize,
    node_task_restarts: AtomicU64,
    dead_nodes: Mutex<Vec<String>>,
}

/// A consistent-enough copy of [`Health`] for one report.
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

impl HealthSnapshot {
    /// Ready: the E2T answered, every served node's task is alive and at least one node
    /// streams indications.
    pub fn ready(&self) -> bool {
        self.e2t_reached && self.dead_nodes.is_empty() && self.nodes_subscribed > 0
    }
}

impl Health {
    pub fn snapshot(&self) -> HealthSnapshot {
        HealthSnapshot {
            e2t_reached: self.e2t_reached.load(Ordering::Relaxed),
            nodes_served: self.nodes_served.load(Ordering::Relaxed),
            nodes_subscribed: self.nodes_subscribed.load(Ordering::Relaxed),
            node_task_restarts: self.node_task_restarts.load(Ordering::Relaxed),
            dead_nodes: self
                .dead_nodes
                .lock()
                .map(|d| d.clone())
                .unwrap_or_default(),
        }
    }

    pub(crate) fn reached(&self) {
        self.e2t_reached.store(true, Ordering::Relaxed);
    }

    pub(crate) fn discovered(&self, served: usize) {
        self.e2t_reached.store(true, Ordering::Relaxed);
        self.nodes_served.store(served, Ordering::Relaxed);
    }

    /// Marks one more node subscribed until the guard is dropped (also by a panic).
    pub(crate) fn subscribed(self: &Arc<Self>) -> Subscribed {
        self.nodes_subscribed.fetch_add(1, Ordering::Relaxed);
        Subscribed(self.clone())
    }

    pub(crate) fn restarted(&self) {
        self.node_task_restarts.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn dead(&self, node: &str) {
        if let Ok(mut d) = self.dead_nodes.lock() {
            d.push(node.to_owned());
        }
    }
}

/// A node counted as subscribed while this lives.
#[derive(Debug)]
pub(crate) struct Subscribed(Arc<Health>);

impl Drop for Subscribed {
    fn drop(&mut self) {
        self.0.nodes_subscribed.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_needs_a_reached_e2t_a_stream_and_no_dead_node() {
        let h = Arc::new(Health::default());
        assert!(!h.snapshot().ready());
        h.discovered(2);
        assert!(!h.snapshot().ready());
        let live = h.subscribed();
        assert!(h.snapshot().ready());
        h.dead("gnb-1");
        let s = h.snapshot();
        assert!(!s.ready());
        assert_eq!(s.dead_nodes, vec!["gnb-1".to_owned()]);
        drop(live);
        assert_eq!(h.snapshot().nodes_subscribed, 0);
    }
}
