//! The E2AP v02.03 messages the simulated E2 nodes exchange with an O-RAN SC RIC over RMR,
//! in aligned PER on the generated bindings of `e2-asn1`: RIC indication (node → xApp),
//! RIC control request (xApp → node), RIC control acknowledge / failure (node → xApp).
//!
//! E2AP protocol IEs are open types: each IE value is encoded on its own and carried as
//! the bytes of an `Any`, looked up by its `ProtocolIE-ID`. Decoding checks the procedure
//! code and message kind, refuses a missing mandatory IE by name, and skips IEs it does not
//! know (their criticality is the sender's business, not a reason to fail here).

use e2_asn1::generated::e2ap_v02_03::e2_ap_common_data_types::{
    Criticality, ProcedureCode, ProtocolIEID,
};
use e2_asn1::generated::e2ap_v02_03::e2_ap_constants::{
    ID_CAUSE, ID_RANFUNCTION_ID, ID_RICACTION_ID, ID_RICCALL_PROCESS_ID, ID_RICCONTROL,
    ID_RICCONTROL_ACK_REQUEST, ID_RICCONTROL_HEADER, ID_RICCONTROL_MESSAGE, ID_RICCONTROL_OUTCOME,
    ID_RICINDICATION, ID_RICINDICATION_HEADER, ID_RICINDICATION_MESSAGE, ID_RICINDICATION_SN,
    ID_RICINDICATION_TYPE, ID_RICREQUEST_ID,
};
use e2_asn1::generated::e2ap_v02_03::e2_ap_ies::{
    Cause, CauseMisc, CauseProtocol, CauseRICrequest, RANfunctionID, RICactionID, RICcallProcessID,
    RICcontrolAckRequest, RICcontrolHeader, RICcontrolMessage, RICcontrolOutcome,
    RICindicationHeader, RICindicationMessage, RICindicationSN, RICindicationType, RICrequestID,
};
use e2_asn1::generated::e2ap_v02_03::e2_ap_pdu_contents::{
    AnonymousRICcontrolAcknowledgeProtocolIEs, AnonymousRICcontrolFailureProtocolIEs,
    AnonymousRICcontrolRequestProtocolIEs, AnonymousRICindicationProtocolIEs,
    RICcontrolAcknowledge, RICcontrolAcknowledgeProtocolIEs, RICcontrolFailure,
    RICcontrolFailureProtocolIEs, RICcontrolRequest, RICcontrolRequestProtocolIEs, RICindication,
    RICindicationProtocolIEs,
};
use e2_asn1::generated::e2ap_v02_03::e2_ap_pdu_descriptions::{
    E2APPDU, InitiatingMessage, SuccessfulOutcome, UnsuccessfulOutcome,
};
use e2_proto::cause::E2Cause;
use rasn::types::Any;

/// Largest E2AP PDU decoded, in bytes (an RMR frame may carry up to 4 MiB).
pub const MAX_PDU_BYTES: usize = 1 << 20;

/// Why an E2AP PDU was refused.
#[derive(Debug, thiserror::Error)]
pub enum E2apError {
    #[error("E2AP PDU of {len} bytes exceeds the bound of {max}")]
    TooLong { len: usize, max: usize },
    #[error("{what}: aligned-PER decode failed: {detail}")]
    Decode { what: &'static str, detail: String },
    #[error("{what}: aligned-PER encode failed: {detail}")]
    Encode { what: &'static str, detail: String },
    #[error("E2AP {kind} with procedure code {code} is not a {want}")]
    UnexpectedProcedure {
        kind: &'static str,
        code: u8,
        want: &'static str,
    },
    #[error("{message} lacks its mandatory IE {ie}")]
    MissingIe {
        message: &'static str,
        ie: &'static str,
    },
}

impl E2apError {
    /// A bounded label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::TooLong { .. } => "e2ap_too_long",
            Self::Decode { .. } => "e2ap_undecodable",
            Self::Encode { .. } => "e2ap_encode",
            Self::UnexpectedProcedure { .. } => "e2ap_unexpected_procedure",
            Self::MissingIe { .. } => "e2ap_missing_ie",
        }
    }
}

/// `RICrequestID`: requestor (set by the RIC) and instance (the subscription's
/// `E2EventInstanceId`, also RMR's `sub_id`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RicRequestId {
    pub requestor: u16,
    pub instance: u16,
}

