//! Library side of the slice-scheduling xApp: the TOML configuration, the exit codes, and the
//! start-up steps the binary and the replay tool share (loading every arm's model, opening
//! the decision log).

pub mod cli;
pub mod config;
pub mod exit;

use std::path::Path;
use std::sync::Arc;

use nf_core::features::LayoutError;
use nf_infer::ModelConfig;
use nf_infer::runtime::{EngineError, LoadedModel};
use nf_runtime::decisions::DecisionLog;

/// Why a model cannot serve the xApp.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// onnxruntime, the contract or the model file were refused.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The contract asks for features the xApp does not collect.
    #[error("model contract {model}: {source}")]
    Features {
        model: String,
        #[source]
        source: LayoutError,
    },
}

/// Loads every model (the first is `[model]`'s, then the trial arms' own), checking each
/// contract's features against what the xApp collects.
pub fn load_models(models: &[ModelConfig]) -> Result<Vec<LoadedModel>, LoadError> {
    models.iter().map(load_one).collect()
}

fn load_one(m: &ModelConfig) -> Result<LoadedModel, LoadError> {
    let model = nf_infer::runtime::load_model(m)?;
    nf_core::features::FeatureLayout::new(&model.contract.feature_names(), model.contract.window())
        .map_err(|source| LoadError::Features {
            model: model.contract.name.clone(),
            source,
        })?;
    Ok(model)
}

/// Opens the decision log at `path` for appending, rotated by `rotation`: a restart never
/// truncates it (`nf_runtime::logfile`).
pub fn open_decision_log(
    path: &Path,
    hold_ms: u64,
    timings: bool,
    rotation: nf_runtime::logfile::Rotation,
) -> std::io::Result<Arc<DecisionLog>> {
    let out = nf_runtime::logfile::open_appending(path, rotation)?;
    Ok(Arc::new(DecisionLog::new(out, hold_ms, timings)))
}
