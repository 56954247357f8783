//! Hot swap in the inference worker, through the real onnxruntime: jobs queued before a
//! swap run on the old model and every later one on the new, none lost or run twice; a
//! canary that gives NaN or out-of-range outputs, or another interface, leaves the old
//! model serving.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use nf_infer::runtime::{ModelConfig, Provider, load_model};
use nf_infer::{CanaryCheck, CanarySource, SwapError, WorkerConfig, spawn_worker};

fn shipped_contract() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../models/slice_forecaster/slice_forecaster.contract.toml")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/{name}.contract.toml"))
}

fn config(contract: PathBuf) -> ModelConfig {
    ModelConfig {
        contract,
        onnxruntime_lib: None,
        providers: vec![Provider::Cpu],
    }
}

/// The shipped model under another version, in a fresh folder.
fn relabelled(version: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nf-infer-swap-{version}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = shipped_contract();
    let onnx = src.with_file_name("slice_forecaster.onnx");
    std::fs::copy(&onnx, dir.join("slice_forecaster.onnx")).unwrap();
    let text = std::fs::read_to_string(&src).unwrap();
    let edited: String = text
        .lines()
        .map(|l| {
            if l.starts_with("version = ") {
                format!("version = \"{version}\"")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let path = dir.join("relabelled.contract.toml");
    std::fs::write(&path, edited).unwrap();
    path
}

/// The runtime's live check: finite and within [0, cell_prbs × 1.01].
fn in_range() -> CanaryCheck {
    Box::new(|c, rows, out| {
        let pairs: Vec<[f32; 2]> = out.chunks_exact(2).map(|p| [p[0], p[1]]).collect();
        nf_core_check(&pairs, rows, c.cell_prbs as f32)
    })
}

fn nf_core_check(rows: &[[f32; 2]], n: usize, ceiling: f32) -> Result<(), (&'static str, String)> {
    if rows.len() != n {
        return Err(("model_output_rows", format!("{} rows for {n}", rows.len())));
    }
    for v in rows.iter().flatten() {
        if v.is_nan() {
            return Err(("model_output_nan", "NaN".into()));
        }
        if !(0.0..=ceiling * 1.01).contains(v) {
            return Err(("model_output_out_of_range", format!("{v}")));
        }
    }
    Ok(())
}

fn wc() -> WorkerConfig {
    WorkerConfig {
        max_batch_rows: 64,
        queue_depth: 4096,
        keep_warm: None,
        one_job_per_run: false,
    }
}

fn row_len() -> usize {
    let c = nf_infer::Contract::load(&shipped_contract()).unwrap();
    c.input.shape[1..].iter().product::<i64>() as usize
}

#[test]
fn jobs_before_a_swap_run_on_the_old_model_and_after_on_the_new() {
    let old = load_model(&config(shipped_contract())).unwrap();
    let old_version = old.contract.version.clone();
    let (tx, rx) = mpsc::channel();
    let (handle, join) = spawn_worker(old, wc(), move |i: usize, out| {
        tx.send((i, out.model.version.clone(), out.values.is_ok()))
            .unwrap();
    })
    .unwrap();
    let n = row_len();
    for i in 0..500 {
        handle.submit(vec![(i % 40) as f32; n], i).unwrap();
    }
    let new = load_model(&config(relabelled("7.7.7"))).unwrap();
    let swapper = handle.clone();
    // The swap queues behind the 500 jobs; another 500 queue behind it while it waits.
    let swapped =
        std::thread::spawn(move || swapper.swap(new, in_range(), 16, Duration::from_secs(5)));
    std::thread::sleep(Duration::from_millis(5));
    let mut after = 500;
    let report = loop {
        if swapped.is_finished() {
            break swapped.join().unwrap().unwrap();
        }
        if after < 1000 {
            handle.submit(vec![1.0; n], after).unwrap();
            after += 1;
        } else {
            std::thread::sleep(Duration::from_millis(1));
        }
    };
    for i in after..after + 200 {
        handle.submit(vec![1.0; n], i).unwrap();
    }
    let total = after + 200;
    drop(handle);
    join.join().unwrap();
    let mut seen: Vec<(usize, String, bool)> = rx.iter().collect();
    assert_eq!(seen.len(), total, "every job answered once");
    seen.sort();
    seen.dedup_by_key(|s| s.0);
    assert_eq!(seen.len(), total, "no job answered twice");
    assert!(seen.iter().all(|s| s.2));
    // Submission order is queue order: one switch from old to new, at the swap.
    let switch = seen.iter().position(|s| s.1 == "7.7.7").unwrap();
    assert!(
        switch >= 500,
        "a job queued before the swap ran on the new model"
    );
    assert!(seen[..switch].iter().all(|s| s.1 == old_version));
    assert!(seen[switch..].iter().all(|s| s.1 == "7.7.7"));
    assert_eq!(report.jobs_before as usize, switch);
    assert_eq!(report.replaced.version, old_version);
    assert_eq!(report.serving.version, "7.7.7");
    assert_eq!(report.canary_source, CanarySource::Live);
    assert!(report.canary_rows >= 1 && report.canary_rows <= 16);
}

#[test]
fn a_canary_with_nan_or_out_of_range_outputs_leaves_the_old_model_serving() {
    let old = load_model(&config(shipped_contract())).unwrap();
    let old_version = old.contract.version.clone();
    let (tx, rx) = mpsc::channel();
    let (handle, join) = spawn_worker(old, wc(), move |_: usize, out| {
        tx.send((
            out.model.name.clone(),
            out.model.version.clone(),
            out.values.map(<[f32]>::to_vec).map_err(str::to_owned),
        ))
        .unwrap();
    })
    .unwrap();
    // Nothing served yet: the first canary is the synthetic batch (3 rows); after one live
    // job, the canary is that job's row.
    let cases = [
        ("nan", "model_output_nan"),
        ("huge", "model_output_out_of_range"),
    ];
    for (i, (fixture_name, reason)) in cases.into_iter().enumerate() {
        let bad = load_model(&config(fixture(fixture_name))).unwrap();
        let err = handle
            .swap(bad, in_range(), 16, Duration::from_secs(5))
            .unwrap_err();
        match &err {
            SwapError::Canary {
                reason: r,
                source_kind,
                rows,
                ..
            } => {
                assert_eq!(*r, reason, "{err}");
                let want = if i == 0 {
                    ("synthetic", 3)
                } else {
                    ("live", 1)
                };
                assert_eq!((*source_kind, *rows), want, "{err}");
            }
            other => panic!("{fixture_name}: {other}"),
        }
        // The old model still answers, with finite forecasts.
        handle.submit(vec![5.0; row_len()], 0).unwrap();
        let (name, version, values) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(
            (name.as_str(), version.as_str()),
            ("slice-prb-forecaster", old_version.as_str())
        );
        assert!(values.unwrap().iter().all(|v| v.is_finite()));
    }
    // Any failure leaves the old model: still no swap counted.
    let bad = load_model(&config(fixture("nan"))).unwrap();
    let err = handle
        .swap(bad, in_range(), 16, Duration::from_secs(5))
        .unwrap_err();
    assert!(
        matches!(
            err,
            SwapError::Canary {
                source_kind: "live",
                rows: 1,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        handle
            .stats()
            .swaps
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    drop(handle);
    join.join().unwrap();
}
