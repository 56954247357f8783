//! The multi-cell radio twin against the real `ucc5g` recordings: engine invariants,
//! calibration error on held-out recordings, and a short trial through the real model.
//! Skips (with a printed line) without `../shared/traces/ucc5g`.

use std::path::Path;
use std::sync::OnceLock;

use testbed::radio::calib;
use testbed::radio::trace::{Recording, read_all};
use testbed::radio::trial::{Arm, ModelAssessor, TrialConfig, effects, held_out, run_arm};
use testbed::radio::twin::{Calibration, RadioTwin, StepOutput, TwinConfig};

fn recordings() -> Option<&'static [Recording]> {
    static RECS: OnceLock<Option<Vec<Recording>>> = OnceLock::new();
    RECS.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/traces/ucc5g");
        if !root.exists() {
            println!("skipped: {} is absent", root.display());
            return None;
        }
        Some(read_all(&root).expect("ucc5g recordings read"))
    })
    .as_deref()
}

fn test_recs() -> Option<Vec<Recording>> {
    recordings().map(held_out)
}

fn mean_sinr(out: &StepOutput, cell_idx: usize) -> f32 {
    let ues = &out.ue_reports[cell_idx].ues;
    ues.iter().map(|u| u.sinr_db.unwrap()).sum::<f32>() / ues.len() as f32
}

#[test]
fn interference_rises_with_neighbour_load() {
    let Some(recs) = test_recs() else { return };
    let cfg = TwinConfig::default();
    let mut quiet = RadioTwin::new(&recs, &cfg);
    let mut busy = quiet.clone();
    let cells = quiet.cells().to_vec();
    for &c in &cells[1..] {
        quiet.set_background(c, 0.05);
        busy.set_background(c, 0.95);
    }
    let (q, b) = (quiet.step(), busy.step());
    assert!(
        q.ue_reports[0].ues.len() == b.ue_reports[0].ues.len() && !q.ue_reports[0].ues.is_empty()
    );
    // Same UEs, same recorded second: only the neighbours' load differs.
    for (uq, ub) in q.ue_reports[0].ues.iter().zip(&b.ue_reports[0].ues) {
        assert_eq!(uq.ue, ub.ue);
        assert!(
            ub.sinr_db.unwrap() <= uq.sinr_db.unwrap() + 1e-4,
            "{uq:?} vs {ub:?}"
        );
    }
    assert!(
        mean_sinr(&b, 0) < mean_sinr(&q, 0) - 0.1,
        "{} vs {}",
        mean_sinr(&b, 0),
        mean_sinr(&q, 0)
    );
    assert!(b.cells[1].load().unwrap() > q.cells[1].load().unwrap());
}

#[test]
fn a_handover_moves_load_and_shows_on_both_cells() {
    let Some(recs) = test_recs() else { return };
    let mut base = RadioTwin::new(&recs, &TwinConfig::default());
    // Find a downloading UE with a visible PRB share.
    let (ue, from, to) = loop {
        let out = base.step();
        let pick = out.ue_reports.iter().find_map(|r| {
            r.ues
                .iter()
                .find(|u| u.prb_used_dl.unwrap_or(0.0) > 2.0)
                .map(|u| (u.ue, r.cell, u.neighbour.unwrap().cell))
        });
        if let Some(p) = pick {
            break p;
        }
        assert!(
            base.now_ms() < TwinConfig::default().start_ms + 120_000,
            "no loaded UE in 2 min"
        );
    };
    let mut moved = base.clone();
    moved.handover(ue, to).unwrap();
    assert_eq!(moved.serving(ue), Some(to));
    assert!(
        moved.handover(ue, to).is_err(),
        "a second handover to the serving cell is refused"
    );
    let (b, m) = (base.step(), moved.step());
    let idx = |c| base.cells().iter().position(|x| *x == c).unwrap();
    let (fi, ti) = (idx(from), idx(to));
    assert!(m.ue_reports[ti].ues.iter().any(|u| u.ue == ue));
    assert!(!m.ue_reports[fi].ues.iter().any(|u| u.ue == ue));
    let used = |o: &StepOutput, i: usize| o.cells[i].prb_used_dl.unwrap();
    // Unless the recorded network moved it in that very second, the load moves with it.
    if base.serving(ue) == Some(from) {
        assert!(used(&m, fi) < used(&b, fi), "source cell keeps its load");
        assert!(used(&m, ti) > used(&b, ti), "target cell gains no load");
    }
    let (ho, _) = moved.handover_counts();
    assert_eq!(ho, 1);
}

