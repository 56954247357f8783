//! Input rows of the interference model (`models/interference/`) from a UE's recent
//! UE-level reports, and the A3-style fixed-threshold rule the model is judged against.
//!
//! One row is the UE's last [`WINDOW`] report periods (1 s each, oldest first) ×
//! [`FEATURES`] values in [`FEATURE_NAMES`] order, raw units (the ONNX graph normalises).
//! `models/interference/train.py` builds the same rows with the same rules.
//!
//! Missing values: a missing value takes the latest earlier value of the window. Serving
//! `L1M.SS-RSRP` and `L1M.SS-SINR` must be present in the newest period (never carried
//! forward there). A serving measurement with nothing earlier in the window refuses the
//! row. The neighbour is different: "no neighbour reported" is information, not a gap, so
//! `VS.Nbr1.Present` is 0 for such a period and its RSRP/RSRQ take the latest earlier
//! neighbour value of the window, or the bottom of the reporting range ([`NBR_RSRP_FLOOR_DBM`],
//! [`NBR_RSRQ_FLOOR_DB`], "not heard") when there is none. A neighbour reported without
//! RSRQ takes the latest earlier neighbour RSRQ, else the floor.
//!
//! Values are checked first ([`UeRadio::check`]): NaN or impossible values refuse the row.

use crate::radio::{UeRadio, range, ue_meas};

/// Report periods in a row (1 s each).
pub const WINDOW: usize = 5;
/// Features per period.
pub const FEATURES: usize = 8;
/// Feature names in input order (the contract lists the same).
pub const FEATURE_NAMES: [&str; FEATURES] = [
    ue_meas::SS_RSRP,
    ue_meas::SS_RSRQ,
    ue_meas::SS_SINR,
    ue_meas::WB_CQI,
    ue_meas::NBR_SS_RSRP,
    ue_meas::NBR_SS_RSRQ,
    ue_meas::UE_THP_DL,
    NBR_PRESENT,
];
/// Vendor-specific: 1 if the UE reported a neighbour in the period, else 0.
pub const NBR_PRESENT: &str = "VS.Nbr1.Present";
/// Neighbour RSRP of a neighbour never heard in the window [dBm] (bottom of the range).
pub const NBR_RSRP_FLOOR_DBM: f32 = range::RSRP_DBM.0;
/// Neighbour RSRQ of a neighbour never heard in the window [dB] (bottom of the range).
pub const NBR_RSRQ_FLOOR_DB: f32 = range::RSRQ_DB.0;

/// Why no row could be written.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RowError {
    #[error("{have} reports of the UE, the model reads {WINDOW}")]
    TooShort { have: usize },
    #[error("{measurement} is missing (newest period, or nothing earlier in the window)")]
    Missing { measurement: &'static str },
    /// A value is NaN or outside its plausible range.
    #[error("{measurement} = {value} is outside its plausible range")]
    Invalid {
        measurement: &'static str,
        value: f32,
    },
}

impl RowError {
    /// Bounded label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            RowError::TooShort { .. } => "window_too_short",
            RowError::Missing { .. } => "measurement_missing",
            RowError::Invalid { .. } => "measurement_invalid",
        }
    }
}

