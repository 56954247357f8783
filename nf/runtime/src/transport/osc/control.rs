//! `osc-rmr` controls: an E2SM-RC control as an E2AP RICcontrolRequest over RMR.
//!
//! Each control is a RICcontrolRequest (RICrequestID requestor = `ric.osc.requestor_id`,
//! instance = a per-node counter; RAN function ID = the node's RC function; the call process
//! ID of the triggering indication, if any; RICcontrolAckRequest = ack) sent as RMR mtype
//! 12040 with `meid` = the node, routed by the route table. Its outcome is the RMR 12041
//! RICcontrolAcknowledge (with the E2SM-RC outcome bytes) or 12042 RICcontrolFailure (its
//! E2AP cause as the bounded label) that names the same node and request instance; without
//! one within the control timeout the sweep times it out. A send the RMR endpoint refuses
//! fails at once as `transport` (and is counted in `xapp_rmr_dropped_total`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use e2_asn1::e2ap::{self, Cause, E2apMessage, RicRequestId};
use e2_asn1::generated::e2ap_v02_03::e2_ap_ies::{CauseMisc, CauseProtocol, CauseRICrequest};
use nf_rmr::{Message, mtype};

use super::Shared;
use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::transport::{Completion, Control, ControlOutcome};

/// A control waiting for its outcome.
struct Waiting {
    sent_ns: u64,
    done: Completion,
}

impl std::fmt::Debug for Waiting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waiting")
            .field("sent_ns", &self.sent_ns)
            .finish_non_exhaustive()
    }
}

/// Controls waiting for their outcome: node → request instance → control.
#[derive(Debug, Default)]
pub(super) struct Pending(Mutex<HashMap<String, HashMap<u16, Waiting>>>);

impl Pending {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, HashMap<u16, Waiting>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn take(&self, node: &str, instance: u16) -> Option<Waiting> {
        self.lock().get_mut(node)?.remove(&instance)
    }
}

/// The bounded label of an E2AP cause: the cause itself where the xApp's cause list names
/// it, else its group.
pub fn cause_label(cause: &Cause) -> &'static str {
    match cause {
        Cause::ricRequest(CauseRICrequest::control_message_invalid) => "control_message_invalid",
        Cause::ricRequest(CauseRICrequest::action_not_supported) => "action_not_supported",
        Cause::ricRequest(CauseRICrequest::ran_function_id_invalid) => "ran_function_id_invalid",
        Cause::protocol(CauseProtocol::transfer_syntax_error) => "transfer_syntax_error",
        Cause::misc(CauseMisc::control_processing_overload) => "control_processing_overload",
        Cause::misc(CauseMisc::unspecified) => "unspecified",
        other => other.label(),
    }
}

/// The control path of one E2 node.
#[derive(Debug)]
pub struct ControlSender {
    shared: Arc<Shared>,
    node: String,
    rc_function_id: u16,
    timeout: Duration,
    queue: usize,
    clock: Clock,
    next_instance: u16,
}

impl ControlSender {
    pub(super) fn new(
        shared: Arc<Shared>,
        node: &str,
        rc_function_id: u16,
        timeout: Duration,
        queue: usize,
    ) -> Self {
        Self {
            shared,
            node: node.to_owned(),
            rc_function_id,
            timeout,
            queue: queue.max(1),
            clock: Clock::new(),
            next_instance: 0,
        }
    }

    /// Nothing to open: RMR connects on first send.
    pub fn open(&mut self) {}

    /// Nothing to close: outcomes of controls already sent may still come.
    pub fn close(&mut self) {}

    /// Sends `control`; `done` gets its outcome.
    pub fn send(&mut self, control: Control, done: Completion) {
        let Some(endpoint) = self.shared.endpoint.get() else {
            return done(failure("transport", "the rmr endpoint is not started"));
        };
        let requestor = self.shared.cfg.requestor_id;
        self.next_instance = self.next_instance.wrapping_add(1);
        let instance = self.next_instance;
        let encoded = e2ap::encode(&E2apMessage::ControlRequest {
            request: RicRequestId {
                requestor,
                instance,
            },
            ran_function: self.rc_function_id,
            call_process_id: (!control.call_process_id.is_empty())
                .then_some(control.call_process_id),
            header: control.header,
            message: control.message,
            ack_request: Some(true),
        });
        let pdu = match encoded {
            Ok(pdu) => pdu,
            Err(e) => {
                let detail = format!("not encodable as an E2AP RICcontrolRequest: {e}");
                return done(failure("control_message_invalid", &detail));
            }
        };
        let displaced = {
            let mut all = self.shared.controls.lock();
            let mine = all.entry(self.node.clone()).or_default();
            if mine.len() >= self.queue {
                drop(all);
                return done(failure("overload", "too many controls awaiting an outcome"));
            }
            mine.insert(
                instance,
                Waiting {
                    sent_ns: self.clock.now_ns(),
                    done,
                },
            )
        };
        // The instance counter wrapped onto a control still waiting: that one has waited
        // 65,535 controls long; it times out now rather than take another's outcome.
        if let Some(old) = displaced {
            (old.done)(ControlOutcome::Timeout {
                detail: "request instance reused before an outcome came".into(),
            });
        }
        let msg = Message::new(mtype::RIC_CONTROL_REQ, pdu).with_meid(self.node.clone());
        if let Err(e) = endpoint.send(msg) {
            // The endpoint counted the drop (exported as xapp_rmr_dropped_total).
            if let Some(w) = self.shared.controls.take(&self.node, instance) {
                (w.done)(failure("transport", &format!("rmr send refused: {e}")));
            }
        }
    }

