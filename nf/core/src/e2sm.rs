//! E2SM-KPM domain types shared by every KPM codec (the protobuf one in `e2-proto` and the
//! aligned-PER one in `e2-asn1`): the cells a node announces, the limits applied before a
//! payload is trusted, the soft problems counted while decoding, and the record layout of a
//! report subscription.

use std::collections::HashMap;

use crate::ids::{CellId, Snssai};
use crate::kpm::Meas;

/// Report style 1: E2 node measurement (E2SM-KPM 7.4.1).
pub const REPORT_STYLE_NODE_MEASUREMENT: i32 = 1;
/// Most slices accepted in one report.
pub const MAX_SLICES: usize = 16;

/// A cell as announced in the KPM RAN function definition (or, for nodes whose definition
/// does not carry cells, as configured).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CellInfo {
    pub cell: CellId,
    pub slices: Vec<Snssai>,
    pub prb_total_dl: u32,
}

/// Limits applied before a payload is decoded.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest indication payload accepted [bytes].
    pub max_payload_bytes: usize,
    /// Most measurement-info entries accepted in one indication.
    pub max_measurements: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_payload_bytes: 64 * 1024,
            max_measurements: 512,
        }
    }
}

/// Soft problems found in an accepted indication.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecodeNotes {
    /// Measurements with names the xApp does not know (skipped).
    pub unknown_measurements: u32,
    /// NaN or infinite values (treated as missing).
    pub non_finite_values: u32,
    /// Records explicitly carrying no value.
    pub no_values: u32,
}

/// One record's meaning: the measurement and, for per-slice ones, the slice.
pub type Slot = (Meas, Option<Snssai>);

/// What each record of an indication means: the measurement and, for per-slice ones, the
/// slice. The order is the one of the action definition (cell-level measurements, then the
/// per-slice ones for each slice in turn).
pub type Layout = Vec<Slot>;

/// Record layouts of subscribed cells, for indications that omit the measurement info.
pub type Layouts = HashMap<CellId, Layout>;

/// The record layout of a cell with `slices`.
pub fn layout(slices: &[Snssai]) -> Layout {
    let mut out: Layout = Meas::PER_CELL.iter().map(|m| (*m, None)).collect();
    for s in slices {
        out.extend(Meas::PER_SLICE.iter().map(|m| (*m, Some(*s))));
    }
    out
}

// ---------------------------------------------------------------------------------------
// UE-level (report style 4) and cell radio (report style 1) telemetry: what every codec
// (PROTO in `e2-proto`, APER in `e2-asn1`) shares, so both read the same names the same way.

/// Report style 4: common condition-based, UE-level measurement (E2SM-KPM 7.4.4), read with
/// action definition format 4 and indication message format 3.
pub const REPORT_STYLE_UE_CONDITION: i32 = 4;
/// Most UE entries accepted in one UE-level indication (a cell serving more UEs reports in
/// several indications; a list longer than this is refused as a whole, `too_many`).
pub const MAX_UES_PER_REPORT: usize = 1024;

/// One measurement value as a KPM record carries it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RadioValue {
    /// `integer` (counts, CQI, cell identities).
    Int(u64),
    /// `real` (dBm, dB, kbit/s).
    Real(f64),
    /// `noValue` / `notSatisfied`.
    NoValue,
}

impl RadioValue {
    /// The value as a float (`None` for no value).
    pub fn as_f64(self) -> Option<f64> {
        match self {
            RadioValue::Int(i) => Some(i as f64),
            RadioValue::Real(r) => Some(r),
            RadioValue::NoValue => None,
        }
    }

    fn of_f32(v: Option<f32>) -> RadioValue {
        v.map_or(RadioValue::NoValue, |v| RadioValue::Real(f64::from(v)))
    }

