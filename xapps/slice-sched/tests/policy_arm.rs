//! Slice-policy arms in the loop: the real E2T simulator on loopback (bundled traces), the
//! real runtime and onnxruntime, and slice-policy models with their contracts.
//!
//! The fixtures of `tests/data/policy/` (written by `make_fixtures.py` there) answer fixed
//! quotas whatever the cell's state, so a control tells which arm it came from; three of
//! them answer outputs the runtime must refuse. They are test fixtures, not models; the
//! trained policy (`models/slice_policy/`) is run too when it is there.
//!
//! Cells replaying `multi4` carry slice 1 (eMBB) only, cells replaying `single-ue-trial6`
//! slices 1 and 2: the bad fixtures break slice 2 only, so those cells must be refused and
//! the others served.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use nf_core::policy::SliceQuota;
use nf_core::trial::{Assignment, Design};
use nf_core::{CellId, Snssai};
use nf_infer::runtime::{LoadedModel, ModelConfig, Provider, load_model};
use nf_runtime::metrics::Metrics;
use nf_runtime::trial::{ArmPolicy, ArmSpec, TrialSpec};
use nf_runtime::{RuntimeConfig, Summary};
use testbed::sim::{RunningSim, Sim, SimConfig};
use tokio::sync::oneshot;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/policy/{name}.contract.toml"))
}

fn forecaster() -> PathBuf {
    repo().join("models/slice_forecaster/slice_forecaster.contract.toml")
}

fn load(contract: PathBuf) -> LoadedModel {
    load_model(&ModelConfig {
        contract: contract.clone(),
        onnxruntime_lib: None,
        providers: vec![Provider::Cpu],
    })
    .unwrap_or_else(|e| panic!("{}: {e}", contract.display()))
}

fn sst(v: u8) -> Snssai {
    Snssai::new(v, None)
}

/// The fixed quota a fixture answers for `slice` (see make_fixtures.py).
fn quota(slice: u8, min: u8, max: u8) -> SliceQuota {
    SliceQuota {
        snssai: sst(slice),
        min_ratio: min,
        max_ratio: max,
        dedicated_ratio: 0,
    }
}

/// The `const` fixture's quotas for a cell's slices, in the cell's order.
fn const_quotas(slices: &[Snssai]) -> Vec<SliceQuota> {
    slices
        .iter()
        .map(|s| match s.sst {
            1 => quota(1, 30, 70),
            2 => quota(2, 20, 50),
            _ => quota(3, 10, 40),
        })
        .collect()
}

fn sim_config() -> SimConfig {
    SimConfig {
        nodes: 2,
        cells_per_node: 4,
        speed: 25.0,
        ..SimConfig::default()
    }
}

async fn start_sim() -> RunningSim {
    let traces = testbed::trace::read_cells(&testbed::trace::bundled_root()).unwrap();
    RunningSim::bind(Sim::new(sim_config(), traces), 0)
        .await
        .unwrap()
}

/// Every simulated cell and its slices.
fn sim_cells(sim: &RunningSim) -> HashMap<CellId, Vec<Snssai>> {
    sim.sim
        .nodes
        .iter()
        .flat_map(|n| n.cells.iter())
        .map(|c| (c.info.cell, c.info.slices.clone()))
        .collect()
}

fn xapp_config(addr: std::net::SocketAddr) -> RuntimeConfig {
    let mut cfg = RuntimeConfig::local(format!("http://{addr}"));
    cfg.backoff.initial = Duration::from_millis(20);
    cfg.backoff.max = Duration::from_millis(200);
    cfg.stale_after_ms = 2_000;
    cfg.guard.max_controls_per_cell_per_sec = 50;
    // Two shared cores and a debug build: the functional checks use a generous budget.
    cfg.budget = nf_core::latency::Budget::from_ms(1000.0);
    cfg
}

