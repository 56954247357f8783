//! Forecasts of per-slice PRB demand turned into slice PRB quotas.
//!
//! A quota is the RRM policy ratio triple of TS 28.541 (`rRMPolicyMinRatio`,
//! `rRMPolicyMaxRatio`, `rRMPolicyDedicatedRatio`), in percent of the cell's PRBs. The
//! median forecast plus headroom becomes the minimum (prioritised) share, the 90th
//! percentile plus headroom the maximum, and a configured fraction of the minimum is
//! dedicated. [`crate::guard`] then enforces the invariants before anything is sent.
//!
//! Model outputs are checked first ([`check_outputs`]): a NaN, an infinity or a value
//! outside `[0, cell_prbs]` (the range the contract promises) never becomes a control.

use crate::ids::Snssai;

/// Slice PRB quota, percent of the cell's DL PRBs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SliceQuota {
    pub snssai: Snssai,
    pub min_ratio: u8,
    pub max_ratio: u8,
    pub dedicated_ratio: u8,
}

/// A quota as carried on the wire before it is checked: (S-NSSAI, min, max, dedicated) in
/// percent, as plain integers (a hostile sender may put anything in them).
pub type WireQuota = (Snssai, u32, u32, u32);

impl SliceQuota {
    /// A wire quota, ratios saturated at 100 (use after [`crate::guard::validate`]).
    pub fn from_wire(&(snssai, min, max, ded): &WireQuota) -> Self {
        let pct = |v: u32| v.min(100) as u8;
        Self {
            snssai,
            min_ratio: pct(min),
            max_ratio: pct(max),
            dedicated_ratio: pct(ded),
        }
    }

    /// This quota in wire form.
    pub fn wire(&self) -> WireQuota {
        (
            self.snssai,
            self.min_ratio.into(),
            self.max_ratio.into(),
            self.dedicated_ratio.into(),
        )
    }
}

/// One slice's forecast of mean PRBs used per TTI in the next period.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Forecast {
    pub snssai: Snssai,
    pub p50_prb: f32,
    pub p90_prb: f32,
}

/// Relative slack above the contract's output ceiling before an output is refused.
pub const OUTPUT_SLACK: f32 = 0.01;

/// A model output that must not become a control.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
pub enum OutputError {
    /// The model produced NaN.
    #[error("model output {column} of row {row} is NaN")]
    NaN { row: usize, column: usize },
    /// The model produced +inf or -inf.
    #[error("model output {column} of row {row} is {value}")]
    Infinite {
        row: usize,
        column: usize,
        value: f32,
    },
    /// The model produced a finite value outside `[0, ceiling]`.
    #[error("model output {column} of row {row} is {value}, outside 0..={ceiling}")]
    OutOfRange {
        row: usize,
        column: usize,
        value: f32,
        ceiling: f32,
    },
    /// The model returned another number of rows than it was given.
    #[error("model returned {got} rows for {expected} slices")]
    RowCount { expected: usize, got: usize },
}

impl OutputError {
    /// Bounded metric label.
    pub fn kind(&self) -> &'static str {
        match self {
            OutputError::NaN { .. } => "model_output_nan",
            OutputError::Infinite { value, .. } if *value > 0.0 => "model_output_pos_inf",
            OutputError::Infinite { .. } => "model_output_neg_inf",
            OutputError::OutOfRange { .. } => "model_output_out_of_range",
            OutputError::RowCount { .. } => "model_output_rows",
        }
    }
}

/// Checks one decision's model outputs (one `[p50, p90]` row per slice) against the range
/// the contract promises: finite and within `[0, ceiling × (1 + OUTPUT_SLACK)]`.
pub fn check_outputs(rows: &[[f32; 2]], slices: usize, ceiling: f32) -> Result<(), OutputError> {
    if rows.len() != slices {
        return Err(OutputError::RowCount {
            expected: slices,
            got: rows.len(),
        });
    }
    let high = ceiling * (1.0 + OUTPUT_SLACK);
    for (row, pair) in rows.iter().enumerate() {
        for (column, &value) in pair.iter().enumerate() {
            if value.is_nan() {
                return Err(OutputError::NaN { row, column });
            }
            if value.is_infinite() {
                return Err(OutputError::Infinite { row, column, value });
            }
            if !(0.0..=high).contains(&value) {
                return Err(OutputError::OutOfRange {
                    row,
                    column,
                    value,
                    ceiling,
                });
            }
        }
    }
    Ok(())
}

