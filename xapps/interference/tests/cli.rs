//! The binary as an operator meets it: real `--help`, `--check` on the shipped config and
//! model, a bad config refused with exit 64 naming the key, and models the xApp must not
//! serve refused with exit 78: a contract of another kind, a file whose sha256 differs, and
//! a contract-valid model that answers NaN (the start-up canary).

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_interference-xapp"))
}

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn shipped() -> PathBuf {
    manifest().join("config/interference.toml")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "interference-xapp-cli-{name}-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn check(config: &Path) -> Output {
    bin()
        .arg("--config")
        .arg(config)
        .arg("--check")
        .output()
        .unwrap()
}

/// A config in `dir` whose model is the contract at `contract`.
fn config_with_contract(dir: &Path, contract: &Path) -> PathBuf {
    let real = manifest().join("../../models/interference/interference.contract.toml");
    let text = std::fs::read_to_string(shipped()).unwrap().replace(
        "../../../models/interference/interference.contract.toml",
        contract.to_str().unwrap(),
    );
    assert!(real.exists());
    let path = dir.join("c.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The shipped contract rewritten for `onnx` (copied beside it), with its sha256.
pub fn garbage_contract(dir: &Path, onnx: &str) -> PathBuf {
    let src = manifest().join("tests/data").join(onnx);
    std::fs::copy(&src, dir.join(onnx)).unwrap();
    let sha = sha256_hex(&std::fs::read(&src).unwrap());
    let real = manifest().join("../../models/interference/interference.contract.toml");
    let mut text = String::new();
    let mut named = false;
    for line in std::fs::read_to_string(real).unwrap().lines() {
        let line = if line.starts_with("file = ") {
            format!("file = \"{onnx}\"")
        } else if line.starts_with("sha256 = ") {
            format!("sha256 = \"{sha}\"")
        } else if !named && line.starts_with("name = ") {
            // The model's name (the first one; the output keeps its own).
            named = true;
            "name = \"garbage\"".to_owned()
        } else {
            line.to_owned()
        };
        text.push_str(&line);
        text.push('\n');
    }
    let path = dir.join("garbage.contract.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn sha256_hex(bytes: &[u8]) -> String {
    let out = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(bytes)?;
            c.wait_with_output()
        })
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn help_describes_the_xapp() {
    let out = bin().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--config",
        "--check",
        "--duration",
        "--log-format",
        "--decision-log",
        "E2SM-RC",
        "time-to-trigger",
        "SIGTERM",
    ] {
        assert!(text.contains(needle), "--help lacks {needle}:\n{text}");
    }
}

#[test]
fn shipped_config_and_model_pass_check() {
    let out = check(&shipped());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("canary batch passed"), "{text}");
}

#[test]
fn bad_config_exits_64_naming_the_key() {
    let dir = scratch("badcfg");
    let text = std::fs::read_to_string(shipped())
        .unwrap()
        .replace("hysteresis_db = 1.0", "hysteresis_db = 99.0");
    let path = dir.join("c.toml");
    std::fs::write(&path, text).unwrap();
    let out = check(&path);
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("mobility.hysteresis_db"), "{err}");
}

#[test]
fn a_model_answering_nan_is_refused_at_start() {
    let dir = scratch("nan");
    let contract = garbage_contract(&dir, "nan_interference.onnx");
    let out = check(&config_with_contract(&dir, &contract));
    assert_eq!(
        out.status.code(),
        Some(78),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("canary") && err.contains("non_finite"),
        "{err}"
    );
}

#[test]
fn a_model_not_matching_its_sha256_is_refused() {
    let dir = scratch("sha");
    let contract = garbage_contract(&dir, "edge_nan_interference.onnx");
    // Swap the file under the contract: same interface, other bytes.
    std::fs::copy(
        manifest().join("tests/data/nan_interference.onnx"),
        dir.join("edge_nan_interference.onnx"),
    )
    .unwrap();
    let out = check(&config_with_contract(&dir, &contract));
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(err.contains("sha256"), "{err}");
}

#[test]
fn a_forecaster_is_not_an_interference_model() {
    let dir = scratch("kind");
    let forecaster =
        manifest().join("../../models/slice_forecaster/slice_forecaster.contract.toml");
    let out = check(&config_with_contract(&dir, &forecaster));
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("kind"), "{err}");
}

#[test]
fn a_model_answering_garbage_only_at_the_cell_edge_passes_the_canary() {
    let dir = scratch("edge");
    let contract = garbage_contract(&dir, "edge_nan_interference.onnx");
    let out = check(&config_with_contract(&dir, &contract));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
