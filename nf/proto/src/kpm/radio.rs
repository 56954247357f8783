//! UE-level telemetry (report style 4: action definition format 4, indication message
//! format 3) and the cell radio report (report style 1, indication message format 1 with the
//! cell radio names) in the PROTO encoding, ⇄ `nf_core::radio::{UeLevelReport, CellRadio}`,
//! with the bounds and refusals of the APER codec (`e2_asn1::kpm::radio`): the names are
//! read the same way by the same `nf_core::e2sm::{assemble_ue, assemble_cell_radio}`.
//!
//! Unlike APER, PROTO messages name their cell (`cell_global_id`), and an empty UE list is a
//! valid (empty) report.

use nf_core::CellId;
use nf_core::e2sm::{
    CellInfo, DecodeNotes, Limits, MAX_UES_PER_REPORT, REPORT_STYLE_NODE_MEASUREMENT,
    REPORT_STYLE_UE_CONDITION, RadioValue, UeDecodeNotes, UeDrop, assemble_cell_radio, assemble_ue,
    cell_radio_names, cell_radio_records, push_ue, ue_drop, ue_records,
};
use nf_core::radio::{CellRadio, UeId, UeLevelReport, ue_meas};
use prost::Message;

use super::{KpmError, cell_from_pb, cell_to_pb, decode, no_label};
use crate::pb::kpm as pb;

/// The AMF region / set / pointer of the GUAMI written with every UE ID (all 0, as in the
/// APER codec; see `e2_asn1::kpm::radio`).
pub const GUAMI_AMF_OCTETS: [u8; 3] = [0, 0, 0];

/// The PROTO `UeId` of a UE of a cell of `plmn`.
pub fn ue_id_to_pb(ue: UeId, plmn: [u8; 3]) -> pb::UeId {
    let mut guami = plmn.to_vec();
    guami.extend_from_slice(&GUAMI_AMF_OCTETS);
    pb::UeId {
        amf_ue_ngap_id: ue.0,
        guami,
    }
}

/// The [`UeId`] of a PROTO `UeId` (40-bit AMF UE NGAP ID, 6-byte GUAMI).
pub fn ue_id_from_pb(id: Option<&pb::UeId>) -> Result<UeId, String> {
    let id = id.ok_or_else(|| "UE ID is missing".to_owned())?;
    if id.amf_ue_ngap_id > UeId::MAX {
        return Err(format!(
            "AMF UE NGAP ID {} exceeds 40 bits",
            id.amf_ue_ngap_id
        ));
    }
    if id.guami.len() != 6 {
        return Err(format!("GUAMI of {} bytes (want 6)", id.guami.len()));
    }
    Ok(UeId(id.amf_ue_ngap_id))
}

fn info(names: &[&str]) -> Vec<pb::MeasurementInfo> {
    names
        .iter()
        .map(|n| pb::MeasurementInfo {
            measurement_name: (*n).to_owned(),
            labels: vec![no_label()],
        })
        .collect()
}

fn record(v: RadioValue) -> pb::MeasurementRecord {
    use pb::measurement_record::Value;
    let value = match v {
        RadioValue::Int(i) => i64::try_from(i).map_or(Value::Real(i as f64), Value::Integer),
        RadioValue::Real(r) if r.is_nan() => Value::NoValue(pb::NoValue {}),
        RadioValue::Real(r) => Value::Real(r),
        RadioValue::NoValue => Value::NoValue(pb::NoValue {}),
    };
    pb::MeasurementRecord { value: Some(value) }
}

/// A record as a value; a negative `integer` (never a count) is kept as real so the range
/// checks refuse it by name.
fn value(r: &pb::MeasurementRecord) -> RadioValue {
    use pb::measurement_record::Value;
    match &r.value {
        Some(Value::Integer(i)) => {
            u64::try_from(*i).map_or(RadioValue::Real(*i as f64), RadioValue::Int)
        }
        Some(Value::Real(r)) => RadioValue::Real(*r),
        Some(Value::NoValue(_)) | None => RadioValue::NoValue,
    }
}

