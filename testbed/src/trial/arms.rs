//! The arms of an offline trial: a baseline policy, an ONNX forecaster turned into quotas,
//! or an ONNX slice policy answering quotas itself, deciding for the virtual cells acting
//! (or shadowing) with them.
//!
//! A slice-policy arm reads each cell's KPM windows through [`PolicyLayout`] and checks its
//! outputs with [`quotas_from_output`]; a cell it cannot serve or whose output is refused
//! gets no quotas from it this window (the twin keeps the quotas in force), and the refusal
//! is counted by its bounded reason ([`Arm::refusals`]).

use std::collections::{BTreeMap, VecDeque};

use nf_core::MeasVec;
use nf_core::baseline::Baseline;
use nf_core::features::FeatureLayout;
use nf_core::policy::{self, Forecast, PolicyConfig, SliceQuota};
use nf_core::slice_policy::{OutputRefusal, PolicyInputError, PolicyLayout, quotas_from_output};
use nf_infer::contract::ModelKind;
use nf_infer::runtime::LoadedModel;

use super::VCell;
use crate::twin::TwinCell;

/// What decides for an arm.
#[derive(Debug)]
pub enum ArmPolicy {
    Baseline(Baseline),
    Model {
        model: Box<LoadedModel>,
        layout: FeatureLayout,
        policy: PolicyConfig,
    },
    /// A slice-policy model (`kind = "slice_policy"`): one row per cell, quotas out.
    SlicePolicy {
        model: Box<LoadedModel>,
        layout: PolicyLayout,
        /// Refused decisions by reason.
        refusals: BTreeMap<&'static str, u64>,
    },
}

/// An arm of an offline trial.
#[derive(Debug)]
pub struct Arm {
    pub name: String,
    pub policy: ArmPolicy,
}

/// What an arm was, for the report's provenance.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ArmInfo {
    pub name: String,
    /// `baseline`, `model` (forecaster) or `policy` (slice policy).
    pub kind: &'static str,
    /// Model name and version from its contract.
    pub model: Option<String>,
    /// sha256 of the ONNX file, as pinned by its contract and checked at load.
    pub model_sha256: Option<String>,
}

impl Arm {
    pub fn baseline(name: &str, b: Baseline) -> Self {
        Self {
            name: name.into(),
            policy: ArmPolicy::Baseline(b),
        }
    }

    /// The arm's provenance.
    pub fn info(&self) -> ArmInfo {
        let (kind, model, model_sha256) = match &self.policy {
            ArmPolicy::Baseline(_) => ("baseline", None, None),
            ArmPolicy::SlicePolicy { model, .. } => (
                "policy",
                Some(format!(
                    "{} {}",
                    model.contract.name, model.contract.version
                )),
                Some(model.contract.sha256.to_ascii_lowercase()),
            ),
            ArmPolicy::Model { model, .. } => (
                "model",
                Some(format!(
                    "{} {}",
                    model.contract.name, model.contract.version
                )),
                Some(model.contract.sha256.to_ascii_lowercase()),
            ),
        };
        ArmInfo {
            name: self.name.clone(),
            kind,
            model,
            model_sha256,
        }
    }

    /// An arm driven by `model`: a forecaster through the forecast-to-quota policy, a slice
    /// policy ([`Arm::policy`]) by its own quotas.
    pub fn model(name: &str, model: LoadedModel, policy: PolicyConfig) -> Result<Self, String> {
        if model.contract.kind == ModelKind::SlicePolicy {
            return Self::policy(name, model);
        }
        let layout = FeatureLayout::new(&model.contract.feature_names(), model.contract.window())
            .map_err(|e| e.to_string())?;
        Ok(Self {
            name: name.into(),
            policy: ArmPolicy::Model {
                model: Box::new(model),
                layout,
                policy,
            },
        })
    }
}

impl Arm {
    /// An arm driven by a slice-policy model; refused when `model` is a forecaster.
    pub fn policy(name: &str, model: LoadedModel) -> Result<Self, String> {
        let c = &model.contract;
        if c.kind != ModelKind::SlicePolicy {
            return Err(format!(
                "model {} is a {}, not a slice policy",
                c.name,
                c.kind.as_str()
            ));
        }
        let layout = PolicyLayout::new(c.slices.clone(), &c.feature_names(), c.window())
            .map_err(|e| e.to_string())?
            .with_prb_counts(&c.prb_inputs());
        if layout.output_len() != c.output_row_len() {
            return Err(format!(
                "policy {} outputs {} values per cell, expected {}",
                c.name,
                c.output_row_len(),
                layout.output_len()
            ));
        }
        let refusals = PolicyInputError::REASONS
            .iter()
            .chain(&OutputRefusal::REASONS)
            .chain(&["inference_failed"])
            .map(|r| (*r, 0))
            .collect();
        Ok(Self {
            name: name.into(),
            policy: ArmPolicy::SlicePolicy {
                model: Box::new(model),
                layout,
                refusals,
            },
        })
    }

    /// Refused decisions of a slice-policy arm by reason (every reason present, 0 when it
    /// never happened); empty for other arms.
    pub fn refusals(&self) -> BTreeMap<&'static str, u64> {
        match &self.policy {
            ArmPolicy::SlicePolicy { refusals, .. } => refusals.clone(),
            _ => BTreeMap::new(),
        }
    }
}

