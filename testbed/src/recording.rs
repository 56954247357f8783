//! Recordings (`airan.record.v1`) read back as replayable traces.
//!
//! The indications of a recording are decoded with the same E2SM-KPM decoder the xApp uses
//! (record layouts from the header's cell list) and regrouped into per-cell windows on the
//! recorded collection times, so a recorded live session replays like any other trace.
//! Undecodable indications are counted, not fatal; a recording cut short loses its last
//! entry only.

use std::collections::BTreeMap;
use std::path::Path;

use e2_proto::kpm::{self, Layouts, Limits};
use e2_proto::record::{RecordError, RecordReader, record_entry};
use nf_core::{CellId, Snssai};

use crate::trace::{CellTrace, RUN_GAP_MS, Run, Window, run_spans};

/// Counts of a recording read.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct RecordingReport {
    pub entries: u64,
    pub indications: u64,
    pub controls: u64,
    pub controls_accepted: u64,
    /// Indications the KPM decoder refused.
    pub undecodable: u64,
    /// The file ended inside an entry.
    pub truncated: bool,
    /// The recorded subscription's report period [ms].
    pub report_period_ms: u32,
}

/// Reads `path` into one trace per recorded cell (node order, then cell order).
pub fn read(path: &Path) -> Result<(Vec<CellTrace>, RecordingReport), RecordError> {
    let file = std::io::BufReader::new(std::fs::File::open(path)?);
    let reader = RecordReader::new(file)?;
    let header = reader.header.clone();
    let mut order = Vec::new();
    let mut layouts = Layouts::new();
    for n in &header.nodes {
        for c in &n.cells {
            let plmn: [u8; 3] = c.plmn.as_slice().try_into().unwrap_or([0; 3]);
            let id = CellId::new(plmn, c.nci);
            let slices: Vec<Snssai> = c
                .slices
                .iter()
                .map(|s| Snssai::new(s.sst.min(255) as u8, s.sd))
                .collect();
            layouts.insert(id, kpm::layout(&slices));
            order.push((id, format!("{}/{}", n.e2_node_id, id)));
        }
    }
    let mut windows: BTreeMap<CellId, BTreeMap<u64, Window>> = BTreeMap::new();
    let mut report = RecordingReport {
        report_period_ms: header.report_period_ms,
        ..RecordingReport::default()
    };
    let limits = Limits::default();
    for entry in reader {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(cause = %e, "recording ends inside an entry");
                report.truncated = true;
                break;
            }
        };
        report.entries += 1;
        match entry.kind {
            Some(record_entry::Kind::Indication(ind)) => {
                report.indications += 1;
                match kpm::decode_indication(&ind.header, &ind.payload, &limits, Some(&layouts)) {
                    Ok((r, _)) => {
                        windows.entry(r.cell).or_default().insert(
                            r.collection_start_ms,
                            Window {
                                start_ms: r.collection_start_ms,
                                cell: r.cell_meas,
                                slices: r.slices,
                            },
                        );
                    }
                    Err(_) => report.undecodable += 1,
                }
            }
            Some(record_entry::Kind::Control(c)) => {
                report.controls += 1;
                report.controls_accepted += u64::from(c.accepted);
            }
            None => {}
        }
    }
    let cells = order
        .into_iter()
        .filter_map(|(id, name)| {
            let w = windows.remove(&id)?;
            Some(CellTrace {
                name,
                runs: split_runs(w.into_values().collect()),
            })
        })
        .collect();
    Ok((cells, report))
}

fn split_runs(windows: Vec<Window>) -> Vec<Run> {
    run_spans(windows.len(), |i| {
        windows[i].start_ms - windows[i - 1].start_ms > RUN_GAP_MS
    })
    .into_iter()
    .map(|span| Run {
        windows: windows[span].to_vec(),
    })
    .collect()
}
