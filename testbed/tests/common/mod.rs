//! Harness shared by the integration tests: a real E2T simulator on loopback, the real
//! xApp runtime with the shipped ONNX model on onnxruntime, both in one process.

#![allow(clippy::unwrap_used)]
#![allow(dead_code)]

pub mod radio;
pub mod xapp_proc;

use std::sync::Arc;
use std::time::Duration;

use nf_runtime::metrics::Metrics;
use nf_runtime::{RuntimeConfig, Summary};
use testbed::sim::{RunningSim, Sim, SimConfig};
use testbed::trace;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use testbed::shipped::forecaster as model;

pub fn sim(cfg: SimConfig) -> Arc<Sim> {
    Sim::new(
        cfg,
        trace::read_cells(&trace::bundled_root()).expect("bundled traces"),
    )
}

/// Runtime settings for tests: fast reconnects, no metrics endpoint.
pub fn xapp_config(addr: std::net::SocketAddr) -> RuntimeConfig {
    let mut cfg = RuntimeConfig::local(format!("http://{addr}"));
    cfg.backoff.initial = Duration::from_millis(20);
    cfg.backoff.max = Duration::from_millis(200);
    // Replays run 25× faster than the 250 ms report period.
    cfg.stale_after_ms = 2_000;
    cfg.guard.max_controls_per_cell_per_sec = 50;
    cfg
}

/// A running xApp.
pub struct Xapp {
    pub metrics: Arc<Metrics>,
    stop: oneshot::Sender<()>,
    join: JoinHandle<Result<Summary, nf_runtime::RuntimeError>>,
}

impl Xapp {
    pub fn start(cfg: RuntimeConfig) -> Self {
        let metrics = Arc::new(Metrics::new());
        let (stop, rx) = oneshot::channel();
        let join = tokio::spawn(nf_runtime::run(cfg, model(), metrics.clone(), async move {
            let _ = rx.await;
        }));
        Self {
            metrics,
            stop,
            join,
        }
    }

    pub async fn stop(self) -> Summary {
        let _ = self.stop.send(());
        self.join.await.expect("runtime task").expect("runtime ran")
    }
}

pub async fn start_sim(cfg: SimConfig) -> RunningSim {
    RunningSim::bind(sim(cfg), 0).await.expect("bind loopback")
}

pub use testbed::poll::wait_for;

pub fn fast() -> SimConfig {
    SimConfig {
        nodes: 2,
        cells_per_node: 4,
        speed: 25.0,
        ..SimConfig::default()
    }
}
