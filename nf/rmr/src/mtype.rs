//! RMR message types an xApp of the O-RAN SC near-RT RIC sends or receives.
//!
//! The numbers are those of RMR's `RIC_message_types.h` (release 4.9.4); the Rust names
//! keep the C names so that a value read in a capture or a routing-manager table can be
//! searched for directly. [`name`] turns a number back into its name for logs and metrics.

/// Route table data pushed by the routing manager (one or more table records).
pub const RMRRM_TABLE_DATA: i32 = 20;
/// Request for a route table, sent by an RMR application to the routing manager.
pub const RMRRM_REQ_TABLE: i32 = 21;
/// Route table state (`OK <table-id>` or `ERR <table-id> <reason>`), answer to table data.
pub const RMRRM_TABLE_STATE: i32 = 22;
/// Health check request; an RMR application answers with [`RIC_HEALTH_CHECK_RESP`].
pub const RIC_HEALTH_CHECK_REQ: i32 = 100;
/// Health check response.
pub const RIC_HEALTH_CHECK_RESP: i32 = 101;
/// Alarm towards the alarm manager.
pub const RIC_ALARM: i32 = 110;
/// E2AP RIC subscription request.
pub const RIC_SUB_REQ: i32 = 12010;
/// E2AP RIC subscription response.
pub const RIC_SUB_RESP: i32 = 12011;
/// E2AP RIC subscription failure.
pub const RIC_SUB_FAILURE: i32 = 12012;
/// E2AP RIC subscription delete request.
pub const RIC_SUB_DEL_REQ: i32 = 12020;
/// E2AP RIC subscription delete response.
pub const RIC_SUB_DEL_RESP: i32 = 12021;
/// E2AP RIC subscription delete failure.
pub const RIC_SUB_DEL_FAILURE: i32 = 12022;
/// E2AP RIC subscription delete required.
pub const RIC_SUB_DEL_REQUIRED: i32 = 12023;
/// E2AP RIC control request.
pub const RIC_CONTROL_REQ: i32 = 12040;
/// E2AP RIC control acknowledge.
pub const RIC_CONTROL_ACK: i32 = 12041;
/// E2AP RIC control failure.
pub const RIC_CONTROL_FAILURE: i32 = 12042;
/// E2AP RIC indication.
pub const RIC_INDICATION: i32 = 12050;
/// A1 policy request, A1 mediator → xApp (JSON: operation, policy type and instance, payload).
pub const A1_POLICY_REQ: i32 = 20010;
/// A1 policy response, xApp → A1 mediator (JSON: policy type and instance, handler, status).
pub const A1_POLICY_RESP: i32 = 20011;
/// A1 policy query, xApp → A1 mediator: re-send every instance of a policy type.
pub const A1_POLICY_QUERY: i32 = 20012;

/// The `RIC_message_types.h` name of a message type this crate knows, for logs.
#[must_use]
pub fn name(mtype: i32) -> Option<&'static str> {
    Some(match mtype {
        RMRRM_TABLE_DATA => "RMRRM_TABLE_DATA",
        RMRRM_REQ_TABLE => "RMRRM_REQ_TABLE",
        RMRRM_TABLE_STATE => "RMRRM_TABLE_STATE",
        RIC_HEALTH_CHECK_REQ => "RIC_HEALTH_CHECK_REQ",
        RIC_HEALTH_CHECK_RESP => "RIC_HEALTH_CHECK_RESP",
        RIC_ALARM => "RIC_ALARM",
        RIC_SUB_REQ => "RIC_SUB_REQ",
        RIC_SUB_RESP => "RIC_SUB_RESP",
        RIC_SUB_FAILURE => "RIC_SUB_FAILURE",
        RIC_SUB_DEL_REQ => "RIC_SUB_DEL_REQ",
        RIC_SUB_DEL_RESP => "RIC_SUB_DEL_RESP",
        RIC_SUB_DEL_FAILURE => "RIC_SUB_DEL_FAILURE",
        RIC_SUB_DEL_REQUIRED => "RIC_SUB_DEL_REQUIRED",
        RIC_CONTROL_REQ => "RIC_CONTROL_REQ",
        RIC_CONTROL_ACK => "RIC_CONTROL_ACK",
        RIC_CONTROL_FAILURE => "RIC_CONTROL_FAILURE",
        RIC_INDICATION => "RIC_INDICATION",
        A1_POLICY_REQ => "A1_POLICY_REQ",
        A1_POLICY_RESP => "A1_POLICY_RESP",
        A1_POLICY_QUERY => "A1_POLICY_QUERY",
        _ => return None,
    })
}
