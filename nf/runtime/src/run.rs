//! Starting, running and draining the runtime.
//!
//! Discovery retries with backoff until the E2T lists a KPM node, giving way to shutdown
//! at every step; a run that never reached the E2T ends with an error naming the endpoint.
//! Nodes past `max_e2_nodes` are refused by name. Each node task runs under a supervisor
//! that restarts a panicked task with backoff (at most [`MAX_NODE_TASK_RESTARTS`] times),
//! then gives the node up; a run that gave a node up ends with an error, after the drain.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use nf_core::features::{FeatureLayout, LayoutError};
use nf_core::latency::LatencyHistogram;
use nf_infer::runtime::LoadedModel;
use nf_infer::worker::WorkerStats;
use nf_infer::{InferenceHandle, WorkerConfig, spawn_worker};
use tokio::sync::{mpsc, watch};

use crate::clock::Clock;
use crate::config::RuntimeConfig;
use crate::e2::{Backoff, Discovery, E2Client, E2Error, E2Node};
use crate::metrics::Metrics;
use crate::node::{InferCtx, NodeEvent, NodeReport, NodeTask};
use crate::summary::Summary;
use crate::trial::{ArmPolicy, Arms};

/// Why the runtime could not start.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The model's features are not all measurements the xApp collects.
    #[error("model contract: {0}")]
    Features(#[from] LayoutError),
    #[error(transparent)]
    E2(#[from] E2Error),
    /// The trial's arms do not fit the models given.
    #[error("trial arms: {0}")]
    Arms(String),
    #[error("cannot start {what}: {source}")]
    Start {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// Shutdown came before the E2T ever answered discovery.
    #[error("E2T {endpoint} never answered E2 node discovery ({attempts} attempts): {last}")]
    E2tUnreachable {
        endpoint: String,
        attempts: u32,
        #[source]
        last: E2Error,
    },
    /// The E2T answered, but never listed an E2 node offering KPM.
    #[error("E2T {endpoint} listed no E2 node offering KPM ({attempts} attempts)")]
    NoE2Nodes { endpoint: String, attempts: u32 },
    /// Node tasks kept failing and their nodes were given up; the run's summary is kept.
    #[error("{} E2 node task(s) failed and were given up ({}): {cause}", nodes.len(), nodes.join(", "))]
    NodeTasksFailed {
        nodes: Vec<String>,
        /// The last failure (a panic message).
        cause: String,
        summary: Box<Summary>,
    },
}

impl RuntimeError {
    /// The summary of a run that ended in this error after serving, if any.
    pub fn summary(&self) -> Option<&Summary> {
        match self {
            Self::NodeTasksFailed { summary, .. } => Some(summary),
            _ => None,
        }
    }
}

/// Restarts of one node task after panics before its node is given up.
pub const MAX_NODE_TASK_RESTARTS: u32 = 5;

/// Waits for SIGTERM, SIGINT or SIGHUP (all of them mean: drain, unsubscribe, summarise)
/// and returns the signal's name. Pending forever where signals cannot be installed.
pub async fn termination_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let wait = |kind: SignalKind| async move {
            match signal(kind) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = wait(SignalKind::terminate()) => "SIGTERM",
            _ = wait(SignalKind::interrupt()) => "SIGINT",
            _ = wait(SignalKind::hangup()) => "SIGHUP",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "SIGINT"
    }
}

/// Runs the xApp against the E2T of `cfg` with `model` until `shutdown` completes, then
/// drains (in-flight decisions go out, subscriptions are deleted) and returns the summary.
pub async fn run(
    cfg: RuntimeConfig,
    model: LoadedModel,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) -> Result<Summary, RuntimeError> {
    run_models(cfg, vec![model], metrics, shutdown).await
}

fn spawn_inference(
    model: LoadedModel,
    cfg: &RuntimeConfig,
    metrics: &Arc<Metrics>,
) -> Result<(InferenceHandle<InferCtx>, std::thread::JoinHandle<()>), RuntimeError> {
    let columns = model.contract.output_columns();
    let m = metrics.clone();
    spawn_worker(
        model,
        WorkerConfig {
            max_batch_rows: cfg.max_batch_rows,
            queue_depth: cfg.inference_queue,
            keep_warm: cfg.keep_warm,
            one_job_per_run: cfg.reproducible,
        },
        move |ctx: InferCtx, out| {
            if out.first_in_batch {
                m.batch_rows.observe(out.batch_rows as f64);
            }
            let forecasts = out
                .values
                .map(|v| v.chunks_exact(columns).map(|c| [c[0], c[1]]).collect())
                .map_err(str::to_owned);
            let reply = ctx.reply.clone();
            // A closed queue means the node task has stopped (shutdown): nothing to count.
            if let Err(tokio::sync::mpsc::error::TrySendError::Full(_)) =
                reply.try_send(NodeEvent::Inferred { ctx, forecasts })
            {
                Metrics::inc(&m.dropped, "reply_queue_full");
            }
        },
    )
    .map_err(|source| RuntimeError::Start {
        what: "inference worker",
        source,
    })
}

/// Like [`run`] with several models: model `i` serves the arms whose policy is
/// `ArmPolicy::Model(i)` (model 0 alone when no trial runs). Every model must have the
/// same feature contract.
pub async fn run_models(
    cfg: RuntimeConfig,
    models: Vec<LoadedModel>,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) -> Result<Summary, RuntimeError> {
    let Some(first) = models.first() else {
        return Err(RuntimeError::Arms("no model given".into()));
    };
    let contract = first.contract.clone();
    for m in &models[1..] {
        if m.contract.feature_names() != contract.feature_names()
            || m.contract.window() != contract.window()
        {
            return Err(RuntimeError::Arms(format!(
                "model {} reads other features than model {}: arms must share one feature contract",
                m.contract.name, contract.name
            )));
        }
    }
    let arms = Arc::new(match &cfg.trial {
        Some(t) => Arms::trial(t.clone()),
        None => Arms::single(cfg.policy),
    });
    for a in &arms.arms {
        if let ArmPolicy::Model(i) = a.policy
            && i >= models.len()
        {
            return Err(RuntimeError::Arms(format!(
                "arm {} names model {i}, only {} loaded",
                a.name,
                models.len()
            )));
        }
    }
    let layout = FeatureLayout::new(&contract.feature_names(), contract.window())?;
    if cfg.report_period_ms != contract.report_period_ms {
        tracing::warn!(
            subscribed_ms = cfg.report_period_ms,
            model_ms = contract.report_period_ms,
            "report period differs from the one the model was trained on"
        );
    }
    let cfg = Arc::new(cfg);
    if let Some(addr) = cfg.metrics_listen {
        let m = metrics.clone();
        tokio::spawn(async move {
            if let Err(e) = crate::metrics::serve(m, addr).await {
                tracing::error!(cause = %e, %addr, "metrics endpoint stopped");
            }
        });
    }
    let mut infer = Vec::new();
    let mut workers = Vec::new();
    for model in models {
        let (h, w) = spawn_inference(model, &cfg, &metrics)?;
        infer.push(h);
        workers.push(w);
    }
    let worker_stats: Vec<_> = infer.iter().map(|h| h.stats().clone()).collect();

    let client = E2Client::new(
        &cfg.e2t_endpoint,
        &cfg.app_id,
        &cfg.app_instance_id,
        cfg.max_message_bytes,
    )?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let (dead_tx, dead_rx) = mpsc::unbounded_channel();
    let clock = Clock::new();
    let mut shutdown = std::pin::pin!(shutdown);

    let mut lister = client.clone();
    let nodes = match discover(&mut lister, &cfg, &metrics, shutdown.as_mut()).await {
        Ok(nodes) => nodes,
        Err(e) => {
            drop(infer);
            join_workers(workers).await;
            return Err(e);
        }
    };
    let nodes = within_node_limit(nodes, cfg.max_e2_nodes, &metrics);
    metrics.health.discovered(nodes.len());
    let cells: usize = nodes.iter().map(|n| n.cells.len()).sum();
    tracing::info!(nodes = nodes.len(), cells, endpoint = %cfg.e2t_endpoint, "E2 nodes discovered");
    let arm_metrics: Arc<[_]> = arms.arms.iter().map(|a| metrics.arm(&a.name)).collect();
    let tasks: Vec<_> = nodes
        .iter()
        .map(|node| {
            let task = NodeTask {
                node: node.clone(),
                client: client.clone(),
                cfg: cfg.clone(),
                layout: layout.clone(),
                default_prbs: contract.cell_prbs as f32,
                infer: infer.clone(),
                arms: arms.clone(),
                arm_metrics: arm_metrics.clone(),
                log: cfg.decision_log.clone(),
                metrics: metrics.clone(),
                clock,
                layouts: node
                    .cells
                    .iter()
                    .map(|c| (c.cell, e2_proto::kpm::layout(&c.slices)))
                    .collect(),
            };
            tokio::spawn(supervise(task, stop_rx.clone(), dead_tx.clone()))
        })
        .collect();
    drop(infer);
    drop(dead_tx);

    let dead = wait_shutdown_or_all_dead(shutdown, dead_rx, tasks.len()).await;
    tracing::info!("shutting down: draining decisions and unsubscribing");
    let _ = stop_tx.send(true);
    let mut inference = LatencyHistogram::new();
    let mut decision = LatencyHistogram::new();
    let mut rtt = LatencyHistogram::new();
    for t in tasks {
        if let Ok(Some(report)) = t.await {
            inference.merge(&report.inference_latency);
            decision.merge(&report.decision_latency);
            rtt.merge(&report.control_rtt);
        }
    }
    join_workers(workers).await;
    if let Some(log) = &cfg.decision_log {
        let lines = log.close();
        tracing::info!(lines, "decision log written");
    }

    let mut summary = Summary::from_metrics(&metrics);
    summary.nodes = nodes.len();
    summary.cells = cells;
    summary.inference_latency = inference.percentiles();
    summary.decision_latency = decision.percentiles();
    summary.control_rtt = rtt.percentiles();
    let sum = |f: fn(&WorkerStats) -> &std::sync::atomic::AtomicU64| -> u64 {
        worker_stats
            .iter()
            .map(|w| f(w).load(Ordering::Relaxed))
            .sum()
    };
    let batches = sum(|w| &w.batches);
    summary.inference_batches = batches;
    summary.mean_batch_rows = sum(|w| &w.rows) as f64 / batches.max(1) as f64;
    summary.mean_batch_run_us = sum(|w| &w.run_ns) as f64 / 1e3 / batches.max(1) as f64;
    summary.rolled_back = arms.rolled_back();
    match dead {
        None => Ok(summary),
        Some((nodes, cause)) => Err(RuntimeError::NodeTasksFailed {
            nodes,
            cause,
            summary: Box::new(summary),
        }),
    }
}

/// Lists the E2 nodes, retrying with backoff until at least one offers KPM. Entries the
/// E2T got wrong are counted and named; shutdown ends the wait with an error naming the
/// endpoint.
async fn discover(
    lister: &mut E2Client,
    cfg: &RuntimeConfig,
    metrics: &Metrics,
    mut shutdown: std::pin::Pin<&mut impl Future<Output = ()>>,
) -> Result<Vec<E2Node>, RuntimeError> {
    let mut backoff = Backoff::new(cfg.backoff);
    let mut attempts = 0;
    let mut answered = false;
    let mut last = None;
    loop {
        attempts += 1;
        let listed = tokio::select! {
            r = lister.list_nodes(cfg.discovery_timeout) => Some(r),
            _ = shutdown.as_mut() => None,
        };
        match listed {
            Some(Ok(d)) => {
                answered = true;
                metrics.health.reached();
                if let Some(nodes) = accept_discovery(d, metrics) {
                    return Ok(nodes);
                }
            }
            Some(Err(e)) => {
                Metrics::inc(&metrics.e2_failures, discovery_reason(&e));
                tracing::warn!(cause = %e, endpoint = %cfg.e2t_endpoint, "E2 node discovery failed");
                last = Some(e);
            }
            None => return Err(never_discovered(cfg, attempts, last, answered)),
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff.next_delay()) => {}
            _ = shutdown.as_mut() => return Err(never_discovered(cfg, attempts, last, answered)),
        }
    }
}

