//! A flood of failed controls (every control misses its deadline) is counted in full but
//! logged a bounded number of times: the first 20 `control failed` lines, then one per 10 s.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use nf_runtime::config::ControlTransport;
use nf_runtime::metrics::Metrics;

/// Log lines written by the xApp, captured.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_controls_are_counted_in_full_and_logged_rate_limited() {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_env_filter("warn")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
    let sim = start_sim(fast()).await;
    let mut cfg = xapp_config(sim.addr);
    cfg.control_transport = ControlTransport::Unary;
    // No control can meet this deadline: every one fails with `timeout`.
    cfg.control_timeout = Duration::from_micros(1);
    let xapp = Xapp::start(cfg);
    let m = xapp.metrics.clone();
    let failed = || Metrics::total(&m.controls_rejected, nf_runtime::summary::CAUSES);
    assert!(wait_for(Duration::from_secs(30), || failed() >= 200).await);
    let summary = xapp.stop().await;
    println!("{summary}");
    sim.stop().await;
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let lines = text
        .lines()
        .filter(|l| l.contains("control failed"))
        .count();
    println!(
        "{} failed controls, {lines} `control failed` lines",
        failed()
    );
    assert!(lines >= 20, "{text}");
    // 20, one more when the interval opens, and one per 10 s after that.
    assert!(lines <= 23, "{lines} lines for {} failures", failed());
}
