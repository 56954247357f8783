//! TLS and mTLS on the gRPC links, real rustls both ends, certificates made at test time
//! (rcgen), real servers on loopback: the conflict manager (its `[tls]`) asked by the
//! xApps' conflict gate, the simulated E2T (e2sim's TLS) driven by the xApp runtime and by
//! the slice-xapp binary.
//!
//! - mTLS: a client with a certificate of the right CA is served; one of an unknown CA,
//!   one without a certificate, and one pinning another CA are refused, each counted on
//!   the side that refused.
//! - Reload: the server's certificate replaced by one of a second CA while it runs; a new
//!   client pinned to the second CA is served without a restart, one pinned to the first
//!   is not.
//! - The loop closes over TLS (runtime in process) and over mTLS (the slice-xapp binary with
//!   `[ric.tls]`, against the simulator in process and against the `e2sim` binary started
//!   with `--tls-cert --tls-key --tls-client-ca`).

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::xapp_proc::{XappProcess, demo_config};
use common::*;
use nf_core::conflict::{ControlIntent, Guidance, ManagerConfig};
use nf_runtime::conflict::{Gate, GateConfig};
use nf_runtime::metrics::{Metrics, ResultLabel};
use nf_tls::testing::{Files, TestCa, scratch};
use testbed::sim::RunningSim;

const XAPP: &str = "slice-xapp";

/// A conflict manager on loopback serving gRPC over `tls`.
async fn manager(tls: nf_tls::ServerSettings) -> nf_conflict::Running {
    let mut cfg = nf_conflict::Config::local(ManagerConfig {
        xapps: [(XAPP.to_owned(), 5)].into(),
        ..ManagerConfig::default()
    });
    cfg.tls = Some(tls);
    nf_conflict::start(cfg).await.unwrap()
}

/// A gate to `mgr` over `tls`, counting into its own metrics.
fn gate(mgr: &nf_conflict::Running, tls: nf_tls::ClientSettings) -> (Gate, Metrics) {
    let metrics = Metrics::new();
    let mut cfg = GateConfig::new(format!("https://localhost:{}", mgr.grpc_addr.port()), XAPP);
    cfg.timeout = Duration::from_secs(3);
    cfg.tls = Some(tls);
    (Gate::new(cfg, &metrics), metrics)
}

/// Asks once for a quota of a fresh cell: `true` when the manager answered (allow).
async fn served(g: &Gate, nci: u64) -> bool {
    let cell = nf_core::CellId {
        plmn: [0, 0xf1, 0x10],
        nci,
    };
    let answer = g
        .ask(ControlIntent::slice_quota(
            XAPP,
            "gnb-1".to_owned(),
            cell,
            "q",
        ))
        .await;
    matches!(answer, Guidance::Allow { .. })
}

fn unavailable(m: &Metrics) -> u64 {
    m.conflict_guidance
        .get_or_create(&ResultLabel {
            result: "unavailable_denied",
        })
        .get()
}

