//! Offline A/B trials on the twin: A/A false-positive rate, a planted better arm, the guard
//! rail rolling back a planted harmful arm, and a model arm through onnxruntime.

#![allow(clippy::unwrap_used)] // test helpers

use nf_core::baseline::Baseline;
use nf_core::trial::Design;
use nf_core::trial::sequential::RailConfig;
use testbed::trace;
use testbed::trial::{self, Arm, TrialConfig};
use testbed::twin::{self, LinkTable, TwinCell};

fn cells() -> (Vec<TwinCell>, LinkTable) {
    let root = trace::shared_root().unwrap_or_else(trace::bundled_root);
    let cells = twin::load(&root, 400).unwrap();
    let link = LinkTable::fit(&cells);
    (cells, link)
}

/// Index of the delay proxy in `trial::KPIS`.
const DELAY: usize = 2;

fn delay_rail() -> RailConfig {
    RailConfig {
        higher_is_better: false,
        tau: 0.5,
        ..RailConfig::default()
    }
}

#[test]
fn a_a_trials_report_effects_at_about_the_nominal_rate() {
    let (cells, link) = cells();
    let seeds = 100;
    let (mut significant, mut tripped) = ([0usize; 2], 0);
    for seed in 0..seeds {
        let cfg = TrialConfig {
            seed,
            windows: 240,
            rail: Some(delay_rail()),
            rail_kpi: DELAY,
            ..TrialConfig::default()
        };
        let mut arms = [
            Arm::baseline("a", Baseline::Proportional),
            Arm::baseline("a-again", Baseline::Proportional),
        ];
        let r = trial::run(&cfg, &cells, &link, &mut arms);
        for (n, j) in significant.iter_mut().zip([0, DELAY]) {
            *n += usize::from(r.effects[j].matched.unwrap().significant());
        }
        tripped += usize::from(r.rolled_back_at.is_some());
    }
    println!(
        "A/A over {seeds} seeds: {significant:?} significant (throughput, delay) effects, {tripped} rail trips"
    );
    // Nominal 5 %: 5 of 100 expected; P(X >= 11) < 1.2 % under Binomial(100, 0.05).
    assert!(significant.iter().all(|n| *n <= 10), "{significant:?}");
    assert!(tripped <= 10, "{tripped}");
}

#[test]
fn a_planted_better_arm_is_detected() {
    let (cells, link) = cells();
    let mut detected = 0;
    for seed in 0..10 {
        let cfg = TrialConfig {
            seed,
            windows: 240,
            cells: 24,
            ..TrialConfig::default()
        };
        // The control starves every slice at 8 % of the cell; the treatment follows demand.
        let mut arms = [
            Arm::baseline("starved", Baseline::Fixed(vec![8, 8, 8])),
            Arm::baseline("proportional", Baseline::Proportional),
        ];
        let r = trial::run(&cfg, &cells, &link, &mut arms);
        // Offered traffic is the recording's, so a starved slice queues rather than loses
        // it: the harm shows in the delay proxy and SLA violations.
        let e = r.effects[DELAY].matched.unwrap();
        detected += usize::from(e.significant() && e.diff < 0.0);
        let sla = r.effects[3].welch.unwrap();
        assert!(sla.diff < 0.0, "{sla:?}");
    }
    assert!(detected >= 9, "{detected}/10");
}

#[test]
fn the_guard_rail_rolls_back_a_planted_harmful_arm() {
    let (cells, link) = cells();
    for design in [
        Design::CellRandomised {
            treatment_share: 0.5,
        },
        Design::Switchback { block_ms: 10_000 },
    ] {
        let cfg = TrialConfig {
            design,
            seed: 3,
            windows: 480,
            rail: Some(delay_rail()),
            rail_kpi: DELAY,
            look_every: 20,
            ..TrialConfig::default()
        };
        let mut arms = [
            Arm::baseline("proportional", Baseline::Proportional),
            Arm::baseline("harmful", Baseline::Fixed(vec![4, 4, 4])),
        ];
        let r = trial::run(&cfg, &cells, &link, &mut arms);
        let at = r
            .rolled_back_at
            .unwrap_or_else(|| panic!("{design:?}: rail never tripped: {:?}", r.looks));
        assert!(at < 480, "{at}");
        // After the roll-back no cell acts with the treatment.
        assert!(
            r.series[at..].iter().all(|w| w[1] == [0.0; 5]),
            "{design:?}"
        );
        assert!(r.looks.last().unwrap().tripped);
    }
}

#[test]
fn a_model_arm_runs_through_onnxruntime_and_shadow_logs_disagreement() {
    let (cells, link) = cells();
    let contract = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../models/slice_forecaster/slice_forecaster.contract.toml");
    let model = nf_infer::runtime::load_model(&nf_infer::ModelConfig {
        contract,
        onnxruntime_lib: None,
        providers: vec![nf_infer::Provider::Cpu],
    })
    .unwrap();
    let mut arms = [
        Arm::baseline("equal", Baseline::Equal),
        Arm::model(
            "forecaster",
            model,
            nf_core::policy::PolicyConfig::default(),
        )
        .unwrap(),
    ];
    let cfg = TrialConfig {
        design: Design::Shadow,
        windows: 160,
        cells: 4,
        ..TrialConfig::default()
    };
    let r = trial::run(&cfg, &cells, &link, &mut arms);
    let d = r.shadow_disagreement.unwrap();
    assert!(d > 0.1 && d <= 1.0, "{d}");
    assert_eq!(r.controls[1], 0, "shadow arm must never send");
    assert!(r.controls[0] > 0);
    let html = testbed::report::html(&r);
    assert!(html.contains("<svg") && html.contains("forecaster"));
}
