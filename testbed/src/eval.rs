//! Scoring a PRB forecaster on recorded traces: the library behind `model-eval`.
//!
//! Anyone can check a model on their own recordings: read a trace path (SCOPE layout: a cell
//! folder holding `*_metrics.csv`, or a folder of such cell folders) or any CSV through a
//! mapping file, cut it into the samples the forecaster was trained on, run the model through
//! onnxruntime in batches, and compare its p50 forecast with the last-value baseline, overall,
//! per folder (per cell for a mapping input) and per UE count.
//!
//! The samples are those of the training script (`models/slice_forecaster/train.py`), so the
//! figures here reproduce the model card's:
//! - cells are read by [`trace::read_cell`] (250 ms windows, runs split at gaps > 10 s, every
//!   slice of a run in every window, zeros where it did not report);
//! - for every cell, run and slice (in the run's slice order), every start `s` with
//!   `s + W < run length` is a sample: input windows `s .. s+W-1` written by
//!   [`FeatureLayout::write_row_scaled`], target `RRU.PrbUsedDl` of window `s+W`;
//! - last value = `RRU.PrbUsedDl` of window `s+W-1`; MAE and RMSE in PRB;
//! - a sample's UE count is its run's: the most UEs reporting in one window (Σ over slices of
//!   `RRC.ConnMean`).
//!
//! Nothing is dropped silently: a cell that never carries a model input is refused (reason
//! `missing_input`) unless [`MissingInputs::ImputeZero`] is chosen, a cell of another size
//! is refused under `prb_scaling = "refuse"` (`cell_size_mismatch`) or scaled, a sample with
//! no target is counted (`target_missing`), and every refusal is listed in the [`Report`].
//! A model output that is not finite makes the model fail ([`EvalError::ModelOutput`]).

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};

use nf_core::features::{FeatureLayout, LayoutError, MissingInputs};
use nf_core::{Meas, MeasVec};
use nf_infer::contract::{Contract, PrbScaling};
use nf_infer::runtime::{EngineError, LoadedModel};
use serde::Serialize;

use crate::mapping::{Mapping, MappingError, OnBadRow};
use crate::trace::{self, CellTrace, SkippedRows, TraceError};

/// The output column scored against the target.
pub const SCORED_COLUMN: &str = "p50";
/// Default rows per onnxruntime run.
pub const DEFAULT_BATCH_ROWS: usize = 1024;
/// Outputs above `cell_prbs` × this are out of range (as the xApp's output check).
pub const OUTPUT_SLACK: f32 = 1.01;

/// Whose fault a failed evaluation is: it decides the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Blame {
    /// The trace, the mapping or the arguments.
    Input,
    /// The model, its contract or onnxruntime.
    Model,
}

/// Why an evaluation could not give an answer.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{0} holds no trace: neither *_metrics.csv files nor cell folders holding them")]
    NoTrace(PathBuf),
    #[error("{0} is given twice")]
    Duplicate(PathBuf),
    #[error(transparent)]
    Trace(#[from] TraceError),
    #[error(transparent)]
    Mapping(#[from] MappingError),
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("model contract: {0}")]
    Layout(#[from] LayoutError),
    #[error("{0}")]
    Model(String),
    #[error(
        "model output `{column}` is not finite on {bad} of {total} samples (nan {nan}, +inf {pos_inf}, -inf {neg_inf}; first in {first})"
    )]
    ModelOutput {
        column: String,
        bad: u64,
        total: u64,
        nan: u64,
        pos_inf: u64,
        neg_inf: u64,
        first: String,
    },
}

impl EvalError {
    /// Whose fault it is.
    pub fn blame(&self) -> Blame {
        match self {
            Self::NoTrace(_)
            | Self::Duplicate(_)
            | Self::Trace(_)
            | Self::Mapping(_)
            | Self::Input(_) => Blame::Input,
            Self::Engine(_) | Self::Layout(_) | Self::Model(_) | Self::ModelOutput { .. } => {
                Blame::Model
            }
        }
    }
}

/// A cell to score, with the label of the group it is reported in.
#[derive(Clone, Debug)]
pub struct EvalCell {
    /// Folder label (the cell folder's last two path components) or, for a mapping input,
    /// the cell's name.
    pub label: String,
    pub trace: CellTrace,
}

