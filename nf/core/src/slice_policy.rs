//! Slice-scheduling policy models: a whole cell in, slice PRB quotas out.
//!
//! A slice policy reads one cell at a time: for each S-NSSAI its contract lists (in that
//! order), the slice's KPM window (oldest first) with the contract's features, so one batch
//! row is `slices × window × features` floats. It answers one `(min_ratio, max_ratio)` pair
//! per contract slice, in percent of the cell's DL PRBs.
//!
//! - [`PolicyLayout::write_row`] builds the row. A cell slice the contract does not list
//!   refuses the cell ([`PolicyInputError::SliceNotInContract`]); a contract slice the cell
//!   lacks gets zeros in its rows and its output is ignored.
//! - [`quotas_from_output`] checks one output row before any of it becomes a control:
//!   finite, `0 ≤ min ≤ max ≤ 100` per slice and Σ min ≤ 100 over the cell's slices, each
//!   refusal with a bounded reason label ([`OutputRefusal::reason`]). Accepted values are
//!   rounded to whole percent (`dedicated_ratio` 0); the guard rails apply after.

use std::collections::VecDeque;

use crate::features::FeatureLayout;
pub use crate::features::LayoutError as FeatureError;
use crate::ids::Snssai;
use crate::kpm::MeasVec;
use crate::policy::SliceQuota;

/// Slack (percentage points) a policy output may pass 0 or 100 by through float rounding
/// before it is refused; accepted values are clamped.
pub const RATIO_SLACK: f32 = 1e-3;

/// Resolved input layout of a slice policy: contract slices, features, window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyLayout {
    slices: Vec<Snssai>,
    features: FeatureLayout,
}

/// Why a cell's input row cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyInputError {
    /// The cell carries a slice the model was not trained to allocate.
    #[error("slice {0} of the cell is not in the policy contract's slices")]
    SliceNotInContract(Snssai),
    /// The cell lists a slice twice.
    #[error("slice {0} appears twice in the cell")]
    DuplicateSlice(Snssai),
    /// A slice's window is shorter than the model reads.
    #[error("slice {snssai} has {have} windows, the policy reads {need}")]
    WindowFilling {
        snssai: Snssai,
        have: usize,
        need: usize,
    },
}

impl PolicyInputError {
    /// Bounded label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            PolicyInputError::SliceNotInContract(_) => "slice_not_in_contract",
            PolicyInputError::DuplicateSlice(_) => "duplicate_slice",
            PolicyInputError::WindowFilling { .. } => "window_filling",
        }
    }

    /// Every label [`Self::reason`] can return.
    pub const REASONS: [&'static str; 3] =
        ["slice_not_in_contract", "duplicate_slice", "window_filling"];
}

/// A policy output row that must not become a control.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum OutputRefusal {
    #[error("policy output {column} of slice {snssai} is NaN")]
    NaN {
        snssai: Snssai,
        column: &'static str,
    },
    #[error("policy output {column} of slice {snssai} is +inf")]
    PosInf {
        snssai: Snssai,
        column: &'static str,
    },
    #[error("policy output {column} of slice {snssai} is -inf")]
    NegInf {
        snssai: Snssai,
        column: &'static str,
    },
    /// A ratio outside 0..=100, min above max, or the mins summing over 100.
    #[error("policy output out of range: {0}")]
    OutOfRange(String),
    /// The row does not have `slices × 2` values.
    #[error("policy output row has {found} values, the contract gives {expected}")]
    Shape { expected: usize, found: usize },
}

impl OutputRefusal {
    /// Bounded label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            OutputRefusal::NaN { .. } => "model_output_nan",
            OutputRefusal::PosInf { .. } => "model_output_pos_inf",
            OutputRefusal::NegInf { .. } => "model_output_neg_inf",
            OutputRefusal::OutOfRange(_) | OutputRefusal::Shape { .. } => {
                "model_output_out_of_range"
            }
        }
    }

    /// Every label [`Self::reason`] can return.
    pub const REASONS: [&'static str; 4] = [
        "model_output_nan",
        "model_output_pos_inf",
        "model_output_neg_inf",
        "model_output_out_of_range",
    ];
}

