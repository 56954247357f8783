//! `hybridbench`: the edge-first placement across emulated WAN round trips. The real
//! slice-xapp process runs against the in-process E2T simulator with the shipped forecaster
//! locally (onnxruntime) and a remote forecaster served by MLServer (the pinned test server
//! of `nf-oip`): the larger model (`models/slice_forecaster_large`) by default, or any
//! contract given with `--remote-contract`, reached through a delaying TCP proxy
//! ([`testbed::wan::DelayProxy`]) that adds half the round trip each way.
//!
//! For each placement mode and round trip it reports the share of decisions each model
//! served, the indication→control latency at the E2T (p50, p99), decisions dropped past the
//! budget, the remote calls' results, and the cost per 1,000 decisions: edge CPU time
//! measured (the xApp process's user + system time over its decisions) and the remote cost
//! from the prices given (per request, and per GPU-second times the GPU time one call is
//! assumed to take). Counters are read from the xApp's `/metrics` at the end of the
//! warm-up and of the run; the difference is the measured window.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use testbed::sim::{RunningSim, Sim, SimConfig};
use testbed::trace;
use testbed::wan::DelayProxy;

/// Edge-first placement across WAN round trips, against a real MLServer.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// Round trips to emulate [ms] (half of each added each way by the proxy).
    #[arg(long, value_delimiter = ',', default_value = "5,20,50,80,200,400")]
    rtts: Vec<u64>,
    /// Placement modes to run at every round trip (a `local` row is run once).
    #[arg(long, value_delimiter = ',', default_value = "remote_first,hybrid")]
    modes: Vec<String>,
    /// Also run the local-only baseline.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    baseline: bool,
    /// Cells (one node).
    #[arg(long, default_value_t = 8)]
    cells: usize,
    /// Report period [ms].
    #[arg(long, default_value_t = 100)]
    period_ms: u32,
    /// End-to-end latency budget (`guard.latency_budget_ms`).
    #[arg(long, default_value_t = 100.0)]
    budget_ms: f64,
    /// `placement.margin_ms`.
    #[arg(long, default_value_t = 2)]
    margin_ms: u64,
    /// `placement.quantile` (p95 | p99).
    #[arg(long, default_value = "p99")]
    quantile: String,
    /// `remote_model.deadline_ms`: how long a call may run (past the decision's wait, its
    /// answer is counted late_discarded).
    #[arg(long, default_value_t = 1000)]
    deadline_ms: u64,
    /// Spread the cells' reports over the report period (the simulator's default); `false`:
    /// every cell of the node reports at the period's start, as one granularity period.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    stagger: bool,
    /// `placement.batch_window_us`: asks within it of the first are one request (0: none).
    #[arg(long, default_value_t = 0)]
    batch_window_us: u64,
    /// Measured seconds per scenario (after warm-up).
    #[arg(long, default_value_t = 15.0)]
    seconds: f64,
    /// Warm-up seconds per scenario.
    #[arg(long, default_value_t = 4.0)]
    warmup: f64,
    /// Price of a remote request [currency unit].
    #[arg(long, default_value_t = 0.0)]
    price_per_request: f64,
    /// Price of a GPU-second in the remote cluster (default ≈ 4 per GPU-hour).
    #[arg(long, default_value_t = 0.0011)]
    price_per_gpu_second: f64,
    /// GPU time one remote call is taken to occupy [ms] (a server does not report it).
    #[arg(long, default_value_t = 1.0)]
    gpu_ms_per_call: f64,
    /// Price of an edge CPU-second (default ≈ 0.04 per vCPU-hour).
    #[arg(long, default_value_t = 0.000011)]
    price_per_cpu_second: f64,
    /// Also draw the sweep (latency and remote share against the round trip) as SVG here.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Run nothing: draw `--plot` from a table this program printed before (saved output).
    #[arg(long, requires = "plot")]
    plot_from: Option<PathBuf>,
    /// The xApp binary (default: slice-xapp next to this binary).
    #[arg(long)]
    xapp: Option<PathBuf>,
    /// Contract of the remote model (MLServer serves the file it names, under its name and
    /// version); a forecaster with the local one's `cell_prbs`.
    #[arg(
        long,
        default_value = "models/slice_forecaster_large/slice_forecaster_large.contract.toml"
    )]
    remote_contract: PathBuf,
}

