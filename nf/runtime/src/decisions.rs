//! The decision log: one JSON line per decision (cell, report period and role), written in
//! a canonical order so that the same trace, model and configuration give a
//! byte-identical file.
//!
//! Each line is a JSON object whose every field is named, starting with
//! `"format": "airan.decisions.v1"` ([`FORMAT`]); a reader refuses other formats. A line
//! holds the report's collection time, node, cell, A/B arm and role (acting or
//! shadow), a digest of the model input window, the model outputs per slice, the quotas
//! after the guard invariants, what happened to them (`sent`, `hysteresis`,
//! `rate_limited`, `latency_budget`, `shadow`, ...), the model that decided (`model`:
//! contract name and version; absent for a baseline arm, and it changes at a hot swap), the
//! A1 policy instances that bounded the quotas (`a1_instances`, absent when none was
//! active) and the control's outcome. Wall-clock
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

/// Version of the line format, the first field of every line.
pub const FORMAT: &str = "airan.decisions.v1";

/// Key of a decision: collection time, node, cell, shadow?
pub type DecisionKey = (u64, String, CellId, bool);

/// A slice's model outputs.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SliceOutput {
    pub snssai: String,
    pub p50: f32,
    pub p90: f32,
}

/// A slice's quota after the guard invariants, in percent of the cell's PRBs
/// (E2SM-RC slice-level PRB quota: min, max and dedicated ratio).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QuotaEntry {
    pub min_ratio: u8,
    pub max_ratio: u8,
    pub dedicated_ratio: u8,
}

/// A slice and its quota.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SliceQuotaEntry {
    pub snssai: String,
    #[serde(flatten)]
    pub quota: QuotaEntry,
}

/// The model that decided (contract name and version).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModelRef {
    pub name: String,
    pub version: String,
}

impl From<&nf_infer::ModelId> for ModelRef {
    fn from(m: &nf_infer::ModelId) -> Self {
        Self {
            name: m.name.clone(),
            version: m.version.clone(),
        }
    }
}

/// One decision.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DecisionRecord {
    /// Always [`FORMAT`].
    pub format: &'static str,
    pub t_ms: u64,
    pub node: String,
    pub cell: String,
    pub arm: String,
    pub role: &'static str,
    /// The model whose outputs these are (absent for a baseline arm).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelRef>,
    /// The A1 policy instances that bounded the quotas (absent when none was active).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub a1_instances: Option<Vec<String>>,
    /// FNV-1a 64 of the model input rows (bits of every float), hex.
    pub digest: String,
    pub outputs: Vec<SliceOutput>,
    /// Per slice: S-NSSAI, min, max, dedicated [%].
    pub quotas: Vec<SliceQuotaEntry>,
    pub action: &'static str,
    pub outcome: String,
    /// With a remote model configured, for the acting forecaster arm: whose answer the
    /// decision used (`local` or `remote`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<&'static str>,
    /// The remote call's result (`ok`, `late`, `deadline`, `skipped_budget`, ...;
    /// `pending` in shadow until it answers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_result: Option<&'static str>,
    /// Shadow placement: the remote model's outputs per slice (computed, never used).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_outputs: Option<Vec<SliceOutput>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_us: Option<u64>,
}

impl DecisionRecord {
    /// Quotas in the log's form.
    pub fn quotas_of(q: &[SliceQuota]) -> Vec<SliceQuotaEntry> {
        q.iter()
            .map(|q| SliceQuotaEntry {
                snssai: q.snssai.to_string(),
                quota: QuotaEntry {
                    min_ratio: q.min_ratio,
                    max_ratio: q.max_ratio,
                    dedicated_ratio: q.dedicated_ratio,
                },
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
    /// Lines the writer refused (disk full, file gone): logged, never silent.
    write_errors: u64,
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
                write_errors: 0,
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

    /// Changes a decision still held (shadow placement: the remote answer that came
    /// after it); false when its line is already written.
    pub fn annotate(&self, key: &DecisionKey, f: impl FnOnce(&mut DecisionRecord)) -> bool {
        match self.state.lock() {
            Ok(mut s) => s.pending.get_mut(key).map(f).is_some(),
            Err(_) => false,
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
                match writeln!(s.out, "{line}") {
                    Ok(()) => s.written += 1,
                    Err(e) => {
                        s.write_errors += 1;
                        if s.write_errors == 1 || s.write_errors.is_multiple_of(1000) {
                            tracing::warn!(cause = %e, lines_lost = s.write_errors, "decision log write failed");
                        }
                    }
                }
            }
        }
    }

    /// Writes everything still held and flushes; returns the lines written in all.
    pub fn close(&self) -> u64 {
        match self.state.lock() {
            Ok(mut s) => {
                self.flush_ready(&mut s, true);
                if let Err(e) = s.out.flush() {
                    tracing::warn!(cause = %e, "decision log flush failed: its last lines may be lost");
                }
                if s.write_errors > 0 {
                    tracing::warn!(
                        lines_lost = s.write_errors,
                        "decision log lines lost to write errors"
                    );
                }
                s.written
            }
            Err(_) => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::ErrorKind::Other)?
                .extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_line_is_a_versioned_object_with_every_field_named() {
        let buf = Shared::default();
        let log = DecisionLog::new(Box::new(buf.clone()), 0, false);
        let cell = CellId::new([0, 0xf1, 0x10], 7);
        let quota = SliceQuota {
            snssai: nf_core::Snssai::new(1, Some(1)),
            min_ratio: 10,
            max_ratio: 80,
            dedicated_ratio: 5,
        };
        let record = DecisionRecord {
            format: FORMAT,
            t_ms: 250,
            node: "gnb-1".into(),
            cell: cell.to_string(),
            arm: "default".into(),
            role: "acting",
            digest: digest(&[1.0]),
            outputs: Vec::new(),
            quotas: DecisionRecord::quotas_of(&[quota]),
            action: "sent",
            model: None,
            a1_instances: None,
            outcome: "accepted".into(),
            decided_by: None,
            remote_result: None,
            remote_outputs: None,
            latency_us: None,
        };
        log.add((250, "gnb-1".into(), cell, false), record);
        assert_eq!(log.close(), 1);
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(
            text.starts_with(r#"{"format":"airan.decisions.v1","t_ms":250,"#),
            "{text}"
        );
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let q = &v["quotas"][0];
        assert!(q.is_object(), "{text}");
        assert_eq!(q["min_ratio"], 10);
        assert_eq!(q["max_ratio"], 80);
        assert_eq!(q["dedicated_ratio"], 5);
        assert!(q["snssai"].is_string());
    }
}
