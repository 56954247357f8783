//! Model input rows built from a slice's rolling window.
//!
//! A model's contract names its input features (KPM measurement names) in order; a
//! [`FeatureLayout`] resolves them once at start, and [`FeatureLayout::write_row`] fills one
//! `window × features` row of the batch with no allocation. Values the node did not report
//! are imputed by carrying the previous window's value forward (0 when there is none), so a
//! single missing measurement does not blank a slice.
//!
//! An input the node never reports at all (a UE-side trace has no PRB columns) is another
//! matter: [`FeatureLayout::absent`] names it, and the runtime refuses the cell unless the
//! configured [`MissingInputs`] policy says to impute it. PRB-count inputs can be scaled to
//! the cell size the model was trained on ([`FeatureLayout::write_row_scaled`]).

use std::collections::VecDeque;

use crate::kpm::{Meas, MeasVec};

/// Error resolving a contract's feature list.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LayoutError {
    /// The contract names a feature the xApp cannot produce.
    #[error("model input feature `{0}` is not a measurement this xApp collects")]
    UnknownFeature(String),
    /// The contract names no features.
    #[error("model contract lists no input features")]
    Empty,
}

/// What to do with a model input a cell's window never reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingInputs {
    /// Refuse the cell's decisions (counted `missing_input`): the model would read zeros.
    #[default]
    Refuse,
    /// Feed 0 for the absent input (counted `imputed_input`, logged once per cell).
    ImputeZero,
}

/// Resolved order of the features of one model input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeatureLayout {
    features: Vec<Meas>,
    window: usize,
    /// Per feature: a PRB count, scaled with the cell size.
    prb_count: Vec<bool>,
}

impl FeatureLayout {
    /// Resolves feature names (from a model contract) for a window of `window` rows.
    pub fn new<S: AsRef<str>>(names: &[S], window: usize) -> Result<Self, LayoutError> {
        if names.is_empty() {
            return Err(LayoutError::Empty);
        }
        let features = names
            .iter()
            .map(|n| {
                Meas::from_name(n.as_ref())
                    .ok_or_else(|| LayoutError::UnknownFeature(n.as_ref().to_owned()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let prb_count = vec![false; features.len()];
        Ok(Self {
            features,
            window,
            prb_count,
        })
    }

    /// Marks the features (by position) that are PRB counts, as the contract's units say.
    pub fn with_prb_counts(mut self, prb_count: &[bool]) -> Self {
        for (flag, set) in self.prb_count.iter_mut().zip(prb_count) {
            *flag = *set;
        }
        self
    }

    /// The first input with no value anywhere in `rows`, if any.
    pub fn absent(&self, rows: &VecDeque<MeasVec>) -> Option<Meas> {
        self.features
            .iter()
            .copied()
            .find(|m| rows.iter().all(|r| !r.get(*m).is_finite()))
    }

    /// Floats in one row: `window × features`.
    pub fn row_len(&self) -> usize {
        self.window * self.features.len()
    }

    pub fn window(&self) -> usize {
        self.window
    }

    pub fn features(&self) -> &[Meas] {
        &self.features
    }

    /// Writes one row for `rows` (oldest first) into `out` (length [`Self::row_len`]).
    /// Returns how many values were imputed.
    pub fn write_row(&self, rows: &VecDeque<MeasVec>, out: &mut [f32]) -> usize {
        self.write_row_scaled(rows, out, 1.0)
    }

    /// Like [`Self::write_row`], with PRB-count inputs multiplied by `prb_scale` (the
    /// model's cell size over this cell's).
    pub fn write_row_scaled(
        &self,
        rows: &VecDeque<MeasVec>,
        out: &mut [f32],
        prb_scale: f32,
    ) -> usize {
        debug_assert_eq!(out.len(), self.row_len());
        debug_assert_eq!(rows.len(), self.window);
        let f = self.features.len();
        let mut imputed = 0;
        for (t, row) in rows.iter().enumerate() {
            for (j, m) in self.features.iter().enumerate() {
                let v = row.get(*m);
                out[t * f + j] = if v.is_finite() {
                    if self.prb_count[j] { v * prb_scale } else { v }
                } else {
                    imputed += 1;
                    if t == 0 { 0.0 } else { out[(t - 1) * f + j] }
                };
            }
        }
        imputed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_feature_is_named() {
        let err = FeatureLayout::new(&["RRU.PrbUsedDl", "RRU.Bogus"], 2).unwrap_err();
        assert_eq!(err, LayoutError::UnknownFeature("RRU.Bogus".into()));
        assert!(err.to_string().contains("RRU.Bogus"));
    }

    #[test]
    fn rows_follow_contract_order_and_impute_forward() {
        let layout = FeatureLayout::new(&["DRB.UEThpDl", "RRU.PrbUsedDl"], 3).unwrap();
        let mut rows = VecDeque::new();
        for (thp, prb) in [(f32::NAN, 1.0), (20.0, f32::NAN), (30.0, 3.0)] {
            let mut m = MeasVec::default();
            m.set(Meas::UeThpDl, thp);
            m.set(Meas::PrbUsedDl, prb);
            rows.push_back(m);
        }
        let mut out = vec![0.0; layout.row_len()];
        assert_eq!(layout.write_row(&rows, &mut out), 2);
        assert_eq!(out, vec![0.0, 1.0, 20.0, 1.0, 30.0, 3.0]);
    }

    #[test]
    fn absent_inputs_are_named_and_prb_counts_scale() {
        let layout = FeatureLayout::new(&["DRB.UEThpDl", "RRU.PrbUsedDl"], 2)
            .unwrap()
            .with_prb_counts(&[false, true]);
        let mut rows = VecDeque::new();
        for thp in [10.0, 20.0] {
            let mut m = MeasVec::default();
            m.set(Meas::UeThpDl, thp);
            rows.push_back(m);
        }
        // A UE-side trace: throughput only, no PRB column at all.
        assert_eq!(layout.absent(&rows), Some(Meas::PrbUsedDl));
        rows[1].set(Meas::PrbUsedDl, 273.0);
        assert_eq!(layout.absent(&rows), None);
        let mut out = vec![0.0; layout.row_len()];
        layout.write_row_scaled(&rows, &mut out, 50.0 / 273.0);
        assert_eq!(out[..2], [10.0, 0.0]);
        assert_eq!(out[2], 20.0);
        assert!((out[3] - 50.0).abs() < 1e-4, "{out:?}");
    }
}
