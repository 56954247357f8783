//! Forecasts of per-slice PRB demand turned into slice PRB quotas.
//!
//! A quota is the RRM policy ratio triple of TS 28.541 (`rRMPolicyMinRatio`,
//! `rRMPolicyMaxRatio`, `rRMPolicyDedicatedRatio`), in percent of the cell's PRBs. The
//! median forecast plus headroom becomes the minimum (prioritised) share, the 90th
//! percentile plus headroom the maximum, and a configured fraction of the minimum is
//! dedicated. [`crate::guard`] then enforces the invariants before anything is sent.

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
}
