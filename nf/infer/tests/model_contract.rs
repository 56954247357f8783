//! The shipped model through the real onnxruntime: it loads against its contract, gives
//! sensible forecasts, and any mismatch between model and contract is refused by name.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use nf_infer::runtime::{EngineError, ModelConfig, Provider, load_model};
use nf_infer::{ContractError, WorkerConfig, spawn_worker};

fn wc(max_batch_rows: usize, queue_depth: usize) -> WorkerConfig {
    WorkerConfig {
        max_batch_rows,
        queue_depth,
        keep_warm: None,
        one_job_per_run: false,
    }
}

fn shipped_contract() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../models/slice_forecaster/slice_forecaster.contract.toml")
}

fn config(contract: PathBuf) -> ModelConfig {
    ModelConfig {
        contract,
        onnxruntime_lib: None,
        providers: vec![Provider::Cpu],
    }
}

/// Copies the model next to an edited contract in a fresh directory.
fn edited_contract(name: &str, edit: impl Fn(String) -> String) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nf-infer-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = shipped_contract();
    std::fs::copy(
        src.with_file_name("slice_forecaster.onnx"),
        dir.join("slice_forecaster.onnx"),
    )
    .unwrap();
    let text = std::fs::read_to_string(&src).unwrap();
    let path = dir.join("contract.toml");
    std::fs::write(&path, edit(text)).unwrap();
    path
}

fn window(prb: f32, ues: f32) -> Vec<f32> {
    // Features in contract order: PRB used, DL thp, UEs, buffer, PRB requested, CQI. The
    // busy case mirrors a recorded window of TRACTOR's multi4 run: a slice held at its
    // 14-PRB cap with a growing buffer and every PRB requested.
    let busy = prb > 0.0;
    let row = [
        prb,
        prb * 327.0,
        ues,
        if busy { 165_000.0 } else { 0.0 },
        if busy { 50.0 } else { 0.0 },
        if busy { 9.0 } else { 0.0 },
    ];
    row.iter().copied().cycle().take(8 * 6).collect()
}

#[test]
fn shipped_model_forecasts_through_onnxruntime() {
    let model = load_model(&config(shipped_contract())).expect("shipped model loads");
    assert_eq!(model.provider, "cpu");
    let (tx, rx) = mpsc::channel();
    let (handle, join) = spawn_worker(model, wc(256, 64), move |ctx: usize, out| {
        tx.send((
            ctx,
            out.values.map(<[f32]>::to_vec).map_err(str::to_owned),
            out.batch_rows,
        ))
        .unwrap();
    })
    .unwrap();
    let cases = [(0.0, 0.0), (14.0, 1.0)];
    for (i, (prb, ues)) in cases.iter().enumerate() {
        handle.submit(window(*prb, *ues), i).unwrap();
    }
    let mut got = vec![None; cases.len()];
    for _ in 0..cases.len() {
        let (i, values, _) = rx.recv().unwrap();
        got[i] = Some(values.unwrap());
    }
    drop(handle);
    join.join().unwrap();
    for (case, out) in cases.iter().zip(&got) {
        let out = out.as_ref().unwrap();
        let (p50, p90) = (out[0], out[1]);
        assert!(
            (0.0..=50.0).contains(&p50) && p50 <= p90 && p90 <= 50.0,
            "{case:?} -> {out:?}"
        );
        // A steady slice is forecast near where it has been.
        assert!(
            (p50 - case.0).abs() < 0.25 * case.0.max(4.0),
            "{case:?} -> {out:?}"
        );
    }
    assert_eq!(got[0].as_ref().unwrap()[0], 0.0, "an idle slice stays idle");
}

#[test]
fn worker_batches_queued_jobs_and_answers_each() {
    let model = load_model(&config(shipped_contract())).unwrap();
    let (tx, rx) = mpsc::channel();
    let (handle, join) = spawn_worker(model, wc(1024, 512), move |ctx: usize, out| {
        tx.send((ctx, out.values.is_ok())).unwrap();
    })
    .unwrap();
    for i in 0..300 {
        handle.submit(window(i as f32 % 50.0, 1.0), i).unwrap();
    }
    let stats = handle.stats().clone();
    drop(handle);
    join.join().unwrap();
    let mut seen: Vec<usize> = rx
        .iter()
        .map(|(i, ok)| {
            assert!(ok);
            i
        })
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..300).collect::<Vec<_>>());
    let batches = stats.batches.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        batches < 300,
        "queued jobs share batches ({batches} batches)"
    );
}

#[test]
fn wrong_rows_are_refused_before_queueing() {
    let model = load_model(&config(shipped_contract())).unwrap();
    let (handle, _join) = spawn_worker(model, wc(8, 8), |_: (), _| {}).unwrap();
    assert!(handle.submit(vec![0.0; 47], ()).is_err());
}

