//! Placement of a forecaster's inference per tick: edge-first, with a remote model served
//! over the Open Inference Protocol ([`nf_oip::RemoteModel`]) where it fits.
//!
//! The local model always runs and always produces a decision in time. With a remote model
//! configured, the acting forecaster arm may also ask it, concurrently, for the same cell:
//!
//! | mode | remote asked | decision uses |
//! |---|---|---|
//! | `local` | never | local |
//! | `remote_first` | every tick with budget left past the margin | remote if it answers, valid, before `remaining budget − margin`; else local |
//! | `hybrid` | when the remote's tracked latency quantile + margin fits the remaining budget | as `remote_first` |
//! | `shadow` | every tick | local; the remote's output goes into the decision log |
//!
//! A remote answer is checked like a local one (`nf_core::policy::check_outputs`: rows,
//! finite, within the cell's PRBs) before use. An answer that comes after the decision
//! stopped waiting is counted `late_discarded`, never applied. Every remote call ends in
//! exactly one `xapp_remote_inference_total{result}` count, and every decision that wanted
//! the remote and used the local model in `xapp_remote_fallback_total{reason}`.
//!
//! [`plan`] (pure: time and the tracked quantile passed in) decides whether a tick asks.
//!
//! **Batching** (`placement.batch_window_us`, off at 0): the asks of all cells and nodes
//! that come within the window of the first go to the server as one `ModelInfer` (up to
//! `remote_model.max_batch_rows` rows), and each decision gets its own rows of the answer.
//! The wait is taken from the decision's own budget like any remote latency. The client's
//! own counts of the `ModelInfer` requests it sent and their rows
//! ([`nf_oip::RemoteStats`]) are exported as `xapp_remote_model_requests_total` and
//! `xapp_remote_model_rows_total`: the request count is what a per-request price bills.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use nf_core::features::FeatureLayout;
use nf_infer::ModelId;
use nf_infer::contract::{ModelKind, PrbScaling};
use nf_oip::{OipError, RemoteModel, RemoteOutput};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Default of `placement.margin_ms`.
pub const DEFAULT_MARGIN_MS: u64 = 2;

/// Where a forecaster's inference runs (`placement.mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlacementMode {
    /// The local model only (no remote call).
    #[default]
    Local,
    /// The remote answer when it comes within the budget, else the local one.
    RemoteFirst,
    /// The remote only when its tracked latency fits the remaining budget.
    Hybrid,
    /// The remote computed and logged, never used.
    Shadow,
}

impl PlacementMode {
    pub const ALL: [PlacementMode; 4] = [
        PlacementMode::Local,
        PlacementMode::RemoteFirst,
        PlacementMode::Hybrid,
        PlacementMode::Shadow,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PlacementMode::Local => "local",
            PlacementMode::RemoteFirst => "remote_first",
            PlacementMode::Hybrid => "hybrid",
            PlacementMode::Shadow => "shadow",
        }
    }
}

/// Results of `xapp_remote_inference_total{result}`: the client's error kinds
/// ([`nf_oip::error::KINDS`]) and these.
pub const RESULTS: &[&str] = &[
    // Answered in time, valid: the decision could use it (or, in shadow, logged it).
    "ok",
    // Answered after the decision stopped waiting: counted, never applied.
    "late_discarded",
    // Not asked: the remote's tracked latency (hybrid) or the budget left did not fit.
    "skipped_budget",
    // Not asked: the cell's size or inputs do not suit the remote model's contract.
    "skipped_cell",
    // hybrid, while skipping: one call per PROBE_INTERVAL to refresh the tracked latency;
    // answered (never used).
    "probe",
];

/// How often `hybrid` sends one tick's rows anyway while it skips the remote.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// Reasons of `xapp_remote_fallback_total{reason}` besides the client's error kinds: a
/// decision that wanted the remote model's answer and used the local one.
pub const FALLBACKS: &[&str] = &["late", "skipped_budget", "skipped_cell", "bad_output"];

