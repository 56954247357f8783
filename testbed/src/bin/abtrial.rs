//! `abtrial`: an offline A/B trial of two arms on the closed-loop twin, with a JSON result
//! and a self-contained HTML report.
//!
//! Exit status: 0 after a trial, 1 when the trial cannot give an answer (too few cells for
//! the design, more windows than the recorded runs hold, an arm that does not load), 2 on
//! a bad argument (clap), such as a guard-rail KPI outside the trial vocabulary.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use nf_core::baseline::Baseline;
use nf_core::policy::PolicyConfig;
use nf_core::trial::Design;
use nf_core::trial::kpi::{Kpi, UnknownKpi};
use nf_core::trial::sequential::RailConfig;
use testbed::trial::{self, Arm, TrialConfig, TrialReport};
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
/// `model:PATH/TO/contract.toml` (a forecaster, or a slice policy by its contract's kind;
/// `policy:PATH` is the same).
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
    /// Guard-rail KPI: one of throughput_dl, prb_used_dl, delay_dl, sla_violation_share,
    /// controls, buffer_dl; `none` runs without a guard rail. Any other name is refused.
    #[arg(long, default_value = "delay_dl", value_parser = rail_kpi)]
    rail_kpi: RailKpi,
    /// Windows between two looks of the guard rail.
    #[arg(long, default_value_t = 40)]
    look_every: usize,
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

/// `--rail-kpi`: a KPI, or none.
#[derive(Clone, Copy, Debug)]
struct RailKpi(Option<Kpi>);

fn rail_kpi(s: &str) -> Result<RailKpi, UnknownKpi> {
    if s == "none" {
        return Ok(RailKpi(None));
    }
    s.parse().map(|k| RailKpi(Some(k)))
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
        Some(("model" | "policy", path)) => {
            let model = nf_infer::runtime::load_model(&nf_infer::ModelConfig {
                contract: path.into(),
                onnxruntime_lib: None,
                providers: vec![nf_infer::Provider::Cpu],
            })?;
            let name = model.contract.name.clone();
            Arm::model(&name, model, PolicyConfig::default()).map_err(anyhow::Error::msg)?
        }
        _ => bail!("arm `{spec}`: expected equal, proportional, fixed:a,b,c, model:PATH or policy:PATH"),
    })
}

/// Twin cells from the runs of `root` long enough for `windows` (and, for short trials,
/// runs of at least 400 windows, so that offsets vary); refuses when none is.
fn load_runs(root: &std::path::Path, windows: usize) -> anyhow::Result<Vec<twin::TwinCell>> {
    let mut cells = twin::load(root, 1)?;
    let longest = cells.iter().map(|c| c.len).max().unwrap_or(0);
    if longest == 0 {
        bail!("{}: no recorded run to drive the twin", root.display());
    }
    if windows > longest {
        bail!(
            "--windows {windows} ({} s) is longer than every recorded run under {} (the longest has {longest} windows, {} s): the twin would replay a run's last window",
            windows / 4,
            root.display(),
            longest / 4
        );
    }
    cells.retain(|c| c.len >= windows.max(400).min(longest));
    Ok(cells)
}

fn config(cli: &Cli) -> TrialConfig {
    TrialConfig {
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
        rail: cli.rail_kpi.0.map(|k| RailConfig {
            margin: cli.margin,
            alpha: cli.alpha,
            tau: 0.5,
            higher_is_better: k.higher_is_better(),
            ..RailConfig::default()
        }),
        rail_kpi: cli.rail_kpi.0.unwrap_or(Kpi::DelayDl),
        look_every: cli.look_every,
        ..TrialConfig::default()
    }
}

fn print_summary(report: &TrialReport, cfg: &TrialConfig, out: &std::path::Path) {
    println!(
        "{} vs {} ({:?}, seed {}, {} cells × {} windows; {})",
        report.arms[0], report.arms[1], cfg.design, cfg.seed, cfg.cells, cfg.windows, report.method
    );
    for e in &report.effects {
        println!("  {:<20} {}", e.kpi.name(), e.verdict.text);
    }
    match &report.rail {
        Some(r) => println!("  guard rail on {}: {}", r.kpi, r.status),
        None => println!("  no guard rail"),
    }
    if let Some(d) = report.shadow_disagreement {
        println!("  shadow disagreement {:.1} %", d * 100.0);
    }
    println!("report: {}", out.join("trial.html").display());
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("abtrial: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<()> {
    let root = cli
        .trace
        .clone()
        .or_else(testbed::trace::shared_root)
        .unwrap_or_else(testbed::trace::bundled_root);
    let root = std::fs::canonicalize(&root).unwrap_or(root);
    let cells = load_runs(&root, cli.windows)?;
    let link = LinkTable::fit(&cells);
    let cfg = config(cli);
    cfg.check(&cells)?;
    let mut arms = [arm(&cli.control)?, arm(&cli.treatment)?];
    let mut report = trial::run(&cfg, &cells, &link, &mut arms)?;
    report.provenance.trace_root = Some(root.display().to_string());
    std::fs::create_dir_all(&cli.out)?;
    std::fs::write(
        cli.out.join("trial.json"),
        serde_json::to_string_pretty(&report)? + "\n",
    )?;
    std::fs::write(cli.out.join("trial.html"), testbed::report::html(&report))?;
    print_summary(&report, &cfg, &cli.out);
    Ok(())
}
