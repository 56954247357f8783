//! Library side of the slice-scheduling xApp: the TOML configuration and the start-up steps
//! the binary and the replay tool share (loading every arm's model, opening the decision
//! log).

pub mod config;

use std::io::BufWriter;
use std::path::Path;
use std::sync::Arc;

use nf_infer::ModelConfig;
use nf_infer::runtime::{EngineError, LoadedModel};
use nf_runtime::decisions::DecisionLog;

/// Loads every model (the first is `[model]`'s, then the trial arms' own), checking each
/// contract's features against what the xApp collects.
pub fn load_models(models: &[ModelConfig]) -> Result<Vec<LoadedModel>, String> {
    models
        .iter()
        .map(|m| {
            let model = nf_infer::runtime::load_model(m).map_err(|e: EngineError| e.to_string())?;
            nf_core::features::FeatureLayout::new(
                &model.contract.feature_names(),
                model.contract.window(),
            )
            .map_err(|e| format!("model contract {}: {e}", model.contract.name))?;
            Ok(model)
        })
        .collect()
}

/// Creates (truncates) the decision log at `path`.
pub fn open_decision_log(
    path: &Path,
    hold_ms: u64,
    timings: bool,
) -> std::io::Result<Arc<DecisionLog>> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::fs::File::create(path)?;
    Ok(Arc::new(DecisionLog::new(
        Box::new(BufWriter::new(file)),
        hold_ms,
        timings,
    )))
}
