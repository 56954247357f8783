//! The shipped slice policy through the real onnxruntime on held-out twin cells (Multi-UE
//! Trial1, never seen in training, classes inferred with Trial2's class model): what its
//! model card claims, recomputed from `../shared/traces` (skipped with a line when absent).
//! The card claims parity with proportional and with the best static split of its paired
//! table (within 1 % either way: no gain over the best baseline) and a clear gain over equal.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use nf_core::baseline::Baseline;
use nf_core::slice_policy::PolicyLayout;
use nf_core::trial::utility::UtilityWeights;
use nf_core::{Meas, Snssai};
use nf_infer::runtime::{ModelConfig, Provider, load_model};
use testbed::policy_train::{eval_units, heldout_cells, play, policy_quotas};
use testbed::twin::trials::Scenario;
use testbed::twin::{LinkTable, Scheduler};

#[test]
fn shipped_policy_holds_its_card_on_held_out_cells() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let traces = root.join("../shared/traces");
    if !traces.join("tractor-trials/multi-ue-trial1").is_dir() {
        println!("skipped: {} has no tractor-trials", traces.display());
        return;
    }
    let mut model = load_model(&ModelConfig {
        contract: root.join("models/slice_policy/slice_policy.contract.toml"),
        onnxruntime_lib: None,
        providers: vec![Provider::Cpu],
    })
    .expect("shipped policy loads against its contract");
    let c = &model.contract;
    let layout = PolicyLayout::new(c.slices.clone(), &c.feature_names(), c.window())
        .unwrap()
        .with_prb_counts(&c.prb_inputs());
    // The card's scenario (docs/ab-trials.md rule): 15-PRB carrier, recorded arrivals ×1.
    assert_eq!(c.cell_prbs, 15, "the card's scenario is the 15-PRB carrier");
    let scenario = Scenario {
        cell_prbs: f64::from(c.cell_prbs),
        load: 1.0,
    };
    let cells = heldout_cells(&traces, "multi-ue-trial1", "multi-ue-trial2", &scenario, 40)
        .expect("held-out cells");
    let link = LinkTable::fit(&cells);
    let w = UtilityWeights::default();
    // The card's paired best static split (policy_eval's search on Trial2): 0 / 40 / 0 %.
    let split: testbed::trial::StaticSplit = "1=0,2=40,3=0".parse().unwrap();
    let (mut pol, mut prop, mut eq, mut st, mut decided) = (0.0, 0.0, 0.0, 0.0, 0u32);
    // Seeds 4 and 13 of `policy_eval` (the card's table): busy units.
    let units: Vec<(usize, usize)> = [4, 13]
        .iter()
        .flat_map(|s| eval_units(&cells, 240, *s))
        .collect();
    for (ci, from) in units {
        let cell = &cells[ci];
        let span = (from, 240, layout.window());
        let slices: Vec<Snssai> = cell.slices.clone();
        pol += play(cell, &link, Scheduler::RoundRobin, &w, span, |h| {
            let q = policy_quotas(&mut model, &layout, cell, h);
            if let Some(q) = &q {
                decided += 1;
                assert!(q.iter().map(|x| u32::from(x.min_ratio)).sum::<u32>() <= 100);
                assert!(q.iter().all(|x| x.min_ratio <= x.max_ratio));
            }
            q
        })
        .0;
        prop += play(cell, &link, Scheduler::RoundRobin, &w, span, |h| {
            let d: Vec<f32> = h
                .iter()
                .map(|x| x.back().map_or(0.0, |m| m.get(Meas::PrbReqDl)))
                .collect();
            Some(Baseline::Proportional.quotas(&slices, &d))
        })
        .0;
        eq += play(cell, &link, Scheduler::RoundRobin, &w, span, |_| {
            Some(Baseline::Equal.quotas(&slices, &[]))
        })
        .0;
        st += play(cell, &link, Scheduler::RoundRobin, &w, span, |_| {
            Some(split.quotas(&slices))
        })
        .0;
    }
    println!(
        "held-out utility (sum over units): policy {pol:.4}, proportional {prop:.4}, static {st:.4}, equal {eq:.4}"
    );
    assert!(decided > 2000, "the policy decided {decided} times");
    for (name, base) in [("proportional", prop), ("static 0/40/0", st)] {
        assert!(
            (pol / base - 1.0).abs() <= 0.01,
            "policy {pol} not within 1 % of {name} {base}: the card claims parity"
        );
    }
    assert!(
        pol >= 1.05 * eq,
        "policy {pol} not clearly above equal {eq}"
    );
}
