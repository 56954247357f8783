//! E2SM-KPM over aligned PER, for the three versions real nodes speak: v02.03, v03.00 and
//! v04.00. The functions mirror `e2_proto::kpm` (RAN function definition, event trigger
//! format 1, action definition format 1 / report style 1, indication header format 1 and
//! message format 1), each with a [`KpmVersion`] argument, so the runtime can swap codecs.
//!
//! Decoding is defensive, with the same semantics as the protobuf codec: limits are checked
//! before anything is trusted, measurements the xApp does not know are skipped and counted,
//! non-finite values and `noValue` / `notSatisfied` records become missing values and are
//! counted. An indication header whose `TimeStamp` has the other version's size is the
//! named error [`KpmAperError::VersionSkew`] (`kpm_version_skew`), never a misread.
//!
//! # How a node's version is decided ([`decide_version`])
//! The three versions share the RAN function OID string and, for the RAN function
//! description, the very same ASN.1 (the generated v02.03 and v03.00 modules differ only in
//! `TimeStamp`; v04.00 adds extension additions outside the description). So the decision
//! is: a configured version wins; else the version arc of the announced E2SM OID when it
//! names one (`1.3.6.1.4.1.53148.1.3.2.2` = the v03.00/v04.00 module); else v02.03, marked
//! [`VersionSource::Default`]: the first indication header then shows which `TimeStamp` size
//! the node really uses ([`header_timestamp_version`]), and a skew is reported, not guessed.

pub(crate) mod prescan;
pub mod radio;
mod versioned;

pub use prescan::{
    DECODED_BYTES_PER_OCTET, MAX_DECODED_BYTES, MIN_DECODED_BYTES, decoded_bytes_limit,
};

/// The allocation pre-checks of each version, for the raw decoders of `crate::decode`.
pub(crate) mod scans {
    pub(crate) use super::versioned::v2::{
        scan_action_definition as v2_action_definition,
        scan_indication_message as v2_indication_message,
    };
    pub(crate) use super::versioned::v3::{
        scan_action_definition as v3_action_definition,
        scan_indication_message as v3_indication_message,
    };
    pub(crate) use super::versioned::v4::{
        scan_action_definition as v4_action_definition,
        scan_indication_message as v4_indication_message,
    };
}

use nf_core::e2sm::{
    CellInfo, DecodeNotes, Layouts, Limits, MAX_SLICES, REPORT_STYLE_NODE_MEASUREMENT, Slot,
};
use nf_core::{CellId, KpmReport, Meas, MeasVec};

/// RAN function short name of E2SM-KPM.
pub const KPM_SHORT_NAME: &str = "ORAN-E2SM-KPM";
/// E2SM-KPM OID as real nodes announce it for v02.03 and later (the version-2 arc).
pub const KPM_OID: &str = "1.3.6.1.4.1.53148.1.2.2.2";
/// E2SM-KPM OID with the version-3 arc (module identifier of v03.00 and v04.00).
pub const KPM_OID_V3: &str = "1.3.6.1.4.1.53148.1.3.2.2";
/// Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01).
pub const NTP_UNIX_OFFSET_S: u64 = 2_208_988_800;

/// An E2SM-KPM version with its own APER module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KpmVersion {
    /// O-RAN.WG3.E2SM-KPM-v02.03: `TimeStamp` of 4 octets (NTP seconds).
    V2_03,
    /// O-RAN.WG3.E2SM-KPM-v03.00: `TimeStamp` of 8 octets (NTP seconds + fraction).
    V3_00,
    /// O-RAN.WG3.E2SM-KPM-v04.00: as v03.00, plus `notSatisfied` records and extensions.
    V4_00,
}

impl KpmVersion {
    pub const ALL: [KpmVersion; 3] = [KpmVersion::V2_03, KpmVersion::V3_00, KpmVersion::V4_00];

