//! A slice-policy model as a node serves it: the contract's slices and features resolved
//! once ([`PolicyLayout`]), its cell size and scaling rule, and the two steps that differ
//! from a forecaster: one input row per cell (`slices × window × features`, contract slice
//! order, zeros for a contract slice the cell lacks) and the quota check of its output
//! ([`quotas_from_output`]). Everything after (guard rails, latency budget, hysteresis,
//! decision log, E2SM-RC control) is the forecaster's path.

use std::collections::VecDeque;

use nf_core::kpm::MeasVec;
use nf_core::policy::SliceQuota;
use nf_core::slice_policy::{OutputRefusal, PolicyInputError, PolicyLayout, quotas_from_output};
use nf_core::{CellId, Snssai};
use nf_infer::contract::{Contract, ModelKind, PrbScaling};

/// A loaded slice-policy model, as the decide stage needs it.
#[derive(Clone, Debug)]
pub(crate) struct ServedPolicy {
    /// Contract name (logs).
    pub name: String,
    pub layout: PolicyLayout,
    /// DL PRBs of the cells the policy was trained on.
    pub cell_prbs: f32,
    pub prb_scaling: PrbScaling,
}

impl ServedPolicy {
    /// The policy view of `contract`, `None` for a forecaster.
    pub fn of(contract: &Contract) -> Result<Option<Self>, nf_core::features::LayoutError> {
        if contract.kind != ModelKind::SlicePolicy {
            return Ok(None);
        }
        let layout = PolicyLayout::new(
            contract.slices.clone(),
            &contract.feature_names(),
            contract.window(),
        )?
        .with_prb_counts(&contract.prb_inputs());
        Ok(Some(Self {
            name: contract.name.clone(),
            layout,
            cell_prbs: contract.cell_prbs as f32,
            prb_scaling: contract.prb_scaling,
        }))
    }

    /// The cell's input row, its PRB counts scaled by `prb_scale`.
    pub fn row(
        &self,
        cell: &[(Snssai, &VecDeque<MeasVec>)],
        prb_scale: f32,
    ) -> Result<Vec<f32>, PolicyInputError> {
        let mut row = vec![0.0; self.layout.row_len()];
        self.layout.write_row_scaled(cell, &mut row, prb_scale)?;
        Ok(row)
    }

    /// The quotas of one cell from its output row (`slices × [min, max]` as pairs).
    pub fn quotas(
        &self,
        out: &[[f32; 2]],
        cell_slices: &[Snssai],
    ) -> Result<Vec<SliceQuota>, OutputRefusal> {
        let flat: Vec<f32> = out.iter().flatten().copied().collect();
        quotas_from_output(&flat, cell_slices, &self.layout)
    }

    /// The message logged when `cell` is refused for `e`.
    pub fn refusal_message(&self, cell: &CellId, e: &PolicyInputError) -> String {
        format!(
            "slice policy {} cannot serve cell {cell}: {e} (contract slices {}): cell refused for this arm",
            self.name,
            self.slices_text()
        )
    }

    /// The contract's slices as `1, 2, 3`.
    pub fn slices_text(&self) -> String {
        let names: Vec<String> = self
            .layout
            .slices()
            .iter()
            .map(ToString::to_string)
            .collect();
        names.join(", ")
    }
}
