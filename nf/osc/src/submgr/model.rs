//! The REST model of the O-RAN SC Subscription Manager API, with the field names of its
//! swagger (`api/xapp_rest_api.yaml` of o-ran-sc/ric-plt-xapp-frame-py, swagger 2.0,
//! `info.version` 0.0.4), and the strict decoders used on every body that crosses the wire.
//!
//! Decoding ([`SubscriptionParams::from_json`], [`SubscriptionResponse::from_json`],
//! [`decode_subscription_list`]) bounds the body size, requires every field the swagger
//! marks required, keeps E2SM byte arrays to integers in `0..=255` and bounded lengths,
//! and checks the value ranges the swagger and E2AP give (RAN function ID `0..=4095`,
//! action ID `0..=255`, at most 16 actions per subscription: E2AP `maxofRICactionID`,
//! Meid short enough for the 32-byte RMR `meid` field). Unknown fields are ignored, so a
//! newer manager that adds fields still interoperates. Every refusal is a [`ModelError`]
//! naming the field, with a bounded [`ModelError::kind`] label.

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

/// Largest JSON body accepted for a [`SubscriptionParams`] (the manager side).
pub const MAX_PARAMS_BODY: usize = 1024 * 1024;
/// Largest JSON body accepted for a [`SubscriptionResponse`] (answer or notification).
pub const MAX_RESPONSE_BODY: usize = 64 * 1024;
/// Largest JSON body accepted for a subscription list.
pub const MAX_LIST_BODY: usize = 4 * 1024 * 1024;
/// Longest E2SM byte array (event trigger or action definition), in bytes.
pub const MAX_OCTETS: usize = 8 * 1024;
/// Most subscription details in one request.
pub const MAX_DETAILS: usize = 64;
/// Most actions in one subscription detail (E2AP `maxofRICactionID`).
pub const MAX_ACTIONS: usize = 16;
/// Most instances in one response or notification.
pub const MAX_INSTANCES: usize = 1024;
/// Longest Meid: the RMR header keeps 32 bytes for it, NUL included (`RMR_MAX_MEID`).
pub const MAX_MEID: usize = 31;
/// Longest host name in a client endpoint (DNS name limit).
pub const MAX_HOST: usize = 253;
/// Longest subscription ID string.
pub const MAX_SUBSCRIPTION_ID: usize = 256;
/// Longest error cause kept from a notification.
pub const MAX_ERROR_CAUSE: usize = 4096;
/// Largest RAN function ID (E2AP `RANfunctionID`, `0..=4095`).
pub const MAX_RAN_FUNCTION_ID: u16 = 4095;

/// A body or field the model refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("{what} body of {len} bytes exceeds the {max}-byte limit")]
    BodyTooLarge {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{what} body is not valid JSON: {reason}")]
    MalformedJson { what: &'static str, reason: String },
    #[error("{what} body lacks a required field: {reason}")]
    MissingField { what: &'static str, reason: String },
    #[error("{what} body has an invalid field: {reason}")]
    InvalidField { what: &'static str, reason: String },
    #[error("{field} = {value} is outside {range}")]
    OutOfRange {
        field: String,
        value: i64,
        range: &'static str,
    },
    #[error("{field} must not be empty")]
    Empty { field: String },
    #[error("{field} has {len} entries/bytes, more than {max}")]
    TooLong {
        field: String,
        len: usize,
        max: usize,
    },
    #[error("{field} = {value:?} is not allowed: {why}")]
    BadText {
        field: String,
        value: String,
        why: &'static str,
    },
    #[error("XappEventInstanceId {0} appears twice in one request")]
    DuplicateInstance(u16),
}

impl ModelError {
    /// Bounded label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            ModelError::BodyTooLarge { .. } => "body_too_large",
            ModelError::MalformedJson { .. } => "malformed_json",
            ModelError::MissingField { .. } => "missing_field",
            ModelError::InvalidField { .. } => "invalid_field",
            ModelError::OutOfRange { .. } => "out_of_range",
            ModelError::Empty { .. } => "empty",
            ModelError::TooLong { .. } => "too_long",
            ModelError::BadText { .. } => "bad_text",
            ModelError::DuplicateInstance(_) => "duplicate_instance",
        }
    }
}

/// An E2SM byte array (event trigger, action definition): APER bytes written in JSON as an
/// array of integers, each `0..=255`, at most [`MAX_OCTETS`] long.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct E2smOctets(pub Vec<u8>);

impl Serialize for E2smOctets {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter())
    }
}

impl<'de> Deserialize<'de> for E2smOctets {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(OctetsVisitor)
    }
}

