//! Hot model swap under load, over loopback: the real runtime serves 16 cells of the
//! simulator while models are swapped by the admin call on its HTTP endpoint. A good model
//! (the shipped one under another version) is swapped in; a contract with a wrong hash, a
//! model whose canary gives NaN or out-of-range outputs, a missing file and a non-loopback
//! caller are refused and leave it serving. Every indication is accounted for (decided, or
//! refused with a reason), no decision is made twice, and the decision log shows each cell
//! switching model once, at the swap.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use nf_runtime::metrics::Metrics;
use testbed::ports::free_port;
use testbed::sim::SimConfig;

const NEW_VERSION: &str = "2.0.1-swap-test";

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("model-swap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn shipped_contract() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../models/slice_forecaster/slice_forecaster.contract.toml")
}

/// The shipped contract with `key = value` lines replaced, next to a copy of its model.
fn edited(dir: &Path, file: &str, edits: &[(&str, &str)]) -> PathBuf {
    let src = shipped_contract();
    let onnx = src.with_file_name("slice_forecaster.onnx");
    std::fs::copy(&onnx, dir.join("slice_forecaster.onnx")).unwrap();
    let text: Vec<String> = std::fs::read_to_string(&src)
        .unwrap()
        .lines()
        .map(|l| {
            edits
                .iter()
                .find(|(k, _)| l.starts_with(&format!("{k} = ")))
                .map_or_else(|| l.to_owned(), |(k, v)| format!("{k} = {v}"))
        })
        .collect();
    let path = dir.join(file);
    std::fs::write(&path, text.join("\n")).unwrap();
    path
}

/// One HTTP/1.0 request from `from` (a local address to bind, or any); status and body.
fn http(
    to: SocketAddr,
    from: Option<std::net::IpAddr>,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, String) {
    let mut sock = match from {
        None => TcpStream::connect_timeout(&to, Duration::from_secs(5)).unwrap(),
        Some(ip) => socket_from(ip, to).unwrap(),
    };
    sock.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let req = format!(
        "{method} {path} HTTP/1.0\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    sock.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    sock.read_to_string(&mut out).unwrap();
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned();
    (status, body)
}

/// A TCP connection to `to` whose source address is `ip`.
fn socket_from(ip: std::net::IpAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    // std has no bind-before-connect; connecting to `ip` itself makes the kernel pick it
    // as the source address.
    let target = SocketAddr::new(ip, to.port());
    TcpStream::connect_timeout(&target, Duration::from_secs(5))
}

/// This host's address on its default route, when it has one that is not loopback.
fn non_loopback_ip() -> Option<std::net::IpAddr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    // No packet is sent: connect only picks the route and source address.
    s.connect("10.255.255.254:9").ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

fn swap(addr: SocketAddr, arm: &str, contract: &Path) -> (u16, serde_json::Value) {
    let body = serde_json::json!({ "contract": contract }).to_string();
    let (status, text) = http(
        addr,
        None,
        "POST",
        &format!("/ric/v1/admin/models/{arm}"),
        &body,
    );
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status} {text:?}: {e}"));
    (status, value)
}

/// `xapp_model_info` lines of a scrape.
fn model_info(addr: SocketAddr) -> Vec<String> {
    let (status, text) = http(addr, None, "GET", "/metrics", "");
    assert_eq!(status, 200);
    text.lines()
        .filter(|l| l.starts_with("xapp_model_info{"))
        .map(str::to_owned)
        .collect()
}

