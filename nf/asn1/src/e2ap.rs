//! E2AP v02.03 messages of the RIC loop over aligned PER, both directions (the xApp side
//! and the E2 node / E2T side the simulator plays), on the generated bindings.
//!
//! Every protocol IE is an open type: it is decoded by its ID into the value type E2AP
//! gives that ID. Limits are checked before anything is trusted ([`Limits`]): PDU bytes
//! first, then IE, action and RAN function counts. An unknown procedure is the named error
//! [`E2apError::UnsupportedProcedure`]; an unknown IE with criticality `reject` is refused,
//! one with `ignore` / `notify` skipped (E2AP 10.3.4.2).

use rasn::prelude::*;

use crate::generated::e2ap_v02_03::e2_ap_common_data_types::{
    Criticality, ProcedureCode, ProtocolIEID,
};
use crate::generated::e2ap_v02_03::e2_ap_constants as id;
use crate::generated::e2ap_v02_03::e2_ap_ies as ies;
use crate::generated::e2ap_v02_03::e2_ap_pdu_contents as pc;
use crate::generated::e2ap_v02_03::e2_ap_pdu_descriptions::{
    E2APPDU, InitiatingMessage, SuccessfulOutcome, UnsuccessfulOutcome,
};

pub use crate::generated::e2ap_v02_03::e2_ap_ies::{
    Cause, RICsubsequentAction, RICsubsequentActionType, RICtimeToWait,
};

/// E2AP maxofRICactionID.
pub const MAX_RIC_ACTIONS: usize = 16;

/// Limits applied before an E2AP PDU is trusted.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest PDU accepted [bytes].
    pub max_pdu_bytes: usize,
    /// Most protocol IEs in one message.
    pub max_ies: usize,
    /// Most actions in one subscription (E2AP allows 16).
    pub max_actions: usize,
    /// Most RAN functions in one E2 setup (E2AP allows 256).
    pub max_ran_functions: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_pdu_bytes: 256 * 1024,
            max_ies: 32,
            max_actions: MAX_RIC_ACTIONS,
            max_ran_functions: 256,
        }
    }
}

/// Why an E2AP PDU was rejected.
#[derive(Debug, thiserror::Error)]
pub enum E2apError {
    /// Bigger than [`Limits::max_pdu_bytes`].
    #[error("E2AP PDU of {len} bytes exceeds the limit of {limit} bytes")]
    Oversize { len: usize, limit: usize },
    /// Not a valid APER encoding of the expected type.
    #[error("undecodable {what}: {reason}")]
    Malformed { what: &'static str, reason: String },
    /// A procedure (and message kind) this layer does not handle.
    #[error("unsupported procedure {code} ({message})")]
    UnsupportedProcedure { code: u8, message: &'static str },
    /// A mandatory IE is absent.
    #[error("mandatory IE {0} is missing")]
    Missing(&'static str),
    /// An IE appears twice.
    #[error("IE {0} appears more than once")]
    DuplicateIe(u16),
    /// An IE this layer does not know, sent with criticality reject.
    #[error("unknown IE {0} with criticality reject")]
    UnknownIe(u16),
    /// More IEs, actions or RAN functions than allowed.
    #[error("{what}: {count} exceeds the limit of {limit}")]
    TooMany {
        what: &'static str,
        count: usize,
        limit: usize,
    },
    /// A message that cannot be encoded: a value breaks an E2AP constraint.
    #[error("cannot encode: {0}")]
    Encode(String),
    /// A value this layer cannot represent (e.g. a non-gNB global E2 node ID).
    #[error("unsupported {0}")]
    Unsupported(&'static str),
}

impl E2apError {
    /// Bounded label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            E2apError::Oversize { .. } => "oversize",
            E2apError::Malformed { .. } => "malformed",
            E2apError::UnsupportedProcedure { .. } => "unsupported_procedure",
            E2apError::Missing(_) => "missing_ie",
            E2apError::DuplicateIe(_) => "duplicate_ie",
            E2apError::UnknownIe(_) => "unknown_ie",
            E2apError::TooMany { .. } => "too_many",
            E2apError::Unsupported(_) => "unsupported_value",
            E2apError::Encode(_) => "encode",
        }
    }

    /// Every [`Self::kind`], to pre-create counters at zero.
    pub const KINDS: [&'static str; 9] = [
        "encode",
        "oversize",
        "malformed",
        "unsupported_procedure",
        "missing_ie",
        "duplicate_ie",
        "unknown_ie",
        "too_many",
        "unsupported_value",
    ];
}

impl Cause {
    /// Bounded label: the cause group (`ric_request`, `ric_service`, `e2_node`, `transport`,
    /// `protocol`, `misc`).
    pub fn label(&self) -> &'static str {
        match self {
            Cause::ricRequest(_) => "ric_request",
            Cause::ricService(_) => "ric_service",
            Cause::e2Node(_) => "e2_node",
            Cause::transport(_) => "transport",
            Cause::protocol(_) => "protocol",
            Cause::misc(_) => "misc",
        }
    }

    /// `misc: unspecified`.
    pub fn unspecified() -> Cause {
        Cause::misc(ies::CauseMisc::unspecified)
    }
}

/// RIC request ID (E2AP 9.2.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RicRequestId {
    pub requestor: u16,
    pub instance: u16,
}

/// RIC action type (E2AP 9.2.10).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionType {
    Report,
    Insert,
    Policy,
}

/// One action of a subscription request (`RICaction-ToBeSetup-Item`).
#[derive(Clone, Debug, PartialEq)]
pub struct Action {
    pub id: u8,
    pub kind: ActionType,
    pub definition: Option<Vec<u8>>,
    /// `RICsubsequentAction` (continue / wait, time to wait), carried as E2AP types.
    pub subsequent: Option<ies::RICsubsequentAction>,
}

/// RIC indication type (E2AP 9.2.19).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndicationType {
    Report,
    Insert,
}

/// Global gNB E2 node ID (E2AP 9.2.6): PLMN, gNB ID (22 to 32 bits) and optional CU-UP / DU IDs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GlobalGnbId {
    pub plmn: [u8; 3],
    pub gnb_id: u32,
    pub gnb_id_bits: u8,
    pub cu_up_id: Option<u64>,
    pub du_id: Option<u64>,
}

/// Global RIC ID (E2AP 9.2.4): PLMN and a 20-bit RIC ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GlobalRicId {
    pub plmn: [u8; 3],
    pub ric_id: u32,
}

/// One RAN function of an E2 setup request (`RANfunction-Item`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RanFunctionItem {
    pub id: u16,
    pub revision: u16,
    pub oid: String,
    pub definition: Vec<u8>,
}

