//! `inferbench`: how long the forecaster takes for one batch through onnxruntime on ONE
//! intra-op thread, next to the floor of a model with the same inputs and outputs and no
//! arithmetic, measured in the same process.
//!
//! Rows are real: the bundled TRACTOR trace slice, written by the xApp's own
//! [`FeatureLayout`] (cycled to fill the batch). Sessions are built by
//! `nf_infer::runtime::load_model`, the path the xApp uses (one intra-op thread, one inter-op
//! thread, no spinning), and each run goes through `nf_infer::worker::infer`, the worker's
//! batch step. Percentiles depend on a quiet machine; the floor, taken in the same process
//! and interleaved with the model's runs, shows what the session itself costs.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Parser;
use nf_core::features::FeatureLayout;
use nf_infer::runtime::{LoadedModel, ModelConfig, Provider, load_model};
use nf_infer::worker::infer;
use testbed::trace;

/// Batch inference latency of an ONNX forecaster on one CPU thread, with the floor.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// Contract of the model to time.
    #[arg(
        long,
        default_value = "models/slice_forecaster/slice_forecaster.contract.toml"
    )]
    model: PathBuf,
    /// Contract of the floor model (same input and output, no arithmetic).
    #[arg(
        long,
        default_value = "models/slice_forecaster/bench/floor.contract.toml"
    )]
    floor: PathBuf,
    /// Rows per batch.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Timed runs per model (after warm-up).
    #[arg(long, default_value_t = 2000)]
    runs: usize,
    /// Untimed warm-up runs per model.
    #[arg(long, default_value_t = 200)]
    warmup: usize,
    /// Trace root the rows are taken from (default: the bundled slice).
    #[arg(long)]
    trace: Option<PathBuf>,
}

fn load(contract: &Path) -> anyhow::Result<LoadedModel> {
    load_model(&ModelConfig {
        contract: contract.to_path_buf(),
        onnxruntime_lib: None,
        providers: vec![Provider::Cpu],
    })
    .with_context(|| format!("loading {}", contract.display()))
}

/// `batch` rows of real windows from the trace, in the model's feature order.
fn rows(model: &LoadedModel, root: &Path, batch: usize) -> anyhow::Result<Vec<f32>> {
    let window = model.contract.window();
    let layout = FeatureLayout::new(&model.contract.feature_names(), window)?;
    let mut one = Vec::new();
    for cell in trace::read_cells(root)? {
        for run in &cell.runs {
            for k in 0..run.windows.first().map_or(0, |w| w.slices.len()) {
                let series: Vec<_> = run.windows.iter().map(|w| w.slices[k].1).collect();
                for s in 0..series.len().saturating_sub(window) {
                    let w: VecDeque<_> = series[s..s + window].iter().copied().collect();
                    let at = one.len();
                    one.resize(at + layout.row_len(), 0.0);
                    layout.write_row(&w, &mut one[at..]);
                }
            }
        }
    }
    if one.is_empty() {
        bail!("no window of {} rows in {}", window, root.display());
    }
    Ok(one
        .iter()
        .copied()
        .cycle()
        .take(batch * layout.row_len())
        .collect())
}

struct Timer<'a> {
    model: LoadedModel,
    input: String,
    buf: &'a [f32],
    shape: [usize; 3],
    columns: usize,
    ns: Vec<u64>,
}

impl Timer<'_> {
    fn run(&mut self) -> anyhow::Result<u64> {
        let t = Instant::now();
        let out = infer(
            &mut self.model,
            &self.input,
            self.buf,
            self.shape,
            self.columns,
        )
        .map_err(anyhow::Error::msg)?;
        let ns = t.elapsed().as_nanos() as u64;
        if out.iter().any(|v| !v.is_finite()) {
            bail!("{} gave a non-finite output", self.model.contract.name);
        }
        Ok(ns)
    }
}

fn timer<'a>(model: LoadedModel, buf: &'a [f32], batch: usize) -> Timer<'a> {
    let shape = [
        batch,
        model.contract.window(),
        model.contract.input.features.len(),
    ];
    Timer {
        input: model.contract.input.name.clone(),
        columns: model.contract.output_columns(),
        model,
        buf,
        shape,
        ns: Vec::new(),
    }
}

fn pct(sorted: &[u64], q: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i] as f64 / 1000.0
}

fn report(name: &str, ns: &mut [u64]) {
    ns.sort_unstable();
    println!(
        "{name:<28} {:>6} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
        ns.len(),
        pct(ns, 0.0),
        pct(ns, 0.5),
        pct(ns, 0.9),
        pct(ns, 0.99),
        pct(ns, 1.0)
    );
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if cli.batch == 0 || cli.runs == 0 {
        bail!("--batch and --runs must be at least 1");
    }
    let model = load(&cli.model)?;
    let floor = load(&cli.floor)?;
    if floor.contract.window() != model.contract.window()
        || floor.contract.feature_names() != model.contract.feature_names()
    {
        bail!("the floor model's input differs from the model's: rerun train.py");
    }
    let root = cli.trace.clone().unwrap_or_else(trace::bundled_root);
    let buf = rows(&model, &root, cli.batch)?;
    let name = format!("{} {}", model.contract.name, model.contract.version);
    let mut timers = [timer(model, &buf, cli.batch), timer(floor, &buf, cli.batch)];
    for t in &mut timers {
        for _ in 0..cli.warmup {
            t.run()?;
        }
    }
    // Interleaved, so both see the same machine.
    for _ in 0..cli.runs {
        for t in &mut timers {
            let ns = t.run()?;
            t.ns.push(ns);
        }
    }
    println!(
        "batch {} rows, 1 intra-op thread, onnxruntime {}; µs per Session::run",
        cli.batch,
        nf_infer::runtime::ORT_VERSION
    );
    println!(
        "{:<28} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "model", "runs", "min", "p50", "p90", "p99", "max"
    );
    let [m, f] = &mut timers;
    report(&name, &mut m.ns);
    report("floor (no arithmetic)", &mut f.ns);
    Ok(())
}
