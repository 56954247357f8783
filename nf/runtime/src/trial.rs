//! A/B trials in the deployed xApp: which arm decides for each cell, per-arm KPIs read off
//! the KPM reports, and the guard rail that rolls the treatment's cells back to the control
//! arm when a KPI degrades past the configured margin.
//!
//! Assignment is the pure function of [`nf_core::trial::Assignment`] (seed, cell, report
//! time), so replicas and replays agree without coordination. The guard rail's units are
//! (cell, arm) means of the KPI over the trial so far; it looks every `look_every_ms` of
//! report time and, once tripped, every cell acts with the control arm (and shadow
//! decisions stop) until the xApp is reconfigured.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use nf_core::baseline::Baseline;
use nf_core::policy::PolicyConfig;
pub use nf_core::trial::kpi::Kpi;
use nf_core::trial::sequential::{Look, Rail, RailConfig};
use nf_core::trial::{Assignment, CONTROL, Roles, TREATMENT};
use nf_core::{CellId, KpmReport};

/// What decides for an arm.
#[derive(Clone, Debug, PartialEq)]
pub enum ArmPolicy {
    /// The model loaded at this index of the runtime's model list.
    Model(usize),
    Baseline(Baseline),
}

/// One arm of a trial.
#[derive(Clone, Debug)]
pub struct ArmSpec {
    pub name: String,
    pub policy: ArmPolicy,
    pub policy_cfg: PolicyConfig,
}

/// The value of an online KPI in one report, summed over slices; `None` when a slice
/// lacks it or the KPI is not read from KPM reports (see [`Kpi::meas`]).
pub(crate) fn kpi_of(kpi: Kpi, report: &KpmReport) -> Option<f64> {
    let m = kpi.meas()?;
    let mut sum = 0.0;
    for (_, v) in &report.slices {
        let x = v.get(m);
        if !x.is_finite() {
            return None;
        }
        sum += f64::from(x);
    }
    Some(sum)
}

/// The guard rail of a trial.
#[derive(Clone, Debug)]
pub struct RailSpec {
    pub cfg: RailConfig,
    pub kpi: Kpi,
    pub look_every_ms: u64,
}

/// A trial as configured.
#[derive(Clone, Debug)]
pub struct TrialSpec {
    pub assignment: Assignment,
    /// Control (0) and treatment (1).
    pub arms: [ArmSpec; 2],
    pub rail: Option<RailSpec>,
}

#[derive(Debug)]
struct Monitor {
    sums: BTreeMap<(CellId, usize), (f64, u64)>,
    rail: Option<Rail>,
    next_look_ms: u64,
}

/// The arms of a run: one default arm, or a trial's two.
#[derive(Debug)]
pub struct Arms {
    pub arms: Vec<ArmSpec>,
    pub trial: Option<TrialSpec>,
    rolled_back: AtomicBool,
    monitor: Mutex<Monitor>,
}

impl Arms {
    /// A single arm driven by model 0 with `policy`.
    pub fn single(policy: PolicyConfig) -> Self {
        Self::new(
            vec![ArmSpec {
                name: "default".into(),
                policy: ArmPolicy::Model(0),
                policy_cfg: policy,
            }],
            None,
        )
    }

    /// The two arms of `trial`.
    pub fn trial(trial: TrialSpec) -> Self {
        Self::new(trial.arms.to_vec(), Some(trial))
    }

    fn new(arms: Vec<ArmSpec>, trial: Option<TrialSpec>) -> Self {
        let rail = trial
            .as_ref()
            .and_then(|t| t.rail.as_ref())
            .map(|r| Rail::new(r.cfg));
        Self {
            arms,
            trial,
            rolled_back: AtomicBool::new(false),
            monitor: Mutex::new(Monitor {
                sums: BTreeMap::new(),
                rail,
                next_look_ms: 0,
            }),
        }
    }

