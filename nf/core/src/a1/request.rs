//! The A1 mediator's messages to and from the xApp, as JSON bodies of RMR messages.
//!
//! - `A1_POLICY_REQ` (20010), mediator → xApp: `{"operation", "policy_type_id",
//!   "policy_instance_id", "payload"}` (O-RAN SC ric-plt-a1, `docs/a1_xapp_contract_openapi.yaml`,
//!   `downstream_message_schema`; no other key). The Go mediator (`pkg/rmr/messages.go`)
//!   writes `payload` as a *string* holding the JSON body (empty for DELETE) and some of its
//!   versions `policy_type_id` as a string of digits; both forms are read.
//! - `A1_POLICY_RESP` (20011), xApp → mediator: `{"policy_type_id", "policy_instance_id",
//!   "handler_id", "status"}` with status `OK`, `ERROR` or `DELETED`
//!   (`downstream_notification_schema`). The mediators read only those keys; a refusal adds
//!   `"message"` with the reason, which they ignore and an operator reads in a capture.
//! - `A1_POLICY_QUERY` (20012), xApp → mediator: `{"policy_type_id"}`; the mediator then
//!   sends a CREATE for every instance of the type it holds.

use serde_json::{Value, json};

use super::A1Error;

/// What the mediator asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    Delete,
    Read,
}

impl Operation {
    /// Labels of `xapp_a1_policy_requests_total{operation}` ("unknown" when unreadable).
    pub const LABELS: [&'static str; 5] = ["create", "update", "delete", "read", "unknown"];

    /// Bounded metric label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Delete => "delete",
            Self::Read => "read",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "CREATE" => Self::Create,
            "UPDATE" => Self::Update,
            "DELETE" => Self::Delete,
            "READ" => Self::Read,
            _ => return None,
        })
    }
}

/// A readable `A1_POLICY_REQ`.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyRequest {
    pub operation: Operation,
    pub policy_type_id: u64,
    pub instance_id: String,
    /// The payload object; `Null` when absent or empty (DELETE).
    pub payload: Value,
}

/// A request refused before it reached the policies, with what could be read of it (to
/// address the answer).
#[derive(Clone, Debug, PartialEq)]
pub struct Refused {
    pub error: A1Error,
    pub operation: Option<Operation>,
    pub policy_type_id: Option<u64>,
    pub instance_id: Option<String>,
}

/// Status of an `A1_POLICY_RESP`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    Error,
    Deleted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Error => "ERROR",
            Self::Deleted => "DELETED",
        }
    }
}

const ENVELOPE_KEYS: [&str; 4] = [
    "operation",
    "policy_type_id",
    "policy_instance_id",
    "payload",
];

fn type_id(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok()
        }
        _ => None,
    }
}

/// The payload object of the envelope: an object as is, a string parsed as JSON (empty:
/// `Null`), absent or `null`: `Null`.
fn payload(v: Option<&Value>) -> Result<Value, A1Error> {
    match v {
        None | Some(Value::Null) => Ok(Value::Null),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(Value::Null),
        Some(Value::String(s)) => serde_json::from_str(s)
            .map_err(|e| A1Error::BadJson(format!("payload (a string holding JSON): {e}"))),
        Some(other) => Ok(other.clone()),
    }
}

