//! A misbehaving E2T (testbed::hostile, in front of the real simulator) against the real
//! `slice-xapp` binary: each misbehaviour is survived without a hang, counted under its
//! reason in `xapp_e2_failures_total`, healthy cells keep receiving controls, and a signal
//! still drains the run (unsubscribe, summary). Two behaviours that need the runtime's
//! return value (an unreachable E2T, a node task that panics) also run in process.
//!
//! The binary is `target/debug/slice-xapp` (set `SLICE_XAPP_BIN` to use another); `cargo
//! test --workspace` builds it, `cargo build -p slice-xapp` does for a single-crate run.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::xapp_proc::demo_config;
use common::*;
use testbed::hostile::{HUGE_NODE, Misbehaviour, RunningHostile, SILENT_NODE};
use testbed::ports::free_port;
use testbed::sim::RunningSim;

/// Generous bound of every wait: CI is a busy 2-core box.
const LIMIT: Duration = Duration::from_secs(40);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn xapp_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("SLICE_XAPP_BIN") {
        return p.into();
    }
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| repo().join("target"), PathBuf::from);
    let bin = target.join("debug/slice-xapp");
    assert!(
        bin.is_file(),
        "{} missing: build it first with `cargo build -p slice-xapp --locked`",
        bin.display()
    );
    bin
}

/// `text` with `line` (`key = value`, or nothing) set in `[e2t]`: replacing the key's line
/// where the config has it, added at the top of the section otherwise.
fn with_e2t_key(text: &str, line: &str) -> String {
    let Some((key, _)) = line.split_once('=') else {
        return text.to_owned();
    };
    let key = format!("{} ", key.trim());
    let mut found = false;
    let mut out: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with(&key) {
                found = true;
                line.to_owned()
            } else {
                l.to_owned()
            }
        })
        .collect();
    if !found {
        let at = out.iter().position(|l| l == "[e2t]").unwrap() + 1;
        out.insert(at, line.to_owned());
    }
    out.join("\n") + "\n"
}

/// The demo config with the repository's model, fast enough for the 25× simulator, and
/// `extra_e2t` set in `[e2t]`.
fn config_text(extra_e2t: &str) -> String {
    with_e2t_key(&demo_config(), extra_e2t)
}

/// The real xApp binary, run on the demo config with `extra` keys added to `[e2t]`.
struct XappProcess {
    child: Child,
    dir: PathBuf,
    metrics_port: u16,
}

impl XappProcess {
    /// `extra_e2t`: one `key = value` line set in `[e2t]` (or "").
    fn start(name: &str, endpoint: &str, extra_e2t: &str) -> Self {
        Self::start_text(name, endpoint, &config_text(extra_e2t))
    }

    /// Runs the binary on the config `text`.
    fn start_text(name: &str, endpoint: &str, text: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("hostile-e2t-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("xapp.toml");
        std::fs::write(&config, text).unwrap();
        let metrics_port = free_port();
        let child = Command::new(xapp_bin())
            .current_dir(repo())
            .args(["--config", config.to_str().unwrap(), "--e2t", endpoint])
            .args(["--metrics-listen", &format!("127.0.0.1:{metrics_port}")])
            .args(["--worker-threads", "2"])
            .env("RUST_LOG", "info")
            .stdout(std::fs::File::create(dir.join("stdout")).unwrap())
            .stderr(std::fs::File::create(dir.join("stderr")).unwrap())
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        Self {
            child,
            dir,
            metrics_port,
        }
    }

    /// One Prometheus scrape (empty while the endpoint is not up yet).
    fn scrape(&self) -> String {
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.metrics_port)) else {
            return String::new();
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n");
        let mut body = String::new();
        let _ = s.read_to_string(&mut body);
        body
    }

    /// The value of the sample `name{labels}` (0 when absent).
    fn sample(&self, sample: &str) -> f64 {
        self.scrape()
            .lines()
            .find_map(|l| l.strip_prefix(sample)?.trim().parse().ok())
            .unwrap_or(0.0)
    }

    fn failures(&self, reason: &str) -> f64 {
        self.sample(&format!("xapp_e2_failures_total{{reason=\"{reason}\"}}"))
    }

