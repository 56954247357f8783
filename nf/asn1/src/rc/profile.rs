//! RAN parameter-ID profiles of the slice-level PRB quota action (E2SM-RC style 2, action 6)
//! per E2 node implementation. The IDs nest as
//!
//! ```text
//! RRM Policy Ratio List (list)
//! └─ RRM Policy Ratio Group (structure)
//!    ├─ RRM Policy (structure)
//!    │  └─ RRM Policy Member List (list)
//!    │     └─ RRM Policy Member (structure)
//!    │        ├─ PLMN Identity (octets)
//!    │        └─ S-NSSAI (structure): SST (octets), SD (octets, optional)
//!    ├─ Min PRB Policy Ratio (integer, %)
//!    ├─ Max PRB Policy Ratio (integer, %)
//!    └─ Dedicated PRB Policy Ratio (integer, %)
//! ```
//!
//! and differ in numbers only; `docs/rc-profiles.md` gives each table with its source.

use serde::{Deserialize, Serialize};

/// Which numbering of the slice-level PRB quota RAN parameters an E2 node speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RcProfile {
    /// E2SM-RC §8.4.3.6 (R003 v03.00 onwards, no ID 4).
    #[default]
    Oran,
    /// srsRAN Project's E2 agent: the O-RAN table, read from its control vectors.
    Srsran,
    /// OAI / older FlexRIC xApps: 1..=12 without a gap.
    Flexric,
}

/// The RAN parameter IDs of one profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotaParamIds {
    pub rrm_policy_ratio_list: u32,
    pub rrm_policy_ratio_group: u32,
    pub rrm_policy: u32,
    pub rrm_policy_member_list: u32,
    pub rrm_policy_member: u32,
    pub plmn_identity: u32,
    pub s_nssai: u32,
    pub sst: u32,
    pub sd: u32,
    pub min_prb_policy_ratio: u32,
    pub max_prb_policy_ratio: u32,
    pub dedicated_prb_policy_ratio: u32,
}

const SPEC_TABLE: QuotaParamIds = QuotaParamIds {
    rrm_policy_ratio_list: 1,
    rrm_policy_ratio_group: 2,
    rrm_policy: 3,
    rrm_policy_member_list: 5,
    rrm_policy_member: 6,
    plmn_identity: 7,
    s_nssai: 8,
    sst: 9,
    sd: 10,
    min_prb_policy_ratio: 11,
    max_prb_policy_ratio: 12,
    dedicated_prb_policy_ratio: 13,
};

const FLEXRIC_TABLE: QuotaParamIds = QuotaParamIds {
    rrm_policy_ratio_list: 1,
    rrm_policy_ratio_group: 2,
    rrm_policy: 3,
    rrm_policy_member_list: 4,
    rrm_policy_member: 5,
    plmn_identity: 6,
    s_nssai: 7,
    sst: 8,
    sd: 9,
    min_prb_policy_ratio: 10,
    max_prb_policy_ratio: 11,
    dedicated_prb_policy_ratio: 12,
};

impl RcProfile {
    /// Every profile, for tests and listings.
    pub const ALL: [RcProfile; 3] = [RcProfile::Oran, RcProfile::Srsran, RcProfile::Flexric];

    /// The profile's RAN parameter IDs.
    pub fn ids(self) -> &'static QuotaParamIds {
        match self {
            RcProfile::Oran | RcProfile::Srsran => &SPEC_TABLE,
            RcProfile::Flexric => &FLEXRIC_TABLE,
        }
    }

    /// The lower-case name used in configuration and errors.
    pub fn name(self) -> &'static str {
        match self {
            RcProfile::Oran => "oran",
            RcProfile::Srsran => "srsran",
            RcProfile::Flexric => "flexric",
        }
    }
}

impl std::fmt::Display for RcProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for RcProfile {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| format!("unknown E2SM-RC profile {s:?} (want oran, srsran or flexric)"))
    }
}

impl QuotaParamIds {
    /// (ID, E2SM-RC name) of every parameter, in tree order.
    pub fn all(&self) -> [(u32, &'static str); 12] {
        [
            (self.rrm_policy_ratio_list, "RRM Policy Ratio List"),
            (self.rrm_policy_ratio_group, "RRM Policy Ratio Group"),
            (self.rrm_policy, "RRM Policy"),
            (self.rrm_policy_member_list, "RRM Policy Member List"),
            (self.rrm_policy_member, "RRM Policy Member"),
            (self.plmn_identity, "PLMN Identity"),
            (self.s_nssai, "S-NSSAI"),
            (self.sst, "SST"),
            (self.sd, "SD"),
            (self.min_prb_policy_ratio, "Min PRB Policy Ratio"),
            (self.max_prb_policy_ratio, "Max PRB Policy Ratio"),
            (
                self.dedicated_prb_policy_ratio,
                "Dedicated PRB Policy Ratio",
            ),
        ]
    }

    /// The E2SM-RC name of `id` in this profile.
    pub fn name_of(&self, id: u32) -> Option<&'static str> {
        self.all()
            .into_iter()
            .find(|(i, _)| *i == id)
            .map(|(_, n)| n)
    }
}
