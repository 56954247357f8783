//! The slice utility: what a window of service was worth to each slice, judged by what
//! the slice got rather than by what the scheduler did.
//!
//! Per slice and report period (definition and rationale in `docs/slice-utility.md`):
//!
//! | service (SST) | term | in |
//! |---|---|---|
//! | eMBB (1, and any SST not listed) | `served / min(offered, servable)` | [0, 1] |
//! | URLLC (2) | 1 when `delay ≤ target`, else `target / delay` | (0, 1] |
//! | mMTC (3) | `served / offered` (delivered share) | [0, 1] |
//!
//! minus `sla_penalty` when the slice violated its SLA in the window. A slice with nothing
//! to serve has no utility (`None`): idle windows neither reward nor punish a policy. The
//! cell utility is the mean of the slice utilities weighted by the service weights.

use crate::Snssai;

/// Bytes below which a slice counts as having had nothing to serve.
pub const IDLE_BYTES: f64 = 1.0;

/// Weights of the slice utility (operator intent).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct UtilityWeights {
    /// Weight of an eMBB (SST 1, or unknown SST) slice in the cell mean.
    pub embb: f64,
    /// Weight of a URLLC (SST 2) slice.
    pub urllc: f64,
    /// Weight of an mMTC (SST 3) slice.
    pub mmtc: f64,
    /// Subtracted from a slice's utility for a window in which it violated its SLA.
    pub sla_penalty: f64,
}

impl Default for UtilityWeights {
    /// Every service counts the same; an SLA violation costs half a fully served window.
    fn default() -> Self {
        Self {
            embb: 1.0,
            urllc: 1.0,
            mmtc: 1.0,
            sla_penalty: 0.5,
        }
    }
}

/// Weights that cannot be used.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum WeightsError {
    /// A term is not `key=value`, or the key is unknown.
    #[error("utility weight `{0}`: expected embb=W, urllc=W, mmtc=W or sla=P")]
    Term(String),
    /// A value is not a finite number ≥ 0.
    #[error("utility weight `{key}` = `{value}`: must be a finite number ≥ 0")]
    Value { key: String, value: String },
    /// Every service weight is 0.
    #[error("utility weights: at least one of embb, urllc, mmtc must be > 0")]
    AllZero,
}

impl UtilityWeights {
    /// The weight of slice `s` by its SST.
    pub fn of(&self, s: Snssai) -> f64 {
        match s.sst {
            2 => self.urllc,
            3 => self.mmtc,
            _ => self.embb,
        }
    }

    /// Checks that the weights can be used.
    pub fn validate(&self) -> Result<(), WeightsError> {
        for (k, v) in [
            ("embb", self.embb),
            ("urllc", self.urllc),
            ("mmtc", self.mmtc),
            ("sla", self.sla_penalty),
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(WeightsError::Value {
                    key: k.into(),
                    value: v.to_string(),
                });
            }
        }
        if self.embb + self.urllc + self.mmtc <= 0.0 {
            return Err(WeightsError::AllZero);
        }
        Ok(())
    }
}

impl std::str::FromStr for UtilityWeights {
    type Err = WeightsError;

    /// `embb=1,urllc=1,mmtc=1,sla=0.5`; terms left out keep their default.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut w = UtilityWeights::default();
        for term in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (k, v) = term
                .split_once('=')
                .ok_or_else(|| WeightsError::Term(term.into()))?;
            let x: f64 = v.trim().parse().map_err(|_| WeightsError::Value {
                key: k.trim().into(),
                value: v.trim().into(),
            })?;
            match k.trim() {
                "embb" => w.embb = x,
                "urllc" => w.urllc = x,
                "mmtc" => w.mmtc = x,
                "sla" | "sla_penalty" => w.sla_penalty = x,
                _ => return Err(WeightsError::Term(term.into())),
            }
        }
        w.validate()?;
        Ok(w)
    }
}

/// What one slice was offered and got in one report period.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SliceOutcome {
    pub snssai: Snssai,
    /// Backlog at the start plus arrivals: what the slice had to serve [byte].
    pub offered_bytes: f64,
    /// What the slice's UEs could have been served with the whole cell at their channel
    /// [byte] (≤ offered).
    pub servable_bytes: f64,
    /// What they were served [byte].
    pub served_bytes: f64,
    /// Delay proxy [ms].
    pub delay_ms: f64,
    /// The slice's delay target [ms].
    pub delay_target_ms: f64,
    /// The slice violated its SLA in the period.
    pub sla_violation: bool,
}

fn share(num: f64, den: f64) -> f64 {
    if den <= 0.0 {
        1.0
    } else {
        (num / den).clamp(0.0, 1.0)
    }
}

