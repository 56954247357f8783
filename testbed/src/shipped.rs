//! The repository's shipped models, loaded as the xApp loads them (contract, hash and
//! onnxruntime), for tests and harnesses that run the real loop.

use std::path::{Path, PathBuf};

use nf_infer::runtime::{LoadedModel, ModelConfig, Provider, load_model};

/// The contract of the shipped slice forecaster (the edge model).
pub fn forecaster_contract() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../models/slice_forecaster/slice_forecaster.contract.toml")
}

/// The shipped slice forecaster on the CPU.
///
/// # Panics
/// When the shipped model or onnxruntime does not load: nothing a caller can go on
/// without.
pub fn forecaster() -> LoadedModel {
    load_model(&ModelConfig {
        contract: forecaster_contract(),
        onnxruntime_lib: None,
        providers: vec![Provider::Cpu],
    })
    .expect("shipped model loads")
}
