//! `conflict-mgr`: the conflict-guidance service between xApps (see `docs/conflicts.md`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Conflict manager between xApps: both xApps ask it before every E2 control (gRPC
/// `airan.conflict.v1.ConflictGuidance`); it refuses direct conflicts (same parameter, same
/// target, within its lease and guard window), counts indirect and implicit ones, and
/// resolves by the priorities of its configuration.
#[derive(Debug, Parser)]
#[command(name = "conflict-mgr", version)]
struct Cli {
    /// TOML configuration: xApp priorities, lease and guard windows per parameter, indirect
    /// policy, limits (unknown keys refused).
    #[arg(long, env = "CONFLICT_MGR_CONFIG")]
    config: PathBuf,
    /// gRPC listen address (overrides `listen`; default 127.0.0.1:7070).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// HTTP address of `/metrics` and `/health` (overrides `http_listen`).
    #[arg(long)]
    http_listen: Option<SocketAddr>,
    /// Validate the configuration and exit.
    #[arg(long)]
    check: bool,
    /// Logs as JSON lines.
    #[arg(long)]
    json_logs: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if cli.json_logs {
        logs.json().init();
    } else {
        logs.init();
    }
    let mut cfg = match nf_conflict::Config::from_file(&cli.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("conflict-mgr: configuration refused: {e}");
            return ExitCode::from(78);
        }
    };
    if cli.check {
        println!("{}: valid", cli.config.display());
        return ExitCode::SUCCESS;
    }
    cfg.listen = cli.listen.unwrap_or(cfg.listen);
    cfg.http_listen = cli.http_listen.or(cfg.http_listen);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("conflict-mgr: no runtime: {e}");
            return ExitCode::from(70);
        }
    };
    rt.block_on(async {
        let running = match nf_conflict::start(cfg).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("conflict-mgr: {e}");
                return ExitCode::from(69);
            }
        };
        // Tests and scripts read the bound addresses from this line.
        println!(
            "conflict-mgr listening grpc={} http={}",
            running.grpc_addr,
            running
                .http_addr
                .map_or_else(|| "-".to_owned(), |a| a.to_string())
        );
        let stop = running.stopper();
        tokio::select! {
            _ = shutdown_signal() => {}
        }
        tracing::info!("shutting down");
        let _ = stop.send(true);
        running.wait().await;
        ExitCode::SUCCESS
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
