//! Slice-scheduling xApp for the O-RAN near-RT RIC.
//!
//! Subscribes to E2SM-KPM reports of every cell the E2T knows, forecasts each slice's PRB
//! demand with an ONNX model (onnxruntime), and sends E2SM-RC slice-level PRB quota
//! controls (style 2, action 6) through guard rails and a latency budget. This binary only
//! parses the command line and the config, sets up logging and signals, and calls
//! `nf_runtime::run_models`; every way it stops maps to one exit code of
//! `slice_xapp::exit`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use nf_runtime::RuntimeConfig;
use slice_xapp::cli::{LogFormat, default_workers, init_logging, parse_duration};
use slice_xapp::config::{ConfigError, FileConfig, Validated};
use slice_xapp::exit;

/// Slice-scheduling xApp: KPM in, ONNX PRB-demand forecast, E2SM-RC slice PRB quotas out.
///
/// Connects to an E2 termination speaking the SD-RAN E2T API (onos.e2t.e2.v1beta1), discovers
/// the E2 nodes and cells, subscribes to periodic KPM reports, and closes the loop until
/// SIGINT or SIGTERM (or --duration), then drains, unsubscribes and prints a summary. SIGHUP
/// reloads the models: each re-reads its contract and a changed model is swapped in after
/// its checks and a canary batch (see docs/operations.md, "Swapping a model at run time").
///
/// Exit codes: 0 done, 64 config or command line refused, 70 runtime failure, 78 model or
/// onnxruntime refused (see docs/operations.md).
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// TOML configuration file (see xapps/slice-sched/config/demo.toml); relative paths in it
    /// are relative to its folder.
    #[arg(
        short,
        long,
        env = "SLICE_XAPP_CONFIG",
        default_value = "xapps/slice-sched/config/demo.toml"
    )]
    config: PathBuf,
    /// Override the E2T endpoint of the config (`e2t.endpoint`), e.g. http://10.0.0.5:5150.
    #[arg(long, env = "SLICE_XAPP_E2T")]
    e2t: Option<String>,
    /// Stop after this many seconds, a finite number in [0, 1e9] (default: run until SIGINT
    /// or SIGTERM; `inf` is refused: leave the flag out instead).
    #[arg(long, value_name = "SECONDS", value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Override or disable (with "off") the Prometheus listen address of the config.
    #[arg(long)]
    metrics_listen: Option<String>,
    /// Override `shard.replicas`, the StatefulSet replicas the E2 nodes are shared over
    /// (the Helm chart sets it from its values).
    #[arg(long, env = "SLICE_XAPP_SHARD_REPLICAS", value_name = "N")]
    shard_replicas: Option<u64>,
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