/// Output columns per slice: `min_ratio`, `max_ratio`.
pub const OUTPUT_COLUMNS: [&str; 2] = ["min_ratio", "max_ratio"];

impl PolicyLayout {
    /// Resolves a policy contract's slices and feature names for a window of `window` rows.
    pub fn new(
        slices: Vec<Snssai>,
        feature_names: &[&str],
        window: usize,
    ) -> Result<Self, FeatureError> {
        Ok(Self {
            slices,
            features: FeatureLayout::new(feature_names, window)?,
        })
    }

    /// Marks the features (by position) that are PRB counts, as the contract's units say.
    pub fn with_prb_counts(mut self, prb_count: &[bool]) -> Self {
        self.features = self.features.with_prb_counts(prb_count);
        self
    }

    /// The contract's slices, in input/output order.
    pub fn slices(&self) -> &[Snssai] {
        &self.slices
    }

    /// Per-slice feature layout.
    pub fn features(&self) -> &FeatureLayout {
        &self.features
    }

    pub fn window(&self) -> usize {
        self.features.window()
    }

    /// Floats in one batch row: `slices × window × features`.
    pub fn row_len(&self) -> usize {
        self.slices.len() * self.features.row_len()
    }

    /// Floats of one batch row of the output: `slices × 2`.
    pub fn output_len(&self) -> usize {
        self.slices.len() * OUTPUT_COLUMNS.len()
    }

    /// Checks a cell's slices against the contract; returns, per cell slice, its position
    /// in the contract order.
    pub fn positions(&self, cell_slices: &[Snssai]) -> Result<Vec<usize>, PolicyInputError> {
        let mut pos = Vec::with_capacity(cell_slices.len());
        for (i, s) in cell_slices.iter().enumerate() {
            if cell_slices[..i].contains(s) {
                return Err(PolicyInputError::DuplicateSlice(*s));
            }
            let p = self
                .slices
                .iter()
                .position(|c| c == s)
                .ok_or(PolicyInputError::SliceNotInContract(*s))?;
            pos.push(p);
        }
        Ok(pos)
    }

    /// Writes one cell's row into `out` (length [`Self::row_len`]): each slice's last
    /// `window` windows (oldest first), zeros for contract slices the cell lacks.
    pub fn write_row(
        &self,
        cell: &[(Snssai, &VecDeque<MeasVec>)],
        out: &mut [f32],
    ) -> Result<(), PolicyInputError> {
        self.write_row_scaled(cell, out, 1.0).map(|_| ())
    }

    /// Like [`Self::write_row`], with PRB-count inputs multiplied by `prb_scale` (the
    /// model's cell size over this cell's). Returns how many values were imputed.
    pub fn write_row_scaled(
        &self,
        cell: &[(Snssai, &VecDeque<MeasVec>)],
        out: &mut [f32],
        prb_scale: f32,
    ) -> Result<usize, PolicyInputError> {
        debug_assert_eq!(out.len(), self.row_len());
        let slices: Vec<Snssai> = cell.iter().map(|(s, _)| *s).collect();
        let pos = self.positions(&slices)?;
        let need = self.window();
        if let Some((s, rows)) = cell.iter().find(|(_, rows)| rows.len() < need) {
            return Err(PolicyInputError::WindowFilling {
                snssai: *s,
                have: rows.len(),
                need,
            });
        }
        out.fill(0.0);
        let per = self.features.row_len();
        let mut imputed = 0;
        let mut tail = VecDeque::with_capacity(need);
        for ((_, rows), p) in cell.iter().zip(pos) {
            tail.clear();
            tail.extend(rows.iter().skip(rows.len() - need).copied());
            imputed +=
                self.features
                    .write_row_scaled(&tail, &mut out[p * per..(p + 1) * per], prb_scale);
        }
        Ok(imputed)
    }
}

fn check_finite(v: f32, snssai: Snssai, column: &'static str) -> Result<(), OutputRefusal> {
    if v.is_nan() {
        Err(OutputRefusal::NaN { snssai, column })
    } else if v == f32::INFINITY {
        Err(OutputRefusal::PosInf { snssai, column })
    } else if v == f32::NEG_INFINITY {
        Err(OutputRefusal::NegInf { snssai, column })
    } else {
        Ok(())
    }
}

