//! Ingest: one indication in, at most a few finished [`Period`]s out. Decodes the UE-level
//! report (style 4) or the cell radio report (style 1), refuses what is impossible (each UE
//! on its own: one bad UE does not cost the others their report), keeps per-UE windows of
//! the last [`WINDOW`] periods (at most `max_ues_per_cell` UEs per cell: a new UE past it
//! evicts the one reported least recently, counted) and the latest cell radio report per
//! cell, and closes a period when every cell of the node has reported it, when a later
//! period starts, or half a report period after its first report (`flush_due`).

use std::collections::{HashMap, HashSet};

use e2_asn1::kpm::IndicationScope;
use nf_core::CellId;
use nf_core::radio::{CellRadio, UeId, UeLevelReport, UeRadio};
use nf_core::radio_features::WINDOW;

use super::MobTask;
use crate::metrics::Metrics;
use crate::transport::Indication;

/// What one indication reports on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Ue,
    CellRadio,
}

/// The UEs reported in one period of one node, ready for a decision.
#[derive(Debug)]
pub(crate) struct Period {
    /// Collection start of the period [ms].
    pub t_ms: u64,
    /// Arrival of its first report on our clock [ns].
    pub arrival_ns: u64,
    /// The UEs reported in it.
    pub ues: Vec<UeId>,
}

/// One UE's recent reports.
#[derive(Debug)]
pub(crate) struct UeWindow {
    /// Serving cell of the last report.
    pub cell: CellId,
    /// Oldest first, at most [`WINDOW`].
    pub reports: Vec<UeRadio>,
    /// Collection start of the last report [ms].
    pub last_t_ms: u64,
    /// When the last report arrived, our clock [ms].
    pub seen_ms: u64,
}

/// A period being collected.
#[derive(Debug)]
struct Collecting {
    t_ms: u64,
    arrival_ns: u64,
    cells: HashSet<CellId>,
    ues: Vec<UeId>,
}

/// Every `reason` of `xapp_ue_reports_dropped_total`.
pub const UE_DROP_REASONS: &[&str] = &[
    "undecodable",
    "unknown_cell",
    "impossible_value",
    "out_of_order",
    "evicted",
    "aged_out",
    "window_filling",
    "missing_measurement",
];

pub(crate) struct Ingest<'a> {
    task: &'a MobTask,
    ues: HashMap<UeId, UeWindow>,
    /// UEs per cell (for the per-cell bound).
    per_cell: HashMap<CellId, usize>,
    /// The latest cell radio report per cell, with its arrival [ms].
    cells: HashMap<CellId, (CellRadio, u64)>,
    collecting: Option<Collecting>,
}

impl<'a> Ingest<'a> {
    pub fn new(task: &'a MobTask) -> Self {
        Self {
            task,
            ues: HashMap::new(),
            per_cell: HashMap::new(),
            cells: HashMap::new(),
            collecting: None,
        }
    }

    /// The window of `ue`, if it is tracked.
    pub fn window(&self, ue: &UeId) -> Option<&UeWindow> {
        self.ues.get(ue)
    }

    /// The latest cell radio report of `cell`, if one arrived.
    pub fn cell_radio(&self, cell: &CellId) -> Option<&CellRadio> {
        self.cells.get(cell).map(|(c, _)| c)
    }

    /// The kind and cell of an indication from its action ID (`2·i` UE-level, `2·i + 1`
    /// cell radio, `i` the cell's position), where the RIC says it.
    fn action(&self, action_id: Option<u8>) -> Option<(Kind, CellId)> {
        let a = usize::from(action_id?);
        let cell = self.task.node.cells.get(a / 2)?.cell;
        Some((
            if a % 2 == 0 {
                Kind::Ue
            } else {
                Kind::CellRadio
            },
            cell,
        ))
    }

