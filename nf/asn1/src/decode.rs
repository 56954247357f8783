//! Non-generic, guarded entry points for every APER decoder the xApp exposes to the network.
//!
//! Each function decodes one top-level type from untrusted octets: the E2AP PDU, and the
//! E2SM-KPM (v02.03 / v03.00 / v04.00) and E2SM-RC (v05.00) payloads an E2 node sends or
//! answers with. They are plain `pub fn`s so the rasn decoding code is monomorphised once,
//! here, with this crate's optimisation level, rather than in every caller.
//!
//! Guards, in order: an input over [`MAX_INPUT_OCTETS`] is refused before decoding; an
//! E2SM-KPM indication message or action definition, or an E2SM-RC control message, whose lists would take more than
//! [`crate::kpm::MAX_DECODED_BYTES`] decoded is refused after a pre-scan that allocates nothing for
//! them ([`DecodeError::TooLarge`], see `crate::kpm::prescan` and `crate::rc::scan`); the rasn decoder runs under `std::panic::catch_unwind` as a last resort, and a caught panic is
//! counted ([`caught_panics`]) and returned as [`DecodeError::Panicked`], never propagated.
//! Every error names the type being decoded and carries a bounded [`DecodeError::kind`]
//! label for metrics.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::generated::e2ap_v02_03::e2_ap_pdu_descriptions::E2APPDU;
use crate::generated::{e2sm_kpm_v02_03, e2sm_kpm_v03_00, e2sm_kpm_v04_00, e2sm_rc_v05_00};
use crate::kpm::prescan::{ScanFailure, ScanFn};

/// Largest payload any decoder here accepts (an RMR message is bounded well below this).
pub const MAX_INPUT_OCTETS: usize = 1 << 20;

static CAUGHT_PANICS: AtomicU64 = AtomicU64::new(0);

/// How many decoder panics were caught (and turned into errors) since the process started.
pub fn caught_panics() -> u64 {
    CAUGHT_PANICS.load(Ordering::Relaxed)
}

/// Counts a decoder panic caught outside this module (the domain codecs of `kpm`).
pub(crate) fn count_caught_panic() {
    CAUGHT_PANICS.fetch_add(1, Ordering::Relaxed);
}

/// Why untrusted octets were not decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Nothing to decode.
    #[error("{what}: empty input")]
    Empty { what: &'static str },
    /// The input is larger than any legitimate message.
    #[error("{what}: {len} octets, over the {MAX_INPUT_OCTETS} limit")]
    TooLong { what: &'static str, len: usize },
    /// The octets are not a valid aligned-PER encoding of the type.
    #[error("{what}: invalid aligned PER: {detail}")]
    Aper { what: &'static str, detail: String },
    /// Its lists would take more than `limit` bytes in memory
    /// (`crate::kpm::decoded_bytes_limit` of the input's size, at most
    /// [`crate::kpm::MAX_DECODED_BYTES`]): E2SM-KPM indication messages and action definitions,
    /// and E2SM-RC control messages, checked before decoding.
    #[error("{what}: its lists would take {bytes} bytes decoded, over the limit of {limit}")]
    TooLarge {
        what: &'static str,
        bytes: usize,
        limit: usize,
    },
    /// The underlying decoder panicked; the panic was caught and counted.
    #[error("{what}: decoder panicked on this input")]
    Panicked { what: &'static str },
}

impl DecodeError {
    /// A bounded label for metrics (`reason` / `kind`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Empty { .. } => "empty",
            Self::TooLong { .. } => "too_long",
            Self::Aper { .. } => "invalid_aper",
            Self::TooLarge { .. } => "too_large",
            Self::Panicked { .. } => "decoder_panic",
        }
    }

    /// The ASN.1 type that was being decoded.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Empty { what }
            | Self::TooLong { what, .. }
            | Self::Aper { what, .. }
            | Self::TooLarge { what, .. }
            | Self::Panicked { what } => what,
        }
    }
}

fn guarded<T: rasn::Decode>(what: &'static str, input: &[u8]) -> Result<T, DecodeError> {
    if input.is_empty() {
        return Err(DecodeError::Empty { what });
    }
    if input.len() > MAX_INPUT_OCTETS {
        return Err(DecodeError::TooLong {
            what,
            len: input.len(),
        });
    }
    match catch_unwind(AssertUnwindSafe(|| rasn::aper::decode::<T>(input))) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(DecodeError::Aper {
            what,
            detail: e.to_string(),
        }),
        Err(_) => {
            CAUGHT_PANICS.fetch_add(1, Ordering::Relaxed);
            Err(DecodeError::Panicked { what })
        }
    }
}

