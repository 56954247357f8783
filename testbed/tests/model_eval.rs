//! The shipped forecaster beats the last-value baseline on the held-out split of the shared
//! TRACTOR traces, evaluated here in Rust through onnxruntime on data read by the testbed's
//! own trace reader (not the training script's), and the errors agree with the model card.
//!
//! Runs where `../shared/traces` exists (CI has it); prints a note and passes otherwise.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::mpsc;

use nf_core::Meas;
use nf_core::features::FeatureLayout;
use nf_infer::runtime::{ModelConfig, Provider, load_model};
use nf_infer::{WorkerConfig, spawn_worker};
use testbed::trace;

/// Blocked split of the training script: 60 s blocks, blocks 7–9 of every ten held out.
const BLOCK: usize = 240;

struct Errors {
    abs: f64,
    sq: f64,
    n: usize,
}

impl Errors {
    fn add(&mut self, pred: f32, truth: f32) {
        let e = f64::from(pred) - f64::from(truth);
        self.abs += e.abs();
        self.sq += e * e;
        self.n += 1;
    }
    fn mae(&self) -> f64 {
        self.abs / self.n as f64
    }
    fn rmse(&self) -> f64 {
        (self.sq / self.n as f64).sqrt()
    }
}

#[test]
fn forecaster_beats_last_value_on_held_out_blocks() {
    let Some(root) = trace::shared_root() else {
        eprintln!("../shared/traces not found: held-out evaluation skipped");
        return;
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/slice_forecaster");
    let model = load_model(&ModelConfig {
        contract: dir.join("slice_forecaster.contract.toml"),
        onnxruntime_lib: None,
        providers: vec![Provider::Cpu],
    })
    .unwrap();
    let window = model.contract.window();
    let layout = FeatureLayout::new(&model.contract.feature_names(), window).unwrap();

    // Held-out samples: rows and targets.
    let mut rows: Vec<f32> = Vec::new();
    let mut truth = Vec::new();
    let mut last = Vec::new();
    for cell in trace::read_cells(&root).unwrap() {
        for run in &cell.runs {
            for (k, _) in run.windows[0].slices.iter().enumerate() {
                let series: Vec<_> = run.windows.iter().map(|w| w.slices[k].1).collect();
                for s in 0..series.len().saturating_sub(window) {
                    let (first, lastb) = (s / BLOCK, (s + window) / BLOCK);
                    if first != lastb || first % 10 < 7 {
                        continue;
                    }
                    let w: std::collections::VecDeque<_> =
                        series[s..s + window].iter().copied().collect();
                    let at = rows.len();
                    rows.resize(at + layout.row_len(), 0.0);
                    layout.write_row(&w, &mut rows[at..]);
                    truth.push(series[s + window].get(Meas::PrbUsedDl));
                    last.push(series[s + window - 1].get(Meas::PrbUsedDl));
                }
            }
        }
    }
    assert!(truth.len() > 5_000, "held-out samples: {}", truth.len());

    let (tx, rx) = mpsc::channel();
    let (handle, join) = spawn_worker(
        model,
        WorkerConfig {
            max_batch_rows: 8192,
            queue_depth: 1024,
            keep_warm: None,
            one_job_per_run: false,
        },
        move |at: usize, out| {
            tx.send((at, out.values.map(<[f32]>::to_vec).unwrap()))
                .unwrap();
        },
    )
    .unwrap();
    let chunk = 2048 * layout.row_len();
    for (i, c) in rows.chunks(chunk).enumerate() {
        handle.submit(c.to_vec(), i * 2048).unwrap();
    }
    drop(handle);
    join.join().unwrap();
    let mut p50 = vec![f32::NAN; truth.len()];
    for (at, v) in rx.iter() {
        for (j, pair) in v.chunks_exact(2).enumerate() {
            p50[at + j] = pair[0];
        }
    }
    let (mut model_err, mut base_err) = (
        Errors {
            abs: 0.0,
            sq: 0.0,
            n: 0,
        },
        Errors {
            abs: 0.0,
            sq: 0.0,
            n: 0,
        },
    );
    for i in 0..truth.len() {
        model_err.add(p50[i], truth[i]);
        base_err.add(last[i], truth[i]);
    }
    eprintln!(
        "held-out n={}: model MAE {:.4} RMSE {:.4}; last value MAE {:.4} RMSE {:.4}",
        truth.len(),
        model_err.mae(),
        model_err.rmse(),
        base_err.mae(),
        base_err.rmse()
    );
    assert!(
        model_err.mae() < base_err.mae(),
        "MAE: model {} vs last value {}",
        model_err.mae(),
        base_err.mae()
    );
    assert!(
        model_err.rmse() < base_err.rmse(),
        "RMSE: model {} vs last value {}",
        model_err.rmse(),
        base_err.rmse()
    );

    // The Rust reader and the training script see the same data: the card's figures hold.
    let card: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("metrics.json")).unwrap()).unwrap();
    let close = |got: f64, key: [&str; 2]| {
        let want = card[key[0]][key[1]].as_f64().unwrap();
        assert!(
            (got - want).abs() < 1e-3 * want.max(1.0),
            "{key:?}: Rust {got}, training script {want}"
        );
    };
    assert_eq!(card["test_samples"].as_u64().unwrap() as usize, truth.len());
    close(model_err.mae(), ["model_p50", "mae"]);
    close(model_err.rmse(), ["model_p50", "rmse"]);
    close(base_err.mae(), ["baseline_last_value", "mae"]);
    close(base_err.rmse(), ["baseline_last_value", "rmse"]);
}
