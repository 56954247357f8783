//! Conflict mitigation between xApps: the decision core of the conflict-guidance service
//! (`nf-conflict`), I/O-free (time is an argument, every table bounded).
//!
//! xApps that control the same E2 nodes ask the manager before each control
//! ([`ConflictManager::propose`]) and tell it what was applied
//! ([`ConflictManager::report_applied`]) and, optionally, what their KPIs did
//! ([`ConflictManager::report_kpi`]). A xApp's priority comes from the manager's
//! configuration ([`ManagerConfig::xapps`]), never from the xApp itself.
//!
//! # Conflict kinds
//! - **direct**: two xApps on the same RAN parameter of the same target (the slice PRB quota
//!   of one cell; the handover of one UE) — [`ConflictKind::Direct`]. A granted control opens
//!   a *lease* of `lease_ms` during which the holder may send controls on that parameter
//!   without asking again; every other xApp is refused until the lease ends **plus** the
//!   parameter's guard window `guard_ms` (so two xApps' controls on one parameter are always
//!   at least `guard_ms` apart at the E2 node), whatever their priorities: no direct
//!   conflict reaches the node. Priority decides what happens next: a refused xApp of
//!   *higher* priority than the holder gets the parameter *reserved* (resolution
//!   `denied_reserved`): the holder's lease is not renewed and, once the holder's window
//!   ends, nobody but the reserving xApp is granted it for one more guard window. A lease
//!   is never cut short: the client caches it and sends without asking, so shortening it
//!   would need a revocation channel that could itself fail.
//! - **indirect**: an action that changes a KPI another xApp consumes, on a cell that
//!   other xApp steered within `indirect_window_ms` ([`ConflictKind::Indirect`]). A
//!   handover out of cell S into cell T changes `RRU.PrbUsedDl` and `DRB.UEThpDl` of both; a
//!   slice PRB quota on C changes C's `RRU.PrbUsedDl` / `DRB.UEThpDl` and, through C's load,
//!   the `L1M.SS-SINR` / `L1M.SS-RSRQ` / `CARR.WBCQIDist` of C's neighbours (neighbour
//!   relations are learnt from the handovers proposed: source ↔ target). Resolution by
//!   [`IndirectPolicy`]: `count` (default: allowed, counted, logged) or
//!   `deny-lower-priority` (refused when the proposer's priority is lower than the other
//!   xApp's; counted either way).
//! - **implicit**: actions of two different xApps applied on one cell within
//!   `implicit_window_ms`, followed (within the same window) by a KPI report of that cell
//!   that moved against an objective one of them registered, by more than
//!   `implicit_min_change` (relative to the value before the second action)
//!   ([`ConflictKind::Implicit`]). Only counted: it is seen after the fact, and which
//!   action caused it is not measurable from cell KPIs alone.
//!
//! Every conflict is counted by kind and resolution and kept in a bounded recent list.

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::ids::{CellId, check_node_id};
use crate::radio::{UeId, cell_meas, ue_meas};

/// A RAN parameter xApps may contend for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Parameter {
    /// E2SM-RC style 2 action 6: slice-level PRB quota of a cell.
    SlicePrbQuota,
    /// E2SM-RC style 3 action 1: handover of one UE (`ue` set; source `cell`, `target`).
    Handover,
}

impl Parameter {
    pub const ALL: [Parameter; 2] = [Parameter::SlicePrbQuota, Parameter::Handover];

    /// Bounded label (metrics, wire, config keys).
    pub fn name(self) -> &'static str {
        match self {
            Parameter::SlicePrbQuota => "slice_prb_quota",
            Parameter::Handover => "handover",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == s)
    }
}

impl std::fmt::Display for Parameter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What an xApp is about to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlIntent {
    /// The xApp's name as configured at the manager (its RIC app id).
    pub xapp: String,
    /// E2 node ID.
    pub node: String,
    /// The cell controlled (for a handover: the UE's serving, source cell).
    pub cell: CellId,
    /// The UE of a handover.
    pub ue: Option<UeId>,
    pub parameter: Parameter,
    /// Human-readable value (logs only), e.g. `1:min=10,max=60` or `-> 00f110/000000002`.
    pub value: String,
    /// Handover: the target cell (an addition to the interface of issue 10: the indirect
    /// effect of a handover lands on both cells). `None` elsewhere.
    pub target: Option<CellId>,
}

impl ControlIntent {
    /// A slice PRB quota control on `cell`.
    pub fn slice_quota(
        xapp: impl Into<String>,
        node: impl Into<String>,
        cell: CellId,
        value: impl Into<String>,
    ) -> Self {
        Self {
            xapp: xapp.into(),
            node: node.into(),
            cell,
            ue: None,
            parameter: Parameter::SlicePrbQuota,
            value: value.into(),
            target: None,
        }
    }

    /// A handover of `ue` from `source` to `target`.
    pub fn handover(
        xapp: impl Into<String>,
        node: impl Into<String>,
        source: CellId,
        ue: UeId,
        target: CellId,
    ) -> Self {
        Self {
            xapp: xapp.into(),
            node: node.into(),
            cell: source,
            ue: Some(ue),
            parameter: Parameter::Handover,
            value: format!("-> {target}"),
            target: Some(target),
        }
    }

    /// The parameter instance this intent controls.
    pub fn key(&self) -> LeaseKey {
        LeaseKey {
            node: self.node.clone(),
            cell: self.cell,
            parameter: self.parameter,
            ue: self.ue,
        }
    }
}

/// One parameter instance: node, cell, parameter, UE (handover only).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LeaseKey {
    pub node: String,
    pub cell: CellId,
    pub parameter: Parameter,
    pub ue: Option<UeId>,
}