struct Row {
    mode: String,
    rtt_ms: Option<u64>,
    decisions: f64,
    remote: f64,
    local: f64,
    p50_ms: f64,
    p99_ms: f64,
    dropped_budget: f64,
    results: Vec<(String, f64)>,
    calls: f64,
    cpu_s: f64,
}

/// `path` as given, else from the repository root.
fn in_repo(path: &Path) -> anyhow::Result<PathBuf> {
    let p = if path.exists() {
        path.to_owned()
    } else {
        nf_oip::testserver::repo_root().join(path)
    };
    std::fs::canonicalize(&p).with_context(|| format!("{}", path.display()))
}

/// The xApp's config for `mode`; `contracts`: the local and the remote model's.
fn write_config(
    cli: &Cli,
    dir: &Path,
    mode: &str,
    endpoint: &str,
    contracts: (&Path, &Path),
) -> anyhow::Result<PathBuf> {
    let mut text = testbed::benchconfig::BenchConfig {
        app: "hybridbench",
        report_period_ms: cli.period_ms,
        control_transport: None,
        max_batch_rows: 4096,
        queue_depth: 65536,
        keep_warm_ms: 1.0,
        max_controls_per_cell_per_sec: 20,
        latency_budget_ms: cli.budget_ms,
    }
    .toml(contracts.0);
    text.push_str(&format!(
        "\n[placement]\nmode = \"{mode}\"\nquantile = \"{}\"\nmargin_ms = {}\nbatch_window_us = {}\n",
        cli.quantile, cli.margin_ms, cli.batch_window_us
    ));
    if mode != "local" {
        text.push_str(&format!(
            "\n[remote_model]\nendpoint = \"{endpoint}\"\ncontract = \"{}\"\ndeadline_ms = {}\n",
            contracts.1.display(),
            cli.deadline_ms
        ));
    }
    let path = dir.join(format!("hybridbench-{mode}.toml"));
    std::fs::write(&path, text)?;
    Ok(path)
}

/// The xApp's `/metrics` text.
fn scrape(port: u16) -> anyhow::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

