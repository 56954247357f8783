//! The E2SM codec the pipeline uses, chosen by `ric.encoding`: KPM indications in, the
//! subscription's event trigger and action definitions and the RC slice-quota control out,
//! the KPM RAN function definition and the RC control outcome read.
//!
//! - `proto`: this project's protobuf E2SM (`e2_proto::{kpm, rc}`).
//! - `asn1-per`: aligned PER over `e2_asn1::{kpm, rc}`, as RAN nodes speak it. Each E2 node
//!   has its own [`Asn1Per`]: its E2SM-KPM version (decided from the node's KPM RAN function
//!   definition or configured for it, never assumed from the OID, which all versions share)
//!   and its E2SM-RC RAN parameter-ID profile (`ric.rc_profile`, overridable per
//!   `[[ric.nodes]]`). [`E2smCodec::for_node`] makes it from the run's codec.
//!
//! E2SM-KPM indication message format 1 names no cell: under `asn1-per` the cell is the one
//! of the subscription action the indication reports on (action ID = the cell's position,
//! see [`crate::transport::SubscriptionSpec`]); an indication without a known action is
//! refused as `unknown_action`. A v02.03 node's `TimeStamp` has whole seconds only: its
//! reports are spread within their second ([`e2_asn1::kpm::V2Sequencer`]) so that several
//! reports of one second are not taken for duplicates.

use std::sync::{Arc, Mutex};

use e2_asn1::kpm::{IndicationScope, KpmVersion, V2Sequencer};
use e2_proto::kpm::{self, CellInfo, DecodeNotes, Layouts, Limits};
use nf_core::e2sm::UeDecodeNotes;
use nf_core::policy::SliceQuota;
use nf_core::radio::{CellRadio, UeId, UeLevelReport};
use nf_core::{CellId, KpmReport};

use super::{RcProfile, TransportError, WireEncoding};

/// A payload the codec refused.
#[derive(Debug, thiserror::Error)]
#[error("{detail}")]
pub struct CodecError {
    /// Bounded metric label (e.g. `oversize`, `malformed`, `unknown_cell`).
    pub kind: &'static str,
    pub detail: String,
}

impl CodecError {
    /// Bounded metric label.
    pub fn kind(&self) -> &'static str {
        self.kind
    }
}

impl From<kpm::KpmError> for CodecError {
    fn from(e: kpm::KpmError) -> Self {
        Self {
            kind: e.kind(),
            detail: e.to_string(),
        }
    }
}

impl From<e2_asn1::kpm::KpmAperError> for CodecError {
    fn from(e: e2_asn1::kpm::KpmAperError) -> Self {
        Self {
            kind: e.kind(),
            detail: e.to_string(),
        }
    }
}

impl From<e2_asn1::rc::RcAperError> for CodecError {
    fn from(e: e2_asn1::rc::RcAperError) -> Self {
        Self {
            kind: rc_label(&e),
            detail: e.to_string(),
        }
    }
}

/// The bounded label of an E2SM-RC codec error (`rc_` + its kind).
fn rc_label(e: &e2_asn1::rc::RcAperError) -> &'static str {
    RC_LABELS
        .iter()
        .find(|l| l.strip_prefix("rc_") == Some(e.kind()))
        .copied()
        .unwrap_or("rc_encode")
}

impl From<e2_proto::kpm::radio::CellRadioDecodeError> for CodecError {
    fn from(e: e2_proto::kpm::radio::CellRadioDecodeError) -> Self {
        Self {
            kind: e.kind(),
            detail: e.to_string(),
        }
    }
}

/// Labels of E2SM-RC codec failures (`xapp_dropped_total` counts the control as
/// `control_encode_failed`; these name it in the log).
pub const RC_LABELS: [&str; 18] = [
    "rc_decode",
    "rc_encode",
    "rc_too_long",
    "rc_too_deep",
    "rc_unsupported_format",
    "rc_unexpected_action",
    "rc_unknown_parameter",
    "rc_duplicate_parameter",
    "rc_missing_parameter",
    "rc_bad_parameter",
    "rc_too_many_groups",
    "rc_ratio_order",
    "rc_ratio_range",
    "rc_empty",
    "rc_mixed_plmn",
    "rc_out_of_range",
    "rc_not_offered",
    "rc_unsupported_ue_id",
];

