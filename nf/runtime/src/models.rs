//! The model slots of a run and hot model swap.
//!
//! Each model the run loaded is a slot (indexed as [`crate::trial::ArmPolicy::Model`]) with
//! its own inference worker; the arms named in the config point at slots. A swap replaces
//! the model of one slot while the xApp serves:
//!
//! 1. load the new contract and model off the async runtime: the contract parses and is
//!    consistent (`contract_invalid`), its files are readable (`file_unreadable`), the model
//!    file's sha256 matches the contract (`hash_mismatch`), onnxruntime opens it
//!    (`load_failed`) and its inputs and outputs match the contract (`interface_mismatch`);
//! 2. the new contract offers the interface the slot serves: same input shape and feature
//!    names and units in the same order, same output columns, `cell_prbs`, `prb_scaling`
//!    and report period (`interface_mismatch`); the feature layout of the node tasks stays,
//!    so a model reading other features needs a restart;
//! 3. the swap travels through the worker's job queue: the worker runs a canary batch (its
//!    last live batch, else a synthetic one) through the new session, the outputs must pass
//!    the same check live outputs pass (`canary_failed`), and only then does the worker
//!    swap sessions, between two batches: every job queued before runs on the old model,
//!    every later one on the new, none is lost or run twice.
//!
//! Any failure leaves the old model serving, logs one line naming the contract and the
//! reason, and counts `xapp_model_swaps_total{result}`. A contract whose name, version and
//! sha256 equal the serving model's is `unchanged` (nothing reloaded). Swaps are serialised.
//! `xapp_model_info{name,version,sha256}` shows the models serving (1), the replaced one is
//! removed once no slot serves it.
//!
//! Triggers: `SIGHUP` (every slot re-reads the contract path it serves from) and
//! `POST /ric/v1/admin/models/{arm}` on the xApp's HTTP endpoint, loopback callers only
//! (see [`crate::http`]).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nf_core::slice_policy::{PolicyLayout, quotas_from_output};
use nf_infer::contract::{Contract, ModelKind};
use nf_infer::runtime::{ModelConfig, load_model};
use nf_infer::{CanaryCheck, InferenceHandle, ModelId, SwapError};

use crate::metrics::Metrics;
use crate::node::InferCtx;

/// Every `result` label of `xapp_model_swaps_total`.
pub const SWAP_RESULTS: &[&str] = &[
    "swapped",
    "unchanged",
    "contract_invalid",
    "file_unreadable",
    "hash_mismatch",
    "load_failed",
    "interface_mismatch",
    "canary_failed",
    "unavailable",
];

/// Canary rows taken from the worker's last live batch, at most.
pub const MAX_CANARY_ROWS: usize = 64;
/// Longest wait for room in a full inference queue before a swap is refused.
const QUEUE_WAIT: Duration = Duration::from_secs(2);

/// What a swap attempt did; the admin call's JSON answer.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SwapOutcome {
    /// `swapped`, `unchanged`, or why it was refused (a [`SWAP_RESULTS`] label).
    pub result: &'static str,
    /// Slot (model index) and the arms it serves.
    pub slot: usize,
    pub arms: Vec<String>,
    pub contract: PathBuf,
    /// The model serving after the attempt.
    pub serving: ModelInfo,
    /// The model replaced (`swapped` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaced: Option<ModelInfo>,
    /// Canary rows and where they came from (`live` or `synthetic`), when one ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryInfo>,
    /// Why it was refused, in words.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

impl SwapOutcome {
    /// True when the new model serves (or already did).
    pub fn ok(&self) -> bool {
        matches!(self.result, "swapped" | "unchanged")
    }
}

/// A model's identity in answers.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ModelInfo {
    pub name: String,
    pub version: String,
    pub sha256: String,
}

impl From<&ModelId> for ModelInfo {
    fn from(m: &ModelId) -> Self {
        Self {
            name: m.name.clone(),
            version: m.version.clone(),
            sha256: m.sha256.clone(),
        }
    }
}

/// The canary a swap ran.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CanaryInfo {
    pub rows: usize,
    pub source: &'static str,
    /// How long the inference worker was kept from jobs (canary and switch) [µs].
    pub worker_pause_us: u64,
}

/// Why an admin call names no slot.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AdminError {
    #[error("no arm named {0:?}")]
    UnknownArm(String),
    #[error("arm {0:?} runs a baseline, not a model")]
    NotAModelArm(String),
}

/// One model slot: what serves and where it came from.
struct Slot {
    arms: Vec<String>,
    /// The contract path it serves from, and how to load (providers, library).
    config: ModelConfig,
    contract: Contract,
    id: ModelId,
    /// `None` once the run is draining (the worker must see every handle dropped).
    handle: Option<InferenceHandle<InferCtx>>,
}

