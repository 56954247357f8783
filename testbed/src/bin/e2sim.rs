//! `e2sim`: the built-in E2 termination simulator. Replays recorded cell traces as E2 nodes
//! and cells over the SD-RAN E2T gRPC API, accepts and validates E2SM-RC controls, and prints
//! what it saw (indications, controls, indication→control round trips) when it stops.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use testbed::sim::{Faults, RunningSim, Sim, SimConfig};
use testbed::trace;

/// E2T simulator replaying SCOPE KPM traces (TRACTOR / ColO-RAN) as E2 nodes.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// Address to serve the E2T API on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:5150")]
    listen: std::net::SocketAddr,
    /// Write the bound port to this file once listening (for scripts using port 0).
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
    let root = cli.traces.clone().unwrap_or_else(trace::bundled_root);
    let traces = trace::read_cells(&root)
        .with_context(|| format!("reading traces under {}", root.display()))?;
    anyhow::ensure!(
        !traces.is_empty(),
        "no trace cells under {}",
        root.display()
    );
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
        ..SimConfig::default()
    };
    let sim = Sim::new(cfg, traces);
    let listener = tokio::net::TcpListener::bind(cli.listen)
        .await
        .with_context(|| format!("binding {}", cli.listen))?;
    let running = RunningSim::start(sim.clone(), listener)?;
    if let Some(p) = &cli.port_file {
        std::fs::write(p, running.addr.port().to_string())
            .with_context(|| format!("writing {}", p.display()))?;
    }
    tracing::info!(addr = %running.addr, nodes = cli.nodes, cells = sim.cell_count(), "e2sim serving");
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
    running.stop().await;
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
    Ok(())
}