/// The manager's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Guidance {
    /// Send the control; controls on the same parameter instance may be sent without
    /// asking for `lease_ms`.
    Allow { lease_ms: u64 },
    /// Do not send it. `reason` is bounded ([`DENY_REASONS`]); `holder` names the xApp that
    /// holds the parameter or whose input it would change (may be empty).
    Deny {
        reason: &'static str,
        holder: String,
    },
}

/// Every deny reason the manager and the client give.
pub const DENY_REASONS: [&str; 9] = [
    "direct_conflict",
    "reserved",
    "yielding",
    "indirect_conflict",
    "unregistered",
    "invalid_intent",
    "table_full",
    "manager_unavailable",
    "other",
];

/// Kind of a conflict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConflictKind {
    Direct,
    Indirect,
    Implicit,
}

impl ConflictKind {
    pub const ALL: [ConflictKind; 3] = [Self::Direct, Self::Indirect, Self::Implicit];
    pub fn name(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Indirect => "indirect",
            Self::Implicit => "implicit",
        }
    }
}

/// How a conflict was resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resolution {
    /// The proposer was refused (direct: the holder has equal or higher priority).
    Denied,
    /// The proposer (higher priority) was refused and the parameter reserved for it.
    DeniedReserved,
    /// Indirect, `deny-lower-priority`: the lower-priority proposer was refused.
    DeniedLowerPriority,
    /// Allowed and counted.
    Counted,
}

impl Resolution {
    pub const ALL: [Resolution; 4] = [
        Self::Denied,
        Self::DeniedReserved,
        Self::DeniedLowerPriority,
        Self::Counted,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Self::Denied => "denied",
            Self::DeniedReserved => "denied_reserved",
            Self::DeniedLowerPriority => "denied_lower_priority",
            Self::Counted => "counted",
        }
    }
}

/// The (kind, resolution) pairs that can occur, to create counters at zero.
pub const KIND_RESOLUTIONS: [(ConflictKind, Resolution); 5] = [
    (ConflictKind::Direct, Resolution::Denied),
    (ConflictKind::Direct, Resolution::DeniedReserved),
    (ConflictKind::Indirect, Resolution::Counted),
    (ConflictKind::Indirect, Resolution::DeniedLowerPriority),
    (ConflictKind::Implicit, Resolution::Counted),
];

/// Resolution of indirect conflicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IndirectPolicy {
    /// Allow, count and log.
    #[default]
    Count,
    /// Refuse the proposer when its priority is lower than the other xApp's.
    DenyLowerPriority,
}

/// Lease and guard window of one parameter [ms].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Windows {
    /// How long a granted control lets its xApp act on the parameter without asking.
    pub lease_ms: u64,
    /// How long after a lease ends other xApps are still refused.
    pub guard_ms: u64,
}

/// The manager's configuration (validated with [`ManagerConfig::validate`]).
#[derive(Clone, Debug, PartialEq)]
pub struct ManagerConfig {
    /// xApp name → priority (higher wins). Only these xApps may register.
    pub xapps: BTreeMap<String, u32>,
    pub slice_prb_quota: Windows,
    pub handover: Windows,
    pub indirect: IndirectPolicy,
    /// An action on a cell another xApp steered this recently is an indirect conflict [ms].
    pub indirect_window_ms: u64,
    /// Two xApps' actions applied on one cell within this window, and a KPI report within
    /// it after the second, are judged for an implicit conflict [ms].
    pub implicit_window_ms: u64,
    /// Relative KPI change against an objective that makes an implicit conflict.
    pub implicit_min_change: f64,
    /// Most leases held at once (expired ones are pruned first).
    pub max_leases: usize,
    /// Most (node, cell) histories kept.
    pub max_cells: usize,
    /// Length of the recent-conflict list.
    pub max_recent: usize,
}

impl Default for ManagerConfig {
    /// Slice quota: lease 5 s (the scheduler re-decides every period and keeps its lease),
    /// guard 2 s (about eight 250 ms report periods for the quota to show in the KPIs).
    /// Handover: lease 1 s (one order), guard 10 s (another xApp moving the same UE sooner is
    /// a ping-pong). Indirect window 5 s, implicit window 10 s, 20 % change.
    fn default() -> Self {
        Self {
            xapps: BTreeMap::new(),
            slice_prb_quota: Windows {
                lease_ms: 5_000,
                guard_ms: 2_000,
            },
            handover: Windows {
                lease_ms: 1_000,
                guard_ms: 10_000,
            },
            indirect: IndirectPolicy::Count,
            indirect_window_ms: 5_000,
            implicit_window_ms: 10_000,
            implicit_min_change: 0.2,
            max_leases: 100_000,
            max_cells: 100_000,
            max_recent: 256,
        }
    }
}

/// Longest window accepted [ms] (one hour).
pub const MAX_WINDOW_MS: u64 = 3_600_000;
/// Longest xApp name, KPI name and intent value accepted [bytes].
pub const MAX_NAME_BYTES: usize = 128;
pub const MAX_VALUE_BYTES: usize = 256;
/// Most KPIs, objectives and cells one registration may list.
pub const MAX_KPIS: usize = 64;
pub const MAX_REG_CELLS: usize = 65_536;
/// Most distinct KPIs kept per cell for implicit-conflict detection.
const MAX_KPI_VALUES: usize = 16;
/// Most actions remembered per cell.
const MAX_ACTIONS_PER_CELL: usize = 8;
/// Most neighbours remembered per cell.
const MAX_NEIGHBOURS: usize = 16;

