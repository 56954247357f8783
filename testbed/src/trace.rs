//! Reader of SCOPE per-UE KPM CSV traces (TRACTOR, ColO-RAN), aggregated into cells and
//! slices.
//!
//! A trace folder is one cell; each `*_metrics.csv` in it is one UE. Rows are binned into
//! 250 ms report windows (`Timestamp / 250`), a run is split wherever the cell's timeline
//! jumps by more than 10 s, and every window of a run carries every slice seen in the run
//! (zeros when none of its UEs reported). This is the same data model as
//! `models/slice_forecaster/train.py`, so the simulator replays exactly what the model was
//! trained and evaluated on. Column → KPM mapping (`../shared/traces/README.md`):
//!
//! | column | measurement |
//! |---|---|
//! | Σ `sum_granted_prbs` / 250 | `RRU.PrbUsedDl` [PRB] (per slice) |
//! | Σ `tx_brate downlink [Mbps]` × 1000 | `DRB.UEThpDl` [kbit/s] |
//! | Σ `rx_brate uplink [Mbps]` × 1000 | `DRB.UEThpUl` [kbit/s] |
//! | UEs reporting | `RRC.ConnMean` |
//! | Σ `dl_buffer [bytes]` | `VS.DlBufferBytes` |
//! | Σ `sum_requested_prbs` / 250 | `VS.PrbReqDl` [PRB] |
//! | mean `dl_cqi` | `VS.DlCqiMean` |
//! | 50 | `RRU.PrbAvailDl` (cell) |
//! | Σ PRBs used / 50 × 100 | `RRU.PrbTotDl` [%] (cell) |
//!
//! `Timestamp` must carry millisecond precision ([`plain_decimal`]): a value in exponent
//! notation (`1.66716E+12`, a spreadsheet re-save keeping 6 significant digits) would fold
//! hours of rows into one window, so it is a bad row. [`read_cell`] refuses the file at the
//! first one (file, line, column); [`read_cell_with`] under [`OnBadRow::Skip`] skips such rows
//! and counts them per bounded reason ([`SkippedRows`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nf_core::{Meas, MeasVec, Snssai};

use crate::mapping::OnBadRow;

/// Report window of the SCOPE traces [ms].
pub const PERIOD_MS: u64 = 250;
/// TTIs (1 ms) per window: `sum_granted_prbs` counts PRB-TTIs.
pub const TTI_PER_WINDOW: f64 = 250.0;
/// A gap longer than this starts a new run [ms].
pub const RUN_GAP_MS: u64 = 10_000;
/// DL PRBs of the 10 MHz carrier the traces were recorded on.
pub const CELL_PRBS: f32 = 50.0;

/// Why a trace could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("cannot read trace {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {problem}")]
    Row {
        path: PathBuf,
        line: u64,
        problem: String,
    },
    #[error("{path}: missing column `{column}`")]
    Column { path: PathBuf, column: &'static str },
    #[error("trace folder {0} holds no *_metrics.csv file")]
    Empty(PathBuf),
}

/// Whether a time value is written in plain decimal notation: ASCII digits, optionally a
/// `.` and more digits (no sign, no exponent, nothing else; surrounding blanks are the
/// caller's to trim). Every digit of the integer part is then written out, so an
/// `epoch_ms` / `relative_ms` value keeps millisecond resolution (and `epoch_s` the
/// resolution it was written with). `1667160000123` and `1667160000.5` pass; `1.66716E+12`,
/// `1e3`, `-5`, `.5`, `12.` and `0x10` do not.
pub fn plain_decimal(raw: &str) -> bool {
    let (int, frac) = match raw.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (raw, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(int) && frac.is_none_or(digits)
}

/// Bounded reason of a skipped SCOPE row: the `Timestamp` is not a plain decimal
/// millisecond count (see [`plain_decimal`]).
pub const REASON_TIMESTAMP_NOT_MS: &str = "timestamp_not_ms_precision";
/// Bounded reason of a skipped SCOPE row: a measurement field is not a finite number.
pub const REASON_NOT_A_NUMBER: &str = "field_not_a_number";
/// Bounded reason of a skipped SCOPE row: the CSV record itself is malformed.
pub const REASON_MALFORMED: &str = "malformed_record";

/// Rows a lenient read ([`OnBadRow::Skip`]) left out, counted per reason.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SkippedRows {
    /// Rows skipped in all.
    pub rows: u64,
    /// The same per bounded reason (`REASON_*`).
    pub by_reason: BTreeMap<&'static str, u64>,
    /// The first skipped row, as `file:line: problem`.
    pub first: Option<String>,
}

