//! `policy_oracle`: labels twin states with the hindsight value of each policy action, the
//! training data of the slice-scheduling policy (`models/slice_policy/train.py`).
//!
//! Reads the twin cells of the training trials, rolls each run forward under the
//! behaviour policy, and every `--stride` windows plays every action for `--horizon`
//! windows on a copy of the cell (recorded future arrivals: hindsight). Writes `x.f32`,
//! `values.f32` and `meta.json` to `--out` (see `testbed::policy_train`).
//!
//! Exit status: 0 after writing the dataset, 1 when nothing could be labelled or written,
//! 2 on a bad argument.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use nf_core::Snssai;
use nf_core::slice_policy::PolicyLayout;
use nf_core::trial::utility::UtilityWeights;
use testbed::policy_train::{self, ActionSet, DatasetMeta, OracleConfig};
use testbed::twin::trials::{self, ClassSource, Scenario, TwinTrial};
use testbed::twin::{LinkTable, Scheduler};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SchedArg {
    RoundRobin,
    ProportionalFair,
}

/// Hindsight-oracle labels for the slice policy, from twin cells of the training trials.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// Shared trace root (`../shared/traces`).
    #[arg(long, default_value = "../shared/traces")]
    traces: PathBuf,
    /// Training trial (class-sliced twin cells from its class files); repeat for several.
    #[arg(long, required = true)]
    trial: Vec<String>,
    /// Scenario: carrier size [PRB].
    #[arg(long, default_value_t = 50.0)]
    cell_prbs: f64,
    /// Scenario: multiplier of every UE's arrivals.
    #[arg(long, default_value_t = 1.0)]
    load: f64,
    /// Output folder.
    #[arg(long, default_value = "target/policy-data")]
    out: PathBuf,
    /// Windows of history in one input row.
    #[arg(long, default_value_t = 4)]
    window: usize,
    /// Windows between two labelled states.
    #[arg(long, default_value_t = 4)]
    stride: usize,
    /// Windows each action is played for.
    #[arg(long, default_value_t = 8)]
    horizon: usize,
    /// Action weight levels (the grid of weight vectors over the three slices).
    #[arg(long, value_delimiter = ',', default_value = "1,3,9")]
    levels: Vec<f32>,
    /// Utility weights, e.g. `embb=1,urllc=1,mmtc=1,sla=0.5`.
    #[arg(long, default_value = "embb=1,urllc=1,mmtc=1,sla=0.5")]
    utility_weights: UtilityWeights,
    #[arg(long, value_enum, default_value = "round-robin")]
    scheduler: SchedArg,
    /// Shortest run used [windows].
    #[arg(long, default_value_t = 40)]
    min_windows: usize,
}

/// Per-slice KPM features of the policy's input, in order.
const FEATURES: [&str; 5] = [
    "RRU.PrbUsedDl",
    "DRB.UEThpDl",
    "RRC.ConnMean",
    "VS.DlBufferBytes",
    "VS.PrbReqDl",
];

fn run(cli: &Cli) -> anyhow::Result<()> {
    let slices: Vec<Snssai> = (1..=3).map(|s| Snssai::new(s, None)).collect();
    let layout = PolicyLayout::new(slices.clone(), &FEATURES, cli.window)?;
    let scenario = Scenario {
        cell_prbs: cli.cell_prbs,
        load: cli.load,
    };
    let mut cells = Vec::new();
    let mut traces = Vec::new();
    for name in &cli.trial {
        let trial = TwinTrial::named(name, &cli.traces)?;
        traces.extend(trial.paths.iter().map(|p| p.display().to_string()));
        cells.extend(
            trials::load_trial(&trial, cli.min_windows, &ClassSource::Files)
                .with_context(|| format!("reading trial {name}"))?,
        );
    }
    trials::apply(&mut cells, &scenario);
    if cells.is_empty() {
        bail!("no run of at least {} windows", cli.min_windows);
    }
    let link = LinkTable::fit(&cells);
    let actions = ActionSet::grid(&cli.levels);
    let cfg = OracleConfig {
        stride: cli.stride,
        horizon: cli.horizon,
        scheduler: match cli.scheduler {
            SchedArg::RoundRobin => Scheduler::RoundRobin,
            SchedArg::ProportionalFair => Scheduler::ProportionalFair,
        },
        weights: cli.utility_weights,
        behaviour: 0,
    };
    let started = std::time::Instant::now();
    let mut samples = Vec::new();
    for ci in 0..cells.len() {
        samples.extend(policy_train::label_cell(
            &layout, &actions, &cells, ci, &link, &cfg,
        ));
    }
    if samples.is_empty() {
        bail!("no state could be labelled (every run idle or shorter than the horizon)");
    }
    let meta = DatasetMeta {
        samples: samples.len(),
        row_shape: [slices.len(), cli.window, FEATURES.len()],
        slices: slices.iter().map(ToString::to_string).collect(),
        features: FEATURES.iter().map(|f| (*f).to_owned()).collect(),
        actions,
        oracle: cfg,
        index: Vec::new(),
        traces,
        scenario: scenario.to_string(),
        cell_prbs: scenario.cell_prbs,
    };
    policy_train::write_dataset(&cli.out, &samples, &cells, meta)
        .with_context(|| format!("writing {}", cli.out.display()))?;
    println!(
        "{} labelled states from {} runs in {:.1} s -> {}",
        samples.len(),
        cells.len(),
        started.elapsed().as_secs_f64(),
        cli.out.display()
    );
    Ok(())
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("policy_oracle: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