    /// Octets of the indication header `TimeStamp`.
    pub fn timestamp_octets(self) -> usize {
        match self {
            KpmVersion::V2_03 => versioned::v2::TIMESTAMP_OCTETS,
            KpmVersion::V3_00 => versioned::v3::TIMESTAMP_OCTETS,
            KpmVersion::V4_00 => versioned::v4::TIMESTAMP_OCTETS,
        }
    }

    /// Bounded label (`v2.03`, `v3.00`, `v4.00`).
    pub fn label(self) -> &'static str {
        match self {
            KpmVersion::V2_03 => "v2.03",
            KpmVersion::V3_00 => "v3.00",
            KpmVersion::V4_00 => "v4.00",
        }
    }

    /// Parses `v2`, `v2.03`, `v3`, `v3.00`, `v4`, `v4.00` (config values).
    pub fn parse(s: &str) -> Option<KpmVersion> {
        match s.trim().trim_start_matches(['v', 'V']) {
            "2" | "2.03" | "02.03" => Some(KpmVersion::V2_03),
            "3" | "3.00" | "03.00" => Some(KpmVersion::V3_00),
            "4" | "4.00" | "04.00" => Some(KpmVersion::V4_00),
            _ => None,
        }
    }
}

impl std::fmt::Display for KpmVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// Why an APER KPM payload was rejected.
#[derive(Debug, thiserror::Error)]
pub enum KpmAperError {
    /// Bigger than [`Limits::max_payload_bytes`].
    #[error("payload of {len} bytes exceeds the limit of {limit} bytes")]
    Oversize { len: usize, limit: usize },
    /// Not a valid APER encoding of the expected type.
    #[error("undecodable {what}: {reason}")]
    Malformed { what: &'static str, reason: String },
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
    /// An identifier or value out of its range.
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// The indication header has the `TimeStamp` of another version than the node's.
    #[error(
        "indication header has a {observed_octets}-octet TimeStamp but the node is E2SM-KPM {announced} ({} octets)",
        announced.timestamp_octets()
    )]
    VersionSkew {
        announced: KpmVersion,
        observed_octets: usize,
    },
    /// A value no node can report (e.g. a PRB count over 275), naming the measurement.
    #[error("impossible value: {detail}")]
    Value { measurement: String, detail: String },
}

impl KpmAperError {
    /// Bounded label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            KpmAperError::Oversize { .. } => "oversize",
            KpmAperError::Malformed { .. } => "malformed",
            KpmAperError::Missing(_) => "missing_field",
            KpmAperError::RecordCount { .. } => "record_count",
            KpmAperError::TooMany { .. } => "too_many",
            KpmAperError::Invalid(_) => "invalid_id",
            KpmAperError::VersionSkew { .. } => "kpm_version_skew",
            KpmAperError::Value { .. } => "impossible_value",
        }
    }

    /// Every [`Self::kind`], to pre-create counters at zero.
    pub const KINDS: [&'static str; 8] = [
        "oversize",
        "malformed",
        "missing_field",
        "record_count",
        "too_many",
        "invalid_id",
        "kpm_version_skew",
        "impossible_value",
    ];
}

fn aper_encode<T: rasn::Encode>(v: &T) -> Vec<u8> {
    // Every value built here satisfies its constraints: names come from `Meas`, strings go
    // through `printable`, lists are never empty (a report has its cell-level records),
    // periods of 0 ms (below the ASN.1 range 1..2^32-1) are written as 1 ms.
    rasn::aper::encode(v).unwrap_or_default()
}

/// Decodes under `catch_unwind`, like `crate::decode`: a rasn panic on hostile input is
/// counted (`crate::decode::caught_panics`) and becomes `malformed`, never a crash.
fn aper_decode<T: rasn::Decode>(bytes: &[u8], what: &'static str) -> Result<T, KpmAperError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rasn::aper::decode::<T>(bytes)
    })) {
        Ok(r) => r.map_err(|e| KpmAperError::Malformed {
            what,
            reason: e.to_string(),
        }),
        Err(_) => {
            crate::decode::count_caught_panic();
            Err(KpmAperError::Malformed {
                what,
                reason: "the decoder panicked on this input (caught)".into(),
            })
        }
    }
}

