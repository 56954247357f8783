//! Interference xApp for the O-RAN near-RT RIC.
//!
//! Subscribes per cell to E2SM-KPM UE-level reports (style 4) and the cell radio report
//! (style 1), estimates how interference-limited each UE is with the ONNX interference
//! model (onnxruntime), and hands UEs over to a better neighbour with E2SM-RC style 3
//! action 1 controls through A3 hysteresis, time-to-trigger, ping-pong and rate-limit
//! guards and, when configured, the conflict manager. This binary only parses the command
//! line and the config, sets up logging and signals and calls
//! `nf_runtime::run_interference`; every way it stops maps to one exit code of
//! `slice_xapp::exit` (the project's one table).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use interference_xapp::config::{ConfigError, FileConfig, Validated};
use interference_xapp::exit;
use slice_xapp::cli::{LogFormat, default_workers, init_logging, parse_duration};

/// Interference xApp: UE-level KPM in, ONNX interference model, E2SM-RC handovers out.
///
/// Connects to an E2 termination (SD-RAN onos-e2t gRPC API, or the O-RAN SC RIC over RMR),
/// subscribes per cell to UE-level measurements (KPM report style 4: serving and
/// strongest-neighbour SS-RSRP / SS-RSRQ, SS-SINR, CQI, throughput) and the cell radio
/// report (style 1: PRB load, CQI and SS-RSRP distributions), asks the interference model
/// how interference-limited each UE is, and hands limited UEs over to a neighbour that is
/// better by the A3 offset plus hysteresis for the time-to-trigger, within ping-pong and
/// rate limits, after asking the conflict manager when one is configured. Runs until SIGINT
/// or SIGTERM (or --duration), then drains, unsubscribes and prints a summary.
///
/// Exit codes: 0 done, 64 config or command line refused, 70 runtime failure, 78 model or
/// onnxruntime refused (see docs/interference.md).
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// TOML configuration file (see xapps/interference/config/interference.toml); relative
    /// paths in it are relative to its folder.
    #[arg(
        short,
        long,
        env = "INTERFERENCE_XAPP_CONFIG",
        default_value = "xapps/interference/config/interference.toml"
    )]
    config: PathBuf,
    /// Override the E2T endpoint of the config (`e2t.endpoint`), e.g. http://10.0.0.5:5150.
    #[arg(long, env = "INTERFERENCE_XAPP_E2T")]
    e2t: Option<String>,
    /// Stop after this many seconds, a finite number in [0, 1e9] (default: run until SIGINT
    /// or SIGTERM).
    #[arg(long, value_name = "SECONDS", value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Override or disable (with "off") the Prometheus listen address of the config.
    #[arg(long)]
    metrics_listen: Option<String>,
    /// Override `shard.replicas`, the StatefulSet replicas the E2 nodes are shared over.
    #[arg(long, env = "INTERFERENCE_XAPP_SHARD_REPLICAS", value_name = "N")]
    shard_replicas: Option<u64>,
    /// Write the decision log (JSON lines) here, overriding `decision_log.path`.
    #[arg(long, value_name = "FILE")]
    decision_log: Option<PathBuf>,
    /// Log format.
    #[arg(
        long,
        value_enum,
        default_value = "text",
        env = "INTERFERENCE_XAPP_LOG_FORMAT"
    )]
    log_format: LogFormat,
    /// tokio worker threads (default: one per core less the inference thread; at least 1).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
    worker_threads: Option<u16>,
    /// Validate the config and the model (contract, sha256, interface, a canary batch
    /// through onnxruntime), then exit: 0 valid, 64 config refused, 78 model refused.
    #[arg(long)]
    check: bool,
}

