//! The simulator's control log: every E2SM-RC control an E2 node received, with the app that
//! sent it (onos E2T request header `app_id`; O-RAN SC: the RMR sender), and the count of
//! direct conflicts between apps.
//!
//! A **direct conflict** is a control that reached a node while a control of *another* app
//! on the same node, the same cell and the same RAN parameter (E2SM-RC style/action; for a
//! handover the same UE instead of the same cell) was at most `window_ms` old. Every
//! decoded control counts, accepted or refused: it reached the node either way. Each
//! conflicting control is counted once, however many earlier ones it collides with.
//! Controls that could not be decoded name no parameter and never count.

use std::collections::{HashMap, VecDeque};

use nf_core::CellId;
use nf_core::radio::UeId;

/// Most entries kept; older ones are dropped and counted.
pub const MAX_ENTRIES: usize = 100_000;

/// The RAN parameter a control acts on (E2SM-RC style / action).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ControlParameter {
    /// Style 2 (radio resource allocation) action 6: slice-level PRB quota.
    SlicePrbQuota,
    /// Style 3 (connected-mode mobility) action 1: handover.
    Handover,
}

impl ControlParameter {
    /// Bounded label (logs, the summary JSON).
    pub fn label(self) -> &'static str {
        match self {
            Self::SlicePrbQuota => "rc_style2_action6_slice_prb_quota",
            Self::Handover => "rc_style3_action1_handover",
        }
    }
}

/// One control as a node received it.
#[derive(Clone, Debug, PartialEq)]
pub struct ControlRecord {
    /// Milliseconds since the simulator started (set when logged).
    pub t_ms: u64,
    /// The sender: onos E2T request header `app_id` (O-RAN SC face: the RMR source).
    pub app_id: String,
    /// The sender's instance: onos E2T request header `app_instance_id` (O-RAN SC face: the
    /// RMR source, as `app_id`).
    pub app_instance_id: String,
    /// E2 node ID (empty when the request named no known node).
    pub node: String,
    /// Cells the control acts on (a handover: the UE's serving cell).
    pub cells: Vec<CellId>,
    /// The UE (handover).
    pub ue: Option<UeId>,
    /// `None`: the control could not be decoded.
    pub parameter: Option<ControlParameter>,
    /// Human-readable value (quotas, handover target).
    pub value: String,
    pub accepted: bool,
    /// Bounded cause label of a refusal.
    pub cause: Option<&'static str>,
}

impl ControlRecord {
    /// The summary-JSON form.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "t_ms": self.t_ms,
            "app_id": self.app_id,
            "app_instance_id": self.app_instance_id,
            "node": self.node,
            "cells": self.cells.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "ue": self.ue.map(|u| u.0),
            "parameter": self.parameter.map(ControlParameter::label),
            "value": self.value,
            "accepted": self.accepted,
            "cause": self.cause,
        })
    }
}

/// Bounded log of controls.
#[derive(Debug, Default)]
pub(crate) struct ControlLog {
    entries: VecDeque<ControlRecord>,
    dropped: u64,
}

impl ControlLog {
    pub fn push(&mut self, r: ControlRecord) {
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.pop_front();
            self.dropped += 1;
        }
        self.entries.push_back(r);
    }

    pub fn entries(&self) -> impl Iterator<Item = &ControlRecord> {
        self.entries.iter()
    }

    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// What two controls must share to conflict directly.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Target {
    Cell(CellId),
    Ue(UeId),
}

/// Direct conflicts in `log` (in arrival order) within `window_ms`: see the module docs.
pub fn direct_conflicts(log: &[ControlRecord], window_ms: u64) -> u64 {
    // (node, parameter, target) → app → time of its latest control there.
    let mut last: HashMap<(&str, ControlParameter, Target), HashMap<&str, u64>> = HashMap::new();
    let mut count = 0;
    for r in log {
        let Some(param) = r.parameter else { continue };
        let targets: Vec<Target> = match (param, r.ue) {
            (ControlParameter::Handover, Some(ue)) => vec![Target::Ue(ue)],
            _ => r.cells.iter().copied().map(Target::Cell).collect(),
        };
        let mut conflicting = false;
        for t in targets {
            let apps = last.entry((r.node.as_str(), param, t)).or_default();
            conflicting |= apps.iter().any(|(app, &at)| {
                *app != r.app_id.as_str() && r.t_ms.saturating_sub(at) <= window_ms
            });
            apps.insert(r.app_id.as_str(), r.t_ms);
        }
        count += u64::from(conflicting);
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(
        t_ms: u64,
        app: &str,
        nci: u64,
        param: ControlParameter,
        ue: Option<u64>,
    ) -> ControlRecord {
        ControlRecord {
            t_ms,
            app_id: app.into(),
            app_instance_id: app.into(),
            node: "n".into(),
            cells: vec![CellId::new([0, 0xf1, 0x10], nci)],
            ue: ue.map(UeId),
            parameter: Some(param),
            value: String::new(),
            accepted: true,
            cause: None,
        }
    }

    #[test]
    fn only_other_apps_on_the_same_target_within_the_window_conflict() {
        use ControlParameter::*;
        let log = [
            rec(0, "a", 1, SlicePrbQuota, None),
            rec(10, "a", 1, SlicePrbQuota, None), // same app: no conflict
            rec(20, "b", 2, SlicePrbQuota, None), // other cell: no
            rec(30, "b", 1, Handover, Some(7)),   // other parameter: no
            rec(40, "b", 1, SlicePrbQuota, None), // a's at 10 is 30 ms old: conflict
            rec(500, "a", 1, SlicePrbQuota, None), // b's at 40 is 460 ms old: conflict (window 500)
            rec(1990, "b", 1, Handover, Some(7)), // b again: no
            rec(2000, "b", 1, SlicePrbQuota, None), // a's at 500 is 1500 ms old: no
            rec(2010, "a", 3, Handover, Some(7)), // b's handover of ue 7 on another cell: conflict
        ];
        assert_eq!(direct_conflicts(&log, 500), 3);
        assert_eq!(direct_conflicts(&log, 100), 2);
        assert_eq!(direct_conflicts(&log, 0), 0);
    }
}