/// Cells read from the user's recordings.
#[derive(Clone, Debug)]
pub struct Input {
    pub cells: Vec<EvalCell>,
    /// Report window of the trace [ms].
    pub period_ms: u64,
    /// `folder` for trace paths, `cell` for a mapping input.
    pub group_by: &'static str,
    /// What the reader skipped or noticed (bad rows skipped, folders without a trace).
    pub notes: Vec<String>,
    /// Rows left out under `OnBadRow::Skip`, per bounded reason.
    pub skipped_rows: SkippedRows,
}

fn holds_metrics(dir: &Path) -> Result<bool, EvalError> {
    let entries = std::fs::read_dir(dir).map_err(|source| TraceError::Io {
        path: dir.into(),
        source,
    })?;
    Ok(entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .any(|p| p.is_file() && p.to_string_lossy().ends_with("_metrics.csv")))
}

/// The cell folders of a trace path: itself when it holds `*_metrics.csv`, else its
/// sub-folders that do (sorted). Sub-folders without any are named in `notes`.
fn cell_dirs(path: &Path, notes: &mut Vec<String>) -> Result<Vec<PathBuf>, EvalError> {
    if !path.is_dir() {
        return Err(EvalError::Input(format!(
            "--trace {}: not a folder (a SCOPE cell folder holding *_metrics.csv, or a folder of them)",
            path.display()
        )));
    }
    if holds_metrics(path)? {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut cells = Vec::new();
    for d in trace::sub_dirs(path)? {
        if holds_metrics(&d)? {
            cells.push(d);
        } else {
            notes.push(format!("{}: no *_metrics.csv, not a cell", d.display()));
        }
    }
    if cells.is_empty() {
        return Err(EvalError::NoTrace(path.into()));
    }
    Ok(cells)
}

/// The label of a cell folder: its last two path components (`multi-ue-trial1/multi4`).
fn folder_label(dir: &Path) -> String {
    let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let parts: Vec<String> = abs
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    parts[parts.len().saturating_sub(2)..].join("/")
}

/// Reads SCOPE trace paths (each a cell folder or a folder of cell folders) with
/// [`trace::read_cell_with`]: under [`OnBadRow::Stop`] the first bad row (a `Timestamp`
/// without millisecond precision, say) refuses the input; under [`OnBadRow::Skip`] bad rows
/// are left out, counted per reason in [`Input::skipped_rows`] and named in a note per
/// cell. A cell folder reached twice is refused (it would count twice).
pub fn read_trace_paths(paths: &[PathBuf], on_bad: OnBadRow) -> Result<Input, EvalError> {
    let mut notes = Vec::new();
    let mut skipped_rows = SkippedRows::default();
    let mut seen = Vec::new();
    let mut cells = Vec::new();
    for p in paths {
        for dir in cell_dirs(p, &mut notes)? {
            let canon = dir.canonicalize().map_err(|source| TraceError::Io {
                path: dir.clone(),
                source,
            })?;
            if seen.contains(&canon) {
                return Err(EvalError::Duplicate(dir));
            }
            seen.push(canon);
            let (trace, skipped) = trace::read_cell_with(&dir, on_bad)?;
            if skipped.rows > 0 {
                notes.push(format!(
                    "{}: {} bad rows skipped (--on-bad-row skip) {:?}; first: {}",
                    dir.display(),
                    skipped.rows,
                    skipped.by_reason,
                    skipped.first.as_deref().unwrap_or("")
                ));
            }
            skipped_rows.merge(&skipped);
            cells.push(EvalCell {
                label: folder_label(&dir),
                trace,
            });
        }
    }
    // Two folders with one label (`a/x/multi4`, `b/x/multi4`): their full paths tell them apart.
    let mut labels: Vec<&str> = cells.iter().map(|c| c.label.as_str()).collect();
    labels.sort_unstable();
    if labels.windows(2).any(|w| w[0] == w[1]) {
        for (c, dir) in cells.iter_mut().zip(&seen) {
            c.label = dir.display().to_string();
        }
    }
    Ok(Input {
        cells,
        period_ms: trace::PERIOD_MS,
        group_by: "folder",
        notes,
        skipped_rows,
    })
}

/// Reads a CSV file or folder through a column-mapping file (as `replay --mapping` does).
/// Check the mapping's period against the model first ([`check_contract`]): a long read of
/// a trace the model cannot score helps nobody.
pub fn read_mapping(m: &Mapping, input: &Path, on_bad: OnBadRow) -> Result<Input, EvalError> {
    let files = m.files(input)?;
    if files.is_empty() {
        return Err(EvalError::Input(format!(
            "{} holds no file ending in {} (the mapping's format.files)",
            input.display(),
            m.format.files
        )));
    }
    let (rows, report) = m.read_rows(&files, on_bad)?;
    let mut notes = Vec::new();
    if report.bad_rows > 0 {
        let first = report
            .bad
            .first()
            .map(ToString::to_string)
            .unwrap_or_default();
        notes.push(format!(
            "{} bad rows skipped (--on-bad-row skip); first: {first}",
            report.bad_rows
        ));
    }
    if report.missing_values > 0 {
        notes.push(format!(
            "{} values marked missing ({:?}): carried forward from the previous window",
            report.missing_values, report.missing_by_column
        ));
    }
    let cells: Vec<EvalCell> = m
        .to_cells(&rows)?
        .into_iter()
        .map(|t| EvalCell {
            label: t.name.clone(),
            trace: t,
        })
        .collect();
    if cells.iter().all(|c| c.trace.runs.is_empty()) {
        return Err(EvalError::NoTrace(input.into()));
    }
    Ok(Input {
        cells,
        period_ms: m.format.period_ms,
        group_by: "cell",
        notes,
        skipped_rows: SkippedRows {
            rows: report.bad_rows,
            by_reason: report.bad_by_reason.clone(),
            first: report.bad.first().map(ToString::to_string),
        },
    })
}

/// Options of an evaluation.
#[derive(Clone, Copy, Debug)]
pub struct EvalOptions {
    /// What to do with a model input a cell never carries.
    pub missing_inputs: MissingInputs,
    /// Rows per onnxruntime run.
    pub batch_rows: usize,
}

impl Default for EvalOptions {
    fn default() -> Self {
        Self {
            missing_inputs: MissingInputs::Refuse,
            batch_rows: DEFAULT_BATCH_ROWS,
        }
    }
}

/// Which model was scored.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ModelId {
    pub name: String,
    pub version: String,
    pub sha256: String,
}

