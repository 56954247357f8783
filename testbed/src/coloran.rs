//! ColO-RAN cell and UE files, joined on one clock.
//!
//! The cell file (`bsN.csv`) is stamped in epoch milliseconds; the UE file (`ueN.csv`,
//! srsUE metrics) in milliseconds since the UE process started. The two are aligned on the
//! UE's attach: the first UE row with `is_attached` set is the moment the cell first counts
//! a UE (`nof_ue` ≥ 1). The shift is reported so it can be checked, and the UE rows come
//! back on the cell's clock.

use std::path::Path;

use crate::mapping::{Mapping, MappingError, OnBadRow, ReadReport, Row, bundled};
use crate::trace::CellTrace;

/// A cell file with its UE files on the cell's clock.
#[derive(Debug)]
pub struct Joined {
    /// The cell's KPM windows.
    pub cells: Vec<CellTrace>,
    /// UE rows, shifted onto the cell clock.
    pub ue_rows: Vec<Row>,
    /// Added to each UE file's time [ms].
    pub ue_offsets_ms: Vec<i64>,
    pub report: ReadReport,
    pub ue_mapping: Mapping,
}

/// First time a measurement is above zero.
fn onset(rows: &[Row], idx: usize) -> Option<i64> {
    rows.iter()
        .filter(|r| r.values[idx] > 0.0)
        .map(|r| r.t_ms)
        .min()
}

/// Reads `cell_csv` and `ue_csvs` with the bundled ColO-RAN mappings and aligns the UEs.
pub fn read(cell_csv: &Path, ue_csvs: &[&Path], on_bad: OnBadRow) -> Result<Joined, MappingError> {
    let cell_map = Mapping::load(&bundled("coloran-cell"))?;
    let ue_map = Mapping::load(&bundled("coloran-ue"))?;
    let (cell_rows, mut report) = cell_map.read_rows(&[cell_csv.into()], on_bad)?;
    let conn = cell_map
        .index_of("RRC.ConnMean")
        .ok_or_else(|| missing(&cell_map, "RRC.ConnMean"))?;
    let attached = ue_map
        .index_of("VS.Attached")
        .ok_or_else(|| missing(&ue_map, "VS.Attached"))?;
    let cell_onset = onset(&cell_rows, conn).ok_or_else(|| MappingError::Invalid {
        path: cell_csv.into(),
        message: "the cell never counts a UE: nothing to align the UE clock to".into(),
    })?;
    let mut ue_rows = Vec::new();
    let mut offsets = Vec::new();
    for ue in ue_csvs {
        let (mut rows, r) = ue_map.read_rows(&[(*ue).into()], on_bad)?;
        report.files += r.files;
        report.rows += r.rows;
        report.bad_rows += r.bad_rows;
        report.missing_values += r.missing_values;
        report.bad.extend(r.bad);
        let ue_onset = onset(&rows, attached).ok_or_else(|| MappingError::Invalid {
            path: (*ue).into(),
            message: "the UE never attaches: nothing to align its clock on".into(),
        })?;
        let shift = cell_onset - ue_onset;
        for r in &mut rows {
            r.t_ms += shift;
        }
        offsets.push(shift);
        ue_rows.extend(rows);
    }
    Ok(Joined {
        cells: cell_map.to_cells(&cell_rows)?,
        ue_rows,
        ue_offsets_ms: offsets,
        report,
        ue_mapping: ue_map,
    })
}

fn missing(m: &Mapping, name: &str) -> MappingError {
    MappingError::Invalid {
        path: m.path.clone(),
        message: format!("the mapping has no `{name}` measurement"),
    }
}
