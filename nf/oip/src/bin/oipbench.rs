//! `oipbench`: latency of the remote model over the Open Inference Protocol on loopback
//! against the xApp's local inference worker, for the same rows of the shipped forecaster.
//!
//! Starts the pinned MLServer test server (`scripts/oip-venv.sh` makes its venv once) unless
//! `--endpoint` names a running one serving `slice-prb-forecaster` 2.0.0. For each batch
//! size it times `--iters` calls one after another, after `--warmup` untimed ones:
//! - local: a job submitted to `nf_infer`'s worker thread until its output is delivered
//!   (the onnxruntime session in process, as the xApp runs it);
//! - remote: [`RemoteModel::infer`] from rows to checked output (request encoding, gRPC
//!   over loopback, MLServer's Python and onnxruntime, response decoding and checks).
//!
//!   cargo run --release -p nf-oip --bin oipbench -- --rows 1,16,64 --iters 2000

use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use hdrhistogram::Histogram;
use nf_infer::runtime::{ModelConfig, load_model};
use nf_infer::{Contract, Provider, WorkerConfig, spawn_worker};
use nf_oip::testserver::{Served, TestServer, forecaster_contract, python};
use nf_oip::{RemoteModel, RemoteModelSection};

#[derive(Parser, Debug)]
#[command(about = "Remote (Open Inference Protocol, loopback) vs local inference latency")]
struct Args {
    /// Batch sizes [rows], comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    rows: Vec<usize>,
    /// Timed calls per batch size and path.
    #[arg(long, default_value_t = 2000)]
    iters: usize,
    /// Untimed calls first.
    #[arg(long, default_value_t = 200)]
    warmup: usize,
    /// `raw` or `typed` input encoding.
    #[arg(long, default_value = "raw")]
    encoding: String,
    /// A running server's gRPC endpoint instead of starting the pinned MLServer.
    #[arg(long)]
    endpoint: Option<String>,
}

/// p50 and p99 [µs] of one path at one batch size.
struct Figures {
    p50: u64,
    p99: u64,
}

fn figures(h: &Histogram<u64>) -> Figures {
    Figures {
        p50: h.value_at_quantile(0.50),
        p99: h.value_at_quantile(0.99),
    }
}

fn histogram() -> Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, 60_000_000, 3).context("histogram")
}

/// Deterministic rows of typical values (the same generator the tests use, simplified).
fn rows(contract: &Contract, n: usize) -> Vec<f32> {
    let len = n * contract.input_row_len();
    (0..len)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 * contract.cell_prbs as f32)
        .collect()
}

fn local(contract: &Contract, sizes: &[usize], args: &Args) -> Result<Vec<Figures>> {
    let model = load_model(&ModelConfig {
        contract: forecaster_contract(),
        onnxruntime_lib: None,
        providers: vec![Provider::Cpu],
    })?;
    let (tx, rx) = mpsc::sync_channel::<usize>(1);
    let cfg = WorkerConfig {
        max_batch_rows: 1024,
        queue_depth: 16,
        keep_warm: None,
        one_job_per_run: true,
    };
    let (handle, _join) = spawn_worker(model, cfg, move |(), out| {
        let _ = tx.send(out.values.map_or(0, <[f32]>::len));
    })?;
    let mut out = Vec::new();
    for &n in sizes {
        let input = rows(contract, n);
        let mut h = histogram()?;
        for i in 0..args.warmup + args.iters {
            let started = Instant::now();
            handle
                .submit(input.clone(), ())
                .map_err(|e| anyhow::anyhow!("submit: {e:?}"))?;
            let got = rx.recv().context("worker stopped")?;
            let took = started.elapsed();
            if got != n * contract.output_row_len() {
                bail!("local run of {n} rows failed");
            }
            if i >= args.warmup {
                h.record(took.as_micros().max(1) as u64)?;
            }
        }
        out.push(figures(&h));
    }
    Ok(out)
}

async fn remote(
    model: &RemoteModel,
    contract: &Contract,
    sizes: &[usize],
    args: &Args,
) -> Result<Vec<Figures>> {
    model.check().await?;
    let mut out = Vec::new();
    for &n in sizes {
        let input = rows(contract, n);
        let mut h = histogram()?;
        for i in 0..args.warmup + args.iters {
            let started = Instant::now();
            model.infer(&input, Duration::from_secs(5)).await?;
            if i >= args.warmup {
                h.record(started.elapsed().as_micros().max(1) as u64)?;
            }
        }
        out.push(figures(&h));
    }
    Ok(out)
}

fn main() -> Result<()> {
    let args = Args::parse();
    let contract = Contract::load(&forecaster_contract())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut server = None;
    let endpoint = match &args.endpoint {
        Some(e) => e.clone(),
        None => {
            let Some(python) = python("oipbench").map_err(anyhow::Error::msg)? else {
                bail!("python3 with venv is needed to start the MLServer test server");
            };
            let served = [Served::forecaster("slice-prb-forecaster", &[])];
            let mut s = TestServer::start(&python, &served, "oipbench")?;
            let took = rt
                .block_on(s.wait_ready(Duration::from_secs(60)))
                .map_err(anyhow::Error::msg)?;
            eprintln!("MLServer 1.7.1 ready at {} after {took:?}", s.endpoint);
            let e = s.endpoint.clone();
            server = Some(s);
            e
        }
    };
    let max = args.rows.iter().copied().max().unwrap_or(1).max(1);
    let text = format!(
        "endpoint = \"{endpoint}\"\ncontract = \"{}\"\ndeadline_ms = 5000\n\
         max_batch_rows = {max}\nmax_message_bytes = 16777216\ninput_encoding = \"{}\"",
        forecaster_contract().display(),
        args.encoding
    );
    let section: RemoteModelSection = toml::from_str(&text)?;
    let cfg = section.validate(std::path::Path::new("."))?;
    let remote_figures = rt.block_on(async {
        let model = RemoteModel::new(cfg)?;
        remote(&model, &contract, &args.rows, &args).await
    })?;
    drop(server);
    let local_figures = local(&contract, &args.rows, &args)?;

    println!(
        "oipbench: {} timed calls per size after {} warm-up, input encoding {}",
        args.iters, args.warmup, args.encoding
    );
    println!(
        "| rows | local p50 µs | local p99 µs | remote p50 µs | remote p99 µs | remote/local p50 |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for ((n, l), r) in args.rows.iter().zip(&local_figures).zip(&remote_figures) {
        println!(
            "| {n} | {} | {} | {} | {} | {:.1}× |",
            l.p50,
            l.p99,
            r.p50,
            r.p99,
            r.p50 as f64 / l.p50.max(1) as f64
        );
    }
    Ok(())
}
