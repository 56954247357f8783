//! Model input rows built from a slice's rolling window.
//!
//! A model's contract names its input features (KPM measurement names) in order; a
//! [`FeatureLayout`] resolves them once at start, and [`FeatureLayout::write_row`] fills one
//! `window × features` row of the batch with no allocation. Values the node did not report
//! are imputed by carrying the previous window's value forward (0 when there is none), so a
//! single missing measurement does not blank a slice.

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

/// Resolved order of the features of one model input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeatureLayout {
    features: Vec<Meas>,
    window: usize,
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
        Ok(Self { features, window })
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
        debug_assert_eq!(out.len(), self.row_len());
        debug_assert_eq!(rows.len(), self.window);
        let f = self.features.len();
        let mut imputed = 0;
        for (t, row) in rows.iter().enumerate() {
            for (j, m) in self.features.iter().enumerate() {
                let v = row.get(*m);
                out[t * f + j] = if v.is_finite() {
                    v
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
}