impl ManagerConfig {
    /// Names the bad key.
    pub fn validate(&self) -> Result<(), String> {
        if self.xapps.is_empty() {
            return Err("xapps: at least one xApp with its priority".into());
        }
        for name in self.xapps.keys() {
            check_name(name).map_err(|e| format!("xapps.{name}: {e}"))?;
        }
        for (key, w) in [
            ("parameters.slice_prb_quota", self.slice_prb_quota),
            ("parameters.handover", self.handover),
        ] {
            if w.lease_ms == 0 || w.lease_ms > MAX_WINDOW_MS {
                return Err(format!("{key}.lease_ms: 1..={MAX_WINDOW_MS}"));
            }
            if w.guard_ms > MAX_WINDOW_MS {
                return Err(format!("{key}.guard_ms: 0..={MAX_WINDOW_MS}"));
            }
        }
        for (key, v) in [
            ("indirect_window_ms", self.indirect_window_ms),
            ("implicit_window_ms", self.implicit_window_ms),
        ] {
            if v > MAX_WINDOW_MS {
                return Err(format!("{key}: 0..={MAX_WINDOW_MS}"));
            }
        }
        if !(self.implicit_min_change.is_finite() && self.implicit_min_change > 0.0) {
            return Err("implicit_min_change: a finite fraction > 0".into());
        }
        for (key, v, max) in [
            ("max_leases", self.max_leases, 10_000_000),
            ("max_cells", self.max_cells, 10_000_000),
            ("max_recent", self.max_recent, 100_000),
        ] {
            if v == 0 || v > max {
                return Err(format!("{key}: 1..={max}"));
            }
        }
        Ok(())
    }

    pub fn windows(&self, p: Parameter) -> Windows {
        match p {
            Parameter::SlicePrbQuota => self.slice_prb_quota,
            Parameter::Handover => self.handover,
        }
    }
}

fn check_name(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > MAX_NAME_BYTES {
        return Err(format!("name of 1..={MAX_NAME_BYTES} bytes"));
    }
    if let Some(c) = s.chars().find(|c| !matches!(c, '!'..='~')) {
        return Err(format!(
            "name holds {c:?} (printable ASCII without spaces only)"
        ));
    }
    Ok(())
}

/// A KPI an xApp wants to move one way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Objective {
    pub kpi: String,
    pub higher_is_better: bool,
}

/// What an xApp tells the manager about itself (its priority is the manager's).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Registration {
    pub xapp: String,
    /// Input KPIs (TS 28.552 names) its decisions read.
    pub consumes: Vec<String>,
    /// Cells it consumes them on; empty = every cell it sees.
    pub cells: Vec<CellId>,
    pub objectives: Vec<Objective>,
}

/// Why a registration is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    #[error("xApp `{0}` is not in the manager's configuration (priorities are the manager's)")]
    UnknownXapp(String),
    #[error("registration refused: {0}")]
    Invalid(String),
}

/// A conflict seen, as kept in the recent list and logged.
#[derive(Clone, Debug, PartialEq)]
pub struct Conflict {
    pub t_ms: u64,
    pub kind: ConflictKind,
    pub resolution: Resolution,
    pub node: String,
    pub cell: CellId,
    /// The parameter proposed (implicit: the later action's).
    pub parameter: Parameter,
    /// The proposer (implicit: the xApp whose objective suffered).
    pub xapp: String,
    /// The other xApp (holder, consumer, co-actor).
    pub other: String,
    pub detail: String,
}

#[derive(Clone, Debug)]
struct Registered {
    priority: u32,
    consumes: Vec<String>,
    cells: Option<std::collections::HashSet<CellId>>,
    objectives: Vec<Objective>,
}

#[derive(Clone, Debug)]
struct Lease {
    holder: String,
    /// End of the guard window after it.
    blocked_until_ms: u64,
    /// A higher-priority xApp refused by this lease: it gets the parameter next.
    reserved_for: Option<String>,
}

#[derive(Clone, Debug, Default)]
struct CellHistory {
    /// Recent granted actions: (xApp, parameter, t).
    granted: VecDeque<(String, Parameter, u64)>,
    /// Recent applied actions: (xApp, parameter, t).
    applied: VecDeque<(String, Parameter, u64)>,
    neighbours: Vec<CellId>,
    /// Last reported value per KPI.
    kpis: Vec<(String, f64)>,
    /// An open implicit-conflict episode.
    episode: Option<Episode>,
    last_ms: u64,
}

#[derive(Clone, Debug)]
struct Episode {
    start_ms: u64,
    parameter: Parameter,
    actors: [String; 2],
    baseline: Vec<(String, f64)>,
}

/// The conflict manager's state.
#[derive(Debug)]
pub struct ConflictManager {
    cfg: ManagerConfig,
    registered: HashMap<String, Registered>,
    leases: HashMap<LeaseKey, Lease>,
    cells: HashMap<(String, CellId), CellHistory>,
    recent: VecDeque<Conflict>,
    counts: BTreeMap<(ConflictKind, Resolution), u64>,
}

/// KPIs of `cell` changed by a PRB quota there or a handover into / out of it.
const LOAD_KPIS: [&str; 3] = [
    crate::radio::cell_meas::PRB_USED_DL,
    ue_meas::UE_THP_DL,
    ue_meas::PRB_USED_DL,
];
/// KPIs of a neighbour changed through the cell's load (interference).
const NEIGHBOUR_KPIS: [&str; 4] = [
    ue_meas::SS_SINR,
    ue_meas::SS_RSRQ,
    ue_meas::WB_CQI,
    ue_meas::UE_THP_DL,
];