fn discovery_reason(e: &E2Error) -> &'static str {
    match e {
        E2Error::Timeout { .. } => "discovery_timeout",
        _ => "discovery_failed",
    }
}

/// The error of a run that ended before discovery found a node: unreachable when the E2T
/// never answered at all.
fn never_discovered(
    cfg: &RuntimeConfig,
    attempts: u32,
    last: Option<E2Error>,
    answered: bool,
) -> RuntimeError {
    let endpoint = cfg.e2t_endpoint.clone();
    match last {
        Some(last) if !answered => RuntimeError::E2tUnreachable {
            endpoint,
            attempts,
            last,
        },
        _ => RuntimeError::NoE2Nodes { endpoint, attempts },
    }
}

/// Counts and names what discovery skipped; the nodes, if there are any.
fn accept_discovery(d: Discovery, metrics: &Metrics) -> Option<Vec<E2Node>> {
    for s in &d.skipped {
        Metrics::inc(&metrics.e2_failures, s.reason);
        tracing::warn!(e2_node = %s.node, reason = s.reason, detail = %s.detail, "E2 node entry skipped");
    }
    if let Some((reason, detail)) = &d.cut_short {
        Metrics::inc(&metrics.e2_failures, reason);
        tracing::warn!(reason, %detail, kept = d.nodes.len(), "E2 node list cut short; keeping the nodes read");
    }
    if d.nodes.is_empty() {
        tracing::warn!("E2T lists no E2 node offering KPM yet");
        return None;
    }
    Some(d.nodes)
}