fn format1(names: &[&str], cell: &CellId, granularity_ms: u32) -> pb::ActionDefinitionFormat1 {
    pb::ActionDefinitionFormat1 {
        measurement_info: info(names),
        granularity_period_ms: granularity_ms,
        cell_global_id: Some(cell_to_pb(cell)),
    }
}

/// Report style 4 action definition (format 4): the condition `rSRP present` and every
/// `ue_meas::ALL` name for the cell.
pub fn encode_ue_action_definition(cell: &CellInfo, granularity_ms: u32) -> Vec<u8> {
    pb::ActionDefinition {
        ric_style_type: REPORT_STYLE_UE_CONDITION,
        format: Some(pb::action_definition::Format::Format4(
            pb::ActionDefinitionFormat4 {
                matching_ue_conditions: vec![pb::TestCondition {
                    test_type: "rSRP".into(),
                    test_expr: "present".into(),
                }],
                subscription_info: Some(format1(&ue_meas::ALL, &cell.cell, granularity_ms)),
            },
        )),
    }
    .encode_to_vec()
}

/// Report style 1 action definition (format 1) of the cell radio report.
pub fn encode_cell_radio_action_definition(cell: &CellInfo, granularity_ms: u32) -> Vec<u8> {
    let names = cell_radio_names();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    pb::ActionDefinition {
        ric_style_type: REPORT_STYLE_NODE_MEASUREMENT,
        format: Some(pb::action_definition::Format::Format1(format1(
            &names,
            &cell.cell,
            granularity_ms,
        ))),
    }
    .encode_to_vec()
}

/// A decoded report style 4 action definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UeAction {
    pub cell: CellId,
    pub granularity_ms: u32,
    pub measurements: Vec<String>,
    /// The matching conditions as text (`rSRP present`).
    pub conditions: Vec<String>,
}

/// What an action definition asks a node for (for the simulator).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActionKind {
    /// Style 1 with the slice KPM measurements.
    SliceMeasurement { cell: CellId, granularity_ms: u32 },
    /// Style 1 with the cell radio names.
    CellRadio { cell: CellId, granularity_ms: u32 },
    /// Style 4 (format 4).
    UeLevel(UeAction),
}

/// Decodes a report style 4 action definition (format 4, a cell required).
pub fn decode_ue_action_definition(bytes: &[u8]) -> Result<UeAction, KpmError> {
    let a: pb::ActionDefinition = decode(bytes, "action definition")?;
    if a.ric_style_type != REPORT_STYLE_UE_CONDITION {
        return Err(KpmError::Invalid("report style (want 4)"));
    }
    let Some(pb::action_definition::Format::Format4(f)) = a.format else {
        return Err(KpmError::Missing("action definition format 4"));
    };
    let sub = f
        .subscription_info
        .ok_or(KpmError::Missing("subscription info"))?;
    Ok(UeAction {
        cell: cell_from_pb(sub.cell_global_id.as_ref())?,
        granularity_ms: sub.granularity_period_ms,
        measurements: sub
            .measurement_info
            .into_iter()
            .map(|m| m.measurement_name)
            .collect(),
        conditions: f
            .matching_ue_conditions
            .iter()
            .map(|c| format!("{} {}", c.test_type, c.test_expr).trim().to_owned())
            .collect(),
    })
}