/// Labels the `asn1-per` codec gives refused indications besides
/// [`e2_asn1::kpm::KpmAperError::KINDS`] (all in `xapp_rejected_total{reason}`).
pub const ASN1_PER_REJECT_REASONS: [&str; 1] = ["unknown_action"];

/// Labels of refused UE-level and cell radio indications besides the KPM kinds
/// (`KpmAperError::KINDS`, which include `impossible_value`): `unknown_action` as above.
/// Dropped UE entries inside an accepted report carry `nf_core::e2sm::ue_drop::ALL`.
pub const RADIO_REJECT_REASONS: [&str; 2] = ["unknown_action", "impossible_value"];

fn no_scope() -> CodecError {
    CodecError {
        kind: "unknown_action",
        detail: "indication of no subscribed action (the cell is unknown)".into(),
    }
}

/// Sequencer streams of a v02.03 node besides the slice report (0): each report kind of a
/// cell is spread within its second on its own.
const SEQ_UE: u8 = 1;
const SEQ_CELL_RADIO: u8 = 2;

/// The `asn1-per` codec of one E2 node.
#[derive(Clone, Debug)]
pub struct Asn1Per {
    /// The node's E2SM-KPM version.
    pub kpm: KpmVersion,
    /// The node's E2SM-RC RAN parameter-ID profile.
    pub profile: RcProfile,
    /// Places whole-second v02.03 reports within their second (v02.03 nodes only).
    sequencer: Option<Arc<Mutex<V2Sequencer>>>,
}

impl Asn1Per {
    /// Under E2SM-KPM v02.03 (whose header time is seconds) the collection start a report
    /// of `kind` is placed at by the node's sequencer; otherwise `start_ms` unchanged.
    fn place(&self, cell: nf_core::CellId, start_ms: u64, granularity_ms: u32, kind: u8) -> u64 {
        match &self.sequencer {
            Some(seq) => match seq.lock() {
                Ok(mut seq) => seq.place_at(cell, start_ms, granularity_ms, kind),
                Err(_) => start_ms,
            },
            None => start_ms,
        }
    }

    /// The codec of a node speaking E2SM-KPM `kpm` and the RC profile `profile`.
    pub fn new(kpm: KpmVersion, profile: RcProfile) -> Self {
        Self {
            kpm,
            profile,
            sequencer: (kpm == KpmVersion::V2_03).then(Arc::default),
        }
    }
}

impl PartialEq for Asn1Per {
    fn eq(&self, other: &Self) -> bool {
        self.kpm == other.kpm && self.profile == other.profile
    }
}

/// The E2SM encoding of one run, or of one node under `asn1-per`.
#[derive(Clone, Debug, PartialEq)]
pub enum E2smCodec {
    /// Protobuf E2SM-KPM v2 / E2SM-RC v1 messages of `nf/proto`.
    Proto,
    /// Aligned PER over `e2_asn1::{kpm, rc}`.
    Asn1Per(Asn1Per),
}

impl E2smCodec {
    /// The run's codec of `encoding`. Under `asn1-per` it holds the run's RC profile and
    /// E2SM-KPM v03.00 until [`Self::for_node`] gives a node its own version.
    pub fn new(encoding: WireEncoding, profile: RcProfile) -> Result<Self, TransportError> {
        match encoding {
            WireEncoding::Proto => Ok(Self::Proto),
            WireEncoding::Asn1Per => Ok(Self::Asn1Per(Asn1Per::new(KpmVersion::V3_00, profile))),
        }
    }

    /// The codec of one node: under `asn1-per`, with the node's KPM version and RC profile
    /// (`version` / `profile`, `None` keeping the run's); `proto` unchanged.
    pub fn for_node(&self, version: Option<KpmVersion>, profile: Option<RcProfile>) -> Self {
        match self {
            Self::Proto => Self::Proto,
            Self::Asn1Per(c) => Self::Asn1Per(Asn1Per::new(
                version.unwrap_or(c.kpm),
                profile.unwrap_or(c.profile),
            )),
        }
    }