/// [`printable`] for the other codecs of this crate.
pub(crate) fn printable_pub(s: &str) -> rasn::types::PrintableString {
    printable(s)
}

/// A PrintableString holding `s` with characters outside its alphabet replaced by `?` and
/// cut to 150 characters (the smallest bound of the strings used here).
fn printable(s: &str) -> rasn::types::PrintableString {
    let clean: Vec<u8> = s
        .bytes()
        .take(150)
        .map(|b| {
            if b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b) {
                b
            } else {
                b'?'
            }
        })
        .collect();
    rasn::types::PrintableString::from_bytes(&clean).unwrap_or_default()
}

/// The `RANfunction-Name` of a KPM RAN function description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeName {
    pub short_name: String,
    pub oid: String,
    pub description: String,
    pub instance: Option<i32>,
}

/// A report style a node offers (`RIC-ReportStyle-Item`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportStyle {
    pub style: i32,
    pub name: String,
    pub action_format: i32,
    pub header_format: i32,
    pub message_format: i32,
    /// `measInfo-Action-List` names: the measurements the node can report in this style.
    pub measurements: Vec<String>,
}

/// A decoded `E2SM-KPM-RANfunction-Description`. The standard description carries no
/// cells, slices nor PRB counts (see the module docs and `docs/e2-api.md`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RanFunction {
    pub name: NodeName,
    pub report_styles: Vec<ReportStyle>,
}

impl RanFunction {
    /// The measurement names offered by report style 1, if the node offers it.
    pub fn style1_measurements(&self) -> Option<&[String]> {
        self.report_styles
            .iter()
            .find(|s| s.style == REPORT_STYLE_NODE_MEASUREMENT)
            .map(|s| s.measurements.as_slice())
    }
}

/// What an action definition format 1 asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionInfo {
    pub style: i32,
    pub cell: CellId,
    pub granularity_ms: u32,
    /// One entry per measurement-info item (`None`: unknown name or a measurement ID).
    pub slots: Vec<Option<Slot>>,
}

/// One measurement record.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Record {
    Integer(u32),
    Real(f64),
    NoValue,
    /// v04.00: the record's matching condition was not met.
    NotSatisfied,
}

/// An indication message format 1, reduced to what the report needs.
#[derive(Debug)]
struct Message {
    infos: Option<Vec<Option<Slot>>>,
    records: Vec<Record>,
    granularity_ms: Option<u32>,
}

/// Where a report's cell and default granularity come from: E2SM-KPM indication message
/// format 1 carries neither a cell ID nor (necessarily) a granularity, they are those of the
/// subscription's action definition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndicationScope {
    pub cell: CellId,
    pub granularity_ms: u32,
}

/// How a node's version was decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionSource {
    /// Configured for the node.
    Configured,
    /// The version arc of the announced E2SM OID.
    Oid,
    /// Nothing said: v02.03 assumed until an indication header shows otherwise.
    Default,
}

/// A node's KPM version and how it was decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VersionDecision {
    pub version: KpmVersion,
    pub source: VersionSource,
}

/// Decides the version of a node from its RAN function definition (which must decode) and
/// the configured version, if any. See the module docs for the rule.
pub fn decide_version(
    definition: &[u8],
    configured: Option<KpmVersion>,
) -> Result<VersionDecision, KpmAperError> {
    let f = versioned::v4::decode_ran_function(definition)?;
    if let Some(version) = configured {
        return Ok(VersionDecision {
            version,
            source: VersionSource::Configured,
        });
    }
    let oid = f.name.oid.trim();
    let (version, source) = if oid == KPM_OID_V3 {
        (KpmVersion::V3_00, VersionSource::Oid)
    } else {
        (KpmVersion::V2_03, VersionSource::Default)
    };
    Ok(VersionDecision { version, source })
}

