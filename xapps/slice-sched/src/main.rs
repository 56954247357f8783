//! Slice-scheduling xApp for the O-RAN near-RT RIC.
//!
//! Subscribes to E2SM-KPM reports of every cell the E2T knows, forecasts each slice's PRB
//! demand with an ONNX model (onnxruntime), and sends E2SM-RC slice-level PRB quota
//! controls (style 2, action 6) through guard rails and a latency budget. This binary only
//! parses the command line and the config, sets up logging and signals, and calls
//! `nf_runtime::run`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use tracing_subscriber::EnvFilter;

use slice_xapp::config::FileConfig;

/// Exit code for a configuration the xApp refuses (sysexits EX_USAGE).
const EXIT_BAD_CONFIG: u8 = 64;
/// Exit code when the model or onnxruntime cannot be loaded (sysexits EX_CONFIG).
const EXIT_BAD_MODEL: u8 = 78;
/// Exit code when the runtime fails after start (sysexits EX_SOFTWARE).
const EXIT_RUNTIME: u8 = 70;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Slice-scheduling xApp: KPM in, ONNX PRB-demand forecast, E2SM-RC slice PRB quotas out.
///
/// Connects to an E2 termination speaking the SD-RAN E2T API (onos.e2t.e2.v1beta1), discovers
/// the E2 nodes and cells, subscribes to periodic KPM reports, and closes the loop until
/// SIGINT/SIGTERM/SIGHUP (or --duration), then unsubscribes and prints a summary. Exits
/// non-zero when the E2T was never reached or an E2 node task had to be given up.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// TOML configuration file (see xapps/slice-sched/config/demo.toml).
    #[arg(
        short,
        long,
        env = "SLICE_XAPP_CONFIG",
        default_value = "xapps/slice-sched/config/demo.toml"
    )]
    config: PathBuf,
    /// Override the E2T endpoint of the config, e.g. http://10.0.0.5:5150.
    #[arg(long, env = "SLICE_XAPP_E2T")]
    e2t: Option<String>,
    /// Stop after this many seconds (default: run until SIGINT/SIGTERM).
    #[arg(long)]
    duration: Option<f64>,
    /// Override or disable (with "off") the Prometheus listen address of the config.
    #[arg(long)]
    metrics_listen: Option<String>,
    /// Log format.
    #[arg(
        long,
        value_enum,
        default_value = "text",
        env = "SLICE_XAPP_LOG_FORMAT"
    )]
    log_format: LogFormat,
    /// tokio worker threads for E2 I/O and decisions (default: one per core, less the core
    /// left to the inference thread; at least one).
    #[arg(long, env = "SLICE_XAPP_WORKER_THREADS", value_parser = clap::value_parser!(u16).range(1..=256))]
    worker_threads: Option<u16>,
    /// Validate the config and the model contract, then exit.
    #[arg(long)]
    check: bool,
}

/// One tokio worker per core, except the one the inference thread keeps busy.
fn default_workers() -> u16 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    cores.saturating_sub(1).clamp(1, 256) as u16
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,ort=warn,h2=warn,tower=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn shutdown_signal(duration: Option<f64>) {
    let sleep = async {
        match duration {
            Some(s) => tokio::time::sleep(Duration::from_secs_f64(s.max(0.0))).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = sleep => tracing::info!("run duration reached"),
        signal = nf_runtime::termination_signal() => tracing::info!(signal, "signal received"),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let base = cli.config.parent().map(PathBuf::from).unwrap_or_default();
    let validated = match FileConfig::load(&cli.config).and_then(|c| c.validate(&base)) {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(cause = %e, "configuration refused");
            eprintln!("slice-xapp: {e}");
            return ExitCode::from(EXIT_BAD_CONFIG);
        }
    };
    let mut runtime_cfg = validated.runtime;
    if let Some(e2t) = cli.e2t {
        runtime_cfg.e2t_endpoint = e2t;
    }
    match cli.metrics_listen.as_deref() {
        None => {}
        Some("off") => runtime_cfg.metrics_listen = None,
        Some(addr) => match addr.parse() {
            Ok(a) => runtime_cfg.metrics_listen = Some(a),
            Err(e) => {
                eprintln!("slice-xapp: --metrics-listen {addr}: {e}");
                return ExitCode::from(EXIT_BAD_CONFIG);
            }
        },
    }
    let models = match slice_xapp::load_models(&validated.models) {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(cause = %e, "model refused");
            eprintln!("slice-xapp: {e}");
            return ExitCode::from(EXIT_BAD_MODEL);
        }
    };
    let model = &models[0];
    if cli.check {
        println!(
            "configuration and model contract are valid ({} {})",
            model.contract.name, model.contract.version
        );
        return ExitCode::SUCCESS;
    }
    let workers = cli.worker_threads.unwrap_or_else(default_workers);
    tracing::info!(workers, "starting tokio runtime");
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers.into())
        .enable_all()
        .thread_name("xapp")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("slice-xapp: cannot start tokio: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    if let Some(d) = &validated.decision_log {
        match slice_xapp::open_decision_log(&d.path, d.hold_ms, d.timings) {
            Ok(log) => runtime_cfg.decision_log = Some(log),
            Err(e) => {
                eprintln!("slice-xapp: decision_log.path {}: {e}", d.path.display());
                return ExitCode::from(EXIT_BAD_CONFIG);
            }
        }
    }
    let metrics = Arc::new(nf_runtime::metrics::Metrics::new());
    let result = rt.block_on(nf_runtime::run_models(
        runtime_cfg,
        models,
        metrics,
        shutdown_signal(cli.duration),
    ));
    match result {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            if let Some(summary) = e.summary() {
                println!("{summary}");
            }
            tracing::error!(cause = %e, "runtime failed");
            eprintln!("slice-xapp: {e}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}
