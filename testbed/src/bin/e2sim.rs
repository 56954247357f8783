//! `e2sim`: the built-in E2 termination simulator. Replays recorded cell traces as E2 nodes
//! and cells, accepts and validates E2SM-RC controls, and prints what it saw (indications,
//! controls, indication→control round trips) when it stops. It plays one of two RICs
//! (`--ric`): SD-RAN's E2T gRPC API with PROTO payloads (`sdran-grpc`), or the O-RAN SC
//! near-RT RIC, RMR + Subscription Manager REST + E2 manager REST with APER payloads
//! (`osc-rmr`).

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use e2_asn1::rc::RcProfile;
use testbed::sim::osc::{OscConfig, OscRic};
use testbed::sim::{Faults, RunningSim, Sim, SimConfig};
use testbed::trace;

/// Which recordings drive the radio twin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum RadioRecordings {
    All,
    HeldOut,
}

/// Which RIC the simulator plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Ric {
    /// SD-RAN onos-e2t: gRPC E2T API, E2SM payloads in this project's protobuf.
    SdranGrpc,
    /// O-RAN SC near-RT RIC: RMR (E2 termination), Subscription Manager and E2 manager
    /// REST, E2AP / E2SM in aligned PER.
    OscRmr,
}

/// `--rc-profile`: `PROFILE` for every node or `NODE=PROFILE` for one.
#[derive(Clone, Debug)]
struct RcProfileArg {
    node: Option<usize>,
    profile: RcProfile,
}

fn parse_rc_profile(s: &str) -> Result<RcProfileArg, String> {
    let (node, name) = match s.split_once('=') {
        Some((n, p)) => (
            Some(
                n.trim()
                    .parse::<usize>()
                    .map_err(|_| format!("node number {n:?}"))?,
            ),
            p,
        ),
        None => (None, s),
    };
    Ok(RcProfileArg {
        node,
        profile: name.trim().parse()?,
    })
}