/// The model slots of a run.
pub struct ModelRegistry {
    slots: Mutex<Vec<Slot>>,
    /// Arm name → slot (`None`: a baseline arm).
    arms: Vec<(String, Option<usize>)>,
    metrics: Arc<Metrics>,
    /// One swap at a time.
    swapping: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for ModelRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelRegistry")
            .field("arms", &self.arms)
            .finish()
    }
}

/// A slot as the run starts it.
pub(crate) struct SlotStart {
    pub config: ModelConfig,
    pub contract: Contract,
    pub handle: InferenceHandle<InferCtx>,
}

impl ModelRegistry {
    /// `slots[i]` serves the arms whose entry in `arms` is `Some(i)`.
    pub(crate) fn new(
        slots: Vec<SlotStart>,
        arms: Vec<(String, Option<usize>)>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let slots = slots
            .into_iter()
            .enumerate()
            .map(|(i, s)| Slot {
                arms: arms
                    .iter()
                    .filter(|(_, slot)| *slot == Some(i))
                    .map(|(a, _)| a.clone())
                    .collect(),
                id: ModelId::of(&s.contract),
                config: s.config,
                contract: s.contract,
                handle: Some(s.handle),
            })
            .collect();
        Self {
            slots: Mutex::new(slots),
            arms,
            metrics,
            swapping: tokio::sync::Mutex::new(()),
        }
    }

    /// Drops the registry's worker handles so the workers can stop (run drain).
    pub(crate) fn close(&self) {
        if let Ok(mut slots) = self.slots.lock() {
            for s in slots.iter_mut() {
                s.handle = None;
            }
        }
    }

    /// The model serving each slot, with its arms.
    pub fn serving(&self) -> Vec<(Vec<String>, ModelInfo)> {
        self.slots.lock().map_or_else(
            |_| Vec::new(),
            |slots| {
                slots
                    .iter()
                    .map(|s| (s.arms.clone(), ModelInfo::from(&s.id)))
                    .collect()
            },
        )
    }

    /// The slot of `arm`.
    pub fn slot_of(&self, arm: &str) -> Result<usize, AdminError> {
        match self.arms.iter().find(|(a, _)| a == arm) {
            None => Err(AdminError::UnknownArm(arm.to_owned())),
            Some((_, None)) => Err(AdminError::NotAModelArm(arm.to_owned())),
            Some((_, Some(i))) => Ok(*i),
        }
    }

    /// Swaps the model of `arm`'s slot for the one `contract` describes.
    pub async fn swap_arm(&self, arm: &str, contract: &Path) -> Result<SwapOutcome, AdminError> {
        let slot = self.slot_of(arm)?;
        Ok(self.swap(slot, Some(contract.to_path_buf()), "admin").await)
    }

    /// SIGHUP: every slot re-reads the contract path it serves from.
    pub async fn reload_all(&self) -> Vec<SwapOutcome> {
        let n = self.slots.lock().map_or(0, |s| s.len());
        let mut out = Vec::with_capacity(n);
        for slot in 0..n {
            out.push(self.swap(slot, None, "sighup").await);
        }
        out
    }

    /// One swap attempt on `slot` (from `contract`, or the path it serves from); counted
    /// and logged.
    async fn swap(&self, slot: usize, contract: Option<PathBuf>, trigger: &str) -> SwapOutcome {
        let _one_at_a_time = self.swapping.lock().await;
        let Some(start) = self.snapshot(slot, contract) else {
            return self.refused_unavailable(slot);
        };
        let path = start.config.contract.clone();
        let outcome = tokio::task::spawn_blocking(move || attempt(start))
            .await
            .unwrap_or_else(|e| Attempt::refused("load_failed", format!("loader panicked: {e}")));
        self.conclude(slot, path, outcome, trigger)
    }

    /// What a swap of `slot` starts from, or `None` when the run is draining.
    fn snapshot(&self, slot: usize, contract: Option<PathBuf>) -> Option<Start> {
        let slots = self.slots.lock().ok()?;
        let s = slots.get(slot)?;
        let mut config = s.config.clone();
        if let Some(c) = contract {
            config.contract = c;
        }
        Some(Start {
            config,
            serving: s.contract.clone(),
            serving_id: s.id.clone(),
            handle: s.handle.clone()?,
        })
    }