/// The labels of `xapp_inference_placement_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PlacementLabels {
    /// `local` or `remote`: whose answer the decision used.
    pub placement: &'static str,
    pub mode: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: &'static str,
}

/// `xapp_inference_placement_total{placement,mode}`, `xapp_remote_inference_total{result}`,
/// `xapp_remote_fallback_total{reason}`, `xapp_remote_inference_latency_seconds`.
#[derive(Debug)]
pub struct PlacementMetrics {
    pub placed: Family<PlacementLabels, Counter>,
    pub results: Family<ResultLabel, Counter>,
    pub fallbacks: Family<ReasonLabel, Counter>,
    /// Every remote call the server answered or let run out (calls that found no server
    /// are not latencies), in seconds.
    pub latency: Histogram,
    /// Shadow answers whose decision's log line was already written (hold the log longer
    /// than `remote_model.deadline_ms` to keep them).
    pub shadow_unlogged: Counter,
    /// The remote model's own request and row counts, read at each scrape.
    remote_calls: RemoteCalls,
}

/// `xapp_remote_model_requests_total` and `xapp_remote_model_rows_total`, read from the
/// client's counters (it counts each `ModelInfer` it sends, a split batch as several): zero
/// until a remote model is bound.
#[derive(Clone, Debug, Default)]
struct RemoteCalls(Arc<std::sync::OnceLock<Arc<nf_oip::RemoteStats>>>);

impl RemoteCalls {
    fn counts(&self) -> (u64, u64) {
        self.0.get().map_or((0, 0), |s| (s.calls(), s.rows()))
    }
}

impl prometheus_client::collector::Collector for RemoteCalls {
    fn encode(&self, mut enc: prometheus_client::encoding::DescriptorEncoder) -> std::fmt::Result {
        use prometheus_client::encoding::EncodeMetric;
        use prometheus_client::metrics::counter::ConstCounter;
        let (requests, rows) = self.counts();
        for (name, help, v) in [
            (
                "remote_model_requests",
                "ModelInfer requests sent to the remote model (one batch of decisions is one request)",
                requests,
            ),
            ("remote_model_rows", "Rows sent to the remote model", rows),
        ] {
            let c = ConstCounter::new(v);
            c.encode(enc.encode_descriptor(name, help, None, c.metric_type())?)?;
        }
        Ok(())
    }
}

impl Default for PlacementMetrics {
    fn default() -> Self {
        let m = Self {
            placed: Family::default(),
            results: Family::default(),
            fallbacks: Family::default(),
            latency: Histogram::new(exponential_buckets(250e-6, 2.0, 16)),
            shadow_unlogged: Counter::default(),
            remote_calls: RemoteCalls::default(),
        };
        for mode in PlacementMode::ALL {
            for placement in ["local", "remote"] {
                drop(m.placed.get_or_create(&PlacementLabels {
                    placement,
                    mode: mode.as_str(),
                }));
            }
        }
        for result in RESULTS.iter().chain(nf_oip::error::KINDS.iter()) {
            drop(m.results.get_or_create(&ResultLabel { result }));
        }
        for reason in FALLBACKS.iter().chain(nf_oip::error::KINDS.iter()) {
            drop(m.fallbacks.get_or_create(&ReasonLabel { reason }));
        }
        m
    }
}

impl PlacementMetrics {
    pub(crate) fn register(&self, r: &mut Registry) {
        r.register(
            "inference_placement",
            "Forecaster decisions by whose answer they used (local or remote model) and placement mode",
            self.placed.clone(),
        );
        r.register(
            "remote_inference",
            "Remote model calls (and ticks that did not ask) by result",
            self.results.clone(),
        );
        r.register(
            "remote_fallback",
            "Decisions that wanted the remote model's answer and used the local one, by reason",
            self.fallbacks.clone(),
        );
        r.register(
            "remote_inference_latency_seconds",
            "Latency of remote model calls the server answered or let run out",
            self.latency.clone(),
        );
        r.register(
            "remote_shadow_unlogged",
            "Shadow remote answers that came after their decision's log line was written",
            self.shadow_unlogged.clone(),
        );
        r.register_collector(Box::new(self.remote_calls.clone()));
    }