/// Errors of the model and of the last-value baseline over a set of samples [PRB].
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct Scores {
    pub n: u64,
    pub model_mae: f64,
    pub last_value_mae: f64,
    pub model_rmse: f64,
    pub last_value_rmse: f64,
}

/// Scores of one group of samples.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Group {
    /// `folder`, `cell` (mapping input) or `ues`.
    pub by: &'static str,
    /// Folder label or cell name (string), or UE count (number; null when the trace carries
    /// no `RRC.ConnMean`).
    pub key: serde_json::Value,
    #[serde(flatten)]
    pub scores: Scores,
}

/// Samples not scored, by cell and reason.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Refusal {
    /// Group label of the cell.
    pub label: String,
    /// `missing_input`, `cell_size_mismatch`, `cell_size_invalid` or `target_missing`.
    pub reason: &'static str,
    pub samples: u64,
    pub detail: String,
}

/// The result of an evaluation.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Report {
    pub model: ModelId,
    #[serde(flatten)]
    pub overall: Scores,
    pub groups: Vec<Group>,
    /// Samples not scored, with why.
    pub refused: Vec<Refusal>,
    /// Input values that were missing and carried forward (or fed as 0).
    pub imputed_values: u64,
    /// Samples whose PRB inputs were scaled to the model's cell size (`prb_scaling = "linear"`).
    pub scaled_samples: u64,
    /// Forecasts outside `[0, cell_prbs × 1.01]` (the xApp refuses them; scored here as they are).
    pub model_output_out_of_range: u64,
    /// What the reader skipped or noticed.
    pub notes: Vec<String>,
    /// Trace rows left out under `--on-bad-row skip`, per bounded reason (never silently).
    pub skipped_rows: SkippedRows,
}