    /// Times out the node's controls that waited past the control timeout.
    pub fn sweep(&mut self) {
        let horizon = self
            .clock
            .now_ns()
            .saturating_sub(self.timeout.as_nanos() as u64);
        let expired: Vec<Waiting> = {
            let mut all = self.shared.controls.lock();
            let Some(mine) = all.get_mut(&self.node) else {
                return;
            };
            let ids: Vec<u16> = mine
                .iter()
                .filter(|(_, w)| w.sent_ns < horizon)
                .map(|(k, _)| *k)
                .collect();
            ids.iter().filter_map(|id| mine.remove(id)).collect()
        };
        for w in expired {
            (w.done)(ControlOutcome::Timeout {
                detail: "no RICcontrolAcknowledge or RICcontrolFailure".into(),
            });
        }
    }
}

fn failure(cause: &'static str, detail: &str) -> ControlOutcome {
    ControlOutcome::Failure {
        cause,
        detail: detail.to_owned(),
    }
}

/// Completes the control a 12041 / 12042 answers (same node, our requestor, its instance).
pub(super) fn on_outcome(s: &Shared, metrics: &Metrics, msg: &Message) {
    let (request, outcome) = match e2ap::decode(&msg.payload, &s.cfg.e2ap_limits) {
        Ok(E2apMessage::ControlAcknowledge {
            request, outcome, ..
        }) => (request, ControlOutcome::Ack { outcome }),
        Ok(E2apMessage::ControlFailure { request, cause, .. }) => (
            request,
            ControlOutcome::Failure {
                cause: cause_label(&cause),
                detail: format!("RICcontrolFailure: {cause:?}"),
            },
        ),
        Ok(other) => {
            Metrics::inc(&metrics.e2_failures, "unexpected_e2ap_message");
            tracing::debug!(
                message = other.name(),
                mtype = msg.mtype,
                "not a control outcome"
            );
            return;
        }
        Err(e) => {
            Metrics::inc(&metrics.e2_failures, "control_outcome_undecodable");
            tracing::debug!(meid = %msg.meid, cause = %e, "control outcome refused");
            return;
        }
    };
    let waiting = (request.requestor == s.cfg.requestor_id)
        .then(|| s.controls.take(&msg.meid, request.instance))
        .flatten();
    match waiting {
        Some(w) => (w.done)(outcome),
        None => {
            Metrics::inc(&metrics.e2_failures, "unknown_control_outcome");
            tracing::debug!(meid = %msg.meid, instance = request.instance, "outcome of no control waiting (late or not ours)");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::CAUSES;
    use e2_asn1::generated::e2ap_v02_03::e2_ap_ies::{
        CauseE2node, CauseRICservice, CauseTransport,
    };

    #[test]
    fn every_cause_label_is_pre_created() {
        let causes = [
            Cause::ricRequest(CauseRICrequest::control_message_invalid),
            Cause::ricRequest(CauseRICrequest::action_not_supported),
            Cause::ricRequest(CauseRICrequest::ran_function_id_invalid),
            Cause::ricRequest(CauseRICrequest::control_failed_to_execute),
            Cause::ricService(CauseRICservice::ric_resource_limit),
            Cause::e2Node(CauseE2node::e2node_component_unknown),
            Cause::transport(CauseTransport::unspecified),
            Cause::protocol(CauseProtocol::transfer_syntax_error),
            Cause::protocol(CauseProtocol::semantic_error),
            Cause::misc(CauseMisc::control_processing_overload),
            Cause::misc(CauseMisc::hardware_failure),
            Cause::misc(CauseMisc::unspecified),
        ];
        for c in causes {
            assert!(CAUSES.contains(&cause_label(&c)), "{c:?}");
        }
        assert_eq!(
            cause_label(&Cause::ricRequest(
                CauseRICrequest::control_failed_to_execute
            )),
            "ric_request"
        );
    }
}
