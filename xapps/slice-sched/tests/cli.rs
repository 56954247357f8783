//! The xApp binary as an operator meets it: real `--help`, a bad config refused before
//! anything starts (exit 64, naming the key), a model that does not match its contract
//! refused (exit 78, naming the mismatch), and `--check` on the shipped config.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_slice-xapp"))
}

fn demo_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo.toml")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("slice-xapp-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn help_describes_the_xapp() {
    let out = bin().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--config",
        "--e2t",
        "--duration",
        "--check",
        "E2SM-RC",
        "SIGTERM",
    ] {
        assert!(text.contains(needle), "--help lacks {needle}:\n{text}");
    }
}

#[test]
fn shipped_config_and_model_pass_check() {
    let out = bin()
        .arg("--config")
        .arg(demo_config())
        .arg("--check")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("slice-prb-forecaster"));
}

#[test]
fn bad_config_exits_64_naming_the_key() {
    let dir = scratch("badcfg");
    let text = std::fs::read_to_string(demo_config())
        .unwrap()
        .replace("hysteresis_pct = 3", "hysteresis_pct = 300");
    let path = dir.join("c.toml");
    std::fs::write(&path, text).unwrap();
    let out = bin()
        .arg("--config")
        .arg(&path)
        .arg("--check")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("hysteresis_pct"), "{err}");
}

#[test]
fn model_not_matching_its_contract_exits_78_naming_the_mismatch() {
    let dir = scratch("badmodel");
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/slice_forecaster");
    std::fs::copy(
        models.join("slice_forecaster.onnx"),
        dir.join("slice_forecaster.onnx"),
    )
    .unwrap();
    let contract = std::fs::read_to_string(models.join("slice_forecaster.contract.toml"))
        .unwrap()
        .replace("name = \"prb_demand\"", "name = \"prb_forecast\"");
    std::fs::write(dir.join("contract.toml"), contract).unwrap();
    let cfg = std::fs::read_to_string(demo_config()).unwrap().replace(
        "../../../models/slice_forecaster/slice_forecaster.contract.toml",
        &dir.join("contract.toml").display().to_string(),
    );
    std::fs::write(dir.join("c.toml"), cfg).unwrap();
    let out = bin()
        .arg("--config")
        .arg(dir.join("c.toml"))
        .arg("--check")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("output name") && err.contains("prb_forecast") && err.contains("prb_demand"),
        "{err}"
    );
}

/// The real binary against the E2T simulator: it closes the loop, and on SIGTERM it stops
/// reading, unsubscribes every node, prints its summary and exits 0.
#[test]
fn sigterm_unsubscribes_and_prints_the_summary() {
    use std::sync::atomic::Ordering;
    use std::time::{Duration, Instant};
    use testbed::sim::{RunningSim, Sim, SimConfig};

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let traces = testbed::trace::read_cells(&testbed::trace::bundled_root()).unwrap();
        let sim = Sim::new(
            SimConfig {
                speed: 10.0,
                ..SimConfig::default()
            },
            traces,
        );
        let running = RunningSim::bind(sim.clone(), 0).await.unwrap();
        let child = bin()
            .arg("--config")
            .arg(demo_config())
            .arg("--e2t")
            .arg(format!("http://{}", running.addr))
            .args(["--metrics-listen", "off"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while sim.stats.controls_accepted.load(Ordering::Relaxed) == 0 && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            sim.stats.controls_accepted.load(Ordering::Relaxed) > 0,
            "no control reached the E2T"
        );
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let out = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        assert!(out.status.success(), "exit {:?}", out.status);
        let summary = String::from_utf8_lossy(&out.stdout);
        assert!(
            summary.contains("slice-xapp run summary")
                && summary.contains("controls sent / accepted / rejected"),
            "{summary}"
        );
        assert_eq!(
            sim.stats.unsubscriptions.load(Ordering::Relaxed),
            2,
            "both nodes unsubscribed"
        );
        running.stop().await;
    });
}
