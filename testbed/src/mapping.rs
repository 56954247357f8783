//! CSV traces of any layout through a column-mapping file.
//!
//! A mapping file (TOML) says which columns hold the time, E2 node, cell, slice and UE
//! keys, which column becomes which measurement (with a linear unit conversion and how
//! UEs are aggregated into a slice), and how time is written. A new operator CSV format
//! needs a mapping file, not code. The files shipped in `testbed/mappings/` read the
//! SCOPE per-UE CSV (TRACTOR, ColO-RAN slices) and the ColO-RAN cell and UE CSVs.
//!
//! Reading happens in two steps: [`Mapping::read_rows`] turns CSV lines into [`Row`]s
//! (one per line, values in mapped units, bad lines reported with file and line and either
//! skipped or fatal), and [`Mapping::to_cells`] bins rows into report windows and
//! aggregates them into the per-cell, per-slice KPM [`CellTrace`]s the simulator replays.
//! Row names are free (the twin reads control-state columns this way); names aggregated
//! into cells must be KPM measurements the xApp knows.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nf_core::{Meas, MeasVec, Snssai};
use serde::Deserialize;

use crate::trace::{CellTrace, Run, Window, run_spans};

/// Most bad rows kept with their details (all are counted).
pub const MAX_REPORTED: usize = 100;

/// What to do on a bad row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnBadRow {
    /// Stop at the first bad row with its file and line.
    #[default]
    Stop,
    /// Report and count it, and go on.
    Skip,
}

/// Why a mapping or a trace could not be used.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("mapping {path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("{path}: missing column `{column}` (named by the mapping)")]
    Column { path: PathBuf, column: String },
    #[error("{0}")]
    Bad(BadRow),
}

/// A row that could not be used.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct BadRow {
    pub file: PathBuf,
    pub line: u64,
    /// Bounded label (`REASON_*`).
    pub reason: &'static str,
    pub problem: String,
}

/// Bad-row reason: the record does not split into the header's fields.
pub const REASON_MALFORMED: &str = "malformed_record";
/// Bad-row reason: the time is not in the mapping's format, or (`epoch_ms`, `epoch_s`,
/// `relative_ms`) not written in plain decimal notation ([`crate::trace::plain_decimal`]):
/// `1.66716E+12` keeps 6 significant digits and no millisecond precision.
pub const REASON_BAD_TIME: &str = "time_not_ms_precision";
/// Bad-row reason: the slice key has no SST.
pub const REASON_BAD_SLICE: &str = "slice_unknown";
/// Bad-row reason: a measurement is not a finite number.
pub const REASON_NOT_A_NUMBER: &str = "field_not_a_number";
/// Bad-row reason: the time of a cell / UE stream steps back.
pub const REASON_TIME_BACKWARDS: &str = "time_backwards";

impl std::fmt::Display for BadRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.problem)
    }
}

/// Counts of a read.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ReadReport {
    pub files: usize,
    pub rows: u64,
    pub bad_rows: u64,
    /// The same per bounded reason (`REASON_*`).
    pub bad_by_reason: BTreeMap<&'static str, u64>,
    /// Measurement cells holding a missing-value token (`format.missing`; the value is left
    /// out of its window, never read as 0).
    pub missing_values: u64,
    /// The same, per source column.
    pub missing_by_column: BTreeMap<String, u64>,
    /// The first [`MAX_REPORTED`] bad rows.
    pub bad: Vec<BadRow>,
}

impl ReadReport {
    fn missing(&mut self, column: &str) {
        self.missing_values += 1;
        match self.missing_by_column.get_mut(column) {
            Some(n) => *n += 1,
            None => {
                self.missing_by_column.insert(column.to_owned(), 1);
            }
        }
    }

    fn bad(&mut self, row: BadRow, policy: OnBadRow) -> Result<(), MappingError> {
        self.bad_rows += 1;
        *self.bad_by_reason.entry(row.reason).or_default() += 1;
        if self.bad_rows <= MAX_REPORTED as u64 {
            tracing::warn!(file = %row.file.display(), line = row.line, reason = row.reason, problem = %row.problem, "bad trace row");
        } else {
            tracing::debug!(file = %row.file.display(), line = row.line, reason = row.reason, problem = %row.problem, "bad trace row");
        }
        if policy == OnBadRow::Stop {
            return Err(MappingError::Bad(row));
        }
        if self.bad.len() < MAX_REPORTED {
            self.bad.push(row);
        }
        Ok(())
    }
}