/// The `TimeStamp` family an indication header decodes under, exactly and only under one:
/// `V2_03` (4 octets) or `V3_00` (8 octets, also v04.00); `None` if neither or both.
pub fn header_timestamp_version(header: &[u8]) -> Option<KpmVersion> {
    match (
        versioned::v2::decode_header(header).is_ok(),
        versioned::v3::decode_header(header).is_ok(),
    ) {
        (true, false) => Some(KpmVersion::V2_03),
        (false, true) => Some(KpmVersion::V3_00),
        _ => None,
    }
}

/// The RAN function description this project's simulator announces: report style 1 with
/// every measurement of [`Meas::ALL`], event trigger style 1, the version-2 OID like real
/// nodes. `cells` are not carried: the standard description has no place for them.
pub fn encode_ran_function(_cells: &[CellInfo], version: KpmVersion) -> Vec<u8> {
    let f = RanFunction {
        name: NodeName {
            short_name: KPM_SHORT_NAME.into(),
            oid: KPM_OID.into(),
            description: "KPM Monitor".into(),
            instance: Some(1),
        },
        report_styles: vec![ReportStyle {
            style: REPORT_STYLE_NODE_MEASUREMENT,
            name: "E2 Node Measurement".into(),
            action_format: 1,
            header_format: 1,
            message_format: 1,
            measurements: Meas::ALL.iter().map(|m| m.name().to_owned()).collect(),
        }],
    };
    encode_ran_function_description(&f, version)
}

/// Encodes any RAN function description.
pub fn encode_ran_function_description(f: &RanFunction, version: KpmVersion) -> Vec<u8> {
    match version {
        KpmVersion::V2_03 => versioned::v2::encode_ran_function(f),
        KpmVersion::V3_00 => versioned::v3::encode_ran_function(f),
        KpmVersion::V4_00 => versioned::v4::encode_ran_function(f),
    }
}

/// Decodes a KPM RAN function description.
pub fn decode_ran_function(bytes: &[u8], version: KpmVersion) -> Result<RanFunction, KpmAperError> {
    match version {
        KpmVersion::V2_03 => versioned::v2::decode_ran_function(bytes),
        KpmVersion::V3_00 => versioned::v3::decode_ran_function(bytes),
        KpmVersion::V4_00 => versioned::v4::decode_ran_function(bytes),
    }
}

/// Event trigger format 1: periodic report every `period_ms` (0 is outside the ASN.1 range
/// and is written as 1).
pub fn encode_event_trigger(period_ms: u32, version: KpmVersion) -> Vec<u8> {
    match version {
        KpmVersion::V2_03 => versioned::v2::encode_event_trigger(period_ms),
        KpmVersion::V3_00 => versioned::v3::encode_event_trigger(period_ms),
        KpmVersion::V4_00 => versioned::v4::encode_event_trigger(period_ms),
    }
}

/// The reporting period of an event trigger format 1 [ms].
pub fn decode_event_trigger(bytes: &[u8], version: KpmVersion) -> Result<u32, KpmAperError> {
    match version {
        KpmVersion::V2_03 => versioned::v2::decode_event_trigger(bytes),
        KpmVersion::V3_00 => versioned::v3::decode_event_trigger(bytes),
        KpmVersion::V4_00 => versioned::v4::decode_event_trigger(bytes),
    }
}

/// Action definition format 1 (report style 1) asking for every known measurement of `cell`:
/// the cell-level ones without label, the per-slice ones with a `sliceID` label per slice.
pub fn encode_action_definition(
    cell: &CellInfo,
    granularity_ms: u32,
    version: KpmVersion,
) -> Vec<u8> {
    let slots = nf_core::e2sm::layout(&cell.slices);
    let style = REPORT_STYLE_NODE_MEASUREMENT;
    match version {
        KpmVersion::V2_03 => {
            versioned::v2::encode_action_definition(style, &cell.cell, &slots, granularity_ms)
        }
        KpmVersion::V3_00 => {
            versioned::v3::encode_action_definition(style, &cell.cell, &slots, granularity_ms)
        }
        KpmVersion::V4_00 => {
            versioned::v4::encode_action_definition(style, &cell.cell, &slots, granularity_ms)
        }
    }
}