/// Tunables of the forecast-to-quota mapping.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PolicyConfig {
    /// Multiplicative headroom on both forecasts (0.2 = 20 %).
    pub headroom: f32,
    /// Smallest maximum ratio given to any slice, so an idle slice can still start [%].
    pub max_ratio_floor: u8,
    /// Fraction of the minimum ratio made dedicated (0..=1).
    pub dedicated_share: f32,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            headroom: 0.2,
            max_ratio_floor: 10,
            dedicated_share: 0.5,
        }
    }
}

/// Maps forecasts to quotas for a cell with `prb_avail` DL PRBs.
pub fn quotas(forecasts: &[Forecast], prb_avail: f32, cfg: &PolicyConfig) -> Vec<SliceQuota> {
    let pct = |prb: f32| -> u8 {
        let r = (100.0 * prb * (1.0 + cfg.headroom) / prb_avail.max(1.0)).ceil();
        if r.is_finite() {
            r.clamp(0.0, 100.0) as u8
        } else {
            100
        }
    };
    forecasts
        .iter()
        .map(|f| {
            let min_ratio = pct(f.p50_prb);
            let max_ratio = pct(f.p90_prb.max(f.p50_prb))
                .max(cfg.max_ratio_floor)
                .max(min_ratio);
            let dedicated =
                (f32::from(min_ratio) * cfg.dedicated_share.clamp(0.0, 1.0)).floor() as u8;
            SliceQuota {
                snssai: f.snssai,
                min_ratio,
                max_ratio,
                dedicated_ratio: dedicated,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forecasts_become_ordered_ratios_with_headroom() {
        let s = Snssai::new(1, None);
        let q = quotas(
            &[Forecast {
                snssai: s,
                p50_prb: 10.0,
                p90_prb: 20.0,
            }],
            50.0,
            &PolicyConfig::default(),
        );
        assert_eq!(
            q,
            vec![SliceQuota {
                snssai: s,
                min_ratio: 24,
                max_ratio: 48,
                dedicated_ratio: 12
            }]
        );
        let idle = quotas(
            &[Forecast {
                snssai: s,
                p50_prb: 0.0,
                p90_prb: 0.0,
            }],
            50.0,
            &PolicyConfig::default(),
        );
        assert_eq!(idle[0].max_ratio, 10);
        let nan = quotas(
            &[Forecast {
                snssai: s,
                p50_prb: f32::NAN,
                p90_prb: 1e9,
            }],
            50.0,
            &PolicyConfig::default(),
        );
        assert!(nan[0].min_ratio <= nan[0].max_ratio && nan[0].max_ratio <= 100);
    }

    #[test]
    fn bad_outputs_are_refused_by_kind() {
        assert_eq!(check_outputs(&[[10.0, 50.4]], 1, 50.0), Ok(()));
        let kind = |v: f32| check_outputs(&[[1.0, 2.0], [1.0, v]], 2, 50.0).unwrap_err();
        assert_eq!(kind(f32::NAN).kind(), "model_output_nan");
        assert_eq!(kind(f32::INFINITY).kind(), "model_output_pos_inf");
        assert_eq!(kind(f32::NEG_INFINITY).kind(), "model_output_neg_inf");
        assert_eq!(kind(1e30).kind(), "model_output_out_of_range");
        assert_eq!(kind(-0.5).kind(), "model_output_out_of_range");
        assert!(kind(1e30).to_string().contains("row 1"));
        assert_eq!(
            check_outputs(&[[1.0, 2.0]], 2, 50.0).unwrap_err().kind(),
            "model_output_rows"
        );
    }
}
