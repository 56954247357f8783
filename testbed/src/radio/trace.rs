//! Reader of the `ucc5g` operator recordings UE by UE: one recording (CSV file) is one UE,
//! one row per second, read into [`UeRadio`] samples through a mapping file
//! (`testbed/mappings/ucc5g-ue.toml`, shipped as [`SHIPPED_MAPPING`]).
//!
//! The data is "Beyond Throughput, The Next Generation: a 5G Dataset with Channel and
//! Context Metrics" (Raca et al., ACM MMSys 2020; GPL-3.0), G-NetTrack Pro logs of a phone
//! on a commercial 5G NSA network. The interference model (`models/interference/train.py`)
//! reads it with exactly these rules; the radio twin and the simulator replay it.
//!
//! # What is kept, what is refused
//! - **Bad rows** (a record with another field count than the header, a time not in the
//!   mapping's format, a mapped field that is neither a number nor a missing token, a
//!   missing serving cell or time) are refused: [`read_recording`] stops at the first one
//!   with `file:line` and the column; [`read_recording_with`] under [`OnBadRow::Skip`]
//!   leaves them out and counts them per bounded reason ([`ReadStats`]).
//! - **Missing values** (`-`, empty) stay missing (`None`), never 0.
//! - **Sentinels**: a value outside the measurement's `valid` range is the phone's "not
//!   measured" marker (`NRxRSRP` −205, `NRxRSRQ` −204 / −225 / 2147483647, and NRxRSRQ
//!   below −43 dB, outside the TS 38.133 range): left missing, counted per measurement.
//! - **Radio access technology**: only rows whose `NetworkMode` is in `radio_modes` (5G,
//!   LTE) carry LTE/NR radio measurements; 3G/2G rows (≈ 9 % of the data) keep their time,
//!   cell, mode and throughput, their radio measurements are left missing and counted
//!   (`non_radio_rows`): there the phone repeats stale or fixed values (NRxRSRP −51,
//!   NRxRSRQ −24 in almost every such row).
//! - **Neighbour**: present when `VS.Nbr1.SS-RSRP` is; its RSRQ is optional. The phone does
//!   not name the neighbour: its cell is [`UNNAMED_NEIGHBOUR`] (NCI 0), the twin assigns
//!   real cells.
//! - **Time**: the phone writes whole seconds and sometimes repeats one (≈ 2.5 % of rows, the
//!   next second then missing): the later row of a repeated second replaces the earlier one
//!   (it is the newer measurement; counted `duplicate_time`). A row stepping back in time is
//!   dropped (counted `time_backwards`). Gaps stay gaps: consumers check `t_ms`.
//!
//! The held-out split of the interference model is by recording ([`is_test_recording`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nf_core::CellId;
use nf_core::radio::{Neighbour, UeId, UeRadio, ue_meas};
use serde::Deserialize;

pub use crate::mapping::OnBadRow;

/// The shipped UE-level mapping of the `ucc5g` schema.
pub const SHIPPED_MAPPING: &str = include_str!("../../mappings/ucc5g-ue.toml");

/// The strongest neighbour as the phone reports it: unnamed (NCI 0, PLMN of the simulator).
pub const UNNAMED_NEIGHBOUR: CellId = CellId {
    plmn: crate::sim::PLMN,
    nci: 0,
};

/// Bad-row reason: the record does not split into the header's fields.
pub const REASON_MALFORMED: &str = "malformed_record";
/// Bad-row reason: the time is missing or not in the mapping's format.
pub const REASON_BAD_TIME: &str = "time_unparsable";
/// Bad-row reason: a mapped field is neither a number nor a missing token.
pub const REASON_NOT_A_NUMBER: &str = "field_not_a_number";
/// Bad-row reason: the serving cell is missing.
pub const REASON_NO_CELL: &str = "serving_cell_missing";
/// Every bad-row reason (bounded label set).
pub const BAD_ROW_REASONS: [&str; 4] = [
    REASON_MALFORMED,
    REASON_BAD_TIME,
    REASON_NOT_A_NUMBER,
    REASON_NO_CELL,
];

/// Why a recording or mapping could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("mapping {path}: {message}")]
    Mapping { path: PathBuf, message: String },
    #[error("{path}: missing column `{column}` (named by the mapping)")]
    Column { path: PathBuf, column: String },
    #[error("{path}:{line}: column `{column}`: {problem}")]
    Row {
        path: PathBuf,
        line: u64,
        column: String,
        reason: &'static str,
        problem: String,
    },
    #[error("{0}: no .csv recording below it")]
    Empty(PathBuf),
}

