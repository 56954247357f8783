//! The analysis that fits a trial's design, and the verdict an operator acts on.
//!
//! | design | primary analysis (unit) |
//! |---|---|
//! | cell-randomised | paired t over the load-matched cell pairs of the stratified assignment |
//! | switchback | paired t over cells: each cell's treatment mean minus its control mean |
//! | shadow | none: the treatment never acts, only its disagreement is measured |
//!
//! Welch and the cluster bootstrap over cells are kept as secondary analyses for
//! cell-randomised trials (they ignore the pairing). The verdict is `better`, `worse`, `no
//! detectable difference` (with the minimum detectable effect at [`POWER`]) or `not
//! estimable` (with the reason).

use nf_core::trial::Design;
use nf_core::trial::kpi::Kpi;
use nf_core::trial::stats::{Effect, POWER, bootstrap, paired, welch};

/// Per virtual cell, the mean of one KPI while acting with the control and the treatment.
pub type CellMeans = [Option<f64>; 2];

/// What the operator concludes about one KPI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Call {
    Better,
    Worse,
    NoDetectableDifference,
    NotEstimable,
}

impl Call {
    /// The name JSON carries (snake case).
    pub fn name(self) -> &'static str {
        match self {
            Call::Better => "better",
            Call::Worse => "worse",
            Call::NoDetectableDifference => "no_detectable_difference",
            Call::NotEstimable => "not_estimable",
        }
    }
}

/// A verdict with its numbers, in words.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Verdict {
    pub call: Call,
    /// Minimum detectable effect at `power` [KPI unit], when estimable.
    pub mde: Option<f64>,
    pub power: f64,
    /// The sentence shown by the CLI and the HTML report.
    pub text: String,
}

/// Effect of one KPI.
#[derive(Clone, Debug, serde::Serialize)]
pub struct KpiEffect {
    pub kpi: Kpi,
    pub unit: &'static str,
    pub higher_is_better: bool,
    /// The analysis of `primary` (see [`method`]).
    pub method: &'static str,
    /// The analysis that fits the design: what the verdict rests on.
    pub primary: Option<Effect>,
    pub verdict: Verdict,
    /// Welch over cells (cell-randomised; secondary), paired t over cells (switchback).
    pub welch: Option<Effect>,
    /// Paired t over the load-matched pairs (cell-randomised).
    pub matched: Option<Effect>,
    /// Cluster bootstrap over cells (cell-randomised; secondary).
    pub bootstrap: Option<Effect>,
}

/// Name of the primary analysis of `design`.
pub fn method(design: &Design) -> &'static str {
    match design {
        Design::CellRandomised { .. } => "paired t over load-matched cell pairs",
        Design::Switchback { .. } => "paired t over cells (treatment − control within a cell)",
        Design::Shadow => "none (shadow: the treatment never acts)",
    }
}

/// Analyses one KPI from per-cell means; `pairs` are the load-matched pairs (indices).
pub fn analyse(
    design: &Design,
    kpi: Kpi,
    cells: &[CellMeans],
    pairs: &[(usize, usize)],
    bootstrap_iterations: usize,
    seed: u64,
) -> KpiEffect {
    let arm = |a: usize| -> Vec<f64> { cells.iter().filter_map(|c| c[a]).collect() };
    let matched: Vec<(f64, f64)> = pairs
        .iter()
        .filter_map(|(x, y)| match (cells[*x], cells[*y]) {
            ([Some(c), _], [_, Some(t)]) | ([_, Some(t)], [Some(c), _]) => Some((c, t)),
            _ => None,
        })
        .collect();
    let within: Vec<(f64, f64)> = cells.iter().filter_map(|c| Some((c[0]?, c[1]?))).collect();
    let (welch_e, matched_e, boot, primary, units) = match design {
        Design::CellRandomised { .. } => {
            let (c, t) = (arm(0), arm(1));
            let m = paired(&matched);
            let b = bootstrap(&c, &t, bootstrap_iterations, seed);
            (
                welch(&c, &t),
                m,
                b,
                m,
                format!("{} load-matched pairs", matched.len()),
            )
        }
        Design::Switchback { .. } => {
            let p = paired(&within);
            (
                p,
                None,
                None,
                p,
                format!("{} cells seen in both arms", within.len()),
            )
        }
        Design::Shadow => (None, None, None, None, String::new()),
    };
    KpiEffect {
        kpi,
        unit: kpi.unit(),
        higher_is_better: kpi.higher_is_better(),
        method: method(design),
        primary,
        verdict: verdict(kpi, primary.as_ref(), &units),
        welch: welch_e,
        matched: matched_e,
        bootstrap: boot,
    }
}

/// The verdict on `effect` (treatment − control) of `kpi`; `units` says what was counted.
pub fn verdict(kpi: Kpi, effect: Option<&Effect>, units: &str) -> Verdict {
    let not_estimable = |why: String| Verdict {
        call: Call::NotEstimable,
        mde: None,
        power: POWER,
        text: format!("not estimable: {why}"),
    };
    let Some(e) = effect else {
        return if units.is_empty() {
            not_estimable("the shadow design compares decisions, not KPIs".into())
        } else {
            not_estimable(format!("{units}, at least 2 needed"))
        };
    };
    if e.se.is_nan() || e.se <= 0.0 || !e.diff.is_finite() {
        return not_estimable(format!("no variation between the {units}"));
    }
    let unit = kpi.unit();
    let mde = e.mde(POWER);
    let interval = format!(
        "{:+.2} {unit} [{:+.2}, {:+.2}] over {units}",
        e.diff, e.lo, e.hi
    );
    let good = (e.diff > 0.0) == kpi.higher_is_better();
    let call = match (e.significant(), good) {
        (true, true) => Call::Better,
        (true, false) => Call::Worse,
        (false, _) => Call::NoDetectableDifference,
    };
    let text = match call {
        Call::Better => format!("better: {interval}"),
        Call::Worse => format!("worse: {interval}"),
        _ => format!(
            "no detectable difference: {interval}; minimum detectable effect ±{mde:.2} {unit} at {:.0} % power",
            POWER * 100.0
        ),
    };
    Verdict {
        call,
        mde: Some(mde),
        power: POWER,
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::Call;

    #[test]
    fn call_names_are_the_json_names() {
        for c in [
            Call::Better,
            Call::Worse,
            Call::NoDetectableDifference,
            Call::NotEstimable,
        ] {
            assert_eq!(serde_json::to_value(c).unwrap(), c.name());
        }
    }
}
