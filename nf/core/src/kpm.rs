//! E2SM-KPM measurements the xApp understands, and a decoded KPM report.
//!
//! Names follow 3GPP TS 28.552; names starting with `VS.` are vendor-specific measurements
//! (no 3GPP name) taken from the SCOPE/srsRAN KPM set. A report holds one value per known
//! measurement per slice, `NaN` where the node sent none.
//!
//! [`KpmReport::check_ranges`] refuses a report carrying a physically impossible value
//! (a negative count, more PRBs than the cell has, a percentage above 100, a throughput of
//! 1e30): each measurement has a documented range ([`Meas::range`]).

use crate::ids::{CellId, Snssai};

/// A measurement known to the xApp.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Meas {
    /// `RRU.PrbUsedDl`: mean DL PRBs used per TTI [PRB].
    PrbUsedDl,
    /// `RRU.PrbAvailDl`: DL PRBs available [PRB].
    PrbAvailDl,
    /// `RRU.PrbTotDl`: DL total PRB usage [%].
    PrbTotDl,
    /// `DRB.UEThpDl`: DL UE throughput [kbit/s].
    UeThpDl,
    /// `DRB.UEThpUl`: UL UE throughput [kbit/s].
    UeThpUl,
    /// `RRC.ConnMean`: mean number of RRC-connected UEs [UE].
    ConnMean,
    /// `VS.DlBufferBytes` (vendor-specific): DL RLC buffer occupancy [byte].
    DlBufferBytes,
    /// `VS.PrbReqDl` (vendor-specific): mean DL PRBs requested per TTI [PRB].
    PrbReqDl,
    /// `VS.DlCqiMean` (vendor-specific): mean wideband DL CQI [0..15].
    DlCqiMean,
}

impl Meas {
    /// Every known measurement; the index in this array is the slot in a [`MeasVec`].
    pub const ALL: [Meas; 9] = [
        Meas::PrbUsedDl,
        Meas::PrbAvailDl,
        Meas::PrbTotDl,
        Meas::UeThpDl,
        Meas::UeThpUl,
        Meas::ConnMean,
        Meas::DlBufferBytes,
        Meas::PrbReqDl,
        Meas::DlCqiMean,
    ];
    /// Number of known measurements.
    pub const COUNT: usize = Self::ALL.len();

    /// The measurement name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Meas::PrbUsedDl => "RRU.PrbUsedDl",
            Meas::PrbAvailDl => "RRU.PrbAvailDl",
            Meas::PrbTotDl => "RRU.PrbTotDl",
            Meas::UeThpDl => "DRB.UEThpDl",
            Meas::UeThpUl => "DRB.UEThpUl",
            Meas::ConnMean => "RRC.ConnMean",
            Meas::DlBufferBytes => "VS.DlBufferBytes",
            Meas::PrbReqDl => "VS.PrbReqDl",
            Meas::DlCqiMean => "VS.DlCqiMean",
        }
    }

    /// Looks a wire name up; `None` for a measurement the xApp does not know.
    pub fn from_name(name: &str) -> Option<Meas> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    /// True for measurements with no TS 28.552 name.
    pub fn is_vendor_specific(self) -> bool {
        self.name().starts_with("VS.")
    }

    /// Slot of this measurement in a [`MeasVec`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Measurements reported per slice (labelled with an S-NSSAI).
    pub const PER_SLICE: [Meas; 7] = [
        Meas::PrbUsedDl,
        Meas::UeThpDl,
        Meas::UeThpUl,
        Meas::ConnMean,
        Meas::DlBufferBytes,
        Meas::PrbReqDl,
        Meas::DlCqiMean,
    ];
    /// Measurements reported for the whole cell (no label).
    pub const PER_CELL: [Meas; 2] = [Meas::PrbAvailDl, Meas::PrbTotDl];

    /// PRBs the cell actually granted: never more than its `RRU.PrbAvailDl`. Requested PRBs
    /// (`VS.PrbReqDl`) are demand, not use: UEs may ask for more than the cell has (seen in
    /// TRACTOR: 85 PRBs requested of 50).
    pub fn is_bounded_by_available(self) -> bool {
        matches!(self, Meas::PrbUsedDl)
    }

    /// Inclusive range of plausible values. PRBs used are further bounded by the cell's
    /// `RRU.PrbAvailDl` in [`KpmReport::check_ranges`].
    pub fn range(self) -> (f32, f32) {
        match self {
            Meas::PrbUsedDl | Meas::PrbAvailDl => (0.0, MAX_PRBS),
            Meas::PrbReqDl => (0.0, MAX_PRB_DEMAND),
            Meas::PrbTotDl => (0.0, 100.0),
            Meas::UeThpDl | Meas::UeThpUl => (0.0, MAX_THP_KBPS),
            Meas::ConnMean => (0.0, MAX_UES),
            Meas::DlBufferBytes => (0.0, MAX_BUFFER_BYTES),
            Meas::DlCqiMean => (0.0, 15.0),
        }
    }
}