#[derive(Clone, Copy, Debug, Default)]
struct Acc {
    n: u64,
    model_abs: f64,
    model_sq: f64,
    last_abs: f64,
    last_sq: f64,
}

impl Acc {
    fn add(&mut self, pred: f64, last: f64, truth: f64) {
        let (em, el) = (pred - truth, last - truth);
        self.n += 1;
        self.model_abs += em.abs();
        self.model_sq += em * em;
        self.last_abs += el.abs();
        self.last_sq += el * el;
    }

    fn scores(&self) -> Scores {
        let n = self.n.max(1) as f64;
        Scores {
            n: self.n,
            model_mae: self.model_abs / n,
            last_value_mae: self.last_abs / n,
            model_rmse: (self.model_sq / n).sqrt(),
            last_value_rmse: (self.last_sq / n).sqrt(),
        }
    }
}

/// One sample waiting in the batch.
#[derive(Clone, Copy, Debug)]
struct Meta {
    truth: f32,
    last: f32,
    /// Model PRBs → this cell's PRBs.
    back: f32,
    cell: usize,
    ues: Option<u32>,
}

/// Non-finite outputs seen.
#[derive(Debug, Default)]
struct Bad {
    nan: u64,
    pos_inf: u64,
    neg_inf: u64,
    first: Option<String>,
}

struct Scorer<'m> {
    model: &'m mut LoadedModel,
    input_name: String,
    shape: [usize; 2],
    columns: usize,
    column: usize,
    ceiling: f32,
    batch_rows: usize,
    buf: Vec<f32>,
    meta: Vec<Meta>,
    overall: Acc,
    by_cell: Vec<Acc>,
    by_ues: BTreeMap<Option<u32>, Acc>,
    bad: Bad,
    out_of_range: u64,
}

impl Scorer<'_> {
    fn flush(&mut self, labels: &[String]) -> Result<(), EvalError> {
        let rows = self.meta.len();
        if rows == 0 {
            return Ok(());
        }
        let out = nf_infer::worker::infer(
            self.model,
            &self.input_name,
            &self.buf,
            [rows, self.shape[0], self.shape[1]],
            self.columns,
        )
        .map_err(|e| EvalError::Model(format!("onnxruntime run failed: {e}")))?;
        for (i, m) in self.meta.iter().enumerate() {
            let p = out[i * self.columns + self.column];
            if !p.is_finite() {
                match p {
                    v if v.is_nan() => self.bad.nan += 1,
                    v if v > 0.0 => self.bad.pos_inf += 1,
                    _ => self.bad.neg_inf += 1,
                }
                self.bad.first.get_or_insert_with(|| labels[m.cell].clone());
                continue;
            }
            if !(0.0..=self.ceiling).contains(&p) {
                self.out_of_range += 1;
            }
            let (pred, last, truth) = (
                f64::from(p) * f64::from(m.back),
                f64::from(m.last),
                f64::from(m.truth),
            );
            self.overall.add(pred, last, truth);
            self.by_cell[m.cell].add(pred, last, truth);
            self.by_ues.entry(m.ues).or_default().add(pred, last, truth);
        }
        self.buf.clear();
        self.meta.clear();
        Ok(())
    }
}

/// A run's UE count: the most UEs reporting in one of its windows.
pub fn run_ues(run: &trace::Run) -> Option<u32> {
    run.windows
        .iter()
        .filter_map(|w| {
            let v: Vec<f32> = w
                .slices
                .iter()
                .map(|(_, m)| m.get(Meas::ConnMean))
                .filter(|v| v.is_finite())
                .collect();
            (!v.is_empty()).then(|| v.iter().sum::<f32>())
        })
        .reduce(f32::max)
        .map(|v| v.round().max(0.0) as u32)
}

/// Model inputs a cell never carries in any slice of any window.
fn absent_inputs(cell: &CellTrace, layout: &FeatureLayout) -> Vec<Meas> {
    layout
        .features()
        .iter()
        .copied()
        .filter(|f| {
            !cell
                .windows()
                .flat_map(|w| w.slices.iter())
                .any(|(_, v)| v.get(*f).is_finite())
        })
        .collect()
}

