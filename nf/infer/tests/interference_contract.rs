//! Interference-model contracts (`kind = "interference"`): the shipped model
//! (`models/interference/`) loads through the real onnxruntime with its `[batch, 5, 8]`
//! input, answers `[batch, 2]` rows that pass `nf_core::radio_features::check_output` and
//! move the way the physics says, and contracts that disagree with `nf_core::radio_features`
//! (shape, feature order, output columns, a slice list) are refused by name.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use nf_core::CellId;
use nf_core::radio::{Neighbour, UeId, UeRadio};
use nf_core::radio_features::{FEATURE_NAMES, FEATURES, WINDOW, check_output, write_row};
use nf_infer::contract::{Contract, ContractError, ModelKind};
use nf_infer::runtime::{ModelConfig, Provider, load_model};
use nf_infer::worker::infer;

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../models/interference/interference.contract.toml")
}

fn ue(rsrp: f32, sinr: f32, nbr: Option<f32>) -> UeRadio {
    UeRadio {
        ue: UeId(3),
        rsrp_dbm: Some(rsrp),
        rsrq_db: Some(-11.0),
        sinr_db: Some(sinr),
        cqi: Some(((sinr + 6.0) / 2.5).clamp(0.0, 15.0)),
        thp_dl_kbps: Some(5_000.0),
        prb_used_dl: None,
        neighbour: nbr.map(|r| Neighbour {
            cell: CellId::new([0, 0xf1, 0x10], 0),
            rsrp_dbm: r,
            rsrq_db: Some(-14.0),
        }),
    }
}

#[test]
fn shipped_model_loads_and_answers_in_range() {
    let mut model = load_model(&ModelConfig {
        contract: shipped(),
        onnxruntime_lib: None,
        providers: vec![Provider::Cpu],
    })
    .expect("the shipped interference model loads");
    let c = model.contract.clone();
    assert_eq!(c.kind, ModelKind::Interference);
    assert_eq!(c.kind.as_str(), "interference");
    assert_eq!(c.window(), WINDOW);
    assert_eq!(c.feature_names(), FEATURE_NAMES);
    assert_eq!(c.output_row_len(), 2);
    // Near the cell, high SINR (little interference) vs. same RSRP, SINR 25 dB lower
    // with a neighbour as strong as the server (heavy interference).
    let clean = vec![ue(-75.0, 25.0, Some(-95.0)); WINDOW];
    let hit = vec![ue(-75.0, 0.0, Some(-76.0)); WINDOW];
    let mut buf = vec![0f32; 2 * WINDOW * FEATURES];
    write_row(&clean, &mut buf[..WINDOW * FEATURES]).unwrap();
    write_row(&hit, &mut buf[WINDOW * FEATURES..]).unwrap();
    let out = infer(&mut model, &c.input.name, &buf, [2, WINDOW, FEATURES], 2).unwrap();
    for p in out.chunks_exact(2) {
        check_output([p[0], p[1]]).unwrap();
    }
    let (clean_loss, clean_p, hit_loss, hit_p) = (out[0], out[1], out[2], out[3]);
    // References: clean 122.2 - 75 - 25 = 22.2 dB, hit 47.2 dB.
    assert!(hit_loss > clean_loss + 10.0, "{out:?}");
    assert!(hit_p > 0.5 && clean_p < 0.5, "{out:?}");
}

fn with(text: &str, from: &str, to: &str) -> Result<Contract, ContractError> {
    assert!(text.contains(from), "fixture lacks {from}");
    let dir = std::env::temp_dir().join(format!("interference-contract-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(format!("c{}.contract.toml", from.len() * 31 + to.len()));
    std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
    Contract::load(&p)
}

#[test]
fn contracts_disagreeing_with_radio_features_are_refused() {
    let text = std::fs::read_to_string(shipped()).unwrap();
    Contract::load(&shipped()).unwrap();
    let cases = [
        (
            "shape = [-1, 5, 8]",
            "shape = [-1, 6, 8]",
            "is not [batch, 5, 8]",
        ),
        (
            "shape = [-1, 5, 8]",
            "shape = [-1, 1, 5, 8]",
            "is not [batch, window, features]",
        ),
        (
            "name = \"L1M.SS-RSRQ\"",
            "name = \"L1M.SS-SINR\"",
            "are not",
        ),
        (
            "columns = [\"loss_db\", \"p_limited\"]",
            "columns = [\"p_limited\", \"loss_db\"]",
            "does not match its columns",
        ),
        (
            "report_period_ms = 1000",
            "report_period_ms = 1000\nslices = [\"1\"]",
            "lists slices",
        ),
    ];
    for (from, to, want) in cases {
        let e = with(&text, from, to).unwrap_err().to_string();
        assert!(e.contains(want), "{from} -> {to}: {e}");
    }
    // An interference contract needs no cell_prbs; a forecaster still does.
    let fc = text.replacen("kind = \"interference\"", "kind = \"forecaster\"", 1);
    let e = with(&fc, "report_period_ms = 1000", "report_period_ms = 1000")
        .unwrap_err()
        .to_string();
    assert!(e.contains("cell_prbs"), "{e}");
}