impl ConflictManager {
    /// `cfg` must have passed [`ManagerConfig::validate`].
    pub fn new(cfg: ManagerConfig) -> Self {
        Self {
            cfg,
            registered: HashMap::new(),
            leases: HashMap::new(),
            cells: HashMap::new(),
            recent: VecDeque::new(),
            counts: KIND_RESOLUTIONS.iter().map(|k| (*k, 0)).collect(),
        }
    }

    pub fn config(&self) -> &ManagerConfig {
        &self.cfg
    }

    /// Registers (or re-registers) an xApp; returns its configured priority.
    pub fn register(&mut self, reg: Registration) -> Result<u32, RegisterError> {
        let Some(&priority) = self.cfg.xapps.get(&reg.xapp) else {
            return Err(RegisterError::UnknownXapp(
                crate::ids::Escaped(&reg.xapp).to_string(),
            ));
        };
        if reg.consumes.len() > MAX_KPIS || reg.objectives.len() > MAX_KPIS {
            return Err(RegisterError::Invalid(format!(
                "more than {MAX_KPIS} KPIs or objectives"
            )));
        }
        if reg.cells.len() > MAX_REG_CELLS {
            return Err(RegisterError::Invalid(format!(
                "more than {MAX_REG_CELLS} cells"
            )));
        }
        for k in reg
            .consumes
            .iter()
            .chain(reg.objectives.iter().map(|o| &o.kpi))
        {
            check_name(k).map_err(|e| RegisterError::Invalid(format!("KPI: {e}")))?;
        }
        self.registered.insert(
            reg.xapp,
            Registered {
                priority,
                consumes: reg.consumes,
                cells: (!reg.cells.is_empty()).then(|| reg.cells.into_iter().collect()),
                objectives: reg.objectives,
            },
        );
        Ok(priority)
    }

    /// Conflicts counted so far by kind and resolution (every pair present).
    pub fn counts(&self) -> &BTreeMap<(ConflictKind, Resolution), u64> {
        &self.counts
    }

    pub fn count(&self, kind: ConflictKind) -> u64 {
        self.counts
            .iter()
            .filter(|((k, _), _)| *k == kind)
            .map(|(_, n)| n)
            .sum()
    }

    /// The most recent conflicts, oldest first.
    pub fn recent(&self) -> impl Iterator<Item = &Conflict> {
        self.recent.iter()
    }

    /// Leases and cell histories held (for the memory bound).
    pub fn sizes(&self) -> (usize, usize) {
        (self.leases.len(), self.cells.len())
    }

    fn record(&mut self, c: Conflict) -> Conflict {
        *self.counts.entry((c.kind, c.resolution)).or_default() += 1;
        if self.recent.len() >= self.cfg.max_recent {
            self.recent.pop_front();
        }
        self.recent.push_back(c.clone());
        c
    }

    fn priority(&self, xapp: &str) -> u32 {
        self.registered.get(xapp).map_or(0, |r| r.priority)
    }

    /// Asks to act. Returns the guidance and the conflicts it caused (already counted and
    /// kept; the caller logs them).
    pub fn propose(&mut self, now_ms: u64, intent: &ControlIntent) -> (Guidance, Vec<Conflict>) {
        let deny = |reason: &'static str, holder: &str| Guidance::Deny {
            reason,
            holder: holder.to_owned(),
        };
        if !self.registered.contains_key(&intent.xapp) {
            return (deny("unregistered", ""), Vec::new());
        }
        if invalid(intent).is_some() {
            return (deny("invalid_intent", ""), Vec::new());
        }
        let key = intent.key();
        let windows = self.cfg.windows(intent.parameter);
        let mut conflicts = Vec::new();
        // Direct.
        if let Some(lease) = self.leases.get(&key).cloned() {
            let reserved_until = lease.blocked_until_ms.saturating_add(windows.guard_ms);
            if now_ms < lease.blocked_until_ms {
                if lease.holder == intent.xapp {
                    if let Some(r) = &lease.reserved_for {
                        return (deny("yielding", r), conflicts);
                    }
                } else {
                    let (resolution, reserve) =
                        if self.priority(&intent.xapp) > self.priority(&lease.holder) {
                            (Resolution::DeniedReserved, true)
                        } else {
                            (Resolution::Denied, false)
                        };
                    if reserve
                        && let Some(l) = self.leases.get_mut(&key)
                        && l.reserved_for.is_none()
                    {
                        l.reserved_for = Some(intent.xapp.clone());
                    }
                    let c = self.record(Conflict {
                        t_ms: now_ms,
                        kind: ConflictKind::Direct,
                        resolution,
                        node: intent.node.clone(),
                        cell: intent.cell,
                        parameter: intent.parameter,
                        xapp: intent.xapp.clone(),
                        other: lease.holder.clone(),
                        detail: format!(
                            "{} {}held by {} for {} ms more",
                            intent.parameter,
                            intent.ue.map(|u| format!("of {u} ")).unwrap_or_default(),
                            lease.holder,
                            lease.blocked_until_ms - now_ms
                        ),
                    });
                    conflicts.push(c);
                    return (deny("direct_conflict", &lease.holder), conflicts);
                }
            } else if let Some(r) = &lease.reserved_for
                && *r != intent.xapp
                && now_ms < reserved_until
            {
                return (deny("reserved", r), conflicts);
            }
        }
        // Indirect.
        let affected = self.affected(intent);
        let mut others: Vec<(String, CellId, &'static str)> = Vec::new();
        for (cell, kpis) in &affected {
            let Some(h) = self.cells.get(&(intent.node.clone(), *cell)) else {
                continue;
            };
            for (other, _, t) in &h.granted {
                if *other == intent.xapp
                    || now_ms.saturating_sub(*t) > self.cfg.indirect_window_ms
                    || others.iter().any(|(o, _, _)| o == other)
                {
                    continue;
                }
                let Some(reg) = self.registered.get(other) else {
                    continue;
                };
                if reg.cells.as_ref().is_some_and(|c| !c.contains(cell)) {
                    continue;
                }
                if let Some(k) = kpis.iter().find(|k| reg.consumes.iter().any(|c| c == *k)) {
                    others.push((other.clone(), *cell, k));
                }
            }
        }
        let mut denied_by = None;
        for (other, cell, kpi) in others {
            let lower = self.priority(&intent.xapp) < self.priority(&other);
            let resolution = if lower && self.cfg.indirect == IndirectPolicy::DenyLowerPriority {
                denied_by.get_or_insert_with(|| other.clone());
                Resolution::DeniedLowerPriority
            } else {
                Resolution::Counted
            };
            let c = self.record(Conflict {
                t_ms: now_ms,
                kind: ConflictKind::Indirect,
                resolution,
                node: intent.node.clone(),
                cell,
                parameter: intent.parameter,
                xapp: intent.xapp.clone(),
                other: other.clone(),
                detail: format!(
                    "{} {} changes {kpi} of cell {cell}, an input of {other} which acted there within {} ms",
                    intent.parameter, intent.value, self.cfg.indirect_window_ms
                ),
            });
            conflicts.push(c);
        }
        if let Some(other) = denied_by {
            return (deny("indirect_conflict", &other), conflicts);
        }
        // Grant.
        if !self.leases.contains_key(&key) && self.leases.len() >= self.cfg.max_leases {
            self.prune_leases(now_ms);
            if self.leases.len() >= self.cfg.max_leases {
                return (deny("table_full", ""), conflicts);
            }
        }
        self.leases.insert(
            key,
            Lease {
                holder: intent.xapp.clone(),
                blocked_until_ms: now_ms
                    .saturating_add(windows.lease_ms)
                    .saturating_add(windows.guard_ms),
                reserved_for: None,
            },
        );
        for (cell, _) in &affected {
            let h = self.history(now_ms, &intent.node, *cell);
            push_bounded(
                &mut h.granted,
                (intent.xapp.clone(), intent.parameter, now_ms),
            );
        }
        if let Some(target) = intent.target {
            self.learn_neighbours(now_ms, &intent.node, intent.cell, target);
        }
        (
            Guidance::Allow {
                lease_ms: windows.lease_ms,
            },
            conflicts,
        )
    }

