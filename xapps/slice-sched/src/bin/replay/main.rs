//! `replay`: plays a recorded trace through the built-in E2T simulator to the real xApp
//! runtime over gRPC on loopback, and writes the decision log and a summary; `replay diff`
//! compares the decision logs of two runs (two models, two configs).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use nf_runtime::config::Overload;

use slice_xapp::config::FileConfig;
use testbed::mapping::{Mapping, OnBadRow};
use testbed::sim::{RunningSim, Sim, SimConfig};
use testbed::trace::CellTrace;

mod diff;

/// Replays recorded cell traces through the E2T simulator to the xApp, or diffs two runs.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Play a trace to the xApp and write `decisions.jsonl` and `summary.json`.
    Run(RunArgs),
    /// Compare two decision logs: which cells and ticks changed decision, by how much.
    Diff(diff::DiffArgs),
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// xApp configuration (TOML); its E2T endpoint and metrics listener are replaced.
    #[arg(long, default_value = "xapps/slice-sched/config/demo.toml")]
    config: PathBuf,
    /// SCOPE trace root (one folder per cell), e.g. ../shared/traces/tractor.
    #[arg(long, conflicts_with_all = ["recording", "mapping"])]
    trace: Option<PathBuf>,
    /// Column-mapping file (TOML) for --input, for any other CSV layout.
    #[arg(long, requires = "input")]
    mapping: Option<PathBuf>,
    /// CSV file or folder read through --mapping.
    #[arg(long)]
    input: Option<PathBuf>,
    /// A session recording (airan.record.v1) to play back.
    #[arg(long)]
    recording: Option<PathBuf>,
    /// `max` (as fast as the xApp keeps up; reproducible), or a speed-up factor (1 = real time).
    #[arg(long, default_value = "max")]
    speed: String,
    /// Output folder.
    #[arg(long, default_value = "target/replay")]
    out: PathBuf,
    /// Also record the session (indications and controls) to this file.
    #[arg(long)]
    record: Option<PathBuf>,
    /// Other model contract replacing the config's (to compare models on one trace).
    #[arg(long)]
    model: Option<PathBuf>,
    /// What to do with a bad trace row.
    #[arg(long, value_enum, default_value = "stop")]
    on_bad_row: OnBadRow,
    /// E2 nodes the cells are spread over.
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.cmd {
        Cmd::Run(a) => run(a),
        Cmd::Diff(a) => diff::run(&a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("replay: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn load_traces(a: &RunArgs) -> anyhow::Result<(Vec<CellTrace>, serde_json::Value)> {
    if let Some(r) = &a.recording {
        let (cells, report) =
            testbed::recording::read(r).with_context(|| format!("recording {}", r.display()))?;
        return Ok((cells, serde_json::to_value(report)?));
    }
    // A SCOPE trace is read through the shipped SCOPE mapping file, like any other CSV.
    let (mapping, input) = match &a.mapping {
        Some(m) => (m.clone(), a.input.clone().unwrap_or_else(|| ".".into())),
        None => (
            testbed::mapping::bundled("scope"),
            a.trace.clone().unwrap_or_else(testbed::trace::bundled_root),
        ),
    };
    let mapping = Mapping::load(&mapping)?;
    let files = mapping.files(&input)?;
    if files.is_empty() {
        bail!(
            "{} holds no file ending in {}",
            input.display(),
            mapping.format.files
        );
    }
    let (rows, report) = mapping.read_rows(&files, a.on_bad_row)?;
    Ok((mapping.to_cells(&rows)?, serde_json::to_value(report)?))
}

fn run(a: RunArgs) -> anyhow::Result<()> {
    let (traces, read_report) = load_traces(&a)?;
    if traces.is_empty() {
        bail!("the trace holds no cell");
    }
    let max_speed = a.speed == "max";
    let speed: f64 = if max_speed {
        1.0
    } else {
        a.speed
            .parse()
            .ok()
            .filter(|s: &f64| *s > 0.0)
            .context("--speed: `max` or a factor above 0")?
    };
    let base = a.config.parent().unwrap_or(Path::new("."));
    let mut validated = FileConfig::load(&a.config)?.validate(base)?;
    if let Some(m) = &a.model {
        validated.models[0].contract = m.clone();
    }
    let models = slice_xapp::load_models(&validated.models).map_err(anyhow::Error::msg)?;
    std::fs::create_dir_all(&a.out)?;
    let log_path = a.out.join("decisions.jsonl");
    let mut cfg = validated.runtime;
    cfg.metrics_listen = None;
    cfg.decision_log = Some(slice_xapp::open_decision_log(&log_path, 10_000, false)?);
    cfg.reproducible = true;
    // A finished replay keeps its streams open and silent: never resubscribe (and replay
    // again) while the last decisions drain.
    cfg.silent_periods = *nf_runtime::config::SILENT_PERIODS_RANGE.end();
    // Decisions depend only on the data: past-budget ones are counted, not dropped.
    cfg.budget_mode = nf_core::latency::BudgetMode::Count;
    if max_speed {
        cfg.overload = Overload::Backpressure;
        cfg.budget = nf_core::latency::Budget::from_ms(3_600_000.0);
        cfg.stale_after_ms = 3_600_000;
    }
    let nodes = a.nodes.clamp(1, traces.len());
    let per_node = traces.len().div_ceil(nodes);
    let sim_cfg = SimConfig {
        nodes,
        cells_per_node: per_node,
        speed,
        play_once: true,
        trace_time: true,
        as_fast_as_possible: max_speed,
        stagger: !max_speed,
        ..SimConfig::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let summary = rt.block_on(async move {
        let sim = Sim::new(sim_cfg, traces);
        if let Some(r) = &a.record {
            sim.record_to(r, cfg.report_period_ms)?;
        }
        let running = RunningSim::bind(sim.clone(), 0).await?;
        cfg.e2t_endpoint = format!("http://{}", running.addr);
        let metrics = Arc::new(nf_runtime::metrics::Metrics::new());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let started = Instant::now();
        let xapp = tokio::spawn(nf_runtime::run_models(cfg, models, metrics, async move {
            let _ = stop_rx.await;
        }));
        wait_until_played(&sim, nodes, a.quiet).await;
        let _ = stop_tx.send(());
        let summary = xapp.await??;
        let wall = started.elapsed();
        let recorded = sim.finish_recording()?;
        running.stop().await;
        anyhow::Ok((summary, wall, sim, recorded))
    })?;
    let (summary, wall, sim, recorded) = summary;
    let windows = sim.cell_windows() as f64;
    let trace_s = windows / sim.cell_count() as f64 * 0.25;
    let json = serde_json::json!({
        "trace_read": read_report,
        "cells": sim.cell_count(),
        "windows": windows as u64,
        "indications_sent": sim.stats.indications_sent.load(Ordering::Relaxed),
        "controls_received": sim.stats.controls_received.load(Ordering::Relaxed),
        "controls_accepted": sim.stats.controls_accepted.load(Ordering::Relaxed),
        "decisions": summary.decisions,
        "controls_sent": summary.controls_sent,
        "suppressed": summary.suppressed,
        "dropped_past_budget": summary.dropped_past_budget,
        "dropped_other": summary.dropped_other,
        "rejected": summary.rejected,
        "wall_s": wall.as_secs_f64(),
        "trace_s_per_cell": trace_s,
        "speed_up": trace_s / wall.as_secs_f64(),
        "decision_latency_us": {
            "p50": summary.decision_latency.p50_us,
            "p99": summary.decision_latency.p99_us,
        },
        "recorded_entries": recorded,
        "decision_log": log_path,
    });
    std::fs::write(
        a.out.join("summary.json"),
        serde_json::to_string_pretty(&json)? + "\n",
    )?;
    println!("{summary}");
    println!(
        "replayed {} windows of {} cells in {:.2} s ({:.0}× real time); decision log {}",
        windows,
        sim.cell_count(),
        wall.as_secs_f64(),
        trace_s / wall.as_secs_f64(),
        log_path.display()
    );
    Ok(())
}

/// Shows progress until every subscription has played its trace and the xApp's controls
/// have stopped arriving.
async fn wait_until_played(sim: &Arc<Sim>, nodes: usize, quiet: bool) {
    let total = sim.cell_windows() as u64;
    let bar = if quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(total)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} windows ({per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    loop {
        bar.set_position(sim.stats.indications_sent.load(Ordering::Relaxed));
        if sim.stats.replays_finished.load(Ordering::Relaxed) as usize >= nodes {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bar.finish();
    // Decisions still in flight: wait until controls stop arriving.
    let mut last = u64::MAX;
    loop {
        let now = sim.stats.controls_received.load(Ordering::Relaxed);
        if now == last {
            break;
        }
        last = now;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