/// Decisions of the log: (t_ms, node, cell, role) → model version.
fn read_log(path: &Path) -> Vec<((u64, String, String, String), String)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let key = (
                v["t_ms"].as_u64().unwrap(),
                v["node"].as_str().unwrap().to_owned(),
                v["cell"].as_str().unwrap().to_owned(),
                v["role"].as_str().unwrap().to_owned(),
            );
            let version = v["model"]["version"].as_str().unwrap_or("").to_owned();
            (key, version)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_swap_under_load_and_bad_ones_leave_the_old_serving() {
    let dir = scratch();
    let sim = start_sim(SimConfig {
        nodes: 2,
        cells_per_node: 8,
        speed: 20.0,
        ..SimConfig::default()
    })
    .await;
    let port = free_port();
    let mut cfg = xapp_config(sim.addr);
    // Generous: the box is shared; a decision past the budget would be dropped after it
    // was counted, which the accounting below rules out by name.
    cfg.budget = nf_core::latency::Budget::from_ms(5_000.0);
    cfg.metrics_listen = Some(SocketAddr::from(([0, 0, 0, 0], port)));
    let log_path = dir.join("decisions.jsonl");
    let log = std::fs::File::create(&log_path).unwrap();
    cfg.decision_log = Some(std::sync::Arc::new(
        nf_runtime::decisions::DecisionLog::new(
            Box::new(std::io::BufWriter::new(log)),
            1_000,
            false,
        ),
    ));
    let xapp = Xapp::start(cfg);
    let m = xapp.metrics.clone();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let shipped = nf_infer::Contract::load(&shipped_contract()).unwrap();
    let old_version = shipped.version.clone();
    assert!(
        wait_for(Duration::from_secs(60), || m.decisions.get() >= 200).await,
        "the loop never got going: {} decisions",
        m.decisions.get()
    );
    let info = tokio::task::spawn_blocking(move || model_info(addr))
        .await
        .unwrap();
    assert_eq!(info.len(), 1, "{info:?}");
    assert!(
        info[0].contains(&format!("version=\"{old_version}\"")),
        "{info:?}"
    );

    // A good model, by the admin call, while cells report.
    let good = edited(
        &dir,
        "good.contract.toml",
        &[("version", &format!("\"{NEW_VERSION}\""))],
    );
    let g = good.clone();
    let (status, answer) = tokio::task::spawn_blocking(move || swap(addr, "default", &g))
        .await
        .unwrap();
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["result"], "swapped", "{answer}");
    assert_eq!(answer["serving"]["version"], NEW_VERSION, "{answer}");
    assert_eq!(
        answer["replaced"]["version"],
        old_version.as_str(),
        "{answer}"
    );
    assert_eq!(answer["canary"]["source"], "live", "{answer}");
    println!(
        "swap: canary of {} live rows, worker paused {} µs",
        answer["canary"]["rows"], answer["canary"]["worker_pause_us"]
    );
    let info = tokio::task::spawn_blocking(move || model_info(addr))
        .await
        .unwrap();
    assert_eq!(info.len(), 1, "only the serving model: {info:?}");
    assert!(
        info[0].contains(&format!("version=\"{NEW_VERSION}\"")),
        "{info:?}"
    );
    let at_swap = m.decisions.get();
    assert!(
        wait_for(Duration::from_secs(60), || m.decisions.get()
            >= at_swap + 200)
        .await,
        "decisions stopped after the swap"
    );

    // Bad ones: each refused with its reason, the new model still serving.
    let wrong_hash = edited(
        &dir,
        "wrong_hash.contract.toml",
        &[
            ("version", "\"9.9.9\""),
            ("sha256", &format!("\"{}\"", "0".repeat(64))),
        ],
    );
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../nf/infer/tests/data");
    let nan = fixtures.join("nan.contract.toml");
    let huge = fixtures.join("huge.contract.toml");
    // The fixtures have the shipped interface (else they would be refused for that).
    let fixture = nf_infer::Contract::load(&nan).unwrap();
    assert_eq!(
        nf_runtime::models::interface_diff(&shipped, &fixture),
        None,
        "regenerate nf/infer/tests/data with make_fixtures.py"
    );
    let missing = dir.join("no-such.contract.toml");
    let cases = [
        ("default", wrong_hash, 422, "hash_mismatch"),
        ("default", nan, 422, "canary_failed"),
        ("default", huge, 422, "canary_failed"),
        ("default", missing, 422, "file_unreadable"),
    ];
    for (arm, contract, want_status, want) in cases {
        let c = contract.clone();
        let (status, answer) = tokio::task::spawn_blocking(move || swap(addr, arm, &c))
            .await
            .unwrap();
        assert_eq!(status, want_status, "{}: {answer}", contract.display());
        assert_eq!(answer["result"], want, "{}: {answer}", contract.display());
        assert_eq!(answer["serving"]["version"], NEW_VERSION, "{answer}");
        assert!(
            answer["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{answer}"
        );
        let info = tokio::task::spawn_blocking(move || model_info(addr))
            .await
            .unwrap();
        assert_eq!(info.len(), 1, "{info:?}");
        assert!(
            info[0].contains(&format!("version=\"{NEW_VERSION}\"")),
            "{want}: {info:?}"
        );
    }
    let (status, answer) = tokio::task::spawn_blocking(move || swap(addr, "no-such-arm", &good))
        .await
        .unwrap();
    assert_eq!(status, 404, "{answer}");

    // A caller that is not on loopback is refused before anything is read.
    let forbidden_before = m
        .http_requests
        .get_or_create(&nf_runtime::metrics::Endpoint {
            endpoint: "admin_forbidden",
        })
        .get();
    match non_loopback_ip() {
        Some(ip) => {
            let to = SocketAddr::new(ip, port);
            let body = serde_json::json!({ "contract": shipped_contract() }).to_string();
            let (status, text) = tokio::task::spawn_blocking(move || {
                http(to, Some(ip), "POST", "/ric/v1/admin/models/default", &body)
            })
            .await
            .unwrap();
            assert_eq!(status, 403, "{text}");
            assert!(text.contains("loopback"), "{text}");
            let forbidden = m
                .http_requests
                .get_or_create(&nf_runtime::metrics::Endpoint {
                    endpoint: "admin_forbidden",
                })
                .get();
            assert_eq!(forbidden, forbidden_before + 1);
        }
        None => println!("skipped the non-loopback caller: this host has no other address"),
    }
    for (result, n) in [
        ("swapped", 1),
        ("hash_mismatch", 1),
        ("canary_failed", 2),
        ("file_unreadable", 1),
        ("unchanged", 0),
        ("load_failed", 0),
    ] {
        assert_eq!(m.model_swap_count(result), n, "{result}");
    }
    let info = tokio::task::spawn_blocking(move || model_info(addr))
        .await
        .unwrap();
    assert!(
        info[0].contains(&format!("version=\"{NEW_VERSION}\"")),
        "{info:?}"
    );

    // The E2T goes away; what was read is finished, then the xApp stops.
    sim.stop().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let summary = xapp.stop().await;

    // Every indication read is decided or refused with a reason.
    // Drops counted after a decision was: none may have happened, or the sum below would
    // count those indications twice.
    for late in [
        "latency_budget",
        "control_backpressure",
        "control_encode_failed",
    ] {
        assert_eq!(Metrics::count(&m.dropped, late), 0, "{late}: {summary}");
    }
    let dropped: u64 = summary.dropped_by_reason.values().sum();
    let not_ingested: u64 = summary.not_ingested_by_reason.values().sum();
    let undecided: u64 = summary.undecided_by_reason.values().sum();
    assert_eq!(
        summary.indications,
        summary.rejected + not_ingested + undecided + dropped + summary.decisions,
        "an indication neither decided nor refused with a reason: {summary}"
    );
    assert!(summary.decisions > 400, "{summary}");

    // Each decision once in the log, under the model that made it; each cell switches
    // model once, at the swap, and never back.
    let lines = read_log(&log_path);
    assert_eq!(lines.len() as u64, summary.decisions, "{summary}");
    let keys: BTreeSet<_> = lines.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(keys.len(), lines.len(), "a decision logged twice");
    let mut per_version: BTreeMap<String, u64> = BTreeMap::new();
    let mut per_cell: BTreeMap<(String, String), Vec<(u64, String)>> = BTreeMap::new();
    for ((t, node, cell, _), version) in &lines {
        *per_version.entry(version.clone()).or_default() += 1;
        per_cell
            .entry((node.clone(), cell.clone()))
            .or_default()
            .push((*t, version.clone()));
    }
    assert_eq!(per_version.len(), 2, "{per_version:?}");
    for (cell, mut seq) in per_cell {
        seq.sort();
        let first_new = seq
            .iter()
            .position(|(_, v)| v == NEW_VERSION)
            .unwrap_or(seq.len());
        assert!(
            seq[..first_new].iter().all(|(_, v)| *v == old_version)
                && seq[first_new..].iter().all(|(_, v)| v == NEW_VERSION),
            "{cell:?} went back to the old model: {seq:?}"
        );
    }
    // The per-model counters agree with the log.
    for (version, n) in &per_version {
        let c = m
            .model_inferences
            .get_or_create(&nf_runtime::metrics::ModelLabels {
                name: shipped.name.clone(),
                version: version.clone(),
            })
            .get();
        assert_eq!(c, *n, "{version}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
