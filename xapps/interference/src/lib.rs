//! Library side of the interference xApp: the TOML configuration and the start-up steps
//! (loading and checking the interference model) the binary and its tests share. Exit
//! codes are the slice-scheduling xApp's (`slice_xapp::exit`): one table for the project.

pub mod config;

use nf_infer::ModelConfig;
use nf_infer::contract::ModelKind;
use nf_infer::runtime::{EngineError, LoadedModel};

pub use slice_xapp::exit;

/// Why the interference model cannot serve the xApp.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// onnxruntime, the contract or the model file were refused.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The contract is not an interference model's, or not the interface the xApp feeds.
    #[error("model contract {model}: {problem}")]
    Interface { model: String, problem: String },
    /// The canary batch (a synthetic UE window) failed or answered garbage.
    #[error("model {model}: canary batch refused: {problem}")]
    Canary { model: String, problem: String },
}

/// Loads the interference model and checks it can serve: contract kind `interference`,
/// input `[batch, WINDOW, FEATURES]` with the feature names of
/// [`nf_core::radio_features::FEATURE_NAMES`] in order, output `[batch, 2]`; then a canary
/// batch (two plausible UE windows) through onnxruntime whose outputs must pass the same
/// check live outputs pass.
pub fn load_model(m: &ModelConfig) -> Result<LoadedModel, LoadError> {
    use nf_core::radio_features::{FEATURE_NAMES, FEATURES, WINDOW};
    let mut model = nf_infer::runtime::load_model(m)?;
    let c = &model.contract;
    let interface = |problem: String| LoadError::Interface {
        model: c.name.clone(),
        problem,
    };
    if c.kind != ModelKind::Interference {
        return Err(interface(format!(
            "kind = \"{}\"; the interference xApp serves kind = \"interference\"",
            c.kind.as_str()
        )));
    }
    if c.window() != WINDOW || c.feature_names().len() != FEATURES {
        return Err(interface(format!(
            "input reads {} periods × {} features; the xApp writes {WINDOW} × {FEATURES}",
            c.window(),
            c.feature_names().len()
        )));
    }
    if c.feature_names() != FEATURE_NAMES {
        return Err(interface(format!(
            "features {:?} differ from the xApp's {:?}",
            c.feature_names(),
            FEATURE_NAMES
        )));
    }
    if c.output_columns() != 2 {
        return Err(interface(format!(
            "{} output columns; the xApp reads 2 (loss_db, p_limited)",
            c.output_columns()
        )));
    }
    let name = c.name.clone();
    let input = c.input.name.clone();
    let rows = canary_rows();
    let out = nf_infer::worker::run_batch(&mut model, &input, &rows, 2, &[WINDOW, FEATURES], 2)
        .map_err(|problem| LoadError::Canary {
            model: name.clone(),
            problem,
        })?;
    for o in out.chunks_exact(2) {
        if let Some(reason) = nf_runtime::mobility::output_refusal(o[0], o[1]) {
            return Err(LoadError::Canary {
                model: name,
                problem: format!("output (loss_db {}, p_limited {}) is {reason}", o[0], o[1]),
            });
        }
    }
    Ok(model)
}

/// Two plausible UE windows: a cell-centre UE (−80 dBm) and an interference-limited UE
/// (−95 dBm, 1 dB SINR) with a neighbour 1 dB weaker.
fn canary_rows() -> Vec<f32> {
    use nf_core::radio_features::{FEATURES, WINDOW};
    let mut rows = Vec::with_capacity(2 * WINDOW * FEATURES);
    for _ in 0..WINDOW {
        rows.extend_from_slice(&[-80.0, -10.0, 20.0, 13.0, -100.0, -16.0, 50_000.0, 1.0]);
    }
    for _ in 0..WINDOW {
        rows.extend_from_slice(&[-95.0, -14.0, 1.0, 5.0, -96.0, -14.5, 4_000.0, 1.0]);
    }
    rows
}
