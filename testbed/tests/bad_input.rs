//! Hostile and broken input: malformed payloads, non-finite values, oversized messages,
//! invalid controls, impossible measurements, absent model inputs and models that output
//! NaN / ±inf / 1e30 are rejected and counted, and everything else keeps being served.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use e2_proto::cause::E2Cause;
use e2_proto::pb::e2t::control_service_client::ControlServiceClient;
use e2_proto::pb::e2t::{ControlMessage, ControlRequest, RequestHeaders};
use nf_core::Meas;
use nf_core::features::MissingInputs;
use nf_core::policy::SliceQuota;
use nf_core::{CellId, Snssai};
use nf_infer::runtime::{LoadedModel, ModelConfig, Provider, load_model};
use nf_runtime::metrics::Metrics;
use nf_runtime::{RuntimeConfig, Summary};
use testbed::sim::{Faults, RunningSim, Sim, SimConfig};
use testbed::trace::{self, Window};
use tokio::sync::oneshot;

/// A model of the tiny fixtures in `nf/infer/tests/data` (outputs a constant).
fn fixture(name: &str) -> LoadedModel {
    let contract = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../nf/infer/tests/data/{name}.contract.toml"));
    load_model(&ModelConfig {
        contract,
        onnxruntime_lib: None,
        providers: vec![Provider::Cpu],
    })
    .unwrap()
}

/// The xApp runtime with `model`; returns its metrics and a stop function.
fn start_with(
    cfg: RuntimeConfig,
    model: LoadedModel,
) -> (
    Arc<Metrics>,
    impl FnOnce() -> tokio::task::JoinHandle<Result<Summary, nf_runtime::RuntimeError>>,
) {
    let metrics = Arc::new(Metrics::new());
    let (stop, rx) = oneshot::channel::<()>();
    let join = tokio::spawn(nf_runtime::run(cfg, model, metrics.clone(), async move {
        let _ = rx.await;
    }));
    (metrics, move || {
        let _ = stop.send(());
        join
    })
}

