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
use std::time::Instant;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError, bounded};
use ndarray::ArrayView3;
use ort::value::TensorRef;

use crate::runtime::LoadedModel;

/// A job: `n` rows of features for one cell, and the caller's context.
#[derive(Debug)]
struct Job<C> {
    rows: Vec<f32>,
    n: usize,
    ctx: C,
}

/// The model's output for one job.
#[derive(Debug)]
pub struct JobOutput<'a> {
    /// `n × columns` values, row-major, or the error message of a failed run.
    pub values: Result<&'a [f32], &'a str>,
    /// Rows in the batch this job ran in.
    pub batch_rows: usize,
    /// Time the batch took in onnxruntime [ns].
    pub run_ns: u64,
    /// True for the first job delivered from its batch (to count batches once).
    pub first_in_batch: bool,
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
#[derive(Debug)]
pub struct InferenceHandle<C> {
    tx: Sender<Job<C>>,
    row_len: usize,
    stats: Arc<WorkerStats>,
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
        self.tx.try_send(Job { rows, n, ctx }).map_err(|e| match e {
            TrySendError::Full(_) => SubmitError::QueueFull,
            TrySendError::Disconnected(_) => SubmitError::Closed,
        })
    }
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
    // One batch row: `[window, features]` (forecaster) or `[slices, window, features]`
    // (slice policy), as the contract's input shape says after the batch dimension.
    let row_shape: Vec<usize> = model.contract.input.shape[1..]
        .iter()
        .map(|d| (*d).max(0) as usize)
        .collect();
    let row_len = model.contract.input_row_len();
    let (tx, rx) = bounded(cfg.queue_depth.max(1));
    let stats = Arc::new(WorkerStats::default());
    let worker_stats = stats.clone();
    let join = std::thread::Builder::new()
        .name("inference".into())
        .spawn(move || run(model, rx, cfg, row_shape, worker_stats, deliver))?;
    Ok((InferenceHandle { tx, row_len, stats }, join))
}

fn run<C, F>(
    mut model: LoadedModel,
    rx: Receiver<Job<C>>,
    cfg: WorkerConfig,
    row_shape: Vec<usize>,
    stats: Arc<WorkerStats>,
    mut deliver: F,
) where
    F: FnMut(C, JobOutput<'_>),
{
    let row_len: usize = row_shape.iter().product();
    // Output values per batch row (columns, times the slices of a slice policy).
    let columns = model.contract.output_row_len();
    let shape_of = |rows: usize| -> Vec<usize> {
        std::iter::once(rows)
            .chain(row_shape.iter().copied())
            .collect()
    };
    let input_name = model.contract.input.name.clone();
    let mut batch: Vec<Job<C>> = Vec::new();
    let mut buf: Vec<f32> = Vec::new();
    let max_rows = cfg.max_batch_rows.max(1);
    let probe = vec![0.0f32; row_len];
    loop {
        let first = match cfg.keep_warm {
            Some(every) => match rx.recv_timeout(every) {
                Ok(job) => job,
                Err(RecvTimeoutError::Timeout) => {
                    // Idle: one throw-away row keeps onnxruntime's code and data in cache.
                    let _ = infer_shaped(&mut model, &input_name, &probe, &shape_of(1), columns);
                    stats.warm_runs.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            },
            None => match rx.recv() {
                Ok(job) => job,
                Err(_) => break,
            },
        };
        let mut rows = first.n;
        batch.push(first);
        while rows < max_rows && !cfg.one_job_per_run {
            match rx.try_recv() {
                Ok(job) => {
                    rows += job.n;
                    batch.push(job);
                }
                Err(_) => break,
            }
        }
        buf.clear();
        for job in &batch {
            buf.extend_from_slice(&job.rows);
        }
        let started = Instant::now();
        let result = infer_shaped(&mut model, &input_name, &buf, &shape_of(rows), columns);
        let run_ns = started.elapsed().as_nanos() as u64;
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats.rows.fetch_add(rows as u64, Ordering::Relaxed);
        stats.run_ns.fetch_add(run_ns, Ordering::Relaxed);
        stats
            .max_batch_rows
            .fetch_max(rows as u64, Ordering::Relaxed);
        match &result {
            Ok(out) => {
                let mut at = 0;
                for job in batch.drain(..) {
                    let len = job.n * columns;
                    let values = Ok(&out[at..at + len]);
                    deliver(
                        job.ctx,
                        JobOutput {
                            values,
                            batch_rows: rows,
                            run_ns,
                            first_in_batch: at == 0,
                        },
                    );
                    at += len;
                }
            }
            Err(msg) => {
                stats.failures.fetch_add(1, Ordering::Relaxed);
                tracing::error!(cause = %msg, rows, "inference failed");
                for (i, job) in batch.drain(..).enumerate() {
                    deliver(
                        job.ctx,
                        JobOutput {
                            values: Err(msg),
                            batch_rows: rows,
                            run_ns,
                            first_in_batch: i == 0,
                        },
                    );
                }
            }
        }
        debug_assert_eq!(buf.len(), rows * row_len);
    }
    tracing::debug!("inference worker stopped");
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
    // The batch as a [rows, window, features] view over the worker's buffer: no copy.
    let batch =
        ArrayView3::from_shape((shape[0], shape[1], shape[2]), buf).map_err(|e| e.to_string())?;
    let tensor = TensorRef::from_array_view(batch).map_err(|e| e.to_string())?;
    let outputs = model
        .session
        .run(ort::inputs![input => tensor])
        .map_err(|e| e.to_string())?;
    let (out_shape, values) = outputs[0]
        .try_extract_tensor::<f32>()
        .map_err(|e| e.to_string())?;
    if out_shape.len() != 2 || out_shape[0] as usize != shape[0] || out_shape[1] as usize != columns
    {
        return Err(format!(
            "model returned shape {out_shape:?}, expected [{}, {columns}]",
            shape[0]
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
    let batch =
        ndarray::ArrayViewD::from_shape(ndarray::IxDyn(shape), buf).map_err(|e| e.to_string())?;
    let tensor = TensorRef::from_array_view(batch).map_err(|e| e.to_string())?;
    let outputs = model
        .session
        .run(ort::inputs![input => tensor])
        .map_err(|e| e.to_string())?;
    let (out_shape, values) = outputs[0]
        .try_extract_tensor::<f32>()
        .map_err(|e| e.to_string())?;
    let per_row: i64 = out_shape.iter().skip(1).product();
    if out_shape.first().copied() != Some(shape[0] as i64) || per_row as usize != row_out {
        return Err(format!(
            "model returned shape {out_shape:?}, expected [{}, ..] with {row_out} values a row",
            shape[0]
        ));
    }
    Ok(values.to_vec())
}
