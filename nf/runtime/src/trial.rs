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
use nf_core::trial::sequential::{Look, Rail, RailConfig};
use nf_core::trial::{Assignment, CONTROL, Roles, TREATMENT};
use nf_core::{CellId, KpmReport, Meas};

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

/// A cell-level KPI read from a KPM report (summed over slices).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kpi {
    /// `DRB.UEThpDl` [kbit/s]: higher is better.
    ThroughputDl,
    /// `VS.DlBufferBytes` [byte]: lower is better (the delay proxy's numerator).
    BufferDl,
}

impl Kpi {
    pub fn name(self) -> &'static str {
        match self {
            Kpi::ThroughputDl => "DRB.UEThpDl",
            Kpi::BufferDl => "VS.DlBufferBytes",
        }
    }

    pub fn higher_is_better(self) -> bool {
        matches!(self, Kpi::ThroughputDl)
    }

    /// The KPI of one report, if every slice carried it.
    pub fn of(self, report: &KpmReport) -> Option<f64> {
        let m = match self {
            Kpi::ThroughputDl => Meas::UeThpDl,
            Kpi::BufferDl => Meas::DlBufferBytes,
        };
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
        let value = spec.kpi.of(report)?;
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