    pub fn placed(&self, placement: &'static str, mode: PlacementMode) {
        self.placed
            .get_or_create(&PlacementLabels {
                placement,
                mode: mode.as_str(),
            })
            .inc();
    }

    /// Exports `stats` (the remote model's own counters) as the request and row counts;
    /// the first model bound stays (one remote model per process).
    pub fn bind(&self, stats: Arc<nf_oip::RemoteStats>) {
        let _ = self.remote_calls.0.set(stats);
    }

    /// `ModelInfer` requests sent to the bound remote model.
    pub fn requests(&self) -> u64 {
        self.remote_calls.counts().0
    }

    /// Rows sent in them.
    pub fn rows(&self) -> u64 {
        self.remote_calls.counts().1
    }

    pub fn result(&self, result: &'static str) {
        self.results.get_or_create(&ResultLabel { result }).inc();
    }

    pub fn fallback(&self, reason: &'static str) {
        self.fallbacks.get_or_create(&ReasonLabel { reason }).inc();
    }

    /// Count of `result` (tests, the benches).
    pub fn result_count(&self, result: &'static str) -> u64 {
        self.results.get_or_create(&ResultLabel { result }).get()
    }

    /// Count of `reason` (tests, the benches).
    pub fn fallback_count(&self, reason: &'static str) -> u64 {
        self.fallbacks.get_or_create(&ReasonLabel { reason }).get()
    }

    /// Decisions placed on `placement` in `mode` (tests, the benches).
    pub fn placed_count(&self, placement: &'static str, mode: PlacementMode) -> u64 {
        self.placed
            .get_or_create(&PlacementLabels {
                placement,
                mode: mode.as_str(),
            })
            .get()
    }
}

/// Which quantile of the remote's recent latency `hybrid` compares with the budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Quantile {
    P95,
    #[default]
    P99,
}

impl Quantile {
    pub fn value(self) -> f64 {
        match self {
            Quantile::P95 => 0.95,
            Quantile::P99 => 0.99,
        }
    }
}

/// What a tick does about the remote model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Not asked.
    Off,
    /// Not asked although the mode wanted it (`skipped_budget`).
    Skip(&'static str),
    /// Asked; the decision waits for it at most `wait` (`None`: shadow, never waits).
    Ask { wait: Option<Duration> },
}

/// Whether a tick with `remaining` budget asks the remote model in `mode`, whose tracked
/// latency quantile is `tracked` (`None` before its first answer: asked, to learn it).
pub fn plan(
    mode: PlacementMode,
    remaining: Duration,
    margin: Duration,
    tracked: Option<Duration>,
) -> Plan {
    let wait = remaining.saturating_sub(margin);
    match mode {
        PlacementMode::Local => Plan::Off,
        PlacementMode::Shadow => Plan::Ask { wait: None },
        _ if wait.is_zero() => Plan::Skip("skipped_budget"),
        PlacementMode::Hybrid if tracked.is_some_and(|q| q > wait) => Plan::Skip("skipped_budget"),
        PlacementMode::RemoteFirst | PlacementMode::Hybrid => Plan::Ask { wait: Some(wait) },
    }
}