/// Sum of the series of `name` whose labels contain every `want`.
fn value(text: &str, name: &str, want: &[&str]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter(|l| want.iter().all(|w| l.contains(w)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Process CPU time (user + system) of `pid` [s].
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command (which may hold spaces) end at the last ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the ')'.
    (ticks(11) + ticks(12)) / 100.0
}

const RESULTS: &[&str] = &[
    "ok",
    "late_discarded",
    "deadline",
    "unavailable",
    "skipped_budget",
    "probe",
    "bad_output",
];

struct Snap {
    decisions: f64,
    remote: f64,
    local: f64,
    dropped: f64,
    results: Vec<f64>,
    calls: f64,
    cpu: f64,
}

fn snap(text: &str, mode: &str, cpu: f64) -> Snap {
    let m = format!("mode=\"{mode}\"");
    let placed = |p: &str| {
        value(
            text,
            "xapp_inference_placement_total",
            &[&format!("placement=\"{p}\""), &m],
        )
    };
    let results: Vec<f64> = RESULTS
        .iter()
        .map(|r| {
            value(
                text,
                "xapp_remote_inference_total",
                &[&format!("result=\"{r}\"")],
            )
        })
        .collect();
    Snap {
        decisions: value(text, "xapp_decisions_total", &[]),
        remote: placed("remote"),
        local: placed("local"),
        dropped: value(
            text,
            "xapp_decisions_dropped_total",
            &["reason=\"latency_budget\""],
        ),
        results,
        calls: value(text, "xapp_remote_model_requests_total", &[]),
        cpu,
    }
}

async fn scenario(
    cli: &Cli,
    xapp: &Path,
    dir: &Path,
    mode: &str,
    rtt: Option<u64>,
    proxy: Option<&DelayProxy>,
    contracts: (&Path, &Path),
) -> anyhow::Result<Row> {
    if let (Some(p), Some(rtt)) = (proxy, rtt) {
        p.set_one_way(Duration::from_micros(rtt * 500));
    }
    let endpoint = proxy.map(DelayProxy::endpoint).unwrap_or_default();
    let sim = Sim::new(
        SimConfig {
            nodes: 1,
            cells_per_node: cli.cells,
            speed: 1.0,
            stagger: cli.stagger,
            ..SimConfig::default()
        },
        trace::read_cells(&trace::bundled_root())?,
    );
    let running = RunningSim::bind(sim.clone(), 0).await?;
    let config = write_config(cli, dir, mode, &endpoint, contracts)?;
    let port = testbed::ports::free_port();
    let mut child = Command::new(xapp)
        .arg("--config")
        .arg(&config)
        .arg("--e2t")
        .arg(format!("http://{}", running.addr))
        .arg("--metrics-listen")
        .arg(format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join(format!("xapp-{mode}.log")))?)
        .spawn()
        .with_context(|| format!("starting {}", xapp.display()))?;
    let pid = child.id();
    tokio::time::sleep(Duration::from_secs_f64(cli.warmup)).await;
    let log = dir.join(format!("xapp-{mode}.log"));
    let tail = || std::fs::read_to_string(&log).unwrap_or_default();
    let before = snap(
        &scrape(port).with_context(|| format!("xApp metrics; its log:\n{}", tail()))?,
        mode,
        cpu_seconds(pid),
    );
    sim.reset_round_trips();
    tokio::time::sleep(Duration::from_secs_f64(cli.seconds)).await;
    let after = snap(&scrape(port)?, mode, cpu_seconds(pid));
    let rtts = sim.round_trips().percentiles();
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
    let _ = child.wait();
    running.stop().await;
    Ok(Row {
        mode: mode.to_owned(),
        rtt_ms: rtt,
        decisions: after.decisions - before.decisions,
        remote: after.remote - before.remote,
        local: after.local - before.local,
        p50_ms: rtts.p50_us / 1e3,
        p99_ms: rtts.p99_us / 1e3,
        dropped_budget: after.dropped - before.dropped,
        results: RESULTS
            .iter()
            .zip(after.results.iter().zip(&before.results))
            .map(|(r, (a, b))| ((*r).to_owned(), a - b))
            .filter(|(_, v)| *v > 0.0)
            .collect(),
        calls: after.calls - before.calls,
        cpu_s: after.cpu - before.cpu,
    })
}

/// The Markdown table of `rows` (what `--plot-from` reads back).
fn table(cli: &Cli, rows: &[Row]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| mode | RTT ms | decisions | remote % | local % | p50 ms | p99 ms | dropped past budget | remote results | edge CPU-ms /1k | edge cost /1k | remote requests /1k | remote cost /1k |"
    );
    let _ = writeln!(
        out,
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|"
    );
    for r in rows {
        let d = r.decisions.max(1.0);
        // The local-only row has no remote model, so no placement counter: all local.
        let (remote, local) = if r.remote + r.local == 0.0 {
            (0.0, r.decisions)
        } else {
            (r.remote, r.local)
        };
        let placed = (remote + local).max(1.0);
        let cpu_ms_k = r.cpu_s * 1e3 / d * 1000.0;
        let edge_cost = r.cpu_s / d * 1000.0 * cli.price_per_cpu_second;
        let calls_k = r.calls / d * 1000.0;
        let remote_cost = calls_k
            * (cli.price_per_request + cli.price_per_gpu_second * cli.gpu_ms_per_call / 1e3);
        let results = if r.results.is_empty() {
            "–".to_owned()
        } else {
            r.results
                .iter()
                .map(|(k, v)| format!("{k} {v:.0}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} | {} | {:.0} | {:.6} | {:.0} | {:.6} |",
            r.mode,
            r.rtt_ms.map_or("–".to_owned(), |v| v.to_string()),
            r.decisions,
            remote / placed * 100.0,
            local / placed * 100.0,
            r.p50_ms,
            r.p99_ms,
            r.dropped_budget,
            results,
            cpu_ms_k,
            edge_cost,
            calls_k,
            remote_cost,
        );
    }
    out
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let (Some(from), Some(to)) = (&cli.plot_from, &cli.plot) {
        let text = std::fs::read_to_string(from).with_context(|| format!("{}", from.display()))?;
        let rows = testbed::hybridplot::parse(&text).map_err(anyhow::Error::msg)?;
        std::fs::write(to, testbed::hybridplot::svg(&rows, cli.budget_ms))?;
        eprintln!("{} rows drawn into {}", rows.len(), to.display());
        return Ok(());
    }
    let xapp = match &cli.xapp {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.with_file_name("slice-xapp"),
    };
    if !xapp.is_file() {
        bail!(
            "{} not found: build it first (cargo build -p slice-xapp)",
            xapp.display()
        );
    }
    let Some(python) = nf_oip::testserver::python("hybridbench").map_err(anyhow::Error::msg)?
    else {
        bail!("python3 with its venv module is needed for the MLServer remote model");
    };
    let local_contract = in_repo(Path::new(
        "models/slice_forecaster/slice_forecaster.contract.toml",
    ))?;
    let contract_path = in_repo(&cli.remote_contract)?;
    let contracts = (local_contract.as_path(), contract_path.as_path());
    let contract = nf_infer::contract::Contract::load(&contract_path)
        .with_context(|| format!("remote contract {}", contract_path.display()))?;
    let models = [nf_oip::testserver::Served {
        name: contract.name.clone(),
        version: contract.version.clone(),
        onnx: contract.file.clone(),
        knobs: Vec::new(),
    }];
    let mut server = nf_oip::testserver::TestServer::start(&python, &models, "hybridbench")?;
    server
        .wait_ready(Duration::from_secs(60))
        .await
        .map_err(anyhow::Error::msg)?;
    let upstream = ([127, 0, 0, 1], server.grpc_port).into();
    let proxy = DelayProxy::start(upstream, Duration::ZERO).await?;
    let dir = std::env::temp_dir().join(format!("hybridbench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    eprintln!(
        "remote model {} {} ({}); local model the shipped forecaster",
        contract.name,
        contract.version,
        contract_path.display()
    );
    eprintln!(
        "{} cells, report period {} ms, budget {} ms, margin {} ms, quantile {}, remote deadline {} ms, batch window {} µs, cells staggered {}, {} s per row after {} s warm-up",
        cli.cells,
        cli.period_ms,
        cli.budget_ms,
        cli.margin_ms,
        cli.quantile,
        cli.deadline_ms,
        cli.batch_window_us,
        cli.stagger,
        cli.seconds,
        cli.warmup
    );
    let mut rows = Vec::new();
    if cli.baseline {
        rows.push(scenario(&cli, &xapp, &dir, "local", None, None, contracts).await?);
        eprintln!("local done");
    }
    for mode in &cli.modes {
        for rtt in &cli.rtts {
            rows.push(
                scenario(&cli, &xapp, &dir, mode, Some(*rtt), Some(&proxy), contracts).await?,
            );
            eprintln!("{mode} at {rtt} ms done");
        }
    }
    let table = table(&cli, &rows);
    print!("{table}");
    if let Some(to) = &cli.plot {
        let drawn = testbed::hybridplot::parse(&table).map_err(anyhow::Error::msg)?;
        std::fs::write(to, testbed::hybridplot::svg(&drawn, cli.budget_ms))?;
        eprintln!("plot: {}", to.display());
    }
    println!(
        "\nprices: {} per request, {} per GPU-second × {} GPU-ms per request, {} per edge CPU-second",
        cli.price_per_request,
        cli.price_per_gpu_second,
        cli.gpu_ms_per_call,
        cli.price_per_cpu_second
    );
    server.kill();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