/// One second of one UE.
#[derive(Clone, Debug, PartialEq)]
pub struct UeSample {
    /// Time of the row [ms since the Unix epoch; the phone's local time read as UTC].
    pub t_ms: u64,
    /// Serving `CellID` as the phone reports it.
    pub serving: u32,
    /// The UE's measurements (`ue` = the recording's index in [`read_all`], 0 from
    /// [`read_recording`]).
    pub radio: UeRadio,
    /// `NetworkMode` (5G, LTE, HSPA+, ...).
    pub mode: String,
    /// `State == D`.
    pub downloading: bool,
    pub speed_kmh: f32,
}

/// One recording (one phone session).
#[derive(Clone, Debug, PartialEq)]
pub struct Recording {
    /// Path under `ucc5g/`, `/`-separated (`Netflix/Driving/<show>/B_<date>.csv`).
    pub name: String,
    /// Recorded while driving (a `Driving` folder), else static.
    pub driving: bool,
    pub samples: Vec<UeSample>,
}

/// What a read kept, dropped and refused.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReadStats {
    pub files: usize,
    /// Data rows read.
    pub rows: u64,
    /// Samples kept.
    pub samples: u64,
    /// Bad rows left out (only under [`OnBadRow::Skip`]).
    pub bad_rows: u64,
    pub bad_by_reason: BTreeMap<&'static str, u64>,
    /// The first bad row, `file:line: column: problem`.
    pub first_bad: Option<String>,
    /// Rows replaced by a later row of the same second.
    pub duplicate_time: u64,
    /// Rows dropped because their time stepped back.
    pub time_backwards: u64,
    /// Rows of a radio access technology outside `radio_modes` (radio left missing).
    pub non_radio_rows: u64,
    /// Missing tokens per measurement (rows of `radio_modes` only for radio ones).
    pub missing: BTreeMap<&'static str, u64>,
    /// Sentinel values (outside `valid`) per measurement, left missing.
    pub sentinel: BTreeMap<&'static str, u64>,
}