    /// The cells an intent changes and which of their KPIs.
    fn affected(&self, intent: &ControlIntent) -> Vec<(CellId, Vec<&'static str>)> {
        let mut out = vec![(intent.cell, LOAD_KPIS.to_vec())];
        match intent.parameter {
            Parameter::Handover => {
                if let Some(t) = intent.target.filter(|t| *t != intent.cell) {
                    out.push((t, LOAD_KPIS.to_vec()));
                }
            }
            Parameter::SlicePrbQuota => {
                if let Some(h) = self.cells.get(&(intent.node.clone(), intent.cell)) {
                    for n in &h.neighbours {
                        out.push((*n, NEIGHBOUR_KPIS.to_vec()));
                    }
                }
                // The cell's own UEs' SINR does not move with its own quota; its load does.
                out[0].1.push(cell_meas::PRB_AVAIL_DL);
            }
        }
        out
    }

    fn learn_neighbours(&mut self, now_ms: u64, node: &str, a: CellId, b: CellId) {
        if a == b {
            return;
        }
        for (x, y) in [(a, b), (b, a)] {
            let h = self.history(now_ms, node, x);
            if !h.neighbours.contains(&y) {
                if h.neighbours.len() >= MAX_NEIGHBOURS {
                    h.neighbours.remove(0);
                }
                h.neighbours.push(y);
            }
        }
    }

    fn history(&mut self, now_ms: u64, node: &str, cell: CellId) -> &mut CellHistory {
        let key = (node.to_owned(), cell);
        if !self.cells.contains_key(&key) && self.cells.len() >= self.cfg.max_cells {
            // Forget the cell heard from least recently.
            if let Some(old) = self
                .cells
                .iter()
                .min_by_key(|(_, h)| h.last_ms)
                .map(|(k, _)| k.clone())
            {
                self.cells.remove(&old);
            }
        }
        let h = self.cells.entry(key).or_default();
        h.last_ms = now_ms;
        h
    }

    fn prune_leases(&mut self, now_ms: u64) {
        let guards: BTreeMap<Parameter, u64> = Parameter::ALL
            .iter()
            .map(|p| (*p, self.cfg.windows(*p).guard_ms))
            .collect();
        self.leases.retain(|k, l| {
            let reserved_until = l.blocked_until_ms.saturating_add(guards[&k.parameter]);
            now_ms < l.blocked_until_ms || (l.reserved_for.is_some() && now_ms < reserved_until)
        });
    }

    /// Periodic housekeeping: drops expired leases and cells silent for longer than every
    /// window.
    pub fn expire(&mut self, now_ms: u64) {
        self.prune_leases(now_ms);
        let keep = self
            .cfg
            .indirect_window_ms
            .max(self.cfg.implicit_window_ms)
            .max(self.cfg.handover.guard_ms * 2);
        self.cells
            .retain(|_, h| now_ms.saturating_sub(h.last_ms) <= keep.saturating_mul(2));
    }