/// A remote forecaster and how ticks place their inference on it (`RuntimeConfig::remote`).
#[derive(Debug)]
pub struct RemotePlacement {
    pub mode: PlacementMode,
    pub model: Arc<RemoteModel>,
    pub quantile: Quantile,
    /// Kept free of the budget: the decision stops waiting for the remote this long before
    /// the budget ends (the local decision's own path still has to run).
    pub margin: Duration,
    /// The remote model's identity in the decision log (`sha256` is `remote`: a server
    /// does not expose its file).
    pub id: Arc<ModelId>,
    /// Its input rows: its own features and window (the cell table keeps the longest).
    pub layout: FeatureLayout,
    pub cell_prbs: f32,
    pub prb_scaling: PrbScaling,
    /// Output values per row (the first two are p50 and p90).
    pub columns: usize,
    /// Calls in flight (the drain waits for none).
    inflight: Arc<AtomicU64>,
    /// When `hybrid` last sent a probe [ns since `origin`], 0 before the first.
    last_probe_ns: AtomicU64,
    origin: std::time::Instant,
    /// `placement.batch_window_us` (zero: every ask is its own request).
    batch_window: Duration,
    /// The batcher's queue, started with the first ask (inside the runtime).
    batcher: std::sync::OnceLock<tokio::sync::mpsc::Sender<Ask>>,
}

/// One decision's remote ask: its rows and where its answer goes.
#[derive(Debug)]
pub(crate) struct Ask {
    rows: Vec<f32>,
    reply: tokio::sync::oneshot::Sender<Result<RemoteOutput, OipError>>,
}

/// Asks waiting in the batcher's queue at most (past it, an ask is sent on its own).
const BATCH_QUEUE: usize = 4096;

/// Longest `placement.batch_window_us`.
pub const MAX_BATCH_WINDOW_US: u64 = 50_000;

/// Why a remote model cannot serve as the placement's forecaster.
#[derive(Debug, thiserror::Error)]
pub enum PlacementError {
    #[error("remote_model: contract kind is {0}; placement serves forecasters only")]
    NotForecaster(&'static str),
    #[error("remote_model: contract features: {0}")]
    Layout(#[from] nf_core::features::LayoutError),
    #[error(
        "remote_model: contract cell_prbs {remote} differs from the local forecaster's {local} (quotas are computed in one cell size)"
    )]
    CellPrbs { remote: u32, local: u32 },
    #[error("remote_model: contract output has {0} columns; a forecaster needs p50 and p90")]
    Columns(usize),
}

impl RemotePlacement {
    /// The placement of `model` in `mode`; `local_cell_prbs`: the local forecaster's.
    pub fn new(
        mode: PlacementMode,
        model: RemoteModel,
        quantile: Quantile,
        margin: Duration,
        local_cell_prbs: u32,
    ) -> Result<Self, PlacementError> {
        let c = &model.config().contract;
        if c.kind != ModelKind::Forecaster {
            return Err(PlacementError::NotForecaster(c.kind.as_str()));
        }
        if c.cell_prbs != local_cell_prbs {
            return Err(PlacementError::CellPrbs {
                remote: c.cell_prbs,
                local: local_cell_prbs,
            });
        }
        let columns = c.output_columns();
        if columns < 2 {
            return Err(PlacementError::Columns(columns));
        }
        let layout =
            FeatureLayout::new(&c.feature_names(), c.window())?.with_prb_counts(&c.prb_inputs());
        let id = Arc::new(ModelId {
            name: model.config().model_name.clone(),
            version: model.config().model_version.clone(),
            sha256: "remote".into(),
        });
        Ok(Self {
            mode,
            cell_prbs: c.cell_prbs as f32,
            prb_scaling: c.prb_scaling,
            columns,
            layout,
            id,
            model: Arc::new(model),
            quantile,
            margin,
            inflight: Arc::default(),
            last_probe_ns: AtomicU64::new(0),
            origin: std::time::Instant::now(),
            batch_window: Duration::ZERO,
            batcher: std::sync::OnceLock::new(),
        })
    }

    /// Batches the asks that come within `window` of the first into one request (zero:
    /// none, the default).
    pub fn with_batch_window(mut self, window: Duration) -> Self {
        self.batch_window = window.min(Duration::from_micros(MAX_BATCH_WINDOW_US));
        self
    }

