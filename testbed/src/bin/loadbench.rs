//! `loadbench`: indication→control latency and sustained indication rate of the real
//! slice-xapp process against the in-process E2T simulator, for several cell counts and
//! report periods, next to the raw TCP loopback ping-pong floor measured in the same run.
//!
//! The round trip is measured by the simulator on its own clock: from handing an indication
//! to its gRPC stream to receiving the control that echoes its call process id. The xApp runs
//! as a separate process (release build), with the production guard rails, so only
//! indications whose decision passes hysteresis and rate limit produce a round-trip sample.
//!
//! Both RIC paths run in one invocation (`--rics`): `sdran-grpc` (the gRPC E2T, PROTO E2SM)
//! and `osc-rmr` (the simulator's O-RAN SC face: Subscription Manager REST, RMR over TCP,
//! E2AP / E2SM-KPM v03.00 / E2SM-RC in aligned PER), each row naming its path.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use nf_core::latency::{LatencyHistogram, Percentiles};
use testbed::sim::osc::{OscConfig, OscRic, ran_name};
use testbed::sim::{RunningSim, Sim, SimConfig};
use testbed::trace;

/// The RIC path a scenario runs over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Ric {
    /// SD-RAN-like gRPC E2T with protobuf E2SM payloads.
    SdranGrpc,
    /// O-RAN SC near-RT RIC: Subscription Manager REST + RMR, E2AP / E2SM in aligned PER.
    OscRmr,
}

impl Ric {
    fn name(self) -> &'static str {
        match self {
            Ric::SdranGrpc => "sdran-grpc",
            Ric::OscRmr => "osc-rmr",
        }
    }
}

/// Latency and throughput benchmark of slice-xapp against the E2T simulator.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// Cell counts to run.
    #[arg(long, value_delimiter = ',', default_value = "1,100,1000,10000")]
    cells: Vec<usize>,
    /// Report periods to run [ms].
    #[arg(long, value_delimiter = ',', default_value = "100,10")]
    periods: Vec<u32>,
    /// Measured seconds per scenario (after warm-up).
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Warm-up seconds per scenario.
    #[arg(long, default_value_t = 3.0)]
    warmup: f64,
    /// The xApp binary (default: target/release/slice-xapp next to this binary).
    #[arg(long)]
    xapp: Option<PathBuf>,
    /// The xApp's `model.keep_warm_ms` (0 = off).
    #[arg(long, default_value_t = 1.0)]
    keep_warm_ms: f64,
    /// The xApp's `e2t.control_transport`: `auto` (control stream) or `unary`.
    #[arg(long, default_value = "auto")]
    control_transport: String,
    /// tokio worker threads of the xApp process (its `--worker-threads`; default: the
    /// xApp's own, one per core but the inference thread's). TOKIO_WORKER_THREADS would do
    /// nothing: the xApp sets its worker count itself.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
    xapp_workers: Option<u16>,
    /// RIC paths to run, each over every cell count and period.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "sdran-grpc,osc-rmr"
    )]
    rics: Vec<Ric>,
    /// TCP ping-pong round trips for the floor.
    #[arg(long, default_value_t = 20_000)]
    pings: usize,
}

/// Raw TCP loopback ping-pong of 64-byte messages; `gap` paces the pings (zero: back to
/// back). A paced floor shows what waking idle threads costs at a given report period.
fn tcp_floor(rounds: usize, gap: Duration) -> anyhow::Result<Percentiles> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut s, _) = listener.accept()?;
        s.set_nodelay(true)?;
        let mut buf = [0u8; 64];
        while s.read_exact(&mut buf).is_ok() {
            s.write_all(&buf)?;
        }
        Ok(())
    });
    let mut c = TcpStream::connect(addr)?;
    c.set_nodelay(true)?;
    let mut h = LatencyHistogram::new();
    let mut buf = [7u8; 64];
    let warm = if gap.is_zero() { 1000 } else { 5 };
    for i in 0..rounds + warm {
        if !gap.is_zero() {
            std::thread::sleep(gap);
        }
        let t = Instant::now();
        c.write_all(&buf)?;
        c.read_exact(&mut buf)?;
        if i >= warm {
            h.record_ns(t.elapsed().as_nanos() as u64);
        }
    }
    drop(c);
    let _ = server.join();
    Ok(h.percentiles())
}