/// What an action definition asks for: slice report, cell radio report or UE-level report.
pub fn classify_action_definition(bytes: &[u8]) -> Result<ActionKind, KpmError> {
    let a: pb::ActionDefinition = decode(bytes, "action definition")?;
    match (a.ric_style_type, a.format) {
        (REPORT_STYLE_UE_CONDITION, Some(pb::action_definition::Format::Format4(_))) => {
            decode_ue_action_definition(bytes).map(ActionKind::UeLevel)
        }
        (REPORT_STYLE_NODE_MEASUREMENT, Some(pb::action_definition::Format::Format1(f))) => {
            let cell = cell_from_pb(f.cell_global_id.as_ref())?;
            let radio = cell_radio_names();
            let is_radio = !f.measurement_info.is_empty()
                && f.measurement_info
                    .iter()
                    .all(|m| radio.contains(&m.measurement_name));
            let granularity_ms = f.granularity_period_ms;
            Ok(if is_radio {
                ActionKind::CellRadio {
                    cell,
                    granularity_ms,
                }
            } else {
                ActionKind::SliceMeasurement {
                    cell,
                    granularity_ms,
                }
            })
        }
        _ => Err(KpmError::Invalid("report style / action definition format")),
    }
}

fn header(collection_start_ms: u64) -> Vec<u8> {
    pb::IndicationHeader {
        collection_start_time_ms: collection_start_ms,
        file_format_version: "1".into(),
        sender_name: "e2sim".into(),
        sender_type: "gNB-DU".into(),
        vendor_name: "ai-ran-xapp testbed".into(),
    }
    .encode_to_vec()
}

/// Encodes a UE-level report as (header, message format 3).
pub fn encode_ue_indication(report: &UeLevelReport) -> (Vec<u8>, Vec<u8>) {
    let ue_meas_reports = report
        .ues
        .iter()
        .map(|u| pb::UeMeasurementReport {
            ue_id: Some(ue_id_to_pb(u.ue, report.cell.plmn)),
            meas_report: Some(pb::IndicationMessageFormat1 {
                measurement_data: vec![pb::MeasurementData {
                    records: ue_records(u).iter().map(|(_, v)| record(*v)).collect(),
                    incomplete: false,
                }],
                measurement_info: info(&ue_meas::ALL),
                granularity_period_ms: report.granularity_ms,
                cell_global_id: None,
            }),
        })
        .collect();
    let msg = pb::IndicationMessage {
        format: Some(pb::indication_message::Format::Format3(
            pb::IndicationMessageFormat3 {
                ue_meas_reports,
                cell_global_id: Some(cell_to_pb(&report.cell)),
            },
        )),
    }
    .encode_to_vec();
    (header(report.collection_start_ms), msg)
}

fn check_size(header: &[u8], message: &[u8], limits: &Limits) -> Result<(), KpmError> {
    for len in [header.len(), message.len()] {
        if len > limits.max_payload_bytes {
            return Err(KpmError::Oversize {
                len,
                limit: limits.max_payload_bytes,
            });
        }
    }
    Ok(())
}

fn start_of(header: &[u8]) -> Result<u64, KpmError> {
    let h: pb::IndicationHeader = decode(header, "indication header")?;
    if h.collection_start_time_ms == 0 {
        return Err(KpmError::Missing("collection start time"));
    }
    Ok(h.collection_start_time_ms)
}