/// Why the xApp stops without a clean run; each maps to one exit code.
#[derive(Debug, thiserror::Error)]
enum Stop {
    /// The config file refused, every problem listed.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A command-line value or a resource named by the config refused.
    #[error("{0}")]
    Usage(String),
    /// A model or onnxruntime refused.
    #[error(transparent)]
    Model(#[from] slice_xapp::LoadError),
    /// The runtime failed after start.
    #[error(transparent)]
    Runtime(#[from] nf_runtime::RuntimeError),
    /// The tokio runtime could not start.
    #[error("cannot start tokio: {0}")]
    Tokio(std::io::Error),
}

impl Stop {
    fn code(&self) -> u8 {
        match self {
            Stop::Config(_)
            | Stop::Usage(_)
            | Stop::Runtime(nf_runtime::RuntimeError::MetricsListen(_))
            | Stop::Runtime(nf_runtime::RuntimeError::A1(_)) => exit::BAD_CONFIG,
            Stop::Model(_) => exit::BAD_MODEL,
            Stop::Runtime(_) | Stop::Tokio(_) => exit::RUNTIME,
        }
    }

    /// The one line logged for it; the cause itself is printed once, by `main`.
    fn log(&self) {
        match self {
            Stop::Config(e) => match e.problem_count() {
                0 => tracing::error!("configuration refused"),
                n => tracing::error!(problems = n, "configuration refused"),
            },
            Stop::Usage(_) => tracing::error!("command line or config refused"),
            Stop::Model(_) => tracing::error!("model refused"),
            Stop::Runtime(_) | Stop::Tokio(_) => tracing::error!("runtime failed"),
        }
    }
}

/// One tokio worker per core, except the one the inference thread keeps busy.
/// The end of the run: `--duration`, SIGINT or SIGTERM. Each leads to the same graceful
/// shutdown: drain in-flight decisions, unsubscribe, print the summary. (SIGHUP reloads the
/// models instead: `RuntimeConfig::reload_on_sighup`.)
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

/// Reads and validates the config, with `--e2t` applied before validation so that a bad
/// override is named like a bad file value. Relative paths follow the file's folder.
fn load_config(
    path: &Path,
    e2t: Option<String>,
    shard_replicas: Option<u64>,
) -> Result<Validated, Stop> {
    let base = FileConfig::folder_of(path);
    let mut file = FileConfig::load(path)?;
    if let Some(endpoint) = e2t {
        file.override_endpoint(endpoint, "--e2t / SLICE_XAPP_E2T");
    }
    if let Some(n) = shard_replicas {
        let from = "--shard-replicas / SLICE_XAPP_SHARD_REPLICAS";
        file.shard.override_replicas(n, from);
    }
    Ok(file.validate(&base)?)
}

/// Applies `--metrics-listen` (an address, or `off`).
fn apply_metrics_listen(cfg: &mut RuntimeConfig, flag: Option<&str>) -> Result<(), Stop> {
    match flag {
        None => {}
        Some("off") if cfg.shard.is_some() => {
            return Err(Stop::Usage(
                "--metrics-listen off: a sharded replica (shard.replicas > 1) must serve /ric/v1/shard to its peers".into(),
            ));
        }
        Some("off") => cfg.metrics_listen = None,
        Some(addr) => {
            let a = addr.parse().map_err(|e| {
                Stop::Usage(format!(
                    "--metrics-listen (overrides metrics.listen) = {addr:?}: {e}"
                ))
            })?;
            cfg.metrics_listen = Some(a);
        }
    }
    Ok(())
}

/// Everything from the parsed command line to the end of the run; the summary on success.
fn start(cli: Cli) -> Result<Option<nf_runtime::Summary>, Stop> {
    let validated = load_config(&cli.config, cli.e2t, cli.shard_replicas)?;
    let conflict = validated.conflict;
    let mut runtime_cfg = validated.runtime;
    runtime_cfg.reload_on_sighup = true;
    apply_metrics_listen(&mut runtime_cfg, cli.metrics_listen.as_deref())?;
    let models = slice_xapp::load_models(&validated.models)?;
    // The A1 state file is read before anything starts (run_models reads it again).
    if let Some(a1) = &runtime_cfg.a1 {
        nf_runtime::a1::prepare(a1.clone()).map_err(|e| Stop::Runtime(e.into()))?;
    }
    if cli.check {
        let c = &models[0].contract;
        println!(
            "configuration and model contract are valid ({} {})",
            c.name, c.version
        );
        println!("{}", runtime_cfg.instance_line());
        return Ok(None);
    }
    if let Some(d) = &validated.decision_log {
        let log = slice_xapp::open_decision_log(&d.path, d.hold_ms, d.timings, d.rotation())
            .map_err(|e| Stop::Usage(format!("decision_log.path {}: {e}", d.path.display())))?;
        runtime_cfg.decision_log = Some(log);
    }
    let workers = cli.worker_threads.unwrap_or_else(default_workers);
    tracing::info!(workers, "starting tokio runtime");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers.into())
        .enable_all()
        .thread_name("xapp")
        .build()
        .map_err(Stop::Tokio)?;
    let metrics = Arc::new(nf_runtime::metrics::Metrics::new());
    runtime_cfg.e2t_tls = validated
        .e2t_tls
        .map(|s| nf_tls::ClientTls::new(s, "e2t", &metrics.tls));
    if let Some(gate) = conflict {
        tracing::info!(endpoint = %gate.endpoint, xapp = %gate.xapp, on_unavailable = ?gate.on_unavailable, "controls ask the conflict manager first");
        runtime_cfg.conflict = Some(Arc::new(nf_runtime::conflict::Gate::new(gate, &metrics)));
    }
    if let Some(remote) = validated.remote {
        let cell_prbs = models[0].contract.cell_prbs;
        let placement = remote_placement(remote, cell_prbs, &metrics.tls);
        runtime_cfg.remote = Some(rt.block_on(placement)?);
    }
    let summary = rt.block_on(nf_runtime::run_models(
        runtime_cfg,
        models,
        metrics,
        shutdown_signal(cli.duration),
    ))?;
    Ok(Some(summary))
}

/// The remote forecaster, checked against its contract once at start. A server that is
/// down or not ready yet is no reason to stop (edge-first: the local model decides, and the
/// remote is used once it answers); a server whose model differs from its contract is.
/// An `https://` link counts its TLS reloads and handshake failures in `tls_metrics`
/// (`xapp_tls_*{link="remote_model"}`), its watcher started by its first connection as the
/// E2T link's is.
async fn remote_placement(
    s: slice_xapp::config::placement::RemoteSettings,
    local_cell_prbs: u32,
    tls_metrics: &nf_tls::TlsMetrics,
) -> Result<Arc<nf_runtime::placement::RemotePlacement>, Stop> {
    let refused = |e: &dyn std::fmt::Display| Stop::Usage(format!("remote_model: {e}"));
    let model = nf_oip::RemoteModel::new(s.model, tls_metrics).map_err(|e| refused(&e))?;
    match model.check().await {
        Ok(_) => {}
        Err(e @ nf_oip::OipError::Contract(_)) => return Err(refused(&e)),
        Err(e) => {
            tracing::warn!(cause = %e, kind = e.kind(), "remote model not usable yet: the local model decides until it answers");
        }
    }
    let placement = nf_runtime::placement::RemotePlacement::new(
        s.mode,
        model,
        s.quantile,
        s.margin,
        local_cell_prbs,
    )
    .map_err(|e| refused(&e))?
    .with_batch_window(s.batch_window);
    Ok(Arc::new(placement))
}

/// A command line clap refuses exits 64 like a bad config (help and version exit 0).
fn parse_cli() -> Result<Cli, ExitCode> {
    Cli::try_parse().map_err(|e| {
        let _ = e.print();
        if e.use_stderr() {
            ExitCode::from(exit::BAD_CONFIG)
        } else {
            ExitCode::from(exit::OK)
        }
    })
}

fn main() -> ExitCode {
    let cli = match parse_cli() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    init_logging(cli.log_format);
    match start(cli) {
        Ok(summary) => {
            if let Some(summary) = summary {
                println!("{summary}");
            }
            ExitCode::from(exit::OK)
        }
        Err(stop) => {
            // A run that ended badly still shows what it did.
            if let Stop::Runtime(e) = &stop
                && let Some(summary) = e.summary()
            {
                println!("{summary}");
            }
            stop.log();
            eprintln!("slice-xapp: {stop}");
            ExitCode::from(stop.code())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stop_has_a_documented_exit_code() {
        let io = || std::io::Error::other("x");
        let stops = [
            Stop::Config(ConfigError::Read {
                written: "c.toml".into(),
                resolved: "/c.toml".into(),
                source: io(),
            }),
            Stop::Usage("--metrics-listen".into()),
            Stop::Model(slice_xapp::LoadError::Engine(
                nf_infer::runtime::EngineError::LibraryMissing { looked: "x".into() },
            )),
            Stop::Runtime(nf_runtime::RuntimeError::Arms("x".into())),
            Stop::Tokio(io()),
        ];
        let codes: Vec<u8> = stops.iter().map(Stop::code).collect();
        assert_eq!(
            codes,
            [
                exit::BAD_CONFIG,
                exit::BAD_CONFIG,
                exit::BAD_MODEL,
                exit::RUNTIME,
                exit::RUNTIME
            ]
        );
        for code in codes {
            assert!(exit::TABLE.iter().any(|(c, _)| *c == code), "{code}");
        }
    }
}