fn write_config(
    dir: &Path,
    period_ms: u32,
    keep_warm_ms: f64,
    transport: &str,
) -> anyhow::Result<PathBuf> {
    let contract = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../models/slice_forecaster/slice_forecaster.contract.toml");
    let text = testbed::benchconfig::BenchConfig {
        app: "loadbench",
        report_period_ms: period_ms,
        control_transport: Some(transport),
        max_batch_rows: 8192,
        queue_depth: 32768,
        keep_warm_ms,
        max_controls_per_cell_per_sec: 4,
        latency_budget_ms: 10.0,
    }
    .toml(&contract);
    let path = dir.join(format!("loadbench-{period_ms}.toml"));
    std::fs::write(&path, text)?;
    Ok(path)
}

fn rss_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse::<u64>()
            .ok()
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

fn summary_number(summary: &str, label: &str) -> u64 {
    summary
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .and_then(|l| {
            l[l.find(label).unwrap_or(0) + label.len()..]
                .split_whitespace()
                .next()
                .map(str::to_owned)
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

struct Outcome {
    ric: Ric,
    cells: usize,
    period: u32,
    offered: f64,
    sent_per_s: f64,
    received_per_s: f64,
    controls_per_s: f64,
    rtt: Percentiles,
    /// Controls whose indication's send time the simulator no longer knew.
    rtt_discarded: u64,
    sim_dropped: u64,
    ticks_skipped: u64,
    xapp_dropped: u64,
    /// The xApp summary's drop line (reasons), when it dropped anything.
    xapp_drop_reasons: Option<String>,
    rss_mib: f64,
    hwm_mib: f64,
}

/// The `[metrics]` + `[ric]` part of the xApp config for the O-RAN SC path: every simulated
/// node with its cells (a standard KPM RAN function definition names none).
fn osc_config(
    sim: &Sim,
    ric: &OscRic,
    dir: &Path,
    metrics_port: u16,
    rmr_port: u16,
) -> anyhow::Result<String> {
    let routes = dir.join("loadbench-osc.rt");
    std::fs::write(
        &routes,
        format!("newrt|start\nrte|12040|{}\nnewrt|end\n", ric.rmr_addr()),
    )?;
    let e2mgr = ric.e2mgr_addr().context("the simulator's E2 manager")?;
    let mut t = format!(
        r#"
[metrics]
listen = "127.0.0.1:{metrics_port}"

[ric]
transport = "osc-rmr"
encoding = "asn1-per"
rc_profile = "srsran"

[ric.osc]
submgr = "{submgr}"
e2mgr = "{e2mgr}"
rmr_listen = "127.0.0.1:{rmr_port}"
rmr_route_table = "{routes}"
callback_host = "127.0.0.1"
requestor_id = 1001
"#,
        submgr = ric.submgr_addr(),
        routes = routes.display(),
    );
    for (n, node) in sim.nodes.iter().enumerate() {
        t.push_str(&format!(
            "\n[[ric.nodes]]\nid = \"{}\"\nkpm_function_id = 2\nrc_function_id = 3\n",
            ran_name(n)
        ));
        for c in &node.cells {
            let slices: Vec<String> = c.info.slices.iter().map(|s| format!("\"{s}\"")).collect();
            t.push_str(&format!(
                "[[ric.nodes.cells]]\nplmn = \"{}\"\nnci = {}\nslices = [{}]\nprbs = {}\n",
                c.info
                    .cell
                    .plmn
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>(),
                c.info.cell.nci,
                slices.join(", "),
                c.info.prb_total_dl
            ));
        }
    }
    Ok(t)
}

/// The simulator face a scenario runs against.
enum Face {
    Grpc(RunningSim),
    Osc(OscRic),
}

async fn scenario(
    cli: &Cli,
    xapp: &Path,
    ric: Ric,
    cells: usize,
    period: u32,
    dir: &Path,
) -> anyhow::Result<Outcome> {
    // E2AP allows 16 actions per subscription (maxofRICactionID) and the xApp asks one
    // REPORT action per cell: on the O-RAN SC path an E2 node carries at most 16 cells.
    let per_node = match ric {
        Ric::SdranGrpc => cells.min(1000),
        Ric::OscRmr => cells.min(16),
    };
    let nodes = cells.div_ceil(per_node);
    let traces = trace::read_cells(&trace::bundled_root())?;
    let sim = Sim::new(
        SimConfig {
            nodes,
            cells_per_node: per_node,
            speed: 1.0,
            stream_queue: 4 * per_node,
            ..SimConfig::default()
        },
        traces,
    );
    let config = write_config(dir, period, cli.keep_warm_ms, &cli.control_transport)?;
    let (face, e2t, metrics) = match ric {
        Ric::SdranGrpc => {
            let running = RunningSim::bind(sim.clone(), 0).await?;
            let e2t = format!("http://{}", running.addr);
            (Face::Grpc(running), e2t, "off".to_owned())
        }
        Ric::OscRmr => {
            let (metrics_port, rmr_port) =
                (testbed::ports::free_port(), testbed::ports::free_port());
            let any = |port| std::net::SocketAddr::from(([127, 0, 0, 1], port));
            let osc = OscRic::start(
                sim.clone(),
                OscConfig {
                    e2mgr_listen: Some(any(0)),
                    xapp_rmr: Some(format!("127.0.0.1:{rmr_port}")),
                    ..OscConfig::default()
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("starting the O-RAN SC face: {e}"))?;
            let extra = osc_config(&sim, &osc, dir, metrics_port, rmr_port)?;
            let mut f = std::fs::OpenOptions::new().append(true).open(&config)?;
            f.write_all(extra.as_bytes())?;
            (
                Face::Osc(osc),
                "http://127.0.0.1:1".to_owned(),
                format!("127.0.0.1:{metrics_port}"),
            )
        }
    };
    let mut child = Command::new(xapp)
        .arg("--config")
        .arg(&config)
        .arg("--e2t")
        .arg(e2t)
        .arg("--metrics-listen")
        .arg(metrics)
        .env("RUST_LOG", "warn")
        .args(worker_args(cli.xapp_workers))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", xapp.display()))?;
    tokio::time::sleep(Duration::from_secs_f64(cli.warmup)).await;
    let s = &sim.stats;
    let snap = |s: &testbed::sim::SimStats| {
        (
            s.indications_sent.load(Ordering::Relaxed),
            s.controls_accepted.load(Ordering::Relaxed),
            s.indications_dropped.load(Ordering::Relaxed),
            s.ticks_skipped.load(Ordering::Relaxed),
            s.rtt_discarded.load(Ordering::Relaxed),
        )
    };
    sim.reset_round_trips();
    let before = snap(s);
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(cli.seconds)).await;
    let after = snap(s);
    let elapsed = t0.elapsed().as_secs_f64();
    let rtt = sim.round_trips().percentiles();
    let (rss, hwm) = rss_kib(child.id()).unwrap_or((0, 0));
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let mut out = String::new();
    if let Some(mut so) = child.stdout.take() {
        let _ = so.read_to_string(&mut out);
    }
    let _ = child.wait();
    match face {
        Face::Grpc(running) => running.stop().await,
        Face::Osc(osc) => osc.stop().await,
    }
    let received = summary_number(&out, "indications received");
    let total_sent = after.0 as f64;
    Ok(Outcome {
        ric,
        cells,
        period,
        offered: cells as f64 * 1000.0 / f64::from(period),
        sent_per_s: (after.0 - before.0) as f64 / elapsed,
        received_per_s: if total_sent > 0.0 {
            received as f64 / total_sent * (after.0 - before.0) as f64 / elapsed
        } else {
            0.0
        },
        controls_per_s: (after.1 - before.1) as f64 / elapsed,
        rtt,
        rtt_discarded: after.4 - before.4,
        sim_dropped: after.2 - before.2,
        ticks_skipped: after.3 - before.3,
        xapp_dropped: summary_number(&out, "dropped past latency budget")
            + out
                .lines()
                .find_map(|l| l.split("other drops ").nth(1))
                .and_then(|v| {
                    let digits: String = v.chars().take_while(char::is_ascii_digit).collect();
                    digits.parse::<u64>().ok()
                })
                .unwrap_or(0),
        xapp_drop_reasons: out
            .lines()
            .find(|l| {
                l.contains("dropped past latency budget") && !l.contains("(other drops 0: none)")
            })
            .map(|l| l.trim().to_owned()),
        rss_mib: rss as f64 / 1024.0,
        hwm_mib: hwm as f64 / 1024.0,
    })
}

/// The xApp's own worker-count flag (its runtime is built with an explicit count, so
/// `TOKIO_WORKER_THREADS` would be ignored).
fn worker_args(workers: Option<u16>) -> Vec<String> {
    workers
        .map(|n| vec!["--worker-threads".to_owned(), n.to_string()])
        .unwrap_or_default()
}

/// The RTT columns (p50, p99 with their ratio to the floor, p99.9, max), or "no samples"
/// in each when no control answered an indication in the window.
fn rtt_columns(rtt: &Percentiles, floor_us: f64) -> String {
    if rtt.count == 0 {
        return ["no samples"; 4].join(" | ");
    }
    format!(
        "{:.0} ({:.2}×) | {:.0} ({:.2}×) | {:.0} | {:.0}",
        rtt.p50_us,
        rtt.p50_us / floor_us,
        rtt.p99_us,
        rtt.p99_us / floor_us,
        rtt.p999_us,
        rtt.max_us
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let xapp = match &cli.xapp {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.with_file_name("slice-xapp"),
    };
    if !xapp.is_file() {
        bail!(
            "{} not found: build it first (cargo build --release -p slice-xapp)",
            xapp.display()
        );
    }
    let dir = std::env::temp_dir().join(format!("loadbench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let floor = tcp_floor(cli.pings, Duration::ZERO)?;
    println!(
        "machine: {} CPUs; TCP loopback ping-pong floor (64 B, {} round trips): p50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cli.pings,
        floor.p50_us,
        floor.p99_us,
        floor.p999_us
    );
    println!();
    println!(
        "| RIC path | cells | period | offered ind/s | sent ind/s | received ind/s | controls/s | RTT p50 µs (×floor) | p99 µs (×floor) | p99.9 µs | max µs | RTT samples (lost) | sim drops | skipped ticks | xApp drops | xApp RSS MiB (peak) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut drop_notes = Vec::new();
    for &period in &cli.periods {
        let paced = tcp_floor(
            (2000 / period as usize).clamp(20, 200),
            Duration::from_millis(period.into()),
        )?;
        println!(
            "| TCP ping-pong paced every {period} ms | | | | | | | {:.0} ({:.2}×) | {:.0} ({:.2}×) | {:.0} | {:.0} | | | | | |",
            paced.p50_us,
            paced.p50_us / floor.p50_us,
            paced.p99_us,
            paced.p99_us / floor.p50_us,
            paced.p999_us,
            paced.max_us
        );
        for (&ric, &cells) in cli
            .rics
            .iter()
            .flat_map(|r| cli.cells.iter().map(move |c| (r, c)))
        {
            let o = scenario(&cli, &xapp, ric, cells, period, &dir).await?;
            println!(
                "| {} | {} | {} ms | {:.0} | {:.0} | {:.0} | {:.0} | {} | {} ({}) | {} | {} | {} | {:.1} ({:.1}) |",
                o.ric.name(),
                o.cells,
                o.period,
                o.offered,
                o.sent_per_s,
                o.received_per_s,
                o.controls_per_s,
                rtt_columns(&o.rtt, floor.p50_us),
                o.rtt.count,
                o.rtt_discarded,
                o.sim_dropped,
                o.ticks_skipped,
                o.xapp_dropped,
                o.rss_mib,
                o.hwm_mib
            );
            if let Some(r) = o.xapp_drop_reasons {
                drop_notes.push(format!("{} {cells} cells @ {period} ms: {r}", ric.name()));
            }
        }
    }
    if !drop_notes.is_empty() {
        println!();
        println!("xApp drops by reason (its run summary, whole run including warm-up):");
        for n in drop_notes {
            println!("- {n}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_round_trip_reads_no_samples_not_zero() {
        let none = rtt_columns(&Percentiles::default(), 30.0);
        assert_eq!(none, "no samples | no samples | no samples | no samples");
        let some = Percentiles {
            count: 3,
            p50_us: 60.0,
            p99_us: 90.0,
            p999_us: 95.0,
            max_us: 99.0,
        };
        assert!(rtt_columns(&some, 30.0).starts_with("60 (2.00×) | 90 (3.00×)"));
    }

    #[test]
    fn worker_count_goes_to_the_xapp_as_its_flag() {
        let cli = Cli::try_parse_from(["loadbench", "--xapp-workers", "2"]).unwrap();
        assert_eq!(worker_args(cli.xapp_workers), ["--worker-threads", "2"]);
        assert!(worker_args(None).is_empty());
        assert!(Cli::try_parse_from(["loadbench", "--xapp-workers", "0"]).is_err());
    }
}