    /// A control was applied (`ok`) or failed at the node. Applied actions of two different
    /// xApps on one cell within the implicit window open an implicit-conflict episode.
    pub fn report_applied(&mut self, now_ms: u64, intent: &ControlIntent, ok: bool) {
        if !ok || !self.registered.contains_key(&intent.xapp) || invalid(intent).is_some() {
            return;
        }
        let window = self.cfg.implicit_window_ms;
        let mut cells = vec![intent.cell];
        cells.extend(intent.target.filter(|t| *t != intent.cell));
        for cell in cells {
            let h = self.history(now_ms, &intent.node, cell);
            let co_actor = h
                .applied
                .iter()
                .rev()
                .find(|(x, _, t)| *x != intent.xapp && now_ms.saturating_sub(*t) <= window)
                .map(|(x, _, _)| x.clone());
            push_bounded(
                &mut h.applied,
                (intent.xapp.clone(), intent.parameter, now_ms),
            );
            if let Some(other) = co_actor
                && h.episode.is_none()
            {
                h.episode = Some(Episode {
                    start_ms: now_ms,
                    parameter: intent.parameter,
                    actors: [intent.xapp.clone(), other],
                    baseline: h.kpis.clone(),
                });
            }
        }
    }

    /// A KPI of a cell as an xApp saw it. Judges an open implicit-conflict episode.
    pub fn report_kpi(
        &mut self,
        now_ms: u64,
        node: &str,
        cell: CellId,
        kpi: &str,
        value: f64,
    ) -> Option<Conflict> {
        if !value.is_finite() || check_name(kpi).is_err() || check_node_id(node).is_err() {
            return None;
        }
        let window = self.cfg.implicit_window_ms;
        let min_change = self.cfg.implicit_min_change;
        let objectives: Vec<(String, Objective)> = self
            .registered
            .iter()
            .flat_map(|(x, r)| r.objectives.iter().map(move |o| (x.clone(), o.clone())))
            .filter(|(_, o)| o.kpi == kpi)
            .collect();
        let h = self.history(now_ms, node, cell);
        match h.kpis.iter().position(|(k, _)| k == kpi) {
            Some(i) => h.kpis[i].1 = value,
            None if h.kpis.len() < MAX_KPI_VALUES => h.kpis.push((kpi.to_owned(), value)),
            None => {}
        }
        let ep = h.episode.as_ref()?;
        if now_ms.saturating_sub(ep.start_ms) > window {
            h.episode = None;
            return None;
        }
        let before = ep
            .baseline
            .iter()
            .find(|(k, _)| k == kpi)
            .map(|(_, v)| *v)?;
        let change = (value - before) / before.abs().max(1e-9);
        let (victim, objective) = objectives.iter().find(|(x, o)| {
            ep.actors.contains(x)
                && if o.higher_is_better {
                    change < -min_change
                } else {
                    change > min_change
                }
        })?;
        let other = ep.actors.iter().find(|a| *a != victim)?.clone();
        let parameter = ep.parameter;
        h.episode = None;
        let c = Conflict {
            t_ms: now_ms,
            kind: ConflictKind::Implicit,
            resolution: Resolution::Counted,
            node: node.to_owned(),
            cell,
            parameter,
            xapp: victim.clone(),
            other,
            detail: format!(
                "{kpi} moved {before:.3} -> {value:.3} ({:+.0} %) against {victim}'s objective ({}) after both acted",
                change * 100.0,
                if objective.higher_is_better {
                    "higher is better"
                } else {
                    "lower is better"
                }
            ),
        };
        Some(self.record(c))
    }
}

/// Why an intent is malformed, if it is.
pub fn invalid(intent: &ControlIntent) -> Option<String> {
    if let Err(e) = check_name(&intent.xapp) {
        return Some(format!("xapp: {e}"));
    }
    if let Err(e) = check_node_id(&intent.node) {
        return Some(format!("node: {e}"));
    }
    if intent.cell.nci > CellId::MAX_NCI {
        return Some("cell: NCI over 36 bits".into());
    }
    if intent.value.len() > MAX_VALUE_BYTES {
        return Some(format!("value: over {MAX_VALUE_BYTES} bytes"));
    }
    match intent.parameter {
        Parameter::Handover => {
            if intent.ue.is_none_or(|u| u.0 > UeId::MAX) {
                return Some("handover without a UE (AMF UE NGAP ID, 40 bits)".into());
            }
            if intent.target.is_none_or(|t| t.nci > CellId::MAX_NCI) {
                return Some("handover without a valid target cell".into());
            }
        }
        Parameter::SlicePrbQuota => {
            if intent.ue.is_some() || intent.target.is_some() {
                return Some("a slice PRB quota names no UE and no target".into());
            }
        }
    }
    None
}