struct OctetsVisitor;

impl<'de> Visitor<'de> for OctetsVisitor {
    type Value = E2smOctets;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "an array of at most {MAX_OCTETS} integers in 0..=255")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<E2smOctets, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX_OCTETS));
        while let Some(v) = seq.next_element::<serde_json::Number>()? {
            if out.len() == MAX_OCTETS {
                return Err(de::Error::custom(format_args!(
                    "byte array longer than {MAX_OCTETS}"
                )));
            }
            let byte = v
                .as_u64()
                .and_then(|b| u8::try_from(b).ok())
                .ok_or_else(|| {
                    de::Error::custom(format_args!(
                        "byte {v} at index {} is outside 0..=255",
                        out.len()
                    ))
                })?;
            out.push(byte);
        }
        Ok(E2smOctets(out))
    }
}

/// `ActionType` of an action to be set up (E2AP `RICactionType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionType {
    Insert,
    Policy,
    Report,
}

/// `SubsequentActionType` (E2AP `RICsubsequentActionType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubsequentActionType {
    Continue,
    Wait,
}

/// `TimeToWait` (E2AP `RICtimeToWait`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeToWait {
    Zero,
    W1ms,
    W2ms,
    W5ms,
    W10ms,
    W20ms,
    W30ms,
    W40ms,
    W50ms,
    W100ms,
    W200ms,
    W500ms,
    W1s,
    W2s,
    W5s,
    W10s,
    W20s,
    W60s,
}

/// `SubsequentAction` of an action (optional IE).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubsequentAction {
    #[serde(rename = "SubsequentActionType")]
    pub subsequent_action_type: SubsequentActionType,
    #[serde(rename = "TimeToWait")]
    pub time_to_wait: TimeToWait,
}

/// `ActionToBeSetup`: one RIC action of a subscription.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionToBeSetup {
    /// `ActionID`, `0..=255` (E2AP `RICactionID`).
    #[serde(rename = "ActionID")]
    pub action_id: u8,
    #[serde(rename = "ActionType")]
    pub action_type: ActionType,
    /// `ActionDefinition`: the E2SM action definition, APER bytes (optional IE).
    #[serde(
        rename = "ActionDefinition",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub action_definition: Option<E2smOctets>,
    #[serde(
        rename = "SubsequentAction",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub subsequent_action: Option<SubsequentAction>,
}

/// `SubscriptionDetail`: one event trigger with its actions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionDetail {
    /// `XappEventInstanceId`, chosen by the xApp, `0..=65535`; the notification names it.
    #[serde(rename = "XappEventInstanceId")]
    pub xapp_event_instance_id: u16,
    /// `EventTriggers`: the E2SM event trigger definition, APER bytes.
    #[serde(rename = "EventTriggers")]
    pub event_triggers: E2smOctets,
    #[serde(rename = "ActionToBeSetupList")]
    pub action_to_be_setup_list: Vec<ActionToBeSetup>,
}

/// `ClientEndpoint`: where the manager sends its notification (`Host`, `HTTPPort`) and
/// where RMR routes the indications (`RMRPort`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientEndpoint {
    #[serde(rename = "Host")]
    pub host: String,
    #[serde(rename = "HTTPPort")]
    pub http_port: u16,
    #[serde(rename = "RMRPort")]
    pub rmr_port: u16,
}

/// `E2SubscriptionDirectives` (optional; the manager's defaults apply when absent).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct E2SubscriptionDirectives {
    /// `E2TimeoutTimerValue`, seconds, `1..=10`.
    #[serde(
        rename = "E2TimeoutTimerValue",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub e2_timeout_timer_value: Option<i64>,
    /// `E2RetryCount`, `0..=10`.
    #[serde(
        rename = "E2RetryCount",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub e2_retry_count: Option<i64>,
    #[serde(
        rename = "RMRRoutingNeeded",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub rmr_routing_needed: Option<bool>,
}

/// `SubscriptionParams`: the body of `POST /ric/v1/subscriptions`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionParams {
    /// `SubscriptionId`: optional; the manager allocates one when absent.
    #[serde(
        rename = "SubscriptionId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub subscription_id: Option<String>,
    #[serde(rename = "ClientEndpoint")]
    pub client_endpoint: ClientEndpoint,
    /// `Meid`: the E2 node (RAN) name, as RMR carries it.
    #[serde(rename = "Meid")]
    pub meid: String,
    /// `RANFunctionID`, `0..=4095`.
    #[serde(rename = "RANFunctionID")]
    pub ran_function_id: u16,
    #[serde(
        rename = "E2SubscriptionDirectives",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub e2_subscription_directives: Option<E2SubscriptionDirectives>,
    #[serde(rename = "SubscriptionDetails")]
    pub subscription_details: Vec<SubscriptionDetail>,
}