    pub fn batch_window(&self) -> Duration {
        self.batch_window
    }

    /// The plan of a tick with `remaining` budget.
    pub fn plan(&self, remaining: Duration) -> Plan {
        let tracked = self.model.stats().latency_quantile(self.quantile.value());
        plan(self.mode, remaining, self.margin, tracked)
    }

    /// `hybrid` skipped a tick: whether to send its rows anyway as a probe (at most one per
    /// [`PROBE_INTERVAL`]), so that the tracked latency follows a remote that got faster
    /// again (skipped ticks alone would never refresh it). A probe's answer is never used.
    pub fn probe_due(&self) -> bool {
        if self.mode != PlacementMode::Hybrid {
            return false;
        }
        let now = self.origin.elapsed().as_nanos() as u64 + 1;
        let last = self.last_probe_ns.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= PROBE_INTERVAL.as_nanos() as u64;
        due && self
            .last_probe_ns
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }

    /// Sends `rows` as a probe: the answer only feeds the tracked latency and is counted
    /// `probe` (or its error kind).
    pub(crate) fn probe(&self, rows: Vec<f32>, metrics: &Arc<crate::metrics::Metrics>) {
        let rx = self.ask(rows, metrics);
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let result = match rx.await {
                Ok(Ok(_)) => "probe",
                Ok(Err(e)) => e.kind(),
                Err(_) => "unavailable",
            };
            metrics.placement.result(result);
        });
    }

    /// Remote calls not yet ended.
    pub fn inflight(&self) -> u64 {
        self.inflight.load(Ordering::Relaxed)
    }

    /// Starts the remote call of `rows` (bounded by `remote_model.deadline_ms`), alone or
    /// in the current batch; its outcome goes to the returned receiver, or, when that is
    /// gone (the decision stopped waiting), is counted there: `late_discarded` for an
    /// answer, else its error kind.
    pub(crate) fn ask(
        &self,
        rows: Vec<f32>,
        metrics: &Arc<crate::metrics::Metrics>,
    ) -> tokio::sync::oneshot::Receiver<Result<RemoteOutput, OipError>> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.inflight.fetch_add(1, Ordering::Relaxed);
        let ask = Ask { rows, reply };
        if self.batch_window.is_zero() {
            send(vec![ask], &self.model, metrics, &self.inflight);
            return rx;
        }
        let queue = self.batcher.get_or_init(|| {
            let (tx, rx) = tokio::sync::mpsc::channel(BATCH_QUEUE);
            tokio::spawn(batcher(
                rx,
                self.batch_window,
                self.model.clone(),
                metrics.clone(),
                self.inflight.clone(),
            ));
            tx
        });
        if let Err(e) = queue.try_send(ask) {
            // A full queue (or a batcher gone with a stopping runtime): on its own.
            let ask = match e {
                tokio::sync::mpsc::error::TrySendError::Full(a)
                | tokio::sync::mpsc::error::TrySendError::Closed(a) => a,
            };
            send(vec![ask], &self.model, metrics, &self.inflight);
        }
        rx
    }
}

/// Collects the asks that come within `window` of the first (up to the model's
/// `max_batch_rows` rows) and sends them as one request; the next batch is collected while
/// that one is in flight.
async fn batcher(
    mut queue: tokio::sync::mpsc::Receiver<Ask>,
    window: Duration,
    model: Arc<RemoteModel>,
    metrics: Arc<crate::metrics::Metrics>,
    inflight: Arc<AtomicU64>,
) {
    let row_len = model.row_len();
    let max_rows = model.config().max_batch_rows;
    while let Some(first) = queue.recv().await {
        let until = tokio::time::Instant::now() + window;
        let mut rows = first.rows.len() / row_len.max(1);
        let mut batch = vec![first];
        while rows < max_rows {
            match tokio::time::timeout_at(until, queue.recv()).await {
                Ok(Some(a)) => {
                    rows += a.rows.len() / row_len.max(1);
                    batch.push(a);
                }
                Ok(None) | Err(_) => break,
            }
        }
        send(batch, &model, &metrics, &inflight);
    }
}