    fn refused_unavailable(&self, slot: usize) -> SwapOutcome {
        self.metrics.model_swap("unavailable");
        let (arms, serving, contract) = self
            .slots
            .lock()
            .ok()
            .and_then(|s| {
                s.get(slot).map(|s| {
                    (
                        s.arms.clone(),
                        ModelInfo::from(&s.id),
                        s.config.contract.clone(),
                    )
                })
            })
            .unwrap_or_else(|| {
                (
                    Vec::new(),
                    ModelInfo {
                        name: String::new(),
                        version: String::new(),
                        sha256: String::new(),
                    },
                    PathBuf::new(),
                )
            });
        SwapOutcome {
            result: "unavailable",
            slot,
            arms,
            contract,
            serving,
            replaced: None,
            canary: None,
            detail: "the run is stopping".into(),
        }
    }

    /// Records the attempt's outcome in the slot, the metrics and the log.
    fn conclude(&self, slot: usize, path: PathBuf, a: Attempt, trigger: &str) -> SwapOutcome {
        self.metrics.model_swap(a.result);
        let (arms, replaced, serving) = self.record(slot, &path, &a);
        let mut outcome = a.into_outcome(slot, arms, path, replaced);
        if let Some(serving) = serving {
            outcome.serving = serving;
        }
        log(&outcome, trigger);
        outcome
    }

    /// Updates `slot` after an attempt: its arms, the model replaced (if swapped) and the
    /// model serving now.
    fn record(
        &self,
        slot: usize,
        path: &Path,
        a: &Attempt,
    ) -> (Vec<String>, Option<ModelInfo>, Option<ModelInfo>) {
        let Ok(mut slots) = self.slots.lock() else {
            return (Vec::new(), None, None);
        };
        let Some(s) = slots.get_mut(slot) else {
            return (Vec::new(), None, None);
        };
        let arms = s.arms.clone();
        let mut replaced = None;
        if let Some((contract, config)) = &a.new {
            let old = std::mem::replace(&mut s.id, ModelId::of(contract));
            s.contract = contract.clone();
            s.config = config.clone();
            let new = s.id.clone();
            self.metrics
                .model_loaded(&new.name, &new.version, &new.sha256);
            if !slots.iter().any(|o| o.id == old) {
                self.metrics
                    .model_unloaded(&old.name, &old.version, &old.sha256);
            }
            replaced = Some(ModelInfo::from(&old));
        } else if a.result == "unchanged" {
            // The slot reads this path on the next reload.
            s.config.contract = path.to_path_buf();
        }
        let serving = slots.get(slot).map(|s| ModelInfo::from(&s.id));
        (arms, replaced, serving)
    }
}

/// Reloads every slot on each SIGHUP until aborted (Unix; elsewhere it returns at once).
pub async fn reload_on_sighup(registry: Arc<ModelRegistry>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hup = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(cause = %e, "cannot install the sighup handler: models are not reloaded on sighup");
                return;
            }
        };
        while hup.recv().await.is_some() {
            tracing::info!("sighup: reloading every model from its contract");
            let outcomes = registry.reload_all().await;
            let swapped = outcomes.iter().filter(|o| o.result == "swapped").count();
            let refused = outcomes.iter().filter(|o| !o.ok()).count();
            tracing::info!(
                slots = outcomes.len(),
                swapped,
                refused,
                "sighup reload done"
            );
        }
    }
    #[cfg(not(unix))]
    drop(registry);
}

fn log(o: &SwapOutcome, trigger: &str) {
    let contract = o.contract.display();
    let arms = o.arms.join(",");
    match o.result {
        "swapped" => tracing::info!(
            trigger, slot = o.slot, %arms, %contract,
            model = %o.serving.name, version = %o.serving.version, sha256 = %o.serving.sha256,
            replaced_version = o.replaced.as_ref().map_or("", |r| r.version.as_str()),
            canary_rows = o.canary.as_ref().map_or(0, |c| c.rows),
            canary = o.canary.as_ref().map_or("", |c| c.source),
            worker_pause_us = o.canary.as_ref().map_or(0, |c| c.worker_pause_us),
            "model swapped"
        ),
        "unchanged" => tracing::info!(
            trigger, slot = o.slot, %arms, %contract, version = %o.serving.version,
            "model unchanged: same name, version and sha256 as the serving one"
        ),
        reason => tracing::error!(
            trigger, slot = o.slot, %arms, %contract, reason, cause = %o.detail,
            serving = %o.serving.version,
            "model swap refused; the serving model stays"
        ),
    }
}

/// What a swap attempt starts from (taken under the slots' lock, used off it).
struct Start {
    config: ModelConfig,
    serving: Contract,
    serving_id: ModelId,
    handle: InferenceHandle<InferCtx>,
}