/// The E2AP messages of the RIC loop.
#[derive(Clone, Debug, PartialEq)]
pub enum E2apMessage {
    SubscriptionRequest {
        request: RicRequestId,
        ran_function: u16,
        event_trigger: Vec<u8>,
        actions: Vec<Action>,
    },
    SubscriptionResponse {
        request: RicRequestId,
        ran_function: u16,
        admitted: Vec<u8>,
        not_admitted: Vec<(u8, Cause)>,
    },
    SubscriptionFailure {
        request: RicRequestId,
        ran_function: u16,
        cause: Cause,
    },
    SubscriptionDeleteRequest {
        request: RicRequestId,
        ran_function: u16,
    },
    SubscriptionDeleteResponse {
        request: RicRequestId,
        ran_function: u16,
    },
    SubscriptionDeleteFailure {
        request: RicRequestId,
        ran_function: u16,
        cause: Cause,
    },
    Indication {
        request: RicRequestId,
        ran_function: u16,
        action: u8,
        sn: Option<u16>,
        kind: IndicationType,
        header: Vec<u8>,
        message: Vec<u8>,
        call_process_id: Option<Vec<u8>>,
    },
    ControlRequest {
        request: RicRequestId,
        ran_function: u16,
        call_process_id: Option<Vec<u8>>,
        header: Vec<u8>,
        message: Vec<u8>,
        ack_request: Option<bool>,
    },
    ControlAcknowledge {
        request: RicRequestId,
        ran_function: u16,
        call_process_id: Option<Vec<u8>>,
        outcome: Option<Vec<u8>>,
    },
    ControlFailure {
        request: RicRequestId,
        ran_function: u16,
        call_process_id: Option<Vec<u8>>,
        cause: Cause,
        outcome: Option<Vec<u8>>,
    },
    ErrorIndication {
        transaction_id: Option<u8>,
        request: Option<RicRequestId>,
        ran_function: Option<u16>,
        cause: Option<Cause>,
    },
    E2SetupRequest {
        transaction_id: u8,
        node: GlobalGnbId,
        ran_functions: Vec<RanFunctionItem>,
        /// APER value of the `E2nodeComponentConfigAddition-List` IE, kept as received
        /// (empty: the IE is left out).
        component_config_addition: Vec<u8>,
    },
    E2SetupResponse {
        transaction_id: u8,
        ric: GlobalRicId,
        accepted: Vec<(u16, u16)>,
        rejected: Vec<(u16, Cause)>,
        /// APER value of the `E2nodeComponentConfigAdditionAck-List` IE, kept as received
        /// (empty: the IE is left out).
        component_config_addition_ack: Vec<u8>,
    },
}

impl E2apMessage {
    /// Bounded label of the message, for metrics and logs.
    pub fn name(&self) -> &'static str {
        match self {
            E2apMessage::SubscriptionRequest { .. } => "ric_subscription_request",
            E2apMessage::SubscriptionResponse { .. } => "ric_subscription_response",
            E2apMessage::SubscriptionFailure { .. } => "ric_subscription_failure",
            E2apMessage::SubscriptionDeleteRequest { .. } => "ric_subscription_delete_request",
            E2apMessage::SubscriptionDeleteResponse { .. } => "ric_subscription_delete_response",
            E2apMessage::SubscriptionDeleteFailure { .. } => "ric_subscription_delete_failure",
            E2apMessage::Indication { .. } => "ric_indication",
            E2apMessage::ControlRequest { .. } => "ric_control_request",
            E2apMessage::ControlAcknowledge { .. } => "ric_control_acknowledge",
            E2apMessage::ControlFailure { .. } => "ric_control_failure",
            E2apMessage::ErrorIndication { .. } => "error_indication",
            E2apMessage::E2SetupRequest { .. } => "e2_setup_request",
            E2apMessage::E2SetupResponse { .. } => "e2_setup_response",
        }
    }
}

/// A protocol IE: ID, criticality, APER value.
#[derive(Debug)]
struct Ie {
    id: u16,
    criticality: Criticality,
    value: Vec<u8>,
}

/// Converts a generated protocol-IE container to and from [`Ie`]s. The containers share one
/// wire shape (SEQUENCE OF SEQUENCE {id, criticality, value}) but not one Rust type.
trait IeContainer: Sized {
    fn into_ies(self) -> Vec<Ie>;
    fn from_ies(ies: Vec<Ie>) -> Self;
}

trait IeId {
    fn get(&self) -> u16;
    fn make(v: u16) -> Self;
}
impl IeId for u16 {
    fn get(&self) -> u16 {
        *self
    }
    fn make(v: u16) -> Self {
        v
    }
}
impl IeId for ProtocolIEID {
    fn get(&self) -> u16 {
        self.0
    }
    fn make(v: u16) -> Self {
        ProtocolIEID(v)
    }
}

macro_rules! ie_container {
    ($($list:ident, $item:ident, $crit:ty);* $(;)?) => {$(
        impl IeContainer for pc::$list {
            fn into_ies(self) -> Vec<Ie> {
                self.0
                    .into_iter()
                    .map(|f| Ie {
                        id: f.id.get(),
                        criticality: match f.criticality {
                            <$crit>::reject => Criticality::reject,
                            <$crit>::ignore => Criticality::ignore,
                            <$crit>::notify => Criticality::notify,
                        },
                        value: f.value.into_bytes(),
                    })
                    .collect()
            }
            fn from_ies(ies: Vec<Ie>) -> Self {
                pc::$list(
                    ies.into_iter()
                        .map(|i| pc::$item {
                            id: IeId::make(i.id),
                            criticality: match i.criticality {
                                Criticality::reject => <$crit>::reject,
                                Criticality::ignore => <$crit>::ignore,
                                Criticality::notify => <$crit>::notify,
                            },
                            value: Any::new(i.value),
                        })
                        .collect(),
                )
            }
        }
    )*};
}

ie_container!(
    RICsubscriptionRequestProtocolIEs, AnonymousRICsubscriptionRequestProtocolIEs, Criticality;
    RICsubscriptionResponseProtocolIEs, AnonymousRICsubscriptionResponseProtocolIEs, Criticality;
    RICsubscriptionFailureProtocolIEs, AnonymousRICsubscriptionFailureProtocolIEs, Criticality;
    RICsubscriptionDeleteRequestProtocolIEs, AnonymousRICsubscriptionDeleteRequestProtocolIEs, Criticality;
    RICsubscriptionDeleteResponseProtocolIEs, AnonymousRICsubscriptionDeleteResponseProtocolIEs, Criticality;
    RICsubscriptionDeleteFailureProtocolIEs, AnonymousRICsubscriptionDeleteFailureProtocolIEs, Criticality;
    RICindicationProtocolIEs, AnonymousRICindicationProtocolIEs, Criticality;
    RICcontrolRequestProtocolIEs, AnonymousRICcontrolRequestProtocolIEs, Criticality;
    RICcontrolAcknowledgeProtocolIEs, AnonymousRICcontrolAcknowledgeProtocolIEs, Criticality;
    RICcontrolFailureProtocolIEs, AnonymousRICcontrolFailureProtocolIEs, Criticality;
    ErrorIndicationProtocolIEs, AnonymousErrorIndicationProtocolIEs, pc::AnonymousErrorIndicationProtocolIEsCriticality;
    E2setupRequestProtocolIEs, AnonymousE2setupRequestProtocolIEs, pc::AnonymousE2setupRequestProtocolIEsCriticality;
    E2setupResponseProtocolIEs, AnonymousE2setupResponseProtocolIEs, pc::AnonymousE2setupResponseProtocolIEsCriticality;
);

