//! The A1 policy in a node's decisions: read once when a decision starts (a report arrived:
//! the tick boundary), with the slice loads its SLA floors need, and applied to that
//! decision's quotas before the guard invariants, whatever arrives meanwhile.

use std::sync::Arc;

use nf_core::a1::{EffectivePolicy, SliceLoad};
use nf_core::guard::GuardRails;
use nf_core::policy::SliceQuota;
use nf_core::state::CellTable;
use nf_core::{CellId, Meas, Snssai};

use crate::a1::PolicyWatch;
use crate::metrics::Metrics;

/// The A1 policy as a decision read it when it started, with what its SLA floors read.
#[derive(Debug)]
pub(crate) struct A1Snapshot {
    pub policy: Arc<EffectivePolicy>,
    /// Last report of each of the cell's ready slices.
    pub loads: Vec<(Snssai, SliceLoad)>,
    /// The cell's DL PRBs, if reported.
    pub prb_avail: Option<f32>,
}

/// What one node remembers of the policy between decisions.
#[derive(Debug, Default)]
pub(super) struct A1View {
    /// Generation of the policy the last decision started under.
    generation: u64,
}

impl A1View {
    /// The snapshot of a decision on `cell` starting now (`None`: no active instance). A
    /// policy change lifts the hysteresis once for every cell of the node (operator intent
    /// is not model noise: a new cap reaches each cell at its next decision, within the
    /// rate limit).
    pub fn snapshot(
        &mut self,
        watch: Option<&PolicyWatch>,
        guard: &mut GuardRails,
        table: &CellTable,
        cell: CellId,
    ) -> Option<Box<A1Snapshot>> {
        let policy = watch?.borrow().clone();
        if policy.generation() != self.generation {
            self.generation = policy.generation();
            guard.forget_all();
        }
        if policy.is_empty() {
            return None;
        }
        let loads = table
            .ready_slices(&cell)
            .filter_map(|(s, window)| {
                let last = window.back()?;
                let load = SliceLoad {
                    thp_kbps: last.get(Meas::UeThpDl),
                    prb_used: last.get(Meas::PrbUsedDl),
                    buffer_bytes: last.get(Meas::DlBufferBytes),
                };
                Some((s, load))
            })
            .collect();
        Some(Box::new(A1Snapshot {
            policy,
            loads,
            prb_avail: table.prb_avail_dl(&cell),
        }))
    }
}

impl A1Snapshot {
    /// Bounds `quotas` by the policy, counting the bounds that applied.
    pub fn bound(&self, quotas: &mut [SliceQuota], metrics: &Metrics) {
        let b = self.policy.bound(quotas, &self.loads, self.prb_avail);
        metrics.a1.bounded(b);
    }

    /// A cell whose last quota breaks the policy in force gets the bounded one whatever
    /// the hysteresis says (the rate limit still holds).
    pub fn lift_hysteresis(&self, guard: &mut GuardRails, cell: CellId) {
        if guard
            .last(&cell)
            .is_some_and(|last| !self.policy.admits(last))
        {
            guard.forget(cell);
        }
    }
}
