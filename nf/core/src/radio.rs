//! UE-level radio telemetry: what the interference xApp reads from E2SM-KPM report style 4
//! (common condition-based, UE-level measurements; indication message format 3) and the
//! cell-level distributions and load of report style 1.
//!
//! Names follow TS 28.552 where it defines the measurement. A per-UE value of a quantity
//! 28.552 defines only as a cell-level distribution (SS-RSRP, SS-RSRQ, SS-SINR, wideband
//! CQI) is carried under the distribution's base name, as E2SM-KPM UE-level reports do;
//! the strongest neighbour's measurements come from the UE's RRC measurement report and
//! have no 28.552 name: they are vendor-specific (`VS.`) and marked so.
//!
//! Nothing here does I/O: codecs produce these types, the xApp and the simulator consume
//! them.

use crate::ids::CellId;

/// A UE as E2SM identifies it here: the AMF UE NGAP ID of the `gNB` choice of `UEID`
/// (E2SM common IEs 6.2.2.1; TS 38.413 9.3.3.1, 0..2^40-1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UeId(pub u64);

impl UeId {
    /// Largest AMF UE NGAP ID (40 bits).
    pub const MAX: u64 = (1 << 40) - 1;
}

impl std::fmt::Display for UeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ue-{}", self.0)
    }
}

/// UE-level measurement names (report style 4).
pub mod ue_meas {
    /// Serving SS-RSRP of the UE [dBm] (per-UE value of TS 28.552 5.1.1.22.1 `L1M.SS-RSRP`).
    pub const SS_RSRP: &str = "L1M.SS-RSRP";
    /// Serving SS-RSRQ [dB] (per-UE value of TS 28.552 5.1.1.22.2 `L1M.SS-RSRQ`).
    pub const SS_RSRQ: &str = "L1M.SS-RSRQ";
    /// Serving SS-SINR [dB] (per-UE value of TS 28.552 5.1.1.22.3 `L1M.SS-SINR`).
    pub const SS_SINR: &str = "L1M.SS-SINR";
    /// Wideband CQI of the UE, 0..15 (per-UE value of TS 28.552 5.1.1.11.1 `CARR.WBCQIDist`).
    pub const WB_CQI: &str = "CARR.WBCQIDist";
    /// UE DL throughput [kbit/s] (TS 28.552 5.1.1.3.1 `DRB.UEThpDl`).
    pub const UE_THP_DL: &str = "DRB.UEThpDl";
    /// DL PRBs used by the UE (TS 28.552 5.1.1.2.1 `RRU.PrbUsedDl`, per UE).
    pub const PRB_USED_DL: &str = "RRU.PrbUsedDl";
    /// Vendor-specific: strongest neighbour's NR cell identity (36 bits, as an integer).
    pub const NBR_NCI: &str = "VS.Nbr1.NCI";
    /// Vendor-specific: strongest neighbour's SS-RSRP [dBm].
    pub const NBR_SS_RSRP: &str = "VS.Nbr1.SS-RSRP";
    /// Vendor-specific: strongest neighbour's SS-RSRQ [dB].
    pub const NBR_SS_RSRQ: &str = "VS.Nbr1.SS-RSRQ";

    /// Every UE-level name, in the order an action definition asks for them.
    pub const ALL: [&str; 9] = [
        SS_RSRP,
        SS_RSRQ,
        SS_SINR,
        WB_CQI,
        UE_THP_DL,
        PRB_USED_DL,
        NBR_NCI,
        NBR_SS_RSRP,
        NBR_SS_RSRQ,
    ];

    /// Whether `name` is vendor-specific (not defined by TS 28.552).
    pub fn is_vendor_specific(name: &str) -> bool {
        name.starts_with("VS.")
    }
}

