//! Helpers shared by the interop tests: where the interop kit lives, and its vector files.
#![allow(dead_code)]

pub mod kpm;

use std::path::PathBuf;

/// One vector of `vectors/*.json`.
#[derive(Debug, Clone)]
pub struct Vector {
    pub id: String,
    pub bytes: Vec<u8>,
    /// `spec` as written in the file (e.g. `e2ap-v2`, `e2sm-rc-v5`).
    pub spec: String,
    /// `type` where the file names one (the srsRAN set does, the ONF set does not).
    pub type_name: Option<String>,
}

/// The interop kit (`$E2_INTEROP_DIR`, else `../shared/interop` beside the worktree), or
/// `None` after printing why the calling test skips.
pub fn interop_dir(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("E2_INTEROP_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/interop")
        });
    if dir.join("vectors").is_dir() {
        Some(dir)
    } else {
        println!(
            "SKIP {test}: interop kit not found at {} (set E2_INTEROP_DIR)",
            dir.display()
        );
        None
    }
}

/// The independent oracle's Python: `$ASN1_ORACLE_PYTHON`, else the pinned venv that
/// `scripts/oracle-venv.sh` makes or reuses. `None`, with the reason printed, without
/// python3; a venv that cannot be made while python3 exists fails the calling test.
pub fn oracle_python(test: &str) -> Option<PathBuf> {
    use std::process::Command;
    if let Some(python) = std::env::var_os("ASN1_ORACLE_PYTHON") {
        return Some(PathBuf::from(python));
    }
    if Command::new("python3").arg("--version").output().is_err() {
        println!("SKIP {test}: python3 not found");
        return None;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new("bash")
        .arg(root.join("scripts/oracle-venv.sh"))
        .output()
        .expect("run scripts/oracle-venv.sh");
    assert!(
        out.status.success(),
        "python3 exists but the oracle venv could not be made: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    Some(PathBuf::from(
        stdout.lines().last().expect("venv python path").trim(),
    ))
}

/// The file names under `vectors/` that hold APER vectors (every `*.json` except the RMR
/// frames, which are transport captures, not ASN.1).
pub fn vector_files(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("vectors"))
        .expect("read vectors dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json") && !n.starts_with("rmr-"))
        .collect();
    names.sort();
    names
}

/// Every vector of one file.
pub fn load(dir: &std::path::Path, file: &str) -> Vec<Vector> {
    let text = std::fs::read_to_string(dir.join("vectors").join(file)).expect("read vectors");
    let json: serde_json::Value = serde_json::from_str(&text).expect("vectors are JSON");
    json.as_array()
        .expect("a JSON array")
        .iter()
        .map(|e| Vector {
            id: e["id"].as_str().expect("id").to_owned(),
            bytes: hex::decode(e["hex"].as_str().expect("hex")).expect("hex digits"),
            spec: e["spec"].as_str().unwrap_or_default().to_owned(),
            type_name: e["type"].as_str().map(str::to_owned),
        })
        .collect()
}