/// Sends `batch` as one call (split by the client past `max_batch_rows`) and hands each
/// ask its own rows of the answer, or the error.
fn send(
    mut batch: Vec<Ask>,
    model: &Arc<RemoteModel>,
    metrics: &Arc<crate::metrics::Metrics>,
    inflight: &Arc<AtomicU64>,
) {
    let model = model.clone();
    let metrics = metrics.clone();
    let inflight = inflight.clone();
    tokio::spawn(async move {
        let deadline = model.config().deadline;
        let p = &metrics.placement;
        let row_len = model.row_len().max(1);
        let sizes: Vec<usize> = batch.iter().map(|a| a.rows.len() / row_len).collect();
        let rows: Vec<f32> = if batch.len() == 1 {
            std::mem::take(&mut batch[0].rows)
        } else {
            batch.iter().flat_map(|a| a.rows.iter().copied()).collect()
        };
        let started = std::time::Instant::now();
        let result = model.infer(&rows, deadline).await;
        match &result {
            Ok(out) => p.latency.observe(out.latency.as_secs_f64()),
            Err(OipError::Unavailable { .. }) => {}
            Err(_) => p.latency.observe(started.elapsed().as_secs_f64()),
        }
        for (ask, answer) in batch.into_iter().zip(split(result, &sizes)) {
            if let Err(unread) = ask.reply.send(answer) {
                p.result(match unread {
                    Ok(_) => "late_discarded",
                    Err(e) => e.kind(),
                });
            }
            inflight.fetch_sub(1, Ordering::Relaxed);
        }
    });
}

/// Each ask's share of a batch's `result`: the answer's rows in the asks' order (`rows`:
/// rows per ask), or the error for every ask.
fn split(
    result: Result<RemoteOutput, OipError>,
    rows: &[usize],
) -> Vec<Result<RemoteOutput, OipError>> {
    let out = match result {
        Ok(out) if rows.len() == 1 => return vec![Ok(out)],
        Ok(out) => out,
        Err(e) => return rows.iter().map(|_| Err(e.clone())).collect(),
    };
    // The client checked the answer: `out.rows` rows of equal width.
    let width = out.values.len() / out.rows.max(1);
    let mut at = 0;
    rows.iter()
        .map(|&n| {
            let end = (at + n * width).min(out.values.len());
            let part = RemoteOutput {
                values: out.values[at..end].to_vec(),
                rows: n,
                calls: out.calls,
                latency: out.latency,
            };
            at = end;
            Ok(part)
        })
        .collect()
}

/// A remote call a decision is waiting for.
#[derive(Debug)]
pub(crate) struct PendingRemote {
    pub rx: tokio::sync::oneshot::Receiver<Result<RemoteOutput, OipError>>,
    /// When the decision stops waiting (`None`: shadow, the answer is only logged).
    pub until: Option<tokio::time::Instant>,
}

