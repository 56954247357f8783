//! The xApp binary as an operator meets it: real `--help`, a bad config or command line
//! refused before anything starts (exit 64, every problem named once by its key), a model
//! or onnxruntime that cannot be used refused (exit 78, naming what and where from),
//! `--check` on the shipped config from any working directory, and SIGTERM / SIGINT against
//! the real simulator draining, unsubscribing and printing the summary (exit 0).

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

/// A copy of the demo config in a scratch folder, edited by `edit`; relative paths in it are
/// rewritten to absolute ones (they are relative to the config's folder).
fn edited_config(name: &str, edit: impl Fn(String) -> String) -> PathBuf {
    let dir = scratch(name);
    let contract = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../models/slice_forecaster/slice_forecaster.contract.toml");
    let text = std::fs::read_to_string(demo_config()).unwrap().replace(
        "../../../models/slice_forecaster/slice_forecaster.contract.toml",
        &contract.display().to_string(),
    );
    let path = dir.join("c.toml");
    std::fs::write(&path, edit(text)).unwrap();
    path
}

/// Runs `--check` on `config` with extra arguments; (exit code, stdout, stderr).
fn check(config: &Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let out = bin()
        .arg("--config")
        .arg(config)
        .arg("--check")
        .args(extra)
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// A1 policies kept in a state file that cannot be read stop the start (exit 64, naming
/// `a1.state_file`): policies answered `OK` are never dropped silently.
#[test]
fn an_unreadable_a1_state_file_exits_64_naming_it() {
    let dir = scratch("a1-state");
    let state = dir.join("a1-policies.json");
    let path = edited_config("a1-state", |t| {
        format!(
            "{t}\n[a1]\nstate_file = \"{}\"\nrmr_listen = \"127.0.0.1:4562\"\n",
            state.display()
        )
    });
    // No file yet: nothing to restore.
    let (code, out, err) = check(&path, &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    std::fs::write(
        &state,
        b"{\"format\": \"airan.a1.state.v1\", \"policy_type_id\": 21",
    )
    .unwrap();
    let (code, _, err) = check(&path, &[]);
    assert_eq!(code, Some(64), "{err}");
    assert!(
        err.contains("a1.state_file") && err.contains("not JSON"),
        "{err}"
    );
    std::fs::write(
        &state,
        br#"{"format": "airan.a1.state.v1", "policy_type_id": 20008, "instances": {}}"#,
    )
    .unwrap();
    let (code, _, err) = check(&path, &[]);
    assert_eq!(code, Some(64), "{err}");
    assert!(err.contains("policy type 20008"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_config_problem_is_printed_once_with_its_section() {
    let path = edited_config("allproblems", |t| {
        t.replace("hysteresis_pct = 3", "hysteresis_pct = 300")
            .replace(
                "max_inflight_controls = 1024",
                "max_inflight_controls = 9223372036854775807",
            )
            .replace("late_after_ms = 250", "late_after_ms = 60001")
    });
    let (code, _, err) = check(&path, &[]);
    assert_eq!(code, Some(64), "{err}");
    assert!(err.contains("3 problems"), "{err}");
    for key in [
        "`guard.hysteresis_pct` = 300",
        "`guard.max_inflight_controls` = 9223372036854775807",
        "`state.late_after_ms` = 60001",
    ] {
        assert_eq!(
            err.matches(key).count(),
            1,
            "{key} not printed once:\n{err}"
        );
    }
}

#[test]
fn duration_must_be_a_finite_number_of_seconds() {
    for bad in ["inf", "-inf", "NaN", "-1", "1e30", "soon"] {
        let (code, _, err) = check(&demo_config(), &[&format!("--duration={bad}")]);
        assert_eq!(code, Some(64), "--duration {bad}: {err}");
        assert!(err.contains("--duration"), "{err}");
    }
    let (_, _, err) = check(&demo_config(), &["--duration", "inf"]);
    assert!(err.contains("leave --duration out"), "{err}");
    let (code, _, err) = check(&demo_config(), &["--duration", "0.5"]);
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn unknown_flags_exit_64_and_help_exits_0() {
    let (code, _, err) = check(&demo_config(), &["--no-such-flag"]);
    assert_eq!(code, Some(64), "{err}");
    assert_eq!(bin().arg("--version").status().unwrap().code(), Some(0));
}

#[test]
fn bad_endpoints_exit_64_naming_e2t_endpoint() {
    for (endpoint, says) in [
        (
            "http://bad host:5150",
            "e2t.endpoint (from --e2t / SLICE_XAPP_E2T)",
        ),
        ("http://127.0.0.1:99999", "port"),
        ("127.0.0.1:5150", "http://"),
    ] {
        let (code, _, err) = check(&demo_config(), &["--e2t", endpoint]);
        assert_eq!(code, Some(64), "{endpoint}: {err}");
        assert!(err.contains("e2t.endpoint") && err.contains(says), "{err}");
    }
    let path = edited_config("https", |t| {
        t.replace("http://127.0.0.1:5150", "https://127.0.0.1:5150")
    });
    let (code, _, err) = check(&path, &[]);
    assert_eq!(code, Some(64), "{err}");
    assert!(
        err.contains("`e2t.endpoint`") && err.contains("needs [ric.tls]"),
        "{err}"
    );
}

#[test]
fn a_named_onnxruntime_that_is_missing_is_refused_not_replaced() {
    let path = edited_config("ortlib", |t| {
        t.replace(
            "# onnxruntime_lib = \"/opt/onnxruntime-gpu/lib/libonnxruntime.so.1.31.1\"",
            "onnxruntime_lib = \"ort/libonnxruntime.so\"",
        )
    });
    let (code, _, err) = check(&path, &[]);
    assert_eq!(code, Some(64), "{err}");
    let resolved = path.parent().unwrap().join("ort/libonnxruntime.so");
    assert!(
        err.contains("`model.onnxruntime_lib` = \"ort/libonnxruntime.so\"")
            && err.contains(&resolved.display().to_string()),
        "{err}"
    );
    let out = bin()
        .arg("--config")
        .arg(demo_config())
        .arg("--check")
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(
        err.contains("/nonexistent/libonnxruntime.so") && err.contains("from ORT_DYLIB_PATH"),
        "{err}"
    );
}

#[test]
fn relative_paths_follow_the_config_folder_from_any_directory() {
    let elsewhere = scratch("cwd");
    let out = bin()
        .current_dir(&elsewhere)
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
    let dir = scratch("relative");
    let text = std::fs::read_to_string(demo_config()).unwrap();
    std::fs::write(dir.join("c.toml"), text).unwrap();
    let out = bin()
        .current_dir(&elsewhere)
        .arg("--config")
        .arg(dir.join("c.toml"))
        .arg("--check")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{err}");
    let resolved = dir.join("../../../models/slice_forecaster/slice_forecaster.contract.toml");
    assert!(
        err.contains("`model.contract` = \"../../../models/")
            && err.contains(&resolved.display().to_string()),
        "{err}"
    );
    let out = bin()
        .current_dir(&elsewhere)
        .args(["--config", "missing/c.toml", "--check"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{err}");
    let resolved = elsewhere.join("missing/c.toml");
    assert!(
        err.contains("missing/c.toml (resolved to")
            && err.contains(&resolved.display().to_string()),
        "{err}"
    );
}

/// The real binary against the E2T simulator: it closes the loop, and on `signal` it stops
/// reading, unsubscribes every node, prints its summary and exits 0.
fn signal_drains_unsubscribes_and_prints_the_summary(signal: &str) {
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
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let out = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        assert!(out.status.success(), "{signal}: exit {:?}", out.status);
        let summary = String::from_utf8_lossy(&out.stdout);
        assert!(
            summary.contains("slice-xapp run summary")
                && summary.contains("controls sent / accepted / rejected"),
            "{summary}"
        );
        assert_eq!(
            sim.stats.unsubscriptions.load(Ordering::Relaxed),
            2,
            "{signal}: both nodes unsubscribed"
        );
        running.stop().await;
    });
}

#[test]
fn sigterm_unsubscribes_and_prints_the_summary() {
    signal_drains_unsubscribes_and_prints_the_summary("TERM");
}

/// SIGINT stops like SIGTERM. (SIGHUP reloads the models instead: `tests/model_swap.rs`.)
#[test]
fn sigint_unsubscribes_and_prints_the_summary() {
    signal_drains_unsubscribes_and_prints_the_summary("INT");
}