fn malformed(what: &'static str) -> impl FnOnce(rasn::error::DecodeError) -> E2apError {
    move |e| E2apError::Malformed {
        what,
        reason: e.to_string(),
    }
}

fn dec<T: rasn::Decode>(bytes: &[u8], what: &'static str) -> Result<T, E2apError> {
    rasn::aper::decode(bytes).map_err(malformed(what))
}

fn enc<T: rasn::Encode>(v: &T) -> Result<Vec<u8>, E2apError> {
    rasn::aper::encode(v).map_err(|e| E2apError::Encode(e.to_string()))
}

/// The IEs of a message, by ID, after the count, duplicate and unknown-IE checks.
struct IeSet {
    ies: Vec<Ie>,
}

impl IeSet {
    fn new(ies: Vec<Ie>, known: &[u16], limits: &Limits) -> Result<Self, E2apError> {
        if ies.len() > limits.max_ies {
            return Err(E2apError::TooMany {
                what: "protocol IEs",
                count: ies.len(),
                limit: limits.max_ies,
            });
        }
        let mut kept = Vec::with_capacity(ies.len());
        for ie in ies {
            if kept.iter().any(|k: &Ie| k.id == ie.id) {
                return Err(E2apError::DuplicateIe(ie.id));
            }
            if known.contains(&ie.id) {
                kept.push(ie);
            } else if ie.criticality == Criticality::reject {
                return Err(E2apError::UnknownIe(ie.id));
            }
        }
        Ok(Self { ies: kept })
    }

    fn raw(&self, id: ProtocolIEID) -> Option<&[u8]> {
        self.ies
            .iter()
            .find(|i| i.id == id.0)
            .map(|i| i.value.as_slice())
    }

    fn opt<T: rasn::Decode>(
        &self,
        id: ProtocolIEID,
        what: &'static str,
    ) -> Result<Option<T>, E2apError> {
        self.raw(id).map(|b| dec(b, what)).transpose()
    }

    fn req<T: rasn::Decode>(&self, id: ProtocolIEID, what: &'static str) -> Result<T, E2apError> {
        self.opt(id, what)?.ok_or(E2apError::Missing(what))
    }
}

/// Builds IE lists in spec order.
#[derive(Default)]
struct IeBuilder {
    ies: Vec<Ie>,
    err: Option<E2apError>,
}

impl IeBuilder {
    fn put<T: rasn::Encode>(mut self, id: ProtocolIEID, criticality: Criticality, v: &T) -> Self {
        match enc(v) {
            Ok(value) => self.ies.push(Ie {
                id: id.0,
                criticality,
                value,
            }),
            Err(e) => {
                self.err.get_or_insert(e);
            }
        }
        self
    }

    fn put_opt<T: rasn::Encode>(
        self,
        id: ProtocolIEID,
        criticality: Criticality,
        v: Option<&T>,
    ) -> Self {
        match v {
            Some(v) => self.put(id, criticality, v),
            None => self,
        }
    }

    fn put_raw(mut self, id: ProtocolIEID, criticality: Criticality, raw: &[u8]) -> Self {
        if !raw.is_empty() {
            self.ies.push(Ie {
                id: id.0,
                criticality,
                value: raw.to_vec(),
            });
        }
        self
    }

    fn build<C: IeContainer>(self) -> Result<C, E2apError> {
        match self.err {
            Some(e) => Err(e),
            None => Ok(C::from_ies(self.ies)),
        }
    }
}

const R: Criticality = Criticality::reject;
const I: Criticality = Criticality::ignore;

fn req_id(r: &RicRequestId) -> ies::RICrequestID {
    ies::RICrequestID::new(r.requestor, r.instance)
}

fn req_id_of(r: ies::RICrequestID) -> RicRequestId {
    RicRequestId {
        requestor: r.ric_requestor_id,
        instance: r.ric_instance_id,
    }
}

/// Decodes one E2AP PDU of the RIC loop, applying `limits` first.
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<E2apMessage, E2apError> {
    decode_with_criticality(bytes, limits).map(|(m, _)| m)
}

/// [`decode`], also giving the procedure criticality the sender used.
pub fn decode_with_criticality(
    bytes: &[u8],
    limits: &Limits,
) -> Result<(E2apMessage, Criticality), E2apError> {
    if bytes.len() > limits.max_pdu_bytes {
        return Err(E2apError::Oversize {
            len: bytes.len(),
            limit: limits.max_pdu_bytes,
        });
    }
    let pdu: E2APPDU = dec(bytes, "E2AP-PDU")?;
    match pdu {
        E2APPDU::initiatingMessage(m) => {
            decode_initiating(m.procedure_code.0, m.value.as_bytes(), limits)
                .map(|x| (x, m.criticality))
        }
        E2APPDU::successfulOutcome(m) => {
            decode_successful(m.procedure_code.0, m.value.as_bytes(), limits)
                .map(|x| (x, m.criticality))
        }
        E2APPDU::unsuccessfulOutcome(m) => {
            decode_unsuccessful(m.procedure_code.0, m.value.as_bytes(), limits)
                .map(|x| (x, m.criticality))
        }
    }
}

