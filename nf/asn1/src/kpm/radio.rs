//! UE-level telemetry (report style 4: action definition format 4, indication message
//! format 3) and the cell radio report (report style 1 by name: action definition format 1
//! and indication message format 1 with the `radio::cell_meas` names), in every supported
//! E2SM-KPM version, ⇄ `nf_core::radio::{UeLevelReport, CellRadio}`.
//!
//! # UE identity
//! A UE is the `gNB-UEID` choice of `UEID` (E2SM common IEs 6.2.2.1) with its AMF UE NGAP
//! ID = [`UeId`]. The mandatory GUAMI carries the serving cell's PLMN and the AMF region,
//! set and pointer constants [`GUAMI_AMF_REGION`], [`GUAMI_AMF_SET`],
//! [`GUAMI_AMF_POINTER`] (all 0, as in srsRAN's handover control vector): the xApp never
//! routes by AMF, it only needs a stable UE key within a node, which the AMF UE NGAP ID is.
//! Any other choice of `UEID` is refused per UE (`ue_unsupported_id`).
//!
//! # The matching condition of format 4
//! Format 4 must carry at least one `matchingUeCond`; E2SM-KPM has no "every UE" condition.
//! The most natural one for the interference xApp is `TestCond-Type rSRP` with
//! `TestCond-Expression present` and no `testValue`: "the UE has a reported RSRP", which every
//! connected UE with a serving-cell measurement meets, and which states exactly what the
//! xApp needs (a UE without SS-RSRP cannot be assessed). A threshold test (`rSRP greaterthan
//! -156`) would say the same in a value a node might round or compare differently.
//!
//! # Values
//! Records follow `nf_core::e2sm::ue_records` / `cell_radio_records`: CQI, PRB counts,
//! bins and the neighbour's NCI as `integer` (an NCI above 2^32−1, beyond the `integer`
//! record's range, as an exact `real`), levels and throughput as `real`, missing as
//! `noValue`. Decoding accepts either form for every name.

use nf_core::e2sm::{
    DecodeNotes, Limits, MAX_UES_PER_REPORT, REPORT_STYLE_NODE_MEASUREMENT,
    REPORT_STYLE_UE_CONDITION, RadioValue, UeDecodeNotes, UeDrop, assemble_cell_radio, assemble_ue,
    cell_radio_names, cell_radio_records, push_ue, ue_drop, ue_records,
};
use nf_core::radio::{CellRadio, UeId, UeLevelReport, ue_meas};
use nf_core::{CellId, e2sm::CellInfo};

use super::{
    IndicationScope, KpmAperError, KpmVersion, Record, decode_indication_header,
    encode_indication_header, versioned,
};

/// AMF Region ID of the GUAMI this project writes into a gNB `UEID` (8 bits).
pub const GUAMI_AMF_REGION: u16 = 0;
/// AMF Set ID of that GUAMI (10 bits).
pub const GUAMI_AMF_SET: u16 = 0;
/// AMF Pointer of that GUAMI (6 bits).
pub const GUAMI_AMF_POINTER: u16 = 0;

/// A `UEID` choice other than `gNB-UEID` (named).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UeIdError(pub &'static str);

/// Any action definition of format 1 or 4, read by measurement name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnyAction {
    pub style: i32,
    /// 1 or 4.
    pub format: u8,
    pub cell: Option<CellId>,
    pub granularity_ms: u32,
    /// Each measurement-info entry's name (`None`: given by ID).
    pub names: Vec<Option<String>>,
    /// Format 4: each matching condition as text (e.g. `rSRP present`).
    pub conditions: Vec<String>,
}

/// What a node is asked to report by one action definition (for the simulator).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActionKind {
    /// Report style 1 with the slice KPM measurements (`Meas` names): the slice xApp's.
    SliceMeasurement { cell: CellId, granularity_ms: u32 },
    /// Report style 1 with the cell radio names (`CARR.WBCQIDist.BinX` …).
    CellRadio { cell: CellId, granularity_ms: u32 },
    /// Report style 4 (format 4): UE-level measurements of the cell's UEs.
    UeLevel(UeAction),
}

/// A decoded report style 4 action definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UeAction {
    pub cell: CellId,
    pub granularity_ms: u32,
    /// The measurement names asked for (names given by ID are left out).
    pub measurements: Vec<String>,
    /// The matching conditions as text (`rSRP present` for this project's xApp).
    pub conditions: Vec<String>,
}