/// Everything an action definition format 1 asks for.
pub fn decode_action_info(bytes: &[u8], version: KpmVersion) -> Result<ActionInfo, KpmAperError> {
    let a = match version {
        KpmVersion::V2_03 => versioned::v2::decode_action_definition(bytes),
        KpmVersion::V3_00 => versioned::v3::decode_action_definition(bytes),
        KpmVersion::V4_00 => versioned::v4::decode_action_definition(bytes),
    }?;
    if a.style != REPORT_STYLE_NODE_MEASUREMENT {
        return Err(KpmAperError::Invalid("report style"));
    }
    Ok(a)
}

/// The cell and granularity an action definition asks for.
pub fn decode_action_definition(
    bytes: &[u8],
    version: KpmVersion,
) -> Result<(CellId, u32), KpmAperError> {
    decode_action_info(bytes, version).map(|a| (a.cell, a.granularity_ms))
}

/// Unix milliseconds as the `TimeStamp` of `version`: v02.03 carries whole NTP seconds
/// (the milliseconds are cut), v03.00+ NTP seconds and a 32-bit fraction.
pub fn timestamp_octets(unix_ms: u64, version: KpmVersion) -> Vec<u8> {
    // NTP era 0 ends in 2036; the seconds field wraps modulo 2^32 (RFC 5905 era rule).
    let secs = ((unix_ms / 1000 + NTP_UNIX_OFFSET_S) & 0xffff_ffff) as u32;
    if version.timestamp_octets() == 4 {
        return secs.to_be_bytes().to_vec();
    }
    let frac = (((unix_ms % 1000) << 32) + 500) / 1000;
    let mut out = secs.to_be_bytes().to_vec();
    out.extend_from_slice(&(frac.min(u64::from(u32::MAX)) as u32).to_be_bytes());
    out
}

/// A `TimeStamp` (4 or 8 octets) as Unix milliseconds. Seconds with the top bit clear are
/// read as NTP era 1 (2036 onwards), per RFC 4330 section 3.
pub fn timestamp_unix_ms(ts: &[u8]) -> Result<u64, KpmAperError> {
    let (s, frac) = match ts.len() {
        4 => (&ts[..4], 0u64),
        8 => (
            &ts[..4],
            u64::from(u32::from_be_bytes([ts[4], ts[5], ts[6], ts[7]])),
        ),
        _ => return Err(KpmAperError::Invalid("TimeStamp size")),
    };
    let secs = u64::from(u32::from_be_bytes([s[0], s[1], s[2], s[3]]));
    let secs = if secs & 0x8000_0000 == 0 {
        secs + (1 << 32)
    } else {
        secs
    };
    let unix = secs - NTP_UNIX_OFFSET_S;
    Ok(unix * 1000 + ((frac * 1000 + (1 << 31)) >> 32))
}

/// Encodes an indication header format 1 carrying `collection_start_ms`.
pub fn encode_indication_header(collection_start_ms: u64, version: KpmVersion) -> Vec<u8> {
    let ts = timestamp_octets(collection_start_ms, version);
    match version {
        KpmVersion::V2_03 => versioned::v2::encode_header(ts.try_into().unwrap_or_default()),
        KpmVersion::V3_00 => versioned::v3::encode_header(ts.try_into().unwrap_or_default()),
        KpmVersion::V4_00 => versioned::v4::encode_header(ts.try_into().unwrap_or_default()),
    }
}