/// Cell-level radio measurement names (report style 1 of the interference xApp).
pub mod cell_meas {
    /// DL PRBs used in the cell (TS 28.552 5.1.1.2.1).
    pub const PRB_USED_DL: &str = "RRU.PrbUsedDl";
    /// DL PRBs available in the cell (TS 28.552 5.1.1.2.3).
    pub const PRB_AVAIL_DL: &str = "RRU.PrbAvailDl";
    /// Wideband CQI distribution bin `X` (TS 28.552 5.1.1.11.1), X = 0..15 (the CQI).
    pub const WB_CQI_BIN_PREFIX: &str = "CARR.WBCQIDist.Bin";
    /// SS-RSRP distribution bin `X` (TS 28.552 5.1.1.22.1), bins of [`RSRP_BIN_EDGES_DBM`].
    pub const SS_RSRP_BIN_PREFIX: &str = "L1M.SS-RSRP.Bin";
}

/// Number of wideband CQI bins (CQI 0..15).
pub const CQI_BINS: usize = 16;
/// Number of SS-RSRP bins.
pub const RSRP_BINS: usize = 16;
/// Lower edges of the SS-RSRP bins [dBm]: bin 0 is everything below −136, then 4 dB wide,
/// the last open above −80 (28.552 leaves the bin ranges to configuration; these are ours).
pub const RSRP_BIN_EDGES_DBM: [f32; RSRP_BINS] = [
    -156.0, -136.0, -132.0, -128.0, -124.0, -120.0, -116.0, -112.0, -108.0, -104.0, -100.0, -96.0,
    -92.0, -88.0, -84.0, -80.0,
];

/// The bin of `rsrp_dbm` in [`RSRP_BIN_EDGES_DBM`].
pub fn rsrp_bin(rsrp_dbm: f32) -> usize {
    RSRP_BIN_EDGES_DBM
        .iter()
        .rposition(|&edge| rsrp_dbm >= edge)
        .unwrap_or(0)
}

/// Thermal noise per 30 kHz resource element with a 7 dB UE noise figure [dBm]:
/// −174 dBm/Hz + 10·log10(30 000) + 7 dB. The no-interference reference SNR of a UE is
/// `RSRP − NOISE_PER_RE_DBM`.
pub const NOISE_PER_RE_DBM: f32 = -122.2;

/// Plausible ranges: a value outside is refused with the measurement's name.
pub mod range {
    /// SS-RSRP [dBm] (TS 38.133 reporting range −156..−31).
    pub const RSRP_DBM: (f32, f32) = (-156.0, -31.0);
    /// SS-RSRQ [dB] (TS 38.133 −43..20).
    pub const RSRQ_DB: (f32, f32) = (-43.0, 20.0);
    /// SS-SINR [dB] (TS 38.133 −23..40).
    pub const SINR_DB: (f32, f32) = (-23.0, 40.0);
    /// Wideband CQI.
    pub const CQI: (f32, f32) = (0.0, 15.0);
}

/// The strongest neighbour a UE reports.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Neighbour {
    pub cell: CellId,
    pub rsrp_dbm: f32,
    pub rsrq_db: Option<f32>,
}

/// One UE's measurements over one report period.
#[derive(Clone, Debug, PartialEq)]
pub struct UeRadio {
    pub ue: UeId,
    pub rsrp_dbm: Option<f32>,
    pub rsrq_db: Option<f32>,
    pub sinr_db: Option<f32>,
    pub cqi: Option<f32>,
    pub thp_dl_kbps: Option<f32>,
    pub prb_used_dl: Option<f32>,
    pub neighbour: Option<Neighbour>,
}

impl UeRadio {
    /// A UE with nothing measured yet.
    pub fn empty(ue: UeId) -> Self {
        Self {
            ue,
            rsrp_dbm: None,
            rsrq_db: None,
            sinr_db: None,
            cqi: None,
            thp_dl_kbps: None,
            prb_used_dl: None,
            neighbour: None,
        }
    }