/// Quotas of a slice-policy arm for the cells `who`; refusals counted by reason.
fn decide_policy(
    model: &mut LoadedModel,
    layout: &PolicyLayout,
    refusals: &mut BTreeMap<&'static str, u64>,
    v: &[VCell],
    who: &[usize],
    cells: &[TwinCell],
) -> Vec<Option<Vec<SliceQuota>>> {
    let row_len = layout.row_len();
    let mut rows = Vec::new();
    let mut owners = Vec::new();
    for (w, i) in who.iter().enumerate() {
        let c = &v[*i];
        let slices = &cells[c.twin].slices;
        // The window is still filling before the first full history: no decision yet.
        if c.history.iter().any(|h| h.len() < layout.window()) {
            continue;
        }
        let cell: Vec<_> = slices.iter().copied().zip(c.history.iter()).collect();
        let at = rows.len();
        rows.resize(at + row_len, 0.0);
        match layout.write_row(&cell, &mut rows[at..]) {
            Ok(()) => owners.push(w),
            Err(e) => {
                rows.truncate(at);
                *refusals.entry(e.reason()).or_default() += 1;
            }
        }
    }
    let mut out: Vec<Option<Vec<SliceQuota>>> = vec![None; who.len()];
    if owners.is_empty() {
        return out;
    }
    let name = model.contract.input.name.clone();
    let f = model.contract.input.features.len();
    let shape = [owners.len(), layout.slices().len(), layout.window(), f];
    let per = layout.output_len();
    let values =
        match nf_infer::worker::infer_shaped(model, &name, &rows, &shape, per) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(cause = %e, "slice policy inference failed");
                *refusals.entry("inference_failed").or_default() += owners.len() as u64;
                return out;
            }
        };
    for (r, w) in owners.iter().enumerate() {
        let slices = &cells[v[who[*w]].twin].slices;
        match quotas_from_output(&values[r * per..(r + 1) * per], slices, layout) {
            Ok(q) => out[*w] = Some(q),
            Err(e) => *refusals.entry(e.reason()).or_default() += 1,
        }
    }
    out
}

/// Before any control: every slice may use the whole cell.
pub(super) fn open_quotas(t: &TwinCell) -> Vec<SliceQuota> {
    t.slices
        .iter()
        .map(|s| SliceQuota {
            snssai: *s,
            min_ratio: 0,
            max_ratio: 100,
            dedicated_ratio: 0,
        })
        .collect()
}

/// Quotas of `arm` for the cells `who` (None while a model's window is filling).
pub(super) fn decide(
    arm: &mut Arm,
    v: &[VCell],
    who: &[usize],
    cells: &[TwinCell],
) -> Vec<Option<Vec<SliceQuota>>> {
    match &mut arm.policy {
        ArmPolicy::SlicePolicy {
            model,
            layout,
            refusals,
        } => decide_policy(model, layout, refusals, v, who, cells),
        ArmPolicy::Baseline(b) => who
            .iter()
            .map(|i| {
                let c = &v[*i];
                if c.last_kpm.is_empty() {
                    return None;
                }
                let demand: Vec<f32> = c
                    .last_kpm
                    .iter()
                    .map(|(_, m)| m.get(nf_core::Meas::PrbReqDl))
                    .collect();
                Some(b.quotas(&cells[c.twin].slices, &demand))
            })
            .collect(),
        ArmPolicy::Model {
            model,
            layout,
            policy,
        } => {
            let window = layout.window();
            let row_len = layout.row_len();
            let mut rows = Vec::new();
            let mut owners = Vec::new();
            for (w, i) in who.iter().enumerate() {
                let c = &v[*i];
                for h in &c.history {
                    if h.len() < window {
                        continue;
                    }
                    let tail: VecDeque<MeasVec> =
                        h.iter().skip(h.len() - window).copied().collect();
                    let at = rows.len();
                    rows.resize(at + row_len, 0.0);
                    layout.write_row(&tail, &mut rows[at..]);
                    owners.push(w);
                }
            }
            let mut out: Vec<Option<Vec<SliceQuota>>> = vec![None; who.len()];
            if owners.is_empty() {
                return out;
            }
            let features = model.contract.input.features.len();
            let name = model.contract.input.name.clone();
            let cols = model.contract.output_columns();
            let Ok(values) = nf_infer::worker::infer(
                model,
                &name,
                &rows,
                [owners.len(), window, features],
                cols,
            ) else {
                return out;
            };
            let mut forecasts: Vec<Vec<Forecast>> = vec![Vec::new(); who.len()];
            let mut next_slice = vec![0usize; who.len()];
            for (r, w) in owners.iter().enumerate() {
                let c = &v[who[*w]];
                let s = cells[c.twin].slices[next_slice[*w]];
                next_slice[*w] += 1;
                forecasts[*w].push(Forecast {
                    snssai: s,
                    p50_prb: values[r * cols],
                    p90_prb: values[r * cols + 1],
                });
            }
            for (w, f) in forecasts.iter().enumerate() {
                if f.len() == cells[v[who[w]].twin].slices.len() {
                    out[w] = Some(policy::quotas(f, cells[v[who[w]].twin].prbs as f32, policy));
                }
            }
            out
        }
    }
}
