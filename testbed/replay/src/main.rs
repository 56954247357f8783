//! `replay`: plays a recorded trace through the built-in E2T simulator to the real xApp
//! runtime over gRPC on loopback, and writes the decision log and a summary; `replay diff`
//! compares the decision logs of two runs (two models, two configs).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use nf_infer::runtime::LoadedModel;
use nf_runtime::config::{Overload, RuntimeConfig};
use nf_runtime::summary::Summary;

use slice_xapp::config::FileConfig;
use testbed::mapping::{Mapping, OnBadRow};
use testbed::sim::{RunningSim, Sim, SimConfig};
use testbed::trace::CellTrace;

mod diff;

/// The decision log holds every line until the replay ends, then writes them sorted: its
/// horizon only knows cells that have decided already, so with a shorter hold a node that
/// starts deciding later than another could see its first lines written out of order.
const REPLAY_LOG_HOLD_MS: u64 = u64::MAX;

/// Control outcome timeout in replay.
const REPLAY_CONTROL_TIMEOUT: Duration = Duration::from_secs(60);

/// Outgoing queue of each subscription at `--speed max` [indications].
const AFAP_QUEUE: usize = 32;

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
    /// CSV file or folder read through --mapping (both are needed).
    #[arg(long, requires = "mapping", conflicts_with = "recording")]
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
    /// Model inputs a trace never carries (a UE-side operator CSV has no PRB columns):
    /// `refuse` those cells (counted `missing_input`, a loss that fails the run) or
    /// `impute-zero` (fed as 0, counted `imputed_input` and logged). Default: the config's
    /// `model.missing_inputs`.
    #[arg(long, value_enum)]
    missing_inputs: Option<MissingInputsArg>,
    /// A loss you know the cause of and accept, as printed in the loss list
    /// (`rejected:measurement_out_of_range`, say); repeatable. Accepted losses are still
    /// counted and listed (`accepted_loss` in summary.json); any other loss fails the run.
    #[arg(long = "accept-loss", value_name = "KIND:REASON")]
    accept_loss: Vec<String>,
    /// E2 nodes the cells are spread over.
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// Give up when no indication has been sent or read for this long [s] (the xApp
    /// refused the E2 node, say); the windows not played count as lost.
    #[arg(long, default_value_t = 60.0)]
    stall_timeout: f64,
}

/// `--missing-inputs`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum MissingInputsArg {
    Refuse,
    ImputeZero,
}