/// Runs the xApp with `models` until `done` holds (at most 20 s); whether it did, the
/// summary and the metrics.
async fn run_until(
    cfg: RuntimeConfig,
    models: Vec<LoadedModel>,
    mut done: impl FnMut(&Metrics) -> bool,
) -> (bool, Summary, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::new());
    let (stop, rx) = oneshot::channel::<()>();
    let join = tokio::spawn(nf_runtime::run_models(
        cfg,
        models,
        metrics.clone(),
        async move {
            let _ = rx.await;
        },
    ));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut ok = done(&metrics);
    while !ok && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        ok = done(&metrics);
    }
    let _ = stop.send(());
    let summary = join.await.unwrap().unwrap();
    (ok, summary, metrics)
}

/// A slice policy as the single default model closes the loop: every cell is controlled,
/// and its controls carry the policy's quotas for the cell's slices.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_as_the_default_model_closes_the_loop_with_its_quotas() {
    let sim = start_sim().await;
    let cells = sim_cells(&sim);
    let s = sim.sim.clone();
    let (all, summary, _) = run_until(xapp_config(sim.addr), vec![load(fixture("const"))], |_| {
        s.controls().len() == cells.len()
    })
    .await;
    let controls = sim.sim.controls();
    assert!(
        all,
        "{} of {} cells controlled: {summary}",
        controls.len(),
        cells.len()
    );
    for (cell, slices) in &cells {
        assert_eq!(controls[cell].last, const_quotas(slices), "cell {cell}");
    }
    assert_eq!(summary.dropped_other, 0, "{summary}");
    assert_eq!(summary.controls_rejected, 0, "{summary}");
    sim.stop().await;
}

/// The trained policy (when it is in the tree) closes the loop with quotas inside the RRM
/// policy invariants.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_policy_closes_the_loop() {
    let contract = repo().join("models/slice_policy/slice_policy.contract.toml");
    if !contract.is_file() {
        println!("skipped: {} is not there yet", contract.display());
        return;
    }
    let sim = start_sim().await;
    let cells = sim_cells(&sim).len();
    let s = sim.sim.clone();
    let (all, summary, _) = run_until(xapp_config(sim.addr), vec![load(contract)], |_| {
        s.controls().len() == cells
    })
    .await;
    assert!(
        all,
        "{} of {cells} cells controlled: {summary}",
        sim.sim.controls().len()
    );
    for (cell, c) in sim.sim.controls() {
        let wire: Vec<_> = c.last.iter().map(SliceQuota::wire).collect();
        nf_core::guard::validate(&wire).unwrap_or_else(|e| panic!("cell {cell}: {e}"));
    }
    assert_eq!(summary.dropped_other, 0, "{summary}");
    sim.stop().await;
}

fn arm(name: &str, model: usize) -> ArmSpec {
    ArmSpec {
        name: name.into(),
        policy: ArmPolicy::Model(model),
        policy_cfg: nf_core::policy::PolicyConfig::default(),
    }
}

