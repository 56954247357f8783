//! E2SM-KPM codec (PROTO encoding): RAN function definition, report subscription
//! (event trigger format 1, action definition format 1, style 1) and indications
//! (header format 1, message format 1).
//!
//! Decoding is defensive: size and count limits are checked before anything is trusted,
//! measurements the xApp does not know are skipped and counted, non-finite values and
//! "no value" records become missing values and are counted. Only a payload that cannot be
//! interpreted at all is rejected.

mod indication;
pub mod radio;

use nf_core::{CellId, Meas, Snssai};
use prost::Message;

use crate::pb::kpm as pb;

pub use nf_core::e2sm::{
    CellInfo, DecodeNotes, Limits, MAX_SLICES, REPORT_STYLE_NODE_MEASUREMENT, layout,
};

/// Why a KPM payload was rejected.
#[derive(Debug, thiserror::Error)]
pub enum KpmError {
    /// Bigger than [`Limits::max_payload_bytes`].
    #[error("payload of {len} bytes exceeds the limit of {limit} bytes")]
    Oversize { len: usize, limit: usize },
    /// Not a valid protobuf encoding of the expected message.
    #[error("undecodable {what}: {source}")]
    Malformed {
        what: &'static str,
        #[source]
        source: prost::DecodeError,
    },
    /// A required part is absent.
    #[error("{0} is missing")]
    Missing(&'static str),
    /// Records and measurement info disagree.
    #[error("{records} records for {infos} measurement-info entries")]
    RecordCount { records: usize, infos: usize },
    /// More measurements or slices than allowed.
    #[error("{what}: {count} exceeds the limit of {limit}")]
    TooMany {
        what: &'static str,
        count: usize,
        limit: usize,
    },
    /// An identifier out of its range.
    #[error("invalid {0}")]
    Invalid(&'static str),
}

impl KpmError {
    /// Bounded label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            KpmError::Oversize { .. } => "oversize",
            KpmError::Malformed { .. } => "malformed",
            KpmError::Missing(_) => "missing_field",
            KpmError::RecordCount { .. } => "record_count",
            KpmError::TooMany { .. } => "too_many",
            KpmError::Invalid(_) => "invalid_id",
        }
    }
}

fn decode<M: Message + Default>(bytes: &[u8], what: &'static str) -> Result<M, KpmError> {
    M::decode(bytes).map_err(|source| KpmError::Malformed { what, source })
}

pub fn cell_to_pb(c: &CellId) -> pb::CellGlobalId {
    pb::CellGlobalId {
        plmn_id: c.plmn.to_vec(),
        nr_cell_id: c.nci,
    }
}

pub fn cell_from_pb(c: Option<&pb::CellGlobalId>) -> Result<CellId, KpmError> {
    let c = c.ok_or(KpmError::Missing("cell global id"))?;
    let plmn: [u8; 3] = c
        .plmn_id
        .as_slice()
        .try_into()
        .map_err(|_| KpmError::Invalid("PLMN identity"))?;
    if c.nr_cell_id > CellId::MAX_NCI {
        return Err(KpmError::Invalid("NR cell identity"));
    }
    Ok(CellId::new(plmn, c.nr_cell_id))
}

fn snssai_to_pb(s: &Snssai) -> pb::Snssai {
    pb::Snssai {
        sst: s.sst.into(),
        sd: s.sd,
    }
}

fn snssai_from_pb(s: &pb::Snssai) -> Result<Snssai, KpmError> {
    let sst = u8::try_from(s.sst).map_err(|_| KpmError::Invalid("SST"))?;
    if s.sd.is_some_and(|sd| sd > Snssai::MAX_SD) {
        return Err(KpmError::Invalid("SD"));
    }
    Ok(Snssai::new(sst, s.sd))
}

/// Encodes the RAN function definition an E2 node announces for KPM.
pub fn encode_ran_function(cells: &[CellInfo]) -> Vec<u8> {
    let names: Vec<String> = Meas::ALL.iter().map(|m| m.name().to_owned()).collect();
    pb::RanFunctionDefinition {
        ran_function_name: Some(pb::RanFunctionName {
            short_name: crate::KPM_SM_NAME.into(),
            oid: crate::KPM_OID.into(),
            description: "KPM Monitor".into(),
            instance: 1,
        }),
        report_styles: vec![pb::ReportStyle {
            ric_style_type: REPORT_STYLE_NODE_MEASUREMENT,
            ric_style_name: "E2 Node Measurement".into(),
            action_format_type: 1,
            indication_header_format_type: 1,
            indication_message_format_type: 1,
        }],
        cells: cells
            .iter()
            .map(|c| pb::CellMeasurementObject {
                cell_global_id: Some(cell_to_pb(&c.cell)),
                measurement_names: names.clone(),
                slices: c.slices.iter().map(snssai_to_pb).collect(),
                prb_total_dl: c.prb_total_dl,
            })
            .collect(),
    }
    .encode_to_vec()
}