/// Most PRBs of one NR carrier (TS 38.101-1 Table 5.3.2-1: 273 at 100 MHz / 30 kHz; 275 is
/// the most any numerology allows).
pub const MAX_PRBS: f32 = 275.0;
/// Largest plausible PRB demand of one slice, summed over its UEs [PRB].
pub const MAX_PRB_DEMAND: f32 = MAX_PRBS * 1024.0;
/// Largest plausible summed UE throughput of one slice [kbit/s] (100 Gbit/s).
pub const MAX_THP_KBPS: f32 = 1e8;
/// Largest plausible number of RRC-connected UEs of one cell.
pub const MAX_UES: f32 = 65_536.0;
/// Largest plausible DL RLC buffer of one slice [byte] (1 TiB).
pub const MAX_BUFFER_BYTES: f32 = 1_099_511_627_776.0;
/// Rounding slack when a PRB count is compared with `RRU.PrbAvailDl` [PRB].
pub const PRB_SLACK: f32 = 0.5;

/// A measurement outside its plausible range.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[error("measurement {} = {value} is outside its range {low}..={high}", .meas.name())]
pub struct RangeError {
    pub meas: Meas,
    pub value: f32,
    pub low: f32,
    pub high: f32,
}

impl RangeError {
    /// Bounded metric label.
    pub fn kind(&self) -> &'static str {
        if self.meas.is_bounded_by_available() && self.value > self.high && self.value <= MAX_PRBS {
            "prb_above_available"
        } else if self.value < self.low {
            "negative_measurement"
        } else {
            "measurement_out_of_range"
        }
    }
}

/// One value per known measurement; `NaN` marks a value that was not reported.
#[derive(Clone, Copy, Debug)]
pub struct MeasVec(pub [f32; Meas::COUNT]);

/// Two vectors are equal when every slot holds the same value or both are missing.
impl PartialEq for MeasVec {
    fn eq(&self, other: &Self) -> bool {
        self.0
            .iter()
            .zip(&other.0)
            .all(|(a, b)| a == b || (a.is_nan() && b.is_nan()))
    }
}

impl Default for MeasVec {
    fn default() -> Self {
        Self([f32::NAN; Meas::COUNT])
    }
}

impl MeasVec {
    pub fn get(&self, m: Meas) -> f32 {
        self.0[m.index()]
    }

    pub fn set(&mut self, m: Meas, v: f32) {
        self.0[m.index()] = v;
    }

    /// Value if reported.
    pub fn value(&self, m: Meas) -> Option<f32> {
        let v = self.get(m);
        (!v.is_nan()).then_some(v)
    }
}

/// A decoded E2SM-KPM indication (format 1) for one cell and one granularity period.
#[derive(Clone, Debug, PartialEq)]
pub struct KpmReport {
    pub cell: CellId,
    /// Start of the collection period, Unix milliseconds (from the indication header).
    pub collection_start_ms: u64,
    /// Granularity period [ms].
    pub granularity_ms: u32,
    /// Cell-level measurements (no label).
    pub cell_meas: MeasVec,
    /// Per-slice measurements, in the order the node listed the slices.
    pub slices: Vec<(Snssai, MeasVec)>,
}

impl KpmReport {
    /// PRBs available on the DL carrier, if the node reported them.
    pub fn prb_avail_dl(&self) -> Option<f32> {
        self.cell_meas.value(Meas::PrbAvailDl).filter(|v| *v > 0.0)
    }