impl From<MissingInputsArg> for nf_core::features::MissingInputs {
    fn from(a: MissingInputsArg) -> Self {
        match a {
            MissingInputsArg::Refuse => Self::Refuse,
            MissingInputsArg::ImputeZero => Self::ImputeZero,
        }
    }
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
        Cmd::Diff(a) => diff::run(&a).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("replay: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// What the trace reader produced.
struct Loaded {
    traces: Vec<CellTrace>,
    /// The reader's own report (rows, bad rows, missing values).
    report: serde_json::Value,
    /// Report period of the trace's windows [ms].
    period_ms: u32,
}

fn load_traces(a: &RunArgs) -> anyhow::Result<Loaded> {
    if let Some(r) = &a.recording {
        let (traces, report) =
            testbed::recording::read(r).with_context(|| format!("recording {}", r.display()))?;
        let period_ms = report.report_period_ms;
        return Ok(Loaded {
            traces,
            report: serde_json::to_value(report)?,
            period_ms,
        });
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
    Ok(Loaded {
        traces: mapping.to_cells(&rows)?,
        report: serde_json::to_value(report)?,
        period_ms: u32::try_from(mapping.format.period_ms)
            .context("mapping format.period_ms is too large")?,
    })
}

/// Says which cells carry no slice: E2SM-KPM carries only their cell-level measurements
/// (`RRU.PrbAvailDl`, `RRU.PrbTotDl`), so the xApp has nothing to decide on there.
fn warn_sliceless(traces: &[CellTrace]) {
    let sliceless: Vec<&str> = traces
        .iter()
        .filter(|t| t.slices().is_empty())
        .map(|t| t.name.as_str())
        .collect();
    if !sliceless.is_empty() {
        eprintln!(
            "replay: {} of {} cells carry no slice ({}): only their cell-level measurements reach the xApp; \
             `[slice] value = \"<SST>\"` in the mapping reads each cell as one slice",
            sliceless.len(),
            traces.len(),
            sliceless.join(", ")
        );
    }
}

fn parse_speed(speed: &str) -> anyhow::Result<Option<f64>> {
    if speed == "max" {
        return Ok(None);
    }
    speed
        .parse()
        .ok()
        .filter(|s: &f64| s.is_finite() && *s > 0.0)
        .map(Some)
        .context("--speed: `max` or a factor above 0")
}

/// The runtime configuration of a replay: decisions depend only on the data, so nothing
/// is shed or dropped by age (the configured budget only counts late decisions and
/// controls).
fn replay_config(
    a: &RunArgs,
    period_ms: u32,
) -> anyhow::Result<(RuntimeConfig, Vec<LoadedModel>, u64)> {
    let base = FileConfig::folder_of(&a.config);
    let mut validated = FileConfig::load(&a.config)?.validate(&base)?;
    if let Some(m) = &a.model {
        validated.models[0].contract = m.clone();
    }
    let models = slice_xapp::load_models(&validated.models).map_err(anyhow::Error::msg)?;
    std::fs::create_dir_all(&a.out)?;
    let mut cfg = validated.runtime;
    let late_after_ns = cfg.budget.budget_ns;
    cfg.metrics_listen = None;
    // A replay's log is this replay's alone (it is compared byte for byte with others'):
    // start it afresh, never rotated.
    let log_path = a.out.join("decisions.jsonl");
    match std::fs::remove_file(&log_path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(anyhow::anyhow!("{}: {e}", log_path.display())),
    }
    cfg.decision_log = Some(slice_xapp::open_decision_log(
        &log_path,
        REPLAY_LOG_HOLD_MS,
        false,
        nf_runtime::logfile::Rotation {
            max_bytes: u64::MAX,
            keep: 1,
        },
    )?);
    cfg.reproducible = true;
    cfg.report_period_ms = period_ms;
    // A finished replay keeps its streams open and silent: never resubscribe (and replay
    // again) while the last decisions drain.
    cfg.silent_periods = *nf_runtime::config::SILENT_PERIODS_RANGE.end();
    // Decisions depend only on the data: past-budget ones are counted, not dropped.
    cfg.budget_mode = nf_core::latency::BudgetMode::Count;
    // Trace time runs at N× our clock (or as fast as the xApp reads): the node-clock check
    // of live runs would see every report as stamped ahead. Reports still move forward in
    // time per cell (out-of-order and duplicates are refused as live).
    cfg.max_ahead_ms = u64::MAX;
    if let Some(m) = a.missing_inputs {
        cfg.missing_inputs = m.into();
    }
    cfg.overload = Overload::Backpressure;
    cfg.stale_after_ms = 3_600_000;
    // A control outcome that timed out would change later decisions (the guard forgets
    // the cell): on loopback every outcome comes, however loaded the machine.
    cfg.control_timeout = REPLAY_CONTROL_TIMEOUT;
    Ok((cfg, models, late_after_ns))
}

/// What one replay did, end to end.
struct Outcome {
    summary: Summary,
    wall: Duration,
    sim: Arc<Sim>,
    recorded: u64,
}

/// Refuses, before anything plays, a trace that never carries one of a model's inputs in
/// any slice of any window: every one of its cells would be refused (`missing_input`) at its
/// first full window. Inputs missing from some cells only are left to the runtime's
/// per-cell check.
fn refuse_absent_inputs(traces: &[CellTrace], models: &[LoadedModel]) -> anyhow::Result<()> {
    let sliced = || {
        traces
            .iter()
            .flat_map(CellTrace::windows)
            .flat_map(|w| w.slices.iter())
    };
    if sliced().next().is_none() {
        return Ok(());
    }
    for m in models {
        let c = &m.contract;
        let layout = nf_core::features::FeatureLayout::new(&c.feature_names(), c.window())?;
        let absent: Vec<&str> = layout
            .features()
            .iter()
            .filter(|f| !sliced().any(|(_, v)| v.get(**f).is_finite()))
            .map(|f| f.name())
            .collect();
        if !absent.is_empty() {
            bail!(
                "the trace never carries model input(s) {} of `{}`: every cell would be \
                 refused (missing_input). Map them, or replay with --missing-inputs \
                 impute-zero to feed them as 0 (counted imputed_input)",
                absent.join(", "),
                c.name
            );
        }
    }
    Ok(())
}

fn run(a: RunArgs) -> anyhow::Result<ExitCode> {
    let loaded = load_traces(&a)?;
    if loaded.traces.is_empty() {
        bail!("the trace holds no cell");
    }
    warn_sliceless(&loaded.traces);
    let speed = parse_speed(&a.speed)?;
    let (mut cfg, models, late_after_ns) = replay_config(&a, loaded.period_ms)?;
    if cfg.missing_inputs == nf_core::features::MissingInputs::Refuse {
        refuse_absent_inputs(&loaded.traces, &models)?;
    }
    let cells = loaded.traces.len();
    let nodes = a.nodes.clamp(1, cells);
    let sim_cfg = SimConfig {
        nodes,
        cells_per_node: cells.div_ceil(nodes),
        total_cells: Some(cells),
        speed: speed.unwrap_or(1.0),
        play_once: true,
        trace_time: true,
        as_fast_as_possible: speed.is_none(),
        stagger: speed.is_some(),
        // At max speed a short queue keeps the simulator just ahead of the xApp, so the
        // round trips it measures are the xApp's, not time spent queued.
        stream_queue: if speed.is_none() {
            AFAP_QUEUE
        } else {
            SimConfig::default().stream_queue
        },
        late_after_ns,
        ..SimConfig::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (record, quiet) = (a.record.clone(), a.quiet);
    let stall = Duration::try_from_secs_f64(a.stall_timeout)
        .ok()
        .filter(|d| !d.is_zero())
        .context("--stall-timeout: seconds above 0")?;
    let outcome = rt.block_on(async move {
        let sim = Sim::new(sim_cfg, loaded.traces);
        if let Some(r) = &record {
            sim.record_to(r, cfg.report_period_ms)?;
        }
        let running = RunningSim::bind(sim.clone(), 0).await?;
        cfg.e2t_endpoint = format!("http://{}", running.addr);
        let metrics = Arc::new(nf_runtime::metrics::Metrics::new());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let started = Instant::now();
        let xapp = tokio::spawn(nf_runtime::run_models(
            cfg,
            models,
            metrics.clone(),
            async move {
                let _ = stop_rx.await;
            },
        ));
        let played = Progress {
            nodes,
            quiet,
            stall,
        };
        played.wait(&sim, &metrics, &xapp).await;
        // Every window is in: stopping drains the decisions still in flight.
        let _ = stop_tx.send(());
        let summary = xapp.await??;
        let wall = started.elapsed();
        let recorded = sim.finish_recording()?;
        running.stop().await;
        anyhow::Ok(Outcome {
            summary,
            wall,
            sim,
            recorded,
        })
    })?;
    report(&a, &outcome, loaded.report, loaded.period_ms)
}

/// Windows that did not make it from the trace reader into the xApp's cell table, or whose
/// decision was dropped, by reason. Every entry is an unexplained loss.
fn losses(o: &Outcome, read_report: &serde_json::Value) -> BTreeMap<String, u64> {
    let stats = &o.sim.stats;
    let windows = o.sim.cell_windows();
    let sent = stats.indications_sent.load(Ordering::Relaxed);
    let mut out = BTreeMap::new();
    out.insert(
        "simulator_queue_full".to_owned(),
        stats.indications_dropped.load(Ordering::Relaxed),
    );
    out.insert("not_sent".to_owned(), windows.saturating_sub(sent));
    out.insert(
        "not_received".to_owned(),
        sent.saturating_sub(o.summary.indications),
    );
    out.insert(
        "recording_undecodable".to_owned(),
        read_report["undecodable"].as_u64().unwrap_or(0),
    );
    for (what, counts) in [
        ("rejected", &o.summary.rejected_by_reason),
        ("not_ingested", &o.summary.not_ingested_by_reason),
        ("dropped", &o.summary.dropped_by_reason),
    ] {
        for (reason, n) in counts {
            out.insert(format!("{what}:{reason}"), *n);
        }
    }
    out.retain(|_, n| *n > 0);
    out
}

fn report(
    a: &RunArgs,
    o: &Outcome,
    read_report: serde_json::Value,
    period_ms: u32,
) -> anyhow::Result<ExitCode> {
    let (summary, sim) = (&o.summary, &o.sim);
    let windows = sim.cell_windows();
    let trace_s = windows as f64 / sim.cell_count() as f64 * f64::from(period_ms) / 1000.0;
    let speed_up = trace_s / o.wall.as_secs_f64();
    let mut lost = losses(o, &read_report);
    let accepted: BTreeMap<String, u64> = a
        .accept_loss
        .iter()
        .filter_map(|k| lost.remove_entry(k))
        .collect();
    let late = sim.stats.controls_late.load(Ordering::Relaxed);
    let log_path = a.out.join("decisions.jsonl");
    let json = serde_json::json!({
        "trace_read": read_report,
        "cells": sim.cell_count(),
        "period_ms": period_ms,
        "windows": windows,
        "indications_sent": sim.stats.indications_sent.load(Ordering::Relaxed),
        "indications_received": summary.indications,
        "controls_received": sim.stats.controls_received.load(Ordering::Relaxed),
        "controls_accepted": sim.stats.controls_accepted.load(Ordering::Relaxed),
        "decisions": summary.decisions,
        "controls_sent": summary.controls_sent,
        "suppressed": summary.suppressed,
        "dropped_past_budget": summary.dropped_past_budget,
        "dropped_other": summary.dropped_other,
        "rejected": summary.rejected,
        "rejected_by_reason": summary.rejected_by_reason,
        "dropped_by_reason": summary.dropped_by_reason,
        "not_ingested_by_reason": summary.not_ingested_by_reason,
        "skipped_measurements": summary.skipped_measurements,
        "undecided_by_reason": summary.undecided_by_reason,
        "controls_late": late,
        "rtt_discarded": sim.stats.rtt_discarded.load(Ordering::Relaxed),
        "unexplained_loss": lost,
        "accepted_loss": accepted,
        "wall_s": o.wall.as_secs_f64(),
        "trace_s_per_cell": trace_s,
        "speed_up": speed_up,
        "decision_latency_us": {
            "p50": summary.decision_latency.p50_us,
            "p99": summary.decision_latency.p99_us,
        },
        "recorded_entries": o.recorded,
        "decision_log": log_path,
    });
    std::fs::write(
        a.out.join("summary.json"),
        serde_json::to_string_pretty(&json)? + "\n",
    )?;
    println!("{summary}");
    println!(
        "  controls later than the budget {late} (counted, not dropped: replay decides on data only)"
    );
    if !accepted.is_empty() {
        let list: Vec<String> = accepted.iter().map(|(r, n)| format!("{r} {n}")).collect();
        println!("  data lost, accepted (--accept-loss): {}", list.join(", "));
    }
    if !lost.is_empty() {
        let list: Vec<String> = lost.iter().map(|(r, n)| format!("{r} {n}")).collect();
        eprintln!(
            "replay: data lost without an accepted reason: {}; summary {}",
            list.join(", "),
            a.out.join("summary.json").display()
        );
        return Ok(ExitCode::from(2));
    }
    println!(
        "replayed {} windows of {} cells ({} ms each) in {:.2} s ({:.0}× real time); decision log {}",
        windows,
        sim.cell_count(),
        period_ms,
        o.wall.as_secs_f64(),
        speed_up,
        log_path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// How to follow a replay until it has played.
struct Progress {
    /// Subscriptions (one per E2 node) that must finish playing.
    nodes: usize,
    quiet: bool,
    /// Longest time without any indication sent or read.
    stall: Duration,
}

impl Progress {
    fn bar(&self, total: u64) -> indicatif::ProgressBar {
        let bar = if self.quiet {
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
        bar
    }

    /// Waits until every subscription has played its trace and the xApp has read every
    /// indication sent, the xApp has stopped, or nothing has moved for `stall`. It does
    /// not wait on controls: a trace with rare controls ends when its data ends.
    async fn wait(
        &self,
        sim: &Arc<Sim>,
        metrics: &nf_runtime::metrics::Metrics,
        xapp: &tokio::task::JoinHandle<Result<Summary, nf_runtime::RuntimeError>>,
    ) {
        let bar = self.bar(sim.cell_windows());
        let mut last = (u64::MAX, u64::MAX);
        let mut moved = Instant::now();
        loop {
            let read = metrics.indications.get();
            let sent = sim.stats.indications_sent.load(Ordering::Relaxed);
            bar.set_position(read);
            let played = sim.stats.replays_finished.load(Ordering::Relaxed) as usize >= self.nodes;
            if (played && read >= sent) || xapp.is_finished() {
                break;
            }
            if (read, sent) != last {
                (last, moved) = ((read, sent), Instant::now());
            } else if moved.elapsed() > self.stall {
                tracing::error!(
                    read,
                    sent,
                    stalled_s = self.stall.as_secs_f64(),
                    "replay stalled: nothing sent or read"
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        bar.finish();
    }
}
