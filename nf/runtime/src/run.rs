//! Starting, running and draining the runtime.
//!
//! Discovery (`discovery`) gives way to shutdown at every step; a run that never found a
//! node ends with an error naming the endpoint. Each node task runs under a supervisor
//! (`supervise`); a run that gave a node up ends with an error, after the drain, carrying
//! its summary.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use nf_core::features::{FeatureLayout, LayoutError};
use nf_infer::contract::{Contract, ModelKind};
use nf_infer::runtime::LoadedModel;
use nf_infer::worker::WorkerStats;
use nf_infer::{InferenceHandle, ModelId, WorkerConfig, spawn_worker};

use crate::clock::Clock;
use crate::config::RuntimeConfig;
use crate::discovery::{discover, within_node_limit};
use crate::e2::E2Error;
use crate::metrics::Metrics;
use crate::models::{ModelRegistry, SlotStart};
use crate::node::{InferCtx, NodeEvent, NodeTask, ServedPolicy};
use crate::shard::{Sharding, serve_nodes};
use crate::summary::Summary;
use crate::transport::{E2smCodec, RicTransport, TransportError};
use crate::trial::{ArmPolicy, Arms};

/// Why the runtime could not start.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The model's features are not all measurements the xApp collects.
    #[error("model contract: {0}")]
    Features(#[from] LayoutError),
    #[error(transparent)]
    E2(#[from] E2Error),
    /// The configured transport or encoding cannot start (e.g. not built yet).
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The trial's arms do not fit the models given.
    #[error("trial arms: {0}")]
    Arms(String),
    /// `metrics.listen` cannot be bound (taken, not local, no permission).
    #[error(transparent)]
    MetricsListen(#[from] crate::http::BindError),
    /// The A1 handler's state file or RMR port (`[a1]`) refused.
    #[error(transparent)]
    A1(#[from] crate::a1::A1StartError),
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

/// Waits for SIGTERM or SIGINT (both mean: drain, unsubscribe, summarise) and returns the
/// signal's name. Pending forever where signals cannot be installed. (SIGHUP reloads the
/// models when [`RuntimeConfig::reload_on_sighup`] is on; see [`crate::models`].)
pub async fn termination_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let wait = |kind: SignalKind| async move {
            match signal(kind) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(e) => {
                    tracing::warn!(cause = %e, "cannot install a signal handler");
                    std::future::pending().await
                }
            }
        };
        tokio::select! {
            _ = wait(SignalKind::terminate()) => "SIGTERM",
            _ = wait(SignalKind::interrupt()) => "SIGINT",
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
    // The inference counter of the model that answered, resolved once per model.
    let mut counted: Option<(Arc<ModelId>, prometheus_client::metrics::counter::Counter)> = None;
    spawn_worker(
        model,
        WorkerConfig {
            max_batch_rows: cfg.max_batch_rows,
            queue_depth: cfg.inference_queue,
            keep_warm: cfg.keep_warm,
            one_job_per_run: cfg.reproducible,
        },
        move |mut ctx: InferCtx, out| {
            if out.first_in_batch {
                m.batch_rows.observe(out.batch_rows as f64);
            }
            let known = matches!(&counted, Some((id, _)) if Arc::ptr_eq(id, out.model));
            if !known {
                counted = Some((out.model.clone(), m.model_inference_counter(out.model)));
            }
            if let Some((_, c)) = &counted {
                c.inc();
            }
            ctx.model = Some(out.model.clone());
            let forecasts = out
                .values
                .map(|v| v.chunks_exact(columns).map(|c| [c[0], c[1]]).collect())
                .map_err(str::to_owned);
            let reply = ctx.reply.clone();
            if let Err(e) = reply.try_send(NodeEvent::Inferred { ctx, forecasts }) {
                m.undelivered(&e);
            }
        },
    )
    .map_err(|source| RuntimeError::Start {
        what: "inference worker",
        source,
    })
}

/// Like [`run`] with several models: model `i` serves the arms whose policy is
/// `ArmPolicy::Model(i)` (model 0 alone when no trial runs). Forecasters must share one
/// feature contract; a slice policy (contract `kind = "slice_policy"`) may read other
/// features and another window.
pub async fn run_models(
    cfg: RuntimeConfig,
    models: Vec<LoadedModel>,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) -> Result<Summary, RuntimeError> {
    // Bound first: a taken port fails the run before anything starts.
    let listener = cfg.metrics_listen.map(crate::http::bind).transpose()?;
    // A transport or encoding this build lacks fails the run before anything starts.
    let mut transport = RicTransport::new(&cfg)?;
    let codec = E2smCodec::new(cfg.encoding, cfg.rc_profile)?;
    let (contract, policies) = check_models(&models)?;
    // So does an unreadable A1 state file.
    let a1 = cfg.a1.clone().map(crate::a1::prepare).transpose()?;
    let window = models
        .iter()
        .map(|m| m.contract.window())
        .chain(cfg.remote.as_ref().map(|r| r.layout.window()))
        .max()
        .unwrap_or(contract.window());
    if let Some(r) = &cfg.remote {
        metrics.placement.bind(r.model.stats().clone());
        tracing::info!(
            mode = r.mode.as_str(), endpoint = %r.model.config().endpoint,
            model = %r.id.name, version = %r.id.version, window = r.layout.window(),
            "remote forecaster configured"
        );
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
    let layout = FeatureLayout::new(&contract.feature_names(), contract.window())?
        .with_prb_counts(&contract.prb_inputs());
    if cfg.missing_inputs == nf_core::features::MissingInputs::ImputeZero {
        tracing::warn!(
            "model inputs a cell never reports are imputed as 0 (missing_inputs = impute_zero)"
        );
    }
    if cfg.report_period_ms != contract.report_period_ms {
        tracing::warn!(
            subscribed_ms = cfg.report_period_ms,
            model_ms = contract.report_period_ms,
            "report period differs from the one the model was trained on"
        );
    }
    let cfg = Arc::new(cfg);
    // O-RAN SC: the RMR endpoint, and where the Subscription Manager's notifications go.
    let notifications = transport.start(&metrics).await?;
    // The A1 handler shares the O-RAN SC transport's RMR endpoint, or binds its own.
    let a1 = match a1 {
        None => None,
        Some(prepared) => match prepared.start(&transport, &metrics).await {
            Ok(service) => Some(service),
            Err(e) => {
                transport.stop();
                return Err(e.into());
            }
        },
    };
    let mut endpoints = crate::http::XappEndpoints::default();
    if let Some(sink) = notifications {
        if listener.is_none() {
            tracing::warn!(
                "no metrics.listen: the subscription manager's notifications cannot reach the xapp"
            );
        }
        endpoints = endpoints.with_notifications(sink);
    }
    for m in &models {
        let c = &m.contract;
        metrics.model_loaded(&c.name, &c.version, &c.sha256);
    }
    let mut infer = Vec::new();
    let mut workers = Vec::new();
    let mut slots = Vec::new();
    for model in models {
        let (config, model_contract) = (model.config.clone(), model.contract.clone());
        let (h, w) = spawn_inference(model, &cfg, &metrics)?;
        slots.push(SlotStart {
            config,
            contract: model_contract,
            handle: h.clone(),
        });
        infer.push(h);
        workers.push(w);
    }
    let arm_slots = arms
        .arms
        .iter()
        .map(|a| match a.policy {
            ArmPolicy::Model(i) => (a.name.clone(), Some(i)),
            ArmPolicy::Baseline(_) => (a.name.clone(), None),
        })
        .collect();
    let registry = Arc::new(ModelRegistry::new(slots, arm_slots, metrics.clone()));
    endpoints = endpoints.with_models(registry.clone());
    let sharding = sharding(&cfg, &mut endpoints);
    let http = spawn_http(listener, &metrics, endpoints)?;
    let sighup = cfg
        .reload_on_sighup
        .then(|| tokio::spawn(crate::models::reload_on_sighup(registry.clone())));
    let worker_stats: Vec<_> = infer.iter().map(|h| h.stats().clone()).collect();

    let clock = Clock::new();
    let mut shutdown = std::pin::pin!(shutdown);

    let mut lister = transport.clone();
    let nodes = match discover(&mut lister, &codec, &cfg, &metrics, shutdown.as_mut()).await {
        Ok(nodes) => nodes,
        Err(e) => {
            if let Some(h) = &http {
                h.abort();
            }
            if let Some(h) = &sighup {
                h.abort();
            }
            if let Some(a) = &a1 {
                a.stop();
            }
            transport.stop();
            drop(infer);
            registry.close();
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
            NodeTask {
                node: node.clone(),
                transport: transport.clone(),
                // Under asn1-per each node has its own E2SM-KPM version and RC profile.
                codec: {
                    let n = cfg.osc.node(&node.id);
                    let version = n
                        .and_then(|n| n.kpm_version)
                        .or(transport.kpm_version(&node.id));
                    codec.for_node(version, n.and_then(|n| n.rc_profile))
                },
                cfg: cfg.clone(),
                layout: layout.clone(),
                window,
                default_prbs: contract.cell_prbs as f32,
                prb_scaling: contract.prb_scaling,
                infer: infer.clone(),
                policies: policies.clone(),
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
                a1: a1.as_ref().map(crate::a1::A1Service::policy),
            }
        })
        .collect();
    drop(infer);

    let dead = serve_nodes(tasks, sharding, &metrics, shutdown).await;
    if let Some(h) = &sighup {
        h.abort();
    }
    registry.close();
    join_workers(workers).await;
    if let Some(a) = &a1 {
        a.stop();
    }
    transport.stop();
    if let Some(log) = &cfg.decision_log {
        let lines = log.close();
        tracing::info!(lines, "decision log written");
    }

    let mut summary = Summary::from_metrics(&metrics);
    summary.nodes = nodes.len();
    summary.cells = cells;
    if let Some(h) = http {
        h.abort();
    }
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

/// Per model: its slice-policy view, `None` for a forecaster.
type Policies = Arc<[Option<ServedPolicy>]>;

/// Checks that the models can serve one cell table: forecasters share one feature contract
/// (slice policies may read other features; windows may differ, the table keeps the
/// longest and each model reads its own tail). Returns the contract the
/// forecasters' rows follow (the first forecaster's, else the first model's) and each
/// model's slice-policy view.
fn check_models(models: &[LoadedModel]) -> Result<(Contract, Policies), RuntimeError> {
    let Some(first) = models.first() else {
        return Err(RuntimeError::Arms("no model given".into()));
    };
    let forecaster = models
        .iter()
        .find(|m| m.contract.kind == ModelKind::Forecaster)
        .unwrap_or(first);
    let contract = forecaster.contract.clone();
    let mut policies = Vec::with_capacity(models.len());
    for m in models {
        let c = &m.contract;
        if c.kind == ModelKind::Forecaster && c.feature_names() != contract.feature_names() {
            return Err(RuntimeError::Arms(format!(
                "model {} reads other features than model {}: forecaster arms must share one feature contract",
                c.name, contract.name
            )));
        }
        let policy = ServedPolicy::of(c)?;
        if let Some(p) = &policy {
            tracing::info!(model = %c.name, slices = %p.slices_text(), "slice policy serves its arms");
        }
        policies.push(policy);
    }
    Ok((contract, policies.into()))
}

async fn join_workers(workers: Vec<std::thread::JoinHandle<()>>) {
    let _ = tokio::task::spawn_blocking(move || {
        for w in workers {
            let _ = w.join();
        }
    })
    .await;
}

/// Runs the interference xApp (see [`crate::mobility`]) against the E2T of `cfg` with the
/// interference `model` until `shutdown` completes, then drains (inferences in flight are
/// decided, control outcomes awaited, subscriptions deleted) and returns its summary.
/// Discovery, transports, the HTTP endpoint, supervision and the drain are the slice
/// pipeline's.
pub async fn run_interference(
    cfg: RuntimeConfig,
    icfg: crate::mobility::InterferenceConfig,
    model: LoadedModel,
    metrics: Arc<Metrics>,
    log: Option<Arc<crate::mobility::MobilityLog>>,
    shutdown: impl Future<Output = ()>,
) -> Result<crate::mobility::MobilitySummary, RuntimeError> {
    use crate::mobility::{MobCtx, MobEvent, MobTask};

    if model.contract.kind != ModelKind::Interference {
        return Err(RuntimeError::Arms(format!(
            "model {} is a {} model; the interference xApp serves kind = \"interference\"",
            model.contract.name,
            model.contract.kind.as_str()
        )));
    }
    let listener = cfg.metrics_listen.map(crate::http::bind).transpose()?;
    let mut transport = RicTransport::new(&cfg)?;
    let codec = E2smCodec::new(cfg.encoding, cfg.rc_profile)?;
    let gate = icfg
        .conflict
        .as_ref()
        .map(|c| Arc::new(crate::conflict::Gate::new(c.clone(), &metrics)));
    let cfg = Arc::new(cfg);
    let icfg = Arc::new(icfg);
    let notifications = transport.start(&metrics).await?;
    let mut endpoints = crate::http::XappEndpoints::default();
    if let Some(sink) = notifications {
        endpoints = endpoints.with_notifications(sink);
    }
    let sharding = sharding(&cfg, &mut endpoints);
    {
        let c = &model.contract;
        metrics.model_loaded(&c.name, &c.version, &c.sha256);
    }
    let m = metrics.clone();
    let mut counted: Option<(Arc<ModelId>, prometheus_client::metrics::counter::Counter)> = None;
    let (infer, worker) = spawn_worker(
        model,
        WorkerConfig {
            max_batch_rows: cfg.max_batch_rows,
            queue_depth: cfg.inference_queue,
            keep_warm: None,
            one_job_per_run: cfg.reproducible,
        },
        move |ctx: MobCtx, out| {
            if out.first_in_batch {
                m.batch_rows.observe(out.batch_rows as f64);
            }
            if !matches!(&counted, Some((id, _)) if Arc::ptr_eq(id, out.model)) {
                counted = Some((out.model.clone(), m.model_inference_counter(out.model)));
            }
            if let Some((_, c)) = &counted {
                c.inc();
            }
            let out = out.values.map(<[f32]>::to_vec).map_err(str::to_owned);
            let reply = ctx.reply.clone();
            if let Err(e) = reply.try_send(MobEvent::Inferred { ctx, out }) {
                m.undelivered(&e);
            }
        },
    )
    .map_err(|source| RuntimeError::Start {
        what: "inference worker",
        source,
    })?;
    let http = spawn_http(listener, &metrics, endpoints)?;
    let stats = infer.stats().clone();
    let clock = Clock::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut lister = transport.clone();
    let nodes = match discover(&mut lister, &codec, &cfg, &metrics, shutdown.as_mut()).await {
        Ok(nodes) => nodes,
        Err(e) => {
            if let Some(h) = &http {
                h.abort();
            }
            transport.stop();
            drop(infer);
            join_workers(vec![worker]).await;
            return Err(e);
        }
    };
    let nodes = within_node_limit(nodes, cfg.max_e2_nodes, &metrics);
    metrics.health.discovered(nodes.len());
    let cells: usize = nodes.iter().map(|n| n.cells.len()).sum();
    tracing::info!(nodes = nodes.len(), cells, endpoint = %cfg.e2t_endpoint, "E2 nodes discovered");
    let tasks: Vec<_> = nodes
        .iter()
        .map(|node| {
            let n = cfg.osc.node(&node.id);
            let version = n
                .and_then(|n| n.kpm_version)
                .or(transport.kpm_version(&node.id));
            MobTask {
                node: node.clone(),
                transport: transport.clone(),
                codec: codec.for_node(version, n.and_then(|n| n.rc_profile)),
                cfg: cfg.clone(),
                icfg: icfg.clone(),
                infer: infer.clone(),
                metrics: metrics.clone(),
                clock,
                log: log.clone(),
                gate: gate.clone(),
            }
        })
        .collect();
    drop(infer);

    let dead = serve_nodes(tasks, sharding, &metrics, shutdown).await;
    join_workers(vec![worker]).await;
    transport.stop();
    if let Some(log) = &log {
        let lines = log.close();
        tracing::info!(lines, "decision log written");
    }
    if let Some(h) = http {
        h.abort();
    }
    let batches = stats.batches.load(Ordering::Relaxed);
    let mut summary = crate::mobility::MobilitySummary::from_metrics(&metrics);
    summary.nodes = nodes.len();
    summary.cells = cells;
    summary.inference_batches = batches;
    summary.mean_batch_rows = stats.rows.load(Ordering::Relaxed) as f64 / batches.max(1) as f64;
    match dead {
        None => Ok(summary),
        Some((nodes, cause)) => {
            let mut s = Summary::from_metrics(&metrics);
            s.nodes = summary.nodes;
            s.cells = summary.cells;
            Err(RuntimeError::NodeTasksFailed {
                nodes,
                cause,
                summary: Box::new(s),
            })
        }
    }
}

/// This replica's sharding (`cfg.shard`), its report served on `endpoints`.
fn sharding(cfg: &RuntimeConfig, endpoints: &mut crate::http::XappEndpoints) -> Option<Sharding> {
    let s = Sharding::new(cfg.shard.clone()?, cfg.app_id.clone());
    *endpoints = std::mem::take(endpoints).with_shard(s.reports());
    Some(s)
}

/// Serves metrics, health and the xApp endpoints on `listener`, if one was given.
fn spawn_http(
    listener: Option<std::net::TcpListener>,
    metrics: &Arc<Metrics>,
    endpoints: crate::http::XappEndpoints,
) -> Result<Option<tokio::task::JoinHandle<()>>, RuntimeError> {
    listener
        .map(|l| {
            crate::http::spawn_with(
                l,
                metrics.clone(),
                crate::http::HttpLimits::default(),
                endpoints,
            )
            .map_err(|source| RuntimeError::Start {
                what: "metrics endpoint",
                source,
            })
        })
        .transpose()
}