/// How the time column is written.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TimeSpec {
    pub column: String,
    /// `epoch_ms`, `epoch_s`, `relative_ms` (since some start; aligned later), or a chrono
    /// `strftime` pattern read as UTC (e.g. `%Y-%m-%d %H:%M:%S%.f`).
    pub format: String,
}

/// Where a key comes from.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KeySpec {
    /// A column.
    pub column: Option<String>,
    /// A constant.
    pub value: Option<String>,
    /// The name of the folder holding the file (one folder per cell).
    #[serde(default)]
    pub folder: bool,
    /// The file's name without its suffix (one file per UE, say).
    #[serde(default)]
    pub file: bool,
    /// For slices: column value → SST (`{ "0" = 1 }`); unmapped values are refused.
    #[serde(default)]
    pub sst: BTreeMap<String, u8>,
}

/// How UEs of one slice and window combine.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Aggregate {
    #[default]
    Sum,
    Mean,
    Max,
    Last,
    /// Number of distinct UEs in the window (rows without a `[ue]` key); the column is not
    /// read.
    Count,
}

/// One mapped column.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MeasSpec {
    /// Measurement name (TS 28.552 or `VS.` for those aggregated into cells).
    pub name: String,
    /// Source column (not needed for `count` or a constant `value`).
    pub column: Option<String>,
    /// A constant instead of a column.
    pub value: Option<f64>,
    /// Unit conversion: `value × scale + offset`.
    #[serde(default = "one")]
    pub scale: f64,
    #[serde(default)]
    pub offset: f64,
    #[serde(default)]
    pub aggregate: Aggregate,
    /// Cell-level (one value per cell and window) rather than per slice.
    #[serde(default)]
    pub cell: bool,
    /// Cell-level value derived as `scale × Σ over slices` of this measurement.
    pub sum_of: Option<String>,
}

fn one() -> f64 {
    1.0
}

/// General properties of the format.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FormatSpec {
    pub name: String,
    #[serde(default = "comma")]
    pub delimiter: char,
    /// Report window rows are binned into [ms].
    pub period_ms: u64,
    /// A gap longer than this starts a new run [ms].
    #[serde(default = "run_gap")]
    pub run_gap_ms: u64,
    /// File-name suffix of the trace files in a folder.
    #[serde(default = "csv_suffix")]
    pub files: String,
    /// Cell contents that mean "no value" (e.g. `["-", "", "NA"]`); compared after
    /// trimming. Default: only the empty cell.
    #[serde(default = "empty_only")]
    pub missing: Vec<String>,
}

fn empty_only() -> Vec<String> {
    vec![String::new()]
}

fn comma() -> char {
    ','
}
fn run_gap() -> u64 {
    10_000
}
fn csv_suffix() -> String {
    ".csv".into()
}

/// A parsed mapping file.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    pub format: FormatSpec,
    pub time: TimeSpec,
    #[serde(default)]
    pub node: KeySpec,
    #[serde(default)]
    pub cell: KeySpec,
    pub slice: Option<KeySpec>,
    pub ue: Option<KeySpec>,
    #[serde(rename = "measurement")]
    pub measurements: Vec<MeasSpec>,
    #[serde(skip)]
    pub path: PathBuf,
}

/// One CSV line in mapped units.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub file: usize,
    pub line: u64,
    pub t_ms: i64,
    pub node: String,
    pub cell: String,
    pub slice: Option<Snssai>,
    pub ue: String,
    /// One per mapping measurement; NaN where the cell was empty or derived.
    pub values: Vec<f64>,
}

enum TimeFormat {
    EpochMs,
    EpochS,
    RelativeMs,
    Pattern(String),
}

