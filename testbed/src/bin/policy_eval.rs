//! `policy_eval`: the slice policy against the baselines on a held-out trial, paired.
//!
//! Every unit (a held-out twin cell from a seed-dependent start window) is played once per
//! arm from the same state with the same recorded arrivals, so arms differ only by their
//! quotas. Arms: the policy (`--policy`, through onnxruntime), proportional, equal, and
//! the best work-conserving static split found by search on the TRAINING trial. Prints per
//! arm the mean slice utility, and the policy's relative gain over the best baseline per
//! seed with a 95 % t-interval over seeds; `--json` writes it all.
//!
//! Exit status: 0 after the evaluation, 1 when it cannot run, 2 on a bad argument.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Parser;
use nf_core::baseline::Baseline;
use nf_core::slice_policy::PolicyLayout;
use nf_core::trial::utility::UtilityWeights;
use nf_core::{Meas, Snssai};
use nf_infer::runtime::{ModelConfig, Provider, load_model};
use testbed::policy_train::{self, best_static, eval_units, heldout_cells, play, policy_quotas};
use testbed::twin::trials::{self, ClassSource, Scenario, TwinTrial};
use testbed::twin::{LinkTable, Scheduler};

/// Paired evaluation of a slice policy against the baselines on a held-out trial.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// Policy contract.
    #[arg(long, default_value = "models/slice_policy/slice_policy.contract.toml")]
    policy: PathBuf,
    /// Shared trace root.
    #[arg(long, default_value = "../shared/traces")]
    traces: PathBuf,
    /// Held-out trial (classes inferred with the training trial's class model).
    #[arg(long, default_value = "multi-ue-trial1")]
    heldout: String,
    /// Training trial (the static split is searched on it).
    #[arg(long, default_value = "multi-ue-trial2")]
    training: String,
    /// Carrier DL PRBs of the scenario (docs/ab-trials.md rule: 15).
    #[arg(long, default_value_t = 15.0)]
    cell_prbs: f64,
    /// Multiplier of the recorded arrivals.
    #[arg(long, default_value_t = 1.0)]
    load: f64,
    /// Seeds (each draws new start windows for every held-out cell).
    #[arg(long, default_value_t = 20)]
    seeds: u64,
    /// Windows per unit.
    #[arg(long, default_value_t = 240)]
    windows: usize,
    /// Step of the static-split search [%].
    #[arg(long, default_value_t = 10)]
    static_step: u8,
    #[arg(long, default_value = "embb=1,urllc=1,mmtc=1,sla=0.5")]
    utility_weights: UtilityWeights,
    /// Write the result as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn t_interval(xs: &[f64]) -> (f64, f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let sd = (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt();
    // Two-sided 95 % Student t, n − 1 degrees of freedom (n ≥ 2).
    let t = statrs_t(n - 1.0);
    (m, m - t * sd / n.sqrt(), m + t * sd / n.sqrt())
}

fn statrs_t(df: f64) -> f64 {
    // Quantiles of Student's t at 0.975 for small df, 1.96 beyond.
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    let d = df.max(1.0) as usize;
    T.get(d - 1).copied().unwrap_or(1.96)
}