/// Decodes an indication header format 1 into the collection start (Unix ms). A header that
/// decodes only with the other `TimeStamp` size is [`KpmAperError::VersionSkew`].
pub fn decode_indication_header(header: &[u8], version: KpmVersion) -> Result<u64, KpmAperError> {
    let own = match version {
        KpmVersion::V2_03 => versioned::v2::decode_header(header).map(|t| t.to_vec()),
        KpmVersion::V3_00 => versioned::v3::decode_header(header).map(|t| t.to_vec()),
        KpmVersion::V4_00 => versioned::v4::decode_header(header).map(|t| t.to_vec()),
    };
    match own {
        Ok(ts) => timestamp_unix_ms(&ts),
        Err(e) => {
            let other_ok = if version == KpmVersion::V2_03 {
                versioned::v3::decode_header(header).is_ok()
            } else {
                versioned::v2::decode_header(header).is_ok()
            };
            if other_ok {
                Err(KpmAperError::VersionSkew {
                    announced: version,
                    observed_octets: if version == KpmVersion::V2_03 { 8 } else { 4 },
                })
            } else {
                Err(KpmAperError::Malformed {
                    what: "indication header",
                    reason: e.to_string(),
                })
            }
        }
    }
}

fn record_of(v: f32) -> Record {
    if v.is_nan() {
        Record::NoValue
    } else if v.fract() == 0.0 && (0.0..=u32::MAX as f32).contains(&v) {
        Record::Integer(v as u32)
    } else {
        Record::Real(f64::from(v))
    }
}

/// Encodes a report as (indication header, indication message) of `version`: whole values
/// as `integer`, fractional and non-finite ones as `real`, NaN as `noValue`. With
/// `with_info = false` the measurement-info list is left out (it is OPTIONAL in format 1):
/// the records then follow the layout of the subscription's action definition.
pub fn encode_indication(
    report: &KpmReport,
    with_info: bool,
    version: KpmVersion,
) -> (Vec<u8>, Vec<u8>) {
    let header = encode_indication_header(report.collection_start_ms, version);
    let mut records: Vec<Record> = Meas::PER_CELL
        .iter()
        .map(|m| record_of(report.cell_meas.get(*m)))
        .collect();
    for (_, meas) in &report.slices {
        records.extend(Meas::PER_SLICE.iter().map(|m| record_of(meas.get(*m))));
    }
    let slices: Vec<_> = report.slices.iter().map(|(s, _)| *s).collect();
    let slots = nf_core::e2sm::layout(&slices);
    let infos = with_info.then_some(slots.as_slice());
    let msg = match version {
        KpmVersion::V2_03 => versioned::v2::encode_message(&records, infos, report.granularity_ms),
        KpmVersion::V3_00 => versioned::v3::encode_message(&records, infos, report.granularity_ms),
        KpmVersion::V4_00 => versioned::v4::encode_message(&records, infos, report.granularity_ms),
    };
    (header, msg)
}