/// Reads an `A1_POLICY_REQ` body (trailing NUL bytes, as C senders leave them, ignored).
pub fn parse(body: &[u8]) -> Result<PolicyRequest, Refused> {
    let mut refused = Refused {
        error: A1Error::BadMessage(String::new()),
        operation: None,
        policy_type_id: None,
        instance_id: None,
    };
    let end = body.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    let v: Value = match serde_json::from_slice(&body[..end]) {
        Ok(v) => v,
        Err(e) => {
            refused.error = A1Error::BadJson(e.to_string());
            return Err(refused);
        }
    };
    let Value::Object(map) = v else {
        refused.error = A1Error::BadMessage("the body is not a JSON object".into());
        return Err(refused);
    };
    refused.policy_type_id = map.get("policy_type_id").and_then(type_id);
    refused.instance_id = map
        .get("policy_instance_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let op = map.get("operation").and_then(Value::as_str);
    refused.operation = op.and_then(Operation::parse);
    let fail = |mut r: Refused, e: A1Error| {
        r.error = e;
        Err(r)
    };
    if let Some(k) = map.keys().find(|k| !ENVELOPE_KEYS.contains(&k.as_str())) {
        return fail(refused, A1Error::BadMessage(format!("unknown field `{k}`")));
    }
    let Some(op) = op else {
        return fail(
            refused,
            A1Error::BadMessage("`operation` (a string) is required".into()),
        );
    };
    let Some(operation) = refused.operation else {
        return fail(refused, A1Error::UnknownOperation(op.to_owned()));
    };
    let Some(policy_type_id) = refused.policy_type_id else {
        let e = A1Error::BadMessage("`policy_type_id` (an integer) is required".into());
        return fail(refused, e);
    };
    let Some(instance_id) = refused.instance_id.clone() else {
        let e = A1Error::BadMessage("`policy_instance_id` (a string) is required".into());
        return fail(refused, e);
    };
    match payload(map.get("payload")) {
        Ok(payload) => Ok(PolicyRequest {
            operation,
            policy_type_id,
            instance_id,
            payload,
        }),
        Err(e) => fail(refused, e),
    }
}

/// The body of an `A1_POLICY_RESP`; `message` (the reason of an `ERROR`) when given.
pub fn response(
    policy_type_id: u64,
    instance_id: &str,
    handler_id: &str,
    status: Status,
    message: Option<&str>,
) -> Vec<u8> {
    let mut v = json!({
        "policy_type_id": policy_type_id,
        "policy_instance_id": instance_id,
        "handler_id": handler_id,
        "status": status.as_str(),
    });
    if let (Some(m), Value::Object(map)) = (message, &mut v) {
        map.insert("message".into(), json!(m));
    }
    v.to_string().into_bytes()
}

/// The body of an `A1_POLICY_QUERY` for `policy_type_id`.
pub fn query(policy_type_id: u32) -> Vec<u8> {
    json!({ "policy_type_id": policy_type_id })
        .to_string()
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_mediators_payload_forms_are_read() {
        let object = br#"{"operation": "CREATE", "policy_type_id": 21010,
            "policy_instance_id": "p-1", "payload": {"slices": [{"sst": 1}]}}"#;
        let r = parse(object).unwrap();
        assert_eq!(r.operation, Operation::Create);
        assert_eq!(r.policy_type_id, 21010);
        assert_eq!(r.payload, json!({"slices": [{"sst": 1}]}));
        // The Go mediator: payload as a string, type ID possibly as digits, trailing NUL.
        let mut go = json!({"operation": "UPDATE", "policy_type_id": "21010",
            "policy_instance_id": "p-1", "payload": "{\"slices\": [{\"sst\": 1}]}"})
        .to_string()
        .into_bytes();
        go.push(0);
        assert_eq!(parse(&go).unwrap().payload, r.payload);
        let delete = br#"{"operation": "DELETE", "policy_type_id": 21010,
            "policy_instance_id": "p-1", "payload": ""}"#;
        let d = parse(delete).unwrap();
        assert_eq!((d.operation, d.payload), (Operation::Delete, Value::Null));
    }

    #[test]
    fn unreadable_requests_keep_what_addresses_the_answer() {
        let e = parse(b"{not json").unwrap_err();
        assert_eq!(e.error.kind(), "bad_json");
        assert_eq!(e.instance_id, None);
        let e = parse(
            br#"{"operation": "CREATE", "policy_type_id": 21010,
            "policy_instance_id": "p-2", "payload": "{cut"}"#,
        )
        .unwrap_err();
        assert_eq!(e.error.kind(), "bad_json");
        assert!(e.error.to_string().contains("payload"), "{}", e.error);
        assert_eq!(
            (e.policy_type_id, e.instance_id.as_deref()),
            (Some(21010), Some("p-2"))
        );
        for (body, kind) in [
            (&br#"{"operation": "PATCH", "policy_type_id": 1, "policy_instance_id": "a"}"#[..], "unknown_operation"),
            (br#"{"policy_type_id": 1, "policy_instance_id": "a"}"#, "bad_message"),
            (br#"{"operation": "CREATE", "policy_instance_id": "a"}"#, "bad_message"),
            (br#"{"operation": "CREATE", "policy_type_id": -1, "policy_instance_id": "a"}"#, "bad_message"),
            (br#"{"operation": "CREATE", "policy_type_id": 1, "policy_instance_id": 7}"#, "bad_message"),
            (br#"{"operation": "CREATE", "policy_type_id": 1, "policy_instance_id": "a", "x": 1}"#, "bad_message"),
            (br#"[1, 2]"#, "bad_message"),
        ] {
            let r = parse(body).unwrap_err();
            assert_eq!(r.error.kind(), kind, "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn responses_and_queries_follow_the_contract() {
        let ok: Value =
            serde_json::from_slice(&response(21010, "p-1", "slice-xapp-1", Status::Ok, None))
                .unwrap();
        assert_eq!(
            ok,
            json!({"policy_type_id": 21010, "policy_instance_id": "p-1",
                   "handler_id": "slice-xapp-1", "status": "OK"})
        );
        let err: Value = serde_json::from_slice(&response(
            21010,
            "p-1",
            "h",
            Status::Error,
            Some("min above max"),
        ))
        .unwrap();
        assert_eq!(err["status"], "ERROR");
        assert_eq!(err["message"], "min above max");
        let q: Value = serde_json::from_slice(&query(21010)).unwrap();
        assert_eq!(q, json!({"policy_type_id": 21010}));
    }
}