    /// Integer when the value is whole and non-negative (as real nodes send counts), else
    /// real; `None` is no value.
    fn whole_or_real(v: Option<f32>) -> RadioValue {
        match v {
            Some(x) if x.is_finite() && x >= 0.0 && x.fract() == 0.0 => RadioValue::Int(x as u64),
            other => RadioValue::of_f32(other),
        }
    }
}

/// Bounded labels of a dropped UE entry ([`UeDrop::reason`]).
pub mod ue_drop {
    /// NaN, infinite or impossible value (see `UeRadio::check`), or a neighbour cell
    /// identity that is not a 36-bit integer.
    pub const IMPOSSIBLE_VALUE: &str = "ue_impossible_value";
    /// A UE ID this xApp cannot act on: not the gNB choice, or an AMF UE NGAP ID over 40 bits.
    pub const UNSUPPORTED_UE_ID: &str = "ue_unsupported_id";
    /// The same UE twice in one report (the first entry is kept).
    pub const DUPLICATE_UE: &str = "ue_duplicate";
    /// The same measurement twice for one UE.
    pub const DUPLICATE_MEASUREMENT: &str = "ue_duplicate_measurement";
    /// Records and measurement names of the UE's report disagree.
    pub const RECORD_COUNT: &str = "ue_record_count";
    /// Every label, to pre-create counters at zero.
    pub const ALL: [&str; 5] = [
        IMPOSSIBLE_VALUE,
        UNSUPPORTED_UE_ID,
        DUPLICATE_UE,
        DUPLICATE_MEASUREMENT,
        RECORD_COUNT,
    ];
}

/// One UE entry dropped from a UE-level report, the rest of the report kept.
#[derive(Clone, Debug, PartialEq)]
pub struct UeDrop {
    /// The UE, when its ID could be read.
    pub ue: Option<crate::radio::UeId>,
    /// Bounded label (one of [`ue_drop::ALL`]).
    pub reason: &'static str,
    /// What was wrong, naming the measurement or the ID.
    pub detail: String,
}

/// Soft problems of an accepted UE-level report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UeDecodeNotes {
    /// Unknown names, `noValue` records, over all UE entries.
    pub values: DecodeNotes,
    /// UE entries dropped (at most [`MAX_UES_PER_REPORT`]).
    pub dropped: Vec<UeDrop>,
}