/// `ErrorSource` of a failed subscription instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorSource {
    #[serde(rename = "SUBMGR")]
    Submgr,
    #[serde(rename = "RTMGR")]
    Rtmgr,
    #[serde(rename = "DBAAS")]
    Dbaas,
    #[serde(rename = "ASN1")]
    Asn1,
    #[serde(rename = "E2Node")]
    E2Node,
}

impl ErrorSource {
    /// Bounded label.
    pub fn label(self) -> &'static str {
        match self {
            ErrorSource::Submgr => "SUBMGR",
            ErrorSource::Rtmgr => "RTMGR",
            ErrorSource::Dbaas => "DBAAS",
            ErrorSource::Asn1 => "ASN1",
            ErrorSource::E2Node => "E2Node",
        }
    }
}

/// `TimeoutType` of a timed-out subscription instance (the xApp should retry).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimeoutType {
    #[serde(rename = "E2-Timeout")]
    E2Timeout,
    #[serde(rename = "RTMGR-Timeout")]
    RtmgrTimeout,
    #[serde(rename = "DBAAS-Timeout")]
    DbaasTimeout,
}

impl TimeoutType {
    /// Bounded label.
    pub fn label(self) -> &'static str {
        match self {
            TimeoutType::E2Timeout => "E2-Timeout",
            TimeoutType::RtmgrTimeout => "RTMGR-Timeout",
            TimeoutType::DbaasTimeout => "DBAAS-Timeout",
        }
    }
}

/// `SubscriptionInstance`: the outcome of one subscription detail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionInstance {
    #[serde(rename = "XappEventInstanceId")]
    pub xapp_event_instance_id: u16,
    /// `E2EventInstanceId`: the E2AP RIC request instance ID; RMR `sub_id` of indications.
    #[serde(rename = "E2EventInstanceId")]
    pub e2_event_instance_id: u16,
    /// `ErrorCause`: empty or absent when no error.
    #[serde(
        rename = "ErrorCause",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub error_cause: Option<String>,
    #[serde(
        rename = "ErrorSource",
        default,
        deserialize_with = "empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub error_source: Option<ErrorSource>,
    #[serde(
        rename = "TimeoutType",
        default,
        deserialize_with = "empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub timeout_type: Option<TimeoutType>,
}

impl SubscriptionInstance {
    /// A successful instance.
    pub fn ok(xapp_event_instance_id: u16, e2_event_instance_id: u16) -> Self {
        Self {
            xapp_event_instance_id,
            e2_event_instance_id,
            error_cause: None,
            error_source: None,
            timeout_type: None,
        }
    }

    /// The error cause, when the instance failed (a non-empty `ErrorCause`, or an
    /// `ErrorSource` / `TimeoutType` without one).
    pub fn failure(&self) -> Option<&str> {
        match self.error_cause.as_deref() {
            Some(c) if !c.is_empty() => Some(c),
            _ if self.error_source.is_some() || self.timeout_type.is_some() => {
                Some("(no ErrorCause given)")
            }
            _ => None,
        }
    }
}

/// `SubscriptionResponse`: the `201` answer to a subscribe, and the body of the manager's
/// notification to `/ric/v1/subscriptions/response` (xapp-frame's `Subscriber.Notify`
/// posts this type).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionResponse {
    #[serde(rename = "SubscriptionId")]
    pub subscription_id: String,
    /// Required by the swagger; the Go manager writes `null` for an empty list in its
    /// `201` answer, which reads as empty here.
    #[serde(rename = "SubscriptionInstances", deserialize_with = "nullable_list")]
    pub subscription_instances: Vec<SubscriptionInstance>,
}

/// `SubscriptionData`: one entry of `GET /ric/v1/subscriptions` (every field optional in
/// the swagger).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionData {
    #[serde(
        rename = "SubscriptionId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub subscription_id: Option<i64>,
    #[serde(rename = "Meid", default, skip_serializing_if = "Option::is_none")]
    pub meid: Option<String>,
    #[serde(rename = "ClientEndpoint", default)]
    pub client_endpoint: Vec<String>,
    #[serde(rename = "SubscriptionInstances", default)]
    pub subscription_instances: Vec<SubscriptionInstance>,
}