/// The allocation pre-check of the E2SM-KPM types with large list elements
/// (`crate::kpm::prescan`), as a [`DecodeError`].
fn prechecked(what: &'static str, input: &[u8], scan: ScanFn) -> Result<(), DecodeError> {
    if input.is_empty() || input.len() > MAX_INPUT_OCTETS {
        return Ok(()); // refused with its own reason by `guarded`
    }
    let (tally, _) = scan(input).map_err(|e| match e {
        ScanFailure::Invalid(detail) => DecodeError::Aper { what, detail },
        ScanFailure::Panicked => DecodeError::Panicked { what },
    })?;
    if tally.bytes > tally.limit {
        return Err(DecodeError::TooLarge {
            what,
            bytes: tally.bytes,
            limit: tally.limit,
        });
    }
    Ok(())
}

macro_rules! decoders {
    ($($(#[$doc:meta])* $name:ident => $ty:ty, $asn:literal $(, precheck $scan:path)?;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(input: &[u8]) -> Result<$ty, DecodeError> {
                $(prechecked($asn, input, $scan)?;)?
                guarded::<$ty>($asn, input)
            }
        )*
    };
}

decoders! {
    /// An E2AP v02.03 `E2AP-PDU` (the procedure's IEs stay open types).
    decode_e2ap_pdu => E2APPDU, "E2AP-PDU";

    /// E2SM-KPM v02.03 `E2SM-KPM-EventTriggerDefinition`.
    decode_kpm_v2_event_trigger_definition => e2sm_kpm_v02_03::e2_sm_kpm_ies::E2SMKPMEventTriggerDefinition, "E2SM-KPM-EventTriggerDefinition (v02.03)";
    /// E2SM-KPM v02.03 `E2SM-KPM-ActionDefinition`.
    decode_kpm_v2_action_definition => e2sm_kpm_v02_03::e2_sm_kpm_ies::E2SMKPMActionDefinition, "E2SM-KPM-ActionDefinition (v02.03)", precheck crate::kpm::scans::v2_action_definition;
    /// E2SM-KPM v02.03 `E2SM-KPM-IndicationHeader`.
    decode_kpm_v2_indication_header => e2sm_kpm_v02_03::e2_sm_kpm_ies::E2SMKPMIndicationHeader, "E2SM-KPM-IndicationHeader (v02.03)";
    /// E2SM-KPM v02.03 `E2SM-KPM-IndicationMessage`.
    decode_kpm_v2_indication_message => e2sm_kpm_v02_03::e2_sm_kpm_ies::E2SMKPMIndicationMessage, "E2SM-KPM-IndicationMessage (v02.03)", precheck crate::kpm::scans::v2_indication_message;
    /// E2SM-KPM v02.03 `E2SM-KPM-RANfunction-Description`.
    decode_kpm_v2_ran_function_description => e2sm_kpm_v02_03::e2_sm_kpm_ies::E2SMKPMRANfunctionDescription, "E2SM-KPM-RANfunction-Description (v02.03)";

    /// E2SM-KPM v03.00 `E2SM-KPM-EventTriggerDefinition`.
    decode_kpm_v3_event_trigger_definition => e2sm_kpm_v03_00::e2_sm_kpm_ies::E2SMKPMEventTriggerDefinition, "E2SM-KPM-EventTriggerDefinition (v03.00)";
    /// E2SM-KPM v03.00 `E2SM-KPM-ActionDefinition`.
    decode_kpm_v3_action_definition => e2sm_kpm_v03_00::e2_sm_kpm_ies::E2SMKPMActionDefinition, "E2SM-KPM-ActionDefinition (v03.00)", precheck crate::kpm::scans::v3_action_definition;
    /// E2SM-KPM v03.00 `E2SM-KPM-IndicationHeader`.
    decode_kpm_v3_indication_header => e2sm_kpm_v03_00::e2_sm_kpm_ies::E2SMKPMIndicationHeader, "E2SM-KPM-IndicationHeader (v03.00)";
    /// E2SM-KPM v03.00 `E2SM-KPM-IndicationMessage`.
    decode_kpm_v3_indication_message => e2sm_kpm_v03_00::e2_sm_kpm_ies::E2SMKPMIndicationMessage, "E2SM-KPM-IndicationMessage (v03.00)", precheck crate::kpm::scans::v3_indication_message;
    /// E2SM-KPM v03.00 `E2SM-KPM-RANfunction-Description`.
    decode_kpm_v3_ran_function_description => e2sm_kpm_v03_00::e2_sm_kpm_ies::E2SMKPMRANfunctionDescription, "E2SM-KPM-RANfunction-Description (v03.00)";

    /// E2SM-KPM v04.00 `E2SM-KPM-EventTriggerDefinition`.
    decode_kpm_v4_event_trigger_definition => e2sm_kpm_v04_00::e2_sm_kpm_ies::E2SMKPMEventTriggerDefinition, "E2SM-KPM-EventTriggerDefinition (v04.00)";
    /// E2SM-KPM v04.00 `E2SM-KPM-ActionDefinition`.
    decode_kpm_v4_action_definition => e2sm_kpm_v04_00::e2_sm_kpm_ies::E2SMKPMActionDefinition, "E2SM-KPM-ActionDefinition (v04.00)", precheck crate::kpm::scans::v4_action_definition;
    /// E2SM-KPM v04.00 `E2SM-KPM-IndicationHeader`.
    decode_kpm_v4_indication_header => e2sm_kpm_v04_00::e2_sm_kpm_ies::E2SMKPMIndicationHeader, "E2SM-KPM-IndicationHeader (v04.00)";
    /// E2SM-KPM v04.00 `E2SM-KPM-IndicationMessage`.
    decode_kpm_v4_indication_message => e2sm_kpm_v04_00::e2_sm_kpm_ies::E2SMKPMIndicationMessage, "E2SM-KPM-IndicationMessage (v04.00)", precheck crate::kpm::scans::v4_indication_message;
    /// E2SM-KPM v04.00 `E2SM-KPM-RANfunction-Description`.
    decode_kpm_v4_ran_function_description => e2sm_kpm_v04_00::e2_sm_kpm_ies::E2SMKPMRANfunctionDescription, "E2SM-KPM-RANfunction-Description (v04.00)";

    /// E2SM-RC v05.00 `E2SM-RC-ControlHeader`.
    decode_rc_control_header => e2sm_rc_v05_00::e2_sm_rc_ies::E2SMRCControlHeader, "E2SM-RC-ControlHeader";
    /// E2SM-RC v05.00 `E2SM-RC-ControlMessage`.
    decode_rc_control_message => e2sm_rc_v05_00::e2_sm_rc_ies::E2SMRCControlMessage, "E2SM-RC-ControlMessage", precheck crate::rc::scan::scan_control_message;
    /// E2SM-RC v05.00 `E2SM-RC-ControlOutcome`.
    decode_rc_control_outcome => e2sm_rc_v05_00::e2_sm_rc_ies::E2SMRCControlOutcome, "E2SM-RC-ControlOutcome";
    /// E2SM-RC v05.00 `E2SM-RC-RANFunctionDefinition`.
    decode_rc_ran_function_definition => e2sm_rc_v05_00::e2_sm_rc_ies::E2SMRCRANFunctionDefinition, "E2SM-RC-RANFunctionDefinition";
}

