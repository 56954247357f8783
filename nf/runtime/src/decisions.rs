//! The decision log: one JSON line per decision (cell, report period and role), written in
//! a canonical order so that the same trace, model and configuration give a
//! byte-identical file.
//!
//! A line holds the report's collection time, node, cell, A/B arm and role (acting or
//! shadow), a digest of the model input window, the model outputs per slice, the quotas
//! after the guard invariants, what happened to them (`sent`, `hysteresis`,
//! `rate_limited`, `latency_budget`, `shadow`, ...) and the control's outcome. Wall-clock
//! latency is not in it (it differs run to run); with `timings` on it is added as
//! `latency_us`, and the file is then no longer reproducible.
//!
//! Lines are held until their outcome is known and every cell has reported at least
//! `hold_ms` past them, then written sorted by (time, node, cell, role): arrival order
//! across nodes and controls never shows in the file. (A cell that falls silent holds the
//! log back until it is closed or a million lines wait.)

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Mutex;

use nf_core::CellId;
use nf_core::policy::SliceQuota;

/// Key of a decision: collection time, node, cell, shadow?
pub type DecisionKey = (u64, String, CellId, bool);

/// A slice's model outputs.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SliceOutput {
    pub snssai: String,
    pub p50: f32,
    pub p90: f32,
}

/// One decision.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DecisionRecord {
    pub t_ms: u64,
    pub node: String,
    pub cell: String,
    pub arm: String,
    pub role: &'static str,
    /// FNV-1a 64 of the model input rows (bits of every float), hex.
    pub digest: String,
    pub outputs: Vec<SliceOutput>,
    /// (S-NSSAI, min, max, dedicated) [%].
    pub quotas: Vec<(String, u8, u8, u8)>,
    pub action: &'static str,
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_us: Option<u64>,
}

impl DecisionRecord {
    /// Quotas in the log's form.
    pub fn quotas_of(q: &[SliceQuota]) -> Vec<(String, u8, u8, u8)> {
        q.iter()
            .map(|q| {
                (
                    q.snssai.to_string(),
                    q.min_ratio,
                    q.max_ratio,
                    q.dedicated_ratio,
                )
            })
            .collect()
    }
}

/// FNV-1a 64 over the bit patterns of `rows`.
pub fn digest(rows: &[f32]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in rows {
        for b in v.to_bits().to_le_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

struct State {
    pending: BTreeMap<DecisionKey, DecisionRecord>,
    /// Newest report time per (node, cell).
    newest: BTreeMap<(String, CellId), u64>,
    /// Oldest of those, recomputed every `newest.len()` additions.
    horizon_ms: u64,
    adds: usize,
    out: Box<dyn Write + Send>,
    written: u64,
}

/// The log writer, shared by the node tasks.
pub struct DecisionLog {
    state: Mutex<State>,
    hold_ms: u64,
    pub timings: bool,
}

impl std::fmt::Debug for DecisionLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecisionLog")
            .field("hold_ms", &self.hold_ms)
            .finish()
    }
}

/// Lines held at most before they are written whatever their state.
const MAX_PENDING: usize = 1 << 20;

impl DecisionLog {
    pub fn new(out: Box<dyn Write + Send>, hold_ms: u64, timings: bool) -> Self {
        Self {
            state: Mutex::new(State {
                pending: BTreeMap::new(),
                newest: BTreeMap::new(),
                horizon_ms: 0,
                adds: 0,
                out,
                written: 0,
            }),
            hold_ms,
            timings,
        }
    }

    /// Adds a decision; `outcome` is `pending` while a control is in flight.
    pub fn add(&self, key: DecisionKey, record: DecisionRecord) {
        if let Ok(mut s) = self.state.lock() {
            let e = s.newest.entry((key.1.clone(), key.2)).or_insert(0);
            *e = (*e).max(key.0);
            s.adds += 1;
            if s.adds >= s.newest.len() {
                s.adds = 0;
                s.horizon_ms = s.newest.values().copied().min().unwrap_or(0);
            }
            s.pending.insert(key, record);
            self.flush_ready(&mut s, false);
        }
    }

    /// Sets the outcome of a sent control.
    pub fn outcome(&self, key: &DecisionKey, outcome: &str) {
        if let Ok(mut s) = self.state.lock()
            && let Some(r) = s.pending.get_mut(key)
        {
            r.outcome = outcome.to_owned();
        }
    }

    fn flush_ready(&self, s: &mut State, all: bool) {
        // Every cell has reported past this time: nothing older can still arrive.
        let horizon = s.horizon_ms.saturating_sub(self.hold_ms);
        let force = s.pending.len() > MAX_PENDING;
        while let Some(entry) = s.pending.first_entry() {
            let ready =
                all || force || (entry.key().0 < horizon && entry.get().outcome != "pending");
            if !ready {
                break;
            }
            let r = entry.remove();
            if let Ok(line) = serde_json::to_string(&r) {
                let _ = writeln!(s.out, "{line}");
                s.written += 1;
            }
        }
    }

    /// Writes everything still held and flushes; returns the lines written in all.
    pub fn close(&self) -> u64 {
        match self.state.lock() {
            Ok(mut s) => {
                self.flush_ready(&mut s, true);
                let _ = s.out.flush();
                s.written
            }
            Err(_) => 0,
        }
    }
}
