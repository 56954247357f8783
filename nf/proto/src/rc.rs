//! E2SM-RC codec (PROTO encoding) for control style 2 "Radio Resource Allocation
//! Control", action 6 "Slice-level PRB quota" (E2SM-RC 7.6.3.1).
//!
//! The control message carries the RRM Policy Ratio List as nested RAN parameters:
//!
//! ```text
//! 1 RRM Policy Ratio List (list)
//! └─ 2 RRM Policy Ratio Group (structure)
//!    ├─ 3 RRM Policy (structure)
//!    │  └─ 4 RRM Policy Member List (list)
//!    │     └─ 5 RRM Policy Member (structure)
//!    │        ├─ 6 PLMN Identity (octets)
//!    │        └─ 7 S-NSSAI (structure): 8 SST (octets), 9 SD (octets, optional)
//!    ├─ 11 Min PRB Policy Ratio (integer, %)
//!    ├─ 12 Max PRB Policy Ratio (integer, %)
//!    └─ 13 Dedicated PRB Policy Ratio (integer, %)
//! ```

use nf_core::policy::{SliceQuota, WireQuota};
use nf_core::{CellId, Snssai};
use prost::Message;

use crate::kpm::{KpmError, cell_from_pb};
use crate::pb::rc as pb;

/// Control style 2: Radio Resource Allocation Control.
pub const STYLE_RADIO_RESOURCE_ALLOCATION: i32 = 2;
/// Control action 6 of style 2: Slice-level PRB quota.
pub const ACTION_SLICE_PRB_QUOTA: i32 = 6;

/// RAN parameter IDs of the slice-level PRB quota action.
pub mod param {
    pub const RRM_POLICY_RATIO_LIST: u32 = 1;
    pub const RRM_POLICY_RATIO_GROUP: u32 = 2;
    pub const RRM_POLICY: u32 = 3;
    pub const RRM_POLICY_MEMBER_LIST: u32 = 4;
    pub const RRM_POLICY_MEMBER: u32 = 5;
    pub const PLMN_IDENTITY: u32 = 6;
    pub const S_NSSAI: u32 = 7;
    pub const SST: u32 = 8;
    pub const SD: u32 = 9;
    pub const MIN_PRB_POLICY_RATIO: u32 = 11;
    pub const MAX_PRB_POLICY_RATIO: u32 = 12;
    pub const DEDICATED_PRB_POLICY_RATIO: u32 = 13;
}

/// Most policy groups accepted in one control.
pub const MAX_GROUPS: usize = 64;

/// A decoded slice-level PRB quota control.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuotaControl {
    pub cell: CellId,
    pub plmn: [u8; 3],
    /// (S-NSSAI, min, max, dedicated) as sent, not yet validated.
    pub quotas: Vec<WireQuota>,
}