impl SkippedRows {
    fn add(&mut self, reason: &'static str, err: &TraceError) {
        self.rows += 1;
        *self.by_reason.entry(reason).or_default() += 1;
        if self.first.is_none() {
            self.first = Some(err.to_string());
        }
    }

    /// Adds another read's counts.
    pub fn merge(&mut self, other: &SkippedRows) {
        self.rows += other.rows;
        for (r, n) in &other.by_reason {
            *self.by_reason.entry(r).or_default() += n;
        }
        if self.first.is_none() {
            self.first.clone_from(&other.first);
        }
    }
}

/// S-NSSAI of a SCOPE slice id: 0 eMBB (SST 1), 1 mMTC (SST 3, MIoT), 2 URLLC (SST 2).
pub fn snssai_of_slice_id(id: u32) -> Snssai {
    match id {
        0 => Snssai::new(1, None),
        1 => Snssai::new(3, None),
        2 => Snssai::new(2, None),
        other => Snssai::new(128, Some(other)),
    }
}

/// One report window of a cell.
#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    pub start_ms: u64,
    pub cell: MeasVec,
    pub slices: Vec<(Snssai, MeasVec)>,
}

/// A contiguous run of windows.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    pub windows: Vec<Window>,
}

/// A cell's trace: its runs in time order.
#[derive(Clone, Debug, PartialEq)]
pub struct CellTrace {
    pub name: String,
    pub runs: Vec<Run>,
}

impl CellTrace {
    /// Every window of every run, in order.
    pub fn windows(&self) -> impl Iterator<Item = &Window> {
        self.runs.iter().flat_map(|r| r.windows.iter())
    }

    /// Slices seen anywhere in the trace.
    pub fn slices(&self) -> Vec<Snssai> {
        let mut s: Vec<Snssai> = self
            .windows()
            .flat_map(|w| w.slices.iter().map(|(s, _)| *s))
            .collect();
        s.sort_unstable();
        s.dedup();
        s
    }
}

#[derive(Default, Clone, Copy)]
struct Acc {
    prb: f64,
    thp_dl: f64,
    thp_ul: f64,
    ues: f64,
    buf: f64,
    req: f64,
    cqi: f64,
}

struct Columns {
    ts: usize,
    slice: usize,
    granted: usize,
    requested: usize,
    thp_dl: usize,
    thp_ul: usize,
    buf: usize,
    cqi: usize,
}

fn columns(path: &Path, header: &csv::StringRecord) -> Result<Columns, TraceError> {
    let find = |column: &'static str| {
        header
            .iter()
            .position(|h| h == column)
            .ok_or(TraceError::Column {
                path: path.into(),
                column,
            })
    };
    Ok(Columns {
        ts: find("Timestamp")?,
        slice: find("slice_id")?,
        granted: find("sum_granted_prbs")?,
        requested: find("sum_requested_prbs")?,
        thp_dl: find("tx_brate downlink [Mbps]")?,
        thp_ul: find("rx_brate uplink [Mbps]")?,
        buf: find("dl_buffer [bytes]")?,
        cqi: find("dl_cqi")?,
    })
}