impl Mapping {
    /// Reads and checks a mapping file.
    pub fn load(path: &Path) -> Result<Self, MappingError> {
        let text = std::fs::read_to_string(path).map_err(|source| MappingError::Io {
            path: path.into(),
            source,
        })?;
        let mut m: Mapping = toml::from_str(&text).map_err(|e| MappingError::Invalid {
            path: path.into(),
            message: e.to_string(),
        })?;
        m.path = path.into();
        m.check()?;
        Ok(m)
    }

    fn invalid(&self, message: impl Into<String>) -> MappingError {
        MappingError::Invalid {
            path: self.path.clone(),
            message: message.into(),
        }
    }

    fn check(&self) -> Result<(), MappingError> {
        if self.format.period_ms == 0 {
            return Err(self.invalid("format.period_ms must be above 0"));
        }
        self.time_format()?;
        for (what, k) in [("node", &self.node), ("cell", &self.cell)] {
            let sources = usize::from(k.column.is_some())
                + usize::from(k.value.is_some())
                + usize::from(k.folder)
                + usize::from(k.file);
            if sources > 1 {
                return Err(
                    self.invalid(format!("{what}: give one of column, value, folder, file"))
                );
            }
        }
        self.check_names()?;
        for m in &self.measurements {
            let sources = usize::from(m.column.is_some())
                + usize::from(m.value.is_some())
                + usize::from(m.sum_of.is_some())
                + usize::from(m.aggregate == Aggregate::Count);
            if sources != 1 {
                return Err(self.invalid(format!(
                    "measurement `{}`: give exactly one of column, value, sum_of, aggregate = \"count\"",
                    m.name
                )));
            }
            if !m.scale.is_finite() || !m.offset.is_finite() {
                return Err(self.invalid(format!(
                    "measurement `{}`: scale and offset must be finite",
                    m.name
                )));
            }
            if let Some(of) = &m.sum_of
                && (!m.cell || !self.measurements.iter().any(|o| &o.name == of && !o.cell))
            {
                return Err(self.invalid(format!(
                    "measurement `{}`: sum_of needs cell = true and a per-slice measurement `{of}`",
                    m.name
                )));
            }
        }
        Ok(())
    }

    /// Each measurement is named once, and its `cell` flag matches the level the xApp reads
    /// it at (a per-slice measurement marked `cell = true` would never reach it).
    fn check_names(&self) -> Result<(), MappingError> {
        let mut seen = std::collections::BTreeSet::new();
        for m in &self.measurements {
            if !seen.insert(m.name.as_str()) {
                return Err(self.invalid(format!(
                    "measurement `{}` is mapped twice: the second would override the first",
                    m.name
                )));
            }
            let Some(meas) = Meas::from_name(&m.name) else {
                continue;
            };
            let per_cell = Meas::PER_CELL.contains(&meas);
            if m.cell != per_cell {
                return Err(self.invalid(format!(
                    "measurement `{}` is {} in E2SM-KPM here: set cell = {per_cell}",
                    m.name,
                    if per_cell { "cell-level" } else { "per slice" },
                )));
            }
        }
        Ok(())
    }

    fn time_format(&self) -> Result<TimeFormat, MappingError> {
        Ok(match self.time.format.as_str() {
            "epoch_ms" => TimeFormat::EpochMs,
            "epoch_s" => TimeFormat::EpochS,
            "relative_ms" => TimeFormat::RelativeMs,
            p if p.contains('%') => TimeFormat::Pattern(p.into()),
            other => {
                return Err(self.invalid(format!(
                    "time.format `{other}`: expected epoch_ms, epoch_s, relative_ms or a strftime pattern"
                )));
            }
        })
    }

    /// True when the time column is relative and needs aligning to another file.
    pub fn relative_time(&self) -> bool {
        self.time.format == "relative_ms"
    }