/// The IEs of a `RICindication`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Indication {
    pub request: RicRequestId,
    pub ran_function_id: u16,
    pub action_id: u8,
    /// `RICindicationSN` (optional in E2AP; always sent here).
    pub sn: Option<u16>,
    /// True for `report`, false for `insert`.
    pub report: bool,
    pub header: Vec<u8>,
    pub message: Vec<u8>,
    pub call_process_id: Option<Vec<u8>>,
}

/// The IEs of a `RICcontrolRequest`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlRequest {
    pub request: RicRequestId,
    pub ran_function_id: u16,
    pub call_process_id: Option<Vec<u8>>,
    pub header: Vec<u8>,
    pub message: Vec<u8>,
    /// `RICcontrolAckRequest`: `Some(false)` is `noAck` (no acknowledge on success).
    pub ack_request: Option<bool>,
}

/// A `RICcontrolAcknowledge` or `RICcontrolFailure`.
#[derive(Clone, Debug, PartialEq)]
pub struct ControlAnswer {
    pub request: RicRequestId,
    pub ran_function_id: u16,
    pub call_process_id: Option<Vec<u8>>,
    /// `RICcontrolOutcome` (the E2SM-RC control outcome).
    pub outcome: Option<Vec<u8>>,
    /// `None`: acknowledge; `Some`: failure with this cause.
    pub failure: Option<Cause>,
}

fn enc<T: rasn::Encode>(what: &'static str, v: &T) -> Result<Vec<u8>, E2apError> {
    rasn::aper::encode(v).map_err(|e| E2apError::Encode {
        what,
        detail: e.to_string(),
    })
}

fn dec<T: rasn::Decode>(what: &'static str, bytes: &[u8]) -> Result<T, E2apError> {
    rasn::aper::decode(bytes).map_err(|e| E2apError::Decode {
        what,
        detail: e.to_string(),
    })
}

/// One IE: (ID, criticality, encoded value).
type Ie = (ProtocolIEID, Criticality, Any);

fn ie<T: rasn::Encode>(id: ProtocolIEID, what: &'static str, v: &T) -> Result<Ie, E2apError> {
    Ok((id, Criticality::reject, Any::new(enc(what, v)?)))
}

fn request_id(r: RicRequestId) -> RICrequestID {
    RICrequestID::new(r.requestor, r.instance)
}

fn from_request_id(r: &RICrequestID) -> RicRequestId {
    RicRequestId {
        requestor: r.ric_requestor_id,
        instance: r.ric_instance_id,
    }
}

fn pdu_bytes(pdu: &E2APPDU) -> Result<Vec<u8>, E2apError> {
    enc("E2AP-PDU", pdu)
}

fn decode_pdu(bytes: &[u8]) -> Result<E2APPDU, E2apError> {
    if bytes.len() > MAX_PDU_BYTES {
        return Err(E2apError::TooLong {
            len: bytes.len(),
            max: MAX_PDU_BYTES,
        });
    }
    dec("E2AP-PDU", bytes)
}

/// IEs looked up by ID.
struct Ies<'a> {
    message: &'static str,
    items: Vec<(u16, &'a Any)>,
}

impl Ies<'_> {
    fn get<T: rasn::Decode>(
        &self,
        id: ProtocolIEID,
        name: &'static str,
    ) -> Result<Option<T>, E2apError> {
        match self.items.iter().find(|(i, _)| *i == id.0) {
            Some((_, any)) => dec(name, any.as_bytes()).map(Some),
            None => Ok(None),
        }
    }

    fn need<T: rasn::Decode>(&self, id: ProtocolIEID, name: &'static str) -> Result<T, E2apError> {
        self.get(id, name)?.ok_or(E2apError::MissingIe {
            message: self.message,
            ie: name,
        })
    }
}

