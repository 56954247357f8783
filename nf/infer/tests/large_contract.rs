//! The larger forecaster (`models/slice_forecaster_large`, the remote model of issue 12):
//! its contract and every fold contract load with the project's loader (sha256, names,
//! shapes), its window is read from the contract, and the shipped graph serves the same
//! output as the edge model through the real onnxruntime.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use nf_infer::runtime::{ModelConfig, Provider, load_model};
use nf_infer::{Contract, WorkerConfig, spawn_worker};

fn models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models")
}

#[test]
fn every_large_contract_loads_and_matches_its_graph() {
    let dir = models().join("slice_forecaster_large");
    let mut paths = vec![dir.join("slice_forecaster_large.contract.toml")];
    for e in std::fs::read_dir(dir.join("loto")).unwrap() {
        let p = e.unwrap().path();
        if p.to_string_lossy().ends_with(".contract.toml") {
            paths.push(p);
        }
    }
    assert!(paths.len() >= 2, "{paths:?}");
    let edge =
        Contract::load(&models().join("slice_forecaster/slice_forecaster.contract.toml")).unwrap();
    for p in &paths {
        let c = Contract::load(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        c.read_verified_model()
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!(c.feature_names(), edge.feature_names(), "{}", p.display());
        assert_eq!(c.output_columns(), edge.output_columns(), "{}", p.display());
    }
}

#[test]
fn large_model_forecasts_through_onnxruntime() {
    let contract = models().join("slice_forecaster_large/slice_forecaster_large.contract.toml");
    let window = Contract::load(&contract).unwrap().window();
    let model = load_model(&ModelConfig {
        contract,
        onnxruntime_lib: None,
        providers: vec![Provider::Cpu],
    })
    .expect("large model loads");
    let (tx, rx) = mpsc::channel();
    let wc = WorkerConfig {
        max_batch_rows: 64,
        queue_depth: 16,
        keep_warm: None,
        one_job_per_run: false,
    };
    let (handle, join) = spawn_worker(model, wc, move |ctx: usize, out| {
        tx.send((ctx, out.values.map(<[f32]>::to_vec).map_err(str::to_owned)))
            .unwrap();
    })
    .unwrap();
    // Features in contract order: PRB used, DL thp, UEs, buffer, PRB requested, CQI.
    let idle = [0.0f32; 6];
    let busy = [14.0f32, 14.0 * 327.0, 1.0, 165_000.0, 50.0, 9.0];
    for (i, row) in [idle, busy].iter().enumerate() {
        let rows: Vec<f32> = row.iter().copied().cycle().take(window * 6).collect();
        handle.submit(rows, i).unwrap();
    }
    let mut got = vec![None; 2];
    for _ in 0..2 {
        let (i, v) = rx.recv().unwrap();
        got[i] = Some(v.unwrap());
    }
    drop(handle);
    join.join().unwrap();
    let (idle_out, busy_out) = (got[0].clone().unwrap(), got[1].clone().unwrap());
    assert_eq!(idle_out[0], 0.0, "an idle slice stays idle: {idle_out:?}");
    let (p50, p90) = (busy_out[0], busy_out[1]);
    assert!(p50 <= p90 && p90 <= 50.0, "{busy_out:?}");
    assert!(
        (p50 - 14.0).abs() < 0.25 * 14.0,
        "a steady slice stays near 14 PRB: {busy_out:?}"
    );
}
