//! The arms of an offline trial: a baseline policy or an ONNX model turned into quotas,
//! deciding for the virtual cells acting (or shadowing) with them.

use std::collections::VecDeque;

use nf_core::MeasVec;
use nf_core::baseline::Baseline;
use nf_core::features::FeatureLayout;
use nf_core::policy::{self, Forecast, PolicyConfig, SliceQuota};
use nf_infer::runtime::LoadedModel;

use super::VCell;
use crate::twin::TwinCell;

/// What decides for an arm.
#[derive(Debug)]
pub enum ArmPolicy {
    Baseline(Baseline),
    /// A static, work-conserving split: each slice guaranteed its minimum ratio (by SST,
    /// 0 when not listed), every slice allowed up to the whole cell.
    Static(super::StaticSplit),
    Model {
        model: Box<LoadedModel>,
        layout: FeatureLayout,
        policy: PolicyConfig,
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
    /// `baseline` or `model`.
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
            ArmPolicy::Baseline(_) | ArmPolicy::Static(_) => ("baseline", None, None),
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

    /// An arm driven by `model` through the forecast-to-quota policy.
    pub fn model(name: &str, model: LoadedModel, policy: PolicyConfig) -> Result<Self, String> {
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
        ArmPolicy::Static(split) => who
            .iter()
            .map(|i| Some(split.quotas(&cells[v[*i].twin].slices)))
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