/// Encodes a `RICindication` (initiating message, procedure code 5).
pub fn encode_indication(i: &Indication) -> Result<Vec<u8>, E2apError> {
    let mut ies = vec![
        ie(ID_RICREQUEST_ID, "RICrequestID", &request_id(i.request))?,
        ie(
            ID_RANFUNCTION_ID,
            "RANfunctionID",
            &RANfunctionID(i.ran_function_id),
        )?,
        ie(ID_RICACTION_ID, "RICactionID", &RICactionID(i.action_id))?,
    ];
    if let Some(sn) = i.sn {
        ies.push(ie(
            ID_RICINDICATION_SN,
            "RICindicationSN",
            &RICindicationSN(sn),
        )?);
    }
    let kind = if i.report {
        RICindicationType::report
    } else {
        RICindicationType::insert
    };
    ies.push(ie(ID_RICINDICATION_TYPE, "RICindicationType", &kind)?);
    ies.push(ie(
        ID_RICINDICATION_HEADER,
        "RICindicationHeader",
        &RICindicationHeader(i.header.clone().into()),
    )?);
    ies.push(ie(
        ID_RICINDICATION_MESSAGE,
        "RICindicationMessage",
        &RICindicationMessage(i.message.clone().into()),
    )?);
    if let Some(c) = &i.call_process_id {
        ies.push(ie(
            ID_RICCALL_PROCESS_ID,
            "RICcallProcessID",
            &RICcallProcessID(c.clone().into()),
        )?);
    }
    let ies = ies
        .into_iter()
        .map(|(id, c, v)| AnonymousRICindicationProtocolIEs::new(id, c, v))
        .collect();
    let value = enc(
        "RICindication",
        &RICindication::new(RICindicationProtocolIEs(ies)),
    )?;
    pdu_bytes(&E2APPDU::initiatingMessage(InitiatingMessage::new(
        ID_RICINDICATION,
        Criticality::ignore,
        Any::new(value),
    )))
}

/// Decodes a `RICindication`.
pub fn decode_indication(bytes: &[u8]) -> Result<Indication, E2apError> {
    let m = initiating(decode_pdu(bytes)?, ID_RICINDICATION, "RICindication")?;
    let msg: RICindication = dec("RICindication", m.value.as_bytes())?;
    let ies = Ies {
        message: "RICindication",
        items: msg
            .protocol_ies
            .0
            .iter()
            .map(|i| (i.id.0, &i.value))
            .collect(),
    };
    let kind: RICindicationType = ies.need(ID_RICINDICATION_TYPE, "RICindicationType")?;
    Ok(Indication {
        request: from_request_id(&ies.need(ID_RICREQUEST_ID, "RICrequestID")?),
        ran_function_id: ies
            .need::<RANfunctionID>(ID_RANFUNCTION_ID, "RANfunctionID")?
            .0,
        action_id: ies.need::<RICactionID>(ID_RICACTION_ID, "RICactionID")?.0,
        sn: ies
            .get::<RICindicationSN>(ID_RICINDICATION_SN, "RICindicationSN")?
            .map(|s| s.0),
        report: kind == RICindicationType::report,
        header: ies
            .need::<RICindicationHeader>(ID_RICINDICATION_HEADER, "RICindicationHeader")?
            .0
            .to_vec(),
        message: ies
            .need::<RICindicationMessage>(ID_RICINDICATION_MESSAGE, "RICindicationMessage")?
            .0
            .to_vec(),
        call_process_id: ies
            .get::<RICcallProcessID>(ID_RICCALL_PROCESS_ID, "RICcallProcessID")?
            .map(|c| c.0.to_vec()),
    })
}

fn initiating(
    pdu: E2APPDU,
    code: ProcedureCode,
    want: &'static str,
) -> Result<InitiatingMessage, E2apError> {
    match pdu {
        E2APPDU::initiatingMessage(m) if m.procedure_code == code => Ok(m),
        E2APPDU::initiatingMessage(m) => {
            Err(unexpected("initiatingMessage", m.procedure_code, want))
        }
        E2APPDU::successfulOutcome(m) => {
            Err(unexpected("successfulOutcome", m.procedure_code, want))
        }
        E2APPDU::unsuccessfulOutcome(m) => {
            Err(unexpected("unsuccessfulOutcome", m.procedure_code, want))
        }
        _ => Err(unexpected("extension", ProcedureCode(0), want)),
    }
}

fn unexpected(kind: &'static str, code: ProcedureCode, want: &'static str) -> E2apError {
    E2apError::UnexpectedProcedure {
        kind,
        code: code.0,
        want,
    }
}