/// Decodes the cells announced in a KPM RAN function definition.
pub fn decode_ran_function(bytes: &[u8]) -> Result<Vec<CellInfo>, KpmError> {
    let def: pb::RanFunctionDefinition = decode(bytes, "RAN function definition")?;
    def.cells
        .iter()
        .map(|c| {
            if c.slices.len() > MAX_SLICES {
                return Err(KpmError::TooMany {
                    what: "slices",
                    count: c.slices.len(),
                    limit: MAX_SLICES,
                });
            }
            Ok(CellInfo {
                cell: cell_from_pb(c.cell_global_id.as_ref())?,
                slices: c
                    .slices
                    .iter()
                    .map(snssai_from_pb)
                    .collect::<Result<_, _>>()?,
                prb_total_dl: c.prb_total_dl,
            })
        })
        .collect()
}

/// Event trigger format 1: periodic report every `period_ms`.
pub fn encode_event_trigger(period_ms: u32) -> Vec<u8> {
    pb::EventTriggerDefinition {
        reporting_period_ms: period_ms,
    }
    .encode_to_vec()
}

pub fn decode_event_trigger(bytes: &[u8]) -> Result<u32, KpmError> {
    let t: pb::EventTriggerDefinition = decode(bytes, "event trigger definition")?;
    if t.reporting_period_ms == 0 {
        return Err(KpmError::Missing("reporting period"));
    }
    Ok(t.reporting_period_ms)
}

fn no_label() -> pb::LabelInfo {
    pb::LabelInfo {
        label: Some(pb::label_info::Label::NoLabel(true)),
    }
}

fn slice_label(s: &Snssai) -> pb::LabelInfo {
    pb::LabelInfo {
        label: Some(pb::label_info::Label::Slice(snssai_to_pb(s))),
    }
}

/// The measurement-info list of a cell: cell-level measurements without label, then the
/// per-slice ones labelled with each S-NSSAI.
fn measurement_info(slices: &[Snssai]) -> Vec<pb::MeasurementInfo> {
    layout(slices)
        .into_iter()
        .map(|(m, s)| pb::MeasurementInfo {
            measurement_name: m.name().into(),
            labels: vec![s.as_ref().map_or_else(no_label, slice_label)],
        })
        .collect()
}

/// Action definition format 1 (style 1) asking for every known measurement of `cell`.
pub fn encode_action_definition(cell: &CellInfo, granularity_ms: u32) -> Vec<u8> {
    pb::ActionDefinition {
        ric_style_type: REPORT_STYLE_NODE_MEASUREMENT,
        format: Some(pb::action_definition::Format::Format1(
            pb::ActionDefinitionFormat1 {
                measurement_info: measurement_info(&cell.slices),
                granularity_period_ms: granularity_ms,
                cell_global_id: Some(cell_to_pb(&cell.cell)),
            },
        )),
    }
    .encode_to_vec()
}

/// The cell and granularity an action definition asks for.
pub fn decode_action_definition(bytes: &[u8]) -> Result<(CellId, u32), KpmError> {
    let a: pb::ActionDefinition = decode(bytes, "action definition")?;
    if a.ric_style_type != REPORT_STYLE_NODE_MEASUREMENT {
        return Err(KpmError::Invalid("report style"));
    }
    match a.format {
        Some(pb::action_definition::Format::Format1(f)) => Ok((
            cell_from_pb(f.cell_global_id.as_ref())?,
            f.granularity_period_ms,
        )),
        Some(pb::action_definition::Format::Format4(_)) | None => {
            Err(KpmError::Missing("action definition format 1"))
        }
    }
}

pub use indication::{decode_indication, encode_indication};
pub use nf_core::e2sm::{Layout, Layouts, Slot};

#[cfg(test)]
mod tests {
    use super::*;
    use nf_core::{KpmReport, MeasVec};

