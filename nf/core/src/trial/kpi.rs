//! The trial KPI vocabulary, defined once for online trials (the xApp's `[trial]` guard
//! rail) and offline trials (`abtrial` on the twin).
//!
//! Every KPI is a cell value per report period, summed (or averaged) over the slices. A
//! name that is not in this list is refused with the list of known names: a guard rail on
//! a misspelt KPI must not silently watch nothing.

use std::fmt;
use std::str::FromStr;

use crate::Meas;

/// A cell-level KPI an A/B trial compares and a guard rail can watch.
///
/// The discriminant is the KPI's index in offline per-window value arrays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kpi {
    /// `DRB.UEThpDl` summed over slices [kbit/s]; higher is better.
    ThroughputDl = 0,
    /// `RRU.PrbUsedDl` summed over slices [PRB]; lower is better (cost of the service).
    PrbUsedDl = 1,
    /// Delay proxy `B/(S/T)` (Little's law), mean over slices [ms]; lower is better.
    /// Offline only: the twin knows queue and service per window.
    DelayDl = 2,
    /// Share of slices whose delay proxy is above the slice's target [0..1].
    /// Offline only.
    SlaViolationShare = 3,
    /// E2SM-RC controls sent per report period [1]. Offline only.
    Controls = 4,
    /// `VS.DlBufferBytes` summed over slices [byte]; lower is better.
    BufferDl = 5,
    /// Slice utility ([`crate::trial::utility`]): the service-weighted mean over slices
    /// of what each slice got of what it could have had, SLA violations penalised [1];
    /// higher is better. Offline only (the twin knows offered and servable bytes); idle
    /// windows (no slice with anything to serve) do not count.
    SliceUtility = 6,
}

/// Known KPI names, in [`Kpi::ALL`] order (checked by a test).
pub const NAMES: &str =
    "throughput_dl, prb_used_dl, delay_dl, sla_violation_share, controls, buffer_dl, slice_utility";
/// The config rule of an online guard-rail KPI.
pub const ONLINE_RULE: &str =
    "must be a KPI measured online: throughput_dl, prb_used_dl or buffer_dl";

/// A KPI name that is not in the vocabulary.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown KPI `{name}`; known KPIs: {NAMES}")]
pub struct UnknownKpi {
    /// The name given.
    pub name: String,
}

impl Kpi {
    /// Every KPI, in index order.
    pub const ALL: [Kpi; 7] = [
        Kpi::ThroughputDl,
        Kpi::PrbUsedDl,
        Kpi::DelayDl,
        Kpi::SlaViolationShare,
        Kpi::Controls,
        Kpi::BufferDl,
        Kpi::SliceUtility,
    ];

    /// The KPIs read from E2SM-KPM reports (measured online), in index order.
    pub const ONLINE: [Kpi; 3] = [Kpi::ThroughputDl, Kpi::PrbUsedDl, Kpi::BufferDl];

    /// The name used in configs, CLIs, reports and metric labels.
    pub fn name(self) -> &'static str {
        match self {
            Kpi::ThroughputDl => "throughput_dl",
            Kpi::PrbUsedDl => "prb_used_dl",
            Kpi::DelayDl => "delay_dl",
            Kpi::SlaViolationShare => "sla_violation_share",
            Kpi::Controls => "controls",
            Kpi::BufferDl => "buffer_dl",
            Kpi::SliceUtility => "slice_utility",
        }
    }

    /// What it is measured from (TS 28.552 name, `VS.` vendor name, or the derivation).
    pub fn source(self) -> &'static str {
        match self {
            Kpi::ThroughputDl => "DRB.UEThpDl",
            Kpi::PrbUsedDl => "RRU.PrbUsedDl",
            Kpi::DelayDl => "delay proxy B/(S/T)",
            Kpi::SlaViolationShare => "slices over their delay target",
            Kpi::Controls => "E2SM-RC controls sent",
            Kpi::BufferDl => "VS.DlBufferBytes",
            Kpi::SliceUtility => "slice utility (served vs servable, delay vs target, SLA)",
        }
    }

    /// Unit of one cell value per report period.
    pub fn unit(self) -> &'static str {
        match self {
            Kpi::ThroughputDl => "kbit/s",
            Kpi::PrbUsedDl => "PRB",
            Kpi::DelayDl => "ms",
            Kpi::SlaViolationShare => "share of slices",
            Kpi::Controls => "controls/period",
            Kpi::BufferDl => "byte",
            Kpi::SliceUtility => "utility",
        }
    }

    /// True when more is better.
    pub fn higher_is_better(self) -> bool {
        matches!(self, Kpi::ThroughputDl | Kpi::SliceUtility)
    }

    /// The KPM measurement it sums over slices, for KPIs measured online.
    pub fn meas(self) -> Option<Meas> {
        match self {
            Kpi::ThroughputDl => Some(Meas::UeThpDl),
            Kpi::PrbUsedDl => Some(Meas::PrbUsedDl),
            Kpi::BufferDl => Some(Meas::DlBufferBytes),
            Kpi::DelayDl | Kpi::SlaViolationShare | Kpi::Controls | Kpi::SliceUtility => None,
        }
    }

    /// Index in offline per-window value arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Kpi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Kpi {
    type Err = UnknownKpi;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kpi::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| UnknownKpi { name: s.to_owned() })
    }
}

impl serde::Serialize for Kpi {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_the_lists_match_the_enum() {
        let all: Vec<&str> = Kpi::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(all.join(", "), NAMES);
        let online: Vec<&str> = Kpi::ALL
            .iter()
            .filter(|k| k.meas().is_some())
            .map(|k| k.name())
            .collect();
        assert_eq!(online, Kpi::ONLINE.map(Kpi::name));
        assert!(Kpi::ONLINE.iter().all(|k| ONLINE_RULE.contains(k.name())));
        for (i, k) in Kpi::ALL.iter().enumerate() {
            assert_eq!(k.index(), i);
            assert_eq!(k.name().parse::<Kpi>(), Ok(*k));
        }
    }

    #[test]
    fn an_unknown_name_is_refused_with_the_known_ones() {
        let err = "delay".parse::<Kpi>().unwrap_err().to_string();
        assert!(err.contains("`delay`") && err.contains(NAMES), "{err}");
    }
}
