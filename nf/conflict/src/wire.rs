//! Conversions between the `airan.conflict.v1` messages and the `nf_core::conflict` types,
//! checked: a message that does not make a valid intent is refused with the field named.

use e2_proto::pb::conflict as pb;
use nf_core::CellId;
use nf_core::conflict::{
    Conflict, ConflictKind, ControlIntent, Guidance, Objective, Parameter, Registration, Resolution,
};
use nf_core::radio::UeId;

/// A message refused, with the field it names.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct WireError {
    pub field: &'static str,
    pub problem: String,
}

fn bad(field: &'static str, problem: impl Into<String>) -> WireError {
    WireError {
        field,
        problem: problem.into(),
    }
}

pub fn cell_to_pb(c: &CellId) -> pb::Cell {
    pb::Cell {
        plmn: c.plmn.to_vec(),
        nci: c.nci,
    }
}

pub fn cell_from_pb(c: Option<&pb::Cell>, field: &'static str) -> Result<CellId, WireError> {
    let c = c.ok_or_else(|| bad(field, "missing"))?;
    let plmn: [u8; 3] = c
        .plmn
        .as_slice()
        .try_into()
        .map_err(|_| bad(field, format!("PLMN of {} bytes, not 3", c.plmn.len())))?;
    if c.nci > CellId::MAX_NCI {
        return Err(bad(field, "NCI over 36 bits"));
    }
    Ok(CellId::new(plmn, c.nci))
}

pub fn parameter_to_pb(p: Parameter) -> pb::Parameter {
    match p {
        Parameter::SlicePrbQuota => pb::Parameter::SlicePrbQuota,
        Parameter::Handover => pb::Parameter::Handover,
    }
}

pub fn parameter_from_pb(v: i32) -> Result<Parameter, WireError> {
    match pb::Parameter::try_from(v) {
        Ok(pb::Parameter::SlicePrbQuota) => Ok(Parameter::SlicePrbQuota),
        Ok(pb::Parameter::Handover) => Ok(Parameter::Handover),
        _ => Err(bad("intent.parameter", format!("unknown parameter {v}"))),
    }
}

pub fn intent_to_pb(i: &ControlIntent) -> pb::ControlIntent {
    pb::ControlIntent {
        xapp: i.xapp.clone(),
        node: i.node.clone(),
        cell: Some(cell_to_pb(&i.cell)),
        ue: i.ue.map(|u| u.0),
        parameter: parameter_to_pb(i.parameter) as i32,
        value: i.value.clone(),
        target: i.target.as_ref().map(cell_to_pb),
    }
}

pub fn intent_from_pb(i: Option<&pb::ControlIntent>) -> Result<ControlIntent, WireError> {
    let i = i.ok_or_else(|| bad("intent", "missing"))?;
    let intent = ControlIntent {
        xapp: i.xapp.clone(),
        node: i.node.clone(),
        cell: cell_from_pb(i.cell.as_ref(), "intent.cell")?,
        ue: i.ue.map(UeId),
        parameter: parameter_from_pb(i.parameter)?,
        value: i.value.clone(),
        target: match &i.target {
            Some(t) => Some(cell_from_pb(Some(t), "intent.target")?),
            None => None,
        },
    };
    if let Some(problem) = nf_core::conflict::invalid(&intent) {
        return Err(bad("intent", problem));
    }
    Ok(intent)
}

pub fn registration_to_pb(r: &Registration) -> pb::RegisterRequest {
    pb::RegisterRequest {
        xapp: r.xapp.clone(),
        consumes: r.consumes.clone(),
        cells: r.cells.iter().map(cell_to_pb).collect(),
        objectives: r
            .objectives
            .iter()
            .map(|o| pb::Objective {
                kpi: o.kpi.clone(),
                higher_is_better: o.higher_is_better,
            })
            .collect(),
    }
}

pub fn registration_from_pb(r: &pb::RegisterRequest) -> Result<Registration, WireError> {
    if r.cells.len() > nf_core::conflict::MAX_REG_CELLS {
        return Err(bad("cells", "too many"));
    }
    Ok(Registration {
        xapp: r.xapp.clone(),
        consumes: r.consumes.clone(),
        cells: r
            .cells
            .iter()
            .map(|c| cell_from_pb(Some(c), "cells"))
            .collect::<Result<_, _>>()?,
        objectives: r
            .objectives
            .iter()
            .map(|o| Objective {
                kpi: o.kpi.clone(),
                higher_is_better: o.higher_is_better,
            })
            .collect(),
    })
}

pub fn guidance_to_pb(g: &Guidance) -> pb::ProposeResponse {
    match g {
        Guidance::Allow { lease_ms } => pb::ProposeResponse {
            allow: true,
            lease_ms: *lease_ms,
            ..Default::default()
        },
        Guidance::Deny { reason, holder } => pb::ProposeResponse {
            allow: false,
            lease_ms: 0,
            reason: (*reason).to_owned(),
            holder: holder.clone(),
        },
    }
}

/// The manager's answer; a deny reason outside [`nf_core::conflict::DENY_REASONS`] (a newer
/// manager) is labelled `other`, so metric labels stay bounded.
pub fn guidance_from_pb(r: &pb::ProposeResponse) -> Guidance {
    if r.allow {
        return Guidance::Allow {
            lease_ms: r.lease_ms,
        };
    }
    let reason = nf_core::conflict::DENY_REASONS
        .into_iter()
        .find(|k| *k == r.reason)
        .unwrap_or("other");
    Guidance::Deny {
        reason,
        holder: r
            .holder
            .chars()
            .take(nf_core::conflict::MAX_NAME_BYTES)
            .collect(),
    }
}

pub fn conflict_to_pb(c: &Conflict) -> pb::Conflict {
    pb::Conflict {
        t_ms: c.t_ms,
        kind: c.kind.name().to_owned(),
        resolution: c.resolution.name().to_owned(),
        node: c.node.clone(),
        cell: Some(cell_to_pb(&c.cell)),
        parameter: parameter_to_pb(c.parameter) as i32,
        xapp: c.xapp.clone(),
        other: c.other.clone(),
        detail: c.detail.clone(),
    }
}

/// Kind and resolution labels of a count, checked against the known sets.
pub fn kind_resolution(kind: &str, resolution: &str) -> Option<(ConflictKind, Resolution)> {
    let k = ConflictKind::ALL.into_iter().find(|k| k.name() == kind)?;
    let r = Resolution::ALL
        .into_iter()
        .find(|r| r.name() == resolution)?;
    Some((k, r))
}
