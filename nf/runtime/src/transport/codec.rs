//! The E2SM codec the pipeline uses, chosen by `ric.encoding`: KPM indications in, the
//! subscription's event trigger and action definitions and the RC slice-quota control out,
//! the KPM RAN function definition and the RC control outcome read.
//!
//! `proto` is this project's protobuf E2SM (`e2_proto::{kpm, rc}`). `asn1-per` (aligned PER
//! over `e2_asn1::{kpm, rc}`, with a `KpmVersion` read from the RAN function and an
//! `RcProfile`) is one more variant of [`E2smCodec`], to be added where marked; until then
//! [`E2smCodec::new`] refuses it by name.

use e2_proto::kpm::{self, CellInfo, DecodeNotes, Layouts, Limits};
use nf_core::policy::SliceQuota;
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

/// The E2SM encoding of one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum E2smCodec {
    /// Protobuf E2SM-KPM v2 / E2SM-RC v1 messages of `nf/proto`.
    Proto,
    // ASN1-PER: `Asn1Per { profile: RcProfile }` over `e2_asn1::{kpm, rc}` goes here.
}

impl E2smCodec {
    /// The codec of `encoding`; refuses what is not built.
    pub fn new(encoding: WireEncoding, _profile: RcProfile) -> Result<Self, TransportError> {
        match encoding {
            WireEncoding::Proto => Ok(Self::Proto),
            WireEncoding::Asn1Per => Err(TransportError::NotBuilt {
                key: "ric.encoding",
                value: WireEncoding::Asn1Per.name(),
            }),
        }
    }

    /// Decodes a KPM indication into a report, applying `limits`; `layouts` gives the
    /// record layout of each subscribed cell.
    pub fn decode_indication(
        &self,
        header: &[u8],
        message: &[u8],
        limits: &Limits,
        layouts: Option<&Layouts>,
    ) -> Result<(KpmReport, DecodeNotes), CodecError> {
        match self {
            Self::Proto => Ok(kpm::decode_indication(header, message, limits, layouts)?),
        }
    }

    /// The KPM event trigger: a periodic report every `period_ms`.
    pub fn encode_event_trigger(&self, period_ms: u32) -> Result<Vec<u8>, CodecError> {
        match self {
            Self::Proto => Ok(kpm::encode_event_trigger(period_ms)),
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
        }
    }

    /// The E2SM-RC slice PRB quota control of `cell`: (header, message).
    pub fn encode_control(
        &self,
        cell: &CellId,
        quotas: &[SliceQuota],
    ) -> Result<(Vec<u8>, Vec<u8>), CodecError> {
        match self {
            Self::Proto => Ok(e2_proto::rc::encode_quota_control(cell, quotas)),
        }
    }

    /// The cells of a KPM RAN function definition.
    pub fn decode_ran_function(&self, bytes: &[u8]) -> Result<Vec<CellInfo>, CodecError> {
        match self {
            Self::Proto => Ok(kpm::decode_ran_function(bytes)?),
        }
    }

    /// The time a control outcome says the quota was applied [ms], if it says.
    pub fn decode_control_outcome(&self, bytes: &[u8]) -> Option<u64> {
        match self {
            Self::Proto => e2_proto::rc::decode_outcome_time(bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asn1_per_is_refused_by_name_until_built() {
        let e = E2smCodec::new(WireEncoding::Asn1Per, RcProfile::Srsran).unwrap_err();
        assert_eq!(e.to_string(), "ric.encoding = \"asn1-per\" is not built yet");
        assert_eq!(
            E2smCodec::new(WireEncoding::Proto, RcProfile::Oran).unwrap(),
            E2smCodec::Proto
        );
    }

    #[test]
    fn a_bad_indication_keeps_its_bounded_label() {
        let codec = E2smCodec::Proto;
        let e = codec
            .decode_indication(&[0xff; 8], &[0xff; 8], &Limits::default(), None)
            .unwrap_err();
        assert!(!e.kind().is_empty() && !e.kind().contains(' '), "{e:?}");
        let limits = Limits {
            max_payload_bytes: 4,
            ..Limits::default()
        };
        let e = codec
            .decode_indication(&[0; 5], &[], &limits, None)
            .unwrap_err();
        assert_eq!(e.kind(), "oversize");
    }
}