fn push_bounded<T>(q: &mut VecDeque<T>, v: T) {
    if q.len() >= MAX_ACTIONS_PER_CELL {
        q.pop_front();
    }
    q.push_back(v);
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLICE: &str = "slice-xapp";
    const INTF: &str = "interference-xapp";

    fn cell(n: u64) -> CellId {
        CellId::new([0x00, 0xf1, 0x10], n)
    }

    fn cfg() -> ManagerConfig {
        ManagerConfig {
            xapps: [(SLICE.to_owned(), 10), (INTF.to_owned(), 5)].into(),
            ..ManagerConfig::default()
        }
    }

    fn manager(cfg: ManagerConfig) -> ConflictManager {
        cfg.validate().expect("valid");
        let mut m = ConflictManager::new(cfg);
        m.register(Registration {
            xapp: SLICE.into(),
            consumes: vec!["RRU.PrbUsedDl".into(), "DRB.UEThpDl".into()],
            cells: vec![],
            objectives: vec![Objective {
                kpi: "DRB.UEThpDl".into(),
                higher_is_better: true,
            }],
        })
        .expect("slice registers");
        m.register(Registration {
            xapp: INTF.into(),
            consumes: ue_meas::ALL.iter().map(|s| s.to_string()).collect(),
            cells: vec![],
            objectives: vec![],
        })
        .expect("interference registers");
        m
    }

    fn quota(x: &str, c: u64) -> ControlIntent {
        ControlIntent::slice_quota(x, "gnb-1", cell(c), "1:max=60")
    }

    fn allowed(g: &Guidance) -> bool {
        matches!(g, Guidance::Allow { .. })
    }

    #[test]
    fn direct_conflict_is_denied_whatever_the_priority() {
        let mut m = manager(cfg());
        let (g, _) = m.propose(0, &quota(INTF, 1));
        assert_eq!(g, Guidance::Allow { lease_ms: 5_000 });
        // The higher-priority scheduler is refused while the lease and its guard run.
        let (g, c) = m.propose(100, &quota(SLICE, 1));
        assert_eq!(
            g,
            Guidance::Deny {
                reason: "direct_conflict",
                holder: INTF.into()
            }
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].resolution, Resolution::DeniedReserved);
        // The holder may not renew: the parameter is reserved for the higher priority.
        let (g, _) = m.propose(200, &quota(INTF, 1));
        assert_eq!(
            g,
            Guidance::Deny {
                reason: "yielding",
                holder: SLICE.into()
            }
        );
        // Still refused during the guard window after the lease (5 s + 2 s).
        assert!(!allowed(&m.propose(6_999, &quota(SLICE, 1)).0));
        // After it, the reservation gives it to the scheduler, not to the holder.
        assert_eq!(
            m.propose(7_000, &quota(INTF, 1)).0,
            Guidance::Deny {
                reason: "reserved",
                holder: SLICE.into()
            }
        );
        assert!(allowed(&m.propose(7_001, &quota(SLICE, 1)).0));
        // A lower-priority proposer is refused without a reservation.
        let (g, c) = m.propose(7_002, &quota(INTF, 1));
        assert!(!allowed(&g));
        assert_eq!(c[0].resolution, Resolution::Denied);
        // Another cell is another parameter instance.
        assert!(allowed(&m.propose(7_003, &quota(INTF, 2)).0));
        assert_eq!(m.count(ConflictKind::Direct), 3);
        // The holder renews its own lease freely.
        assert!(allowed(&m.propose(8_000, &quota(SLICE, 1)).0));
    }

    #[test]
    fn handovers_of_one_ue_conflict_others_do_not() {
        let mut m = manager(cfg());
        let ho = |x: &str, ue: u64| ControlIntent::handover(x, "gnb-1", cell(1), UeId(ue), cell(2));
        assert!(allowed(&m.propose(0, &ho(INTF, 7)).0));
        let (g, _) = m.propose(500, &ho(SLICE, 7));
        assert!(!allowed(&g));
        assert!(allowed(&m.propose(500, &ho(SLICE, 8)).0));
        // Handover windows: lease 1 s + guard 10 s.
        assert!(!allowed(&m.propose(10_999, &ho(SLICE, 7)).0));
        assert!(allowed(&m.propose(11_000, &ho(SLICE, 7)).0));
        assert_eq!(m.count(ConflictKind::Direct), 2);
    }

    #[test]
    fn leases_expire() {
        let mut m = manager(cfg());
        assert!(allowed(&m.propose(0, &quota(SLICE, 1)).0));
        assert!(!allowed(&m.propose(6_999, &quota(INTF, 1)).0));
        assert!(allowed(&m.propose(7_000, &quota(INTF, 1)).0));
        m.expire(1_000_000);
        assert_eq!(m.sizes(), (0, 0));
    }

    #[test]
    fn handover_into_a_cell_the_scheduler_just_cut_is_indirect() {
        let mut m = manager(cfg());
        assert!(allowed(&m.propose(0, &quota(SLICE, 2)).0));
        let ho = ControlIntent::handover(INTF, "gnb-1", cell(1), UeId(7), cell(2));
        let (g, c) = m.propose(1_000, &ho);
        assert!(allowed(&g), "count is the default policy");
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].kind, ConflictKind::Indirect);
        assert_eq!(c[0].resolution, Resolution::Counted);
        assert_eq!(c[0].cell, cell(2));
        assert_eq!(c[0].other, SLICE);
        // Outside the window it is not a conflict.
        let ho2 = ControlIntent::handover(INTF, "gnb-1", cell(1), UeId(8), cell(2));
        assert!(m.propose(6_001, &ho2).1.is_empty());
        // Other nodes' cells are other cells.
        let ho3 = ControlIntent::handover(INTF, "gnb-2", cell(1), UeId(9), cell(2));
        assert!(m.propose(1_000, &ho3).1.is_empty());
    }

    #[test]
    fn deny_lower_priority_refuses_the_lower_one_only() {
        let mut m = manager(ManagerConfig {
            indirect: IndirectPolicy::DenyLowerPriority,
            ..cfg()
        });
        assert!(allowed(&m.propose(0, &quota(SLICE, 2)).0));
        let ho = ControlIntent::handover(INTF, "gnb-1", cell(1), UeId(7), cell(2));
        let (g, c) = m.propose(1_000, &ho);
        assert_eq!(
            g,
            Guidance::Deny {
                reason: "indirect_conflict",
                holder: SLICE.into()
            }
        );
        assert_eq!(c[0].resolution, Resolution::DeniedLowerPriority);
        // The other way round: the scheduler (higher) after a handover (which the
        // interference xApp consumes through the neighbour relation) is counted, allowed.
        let ho = ControlIntent::handover(INTF, "gnb-1", cell(3), UeId(9), cell(4));
        assert!(allowed(&m.propose(2_000, &ho).0));
        let (g, c) = m.propose(2_100, &quota(SLICE, 4));
        assert!(allowed(&g));
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].resolution, Resolution::Counted);
    }

    #[test]
    fn a_quota_changes_the_neighbours_sinr() {
        let mut m = manager(cfg());
        // The handover teaches the manager that cells 1 and 2 are neighbours.
        let ho = ControlIntent::handover(INTF, "gnb-1", cell(1), UeId(7), cell(2));
        assert!(allowed(&m.propose(0, &ho).0));
        // A quota on cell 5 (no relation to 1/2) is no conflict.
        assert!(m.propose(100, &quota(SLICE, 5)).1.is_empty());
        let (_, c) = m.propose(200, &quota(SLICE, 1));
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0].other, INTF);
    }

    #[test]
    fn implicit_conflict_needs_two_actors_and_a_kpi_moving_the_wrong_way() {
        let mut m = manager(cfg());
        let q = quota(SLICE, 1);
        let ho = ControlIntent::handover(INTF, "gnb-1", cell(1), UeId(7), cell(2));
        assert!(
            m.report_kpi(0, "gnb-1", cell(1), "DRB.UEThpDl", 10_000.0)
                .is_none()
        );
        m.report_applied(100, &q, true);
        // One actor: no episode.
        assert!(
            m.report_kpi(500, "gnb-1", cell(1), "DRB.UEThpDl", 1_000.0)
                .is_none()
        );
        assert!(
            m.report_kpi(600, "gnb-1", cell(1), "DRB.UEThpDl", 10_000.0)
                .is_none()
        );
        m.report_applied(1_000, &ho, true);
        // A small move is not a conflict; a 30 % drop of the scheduler's objective is.
        assert!(
            m.report_kpi(1_500, "gnb-1", cell(1), "DRB.UEThpDl", 9_000.0)
                .is_none()
        );
        let c = m
            .report_kpi(2_000, "gnb-1", cell(1), "DRB.UEThpDl", 7_000.0)
            .expect("implicit");
        assert_eq!(c.kind, ConflictKind::Implicit);
        assert_eq!(c.xapp, SLICE);
        assert_eq!(c.other, INTF);
        // Counted once per episode.
        assert!(
            m.report_kpi(2_500, "gnb-1", cell(1), "DRB.UEThpDl", 5_000.0)
                .is_none()
        );
        assert_eq!(m.count(ConflictKind::Implicit), 1);
        // A failed control opens nothing.
        m.report_applied(3_000, &quota(SLICE, 9), false);
        m.report_applied(3_100, &quota(INTF, 9), false);
        assert!(
            m.report_kpi(3_200, "gnb-1", cell(9), "DRB.UEThpDl", 1.0)
                .is_none()
        );
    }

    #[test]
    fn unknown_xapps_and_bad_intents_are_refused() {
        let mut m = manager(cfg());
        let e = m.register(Registration {
            xapp: "rogue".into(),
            ..Registration::default()
        });
        assert!(matches!(e, Err(RegisterError::UnknownXapp(_))));
        assert_eq!(
            m.propose(0, &quota("rogue", 1)).0,
            Guidance::Deny {
                reason: "unregistered",
                holder: String::new()
            }
        );
        let mut bad = ControlIntent::handover(INTF, "gnb-1", cell(1), UeId(7), cell(2));
        bad.ue = None;
        assert_eq!(
            m.propose(0, &bad).0,
            Guidance::Deny {
                reason: "invalid_intent",
                holder: String::new()
            }
        );
        let mut bad = quota(SLICE, 1);
        bad.node = "gnb\n1".into();
        assert!(!allowed(&m.propose(0, &bad).0));
        assert!(m.sizes().0 == 0);
    }

    #[test]
    fn memory_is_bounded() {
        let mut m = manager(ManagerConfig {
            max_leases: 1_000,
            max_cells: 500,
            max_recent: 10,
            ..cfg()
        });
        let mut granted = 0;
        for i in 0..5_000u64 {
            let ho = ControlIntent::handover(INTF, "gnb-1", cell(i), UeId(i), cell(i + 1));
            if allowed(&m.propose(i, &ho).0) {
                granted += 1;
            }
            let _ = m.propose(i, &quota(SLICE, i));
        }
        let (leases, cells) = m.sizes();
        assert!(leases <= 1_000, "{leases}");
        assert!(cells <= 500, "{cells}");
        assert!(m.recent().count() <= 10);
        assert!(granted > 0 && granted < 5_000);
        // Once time passes, the table frees and grants again.
        let ho = ControlIntent::handover(INTF, "gnb-1", cell(1), UeId(99_999), cell(2));
        assert!(allowed(&m.propose(100_000, &ho).0));
    }

    #[test]
    fn config_names_the_bad_key() {
        let mut c = cfg();
        c.handover.lease_ms = 0;
        assert!(
            c.validate()
                .unwrap_err()
                .contains("parameters.handover.lease_ms")
        );
        let mut c = cfg();
        c.xapps.insert("bad name".into(), 1);
        assert!(c.validate().unwrap_err().contains("xapps.bad name"));
        let mut c = cfg();
        c.implicit_min_change = f64::NAN;
        assert!(c.validate().unwrap_err().contains("implicit_min_change"));
        assert!(ManagerConfig::default().validate().is_err(), "no xApps");
    }
}
