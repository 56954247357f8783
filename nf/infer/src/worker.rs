//! The inference worker: a dedicated thread that owns the onnxruntime session.
//!
//! Cells submit jobs (their feature rows plus a context) through a bounded crossbeam
//! channel. The worker blocks for the first job, drains whatever else is queued up to the
//! batch limit, runs the model once over the whole batch and hands each job its slice of
//! the output. Under load batches grow by themselves; when idle a lone job runs at once, so
//! batching never adds waiting time. While idle it can run a throw-away row every
//! `keep_warm` so the next real job does not pay for a cold onnxruntime. A full queue refuses new jobs (the caller counts the
//! drop); when every handle is dropped the worker finishes what it has and exits.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{
    Receiver, RecvTimeoutError, SendTimeoutError, Sender, TrySendError, bounded,
};
use ort::value::TensorRef;

use crate::contract::Contract;
use crate::runtime::{LoadedModel, synthetic_canary};

/// Which model produced an output: the contract's name and version and the model file's
/// sha256 (the labels of `xapp_model_info`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ModelId {
    pub name: String,
    pub version: String,
    pub sha256: String,
}

impl ModelId {
    /// The identity of the model `contract` describes.
    pub fn of(contract: &Contract) -> Self {
        Self {
            name: contract.name.clone(),
            version: contract.version.clone(),
            sha256: contract.sha256.to_ascii_lowercase(),
        }
    }
}

impl std::fmt::Display for ModelId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} (sha256 {})", self.name, self.version, self.sha256)
    }
}

/// A job: `n` rows of features for one cell, and the caller's context.
#[derive(Debug)]
struct Job<C> {
    rows: Vec<f32>,
    n: usize,
    ctx: C,
}

/// What travels through the worker's queue: jobs, and swaps between them.
enum Msg<C> {
    Job(Job<C>),
    Swap(Box<Swap>),
}

/// A swap waiting in the queue.
struct Swap {
    model: LoadedModel,
    check: CanaryCheck,
    max_canary_rows: usize,
    reply: Sender<Result<SwapReport, SwapError>>,
}

/// Judges a canary batch: the new model's contract, the rows it was given and its outputs
/// (`rows × outputs per row`, row-major). `Err` names what is wrong (a bounded label and a
/// message).
pub type CanaryCheck =
    Box<dyn Fn(&Contract, usize, &[f32]) -> Result<(), (&'static str, String)> + Send>;

/// Where the canary's rows came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CanarySource {
    /// The rows of the worker's last real batch (live windows of the cells it serves).
    Live,
    /// The fixed synthetic batch of [`synthetic_canary`] (nothing served yet).
    Synthetic,
}

impl CanarySource {
    pub fn as_str(self) -> &'static str {
        match self {
            CanarySource::Live => "live",
            CanarySource::Synthetic => "synthetic",
        }
    }
}

/// A swap that took place.
#[derive(Clone, Debug)]
pub struct SwapReport {
    /// The model that served until the swap.
    pub replaced: Arc<ModelId>,
    /// The model serving now.
    pub serving: Arc<ModelId>,
    pub canary_rows: usize,
    pub canary_source: CanarySource,
    /// Jobs the worker had run on the replaced model, in total.
    pub jobs_before: u64,
    /// How long the worker was kept from jobs by the swap (canary and session switch) [ns].
    pub pause_ns: u64,
}

/// Why a swap did not take place; the old model keeps serving.
#[derive(Debug, thiserror::Error)]
pub enum SwapError {
    /// The new model reads or writes other tensors than the serving one.
    #[error("interface differs from the serving model: {0}")]
    Interface(String),
    /// The canary batch failed to run, or its outputs were refused.
    #[error("canary batch of {rows} {source_kind} rows refused ({reason}): {detail}")]
    Canary {
        reason: &'static str,
        detail: String,
        rows: usize,
        source_kind: &'static str,
    },
    /// The queue stayed full for the whole wait.
    #[error("inference queue full for {0:?}: swap not queued")]
    QueueFull(Duration),
    /// The worker has stopped (shutdown).
    #[error("inference worker stopped")]
    Closed,
}