fn decode_initiating(code: u8, v: &[u8], limits: &Limits) -> Result<E2apMessage, E2apError> {
    match ProcedureCode(code) {
        c if c == id::ID_RICSUBSCRIPTION => {
            let m: pc::RICsubscriptionRequest = dec(v, "RICsubscriptionRequest")?;
            let s = IeSet::new(
                m.protocol_ies.into_ies(),
                &[
                    id::ID_RICREQUEST_ID.0,
                    id::ID_RANFUNCTION_ID.0,
                    id::ID_RICSUBSCRIPTION_DETAILS.0,
                ],
                limits,
            )?;
            let details: pc::RICsubscriptionDetails =
                s.req(id::ID_RICSUBSCRIPTION_DETAILS, "RICsubscriptionDetails")?;
            Ok(E2apMessage::SubscriptionRequest {
                request: req_id_of(s.req(id::ID_RICREQUEST_ID, "RICrequestID")?),
                ran_function: s
                    .req::<ies::RANfunctionID>(id::ID_RANFUNCTION_ID, "RANfunctionID")?
                    .0,
                event_trigger: details.ric_event_trigger_definition.0.to_vec(),
                actions: actions_of(details.ric_action_to_be_setup_list, limits)?,
            })
        }
        c if c == id::ID_RICSUBSCRIPTION_DELETE => {
            let m: pc::RICsubscriptionDeleteRequest = dec(v, "RICsubscriptionDeleteRequest")?;
            let s = IeSet::new(
                m.protocol_ies.into_ies(),
                &[id::ID_RICREQUEST_ID.0, id::ID_RANFUNCTION_ID.0],
                limits,
            )?;
            let (request, ran_function) = request_and_function(&s)?;
            Ok(E2apMessage::SubscriptionDeleteRequest {
                request,
                ran_function,
            })
        }
        c if c == id::ID_RICINDICATION => {
            let m: pc::RICindication = dec(v, "RICindication")?;
            let s = IeSet::new(
                m.protocol_ies.into_ies(),
                &[
                    id::ID_RICREQUEST_ID.0,
                    id::ID_RANFUNCTION_ID.0,
                    id::ID_RICACTION_ID.0,
                    id::ID_RICINDICATION_SN.0,
                    id::ID_RICINDICATION_TYPE.0,
                    id::ID_RICINDICATION_HEADER.0,
                    id::ID_RICINDICATION_MESSAGE.0,
                    id::ID_RICCALL_PROCESS_ID.0,
                ],
                limits,
            )?;
            let (request, ran_function) = request_and_function(&s)?;
            let kind = match s
                .req::<ies::RICindicationType>(id::ID_RICINDICATION_TYPE, "RICindicationType")?
            {
                ies::RICindicationType::report => IndicationType::Report,
                ies::RICindicationType::insert => IndicationType::Insert,
            };
            Ok(E2apMessage::Indication {
                request,
                ran_function,
                action: s
                    .req::<ies::RICactionID>(id::ID_RICACTION_ID, "RICactionID")?
                    .0,
                sn: s
                    .opt::<ies::RICindicationSN>(id::ID_RICINDICATION_SN, "RICindicationSN")?
                    .map(|x| x.0),
                kind,
                header: s
                    .req::<ies::RICindicationHeader>(
                        id::ID_RICINDICATION_HEADER,
                        "RICindicationHeader",
                    )?
                    .0
                    .to_vec(),
                message: s
                    .req::<ies::RICindicationMessage>(
                        id::ID_RICINDICATION_MESSAGE,
                        "RICindicationMessage",
                    )?
                    .0
                    .to_vec(),
                call_process_id: s
                    .opt::<ies::RICcallProcessID>(id::ID_RICCALL_PROCESS_ID, "RICcallProcessID")?
                    .map(|x| x.0.to_vec()),
            })
        }
        c if c == id::ID_RICCONTROL => {
            let m: pc::RICcontrolRequest = dec(v, "RICcontrolRequest")?;
            let s = IeSet::new(
                m.protocol_ies.into_ies(),
                &[
                    id::ID_RICREQUEST_ID.0,
                    id::ID_RANFUNCTION_ID.0,
                    id::ID_RICCALL_PROCESS_ID.0,
                    id::ID_RICCONTROL_HEADER.0,
                    id::ID_RICCONTROL_MESSAGE.0,
                    id::ID_RICCONTROL_ACK_REQUEST.0,
                ],
                limits,
            )?;
            let (request, ran_function) = request_and_function(&s)?;
            Ok(E2apMessage::ControlRequest {
                request,
                ran_function,
                call_process_id: s
                    .opt::<ies::RICcallProcessID>(id::ID_RICCALL_PROCESS_ID, "RICcallProcessID")?
                    .map(|x| x.0.to_vec()),
                header: s
                    .req::<ies::RICcontrolHeader>(id::ID_RICCONTROL_HEADER, "RICcontrolHeader")?
                    .0
                    .to_vec(),
                message: s
                    .req::<ies::RICcontrolMessage>(id::ID_RICCONTROL_MESSAGE, "RICcontrolMessage")?
                    .0
                    .to_vec(),
                ack_request: s
                    .opt::<ies::RICcontrolAckRequest>(
                        id::ID_RICCONTROL_ACK_REQUEST,
                        "RICcontrolAckRequest",
                    )?
                    .map(|a| a == ies::RICcontrolAckRequest::ack),
            })
        }
        c if c == id::ID_ERROR_INDICATION => {
            let m: pc::ErrorIndication = dec(v, "ErrorIndication")?;
            let s = IeSet::new(
                m.protocol_ies.into_ies(),
                &[
                    id::ID_TRANSACTION_ID.0,
                    id::ID_RICREQUEST_ID.0,
                    id::ID_RANFUNCTION_ID.0,
                    id::ID_CAUSE.0,
                    id::ID_CRITICALITY_DIAGNOSTICS.0,
                ],
                limits,
            )?;
            Ok(E2apMessage::ErrorIndication {
                transaction_id: s
                    .opt::<ies::TransactionID>(id::ID_TRANSACTION_ID, "TransactionID")?
                    .map(|t| transaction(&t))
                    .transpose()?,
                request: s.opt(id::ID_RICREQUEST_ID, "RICrequestID")?.map(req_id_of),
                ran_function: s
                    .opt::<ies::RANfunctionID>(id::ID_RANFUNCTION_ID, "RANfunctionID")?
                    .map(|f| f.0),
                cause: s.opt(id::ID_CAUSE, "Cause")?,
            })
        }
        c if c == id::ID_E2SETUP => {
            let m: pc::E2setupRequest = dec(v, "E2setupRequest")?;
            let s = IeSet::new(
                m.protocol_ies.into_ies(),
                &[
                    id::ID_TRANSACTION_ID.0,
                    id::ID_GLOBAL_E2NODE_ID.0,
                    id::ID_RANFUNCTIONS_ADDED.0,
                    id::ID_E2NODE_COMPONENT_CONFIG_ADDITION.0,
                ],
                limits,
            )?;
            let funcs: pc::RANfunctionsList =
                s.req(id::ID_RANFUNCTIONS_ADDED, "RANfunctionsAdded")?;
            Ok(E2apMessage::E2SetupRequest {
                transaction_id: transaction(&s.req(id::ID_TRANSACTION_ID, "TransactionID")?)?,
                node: gnb_of(s.req(id::ID_GLOBAL_E2NODE_ID, "GlobalE2node-ID")?)?,
                ran_functions: ran_functions_of(funcs, limits)?,
                component_config_addition: s
                    .raw(id::ID_E2NODE_COMPONENT_CONFIG_ADDITION)
                    .map(<[u8]>::to_vec)
                    .unwrap_or_default(),
            })
        }
        _ => Err(E2apError::UnsupportedProcedure {
            code,
            message: "initiating message",
        }),
    }
}

