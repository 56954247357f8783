//! E2SM-RC v05.00 domain codec over the generated aligned-PER bindings: slice-level PRB
//! quota control (style 2, action 6) under a per-implementation [`RcProfile`], handover
//! control (style 3, action 1), the control outcome (format 1) and the RAN function
//! definition's control styles. All bit packing is rasn's; [`depth`] only measures the
//! nesting of a control message before rasn decodes it.

pub mod depth;
pub mod profile;
pub(crate) mod scan;

use nf_core::policy::{SliceQuota, WireQuota};
use nf_core::radio::UeId;
use nf_core::{CellId, Snssai};
use rasn::types::{FixedBitString, FixedOctetString, Integer, OctetString, PrintableString};

use crate::generated::e2sm_rc_v05_00::e2_sm_common_ies::{
    GNBCUUEF1APID, NRCGI, NRCellIdentity, PLMNIdentity, RANfunctionName, RICFormatType,
    RICStyleName, RICStyleType, UEIDGNBDU,
};
use crate::generated::e2sm_rc_v05_00::e2_sm_rc_ies::{
    ControlActionRANParameterItem, E2SMRCControlHeader, E2SMRCControlHeaderFormat1,
    E2SMRCControlHeaderRicControlHeaderFormats, E2SMRCControlMessage, E2SMRCControlMessageFormat1,
    E2SMRCControlMessageFormat1Item, E2SMRCControlMessageRicControlMessageFormats,
    E2SMRCControlOutcome, E2SMRCControlOutcomeFormat1, E2SMRCControlOutcomeFormat1Item,
    E2SMRCControlOutcomeRicControlOutcomeFormats, E2SMRCRANFunctionDefinition,
    RANFunctionDefinitionControl, RANFunctionDefinitionControlActionItem,
    RANFunctionDefinitionControlItem, RANParameterID, RANParameterLIST, RANParameterName,
    RANParameterSTRUCTURE, RANParameterSTRUCTUREItem, RANParameterValueType,
    RANParameterValueTypeChoiceElementFalse, RANParameterValueTypeChoiceList,
    RANParameterValueTypeChoiceStructure, RICControlActionID, RICControlActionName,
};

pub use crate::generated::e2sm_rc_v05_00::e2_sm_common_ies::UEID;
pub use crate::generated::e2sm_rc_v05_00::e2_sm_rc_ies::RANParameterValue;
pub use profile::{QuotaParamIds, RcProfile};

/// Control style 2: Radio Resource Allocation Control (E2SM-RC 7.6.3).
pub const STYLE_RADIO_RESOURCE_ALLOCATION: i64 = 2;
/// Control action 6 of style 2: Slice-level PRB quota.
pub const ACTION_SLICE_PRB_QUOTA: i64 = 6;
/// Control style 3: Connected Mode Mobility Control (E2SM-RC 7.6.4).
pub const STYLE_CONNECTED_MODE_MOBILITY: i64 = 3;
/// Control action 1 of style 3: Handover Control.
pub const ACTION_HANDOVER: i64 = 1;
/// Most RRM policy ratio groups accepted in one control (as the PROTO codec).
pub const MAX_GROUPS: usize = 64;
/// Largest control message, outcome or RAN function definition accepted, in bytes.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

/// RAN parameter IDs of handover control (E2SM-RC §8.4.4.1), as srsRAN's vector carries them.
pub mod handover_param {
    pub const TARGET_PRIMARY_CELL_ID: u32 = 1;
    pub const TARGET_CELL: u32 = 2;
    pub const NR_CELL: u32 = 3;
    pub const NR_CGI: u32 = 4;
}