fn names(m: &[Meas]) -> String {
    m.iter().map(|m| m.name()).collect::<Vec<_>>().join(", ")
}

/// Checks that the contract describes a forecaster this tool can score on a trace of
/// `period_ms` windows; returns the index of the scored output column.
pub fn check_contract(contract: &Contract, period_ms: u64) -> Result<usize, EvalError> {
    let Some(out) = contract.outputs.first() else {
        return Err(EvalError::Model("the contract lists no output".into()));
    };
    let column = out
        .columns
        .iter()
        .position(|c| c == SCORED_COLUMN)
        .ok_or_else(|| {
            EvalError::Model(format!(
                "`{}` is not a PRB forecaster: its output `{}` has columns {:?}, model-eval scores `{SCORED_COLUMN}`",
                contract.name, out.name, out.columns
            ))
        })?;
    if u64::from(contract.report_period_ms) != period_ms {
        return Err(EvalError::Input(format!(
            "the trace's report window is {period_ms} ms, the model `{}` forecasts {} ms windows",
            contract.name, contract.report_period_ms
        )));
    }
    Ok(column)
}

/// Refusals gathered while cutting samples.
#[derive(Default)]
struct Refused {
    list: Vec<Refusal>,
}

impl Refused {
    fn add(&mut self, label: &str, reason: &'static str, detail: impl FnOnce() -> String) {
        match self
            .list
            .iter_mut()
            .find(|r| r.label == label && r.reason == reason)
        {
            Some(r) => r.samples += 1,
            None => self.list.push(Refusal {
                label: label.to_owned(),
                reason,
                samples: 1,
                detail: detail(),
            }),
        }
    }
}

/// Samples a run slice holds: every start `s` with `s + window < len`.
fn sample_count(run: &trace::Run, window: usize) -> u64 {
    run.windows.len().saturating_sub(window) as u64 * run.windows[0].slices.len() as u64
}