fn decode_successful(code: u8, v: &[u8], limits: &Limits) -> Result<E2apMessage, E2apError> {
    match ProcedureCode(code) {
        c if c == id::ID_RICSUBSCRIPTION => {
            let m: pc::RICsubscriptionResponse = dec(v, "RICsubscriptionResponse")?;
            let s = IeSet::new(
                m.protocol_ies.into_ies(),
                &[
                    id::ID_RICREQUEST_ID.0,
                    id::ID_RANFUNCTION_ID.0,
                    id::ID_RICACTIONS_ADMITTED.0,
                    id::ID_RICACTIONS_NOT_ADMITTED.0,
                ],
                limits,
            )?;
            let (request, ran_function) = request_and_function(&s)?;
            let admitted: pc::RICactionAdmittedList =
                s.req(id::ID_RICACTIONS_ADMITTED, "RICactions-Admitted")?;
            let not_admitted: Option<pc::RICactionNotAdmittedList> =
                s.opt(id::ID_RICACTIONS_NOT_ADMITTED, "RICactions-NotAdmitted")?;
            Ok(E2apMessage::SubscriptionResponse {
                request,
                ran_function,
                admitted: admitted
                    .0
                    .iter()
                    .map(|i| {
                        dec::<pc::RICactionAdmittedItem>(
                            i.value.as_bytes(),
                            "RICaction-Admitted-Item",
                        )
                        .map(|a| a.ric_action_id.0)
                    })
                    .collect::<Result<_, _>>()?,
                not_admitted: not_admitted
                    .map(|l| l.0)
                    .unwrap_or_default()
                    .iter()
                    .map(|i| {
                        dec::<pc::RICactionNotAdmittedItem>(
                            i.value.as_bytes(),
                            "RICaction-NotAdmitted-Item",
                        )
                        .map(|a| (a.ric_action_id.0, a.cause))
                    })
                    .collect::<Result<_, _>>()?,
            })
        }
        c if c == id::ID_RICSUBSCRIPTION_DELETE => {
            let m: pc::RICsubscriptionDeleteResponse = dec(v, "RICsubscriptionDeleteResponse")?;
            let s = IeSet::new(
                m.protocol_ies.into_ies(),
                &[id::ID_RICREQUEST_ID.0, id::ID_RANFUNCTION_ID.0],
                limits,
            )?;
            let (request, ran_function) = request_and_function(&s)?;
            Ok(E2apMessage::SubscriptionDeleteResponse {
                request,
                ran_function,
            })
        }
        c if c == id::ID_RICCONTROL => {
            let m: pc::RICcontrolAcknowledge = dec(v, "RICcontrolAcknowledge")?;
            let s = IeSet::new(
                m.protocol_ies.into_ies(),
                &[
                    id::ID_RICREQUEST_ID.0,
                    id::ID_RANFUNCTION_ID.0,
                    id::ID_RICCALL_PROCESS_ID.0,
                    id::ID_RICCONTROL_OUTCOME.0,
                ],
                limits,
            )?;
            let (request, ran_function) = request_and_function(&s)?;
            Ok(E2apMessage::ControlAcknowledge {
                request,
                ran_function,
                call_process_id: s
                    .opt::<ies::RICcallProcessID>(id::ID_RICCALL_PROCESS_ID, "RICcallProcessID")?
                    .map(|x| x.0.to_vec()),
                outcome: s
                    .opt::<ies::RICcontrolOutcome>(id::ID_RICCONTROL_OUTCOME, "RICcontrolOutcome")?
                    .map(|x| x.0.to_vec()),
            })
        }
        c if c == id::ID_E2SETUP => {
            let m: pc::E2setupResponse = dec(v, "E2setupResponse")?;
            let s = IeSet::new(
                m.protocol_ies.into_ies(),
                &[
                    id::ID_TRANSACTION_ID.0,
                    id::ID_GLOBAL_RIC_ID.0,
                    id::ID_RANFUNCTIONS_ACCEPTED.0,
                    id::ID_RANFUNCTIONS_REJECTED.0,
                    id::ID_E2NODE_COMPONENT_CONFIG_ADDITION_ACK.0,
                ],
                limits,
            )?;
            let ric: ies::GlobalRICID = s.req(id::ID_GLOBAL_RIC_ID, "GlobalRIC-ID")?;
            let accepted: Option<pc::RANfunctionsIDList> =
                s.opt(id::ID_RANFUNCTIONS_ACCEPTED, "RANfunctionsAccepted")?;
            let rejected: Option<pc::RANfunctionsIDcauseList> =
                s.opt(id::ID_RANFUNCTIONS_REJECTED, "RANfunctionsRejected")?;
            Ok(E2apMessage::E2SetupResponse {
                transaction_id: transaction(&s.req(id::ID_TRANSACTION_ID, "TransactionID")?)?,
                ric: GlobalRicId {
                    plmn: *ric.p_lmn_identity.0,
                    ric_id: bits_value(&ric.ric_id),
                },
                accepted: accepted
                    .map(|l| l.0)
                    .unwrap_or_default()
                    .iter()
                    .map(|i| {
                        dec::<pc::RANfunctionIDItem>(i.value.as_bytes(), "RANfunctionID-Item")
                            .map(|f| (f.ran_function_id.0, f.ran_function_revision.0))
                    })
                    .collect::<Result<_, _>>()?,
                rejected: rejected
                    .map(|l| l.0)
                    .unwrap_or_default()
                    .iter()
                    .map(|i| {
                        dec::<pc::RANfunctionIDcauseItem>(
                            i.value.as_bytes(),
                            "RANfunctionIDcause-Item",
                        )
                        .map(|f| (f.ran_function_id.0, f.cause))
                    })
                    .collect::<Result<_, _>>()?,
                component_config_addition_ack: s
                    .raw(id::ID_E2NODE_COMPONENT_CONFIG_ADDITION_ACK)
                    .map(<[u8]>::to_vec)
                    .unwrap_or_default(),
            })
        }
        _ => Err(E2apError::UnsupportedProcedure {
            code,
            message: "successful outcome",
        }),
    }
}

fn decode_unsuccessful(code: u8, v: &[u8], limits: &Limits) -> Result<E2apMessage, E2apError> {
    let known = [
        id::ID_RICREQUEST_ID.0,
        id::ID_RANFUNCTION_ID.0,
        id::ID_CAUSE.0,
        id::ID_CRITICALITY_DIAGNOSTICS.0,
        id::ID_RICCALL_PROCESS_ID.0,
        id::ID_RICCONTROL_OUTCOME.0,
    ];
    match ProcedureCode(code) {
        c if c == id::ID_RICSUBSCRIPTION => {
            let m: pc::RICsubscriptionFailure = dec(v, "RICsubscriptionFailure")?;
            let s = IeSet::new(m.protocol_ies.into_ies(), &known[..4], limits)?;
            let (request, ran_function) = request_and_function(&s)?;
            Ok(E2apMessage::SubscriptionFailure {
                request,
                ran_function,
                cause: s.req(id::ID_CAUSE, "Cause")?,
            })
        }
        c if c == id::ID_RICSUBSCRIPTION_DELETE => {
            let m: pc::RICsubscriptionDeleteFailure = dec(v, "RICsubscriptionDeleteFailure")?;
            let s = IeSet::new(m.protocol_ies.into_ies(), &known[..4], limits)?;
            let (request, ran_function) = request_and_function(&s)?;
            Ok(E2apMessage::SubscriptionDeleteFailure {
                request,
                ran_function,
                cause: s.req(id::ID_CAUSE, "Cause")?,
            })
        }
        c if c == id::ID_RICCONTROL => {
            let m: pc::RICcontrolFailure = dec(v, "RICcontrolFailure")?;
            let s = IeSet::new(m.protocol_ies.into_ies(), &known, limits)?;
            let (request, ran_function) = request_and_function(&s)?;
            Ok(E2apMessage::ControlFailure {
                request,
                ran_function,
                call_process_id: s
                    .opt::<ies::RICcallProcessID>(id::ID_RICCALL_PROCESS_ID, "RICcallProcessID")?
                    .map(|x| x.0.to_vec()),
                cause: s.req(id::ID_CAUSE, "Cause")?,
                outcome: s
                    .opt::<ies::RICcontrolOutcome>(id::ID_RICCONTROL_OUTCOME, "RICcontrolOutcome")?
                    .map(|x| x.0.to_vec()),
            })
        }
        _ => Err(E2apError::UnsupportedProcedure {
            code,
            message: "unsuccessful outcome",
        }),
    }
}