/// Encodes a `RICcontrolRequest` (initiating message, procedure code 4).
pub fn encode_control_request(c: &ControlRequest) -> Result<Vec<u8>, E2apError> {
    let mut ies = vec![
        ie(ID_RICREQUEST_ID, "RICrequestID", &request_id(c.request))?,
        ie(
            ID_RANFUNCTION_ID,
            "RANfunctionID",
            &RANfunctionID(c.ran_function_id),
        )?,
    ];
    if let Some(cp) = &c.call_process_id {
        ies.push(ie(
            ID_RICCALL_PROCESS_ID,
            "RICcallProcessID",
            &RICcallProcessID(cp.clone().into()),
        )?);
    }
    ies.push(ie(
        ID_RICCONTROL_HEADER,
        "RICcontrolHeader",
        &RICcontrolHeader(c.header.clone().into()),
    )?);
    ies.push(ie(
        ID_RICCONTROL_MESSAGE,
        "RICcontrolMessage",
        &RICcontrolMessage(c.message.clone().into()),
    )?);
    if let Some(ack) = c.ack_request {
        let v = if ack {
            RICcontrolAckRequest::ack
        } else {
            RICcontrolAckRequest::noAck
        };
        ies.push(ie(ID_RICCONTROL_ACK_REQUEST, "RICcontrolAckRequest", &v)?);
    }
    let ies = ies
        .into_iter()
        .map(|(id, c, v)| AnonymousRICcontrolRequestProtocolIEs::new(id, c, v))
        .collect();
    let value = enc(
        "RICcontrolRequest",
        &RICcontrolRequest::new(RICcontrolRequestProtocolIEs(ies)),
    )?;
    pdu_bytes(&E2APPDU::initiatingMessage(InitiatingMessage::new(
        ID_RICCONTROL,
        Criticality::reject,
        Any::new(value),
    )))
}

/// Decodes a `RICcontrolRequest`.
pub fn decode_control_request(bytes: &[u8]) -> Result<ControlRequest, E2apError> {
    let m = initiating(decode_pdu(bytes)?, ID_RICCONTROL, "RICcontrolRequest")?;
    let msg: RICcontrolRequest = dec("RICcontrolRequest", m.value.as_bytes())?;
    let ies = Ies {
        message: "RICcontrolRequest",
        items: msg
            .protocol_ies
            .0
            .iter()
            .map(|i| (i.id.0, &i.value))
            .collect(),
    };
    Ok(ControlRequest {
        request: from_request_id(&ies.need(ID_RICREQUEST_ID, "RICrequestID")?),
        ran_function_id: ies
            .need::<RANfunctionID>(ID_RANFUNCTION_ID, "RANfunctionID")?
            .0,
        call_process_id: ies
            .get::<RICcallProcessID>(ID_RICCALL_PROCESS_ID, "RICcallProcessID")?
            .map(|c| c.0.to_vec()),
        header: ies
            .need::<RICcontrolHeader>(ID_RICCONTROL_HEADER, "RICcontrolHeader")?
            .0
            .to_vec(),
        message: ies
            .need::<RICcontrolMessage>(ID_RICCONTROL_MESSAGE, "RICcontrolMessage")?
            .0
            .to_vec(),
        ack_request: ies
            .get::<RICcontrolAckRequest>(ID_RICCONTROL_ACK_REQUEST, "RICcontrolAckRequest")?
            .map(|a| a == RICcontrolAckRequest::ack),
    })
}

/// The E2AP cause of an [`E2Cause`].
pub fn cause_of(c: E2Cause) -> Cause {
    match c {
        E2Cause::ControlMessageInvalid => {
            Cause::ricRequest(CauseRICrequest::control_message_invalid)
        }
        E2Cause::ActionNotSupported => Cause::ricRequest(CauseRICrequest::action_not_supported),
        E2Cause::RanFunctionIdInvalid => {
            Cause::ricRequest(CauseRICrequest::ran_function_id_invalid)
        }
        E2Cause::TransferSyntaxError => Cause::protocol(CauseProtocol::transfer_syntax_error),
        E2Cause::ControlProcessingOverload => Cause::misc(CauseMisc::control_processing_overload),
        E2Cause::Unspecified => Cause::misc(CauseMisc::unspecified),
    }
}

