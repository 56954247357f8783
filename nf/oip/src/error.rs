//! What can go wrong with a remote model, as a small set of kinds a metric can carry.
//!
//! gRPC statuses are mapped by what the caller can do about them: wait and retry
//! (`unavailable`, `overloaded`), stop asking until something changes (`refused`,
//! `contract_mismatch`, `not_ready`), or not trust this one answer (`bad_output`,
//! `server_error`); `deadline` is the one the placement cares most about.

use std::time::Duration;

use tonic::Code;

/// The remote model's interface differs from its contract.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "remote model `{model}` at {endpoint} does not match its contract: {field}: contract says {expected}, server has {found}"
)]
pub struct ContractMismatch {
    pub model: String,
    pub endpoint: String,
    /// The field that differs, e.g. ``input `kpm_window` shape``.
    pub field: String,
    pub expected: String,
    pub found: String,
}

/// Why a call to the remote model gave no usable answer.
#[derive(Clone, Debug, thiserror::Error)]
pub enum OipError {
    /// The call did not finish within its deadline (ours, or the server's own
    /// `DEADLINE_EXCEEDED`).
    #[error("{call} gave no answer within its deadline of {deadline:?}")]
    Deadline {
        call: &'static str,
        deadline: Duration,
    },
    /// No connection: the server is down, unreachable, or went away mid-call.
    #[error("{call}: server unavailable: {detail}")]
    Unavailable { call: &'static str, detail: String },
    /// The server refused the request as asked (unknown model, invalid argument, not
    /// allowed, not implemented).
    #[error("{call} refused by the server ({code:?}): {detail}")]
    Refused {
        call: &'static str,
        code: Code,
        detail: String,
    },
    /// The server has no room for the request now (`RESOURCE_EXHAUSTED`), or the message
    /// is larger than it accepts.
    #[error("{call}: server overloaded or message too large: {detail}")]
    Overloaded { call: &'static str, detail: String },
    /// The server failed while serving (`INTERNAL`, `UNKNOWN`, `DATA_LOSS`, ...).
    #[error("{call} failed on the server ({code:?}): {detail}")]
    ServerError {
        call: &'static str,
        code: Code,
        detail: String,
    },
    /// The server answered, but the answer cannot be used (wrong shape or datatype, a
    /// value that is not finite, another request's id, another model version).
    #[error("{call} answered with an unusable output: {reason}")]
    BadOutput { call: &'static str, reason: String },
    /// The caller's rows do not fit the contract or the configured limits; nothing was
    /// sent.
    #[error("not sent: {0}")]
    BadInput(String),
    /// The server or the model says it is not ready.
    #[error("remote model `{model}` version {version} at {endpoint} is not ready: {detail}")]
    NotReady {
        model: String,
        version: String,
        endpoint: String,
        detail: String,
    },
    /// The model's metadata does not match its contract.
    #[error(transparent)]
    Contract(#[from] ContractMismatch),
}

/// Every value of [`OipError::kind`], for metrics registered at zero.
pub const KINDS: [&str; 9] = [
    "deadline",
    "unavailable",
    "refused",
    "overloaded",
    "server_error",
    "bad_output",
    "bad_input",
    "not_ready",
    "contract_mismatch",
];

impl OipError {
    /// A bounded label for metrics: one of [`KINDS`].
    pub fn kind(&self) -> &'static str {
        match self {
            OipError::Deadline { .. } => "deadline",
            OipError::Unavailable { .. } => "unavailable",
            OipError::Refused { .. } => "refused",
            OipError::Overloaded { .. } => "overloaded",
            OipError::ServerError { .. } => "server_error",
            OipError::BadOutput { .. } => "bad_output",
            OipError::BadInput(_) => "bad_input",
            OipError::NotReady { .. } => "not_ready",
            OipError::Contract(_) => "contract_mismatch",
        }
    }

    /// Index of [`Self::kind`] in [`KINDS`].
    pub fn kind_index(&self) -> usize {
        KINDS
            .iter()
            .position(|k| *k == self.kind())
            .unwrap_or(KINDS.len() - 1)
    }

    /// Maps a gRPC status of `call` (made with `deadline`) to an error kind.
    pub fn from_status(call: &'static str, deadline: Duration, status: tonic::Status) -> Self {
        let detail = status.message().to_owned();
        match status.code() {
            Code::DeadlineExceeded => OipError::Deadline { call, deadline },
            // tonic's own timer reports CANCELLED with a `TimeoutExpired` source.
            Code::Cancelled if timed_out(&status) => OipError::Deadline { call, deadline },
            // hyper cancels a request whose connection closed before it was sent (e.g. a
            // server that refused our client certificate after the TLS 1.3 handshake):
            // the link failed, the server did not.
            Code::Cancelled if transport_broke(&status) => OipError::Unavailable {
                call,
                detail: with_sources(detail, &status),
            },
            // The cause underneath (a refused TLS handshake, a refused connection) is in
            // the source chain, not in the message.
            Code::Unavailable => OipError::Unavailable {
                call,
                detail: with_sources(detail, &status),
            },
            // A connection that breaks mid-call can surface as UNKNOWN with a transport
            // error underneath: that is the server going away, not the server failing.
            Code::Unknown if transport_broke(&status) => OipError::Unavailable {
                call,
                detail: with_sources(detail, &status),
            },
            Code::ResourceExhausted => OipError::Overloaded { call, detail },
            code @ (Code::InvalidArgument
            | Code::NotFound
            | Code::AlreadyExists
            | Code::PermissionDenied
            | Code::Unauthenticated
            | Code::FailedPrecondition
            | Code::OutOfRange
            | Code::Unimplemented) => OipError::Refused { call, code, detail },
            code => OipError::ServerError { call, code, detail },
        }
    }
}

fn sources(status: &tonic::Status) -> impl Iterator<Item = &(dyn std::error::Error + 'static)> {
    let first = std::error::Error::source(status);
    std::iter::successors(first, |e| e.source())
}

fn timed_out(status: &tonic::Status) -> bool {
    sources(status).any(|e| e.is::<tonic::TimeoutExpired>())
}

fn transport_broke(status: &tonic::Status) -> bool {
    sources(status).any(|e| e.is::<std::io::Error>() || e.to_string().contains("connection"))
}

/// `detail` and what the source chain adds to it (each cause once).
fn with_sources(detail: String, status: &tonic::Status) -> String {
    let mut added: Vec<String> = Vec::new();
    for e in sources(status) {
        let text = e.to_string();
        // A wrapper's text repeats its source's: keep the part that is new.
        let new = text
            .split(": ")
            .filter(|part| !detail.contains(part) && !added.iter().any(|a| a.contains(part)))
            .collect::<Vec<_>>()
            .join(": ");
        if !new.is_empty() {
            added.push(new);
        }
    }
    if added.is_empty() {
        detail
    } else {
        format!("{detail} ({})", added.join(": "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: Duration = Duration::from_millis(50);

    #[test]
    fn statuses_map_to_bounded_kinds() {
        let kind = |s: tonic::Status| OipError::from_status("ModelInfer", D, s).kind();
        assert_eq!(kind(tonic::Status::deadline_exceeded("late")), "deadline");
        assert_eq!(kind(tonic::Status::unavailable("down")), "unavailable");
        assert_eq!(kind(tonic::Status::not_found("no model")), "refused");
        assert_eq!(kind(tonic::Status::invalid_argument("bad")), "refused");
        assert_eq!(
            kind(tonic::Status::resource_exhausted("full")),
            "overloaded"
        );
        assert_eq!(kind(tonic::Status::internal("boom")), "server_error");
        // UNKNOWN without a broken transport underneath is the server's failure.
        assert_eq!(kind(tonic::Status::unknown("boom")), "server_error");
        // CANCELLED that is not our timer is not a deadline.
        assert_eq!(kind(tonic::Status::cancelled("by peer")), "server_error");
        // CANCELLED because the connection closed under the request is the link's failure.
        let mut closed = tonic::Status::cancelled("operation was canceled");
        closed.set_source(std::sync::Arc::new(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection closed",
        )));
        let e = OipError::from_status("ModelInfer", D, closed);
        assert_eq!(e.kind(), "unavailable");
        assert!(e.to_string().contains("connection closed"), "{e}");
    }

    #[test]
    fn every_kind_is_listed_once() {
        let mut seen = KINDS.to_vec();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), KINDS.len());
        let e = OipError::BadInput("x".into());
        assert_eq!(KINDS[e.kind_index()], "bad_input");
    }
}
