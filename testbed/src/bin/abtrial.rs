//! `abtrial`: an offline A/B trial of two arms on the closed-loop twin, with a JSON result
//! and a self-contained HTML report.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use nf_core::baseline::Baseline;
use nf_core::policy::PolicyConfig;
use nf_core::trial::Design;
use nf_core::trial::sequential::RailConfig;
use testbed::trial::{self, Arm, KPIS, TrialConfig};
use testbed::twin::{self, LinkTable, Scheduler};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum DesignArg {
    CellRandomised,
    Switchback,
    Shadow,
}

/// Offline A/B trial on the closed-loop RAN twin driven by recorded traces.
///
/// An arm is `equal`, `proportional`, `fixed:70,10,20` (percent per slice) or
/// `model:PATH/TO/contract.toml`.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// Control (production) arm.
    #[arg(long, default_value = "proportional")]
    control: String,
    /// Treatment (candidate) arm.
    #[arg(
        long,
        default_value = "model:models/slice_forecaster/slice_forecaster.contract.toml"
    )]
    treatment: String,
    #[arg(long, value_enum, default_value = "cell-randomised")]
    design: DesignArg,
    /// Switchback block length [s].
    #[arg(long, default_value_t = 10)]
    block_s: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Virtual cells (twin runs at seed-dependent offsets).
    #[arg(long, default_value_t = 24)]
    cells: usize,
    /// Report periods of 250 ms.
    #[arg(long, default_value_t = 480)]
    windows: usize,
    /// Scheduler inside slices.
    #[arg(long, value_enum, default_value = "round-robin")]
    scheduler: SchedArg,
    /// Guard-rail KPI (one of thp_dl_kbps, delay_ms, sla_violation_share); none disables it.
    #[arg(long, default_value = "delay_ms")]
    rail_kpi: String,
    /// Degradation tolerated by the guard rail, relative to control.
    #[arg(long, default_value_t = 0.05)]
    margin: f64,
    /// Guard-rail false-alarm rate (probability of ever tripping within the margin).
    #[arg(long, default_value_t = 0.05)]
    alpha: f64,
    /// SCOPE trace root driving the twin.
    #[arg(long)]
    trace: Option<PathBuf>,
    /// Output folder for trial.json and trial.html.
    #[arg(long, default_value = "target/abtrial")]
    out: PathBuf,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SchedArg {
    RoundRobin,
    ProportionalFair,
}

fn arm(spec: &str) -> anyhow::Result<Arm> {
    Ok(match spec.split_once(':') {
        None if spec == "equal" => Arm::baseline(spec, Baseline::Equal),
        None if spec == "proportional" => Arm::baseline(spec, Baseline::Proportional),
        Some(("fixed", split)) => {
            let v: Vec<u8> = split
                .split(',')
                .map(|x| x.trim().parse())
                .collect::<Result<_, _>>()
                .context("fixed:<percent,...>")?;
            if v.iter().map(|x| u32::from(*x)).sum::<u32>() > 100 {
                bail!("fixed split {v:?} sums above 100");
            }
            Arm::baseline(spec, Baseline::Fixed(v))
        }
        Some(("model", path)) => {
            let model = nf_infer::runtime::load_model(&nf_infer::ModelConfig {
                contract: path.into(),
                onnxruntime_lib: None,
                providers: vec![nf_infer::Provider::Cpu],
            })?;
            let name = model.contract.name.clone();
            Arm::model(&name, model, PolicyConfig::default()).map_err(anyhow::Error::msg)?
        }
        _ => bail!("arm `{spec}`: expected equal, proportional, fixed:a,b,c or model:PATH"),
    })
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let root = cli
        .trace
        .clone()
        .or_else(testbed::trace::shared_root)
        .unwrap_or_else(testbed::trace::bundled_root);
    let cells = twin::load(&root, cli.windows.min(400))?;
    if cells.is_empty() {
        bail!("{}: no run long enough for the twin", root.display());
    }
    let link = LinkTable::fit(&cells);
    let mut arms = [arm(&cli.control)?, arm(&cli.treatment)?];
    let rail_kpi = KPIS.iter().position(|k| *k == cli.rail_kpi);
    let cfg = TrialConfig {
        design: match cli.design {
            DesignArg::CellRandomised => Design::CellRandomised {
                treatment_share: 0.5,
            },
            DesignArg::Switchback => Design::Switchback {
                block_ms: cli.block_s * 1000,
            },
            DesignArg::Shadow => Design::Shadow,
        },
        seed: cli.seed,
        cells: cli.cells,
        windows: cli.windows,
        scheduler: match cli.scheduler {
            SchedArg::RoundRobin => Scheduler::RoundRobin,
            SchedArg::ProportionalFair => Scheduler::ProportionalFair,
        },
        rail: rail_kpi.map(|j| RailConfig {
            margin: cli.margin,
            alpha: cli.alpha,
            tau: 0.5,
            higher_is_better: trial::HIGHER_IS_BETTER[j],
            ..RailConfig::default()
        }),
        rail_kpi: rail_kpi.unwrap_or(0),
        ..TrialConfig::default()
    };
    let report = trial::run(&cfg, &cells, &link, &mut arms);
    std::fs::create_dir_all(&cli.out)?;
    std::fs::write(
        cli.out.join("trial.json"),
        serde_json::to_string_pretty(&report)? + "\n",
    )?;
    std::fs::write(cli.out.join("trial.html"), testbed::report::html(&report))?;
    println!(
        "{} vs {} ({:?}, seed {}, {} cells × {} windows)",
        report.arms[0], report.arms[1], cfg.design, cfg.seed, cfg.cells, cfg.windows
    );
    for e in &report.effects {
        if let Some(w) = e.matched.or(e.welch) {
            println!(
                "  {:<20} control {:>10.2}  treatment {:>10.2}  diff {:>+9.2} [{:+.2}, {:+.2}]{}",
                e.kpi,
                w.control_mean,
                w.treatment_mean,
                w.diff,
                w.lo,
                w.hi,
                if w.significant() { "  *" } else { "" }
            );
        }
    }
    if let Some(at) = report.rolled_back_at {
        println!("  guard rail tripped at window {at}: treatment rolled back");
    }
    if let Some(d) = report.shadow_disagreement {
        println!("  shadow disagreement {:.1} %", d * 100.0);
    }
    println!("report: {}", cli.out.join("trial.html").display());
    Ok(())
}
