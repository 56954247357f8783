//! Per-cell, per-slice rolling windows of KPM measurements.
//!
//! The table is fed decoded reports with the time they arrived and answers what happened:
//! a fresh report, a duplicate, an out-of-order one, or one after a gap (missing reports
//! are filled by carrying the last report forward, so the window stays one row per period,
//! and counted). Cells that stop reporting age out. Memory is bounded: each slice keeps at
//! most `window` rows, each cell at most [`MAX_SLICES_PER_CELL`] slices and the table at
//! most `max_cells` cells.
//!
//! Report times come from the node and are not trusted: a report whose collection start
//! jumped further ahead of the cell's last one than our own clock moved plus
//! [`StateConfig::max_ahead_ms`] is refused ([`Ingest::TooFarAhead`]) and changes nothing,
//! so one report stamped years ahead cannot stall the cell or count years of missing
//! periods. Every sum of times saturates (values near `u64::MAX` neither wrap nor panic).

use std::collections::VecDeque;

use rustc_hash::FxHashMap;

use crate::ids::{CellId, Snssai};
use crate::kpm::{KpmReport, MeasVec};

/// Upper bound on slices tracked per cell (TS 38.331 allows 8 S-NSSAIs per UE; cells
/// rarely carry more than a handful).
pub const MAX_SLICES_PER_CELL: usize = 16;
/// Gaps longer than this many periods reset a slice's window instead of being filled.
pub const MAX_FILLED_GAP: u64 = 4;

/// Tunables of the table.
#[derive(Clone, Copy, Debug)]
pub struct StateConfig {
    /// Rows kept per slice (the model's input window).
    pub window: usize,
    /// A cell not heard from for this long is dropped [ms].
    pub stale_after_ms: u64,
    /// Most cells tracked at once; reports of further cells are refused.
    pub max_cells: usize,
    /// How far a cell's collection time may run ahead of the time our clock moved since its
    /// last report [ms]; further is refused as [`Ingest::TooFarAhead`].
    pub max_ahead_ms: u64,
}

/// Default of [`StateConfig::max_ahead_ms`]: one minute.
pub const DEFAULT_MAX_AHEAD_MS: u64 = 60_000;

/// What ingesting one report did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ingest {
    /// Appended; `missing` reports before it were filled in. (Whether it came late is its
    /// end-to-end age, which only the node's clock estimate knows:
    /// [`crate::latency::NodeClock`].)
    Fresh { missing: u64 },
    /// Same collection period as the last one: ignored.
    Duplicate,
    /// Older than the last one: ignored.
    OutOfOrder,
    /// The table is full and this cell is new: ignored.
    TableFull,
    /// The collection time jumped implausibly far ahead of the cell's last report: ignored.
    TooFarAhead,
}

#[derive(Debug)]
struct SliceWindow {
    rows: VecDeque<MeasVec>,
}

#[derive(Debug)]
struct CellState {
    last_start_ms: Option<u64>,
    last_seen_ms: u64,
    prb_avail_dl: Option<f32>,
    slices: Vec<(Snssai, SliceWindow)>,
}

/// All cells of one shard (one E2 node, typically).
#[derive(Debug)]
pub struct CellTable {
    cfg: StateConfig,
    /// Fx hashing: keys are cell identities from the node, looked up on every report.
    cells: FxHashMap<CellId, CellState>,
}