fn request_and_function(s: &IeSet) -> Result<(RicRequestId, u16), E2apError> {
    Ok((
        req_id_of(s.req(id::ID_RICREQUEST_ID, "RICrequestID")?),
        s.req::<ies::RANfunctionID>(id::ID_RANFUNCTION_ID, "RANfunctionID")?
            .0,
    ))
}

fn transaction(t: &ies::TransactionID) -> Result<u8, E2apError> {
    u8::try_from(&t.0).map_err(|_| E2apError::Unsupported("transaction ID above 255"))
}

fn bits_value(b: &BitString) -> u32 {
    b.iter().fold(0u32, |acc, bit| (acc << 1) | u32::from(*bit))
}

fn bits_of(v: u32, n: u8) -> BitString {
    (0..n)
        .rev()
        .map(|i| v.checked_shr(u32::from(i)).unwrap_or(0) & 1 == 1)
        .collect()
}

fn actions_of(
    list: pc::RICactionsToBeSetupList,
    limits: &Limits,
) -> Result<Vec<Action>, E2apError> {
    if list.0.len() > limits.max_actions {
        return Err(E2apError::TooMany {
            what: "RIC actions",
            count: list.0.len(),
            limit: limits.max_actions,
        });
    }
    list.0
        .iter()
        .map(|i| {
            if i.id != id::ID_RICACTION_TO_BE_SETUP_ITEM {
                return Err(E2apError::UnknownIe(i.id.0));
            }
            let a: pc::RICactionToBeSetupItem =
                dec(i.value.as_bytes(), "RICaction-ToBeSetup-Item")?;
            Ok(Action {
                id: a.ric_action_id.0,
                kind: match a.ric_action_type {
                    ies::RICactionType::report => ActionType::Report,
                    ies::RICactionType::insert => ActionType::Insert,
                    ies::RICactionType::policy => ActionType::Policy,
                },
                definition: a.ric_action_definition.map(|d| d.0.to_vec()),
                subsequent: a.ric_subsequent_action,
            })
        })
        .collect()
}

fn ran_functions_of(
    list: pc::RANfunctionsList,
    limits: &Limits,
) -> Result<Vec<RanFunctionItem>, E2apError> {
    if list.0.len() > limits.max_ran_functions {
        return Err(E2apError::TooMany {
            what: "RAN functions",
            count: list.0.len(),
            limit: limits.max_ran_functions,
        });
    }
    list.0
        .iter()
        .map(|i| {
            let f: pc::RANfunctionItem = dec(i.value.as_bytes(), "RANfunction-Item")?;
            Ok(RanFunctionItem {
                id: f.ran_function_id.0,
                revision: f.ran_function_revision.0,
                oid: String::from_utf8_lossy(f.ran_function_oid.0.as_bytes()).into_owned(),
                definition: f.ran_function_definition.0.to_vec(),
            })
        })
        .collect()
}

fn gnb_of(n: ies::GlobalE2nodeID) -> Result<GlobalGnbId, E2apError> {
    let ies::GlobalE2nodeID::gNB(g) = n else {
        return Err(E2apError::Unsupported("global E2 node ID other than gNB"));
    };
    let ies::GNBIDChoice::gnb_ID(bits) = &g.global_g_nb_id.gnb_id;
    Ok(GlobalGnbId {
        plmn: *g.global_g_nb_id.plmn_id.0,
        gnb_id: bits_value(bits),
        gnb_id_bits: u8::try_from(bits.len()).unwrap_or(u8::MAX),
        cu_up_id: g.g_nb_cu_up_id.map(|x| x.0),
        du_id: g.g_nb_du_id.map(|x| x.0),
    })
}

fn gnb(n: &GlobalGnbId) -> ies::GlobalE2nodeID {
    ies::GlobalE2nodeID::gNB(ies::GlobalE2nodeGNBID::new(
        ies::GlobalgNBID::new(
            ies::PLMNIdentity(FixedOctetString::from(n.plmn)),
            ies::GNBIDChoice::gnb_ID(bits_of(n.gnb_id, n.gnb_id_bits)),
        ),
        None,
        n.cu_up_id.map(ies::GNBCUUPID),
        n.du_id.map(ies::GNBDUID),
    ))
}

/// The three E2AP PDU kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PduKind {
    Initiating,
    Successful,
    Unsuccessful,
}

type Body = (PduKind, ProcedureCode, Criticality, Vec<u8>);

fn initiating(code: ProcedureCode, criticality: Criticality, body: Vec<u8>) -> Body {
    (PduKind::Initiating, code, criticality, body)
}

fn successful(code: ProcedureCode, body: Vec<u8>) -> Body {
    (PduKind::Successful, code, R, body)
}

fn unsuccessful(code: ProcedureCode, body: Vec<u8>) -> Body {
    (PduKind::Unsuccessful, code, R, body)
}

/// A `ProtocolIE-SingleContainer` list item (criticality ignore, as E2AP gives every item IE).
fn single<T: rasn::Encode>(
    item_id: ProtocolIEID,
    v: &T,
) -> Result<(ProtocolIEID, Criticality, Any), E2apError> {
    Ok((item_id, I, Any::new(enc(v)?)))
}

/// Encodes a message as an E2AP PDU (IEs in the order and with the criticalities of the
/// E2AP v02.03 tabular definitions).
///
/// # Errors
/// [`E2apError::Encode`] when a value breaks an E2AP constraint (no action, more than 16
/// actions, a RAN function ID above 4095, a gNB ID outside 22..=32 bits, …).
pub fn encode(msg: &E2apMessage) -> Result<Vec<u8>, E2apError> {
    let (kind, code, criticality, body) = body(msg)?;
    pdu(kind, code, criticality, body)
}

/// Encodes a message with the procedure criticality given (e.g. the one a peer used, from
/// [`decode_with_criticality`]) instead of the E2AP default.
pub fn encode_with_criticality(
    msg: &E2apMessage,
    criticality: Criticality,
) -> Result<Vec<u8>, E2apError> {
    let (kind, code, _, body) = body(msg)?;
    pdu(kind, code, criticality, body)
}

fn pdu(
    kind: PduKind,
    code: ProcedureCode,
    criticality: Criticality,
    body: Vec<u8>,
) -> Result<Vec<u8>, E2apError> {
    let value = Any::new(body);
    enc(&match kind {
        PduKind::Initiating => {
            E2APPDU::initiatingMessage(InitiatingMessage::new(code, criticality, value))
        }
        PduKind::Successful => {
            E2APPDU::successfulOutcome(SuccessfulOutcome::new(code, criticality, value))
        }
        PduKind::Unsuccessful => {
            E2APPDU::unsuccessfulOutcome(UnsuccessfulOutcome::new(code, criticality, value))
        }
    })
}