/// The record of each UE-level name, in [`crate::radio::ue_meas::ALL`] order. CQI, PRB
/// counts and the neighbour's cell identity are `integer` when whole (as srsRAN and OAI
/// send counts and indices), levels and throughput `real`; a missing value is `noValue`.
pub fn ue_records(u: &crate::radio::UeRadio) -> [(&'static str, RadioValue); 9] {
    use crate::radio::ue_meas::*;
    let n = u.neighbour.as_ref();
    [
        (SS_RSRP, RadioValue::of_f32(u.rsrp_dbm)),
        (SS_RSRQ, RadioValue::of_f32(u.rsrq_db)),
        (SS_SINR, RadioValue::of_f32(u.sinr_db)),
        (WB_CQI, RadioValue::whole_or_real(u.cqi)),
        (UE_THP_DL, RadioValue::of_f32(u.thp_dl_kbps)),
        (PRB_USED_DL, RadioValue::whole_or_real(u.prb_used_dl)),
        (
            NBR_NCI,
            n.map_or(RadioValue::NoValue, |n| RadioValue::Int(n.cell.nci)),
        ),
        (NBR_SS_RSRP, RadioValue::of_f32(n.map(|n| n.rsrp_dbm))),
        (NBR_SS_RSRQ, RadioValue::of_f32(n.and_then(|n| n.rsrq_db))),
    ]
}

/// Builds one UE's measurements from its named records. `plmn` is the serving cell's: the
/// neighbour is taken to be of the same PLMN (`VS.Nbr1.NCI` carries no PLMN), and a
/// neighbour reported without `VS.Nbr1.NCI` gets NCI 0 ("unnamed strongest neighbour").
/// A neighbour needs `VS.Nbr1.SS-RSRP`. Unknown names (`None` for a measurement given by
/// ID) and `noValue` records are counted in `notes`; an impossible value (checked with
/// `UeRadio::check`) or a repeated name drops the UE, with the reason.
pub fn assemble_ue(
    ue: crate::radio::UeId,
    plmn: [u8; 3],
    values: &[(Option<&str>, RadioValue)],
    notes: &mut DecodeNotes,
) -> Result<crate::radio::UeRadio, UeDrop> {
    use crate::radio::{Neighbour, UeRadio, ue_meas::*};
    let drop = |reason, detail: String| UeDrop {
        ue: Some(ue),
        reason,
        detail,
    };
    let mut u = UeRadio::empty(ue);
    let mut seen = [false; 9];
    let (mut nci, mut nbr_rsrp, mut nbr_rsrq) = (None, None, None);
    for (name, value) in values {
        let Some(i) = name.and_then(|n| ALL.iter().position(|a| *a == n)) else {
            notes.unknown_measurements += 1;
            continue;
        };
        if std::mem::replace(&mut seen[i], true) {
            return Err(drop(
                ue_drop::DUPLICATE_MEASUREMENT,
                format!("{ue}: {} reported twice", ALL[i]),
            ));
        }
        let Some(v) = value.as_f64() else {
            notes.no_values += 1;
            continue;
        };
        let f = Some(v as f32);
        match ALL[i] {
            SS_RSRP => u.rsrp_dbm = f,
            SS_RSRQ => u.rsrq_db = f,
            SS_SINR => u.sinr_db = f,
            WB_CQI => u.cqi = f,
            UE_THP_DL => u.thp_dl_kbps = f,
            PRB_USED_DL => u.prb_used_dl = f,
            NBR_NCI => {
                if !(v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= CellId::MAX_NCI as f64) {
                    return Err(drop(
                        ue_drop::IMPOSSIBLE_VALUE,
                        format!("{ue}: {NBR_NCI} = {v} is not a 36-bit cell identity"),
                    ));
                }
                nci = Some(v as u64);
            }
            NBR_SS_RSRP => nbr_rsrp = f,
            _ => nbr_rsrq = f,
        }
    }
    u.neighbour = nbr_rsrp.map(|rsrp_dbm| Neighbour {
        cell: CellId::new(plmn, nci.unwrap_or(0)),
        rsrp_dbm,
        rsrq_db: nbr_rsrq,
    });
    u.check()
        .map_err(|e| drop(ue_drop::IMPOSSIBLE_VALUE, e.to_string()))?;
    Ok(u)
}

/// Keeps the first entry of each UE: a later one is a [`ue_drop::DUPLICATE_UE`] drop.
pub fn push_ue(
    ues: &mut Vec<crate::radio::UeRadio>,
    notes: &mut UeDecodeNotes,
    u: crate::radio::UeRadio,
) {
    if ues.iter().any(|x| x.ue == u.ue) {
        notes.dropped.push(UeDrop {
            ue: Some(u.ue),
            reason: ue_drop::DUPLICATE_UE,
            detail: format!("{} reported twice in one indication", u.ue),
        });
    } else {
        ues.push(u);
    }
}

/// The measurement names of the cell radio report, in the order its action definition asks
/// for them: `RRU.PrbUsedDl`, `RRU.PrbAvailDl`, `CARR.WBCQIDist.Bin0..15`,
/// `L1M.SS-RSRP.Bin0..15`.
pub fn cell_radio_names() -> Vec<String> {
    use crate::radio::{CQI_BINS, RSRP_BINS, cell_meas::*};
    let mut out = vec![PRB_USED_DL.to_owned(), PRB_AVAIL_DL.to_owned()];
    out.extend((0..CQI_BINS).map(|x| format!("{WB_CQI_BIN_PREFIX}{x}")));
    out.extend((0..RSRP_BINS).map(|x| format!("{SS_RSRP_BIN_PREFIX}{x}")));
    out
}

/// The records of a cell radio report, in [`cell_radio_names`] order (bins and whole PRB
/// counts as `integer`).
pub fn cell_radio_records(c: &crate::radio::CellRadio) -> Vec<RadioValue> {
    let mut out = vec![
        RadioValue::whole_or_real(c.prb_used_dl),
        RadioValue::whole_or_real(c.prb_avail_dl),
    ];
    out.extend(c.cqi_bins.iter().map(|b| RadioValue::Int(u64::from(*b))));
    out.extend(c.rsrp_bins.iter().map(|b| RadioValue::Int(u64::from(*b))));
    out
}

/// A cell radio report refused: a value no cell can have.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{measurement} = {value} {problem}")]
pub struct CellRadioError {
    pub measurement: String,
    pub value: f64,
    pub problem: &'static str,
}

/// Builds a cell radio report from named records. Unknown names and `noValue` records are
/// counted in `notes` (a missing bin counts 0 reports); a PRB count outside
/// `0..=MAX_PRBS`, NaN, or a bin count that is not a whole number of reports refuses the
/// report, naming the measurement; a name given twice refuses it too.
pub fn assemble_cell_radio(
    cell: CellId,
    collection_start_ms: u64,
    granularity_ms: u32,
    values: &[(Option<&str>, RadioValue)],
    notes: &mut DecodeNotes,
) -> Result<crate::radio::CellRadio, CellRadioError> {
    use crate::radio::{CQI_BINS, CellRadio, RSRP_BINS, cell_meas::*};
    let mut c = CellRadio {
        cell,
        collection_start_ms,
        granularity_ms,
        prb_used_dl: None,
        prb_avail_dl: None,
        cqi_bins: [0; CQI_BINS],
        rsrp_bins: [0; RSRP_BINS],
    };
    let mut seen = std::collections::HashSet::new();
    for (name, value) in values {
        let Some(name) = *name else {
            notes.unknown_measurements += 1;
            continue;
        };
        let bad = |value: f64, problem| CellRadioError {
            measurement: name.to_owned(),
            value,
            problem,
        };
        let bin = |prefix: &str, n: usize| {
            name.strip_prefix(prefix)
                .and_then(|x| x.parse::<usize>().ok())
                .filter(|x| *x < n)
        };
        enum Slot {
            Used,
            Avail,
            Cqi(usize),
            Rsrp(usize),
        }
        let slot = if name == PRB_USED_DL {
            Slot::Used
        } else if name == PRB_AVAIL_DL {
            Slot::Avail
        } else if let Some(x) = bin(WB_CQI_BIN_PREFIX, CQI_BINS) {
            Slot::Cqi(x)
        } else if let Some(x) = bin(SS_RSRP_BIN_PREFIX, RSRP_BINS) {
            Slot::Rsrp(x)
        } else {
            notes.unknown_measurements += 1;
            continue;
        };
        if !seen.insert(name) {
            return Err(bad(f64::NAN, "is reported twice"));
        }
        let Some(v) = value.as_f64() else {
            notes.no_values += 1;
            continue;
        };
        match slot {
            Slot::Used | Slot::Avail => {
                if !(v.is_finite() && (0.0..=f64::from(crate::kpm::MAX_PRBS)).contains(&v)) {
                    return Err(bad(v, "is not a PRB count (0..=275)"));
                }
                if matches!(slot, Slot::Used) {
                    c.prb_used_dl = Some(v as f32);
                } else {
                    c.prb_avail_dl = Some(v as f32);
                }
            }
            Slot::Cqi(x) | Slot::Rsrp(x) => {
                if !(v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= f64::from(u32::MAX)) {
                    return Err(bad(v, "is not a whole number of reports"));
                }
                if let Slot::Cqi(_) = slot {
                    c.cqi_bins[x] = v as u32;
                } else {
                    c.rsrp_bins[x] = v as u32;
                }
            }
        }
    }
    Ok(c)
}