    /// Decodes a KPM indication into a report, applying `limits`; `layouts` gives the
    /// record layout of each subscribed cell; `scope` the cell and granularity of the
    /// action the indication reports on (needed under `asn1-per`, ignored by `proto` whose
    /// indications name their cell).
    pub fn decode_indication(
        &self,
        header: &[u8],
        message: &[u8],
        limits: &Limits,
        layouts: Option<&Layouts>,
        scope: Option<IndicationScope>,
    ) -> Result<(KpmReport, DecodeNotes), CodecError> {
        match self {
            Self::Proto => Ok(kpm::decode_indication(header, message, limits, layouts)?),
            Self::Asn1Per(c) => {
                let scope = scope.ok_or(CodecError {
                    kind: "unknown_action",
                    detail: "indication of no subscribed action (the cell is unknown)".into(),
                })?;
                let (mut report, notes) = e2_asn1::kpm::decode_indication(
                    header, message, limits, &scope, layouts, c.kpm,
                )?;
                if let Some(seq) = &c.sequencer
                    && let Ok(mut seq) = seq.lock()
                {
                    seq.place(&mut report);
                }
                Ok((report, notes))
            }
        }
    }

    /// The KPM event trigger: a periodic report every `period_ms`.
    pub fn encode_event_trigger(&self, period_ms: u32) -> Result<Vec<u8>, CodecError> {
        match self {
            Self::Proto => Ok(kpm::encode_event_trigger(period_ms)),
            Self::Asn1Per(c) => Ok(e2_asn1::kpm::encode_event_trigger(period_ms, c.kpm)),
        }
    }

    /// The KPM action definition (style 1) of one cell.
    pub fn encode_action_definition(
        &self,
        cell: &CellInfo,
        period_ms: u32,
    ) -> Result<Vec<u8>, CodecError> {
        match self {
            Self::Proto => Ok(kpm::encode_action_definition(cell, period_ms)),
            Self::Asn1Per(c) => Ok(e2_asn1::kpm::encode_action_definition(
                cell, period_ms, c.kpm,
            )),
        }
    }

    /// The E2SM-RC slice PRB quota control of `cell`: (header, message). Under `asn1-per`
    /// the header carries the cell-level UE ID and the message the node profile's RAN
    /// parameter IDs with the cell's PLMN.
    pub fn encode_control(
        &self,
        cell: &CellId,
        quotas: &[SliceQuota],
    ) -> Result<(Vec<u8>, Vec<u8>), CodecError> {
        match self {
            Self::Proto => Ok(e2_proto::rc::encode_quota_control(cell, quotas)),
            Self::Asn1Per(c) => Ok(e2_asn1::rc::encode_quota_control(
                c.profile,
                &e2_asn1::rc::cell_level_ue_id(),
                cell.plmn,
                quotas,
            )?),
        }
    }

    /// KPM report style 4 action definition (format 4 under APER: the matching condition
    /// `rSRP present`, which every UE that reports an SS-RSRP meets; subscription info =
    /// `ue_meas::ALL` and the cell's CGI).
    pub fn encode_ue_action_definition(
        &self,
        cell: &CellInfo,
        period_ms: u32,
    ) -> Result<Vec<u8>, CodecError> {
        match self {
            Self::Proto => Ok(kpm::radio::encode_ue_action_definition(cell, period_ms)),
            Self::Asn1Per(c) => Ok(e2_asn1::kpm::radio::encode_ue_action_definition(
                cell, period_ms, c.kpm,
            )),
        }
    }

    /// Report style 1 action definition of the cell radio report (`cell_meas` names).
    pub fn encode_cell_radio_action_definition(
        &self,
        cell: &CellInfo,
        period_ms: u32,
    ) -> Result<Vec<u8>, CodecError> {
        match self {
            Self::Proto => Ok(kpm::radio::encode_cell_radio_action_definition(
                cell, period_ms,
            )),
            Self::Asn1Per(c) => Ok(e2_asn1::kpm::radio::encode_cell_radio_action_definition(
                cell, period_ms, c.kpm,
            )),
        }
    }