/// Forecaster (control) against slice policy (treatment), cell-randomised: both arms get
/// cells, every cell's controls come from its own arm's model (the policy's fixed quotas on
/// its cells, forecasts in the decision log on the forecaster's), and shadow decisions of
/// the other arm are logged and never sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trial_serves_each_cell_from_its_own_arm_model() {
    let sim = start_sim().await;
    let cells = sim_cells(&sim);
    let assignment = Assignment {
        design: Design::CellRandomised {
            treatment_share: 0.5,
        },
        seed: 7,
    };
    let policy_cells: Vec<CellId> = cells
        .keys()
        .copied()
        .filter(|c| assignment.roles(c, 0).acting == nf_core::trial::TREATMENT)
        .collect();
    assert!(
        !policy_cells.is_empty() && policy_cells.len() < cells.len(),
        "seed 7 must put cells in both arms: {} of {}",
        policy_cells.len(),
        cells.len()
    );
    let log_path = std::env::temp_dir().join(format!("policy-arm-{}.jsonl", std::process::id()));
    // The log is appended to: start from none.
    let _ = std::fs::remove_file(&log_path);
    let mut cfg = xapp_config(sim.addr);
    cfg.decision_log =
        Some(slice_xapp::open_decision_log(&log_path, 2_000, false, Default::default()).unwrap());
    cfg.trial = Some(TrialSpec {
        assignment,
        arms: [arm("forecaster", 0), arm("slice-policy", 1)],
        rail: None,
    });
    let s = sim.sim.clone();
    let models = vec![load(forecaster()), load(fixture("const"))];
    let (all, summary, metrics) =
        run_until(cfg, models, |_| s.controls().len() == cells.len()).await;
    let controls = sim.sim.controls();
    assert!(
        all,
        "{} of {} cells controlled: {summary}",
        controls.len(),
        cells.len()
    );
    for cell in &policy_cells {
        assert_eq!(
            controls[cell].last,
            const_quotas(&cells[cell]),
            "policy cell {cell}"
        );
    }
    let text = std::fs::read_to_string(&log_path).unwrap();
    let _ = std::fs::remove_file(&log_path);
    let (mut by_policy, mut by_forecaster) = (0, 0);
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let cell: String = v["cell"].as_str().unwrap().into();
        let in_policy_arm = policy_cells.iter().any(|c| c.to_string() == cell);
        assert_eq!(v["role"], "acting", "cell-randomised has no shadow: {line}");
        match v["arm"].as_str().unwrap() {
            "slice-policy" => {
                by_policy += 1;
                assert!(in_policy_arm, "{line}");
                assert_eq!(v["outputs"].as_array().unwrap().len(), 0, "{line}");
                let (min, max) = (&v["quotas"][0]["min_ratio"], &v["quotas"][0]["max_ratio"]);
                assert_eq!((min.as_u64(), max.as_u64()), (Some(30), Some(70)), "{line}");
            }
            "forecaster" => {
                by_forecaster += 1;
                assert!(!in_policy_arm, "{line}");
                assert!(!v["outputs"].as_array().unwrap().is_empty(), "{line}");
            }
            other => panic!("arm {other}: {line}"),
        }
    }
    assert!(
        by_policy > 0 && by_forecaster > 0,
        "{by_policy} / {by_forecaster}"
    );
    let text = metrics.encode();
    assert!(text.contains("arm=\"slice-policy\""), "{text}");
    sim.stop().await;
}

/// A policy whose output breaks slice 2 (NaN; a max of 120 %; mins of slices 1 and 2
/// summing to 110 %) is refused, counted under its reason, and no control reaches the cells
/// with slice 2; the cells with slice 1 only keep being served the policy's quota.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_policy_outputs_are_refused_and_the_other_cells_served() {
    for (name, reason, slice1) in [
        ("nan", "model_output_nan", quota(1, 30, 70)),
        ("range", "model_output_out_of_range", quota(1, 30, 70)),
        ("summin", "model_output_out_of_range", quota(1, 60, 80)),
    ] {
        let sim = start_sim().await;
        let cells = sim_cells(&sim);
        let (two, one): (Vec<_>, Vec<_>) = cells
            .iter()
            .partition(|(_, slices)| slices.contains(&sst(2)));
        assert!(!two.is_empty() && !one.is_empty(), "{cells:?}");
        let s = sim.sim.clone();
        let (all, summary, _) = run_until(xapp_config(sim.addr), vec![load(fixture(name))], |m| {
            // Every one-slice cell served, and every two-slice cell refused a few times.
            s.controls().len() >= one.len()
                && Metrics::count(&m.dropped, reason) >= 3 * two.len() as u64
        })
        .await;
        let controls = sim.sim.controls();
        assert!(all, "{name}: {} controlled, {summary}", controls.len());
        for (cell, _) in &one {
            assert_eq!(controls[cell].last, vec![slice1], "{name}: cell {cell}");
        }
        for (cell, _) in &two {
            assert!(
                !controls.contains_key(cell),
                "{name}: cell {cell} was controlled"
            );
        }
        assert!(summary.dropped_other > 0, "{name}: {summary}");
        sim.stop().await;
    }
}