    fn refused(&self, reason: &str) -> f64 {
        self.sample(&format!(
            "xapp_e2_nodes_refused_total{{reason=\"{reason}\"}}"
        ))
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig}");
    }

    /// Waits for the exit, at most [`LIMIT`]; a process still running then is killed and
    /// the test fails as hung. Returns the status, stdout and stderr.
    fn wait(mut self) -> (ExitStatus, String, String) {
        let deadline = Instant::now() + LIMIT;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("slice-xapp hung after the signal:\n{}", self.read("stderr"));
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        (status, self.read("stdout"), self.read("stderr"))
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.join(file)).unwrap_or_default()
    }
}

impl Drop for XappProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `cond` on a blocking thread (scrapes are blocking I/O) for at most [`LIMIT`];
/// panics with `what` and the xApp's stderr when it never holds.
async fn eventually(x: &XappProcess, what: &str, cond: impl Fn(&XappProcess) -> bool) {
    let deadline = Instant::now() + LIMIT;
    while Instant::now() < deadline {
        if tokio::task::block_in_place(|| cond(x)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} not seen within {LIMIT:?}:\n{}", x.read("stderr"));
}

/// Waits until the counter `reason` of `family` (`XappProcess::failures` or `::refused`)
/// reaches `at_least`.
async fn counted(
    x: &XappProcess,
    family: fn(&XappProcess, &str) -> f64,
    reason: &str,
    at_least: f64,
) {
    eventually(x, reason, |x| family(x, reason) >= at_least).await;
}

/// The simulator, and the hostile E2T in front of it.
async fn hostile(mode: Misbehaviour) -> (RunningSim, RunningHostile) {
    let sim = start_sim(fast()).await;
    let hostile = RunningHostile::start(mode, sim.addr).await.unwrap();
    (sim, hostile)
}

fn accepted(sim: &RunningSim) -> u64 {
    sim.sim.stats.controls_accepted.load(Ordering::Relaxed)
}

/// Healthy cells get controls, then `signal` drains: exit 0, summary, every healthy
/// subscription deleted.
async fn drains_on(sim: &RunningSim, x: XappProcess, signal: &str) -> String {
    let before = accepted(sim);
    assert!(
        wait_for(LIMIT, || accepted(sim) > before + 8).await,
        "healthy cells got no controls:\n{}",
        x.read("stderr")
    );
    tokio::task::block_in_place(|| x.signal(signal));
    let (status, stdout, stderr) = tokio::task::block_in_place(|| x.wait());
    assert!(status.success(), "exit {status}:\n{stderr}");
    assert!(stdout.contains("slice-xapp run summary"), "{stdout}");
    assert!(stderr.contains("unsubscribed"), "{stderr}");
    assert_eq!(
        sim.sim.stats.unsubscriptions.load(Ordering::Relaxed),
        2,
        "{stderr}"
    );
    stderr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_control_stream_headers_do_not_block_the_node() {
    let (sim, bad) = hostile(Misbehaviour::LateControlHeaders).await;
    let x = XappProcess::start("late-headers", &format!("http://{}", bad.addr), "");
    counted(
        &x,
        XappProcess::failures,
        "control_stream_late_headers",
        2.0,
    )
    .await;
    assert!(bad.stats.late_streams.load(Ordering::Relaxed) >= 2);
    drains_on(&sim, x, "TERM").await;
    // The controls went over the stream once the E2T answered, not around it.
    assert!(sim.sim.stats.controls_via_stream.load(Ordering::Relaxed) > 0);
    bad.stop().await;
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_node_list_ends_at_the_discovery_deadline() {
    let (sim, bad) = hostile(Misbehaviour::EndlessNodeList).await;
    let x = XappProcess::start(
        "endless-list",
        &format!("http://{}", bad.addr),
        "discovery_timeout_ms = 1000",
    );
    counted(&x, XappProcess::failures, "node_list_unterminated", 1.0).await;
    let stderr = drains_on(&sim, x, "TERM").await;
    assert!(stderr.contains("E2 node list cut short"), "{stderr}");
    bad.stop().await;
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_16_mb_node_entry_is_skipped_by_name_and_the_rest_served() {
    let (sim, bad) = hostile(Misbehaviour::HugeNodeEntry).await;
    let x = XappProcess::start("huge-entry", &format!("http://{}", bad.addr), "");
    counted(&x, XappProcess::refused, "oversize_node_entry", 1.0).await;
    let stderr = drains_on(&sim, x, "TERM").await;
    assert!(
        stderr.contains("E2 node entry skipped") && stderr.contains(HUGE_NODE),
        "{stderr}"
    );
    bad.stop().await;
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_stream_is_resubscribed_after_its_silent_periods() {
    let (sim, bad) = hostile(Misbehaviour::SilentNode).await;
    // 2 periods of 250 ms: the silent node is resubscribed about every half second.
    let x = XappProcess::start(
        "silent",
        &format!("http://{}", bad.addr),
        "silent_periods = 2",
    );
    counted(&x, XappProcess::failures, "silent_stream", 2.0).await;
    // The k-th silence is counted on the k-th subscription.
    assert!(bad.stats.silent_subscriptions.load(Ordering::Relaxed) >= 2);
    let stderr = drains_on(&sim, x, "TERM").await;
    assert!(
        stderr.contains("indication stream silent; resubscribing") && stderr.contains(SILENT_NODE),
        "{stderr}"
    );
    bad.stop().await;
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_past_the_node_limit_are_refused_by_name() {
    let sim = start_sim(fast()).await;
    let x = XappProcess::start(
        "node-limit",
        &format!("http://{}", sim.addr),
        "max_e2_nodes = 1",
    );
    counted(&x, XappProcess::refused, "node_limit", 1.0).await;
    let before = accepted(&sim);
    assert!(wait_for(LIMIT, || accepted(&sim) > before + 8).await);
    tokio::task::block_in_place(|| x.signal("TERM"));
    let (status, stdout, stderr) = tokio::task::block_in_place(|| x.wait());
    assert!(status.success(), "{stderr}");
    assert!(stdout.contains("slice-xapp run summary"), "{stdout}");
    assert!(
        stderr.contains("E2 node refused: over max_e2_nodes"),
        "{stderr}"
    );
    assert_eq!(sim.sim.stats.subscriptions.load(Ordering::Relaxed), 1);
    assert_eq!(sim.sim.stats.unsubscriptions.load(Ordering::Relaxed), 1);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_drains_and_unsubscribes_like_sigterm() {
    // (SIGHUP reloads the models: xapps/slice-sched/tests/model_swap.rs.)
    let (sim, proxy) = hostile(Misbehaviour::None).await;
    let x = XappProcess::start("sigint", &format!("http://{}", proxy.addr), "");
    let stderr = drains_on(&sim, x, "INT").await;
    assert!(stderr.contains("SIGINT"), "{stderr}");
    proxy.stop().await;
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_e2t_never_reached_exits_non_zero_naming_the_endpoint() {
    let endpoint = format!("http://127.0.0.1:{}", free_port()); // nothing listens
    let x = XappProcess::start("unreachable", &endpoint, "");
    counted(&x, XappProcess::failures, "discovery_failed", 2.0).await;
    tokio::task::block_in_place(|| x.signal("TERM"));
    let (status, stdout, stderr) = tokio::task::block_in_place(|| x.wait());
    assert_eq!(status.code(), Some(70), "{stderr}");
    assert!(!stdout.contains("run summary"), "{stdout}");
    assert!(
        stderr.contains(&format!("E2T {endpoint} never answered E2 node discovery")),
        "{stderr}"
    );
}

/// In process: the runtime's error value and health state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_task_that_keeps_panicking_is_restarted_then_fails_the_run() {
    let sim = start_sim(fast()).await;
    let mut cfg = xapp_config(sim.addr);
    // Passes a bare `>= 1` check, and no semaphore can hold it: every node task panics.
    cfg.max_inflight_controls = i64::MAX as usize;
    let metrics = std::sync::Arc::new(nf_runtime::metrics::Metrics::new());
    let run = nf_runtime::run(cfg, model(), metrics.clone(), std::future::pending());
    let result = tokio::time::timeout(LIMIT, run)
        .await
        .expect("the run ends on its own once every node task is given up");
    let err = result.expect_err("a run that gave its nodes up is an error");
    let msg = err.to_string();
    assert!(msg.contains("2 E2 node task(s) failed"), "{msg}");
    assert!(msg.contains("semaphore"), "the panic is named: {msg}");
    assert!(err.summary().is_some());
    let restarts = nf_runtime::MAX_NODE_TASK_RESTARTS;
    let panics = nf_runtime::metrics::Metrics::count(&metrics.e2_failures, "node_task_panic");
    assert_eq!(panics, 2 * (u64::from(restarts) + 1));
    let health = metrics.health.snapshot();
    assert_eq!(
        metrics.health.ready(),
        Err(nf_runtime::health::NotReady::DeadNodes(2))
    );
    assert_eq!(health.dead_nodes.len(), 2);
    assert_eq!(health.node_task_restarts, 2 * u64::from(restarts));
    sim.stop().await;
}

/// In process: shutdown before the E2T ever answers is an error naming the endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runtime_reports_an_unreached_e2t_as_an_error() {
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    let mut cfg = nf_runtime::RuntimeConfig::local(endpoint.clone());
    cfg.backoff.initial = Duration::from_millis(20);
    cfg.backoff.max = Duration::from_millis(100);
    let metrics = std::sync::Arc::new(nf_runtime::metrics::Metrics::new());
    let run = nf_runtime::run(
        cfg,
        model(),
        metrics.clone(),
        tokio::time::sleep(Duration::from_millis(800)),
    );
    let err = tokio::time::timeout(LIMIT, run).await.unwrap().unwrap_err();
    assert!(
        matches!(&err, nf_runtime::RuntimeError::E2tUnreachable { endpoint: e, attempts, .. } if *e == endpoint && *attempts >= 2),
        "{err}"
    );
    assert!(!metrics.health.snapshot().e2t_reached);
}

/// In process: an E2T that answers but never lists a KPM node is an error, not a clean run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_e2t_listing_no_node_is_an_error_naming_it() {
    let (sim, bad) = hostile(Misbehaviour::NoNodes).await;
    let mut cfg = xapp_config(bad.addr);
    cfg.backoff.max = Duration::from_millis(100);
    let metrics = std::sync::Arc::new(nf_runtime::metrics::Metrics::new());
    let run = nf_runtime::run(
        cfg,
        model(),
        metrics.clone(),
        tokio::time::sleep(Duration::from_millis(800)),
    );
    let err = tokio::time::timeout(LIMIT, run).await.unwrap().unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&format!(
            "E2T http://{} listed no E2 node offering KPM",
            bad.addr
        )),
        "{msg}"
    );
    assert!(bad.stats.node_lists.load(Ordering::Relaxed) >= 2);
    let health = metrics.health.snapshot();
    assert!(health.e2t_reached, "{health:?}");
    assert!(metrics.health.ready().is_err(), "{health:?}");
    bad.stop().await;
    sim.stop().await;
}

/// The real binary with a per-node bound no semaphore can hold: it must not sit there with
/// 0 indications and exit 0. Either the config check refuses it (64, naming the key) or
/// the runtime gives the panicking node tasks up and exits 70 on its own, naming them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_impossible_inflight_bound_never_ends_in_a_clean_exit() {
    let sim = start_sim(fast()).await;
    let text = config_text("").replace(
        "max_inflight_controls = 1024",
        "max_inflight_controls = 9223372036854775807",
    );
    let x = XappProcess::start_text("panic", &format!("http://{}", sim.addr), &text);
    // No signal: the process has to end by itself.
    let (status, _, stderr) = tokio::task::block_in_place(|| x.wait());
    match status.code() {
        Some(64) => assert!(stderr.contains("guard.max_inflight_controls"), "{stderr}"),
        Some(70) => assert!(
            stderr.contains("E2 node task(s) failed and were given up")
                && stderr.contains("node task panicked; restarting"),
            "{stderr}"
        ),
        other => panic!("exit {other:?}:\n{stderr}"),
    }
    sim.stop().await;
}