/// An indication message format 1 read by name.
#[derive(Debug)]
pub(crate) struct NamedMessage {
    pub(crate) names: Option<Vec<Option<String>>>,
    pub(crate) records: Vec<Record>,
    pub(crate) granularity_ms: Option<u32>,
}

/// One UE entry of an indication message format 3.
#[derive(Debug)]
pub(crate) struct UeEntry {
    pub(crate) ue: Result<u64, UeIdError>,
    pub(crate) report: NamedMessage,
}

fn to_record(v: RadioValue) -> Record {
    match v {
        RadioValue::Int(i) => u32::try_from(i).map_or(Record::Real(i as f64), Record::Integer),
        RadioValue::Real(r) if r.is_nan() => Record::NoValue,
        RadioValue::Real(r) => Record::Real(r),
        RadioValue::NoValue => Record::NoValue,
    }
}

fn to_value(r: Record) -> RadioValue {
    match r {
        Record::Integer(i) => RadioValue::Int(u64::from(i)),
        Record::Real(r) => RadioValue::Real(r),
        Record::NoValue | Record::NotSatisfied => RadioValue::NoValue,
    }
}

macro_rules! by_version {
    ($version:expr, $f:ident ( $($arg:expr),* )) => {
        match $version {
            KpmVersion::V2_03 => versioned::v2::$f($($arg),*),
            KpmVersion::V3_00 => versioned::v3::$f($($arg),*),
            KpmVersion::V4_00 => versioned::v4::$f($($arg),*),
        }
    };
}

/// Report style 4 action definition, format 4: the matching condition `rSRP present` (see
/// the module docs) and subscription info = format 1 with every `ue_meas::ALL` name and the
/// cell's CGI.
pub fn encode_ue_action_definition(
    cell: &CellInfo,
    granularity_ms: u32,
    version: KpmVersion,
) -> Vec<u8> {
    by_version!(
        version,
        encode_ue_action_definition(
            REPORT_STYLE_UE_CONDITION,
            &cell.cell,
            &ue_meas::ALL,
            granularity_ms
        )
    )
}

/// Report style 1 action definition (format 1) of the cell radio report: the
/// `nf_core::e2sm::cell_radio_names`, each without label, and the cell's CGI.
pub fn encode_cell_radio_action_definition(
    cell: &CellInfo,
    granularity_ms: u32,
    version: KpmVersion,
) -> Vec<u8> {
    let names = cell_radio_names();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    by_version!(
        version,
        encode_named_action_definition(
            REPORT_STYLE_NODE_MEASUREMENT,
            &cell.cell,
            &names,
            granularity_ms
        )
    )
}

/// Any action definition of format 1 or 4, by name.
pub fn decode_any_action(bytes: &[u8], version: KpmVersion) -> Result<AnyAction, KpmAperError> {
    by_version!(version, decode_any_action(bytes))
}

/// Decodes a report style 4 action definition (format 4; style 4 and a cell required).
pub fn decode_ue_action_definition(
    bytes: &[u8],
    version: KpmVersion,
) -> Result<UeAction, KpmAperError> {
    let a = decode_any_action(bytes, version)?;
    if a.style != REPORT_STYLE_UE_CONDITION {
        return Err(KpmAperError::Invalid("report style (want 4)"));
    }
    if a.format != 4 {
        return Err(KpmAperError::Missing("action definition format 4"));
    }
    Ok(UeAction {
        cell: a.cell.ok_or(KpmAperError::Missing("cell global ID"))?,
        granularity_ms: a.granularity_ms,
        measurements: a.names.into_iter().flatten().collect(),
        conditions: a.conditions,
    })
}

