//! Shared by the MLServer tests: a remote model over a running server, rows to send, and
//! the same rows run locally through the xApp's onnxruntime path (`nf_infer`).
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use nf_infer::runtime::{LoadedModel, ModelConfig, load_model};
use nf_infer::{Contract, Provider};
use nf_oip::testserver::{forecaster_contract, repo_root};
use nf_oip::{RemoteConfig, RemoteModel, RemoteModelSection};

/// The `[remote_model]` section for `endpoint` with `extra` TOML lines, validated.
pub fn config(endpoint: &str, extra: &str) -> RemoteConfig {
    let text = format!(
        "endpoint = \"{endpoint}\"\n\
         contract = \"models/slice_forecaster/slice_forecaster.contract.toml\"\n{extra}"
    );
    let section: RemoteModelSection = toml::from_str(&text).expect("section parses");
    section.validate(&repo_root()).expect("section is valid")
}

pub fn remote(endpoint: &str, extra: &str) -> RemoteModel {
    RemoteModel::new(config(endpoint, extra), &nf_oip::TlsMetrics::default()).expect("remote model")
}

/// `n` rows of the forecaster's input, deterministic per `seed`: each feature at a value
/// typical of its unit (PRBs within the 50-PRB cell, throughput, UEs, bytes, CQI), varying
/// over the window.
pub fn rows(contract: &Contract, n: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let window = contract.window();
    let scale: Vec<f64> = contract
        .input
        .features
        .iter()
        .map(|f| match f.unit.as_str() {
            "PRB" => f64::from(contract.cell_prbs),
            "kbit/s" => 80_000.0,
            "UE" => 10.0,
            "byte" => 2_000_000.0,
            "CQI" => 15.0,
            _ => 1.0,
        })
        .collect();
    let mut out = Vec::with_capacity(n * window * scale.len());
    for _ in 0..n {
        for _ in 0..window {
            out.extend(scale.iter().map(|s| (next() * s) as f32));
        }
    }
    out
}

/// The shipped forecaster, loaded as the xApp loads it.
pub fn local_model() -> LoadedModel {
    load_model(&ModelConfig {
        contract: forecaster_contract(),
        onnxruntime_lib: None,
        providers: vec![Provider::Cpu],
    })
    .unwrap_or_else(|e| panic!("local model: {e}"))
}

/// `rows` run locally in one batch.
pub fn local_outputs(model: &mut LoadedModel, rows: &[f32]) -> Vec<f32> {
    let c = &model.contract;
    let dims: Vec<usize> = c.input.shape[1..].iter().map(|d| *d as usize).collect();
    let row_len: usize = dims.iter().product();
    let per_row = c.output_row_len();
    let input = c.input.name.clone();
    nf_infer::worker::run_batch(model, &input, rows, rows.len() / row_len, &dims, per_row)
        .unwrap_or_else(|e| panic!("local run: {e}"))
}

/// Largest absolute difference between two equally long slices.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

pub const START_TIMEOUT: Duration = Duration::from_secs(60);

pub fn contract() -> Contract {
    Contract::load(Path::new(&forecaster_contract())).expect("contract")
}