#[test]
fn restriction_lowers_a_neighbours_interference_and_its_own_use() {
    let Some(recs) = test_recs() else { return };
    let mut free = RadioTwin::new(&recs, &TwinConfig::default());
    let cells = free.cells().to_vec();
    for &c in &cells {
        free.set_background(c, 0.8);
    }
    let mut capped = free.clone();
    capped.restrict(cells[1], 20);
    let (f, c) = (free.step(), capped.step());
    assert!(c.cells[1].load().unwrap() <= 0.2 + 1e-6);
    assert!(f.cells[1].load().unwrap() > 0.5);
    // Cell 0's UEs see less interference; cell 1's own UEs lose capacity.
    assert!(mean_sinr(&c, 0) > mean_sinr(&f, 0));
    let thp = |o: &StepOutput, cell: usize| -> f32 {
        let ids: Vec<_> = o.ue_reports[cell].ues.iter().map(|u| u.ue).collect();
        o.ue_throughput_kbps
            .iter()
            .filter(|(u, _)| ids.contains(u))
            .map(|(_, v)| v)
            .sum()
    };
    assert!(thp(&c, 1) <= thp(&f, 1));
}

/// Stated in docs/interference-twin.md: held-out SINR MAE below these, per kind.
const MAX_MAE_STATIC_DB: f32 = 5.0;
const MAX_MAE_DRIVING_DB: f32 = 8.0;

#[test]
fn calibration_error_on_held_out_recordings() {
    let Some(recs) = recordings() else { return };
    let errs = calib::errors(recs, 4, 106, &Calibration::default(), true);
    let get = |g: &str| errs.iter().find(|e| e.group == g).unwrap().clone();
    let (s, d) = (get("static"), get("driving"));
    println!("{s:?}\n{d:?}");
    assert!(s.seconds > 1000 && d.seconds > 1000);
    assert!(
        s.sinr_mae_db < MAX_MAE_STATIC_DB,
        "static MAE {}",
        s.sinr_mae_db
    );
    assert!(
        d.sinr_mae_db < MAX_MAE_DRIVING_DB,
        "driving MAE {}",
        d.sinr_mae_db
    );
    assert!(s.sinr_bias_db.abs() < 3.0 && d.sinr_bias_db.abs() < 3.0);
}

#[test]
fn short_trial_runs_the_real_model() {
    let Some(recs) = test_recs() else { return };
    let contract = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../models/interference/interference.contract.toml");
    let mut model =
        ModelAssessor::load(&contract).expect("interference model loads through onnxruntime");
    let cfg = TrialConfig {
        seeds: 2,
        duration_s: 60,
        ..TrialConfig::default()
    };
    let mut runs = Vec::new();
    for seed in 1..=2 {
        runs.push(run_arm(&recs, &cfg, Arm::None, seed, None).unwrap());
        let r = run_arm(&recs, &cfg, Arm::Model, seed, Some(&mut model)).unwrap();
        assert!(r.samples > 100);
        // The model judged the UEs (no refusal of its outputs) and the guard held some.
        assert!(r.held.iter().map(|h| h.1).sum::<u64>() > 0);
        runs.push(r);
    }
    assert_eq!(model.bad_outputs, 0);
    let eff = effects(&runs);
    assert_eq!(eff.len(), 1);
    assert!(eff[0].p5_change.diff.is_finite());
}