fn run(cli: &Cli) -> anyhow::Result<()> {
    let scenario = Scenario {
        cell_prbs: cli.cell_prbs,
        load: cli.load,
    };
    let sched = Scheduler::RoundRobin;
    let w = cli.utility_weights;
    let mut model = load_model(&ModelConfig {
        contract: cli.policy.clone(),
        onnxruntime_lib: None,
        providers: vec![Provider::Cpu],
    })?;
    let c = &model.contract;
    let layout = PolicyLayout::new(c.slices.clone(), &c.feature_names(), c.window())?
        .with_prb_counts(&c.prb_inputs());
    let cells = heldout_cells(&cli.traces, &cli.heldout, &cli.training, &scenario, 40)
        .context("held-out cells")?;
    let link = LinkTable::fit(&cells);
    let mut train = trials::load_trial(
        &TwinTrial::named(&cli.training, &cli.traces)?,
        40,
        &ClassSource::Files,
    )?;
    trials::apply(&mut train, &scenario);
    let train_link = LinkTable::fit(&train);
    let train_units = eval_units(&train, cli.windows, 0);
    let (mins, train_u) = best_static(
        &train,
        &train_link,
        sched,
        &w,
        &train_units,
        cli.windows,
        cli.static_step,
    );
    println!(
        "best static split on {} (min % for SST 1/2/3): {mins:?}, utility {train_u:.4}",
        cli.training
    );
    let arms = ["policy", "proportional", "equal", "static"];
    let mut per_seed: Vec<[f64; 4]> = Vec::new();
    for seed in 1..=cli.seeds {
        let us = eval_units(&cells, cli.windows, seed);
        if us.is_empty() {
            bail!("no held-out run longer than {} windows", cli.windows);
        }
        let mut means = [0.0; 4];
        for (ci, from) in &us {
            let cell = &cells[*ci];
            let span = (*from, cli.windows, layout.window());
            let demand = |h: &[std::collections::VecDeque<nf_core::MeasVec>]| -> Vec<f32> {
                h.iter()
                    .map(|x| x.back().map_or(0.0, |m| m.get(Meas::PrbReqDl)))
                    .collect()
            };
            let slices: Vec<Snssai> = cell.slices.clone();
            let u = [
                play(cell, &link, sched, &w, span, |h| {
                    policy_quotas(&mut model, &layout, cell, h)
                })
                .0,
                play(cell, &link, sched, &w, span, |h| {
                    Some(Baseline::Proportional.quotas(&slices, &demand(h)))
                })
                .0,
                play(cell, &link, sched, &w, span, |_| {
                    Some(Baseline::Equal.quotas(&slices, &[]))
                })
                .0,
                play(cell, &link, sched, &w, span, |_| {
                    Some(policy_train::static_quotas(cell, mins))
                })
                .0,
            ];
            for (m, x) in means.iter_mut().zip(u) {
                *m += x / us.len() as f64;
            }
        }
        println!(
            "seed {seed:>2}: {} units  policy {:.4}  proportional {:.4}  equal {:.4}  static {:.4}",
            us.len(),
            means[0],
            means[1],
            means[2],
            means[3]
        );
        per_seed.push(means);
    }
    let n = per_seed.len() as f64;
    let avg: Vec<f64> = (0..4)
        .map(|a| per_seed.iter().map(|m| m[a]).sum::<f64>() / n)
        .collect();
    for (a, m) in arms.iter().zip(&avg) {
        println!("{a:<13} mean utility {m:.4}");
    }
    // The best baseline is the one with the highest mean over the seeds; the gain over
    // each baseline is paired per seed.
    let mut vs = Vec::new();
    for b in 1..4 {
        let gains: Vec<f64> = per_seed.iter().map(|m| (m[0] - m[b]) / m[b]).collect();
        let (g, lo, hi) = t_interval(&gains);
        println!(
            "policy vs {:<12}: {:+.2} % (95 % CI {:+.2} … {:+.2} %, t over {} seeds)",
            arms[b],
            100.0 * g,
            100.0 * lo,
            100.0 * hi,
            gains.len()
        );
        vs.push(serde_json::json!({"baseline": arms[b], "mean": g, "ci95": [lo, hi]}));
    }
    let best = (1..4)
        .max_by(|a, b| avg[*a].total_cmp(&avg[*b]))
        .unwrap_or(1);
    println!("best baseline: {}", arms[best]);
    if let Some(path) = &cli.json {
        let v = serde_json::json!({
            "heldout": cli.heldout, "training": cli.training, "scenario": scenario.to_string(),
            "seeds": cli.seeds, "windows": cli.windows, "static_split": mins,
            "static_train_utility": train_u, "arms": arms, "mean_utility": avg,
            "per_seed": per_seed, "gain": vs, "best_baseline": arms[best],
            "policy_sha256": model.contract.sha256,
        });
        std::fs::write(path, serde_json::to_string_pretty(&v)? + "\n")?;
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("policy_eval: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