/// E2T simulator replaying SCOPE KPM traces (TRACTOR / ColO-RAN) as E2 nodes.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// Address to serve the E2T API on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:5150")]
    listen: std::net::SocketAddr,
    /// Write the bound port to this file once listening (for scripts using port 0): the
    /// gRPC port (sdran-grpc) or the RMR data port (osc-rmr).
    #[arg(long)]
    port_file: Option<PathBuf>,
    /// Folder of trace cells (each sub-folder one cell of SCOPE *_metrics.csv files).
    #[arg(long)]
    traces: Option<PathBuf>,
    /// E2 nodes to simulate.
    #[arg(long, default_value_t = 2)]
    nodes: usize,
    /// Cells per E2 node (trace cells are reused with offsets).
    #[arg(long, default_value_t = 4)]
    cells_per_node: usize,
    /// Replay speed-up (1 = real time).
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Stop after this many seconds (default: until SIGINT/SIGTERM).
    #[arg(long)]
    duration: Option<f64>,
    /// Inject a malformed KPM payload every N indications.
    #[arg(long, default_value_t = 0)]
    malformed_every: u64,
    /// Repeat the measurement-info list in every indication (default: records follow the
    /// subscription's action definition, as E2SM-KPM allows).
    #[arg(long)]
    meas_info: bool,
    /// Inject non-finite measurement values every N indications.
    #[arg(long, default_value_t = 0)]
    nan_every: u64,
    /// The RIC the simulator plays.
    #[arg(long, value_enum, default_value = "sdran-grpc")]
    ric: Ric,
    /// osc-rmr: RMR data port of the E2 termination.
    #[arg(long, default_value = "127.0.0.1:38000")]
    rmr_listen: std::net::SocketAddr,
    /// osc-rmr: RMR control port taking route tables pushed by a routing manager.
    #[arg(long)]
    rmr_ctl_listen: Option<std::net::SocketAddr>,
    /// osc-rmr: static route table (`RMR_SEED_RT` format); default: `$RMR_SEED_RT`.
    #[arg(long, env = "RMR_SEED_RT")]
    rmr_seed_rt: Option<PathBuf>,
    /// osc-rmr: the xApp's RMR `host:port`; the simulator then plays the routing manager,
    /// routing each subscription's indications with `mse|12050|<sub_id>|<xapp>`.
    #[arg(long)]
    xapp_rmr: Option<String>,
    /// osc-rmr: Subscription Manager REST address.
    #[arg(long, default_value = "127.0.0.1:8088")]
    submgr_listen: std::net::SocketAddr,
    /// osc-rmr: E2 manager REST address (`GET /v1/nodeb/...`).
    #[arg(long, default_value = "127.0.0.1:3800")]
    e2mgr_listen: std::net::SocketAddr,
    /// Node numbers (0-based) speaking E2SM-KPM v02.03 in APER (osc-rmr, and sdran-grpc
    /// subscribers asking for ASN1_PER); the others v03.00.
    #[arg(long, value_delimiter = ',')]
    kpm_v2_nodes: Vec<usize>,
    /// E2SM-RC RAN parameter-ID profile (oran, srsran, flexric) of APER controls (osc-rmr,
    /// and sdran-grpc requests in ASN1_PER), for every node (`srsran`) or one
    /// (`1=flexric`); repeatable. Default: srsran.
    #[arg(long, value_parser = parse_rc_profile)]
    rc_profile: Vec<RcProfileArg>,
    /// sdran-grpc: answer `ListE2NodeConnections` with UNIMPLEMENTED, as current onos-e2t
    /// does (xApps then serve their configured `[[ric.nodes]]`). Needed by xApps speaking
    /// ASN1_PER: a standard KPM RAN function description names no cells.
    #[arg(long)]
    no_node_list: bool,
    /// Write the run's statistics as JSON to this file at exit: counters, every control
    /// received with its sender's app id (`controls`), and `direct_conflicts` (controls
    /// from different app ids on the same node / cell / RC parameter, for a handover the
    /// same UE, within `--conflict-window-ms`).
    #[arg(long)]
    stats_out: Option<PathBuf>,
    /// Radio mode: drive the multi-cell radio twin from the operator traces under this
    /// folder (`ucc5g` schema) instead of replaying slice traces: UE-level (style 4) and
    /// cell radio (style 1) reports, slice-level reports derived from the cells' load,
    /// handover (RC style 3 action 1) and PRB quota controls applied to the twin.
    #[arg(long)]
    radio: Option<PathBuf>,
    /// Radio mode: cells of the twin (spread over --nodes).
    #[arg(long, default_value_t = 4)]
    radio_cells: usize,
    /// Radio mode: seed of the twin (UE placement, start offsets, background load).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Radio mode: every recording drives UEs (`all`), or only the held-out ones the
    /// interference model never saw in training (`held-out`).
    #[arg(long, value_enum, default_value = "held-out")]
    radio_recordings: RadioRecordings,
    /// Window of the direct-conflict count [ms].
    #[arg(long, default_value_t = 1000)]
    conflict_window_ms: u64,
    /// Write every endpoint (ports, RAN names, RAN function IDs) as JSON to this file.
    #[arg(long)]
    endpoints_file: Option<PathBuf>,
    /// Serve the E2T API (sdran-grpc) over TLS with this PEM certificate chain (needs
    /// --tls-key); xApps then connect to https://.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Require client certificates signed by the CA in this PEM file (mTLS).
    #[arg(long, requires = "tls_cert")]
    tls_client_ca: Option<PathBuf>,
    /// How often the TLS files are looked at for a change [ms] (a change is used without
    /// a restart).
    #[arg(long, default_value_t = nf_tls::section::DEFAULT_RELOAD_MS)]
    tls_reload_ms: u64,
}