/// Scores `model` on `input`: every sample of every cell, batched through onnxruntime.
pub fn evaluate(
    model: &mut LoadedModel,
    input: Input,
    opts: EvalOptions,
) -> Result<Report, EvalError> {
    let contract = model.contract.clone();
    let column = check_contract(&contract, input.period_ms)?;
    let window = contract.window();
    let layout = FeatureLayout::new(&contract.feature_names(), window)?
        .with_prb_counts(&contract.prb_inputs());
    let cell_prbs = contract.cell_prbs as f32;
    if input
        .cells
        .iter()
        .flat_map(|c| c.trace.windows())
        .flat_map(|w| w.slices.iter())
        .all(|(_, m)| !m.get(Meas::PrbUsedDl).is_finite())
    {
        return Err(EvalError::Input(
            "the trace carries no RRU.PrbUsedDl per slice: there is no target to score the forecast against"
                .into(),
        ));
    }
    let labels: Vec<String> = input.cells.iter().map(|c| c.label.clone()).collect();
    let mut refused = Refused::default();
    let mut s = Scorer {
        model,
        input_name: contract.input.name.clone(),
        shape: [window, layout.features().len()],
        columns: contract.output_columns(),
        column,
        ceiling: cell_prbs * OUTPUT_SLACK,
        batch_rows: opts.batch_rows.max(1),
        buf: Vec::new(),
        meta: Vec::new(),
        overall: Acc::default(),
        by_cell: vec![Acc::default(); input.cells.len()],
        by_ues: BTreeMap::new(),
        bad: Bad::default(),
        out_of_range: 0,
    };
    let (mut imputed, mut scaled) = (0u64, 0u64);
    let mut all_absent = true;
    let mut absent_names = String::new();
    for (ci, cell) in input.cells.iter().enumerate() {
        let absent = absent_inputs(&cell.trace, &layout);
        if absent.is_empty() {
            all_absent = false;
        } else if opts.missing_inputs == MissingInputs::Refuse {
            let n: u64 = cell
                .trace
                .runs
                .iter()
                .map(|r| sample_count(r, window))
                .sum();
            absent_names = names(&absent);
            refused.list.push(Refusal {
                label: cell.label.clone(),
                reason: "missing_input",
                samples: n,
                detail: format!(
                    "never carries model input(s) {}; --missing-inputs impute-zero feeds them as 0",
                    names(&absent)
                ),
            });
            continue;
        } else {
            all_absent = false;
        }
        for run in &cell.trace.runs {
            let ues = run_ues(run);
            for k in 0..run.windows[0].slices.len() {
                let series: Vec<MeasVec> = run.windows.iter().map(|w| w.slices[k].1).collect();
                let mut rows: VecDeque<MeasVec> = series.iter().take(window).copied().collect();
                for st in 0..series.len().saturating_sub(window) {
                    if st > 0 {
                        rows.pop_front();
                        rows.push_back(series[st + window - 1]);
                    }
                    let truth = series[st + window].get(Meas::PrbUsedDl);
                    let last = series[st + window - 1].get(Meas::PrbUsedDl);
                    if !truth.is_finite() || !last.is_finite() {
                        refused.add(&cell.label, "target_missing", || {
                            "RRU.PrbUsedDl missing in the target or the last input window".into()
                        });
                        continue;
                    }
                    let avail = run.windows[st + window - 1]
                        .cell
                        .value(Meas::PrbAvailDl)
                        .unwrap_or(cell_prbs);
                    if !(avail.is_finite() && avail > 0.0) {
                        refused.add(&cell.label, "cell_size_invalid", || {
                            format!("RRU.PrbAvailDl is {avail}")
                        });
                        continue;
                    }
                    let scale = cell_prbs / avail;
                    if avail != cell_prbs {
                        if contract.prb_scaling == PrbScaling::Refuse {
                            refused.add(&cell.label, "cell_size_mismatch", || {
                                format!(
                                    "RRU.PrbAvailDl {avail}, the model serves {cell_prbs}-PRB cells (prb_scaling = \"refuse\")"
                                )
                            });
                            continue;
                        }
                        scaled += 1;
                    }
                    let at = s.buf.len();
                    s.buf.resize(at + layout.row_len(), 0.0);
                    imputed += layout.write_row_scaled(&rows, &mut s.buf[at..], scale) as u64;
                    s.meta.push(Meta {
                        truth,
                        last,
                        back: avail / cell_prbs,
                        cell: ci,
                        ues,
                    });
                    if s.meta.len() >= s.batch_rows {
                        s.flush(&labels)?;
                    }
                }
            }
        }
    }
    s.flush(&labels)?;
    if all_absent && !input.cells.is_empty() {
        return Err(EvalError::Input(format!(
            "the trace never carries model input(s) {absent_names} of `{}`: every cell is refused \
             (missing_input). Map them, or run with --missing-inputs impute-zero to feed them as 0",
            contract.name
        )));
    }
    let bad = s.bad.nan + s.bad.pos_inf + s.bad.neg_inf;
    if bad > 0 {
        return Err(EvalError::ModelOutput {
            column: SCORED_COLUMN.into(),
            bad,
            total: bad + s.overall.n,
            nan: s.bad.nan,
            pos_inf: s.bad.pos_inf,
            neg_inf: s.bad.neg_inf,
            first: s.bad.first.unwrap_or_default(),
        });
    }
    if s.overall.n == 0 {
        let why = refused
            .list
            .first()
            .map(|r| format!(" ({}: {}: {})", r.label, r.reason, r.detail))
            .unwrap_or_else(|| format!(": no run is longer than the model's {window} windows"));
        return Err(EvalError::Input(format!("no sample to score{why}")));
    }
    let mut groups = Vec::new();
    for (c, acc) in input.cells.iter().zip(&s.by_cell) {
        if acc.n > 0 {
            groups.push(Group {
                by: input.group_by,
                key: c.label.clone().into(),
                scores: acc.scores(),
            });
        }
    }
    for (ues, acc) in &s.by_ues {
        groups.push(Group {
            by: "ues",
            key: ues.map_or(serde_json::Value::Null, Into::into),
            scores: acc.scores(),
        });
    }
    Ok(Report {
        model: ModelId {
            name: contract.name.clone(),
            version: contract.version.clone(),
            sha256: contract.sha256.clone(),
        },
        overall: s.overall.scores(),
        groups,
        refused: refused.list,
        imputed_values: imputed,
        scaled_samples: scaled,
        model_output_out_of_range: s.out_of_range,
        notes: input.notes,
        skipped_rows: input.skipped_rows,
    })
}