    /// Refuses NaN, infinite and impossible values, naming the measurement.
    pub fn check(&self) -> Result<(), RadioRangeError> {
        let chk = |name: &'static str, v: Option<f32>, (lo, hi): (f32, f32)| match v {
            Some(v) if !v.is_finite() || v < lo || v > hi => Err(RadioRangeError {
                ue: self.ue,
                measurement: name,
                value: v,
            }),
            _ => Ok(()),
        };
        chk(ue_meas::SS_RSRP, self.rsrp_dbm, range::RSRP_DBM)?;
        chk(ue_meas::SS_RSRQ, self.rsrq_db, range::RSRQ_DB)?;
        chk(ue_meas::SS_SINR, self.sinr_db, range::SINR_DB)?;
        chk(ue_meas::WB_CQI, self.cqi, range::CQI)?;
        chk(
            ue_meas::UE_THP_DL,
            self.thp_dl_kbps,
            (0.0, crate::kpm::MAX_THP_KBPS),
        )?;
        chk(
            ue_meas::PRB_USED_DL,
            self.prb_used_dl,
            (0.0, crate::kpm::MAX_PRBS),
        )?;
        if let Some(n) = self.neighbour {
            chk(ue_meas::NBR_SS_RSRP, Some(n.rsrp_dbm), range::RSRP_DBM)?;
            chk(ue_meas::NBR_SS_RSRQ, n.rsrq_db, range::RSRQ_DB)?;
        }
        Ok(())
    }

    /// Interference-plus-noise rise over the thermal floor [dB]: the SNR lost to
    /// interference against the no-interference reference `RSRP − noise`, i.e.
    /// `(RSRP − NOISE_PER_RE_DBM) − SINR`, at least 0. `None` without RSRP and SINR.
    pub fn interference_loss_db(&self) -> Option<f32> {
        Some((self.rsrp_dbm? - NOISE_PER_RE_DBM - self.sinr_db?).max(0.0))
    }
}

/// A UE-level value outside its plausible range (or NaN).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{ue}: {measurement} = {value} is outside its plausible range")]
pub struct RadioRangeError {
    pub ue: UeId,
    pub measurement: &'static str,
    pub value: f32,
}

/// One UE-level indication (report style 4): every UE the node reported for one cell and
/// one period.
#[derive(Clone, Debug, PartialEq)]
pub struct UeLevelReport {
    /// The serving cell of every UE listed.
    pub cell: CellId,
    /// Collection start time [ms since the Unix epoch].
    pub collection_start_ms: u64,
    pub granularity_ms: u32,
    pub ues: Vec<UeRadio>,
}

/// One cell-level radio report (report style 1 of the interference xApp): load and the
/// CQI / SS-RSRP distributions over the period.
#[derive(Clone, Debug, PartialEq)]
pub struct CellRadio {
    pub cell: CellId,
    pub collection_start_ms: u64,
    pub granularity_ms: u32,
    pub prb_used_dl: Option<f32>,
    pub prb_avail_dl: Option<f32>,
    /// UE-reports per wideband CQI value 0..15.
    pub cqi_bins: [u32; CQI_BINS],
    /// UE-reports per SS-RSRP bin of [`RSRP_BIN_EDGES_DBM`].
    pub rsrp_bins: [u32; RSRP_BINS],
}

impl CellRadio {
    /// DL PRB utilisation 0..1, if both counts are known and the cell has PRBs.
    pub fn load(&self) -> Option<f32> {
        match (self.prb_used_dl, self.prb_avail_dl) {
            (Some(u), Some(a)) if a > 0.0 => Some((u / a).clamp(0.0, 1.0)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsrp_bins_cover_the_range() {
        assert_eq!(rsrp_bin(-160.0), 0);
        assert_eq!(rsrp_bin(-140.0), 0);
        assert_eq!(rsrp_bin(-136.0), 1);
        assert_eq!(rsrp_bin(-85.0), 13);
        assert_eq!(rsrp_bin(-40.0), RSRP_BINS - 1);
    }

    #[test]
    fn impossible_values_are_named() {
        let mut u = UeRadio::empty(UeId(7));
        u.rsrp_dbm = Some(-85.0);
        u.sinr_db = Some(7.0);
        assert!(u.check().is_ok());
        assert_eq!(u.interference_loss_db(), Some(-85.0 + 122.2 - 7.0));
        u.sinr_db = Some(f32::NAN);
        assert_eq!(u.check().unwrap_err().measurement, ue_meas::SS_SINR);
        u.sinr_db = None;
        u.neighbour = Some(Neighbour {
            cell: CellId::new([0, 0xf1, 0x10], 2),
            rsrp_dbm: 5.0,
            rsrq_db: None,
        });
        assert_eq!(u.check().unwrap_err().measurement, ue_meas::NBR_SS_RSRP);
    }
}