    /// Takes one indication; the periods it finished, if any.
    pub fn accept(&mut self, ind: Indication) -> Vec<Period> {
        let t = self.task;
        t.metrics.indications.inc();
        let granularity_ms = t.cfg.report_period_ms;
        let scope_of = |cell| IndicationScope {
            cell,
            granularity_ms,
        };
        // Where the RIC does not name the action: the node's only cell, if it has one
        // (`proto` indications name their cell themselves).
        let only_cell = match t.node.cells.as_slice() {
            [one] => Some(one.cell),
            _ => None,
        };
        let limits = &t.cfg.limits;
        let decoded = match self.action(ind.action_id) {
            Some((Kind::Ue, cell)) => t
                .codec
                .decode_ue_indication(&ind.header, &ind.message, limits, Some(scope_of(cell)))
                .map(Decoded::Ue),
            Some((Kind::CellRadio, cell)) => t
                .codec
                .decode_cell_radio_indication(
                    &ind.header,
                    &ind.message,
                    limits,
                    Some(scope_of(cell)),
                )
                .map(Decoded::Cell),
            None if ind.action_id.is_some() => {
                Metrics::inc(&t.metrics.mobility.ue_dropped, "unknown_cell");
                return Vec::new();
            }
            None => {
                let scope = only_cell.map(scope_of);
                // The message format tells them apart: try the UE-level one first.
                match t
                    .codec
                    .decode_ue_indication(&ind.header, &ind.message, limits, scope)
                {
                    Ok(r) => Ok(Decoded::Ue(r)),
                    Err(ue_err) => t
                        .codec
                        .decode_cell_radio_indication(&ind.header, &ind.message, limits, scope)
                        .map(Decoded::Cell)
                        .map_err(|_| ue_err),
                }
            }
        };
        match decoded {
            Ok(Decoded::Ue(r)) => self.ue_report(r),
            Ok(Decoded::Cell(c)) => {
                self.cell_report(c);
                Vec::new()
            }
            Err(e) => {
                Metrics::inc(&t.metrics.mobility.ue_dropped, "undecodable");
                if let Some(n) = t.metrics.mobility.log_limit.admit(t.clock.now_ns()) {
                    tracing::warn!(e2_node = %t.node.id, kind = e.kind(), cause = %e, suppressed = n, "radio indication refused");
                }
                Vec::new()
            }
        }
    }

    fn known_cell(&self, cell: &CellId) -> bool {
        self.task.node.cells.iter().any(|c| c.cell == *cell)
    }

    fn cell_report(&mut self, c: CellRadio) {
        let t = self.task;
        let m = &t.metrics.mobility;
        if !self.known_cell(&c.cell) {
            Metrics::inc(&m.ue_dropped, "unknown_cell");
            return;
        }
        let bad = |v: Option<f32>| v.is_some_and(|v| !v.is_finite() || v < 0.0);
        let over = matches!((c.prb_used_dl, c.prb_avail_dl), (Some(u), Some(a)) if u > a + 0.5);
        if bad(c.prb_used_dl) || bad(c.prb_avail_dl) || over {
            Metrics::inc(&m.ue_dropped, "impossible_value");
            if let Some(n) = m.log_limit.admit(t.clock.now_ns()) {
                tracing::warn!(e2_node = %t.node.id, cell = %c.cell, used = ?c.prb_used_dl, avail = ?c.prb_avail_dl, suppressed = n, "cell radio report refused: impossible PRB counts");
            }
            return;
        }
        m.cell_reports.inc();
        let now = t.clock.unix_ms();
        match self.cells.get(&c.cell) {
            Some((old, _)) if old.collection_start_ms >= c.collection_start_ms => {
                Metrics::inc(&m.ue_dropped, "out_of_order");
            }
            _ => {
                self.cells.insert(c.cell, (c, now));
            }
        }
    }

    fn ue_report(&mut self, r: UeLevelReport) -> Vec<Period> {
        let t = self.task;
        let m = &t.metrics.mobility;
        if !self.known_cell(&r.cell) {
            Metrics::inc(&m.ue_dropped, "unknown_cell");
            return Vec::new();
        }
        let mut done = Vec::new();
        let arrival_ns = t.clock.now_ns();
        match &self.collecting {
            Some(c) if r.collection_start_ms > c.t_ms => done.extend(self.flush_now()),
            Some(c) if r.collection_start_ms < c.t_ms => {
                // A report of a period already decided.
                m.ue_dropped
                    .get_or_create(&crate::metrics::Reason {
                        reason: "out_of_order",
                    })
                    .inc_by(r.ues.len() as u64);
                return done;
            }
            _ => {}
        }
        let collecting = self.collecting.get_or_insert_with(|| Collecting {
            t_ms: r.collection_start_ms,
            arrival_ns,
            cells: HashSet::new(),
            ues: Vec::new(),
        });
        collecting.cells.insert(r.cell);
        let now_ms = t.clock.unix_ms();
        let mut accepted = Vec::with_capacity(r.ues.len());
        for ue in r.ues {
            if let Err(e) = ue.check() {
                Metrics::inc(&m.ue_dropped, "impossible_value");
                if let Some(n) = m.log_limit.admit(t.clock.now_ns()) {
                    tracing::warn!(e2_node = %t.node.id, cell = %r.cell, cause = %e, suppressed = n, "UE measurement refused");
                }
                continue;
            }
            let id = ue.ue;
            if self.store(r.cell, r.collection_start_ms, now_ms, ue) {
                m.ue_reports.inc();
                accepted.push(id);
            }
        }
        if let Some(c) = &mut self.collecting {
            c.ues.extend(accepted);
            let all = t.node.cells.iter().all(|x| c.cells.contains(&x.cell));
            if all {
                done.extend(self.flush_now());
            }
        }
        done
    }

