//! Slice-policy contracts through the real onnxruntime: the `kind = "slice_policy"` fixtures
//! load with their rank-4 input, their outputs become quotas or are refused by reason, and
//! contracts whose slice list disagrees with their shapes are refused by name.

#![allow(clippy::unwrap_used)]

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use nf_core::slice_policy::{PolicyLayout, quotas_from_output};
use nf_core::{Meas, MeasVec, Snssai};
use nf_infer::contract::{Contract, ModelKind};
use nf_infer::runtime::{ModelConfig, Provider, load_model};
use nf_infer::worker::infer_shaped;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/{name}.contract.toml"))
}

fn sst(s: u8) -> Snssai {
    Snssai::new(s, None)
}

/// Quotas of a fixture for one cell with eMBB and mMTC (no URLLC), through onnxruntime.
fn run(name: &str) -> (PolicyLayout, Vec<f32>) {
    let mut model = load_model(&ModelConfig {
        contract: fixture(name),
        onnxruntime_lib: None,
        providers: vec![Provider::Cpu],
    })
    .expect("fixture loads");
    let c = &model.contract;
    assert_eq!(c.kind, ModelKind::SlicePolicy);
    let layout = PolicyLayout::new(c.slices.clone(), &c.feature_names(), c.window())
        .unwrap()
        .with_prb_counts(&c.prb_inputs());
    assert_eq!(layout.row_len(), c.input_row_len());
    let rows: VecDeque<MeasVec> = (0..6)
        .map(|k| {
            let mut m = MeasVec::default();
            m.set(Meas::PrbUsedDl, k as f32);
            m
        })
        .collect();
    let mut buf = vec![0.0; 2 * layout.row_len()];
    let (a, b) = buf.split_at_mut(layout.row_len());
    layout
        .write_row(&[(sst(1), &rows), (sst(3), &rows)], a)
        .unwrap();
    layout.write_row(&[(sst(2), &rows)], b).unwrap();
    let input = c.input.name.clone();
    let row_out = c.output_row_len();
    assert_eq!(row_out, layout.output_len());
    let shape = [2, 3, c.window(), c.input.features.len()];
    let out = infer_shaped(&mut model, &input, &buf, &shape, row_out).unwrap();
    assert_eq!(out.len(), 2 * row_out);
    (layout, out)
}

#[test]
fn a_policy_fixture_runs_and_its_outputs_become_quotas() {
    let (layout, out) = run("policy_fixed");
    let q = quotas_from_output(&out[..6], &[sst(3), sst(1)], &layout).unwrap();
    let got: Vec<_> = q
        .iter()
        .map(|q| (q.snssai.sst, q.min_ratio, q.max_ratio, q.dedicated_ratio))
        .collect();
    assert_eq!(got, vec![(3, 10, 40, 0), (1, 30, 80, 0)]);
}

#[test]
fn bad_policy_outputs_are_refused_by_reason() {
    let (layout, out) = run("policy_nan");
    let e = quotas_from_output(&out[6..], &[sst(2)], &layout).unwrap_err();
    assert_eq!(e.reason(), "model_output_nan");
    let (layout, out) = run("policy_oversum");
    // Two slices at 50 % minimum each fit; three do not.
    assert!(quotas_from_output(&out[..6], &[sst(1), sst(3)], &layout).is_ok());
    let e = quotas_from_output(&out[..6], &[sst(1), sst(2), sst(3)], &layout).unwrap_err();
    assert_eq!(e.reason(), "model_output_out_of_range");
}

fn edited(name: &str, edit: impl Fn(String) -> String) -> Result<Contract, String> {
    let dir = std::env::temp_dir().join(format!("nf-infer-policy-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(fixture("policy_fixed")).unwrap();
    let path = dir.join("c.toml");
    std::fs::write(&path, edit(text)).unwrap();
    Contract::load(&path).map_err(|e| e.to_string())
}

#[test]
fn policy_contracts_that_disagree_with_themselves_are_refused() {
    let c = edited("ok", |t| t).unwrap();
    assert_eq!(c.slices, vec![sst(1), sst(2), sst(3)]);
    assert_eq!(c.window(), 4);
    assert_eq!(c.input_row_len(), 3 * 4 * 6);
    let cases: [(&str, &str, &str, &str); 5] = [
        (
            "two",
            r#"slices = ["1", "2", "3"]"#,
            r#"slices = ["1", "2"]"#,
            "2",
        ),
        (
            "dup",
            r#"slices = ["1", "2", "3"]"#,
            r#"slices = ["1", "2", "2"]"#,
            "twice",
        ),
        (
            "bad",
            r#"slices = ["1", "2", "3"]"#,
            r#"slices = ["1", "x", "3"]"#,
            "`x`",
        ),
        (
            "rank",
            "shape = [-1, 3, 4, 6]",
            "shape = [-1, 4, 6]",
            "[batch, slices",
        ),
        (
            "kind",
            r#"kind = "slice_policy""#,
            r#"kind = "forecaster""#,
            "[batch, window",
        ),
    ];
    for (name, from, to, says) in cases {
        let e = edited(name, |t| t.replace(from, to)).unwrap_err();
        assert!(e.contains(says), "{name}: {e}");
    }
}