/// Encodes a `RICcontrolAcknowledge` (successful outcome) or, with `failure`, a
/// `RICcontrolFailure` (unsuccessful outcome), procedure code 4.
pub fn encode_control_answer(a: &ControlAnswer) -> Result<Vec<u8>, E2apError> {
    let mut ies = vec![
        ie(ID_RICREQUEST_ID, "RICrequestID", &request_id(a.request))?,
        ie(
            ID_RANFUNCTION_ID,
            "RANfunctionID",
            &RANfunctionID(a.ran_function_id),
        )?,
    ];
    if let Some(cp) = &a.call_process_id {
        ies.push(ie(
            ID_RICCALL_PROCESS_ID,
            "RICcallProcessID",
            &RICcallProcessID(cp.clone().into()),
        )?);
    }
    if let Some(cause) = &a.failure {
        let (id, _, v) = ie(ID_CAUSE, "Cause", cause)?;
        ies.push((id, Criticality::ignore, v));
    }
    if let Some(o) = &a.outcome {
        ies.push(ie(
            ID_RICCONTROL_OUTCOME,
            "RICcontrolOutcome",
            &RICcontrolOutcome(o.clone().into()),
        )?);
    }
    let pdu = match a.failure {
        None => {
            let ies = ies
                .into_iter()
                .map(|(id, c, v)| AnonymousRICcontrolAcknowledgeProtocolIEs::new(id, c, v))
                .collect();
            let value = enc(
                "RICcontrolAcknowledge",
                &RICcontrolAcknowledge::new(RICcontrolAcknowledgeProtocolIEs(ies)),
            )?;
            E2APPDU::successfulOutcome(SuccessfulOutcome::new(
                ID_RICCONTROL,
                Criticality::reject,
                Any::new(value),
            ))
        }
        Some(_) => {
            let ies = ies
                .into_iter()
                .map(|(id, c, v)| AnonymousRICcontrolFailureProtocolIEs::new(id, c, v))
                .collect();
            let value = enc(
                "RICcontrolFailure",
                &RICcontrolFailure::new(RICcontrolFailureProtocolIEs(ies)),
            )?;
            E2APPDU::unsuccessfulOutcome(UnsuccessfulOutcome::new(
                ID_RICCONTROL,
                Criticality::reject,
                Any::new(value),
            ))
        }
    };
    pdu_bytes(&pdu)
}