    /// Index of measurement `name` in [`Row::values`].
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.measurements.iter().position(|m| m.name == name)
    }

    /// The trace files of `path`: the file itself, or the matching files of a folder and of
    /// its sub-folders (down to [`MAX_DEPTH`] levels), sorted.
    pub fn files(&self, path: &Path) -> Result<Vec<PathBuf>, MappingError> {
        if path.is_file() {
            return Ok(vec![path.into()]);
        }
        let mut out = Vec::new();
        walk(path, 0, &mut out)?;
        out.retain(|p| p.to_string_lossy().ends_with(&self.format.files));
        out.sort();
        Ok(out)
    }

    /// Reads every file into rows, in file order.
    pub fn read_rows(
        &self,
        files: &[PathBuf],
        on_bad: OnBadRow,
    ) -> Result<(Vec<Row>, ReadReport), MappingError> {
        let mut report = ReadReport::default();
        let mut rows = Vec::new();
        let tf = self.time_format()?;
        for (i, f) in files.iter().enumerate() {
            self.read_file(i, f, &tf, on_bad, &mut rows, &mut report)?;
            report.files += 1;
        }
        Ok((rows, report))
    }

    fn read_file(
        &self,
        index: usize,
        path: &Path,
        tf: &TimeFormat,
        on_bad: OnBadRow,
        rows: &mut Vec<Row>,
        report: &mut ReadReport,
    ) -> Result<(), MappingError> {
        let io = |e: csv::Error| MappingError::Io {
            path: path.into(),
            source: std::io::Error::other(e),
        };
        let mut rdr = csv::ReaderBuilder::new()
            .delimiter(self.format.delimiter as u8)
            .flexible(true)
            .from_path(path)
            .map_err(io)?;
        let header = rdr.headers().map_err(io)?.clone();
        let col = |name: &str| {
            header
                .iter()
                .position(|h| h.trim() == name)
                .ok_or_else(|| MappingError::Column {
                    path: path.into(),
                    column: name.into(),
                })
        };
        let key_col = |k: &KeySpec| k.column.as_deref().map(col).transpose();
        let t_col = col(&self.time.column)?;
        let (node_col, cell_col) = (key_col(&self.node)?, key_col(&self.cell)?);
        let slice_col = self.slice.as_ref().map(key_col).transpose()?.flatten();
        let ue_col = self.ue.as_ref().map(key_col).transpose()?.flatten();
        let meas_cols: Vec<Option<usize>> = self
            .measurements
            .iter()
            .map(|m| m.column.as_deref().map(col).transpose())
            .collect::<Result<_, _>>()?;
        let folder = path
            .parent()
            .and_then(|p| p.file_name())
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let stem = path.file_name().map_or_else(String::new, |n| {
            n.to_string_lossy()
                .trim_end_matches(&self.format.files)
                .to_owned()
        });
        let key = |k: &KeySpec, c: Option<usize>, rec: &csv::StringRecord| -> String {
            match (c, &k.value) {
                (Some(c), _) => rec.get(c).unwrap_or("").trim().to_owned(),
                (None, Some(v)) => v.clone(),
                _ if k.folder => folder.clone(),
                _ if k.file => stem.clone(),
                _ => String::new(),
            }
        };
        let mut last_t: BTreeMap<(String, String), i64> = BTreeMap::new();
        for (i, rec) in rdr.records().enumerate() {
            let line = i as u64 + 2;
            report.rows += 1;
            let bad = |reason: &'static str, problem: String| BadRow {
                file: path.into(),
                line,
                reason,
                problem,
            };
            let rec = match rec {
                Ok(r) if r.len() == header.len() => r,
                Ok(r) => {
                    report.bad(
                        bad(
                            REASON_MALFORMED,
                            format!("{} fields, the header has {}", r.len(), header.len()),
                        ),
                        on_bad,
                    )?;
                    continue;
                }
                Err(e) => {
                    report.bad(bad(REASON_MALFORMED, e.to_string()), on_bad)?;
                    continue;
                }
            };
            let raw_t = rec.get(t_col).unwrap_or("").trim();
            let Some(t_ms) = parse_time(raw_t, tf) else {
                report.bad(
                    bad(
                        REASON_BAD_TIME,
                        format!(
                            "time `{raw_t}` in `{}` is not {} (plain decimal, no exponent: \
                             millisecond precision)",
                            self.time.column, self.time.format
                        ),
                    ),
                    on_bad,
                )?;
                continue;
            };
            let cell = key(&self.cell, cell_col, &rec);
            let ue = self
                .ue
                .as_ref()
                .map(|k| key(k, ue_col, &rec))
                .unwrap_or_default();
            let slice = match &self.slice {
                None => None,
                Some(k) => {
                    let v = key(k, slice_col, &rec);
                    match k.sst.get(&v) {
                        Some(sst) => Some(Snssai::new(*sst, None)),
                        None if k.sst.is_empty() => match v.parse::<u8>() {
                            Ok(sst) => Some(Snssai::new(sst, None)),
                            Err(_) => {
                                report.bad(
                                    bad(
                                        REASON_BAD_SLICE,
                                        format!("slice `{v}` is not an SST number"),
                                    ),
                                    on_bad,
                                )?;
                                continue;
                            }
                        },
                        None => {
                            report.bad(
                                bad(
                                    REASON_BAD_SLICE,
                                    format!("slice `{v}` has no SST in the mapping"),
                                ),
                                on_bad,
                            )?;
                            continue;
                        }
                    }
                }
            };
            let mut values = Vec::with_capacity(self.measurements.len());
            let mut problem = None;
            for (m, c) in self.measurements.iter().zip(&meas_cols) {
                let v = match (c, m.value) {
                    (Some(c), _) => {
                        let raw = rec.get(*c).unwrap_or("").trim();
                        if self.format.missing.iter().any(|t| t.trim() == raw) {
                            report.missing(m.column.as_deref().unwrap_or(""));
                            f64::NAN
                        } else {
                            match raw.parse::<f64>() {
                                Ok(v) if v.is_finite() => v * m.scale + m.offset,
                                _ => {
                                    problem = Some(format!(
                                        "`{}` = `{raw}` is not a finite number",
                                        m.column.as_deref().unwrap_or("")
                                    ));
                                    break;
                                }
                            }
                        }
                    }
                    (None, Some(v)) => v,
                    _ => f64::NAN,
                };
                values.push(v);
            }
            if let Some(p) = problem {
                report.bad(bad(REASON_NOT_A_NUMBER, p), on_bad)?;
                continue;
            }
            let stream = (cell.clone(), ue.clone());
            if let Some(prev) = last_t.get(&stream)
                && t_ms < *prev
            {
                report.bad(
                    bad(
                        REASON_TIME_BACKWARDS,
                        format!("time goes backwards ({t_ms} ms after {prev} ms)"),
                    ),
                    on_bad,
                )?;
                continue;
            }
            last_t.insert(stream, t_ms);
            rows.push(Row {
                file: index,
                line,
                t_ms,
                node: key(&self.node, node_col, &rec),
                cell,
                slice,
                ue,
                values,
            });
        }
        Ok(())
    }

    /// Bins rows into report windows and aggregates them into cells (one per node and
    /// cell key), slices and measurements. Every measurement must be one the xApp knows.
    pub fn to_cells(&self, rows: &[Row]) -> Result<Vec<CellTrace>, MappingError> {
        let meas: Vec<Meas> = self
            .measurements
            .iter()
            .map(|m| {
                Meas::from_name(&m.name).ok_or_else(|| {
                    let known: Vec<&str> = Meas::ALL.iter().map(|m| m.name()).collect();
                    self.invalid(format!(
                        "measurement `{}` is not one the xApp knows ({})",
                        m.name,
                        known.join(", ")
                    ))
                })
            })
            .collect::<Result<_, _>>()?;
        let mut by_cell: BTreeMap<(String, String), Vec<&Row>> = BTreeMap::new();
        for r in rows {
            by_cell
                .entry((r.node.clone(), r.cell.clone()))
                .or_default()
                .push(r);
        }
        let period = self.format.period_ms as i64;
        Ok(by_cell
            .into_iter()
            .map(|((node, cell), rows)| {
                let name = if node.is_empty() {
                    cell
                } else {
                    format!("{node}/{cell}")
                };
                let mut bins: BTreeMap<i64, Vec<&Row>> = BTreeMap::new();
                for r in rows {
                    bins.entry(r.t_ms.div_euclid(period)).or_default().push(r);
                }
                CellTrace {
                    name,
                    runs: self.runs(&bins, &meas),
                }
            })
            .collect())
    }

    fn runs(&self, bins: &BTreeMap<i64, Vec<&Row>>, meas: &[Meas]) -> Vec<Run> {
        let keys: Vec<i64> = bins.keys().copied().collect();
        let period = self.format.period_ms as i64;
        let gap = self.format.run_gap_ms as i64;
        run_spans(keys.len(), |i| (keys[i] - keys[i - 1]) * period > gap)
            .into_iter()
            .map(|span| {
                let span = &keys[span];
                let mut slices: Vec<Option<Snssai>> = span
                    .iter()
                    .flat_map(|k| bins[k].iter().map(|r| r.slice))
                    .collect();
                slices.sort_unstable();
                slices.dedup();
                let windows = (span[0]..=span[span.len() - 1])
                    .map(|b| self.window(b, bins.get(&b).map_or(&[][..], |v| v), &slices, meas))
                    .collect();
                Run { windows }
            })
            .collect()
    }

    fn window(&self, bin: i64, rows: &[&Row], slices: &[Option<Snssai>], meas: &[Meas]) -> Window {
        let mut cell = MeasVec::default();
        let mut out = Vec::new();
        for slice in slices {
            let mine: Vec<&Row> = rows.iter().copied().filter(|r| r.slice == *slice).collect();
            let ues = self.by_ue(&mine);
            let mut mv = MeasVec::default();
            for (i, (spec, m)) in self.measurements.iter().zip(meas).enumerate() {
                if spec.sum_of.is_some() {
                    continue;
                }
                let v = aggregate_ues(spec.aggregate, &ues, i);
                if spec.cell {
                    if !v.is_nan() {
                        cell.set(*m, v as f32);
                    }
                } else {
                    // A slice with no row in the window is idle (the SCOPE reader's reading,
                    // which the model was trained on); one whose rows all lack the value
                    // has no value.
                    mv.set(*m, if mine.is_empty() { 0.0 } else { v as f32 });
                }
            }
            if let Some(s) = slice {
                out.push((*s, mv));
            } else {
                for m in Meas::PER_SLICE {
                    let v = mv.get(m);
                    if !v.is_nan() {
                        cell.set(m, v);
                    }
                }
            }
        }
        for (spec, m) in self.measurements.iter().zip(meas) {
            if let Some(of) = &spec.sum_of
                && let Some(src) = Meas::from_name(of)
            {
                let s: f32 = out
                    .iter()
                    .map(|(_, v)| v.get(src))
                    .filter(|v| !v.is_nan())
                    .sum();
                cell.set(*m, (f64::from(s) * spec.scale + spec.offset) as f32);
            }
        }
        Window {
            start_ms: (bin * self.format.period_ms as i64).max(0) as u64,
            cell,
            slices: out,
        }
    }
}