/// The model's output for one job.
#[derive(Debug)]
pub struct JobOutput<'a> {
    /// `n × outputs per row` values, row-major, or the error message of a failed run.
    pub values: Result<&'a [f32], &'a str>,
    /// Rows in the batch this job ran in.
    pub batch_rows: usize,
    /// Time the batch took in onnxruntime [ns].
    pub run_ns: u64,
    /// True for the first job delivered from its batch (to count batches once).
    pub first_in_batch: bool,
    /// The model that produced `values`.
    pub model: &'a Arc<ModelId>,
}

/// Counters of the worker, shared with metrics.
#[derive(Debug, Default)]
pub struct WorkerStats {
    pub batches: AtomicU64,
    pub rows: AtomicU64,
    pub run_ns: AtomicU64,
    pub failures: AtomicU64,
    pub max_batch_rows: AtomicU64,
    /// Throw-away runs made while idle to keep the session warm.
    pub warm_runs: AtomicU64,
    /// Jobs run (answered), on any model.
    pub jobs: AtomicU64,
    /// Models swapped in.
    pub swaps: AtomicU64,
}

/// Tunables of the worker.
#[derive(Clone, Copy, Debug)]
pub struct WorkerConfig {
    /// Largest batch [rows].
    pub max_batch_rows: usize,
    /// Jobs queued at most; more are refused.
    pub queue_depth: usize,
    /// When idle this long, run one throw-away row. onnxruntime's `Session::run` for a
    /// small batch costs ~8 µs when warm and ~190 µs after 100 ms idle (caches evicted);
    /// a probe every millisecond keeps it warm for ≈ 1 % of one core. `None`: park.
    pub keep_warm: Option<std::time::Duration>,
    /// Run each job alone instead of batching across jobs. onnxruntime's kernels round
    /// differently for different batch sizes (a few ulps), so only one job per run gives
    /// outputs that are bit-identical from run to run (replay).
    pub one_job_per_run: bool,
}

/// Submits jobs to the worker. Cloning is cheap; dropping every clone stops the worker.
pub struct InferenceHandle<C> {
    tx: Sender<Msg<C>>,
    row_len: usize,
    stats: Arc<WorkerStats>,
}

impl<C> std::fmt::Debug for InferenceHandle<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InferenceHandle")
            .field("row_len", &self.row_len)
            .field("queued", &self.tx.len())
            .finish()
    }
}

impl<C> Clone for InferenceHandle<C> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            row_len: self.row_len,
            stats: self.stats.clone(),
        }
    }
}

/// Why a job was not queued.
#[derive(Debug, PartialEq, Eq)]
pub enum SubmitError {
    /// The queue is full: the job is dropped.
    QueueFull,
    /// The worker is gone (shutdown).
    Closed,
    /// Rows of the wrong length.
    BadShape { expected: usize, got: usize },
}

impl<C> InferenceHandle<C> {
    /// Floats per row this model expects.
    pub fn row_len(&self) -> usize {
        self.row_len
    }

    pub fn stats(&self) -> &Arc<WorkerStats> {
        &self.stats
    }

    /// Queues `rows` (n × row_len floats) with `ctx`, without blocking.
    pub fn submit(&self, rows: Vec<f32>, ctx: C) -> Result<(), SubmitError> {
        if rows.is_empty() || !rows.len().is_multiple_of(self.row_len) {
            return Err(SubmitError::BadShape {
                expected: self.row_len,
                got: rows.len(),
            });
        }
        let n = rows.len() / self.row_len;
        let job = Msg::Job(Job { rows, n, ctx });
        self.tx.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => SubmitError::QueueFull,
            TrySendError::Disconnected(_) => SubmitError::Closed,
        })
    }

    /// Swaps `model` in behind every job queued so far, if its interface matches the
    /// serving model's and a canary batch of at most `max_canary_rows` rows passes `check`.
    /// Blocks until the worker has decided (queue a swap from a blocking thread, not from
    /// an async task); waits at most `queue_wait` for room in a full queue.
    pub fn swap(
        &self,
        model: LoadedModel,
        check: CanaryCheck,
        max_canary_rows: usize,
        queue_wait: Duration,
    ) -> Result<SwapReport, SwapError> {
        let (reply, answer) = bounded(1);
        let msg = Msg::Swap(Box::new(Swap {
            model,
            check,
            max_canary_rows: max_canary_rows.max(1),
            reply,
        }));
        self.tx.send_timeout(msg, queue_wait).map_err(|e| match e {
            SendTimeoutError::Timeout(_) => SwapError::QueueFull(queue_wait),
            SendTimeoutError::Disconnected(_) => SwapError::Closed,
        })?;
        answer.recv().map_err(|_| SwapError::Closed)?
    }
}

