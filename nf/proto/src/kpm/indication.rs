//! Indications: header format 1 and message format 1, with or without the (optional)
//! measurement-info list.

use nf_core::{KpmReport, Meas, MeasVec, Snssai};
use prost::Message;

use super::{
    DecodeNotes, KpmError, Layouts, Limits, MAX_SLICES, Slot, cell_from_pb, cell_to_pb, decode,
    measurement_info, snssai_from_pb,
};
use crate::pb::kpm as pb;

fn record(m: Meas, v: f32) -> pb::MeasurementRecord {
    use pb::measurement_record::Value;
    let value = if v.is_nan() {
        Value::NoValue(pb::NoValue {})
    } else if matches!(m, Meas::ConnMean | Meas::PrbAvailDl) && v.fract() == 0.0 {
        Value::Integer(v as i64)
    } else {
        Value::Real(f64::from(v))
    };
    pb::MeasurementRecord { value: Some(value) }
}

/// Encodes a report as (indication header, indication message). With `with_info = false` the
/// measurement-info list is left out (it is OPTIONAL in indication message format 1): the
/// records then follow the layout of the subscription's action definition.
pub fn encode_indication(report: &KpmReport, with_info: bool) -> (Vec<u8>, Vec<u8>) {
    let header = pb::IndicationHeader {
        collection_start_time_ms: report.collection_start_ms,
        file_format_version: "1".into(),
        sender_name: "e2sim".into(),
        sender_type: "gNB-DU".into(),
        vendor_name: "ai-ran-xapp testbed".into(),
    }
    .encode_to_vec();
    let mut records: Vec<_> = Meas::PER_CELL
        .iter()
        .map(|m| record(*m, report.cell_meas.get(*m)))
        .collect();
    for (_, meas) in &report.slices {
        records.extend(Meas::PER_SLICE.iter().map(|m| record(*m, meas.get(*m))));
    }
    let measurement_info = if with_info {
        let slices: Vec<Snssai> = report.slices.iter().map(|(s, _)| *s).collect();
        measurement_info(&slices)
    } else {
        Vec::new()
    };
    let msg = pb::IndicationMessage {
        format: Some(pb::indication_message::Format::Format1(
            pb::IndicationMessageFormat1 {
                measurement_data: vec![pb::MeasurementData {
                    records,
                    incomplete: false,
                }],
                measurement_info,
                granularity_period_ms: report.granularity_ms,
                cell_global_id: Some(cell_to_pb(&report.cell)),
            },
        )),
    }
    .encode_to_vec();
    (header, msg)
}

/// The layout an indication's own measurement-info list gives; unknown names become `None`.
fn layout_of_info(infos: &[pb::MeasurementInfo]) -> Result<Vec<Option<Slot>>, KpmError> {
    infos
        .iter()
        .map(|info| {
            let Some(meas) = Meas::from_name(&info.measurement_name) else {
                return Ok(None);
            };
            let slice = info.labels.iter().find_map(|l| match &l.label {
                Some(pb::label_info::Label::Slice(s)) => Some(s),
                _ => None,
            });
            Ok(Some((meas, slice.map(snssai_from_pb).transpose()?)))
        })
        .collect()
}

/// Decodes an indication into a report, applying `limits`. An indication without a
/// measurement-info list is read with the subscribed layout of its cell from `layouts`.
pub fn decode_indication(
    header: &[u8],
    payload: &[u8],
    limits: &Limits,
    layouts: Option<&Layouts>,
) -> Result<(KpmReport, DecodeNotes), KpmError> {
    for len in [header.len(), payload.len()] {
        if len > limits.max_payload_bytes {
            return Err(KpmError::Oversize {
                len,
                limit: limits.max_payload_bytes,
            });
        }
    }
    let h: pb::IndicationHeader = decode(header, "indication header")?;
    let m: pb::IndicationMessage = decode(payload, "indication message")?;
    let Some(pb::indication_message::Format::Format1(f)) = m.format else {
        return Err(KpmError::Missing("indication message format 1"));
    };
    if f.measurement_info.len() > limits.max_measurements {
        return Err(KpmError::TooMany {
            what: "measurements",
            count: f.measurement_info.len(),
            limit: limits.max_measurements,
        });
    }
    if h.collection_start_time_ms == 0 {
        return Err(KpmError::Missing("collection start time"));
    }
    let cell = cell_from_pb(f.cell_global_id.as_ref())?;
    let data = f
        .measurement_data
        .last()
        .ok_or(KpmError::Missing("measurement data"))?;
    let mut report = KpmReport {
        cell,
        collection_start_ms: h.collection_start_time_ms,
        granularity_ms: f.granularity_period_ms,
        cell_meas: MeasVec::default(),
        slices: Vec::new(),
    };
    let mut notes = DecodeNotes::default();
    if f.measurement_info.is_empty() {
        let layout = layouts.and_then(|l| l.get(&cell)).ok_or(KpmError::Missing(
            "measurement info (and no subscribed layout for the cell)",
        ))?;
        check_count(data.records.len(), layout.len())?;
        for (slot, rec) in layout.iter().zip(&data.records) {
            put(&mut report, &mut notes, Some(*slot), rec)?;
        }
    } else {
        check_count(data.records.len(), f.measurement_info.len())?;
        for (slot, rec) in layout_of_info(&f.measurement_info)?
            .into_iter()
            .zip(&data.records)
        {
            put(&mut report, &mut notes, slot, rec)?;
        }
    }
    Ok((report, notes))
}

fn check_count(records: usize, infos: usize) -> Result<(), KpmError> {
    if records == infos {
        Ok(())
    } else {
        Err(KpmError::RecordCount { records, infos })
    }
}

/// Stores one record into the report (or counts why it was skipped).
fn put(
    report: &mut KpmReport,
    notes: &mut DecodeNotes,
    slot: Option<Slot>,
    rec: &pb::MeasurementRecord,
) -> Result<(), KpmError> {
    let Some((meas, slice)) = slot else {
        notes.unknown_measurements += 1;
        return Ok(());
    };
    let value = match &rec.value {
        Some(pb::measurement_record::Value::Integer(i)) => *i as f32,
        Some(pb::measurement_record::Value::Real(r)) => *r as f32,
        Some(pb::measurement_record::Value::NoValue(_)) | None => {
            notes.no_values += 1;
            return Ok(());
        }
    };
    if !value.is_finite() {
        notes.non_finite_values += 1;
        return Ok(());
    }
    let Some(s) = slice else {
        report.cell_meas.set(meas, value);
        return Ok(());
    };
    let idx = match report.slices.iter().position(|(x, _)| *x == s) {
        Some(i) => i,
        None if report.slices.len() < MAX_SLICES => {
            report.slices.push((s, MeasVec::default()));
            report.slices.len() - 1
        }
        None => {
            return Err(KpmError::TooMany {
                what: "slices",
                count: MAX_SLICES + 1,
                limit: MAX_SLICES,
            });
        }
    };
    report.slices[idx].1.set(meas, value);
    Ok(())
}