impl Mapping {
    /// One slice's rows of one window, grouped by UE. A UE whose logger drifted against the
    /// window grid can have two rows in one window (seen in TRACTOR's multi-UE trials: summed
    /// as rows, the cell used 112 % of its PRBs). Without a `[ue]` key every row is a UE.
    fn by_ue<'r>(&self, rows: &[&'r Row]) -> Vec<Vec<&'r Row>> {
        if self.ue.is_none() {
            return rows.iter().map(|r| vec![*r]).collect();
        }
        let mut ues: Vec<Vec<&Row>> = Vec::new();
        for r in rows {
            match ues.iter_mut().find(|g| g[0].ue == r.ue) {
                Some(g) => g.push(r),
                None => ues.push(vec![r]),
            }
        }
        ues
    }
}

/// Measurement `i` across the UEs of one slice and window: each UE's rows are first
/// averaged (max / last for those aggregates) into one value, then UEs combine as `how`
/// says, `count` counting UEs.
fn aggregate_ues(how: Aggregate, ues: &[Vec<&Row>], i: usize) -> f64 {
    if how == Aggregate::Count {
        return ues.len() as f64;
    }
    let within = match how {
        Aggregate::Max => Aggregate::Max,
        Aggregate::Last => Aggregate::Last,
        Aggregate::Sum | Aggregate::Mean | Aggregate::Count => Aggregate::Mean,
    };
    aggregate(
        how,
        ues.iter()
            .map(|g| aggregate(within, g.iter().map(|r| r.values[i]))),
    )
}