/// Floats per input row and outputs per row of a model: the products of its contract's
/// input and first output shapes past the batch dimension.
fn io_sizes(contract: &Contract) -> (Vec<usize>, usize) {
    let dims: Vec<usize> = contract.input.shape[1..]
        .iter()
        .map(|d| (*d).max(0) as usize)
        .collect();
    let out = contract.outputs.first().map_or(0, |o| {
        o.shape[1..].iter().map(|d| (*d).max(0) as usize).product()
    });
    (dims, out)
}

/// Starts the worker thread for `model`. `deliver` is called on the worker thread once per
/// job with its context and output; it must not block.
pub fn spawn_worker<C, F>(
    model: LoadedModel,
    cfg: WorkerConfig,
    deliver: F,
) -> std::io::Result<(InferenceHandle<C>, JoinHandle<()>)>
where
    C: Send + 'static,
    F: FnMut(C, JobOutput<'_>) + Send + 'static,
{
    let row_len = io_sizes(&model.contract).0.iter().product();
    let (tx, rx) = bounded(cfg.queue_depth.max(1));
    let stats = Arc::new(WorkerStats::default());
    let worker_stats = stats.clone();
    let join = std::thread::Builder::new()
        .name("inference".into())
        .spawn(move || {
            let mut w = Worker::new(model, cfg, worker_stats);
            w.run(rx, deliver);
        })?;
    Ok((InferenceHandle { tx, row_len, stats }, join))
}

/// The session in use and what the batch step needs to know about it.
struct Serving {
    model: LoadedModel,
    id: Arc<ModelId>,
    input_name: String,
    /// Input dimensions past the batch one.
    dims: Vec<usize>,
    /// Outputs per row.
    out_per_row: usize,
}

impl Serving {
    fn new(model: LoadedModel) -> Self {
        let (dims, out_per_row) = io_sizes(&model.contract);
        Self {
            id: Arc::new(ModelId::of(&model.contract)),
            input_name: model.contract.input.name.clone(),
            dims,
            out_per_row,
            model,
        }
    }

    fn row_len(&self) -> usize {
        self.dims.iter().product()
    }

    fn run(&mut self, buf: &[f32], rows: usize) -> Result<Vec<f32>, String> {
        run_batch(
            &mut self.model,
            &self.input_name,
            buf,
            rows,
            &self.dims,
            self.out_per_row,
        )
    }
}

struct Worker {
    serving: Serving,
    cfg: WorkerConfig,
    stats: Arc<WorkerStats>,
    /// Rows of the last real batch (the live canary); cleared at the start of each batch.
    buf: Vec<f32>,
    /// The keep-warm row (zeros; a swap keeps the row length).
    probe: Vec<f32>,
    jobs_on_model: u64,
}

impl Worker {
    fn new(model: LoadedModel, cfg: WorkerConfig, stats: Arc<WorkerStats>) -> Self {
        let serving = Serving::new(model);
        let probe = vec![0.0f32; serving.row_len()];
        Self {
            serving,
            cfg,
            stats,
            buf: Vec::new(),
            probe,
            jobs_on_model: 0,
        }
    }

    fn run<C, F>(&mut self, rx: Receiver<Msg<C>>, mut deliver: F)
    where
        F: FnMut(C, JobOutput<'_>),
    {
        let mut batch: Vec<Job<C>> = Vec::new();
        let max_rows = self.cfg.max_batch_rows.max(1);
        // A swap met while draining a batch waits until that batch has run.
        let mut pending: Option<Msg<C>> = None;
        loop {
            let msg = match pending.take() {
                Some(m) => m,
                None => match self.next(&rx) {
                    Some(m) => m,
                    None => break,
                },
            };
            let first = match msg {
                Msg::Job(job) => job,
                Msg::Swap(swap) => {
                    self.swap(*swap);
                    continue;
                }
            };
            let mut rows = first.n;
            batch.push(first);
            while rows < max_rows && !self.cfg.one_job_per_run {
                match rx.try_recv() {
                    Ok(Msg::Job(job)) => {
                        rows += job.n;
                        batch.push(job);
                    }
                    Ok(swap @ Msg::Swap(_)) => {
                        pending = Some(swap);
                        break;
                    }
                    Err(_) => break,
                }
            }
            self.run_jobs(&mut batch, rows, &mut deliver);
        }
        tracing::debug!("inference worker stopped");
    }

    /// The next message; while idle, a throw-away row every `keep_warm`. `None` when every
    /// handle is gone.
    fn next<C>(&mut self, rx: &Receiver<Msg<C>>) -> Option<Msg<C>> {
        let Some(every) = self.cfg.keep_warm else {
            return rx.recv().ok();
        };
        loop {
            match rx.recv_timeout(every) {
                Ok(m) => return Some(m),
                Err(RecvTimeoutError::Timeout) => {
                    // Idle: one throw-away row keeps onnxruntime's code and data in cache.
                    let _ = self.serving.run(&self.probe, 1);
                    self.stats.warm_runs.fetch_add(1, Ordering::Relaxed);
                }
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    fn run_jobs<C, F>(&mut self, batch: &mut Vec<Job<C>>, rows: usize, deliver: &mut F)
    where
        F: FnMut(C, JobOutput<'_>),
    {
        self.buf.clear();
        for job in batch.iter() {
            self.buf.extend_from_slice(&job.rows);
        }
        let started = Instant::now();
        let result = self.serving.run(&self.buf, rows);
        let run_ns = started.elapsed().as_nanos() as u64;
        let stats = &self.stats;
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats.rows.fetch_add(rows as u64, Ordering::Relaxed);
        stats.run_ns.fetch_add(run_ns, Ordering::Relaxed);
        stats
            .max_batch_rows
            .fetch_max(rows as u64, Ordering::Relaxed);
        stats.jobs.fetch_add(batch.len() as u64, Ordering::Relaxed);
        self.jobs_on_model += batch.len() as u64;
        let model = &self.serving.id;
        let per_row = self.serving.out_per_row;
        match &result {
            Ok(out) => {
                let mut at = 0;
                for job in batch.drain(..) {
                    let len = job.n * per_row;
                    let output = JobOutput {
                        values: Ok(&out[at..at + len]),
                        batch_rows: rows,
                        run_ns,
                        first_in_batch: at == 0,
                        model,
                    };
                    deliver(job.ctx, output);
                    at += len;
                }
            }
            Err(msg) => {
                stats.failures.fetch_add(1, Ordering::Relaxed);
                tracing::error!(cause = %msg, rows, model = %model.name, version = %model.version, "inference failed");
                for (i, job) in batch.drain(..).enumerate() {
                    let output = JobOutput {
                        values: Err(msg),
                        batch_rows: rows,
                        run_ns,
                        first_in_batch: i == 0,
                        model,
                    };
                    deliver(job.ctx, output);
                }
            }
        }
    }

    /// Checks and canaries `swap.model`; swaps it in when both pass. Always answers.
    fn swap(&mut self, swap: Swap) {
        let Swap {
            model,
            check,
            max_canary_rows,
            reply,
        } = swap;
        let result = self.try_swap(model, &check, max_canary_rows);
        if result.is_ok() {
            self.stats.swaps.fetch_add(1, Ordering::Relaxed);
        }
        // The caller may have given up waiting (shutdown); the outcome stands either way.
        let _ = reply.send(result);
    }

    fn try_swap(
        &mut self,
        model: LoadedModel,
        check: &CanaryCheck,
        max_rows: usize,
    ) -> Result<SwapReport, SwapError> {
        let started = Instant::now();
        let mut next = Serving::new(model);
        if next.dims != self.serving.dims || next.out_per_row != self.serving.out_per_row {
            return Err(SwapError::Interface(format!(
                "input {:?} and {} outputs per row, serving {:?} and {}",
                next.dims, next.out_per_row, self.serving.dims, self.serving.out_per_row
            )));
        }
        let row_len = next.row_len().max(1);
        let live = self.buf.len() / row_len;
        let (rows, source) = if live > 0 {
            let rows = live.min(max_rows);
            (self.buf[..rows * row_len].to_vec(), CanarySource::Live)
        } else {
            (
                synthetic_canary(&next.model.contract),
                CanarySource::Synthetic,
            )
        };
        let n = rows.len() / row_len;
        let canary = |reason: &'static str, detail: String| SwapError::Canary {
            reason,
            detail,
            rows: n,
            source_kind: source.as_str(),
        };
        let out = next
            .run(&rows, n)
            .map_err(|e| canary("canary_run_failed", e))?;
        check(&next.model.contract, n, &out).map_err(|(reason, detail)| canary(reason, detail))?;
        std::mem::swap(&mut self.serving, &mut next);
        let report = SwapReport {
            replaced: next.id.clone(),
            serving: self.serving.id.clone(),
            canary_rows: n,
            canary_source: source,
            jobs_before: self.jobs_on_model,
            pause_ns: 0,
        };
        self.jobs_on_model = 0;
        // The replaced session is dropped here, on the worker thread, between two batches.
        drop(next);
        Ok(SwapReport {
            pause_ns: started.elapsed().as_nanos() as u64,
            ..report
        })
    }
}

/// Runs `buf` as one `[rows, window, features]` batch and returns `rows × columns` values
/// (the worker's batch step; offline tools call it directly).
pub fn infer(
    model: &mut LoadedModel,
    input: &str,
    buf: &[f32],
    shape: [usize; 3],
    columns: usize,
) -> Result<Vec<f32>, String> {
    run_batch(model, input, buf, shape[0], &shape[1..], columns)
}

/// Runs `buf` as one `[rows, dims…]` batch and returns `rows × out_per_row` values.
pub fn run_batch(
    model: &mut LoadedModel,
    input: &str,
    buf: &[f32],
    rows: usize,
    dims: &[usize],
    out_per_row: usize,
) -> Result<Vec<f32>, String> {
    let mut shape = Vec::with_capacity(dims.len() + 1);
    shape.push(rows);
    shape.extend_from_slice(dims);
    let expected: usize = shape.iter().product();
    if buf.len() != expected {
        return Err(format!(
            "batch holds {} values, shape {shape:?} needs {expected}",
            buf.len()
        ));
    }
    // The batch as a view over the worker's buffer: no copy.
    let tensor = TensorRef::from_array_view((shape, buf)).map_err(|e| e.to_string())?;
    let outputs = model
        .session
        .run(ort::inputs![input => tensor])
        .map_err(|e| e.to_string())?;
    let (out_shape, values) = outputs[0]
        .try_extract_tensor::<f32>()
        .map_err(|e| e.to_string())?;
    let per_row: i64 = out_shape.iter().skip(1).product();
    if out_shape.is_empty() || out_shape[0] as usize != rows || per_row as usize != out_per_row {
        return Err(format!(
            "model returned shape {out_shape:?}, expected {rows} rows of {out_per_row} values"
        ));
    }
    Ok(values.to_vec())
}

/// Runs `buf` as one batch of any rank (`shape[0]` rows; e.g. a slice policy's
/// `[cells, slices, window, features]`) and returns `rows × row_out` values, the first
/// output flattened; its shape must be `[rows, ..]` with `row_out` values per row.
pub fn infer_shaped(
    model: &mut LoadedModel,
    input: &str,
    buf: &[f32],
    shape: &[usize],
    row_out: usize,
) -> Result<Vec<f32>, String> {
    let (rows, dims) = shape
        .split_first()
        .ok_or_else(|| "empty batch shape".to_owned())?;
    run_batch(model, input, buf, *rows, dims, row_out)
}
