//! The simulator's subscription log: when each xApp instance's KPM subscription of a node
//! opened and closed (deleted, or its stream dropped: the xApp gone), on the SD-RAN gRPC
//! face. With it a test sees, node by node, which instance was subscribed when, e.g. that
//! replicas sharing the nodes never both held one.

use std::collections::VecDeque;

/// Most entries kept; older ones are dropped.
pub const MAX_ENTRIES: usize = 100_000;

/// What happened to a subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubscriptionEvent {
    Opened,
    /// Unsubscribed, or its indication stream ended (the subscriber went away, or the
    /// simulator stopped).
    Closed,
}

/// One subscription event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscriptionRecord {
    /// Milliseconds since the simulator started.
    pub t_ms: u64,
    /// onos E2T request header `app_id`.
    pub app_id: String,
    /// onos E2T request header `app_instance_id`.
    pub app_instance_id: String,
    /// E2 node ID.
    pub node: String,
    pub event: SubscriptionEvent,
}

/// Bounded log of subscription events, oldest first.
#[derive(Debug, Default)]
pub(crate) struct SubscriptionLog {
    entries: VecDeque<SubscriptionRecord>,
}

impl SubscriptionLog {
    pub fn push(&mut self, r: SubscriptionRecord) {
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.pop_front();
        }
        self.entries.push_back(r);
    }

    pub fn entries(&self) -> impl Iterator<Item = &SubscriptionRecord> {
        self.entries.iter()
    }
}