/// Checks one policy output row (`out`: contract slices × [min_ratio, max_ratio]) and turns
/// the values of `cell_slices` into quotas, in `cell_slices` order. Rows of contract slices
/// the cell lacks are ignored.
pub fn quotas_from_output(
    out: &[f32],
    cell_slices: &[Snssai],
    layout: &PolicyLayout,
) -> Result<Vec<SliceQuota>, OutputRefusal> {
    if out.len() != layout.output_len() {
        return Err(OutputRefusal::Shape {
            expected: layout.output_len(),
            found: out.len(),
        });
    }
    let pos = layout
        .positions(cell_slices)
        .map_err(|e| OutputRefusal::OutOfRange(e.to_string()))?;
    let mut raw = Vec::with_capacity(cell_slices.len());
    for (s, p) in cell_slices.iter().zip(&pos) {
        let (min, max) = (out[2 * p], out[2 * p + 1]);
        check_finite(min, *s, OUTPUT_COLUMNS[0])?;
        check_finite(max, *s, OUTPUT_COLUMNS[1])?;
        let in_pct = |v: f32| (-RATIO_SLACK..=100.0 + RATIO_SLACK).contains(&v);
        if !in_pct(min) || !in_pct(max) || min > max + RATIO_SLACK {
            return Err(OutputRefusal::OutOfRange(format!(
                "slice {s}: min_ratio {min}, max_ratio {max} (need 0 <= min <= max <= 100)"
            )));
        }
        raw.push((min.clamp(0.0, 100.0), max.clamp(0.0, 100.0)));
    }
    let sum: f32 = raw.iter().map(|(m, _)| m).sum();
    if sum > 100.0 + RATIO_SLACK {
        return Err(OutputRefusal::OutOfRange(format!(
            "min_ratio sums to {sum} over the cell's slices (at most 100)"
        )));
    }
    let mut quotas: Vec<SliceQuota> = cell_slices
        .iter()
        .zip(&raw)
        .map(|(s, (min, max))| {
            let min = min.round() as u8;
            SliceQuota {
                snssai: *s,
                min_ratio: min,
                max_ratio: (max.round() as u8).max(min),
                dedicated_ratio: 0,
            }
        })
        .collect();
    // Rounding up several mins can pass 100 by a point or two: take them back from the
    // largest.
    while quotas.iter().map(|q| u32::from(q.min_ratio)).sum::<u32>() > 100 {
        if let Some(q) = quotas.iter_mut().max_by_key(|q| q.min_ratio) {
            q.min_ratio -= 1;
        }
    }
    Ok(quotas)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kpm::Meas;

    fn s(sst: u8) -> Snssai {
        Snssai::new(sst, None)
    }

    fn layout() -> PolicyLayout {
        PolicyLayout::new(
            vec![s(1), s(2), s(3)],
            &["RRU.PrbUsedDl", "RRC.ConnMean"],
            2,
        )
        .unwrap()
        .with_prb_counts(&[true, false])
    }

    fn rows(prb: &[f32], ues: f32) -> VecDeque<MeasVec> {
        prb.iter()
            .map(|p| {
                let mut m = MeasVec::default();
                m.set(Meas::PrbUsedDl, *p);
                m.set(Meas::ConnMean, ues);
                m
            })
            .collect()
    }

    #[test]
    fn rows_follow_contract_slice_order_with_zeros_for_missing_slices() {
        let l = layout();
        assert_eq!(l.row_len(), 3 * 2 * 2);
        let embb = rows(&[9.0, 1.0, 2.0], 4.0); // longer than the window: last two used
        let mmtc = rows(&[5.0, 6.0], 1.0);
        let mut out = vec![7.0; l.row_len()];
        // The cell lists mMTC first and has no URLLC slice.
        l.write_row(&[(s(3), &mmtc), (s(1), &embb)], &mut out)
            .unwrap();
        assert_eq!(
            out,
            vec![1.0, 4.0, 2.0, 4.0, 0.0, 0.0, 0.0, 0.0, 5.0, 1.0, 6.0, 1.0]
        );
        l.write_row_scaled(&[(s(1), &embb)], &mut out, 0.5).unwrap();
        assert_eq!(out[..4], [0.5, 4.0, 1.0, 4.0]);
    }

    #[test]
    fn cells_the_contract_cannot_serve_are_refused_by_reason() {
        let l = layout();
        let r = rows(&[1.0, 2.0], 1.0);
        let mut out = vec![0.0; l.row_len()];
        let e = l
            .write_row(&[(s(1), &r), (s(4), &r)], &mut out)
            .unwrap_err();
        assert_eq!(e, PolicyInputError::SliceNotInContract(s(4)));
        assert_eq!(e.reason(), "slice_not_in_contract");
        assert!(e.to_string().contains("slice 4"), "{e}");
        let e = l
            .write_row(&[(s(1), &r), (s(1), &r)], &mut out)
            .unwrap_err();
        assert_eq!(e.reason(), "duplicate_slice");
        let short = rows(&[1.0], 1.0);
        let e = l.write_row(&[(s(2), &short)], &mut out).unwrap_err();
        assert_eq!(e.reason(), "window_filling");
        assert!(PolicyInputError::REASONS.contains(&e.reason()));
    }

    #[test]
    fn outputs_become_rounded_quotas_in_cell_order() {
        let l = layout();
        // Contract order 1, 2, 3; the cell has 3 and 1. URLLC's row is ignored (even if
        // it would break the sum).
        let out = [20.4, 60.6, 90.0, 100.0, 30.0, 79.5];
        let q = quotas_from_output(&out, &[s(3), s(1)], &l).unwrap();
        assert_eq!(
            q,
            vec![
                SliceQuota {
                    snssai: s(3),
                    min_ratio: 30,
                    max_ratio: 80,
                    dedicated_ratio: 0
                },
                SliceQuota {
                    snssai: s(1),
                    min_ratio: 20,
                    max_ratio: 61,
                    dedicated_ratio: 0
                },
            ]
        );
        // Thirds that round up are brought back to 100 in total.
        let third = 100.0 / 3.0 + 0.4;
        let out = [third, 100.0, third, 100.0, 100.0 - 2.0 * third, 100.0];
        let q = quotas_from_output(&out, &[s(1), s(2), s(3)], &l).unwrap();
        assert!(
            q.iter().map(|q| u32::from(q.min_ratio)).sum::<u32>() <= 100,
            "{q:?}"
        );
        assert!(q.iter().all(|q| q.min_ratio <= q.max_ratio));
    }

    #[test]
    fn bad_outputs_are_refused_with_bounded_reasons() {
        let l = layout();
        let all = [s(1), s(2), s(3)];
        let ok = [10.0, 50.0, 10.0, 50.0, 10.0, 50.0];
        let cases: [(usize, f32, &str); 7] = [
            (0, f32::NAN, "model_output_nan"),
            (1, f32::INFINITY, "model_output_pos_inf"),
            (2, f32::NEG_INFINITY, "model_output_neg_inf"),
            (0, -1.0, "model_output_out_of_range"),
            (1, 100.5, "model_output_out_of_range"),
            (0, 60.0, "model_output_out_of_range"), // min above max
            (4, 50.0, "model_output_out_of_range"), // sum of mins 70 is fine...
        ];
        for (i, v, reason) in cases {
            let mut out = ok;
            out[i] = v;
            let r = quotas_from_output(&out, &all, &l);
            if i == 4 {
                assert!(r.is_ok(), "{r:?}");
                continue;
            }
            let e = r.unwrap_err();
            assert_eq!(e.reason(), reason, "{e}");
            assert!(OutputRefusal::REASONS.contains(&e.reason()));
        }
        // ...but mins of 40 + 40 + 40 are not.
        let out = [40.0, 50.0, 40.0, 50.0, 40.0, 50.0];
        let e = quotas_from_output(&out, &all, &l).unwrap_err();
        assert_eq!(e.reason(), "model_output_out_of_range");
        assert!(e.to_string().contains("120"), "{e}");
        // Unless the cell only has two of the slices.
        assert!(quotas_from_output(&out, &[s(1), s(3)], &l).is_ok());
        let e = quotas_from_output(&out[..4], &all, &l).unwrap_err();
        assert_eq!(e.reason(), "model_output_out_of_range");
    }
}