fn empty_as_none<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let v = Option::<serde_json::Value>::deserialize(d)?;
    match v {
        None => Ok(None),
        Some(serde_json::Value::String(s)) if s.is_empty() => Ok(None),
        Some(v) => T::deserialize(v).map(Some).map_err(de::Error::custom),
    }
}

fn nullable_list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// Parses `body` as `T`, bounded by `max` bytes, classifying serde's errors.
fn parse<'a, T: Deserialize<'a>>(
    what: &'static str,
    body: &'a [u8],
    max: usize,
) -> Result<T, ModelError> {
    if body.len() > max {
        return Err(ModelError::BodyTooLarge {
            what,
            len: body.len(),
            max,
        });
    }
    serde_json::from_slice(body).map_err(|e| {
        let reason = e.to_string();
        match e.classify() {
            serde_json::error::Category::Data if reason.starts_with("missing field") => {
                ModelError::MissingField { what, reason }
            }
            serde_json::error::Category::Data => ModelError::InvalidField { what, reason },
            _ => ModelError::MalformedJson { what, reason },
        }
    })
}

fn check_len(field: impl Into<String>, len: usize, max: usize) -> Result<(), ModelError> {
    if len > max {
        return Err(ModelError::TooLong {
            field: field.into(),
            len,
            max,
        });
    }
    Ok(())
}

fn check_non_empty(field: impl Into<String>, len: usize) -> Result<(), ModelError> {
    if len == 0 {
        return Err(ModelError::Empty {
            field: field.into(),
        });
    }
    Ok(())
}

fn check_range(
    field: &str,
    value: i64,
    lo: i64,
    hi: i64,
    range: &'static str,
) -> Result<(), ModelError> {
    if value < lo || value > hi {
        return Err(ModelError::OutOfRange {
            field: field.into(),
            value,
            range,
        });
    }
    Ok(())
}

/// Text that goes into a URL, a log line or an RMR header: printable ASCII, no space.
fn check_token(field: &str, value: &str, max: usize) -> Result<(), ModelError> {
    check_non_empty(field, value.len())?;
    check_len(field, value.len(), max)?;
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ModelError::BadText {
            field: field.into(),
            value: value.chars().take(64).collect(),
            why: "only printable ASCII without spaces",
        });
    }
    Ok(())
}

/// A subscription ID that can stand in a URL path segment unescaped.
pub fn check_subscription_id(id: &str) -> Result<(), ModelError> {
    check_non_empty("SubscriptionId", id.len())?;
    check_len("SubscriptionId", id.len(), MAX_SUBSCRIPTION_ID)?;
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
    {
        return Err(ModelError::BadText {
            field: "SubscriptionId".into(),
            value: id.chars().take(64).collect(),
            why: "only ASCII letters, digits and -_.~",
        });
    }
    Ok(())
}

impl SubscriptionParams {
    /// Decodes and validates a `POST /ric/v1/subscriptions` body.
    pub fn from_json(body: &[u8]) -> Result<Self, ModelError> {
        let p: Self = parse("SubscriptionParams", body, MAX_PARAMS_BODY)?;
        p.validate()?;
        Ok(p)
    }

    /// The JSON body (validated first, so nothing invalid leaves the xApp).
    pub fn to_json(&self) -> Result<Vec<u8>, ModelError> {
        self.validate()?;
        serde_json::to_vec(self).map_err(|e| ModelError::InvalidField {
            what: "SubscriptionParams",
            reason: e.to_string(),
        })
    }

    /// Checks the ranges and sizes the types alone do not.
    pub fn validate(&self) -> Result<(), ModelError> {
        if let Some(id) = &self.subscription_id {
            check_subscription_id(id)?;
        }
        check_token("ClientEndpoint.Host", &self.client_endpoint.host, MAX_HOST)?;
        check_token("Meid", &self.meid, MAX_MEID)?;
        check_range(
            "RANFunctionID",
            i64::from(self.ran_function_id),
            0,
            i64::from(MAX_RAN_FUNCTION_ID),
            "0..=4095",
        )?;
        if let Some(d) = &self.e2_subscription_directives {
            d.validate()?;
        }
        check_non_empty("SubscriptionDetails", self.subscription_details.len())?;
        check_len(
            "SubscriptionDetails",
            self.subscription_details.len(),
            MAX_DETAILS,
        )?;
        let mut seen = std::collections::BTreeSet::new();
        for (i, d) in self.subscription_details.iter().enumerate() {
            if !seen.insert(d.xapp_event_instance_id) {
                return Err(ModelError::DuplicateInstance(d.xapp_event_instance_id));
            }
            d.validate(i)?;
        }
        Ok(())
    }

