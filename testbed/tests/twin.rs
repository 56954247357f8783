//! The closed-loop twin: calibration against the recorded traces, and reaction to quotas.

#![allow(clippy::unwrap_used)] // test helpers

use testbed::trace;
use testbed::twin::{self, LinkTable, Scheduler, TwinState};

/// Stated calibration bounds (docs/replay.md): per-slice PRBs and throughput per 250 ms
/// window, normalised mean absolute error over all shared-trace runs, link table fitted
/// leave-one-cell-out.
const PRB_NMAE_BOUND: f64 = 0.20;
const THP_NMAE_BOUND: f64 = 0.20;

#[test]
fn twin_reproduces_the_recorded_slices_under_the_recorded_control_state() {
    let root = trace::shared_root().unwrap_or_else(trace::bundled_root);
    let cells = twin::load(&root, 480).unwrap();
    assert!(cells.len() >= 2, "{}", cells.len());
    let (mut e_prb, mut e_thp, mut n) = (0.0, 0.0, 0.0);
    for c in &cells {
        let base = c.name.split('#').next().unwrap();
        // Link table from the other recorded cells only.
        let link = LinkTable::fit(cells.iter().filter(|o| !o.name.starts_with(base)));
        let cal = twin::calibrate(c, &link);
        println!("{}", serde_json::to_string(&cal).unwrap());
        let w = cal.windows as f64;
        e_prb += cal.prb_nmae * w;
        e_thp += cal.thp_nmae * w;
        n += w;
    }
    let (prb, thp) = (e_prb / n, e_thp / n);
    println!("window-weighted NMAE: PRB {prb:.3}, throughput {thp:.3}");
    assert!(prb <= PRB_NMAE_BOUND, "PRB NMAE {prb}");
    assert!(thp <= THP_NMAE_BOUND, "throughput NMAE {thp}");
}

#[test]
fn twin_is_deterministic_and_reacts_to_quotas() {
    let cells = twin::load(&trace::bundled_root(), 400).unwrap();
    let link = LinkTable::fit(&cells);
    let cell = cells.iter().max_by_key(|c| c.slices.len()).unwrap();
    let run = |pct: u8| {
        let mut st = TwinState::new(cell);
        let q: Vec<_> = cell
            .slices
            .iter()
            .map(|s| nf_core::policy::SliceQuota {
                snssai: *s,
                min_ratio: 0,
                max_ratio: pct,
                dedicated_ratio: 0,
            })
            .collect();
        (0..cell.len)
            .map(|_| twin::step(cell, &mut st, &q, &link, Scheduler::RoundRobin))
            .collect::<Vec<_>>()
    };
    let (wide, narrow) = (run(100), run(4));
    let sum = |r: &Vec<Vec<twin::SliceKpi>>, f: fn(&twin::SliceKpi) -> f64| -> f64 {
        r.iter().flatten().map(f).sum()
    };
    assert_eq!(format!("{:?}", run(100)), format!("{wide:?}"));
    assert!(sum(&narrow, |k| k.prb) < sum(&wide, |k| k.prb));
    assert!(sum(&narrow, |k| k.thp_kbps) < sum(&wide, |k| k.thp_kbps));
    assert!(sum(&narrow, |k| k.delay_ms) > sum(&wide, |k| k.delay_ms));
    let violations =
        |r: &Vec<Vec<twin::SliceKpi>>| r.iter().flatten().filter(|k| k.sla_violation).count();
    assert!(violations(&narrow) > violations(&wide));
}
