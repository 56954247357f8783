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
//! `--tls off,tls,mtls` times the remote path once per link kind, each against its own
//! server: cleartext, TLS (the server's certificate verified against a pinned CA), mTLS
//! (a client certificate too); the TLS ones need `--features test-certs` (throw-away
//! certificates made at run time) and grpcio's TLS on the server (`serve.py --tls-*`).
//!
//!   cargo run --release -p nf-oip --bin oipbench -- --rows 1,16,64 --iters 2000
//!   cargo run --release -p nf-oip --features test-certs --bin oipbench -- --tls off,tls,mtls

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
    /// A running server's gRPC endpoint (cleartext) instead of starting the pinned
    /// MLServer.
    #[arg(long, conflicts_with = "tls")]
    endpoint: Option<String>,
    /// Links to time, comma-separated: `off` (cleartext), `tls`, `mtls`.
    #[arg(long, value_delimiter = ',', default_value = "off")]
    tls: Vec<Link>,
}

/// How the remote link is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Link {
    Off,
    Tls,
    Mtls,
}

impl Link {
    fn label(self) -> &'static str {
        match self {
            Link::Off => "cleartext",
            Link::Tls => "TLS",
            Link::Mtls => "mTLS",
        }
    }
}

/// The server's TLS options and the client's `[remote_model.tls]` lines for `link`.
#[cfg(feature = "test-certs")]
fn certificates(
    link: Link,
    dir: &std::path::Path,
) -> Result<(Option<nf_oip::testserver::ServerTls>, String)> {
    use nf_tls::testing::TestCa;
    if link == Link::Off {
        return Ok((None, String::new()));
    }
    let mtls = link == Link::Mtls;
    let server = TestCa::new("oipbench server CA").write(dir, "server");
    let client = TestCa::new("oipbench client CA").write(dir, "client");
    // The client pins the server's CA; with mTLS it presents its own leaf.
    let reload = nf_tls::section::DEFAULT_RELOAD_MS;
    let ready = if mtls {
        client.client_of(&server.ca, reload)
    } else {
        server.client(false, reload)
    };
    let mut lines = format!("[tls]\nca = \"{}\"\n", server.ca.display());
    if mtls {
        lines.push_str(&format!(
            "cert = \"{}\"\nkey = \"{}\"\n",
            client.cert.display(),
            client.key.display()
        ));
    }
    let tls = nf_oip::testserver::ServerTls {
        cert: server.cert,
        key: server.key,
        client_ca: mtls.then_some(client.ca),
        client: ready,
    };
    Ok((Some(tls), lines))
}

#[cfg(not(feature = "test-certs"))]
fn certificates(
    link: Link,
    _dir: &std::path::Path,
) -> Result<(Option<nf_oip::testserver::ServerTls>, String)> {
    if link != Link::Off {
        bail!("--tls {link:?} makes throw-away certificates: build with --features test-certs");
    }
    Ok((None, String::new()))
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

/// Starts the pinned MLServer for `link` (unless `--endpoint`) and times the remote path.
fn remote_link(
    rt: &tokio::runtime::Runtime,
    contract: &Contract,
    link: Link,
    args: &Args,
) -> Result<Vec<Figures>> {
    let dir = std::env::temp_dir().join(format!("oipbench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (tls, tls_lines) = certificates(link, &dir)?;
    let mut server = None;
    let endpoint = match &args.endpoint {
        Some(e) => e.clone(),
        None => {
            let Some(python) = python("oipbench").map_err(anyhow::Error::msg)? else {
                bail!("python3 with venv is needed to start the MLServer test server");
            };
            let served = [Served::forecaster("slice-prb-forecaster", &[])];
            let label = format!("oipbench-{}", link.label());
            let mut s = match tls {
                Some(tls) => TestServer::start_tls(&python, &served, &label, tls)?,
                None => TestServer::start(&python, &served, &label)?,
            };
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
         max_batch_rows = {max}\nmax_message_bytes = 16777216\ninput_encoding = \"{}\"\n{tls_lines}",
        forecaster_contract().display(),
        args.encoding
    );
    let section: RemoteModelSection = toml::from_str(&text)?;
    let cfg = section.validate(std::path::Path::new("."))?;
    let tls_metrics = nf_oip::TlsMetrics::default();
    let figures = rt.block_on(async {
        let model = RemoteModel::new(cfg, &tls_metrics)?;
        remote(&model, contract, &args.rows, args).await
    })?;
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(figures)
}

fn main() -> Result<()> {
    let args = Args::parse();
    let contract = Contract::load(&forecaster_contract())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut remote_figures = Vec::new();
    for &link in &args.tls {
        remote_figures.push((link, remote_link(&rt, &contract, link, &args)?));
    }
    let local_figures = local(&contract, &args.rows, &args)?;

    println!(
        "oipbench: {} timed calls per size after {} warm-up, input encoding {}",
        args.iters, args.warmup, args.encoding
    );
    println!(
        "| link | rows | local p50 µs | local p99 µs | remote p50 µs | remote p99 µs | remote/local p50 |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (link, figures) in &remote_figures {
        for ((n, l), r) in args.rows.iter().zip(&local_figures).zip(figures) {
            println!(
                "| {} | {n} | {} | {} | {} | {} | {:.1}× |",
                link.label(),
                l.p50,
                l.p99,
                r.p50,
                r.p99,
                r.p50 as f64 / l.p50.max(1) as f64
            );
        }
    }
    Ok(())
}