/// The remote side of one decision.
#[derive(Debug, Default)]
pub(crate) enum RemoteState {
    /// No remote model, or not its turn (`local`, a shadow arm, a slice policy).
    #[default]
    None,
    /// Asked, not yet taken.
    Pending(PendingRemote),
    /// Taken: its forecasts, checked, or why not (a [`FALLBACKS`] reason or error kind).
    Resolved(Result<Vec<[f32; 2]>, &'static str>),
}

/// Turns what the remote call ended with into checked forecasts, counting the result once:
/// `ok`, `bad_output` (the client's checks, or ours: rows, finite, within the PRBs), or the
/// error's kind.
pub(crate) fn settle(
    result: Result<RemoteOutput, OipError>,
    columns: usize,
    slices: usize,
    cell_prbs: f32,
    metrics: &PlacementMetrics,
) -> Result<Vec<[f32; 2]>, &'static str> {
    let out = result.map_err(|e| {
        metrics.result(e.kind());
        e.kind()
    })?;
    let forecasts: Vec<[f32; 2]> = out
        .values
        .chunks_exact(columns)
        .map(|c| [c[0], c[1]])
        .collect();
    match nf_core::policy::check_outputs(&forecasts, slices, cell_prbs) {
        Ok(()) => {
            metrics.result("ok");
            Ok(forecasts)
        }
        Err(e) => {
            metrics.result("bad_output");
            tracing::warn!(cause = %e, "remote model output refused");
            Err("bad_output")
        }
    }
}

/// Takes an answer already there without waiting; `None` when still running.
pub(crate) fn try_take(p: &mut PendingRemote) -> Option<Result<RemoteOutput, OipError>> {
    use tokio::sync::oneshot::error::TryRecvError;
    match p.rx.try_recv() {
        Ok(r) => Some(r),
        Err(TryRecvError::Empty) => None,
        // The call's task ended without sending (a panic, or a shutting runtime).
        Err(TryRecvError::Closed) => Some(Err(OipError::Unavailable {
            call: "ModelInfer",
            detail: "the remote call's task ended without an answer".into(),
        })),
    }
}

