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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nf_core::{Meas, MeasVec, Snssai};

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
    bins: &mut BTreeMap<u64, BTreeMap<u32, Acc>>,
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
    for (i, rec) in rdr.records().enumerate() {
        let line = i as u64 + 2;
        let rec = rec.map_err(|e| TraceError::Row {
            path: path.into(),
            line,
            problem: e.to_string(),
        })?;
        let num = |idx: usize, name: &str| -> Result<f64, TraceError> {
            rec.get(idx)
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|v| v.is_finite())
                .ok_or_else(|| TraceError::Row {
                    path: path.into(),
                    line,
                    problem: format!("`{name}` is not a number"),
                })
        };
        let ts = num(c.ts, "Timestamp")? as u64;
        let slice = num(c.slice, "slice_id")? as u32;
        let a = bins
            .entry(ts / PERIOD_MS)
            .or_default()
            .entry(slice)
            .or_default();
        a.prb += num(c.granted, "sum_granted_prbs")? / TTI_PER_WINDOW;
        a.thp_dl += num(c.thp_dl, "tx_brate downlink")? * 1000.0;
        a.thp_ul += num(c.thp_ul, "rx_brate uplink")? * 1000.0;
        a.ues += 1.0;
        a.buf += num(c.buf, "dl_buffer")?;
        a.req += num(c.requested, "sum_requested_prbs")? / TTI_PER_WINDOW;
        a.cqi += num(c.cqi, "dl_cqi")?;
    }
    Ok(())
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

/// Reads one cell folder of SCOPE per-UE CSV files.
pub fn read_cell(dir: &Path) -> Result<CellTrace, TraceError> {
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
    for f in &files {
        read_ue_file(f, &mut bins)?;
    }
    let keys: Vec<u64> = bins.keys().copied().collect();
    let runs = run_spans(keys.len(), |i| {
        (keys[i] - keys[i - 1]) * PERIOD_MS > RUN_GAP_MS
    })
    .into_iter()
    .map(|span| build_run(&bins, &keys[span]))
    .collect();
    Ok(CellTrace {
        name: dir
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        runs,
    })
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
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .map_err(|source| TraceError::Io {
            path: root.into(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs.iter().map(|d| read_cell(d)).collect()
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
}