/// What an action definition asks a node for: the slice report, the cell radio report
/// (style 1 whose names are the cell radio names) or the UE-level report (style 4).
pub fn classify_action_definition(
    bytes: &[u8],
    version: KpmVersion,
) -> Result<ActionKind, KpmAperError> {
    let a = decode_any_action(bytes, version)?;
    match (a.style, a.format) {
        (REPORT_STYLE_UE_CONDITION, 4) => {
            decode_ue_action_definition(bytes, version).map(ActionKind::UeLevel)
        }
        (REPORT_STYLE_NODE_MEASUREMENT, 1) => {
            let cell = a.cell.ok_or(KpmAperError::Missing("cell global ID"))?;
            let radio = cell_radio_names();
            let is_radio = !a.names.is_empty()
                && a.names
                    .iter()
                    .all(|n| n.as_ref().is_some_and(|n| radio.contains(n)));
            Ok(if is_radio {
                ActionKind::CellRadio {
                    cell,
                    granularity_ms: a.granularity_ms,
                }
            } else {
                ActionKind::SliceMeasurement {
                    cell,
                    granularity_ms: a.granularity_ms,
                }
            })
        }
        _ => Err(KpmAperError::Invalid(
            "report style / action definition format",
        )),
    }
}

/// Encodes a UE-level report as (indication header format 1, indication message format 3):
/// per UE its gNB `UEID` (see the module docs) and a format-1 report with every
/// `ue_meas::ALL` name and one record each. UEs whose ID exceeds 40 bits cannot be written
/// and are left out; a report with no UE to write gets an EMPTY message (format 3's list is
/// `SIZE(1..)`): send nothing then.
pub fn encode_ue_indication(report: &UeLevelReport, version: KpmVersion) -> (Vec<u8>, Vec<u8>) {
    let header = encode_indication_header(report.collection_start_ms, version);
    let ues: Vec<(u64, Vec<Record>)> = report
        .ues
        .iter()
        .filter(|u| u.ue.0 <= UeId::MAX)
        .map(|u| {
            (
                u.ue.0,
                ue_records(u).iter().map(|(_, v)| to_record(*v)).collect(),
            )
        })
        .collect();
    let message = by_version!(
        version,
        encode_ue_message(&ues, report.cell.plmn, &ue_meas::ALL, report.granularity_ms)
    );
    (header, message.unwrap_or_default())
}

fn check_size(header: &[u8], message: &[u8], limits: &Limits) -> Result<(), KpmAperError> {
    for len in [header.len(), message.len()] {
        if len > limits.max_payload_bytes {
            return Err(KpmAperError::Oversize {
                len,
                limit: limits.max_payload_bytes,
            });
        }
    }
    Ok(())
}

/// Decodes a UE-level indication (header format 1, message format 3). The serving cell and
/// the default granularity come from `scope` (format 3 names no cell). Bounds: payload size
/// and measurements per UE from `limits`, at most [`MAX_UES_PER_REPORT`] UEs (else the
/// whole report is `too_many`, counted by the allocation pre-scan before any UE list is
/// decoded, and named so even when the lists would also exceed
/// [`super::MAX_DECODED_BYTES`]). Per UE: a `UEID` other than gNB, a record count that
/// disagrees with the names, a repeated name or an impossible value (`UeRadio::check`)
/// drops that UE with its reason in the notes, the rest kept; a repeated UE keeps the first.
/// Unknown names are skipped and counted; vendor-specific `VS.Nbr1.*` are read. A UE report
/// without measurement info is read in `ue_meas::ALL` order (what the action asked).
pub fn decode_ue_indication(
    header: &[u8],
    message: &[u8],
    limits: &Limits,
    scope: &IndicationScope,
    version: KpmVersion,
) -> Result<(UeLevelReport, UeDecodeNotes), KpmAperError> {
    check_size(header, message, limits)?;
    let collection_start_ms = decode_indication_header(header, version)?;
    let entries = by_version!(version, decode_ue_message(message))?;
    if entries.len() > MAX_UES_PER_REPORT {
        return Err(KpmAperError::TooMany {
            what: "UEs",
            count: entries.len(),
            limit: MAX_UES_PER_REPORT,
        });
    }
    let mut notes = UeDecodeNotes::default();
    let mut report = UeLevelReport {
        cell: scope.cell,
        collection_start_ms,
        granularity_ms: entries
            .iter()
            .find_map(|e| e.report.granularity_ms)
            .unwrap_or(scope.granularity_ms),
        ues: Vec::with_capacity(entries.len()),
    };
    for e in entries {
        let n = e
            .report
            .names
            .as_ref()
            .map_or(0, Vec::len)
            .max(e.report.records.len());
        if n > limits.max_measurements {
            return Err(KpmAperError::TooMany {
                what: "measurements of a UE",
                count: n,
                limit: limits.max_measurements,
            });
        }
        let ue = match e.ue {
            Ok(id) if id <= UeId::MAX => UeId(id),
            Ok(id) => {
                notes.dropped.push(UeDrop {
                    ue: None,
                    reason: ue_drop::UNSUPPORTED_UE_ID,
                    detail: format!("AMF UE NGAP ID {id} exceeds 40 bits"),
                });
                continue;
            }
            Err(UeIdError(choice)) => {
                notes.dropped.push(UeDrop {
                    ue: None,
                    reason: ue_drop::UNSUPPORTED_UE_ID,
                    detail: format!("UEID choice {choice} (want gNB-UEID with the AMF UE NGAP ID)"),
                });
                continue;
            }
        };
        let names: Vec<Option<&str>> = match &e.report.names {
            Some(n) => n.iter().map(Option::as_deref).collect(),
            None => ue_meas::ALL.iter().map(|n| Some(*n)).collect(),
        };
        if names.len() != e.report.records.len() {
            notes.dropped.push(UeDrop {
                ue: Some(ue),
                reason: ue_drop::RECORD_COUNT,
                detail: format!(
                    "{ue}: {} records for {} measurement names",
                    e.report.records.len(),
                    names.len()
                ),
            });
            continue;
        }
        let values: Vec<(Option<&str>, RadioValue)> = names
            .into_iter()
            .zip(e.report.records.iter().map(|r| to_value(*r)))
            .collect();
        match assemble_ue(ue, scope.cell.plmn, &values, &mut notes.values) {
            Ok(u) => push_ue(&mut report.ues, &mut notes, u),
            Err(d) => notes.dropped.push(d),
        }
    }
    Ok((report, notes))
}