/// A simulator playing the bundled traces with every window passed through `edit`.
async fn sim_with(cfg: SimConfig, edit: impl Fn(usize, &mut Window)) -> RunningSim {
    let mut traces = trace::read_cells(&trace::bundled_root()).unwrap();
    for t in &mut traces {
        for r in &mut t.runs {
            for (i, w) in r.windows.iter_mut().enumerate() {
                edit(i, w);
            }
        }
    }
    RunningSim::bind(Sim::new(cfg, traces), 0).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nan_infinite_and_huge_model_outputs_never_become_controls() {
    for (model, reason) in [
        ("nan", "model_output_nan"),
        ("pos_inf", "model_output_pos_inf"),
        ("neg_inf", "model_output_neg_inf"),
        ("huge", "model_output_out_of_range"),
    ] {
        let running = start_sim(fast()).await;
        let sim = running.sim.clone();
        let cells = sim.cell_count() as u64;
        let (metrics, stop) = start_with(xapp_config(running.addr), fixture(model));
        let counted = wait_for(Duration::from_secs(20), || {
            Metrics::count(&metrics.dropped, reason) >= 2 * cells
        })
        .await;
        let summary = stop().await.unwrap().unwrap();
        running.stop().await;
        assert!(counted, "{model}: {summary}");
        assert_eq!(summary.controls_sent, 0, "{model}: {summary}");
        assert!(sim.controls().is_empty(), "{model}");
        assert_eq!(metrics.decisions.get(), 0, "{model}: no decision made");
        assert!(
            summary.dropped_other >= 2 * cells,
            "{model}: the summary says so: {summary}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn impossible_measurements_are_refused_by_name_and_the_rest_is_served() {
    // Every 5th window of each trace carries an impossible value, cycling through kinds.
    let running = sim_with(fast(), |i, w| {
        let avail = w.cell.value(Meas::PrbAvailDl).unwrap_or(50.0);
        if let Some((_, m)) = w.slices.first_mut() {
            match i % 25 {
                0 => m.set(Meas::PrbUsedDl, -3.0),
                5 => m.set(Meas::PrbUsedDl, 1e30),
                10 => m.set(Meas::UeThpDl, 2f32.powi(62)),
                15 => m.set(Meas::PrbReqDl, 500.0),
                20 => m.set(Meas::PrbUsedDl, avail + 10.0),
                _ => {}
            }
        }
    })
    .await;
    let sim = running.sim.clone();
    let cells = sim.cell_count();
    let xapp = Xapp::start(xapp_config(running.addr));
    let m = xapp.metrics.clone();
    let reasons = [
        "negative_measurement",
        "measurement_out_of_range",
        "prb_above_available",
    ];
    let ok = wait_for(Duration::from_secs(30), || {
        sim.controls().len() == cells && reasons.iter().all(|r| Metrics::count(&m.rejected, r) >= 4)
    })
    .await;
    let summary = xapp.stop().await;
    running.stop().await;
    assert!(ok, "{summary}");
    assert_eq!(summary.reconnects, 0, "{summary}");
    assert!(summary.rejected >= 12, "the summary counts them: {summary}");
    // Whatever was sent passed the guard invariants at the E2 node.
    assert_eq!(sim.stats.controls_rejected.load(Ordering::Relaxed), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_input_the_stream_never_carries_refuses_the_cell_unless_imputation_is_configured() {
    // A UE-side trace: no PRB columns at all.
    let no_prbs = |_: usize, w: &mut Window| {
        for (_, m) in &mut w.slices {
            m.set(Meas::PrbUsedDl, f32::NAN);
            m.set(Meas::PrbReqDl, f32::NAN);
        }
    };
    let running = sim_with(fast(), no_prbs).await;
    let sim = running.sim.clone();
    let cells = sim.cell_count() as u64;
    let xapp = Xapp::start(xapp_config(running.addr));
    let m = xapp.metrics.clone();
    let refused = wait_for(Duration::from_secs(20), || {
        Metrics::count(&m.dropped, "missing_input") >= 2 * cells
    })
    .await;
    let summary = xapp.stop().await;
    running.stop().await;
    assert!(refused, "{summary}");
    assert_eq!(summary.controls_sent, 0, "{summary}");
    assert_eq!(m.decisions.get(), 0);

    // With the explicit policy, the absent inputs are fed as 0, counted, and cells served.
    let running = sim_with(fast(), no_prbs).await;
    let sim = running.sim.clone();
    let mut cfg = xapp_config(running.addr);
    cfg.missing_inputs = MissingInputs::ImputeZero;
    let xapp = Xapp::start(cfg);
    let m = xapp.metrics.clone();
    let served = wait_for(Duration::from_secs(20), || {
        sim.controls().len() == cells as usize
    })
    .await;
    let summary = xapp.stop().await;
    running.stop().await;
    assert!(served, "{summary}");
    assert!(
        Metrics::count(&m.notes, "imputed_input") >= cells,
        "{summary}"
    );
    assert_eq!(Metrics::count(&m.dropped, "missing_input"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_nan_indications_are_counted_and_survived() {
    let cfg = SimConfig {
        faults: Faults {
            malformed_every: 7,
            nan_every: 5,
            oversize_every: 0,
        },
        ..fast()
    };
    let running = start_sim(cfg).await;
    let sim = running.sim.clone();
    let xapp = Xapp::start(xapp_config(running.addr));
    let cells = sim.cell_count();
    let s = &sim.stats;
    let all = wait_for(Duration::from_secs(20), || {
        sim.controls().len() == cells && s.faults_malformed.load(Ordering::Relaxed) >= 20
    })
    .await;
    // Stop producing, let the queued indications arrive, then compare counts exactly.
    let metrics = xapp.metrics.clone();
    let reconnects_while_serving = metrics.reconnects.get();
    let rejected_while_serving =
        Metrics::total(&metrics.controls_rejected, nf_runtime::summary::CAUSES);
    sim.stop_streams();
    // Let the replay tasks finish their current round, then both node streams drain
    // before the counts are compared.
    tokio::time::sleep(Duration::from_millis(200)).await;
    wait_for(Duration::from_secs(5), || {
        Metrics::count(&metrics.rejected, "malformed") == s.faults_malformed.load(Ordering::Relaxed)
            && Metrics::count(&metrics.notes, "non_finite_value")
                == 2 * s.faults_nan.load(Ordering::Relaxed)
    })
    .await;
    let summary = xapp.stop().await;
    running.stop().await;
    assert!(all, "controlled {} of {cells}", sim.controls().len());
    let malformed = Metrics::count(&metrics.rejected, "malformed");
    assert_eq!(
        malformed,
        s.faults_malformed.load(Ordering::Relaxed),
        "every malformed payload is counted"
    );
    let nan = Metrics::count(&metrics.notes, "non_finite_value");
    // Each NaN fault carries two non-finite values (+inf and -inf).
    assert_eq!(
        nan,
        2 * s.faults_nan.load(Ordering::Relaxed),
        "non-finite values counted"
    );
    assert_eq!(
        reconnects_while_serving, 0,
        "one bad message must not cost the stream"
    );
    assert_eq!(rejected_while_serving, 0, "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_payloads_are_rejected_without_losing_the_stream() {
    let cfg = SimConfig {
        faults: Faults {
            oversize_every: 10,
            ..Faults::default()
        },
        ..fast()
    };
    let running = start_sim(cfg).await;
    let sim = running.sim.clone();
    let xapp = Xapp::start(xapp_config(running.addr));
    let cells = sim.cell_count();
    let s = &sim.stats;
    let ok = wait_for(Duration::from_secs(20), || {
        sim.controls().len() == cells && s.faults_oversize.load(Ordering::Relaxed) >= 5
    })
    .await;
    let metrics = xapp.metrics.clone();
    let summary = xapp.stop().await;
    running.stop().await;
    assert!(ok);
    // 1 MiB payloads pass the 4 MiB transport limit but not the 64 KiB KPM payload limit.
    assert!(
        Metrics::count(&metrics.rejected, "oversize") >= 5,
        "{summary}"
    );
    assert_eq!(summary.reconnects, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_transport_limit_costs_one_stream_not_the_xapp() {
    let cfg = SimConfig {
        faults: Faults {
            oversize_every: 40,
            ..Faults::default()
        },
        ..fast()
    };
    let running = start_sim(cfg).await;
    let sim = running.sim.clone();
    let mut xcfg = xapp_config(running.addr);
    xcfg.max_message_bytes = 256 * 1024; // below the 1 MiB junk payload
    let xapp = Xapp::start(xcfg);
    let cells = sim.cell_count();
    let s = &sim.stats;
    let ok = wait_for(Duration::from_secs(20), || {
        sim.controls().len() == cells && s.subscriptions.load(Ordering::Relaxed) >= 4
    })
    .await;
    let metrics = xapp.metrics.clone();
    let summary = xapp.stop().await;
    running.stop().await;
    assert!(
        ok,
        "subscriptions {}",
        s.subscriptions.load(Ordering::Relaxed)
    );
    assert!(summary.reconnects >= 1, "{summary}");
    assert!(Metrics::count(&metrics.rejected, "oversize") >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_controls_are_refused_with_an_e2ap_cause() {
    let sim = start_sim(fast()).await;
    let node = sim.sim.nodes[0].id.clone();
    let cell = sim.sim.nodes[0].cells[0].info.cell;
    let slice = sim.sim.nodes[0].cells[0].info.slices[0];
    let mut client = ControlServiceClient::connect(format!("http://{}", sim.addr))
        .await
        .unwrap();
    let send = |cell: CellId, quotas: Vec<SliceQuota>, node: String| {
        let (header, payload) = e2_proto::rc::encode_quota_control(&cell, &quotas);
        ControlRequest {
            headers: Some(RequestHeaders {
                e2_node_id: node,
                ..Default::default()
            }),
            message: Some(ControlMessage { header, payload }),
            call_process_id: vec![],
        }
    };
    let q = |min, max, ded| SliceQuota {
        snssai: slice,
        min_ratio: min,
        max_ratio: max,
        dedicated_ratio: ded,
    };
    // dedicated > min
    let err = client
        .control(send(cell, vec![q(10, 50, 20)], node.clone()))
        .await
        .unwrap_err();
    assert_eq!(E2Cause::of_status(&err), E2Cause::ControlMessageInvalid);
    assert!(err.message().contains("dedicated"), "{}", err.message());
    // a slice the cell does not have
    let other = SliceQuota {
        snssai: Snssai::new(99, Some(7)),
        ..q(10, 50, 5)
    };
    let err = client
        .control(send(cell, vec![other], node.clone()))
        .await
        .unwrap_err();
    assert!(
        err.message().contains("not configured"),
        "{}",
        err.message()
    );
    // garbage payload
    let mut req = send(cell, vec![q(10, 50, 5)], node.clone());
    req.message.as_mut().unwrap().payload = vec![0xff; 16];
    let err = client.control(req).await.unwrap_err();
    assert_eq!(E2Cause::of_status(&err), E2Cause::TransferSyntaxError);
    // unknown node
    let err = client
        .control(send(cell, vec![q(10, 50, 5)], "nobody".into()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    // and a valid one still goes through
    client
        .control(send(cell, vec![q(10, 50, 5)], node))
        .await
        .unwrap();
    assert_eq!(sim.sim.stats.controls_rejected.load(Ordering::Relaxed), 4);
    assert_eq!(sim.sim.stats.controls_accepted.load(Ordering::Relaxed), 1);
    sim.stop().await;
}

/// Bundled traces as if recorded on a 273-PRB (100 MHz, 30 kHz) cell: same load shares.
fn on_273_prbs(_: usize, w: &mut Window) {
    let k = 273.0 / trace::CELL_PRBS;
    w.cell.set(Meas::PrbAvailDl, 273.0);
    for (_, m) in &mut w.slices {
        for meas in [Meas::PrbUsedDl, Meas::PrbReqDl] {
            m.set(meas, m.get(meas) * k);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_273_prb_cell_is_scaled_to_the_model_not_capped_at_its_training_size() {
    let running = sim_with(fast(), on_273_prbs).await;
    let sim = running.sim.clone();
    let cells = sim.cell_count();
    let xapp = Xapp::start(xapp_config(running.addr));
    let served = wait_for(Duration::from_secs(20), || sim.controls().len() == cells).await;
    // Let the busiest slices reach their quota, then look at the largest maximum ratio.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let summary = xapp.stop().await;
    running.stop().await;
    assert!(served, "{summary}");
    let widest = sim
        .controls()
        .values()
        .flat_map(|c| c.last.iter().map(|q| q.max_ratio))
        .max()
        .unwrap();
    // Unscaled, a 50-PRB model's forecasts (≤ 50 PRB, +20 % headroom) cap every slice at
    // ⌈100 × 60 / 273⌉ = 22 % of a 273-PRB cell.
    assert!(widest > 22, "largest max ratio {widest} %: {summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cell_size_the_contract_cannot_scale_to_is_refused_by_name() {
    let dir = std::env::temp_dir().join(format!("refuse-scaling-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/slice_forecaster");
    std::fs::copy(
        shipped.join("slice_forecaster.onnx"),
        dir.join("slice_forecaster.onnx"),
    )
    .unwrap();
    let text = std::fs::read_to_string(shipped.join("slice_forecaster.contract.toml")).unwrap();
    let contract = dir.join("contract.toml");
    std::fs::write(
        &contract,
        text.replace("prb_scaling = \"linear\"", "prb_scaling = \"refuse\""),
    )
    .unwrap();
    let model = load_model(&ModelConfig {
        contract,
        onnxruntime_lib: None,
        providers: vec![Provider::Cpu],
    })
    .unwrap();
    let running = sim_with(fast(), on_273_prbs).await;
    let sim = running.sim.clone();
    let cells = sim.cell_count() as u64;
    let (metrics, stop) = start_with(xapp_config(running.addr), model);
    let refused = wait_for(Duration::from_secs(20), || {
        Metrics::count(&metrics.dropped, "cell_size_mismatch") >= 2 * cells
    })
    .await;
    let summary = stop().await.unwrap().unwrap();
    running.stop().await;
    assert!(refused, "{summary}");
    assert_eq!(summary.controls_sent, 0, "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_stamped_ten_years_ahead_are_refused_and_stall_nothing() {
    let cfg = SimConfig {
        future_stamp_every: 13,
        ..fast()
    };
    let running = start_sim(cfg).await;
    let sim = running.sim.clone();
    let cells = sim.cell_count();
    let xapp = Xapp::start(xapp_config(running.addr));
    let m = xapp.metrics.clone();
    let refused = |m: &Metrics| {
        Metrics::count(&m.rejected, "ahead_of_node_clock")
            + Metrics::count(&m.ingest, "too_far_ahead")
    };
    let ok = wait_for(Duration::from_secs(20), || {
        sim.controls().len() == cells && refused(&m) >= 20
    })
    .await;
    // Every cell keeps being controlled after the bad stamps: counts keep growing.
    let before: u64 = sim.controls().values().map(|c| c.accepted).sum();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after: u64 = sim.controls().values().map(|c| c.accepted).sum();
    let summary = xapp.stop().await;
    running.stop().await;
    assert!(ok, "refused {}: {summary}", refused(&m));
    assert!(after > before, "controls stalled: {summary}");
    // One period per report at most: nothing like 10 years of periods counted missing.
    let missing = Metrics::count(&m.ingest, "missing");
    assert!(missing < 1_000, "missing {missing}: {summary}");
    // Should a node's very first report be a bad one, its clock estimate starts afresh
    // after a few good reports.
    let past_budget = Metrics::count(&m.dropped, "latency_budget");
    assert!(
        past_budget <= 2 * u64::from(nf_core::latency::RESEED_AFTER),
        "{past_budget} dropped past budget: {summary}"
    );
}