/// The utility of one slice in one period, in `[−sla_penalty, 1]`; `None` when the slice
/// had nothing to serve (or an input is not finite).
pub fn slice_utility(o: &SliceOutcome, w: &UtilityWeights) -> Option<f64> {
    let finite = [
        o.offered_bytes,
        o.servable_bytes,
        o.served_bytes,
        o.delay_ms,
        o.delay_target_ms,
    ]
    .iter()
    .all(|x| x.is_finite());
    if !finite || o.offered_bytes < IDLE_BYTES {
        return None;
    }
    let base = match o.snssai.sst {
        2 => {
            if o.delay_ms <= o.delay_target_ms {
                1.0
            } else {
                (o.delay_target_ms / o.delay_ms).clamp(0.0, 1.0)
            }
        }
        3 => share(o.served_bytes, o.offered_bytes),
        _ => share(o.served_bytes, o.offered_bytes.min(o.servable_bytes)),
    };
    Some(base - if o.sla_violation { w.sla_penalty } else { 0.0 })
}

/// The cell's utility in one period: the mean of its slices' utilities weighted by
/// service; `None` when no slice with a positive weight had anything to serve.
pub fn cell_utility(outcomes: &[SliceOutcome], w: &UtilityWeights) -> Option<f64> {
    let (mut sum, mut wsum) = (0.0, 0.0);
    for o in outcomes {
        let wt = w.of(o.snssai);
        if wt <= 0.0 {
            continue;
        }
        if let Some(u) = slice_utility(o, w) {
            sum += wt * u;
            wsum += wt;
        }
    }
    (wsum > 0.0).then(|| sum / wsum)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(sst: u8, offered: f64, servable: f64, served: f64, delay: f64) -> SliceOutcome {
        SliceOutcome {
            snssai: Snssai::new(sst, None),
            offered_bytes: offered,
            servable_bytes: servable,
            served_bytes: served,
            delay_ms: delay,
            delay_target_ms: 50.0,
            sla_violation: false,
        }
    }

    #[test]
    fn embb_is_served_over_what_the_whole_cell_could_serve() {
        let w = UtilityWeights::default();
        // The channel limits the slice to 600 of 1000 bytes: serving 600 is perfect.
        assert_eq!(
            slice_utility(&out(1, 1000.0, 600.0, 600.0, 0.0), &w),
            Some(1.0)
        );
        assert_eq!(
            slice_utility(&out(1, 1000.0, 600.0, 300.0, 0.0), &w),
            Some(0.5)
        );
        assert_eq!(slice_utility(&out(1, 0.0, 0.0, 0.0, 0.0), &w), None);
    }

    #[test]
    fn urllc_is_smooth_in_delay_and_mmtc_is_the_delivered_share() {
        let w = UtilityWeights::default();
        assert_eq!(slice_utility(&out(2, 10.0, 10.0, 5.0, 40.0), &w), Some(1.0));
        assert_eq!(
            slice_utility(&out(2, 10.0, 10.0, 5.0, 100.0), &w),
            Some(0.5)
        );
        assert_eq!(
            slice_utility(&out(3, 10.0, 10.0, 2.5, 900.0), &w),
            Some(0.25)
        );
    }

    #[test]
    fn violations_are_penalised_and_the_cell_mean_is_weighted() {
        let w: UtilityWeights = "embb=3,urllc=1,mmtc=0,sla=0.5".parse().unwrap();
        let mut u = out(2, 10.0, 10.0, 5.0, 100.0);
        u.sla_violation = true;
        assert_eq!(slice_utility(&u, &w), Some(0.0));
        let cell = [
            out(1, 100.0, 100.0, 100.0, 0.0),
            u,
            out(3, 10.0, 10.0, 0.0, 0.0),
        ];
        assert_eq!(cell_utility(&cell, &w), Some(0.75));
        assert_eq!(cell_utility(&[out(1, 0.0, 0.0, 0.0, 0.0)], &w), None);
        assert_eq!(
            slice_utility(&out(1, f64::NAN, 1.0, 1.0, 0.0), &w),
            None,
            "not finite"
        );
    }

    #[test]
    fn bad_weights_are_refused_by_name() {
        let e = "embb=-1".parse::<UtilityWeights>().unwrap_err().to_string();
        assert!(e.contains("embb"), "{e}");
        let e = "foo=1".parse::<UtilityWeights>().unwrap_err().to_string();
        assert!(e.contains("foo"), "{e}");
        assert!("embb=0,urllc=0,mmtc=0".parse::<UtilityWeights>().is_err());
        assert_eq!("".parse::<UtilityWeights>(), Ok(UtilityWeights::default()));
    }
}