/// Decodes an indication into a report, applying `limits`. The cell and the default
/// granularity come from `scope` (the subscription's action definition); an indication
/// without a measurement-info list is read with the subscribed layout of that cell from
/// `layouts`. Kept out of line so the monomorphised rasn code is built with this crate's
/// optimisation settings.
#[inline(never)]
pub fn decode_indication(
    header: &[u8],
    payload: &[u8],
    limits: &Limits,
    scope: &IndicationScope,
    layouts: Option<&Layouts>,
    version: KpmVersion,
) -> Result<(KpmReport, DecodeNotes), KpmAperError> {
    for len in [header.len(), payload.len()] {
        if len > limits.max_payload_bytes {
            return Err(KpmAperError::Oversize {
                len,
                limit: limits.max_payload_bytes,
            });
        }
    }
    let collection_start_ms = decode_indication_header(header, version)?;
    let m = match version {
        KpmVersion::V2_03 => versioned::v2::decode_message(payload),
        KpmVersion::V3_00 => versioned::v3::decode_message(payload),
        KpmVersion::V4_00 => versioned::v4::decode_message(payload),
    }?;
    let infos_len = m.infos.as_ref().map_or(0, Vec::len);
    if infos_len > limits.max_measurements {
        return Err(KpmAperError::TooMany {
            what: "measurements",
            count: infos_len,
            limit: limits.max_measurements,
        });
    }
    if m.records.len() > limits.max_measurements {
        return Err(KpmAperError::TooMany {
            what: "records",
            count: m.records.len(),
            limit: limits.max_measurements,
        });
    }
    let mut report = KpmReport {
        cell: scope.cell,
        collection_start_ms,
        granularity_ms: m.granularity_ms.unwrap_or(scope.granularity_ms),
        cell_meas: MeasVec::default(),
        slices: Vec::new(),
    };
    let mut notes = DecodeNotes::default();
    match &m.infos {
        Some(infos) => {
            check_count(m.records.len(), infos.len())?;
            for (slot, rec) in infos.iter().zip(&m.records) {
                put(&mut report, &mut notes, *slot, *rec)?;
            }
        }
        None => {
            let layout = layouts
                .and_then(|l| l.get(&scope.cell))
                .ok_or(KpmAperError::Missing(
                    "measurement info (and no subscribed layout for the cell)",
                ))?;
            check_count(m.records.len(), layout.len())?;
            for (slot, rec) in layout.iter().zip(&m.records) {
                put(&mut report, &mut notes, Some(*slot), *rec)?;
            }
        }
    }
    Ok((report, notes))
}

fn check_count(records: usize, infos: usize) -> Result<(), KpmAperError> {
    if records == infos {
        Ok(())
    } else {
        Err(KpmAperError::RecordCount { records, infos })
    }
}

/// Stores one record into the report (or counts why it was skipped).
fn put(
    report: &mut KpmReport,
    notes: &mut DecodeNotes,
    slot: Option<Slot>,
    rec: Record,
) -> Result<(), KpmAperError> {
    let Some((meas, slice)) = slot else {
        notes.unknown_measurements += 1;
        return Ok(());
    };
    let value = match rec {
        Record::Integer(i) => i as f32,
        Record::Real(r) => r as f32,
        Record::NoValue | Record::NotSatisfied => {
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
            return Err(KpmAperError::TooMany {
                what: "slices",
                count: MAX_SLICES + 1,
                limit: MAX_SLICES,
            });
        }
    };
    report.slices[idx].1.set(meas, value);
    Ok(())
}

/// Spreads v02.03 reports of one cell over their second: a v02.03 `TimeStamp` has whole
/// seconds, so with a 100 ms granularity ten reports would share one collection start and
/// the cell table would drop nine as duplicates. Each report after the first of the same
/// (cell, second) gets `n × granularity` milliseconds added, `n` counting reports seen in
/// that second, capped below the next second.
#[derive(Debug, Default)]
pub struct V2Sequencer {
    last: std::collections::HashMap<(CellId, u8), (u64, u32)>,
}

impl V2Sequencer {
    /// Places `report` (decoded from a v02.03 header: whole seconds) within its second.
    pub fn place(&mut self, report: &mut KpmReport) {
        report.collection_start_ms = self.place_at(
            report.cell,
            report.collection_start_ms,
            report.granularity_ms,
            0,
        );
    }

    /// The placed collection start of a report of `cell` in `stream` (each report kind of
    /// a cell, e.g. slice / UE-level / cell radio, is its own stream; the slice report is 0).
    pub fn place_at(
        &mut self,
        cell: CellId,
        collection_start_ms: u64,
        granularity_ms: u32,
        stream: u8,
    ) -> u64 {
        let second = collection_start_ms / 1000;
        let n = match self.last.get(&(cell, stream)) {
            Some((s, n)) if *s == second => n + 1,
            _ => 0,
        };
        self.last.insert((cell, stream), (second, n));
        let offset = u64::from(n) * u64::from(granularity_ms.max(1));
        second * 1000 + offset.min(999)
    }
}