/// Why an RC payload was rejected.
#[derive(Debug, thiserror::Error)]
pub enum RcError {
    #[error(transparent)]
    Payload(#[from] KpmError),
    #[error("control style {style} action {action} is not supported (want style 2 action 6)")]
    Unsupported { style: i32, action: i32 },
    #[error("RAN parameter {id}: {problem}")]
    Parameter { id: u32, problem: &'static str },
}

fn element(id: u32, v: pb::ran_parameter_value::Value) -> pb::RanParameter {
    pb::RanParameter {
        id,
        value: Some(pb::RanParameterValueType {
            kind: Some(pb::ran_parameter_value_type::Kind::Element(
                pb::RanParameterValue { value: Some(v) },
            )),
        }),
    }
}

fn structure(id: u32, items: Vec<pb::RanParameter>) -> pb::RanParameter {
    pb::RanParameter {
        id,
        value: Some(pb::RanParameterValueType {
            kind: Some(pb::ran_parameter_value_type::Kind::Structure(
                pb::RanParameterStructure { items },
            )),
        }),
    }
}

fn list(id: u32, items: Vec<Vec<pb::RanParameter>>) -> pb::RanParameter {
    pb::RanParameter {
        id,
        value: Some(pb::RanParameterValueType {
            kind: Some(pb::ran_parameter_value_type::Kind::List(
                pb::RanParameterList {
                    items: items
                        .into_iter()
                        .map(|items| pb::RanParameterStructure { items })
                        .collect(),
                },
            )),
        }),
    }
}

fn policy_group(plmn: [u8; 3], q: &SliceQuota) -> Vec<pb::RanParameter> {
    use pb::ran_parameter_value::Value;
    let mut snssai = vec![element(param::SST, Value::ValueOctS(vec![q.snssai.sst]))];
    if let Some(sd) = q.snssai.sd {
        snssai.push(element(
            param::SD,
            Value::ValueOctS(sd.to_be_bytes()[1..].to_vec()),
        ));
    }
    let member = vec![
        element(param::PLMN_IDENTITY, Value::ValueOctS(plmn.to_vec())),
        structure(param::S_NSSAI, snssai),
    ];
    vec![
        structure(
            param::RRM_POLICY,
            vec![list(
                param::RRM_POLICY_MEMBER_LIST,
                vec![vec![structure(param::RRM_POLICY_MEMBER, member)]],
            )],
        ),
        element(
            param::MIN_PRB_POLICY_RATIO,
            Value::ValueInt(q.min_ratio.into()),
        ),
        element(
            param::MAX_PRB_POLICY_RATIO,
            Value::ValueInt(q.max_ratio.into()),
        ),
        element(
            param::DEDICATED_PRB_POLICY_RATIO,
            Value::ValueInt(q.dedicated_ratio.into()),
        ),
    ]
}

/// Encodes a slice-level PRB quota control for `cell` as (control header, control message).
pub fn encode_quota_control(cell: &CellId, quotas: &[SliceQuota]) -> (Vec<u8>, Vec<u8>) {
    let header = pb::ControlHeader {
        format: Some(pb::control_header::Format::Format1(
            pb::ControlHeaderFormat1 {
                ue_id: None,
                ric_style_type: STYLE_RADIO_RESOURCE_ALLOCATION,
                ric_control_action_id: ACTION_SLICE_PRB_QUOTA,
                target_cell: Some(pb::CellGlobalId {
                    plmn_id: cell.plmn.to_vec(),
                    nr_cell_id: cell.nci,
                }),
            },
        )),
    }
    .encode_to_vec();
    let groups = quotas.iter().map(|q| policy_group(cell.plmn, q)).collect();
    let message = pb::ControlMessage {
        format: Some(pb::control_message::Format::Format1(
            pb::ControlMessageFormat1 {
                ran_parameters: vec![list(param::RRM_POLICY_RATIO_LIST, groups)],
            },
        )),
    }
    .encode_to_vec();
    (header, message)
}

fn find(
    items: &[pb::RanParameter],
    id: u32,
) -> Result<&pb::ran_parameter_value_type::Kind, RcError> {
    items
        .iter()
        .find(|p| p.id == id)
        .and_then(|p| p.value.as_ref())
        .and_then(|v| v.kind.as_ref())
        .ok_or(RcError::Parameter {
            id,
            problem: "missing",
        })
}

fn find_structure(items: &[pb::RanParameter], id: u32) -> Result<&[pb::RanParameter], RcError> {
    match find(items, id)? {
        pb::ran_parameter_value_type::Kind::Structure(s) => Ok(&s.items),
        _ => Err(RcError::Parameter {
            id,
            problem: "not a structure",
        }),
    }
}

fn find_list(items: &[pb::RanParameter], id: u32) -> Result<&[pb::RanParameterStructure], RcError> {
    match find(items, id)? {
        pb::ran_parameter_value_type::Kind::List(l) => Ok(&l.items),
        _ => Err(RcError::Parameter {
            id,
            problem: "not a list",
        }),
    }
}

fn find_value(
    items: &[pb::RanParameter],
    id: u32,
) -> Result<&pb::ran_parameter_value::Value, RcError> {
    match find(items, id)? {
        pb::ran_parameter_value_type::Kind::Element(e) => {
            e.value.as_ref().ok_or(RcError::Parameter {
                id,
                problem: "empty",
            })
        }
        _ => Err(RcError::Parameter {
            id,
            problem: "not an element",
        }),
    }
}

fn find_int(items: &[pb::RanParameter], id: u32) -> Result<u32, RcError> {
    match find_value(items, id)? {
        pb::ran_parameter_value::Value::ValueInt(v) => {
            u32::try_from(*v).map_err(|_| RcError::Parameter {
                id,
                problem: "negative",
            })
        }
        _ => Err(RcError::Parameter {
            id,
            problem: "not an integer",
        }),
    }
}

fn find_octets(items: &[pb::RanParameter], id: u32) -> Result<&[u8], RcError> {
    match find_value(items, id)? {
        pb::ran_parameter_value::Value::ValueOctS(v) => Ok(v),
        _ => Err(RcError::Parameter {
            id,
            problem: "not an octet string",
        }),
    }
}

fn decode_group(items: &[pb::RanParameter]) -> Result<([u8; 3], Snssai, u32, u32, u32), RcError> {
    let policy = find_structure(items, param::RRM_POLICY)?;
    let members = find_list(policy, param::RRM_POLICY_MEMBER_LIST)?;
    let [member] = members else {
        return Err(RcError::Parameter {
            id: param::RRM_POLICY_MEMBER_LIST,
            problem: "want exactly one member",
        });
    };
    let member = find_structure(&member.items, param::RRM_POLICY_MEMBER)?;
    let plmn: [u8; 3] = find_octets(member, param::PLMN_IDENTITY)?
        .try_into()
        .map_err(|_| RcError::Parameter {
            id: param::PLMN_IDENTITY,
            problem: "not 3 octets",
        })?;
    let snssai = find_structure(member, param::S_NSSAI)?;
    let [sst] = find_octets(snssai, param::SST)? else {
        return Err(RcError::Parameter {
            id: param::SST,
            problem: "not 1 octet",
        });
    };
    let sd = match find_octets(snssai, param::SD) {
        Ok([a, b, c]) => Some(u32::from_be_bytes([0, *a, *b, *c])),
        Ok(_) => {
            return Err(RcError::Parameter {
                id: param::SD,
                problem: "not 3 octets",
            });
        }
        Err(_) => None,
    };
    Ok((
        plmn,
        Snssai::new(*sst, sd),
        find_int(items, param::MIN_PRB_POLICY_RATIO)?,
        find_int(items, param::MAX_PRB_POLICY_RATIO)?,
        find_int(items, param::DEDICATED_PRB_POLICY_RATIO)?,
    ))
}

/// Decodes a slice-level PRB quota control (header and message).
pub fn decode_quota_control(header: &[u8], message: &[u8]) -> Result<QuotaControl, RcError> {
    let h = pb::ControlHeader::decode(header).map_err(|source| KpmError::Malformed {
        what: "control header",
        source,
    })?;
    let Some(pb::control_header::Format::Format1(h)) = h.format else {
        return Err(KpmError::Missing("control header format 1").into());
    };
    if h.ric_style_type != STYLE_RADIO_RESOURCE_ALLOCATION
        || h.ric_control_action_id != ACTION_SLICE_PRB_QUOTA
    {
        return Err(RcError::Unsupported {
            style: h.ric_style_type,
            action: h.ric_control_action_id,
        });
    }
    let target = h.target_cell.map(|c| crate::pb::kpm::CellGlobalId {
        plmn_id: c.plmn_id,
        nr_cell_id: c.nr_cell_id,
    });
    let cell = cell_from_pb(target.as_ref())?;
    let m = pb::ControlMessage::decode(message).map_err(|source| KpmError::Malformed {
        what: "control message",
        source,
    })?;
    let Some(pb::control_message::Format::Format1(m)) = m.format else {
        return Err(KpmError::Missing("control message format 1").into());
    };
    let groups = find_list(&m.ran_parameters, param::RRM_POLICY_RATIO_LIST)?;
    if groups.len() > MAX_GROUPS {
        return Err(RcError::Parameter {
            id: param::RRM_POLICY_RATIO_LIST,
            problem: "too many groups",
        });
    }
    let mut quotas = Vec::with_capacity(groups.len());
    let mut plmn = cell.plmn;
    for g in groups {
        let group = find_structure(&g.items, param::RRM_POLICY_RATIO_GROUP)
            .or(Ok::<_, RcError>(&g.items))?;
        let (p, s, min, max, ded) = decode_group(group)?;
        plmn = p;
        quotas.push((s, min, max, ded));
    }
    Ok(QuotaControl { cell, plmn, quotas })
}

/// Encodes the control outcome: the quotas as applied, with the time they took effect.
pub fn encode_outcome(cell: &CellId, quotas: &[WireQuota], applied_time_ms: u64) -> Vec<u8> {
    let groups = quotas
        .iter()
        .map(|w| policy_group(cell.plmn, &SliceQuota::from_wire(w)))
        .collect();
    pb::ControlOutcome {
        format: Some(pb::control_outcome::Format::Format1(
            pb::ControlOutcomeFormat1 {
                ran_parameters: vec![list(param::RRM_POLICY_RATIO_LIST, groups)],
                applied_time_ms,
            },
        )),
    }
    .encode_to_vec()
}

/// The applied time of a control outcome, if it decodes.
pub fn decode_outcome_time(payload: &[u8]) -> Option<u64> {
    match pb::ControlOutcome::decode(payload).ok()?.format? {
        pb::control_outcome::Format::Format1(f) => Some(f.applied_time_ms),
    }
}

// ---------------------------------------------------------------------------------------
// Handover control (style 3 "Connected Mode Mobility Control", action 1 "Handover Control").

/// Control style 3: Connected Mode Mobility Control.
pub const STYLE_CONNECTED_MODE_MOBILITY: i32 = 3;
/// Control action 1 of style 3: Handover Control.
pub const ACTION_HANDOVER: i32 = 1;

impl RcError {
    /// Bounded label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            RcError::Payload(e) => e.kind(),
            RcError::Unsupported { .. } => "unexpected_action",
            RcError::Parameter { .. } => "bad_parameter",
        }
    }
}