/// The result of the blocking part of a swap.
struct Attempt {
    result: &'static str,
    detail: String,
    /// The contract and config now serving (`swapped` only).
    new: Option<(Contract, ModelConfig)>,
    serving: Option<ModelInfo>,
    canary: Option<CanaryInfo>,
}

impl Attempt {
    fn refused(result: &'static str, detail: String) -> Self {
        Self {
            result,
            detail,
            new: None,
            serving: None,
            canary: None,
        }
    }

    fn into_outcome(
        self,
        slot: usize,
        arms: Vec<String>,
        contract: PathBuf,
        replaced: Option<ModelInfo>,
    ) -> SwapOutcome {
        SwapOutcome {
            result: self.result,
            slot,
            arms,
            contract,
            serving: self.serving.unwrap_or(ModelInfo {
                name: String::new(),
                version: String::new(),
                sha256: String::new(),
            }),
            replaced,
            canary: self.canary,
            detail: self.detail,
        }
    }
}

/// Loads, checks and hands the new model to the worker (blocking).
fn attempt(start: Start) -> Attempt {
    let Start {
        config,
        serving,
        serving_id,
        handle,
    } = start;
    // Cheap first: a contract naming the serving model needs no session.
    match Contract::load(&config.contract) {
        Ok(c) if ModelId::of(&c) == serving_id => {
            return Attempt {
                serving: Some(ModelInfo::from(&serving_id)),
                ..Attempt::refused("unchanged", String::new())
            };
        }
        Ok(_) => {}
        Err(e) => {
            let result = nf_infer::EngineError::from(e);
            return Attempt::refused(result.swap_result(), result.to_string());
        }
    }
    let model = match load_model(&config) {
        Ok(m) => m,
        Err(e) => return Attempt::refused(e.swap_result(), e.to_string()),
    };
    if let Some(diff) = interface_diff(&serving, &model.contract) {
        return Attempt::refused("interface_mismatch", diff);
    }
    let contract = model.contract.clone();
    let check = canary_check(&contract);
    match handle.swap(model, check, MAX_CANARY_ROWS, QUEUE_WAIT) {
        Ok(report) => Attempt {
            result: "swapped",
            detail: String::new(),
            serving: Some(ModelInfo::from(report.serving.as_ref())),
            canary: Some(CanaryInfo {
                rows: report.canary_rows,
                source: report.canary_source.as_str(),
                worker_pause_us: report.pause_ns / 1_000,
            }),
            new: Some((contract, config)),
        },
        Err(e @ SwapError::Canary { .. }) => Attempt::refused("canary_failed", e.to_string()),
        Err(e @ SwapError::Interface(_)) => Attempt::refused("interface_mismatch", e.to_string()),
        Err(e @ (SwapError::QueueFull(_) | SwapError::Closed)) => {
            Attempt::refused("unavailable", e.to_string())
        }
    }
}