#[derive(Debug, thiserror::Error)]
enum Stop {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Model(#[from] interference_xapp::LoadError),
    #[error(transparent)]
    Runtime(#[from] nf_runtime::RuntimeError),
    #[error("cannot start tokio: {0}")]
    Tokio(std::io::Error),
}

impl Stop {
    fn code(&self) -> u8 {
        match self {
            Stop::Config(_)
            | Stop::Usage(_)
            | Stop::Runtime(nf_runtime::RuntimeError::MetricsListen(_)) => exit::BAD_CONFIG,
            Stop::Model(_) => exit::BAD_MODEL,
            Stop::Runtime(_) | Stop::Tokio(_) => exit::RUNTIME,
        }
    }
}

async fn shutdown_signal(duration: Option<Duration>) {
    let sleep = async {
        match duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = sleep => tracing::info!("run duration reached"),
        signal = nf_runtime::termination_signal() => tracing::info!(signal, "shutting down"),
    }
}

fn load_config(
    path: &Path,
    e2t: Option<String>,
    shard_replicas: Option<u64>,
) -> Result<Validated, Stop> {
    let base = FileConfig::folder_of(path);
    let mut file = FileConfig::load(path)?;
    if let Some(endpoint) = e2t {
        file.override_endpoint(endpoint, "--e2t / INTERFERENCE_XAPP_E2T");
    }
    if let Some(n) = shard_replicas {
        let from = "--shard-replicas / INTERFERENCE_XAPP_SHARD_REPLICAS";
        file.shard.override_replicas(n, from);
    }
    Ok(file.validate(&base)?)
}

fn start(cli: Cli) -> Result<Option<nf_runtime::mobility::MobilitySummary>, Stop> {
    let validated = load_config(&cli.config, cli.e2t, cli.shard_replicas)?;
    let mut runtime_cfg = validated.runtime;
    match cli.metrics_listen.as_deref() {
        None => {}
        Some("off") if runtime_cfg.shard.is_some() => {
            return Err(Stop::Usage(
                "--metrics-listen off: a sharded replica (shard.replicas > 1) must serve /ric/v1/shard to its peers".into(),
            ));
        }
        Some("off") => runtime_cfg.metrics_listen = None,
        Some(addr) => {
            runtime_cfg.metrics_listen = Some(addr.parse().map_err(|e| {
                Stop::Usage(format!(
                    "--metrics-listen (overrides metrics.listen) = {addr:?}: {e}"
                ))
            })?);
        }
    }
    let model = interference_xapp::load_model(&validated.model)?;
    if cli.check {
        let c = &model.contract;
        println!(
            "configuration and interference model are valid ({} {}, canary batch passed)",
            c.name, c.version
        );
        println!("{}", runtime_cfg.instance_line());
        return Ok(None);
    }
    let log = match cli.decision_log.or(validated.decision_log) {
        Some(path) => Some(Arc::new(
            nf_runtime::mobility::MobilityLog::open(&path, validated.decision_log_rotation)
                .map_err(|e| Stop::Usage(format!("decision_log.path {}: {e}", path.display())))?,
        )),
        None => None,
    };
    let workers = cli.worker_threads.unwrap_or_else(default_workers);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers.into())
        .enable_all()
        .thread_name("xapp")
        .build()
        .map_err(Stop::Tokio)?;
    let metrics = Arc::new(nf_runtime::metrics::Metrics::for_interference());
    runtime_cfg.e2t_tls = validated
        .e2t_tls
        .map(|s| nf_tls::ClientTls::new(s, "e2t", &metrics.tls));
    let summary = rt.block_on(nf_runtime::run_interference(
        runtime_cfg,
        validated.interference,
        model,
        metrics,
        log,
        shutdown_signal(cli.duration),
    ))?;
    Ok(Some(summary))
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::BAD_CONFIG
            } else {
                exit::OK
            });
        }
    };
    init_logging(cli.log_format);
    match start(cli) {
        Ok(summary) => {
            if let Some(summary) = summary {
                print!("{summary}");
            }
            ExitCode::from(exit::OK)
        }
        Err(stop) => {
            if let Stop::Runtime(e) = &stop
                && let Some(summary) = e.summary()
            {
                println!("{summary}");
            }
            tracing::error!("interference-xapp stopped");
            eprintln!("interference-xapp: {stop}");
            ExitCode::from(stop.code())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stop_has_a_documented_exit_code() {
        let stops = [
            Stop::Usage("x".into()),
            Stop::Runtime(nf_runtime::RuntimeError::Arms("x".into())),
            Stop::Tokio(std::io::Error::other("x")),
        ];
        for s in stops {
            assert!(exit::TABLE.iter().any(|(c, _)| *c == s.code()));
        }
    }
}