fn read_ue_file(
    path: &Path,
    on_bad: OnBadRow,
    bins: &mut BTreeMap<u64, BTreeMap<u32, Acc>>,
    skipped: &mut SkippedRows,
) -> Result<(), TraceError> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(false)
        .from_path(path)
        .map_err(|e| TraceError::Io {
            path: path.into(),
            source: std::io::Error::other(e),
        })?;
    let header = rdr
        .headers()
        .map_err(|e| TraceError::Io {
            path: path.into(),
            source: std::io::Error::other(e),
        })?
        .clone();
    let c = columns(path, &header)?;
    let skipped_before = skipped.rows;
    for (i, rec) in rdr.records().enumerate() {
        let line = i as u64 + 2;
        let parsed = rec
            .map_err(|e| {
                (
                    REASON_MALFORMED,
                    TraceError::Row {
                        path: path.into(),
                        line,
                        problem: e.to_string(),
                    },
                )
            })
            .and_then(|rec| parse_row(path, line, &c, &rec));
        match parsed {
            Ok((ts, slice, row)) => {
                let a = bins
                    .entry(ts / PERIOD_MS)
                    .or_default()
                    .entry(slice)
                    .or_default();
                a.add(&row);
            }
            Err((_, e)) if on_bad == OnBadRow::Stop => return Err(e),
            Err((reason, e)) => {
                tracing::debug!(error = %e, reason, "skipped trace row");
                skipped.add(reason, &e);
            }
        }
    }
    if skipped.rows > skipped_before {
        tracing::warn!(
            file = %path.display(),
            rows = skipped.rows - skipped_before,
            "skipped bad trace rows"
        );
    }
    Ok(())
}

impl Acc {
    fn add(&mut self, row: &Acc) {
        self.prb += row.prb;
        self.thp_dl += row.thp_dl;
        self.thp_ul += row.thp_ul;
        self.ues += row.ues;
        self.buf += row.buf;
        self.req += row.req;
        self.cqi += row.cqi;
    }
}

/// One CSV row: its millisecond timestamp, slice id and contribution to its window, or the
/// bounded reason and error that make it a bad row.
fn parse_row(
    path: &Path,
    line: u64,
    c: &Columns,
    rec: &csv::StringRecord,
) -> Result<(u64, u32, Acc), (&'static str, TraceError)> {
    let err = |reason: &'static str, problem: String| {
        (
            reason,
            TraceError::Row {
                path: path.into(),
                line,
                problem,
            },
        )
    };
    let num = |idx: usize, name: &str| -> Result<f64, (&'static str, TraceError)> {
        rec.get(idx)
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite())
            .ok_or_else(|| err(REASON_NOT_A_NUMBER, format!("`{name}` is not a number")))
    };
    let raw_ts = rec.get(c.ts).unwrap_or("").trim();
    if !plain_decimal(raw_ts) {
        return Err(err(
            REASON_TIMESTAMP_NOT_MS,
            format!(
                "`Timestamp` = `{raw_ts}` is not a plain decimal millisecond count \
                 (exponent notation or rounding loses millisecond precision)"
            ),
        ));
    }
    let ts = num(c.ts, "Timestamp")? as u64;
    let slice = num(c.slice, "slice_id")? as u32;
    let row = Acc {
        prb: num(c.granted, "sum_granted_prbs")? / TTI_PER_WINDOW,
        thp_dl: num(c.thp_dl, "tx_brate downlink")? * 1000.0,
        thp_ul: num(c.thp_ul, "rx_brate uplink")? * 1000.0,
        ues: 1.0,
        buf: num(c.buf, "dl_buffer")?,
        req: num(c.requested, "sum_requested_prbs")? / TTI_PER_WINDOW,
        cqi: num(c.cqi, "dl_cqi")?,
    };
    Ok((ts, slice, row))
}

fn slice_meas(a: &Acc) -> MeasVec {
    let mut m = MeasVec::default();
    m.set(Meas::PrbUsedDl, a.prb as f32);
    m.set(Meas::UeThpDl, a.thp_dl as f32);
    m.set(Meas::UeThpUl, a.thp_ul as f32);
    m.set(Meas::ConnMean, a.ues as f32);
    m.set(Meas::DlBufferBytes, a.buf as f32);
    m.set(Meas::PrbReqDl, a.req as f32);
    m.set(
        Meas::DlCqiMean,
        if a.ues > 0.0 {
            (a.cqi / a.ues) as f32
        } else {
            0.0
        },
    );
    m
}

