//! The A1 handler's metrics (registered with the runtime's under the `xapp_` prefix; every
//! label combination created at zero).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use nf_core::a1::{A1Error, Bounded, Change, Operation};

/// `operation` labels: the mediator's operations, `unknown` (unreadable request) and
/// `restore` (an instance read back from the state file at start).
pub const OPERATIONS: [&str; 6] = ["create", "update", "delete", "read", "unknown", "restore"];
/// Messages the handler sends.
pub const MESSAGES: [&str; 2] = ["response", "query"];
/// `result` of a sent message: queued by route, returned to the sender (no route for the
/// response), or the RMR send error's kind.
pub const SEND_RESULTS: [&str; 7] = [
    "sent",
    "returned_to_sender",
    "no_route",
    "queue_full",
    "oversize",
    "bad_message",
    "no_return_path",
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OpResult {
    pub operation: &'static str,
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Bound {
    pub bound: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MessageResult {
    pub message: &'static str,
    pub result: &'static str,
}

/// Counters and gauges of the A1 handler and of the bounds it puts on decisions.
#[derive(Debug, Default)]
pub struct A1Metrics {
    /// Policy requests by operation and result (`ok`, `deleted`, or why refused).
    pub requests: Family<OpResult, Counter>,
    /// Active policy instances.
    pub instances: Gauge,
    /// Instances restored from the state file that the mediator did not re-send after the
    /// query (deleted at the mediator while the xApp was down?).
    pub unconfirmed: Gauge,
    /// Decisions whose quotas a policy changed, by bound.
    pub bounded: Family<Bound, Counter>,
    /// Responses and queries sent, by result.
    pub sent: Family<MessageResult, Counter>,
}

impl A1Metrics {
    /// Every result label of `requests`.
    pub fn results() -> impl Iterator<Item = &'static str> {
        Change::LABELS.into_iter().chain(A1Error::KINDS)
    }

    /// Creates every series at zero and registers the families in `r` (prefixed).
    pub(crate) fn register(&self, r: &mut Registry) {
        for operation in OPERATIONS {
            for result in Self::results() {
                drop(self.requests.get_or_create(&OpResult { operation, result }));
            }
        }
        for bound in Bounded::LABELS {
            drop(self.bounded.get_or_create(&Bound { bound }));
        }
        for message in MESSAGES {
            for result in SEND_RESULTS {
                drop(self.sent.get_or_create(&MessageResult { message, result }));
            }
        }
        r.register(
            "a1_policy_requests",
            "A1 policy requests (RMR 20010) by operation and result: ok, deleted, or the reason refused",
            self.requests.clone(),
        );
        r.register(
            "a1_policy_instances",
            "Active A1 policy instances of the xApp's policy type",
            self.instances.clone(),
        );
        r.register(
            "a1_unconfirmed_instances",
            "Instances restored from the state file that the A1 mediator did not re-send after the query",
            self.unconfirmed.clone(),
        );
        r.register(
            "a1_bounded",
            "Decisions whose quotas an A1 policy changed, by bound (max_share, min_share, sla_floor, give_back)",
            self.bounded.clone(),
        );
        r.register(
            "a1_messages_sent",
            "A1 responses (20011) and queries (20012) by result",
            self.sent.clone(),
        );
    }

    /// Counts one request.
    pub fn request(&self, operation: Option<Operation>, result: &'static str) {
        self.count(operation.map_or("unknown", Operation::label), result);
    }

    pub(crate) fn count(&self, operation: &'static str, result: &'static str) {
        self.requests
            .get_or_create(&OpResult { operation, result })
            .inc();
    }

    /// Reads a request counter.
    pub fn requests_of(&self, operation: &'static str, result: &'static str) -> u64 {
        self.requests
            .get_or_create(&OpResult { operation, result })
            .get()
    }

    /// Counts the bounds that changed one decision.
    pub fn bounded(&self, b: Bounded) {
        for bound in b.labels() {
            self.bounded.get_or_create(&Bound { bound }).inc();
        }
    }

    /// Reads a bound counter.
    pub fn bounded_of(&self, bound: &'static str) -> u64 {
        self.bounded.get_or_create(&Bound { bound }).get()
    }

    pub(crate) fn sent(&self, message: &'static str, result: &'static str) {
        self.sent
            .get_or_create(&MessageResult { message, result })
            .inc();
    }

    /// Reads a sent-message counter.
    pub fn sent_of(&self, message: &'static str, result: &'static str) -> u64 {
        self.sent
            .get_or_create(&MessageResult { message, result })
            .get()
    }
}
