//! `abtrial`: an offline A/B trial of two arms on the closed-loop twin, with a JSON result
//! and a self-contained HTML report; `abtrial sweep` repeats it over seeds (A/A false
//! positive rate), `abtrial search-static` finds the best static split on training trials,
//! `abtrial contention` and `abtrial calibrate` describe the twin's scenario and errors.
//!
//! Exit status: 0 after a trial, 1 when the trial cannot give an answer (too few cells for
//! the design, more windows than the recorded runs hold, an arm that does not load), 2 on
//! a bad argument (clap), such as a guard-rail KPI outside the trial vocabulary.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use nf_core::trial::Design;
use nf_core::trial::kpi::{Kpi, UnknownKpi};
use nf_core::trial::sequential::RailConfig;
use nf_core::trial::utility::UtilityWeights;
use testbed::trial::sweep::{search_static, sweep};
use testbed::trial::{self, TrialConfig, TrialReport, parse_arm};
use testbed::twin::trials::{
    ClassSource, Classifier, Scenario, TwinError, TwinTrial, apply, contention, labelled_ues,
    load_trial,
};
use testbed::twin::{self, LinkTable, Scheduler};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum DesignArg {
    CellRandomised,
    Switchback,
    Shadow,
}

/// Offline A/B trial on the closed-loop RAN twin driven by recorded traces.
///
/// An arm is `equal`, `proportional`, `fixed:70,10,20` (capped percent per slice
/// position), `static:1=40,2=30,3=20` (work-conserving minimum percent by SST) or
/// `static:FILE.json` (written by `search-static`), or `model:PATH/TO/contract.toml`.
/// The primary KPI is the slice utility (docs/slice-utility.md); the others are secondary.
#[derive(Debug, Parser)]
#[command(version, about, long_about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    #[command(flatten)]
    trial: TrialArgs,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// The same trial over many seeds: per seed the primary effect with its 95 % interval,
    /// over seeds the mean relative effect, its interval and the share significant (with
    /// the same arm on both sides: the A/A false-positive rate).
    Sweep {
        #[command(flatten)]
        trial: TrialArgs,
        /// Number of seeds (seeds `seed`, `seed`+1, …).
        #[arg(long, default_value_t = 20)]
        seeds: u64,
    },
    /// The best static split (work-conserving minimum ratio per slice) by mean slice
    /// utility on the given (training) trials; written to OUT/static_split.json, an arm as
    /// `static:OUT/static_split.json`.
    SearchStatic {
        #[command(flatten)]
        twin: TwinArgs,
        /// Grid step [%].
        #[arg(long, default_value_t = 5)]
        step: u8,
        #[arg(long, default_value = "target/abtrial")]
        out: PathBuf,
    },
    /// How often the slices contend per carrier size and load on the given trials.
    Contention {
        #[command(flatten)]
        twin: TwinArgs,
    },
    /// Twin-vs-recording errors per cell of the given trials, under the recorded slices,
    /// quotas and scheduler.
    Calibrate {
        #[command(flatten)]
        twin: TwinArgs,
    },
}

/// Where the twin cells come from and what they are played on.
#[derive(Debug, Args)]
struct TwinArgs {
    /// Trials driving the twin (multi-ue-trial1, multi-ue-trial2), comma separated; UEs
    /// are sliced by service class. Without it, `--trace` (recorded slices) is used.
    #[arg(long, value_delimiter = ',')]
    trials: Vec<String>,
    /// Shared trace folder holding tractor/ and tractor-trials/.
    #[arg(long)]
    traces: Option<PathBuf>,
    /// Carrier the recorded traffic is played on [PRB] (recordings: 50).
    #[arg(long, default_value_t = 50.0)]
    cell_prbs: f64,
    /// Multiplier of every UE's recorded arrivals.
    #[arg(long, default_value_t = 1.0)]
    load: f64,
    /// Slice utility weights: embb=W,urllc=W,mmtc=W,sla=P (docs/slice-utility.md).
    #[arg(long, default_value = "embb=1,urllc=1,mmtc=1,sla=0.5")]
    utility_weights: UtilityWeights,
    /// Scheduler inside slices.
    #[arg(long, value_enum, default_value = "round-robin")]
    scheduler: SchedArg,
    /// SCOPE trace root driving the twin with its recorded slices (without `--trials`).
    #[arg(long)]
    trace: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct TrialArgs {
    #[command(flatten)]
    twin: TwinArgs,
    /// The KPI the verdict is about.
    #[arg(long, default_value = "slice_utility")]
    primary_kpi: Kpi,
    /// Control (production) arm.
    #[arg(long, default_value = "proportional")]
    control: String,
    /// Treatment (candidate) arm.
    #[arg(
        long,
        default_value = "model:models/slice_forecaster/slice_forecaster.contract.toml"
    )]
    treatment: String,
    /// Report periods (250 ms) the treatment's decisions take to reach the cell, e.g. a
    /// remote model's answer at its latest (0: in effect for the window they are made for).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=40))]
    treatment_lag_windows: u64,
    /// An A1 policy of type 21010 in force on every cell: a JSON file holding the payload
    /// the A1 mediator sends (`{"slices": [{"sst": 1, "max_prb_share_pct": 40,
    /// "utility_weight": 2}, ...]}`, docs/a1.md). Both arms' quotas are bounded by it as the
    /// xApp bounds them, and the slice utility takes its utility weights (the slices it
    /// does not name keep `--utility-weights`).
    #[arg(long)]
    a1_policy: Option<PathBuf>,
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