    fn sample() -> KpmReport {
        let mut cell_meas = MeasVec::default();
        cell_meas.set(Meas::PrbAvailDl, 50.0);
        cell_meas.set(Meas::PrbTotDl, 12.5);
        let mut a = MeasVec::default();
        for (i, m) in Meas::PER_SLICE.iter().enumerate() {
            a.set(*m, i as f32 + 0.5);
        }
        a.set(Meas::ConnMean, 3.0);
        KpmReport {
            cell: CellId::new([0x00, 0xf1, 0x10], 42),
            collection_start_ms: 1_690_937_957_250,
            granularity_ms: 250,
            cell_meas,
            slices: vec![(Snssai::new(1, Some(1)), a), (Snssai::new(2, None), a)],
        }
    }

    #[test]
    fn indication_round_trip() {
        let r = sample();
        let (h, m) = encode_indication(&r, true);
        let (back, notes) = decode_indication(&h, &m, &Limits::default(), None).unwrap();
        assert_eq!(notes, DecodeNotes::default());
        assert_eq!(back, r);
    }

    #[test]
    fn nan_unknown_and_oversize_are_handled() {
        let mut r = sample();
        r.slices[0].1.set(Meas::PrbUsedDl, f32::INFINITY);
        r.slices[0].1.set(Meas::UeThpDl, f32::NEG_INFINITY);
        r.slices[0].1.set(Meas::DlCqiMean, f32::NAN);
        let (h, m) = encode_indication(&r, true);
        let (back, notes) = decode_indication(&h, &m, &Limits::default(), None).unwrap();
        assert_eq!(notes.non_finite_values, 2);
        assert_eq!(notes.no_values, 1);
        assert!(back.slices[0].1.get(Meas::PrbUsedDl).is_nan());
        // Unknown names are skipped and counted.
        let mut msg = pb::IndicationMessage::decode(m.as_slice()).unwrap();
        if let Some(pb::indication_message::Format::Format1(f)) = &mut msg.format {
            f.measurement_info[0].measurement_name = "RRU.Unheard".into();
        }
        let (_, notes) =
            decode_indication(&h, &msg.encode_to_vec(), &Limits::default(), None).unwrap();
        assert_eq!(notes.unknown_measurements, 1);
        let huge = vec![0u8; 100_000];
        assert!(matches!(
            decode_indication(&h, &huge, &Limits::default(), None),
            Err(KpmError::Oversize { .. })
        ));
        let err = decode_indication(&h, &[0xff, 0xff, 0xff], &Limits::default(), None).unwrap_err();
        assert_eq!(err.kind(), "malformed");
    }

    #[test]
    fn indication_without_info_uses_the_subscribed_layout() {
        let r = sample();
        let (h, m) = encode_indication(&r, false);
        let (h2, m2) = encode_indication(&r, true);
        assert!(m.len() < m2.len() / 2, "{} vs {} bytes", m.len(), m2.len());
        assert_eq!(h, h2);
        let err = decode_indication(&h, &m, &Limits::default(), None).unwrap_err();
        assert_eq!(err.kind(), "missing_field");
        let slices: Vec<Snssai> = r.slices.iter().map(|(s, _)| *s).collect();
        let layouts: Layouts = [(r.cell, layout(&slices))].into_iter().collect();
        let (back, _) = decode_indication(&h, &m, &Limits::default(), Some(&layouts)).unwrap();
        assert_eq!(back, r);
        // A layout of another shape is a record-count error, not a misread.
        let wrong: Layouts = [(r.cell, layout(&slices[..1]))].into_iter().collect();
        let err = decode_indication(&h, &m, &Limits::default(), Some(&wrong)).unwrap_err();
        assert_eq!(err.kind(), "record_count");
    }

    #[test]
    fn subscription_parts_round_trip() {
        let info = CellInfo {
            cell: sample().cell,
            slices: vec![Snssai::new(1, None)],
            prb_total_dl: 50,
        };
        assert_eq!(
            decode_ran_function(&encode_ran_function(std::slice::from_ref(&info))).unwrap(),
            vec![info.clone()]
        );
        assert_eq!(
            decode_event_trigger(&encode_event_trigger(100)).unwrap(),
            100
        );
        assert_eq!(
            decode_action_definition(&encode_action_definition(&info, 100)).unwrap(),
            (info.cell, 100)
        );
    }
}