/// Every decoder above, by the ASN.1 type it reads, for harnesses that feed them all
/// (each returns only whether the input decoded).
pub type AnyDecoder = fn(&[u8]) -> Result<(), DecodeError>;

macro_rules! erased {
    ($($name:ident),* $(,)?) => {
        /// `(type name, decoder)` for every network-facing decoder of this module.
        pub const ALL_DECODERS: &[(&str, AnyDecoder)] = &[
            $((stringify!($name), |b| $name(b).map(drop)),)*
        ];
    };
}

erased!(
    decode_e2ap_pdu,
    decode_kpm_v2_event_trigger_definition,
    decode_kpm_v2_action_definition,
    decode_kpm_v2_indication_header,
    decode_kpm_v2_indication_message,
    decode_kpm_v2_ran_function_description,
    decode_kpm_v3_event_trigger_definition,
    decode_kpm_v3_action_definition,
    decode_kpm_v3_indication_header,
    decode_kpm_v3_indication_message,
    decode_kpm_v3_ran_function_description,
    decode_kpm_v4_event_trigger_definition,
    decode_kpm_v4_action_definition,
    decode_kpm_v4_indication_header,
    decode_kpm_v4_indication_message,
    decode_kpm_v4_ran_function_description,
    decode_rc_control_header,
    decode_rc_control_message,
    decode_rc_control_outcome,
    decode_rc_ran_function_definition,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_oversized_inputs_are_refused_before_decoding() {
        let e = decode_e2ap_pdu(&[]).unwrap_err();
        assert_eq!(e.kind(), "empty");
        let big = vec![0u8; MAX_INPUT_OCTETS + 1];
        let e = decode_rc_control_message(&big).unwrap_err();
        assert_eq!(e.kind(), "too_long");
        assert_eq!(e.type_name(), "E2SM-RC-ControlMessage");
    }

    #[test]
    fn a_truncated_pdu_is_an_aper_error_naming_the_type() {
        // srsRAN's RIC control failure, cut short.
        let e = decode_e2ap_pdu(&[0x40, 0x04, 0x00, 0x17, 0x00]).unwrap_err();
        assert_eq!(e.kind(), "invalid_aper");
        assert!(e.to_string().starts_with("E2AP-PDU: "), "{e}");
    }
}
