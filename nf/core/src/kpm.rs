//! E2SM-KPM measurements the xApp understands, and a decoded KPM report.
//!
//! Names follow 3GPP TS 28.552; names starting with `VS.` are vendor-specific measurements
//! (no 3GPP name) taken from the SCOPE/srsRAN KPM set. A report holds one value per known
//! measurement per slice, `NaN` where the node sent none.

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
}