fn aggregate(how: Aggregate, values: impl Iterator<Item = f64>) -> f64 {
    let (mut n, mut k) = (0usize, 0usize);
    let (mut sum, mut max, mut last) = (0.0, f64::NEG_INFINITY, f64::NAN);
    for v in values {
        n += 1;
        if v.is_nan() {
            continue;
        }
        k += 1;
        sum += v;
        max = max.max(v);
        last = v;
    }
    match how {
        Aggregate::Sum if k > 0 => sum,
        Aggregate::Mean if k > 0 => sum / k as f64,
        Aggregate::Max if max.is_finite() => max,
        Aggregate::Last => last,
        Aggregate::Count => n as f64,
        _ => f64::NAN,
    }
}

/// A row's time in ms. Numeric formats must be written in plain decimal notation
/// ([`crate::trace::plain_decimal`]): exponent notation cannot carry millisecond precision.
fn parse_time(raw: &str, tf: &TimeFormat) -> Option<i64> {
    let num = || {
        crate::trace::plain_decimal(raw)
            .then(|| raw.parse::<f64>().ok())
            .flatten()
            .filter(|v| v.is_finite())
    };
    match tf {
        TimeFormat::EpochMs | TimeFormat::RelativeMs => num().map(|v| v as i64),
        TimeFormat::EpochS => num().map(|v| (v * 1000.0).round() as i64),
        TimeFormat::Pattern(p) => chrono::NaiveDateTime::parse_from_str(raw, p)
            .ok()
            .map(|t| t.and_utc().timestamp_millis()),
    }
}