#[test]
fn tampered_model_file_is_refused() {
    let path = edited_contract("hash", |t| {
        let line = t
            .lines()
            .find(|l| l.starts_with("sha256"))
            .unwrap()
            .to_owned();
        t.replace(&line, &format!("sha256 = \"{}\"", "0".repeat(64)))
    });
    let err = load_model(&config(path)).unwrap_err();
    assert!(
        matches!(
            err,
            EngineError::Contract(ContractError::HashMismatch { .. })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("sha256"), "{err}");
}

#[test]
fn contract_with_other_input_shape_is_refused_naming_it() {
    let path = edited_contract("shape", |t| {
        t.replace("shape = [-1, 8, 6]", "shape = [-1, 4, 6]")
    });
    let err = load_model(&config(path)).unwrap_err().to_string();
    assert!(
        err.contains("input `kpm_window` shape") && err.contains("[-1, 4, 6]"),
        "{err}"
    );
}

#[test]
fn contract_with_other_input_name_is_refused_naming_it() {
    let path = edited_contract("name", |t| {
        t.replace("name = \"kpm_window\"", "name = \"features\"")
    });
    let err = load_model(&config(path)).unwrap_err().to_string();
    assert!(
        err.contains("input name") && err.contains("features") && err.contains("kpm_window"),
        "{err}"
    );
}

#[test]
fn inconsistent_or_unknown_contract_fields_are_refused() {
    let path = edited_contract("count", |t| {
        t.replacen("[[input.features]]\nname = \"VS.DlCqiMean\"", "[[input.features]]\nname = \"VS.DlCqiMean\"\n[[input.features]]\nname = \"x\"\nunit = \"\"\nmeaning = \"\"\n\n[[input.features]]\nname = \"VS.Extra\"", 1)
    });
    let err = load_model(&config(path)).unwrap_err().to_string();
    assert!(err.contains("features"), "{err}");
    let path = edited_contract("unknown", |t| {
        t.replace("cell_prbs = 50", "cell_prbs = 50\nbogus = 1")
    });
    let err = load_model(&config(path)).unwrap_err().to_string();
    assert!(err.contains("bogus"), "{err}");
}

#[test]
fn missing_library_says_what_to_do() {
    // A named library that is missing is refused (never replaced by another), naming it.
    let msg = nf_infer::runtime::resolve_dylib(Some(Path::new("/nonexistent/libonnxruntime.so")))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("/nonexistent/libonnxruntime.so"), "{msg}");
    // With nothing found at all, the message says how to get a library.
    let msg = EngineError::LibraryMissing { looked: "x".into() }.to_string();
    assert!(
        msg.contains("fetch-onnxruntime.sh") && msg.contains("ORT_DYLIB_PATH"),
        "{msg}"
    );
}

#[test]
fn unavailable_accelerators_fall_back_to_cpu() {
    // The fetched onnxruntime is the CPU build: CUDA and TensorRT cannot register, and the
    // session must still come up on the CPU provider.
    let cfg = ModelConfig {
        contract: shipped_contract(),
        onnxruntime_lib: None,
        providers: vec![
            Provider::Tensorrt { device_id: 0 },
            Provider::Cuda { device_id: 0 },
            Provider::Cpu,
        ],
    };
    let model = load_model(&cfg).expect("falls back to CPU");
    assert_eq!(model.provider, "cpu");
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/{name}.contract.toml"))
}

/// Runs one fixture model through the worker on two rows; returns its outputs.
fn run_fixture(name: &str) -> Vec<f32> {
    let model = load_model(&config(fixture(name))).expect("fixture loads against its contract");
    let (tx, rx) = mpsc::channel();
    let (handle, join) = spawn_worker(model, wc(16, 4), move |_: usize, out| {
        tx.send(out.values.map(<[f32]>::to_vec).map_err(str::to_owned))
            .unwrap();
    })
    .unwrap();
    let mut rows = window(14.0, 1.0);
    rows.extend(window(3.0, 2.0));
    handle.submit(rows, 0).unwrap();
    let out = rx.recv().unwrap().unwrap();
    drop(handle);
    join.join().unwrap();
    out
}

#[test]
fn fixture_models_output_nan_infinities_and_huge_values_through_onnxruntime() {
    type Expect = fn(f32) -> bool;
    let cases: [(&str, Expect); 4] = [
        ("nan", f32::is_nan),
        ("pos_inf", |v| v == f32::INFINITY),
        ("neg_inf", |v| v == f32::NEG_INFINITY),
        ("huge", |v| v == 1e30),
    ];
    for (name, expected) in cases {
        let out = run_fixture(name);
        assert_eq!(out.len(), 4, "{name}: two rows of [p50, p90]");
        assert!(out.iter().all(|v| expected(*v)), "{name}: {out:?}");
    }
}

#[test]
fn committed_fixtures_match_their_generator() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/make_fixtures.py");
    let status = match std::process::Command::new("python3")
        .arg(&script)
        .arg("--check")
        .status()
    {
        Ok(s) => s,
        Err(e) => {
            println!(
                "skipped: python3 not runnable ({e}); fixtures not compared with make_fixtures.py"
            );
            return;
        }
    };
    assert!(status.success(), "rerun {}", script.display());
}