/// Waits for `p` until its deadline. `Err(())` when the decision stops waiting: the
/// receiver is closed, so an answer arriving now is counted `late_discarded` by the call's
/// task (or here, if it slipped in between).
pub(crate) async fn wait(
    mut p: PendingRemote,
    metrics: &PlacementMetrics,
) -> Result<Result<RemoteOutput, OipError>, ()> {
    let got = match p.until {
        Some(until) => tokio::time::timeout_at(until, &mut p.rx).await.ok(),
        None => Some((&mut p.rx).await),
    };
    match got {
        Some(Ok(r)) => Ok(r),
        Some(Err(_)) => Ok(Err(OipError::Unavailable {
            call: "ModelInfer",
            detail: "the remote call's task ended without an answer".into(),
        })),
        None => {
            p.rx.close();
            if let Ok(r) = p.rx.try_recv() {
                metrics.result(match r {
                    Ok(_) => "late_discarded",
                    Err(e) => e.kind(),
                });
            }
            Err(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn local_never_asks_and_shadow_always_asks_without_waiting() {
        for tracked in [None, Some(MS(1)), Some(MS(10_000))] {
            assert_eq!(
                plan(PlacementMode::Local, MS(50), MS(2), tracked),
                Plan::Off
            );
            assert_eq!(
                plan(PlacementMode::Shadow, MS(0), MS(2), tracked),
                Plan::Ask { wait: None }
            );
        }
    }

    #[test]
    fn remote_first_waits_for_the_budget_less_the_margin() {
        let p = plan(PlacementMode::RemoteFirst, MS(50), MS(2), Some(MS(400)));
        assert_eq!(p, Plan::Ask { wait: Some(MS(48)) });
        // No budget past the margin: not asked (counted).
        let p = plan(PlacementMode::RemoteFirst, MS(2), MS(2), None);
        assert_eq!(p, Plan::Skip("skipped_budget"));
    }

    #[test]
    fn hybrid_asks_only_when_the_tracked_quantile_fits() {
        let h = PlacementMode::Hybrid;
        assert_eq!(
            plan(h, MS(50), MS(2), Some(MS(48))),
            Plan::Ask { wait: Some(MS(48)) }
        );
        assert_eq!(
            plan(h, MS(50), MS(2), Some(MS(49))),
            Plan::Skip("skipped_budget")
        );
        // Nothing tracked yet: asked, to learn the latency.
        assert_eq!(
            plan(h, MS(50), MS(2), None),
            Plan::Ask { wait: Some(MS(48)) }
        );
        assert_eq!(plan(h, MS(1), MS(2), None), Plan::Skip("skipped_budget"));
    }

    #[test]
    fn every_label_exists_at_zero() {
        let m = PlacementMetrics::default();
        for r in [
            "ok",
            "late_discarded",
            "skipped_budget",
            "deadline",
            "unavailable",
        ] {
            assert_eq!(m.result_count(r), 0);
        }
        assert_eq!(m.placed_count("remote", PlacementMode::Hybrid), 0);
        let mut reg = Registry::default();
        m.register(&mut reg);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &reg).expect("encode");
        assert!(
            text.contains("remote_inference_total{result=\"skipped_budget\"} 0"),
            "{text}"
        );
        assert!(text.contains("inference_placement_total{placement=\"remote\",mode=\"shadow\"} 0"));
        assert!(text.contains("remote_model_requests_total 0"), "{text}");
    }

    #[test]
    fn request_and_row_counts_are_the_bound_client_s_own() {
        let m = PlacementMetrics::default();
        let stats = Arc::new(nf_oip::RemoteStats::default());
        m.bind(stats.clone());
        stats.calls.fetch_add(3, Ordering::Relaxed);
        stats.rows.fetch_add(24, Ordering::Relaxed);
        assert_eq!((m.requests(), m.rows()), (3, 24));
        let mut reg = Registry::default();
        m.register(&mut reg);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &reg).expect("encode");
        assert!(text.contains("remote_model_requests_total 3"), "{text}");
        assert!(text.contains("remote_model_rows_total 24"), "{text}");
    }

    #[test]
    fn a_batch_answer_is_split_by_rows_in_order_and_an_error_goes_to_every_ask() {
        let out = RemoteOutput {
            values: (0..12).map(|v| v as f32).collect(),
            rows: 6,
            calls: 1,
            latency: MS(4),
        };
        let parts = split(Ok(out), &[1, 3, 2]);
        let values: Vec<Vec<f32>> = parts
            .iter()
            .map(|p| p.as_ref().unwrap().values.clone())
            .collect();
        assert_eq!(
            values,
            [
                vec![0.0, 1.0],
                vec![2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
                vec![8.0, 9.0, 10.0, 11.0]
            ]
        );
        assert_eq!(parts[1].as_ref().unwrap().rows, 3);
        assert!(parts.iter().all(|p| p.as_ref().unwrap().latency == MS(4)));
        let err = OipError::Unavailable {
            call: "ModelInfer",
            detail: "gone".into(),
        };
        let parts = split(Err(err), &[1, 3]);
        assert_eq!(parts.len(), 2);
        assert!(
            parts
                .iter()
                .all(|p| p.as_ref().unwrap_err().kind() == "unavailable")
        );
    }

    #[test]
    fn an_answer_is_checked_like_a_local_one() {
        let m = PlacementMetrics::default();
        let out = |values: Vec<f32>| {
            Ok(RemoteOutput {
                rows: values.len() / 2,
                values,
                calls: 1,
                latency: MS(3),
            })
        };
        assert_eq!(
            settle(out(vec![10.0, 20.0]), 2, 1, 106.0, &m),
            Ok(vec![[10.0, 20.0]])
        );
        assert_eq!(
            settle(out(vec![f32::NAN, 20.0]), 2, 1, 106.0, &m),
            Err("bad_output")
        );
        assert_eq!(
            settle(out(vec![10.0, 20.0]), 2, 2, 106.0, &m),
            Err("bad_output")
        );
        let late = Err(OipError::Deadline {
            call: "ModelInfer",
            deadline: MS(5),
        });
        assert_eq!(settle(late, 2, 1, 106.0, &m), Err("deadline"));
        assert_eq!(
            (
                m.result_count("ok"),
                m.result_count("bad_output"),
                m.result_count("deadline")
            ),
            (1, 2, 1)
        );
    }
}