/// Folder levels below the input searched for trace files.
pub const MAX_DEPTH: usize = 4;

/// Collects the files under `dir`, `depth` levels below the input.
fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), MappingError> {
    let entries = std::fs::read_dir(dir).map_err(|source| MappingError::Io {
        path: dir.into(),
        source,
    })?;
    for p in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        if p.is_dir() {
            if depth < MAX_DEPTH {
                walk(&p, depth + 1, out)?;
            }
        } else {
            out.push(p);
        }
    }
    Ok(())
}

/// The mapping files shipped with the testbed.
pub fn bundled(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("mappings")
        .join(format!("{name}.toml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `epoch_ms` written as `1.69094E+12` (a spreadsheet re-save) stops the read naming
    /// file, line and column, or is skipped and counted under its reason.
    #[test]
    fn exponent_times_are_refused_or_skipped_and_counted() {
        let dir = std::env::temp_dir().join(format!("mapping-exp-{}", std::process::id()));
        let cell = dir.join("cell");
        std::fs::create_dir_all(&cell).unwrap();
        let src = crate::trace::bundled_root().join("multi4/1010123456005_metrics.csv");
        let text = std::fs::read_to_string(src).unwrap();
        let mut lines: Vec<String> = text.lines().take(41).map(str::to_owned).collect();
        for l in &mut lines[5..8] {
            let (_, rest) = l.split_once(',').unwrap();
            *l = format!("1.69094E+12,{rest}");
        }
        std::fs::write(cell.join("a_metrics.csv"), lines.join("\n")).unwrap();
        let m = Mapping::load(&bundled("scope")).unwrap();
        let files = m.files(&dir).unwrap();
        let err = m.read_rows(&files, OnBadRow::Stop).unwrap_err().to_string();
        assert!(
            err.contains("a_metrics.csv:6") && err.contains("`1.69094E+12` in `Timestamp`"),
            "{err}"
        );
        let (rows, report) = m.read_rows(&files, OnBadRow::Skip).unwrap();
        assert_eq!(rows.len(), 37);
        assert_eq!(report.bad_rows, 3);
        assert_eq!(report.bad_by_reason[REASON_BAD_TIME], 3);
        assert_eq!(report.bad[0].reason, REASON_BAD_TIME);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
