//! `radiotrial`: calibrate the multi-cell radio twin on the `ucc5g` training recordings, and
//! run the interference-mitigation trial (arms none / a3 / model) on the held-out ones.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use nf_core::mobility::{MobilityConfig, RestrictionConfig};
use testbed::radio::calib;
use testbed::radio::trace::read_all;
use testbed::radio::trial::{
    A3Rule, Arm, ArmRun, Assessor, ModelAssessor, TrialConfig, effects, held_out, run_arm,
};
use testbed::radio::twin::{Calibration, TwinConfig};

#[derive(Parser)]
#[command(
    name = "radiotrial",
    about = "Multi-cell radio twin driven by the ucc5g operator recordings: calibration and the interference-mitigation trial"
)]
struct Cli {
    /// Root of the ucc5g recordings.
    #[arg(long, default_value = "../shared/traces/ucc5g", global = true)]
    traces: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Fit the twin's SINR constants on the training recordings; report the error on the
    /// held-out ones per kind (static / driving).
    Calibrate {
        /// Cells of the twin (the other-cell rule depends on it).
        #[arg(long, default_value_t = 4)]
        cells: usize,
        /// DL PRBs per cell (throughput check).
        #[arg(long, default_value_t = 106)]
        prbs: u32,
    },
    /// Run the arms on the held-out recordings over seeds, paired per seed.
    Run {
        /// Arms to run (`none` is always run: the control).
        #[arg(long, value_delimiter = ',', default_value = "none,a3,model")]
        arms: Vec<Arm>,
        #[arg(long, default_value_t = 20)]
        seeds: u64,
        #[arg(long, default_value_t = 1)]
        first_seed: u64,
        /// Trial length per seed [s].
        #[arg(long, default_value_t = 300)]
        duration_s: u64,
        /// Interference model contract.
        #[arg(long, default_value = "models/interference/interference.contract.toml")]
        model: PathBuf,
        /// Offset of the A3-style rule of the `a3` arm [dB] (the model card's, tuned on training).
        #[arg(long, default_value_t = 1.0)]
        a3_rule_offset_db: f32,
        /// Mobility settings (TOML of `MobilityConfig`; defaults otherwise).
        #[arg(long)]
        mobility: Option<PathBuf>,
        /// Let the model arm cap the dominant interferer's PRBs.
        #[arg(long)]
        restrict: bool,
        /// Cells of the twin.
        #[arg(long, default_value_t = 4)]
        cells: usize,
        /// UEs per cell.
        #[arg(long, default_value_t = 8)]
        ues_per_cell: usize,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("radiotrial: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    let recs = read_all(&cli.traces).map_err(|e| e.to_string())?;
    match cli.cmd {
        Cmd::Calibrate { cells, prbs } => {
            let fitted = calib::fit(&recs, cells, &Calibration::default());
            let test = calib::errors(&recs, cells, prbs, &fitted, true);
            let train = calib::errors(&recs, cells, prbs, &fitted, false);
            if cli.json {
                let v =
                    serde_json::json!({"calibration": fitted, "held_out": test, "training": train});
                println!(
                    "{}",
                    serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?
                );
            } else {
                println!(
                    "fitted: noise_eff_dbm = {}, coupling_db = {}, impl_loss_db = {:.2} (ref_load {}, alpha {}, max_se {})",
                    fitted.noise_eff_dbm,
                    fitted.coupling_db,
                    fitted.impl_loss_db,
                    fitted.ref_load,
                    fitted.alpha,
                    fitted.max_se
                );
                println!(
                    "{:<9} {:<8} {:>4} {:>7} {:>9} {:>9} {:>10} {:>8} {:>8} {:>9}",
                    "split",
                    "kind",
                    "recs",
                    "seconds",
                    "MAE dB",
                    "bias dB",
                    "const MAE",
                    "DL secs",
                    "clipped",
                    "thp NMAE"
                );
                for (split, rows) in [("held-out", &test), ("training", &train)] {
                    for e in rows.iter() {
                        println!(
                            "{:<9} {:<8} {:>4} {:>7} {:>9.2} {:>9.2} {:>10.2} {:>8} {:>7.1}% {:>9.3}",
                            split,
                            e.group,
                            e.recordings,
                            e.seconds,
                            e.sinr_mae_db,
                            e.sinr_bias_db,
                            e.const_mae_db,
                            e.dl_seconds,
                            100.0 * e.clipped_share,
                            e.thp_nmae
                        );
                    }
                }
            }
            Ok(())
        }
        Cmd::Run {
            arms,
            seeds,
            first_seed,
            duration_s,
            model,
            a3_rule_offset_db,
            mobility,
            restrict,
            cells,
            ues_per_cell,
        } => {
            let mobility = match mobility {
                Some(p) => {
                    let text =
                        std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
                    toml::from_str::<MobilityConfig>(&text)
                        .map_err(|e| format!("{}: {e}", p.display()))?
                }
                None => MobilityConfig::default(),
            };
            mobility.validate()?;
            let cfg = TrialConfig {
                seeds,
                first_seed,
                duration_s,
                twin: TwinConfig {
                    cells,
                    ues_per_cell,
                    ..TwinConfig::default()
                },
                mobility,
                restriction: restrict.then(RestrictionConfig::default),
                ..TrialConfig::default()
            };
            cfg.twin.validate()?;
            let test = held_out(&recs);
            if test.is_empty() {
                return Err("no held-out recording under --traces".into());
            }
            let mut model_assessor = if arms.contains(&Arm::Model) {
                Some(ModelAssessor::load(&model)?)
            } else {
                None
            };
            let mut rule = A3Rule {
                offset_db: a3_rule_offset_db,
            };
            let mut runs: Vec<ArmRun> = Vec::new();
            for seed in first_seed..first_seed + seeds {
                runs.push(run_arm(&test, &cfg, Arm::None, seed, None)?);
                for &arm in &arms {
                    let a: Option<&mut dyn Assessor> = match arm {
                        Arm::None => continue,
                        Arm::A3 => Some(&mut rule),
                        Arm::Model => model_assessor.as_mut().map(|m| m as &mut dyn Assessor),
                    };
                    runs.push(run_arm(&test, &cfg, arm, seed, a)?);
                }
            }
            let eff = effects(&runs);
            if cli.json {
                let v = serde_json::json!({
                    "config": cfg,
                    "held_out_recordings": test.iter().map(|r| r.name.clone()).collect::<Vec<_>>(),
                    "runs": runs,
                    "effects": eff,
                    "model_bad_outputs": model_assessor.as_ref().map(|m| m.bad_outputs),
                });
                println!(
                    "{}",
                    serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?
                );
            } else {
                println!(
                    "held-out recordings: {}, seeds {}..{}, {} s each, {} cells x {} UEs; metric: user-perceived DL throughput of downloading UE-seconds",
                    test.len(),
                    first_seed,
                    first_seed + seeds - 1,
                    duration_s,
                    cells,
                    ues_per_cell
                );
                println!(
                    "{:<6} {:>10} {:>10} {:>24} {:>10} {:>10} {:>24} {:>8} {:>8} {:>6}",
                    "arm",
                    "p5 kbps",
                    "none p5",
                    "p5 change % [95% CI]",
                    "p50 kbps",
                    "none p50",
                    "p50 change % [95% CI]",
                    "HO/seed",
                    "RS/seed",
                    "target"
                );
                for e in &eff {
                    println!(
                        "{:<6} {:>10.0} {:>10.0} {:>8.1} [{:>6.1}, {:>6.1}] {:>10.0} {:>10.0} {:>8.1} [{:>6.1}, {:>6.1}] {:>8.1} {:>8.1} {:>6}",
                        e.arm.as_str(),
                        e.p5_kbps,
                        e.none_p5_kbps,
                        e.p5_change.diff,
                        e.p5_change.lo,
                        e.p5_change.hi,
                        e.p50_kbps,
                        e.none_p50_kbps,
                        e.p50_change.diff,
                        e.p50_change.lo,
                        e.p50_change.hi,
                        e.handovers_per_seed,
                        e.restrictions_per_seed,
                        if e.target_met { "met" } else { "no" }
                    );
                }
                println!(
                    "CI: 95 % t interval over seeds of the per-seed relative change against `none` (same seed)."
                );
                if let Some(m) = &model_assessor {
                    println!("model outputs refused: {}", m.bad_outputs);
                }
            }
            Ok(())
        }
    }
}