    /// The `XappEventInstanceId`s of the request, in order.
    pub fn xapp_event_instance_ids(&self) -> impl Iterator<Item = u16> + '_ {
        self.subscription_details
            .iter()
            .map(|d| d.xapp_event_instance_id)
    }
}

impl E2SubscriptionDirectives {
    fn validate(&self) -> Result<(), ModelError> {
        if let Some(v) = self.e2_timeout_timer_value {
            check_range(
                "E2SubscriptionDirectives.E2TimeoutTimerValue",
                v,
                1,
                10,
                "1..=10",
            )?;
        }
        if let Some(v) = self.e2_retry_count {
            check_range("E2SubscriptionDirectives.E2RetryCount", v, 0, 10, "0..=10")?;
        }
        Ok(())
    }
}

impl SubscriptionDetail {
    fn validate(&self, i: usize) -> Result<(), ModelError> {
        let field = |f: &str| format!("SubscriptionDetails[{i}].{f}");
        check_non_empty(field("EventTriggers"), self.event_triggers.0.len())?;
        let actions = &self.action_to_be_setup_list;
        check_non_empty(field("ActionToBeSetupList"), actions.len())?;
        check_len(field("ActionToBeSetupList"), actions.len(), MAX_ACTIONS)?;
        let mut seen = std::collections::BTreeSet::new();
        for a in actions {
            if !seen.insert(a.action_id) {
                return Err(ModelError::BadText {
                    field: field("ActionToBeSetupList"),
                    value: a.action_id.to_string(),
                    why: "ActionID repeated",
                });
            }
        }
        Ok(())
    }
}

impl SubscriptionResponse {
    /// Decodes and validates a subscription response or notification body.
    pub fn from_json(body: &[u8]) -> Result<Self, ModelError> {
        let r: Self = parse("SubscriptionResponse", body, MAX_RESPONSE_BODY)?;
        r.validate()?;
        Ok(r)
    }

    /// The JSON body.
    pub fn to_json(&self) -> Vec<u8> {
        // Plain strings, integers and enums: serialising cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn validate(&self) -> Result<(), ModelError> {
        check_subscription_id(&self.subscription_id)?;
        check_len(
            "SubscriptionInstances",
            self.subscription_instances.len(),
            MAX_INSTANCES,
        )?;
        for (i, inst) in self.subscription_instances.iter().enumerate() {
            if let Some(c) = &inst.error_cause {
                check_len(
                    format!("SubscriptionInstances[{i}].ErrorCause"),
                    c.len(),
                    MAX_ERROR_CAUSE,
                )?;
            }
        }
        Ok(())
    }
}

/// Decodes a `GET /ric/v1/subscriptions` body.
pub fn decode_subscription_list(body: &[u8]) -> Result<Vec<SubscriptionData>, ModelError> {
    let list: Vec<SubscriptionData> = parse("SubscriptionList", body, MAX_LIST_BODY)?;
    for (i, d) in list.iter().enumerate() {
        if let Some(m) = &d.meid {
            check_len(format!("[{i}].Meid"), m.len(), MAX_MEID)?;
        }
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octets_refuse_out_of_range_bytes_by_index() {
        let e = serde_json::from_str::<E2smOctets>("[1, 2, 256]").unwrap_err();
        assert!(e.to_string().contains("byte 256 at index 2"), "{e}");
        let e = serde_json::from_str::<E2smOctets>("[-1]").unwrap_err();
        assert!(e.to_string().contains("index 0"), "{e}");
        let e = serde_json::from_str::<E2smOctets>("[1.5]").unwrap_err();
        assert!(e.to_string().contains("outside 0..=255"), "{e}");
        let long = format!("[{}0]", "0,".repeat(MAX_OCTETS));
        let e = serde_json::from_str::<E2smOctets>(&long).unwrap_err();
        assert!(e.to_string().contains("longer than"), "{e}");
        let ok: E2smOctets = serde_json::from_str("[0, 255]").unwrap();
        assert_eq!(ok.0, vec![0, 255]);
    }

    #[test]
    fn empty_error_source_reads_as_absent() {
        let i: SubscriptionInstance = serde_json::from_str(
            r#"{"XappEventInstanceId":1,"E2EventInstanceId":2,"ErrorCause":"","ErrorSource":"","TimeoutType":""}"#,
        )
        .unwrap();
        assert_eq!(i.failure(), None);
        let e = serde_json::from_str::<SubscriptionInstance>(
            r#"{"XappEventInstanceId":1,"E2EventInstanceId":2,"ErrorSource":"NOPE"}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("unknown variant"), "{e}");
    }
}
