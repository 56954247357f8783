//! The interference xApp's decision log: one JSON line per handover or restriction decided
//! (`sent`, `denied`, `held` past the limited check, `encode_failed`) and one per control
//! outcome (`accepted`, `failed`, `timeout`). A UE that is not interference-limited is not
//! logged (it is counted in `xapp_handovers_held_total{reason="not_limited"}`).
//!
//! Fields: `t_ms` (report collection start the decision is for), `node`, `action`
//! (`handover` | `restriction`), `event`, `ue` (AMF UE NGAP ID; absent for a restriction),
//! `source` (serving cell; the restricted cell), `target` (handover target), `loss_db`,
//! `p_limited` (the model's outputs), `reason` (why held or denied, the failure cause, or
//! the restriction's reason).

use std::io::Write;
use std::sync::Mutex;

/// One line.
#[derive(Debug, serde::Serialize)]
pub struct Line<'a> {
    pub t_ms: u64,
    pub node: &'a str,
    pub action: &'static str,
    pub event: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ue: Option<u64>,
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss_db: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_limited: Option<f32>,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub reason: &'static str,
}

/// A JSON-lines writer shared by the node tasks.
pub struct MobilityLog {
    out: Mutex<Box<dyn Write + Send>>,
    lines: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for MobilityLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MobilityLog").finish_non_exhaustive()
    }
}

impl MobilityLog {
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Self {
            out: Mutex::new(out),
            lines: Default::default(),
        }
    }

    /// Opens the log file at `path` for appending, rotated by `rotation`
    /// ([`crate::logfile`]): a restart never truncates it.
    pub fn open(
        path: &std::path::Path,
        rotation: crate::logfile::Rotation,
    ) -> std::io::Result<Self> {
        Ok(Self::new(crate::logfile::open_appending(path, rotation)?))
    }

    /// Writes one line (a write error is logged once per call, never fatal).
    pub fn decision(&self, line: &Line<'_>) {
        let Ok(mut text) = serde_json::to_string(line) else {
            return;
        };
        text.push('\n');
        if let Ok(mut out) = self.out.lock() {
            match out.write_all(text.as_bytes()) {
                Ok(()) => {
                    self.lines
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                Err(e) => tracing::warn!(cause = %e, "decision log write failed"),
            }
        }
    }

    /// Flushes; the number of lines written.
    pub fn close(&self) -> u64 {
        if let Ok(mut out) = self.out.lock() {
            let _ = out.flush();
        }
        self.lines.load(std::sync::atomic::Ordering::Relaxed)
    }
}
