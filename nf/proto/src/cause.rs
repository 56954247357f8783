//! E2AP error causes (O-RAN.WG3.E2AP 9.2.1.4) carried in gRPC status details, the way
//! SD-RAN's E2T reports a failed subscription or control.

use prost::Message;

use crate::pb::e2t::error::{Cause, cause};
use crate::pb::e2t::{self, Error};

/// The causes this workspace produces or interprets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum E2Cause {
    /// RIC request: the control message could not be accepted.
    ControlMessageInvalid,
    /// RIC request: the action is not supported (e.g. wrong style or action id).
    ActionNotSupported,
    /// RIC request: the RAN function is unknown to the node.
    RanFunctionIdInvalid,
    /// Protocol: the payload could not be decoded.
    TransferSyntaxError,
    /// Misc: the node is overloaded.
    ControlProcessingOverload,
    /// Anything else or no details.
    Unspecified,
}

impl E2Cause {
    /// A stable, bounded label for metrics.
    pub fn label(self) -> &'static str {
        match self {
            E2Cause::ControlMessageInvalid => "control_message_invalid",
            E2Cause::ActionNotSupported => "action_not_supported",
            E2Cause::RanFunctionIdInvalid => "ran_function_id_invalid",
            E2Cause::TransferSyntaxError => "transfer_syntax_error",
            E2Cause::ControlProcessingOverload => "control_processing_overload",
            E2Cause::Unspecified => "unspecified",
        }
    }

    fn to_pb(self) -> Cause {
        use e2t::error::cause::{misc::Type as Misc, protocol::Type as Protocol, ric::Type as Ric};
        let c = match self {
            E2Cause::ControlMessageInvalid => cause::Cause::Ric(cause::Ric {
                r#type: Ric::ControlMessageInvalid as i32,
            }),
            E2Cause::ActionNotSupported => cause::Cause::Ric(cause::Ric {
                r#type: Ric::ActionNotSupported as i32,
            }),
            E2Cause::RanFunctionIdInvalid => cause::Cause::Ric(cause::Ric {
                r#type: Ric::RanFunctionIdInvalid as i32,
            }),
            E2Cause::TransferSyntaxError => cause::Cause::Protocol(cause::Protocol {
                r#type: Protocol::TransferSyntaxError as i32,
            }),
            E2Cause::ControlProcessingOverload => cause::Cause::Misc(cause::Misc {
                r#type: Misc::ControlProcessingOverload as i32,
            }),
            E2Cause::Unspecified => cause::Cause::Unknown(cause::Unknown {}),
        };
        Cause { cause: Some(c) }
    }

    fn from_pb(c: &Cause) -> Self {
        use e2t::error::cause::{misc::Type as Misc, protocol::Type as Protocol, ric::Type as Ric};
        match &c.cause {
            Some(cause::Cause::Ric(r)) => match Ric::try_from(r.r#type) {
                Ok(Ric::ControlMessageInvalid) => E2Cause::ControlMessageInvalid,
                Ok(Ric::ActionNotSupported) => E2Cause::ActionNotSupported,
                Ok(Ric::RanFunctionIdInvalid) => E2Cause::RanFunctionIdInvalid,
                _ => E2Cause::Unspecified,
            },
            Some(cause::Cause::Protocol(p)) if p.r#type == Protocol::TransferSyntaxError as i32 => {
                E2Cause::TransferSyntaxError
            }
            Some(cause::Cause::Misc(m)) if m.r#type == Misc::ControlProcessingOverload as i32 => {
                E2Cause::ControlProcessingOverload
            }
            _ => E2Cause::Unspecified,
        }
    }

    /// A gRPC status carrying this cause in its details.
    pub fn status(self, code: tonic::Code, message: impl Into<String>) -> tonic::Status {
        let details = Error {
            cause: Some(self.to_pb()),
        }
        .encode_to_vec();
        tonic::Status::with_details(code, message, details.into())
    }

    /// The cause carried by an E2AP `Error`.
    pub fn of_error(e: &Error) -> Self {
        e.cause
            .as_ref()
            .map_or(E2Cause::Unspecified, E2Cause::from_pb)
    }

    /// The cause in a status's details, `Unspecified` if there is none.
    pub fn of_status(status: &tonic::Status) -> Self {
        Error::decode(status.details())
            .ok()
            .and_then(|e| e.cause)
            .map_or(E2Cause::Unspecified, |c| E2Cause::from_pb(&c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cause_survives_a_status() {
        for c in [
            E2Cause::ControlMessageInvalid,
            E2Cause::TransferSyntaxError,
            E2Cause::ControlProcessingOverload,
        ] {
            let s = c.status(tonic::Code::InvalidArgument, "x");
            assert_eq!(E2Cause::of_status(&s), c);
        }
        assert_eq!(
            E2Cause::of_status(&tonic::Status::internal("x")),
            E2Cause::Unspecified
        );
    }
}