/// MAE ratio model / last value and what it says.
pub fn verdict(s: &Scores) -> (f64, String) {
    let ratio = s.model_mae / s.last_value_mae;
    let text = if !ratio.is_finite() {
        "no baseline error".to_owned()
    } else if ratio < 1.0 {
        format!("better by {:.1} %", (1.0 - ratio) * 100.0)
    } else if ratio > 1.0 {
        format!("WORSE by {:.1} %", (ratio - 1.0) * 100.0)
    } else {
        "same".to_owned()
    };
    (ratio, text)
}

/// The report as a readable table: one row overall, one per group.
pub fn table(r: &Report) -> String {
    let mut out = format!(
        "model {} {} (sha256 {}), scored column {SCORED_COLUMN}, errors in PRB\n",
        r.model.name, r.model.version, r.model.sha256
    );
    out.push_str(&format!(
        "{:<36} {:>8} {:>10} {:>10} {:>7} {:>10} {:>10}  verdict (MAE)\n",
        "group", "n", "model_mae", "last_mae", "ratio", "model_rmse", "last_rmse"
    ));
    let row = |key: String, s: &Scores| {
        let (ratio, text) = verdict(s);
        format!(
            "{key:<36} {:>8} {:>10.4} {:>10.4} {ratio:>7.3} {:>10.4} {:>10.4}  {text}\n",
            s.n, s.model_mae, s.last_value_mae, s.model_rmse, s.last_value_rmse
        )
    };
    out.push_str(&row("all".into(), &r.overall));
    for g in &r.groups {
        let key = match &g.key {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => "unknown".into(),
            other => other.to_string(),
        };
        out.push_str(&row(format!("{}={key}", g.by), &g.scores));
    }
    for f in &r.refused {
        out.push_str(&format!(
            "refused {} samples of {} ({}): {}\n",
            f.samples, f.label, f.reason, f.detail
        ));
    }
    if r.imputed_values > 0 {
        out.push_str(&format!(
            "imputed {} missing input values (carried forward, 0 when absent)\n",
            r.imputed_values
        ));
    }
    if r.scaled_samples > 0 {
        out.push_str(&format!(
            "scaled the PRB inputs of {} samples to the model's cell size\n",
            r.scaled_samples
        ));
    }
    if r.model_output_out_of_range > 0 {
        out.push_str(&format!(
            "{} forecasts out of range [0, cell_prbs × {OUTPUT_SLACK}] (the xApp would refuse them; scored as they are)\n",
            r.model_output_out_of_range
        ));
    }
    for n in &r.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_labels_keep_the_trial() {
        assert_eq!(
            folder_label(Path::new("/x/tractor-trials/multi-ue-trial1/multi4")),
            "multi-ue-trial1/multi4"
        );
        assert_eq!(
            folder_label(Path::new("/x/tractor/multi4/")),
            "tractor/multi4"
        );
    }

    #[test]
    fn verdicts_say_which_way() {
        let s = |m, l| Scores {
            n: 1,
            model_mae: m,
            last_value_mae: l,
            model_rmse: 0.0,
            last_value_rmse: 0.0,
        };
        assert_eq!(verdict(&s(0.5, 1.0)).1, "better by 50.0 %");
        assert_eq!(verdict(&s(1.36, 1.0)).1, "WORSE by 36.0 %");
        assert_eq!(verdict(&s(0.0, 0.0)).1, "no baseline error");
    }

    #[test]
    fn run_ue_count_is_the_busiest_window() {
        let cells = trace::read_cells(&trace::bundled_root()).unwrap();
        let multi = cells.iter().find(|c| c.name == "multi4").unwrap();
        let most = multi.runs.iter().filter_map(run_ues).max().unwrap();
        assert!((3..=4).contains(&most), "{most}");
    }
}
