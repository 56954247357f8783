//! `model-eval`: checks a PRB forecaster on recorded traces against the last-value baseline.
//!
//! Exit status: 0 after an evaluation (whatever the verdict), 2 on bad input (an argument, a
//! trace path with no trace, a trace the model cannot read, a bad row, no sample to score),
//! 78 on a bad model (contract, hash, onnxruntime not found, an output that is not finite).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{ArgGroup, Parser, ValueEnum};
use nf_core::features::MissingInputs;
use nf_infer::runtime::{ModelConfig, Provider, load_model};
use testbed::eval::{self, Blame, EvalError, EvalOptions};
use testbed::mapping::{Mapping, OnBadRow};

/// Exit status of a bad input (as clap's own usage errors).
const EXIT_BAD_INPUT: u8 = 2;
/// Exit status of a bad model (sysexits EX_CONFIG, as the xApp).
const EXIT_BAD_MODEL: u8 = 78;
/// The shipped forecaster, relative to the repository root.
const SHIPPED: &str = "models/slice_forecaster/slice_forecaster.contract.toml";

/// Scores a PRB forecaster (ONNX, through onnxruntime) on recorded traces against the
/// last-value baseline: MAE and RMSE overall, per folder (per cell for --mapping) and per UE
/// count.
///
/// Samples are those of the training script: per cell, run and slice, every W consecutive
/// 250 ms windows forecast `RRU.PrbUsedDl` of the next one; the baseline repeats the last
/// window's value. A sample's UE count is its run's (most UEs reporting in one window).
///
/// Exit status: 0 evaluated, 2 bad input (arguments, no trace, a trace the model cannot
/// read, no sample), 78 bad model (contract, hash, onnxruntime, non-finite output).
#[derive(Debug, Parser)]
#[command(name = "model-eval", version, about, long_about)]
#[command(group(ArgGroup::new("source").required(true).args(["trace", "mapping"])))]
struct Cli {
    /// SCOPE trace: a cell folder holding `*_metrics.csv` (one file per UE) or a folder of
    /// such cell folders; repeatable (a cell folder reached twice is refused).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["mapping", "input"])]
    trace: Vec<PathBuf>,
    /// Column-mapping file (TOML, as `testbed/mappings/*.toml` and `replay --mapping`) for
    /// --input.
    #[arg(long, value_name = "M", requires = "input")]
    mapping: Option<PathBuf>,
    /// CSV file or folder read through --mapping.
    #[arg(long, value_name = "F", requires = "mapping")]
    input: Option<PathBuf>,
    /// Model contract (TOML; names the .onnx file and its sha256). Default: the shipped
    /// forecaster, models/slice_forecaster/slice_forecaster.contract.toml (in the current
    /// folder, else in the source tree this binary was built from).
    #[arg(long, value_name = "CONTRACT")]
    model: Option<PathBuf>,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// libonnxruntime.so to load (else ORT_DYLIB_PATH, else the copy
    /// scripts/fetch-onnxruntime.sh fetched).
    #[arg(long, value_name = "PATH")]
    ort_lib: Option<PathBuf>,
    /// Model inputs a cell never carries: `refuse` the cell (listed with the measurement) or
    /// `impute-zero` (fed as 0, counted).
    #[arg(long, value_enum, default_value = "refuse")]
    missing_inputs: MissingInputsArg,
    /// What to do with a bad trace row (a --trace or --mapping input; a `Timestamp` written
    /// as `1.66716E+12` has no millisecond precision and is one): `stop` at it (exit 2,
    /// file:line and column named) or `skip` it (counted per reason in `skipped_rows`, first
    /// one named in the notes).
    #[arg(long, value_enum, default_value = "stop")]
    on_bad_row: OnBadRow,
    /// Rows per onnxruntime run.
    #[arg(long, default_value_t = eval::DEFAULT_BATCH_ROWS as u64, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    batch_rows: u64,
}

/// `--missing-inputs`.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum MissingInputsArg {
    Refuse,
    ImputeZero,
}

impl From<MissingInputsArg> for MissingInputs {
    fn from(a: MissingInputsArg) -> Self {
        match a {
            MissingInputsArg::Refuse => Self::Refuse,
            MissingInputsArg::ImputeZero => Self::ImputeZero,
        }
    }
}

fn default_model() -> PathBuf {
    let here = PathBuf::from(SHIPPED);
    if here.is_file() {
        return here;
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(SHIPPED)
}

fn run(cli: Cli) -> Result<String, EvalError> {
    let mut model = load_model(&ModelConfig {
        contract: cli.model.clone().unwrap_or_else(default_model),
        onnxruntime_lib: cli.ort_lib.clone(),
        providers: vec![Provider::Cpu],
    })?;
    let input = match (&cli.mapping, &cli.input) {
        (Some(m), Some(i)) => {
            let m = Mapping::load(m)?;
            eval::check_contract(&model.contract, m.format.period_ms)?;
            eval::read_mapping(&m, i, cli.on_bad_row)?
        }
        _ => eval::read_trace_paths(&cli.trace, cli.on_bad_row)?,
    };
    let report = eval::evaluate(
        &mut model,
        input,
        EvalOptions {
            missing_inputs: cli.missing_inputs.into(),
            batch_rows: cli.batch_rows as usize,
        },
    )?;
    for r in &report.refused {
        tracing::warn!(label = %r.label, reason = r.reason, samples = r.samples, detail = %r.detail, "samples refused");
    }
    if cli.json {
        serde_json::to_string(&report).map_err(|e| EvalError::Input(e.to_string()))
    } else {
        Ok(eval::table(&report))
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
    match run(cli) {
        Ok(out) => {
            println!("{}", out.trim_end());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("model-eval: {e}");
            ExitCode::from(match e.blame() {
                Blame::Input => EXIT_BAD_INPUT,
                Blame::Model => EXIT_BAD_MODEL,
            })
        }
    }
}