/// The TLS of `--tls-*`, files read and checked (an error names the flag and the file).
fn server_tls(cli: &Cli) -> anyhow::Result<Option<nf_tls::ServerTls>> {
    let (Some(cert), Some(key)) = (&cli.tls_cert, &cli.tls_key) else {
        return Ok(None);
    };
    let section = nf_tls::ServerSection {
        cert: cert.clone(),
        key: key.clone(),
        client_ca: cli.tls_client_ca.clone(),
        reload_ms: cli.tls_reload_ms,
    };
    let settings = section
        .load(nf_tls::Names::Flags, std::path::Path::new(""))
        .map_err(|problems| {
            let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
            anyhow::anyhow!("TLS refused: {}", lines.join("; "))
        })?;
    // e2sim has no metrics endpoint: handshake failures are logged.
    Ok(Some(nf_tls::ServerTls::new(
        settings,
        "server",
        &nf_tls::TlsMetrics::default(),
    )))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,h2=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let cfg = SimConfig {
        nodes: cli.nodes,
        cells_per_node: cli.cells_per_node,
        speed: cli.speed,
        faults: Faults {
            malformed_every: cli.malformed_every,
            nan_every: cli.nan_every,
            oversize_every: 0,
        },
        meas_info_in_indications: cli.meas_info,
        list_nodes: !cli.no_node_list,
        kpm_v2_nodes: cli.kpm_v2_nodes.clone(),
        ..SimConfig::default()
    };
    let mut cfg = cfg;
    for a in &cli.rc_profile {
        match a.node {
            Some(n) => cfg.rc_profiles.push((n, a.profile)),
            None => cfg.rc_profile = a.profile,
        }
    }
    if let Some(&n) = cfg.kpm_v2_nodes.iter().find(|&&n| n >= cfg.nodes) {
        anyhow::bail!(
            "--kpm-v2-nodes: node {n} does not exist (the simulator has {} nodes)",
            cfg.nodes
        );
    }
    if let Some((n, _)) = cfg.rc_profiles.iter().find(|(n, _)| *n >= cfg.nodes) {
        anyhow::bail!(
            "--rc-profile: node {n} does not exist (the simulator has {} nodes)",
            cfg.nodes
        );
    }
    let sim = match &cli.radio {
        Some(dir) => {
            let mut recordings = testbed::radio::trace::read_all(dir)
                .with_context(|| format!("reading ucc5g recordings under {}", dir.display()))?;
            if cli.radio_recordings == RadioRecordings::HeldOut {
                recordings.retain(|r| testbed::radio::trace::is_test_recording(&r.name));
            }
            anyhow::ensure!(
                !recordings.is_empty(),
                "no usable recording under {}",
                dir.display()
            );
            let twin_cfg = testbed::radio::TwinConfig {
                cells: cli.radio_cells,
                seed: cli.seed,
                ..testbed::radio::TwinConfig::default()
            };
            twin_cfg
                .validate()
                .map_err(|e| anyhow::anyhow!("--radio-cells / twin: {e}"))?;
            let twin = testbed::radio::RadioTwin::new(&recordings, &twin_cfg);
            tracing::info!(
                recordings = recordings.len(),
                cells = cli.radio_cells,
                seed = cli.seed,
                "radio mode: twin built"
            );
            Sim::new_radio(cfg, twin)
        }
        None => {
            let root = cli.traces.clone().unwrap_or_else(trace::bundled_root);
            let traces = trace::read_cells(&root)
                .with_context(|| format!("reading traces under {}", root.display()))?;
            anyhow::ensure!(
                !traces.is_empty(),
                "no trace cells under {}",
                root.display()
            );
            Sim::new(cfg, traces)
        }
    };
    let served = match cli.ric {
        Ric::SdranGrpc => serve_sdran(&cli, sim.clone()).await?,
        Ric::OscRmr => serve_osc(&cli, sim.clone()).await?,
    };
    let stop = async {
        match cli.duration {
            Some(s) => tokio::time::sleep(Duration::from_secs_f64(s)).await,
            None => std::future::pending().await,
        }
    };
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = stop => {}
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    let osc_counts = match served {
        Served::Sdran(running) => {
            running.stop().await;
            None
        }
        Served::Osc(ric) => {
            let counts = (ric.refusals(), ric.drops());
            ric.stop().await;
            Some(counts)
        }
    };
    let s = &sim.stats;
    let rtt = sim.round_trips().percentiles();
    let controls = sim.controls();
    println!("e2sim summary");
    println!(
        "  E2 nodes / cells            {} / {}",
        sim.nodes.len(),
        sim.cell_count()
    );
    println!(
        "  subscriptions / deleted     {} / {}",
        s.subscriptions.load(Ordering::Relaxed),
        s.unsubscriptions.load(Ordering::Relaxed)
    );
    println!(
        "  indications sent / dropped  {} / {}",
        s.indications_sent.load(Ordering::Relaxed),
        s.indications_dropped.load(Ordering::Relaxed)
    );
    println!(
        "  controls received / accepted / rejected   {} / {} / {}",
        s.controls_received.load(Ordering::Relaxed),
        s.controls_accepted.load(Ordering::Relaxed),
        s.controls_rejected.load(Ordering::Relaxed)
    );
    println!(
        "  cells controlled            {} of {}",
        controls.len(),
        sim.cell_count()
    );
    let lost = s.rtt_discarded.load(Ordering::Relaxed);
    if rtt.count == 0 {
        println!(
            "  indication→control round trip (simulator clock)  no samples ({lost} not timed)"
        );
    } else {
        println!(
            "  indication→control round trip (simulator clock)  p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs (n={}, {lost} not timed)",
            rtt.p50_us, rtt.p99_us, rtt.max_us, rtt.count
        );
    }
    let log = sim.control_log();
    let conflicts = sim.direct_conflicts(cli.conflict_window_ms);
    let mut apps: Vec<&str> = log.iter().map(|r| r.app_id.as_str()).collect();
    apps.sort_unstable();
    apps.dedup();
    println!(
        "  controls by app id          {}",
        if apps.is_empty() {
            "none".to_owned()
        } else {
            apps.iter()
                .map(|a| format!("{a} {}", log.iter().filter(|r| r.app_id == *a).count()))
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    println!(
        "  direct conflicts            {conflicts} (window {} ms)",
        cli.conflict_window_ms
    );
    if let Some(r) = &sim.radio {
        println!(
            "  radio twin steps / handovers applied / refused / PRB restrictions   {} / {} / {} / {}",
            r.steps.load(Ordering::Relaxed),
            r.handovers_applied.load(Ordering::Relaxed),
            r.handovers_refused.load(Ordering::Relaxed),
            r.restrictions.load(Ordering::Relaxed)
        );
    }
    if let Some((refused, dropped)) = &osc_counts {
        println!("  refused by reason (o-ran sc)  {}", by_reason(refused));
        println!("  not sent by reason (o-ran sc) {}", by_reason(dropped));
    }
    if let Some(p) = &cli.stats_out {
        let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        let v = serde_json::json!({
            "nodes": sim.nodes.len(),
            "cells": sim.cell_count(),
            "subscriptions": load(&s.subscriptions),
            "unsubscriptions": load(&s.unsubscriptions),
            "indications_sent": load(&s.indications_sent),
            "indications_dropped": load(&s.indications_dropped),
            "controls_received": load(&s.controls_received),
            "controls_accepted": load(&s.controls_accepted),
            "controls_rejected": load(&s.controls_rejected),
            "conflict_window_ms": cli.conflict_window_ms,
            "direct_conflicts": conflicts,
            "control_log_dropped": sim.control_log_dropped(),
            "radio": sim.radio.as_ref().map(|r| serde_json::json!({
                "steps": load(&r.steps),
                "handovers_applied": load(&r.handovers_applied),
                "handovers_refused": load(&r.handovers_refused),
                "restrictions": load(&r.restrictions),
            })),
            "controls": log.iter().map(testbed::sim::ControlRecord::to_json).collect::<Vec<_>>(),
        });
        std::fs::write(p, serde_json::to_vec_pretty(&v)?)
            .with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}

fn by_reason(counts: &[(&'static str, u64)]) -> String {
    if counts.is_empty() {
        return "none".into();
    }
    counts
        .iter()
        .map(|(r, n)| format!("{r} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

enum Served {
    Sdran(RunningSim),
    Osc(OscRic),
}

fn write_endpoints(cli: &Cli, v: &serde_json::Value) -> anyhow::Result<()> {
    if let Some(p) = &cli.endpoints_file {
        std::fs::write(p, serde_json::to_vec_pretty(v)?)
            .with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}

async fn serve_sdran(cli: &Cli, sim: std::sync::Arc<Sim>) -> anyhow::Result<Served> {
    let listener = tokio::net::TcpListener::bind(cli.listen)
        .await
        .with_context(|| format!("binding {}", cli.listen))?;
    let tls = server_tls(cli)?;
    let security = match (&tls, &cli.tls_client_ca) {
        (None, _) => "cleartext",
        (Some(_), None) => "tls",
        (Some(_), Some(_)) => "mtls",
    };
    let running = RunningSim::start_tls(sim.clone(), listener, tls)?;
    if let Some(p) = &cli.port_file {
        std::fs::write(p, running.addr.port().to_string())
            .with_context(|| format!("writing {}", p.display()))?;
    }
    write_endpoints(
        cli,
        &serde_json::json!({ "ric": "sdran-grpc", "e2t": running.addr.to_string() }),
    )?;
    tracing::info!(addr = %running.addr, nodes = cli.nodes, cells = sim.cell_count(), security, "e2sim serving");
    Ok(Served::Sdran(running))
}

async fn serve_osc(cli: &Cli, sim: std::sync::Arc<Sim>) -> anyhow::Result<Served> {
    if cli.tls_cert.is_some() {
        anyhow::bail!("--tls-cert applies to the sdran-grpc E2T API; RMR has no TLS");
    }
    let mut cfg = OscConfig {
        rmr_listen: cli.rmr_listen,
        rmr_ctl_listen: cli.rmr_ctl_listen,
        seed_routes: cli.rmr_seed_rt.clone(),
        xapp_rmr: cli.xapp_rmr.clone(),
        submgr_listen: cli.submgr_listen,
        e2mgr_listen: Some(cli.e2mgr_listen),
        kpm_v2_nodes: cli.kpm_v2_nodes.clone(),
        meas_info: true,
        ..OscConfig::default()
    };
    for a in &cli.rc_profile {
        match a.node {
            Some(n) => cfg.rc_profiles.push((n, a.profile)),
            None => cfg.rc_profile = a.profile,
        }
    }
    let ric = OscRic::start(sim.clone(), cfg).await?;
    let endpoints = ric.endpoints_json();
    if let Some(p) = &cli.port_file {
        std::fs::write(p, ric.rmr_addr().port().to_string())
            .with_context(|| format!("writing {}", p.display()))?;
    }
    write_endpoints(cli, &endpoints)?;
    tracing::info!(endpoints = %endpoints, cells = sim.cell_count(), "e2sim serving as an o-ran sc ric");
    Ok(Served::Osc(ric))
}
