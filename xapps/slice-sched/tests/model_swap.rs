//! SIGHUP against the real binary: the operator replaces the model files the config names
//! and sends SIGHUP; the xApp swaps the new model in and keeps serving. A replaced contract
//! whose hash does not match its model is refused on the next SIGHUP and the model swapped
//! in before keeps serving. SIGTERM still drains and prints the summary.

#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use testbed::sim::{RunningSim, Sim, SimConfig};

fn shipped_contract() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../models/slice_forecaster/slice_forecaster.contract.toml")
}

/// Writes the shipped contract to `path` with `key = value` lines replaced.
fn write_contract(path: &Path, edits: &[(&str, &str)]) {
    let text: Vec<String> = std::fs::read_to_string(shipped_contract())
        .unwrap()
        .lines()
        .map(|l| {
            edits
                .iter()
                .find(|(k, _)| l.starts_with(&format!("{k} = ")))
                .map_or_else(|| l.to_owned(), |(k, v)| format!("{k} = {v}"))
        })
        .collect();
    // Written aside and renamed, as an operator's deploy would: never half a file.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text.join("\n")).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn scrape(addr: SocketAddr) -> String {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return String::new();
    };
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

fn line<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.starts_with(prefix)).collect()
}

fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    cond()
}

fn hup(pid: u32) {
    let ok = Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -HUP");
}

#[test]
fn sighup_swaps_the_replaced_model_in_and_refuses_a_bad_one() {
    let dir = std::env::temp_dir().join(format!("xapp-sighup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        shipped_contract().with_file_name("slice_forecaster.onnx"),
        dir.join("slice_forecaster.onnx"),
    )
    .unwrap();
    let contract = dir.join("model.contract.toml");
    write_contract(&contract, &[("version", "\"1.0.0-deployed\"")]);
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo.toml");
    let config: Vec<String> = std::fs::read_to_string(&demo)
        .unwrap()
        .lines()
        .map(|l| {
            if l.starts_with("contract = ") {
                format!("contract = {:?}", contract.display().to_string())
            } else if l.starts_with("latency_budget_ms = ") {
                // A shared 2-core box: decisions must not be dropped for being slow.
                "latency_budget_ms = 1000.0".to_owned()
            } else {
                l.to_owned()
            }
        })
        .collect();
    let config_path = dir.join("xapp.toml");
    std::fs::write(&config_path, config.join("\n")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let metrics = SocketAddr::from(([127, 0, 0, 1], port));

    let rt = tokio::runtime::Runtime::new().unwrap();
    let traces = testbed::trace::read_cells(&testbed::trace::bundled_root()).unwrap();
    let sim = Sim::new(
        SimConfig {
            speed: 10.0,
            ..SimConfig::default()
        },
        traces,
    );
    let running = rt.block_on(RunningSim::bind(sim.clone(), 0)).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_slice-xapp"))
        .arg("--config")
        .arg(&config_path)
        .arg("--e2t")
        .arg(format!("http://{}", running.addr))
        .args(["--metrics-listen", &metrics.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let accepted = || sim.stats.controls_accepted.load(Ordering::Relaxed);
    if !wait_until(Duration::from_secs(60), || accepted() > 0) {
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        panic!(
            "no control reached the E2T: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let info = line(&scrape(metrics), "xapp_model_info{").join("\n");
    assert!(info.contains("version=\"1.0.0-deployed\""), "{info}");

    // The operator replaces the contract (same model, a new version) and sends SIGHUP.
    write_contract(&contract, &[("version", "\"1.0.1-deployed\"")]);
    hup(pid);
    let swapped = wait_until(Duration::from_secs(30), || {
        let m = scrape(metrics);
        m.contains("xapp_model_swaps_total{result=\"swapped\"} 1")
            && line(&m, "xapp_model_info{").len() == 1
            && m.contains("version=\"1.0.1-deployed\"")
    });
    assert!(swapped, "{}", scrape(metrics));
    let before = accepted();
    assert!(
        wait_until(Duration::from_secs(30), || accepted() > before),
        "controls stopped after the swap"
    );

    // A contract whose hash does not match: refused, the swapped-in model keeps serving.
    let zeros = format!("\"{}\"", "0".repeat(64));
    write_contract(
        &contract,
        &[("version", "\"1.0.2-broken\""), ("sha256", &zeros)],
    );
    hup(pid);
    let refused = wait_until(Duration::from_secs(30), || {
        scrape(metrics).contains("xapp_model_swaps_total{result=\"hash_mismatch\"} 1")
    });
    let m = scrape(metrics);
    assert!(refused, "{m}");
    let info = line(&m, "xapp_model_info{").join("\n");
    assert!(
        info.contains("version=\"1.0.1-deployed\"") && !info.contains("1.0.2-broken"),
        "{info}"
    );
    let before = accepted();
    assert!(
        wait_until(Duration::from_secs(30), || accepted() > before),
        "controls stopped after the refused swap"
    );

    let ok = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("slice-xapp run summary"),
        "{stderr}"
    );
    // One log line per attempt, naming the file and the reason.
    assert!(stderr.contains("model swapped"), "{stderr}");
    let refusal = stderr
        .lines()
        .find(|l| l.contains("model swap refused"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        refusal.contains("hash_mismatch") && refusal.contains("model.contract.toml"),
        "{refusal}"
    );
    assert_eq!(sim.stats.unsubscriptions.load(Ordering::Relaxed), 2);
    rt.block_on(running.stop());
    let _ = std::fs::remove_dir_all(&dir);
}