/// Encodes a handover control of `ue` to `target` as (header, message): header format 1
/// with the UE ID (gNB choice, GUAMI of the target's PLMN), style 3 action 1; message the
/// target NR CGI.
pub fn encode_handover_control(ue: nf_core::radio::UeId, target: &CellId) -> (Vec<u8>, Vec<u8>) {
    let k = crate::kpm::radio::ue_id_to_pb(ue, target.plmn);
    let header = pb::ControlHeader {
        format: Some(pb::control_header::Format::Format1(
            pb::ControlHeaderFormat1 {
                ue_id: Some(pb::UeId {
                    amf_ue_ngap_id: k.amf_ue_ngap_id,
                    guami: k.guami,
                }),
                ric_style_type: STYLE_CONNECTED_MODE_MOBILITY,
                ric_control_action_id: ACTION_HANDOVER,
                target_cell: None,
            },
        )),
    }
    .encode_to_vec();
    let message = pb::ControlMessage {
        format: Some(pb::control_message::Format::Handover(pb::HandoverControl {
            target_nr_cgi: Some(pb::CellGlobalId {
                plmn_id: target.plmn.to_vec(),
                nr_cell_id: target.nci,
            }),
        })),
    }
    .encode_to_vec();
    (header, message)
}

/// Decodes a handover control into (UE, target cell). Another style/action is
/// `Unsupported`; a missing or over-40-bit UE ID, or a bad target cell, is refused by name.
pub fn decode_handover_control(
    header: &[u8],
    message: &[u8],
) -> Result<(nf_core::radio::UeId, CellId), RcError> {
    let limit = crate::kpm::Limits::default().max_payload_bytes;
    if let Some(len) = [header.len(), message.len()]
        .into_iter()
        .find(|l| *l > limit)
    {
        return Err(KpmError::Oversize { len, limit }.into());
    }
    let h = pb::ControlHeader::decode(header).map_err(|source| KpmError::Malformed {
        what: "control header",
        source,
    })?;
    let Some(pb::control_header::Format::Format1(h)) = h.format else {
        return Err(KpmError::Missing("control header format 1").into());
    };
    if h.ric_style_type != STYLE_CONNECTED_MODE_MOBILITY
        || h.ric_control_action_id != ACTION_HANDOVER
    {
        return Err(RcError::Unsupported {
            style: h.ric_style_type,
            action: h.ric_control_action_id,
        });
    }
    let id = h.ue_id.map(|u| crate::pb::kpm::UeId {
        amf_ue_ngap_id: u.amf_ue_ngap_id,
        guami: u.guami,
    });
    let ue = crate::kpm::radio::ue_id_from_pb(id.as_ref()).map_err(|_| {
        KpmError::Invalid("UE ID (want a 40-bit AMF UE NGAP ID and a 6-byte GUAMI)")
    })?;
    let m = pb::ControlMessage::decode(message).map_err(|source| KpmError::Malformed {
        what: "control message",
        source,
    })?;
    let Some(pb::control_message::Format::Handover(m)) = m.format else {
        return Err(KpmError::Missing("handover control message").into());
    };
    let target = m.target_nr_cgi.map(|c| crate::pb::kpm::CellGlobalId {
        plmn_id: c.plmn_id,
        nr_cell_id: c.nr_cell_id,
    });
    Ok((ue, cell_from_pb(target.as_ref())?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_control_round_trip() {
        let cell = CellId::new([0x00, 0xf1, 0x10], 7);
        let quotas = [
            SliceQuota {
                snssai: Snssai::new(1, Some(0xabcdef)),
                min_ratio: 20,
                max_ratio: 60,
                dedicated_ratio: 10,
            },
            SliceQuota {
                snssai: Snssai::new(2, None),
                min_ratio: 5,
                max_ratio: 30,
                dedicated_ratio: 0,
            },
        ];
        let (h, m) = encode_quota_control(&cell, &quotas);
        let got = decode_quota_control(&h, &m).unwrap();
        assert_eq!(got.cell, cell);
        assert_eq!(
            got.quotas,
            vec![
                (Snssai::new(1, Some(0xabcdef)), 20, 60, 10),
                (Snssai::new(2, None), 5, 30, 0)
            ]
        );
        let out = encode_outcome(&cell, &got.quotas, 99);
        assert_eq!(decode_outcome_time(&out), Some(99));
    }

    #[test]
    fn wrong_action_and_garbage_are_rejected() {
        let cell = CellId::new([0, 0, 1], 1);
        let (_, m) = encode_quota_control(&cell, &[]);
        let h = pb::ControlHeader {
            format: Some(pb::control_header::Format::Format1(
                pb::ControlHeaderFormat1 {
                    ric_style_type: 3,
                    ric_control_action_id: 1,
                    ..Default::default()
                },
            )),
        }
        .encode_to_vec();
        assert!(matches!(
            decode_quota_control(&h, &m),
            Err(RcError::Unsupported {
                style: 3,
                action: 1
            })
        ));
        assert!(decode_quota_control(&[0xff; 4], &m).is_err());
    }

    #[test]
    fn handover_round_trip_and_refusals() {
        use nf_core::radio::UeId;
        let target = CellId::new([0x00, 0xf1, 0x10], 0x19b1);
        let (h, m) = encode_handover_control(UeId(UeId::MAX), &target);
        assert_eq!(
            decode_handover_control(&h, &m).unwrap(),
            (UeId(UeId::MAX), target)
        );
        // A quota control is not a handover, nor the other way round.
        let (qh, qm) = encode_quota_control(&target, &[]);
        assert_eq!(
            decode_handover_control(&qh, &qm).unwrap_err().kind(),
            "unexpected_action"
        );
        assert!(matches!(
            decode_quota_control(&h, &m),
            Err(RcError::Unsupported {
                style: 3,
                action: 1
            })
        ));
        let (big, _) = encode_handover_control(UeId(UeId::MAX + 1), &target);
        assert_eq!(
            decode_handover_control(&big, &m).unwrap_err().kind(),
            "invalid_id"
        );
        let bad_cell = CellId::new([0x00, 0xf1, 0x10], CellId::MAX_NCI + 1);
        let (h2, m2) = encode_handover_control(UeId(1), &bad_cell);
        assert_eq!(
            decode_handover_control(&h2, &m2).unwrap_err().kind(),
            "invalid_id"
        );
        assert_eq!(
            decode_handover_control(&h, &[0xff; 3]).unwrap_err().kind(),
            "malformed"
        );
    }
}