/// Encodes a cell radio report as (indication header format 1, indication message format 1
/// with the measurement-info list of `cell_radio_names`).
pub fn encode_cell_radio_indication(c: &CellRadio, version: KpmVersion) -> (Vec<u8>, Vec<u8>) {
    let header = encode_indication_header(c.collection_start_ms, version);
    let names = cell_radio_names();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let records: Vec<Record> = cell_radio_records(c).into_iter().map(to_record).collect();
    let message = by_version!(
        version,
        encode_named_message(&records, Some(&names), c.granularity_ms)
    );
    (header, message)
}

/// Decodes a cell radio indication (header format 1, message format 1 by name). The cell
/// and default granularity come from `scope`; a message without measurement info is read in
/// `cell_radio_names` order. Unknown names and `noValue` are counted; an impossible value
/// (PRB count outside 0..=275, a fractional or negative bin count) refuses the report as
/// `impossible_value`, naming the measurement.
pub fn decode_cell_radio_indication(
    header: &[u8],
    message: &[u8],
    limits: &Limits,
    scope: &IndicationScope,
    version: KpmVersion,
) -> Result<(CellRadio, DecodeNotes), KpmAperError> {
    check_size(header, message, limits)?;
    let collection_start_ms = decode_indication_header(header, version)?;
    let m = by_version!(version, decode_named_message(message))?;
    let default_names = cell_radio_names();
    let names: Vec<Option<&str>> = match &m.names {
        Some(n) => n.iter().map(Option::as_deref).collect(),
        None => default_names.iter().map(|n| Some(n.as_str())).collect(),
    };
    for count in [names.len(), m.records.len()] {
        if count > limits.max_measurements {
            return Err(KpmAperError::TooMany {
                what: "measurements",
                count,
                limit: limits.max_measurements,
            });
        }
    }
    if names.len() != m.records.len() {
        return Err(KpmAperError::RecordCount {
            records: m.records.len(),
            infos: names.len(),
        });
    }
    let values: Vec<(Option<&str>, RadioValue)> = names
        .into_iter()
        .zip(m.records.iter().map(|r| to_value(*r)))
        .collect();
    let mut notes = DecodeNotes::default();
    let c = assemble_cell_radio(
        scope.cell,
        collection_start_ms,
        m.granularity_ms.unwrap_or(scope.granularity_ms),
        &values,
        &mut notes,
    )
    .map_err(|e| KpmAperError::Value {
        measurement: e.measurement.clone(),
        detail: e.to_string(),
    })?;
    Ok((c, notes))
}