/// The first way `new` does not offer the interface `old` serves, if any.
pub fn interface_diff(old: &Contract, new: &Contract) -> Option<String> {
    let differs = |what: &str, a: String, b: String| {
        (a != b).then(|| format!("{what}: serving {a}, new {b}"))
    };
    let features = |c: &Contract| {
        c.input
            .features
            .iter()
            .map(|f| format!("{} [{}]", f.name, f.unit))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let outputs = |c: &Contract| {
        c.outputs
            .iter()
            .map(|o| format!("{:?} {:?}", &o.shape[1..], o.columns))
            .collect::<Vec<_>>()
            .join("; ")
    };
    differs(
        "model kind",
        old.kind.as_str().to_owned(),
        new.kind.as_str().to_owned(),
    )
    .or_else(|| {
        let slices = |c: &Contract| {
            c.slices
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        differs("slices", slices(old), slices(new))
    })
    .or_else(|| {
        differs(
            "input shape",
            format!("{:?}", &old.input.shape[1..]),
            format!("{:?}", &new.input.shape[1..]),
        )
    })
    .or_else(|| differs("input features", features(old), features(new)))
    .or_else(|| differs("outputs", outputs(old), outputs(new)))
    .or_else(|| {
        differs(
            "cell_prbs",
            old.cell_prbs.to_string(),
            new.cell_prbs.to_string(),
        )
    })
    .or_else(|| {
        differs(
            "prb_scaling",
            format!("{:?}", old.prb_scaling),
            format!("{:?}", new.prb_scaling),
        )
    })
    .or_else(|| {
        differs(
            "report_period_ms",
            old.report_period_ms.to_string(),
            new.report_period_ms.to_string(),
        )
    })
}

/// The check a canary batch of `contract`'s model must pass: the one live outputs pass
/// (forecaster: finite, within `[0, cell_prbs × 1.01]`, one row per input row).
pub fn canary_check(contract: &Contract) -> CanaryCheck {
    if contract.kind == ModelKind::SlicePolicy {
        return policy_canary_check();
    }
    let columns = contract.output_columns();
    Box::new(move |c: &Contract, rows: usize, out: &[f32]| {
        if columns != 2 {
            return Err((
                "model_output_rows",
                format!("{columns} output columns; a forecaster gives p50 and p90"),
            ));
        }
        let pairs: Vec<[f32; 2]> = out.chunks_exact(2).map(|p| [p[0], p[1]]).collect();
        nf_core::policy::check_outputs(&pairs, rows, c.cell_prbs as f32)
            .map_err(|e| (e.kind(), e.to_string()))
    })
}

/// The canary check of a slice policy: every row, read for all the contract's slices,
/// passes the check live outputs pass (finite, `0 ≤ min ≤ max ≤ 100`, Σ min ≤ 100).
fn policy_canary_check() -> CanaryCheck {
    Box::new(|c: &Contract, rows: usize, out: &[f32]| {
        let layout = PolicyLayout::new(c.slices.clone(), &c.feature_names(), c.window())
            .map_err(|e| ("model_output_rows", e.to_string()))?;
        let per_row = layout.output_len();
        if per_row == 0 || out.len() != rows * per_row {
            return Err((
                "model_output_rows",
                format!("{} output values for {rows} rows of {per_row}", out.len()),
            ));
        }
        for row in out.chunks_exact(per_row) {
            quotas_from_output(row, &c.slices, &layout).map_err(|e| (e.reason(), e.to_string()))?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> Contract {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../models/slice_forecaster/slice_forecaster.contract.toml");
        Contract::load(&p).unwrap()
    }

    #[test]
    fn the_same_interface_passes_and_each_difference_is_named() {
        let old = shipped();
        let mut new = old.clone();
        new.version = "9.9.9".into();
        assert_eq!(interface_diff(&old, &new), None);
        let mut other = old.clone();
        other.input.features.swap(0, 1);
        let d = interface_diff(&old, &other).unwrap();
        assert!(d.starts_with("input features"), "{d}");
        let mut other = old.clone();
        other.cell_prbs = 106;
        assert!(interface_diff(&old, &other).unwrap().contains("cell_prbs"));
        let mut other = old.clone();
        other.input.shape[1] += 1;
        assert!(
            interface_diff(&old, &other)
                .unwrap()
                .contains("input shape")
        );
    }

    #[test]
    fn the_canary_check_refuses_what_live_outputs_refuse() {
        let c = shipped();
        let check = canary_check(&c);
        assert!(check(&c, 2, &[1.0, 2.0, 0.0, 50.0]).is_ok());
        assert_eq!(
            check(&c, 1, &[f32::NAN, 1.0]).unwrap_err().0,
            "model_output_nan"
        );
        assert_eq!(
            check(&c, 1, &[1.0, 1e30]).unwrap_err().0,
            "model_output_out_of_range"
        );
        assert_eq!(
            check(&c, 2, &[1.0, 1.0]).unwrap_err().0,
            "model_output_rows"
        );
    }

    fn policy_fixture() -> Contract {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../infer/tests/data/policy_fixed.contract.toml");
        Contract::load(&p).unwrap()
    }

    #[test]
    fn a_policy_and_a_forecaster_are_different_interfaces() {
        let d = interface_diff(&shipped(), &policy_fixture()).unwrap();
        assert!(d.starts_with("model kind"), "{d}");
        let old = policy_fixture();
        let mut other = old.clone();
        other.slices.swap(0, 1);
        let d = interface_diff(&old, &other).unwrap();
        assert!(d.starts_with("slices"), "{d}");
    }

    #[test]
    fn a_policy_canary_checks_every_row_like_live_outputs() {
        let c = policy_fixture();
        let check = canary_check(&c);
        let good = [10.0, 100.0, 20.0, 100.0, 5.0, 100.0];
        assert!(check(&c, 1, &good).is_ok());
        let mut two = good.to_vec();
        two.extend([60.0, 100.0, 50.0, 100.0, 0.0, 100.0]);
        let (reason, _) = check(&c, 2, &two).unwrap_err();
        assert_eq!(reason, "model_output_out_of_range");
        let mut nan = good;
        nan[3] = f32::NAN;
        assert_eq!(check(&c, 1, &nan).unwrap_err().0, "model_output_nan");
        assert_eq!(check(&c, 2, &good).unwrap_err().0, "model_output_rows");
    }
}