/// The A1 policy of `--a1-policy`, checked as the xApp checks a CREATE.
fn a1_policy(path: &std::path::Path) -> anyhow::Result<nf_core::a1::EffectivePolicy> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("--a1-policy {}", path.display()))?;
    let payload: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("--a1-policy {}: not JSON", path.display()))?;
    let instance = nf_core::a1::PolicyInstance::from_payload("abtrial", &payload)
        .with_context(|| format!("--a1-policy {}: refused", path.display()))?;
    Ok(nf_core::a1::EffectivePolicy::new(
        1,
        std::iter::once(&instance),
    ))
}

fn config(cli: &TrialArgs) -> anyhow::Result<TrialConfig> {
    let a1 = cli.a1_policy.as_deref().map(a1_policy).transpose()?;
    let weights = match &a1 {
        Some(p) => p.utility_weights(cli.twin.utility_weights),
        None => cli.twin.utility_weights,
    };
    Ok(TrialConfig {
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
        scheduler: sched(cli.twin.scheduler),
        rail: cli.rail_kpi.0.map(|k| RailConfig {
            margin: cli.margin,
            alpha: cli.alpha,
            tau: 0.5,
            higher_is_better: k.higher_is_better(),
            ..RailConfig::default()
        }),
        rail_kpi: cli.rail_kpi.0.unwrap_or(Kpi::DelayDl),
        look_every: cli.look_every,
        weights,
        primary_kpi: cli.primary_kpi,
        treatment_lag_windows: cli.treatment_lag_windows as usize,
        a1,
        ..TrialConfig::default()
    })
}

fn sched(s: SchedArg) -> Scheduler {
    match s {
        SchedArg::RoundRobin => Scheduler::RoundRobin,
        SchedArg::ProportionalFair => Scheduler::ProportionalFair,
    }
}