    /// Checks every reported value against its measurement's range; PRB counts against
    /// this report's `RRU.PrbAvailDl`, else `known_prb_avail` (the cell's last report),
    /// else [`MAX_PRBS`]. Missing (`NaN`) values are not checked.
    pub fn check_ranges(&self, known_prb_avail: Option<f32>) -> Result<(), RangeError> {
        check_vec(&self.cell_meas, &Meas::PER_CELL, MAX_PRBS)?;
        let avail = self
            .prb_avail_dl()
            .or(known_prb_avail)
            .map_or(MAX_PRBS, |a| a + PRB_SLACK);
        for (_, m) in &self.slices {
            check_vec(m, &Meas::PER_SLICE, avail)?;
        }
        Ok(())
    }
}

fn check_vec(v: &MeasVec, which: &[Meas], prb_high: f32) -> Result<(), RangeError> {
    for &meas in which {
        let Some(value) = v.value(meas) else { continue };
        let (low, mut high) = meas.range();
        if meas.is_bounded_by_available() {
            high = high.min(prb_high);
        }
        if !(low..=high).contains(&value) {
            return Err(RangeError {
                meas,
                value,
                low,
                high,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_vendor_flag() {
        for m in Meas::ALL {
            assert_eq!(Meas::from_name(m.name()), Some(m));
        }
        assert_eq!(Meas::from_name("RRU.PrbUsedUl"), None);
        assert!(Meas::PrbReqDl.is_vendor_specific());
        assert!(!Meas::PrbUsedDl.is_vendor_specific());
        for (i, m) in Meas::ALL.iter().enumerate() {
            assert_eq!(m.index(), i);
        }
    }

    fn report(avail: f32, slice: &[(Meas, f32)]) -> KpmReport {
        let mut cell_meas = MeasVec::default();
        cell_meas.set(Meas::PrbAvailDl, avail);
        let mut m = MeasVec::default();
        for (k, v) in slice {
            m.set(*k, *v);
        }
        KpmReport {
            cell: CellId::new([0, 0xf1, 0x10], 1),
            collection_start_ms: 0,
            granularity_ms: 250,
            cell_meas,
            slices: vec![(Snssai::new(1, None), m)],
        }
    }

    #[test]
    fn impossible_measurements_are_named_and_classified() {
        let ok = report(
            50.0,
            &[
                (Meas::PrbUsedDl, 50.0),
                (Meas::DlCqiMean, 15.0),
                (Meas::UeThpDl, f32::NAN),
            ],
        );
        assert_eq!(ok.check_ranges(None), Ok(()));
        let cases = [
            (Meas::PrbUsedDl, -1.0, "negative_measurement"),
            (Meas::PrbUsedDl, 51.0, "prb_above_available"),
            (Meas::PrbReqDl, 1e30, "measurement_out_of_range"),
            (Meas::UeThpDl, 2f32.powi(62), "measurement_out_of_range"),
            (Meas::ConnMean, -3.0, "negative_measurement"),
            (Meas::DlCqiMean, 16.0, "measurement_out_of_range"),
        ];
        for (meas, value, kind) in cases {
            let err = report(50.0, &[(meas, value)])
                .check_ranges(None)
                .unwrap_err();
            assert_eq!((err.meas, err.kind()), (meas, kind), "{err}");
            assert!(err.to_string().contains(meas.name()), "{err}");
        }
        // A cell-level percentage above 100, and a cell with more PRBs than NR allows.
        let mut r = report(50.0, &[]);
        r.cell_meas.set(Meas::PrbTotDl, 101.0);
        assert_eq!(r.check_ranges(None).unwrap_err().meas, Meas::PrbTotDl);
        assert!(report(1e9, &[]).check_ranges(None).is_err());
        // Without PrbAvailDl in the report, the cell's last known value bounds PRB counts.
        let mut r = report(f32::NAN, &[(Meas::PrbUsedDl, 60.0)]);
        r.cell_meas = MeasVec::default();
        assert!(r.check_ranges(Some(50.0)).is_err());
        assert!(r.check_ranges(Some(106.0)).is_ok());
    }

    #[test]
    fn prbs_requested_may_exceed_the_cell_but_not_plausibility() {
        // TRACTOR's multi-UE cells ask for up to 85 PRBs of 50: demand, not use.
        let asked = report(50.0, &[(Meas::PrbReqDl, 85.4), (Meas::PrbUsedDl, 49.6)]);
        assert_eq!(asked.check_ranges(None), Ok(()));
        let err = report(50.0, &[(Meas::PrbReqDl, 2f32.powi(62))])
            .check_ranges(None)
            .unwrap_err();
        assert_eq!(err.kind(), "measurement_out_of_range");
    }
}