    /// A UE-level indication (message format 3 under APER). `scope` as
    /// [`Self::decode_indication`] (needed under `asn1-per`). UE entries dropped inside an
    /// accepted report are lost here: use [`Self::decode_ue_indication_with_notes`] to count
    /// them.
    pub fn decode_ue_indication(
        &self,
        header: &[u8],
        message: &[u8],
        limits: &Limits,
        scope: Option<IndicationScope>,
    ) -> Result<UeLevelReport, CodecError> {
        self.decode_ue_indication_with_notes(header, message, limits, scope)
            .map(|(r, _)| r)
    }

    /// [`Self::decode_ue_indication`] with the notes: unknown names, `noValue` records and
    /// every dropped UE entry with its bounded reason (`nf_core::e2sm::ue_drop::ALL`).
    pub fn decode_ue_indication_with_notes(
        &self,
        header: &[u8],
        message: &[u8],
        limits: &Limits,
        scope: Option<IndicationScope>,
    ) -> Result<(UeLevelReport, UeDecodeNotes), CodecError> {
        match self {
            Self::Proto => Ok(kpm::radio::decode_ue_indication(header, message, limits)?),
            Self::Asn1Per(c) => {
                let scope = scope.ok_or_else(no_scope)?;
                let (mut report, notes) = e2_asn1::kpm::radio::decode_ue_indication(
                    header, message, limits, &scope, c.kpm,
                )?;
                report.collection_start_ms = c.place(
                    report.cell,
                    report.collection_start_ms,
                    report.granularity_ms,
                    SEQ_UE,
                );
                Ok((report, notes))
            }
        }
    }

    /// A cell radio indication (style 1, message format 1 by name). Unknown names and
    /// `noValue` records are counted in the notes; an impossible value refuses the report
    /// (`impossible_value`).
    pub fn decode_cell_radio_indication(
        &self,
        header: &[u8],
        message: &[u8],
        limits: &Limits,
        scope: Option<IndicationScope>,
    ) -> Result<CellRadio, CodecError> {
        self.decode_cell_radio_indication_with_notes(header, message, limits, scope)
            .map(|(r, _)| r)
    }

    /// [`Self::decode_cell_radio_indication`] with the notes.
    pub fn decode_cell_radio_indication_with_notes(
        &self,
        header: &[u8],
        message: &[u8],
        limits: &Limits,
        scope: Option<IndicationScope>,
    ) -> Result<(CellRadio, DecodeNotes), CodecError> {
        match self {
            Self::Proto => Ok(kpm::radio::decode_cell_radio_indication(
                header, message, limits,
            )?),
            Self::Asn1Per(c) => {
                let scope = scope.ok_or_else(no_scope)?;
                let (mut report, notes) = e2_asn1::kpm::radio::decode_cell_radio_indication(
                    header, message, limits, &scope, c.kpm,
                )?;
                report.collection_start_ms = c.place(
                    report.cell,
                    report.collection_start_ms,
                    report.granularity_ms,
                    SEQ_CELL_RADIO,
                );
                Ok((report, notes))
            }
        }
    }

    /// E2SM-RC style 3 action 1 handover of `ue` to `target`: (header, message). Under
    /// `asn1-per` the header's UE ID is the gNB choice with the AMF UE NGAP ID (GUAMI of the
    /// target's PLMN) and the message Target Primary Cell ID / Target Cell / NR Cell / NR CGI.
    pub fn encode_handover_control(
        &self,
        ue: UeId,
        target: &CellId,
    ) -> Result<(Vec<u8>, Vec<u8>), CodecError> {
        if ue.0 > UeId::MAX {
            return Err(CodecError {
                kind: "rc_out_of_range",
                detail: format!("{ue}: AMF UE NGAP ID exceeds 40 bits"),
            });
        }
        match self {
            Self::Proto => Ok(e2_proto::rc::encode_handover_control(ue, target)),
            Self::Asn1Per(_) => {
                let h = e2_asn1::rc::HandoverControl::of_ue(ue, target)?;
                Ok(e2_asn1::rc::encode_handover_control(&h)?)
            }
        }
    }