    /// Who decides for `cell` at report time `t_ms`.
    pub fn roles(&self, cell: &CellId, t_ms: u64) -> Roles {
        match &self.trial {
            None => Roles {
                acting: CONTROL,
                shadow: None,
            },
            Some(_) if self.rolled_back() => Roles {
                acting: CONTROL,
                shadow: None,
            },
            Some(t) => t.assignment.roles(cell, t_ms),
        }
    }

    /// True once the guard rail has rolled the treatment back.
    pub fn rolled_back(&self) -> bool {
        self.rolled_back.load(Ordering::Acquire)
    }

    /// Adds a report of a cell acting under `arm` to the rail's units; looks when due.
    /// Returns the look when one was taken.
    pub fn observe(&self, report: &KpmReport, arm: usize) -> Option<Look> {
        let spec = self.trial.as_ref()?.rail.as_ref()?;
        let t_ms = report.collection_start_ms;
        let value = kpi_of(spec.kpi, report)?;
        let mut m = self.monitor.lock().ok()?;
        let e = m.sums.entry((report.cell, arm)).or_default();
        e.0 += value;
        e.1 += 1;
        if t_ms < m.next_look_ms || self.rolled_back() {
            return None;
        }
        m.next_look_ms = t_ms.saturating_add(spec.look_every_ms);
        let units = |a: usize| -> Vec<f64> {
            m.sums
                .iter()
                .filter(|((_, arm), _)| *arm == a)
                .map(|(_, (s, n))| s / *n as f64)
                .collect()
        };
        let (c, t) = (units(CONTROL), units(TREATMENT));
        let look = m.rail.as_mut()?.look(&c, &t);
        if look.tripped {
            self.rolled_back.store(true, Ordering::Release);
        }
        Some(look)
    }
}

#[cfg(test)]
mod tests {
    use nf_core::trial::Design;
    use nf_core::{MeasVec, Snssai};

    use super::*;

    fn report(cell: CellId, t_ms: u64, prb: f32) -> KpmReport {
        let mut m = MeasVec::default();
        m.set(nf_core::Meas::PrbUsedDl, prb);
        KpmReport {
            cell,
            collection_start_ms: t_ms,
            granularity_ms: 250,
            cell_meas: MeasVec::default(),
            slices: vec![(Snssai::new(1, None), m)],
        }
    }

    /// An online rail on a KPI of the shared vocabulary (`prb_used_dl`, lower is better)
    /// rolls back a treatment that uses far more PRBs; an offline-only KPI reads nothing.
    #[test]
    fn the_online_rail_watches_a_vocabulary_kpi_and_rolls_back() {
        let kpi: Kpi = "prb_used_dl".parse().unwrap();
        let arm = |name: &str| ArmSpec {
            name: name.into(),
            policy: ArmPolicy::Baseline(Baseline::Equal),
            policy_cfg: PolicyConfig::default(),
        };
        let arms = Arms::trial(TrialSpec {
            assignment: Assignment {
                design: Design::CellRandomised {
                    treatment_share: 0.5,
                },
                seed: 1,
            },
            arms: [arm("control"), arm("treatment")],
            rail: Some(RailSpec {
                cfg: RailConfig {
                    higher_is_better: kpi.higher_is_better(),
                    min_units: 4,
                    ..RailConfig::default()
                },
                kpi,
                look_every_ms: 1_000,
            }),
        });
        for t in 0..40u64 {
            for n in 0..16u64 {
                let cell = CellId::new([0, 0xf1, 0x10], n);
                let a = arms.roles(&cell, t * 250).acting;
                let prb = if a == TREATMENT { 40.0 } else { 20.0 } + (n % 4) as f32;
                arms.observe(&report(cell, t * 250, prb), a);
            }
        }
        assert!(arms.rolled_back());
        assert_eq!(
            kpi_of(Kpi::DelayDl, &report(CellId::new([0; 3], 1), 0, 1.0)),
            None
        );
    }
}