/// Writes one row (`WINDOW * FEATURES` values) from the UE's reports, oldest first
/// (`window.len() >= WINDOW`; the last `WINDOW` are used). `out` must hold at least
/// `WINDOW * FEATURES` values.
pub fn write_row(window: &[UeRadio], out: &mut [f32]) -> Result<(), RowError> {
    if window.len() < WINDOW {
        return Err(RowError::TooShort { have: window.len() });
    }
    assert!(
        out.len() >= WINDOW * FEATURES,
        "row buffer of {} < {}",
        out.len(),
        WINDOW * FEATURES
    );
    let w = &window[window.len() - WINDOW..];
    for u in w {
        u.check().map_err(|e| RowError::Invalid {
            measurement: e.measurement,
            value: e.value,
        })?;
    }
    let newest = &w[WINDOW - 1];
    if newest.rsrp_dbm.is_none() {
        return Err(RowError::Missing {
            measurement: ue_meas::SS_RSRP,
        });
    }
    if newest.sinr_db.is_none() {
        return Err(RowError::Missing {
            measurement: ue_meas::SS_SINR,
        });
    }
    let serving: [(&'static str, fn(&UeRadio) -> Option<f32>); 5] = [
        (ue_meas::SS_RSRP, |u| u.rsrp_dbm),
        (ue_meas::SS_RSRQ, |u| u.rsrq_db),
        (ue_meas::SS_SINR, |u| u.sinr_db),
        (ue_meas::WB_CQI, |u| u.cqi),
        (ue_meas::UE_THP_DL, |u| u.thp_dl_kbps),
    ];
    let slot = [0usize, 1, 2, 3, 6];
    for ((name, get), &j) in serving.iter().zip(&slot) {
        let mut last: Option<f32> = None;
        for (t, u) in w.iter().enumerate() {
            last = get(u).or(last);
            out[t * FEATURES + j] = last.ok_or(RowError::Missing { measurement: name })?;
        }
    }
    let mut rsrp = NBR_RSRP_FLOOR_DBM;
    let mut rsrq = NBR_RSRQ_FLOOR_DB;
    for (t, u) in w.iter().enumerate() {
        let row = &mut out[t * FEATURES..(t + 1) * FEATURES];
        if let Some(n) = u.neighbour {
            rsrp = n.rsrp_dbm;
            rsrq = n.rsrq_db.unwrap_or(rsrq);
        }
        row[4] = rsrp;
        row[5] = rsrq;
        row[7] = if u.neighbour.is_some() { 1.0 } else { 0.0 };
    }
    Ok(())
}

/// The A3-style baseline the model is judged against: limited iff
/// `nbr_rsrp >= rsrp - offset_db` (offset tuned on training recordings; stated in the
/// card). False without a serving RSRP or a neighbour.
pub fn a3_rule(u: &UeRadio, offset_db: f32) -> bool {
    match (u.rsrp_dbm, u.neighbour) {
        (Some(rsrp), Some(n)) => n.rsrp_dbm >= rsrp - offset_db,
        _ => false,
    }
}

/// Largest `loss_db` an interference model may output: the reference SNR of the strongest
/// RSRP in range minus the lowest SINR (−31 + 122.2 + 23 ≈ 114 dB).
pub const MAX_LOSS_DB: f32 = 115.0;

/// A model output row that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OutputError {
    #[error("loss_db = {0} is not in 0..={MAX_LOSS_DB}")]
    Loss(f32),
    #[error("p_limited = {0} is not a probability")]
    Probability(f32),
}

impl OutputError {
    /// Bounded label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            OutputError::Loss(_) => "model_loss_out_of_range",
            OutputError::Probability(_) => "model_p_out_of_range",
        }
    }
}