    /// The cells of a KPM RAN function definition. The standard (`asn1-per`) description
    /// has no place for cells: such nodes are served from `[[ric.nodes]]`.
    pub fn decode_ran_function(&self, bytes: &[u8]) -> Result<Vec<CellInfo>, CodecError> {
        match self {
            Self::Proto => Ok(kpm::decode_ran_function(bytes)?),
            Self::Asn1Per(c) => {
                e2_asn1::kpm::decode_ran_function(bytes, c.kpm)?;
                Err(CodecError {
                    kind: "ran_function_invalid",
                    detail: "an E2SM-KPM RAN function description names no cells; list the node in [[ric.nodes]]".into(),
                })
            }
        }
    }

    /// The time a control outcome says the quota was applied [ms], if it says (an
    /// E2SM-RC outcome carries RAN parameters, no time).
    pub fn decode_control_outcome(&self, bytes: &[u8]) -> Option<u64> {
        match self {
            Self::Proto => e2_proto::rc::decode_outcome_time(bytes),
            Self::Asn1Per(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asn1_per_is_built_and_takes_each_nodes_version_and_profile() {
        assert_eq!(
            E2smCodec::new(WireEncoding::Proto, RcProfile::Oran).unwrap(),
            E2smCodec::Proto
        );
        let run = E2smCodec::new(WireEncoding::Asn1Per, RcProfile::Srsran).unwrap();
        let node = run.for_node(Some(KpmVersion::V2_03), None);
        assert_eq!(
            node,
            E2smCodec::Asn1Per(Asn1Per::new(KpmVersion::V2_03, RcProfile::Srsran))
        );
        let node = run.for_node(None, Some(RcProfile::Flexric));
        assert_eq!(
            node,
            E2smCodec::Asn1Per(Asn1Per::new(KpmVersion::V3_00, RcProfile::Flexric))
        );
        assert_eq!(
            E2smCodec::Proto.for_node(Some(KpmVersion::V2_03), None),
            E2smCodec::Proto
        );
    }

    fn cell() -> CellInfo {
        CellInfo {
            cell: CellId::new([0x00, 0xf1, 0x10], 7),
            slices: vec![
                nf_core::Snssai::new(1, Some(1)),
                nf_core::Snssai::new(2, None),
            ],
            prb_total_dl: 106,
        }
    }

    fn report(version: KpmVersion, start_ms: u64) -> KpmReport {
        let mut r = KpmReport {
            cell: cell().cell,
            collection_start_ms: start_ms,
            granularity_ms: 250,
            cell_meas: Default::default(),
            slices: cell()
                .slices
                .iter()
                .map(|s| (*s, Default::default()))
                .collect(),
        };
        r.cell_meas.set(nf_core::Meas::PrbTotDl, 42.0);
        let _ = version;
        r
    }

    #[test]
    fn asn1_per_indications_decode_with_the_nodes_version_and_skew_is_named() {
        let scope = IndicationScope {
            cell: cell().cell,
            granularity_ms: 250,
        };
        let v3 = E2smCodec::Asn1Per(Asn1Per::new(KpmVersion::V3_00, RcProfile::Srsran));
        let (h, m) = e2_asn1::kpm::encode_indication(
            &report(KpmVersion::V3_00, 1_700_000_000_250),
            true,
            KpmVersion::V3_00,
        );
        let (r, _) = v3
            .decode_indication(&h, &m, &Limits::default(), None, Some(scope))
            .unwrap();
        assert_eq!(r.cell, cell().cell);
        assert_eq!(r.collection_start_ms, 1_700_000_000_250);
        assert_eq!(r.cell_meas.get(nf_core::Meas::PrbTotDl), 42.0);
        // A v02.03 header read as v03.00: the named skew, never a misread.
        let (h2, m2) = e2_asn1::kpm::encode_indication(
            &report(KpmVersion::V2_03, 1_700_000_000_000),
            true,
            KpmVersion::V2_03,
        );
        let e = v3
            .decode_indication(&h2, &m2, &Limits::default(), None, Some(scope))
            .unwrap_err();
        assert_eq!(e.kind(), "kpm_version_skew");
        // No action, no cell.
        let e = v3
            .decode_indication(&h, &m, &Limits::default(), None, None)
            .unwrap_err();
        assert_eq!(e.kind(), "unknown_action");
        assert!(ASN1_PER_REJECT_REASONS.contains(&e.kind()));
        // v02.03: two reports of one second are spread within it, not duplicates.
        let v2 = E2smCodec::Asn1Per(Asn1Per::new(KpmVersion::V2_03, RcProfile::Srsran));
        let a = v2
            .decode_indication(&h2, &m2, &Limits::default(), None, Some(scope))
            .unwrap()
            .0;
        let b = v2
            .decode_indication(&h2, &m2, &Limits::default(), None, Some(scope))
            .unwrap()
            .0;
        assert_eq!(a.collection_start_ms, 1_700_000_000_000);
        assert_eq!(b.collection_start_ms, 1_700_000_000_250);
    }

    #[test]
    fn asn1_per_controls_carry_the_profiles_parameter_ids() {
        let quotas = [SliceQuota {
            snssai: nf_core::Snssai::new(1, Some(1)),
            min_ratio: 10,
            max_ratio: 60,
            dedicated_ratio: 0,
        }];
        for profile in RcProfile::ALL {
            let c = E2smCodec::Asn1Per(Asn1Per::new(KpmVersion::V3_00, profile));
            let (h, m) = c.encode_control(&cell().cell, &quotas).unwrap();
            let back = e2_asn1::rc::decode_quota_control(profile, &h, &m).unwrap();
            assert_eq!(back.plmn, cell().cell.plmn);
            assert_eq!(
                back.quotas,
                vec![(nf_core::Snssai::new(1, Some(1)), 10, 60, 0)]
            );
            let ids = e2_asn1::rc::control_message_parameter_ids(&m).unwrap();
            assert!(
                ids.contains(&i64::from(profile.ids().min_prb_policy_ratio)),
                "{profile}: {ids:?}"
            );
        }
        let c = E2smCodec::Asn1Per(Asn1Per::new(KpmVersion::V3_00, RcProfile::Srsran));
        let bad = [SliceQuota {
            snssai: nf_core::Snssai::new(1, None),
            min_ratio: 70,
            max_ratio: 60,
            dedicated_ratio: 0,
        }];
        let e = c.encode_control(&cell().cell, &bad).unwrap_err();
        assert_eq!(e.kind(), "rc_ratio_order");
        assert!(RC_LABELS.contains(&e.kind()));
    }

    #[test]
    fn a_bad_indication_keeps_its_bounded_label() {
        let codec = E2smCodec::Proto;
        let e = codec
            .decode_indication(&[0xff; 8], &[0xff; 8], &Limits::default(), None, None)
            .unwrap_err();
        assert!(!e.kind().is_empty() && !e.kind().contains(' '), "{e:?}");
        let limits = Limits {
            max_payload_bytes: 4,
            ..Limits::default()
        };
        let e = codec
            .decode_indication(&[0; 5], &[], &limits, None, None)
            .unwrap_err();
        assert_eq!(e.kind(), "oversize");
    }

    fn radio_report() -> UeLevelReport {
        let mut u = nf_core::radio::UeRadio::empty(UeId(77));
        u.rsrp_dbm = Some(-90.5);
        u.sinr_db = Some(4.0);
        u.cqi = Some(8.0);
        u.neighbour = Some(nf_core::radio::Neighbour {
            cell: CellId::new([0x00, 0xf1, 0x10], 8),
            rsrp_dbm: -93.0,
            rsrq_db: None,
        });
        UeLevelReport {
            cell: cell().cell,
            collection_start_ms: 1_700_000_003_000,
            granularity_ms: 1000,
            ues: vec![u],
        }
    }

    fn all_codecs() -> Vec<E2smCodec> {
        let mut v = vec![E2smCodec::Proto];
        v.extend(KpmVersion::ALL.map(|k| E2smCodec::Asn1Per(Asn1Per::new(k, RcProfile::Srsran))));
        v
    }

    #[test]
    fn ue_level_and_cell_radio_flow_through_both_encodings() {
        let scope = IndicationScope {
            cell: cell().cell,
            granularity_ms: 1000,
        };
        let radio = CellRadio {
            cell: cell().cell,
            collection_start_ms: 1_700_000_003_000,
            granularity_ms: 1000,
            prb_used_dl: Some(40.0),
            prb_avail_dl: Some(106.0),
            cqi_bins: [1; 16],
            rsrp_bins: [2; 16],
        };
        for codec in all_codecs() {
            let (def, rdef, (h, m), (rh, rm)) = match &codec {
                E2smCodec::Proto => {
                    let def = codec.encode_ue_action_definition(&cell(), 1000).unwrap();
                    let a = kpm::radio::decode_ue_action_definition(&def).unwrap();
                    assert_eq!(a.cell, cell().cell);
                    let rdef = codec
                        .encode_cell_radio_action_definition(&cell(), 1000)
                        .unwrap();
                    (
                        def,
                        rdef,
                        kpm::radio::encode_ue_indication(&radio_report()),
                        kpm::radio::encode_cell_radio_indication(&radio),
                    )
                }
                E2smCodec::Asn1Per(c) => {
                    let def = codec.encode_ue_action_definition(&cell(), 1000).unwrap();
                    let a = e2_asn1::kpm::radio::decode_ue_action_definition(&def, c.kpm).unwrap();
                    assert_eq!(a.cell, cell().cell);
                    let rdef = codec
                        .encode_cell_radio_action_definition(&cell(), 1000)
                        .unwrap();
                    (
                        def,
                        rdef,
                        e2_asn1::kpm::radio::encode_ue_indication(&radio_report(), c.kpm),
                        e2_asn1::kpm::radio::encode_cell_radio_indication(&radio, c.kpm),
                    )
                }
            };
            assert!(!def.is_empty() && !rdef.is_empty());
            let r = codec
                .decode_ue_indication(&h, &m, &Limits::default(), Some(scope))
                .unwrap_or_else(|e| panic!("{codec:?}: {e}"));
            assert_eq!(r, radio_report(), "{codec:?}");
            let c = codec
                .decode_cell_radio_indication(&rh, &rm, &Limits::default(), Some(scope))
                .unwrap();
            assert_eq!(c, radio, "{codec:?}");
            // A slice indication is not a UE-level one: refused with a bounded label.
            let e = codec
                .decode_ue_indication(&rh, &rm, &Limits::default(), Some(scope))
                .unwrap_err();
            assert_eq!(e.kind(), "missing_field", "{codec:?}");
            let mut bad = radio.clone();
            bad.prb_used_dl = Some(1e6);
            let (bh, bm) = match &codec {
                E2smCodec::Proto => kpm::radio::encode_cell_radio_indication(&bad),
                E2smCodec::Asn1Per(c) => {
                    e2_asn1::kpm::radio::encode_cell_radio_indication(&bad, c.kpm)
                }
            };
            let e = codec
                .decode_cell_radio_indication(&bh, &bm, &Limits::default(), Some(scope))
                .unwrap_err();
            assert_eq!(e.kind(), "impossible_value");
            assert!(RADIO_REJECT_REASONS.contains(&e.kind()));
            if let E2smCodec::Asn1Per(_) = codec {
                let e = codec
                    .decode_ue_indication(&h, &m, &Limits::default(), None)
                    .unwrap_err();
                assert_eq!(e.kind(), "unknown_action");
            }
        }
    }

    #[test]
    fn handover_controls_carry_the_ue_and_target_in_both_encodings() {
        let target = CellId::new([0x00, 0xf1, 0x10], 8);
        for codec in all_codecs() {
            let (h, m) = codec.encode_handover_control(UeId(77), &target).unwrap();
            let back = match &codec {
                E2smCodec::Proto => e2_proto::rc::decode_handover_control(&h, &m).unwrap(),
                E2smCodec::Asn1Per(_) => e2_asn1::rc::decode_ue_handover(&h, &m).unwrap(),
            };
            assert_eq!(back, (UeId(77), target), "{codec:?}");
            let e = codec
                .encode_handover_control(UeId(UeId::MAX + 1), &target)
                .unwrap_err();
            assert!(RC_LABELS.contains(&e.kind()), "{e:?}");
        }
        let c = E2smCodec::Asn1Per(Asn1Per::new(KpmVersion::V3_00, RcProfile::Srsran));
        let e = c
            .encode_handover_control(
                UeId(1),
                &CellId::new([0x00, 0xf1, 0x10], CellId::MAX_NCI + 1),
            )
            .unwrap_err();
        assert_eq!(e.kind(), "rc_out_of_range");
    }
}
