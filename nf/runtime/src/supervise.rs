//! Node task supervision: a node task that panics is restarted with backoff, at most
//! [`MAX_NODE_TASK_RESTARTS`] times, then its node is given up (named in the health state
//! and in the run's error). Every panic is counted as `node_task_panic`.

use std::time::Duration;

use tokio::sync::{mpsc, watch};

use std::sync::Arc;

use crate::config::BackoffConfig;
use crate::e2::Backoff;
use crate::metrics::Metrics;
use crate::node::NodeTask;

/// A node task the supervisor can restart: the slice pipeline's and the interference
/// pipeline's (`crate::mobility`).
pub(crate) trait Supervised: Clone + Send + 'static {
    fn node_id(&self) -> &str;
    fn metrics(&self) -> &Arc<Metrics>;
    fn backoff(&self) -> BackoffConfig;
    /// Runs until `stop` turns true.
    fn run(self, stop: watch::Receiver<bool>) -> impl Future<Output = ()> + Send + 'static;
}

impl Supervised for NodeTask {
    fn node_id(&self) -> &str {
        &self.node.id
    }
    fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }
    fn backoff(&self) -> BackoffConfig {
        self.cfg.backoff
    }
    fn run(self, stop: watch::Receiver<bool>) -> impl Future<Output = ()> + Send + 'static {
        NodeTask::run(self, stop)
    }
}

/// Restarts of one node task after panics before its node is given up.
pub const MAX_NODE_TASK_RESTARTS: u32 = 5;

/// Runs a node task, restarting it with backoff when it panics; after
/// [`MAX_NODE_TASK_RESTARTS`] restarts the node is given up and reported on `dead`.
pub(crate) async fn supervise<T: Supervised>(
    task: T,
    stop: watch::Receiver<bool>,
    dead: mpsc::UnboundedSender<(String, String)>,
) {
    let mut backoff = Backoff::new(task.backoff());
    let mut restarts = 0;
    loop {
        let cause = match tokio::spawn(Supervised::run(task.clone(), stop.clone())).await {
            Ok(()) => return,
            Err(e) if e.is_panic() => panic_message(e.into_panic()),
            Err(_) => "node task cancelled".to_owned(),
        };
        Metrics::inc(&task.metrics().e2_failures, "node_task_panic");
        if restarts >= MAX_NODE_TASK_RESTARTS || *stop.borrow() {
            tracing::error!(e2_node = %task.node_id(), restarts, %cause, "node task keeps failing; giving the node up");
            task.metrics().health.dead(task.node_id());
            task.metrics()
                .node_series
                .set_state(task.node_id(), crate::health::NodeState::Dead);
            let _ = dead.send((task.node_id().to_owned(), cause));
            return;
        }
        restarts += 1;
        let wait = backoff.next_delay().max(Duration::from_millis(10));
        tracing::error!(e2_node = %task.node_id(), restart = restarts, retry_in_ms = wait.as_millis() as u64, %cause, "node task panicked; restarting");
        task.metrics().health.restarted();
        tokio::time::sleep(wait).await;
    }
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "node task panicked".to_owned())
}

/// Waits for shutdown, or for every one of `tasks` node tasks to be given up. Returns the
/// nodes given up and the last cause, if any were.
pub(crate) async fn wait_shutdown_or_all_dead(
    shutdown: std::pin::Pin<&mut impl Future<Output = ()>>,
    mut dead_rx: mpsc::UnboundedReceiver<(String, String)>,
    tasks: usize,
) -> Option<(Vec<String>, String)> {
    let mut dead = Vec::new();
    let mut cause = String::new();
    let mut shutdown = shutdown;
    loop {
        tokio::select! {
            _ = shutdown.as_mut() => break,
            Some((node, why)) = dead_rx.recv() => {
                dead.push(node);
                cause = why;
                if dead.len() == tasks {
                    tracing::error!("every E2 node task failed; stopping");
                    break;
                }
            }
        }
    }
    while let Ok((node, why)) = dead_rx.try_recv() {
        dead.push(node);
        cause = why;
    }
    (!dead.is_empty()).then_some((dead, cause))
}