/// Decodes a UE-level indication (message format 3), with the bounds and per-UE refusals of
/// `e2_asn1::kpm::radio::decode_ue_indication`: payload size and measurements per UE from
/// `limits`, at most [`MAX_UES_PER_REPORT`] UEs; a bad UE ID, record count, repeated name or
/// impossible value drops that UE (reason in the notes), a repeated UE keeps the first.
pub fn decode_ue_indication(
    header: &[u8],
    message: &[u8],
    limits: &Limits,
) -> Result<(UeLevelReport, UeDecodeNotes), KpmError> {
    check_size(header, message, limits)?;
    let collection_start_ms = start_of(header)?;
    let m: pb::IndicationMessage = decode(message, "indication message")?;
    let Some(pb::indication_message::Format::Format3(f)) = m.format else {
        return Err(KpmError::Missing("indication message format 3"));
    };
    if f.ue_meas_reports.len() > MAX_UES_PER_REPORT {
        return Err(KpmError::TooMany {
            what: "UEs",
            count: f.ue_meas_reports.len(),
            limit: MAX_UES_PER_REPORT,
        });
    }
    let cell = cell_from_pb(f.cell_global_id.as_ref())?;
    let mut notes = UeDecodeNotes::default();
    let mut report = UeLevelReport {
        cell,
        collection_start_ms,
        granularity_ms: f
            .ue_meas_reports
            .iter()
            .filter_map(|r| r.meas_report.as_ref())
            .map(|r| r.granularity_period_ms)
            .find(|g| *g > 0)
            .unwrap_or(0),
        ues: Vec::with_capacity(f.ue_meas_reports.len()),
    };
    for r in &f.ue_meas_reports {
        let ue = match ue_id_from_pb(r.ue_id.as_ref()) {
            Ok(ue) => ue,
            Err(detail) => {
                notes.dropped.push(UeDrop {
                    ue: None,
                    reason: ue_drop::UNSUPPORTED_UE_ID,
                    detail,
                });
                continue;
            }
        };
        let empty = pb::IndicationMessageFormat1::default();
        let m1 = r.meas_report.as_ref().unwrap_or(&empty);
        let records = m1
            .measurement_data
            .last()
            .map_or(&[][..], |d| d.records.as_slice());
        let n = m1.measurement_info.len().max(records.len());
        if n > limits.max_measurements {
            return Err(KpmError::TooMany {
                what: "measurements of a UE",
                count: n,
                limit: limits.max_measurements,
            });
        }
        let names: Vec<Option<&str>> = if m1.measurement_info.is_empty() {
            ue_meas::ALL.iter().map(|n| Some(*n)).collect()
        } else {
            m1.measurement_info
                .iter()
                .map(|i| Some(i.measurement_name.as_str()))
                .collect()
        };
        if names.len() != records.len() {
            notes.dropped.push(UeDrop {
                ue: Some(ue),
                reason: ue_drop::RECORD_COUNT,
                detail: format!(
                    "{ue}: {} records for {} measurement names",
                    records.len(),
                    names.len()
                ),
            });
            continue;
        }
        let values: Vec<(Option<&str>, RadioValue)> =
            names.into_iter().zip(records.iter().map(value)).collect();
        match assemble_ue(ue, cell.plmn, &values, &mut notes.values) {
            Ok(u) => push_ue(&mut report.ues, &mut notes, u),
            Err(d) => notes.dropped.push(d),
        }
    }
    Ok((report, notes))
}

/// Encodes a cell radio report as (header, message format 1 with the cell radio names).
pub fn encode_cell_radio_indication(c: &CellRadio) -> (Vec<u8>, Vec<u8>) {
    let names = cell_radio_names();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let msg = pb::IndicationMessage {
        format: Some(pb::indication_message::Format::Format1(
            pb::IndicationMessageFormat1 {
                measurement_data: vec![pb::MeasurementData {
                    records: cell_radio_records(c).into_iter().map(record).collect(),
                    incomplete: false,
                }],
                measurement_info: info(&names),
                granularity_period_ms: c.granularity_ms,
                cell_global_id: Some(cell_to_pb(&c.cell)),
            },
        )),
    }
    .encode_to_vec();
    (header(c.collection_start_ms), msg)
}

/// A cell radio report refused for a value no cell can have (`impossible_value`).
#[derive(Debug, thiserror::Error)]
pub enum CellRadioDecodeError {
    #[error(transparent)]
    Payload(#[from] KpmError),
    #[error("impossible value: {0}")]
    Value(#[from] nf_core::e2sm::CellRadioError),
}

impl CellRadioDecodeError {
    /// Bounded label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Payload(e) => e.kind(),
            Self::Value(_) => "impossible_value",
        }
    }
}