    /// Writes one checked UE report into its window; false (counted) when refused.
    fn store(&mut self, cell: CellId, t_ms: u64, now_ms: u64, ue: UeRadio) -> bool {
        let m = &self.task.metrics.mobility;
        let id = ue.ue;
        if let Some(w) = self.ues.get_mut(&id) {
            if t_ms <= w.last_t_ms {
                Metrics::inc(&m.ue_dropped, "out_of_order");
                return false;
            }
            if w.cell != cell {
                // Handed over (by us or by the RAN): the window goes with the UE.
                if let Some(n) = self.per_cell.get_mut(&w.cell) {
                    *n = n.saturating_sub(1);
                }
                *self.per_cell.entry(cell).or_default() += 1;
                w.cell = cell;
            }
            if w.reports.len() >= WINDOW {
                w.reports.remove(0);
            }
            w.reports.push(ue);
            w.last_t_ms = t_ms;
            w.seen_ms = now_ms;
            return true;
        }
        if self.per_cell.get(&cell).copied().unwrap_or(0) >= self.task.icfg.max_ues_per_cell {
            self.evict_one(cell);
        }
        *self.per_cell.entry(cell).or_default() += 1;
        self.task.metrics.mobility.ues.inc();
        self.ues.insert(
            id,
            UeWindow {
                cell,
                reports: vec![ue],
                last_t_ms: t_ms,
                seen_ms: now_ms,
            },
        );
        true
    }

    /// Evicts the UE of `cell` reported least recently (counted).
    fn evict_one(&mut self, cell: CellId) {
        let oldest = self
            .ues
            .iter()
            .filter(|(_, w)| w.cell == cell)
            .min_by_key(|(_, w)| (w.seen_ms, w.last_t_ms))
            .map(|(id, _)| *id);
        if let Some(id) = oldest {
            self.remove(id);
            Metrics::inc(&self.task.metrics.mobility.ue_dropped, "evicted");
        }
    }

    fn remove(&mut self, id: UeId) {
        if let Some(w) = self.ues.remove(&id) {
            if let Some(n) = self.per_cell.get_mut(&w.cell) {
                *n = n.saturating_sub(1);
            }
            self.task.metrics.mobility.ues.dec();
        }
    }

    /// Closes the period being collected, if any.
    pub fn flush_now(&mut self) -> Option<Period> {
        let c = self.collecting.take()?;
        Some(Period {
            t_ms: c.t_ms,
            arrival_ns: c.arrival_ns,
            ues: c.ues,
        })
    }

    /// Closes the period being collected when half a report period has passed since its
    /// first report (a cell that did not report it is not waited for).
    pub fn flush_due(&mut self) -> Option<Period> {
        let c = self.collecting.as_ref()?;
        let half_ns = u64::from(self.task.cfg.report_period_ms) * 500_000;
        if self.task.clock.now_ns().saturating_sub(c.arrival_ns) >= half_ns {
            self.flush_now()
        } else {
            None
        }
    }

    /// Forgets UEs and cells not reported for `stale_after_ms`; returns the UEs (counted).
    pub fn age_out(&mut self) -> Vec<UeId> {
        let now = self.task.clock.unix_ms();
        let stale = self.task.icfg.stale_after_ms;
        let gone: Vec<UeId> = self
            .ues
            .iter()
            .filter(|(_, w)| now.saturating_sub(w.seen_ms) > stale)
            .map(|(id, _)| *id)
            .collect();
        for id in &gone {
            self.remove(*id);
            Metrics::inc(&self.task.metrics.mobility.ue_dropped, "aged_out");
        }
        self.cells
            .retain(|_, (_, seen)| now.saturating_sub(*seen) <= stale);
        gone
    }
}

enum Decoded {
    Ue(UeLevelReport),
    Cell(CellRadio),
}