/// Why an E2SM-RC payload was refused.
#[derive(Debug, thiserror::Error)]
pub enum RcAperError {
    #[error("{what}: aligned-PER decode failed: {detail}")]
    Decode { what: &'static str, detail: String },
    #[error("{what}: aligned-PER encode failed: {detail}")]
    Encode { what: &'static str, detail: String },
    #[error("{what}: {len} bytes exceed the bound of {max}")]
    TooLong {
        what: &'static str,
        len: usize,
        max: usize,
    },
    /// Its lists would take more than `limit` bytes decoded (checked before decoding, see
    /// `crate::kpm::decoded_bytes_limit`).
    #[error("{what}: its lists would take {bytes} bytes decoded, over the limit of {limit}")]
    TooLarge {
        what: &'static str,
        bytes: usize,
        limit: usize,
    },
    #[error("RAN parameter tree nests deeper than {max} levels")]
    TooDeep { max: usize },
    #[error("{what}: format {format} is not supported (want format 1)")]
    UnsupportedFormat { what: &'static str, format: u8 },
    #[error(
        "control style {style} action {action} is not the expected style {want_style} action {want_action}"
    )]
    UnexpectedAction {
        style: i64,
        action: i64,
        want_style: i64,
        want_action: i64,
    },
    #[error("RAN parameter {id} is not a parameter of {within} in the {profile} profile")]
    UnknownParameter {
        profile: RcProfile,
        id: i64,
        within: &'static str,
    },
    #[error("RAN parameter {id} ({name}) appears twice")]
    DuplicateParameter { id: u32, name: &'static str },
    #[error("RAN parameter {id} ({name}) is missing")]
    MissingParameter { id: u32, name: &'static str },
    #[error("RAN parameter {id} ({name}): {problem}")]
    BadParameter {
        id: u32,
        name: &'static str,
        problem: &'static str,
    },
    #[error("{count} RRM policy ratio groups exceed the bound of {max}")]
    TooManyGroups { count: usize, max: usize },
    #[error("slice {slice}: min ratio {min} exceeds max ratio {max}")]
    RatioOrder { slice: String, min: i64, max: i64 },
    #[error("slice {slice}: ratio {value} is outside 0..=100")]
    RatioRange { slice: String, value: i64 },
    #[error("no slice quotas")]
    Empty,
    #[error("the RRM policy ratio groups carry different PLMN identities")]
    MixedPlmn,
    #[error("{what} is out of range")]
    OutOfRange { what: &'static str },
    #[error("UE ID: {choice} is not supported (want gNB-UEID with the AMF UE NGAP ID)")]
    UnsupportedUeId { choice: &'static str },
    #[error("the E2 node does not offer control style {style} action {action}{detail}")]
    NotOffered {
        style: i64,
        action: i64,
        detail: String,
    },
}

impl RcAperError {
    /// A bounded label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Decode { .. } => "decode",
            Self::Encode { .. } => "encode",
            Self::TooLong { .. } => "too_long",
            Self::TooLarge { .. } => "too_large",
            Self::TooDeep { .. } => "too_deep",
            Self::UnsupportedFormat { .. } => "unsupported_format",
            Self::UnexpectedAction { .. } => "unexpected_action",
            Self::UnknownParameter { .. } => "unknown_parameter",
            Self::DuplicateParameter { .. } => "duplicate_parameter",
            Self::MissingParameter { .. } => "missing_parameter",
            Self::BadParameter { .. } => "bad_parameter",
            Self::TooManyGroups { .. } => "too_many_groups",
            Self::RatioOrder { .. } => "ratio_order",
            Self::RatioRange { .. } => "ratio_range",
            Self::Empty => "empty",
            Self::MixedPlmn => "mixed_plmn",
            Self::OutOfRange { .. } => "out_of_range",
            Self::NotOffered { .. } => "not_offered",
            Self::UnsupportedUeId { .. } => "unsupported_ue_id",
        }
    }
}

fn bounded(what: &'static str, bytes: &[u8]) -> Result<(), RcAperError> {
    if bytes.len() > MAX_PAYLOAD_BYTES {
        return Err(RcAperError::TooLong {
            what,
            len: bytes.len(),
            max: MAX_PAYLOAD_BYTES,
        });
    }
    Ok(())
}

/// The allocation pre-check of a control message (see `scan`): its lists, counted at
/// their decoded size, within `crate::kpm::decoded_bytes_limit` of its length.
fn check_list_bytes(bytes: &[u8]) -> Result<(), RcAperError> {
    let what = "control message";
    let (tally, _) = scan::scan_control_message(bytes).map_err(|e| match e {
        crate::kpm::prescan::ScanFailure::Invalid(detail) => RcAperError::Decode { what, detail },
        crate::kpm::prescan::ScanFailure::Panicked => RcAperError::Decode {
            what,
            detail: "the decoder panicked on this input (caught)".into(),
        },
    })?;
    if tally.bytes > tally.limit {
        return Err(RcAperError::TooLarge {
            what,
            bytes: tally.bytes,
            limit: tally.limit,
        });
    }
    Ok(())
}

fn decode<T: rasn::Decode>(what: &'static str, bytes: &[u8]) -> Result<T, RcAperError> {
    bounded(what, bytes)?;
    rasn::aper::decode::<T>(bytes).map_err(|e| RcAperError::Decode {
        what,
        detail: e.to_string(),
    })
}

fn encode<T: rasn::Encode>(what: &'static str, value: &T) -> Result<Vec<u8>, RcAperError> {
    rasn::aper::encode(value).map_err(|e| RcAperError::Encode {
        what,
        detail: e.to_string(),
    })
}

fn int(v: i64) -> Integer {
    Integer::from(v)
}

fn to_i64(what: &'static str, v: &Integer) -> Result<i64, RcAperError> {
    i64::try_from(v).map_err(|_| RcAperError::OutOfRange { what })
}

fn printable(what: &'static str, s: &str) -> Result<PrintableString, RcAperError> {
    PrintableString::from_bytes(s.as_bytes()).map_err(|e| RcAperError::Encode {
        what,
        detail: e.to_string(),
    })
}

fn text(s: &PrintableString) -> String {
    String::from_utf8_lossy(s.as_bytes()).into_owned()
}

// ---------------------------------------------------------------------------------------
// Control header (format 1).

/// A control header format 1: UE ID, style and action.
#[derive(Clone, Debug, PartialEq)]
pub struct ControlHeader {
    pub ue_id: UEID,
    pub style: i64,
    pub action: i64,
}

/// The UE ID a cell-level action carries: gNB-DU-UEID with gNB-CU-UE-F1AP-ID 0, the value in
/// srsRAN's E2 control procedure vector (its DU executor reads this alternative).
pub fn cell_level_ue_id() -> UEID {
    UEID::gNB_DU_UEID(UEIDGNBDU::new(GNBCUUEF1APID(0), None, None))
}

/// Encodes an `E2SM-RC-ControlHeader` format 1.
pub fn encode_control_header(h: &ControlHeader) -> Result<Vec<u8>, RcAperError> {
    let f1 = E2SMRCControlHeaderFormat1::new(
        h.ue_id.clone(),
        RICStyleType(int(h.style)),
        RICControlActionID(int(h.action)),
        None,
    );
    encode(
        "control header",
        &E2SMRCControlHeader::new(
            E2SMRCControlHeaderRicControlHeaderFormats::controlHeader_Format1(f1),
        ),
    )
}

/// Decodes an `E2SM-RC-ControlHeader`; formats other than 1 are refused.
pub fn decode_control_header(bytes: &[u8]) -> Result<ControlHeader, RcAperError> {
    let h: E2SMRCControlHeader = decode("control header", bytes)?;
    let f1 = match h.ric_control_header_formats {
        E2SMRCControlHeaderRicControlHeaderFormats::controlHeader_Format1(f) => f,
        E2SMRCControlHeaderRicControlHeaderFormats::controlHeader_Format2(_) => {
            return Err(unsupported("control header", 2));
        }
        E2SMRCControlHeaderRicControlHeaderFormats::controlHeader_Format3(_) => {
            return Err(unsupported("control header", 3));
        }
        _ => return Err(unsupported("control header", 4)),
    };
    Ok(ControlHeader {
        ue_id: f1.ue_id,
        style: to_i64("RIC style type", &f1.ric_style_type.0)?,
        action: to_i64("RIC control action ID", &f1.ric_control_action_id.0)?,
    })
}

fn unsupported(what: &'static str, format: u8) -> RcAperError {
    RcAperError::UnsupportedFormat { what, format }
}

fn expect_action(h: &ControlHeader, style: i64, action: i64) -> Result<(), RcAperError> {
    if h.style != style || h.action != action {
        return Err(RcAperError::UnexpectedAction {
            style: h.style,
            action: h.action,
            want_style: style,
            want_action: action,
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Control message format 1: RAN parameter trees.

fn parameter_id(id: &RANParameterID) -> i64 {
    i64::try_from(&id.0).unwrap_or(-1)
}

fn element(v: RANParameterValue) -> RANParameterValueType {
    RANParameterValueType::ranP_Choice_ElementFalse(RANParameterValueTypeChoiceElementFalse::new(
        Some(v),
    ))
}

fn structure(items: Vec<(u32, RANParameterValueType)>) -> RANParameterValueType {
    RANParameterValueType::ranP_Choice_Structure(RANParameterValueTypeChoiceStructure::new(
        structure_value(items),
    ))
}

fn structure_value(items: Vec<(u32, RANParameterValueType)>) -> RANParameterSTRUCTURE {
    let items = items
        .into_iter()
        .map(|(id, v)| RANParameterSTRUCTUREItem::new(RANParameterID(int(id.into())), v))
        .collect::<Vec<_>>();
    RANParameterSTRUCTURE::new((!items.is_empty()).then_some(items))
}

fn list(items: Vec<RANParameterSTRUCTURE>) -> RANParameterValueType {
    RANParameterValueType::ranP_Choice_List(RANParameterValueTypeChoiceList::new(
        RANParameterLIST::new(items),
    ))
}

fn encode_message(items: Vec<(u32, RANParameterValueType)>) -> Result<Vec<u8>, RcAperError> {
    let items = items
        .into_iter()
        .map(|(id, v)| E2SMRCControlMessageFormat1Item::new(RANParameterID(int(id.into())), v))
        .collect();
    encode(
        "control message",
        &E2SMRCControlMessage::new(
            E2SMRCControlMessageRicControlMessageFormats::controlMessage_Format1(
                E2SMRCControlMessageFormat1::new(items),
            ),
        ),
    )
}

/// Decodes an `E2SM-RC-ControlMessage` format 1 to its top-level (ID, value) pairs, after
/// bounding its size and nesting.
fn decode_message(bytes: &[u8]) -> Result<Vec<(i64, RANParameterValueType)>, RcAperError> {
    bounded("control message", bytes)?;
    depth::check_control_message(bytes)?;
    check_list_bytes(bytes)?;
    let m: E2SMRCControlMessage = decode("control message", bytes)?;
    let f1 = match m.ric_control_message_formats {
        E2SMRCControlMessageRicControlMessageFormats::controlMessage_Format1(f) => f,
        E2SMRCControlMessageRicControlMessageFormats::controlMessage_Format2(_) => {
            return Err(unsupported("control message", 2));
        }
        E2SMRCControlMessageRicControlMessageFormats::controlMessage_Format3(_) => {
            return Err(unsupported("control message", 3));
        }
        E2SMRCControlMessageRicControlMessageFormats::controlMessage_Format4(_) => {
            return Err(unsupported("control message", 4));
        }
        _ => return Err(unsupported("control message", 5)),
    };
    Ok(f1
        .ran_p_list
        .into_iter()
        .map(|i| {
            (
                parameter_id(&i.ran_parameter_id),
                i.ran_parameter_value_type,
            )
        })
        .collect())
}

fn structure_items(s: RANParameterSTRUCTURE) -> Vec<(i64, RANParameterValueType)> {
    s.sequence_of_ran_parameters
        .unwrap_or_default()
        .into_iter()
        .map(|i| {
            (
                parameter_id(&i.ran_parameter_id),
                i.ran_parameter_value_type,
            )
        })
        .collect()
}

/// The RAN parameter IDs of a control message format 1, depth first in tree order.
pub fn control_message_parameter_ids(bytes: &[u8]) -> Result<Vec<i64>, RcAperError> {
    fn walk(v: &RANParameterValueType, out: &mut Vec<i64>) {
        let structure_ids = |s: &RANParameterSTRUCTURE, out: &mut Vec<i64>| {
            for i in s.sequence_of_ran_parameters.iter().flatten() {
                out.push(parameter_id(&i.ran_parameter_id));
                walk(&i.ran_parameter_value_type, out);
            }
        };
        match v {
            RANParameterValueType::ranP_Choice_Structure(s) => {
                structure_ids(&s.ran_parameter_structure, out)
            }
            RANParameterValueType::ranP_Choice_List(l) => {
                for s in &l.ran_parameter_list.list_of_ran_parameter {
                    structure_ids(s, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (id, v) in decode_message(bytes)? {
        out.push(id);
        walk(&v, &mut out);
    }
    Ok(out)
}

/// Named lookup of one parameter among siblings: unknown and duplicate IDs are refused.
struct Siblings {
    items: Vec<(u32, RANParameterValueType)>,
}

impl Siblings {
    fn new(
        profile: RcProfile,
        within: &'static str,
        allowed: &[u32],
        items: Vec<(i64, RANParameterValueType)>,
    ) -> Result<Self, RcAperError> {
        let ids = profile.ids();
        let mut out: Vec<(u32, RANParameterValueType)> = Vec::with_capacity(items.len());
        for (id, v) in items {
            let known = u32::try_from(id).ok().filter(|i| allowed.contains(i));
            let Some(id32) = known else {
                return Err(RcAperError::UnknownParameter {
                    profile,
                    id,
                    within,
                });
            };
            if out.iter().any(|(i, _)| *i == id32) {
                return Err(RcAperError::DuplicateParameter {
                    id: id32,
                    name: ids.name_of(id32).unwrap_or("?"),
                });
            }
            out.push((id32, v));
        }
        Ok(Self { items: out })
    }

    fn take(&mut self, id: u32) -> Option<RANParameterValueType> {
        let at = self.items.iter().position(|(i, _)| *i == id)?;
        Some(self.items.remove(at).1)
    }
}

fn missing(ids: &QuotaParamIds, id: u32) -> RcAperError {
    RcAperError::MissingParameter {
        id,
        name: ids.name_of(id).unwrap_or("?"),
    }
}

fn bad(ids: &QuotaParamIds, id: u32, problem: &'static str) -> RcAperError {
    RcAperError::BadParameter {
        id,
        name: ids.name_of(id).unwrap_or("?"),
        problem,
    }
}

fn as_structure(
    ids: &QuotaParamIds,
    id: u32,
    v: RANParameterValueType,
) -> Result<RANParameterSTRUCTURE, RcAperError> {
    match v {
        RANParameterValueType::ranP_Choice_Structure(s) => Ok(s.ran_parameter_structure),
        _ => Err(bad(ids, id, "not a structure")),
    }
}

fn as_list(
    ids: &QuotaParamIds,
    id: u32,
    v: RANParameterValueType,
) -> Result<Vec<RANParameterSTRUCTURE>, RcAperError> {
    match v {
        RANParameterValueType::ranP_Choice_List(l) => {
            Ok(l.ran_parameter_list.list_of_ran_parameter)
        }
        _ => Err(bad(ids, id, "not a list")),
    }
}

fn as_value(
    ids: &QuotaParamIds,
    id: u32,
    v: RANParameterValueType,
) -> Result<RANParameterValue, RcAperError> {
    match v {
        RANParameterValueType::ranP_Choice_ElementFalse(e) => e
            .ran_parameter_value
            .ok_or_else(|| bad(ids, id, "element without a value")),
        RANParameterValueType::ranP_Choice_ElementTrue(e) => Ok(e.ran_parameter_value),
        _ => Err(bad(ids, id, "not an element")),
    }
}

fn as_octets(
    ids: &QuotaParamIds,
    id: u32,
    v: RANParameterValueType,
) -> Result<Vec<u8>, RcAperError> {
    match as_value(ids, id, v)? {
        RANParameterValue::valueOctS(o) => Ok(o.to_vec()),
        _ => Err(bad(ids, id, "not an octet string")),
    }
}

fn as_int(ids: &QuotaParamIds, id: u32, v: RANParameterValueType) -> Result<i64, RcAperError> {
    match as_value(ids, id, v)? {
        RANParameterValue::valueInt(i) => {
            i64::try_from(&i).map_err(|_| bad(ids, id, "integer out of range"))
        }
        _ => Err(bad(ids, id, "not an integer")),
    }
}

// ---------------------------------------------------------------------------------------
// Slice-level PRB quota: the RRM policy ratio list as carried (octets kept as sent).

/// One RRM Policy Member as carried: PLMN Identity, SST and SD octets as sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RrmPolicyMember {
    pub plmn: Vec<u8>,
    pub sst: Vec<u8>,
    pub sd: Option<Vec<u8>>,
    /// Whether the list item wraps the member in its RRM Policy Member structure (srsRAN's
    /// E2 procedure vector does; its ASN.1 unit-test vector puts PLMN and S-NSSAI directly).
    pub wrapped: bool,
}

/// One RRM Policy Ratio Group as carried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RrmPolicyRatioGroup {
    pub members: Vec<RrmPolicyMember>,
    pub min_ratio: Option<i64>,
    pub max_ratio: Option<i64>,
    pub dedicated_ratio: Option<i64>,
    /// Whether the list item wraps the group in its RRM Policy Ratio Group structure.
    pub wrapped: bool,
}

/// Decodes the RRM Policy Ratio List of a slice-level PRB quota control message with the
/// IDs of `profile`: every ID must be the profile's at its place, once.
pub fn decode_policy_ratio_list(
    profile: RcProfile,
    message: &[u8],
) -> Result<Vec<RrmPolicyRatioGroup>, RcAperError> {
    let ids = profile.ids();
    let mut top = Siblings::new(
        profile,
        "the control message",
        &[ids.rrm_policy_ratio_list],
        decode_message(message)?,
    )?;
    let groups = top
        .take(ids.rrm_policy_ratio_list)
        .ok_or_else(|| missing(ids, ids.rrm_policy_ratio_list))?;
    let groups = as_list(ids, ids.rrm_policy_ratio_list, groups)?;
    if groups.len() > MAX_GROUPS {
        return Err(RcAperError::TooManyGroups {
            count: groups.len(),
            max: MAX_GROUPS,
        });
    }
    groups
        .into_iter()
        .map(|g| decode_group(profile, g))
        .collect()
}

fn unwrap_item(
    profile: RcProfile,
    wrapper: u32,
    within: &'static str,
    allowed: &[u32],
    item: RANParameterSTRUCTURE,
) -> Result<(Siblings, bool), RcAperError> {
    let ids = profile.ids();
    let items = structure_items(item);
    if let [(id, _)] = items.as_slice()
        && *id == i64::from(wrapper)
    {
        let mut w = Siblings::new(profile, within, &[wrapper], items)?;
        let inner = w.take(wrapper).ok_or_else(|| missing(ids, wrapper))?;
        let inner = structure_items(as_structure(ids, wrapper, inner)?);
        return Ok((Siblings::new(profile, within, allowed, inner)?, true));
    }
    Ok((Siblings::new(profile, within, allowed, items)?, false))
}

fn decode_group(
    profile: RcProfile,
    item: RANParameterSTRUCTURE,
) -> Result<RrmPolicyRatioGroup, RcAperError> {
    let ids = profile.ids();
    let (mut g, wrapped) = unwrap_item(
        profile,
        ids.rrm_policy_ratio_group,
        "an RRM Policy Ratio Group",
        &[
            ids.rrm_policy,
            ids.min_prb_policy_ratio,
            ids.max_prb_policy_ratio,
            ids.dedicated_prb_policy_ratio,
        ],
        item,
    )?;
    let policy = g
        .take(ids.rrm_policy)
        .ok_or_else(|| missing(ids, ids.rrm_policy))?;
    let mut policy = Siblings::new(
        profile,
        "the RRM Policy",
        &[ids.rrm_policy_member_list],
        structure_items(as_structure(ids, ids.rrm_policy, policy)?),
    )?;
    let members = policy
        .take(ids.rrm_policy_member_list)
        .ok_or_else(|| missing(ids, ids.rrm_policy_member_list))?;
    let members = as_list(ids, ids.rrm_policy_member_list, members)?
        .into_iter()
        .map(|m| decode_member(profile, m))
        .collect::<Result<Vec<_>, _>>()?;
    let mut ratio = |id| g.take(id).map(|v| as_int(ids, id, v)).transpose();
    Ok(RrmPolicyRatioGroup {
        members,
        min_ratio: ratio(ids.min_prb_policy_ratio)?,
        max_ratio: ratio(ids.max_prb_policy_ratio)?,
        dedicated_ratio: ratio(ids.dedicated_prb_policy_ratio)?,
        wrapped,
    })
}

fn decode_member(
    profile: RcProfile,
    item: RANParameterSTRUCTURE,
) -> Result<RrmPolicyMember, RcAperError> {
    let ids = profile.ids();
    let (mut m, wrapped) = unwrap_item(
        profile,
        ids.rrm_policy_member,
        "an RRM Policy Member",
        &[ids.plmn_identity, ids.s_nssai],
        item,
    )?;
    let plmn = m
        .take(ids.plmn_identity)
        .ok_or_else(|| missing(ids, ids.plmn_identity))?;
    let plmn = as_octets(ids, ids.plmn_identity, plmn)?;
    let snssai = m
        .take(ids.s_nssai)
        .ok_or_else(|| missing(ids, ids.s_nssai))?;
    let mut snssai = Siblings::new(
        profile,
        "the S-NSSAI",
        &[ids.sst, ids.sd],
        structure_items(as_structure(ids, ids.s_nssai, snssai)?),
    )?;
    let sst = snssai.take(ids.sst).ok_or_else(|| missing(ids, ids.sst))?;
    let sst = as_octets(ids, ids.sst, sst)?;
    let sd = snssai
        .take(ids.sd)
        .map(|v| as_octets(ids, ids.sd, v))
        .transpose()?;
    Ok(RrmPolicyMember {
        plmn,
        sst,
        sd,
        wrapped,
    })
}

fn octets(v: &[u8]) -> RANParameterValueType {
    element(RANParameterValue::valueOctS(OctetString::from_slice(v)))
}

fn integer(v: i64) -> RANParameterValueType {
    element(RANParameterValue::valueInt(int(v)))
}

/// Encodes an RRM Policy Ratio List as a control message format 1 with the IDs of `profile`.
pub fn encode_policy_ratio_list(
    profile: RcProfile,
    groups: &[RrmPolicyRatioGroup],
) -> Result<Vec<u8>, RcAperError> {
    let ids = profile.ids();
    if groups.is_empty() {
        return Err(RcAperError::Empty);
    }
    if groups.len() > MAX_GROUPS {
        return Err(RcAperError::TooManyGroups {
            count: groups.len(),
            max: MAX_GROUPS,
        });
    }
    let mut items = Vec::with_capacity(groups.len());
    for g in groups {
        if g.members.is_empty() {
            return Err(bad(ids, ids.rrm_policy_member_list, "no member"));
        }
        let members = g
            .members
            .iter()
            .map(|m| {
                let mut snssai = vec![(ids.sst, octets(&m.sst))];
                if let Some(sd) = &m.sd {
                    snssai.push((ids.sd, octets(sd)));
                }
                let fields = vec![
                    (ids.plmn_identity, octets(&m.plmn)),
                    (ids.s_nssai, structure(snssai)),
                ];
                if m.wrapped {
                    structure_value(vec![(ids.rrm_policy_member, structure(fields))])
                } else {
                    structure_value(fields)
                }
            })
            .collect();
        let mut fields = vec![(
            ids.rrm_policy,
            structure(vec![(ids.rrm_policy_member_list, list(members))]),
        )];
        for (id, v) in [
            (ids.min_prb_policy_ratio, g.min_ratio),
            (ids.max_prb_policy_ratio, g.max_ratio),
            (ids.dedicated_prb_policy_ratio, g.dedicated_ratio),
        ] {
            if let Some(v) = v {
                fields.push((id, integer(v)));
            }
        }
        items.push(if g.wrapped {
            structure_value(vec![(ids.rrm_policy_ratio_group, structure(fields))])
        } else {
            structure_value(fields)
        });
    }
    encode_message(vec![(ids.rrm_policy_ratio_list, list(items))])
}

// ---------------------------------------------------------------------------------------
// Slice-level PRB quota: the domain value.

/// A decoded slice-level PRB quota control (mirrors `e2_proto::rc::QuotaControl`; the
/// E2SM-RC header names no cell: the control goes to the E2 node's RAN function).
#[derive(Clone, Debug, PartialEq)]
pub struct QuotaControl {
    pub ue_id: UEID,
    pub plmn: [u8; 3],
    /// (S-NSSAI, min, max, dedicated) as sent, checked to 0..=100 and min <= max.
    pub quotas: Vec<WireQuota>,
}

/// Encodes a slice-level PRB quota control as (control header, control message).
pub fn encode_quota_control(
    profile: RcProfile,
    ue_id: &UEID,
    plmn: [u8; 3],
    quotas: &[SliceQuota],
) -> Result<(Vec<u8>, Vec<u8>), RcAperError> {
    QuotaControl {
        ue_id: ue_id.clone(),
        plmn,
        quotas: quotas.iter().map(SliceQuota::wire).collect(),
    }
    .encode(profile)
}

impl QuotaControl {
    /// Encodes this control as (control header, control message), after the same checks as
    /// decoding.
    pub fn encode(&self, profile: RcProfile) -> Result<(Vec<u8>, Vec<u8>), RcAperError> {
        if self.quotas.is_empty() {
            return Err(RcAperError::Empty);
        }
        let groups = self
            .quotas
            .iter()
            .map(|&(snssai, min, max, ded)| {
                let (min, max, ded) = (i64::from(min), i64::from(max), i64::from(ded));
                check_ratios(snssai, min, max, ded)?;
                Ok(RrmPolicyRatioGroup {
                    members: vec![RrmPolicyMember {
                        plmn: self.plmn.to_vec(),
                        sst: vec![snssai.sst],
                        sd: snssai.sd.map(|sd| sd.to_be_bytes()[1..].to_vec()),
                        wrapped: true,
                    }],
                    min_ratio: Some(min),
                    max_ratio: Some(max),
                    dedicated_ratio: Some(ded),
                    wrapped: true,
                })
            })
            .collect::<Result<Vec<_>, RcAperError>>()?;
        let header = encode_control_header(&ControlHeader {
            ue_id: self.ue_id.clone(),
            style: STYLE_RADIO_RESOURCE_ALLOCATION,
            action: ACTION_SLICE_PRB_QUOTA,
        })?;
        Ok((header, encode_policy_ratio_list(profile, &groups)?))
    }
}

fn check_ratios(snssai: Snssai, min: i64, max: i64, ded: i64) -> Result<(), RcAperError> {
    if let Some(&value) = [min, max, ded].iter().find(|v| !(0..=100).contains(*v)) {
        return Err(RcAperError::RatioRange {
            slice: snssai.to_string(),
            value,
        });
    }
    if min > max {
        return Err(RcAperError::RatioOrder {
            slice: snssai.to_string(),
            min,
            max,
        });
    }
    Ok(())
}

/// Decodes a slice-level PRB quota control (header and message) with the IDs of `profile`.
pub fn decode_quota_control(
    profile: RcProfile,
    header: &[u8],
    message: &[u8],
) -> Result<QuotaControl, RcAperError> {
    let h = decode_control_header(header)?;
    expect_action(&h, STYLE_RADIO_RESOURCE_ALLOCATION, ACTION_SLICE_PRB_QUOTA)?;
    let groups = decode_policy_ratio_list(profile, message)?;
    let ids = profile.ids();
    let mut plmn = None;
    let mut quotas: Vec<WireQuota> = Vec::with_capacity(groups.len());
    for g in groups {
        let [m] = g.members.as_slice() else {
            return Err(bad(
                ids,
                ids.rrm_policy_member_list,
                "want exactly one member",
            ));
        };
        let p: [u8; 3] = m
            .plmn
            .as_slice()
            .try_into()
            .map_err(|_| bad(ids, ids.plmn_identity, "not 3 octets"))?;
        if plmn.is_some_and(|q| q != p) {
            return Err(RcAperError::MixedPlmn);
        }
        plmn = Some(p);
        let [sst] = m.sst.as_slice() else {
            return Err(bad(ids, ids.sst, "not 1 octet"));
        };
        let sd = match m.sd.as_deref() {
            None => None,
            Some([a, b, c]) => Some(u32::from_be_bytes([0, *a, *b, *c])),
            Some(_) => return Err(bad(ids, ids.sd, "not 3 octets")),
        };
        let snssai = Snssai::new(*sst, sd);
        let need = |id, v: Option<i64>| v.ok_or_else(|| missing(ids, id));
        let min = need(ids.min_prb_policy_ratio, g.min_ratio)?;
        let max = need(ids.max_prb_policy_ratio, g.max_ratio)?;
        let ded = need(ids.dedicated_prb_policy_ratio, g.dedicated_ratio)?;
        check_ratios(snssai, min, max, ded)?;
        // check_ratios bounded all three to 0..=100.
        let pct = |v: i64| u32::try_from(v).unwrap_or(0);
        quotas.push((snssai, pct(min), pct(max), pct(ded)));
    }
    let plmn = plmn.ok_or(RcAperError::Empty)?;
    Ok(QuotaControl {
        ue_id: h.ue_id,
        plmn,
        quotas,
    })
}

// ---------------------------------------------------------------------------------------
// Handover control (style 3, action 1).

/// A handover control: which UE, to which NR cell.
#[derive(Clone, Debug, PartialEq)]
pub struct HandoverControl {
    pub ue_id: UEID,
    pub target_cell: CellId,
}

fn nr_cgi_octets(cell: &CellId) -> Result<Vec<u8>, RcAperError> {
    if cell.nci > CellId::MAX_NCI {
        return Err(RcAperError::OutOfRange {
            what: "NR cell identity",
        });
    }
    let mut bits = FixedBitString::<36>::ZERO;
    for i in 0..36 {
        bits.set(i, (cell.nci >> (35 - i)) & 1 == 1);
    }
    let nci = NRCellIdentity(bits);
    encode(
        "NR CGI",
        &NRCGI::new(PLMNIdentity(FixedOctetString::from(cell.plmn)), nci),
    )
}

fn nr_cgi_from_octets(bytes: &[u8]) -> Result<CellId, RcAperError> {
    let cgi: NRCGI = decode("NR CGI", bytes)?;
    let mut nci = 0u64;
    for bit in cgi.n_rcell_identity.0.iter().take(36) {
        nci = (nci << 1) | u64::from(*bit);
    }
    Ok(CellId::new(*cgi.p_lmnidentity.0, nci))
}

/// Encodes a handover control as (control header, control message): Target Primary Cell ID
/// / Target Cell / NR Cell / NR CGI, the NR CGI as the octets of its aligned-PER encoding
/// (what srsRAN's handover vector carries).
pub fn encode_handover_control(h: &HandoverControl) -> Result<(Vec<u8>, Vec<u8>), RcAperError> {
    use handover_param::*;
    let header = encode_control_header(&ControlHeader {
        ue_id: h.ue_id.clone(),
        style: STYLE_CONNECTED_MODE_MOBILITY,
        action: ACTION_HANDOVER,
    })?;
    let cgi = octets(&nr_cgi_octets(&h.target_cell)?);
    let message = encode_message(vec![(
        TARGET_PRIMARY_CELL_ID,
        structure(vec![(
            TARGET_CELL,
            structure(vec![(NR_CELL, structure(vec![(NR_CGI, cgi)]))]),
        )]),
    )])?;
    Ok((header, message))
}

fn handover_structure(
    v: RANParameterValueType,
    id: u32,
    want: u32,
) -> Result<RANParameterValueType, RcAperError> {
    let RANParameterValueType::ranP_Choice_Structure(s) = v else {
        return Err(RcAperError::BadParameter {
            id,
            name: "handover control",
            problem: "not a structure",
        });
    };
    let mut items = structure_items(s.ran_parameter_structure);
    match items.pop() {
        Some((got, inner)) if items.is_empty() && got == i64::from(want) => Ok(inner),
        Some((got, _)) if items.is_empty() => Err(RcAperError::UnknownParameter {
            profile: RcProfile::Oran,
            id: got,
            within: "handover control",
        }),
        _ => Err(RcAperError::MissingParameter {
            id: want,
            name: "handover control",
        }),
    }
}

/// Decodes a handover control (header and message).
pub fn decode_handover_control(
    header: &[u8],
    message: &[u8],
) -> Result<HandoverControl, RcAperError> {
    use handover_param::*;
    let h = decode_control_header(header)?;
    expect_action(&h, STYLE_CONNECTED_MODE_MOBILITY, ACTION_HANDOVER)?;
    let mut top = decode_message(message)?;
    let (id, v) = match (top.pop(), top.is_empty()) {
        (Some(item), true) => item,
        _ => {
            return Err(RcAperError::MissingParameter {
                id: TARGET_PRIMARY_CELL_ID,
                name: "Target Primary Cell ID",
            });
        }
    };
    if id != i64::from(TARGET_PRIMARY_CELL_ID) {
        return Err(RcAperError::UnknownParameter {
            profile: RcProfile::Oran,
            id,
            within: "handover control",
        });
    }
    let v = handover_structure(v, TARGET_PRIMARY_CELL_ID, TARGET_CELL)?;
    let v = handover_structure(v, TARGET_CELL, NR_CELL)?;
    let v = handover_structure(v, NR_CELL, NR_CGI)?;
    let bad_cgi = |problem| RcAperError::BadParameter {
        id: NR_CGI,
        name: "NR CGI",
        problem,
    };
    let cgi = match v {
        RANParameterValueType::ranP_Choice_ElementFalse(e) => e.ran_parameter_value,
        RANParameterValueType::ranP_Choice_ElementTrue(e) => Some(e.ran_parameter_value),
        _ => None,
    };
    let Some(RANParameterValue::valueOctS(cgi)) = cgi else {
        return Err(bad_cgi("not an octet string"));
    };
    Ok(HandoverControl {
        ue_id: h.ue_id,
        target_cell: nr_cgi_from_octets(&cgi)?,
    })
}

/// The `UEID` of a UE: the `gNB-UEID` choice with its AMF UE NGAP ID and the GUAMI of
/// `plmn` with the AMF region / set / pointer of `crate::kpm::radio::GUAMI_AMF_*` (0, as
/// srsRAN's handover vector). An ID over 40 bits is `out_of_range`.
pub fn gnb_ue_id(ue: UeId, plmn: [u8; 3]) -> Result<UEID, RcAperError> {
    use crate::generated::e2sm_rc_v05_00::e2_sm_common_ies::{
        AMFPointer, AMFRegionID, AMFSetID, AMFUENGAPID, GUAMI, UEIDGNB,
    };
    use crate::kpm::radio::{GUAMI_AMF_POINTER, GUAMI_AMF_REGION, GUAMI_AMF_SET};
    if ue.0 > UeId::MAX {
        return Err(RcAperError::OutOfRange {
            what: "AMF UE NGAP ID",
        });
    }
    let mut region = FixedBitString::<8>::ZERO;
    for i in 0..8 {
        region.set(i, (GUAMI_AMF_REGION >> (7 - i)) & 1 == 1);
    }
    let mut set = FixedBitString::<10>::ZERO;
    for i in 0..10 {
        set.set(i, (GUAMI_AMF_SET >> (9 - i)) & 1 == 1);
    }
    let mut pointer = FixedBitString::<6>::ZERO;
    for i in 0..6 {
        pointer.set(i, (GUAMI_AMF_POINTER >> (5 - i)) & 1 == 1);
    }
    Ok(UEID::gNB_UEID(UEIDGNB::new(
        AMFUENGAPID(ue.0),
        GUAMI::new(
            PLMNIdentity(FixedOctetString::from(plmn)),
            AMFRegionID(region),
            AMFSetID(set),
            AMFPointer(pointer),
        ),
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    )))
}

/// The [`UeId`] of a `UEID`: the AMF UE NGAP ID of the `gNB-UEID` choice (whatever else it
/// carries, e.g. srsRAN's F1AP ID list); any other choice is `unsupported_ue_id`.
pub fn ue_id_of(id: &UEID) -> Result<UeId, RcAperError> {
    let choice = match id {
        UEID::gNB_UEID(g) if g.amf_ue_ngap_id.0 <= UeId::MAX => {
            return Ok(UeId(g.amf_ue_ngap_id.0));
        }
        UEID::gNB_UEID(_) => {
            return Err(RcAperError::OutOfRange {
                what: "AMF UE NGAP ID",
            });
        }
        UEID::gNB_DU_UEID(_) => "gNB-DU-UEID",
        UEID::gNB_CU_UP_UEID(_) => "gNB-CU-UP-UEID",
        UEID::ng_eNB_UEID(_) => "ng-eNB-UEID",
        UEID::ng_eNB_DU_UEID(_) => "ng-eNB-DU-UEID",
        UEID::en_gNB_UEID(_) => "en-gNB-UEID",
        UEID::eNB_UEID(_) => "eNB-UEID",
        #[allow(unreachable_patterns)]
        _ => "an unknown UEID choice",
    };
    Err(RcAperError::UnsupportedUeId { choice })
}

impl HandoverControl {
    /// The handover of `ue` to `target`, the UE named by [`gnb_ue_id`] with the target's PLMN.
    pub fn of_ue(ue: UeId, target: &CellId) -> Result<Self, RcAperError> {
        Ok(Self {
            ue_id: gnb_ue_id(ue, target.plmn)?,
            target_cell: *target,
        })
    }

    /// The UE's [`UeId`] (see [`ue_id_of`]).
    pub fn ue(&self) -> Result<UeId, RcAperError> {
        ue_id_of(&self.ue_id)
    }
}

/// Decodes a handover control into (UE, target cell): [`decode_handover_control`] with the
/// UE ID read by [`ue_id_of`].
pub fn decode_ue_handover(header: &[u8], message: &[u8]) -> Result<(UeId, CellId), RcAperError> {
    let h = decode_handover_control(header, message)?;
    Ok((h.ue()?, h.target_cell))
}

// ---------------------------------------------------------------------------------------
// Control outcome (format 1).

/// Most items of an outcome format 1 (`maxnoofRANOutcomeParameters`).
pub const MAX_OUTCOME_ITEMS: usize = 255;

/// Encodes an `E2SM-RC-ControlOutcome` format 1 from (RAN parameter ID, value) pairs.
pub fn encode_control_outcome(items: &[(u32, RANParameterValue)]) -> Result<Vec<u8>, RcAperError> {
    if items.len() > MAX_OUTCOME_ITEMS {
        return Err(RcAperError::OutOfRange {
            what: "control outcome item count",
        });
    }
    let items = items
        .iter()
        .map(|(id, v)| {
            E2SMRCControlOutcomeFormat1Item::new(RANParameterID(int((*id).into())), v.clone())
        })
        .collect();
    encode(
        "control outcome",
        &E2SMRCControlOutcome::new(
            E2SMRCControlOutcomeRicControlOutcomeFormats::controlOutcome_Format1(
                E2SMRCControlOutcomeFormat1::new(items),
            ),
        ),
    )
}

/// Decodes an `E2SM-RC-ControlOutcome` format 1 to (RAN parameter ID, value) pairs.
pub fn decode_control_outcome(bytes: &[u8]) -> Result<Vec<(u32, RANParameterValue)>, RcAperError> {
    let o: E2SMRCControlOutcome = decode("control outcome", bytes)?;
    let f1 = match o.ric_control_outcome_formats {
        E2SMRCControlOutcomeRicControlOutcomeFormats::controlOutcome_Format1(f) => f,
        E2SMRCControlOutcomeRicControlOutcomeFormats::controlOutcome_Format2(_) => {
            return Err(unsupported("control outcome", 2));
        }
        _ => return Err(unsupported("control outcome", 3)),
    };
    f1.ran_p_list
        .into_iter()
        .map(|i| {
            let id = u32::try_from(&i.ran_parameter_id.0).map_err(|_| RcAperError::OutOfRange {
                what: "control outcome RAN parameter ID",
            })?;
            Ok((id, i.ran_parameter_value))
        })
        .collect()
}

/// The outcome of an applied quota control: Min / Max PRB Policy Ratio of `profile` per slice
/// in order (the shape srsRAN's DU executor reports), as integer items.
pub fn quota_outcome_items(
    profile: RcProfile,
    quotas: &[SliceQuota],
) -> Vec<(u32, RANParameterValue)> {
    let ids = profile.ids();
    quotas
        .iter()
        .flat_map(|q| {
            [
                (
                    ids.min_prb_policy_ratio,
                    RANParameterValue::valueInt(int(q.min_ratio.into())),
                ),
                (
                    ids.max_prb_policy_ratio,
                    RANParameterValue::valueInt(int(q.max_ratio.into())),
                ),
            ]
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// RAN function definition: the control styles a node offers.

/// OID of E2SM-RC (E2SM-RC §6.2).
pub const E2SM_RC_OID: &str = "1.3.6.1.4.1.53148.1.1.2.3";

/// One control action a node offers, with its RAN parameters (ID, name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlActionOffer {
    pub action_id: i64,
    pub name: String,
    pub parameters: Vec<(u32, String)>,
}

/// One control style a node offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlStyleOffer {
    pub style_type: i64,
    pub name: String,
    pub header_format: i64,
    pub message_format: i64,
    pub actions: Vec<ControlActionOffer>,
}

/// The parts of an E2SM-RC RAN function definition the xApp acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RcFunctionDefinition {
    pub short_name: String,
    pub oid: String,
    pub description: String,
    pub instance: Option<i64>,
    pub control_styles: Vec<ControlStyleOffer>,
}

impl RcFunctionDefinition {
    /// What a node offering slice-level PRB quota control under `profile` announces.
    pub fn slice_prb_quota(profile: RcProfile) -> Self {
        Self {
            short_name: "ORAN-E2SM-RC".into(),
            oid: E2SM_RC_OID.into(),
            description: "RAN Control".into(),
            instance: None,
            control_styles: vec![ControlStyleOffer {
                style_type: STYLE_RADIO_RESOURCE_ALLOCATION,
                name: "Radio Resource Allocation Control".into(),
                header_format: 1,
                message_format: 1,
                actions: vec![ControlActionOffer {
                    action_id: ACTION_SLICE_PRB_QUOTA,
                    name: "Slice-level PRB quota".into(),
                    parameters: profile
                        .ids()
                        .all()
                        .into_iter()
                        .map(|(id, n)| (id, n.to_string()))
                        .collect(),
                }],
            }],
        }
    }

    /// Refuses a node that does not offer style 2 action 6, or lists RAN parameters for it
    /// without every ID of `profile`.
    pub fn require_slice_prb_quota(&self, profile: RcProfile) -> Result<(), RcAperError> {
        let not_offered = |detail: String| RcAperError::NotOffered {
            style: STYLE_RADIO_RESOURCE_ALLOCATION,
            action: ACTION_SLICE_PRB_QUOTA,
            detail,
        };
        let action = self
            .control_styles
            .iter()
            .filter(|s| s.style_type == STYLE_RADIO_RESOURCE_ALLOCATION)
            .flat_map(|s| &s.actions)
            .find(|a| a.action_id == ACTION_SLICE_PRB_QUOTA)
            .ok_or_else(|| not_offered(String::new()))?;
        if action.parameters.is_empty() {
            return Ok(());
        }
        for (id, name) in profile.ids().all() {
            if !action.parameters.iter().any(|(p, _)| *p == id) {
                return Err(not_offered(format!(
                    " with RAN parameter {id} ({name}) of the {profile} profile"
                )));
            }
        }
        Ok(())
    }
}

/// Encodes an `E2SM-RC-RANFunctionDefinition` carrying the control styles (simulator side).
pub fn encode_ran_function_definition(d: &RcFunctionDefinition) -> Result<Vec<u8>, RcAperError> {
    let what = "RAN function definition";
    let name = RANfunctionName::new(
        printable(what, &d.short_name)?,
        printable(what, &d.oid)?,
        printable(what, &d.description)?,
        d.instance.map(int),
    );
    let mut styles = Vec::with_capacity(d.control_styles.len());
    for s in &d.control_styles {
        let mut actions = Vec::with_capacity(s.actions.len());
        for a in &s.actions {
            let params = a
                .parameters
                .iter()
                .map(|(id, n)| {
                    Ok(ControlActionRANParameterItem::new(
                        RANParameterID(int((*id).into())),
                        RANParameterName(printable(what, n)?),
                        None,
                    ))
                })
                .collect::<Result<Vec<_>, RcAperError>>()?;
            actions.push(RANFunctionDefinitionControlActionItem::new(
                RICControlActionID(int(a.action_id)),
                RICControlActionName(printable(what, &a.name)?),
                (!params.is_empty()).then_some(params),
                None,
            ));
        }
        styles.push(RANFunctionDefinitionControlItem::new(
            RICStyleType(int(s.style_type)),
            RICStyleName(printable(what, &s.name)?),
            (!actions.is_empty()).then_some(actions),
            RICFormatType(int(s.header_format)),
            RICFormatType(int(s.message_format)),
            None,
            RICFormatType(int(1)),
            None,
            None,
        ));
    }
    let control = (!styles.is_empty()).then(|| RANFunctionDefinitionControl::new(styles));
    encode(
        what,
        &E2SMRCRANFunctionDefinition::new(name, None, None, None, control, None, None),
    )
}

/// Decodes an `E2SM-RC-RANFunctionDefinition` to the control styles it offers (xApp side).
pub fn decode_ran_function_definition(bytes: &[u8]) -> Result<RcFunctionDefinition, RcAperError> {
    let what = "RAN function definition";
    let d: E2SMRCRANFunctionDefinition = decode(what, bytes)?;
    let n = d.ran_function_name;
    let mut control_styles = Vec::new();
    for s in d
        .ran_function_definition_control
        .map(|c| c.ric_control_style_list)
        .unwrap_or_default()
    {
        let mut actions = Vec::new();
        for a in s.ric_control_action_list.unwrap_or_default() {
            let parameters = a
                .ran_control_action_parameters_list
                .unwrap_or_default()
                .iter()
                .map(|p| {
                    let id = u32::try_from(&p.ran_parameter_id.0).map_err(|_| {
                        RcAperError::OutOfRange {
                            what: "RAN parameter ID",
                        }
                    })?;
                    Ok((id, text(&p.ran_parameter_name.0)))
                })
                .collect::<Result<Vec<_>, RcAperError>>()?;
            actions.push(ControlActionOffer {
                action_id: to_i64("RIC control action ID", &a.ric_control_action_id.0)?,
                name: text(&a.ric_control_action_name.0),
                parameters,
            });
        }
        control_styles.push(ControlStyleOffer {
            style_type: to_i64("RIC style type", &s.ric_control_style_type.0)?,
            name: text(&s.ric_control_style_name.0),
            header_format: to_i64("control header format", &s.ric_control_header_format_type.0)?,
            message_format: to_i64(
                "control message format",
                &s.ric_control_message_format_type.0,
            )?,
            actions,
        });
    }
    Ok(RcFunctionDefinition {
        short_name: text(&n.ran_function_short_name),
        oid: text(&n.ran_function_e2_sm_oid),
        description: text(&n.ran_function_description),
        instance: n
            .ran_function_instance
            .as_ref()
            .map(|i| to_i64("RAN function instance", i))
            .transpose()?,
        control_styles,
    })
}