/// Decodes a cell radio indication (message format 1 by name). A message without
/// measurement info is read in `cell_radio_names` order; unknown names and `noValue` are
/// counted; an impossible value refuses the report, naming the measurement.
pub fn decode_cell_radio_indication(
    header: &[u8],
    message: &[u8],
    limits: &Limits,
) -> Result<(CellRadio, DecodeNotes), CellRadioDecodeError> {
    check_size(header, message, limits)?;
    let collection_start_ms = start_of(header)?;
    let m: pb::IndicationMessage = decode(message, "indication message")?;
    let Some(pb::indication_message::Format::Format1(f)) = m.format else {
        return Err(KpmError::Missing("indication message format 1").into());
    };
    let cell = cell_from_pb(f.cell_global_id.as_ref())?;
    let records = f
        .measurement_data
        .last()
        .ok_or(KpmError::Missing("measurement data"))?
        .records
        .as_slice();
    let default_names = cell_radio_names();
    let names: Vec<Option<&str>> = if f.measurement_info.is_empty() {
        default_names.iter().map(|n| Some(n.as_str())).collect()
    } else {
        f.measurement_info
            .iter()
            .map(|i| Some(i.measurement_name.as_str()))
            .collect()
    };
    for count in [names.len(), records.len()] {
        if count > limits.max_measurements {
            return Err(KpmError::TooMany {
                what: "measurements",
                count,
                limit: limits.max_measurements,
            }
            .into());
        }
    }
    if names.len() != records.len() {
        return Err(KpmError::RecordCount {
            records: records.len(),
            infos: names.len(),
        }
        .into());
    }
    let values: Vec<(Option<&str>, RadioValue)> =
        names.into_iter().zip(records.iter().map(value)).collect();
    let mut notes = DecodeNotes::default();
    let c = assemble_cell_radio(
        cell,
        collection_start_ms,
        f.granularity_period_ms,
        &values,
        &mut notes,
    )?;
    Ok((c, notes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nf_core::radio::{Neighbour, UeRadio};

    const PLMN: [u8; 3] = [0x00, 0xf1, 0x10];

    fn cell() -> CellInfo {
        CellInfo {
            cell: CellId::new(PLMN, 0x19b1),
            slices: vec![],
            prb_total_dl: 106,
        }
    }

    fn ue(id: u64) -> UeRadio {
        UeRadio {
            ue: UeId(id),
            rsrp_dbm: Some(-85.5),
            rsrq_db: Some(-11.25),
            sinr_db: Some(7.5),
            cqi: Some(9.0),
            thp_dl_kbps: Some(12_345.5),
            prb_used_dl: Some(17.0),
            neighbour: Some(Neighbour {
                cell: CellId::new(PLMN, CellId::MAX_NCI),
                rsrp_dbm: -88.0,
                rsrq_db: Some(-14.5),
            }),
        }
    }

    fn report() -> UeLevelReport {
        let mut sparse = UeRadio::empty(UeId(UeId::MAX));
        sparse.rsrp_dbm = Some(-120.0);
        sparse.sinr_db = Some(-3.0);
        UeLevelReport {
            cell: cell().cell,
            collection_start_ms: 1_700_000_001_000,
            granularity_ms: 1000,
            ues: vec![ue(7), sparse],
        }
    }

    #[test]
    fn ue_level_round_trip_and_per_ue_refusals() {
        let (h, m) = encode_ue_indication(&report());
        let (back, notes) = decode_ue_indication(&h, &m, &Limits::default()).unwrap();
        assert_eq!(back, report());
        assert!(notes.dropped.is_empty());
        assert_eq!(notes.values.no_values, 7);

        let mut r = report();
        let mut hot = ue(9);
        hot.cqi = Some(16.0);
        r.ues.extend([hot, ue(7)]);
        let (h, m) = encode_ue_indication(&r);
        // A UE ID over 40 bits, written by hand.
        let mut msg = pb::IndicationMessage::decode(m.as_slice()).unwrap();
        if let Some(pb::indication_message::Format::Format3(f)) = &mut msg.format {
            let mut big = f.ue_meas_reports[0].clone();
            big.ue_id = Some(pb::UeId {
                amf_ue_ngap_id: UeId::MAX + 1,
                guami: vec![0; 6],
            });
            f.ue_meas_reports.push(big);
        }
        let (back, notes) =
            decode_ue_indication(&h, &msg.encode_to_vec(), &Limits::default()).unwrap();
        assert_eq!(back.ues, report().ues);
        let reasons: Vec<&str> = notes.dropped.iter().map(|d| d.reason).collect();
        assert_eq!(
            reasons,
            [
                ue_drop::IMPOSSIBLE_VALUE,
                ue_drop::DUPLICATE_UE,
                ue_drop::UNSUPPORTED_UE_ID
            ]
        );
        assert!(notes.dropped[0].detail.contains(ue_meas::WB_CQI));

        let mut many = report();
        many.ues = (0..=MAX_UES_PER_REPORT as u64).map(ue).collect();
        let (h, m) = encode_ue_indication(&many);
        let roomy = Limits {
            max_payload_bytes: 1 << 20,
            ..Limits::default()
        };
        assert_eq!(
            decode_ue_indication(&h, &m, &roomy).unwrap_err().kind(),
            "too_many"
        );
        assert_eq!(
            decode_ue_indication(&h, &m, &Limits::default())
                .unwrap_err()
                .kind(),
            "oversize"
        );
        assert_eq!(
            decode_ue_indication(&h, &[0xff, 0xff], &Limits::default())
                .unwrap_err()
                .kind(),
            "malformed"
        );
    }

    #[test]
    fn cell_radio_round_trip_and_impossible_values() {
        let mut c = CellRadio {
            cell: cell().cell,
            collection_start_ms: 1_700_000_002_000,
            granularity_ms: 1000,
            prb_used_dl: Some(63.5),
            prb_avail_dl: Some(106.0),
            cqi_bins: [3; 16],
            rsrp_bins: [0; 16],
        };
        c.rsrp_bins[4] = 11;
        let (h, m) = encode_cell_radio_indication(&c);
        let (back, notes) = decode_cell_radio_indication(&h, &m, &Limits::default()).unwrap();
        assert_eq!(back, c);
        assert_eq!(notes, DecodeNotes::default());
        c.prb_avail_dl = Some(-1.0);
        let (h, m) = encode_cell_radio_indication(&c);
        let e = decode_cell_radio_indication(&h, &m, &Limits::default()).unwrap_err();
        assert_eq!(e.kind(), "impossible_value");
        assert!(e.to_string().contains("RRU.PrbAvailDl"), "{e}");
    }

    #[test]
    fn action_definitions_are_told_apart() {
        let ue_def = encode_ue_action_definition(&cell(), 1000);
        let a = decode_ue_action_definition(&ue_def).unwrap();
        assert_eq!(a.cell, cell().cell);
        assert_eq!(a.measurements, ue_meas::ALL.map(str::to_owned).to_vec());
        assert_eq!(a.conditions, ["rSRP present"]);
        assert_eq!(
            classify_action_definition(&ue_def).unwrap(),
            ActionKind::UeLevel(a)
        );
        let radio = encode_cell_radio_action_definition(&cell(), 500);
        assert_eq!(
            classify_action_definition(&radio).unwrap(),
            ActionKind::CellRadio {
                cell: cell().cell,
                granularity_ms: 500
            }
        );
        let mut sliced = cell();
        sliced.slices = vec![nf_core::Snssai::new(1, None)];
        let slice = super::super::encode_action_definition(&sliced, 250);
        assert_eq!(
            classify_action_definition(&slice).unwrap(),
            ActionKind::SliceMeasurement {
                cell: cell().cell,
                granularity_ms: 250
            }
        );
        assert!(super::super::decode_action_definition(&ue_def).is_err());
        assert_eq!(
            decode_ue_action_definition(&radio).unwrap_err().kind(),
            "invalid_id"
        );
    }
}