/// The PDU kind, procedure code, default procedure criticality and message body of `msg`.
fn body(msg: &E2apMessage) -> Result<Body, E2apError> {
    use E2apMessage as M;
    Ok(match msg {
        M::SubscriptionRequest {
            request,
            ran_function,
            event_trigger,
            actions,
        } => {
            let list = pc::RICactionsToBeSetupList(
                actions
                    .iter()
                    .map(|a| {
                        let item = pc::RICactionToBeSetupItem::new(
                            ies::RICactionID(a.id),
                            match a.kind {
                                ActionType::Report => ies::RICactionType::report,
                                ActionType::Insert => ies::RICactionType::insert,
                                ActionType::Policy => ies::RICactionType::policy,
                            },
                            a.definition
                                .clone()
                                .map(|d| ies::RICactionDefinition(d.into())),
                            a.subsequent.clone(),
                        );
                        let (i, c, v) = single(id::ID_RICACTION_TO_BE_SETUP_ITEM, &item)?;
                        Ok(pc::AnonymousRICactionsToBeSetupList::new(i, c, v))
                    })
                    .collect::<Result<Vec<_>, E2apError>>()?,
            );
            let details = pc::RICsubscriptionDetails::new(
                ies::RICeventTriggerDefinition(event_trigger.clone().into()),
                list,
            );
            let ies = IeBuilder::default()
                .put(id::ID_RICREQUEST_ID, R, &req_id(request))
                .put(id::ID_RANFUNCTION_ID, R, &ies::RANfunctionID(*ran_function))
                .put(id::ID_RICSUBSCRIPTION_DETAILS, R, &details)
                .build()?;
            initiating(
                id::ID_RICSUBSCRIPTION,
                R,
                enc(&pc::RICsubscriptionRequest::new(ies))?,
            )
        }
        M::SubscriptionResponse {
            request,
            ran_function,
            admitted,
            not_admitted,
        } => {
            let adm = pc::RICactionAdmittedList(
                admitted
                    .iter()
                    .map(|a| {
                        let (i, c, v) = single(
                            id::ID_RICACTION_ADMITTED_ITEM,
                            &pc::RICactionAdmittedItem::new(ies::RICactionID(*a)),
                        )?;
                        Ok(pc::AnonymousRICactionAdmittedList::new(i, c, v))
                    })
                    .collect::<Result<Vec<_>, E2apError>>()?,
            );
            let not = pc::RICactionNotAdmittedList(
                not_admitted
                    .iter()
                    .map(|(a, cause)| {
                        let (i, c, v) = single(
                            id::ID_RICACTION_NOT_ADMITTED_ITEM,
                            &pc::RICactionNotAdmittedItem::new(ies::RICactionID(*a), cause.clone()),
                        )?;
                        Ok(pc::AnonymousRICactionNotAdmittedList::new(i, c, v))
                    })
                    .collect::<Result<Vec<_>, E2apError>>()?,
            );
            let ies = IeBuilder::default()
                .put(id::ID_RICREQUEST_ID, R, &req_id(request))
                .put(id::ID_RANFUNCTION_ID, R, &ies::RANfunctionID(*ran_function))
                .put(id::ID_RICACTIONS_ADMITTED, R, &adm)
                .put_opt(
                    id::ID_RICACTIONS_NOT_ADMITTED,
                    R,
                    (!not_admitted.is_empty()).then_some(&not),
                )
                .build()?;
            successful(
                id::ID_RICSUBSCRIPTION,
                enc(&pc::RICsubscriptionResponse::new(ies))?,
            )
        }
        M::SubscriptionFailure {
            request,
            ran_function,
            cause,
        } => {
            let ies = IeBuilder::default()
                .put(id::ID_RICREQUEST_ID, R, &req_id(request))
                .put(id::ID_RANFUNCTION_ID, R, &ies::RANfunctionID(*ran_function))
                .put(id::ID_CAUSE, R, cause)
                .build()?;
            unsuccessful(
                id::ID_RICSUBSCRIPTION,
                enc(&pc::RICsubscriptionFailure::new(ies))?,
            )
        }
        M::SubscriptionDeleteRequest {
            request,
            ran_function,
        } => {
            let ies = request_ies(request, *ran_function).build()?;
            initiating(
                id::ID_RICSUBSCRIPTION_DELETE,
                R,
                enc(&pc::RICsubscriptionDeleteRequest::new(ies))?,
            )
        }
        M::SubscriptionDeleteResponse {
            request,
            ran_function,
        } => {
            let ies = request_ies(request, *ran_function).build()?;
            successful(
                id::ID_RICSUBSCRIPTION_DELETE,
                enc(&pc::RICsubscriptionDeleteResponse::new(ies))?,
            )
        }
        M::SubscriptionDeleteFailure {
            request,
            ran_function,
            cause,
        } => {
            let ies = request_ies(request, *ran_function)
                .put(id::ID_CAUSE, R, cause)
                .build()?;
            unsuccessful(
                id::ID_RICSUBSCRIPTION_DELETE,
                enc(&pc::RICsubscriptionDeleteFailure::new(ies))?,
            )
        }
        M::Indication {
            request,
            ran_function,
            action,
            sn,
            kind,
            header,
            message,
            call_process_id,
        } => {
            let ies = request_ies(request, *ran_function)
                .put(id::ID_RICACTION_ID, R, &ies::RICactionID(*action))
                .put_opt(
                    id::ID_RICINDICATION_SN,
                    R,
                    sn.map(ies::RICindicationSN).as_ref(),
                )
                .put(
                    id::ID_RICINDICATION_TYPE,
                    R,
                    &match kind {
                        IndicationType::Report => ies::RICindicationType::report,
                        IndicationType::Insert => ies::RICindicationType::insert,
                    },
                )
                .put(
                    id::ID_RICINDICATION_HEADER,
                    R,
                    &ies::RICindicationHeader(header.clone().into()),
                )
                .put(
                    id::ID_RICINDICATION_MESSAGE,
                    R,
                    &ies::RICindicationMessage(message.clone().into()),
                )
                .put_opt(
                    id::ID_RICCALL_PROCESS_ID,
                    R,
                    call_process_id
                        .clone()
                        .map(|c| ies::RICcallProcessID(c.into()))
                        .as_ref(),
                )
                .build()?;
            (
                PduKind::Initiating,
                id::ID_RICINDICATION,
                I,
                enc(&pc::RICindication::new(ies))?,
            )
        }
        M::ControlRequest {
            request,
            ran_function,
            call_process_id,
            header,
            message,
            ack_request,
        } => {
            let ies = request_ies(request, *ran_function)
                .put_opt(
                    id::ID_RICCALL_PROCESS_ID,
                    R,
                    call_process_id
                        .clone()
                        .map(|c| ies::RICcallProcessID(c.into()))
                        .as_ref(),
                )
                .put(
                    id::ID_RICCONTROL_HEADER,
                    R,
                    &ies::RICcontrolHeader(header.clone().into()),
                )
                .put(
                    id::ID_RICCONTROL_MESSAGE,
                    R,
                    &ies::RICcontrolMessage(message.clone().into()),
                )
                .put_opt(
                    id::ID_RICCONTROL_ACK_REQUEST,
                    R,
                    ack_request
                        .map(|a| {
                            if a {
                                ies::RICcontrolAckRequest::ack
                            } else {
                                ies::RICcontrolAckRequest::noAck
                            }
                        })
                        .as_ref(),
                )
                .build()?;
            (
                PduKind::Initiating,
                id::ID_RICCONTROL,
                R,
                enc(&pc::RICcontrolRequest::new(ies))?,
            )
        }
        M::ControlAcknowledge {
            request,
            ran_function,
            call_process_id,
            outcome,
        } => {
            let ies = request_ies(request, *ran_function)
                .put_opt(
                    id::ID_RICCALL_PROCESS_ID,
                    R,
                    call_process_id
                        .clone()
                        .map(|c| ies::RICcallProcessID(c.into()))
                        .as_ref(),
                )
                .put_opt(
                    id::ID_RICCONTROL_OUTCOME,
                    R,
                    outcome
                        .clone()
                        .map(|c| ies::RICcontrolOutcome(c.into()))
                        .as_ref(),
                )
                .build()?;
            (
                PduKind::Successful,
                id::ID_RICCONTROL,
                R,
                enc(&pc::RICcontrolAcknowledge::new(ies))?,
            )
        }
        M::ControlFailure {
            request,
            ran_function,
            call_process_id,
            cause,
            outcome,
        } => {
            let ies = request_ies(request, *ran_function)
                .put_opt(
                    id::ID_RICCALL_PROCESS_ID,
                    R,
                    call_process_id
                        .clone()
                        .map(|c| ies::RICcallProcessID(c.into()))
                        .as_ref(),
                )
                .put(id::ID_CAUSE, I, cause)
                .put_opt(
                    id::ID_RICCONTROL_OUTCOME,
                    R,
                    outcome
                        .clone()
                        .map(|c| ies::RICcontrolOutcome(c.into()))
                        .as_ref(),
                )
                .build()?;
            (
                PduKind::Unsuccessful,
                id::ID_RICCONTROL,
                R,
                enc(&pc::RICcontrolFailure::new(ies))?,
            )
        }
        M::ErrorIndication {
            transaction_id,
            request,
            ran_function,
            cause,
        } => {
            let ies = IeBuilder::default()
                .put_opt(
                    id::ID_TRANSACTION_ID,
                    R,
                    transaction_id
                        .map(|t| ies::TransactionID(t.into()))
                        .as_ref(),
                )
                .put_opt(
                    id::ID_RICREQUEST_ID,
                    R,
                    request.as_ref().map(req_id).as_ref(),
                )
                .put_opt(
                    id::ID_RANFUNCTION_ID,
                    R,
                    ran_function.map(ies::RANfunctionID).as_ref(),
                )
                .put_opt(id::ID_CAUSE, I, cause.as_ref())
                .build()?;
            initiating(
                id::ID_ERROR_INDICATION,
                I,
                enc(&pc::ErrorIndication::new(ies))?,
            )
        }
        M::E2SetupRequest {
            transaction_id,
            node,
            ran_functions,
            component_config_addition,
        } => {
            let funcs = pc::RANfunctionsList(
                ran_functions
                    .iter()
                    .map(|f| {
                        let item = pc::RANfunctionItem::new(
                            ies::RANfunctionID(f.id),
                            ies::RANfunctionDefinition(f.definition.clone().into()),
                            ies::RANfunctionRevision(f.revision),
                            ies::RANfunctionOID(crate::kpm::printable_pub(&f.oid)),
                        );
                        let (i, c, v) = single(id::ID_RANFUNCTION_ITEM, &item)?;
                        Ok(pc::AnonymousRANfunctionsList::new(i, c, v))
                    })
                    .collect::<Result<Vec<_>, E2apError>>()?,
            );
            let ies = IeBuilder::default()
                .put(
                    id::ID_TRANSACTION_ID,
                    R,
                    &ies::TransactionID((*transaction_id).into()),
                )
                .put(id::ID_GLOBAL_E2NODE_ID, R, &gnb(node))
                .put(id::ID_RANFUNCTIONS_ADDED, R, &funcs)
                .put_raw(
                    id::ID_E2NODE_COMPONENT_CONFIG_ADDITION,
                    R,
                    component_config_addition,
                )
                .build()?;
            (
                PduKind::Initiating,
                id::ID_E2SETUP,
                R,
                enc(&pc::E2setupRequest::new(ies))?,
            )
        }
        M::E2SetupResponse {
            transaction_id,
            ric,
            accepted,
            rejected,
            component_config_addition_ack,
        } => {
            let acc = pc::RANfunctionsIDList(
                accepted
                    .iter()
                    .map(|(f, r)| {
                        let (i, c, v) = single(
                            id::ID_RANFUNCTION_ID_ITEM,
                            &pc::RANfunctionIDItem::new(
                                ies::RANfunctionID(*f),
                                ies::RANfunctionRevision(*r),
                            ),
                        )?;
                        Ok(pc::AnonymousRANfunctionsIDList::new(i, c, v))
                    })
                    .collect::<Result<Vec<_>, E2apError>>()?,
            );
            let rej = pc::RANfunctionsIDcauseList(
                rejected
                    .iter()
                    .map(|(f, cause)| {
                        let (i, c, v) = single(
                            id::ID_RANFUNCTION_IECAUSE_ITEM,
                            &pc::RANfunctionIDcauseItem::new(ies::RANfunctionID(*f), cause.clone()),
                        )?;
                        Ok(pc::AnonymousRANfunctionsIDcauseList::new(i, c, v))
                    })
                    .collect::<Result<Vec<_>, E2apError>>()?,
            );
            let ies = IeBuilder::default()
                .put(
                    id::ID_TRANSACTION_ID,
                    R,
                    &ies::TransactionID((*transaction_id).into()),
                )
                .put(
                    id::ID_GLOBAL_RIC_ID,
                    R,
                    &ies::GlobalRICID::new(
                        ies::PLMNIdentity(FixedOctetString::from(ric.plmn)),
                        bits_of(ric.ric_id, 20),
                    ),
                )
                .put_opt(
                    id::ID_RANFUNCTIONS_ACCEPTED,
                    R,
                    (!accepted.is_empty()).then_some(&acc),
                )
                .put_opt(
                    id::ID_RANFUNCTIONS_REJECTED,
                    R,
                    (!rejected.is_empty()).then_some(&rej),
                )
                .put_raw(
                    id::ID_E2NODE_COMPONENT_CONFIG_ADDITION_ACK,
                    R,
                    component_config_addition_ack,
                )
                .build()?;
            (
                PduKind::Successful,
                id::ID_E2SETUP,
                R,
                enc(&pc::E2setupResponse::new(ies))?,
            )
        }
    })
}

fn request_ies(request: &RicRequestId, ran_function: u16) -> IeBuilder {
    IeBuilder::default()
        .put(id::ID_RICREQUEST_ID, R, &req_id(request))
        .put(id::ID_RANFUNCTION_ID, R, &ies::RANfunctionID(ran_function))
}