/// The leaf files of `leaf` with `ca` as the pinned CA.
fn pinning(ca: &Path, leaf: &Files) -> Files {
    Files {
        ca: ca.to_path_buf(),
        ..leaf.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_serves_the_right_client_and_refuses_the_others() {
    let dir = scratch("mtls-conflict");
    let ca = TestCa::new("airan ca");
    let stranger = TestCa::new("stranger ca");
    let server = ca.write(&dir, "mgr");
    let client = ca.write(&dir, "xapp");
    let foreign = stranger.write(&dir, "foreign");
    let mgr = manager(server.server(Some(&server.ca), 5000)).await;
    let failures = |reason| mgr.metrics.tls.handshake_failures_of("server", reason);

    let (good, _) = gate(&mgr, client.client(true, 5000));
    assert!(
        served(&good, 1).await,
        "a client certificate of the CA is served"
    );

    let (unknown, m) = gate(&mgr, pinning(&client.ca, &foreign).client(true, 5000));
    assert!(
        !served(&unknown, 2).await,
        "a client certificate of an unknown CA"
    );
    assert_eq!(unavailable(&m), 1);

    let (anonymous, m) = gate(&mgr, client.client(false, 5000));
    assert!(!served(&anonymous, 3).await, "no client certificate");
    assert_eq!(unavailable(&m), 1);

    let (wrong_pin, m) = gate(&mgr, pinning(&foreign.ca, &client).client(true, 5000));
    assert!(!served(&wrong_pin, 4).await, "a client pinning another CA");
    assert_eq!(m.tls.handshake_failures_of("conflict", "unknown_ca"), 1);

    assert!(
        wait_for(Duration::from_secs(2), || failures("unknown_ca") >= 1
            && failures("no_client_certificate") >= 1)
        .await,
        "unknown_ca {} no_client_certificate {}",
        failures("unknown_ca"),
        failures("no_client_certificate")
    );
    let text = mgr.metrics.encode();
    assert!(
        text.contains(
            "conflict_tls_handshake_failures_total{link=\"server\",reason=\"unknown_ca\"} 1"
        ),
        "{text}"
    );
    // The good client is still served after the refusals.
    assert!(served(&good, 5).await);
    mgr.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_server_certificate_is_used_without_a_restart() {
    let dir = scratch("reload-conflict");
    let first = TestCa::new("first ca");
    let second = TestCa::new("second ca");
    let server = first.write(&dir, "mgr");
    let second_ca = second.write(&dir, "second");
    let mgr = manager(server.server(None, 100)).await;
    let (before, _) = gate(&mgr, server.client(false, 5000));
    assert!(served(&before, 1).await, "first CA before");

    server.write(&first.pem(), &second.leaf(&["localhost", "127.0.0.1"]));
    let reloaded = wait_for(Duration::from_secs(5), || {
        mgr.metrics.tls.reloads_of("server") >= 1
    })
    .await;
    assert!(reloaded, "the manager reloaded its certificate");
    let (new_pin, _) = gate(&mgr, second_ca.client(false, 5000));
    assert!(
        served(&new_pin, 2).await,
        "a client pinned to the second CA, no restart"
    );
    let (old_pin, m) = gate(&mgr, server.client(false, 5000));
    assert!(
        !served(&old_pin, 3).await,
        "a new client pinned to the first CA"
    );
    assert_eq!(m.tls.handshake_failures_of("conflict", "unknown_ca"), 1);
    mgr.stop().await;
}

/// The simulator serving its E2T API over TLS (`client_ca`: mTLS).
async fn tls_sim(files: &Files, client_ca: Option<&Path>) -> RunningSim {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tls = nf_tls::ServerTls::new(
        files.server(client_ca, 5000),
        "server",
        &nf_tls::TlsMetrics::default(),
    );
    RunningSim::start_tls(sim(fast()), listener, Some(tls)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runtime_closes_its_loop_over_tls_and_refuses_cleartext_to_it() {
    let dir = scratch("e2t-tls");
    let ca = TestCa::new("e2t ca");
    let files = ca.write(&dir, "e2t");
    let sim = tls_sim(&files, None).await;
    let mut cfg = xapp_config(sim.addr);
    cfg.e2t_endpoint = format!("https://localhost:{}", sim.addr.port());
    cfg.budget = nf_core::latency::Budget::from_ms(1000.0);
    let metrics = Arc::new(Metrics::new());
    cfg.e2t_tls = Some(nf_tls::ClientTls::new(
        files.client(false, 5000),
        "e2t",
        &metrics.tls,
    ));
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(nf_runtime::run(cfg, model(), metrics.clone(), async move {
        let _ = rx.await;
    }));
    let cells = sim.sim.cell_count();
    let all = wait_for(Duration::from_secs(30), || {
        sim.sim.controls().len() >= cells
    })
    .await;
    let _ = stop.send(());
    let summary = run.await.unwrap().unwrap();
    assert!(
        all,
        "{} of {cells} cells controlled over TLS",
        sim.sim.controls().len()
    );
    assert_eq!(summary.controls_rejected, 0);

    // A cleartext client to the TLS port gets nowhere.
    let mut plain = xapp_config(sim.addr);
    plain.discovery_timeout = Duration::from_millis(500);
    let run = nf_runtime::run(
        plain,
        model(),
        Arc::new(Metrics::new()),
        tokio::time::sleep(Duration::from_millis(1500)),
    )
    .await;
    assert!(run.is_err(), "cleartext to a TLS E2T");
    assert!(sim.sim.controls().len() >= cells);
    sim.stop().await;
}

/// The demo config with the repository's model path, fast guard rails and `[ric.tls]`
/// naming `client`'s files (mTLS).
fn mtls_config(client: &Files) -> String {
    let mut config = demo_config();
    config.push_str(&format!(
        "\n[ric.tls]\nca = {:?}\ncert = {:?}\nkey = {:?}\n",
        client.ca.display().to_string(),
        client.cert.display().to_string(),
        client.key.display().to_string()
    ));
    config
}

/// The line of a summary that starts with `label`, its numbers split on `/`.
fn summary_numbers(summary: &str, label: &str) -> Vec<u64> {
    let line = summary
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no `{label}` in\n{summary}"));
    line[line.find(label).unwrap() + label.len()..]
        .split('/')
        .map(|n| n.trim().parse().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_e2sim_and_slice_xapp_binaries_close_the_loop_over_mtls() {
    let dir = scratch("e2sim-mtls-proc");
    let ca = TestCa::new("ric ca");
    let server = ca.write(&dir, "e2t");
    let client = ca.write(&dir, "xapp");
    let port_file = dir.join("port");
    let e2sim = std::process::Command::new(env!("CARGO_BIN_EXE_e2sim"))
        .args(["--listen", "127.0.0.1:0", "--speed", "25"])
        .arg("--port-file")
        .arg(&port_file)
        .arg("--tls-cert")
        .arg(&server.cert)
        .arg("--tls-key")
        .arg(&server.key)
        .arg("--tls-client-ca")
        .arg(&server.ca)
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(dir.join("e2sim.stderr")).unwrap())
        .spawn()
        .unwrap();
    let listening = wait_for(Duration::from_secs(20), || port_file.exists()).await;
    assert!(listening, "e2sim did not listen");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let port = std::fs::read_to_string(&port_file).unwrap();
    let e2t = format!("https://localhost:{}", port.trim());
    let xapp = XappProcess::start_at("slice-xapp", "e2sim-mtls-xapp", &e2t, &mtls_config(&client));
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (status, summary, stderr) = xapp.stop().await;
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &e2sim.id().to_string()])
        .status();
    let out = e2sim.wait_with_output().unwrap();
    let sim_summary = String::from_utf8_lossy(&out.stdout);
    assert!(status.success(), "{status:?}\n{stderr}");
    let controls = summary_numbers(&summary, "controls sent / accepted / rejected");
    assert!(
        controls[1] > 0,
        "no control accepted over mTLS\n{summary}\n{stderr}"
    );
    assert_eq!(controls[2], 0, "{summary}");
    assert!(sim_summary.contains("e2sim summary"), "{sim_summary}");
    let sim_log = std::fs::read_to_string(dir.join("e2sim.stderr")).unwrap();
    let serving = sim_log
        .lines()
        .find(|l| l.contains("e2sim serving"))
        .unwrap_or_default();
    assert!(serving.contains("\"mtls\""), "{sim_log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_slice_xapp_binary_closes_its_loop_over_mtls() {
    let dir = scratch("e2t-mtls-proc");
    let ca = TestCa::new("ric ca");
    let server = ca.write(&dir, "e2t");
    let client = ca.write(&dir, "xapp");
    let sim = tls_sim(&server, Some(&server.ca)).await;
    let config = mtls_config(&client);
    let e2t = format!("https://localhost:{}", sim.addr.port());
    let xapp = XappProcess::start_at("slice-xapp", "tls-mtls-xapp", &e2t, &config);
    let cells = sim.sim.cell_count();
    let all = wait_for(Duration::from_secs(60), || {
        sim.sim.controls().len() >= cells
    })
    .await;
    let (status, summary, stderr) = xapp.stop().await;
    assert!(
        all,
        "{} of {cells} cells controlled over mTLS\n{stderr}",
        sim.sim.controls().len()
    );
    assert!(status.success(), "{status:?}\n{stderr}");
    assert!(summary.contains("controls"), "{summary}");
    let accepted = sim
        .sim
        .controls()
        .values()
        .filter(|c| c.accepted > 0)
        .count();
    assert_eq!(accepted, cells, "cells with an accepted control");
    sim.stop().await;
}