/// The first `limit` nodes; the others are refused by name and counted.
fn within_node_limit(mut nodes: Vec<E2Node>, limit: usize, metrics: &Metrics) -> Vec<E2Node> {
    if nodes.len() > limit {
        for n in &nodes[limit..] {
            Metrics::inc(&metrics.e2_failures, "node_limit");
            tracing::warn!(e2_node = %n.id, limit, "E2 node refused: over max_e2_nodes");
        }
        nodes.truncate(limit);
    }
    nodes
}

/// Runs a node task, restarting it with backoff when it panics; after
/// [`MAX_NODE_TASK_RESTARTS`] restarts the node is given up and reported on `dead`.
/// Returns the task's report, or `None` when it was given up.
async fn supervise(
    task: NodeTask,
    stop: watch::Receiver<bool>,
    dead: mpsc::UnboundedSender<(String, String)>,
) -> Option<NodeReport> {
    let mut backoff = Backoff::new(task.cfg.backoff);
    let mut restarts = 0;
    loop {
        let cause = match tokio::spawn(task.clone().run(stop.clone())).await {
            Ok(report) => return Some(report),
            Err(e) if e.is_panic() => panic_message(e.into_panic()),
            Err(_) => "node task cancelled".to_owned(),
        };
        Metrics::inc(&task.metrics.e2_failures, "node_task_panic");
        if restarts >= MAX_NODE_TASK_RESTARTS || *stop.borrow() {
            tracing::error!(e2_node = %task.node.id, restarts, %cause, "node task keeps failing; giving the node up");
            task.metrics.health.dead(&task.node.id);
            let _ = dead.send((task.node.id.clone(), cause));
            return None;
        }
        restarts += 1;
        let wait = backoff.next_delay().max(Duration::from_millis(10));
        tracing::error!(e2_node = %task.node.id, restart = restarts, retry_in_ms = wait.as_millis() as u64, %cause, "node task panicked; restarting");
        task.metrics.health.restarted();
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
async fn wait_shutdown_or_all_dead(
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

async fn join_workers(workers: Vec<std::thread::JoinHandle<()>>) {
    let _ = tokio::task::spawn_blocking(move || {
        for w in workers {
            let _ = w.join();
        }
    })
    .await;
}