/// Reads one cell folder of SCOPE per-UE CSV files; the first bad row (a `Timestamp`
/// without millisecond precision among them) refuses the folder, naming file, line and
/// column.
pub fn read_cell(dir: &Path) -> Result<CellTrace, TraceError> {
    read_cell_with(dir, OnBadRow::Stop).map(|(t, _)| t)
}

/// [`read_cell`] with a bad-row policy: under [`OnBadRow::Skip`] bad rows are left out,
/// logged and counted per reason in the returned [`SkippedRows`].
pub fn read_cell_with(
    dir: &Path,
    on_bad: OnBadRow,
) -> Result<(CellTrace, SkippedRows), TraceError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| TraceError::Io {
            path: dir.into(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with("_metrics.csv"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(TraceError::Empty(dir.into()));
    }
    let mut bins = BTreeMap::new();
    let mut skipped = SkippedRows::default();
    for f in &files {
        read_ue_file(f, on_bad, &mut bins, &mut skipped)?;
    }
    let keys: Vec<u64> = bins.keys().copied().collect();
    let runs = run_spans(keys.len(), |i| {
        (keys[i] - keys[i - 1]) * PERIOD_MS > RUN_GAP_MS
    })
    .into_iter()
    .map(|span| build_run(&bins, &keys[span]))
    .collect();
    let trace = CellTrace {
        name: dir
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        runs,
    };
    Ok((trace, skipped))
}

/// Splits `n` time-ordered windows into runs: `starts_run(i)` (for `i ≥ 1`) says whether
/// window `i` begins a new run (its gap to window `i − 1` is too long). Every trace reader
/// cuts runs this way.
pub fn run_spans(n: usize, starts_run: impl Fn(usize) -> bool) -> Vec<std::ops::Range<usize>> {
    let mut spans = Vec::new();
    let mut start = 0;
    for i in 1..=n {
        if i == n || starts_run(i) {
            spans.push(start..i);
            start = i;
        }
    }
    spans
}

fn build_run(bins: &BTreeMap<u64, BTreeMap<u32, Acc>>, keys: &[u64]) -> Run {
    let mut slice_ids: Vec<u32> = keys.iter().flat_map(|k| bins[k].keys().copied()).collect();
    slice_ids.sort_unstable();
    slice_ids.dedup();
    let (first, last) = (keys[0], keys[keys.len() - 1]);
    let windows = (first..=last)
        .map(|b| {
            let empty = BTreeMap::new();
            let present = bins.get(&b).unwrap_or(&empty);
            let slices: Vec<(Snssai, MeasVec)> = slice_ids
                .iter()
                .map(|id| {
                    (
                        snssai_of_slice_id(*id),
                        slice_meas(&present.get(id).copied().unwrap_or_default()),
                    )
                })
                .collect();
            let used: f32 = slices.iter().map(|(_, m)| m.get(Meas::PrbUsedDl)).sum();
            let mut cell = MeasVec::default();
            cell.set(Meas::PrbAvailDl, CELL_PRBS);
            cell.set(Meas::PrbTotDl, used / CELL_PRBS * 100.0);
            Window {
                start_ms: b * PERIOD_MS,
                cell,
                slices,
            }
        })
        .collect();
    Run { windows }
}

/// Reads every cell folder under `root` (folders holding `*_metrics.csv`), sorted by name.
pub fn read_cells(root: &Path) -> Result<Vec<CellTrace>, TraceError> {
    sub_dirs(root)?.iter().map(|d| read_cell(d)).collect()
}

/// The folders directly under `root`, sorted by name.
pub fn sub_dirs(root: &Path) -> Result<Vec<PathBuf>, TraceError> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .map_err(|source| TraceError::Io {
            path: root.into(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    Ok(dirs)
}

/// The trace slice bundled with the repository.
pub fn bundled_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/tractor")
}

/// The shared traces beside the repository, if present.
pub fn shared_root() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/traces/tractor");
    p.is_dir().then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_cells_aggregate_into_slices() {
        let cells = read_cells(&bundled_root()).unwrap();
        assert_eq!(cells.len(), 2);
        let multi = cells.iter().find(|c| c.name == "multi4").unwrap();
        assert_eq!(multi.slices(), vec![Snssai::new(1, None)]);
        let single = cells.iter().find(|c| c.name == "single-ue-trial6").unwrap();
        assert_eq!(
            single.slices(),
            vec![Snssai::new(1, None), Snssai::new(2, None)]
        );
        // 300 s of 250 ms windows in one run.
        assert_eq!(single.runs.len(), 1);
        assert!(
            (1195..=1202).contains(&single.runs[0].windows.len()),
            "{}",
            single.runs[0].windows.len()
        );
        for w in single.windows() {
            let used: f32 = w.slices.iter().map(|(_, m)| m.get(Meas::PrbUsedDl)).sum();
            assert!(used <= CELL_PRBS + 0.5, "{used}");
            assert!((w.cell.get(Meas::PrbTotDl) - used * 2.0).abs() < 1e-3);
        }
        assert!(
            multi
                .windows()
                .any(|w| w.slices[0].1.get(Meas::ConnMean) >= 3.0)
        );
    }

    #[test]
    fn bad_rows_name_file_and_line() {
        let dir = std::env::temp_dir().join(format!("trace-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = bundled_root().join("multi4/1010123456005_metrics.csv");
        let text = std::fs::read_to_string(src).unwrap();
        let mut lines: Vec<String> = text.lines().take(5).map(str::to_owned).collect();
        lines[3] = lines[3].replacen("1690937", "x690937", 1);
        std::fs::write(dir.join("a_metrics.csv"), lines.join("\n")).unwrap();
        let err = read_cell(&dir).unwrap_err().to_string();
        assert!(
            err.contains("a_metrics.csv:4") && err.contains("Timestamp"),
            "{err}"
        );
    }

    #[test]
    fn plain_decimal_is_the_millisecond_rule() {
        for ok in ["1667160000123", "0", "1667160000.5", "12.250"] {
            assert!(plain_decimal(ok), "{ok}");
        }
        for bad in [
            "1.66716E+12",
            "1.66716e12",
            "1e3",
            "-5",
            "+5",
            ".5",
            "12.",
            "0x10",
            "",
            "1 2",
            "inf",
        ] {
            assert!(!plain_decimal(bad), "{bad}");
        }
    }

    /// A spreadsheet re-save (`1.66716E+12`) is refused by default, naming file, line and
    /// column; a lenient read skips exactly those rows and counts them by reason.
    #[test]
    fn exponent_timestamps_are_refused_or_skipped_and_counted() {
        let dir = std::env::temp_dir().join(format!("trace-exp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = bundled_root().join("multi4/1010123456005_metrics.csv");
        let text = std::fs::read_to_string(src).unwrap();
        let mut lines: Vec<String> = text.lines().take(41).map(str::to_owned).collect();
        for l in &mut lines[5..8] {
            let (_, rest) = l.split_once(',').unwrap();
            *l = format!("1.69094E+12,{rest}");
        }
        std::fs::write(dir.join("a_metrics.csv"), lines.join("\n")).unwrap();
        let err = read_cell(&dir).unwrap_err().to_string();
        assert!(
            err.contains("a_metrics.csv:6") && err.contains("`Timestamp` = `1.69094E+12`"),
            "{err}"
        );
        let (lenient, skipped) = read_cell_with(&dir, OnBadRow::Skip).unwrap();
        assert_eq!(skipped.rows, 3);
        assert_eq!(skipped.by_reason[REASON_TIMESTAMP_NOT_MS], 3);
        assert!(skipped.first.unwrap().contains("a_metrics.csv:6"));
        let ues: f32 = lenient
            .windows()
            .flat_map(|w| w.slices.iter().map(|(_, m)| m.get(Meas::ConnMean)))
            .sum();
        assert_eq!(ues, 37.0, "40 rows, 3 skipped");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