/// Decodes a `RICcontrolAcknowledge` or `RICcontrolFailure`.
pub fn decode_control_answer(bytes: &[u8]) -> Result<ControlAnswer, E2apError> {
    let (failure, value) = match decode_pdu(bytes)? {
        E2APPDU::successfulOutcome(m) if m.procedure_code == ID_RICCONTROL => (false, m.value),
        E2APPDU::unsuccessfulOutcome(m) if m.procedure_code == ID_RICCONTROL => (true, m.value),
        E2APPDU::initiatingMessage(m) => {
            return Err(unexpected(
                "initiatingMessage",
                m.procedure_code,
                "RIC control answer",
            ));
        }
        E2APPDU::successfulOutcome(m) => {
            return Err(unexpected(
                "successfulOutcome",
                m.procedure_code,
                "RIC control answer",
            ));
        }
        E2APPDU::unsuccessfulOutcome(m) => {
            return Err(unexpected(
                "unsuccessfulOutcome",
                m.procedure_code,
                "RIC control answer",
            ));
        }
        _ => {
            return Err(unexpected(
                "extension",
                ProcedureCode(0),
                "RIC control answer",
            ));
        }
    };
    let (message, items): (&'static str, Vec<(u16, Any)>) = if failure {
        let m: RICcontrolFailure = dec("RICcontrolFailure", value.as_bytes())?;
        let items = m
            .protocol_ies
            .0
            .into_iter()
            .map(|i| (i.id.0, i.value))
            .collect();
        ("RICcontrolFailure", items)
    } else {
        let m: RICcontrolAcknowledge = dec("RICcontrolAcknowledge", value.as_bytes())?;
        let items = m
            .protocol_ies
            .0
            .into_iter()
            .map(|i| (i.id.0, i.value))
            .collect();
        ("RICcontrolAcknowledge", items)
    };
    let ies = Ies {
        message,
        items: items.iter().map(|(id, v)| (*id, v)).collect(),
    };
    Ok(ControlAnswer {
        request: from_request_id(&ies.need(ID_RICREQUEST_ID, "RICrequestID")?),
        ran_function_id: ies
            .need::<RANfunctionID>(ID_RANFUNCTION_ID, "RANfunctionID")?
            .0,
        call_process_id: ies
            .get::<RICcallProcessID>(ID_RICCALL_PROCESS_ID, "RICcallProcessID")?
            .map(|c| c.0.to_vec()),
        outcome: ies
            .get::<RICcontrolOutcome>(ID_RICCONTROL_OUTCOME, "RICcontrolOutcome")?
            .map(|o| o.0.to_vec()),
        failure: if failure {
            Some(ies.need(ID_CAUSE, "Cause")?)
        } else {
            None
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indication_round_trips_with_every_ie() {
        let i = Indication {
            request: RicRequestId {
                requestor: 123,
                instance: 7,
            },
            ran_function_id: 2,
            action_id: 1,
            sn: Some(65535),
            report: true,
            header: vec![1, 2, 3],
            message: vec![4; 300],
            call_process_id: Some(vec![0, 0, 0, 1, 0, 0, 0, 9]),
        };
        let bytes = encode_indication(&i).unwrap();
        assert_eq!(decode_indication(&bytes).unwrap(), i);
        let err = decode_control_request(&bytes).unwrap_err();
        assert_eq!(err.kind(), "e2ap_unexpected_procedure", "{err}");
    }

    #[test]
    fn control_answers_round_trip() {
        let ack = ControlAnswer {
            request: RicRequestId {
                requestor: 1,
                instance: 2,
            },
            ran_function_id: 3,
            call_process_id: None,
            outcome: Some(vec![9, 9]),
            failure: None,
        };
        let b = encode_control_answer(&ack).unwrap();
        assert_eq!(decode_control_answer(&b).unwrap(), ack);
        let fail = ControlAnswer {
            failure: Some(cause_of(E2Cause::ControlMessageInvalid)),
            outcome: None,
            ..ack
        };
        let b = encode_control_answer(&fail).unwrap();
        assert_eq!(decode_control_answer(&b).unwrap(), fail);
    }

    #[test]
    fn hostile_pdus_are_named_errors() {
        assert_eq!(
            decode_control_request(&[]).unwrap_err().kind(),
            "e2ap_undecodable"
        );
        assert_eq!(
            decode_control_request(&vec![0; MAX_PDU_BYTES + 1])
                .unwrap_err()
                .kind(),
            "e2ap_too_long"
        );
        assert_eq!(
            decode_control_request(&[0x00, 0x04, 0x00, 0x01, 0x00])
                .unwrap_err()
                .kind(),
            "e2ap_undecodable"
        );
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    /// srsRAN's E2AP RIC control request and failure vectors decode, and encode back to
    /// the same bytes (IE order and criticalities as srsRAN writes them).
    #[test]
    fn srsran_control_vectors_decode_and_re_encode_byte_for_byte() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/interop/vectors/srsran.json");
        let Ok(text) = std::fs::read_to_string(&path) else {
            println!("skipped: {} is absent", path.display());
            return;
        };
        let v: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        let (mut requests, mut failures) = (0, 0);
        for e in &v {
            let id = e["id"].as_str().unwrap_or_default();
            let bytes = hex(e["hex"].as_str().unwrap_or_default());
            if e["type"] != "E2AP-PDU" {
                continue;
            }
            if id.contains("ctrl_req") || id.contains("ric_control_request") {
                let c = decode_control_request(&bytes).unwrap_or_else(|e| panic!("{id}: {e}"));
                assert!(!c.header.is_empty() && !c.message.is_empty(), "{id}");
                assert_eq!(encode_control_request(&c).unwrap(), bytes, "{id}");
                requests += 1;
            } else if id.contains("control_failure") {
                let a = decode_control_answer(&bytes).unwrap_or_else(|e| panic!("{id}: {e}"));
                assert!(a.failure.is_some(), "{id}");
                assert_eq!(encode_control_answer(&a).unwrap(), bytes, "{id}");
                failures += 1;
            }
        }
        assert_eq!(
            (requests, failures),
            (3, 1),
            "vectors seen in {}",
            path.display()
        );
    }
}