impl ReadStats {
    /// Adds another read's counts.
    pub fn merge(&mut self, o: &ReadStats) {
        self.files += o.files;
        self.rows += o.rows;
        self.samples += o.samples;
        self.bad_rows += o.bad_rows;
        self.duplicate_time += o.duplicate_time;
        self.time_backwards += o.time_backwards;
        self.non_radio_rows += o.non_radio_rows;
        for (k, v) in &o.bad_by_reason {
            *self.bad_by_reason.entry(k).or_default() += v;
        }
        for (k, v) in &o.missing {
            *self.missing.entry(k).or_default() += v;
        }
        for (k, v) in &o.sentinel {
            *self.sentinel.entry(k).or_default() += v;
        }
        if self.first_bad.is_none() {
            self.first_bad.clone_from(&o.first_bad);
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct FormatSpec {
    name: String,
    period_ms: u64,
    missing: Vec<String>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct TimeSpec {
    column: String,
    format: String,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct KeysSpec {
    serving_cell: String,
    mode: String,
    state: String,
    speed_kmh: String,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct MeasSpec {
    name: String,
    column: String,
    valid: [f32; 2],
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    format: FormatSpec,
    time: TimeSpec,
    keys: KeysSpec,
    radio_modes: Vec<String>,
    measurement: Vec<MeasSpec>,
}

/// A validated UE-level mapping.
#[derive(Clone, Debug, PartialEq)]
pub struct UeMapping {
    file: MappingFile,
    /// `ue_meas` name (static) per measurement spec.
    names: Vec<&'static str>,
}

/// Measurements that are radio quantities (left missing outside `radio_modes`).
fn is_radio(name: &str) -> bool {
    name != ue_meas::UE_THP_DL && name != ue_meas::PRB_USED_DL
}

impl UeMapping {
    /// The shipped `ucc5g-ue.toml`.
    pub fn shipped() -> Self {
        Self::parse(SHIPPED_MAPPING, Path::new("testbed/mappings/ucc5g-ue.toml"))
            .expect("the shipped ucc5g-ue mapping is valid")
    }

    /// Reads and validates a mapping file.
    pub fn load(path: &Path) -> Result<Self, TraceError> {
        let text = std::fs::read_to_string(path).map_err(|source| TraceError::Io {
            path: path.into(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates mapping text (`path` names it in errors). Unknown keys, names
    /// outside `nf_core::radio::ue_meas::ALL`, duplicate names, empty or reversed ranges and
    /// a mapping without RSRP and SINR are refused.
    pub fn parse(text: &str, path: &Path) -> Result<Self, TraceError> {
        let bad = |message: String| TraceError::Mapping {
            path: path.into(),
            message,
        };
        let file: MappingFile = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        if file.format.period_ms != 1000 {
            return Err(bad(format!(
                "format.period_ms = {}: the ucc5g reader reads 1 s rows only",
                file.format.period_ms
            )));
        }
        if file.time.format.trim().is_empty() {
            return Err(bad("time.format is empty".into()));
        }
        let mut names = Vec::new();
        for m in &file.measurement {
            let Some(&name) = ue_meas::ALL.iter().find(|n| **n == m.name) else {
                return Err(bad(format!(
                    "measurement `{}` is not a UE-level measurement ({})",
                    m.name,
                    ue_meas::ALL.join(", ")
                )));
            };
            if names.contains(&name) {
                return Err(bad(format!("measurement `{name}` mapped twice")));
            }
            let [lo, hi] = m.valid;
            if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                return Err(bad(format!("measurement `{name}`: valid = [{lo}, {hi}]")));
            }
            names.push(name);
        }
        for need in [ue_meas::SS_RSRP, ue_meas::SS_SINR] {
            if !names.contains(&need) {
                return Err(bad(format!("measurement `{need}` is not mapped")));
            }
        }
        Ok(Self { file, names })
    }

    /// The format's name.
    pub fn name(&self) -> &str {
        &self.file.format.name
    }
}

/// The held-out split of the interference model, by recording: a recording is held out
/// iff the 64-bit FNV-1a hash of its file name (`B_2019.11.25_15.34.34.csv`) is 0, 1 or 2
/// modulo 10. Deterministic, independent of the file order; on the 62 shipped recordings
/// it holds out 16 (10 driving, 6 static).
pub fn is_test_recording(name: &str) -> bool {
    let file = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in file.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h % 10 < 3
}

/// Reads one recording with the shipped mapping; the first bad row is an error naming
/// `file:line` and the column. Its name is the path's last four components (the dataset's
/// `service/mode/show/file` layout); every sample's UE is `UeId(0)`.
pub fn read_recording(path: &Path) -> Result<Recording, TraceError> {
    let name = name_of(path);
    read_recording_with(path, name, &UeMapping::shipped(), OnBadRow::Stop).map(|(r, _)| r)
}

/// Reads every `.csv` below `root` (four folder levels at most), sorted by name (path
/// under `root`), with the shipped mapping; sample UEs are the recording's index.
pub fn read_all(root: &Path) -> Result<Vec<Recording>, TraceError> {
    read_all_with(root, &UeMapping::shipped(), OnBadRow::Stop).map(|(r, _)| r)
}

/// [`read_all`] with a mapping and a bad-row policy; returns the read's counts too.
pub fn read_all_with(
    root: &Path,
    mapping: &UeMapping,
    on_bad: OnBadRow,
) -> Result<(Vec<Recording>, ReadStats), TraceError> {
    let mut files = Vec::new();
    walk(root, 0, &mut files)?;
    let mut named: Vec<(String, PathBuf)> = files
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(root).unwrap_or(&p);
            let name = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            (name, p)
        })
        .collect();
    named.sort();
    if named.is_empty() {
        return Err(TraceError::Empty(root.into()));
    }
    let mut out = Vec::with_capacity(named.len());
    let mut stats = ReadStats::default();
    for (i, (name, path)) in named.into_iter().enumerate() {
        let (mut rec, s) = read_recording_with(&path, name, mapping, on_bad)?;
        for smp in &mut rec.samples {
            smp.radio.ue = UeId(i as u64);
        }
        stats.merge(&s);
        out.push(rec);
    }
    Ok((out, stats))
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), TraceError> {
    let entries = std::fs::read_dir(dir).map_err(|source| TraceError::Io {
        path: dir.into(),
        source,
    })?;
    for p in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        if p.is_dir() {
            if depth < 4 {
                walk(&p, depth + 1, out)?;
            }
        } else if p.extension().is_some_and(|e| e == "csv") {
            out.push(p);
        }
    }
    Ok(())
}

fn name_of(path: &Path) -> String {
    let parts: Vec<String> = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts[parts.len().saturating_sub(4)..].join("/")
}

/// Reads one recording named `name` with `mapping`; see the module documentation.
pub fn read_recording_with(
    path: &Path,
    name: String,
    mapping: &UeMapping,
    on_bad: OnBadRow,
) -> Result<(Recording, ReadStats), TraceError> {
    let io = |e: csv::Error| TraceError::Io {
        path: path.into(),
        source: std::io::Error::other(e.to_string()),
    };
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(io)?;
    let header = rdr.headers().map_err(io)?.clone();
    let col = |c: &str| {
        header
            .iter()
            .position(|h| h.trim() == c)
            .ok_or_else(|| TraceError::Column {
                path: path.into(),
                column: c.to_owned(),
            })
    };
    let f = &mapping.file;
    let t_col = col(&f.time.column)?;
    let cell_col = col(&f.keys.serving_cell)?;
    let mode_col = col(&f.keys.mode)?;
    let state_col = col(&f.keys.state)?;
    let speed_col = col(&f.keys.speed_kmh)?;
    let meas_cols = f
        .measurement
        .iter()
        .map(|m| col(&m.column))
        .collect::<Result<Vec<_>, _>>()?;

    let driving = name.split('/').any(|c| c == "Driving");
    let mut stats = ReadStats {
        files: 1,
        ..ReadStats::default()
    };
    let mut samples: Vec<UeSample> = Vec::new();
    let is_missing = |s: &str| f.format.missing.iter().any(|m| m == s);
    let mut rec = csv::StringRecord::new();
    loop {
        let line = rdr.position().line();
        match rdr.read_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let err = TraceError::Row {
                    path: path.into(),
                    line,
                    column: "*".into(),
                    reason: REASON_MALFORMED,
                    problem: e.to_string(),
                };
                bad_row(&mut stats, err, on_bad)?;
                continue;
            }
        }
        let line = rec.position().map_or(line, |p| p.line());
        stats.rows += 1;
        let row_err = |column: &str, reason: &'static str, problem: String| TraceError::Row {
            path: path.into(),
            line,
            column: column.to_owned(),
            reason,
            problem,
        };
        if rec.len() != header.len() {
            let e = row_err(
                "*",
                REASON_MALFORMED,
                format!("{} fields, the header has {}", rec.len(), header.len()),
            );
            bad_row(&mut stats, e, on_bad)?;
            continue;
        }
        let field = |i: usize| rec.get(i).unwrap_or("").trim();
        let t_raw = field(t_col);
        let Some(t_ms) = chrono::NaiveDateTime::parse_from_str(t_raw, &f.time.format)
            .ok()
            .map(|t| t.and_utc().timestamp_millis())
            .filter(|&t| t >= 0)
        else {
            let e = row_err(
                &f.time.column,
                REASON_BAD_TIME,
                format!("`{t_raw}` is not a time in `{}`", f.time.format),
            );
            bad_row(&mut stats, e, on_bad)?;
            continue;
        };
        let t_ms = t_ms as u64;
        let cell_raw = field(cell_col);
        if is_missing(cell_raw) {
            let e = row_err(
                &f.keys.serving_cell,
                REASON_NO_CELL,
                "serving cell missing".into(),
            );
            bad_row(&mut stats, e, on_bad)?;
            continue;
        }
        let Ok(serving) = cell_raw.parse::<u32>() else {
            let e = row_err(
                &f.keys.serving_cell,
                REASON_NOT_A_NUMBER,
                format!("`{cell_raw}` is not a cell identity"),
            );
            bad_row(&mut stats, e, on_bad)?;
            continue;
        };
        let speed_raw = field(speed_col);
        let speed_kmh = if is_missing(speed_raw) {
            0.0
        } else {
            match speed_raw.parse::<f32>() {
                Ok(v) if v.is_finite() && v >= 0.0 => v,
                _ => {
                    let e = row_err(
                        &f.keys.speed_kmh,
                        REASON_NOT_A_NUMBER,
                        format!("`{speed_raw}` is not a speed"),
                    );
                    bad_row(&mut stats, e, on_bad)?;
                    continue;
                }
            }
        };
        let mode = field(mode_col).to_owned();
        let radio_row = f.radio_modes.iter().any(|m| *m == mode);
        // Parse every mapped value first: a non-number refuses the whole row.
        let mut values: [Option<f32>; ue_meas::ALL.len()] = [None; ue_meas::ALL.len()];
        let mut bad = None;
        let mut row_missing: Vec<&'static str> = Vec::new();
        let mut row_sentinel: Vec<&'static str> = Vec::new();
        for ((spec, &name), &c) in f.measurement.iter().zip(&mapping.names).zip(&meas_cols) {
            let raw = field(c);
            if is_missing(raw) {
                if radio_row || !is_radio(name) {
                    row_missing.push(name);
                }
                continue;
            }
            let Some(v) = raw.parse::<f64>().ok().filter(|v| v.is_finite()) else {
                bad = Some(row_err(
                    &spec.column,
                    REASON_NOT_A_NUMBER,
                    format!("`{raw}` is not a number ({name})"),
                ));
                break;
            };
            if !radio_row && is_radio(name) {
                continue;
            }
            let v = v as f32;
            let [lo, hi] = spec.valid;
            if !(lo..=hi).contains(&v) {
                row_sentinel.push(name);
                continue;
            }
            let k = ue_meas::ALL.iter().position(|n| *n == name).unwrap_or(0);
            values[k] = Some(v);
        }
        if let Some(e) = bad {
            bad_row(&mut stats, e, on_bad)?;
            continue;
        }
        if !radio_row {
            stats.non_radio_rows += 1;
        }
        for n in row_missing {
            *stats.missing.entry(n).or_default() += 1;
        }
        for n in row_sentinel {
            *stats.sentinel.entry(n).or_default() += 1;
        }
        let get = |name: &str| {
            ue_meas::ALL
                .iter()
                .position(|n| *n == name)
                .and_then(|k| values[k])
        };
        let neighbour = get(ue_meas::NBR_SS_RSRP).map(|rsrp_dbm| Neighbour {
            cell: UNNAMED_NEIGHBOUR,
            rsrp_dbm,
            rsrq_db: get(ue_meas::NBR_SS_RSRQ),
        });
        let radio = UeRadio {
            ue: UeId(0),
            rsrp_dbm: get(ue_meas::SS_RSRP),
            rsrq_db: get(ue_meas::SS_RSRQ),
            sinr_db: get(ue_meas::SS_SINR),
            cqi: get(ue_meas::WB_CQI),
            thp_dl_kbps: get(ue_meas::UE_THP_DL),
            prb_used_dl: get(ue_meas::PRB_USED_DL),
            neighbour,
        };
        let sample = UeSample {
            t_ms,
            serving,
            radio,
            mode,
            downloading: field(state_col) == "D",
            speed_kmh,
        };
        match samples.last_mut() {
            Some(last) if t_ms == last.t_ms => {
                *last = sample;
                stats.duplicate_time += 1;
            }
            Some(last) if t_ms < last.t_ms => stats.time_backwards += 1,
            _ => samples.push(sample),
        }
    }
    stats.samples = samples.len() as u64;
    Ok((
        Recording {
            name,
            driving,
            samples,
        },
        stats,
    ))
}

fn bad_row(stats: &mut ReadStats, err: TraceError, on_bad: OnBadRow) -> Result<(), TraceError> {
    let TraceError::Row { reason, .. } = &err else {
        return Err(err);
    };
    if on_bad == OnBadRow::Stop {
        return Err(err);
    }
    tracing::warn!(reason, problem = %err, "bad ucc5g row skipped");
    stats.bad_rows += 1;
    *stats.bad_by_reason.entry(reason).or_default() += 1;
    if stats.first_bad.is_none() {
        stats.first_bad = Some(err.to_string());
    }
    Ok(())
}

/// `../shared/traces/ucc5g` beside the project, when present.
pub fn shared_root() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/traces/ucc5g");
    p.is_dir().then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "Timestamp,Longitude,Latitude,Speed,Operatorname,CellID,NetworkMode,RSRP,RSRQ,SNR,CQI,RSSI,DL_bitrate,UL_bitrate,State,PINGAVG,PINGMIN,PINGMAX,PINGSTDEV,PINGLOSS,CELLHEX,NODEHEX,LACHEX,RAWCELLID,NRxRSRP,NRxRSRQ";

    fn write(dir: &Path, rel: &str, rows: &[&str]) -> PathBuf {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let mut text = String::from(HEADER);
        for r in rows {
            text.push('\n');
            text.push_str(r);
        }
        text.push('\n');
        std::fs::write(&p, text).unwrap();
        p
    }

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ucc5g-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    const ROW1: &str = "2019.11.25_15.34.34,-8.49,51.89,0,B,3,LTE,-79,-12,10.0,8,-61,1,3,D,-,-,-,-,-,3,76C6C,9CBA,124546051,-,-";
    const ROW2: &str = "2019.11.25_15.34.35,-8.49,51.89,2,B,3,5G,-90,-11,4.0,9,-61,900,3,I,-,-,-,-,-,3,76C6C,9CBA,124546051,-95.0,-204.0";
    const ROW3: &str = "2019.11.25_15.34.35,-8.49,51.89,2,B,3,5G,-91,-11,5.0,9,-61,950,3,D,-,-,-,-,-,3,76C6C,9CBA,124546051,-94.0,-12.0";
    const ROW4: &str = "2019.11.25_15.34.37,-8.49,51.89,2,B,7,HSPA+,-200,-20,-,-,-,120,3,D,-,-,-,-,-,3,76C6C,9CBA,124546051,-51.0,-24.0";
    const ROW5: &str = "2019.11.25_15.34.36,-8.49,51.89,2,B,7,LTE,-85,-10,6.0,9,-61,100,3,D,-,-,-,-,-,3,76C6C,9CBA,124546051,-205.0,-225.0";

    #[test]
    fn rules_of_the_module_doc_hold_on_a_small_file() {
        let d = tmp("rules");
        let p = write(
            &d,
            "Netflix/Driving/S/B_x.csv",
            &[ROW1, ROW2, ROW3, ROW4, ROW5],
        );
        let (rec, st) =
            read_recording_with(&p, name_of(&p), &UeMapping::shipped(), OnBadRow::Stop).unwrap();
        assert_eq!(rec.name, "Netflix/Driving/S/B_x.csv");
        assert!(rec.driving);
        assert_eq!(st.rows, 5);
        assert_eq!(st.duplicate_time, 1);
        assert_eq!(st.time_backwards, 1);
        assert_eq!(st.non_radio_rows, 1);
        assert_eq!(rec.samples.len(), 3);
        let s0 = &rec.samples[0];
        assert_eq!(s0.radio.rsrp_dbm, Some(-79.0));
        assert_eq!(s0.radio.neighbour, None);
        assert!(s0.downloading);
        // The later row of a repeated second wins.
        let s1 = &rec.samples[1];
        assert_eq!(s1.t_ms - s0.t_ms, 1000);
        assert_eq!(s1.radio.rsrp_dbm, Some(-91.0));
        assert_eq!(s1.radio.thp_dl_kbps, Some(950.0));
        let n = s1.radio.neighbour.unwrap();
        assert_eq!(
            (n.rsrp_dbm, n.rsrq_db, n.cell),
            (-94.0, Some(-12.0), UNNAMED_NEIGHBOUR)
        );
        assert_eq!(s1.mode, "5G");
        // 3G row: time, cell, throughput kept; radio missing.
        let s2 = &rec.samples[2];
        assert_eq!(s2.serving, 7);
        assert_eq!(s2.mode, "HSPA+");
        assert_eq!(s2.radio.rsrp_dbm, None);
        assert_eq!(s2.radio.neighbour, None);
        assert_eq!(s2.radio.thp_dl_kbps, Some(120.0));
        // Sentinels: ROW2's -204 RSRQ (replaced row) and ROW5 (dropped, but counted).
        assert_eq!(st.sentinel.get(ue_meas::NBR_SS_RSRQ), Some(&2));
        assert_eq!(st.sentinel.get(ue_meas::NBR_SS_RSRP), Some(&1));
        assert!(rec.samples.iter().all(|s| s.radio.check().is_ok()));
    }

    #[test]
    fn bad_rows_name_file_line_and_column_or_are_counted() {
        let d = tmp("bad");
        let bad_snr = "2019.11.25_15.34.36,-8.49,51.89,2,B,3,5G,-90,-11,abc,9,-61,900,3,I,-,-,-,-,-,3,76C6C,9CBA,124546051,-95.0,-12.0";
        let bad_time = "2019-11-25 15:34:37,-8.49,51.89,2,B,3,5G,-90,-11,4,9,-61,900,3,I,-,-,-,-,-,3,76C6C,9CBA,124546051,-95.0,-12.0";
        let short = "2019.11.25_15.34.38,-8.49";
        let p = write(&d, "a.csv", &[ROW1, bad_snr, bad_time, short, ROW3]);
        let err = read_recording(&p).unwrap_err().to_string();
        assert!(err.contains("a.csv:3: column `SNR`"), "{err}");
        assert!(err.contains("abc"), "{err}");
        let (rec, st) =
            read_recording_with(&p, "a.csv".into(), &UeMapping::shipped(), OnBadRow::Skip).unwrap();
        assert_eq!(rec.samples.len(), 2);
        assert_eq!(st.bad_rows, 3);
        assert_eq!(st.bad_by_reason.get(REASON_NOT_A_NUMBER), Some(&1));
        assert_eq!(st.bad_by_reason.get(REASON_BAD_TIME), Some(&1));
        assert_eq!(st.bad_by_reason.get(REASON_MALFORMED), Some(&1));
    }

    #[test]
    fn mappings_are_validated() {
        let p = Path::new("m.toml");
        let bad_name = SHIPPED_MAPPING.replace("\"L1M.SS-RSRQ\"", "\"L1M.SS-RSRQX\"");
        let e = UeMapping::parse(&bad_name, p).unwrap_err().to_string();
        assert!(e.contains("L1M.SS-RSRQX"), "{e}");
        let unknown = SHIPPED_MAPPING.replace("radio_modes =", "colour = 1\nradio_modes =");
        let e = UeMapping::parse(&unknown, p).unwrap_err().to_string();
        assert!(e.contains("colour"), "{e}");
        let no_sinr = SHIPPED_MAPPING.replace("\"L1M.SS-SINR\"", "\"L1M.SS-RSRQ\"");
        assert!(UeMapping::parse(&no_sinr, p).is_err());
        let reversed = SHIPPED_MAPPING.replace("[-23.0, 40.0]", "[40.0, -23.0]");
        let e = UeMapping::parse(&reversed, p).unwrap_err().to_string();
        assert!(e.contains("L1M.SS-SINR"), "{e}");
    }

    #[test]
    fn split_is_by_recording_and_mixes_static_and_driving() {
        let Some(root) = shared_root() else {
            eprintln!("skipped: ../shared/traces/ucc5g is absent");
            return;
        };
        let mut files = Vec::new();
        walk(&root, 0, &mut files).unwrap();
        let names: Vec<String> = files.iter().map(|p| name_of(p)).collect();
        let test: Vec<&String> = names.iter().filter(|n| is_test_recording(n)).collect();
        let driving = test.iter().filter(|n| n.contains("/Driving/")).count();
        assert_eq!(names.len(), 62);
        assert_eq!(test.len(), 16);
        assert_eq!(driving, 10);
        // Path-independent: the file name decides.
        assert_eq!(
            is_test_recording("Netflix/Static/x/B_2019.12.16_13.03.47.csv"),
            is_test_recording("B_2019.12.16_13.03.47.csv")
        );
    }

    #[test]
    fn a_real_recording_reads_cleanly() {
        let Some(root) = shared_root() else {
            eprintln!("skipped: ../shared/traces/ucc5g is absent");
            return;
        };
        let p = root.join("Netflix/Driving/Season3-StrangerThings/B_2019.11.25_15.34.34.csv");
        let (rec, st) =
            read_recording_with(&p, name_of(&p), &UeMapping::shipped(), OnBadRow::Stop).unwrap();
        assert_eq!(
            rec.name,
            "Netflix/Driving/Season3-StrangerThings/B_2019.11.25_15.34.34.csv"
        );
        assert_eq!(st.rows, 1761);
        assert_eq!(st.samples + st.duplicate_time + st.time_backwards, st.rows);
        assert!(rec.samples.windows(2).all(|w| w[0].t_ms < w[1].t_ms));
        assert!(rec.samples.iter().all(|s| s.radio.check().is_ok()));
        let with_loss = rec
            .samples
            .iter()
            .filter(|s| s.radio.interference_loss_db().is_some())
            .count();
        assert!(with_loss > 1500, "{with_loss}");
    }
}