fn print_summary(report: &TrialReport, cfg: &TrialConfig, out: &std::path::Path) {
    println!(
        "{} vs {} ({:?}, seed {}, {} cells × {} windows; {})",
        report.arms[0], report.arms[1], cfg.design, cfg.seed, cfg.cells, cfg.windows, report.method
    );
    if !report.scenario.is_empty() {
        println!("scenario: {}", report.scenario);
    }
    let primary = &report.effects[report.primary_kpi.index()];
    println!("primary KPI:");
    println!("  {:<20} {}", primary.kpi.name(), primary.verdict.text);
    println!("secondary KPIs:");
    for e in report
        .effects
        .iter()
        .filter(|e| e.kpi != report.primary_kpi)
    {
        println!("  {:<20} {}", e.kpi.name(), e.verdict.text);
    }
    match &report.rail {
        Some(r) => println!("  guard rail on {}: {}", r.kpi, r.status),
        None => println!("  no guard rail"),
    }
    if let Some(a1) = &report.a1 {
        println!(
            "A1 policy {}: bounded {} control and {} treatment decisions; utility weights embb {} urllc {} mmtc {}",
            a1.instances.join(", "),
            a1.bounded[0],
            a1.bounded[1],
            a1.weights.embb,
            a1.weights.urllc,
            a1.weights.mmtc
        );
    }
    if let Some(d) = report.shadow_disagreement {
        println!("  shadow disagreement {:.1} %", d * 100.0);
    }
    println!("report: {}", out.join("trial.html").display());
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let r = match &cli.cmd {
        None => run(&cli.trial),
        Some(Cmd::Sweep { trial, seeds }) => run_sweep(trial, *seeds),
        Some(Cmd::SearchStatic { twin, step, out }) => run_search(twin, *step, out),
        Some(Cmd::Contention { twin }) => run_contention(twin),
        Some(Cmd::Calibrate { twin }) => run_calibrate(twin),
    };
    match r {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("abtrial: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn traces_root(t: &TwinArgs) -> PathBuf {
    t.traces.clone().unwrap_or_else(|| {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/traces")
    })
}

/// The class source of `trial`: its class files where it has them, else inferred by the
/// classifier fitted on the labelled multi-UE Trial2 (UEs that offered ≥ 100 kB).
fn class_source(trial: &TwinTrial, traces: &std::path::Path) -> anyhow::Result<ClassSource> {
    let dirs = trial.cell_dirs()?;
    let mut labelled = true;
    for d in &dirs {
        labelled &= twin::trials::read_classes(d)?.is_some();
    }
    if labelled {
        return Ok(ClassSource::Files);
    }
    let ues = labelled_ues(&TwinTrial::named("multi-ue-trial2", traces)?)?;
    let train: Vec<_> = ues
        .iter()
        .filter(|u| u.offered_bytes >= 1e5)
        .map(|u| (u.class, u.features))
        .collect();
    Ok(ClassSource::Inferred(Classifier::fit(&train)))
}

/// Twin cells of the `--trials` (class-sliced) or of `--trace` (recorded slices), runs of
/// at least `min_windows`, under the scenario; with a link table fitted on them.
fn twin_cells(
    t: &TwinArgs,
    min_windows: usize,
) -> anyhow::Result<(Vec<twin::TwinCell>, LinkTable, Scenario, String)> {
    let scenario = Scenario {
        cell_prbs: t.cell_prbs,
        load: t.load,
    };
    if !((1.0..=275.0).contains(&t.cell_prbs) && t.load > 0.0 && t.load.is_finite()) {
        bail!(
            "--cell-prbs must be in 1..=275 and --load > 0 (got {}, {})",
            t.cell_prbs,
            t.load
        );
    }
    let (mut cells, source) = if t.trials.is_empty() {
        let root = t
            .trace
            .clone()
            .or_else(testbed::trace::shared_root)
            .unwrap_or_else(testbed::trace::bundled_root);
        let root = std::fs::canonicalize(&root).unwrap_or(root);
        (load_runs(&root, min_windows)?, root.display().to_string())
    } else {
        let traces = traces_root(t);
        let mut all = Vec::new();
        for name in &t.trials {
            let trial = TwinTrial::named(name, &traces)?;
            let classes = class_source(&trial, &traces)?;
            match load_trial(&trial, min_windows.max(1), &classes) {
                Ok(c) => all.extend(c),
                Err(TwinError::NoRuns(n)) => {
                    bail!("trial {n}: no run of at least {min_windows} windows")
                }
                Err(e) => return Err(e.into()),
            }
        }
        (all, format!("trials {}", t.trials.join(", ")))
    };
    // The link table is fitted on the recorded carrier, before the scenario changes it.
    let link = LinkTable::fit(&cells);
    apply(&mut cells, &scenario);
    Ok((cells, link, scenario, source))
}

fn run(cli: &TrialArgs) -> anyhow::Result<()> {
    let (cells, link, scenario, source) = twin_cells(&cli.twin, cli.windows)?;
    let cfg = config(cli)?;
    cfg.check(&cells)?;
    let mut arms = [parse_arm(&cli.control)?, parse_arm(&cli.treatment)?];
    let mut report = trial::run(&cfg, &cells, &link, &mut arms)?;
    report.provenance.trace_root = Some(source);
    report.scenario = scenario.to_string();
    std::fs::create_dir_all(&cli.out)?;
    std::fs::write(
        cli.out.join("trial.json"),
        serde_json::to_string_pretty(&report)? + "\n",
    )?;
    std::fs::write(cli.out.join("trial.html"), testbed::report::html(&report))?;
    print_summary(&report, &cfg, &cli.out);
    Ok(())
}

fn run_sweep(cli: &TrialArgs, seeds: u64) -> anyhow::Result<()> {
    let (cells, link, scenario, source) = twin_cells(&cli.twin, cli.windows)?;
    let cfg = config(cli)?;
    cfg.check(&cells)?;
    let seeds: Vec<u64> = (cli.seed..cli.seed + seeds).collect();
    let mut r = sweep(&cfg, &cells, &link, &seeds, || {
        Ok([parse_arm(&cli.control)?, parse_arm(&cli.treatment)?])
    })?;
    r.scenario = scenario.to_string();
    println!(
        "{} vs {} on {source} ({:?}, {} cells × {} windows; {}); scenario: {}",
        r.control, r.treatment, cfg.design, cfg.cells, cfg.windows, r.method, r.scenario
    );
    println!("seed  {} effect [95 % CI]  relative  call", r.kpi);
    for s in &r.seeds {
        match (&s.effect, s.relative) {
            (Some(e), Some(rel)) => println!(
                "{:>4}  {:+.4} [{:+.4}, {:+.4}]  {:+.1} %  {}",
                s.seed,
                e.diff,
                e.lo,
                e.hi,
                rel * 100.0,
                s.call
            ),
            _ => println!("{:>4}  not estimable", s.seed),
        }
    }
    println!(
        "over {} seeds: mean relative effect {:+.2} % [{:+.2}, {:+.2}] (95 % t interval over seeds); significant in {:.0} % of seeds, better in {:.0} %",
        r.seeds.len(),
        r.mean_relative * 100.0,
        r.relative_lo * 100.0,
        r.relative_hi * 100.0,
        r.share_significant * 100.0,
        r.share_better * 100.0
    );
    std::fs::create_dir_all(&cli.out)?;
    std::fs::write(
        cli.out.join("sweep.json"),
        serde_json::to_string_pretty(&r)? + "\n",
    )?;
    Ok(())
}

fn run_search(t: &TwinArgs, step: u8, out: &std::path::Path) -> anyhow::Result<()> {
    let (cells, link, scenario, source) = twin_cells(t, 1)?;
    let r = search_static(&cells, &link, &t.utility_weights, sched(t.scheduler), step);
    println!(
        "best static split on {source} ({scenario}; {} candidates at {step} % steps, {} non-idle cell-windows): {} → mean utility {:.4} (no minimum: {:.4})",
        r.candidates, r.windows, r.split, r.utility, r.no_minimum_utility
    );
    for (s, u) in &r.top {
        println!("  {s:<20} {u:.4}");
    }
    std::fs::create_dir_all(out)?;
    let path = out.join("static_split.json");
    let v = serde_json::json!({
        "split": r.split, "utility": r.utility, "windows": r.windows, "step_pct": step,
        "candidates": r.candidates, "top": r.top, "no_minimum_utility": r.no_minimum_utility,
        "trials": t.trials, "scenario": scenario, "weights": t.utility_weights,
    });
    std::fs::write(&path, serde_json::to_string_pretty(&v)? + "\n")?;
    println!(
        "written: {} (arm: static:{})",
        path.display(),
        path.display()
    );
    Ok(())
}

fn run_contention(t: &TwinArgs) -> anyhow::Result<()> {
    let (base, link, _, source) = twin_cells(
        &TwinArgs {
            cell_prbs: 50.0,
            load: 1.0,
            trials: t.trials.clone(),
            traces: t.traces.clone(),
            trace: t.trace.clone(),
            utility_weights: t.utility_weights,
            scheduler: t.scheduler,
        },
        1,
    )?;
    println!("contention on {source} under open quotas (round robin):");
    println!("carrier  load  windows  busy  contended  contended/busy");
    for prbs in [50.0, 25.0, 15.0, 6.0] {
        for load in [1.0, 2.0] {
            let mut cells = base.clone();
            apply(
                &mut cells,
                &Scenario {
                    cell_prbs: prbs,
                    load,
                },
            );
            let c = contention(&cells, &link);
            println!(
                "{prbs:>5}  ×{load}  {:>7}  {:>5}  {:>9}  {:>6.1} %",
                c.windows,
                c.busy,
                c.contended,
                100.0 * c.contended as f64 / c.busy.max(1) as f64
            );
        }
    }
    Ok(())
}

fn run_calibrate(t: &TwinArgs) -> anyhow::Result<()> {
    let traces = traces_root(t);
    println!("trial  cell  windows  prb_nmae  thp_nmae  prb_bias  thp_bias");
    for name in &t.trials {
        let trial = TwinTrial::named(name, &traces)?;
        let cells = load_trial(&trial, 1, &ClassSource::Recorded)?;
        let link = LinkTable::fit(&cells);
        let (mut w, mut p, mut h) = (0.0, 0.0, 0.0);
        for c in &cells {
            let cal = twin::calibrate(c, &link);
            println!(
                "{name}  {}  {}  {:.3}  {:.3}  {:+.3}  {:+.3}",
                cal.cell, cal.windows, cal.prb_nmae, cal.thp_nmae, cal.prb_bias, cal.thp_bias
            );
            if cal.prb_nmae.is_finite() && cal.thp_nmae.is_finite() {
                w += cal.windows as f64;
                p += cal.prb_nmae * cal.windows as f64;
                h += cal.thp_nmae * cal.windows as f64;
            }
        }
        println!(
            "{name}  window-weighted  PRB NMAE {:.3}  throughput NMAE {:.3}",
            p / w,
            h / w
        );
    }
    Ok(())
}