impl CellTable {
    pub fn new(cfg: StateConfig) -> Self {
        Self {
            cfg,
            cells: FxHashMap::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.cells.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Ingests `report`, received at `now_ms` (Unix milliseconds).
    pub fn ingest(&mut self, report: &KpmReport, now_ms: u64) -> Ingest {
        let period = u64::from(report.granularity_ms.max(1));
        let start = report.collection_start_ms;
        let window = self.cfg.window;
        if !self.cells.contains_key(&report.cell) && self.cells.len() >= self.cfg.max_cells {
            return Ingest::TableFull;
        }
        let cell = self.cells.entry(report.cell).or_insert_with(|| CellState {
            last_start_ms: None,
            last_seen_ms: now_ms,
            prb_avail_dl: None,
            slices: Vec::new(),
        });
        let missing = match cell.last_start_ms {
            None => 0,
            Some(last) if start == last => return Ingest::Duplicate,
            Some(last) if start < last => return Ingest::OutOfOrder,
            Some(last) => {
                let moved = now_ms.saturating_sub(cell.last_seen_ms);
                let allowed = moved
                    .saturating_add(period)
                    .saturating_add(self.cfg.max_ahead_ms);
                if start - last > allowed {
                    return Ingest::TooFarAhead;
                }
                ((start - last) / period).saturating_sub(1)
            }
        };
        cell.last_start_ms = Some(report.collection_start_ms);
        cell.last_seen_ms = now_ms;
        if let Some(prb) = report.prb_avail_dl() {
            cell.prb_avail_dl = Some(prb);
        }
        for (snssai, meas) in &report.slices {
            let idx = match cell.slices.iter().position(|(s, _)| s == snssai) {
                Some(i) => i,
                None if cell.slices.len() < MAX_SLICES_PER_CELL => {
                    cell.slices.push((
                        *snssai,
                        SliceWindow {
                            rows: VecDeque::with_capacity(window),
                        },
                    ));
                    cell.slices.len() - 1
                }
                None => continue,
            };
            let rows = &mut cell.slices[idx].1.rows;
            if missing > MAX_FILLED_GAP {
                rows.clear();
            } else if let Some(last) = rows.back().copied() {
                for _ in 0..missing {
                    push_bounded(rows, last, window);
                }
            }
            push_bounded(rows, *meas, window);
        }
        Ingest::Fresh { missing }
    }

    /// Drops cells not heard from since `now_ms - stale_after_ms`; returns them.
    pub fn age_out(&mut self, now_ms: u64) -> Vec<CellId> {
        let horizon = now_ms.saturating_sub(self.cfg.stale_after_ms);
        let gone: Vec<CellId> = self
            .cells
            .iter()
            .filter(|(_, c)| c.last_seen_ms < horizon)
            .map(|(id, _)| *id)
            .collect();
        for id in &gone {
            self.cells.remove(id);
        }
        gone
    }

    /// Slices of `cell` whose window is full, with their rows (oldest first).
    pub fn ready_slices(
        &self,
        cell: &CellId,
    ) -> impl Iterator<Item = (Snssai, &VecDeque<MeasVec>)> {
        let window = self.cfg.window;
        self.cells
            .get(cell)
            .into_iter()
            .flat_map(|c| c.slices.iter())
            .filter(move |(_, w)| w.rows.len() == window)
            .map(|(s, w)| (*s, &w.rows))
    }

    /// PRBs available on the cell's DL carrier, as last reported.
    pub fn prb_avail_dl(&self, cell: &CellId) -> Option<f32> {
        self.cells.get(cell).and_then(|c| c.prb_avail_dl)
    }

    /// Configured window length.
    pub fn window(&self) -> usize {
        self.cfg.window
    }
}

fn push_bounded(rows: &mut VecDeque<MeasVec>, row: MeasVec, window: usize) {
    if rows.len() == window {
        rows.pop_front();
    }
    rows.push_back(row);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kpm::Meas;

    const CFG: StateConfig = StateConfig {
        window: 3,
        stale_after_ms: 1_000,
        max_cells: 2,
        max_ahead_ms: 10_000,
    };

    fn report(cell: u64, start: u64, prb: f32) -> KpmReport {
        let mut m = MeasVec::default();
        m.set(Meas::PrbUsedDl, prb);
        KpmReport {
            cell: CellId::new([0, 0xf1, 0x10], cell),
            collection_start_ms: start,
            granularity_ms: 100,
            cell_meas: MeasVec::default(),
            slices: vec![(Snssai::new(1, None), m)],
        }
    }

    fn prbs(t: &CellTable, cell: u64) -> Vec<f32> {
        let id = CellId::new([0, 0xf1, 0x10], cell);
        t.cells[&id].slices[0]
            .1
            .rows
            .iter()
            .map(|r| r.get(Meas::PrbUsedDl))
            .collect()
    }

    #[test]
    fn duplicates_out_of_order_and_gaps_are_told_apart() {
        let mut t = CellTable::new(CFG);
        assert_eq!(
            t.ingest(&report(1, 1000, 1.0), 1100),
            Ingest::Fresh { missing: 0 }
        );
        assert_eq!(t.ingest(&report(1, 1000, 9.0), 1101), Ingest::Duplicate);
        assert_eq!(t.ingest(&report(1, 900, 9.0), 1102), Ingest::OutOfOrder);
        // One period missing: carried forward.
        assert_eq!(
            t.ingest(&report(1, 1200, 3.0), 1300),
            Ingest::Fresh { missing: 1 }
        );
        assert_eq!(prbs(&t, 1), vec![1.0, 1.0, 3.0]);
        // Arriving 200 ms after its period ended changes nothing here: lateness is the
        // report's end-to-end age, 200 ms over the fastest transit seen (0 ms above).
        assert_eq!(
            t.ingest(&report(1, 1300, 4.0), 1600),
            Ingest::Fresh { missing: 0 }
        );
        let mut clock = crate::latency::NodeClock::new(10_000, 10_000);
        assert_eq!(clock.observe(1300, 1300).ok(), Some(0));
        assert_eq!(clock.observe(1400, 1600).ok(), Some(200));
        assert_eq!(prbs(&t, 1), vec![1.0, 3.0, 4.0]);
        // A long gap resets the window.
        assert!(matches!(
            t.ingest(&report(1, 5000, 5.0), 5100),
            Ingest::Fresh { missing: 36, .. }
        ));
        assert_eq!(prbs(&t, 1), vec![5.0]);
    }

    #[test]
    fn ready_only_when_window_is_full_and_table_is_bounded() {
        let mut t = CellTable::new(CFG);
        let id = CellId::new([0, 0xf1, 0x10], 1);
        for (i, start) in [1000, 1100].into_iter().enumerate() {
            t.ingest(&report(1, start, i as f32), start + 100);
        }
        assert_eq!(t.ready_slices(&id).count(), 0);
        t.ingest(&report(1, 1200, 2.0), 1300);
        assert_eq!(t.ready_slices(&id).count(), 1);
        t.ingest(&report(2, 1200, 2.0), 1300);
        assert_eq!(t.ingest(&report(3, 1200, 2.0), 1300), Ingest::TableFull);
    }

    #[test]
    fn reports_from_the_far_future_are_refused_and_change_nothing() {
        let mut t = CellTable::new(CFG);
        t.ingest(&report(1, 1000, 1.0), 1100);
        let ten_years = 10 * 365 * 86_400_000;
        assert_eq!(
            t.ingest(&report(1, 1000 + ten_years, 9.0), 1200),
            Ingest::TooFarAhead
        );
        // Near u64::MAX: no overflow (panics in debug without saturation), refused too.
        assert_eq!(
            t.ingest(&report(1, u64::MAX - 10, 9.0), 1300),
            Ingest::TooFarAhead
        );
        // The cell goes on as if the bad reports never came.
        assert_eq!(
            t.ingest(&report(1, 1100, 2.0), 1200),
            Ingest::Fresh { missing: 0 }
        );
        assert_eq!(prbs(&t, 1), vec![1.0, 2.0]);
        // A first report near u64::MAX is taken (nothing to compare with) without overflow.
        let mut t = CellTable::new(CFG);
        assert!(matches!(
            t.ingest(&report(1, u64::MAX - 1, 1.0), 5),
            Ingest::Fresh { .. }
        ));
        // After a silence, the collection time may move as far as our clock did.
        let mut t = CellTable::new(CFG);
        t.ingest(&report(1, 1000, 1.0), 1100);
        assert!(matches!(
            t.ingest(&report(1, 31_000, 1.0), 31_100),
            Ingest::Fresh { .. }
        ));
    }

    #[test]
    fn silent_cells_age_out() {
        let mut t = CellTable::new(CFG);
        t.ingest(&report(1, 1000, 1.0), 1000);
        t.ingest(&report(2, 1000, 1.0), 1800);
        assert_eq!(t.age_out(2500), vec![CellId::new([0, 0xf1, 0x10], 1)]);
        assert_eq!(t.len(), 1);
    }
}