/// Checks one output row `[loss_db, p_limited]` of an interference model (a small slack
/// below 0 is allowed for rounding; NaN never).
pub fn check_output(row: [f32; 2]) -> Result<(), OutputError> {
    let [loss, p] = row;
    if !(loss.is_finite() && (-1e-3..=MAX_LOSS_DB).contains(&loss)) {
        return Err(OutputError::Loss(loss));
    }
    if !(p.is_finite() && (0.0..=1.0).contains(&p)) {
        return Err(OutputError::Probability(p));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CellId;
    use crate::radio::{Neighbour, UeId};

    fn ue(rsrp: Option<f32>, sinr: Option<f32>, nbr: Option<f32>) -> UeRadio {
        UeRadio {
            ue: UeId(1),
            rsrp_dbm: rsrp,
            rsrq_db: Some(-11.0),
            sinr_db: sinr,
            cqi: Some(9.0),
            thp_dl_kbps: Some(1000.0),
            prb_used_dl: None,
            neighbour: nbr.map(|r| Neighbour {
                cell: CellId::new([0, 0xf1, 0x10], 0),
                rsrp_dbm: r,
                rsrq_db: Some(-14.0),
            }),
        }
    }

    #[test]
    fn row_layout_and_missing_value_rule() {
        let mut w = vec![
            ue(Some(-100.0), Some(1.0), None),
            ue(Some(-99.0), Some(2.0), Some(-104.0)),
            ue(None, None, None),
            ue(Some(-97.0), Some(4.0), Some(-101.0)),
            ue(Some(-96.0), Some(5.0), None),
        ];
        w[3].neighbour.as_mut().unwrap().rsrq_db = None;
        w[1].cqi = None;
        let mut out = [0f32; WINDOW * FEATURES];
        write_row(&w, &mut out).unwrap();
        let at = |t: usize, j: usize| out[t * FEATURES + j];
        assert_eq!(at(0, 0), -100.0);
        assert_eq!(at(2, 0), -99.0, "RSRP carried forward");
        assert_eq!(at(2, 2), 2.0, "SINR carried forward");
        assert_eq!(at(1, 3), 9.0, "CQI carried forward");
        assert_eq!(at(0, 4), NBR_RSRP_FLOOR_DBM);
        assert_eq!(at(0, 5), NBR_RSRQ_FLOOR_DB);
        assert_eq!(at(0, 7), 0.0);
        assert_eq!((at(1, 4), at(1, 5), at(1, 7)), (-104.0, -14.0, 1.0));
        assert_eq!((at(2, 4), at(2, 7)), (-104.0, 0.0));
        assert_eq!((at(3, 4), at(3, 5), at(3, 7)), (-101.0, -14.0, 1.0));
        assert_eq!((at(4, 4), at(4, 7)), (-101.0, 0.0));
        assert_eq!(at(4, 6), 1000.0);
        // Only the last WINDOW reports are used.
        let mut longer = vec![ue(Some(-50.0), Some(30.0), None)];
        longer.extend(w.iter().cloned());
        let mut out2 = [0f32; WINDOW * FEATURES];
        write_row(&longer, &mut out2).unwrap();
        assert_eq!(out, out2);
    }

    #[test]
    fn refusals_name_the_measurement() {
        let ok = ue(Some(-100.0), Some(1.0), None);
        let mut out = [0f32; WINDOW * FEATURES];
        assert_eq!(
            write_row(&vec![ok.clone(); 4], &mut out),
            Err(RowError::TooShort { have: 4 })
        );
        let mut w = vec![ok.clone(); 5];
        w[4].sinr_db = None;
        assert_eq!(
            write_row(&w, &mut out),
            Err(RowError::Missing {
                measurement: ue_meas::SS_SINR
            })
        );
        let mut w = vec![ok.clone(); 5];
        w[4].rsrp_dbm = None;
        assert_eq!(
            write_row(&w, &mut out).unwrap_err().reason(),
            "measurement_missing"
        );
        let mut w = vec![ok.clone(); 5];
        w[0].rsrq_db = None;
        assert_eq!(
            write_row(&w, &mut out),
            Err(RowError::Missing {
                measurement: ue_meas::SS_RSRQ
            })
        );
        let mut w = vec![ok.clone(); 5];
        w[2].cqi = Some(f32::NAN);
        match write_row(&w, &mut out) {
            Err(RowError::Invalid { measurement, .. }) => assert_eq!(measurement, ue_meas::WB_CQI),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a3_rule_and_output_check() {
        assert!(a3_rule(&ue(Some(-100.0), Some(1.0), Some(-103.0)), 3.0));
        assert!(!a3_rule(&ue(Some(-100.0), Some(1.0), Some(-103.5)), 3.0));
        assert!(a3_rule(&ue(Some(-100.0), Some(1.0), Some(-98.0)), -2.0));
        assert!(!a3_rule(&ue(Some(-100.0), Some(1.0), None), 50.0));
        assert!(!a3_rule(&ue(None, Some(1.0), Some(-50.0)), 3.0));
        assert!(check_output([12.0, 0.3]).is_ok());
        assert_eq!(
            check_output([f32::NAN, 0.3]).unwrap_err().reason(),
            "model_loss_out_of_range"
        );
        assert!(check_output([-3.0, 0.3]).is_err());
        assert!(check_output([10.0, 1.2]).is_err());
        assert!(check_output([10.0, f32::INFINITY]).is_err());
    }
}
