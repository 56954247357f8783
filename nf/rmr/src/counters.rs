//! Counters of an [`crate::RmrEndpoint`]: messages and bytes each way, drops by reason,
//! route tables applied or refused. Plain atomics the runtime reads to export metrics.

use std::sync::atomic::{AtomicU64, Ordering};

/// Why a message was dropped (the `reason` label of a drop counter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// No route table entry (or no meid owner) for an outgoing message.
    NoRoute,
    /// The endpoint could not be connected (or is backing off after a failure).
    ConnectFailed,
    /// A bounded queue was full: the application's receive queue, or a peer's send queue.
    QueueFull,
    /// A frame above the configured maximum size, either way.
    Oversize,
    /// An inbound frame that does not decode (bad version, lengths, text...).
    BadFrame,
    /// Writing to a connected endpoint failed.
    SendFailed,
    /// A reply (rts) whose origin connection is gone and whose sender is unreachable.
    NoReturnPath,
    /// An outgoing message whose fields do not fit the header (meid too long...).
    BadMessage,
}

impl DropReason {
    /// Every reason, in a fixed order.
    pub const ALL: [DropReason; 8] = [
        Self::NoRoute,
        Self::ConnectFailed,
        Self::QueueFull,
        Self::Oversize,
        Self::BadFrame,
        Self::SendFailed,
        Self::NoReturnPath,
        Self::BadMessage,
    ];

    /// The bounded label.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoRoute => "no_route",
            Self::ConnectFailed => "connect_failed",
            Self::QueueFull => "queue_full",
            Self::Oversize => "oversize",
            Self::BadFrame => "bad_frame",
            Self::SendFailed => "send_failed",
            Self::NoReturnPath => "no_return_path",
            Self::BadMessage => "bad_message",
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|r| *r == self).unwrap_or(0)
    }
}

/// Counters of one endpoint.
#[derive(Debug, Default)]
pub struct RmrCounters {
    /// Messages delivered to the application.
    pub rx_msgs: AtomicU64,
    /// Frame bytes received.
    pub rx_bytes: AtomicU64,
    /// Messages handed to a connection's writer.
    pub tx_msgs: AtomicU64,
    /// Frame bytes written.
    pub tx_bytes: AtomicU64,
    /// Health checks (100) answered with 101.
    pub health_checks: AtomicU64,
    /// Route tables applied (seed, pushed or requested).
    pub tables_applied: AtomicU64,
    /// Route tables refused (bad record, count mismatch, never ended).
    pub tables_refused: AtomicU64,
    /// Connections established (inbound and outbound).
    pub connections: AtomicU64,
    drops: [AtomicU64; 8],
}

impl RmrCounters {
    /// Counts one dropped message.
    pub fn drop_one(&self, reason: DropReason) {
        self.drops[reason.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Messages dropped for `reason`.
    #[must_use]
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.drops[reason.index()].load(Ordering::Relaxed)
    }

    /// All drop counters with their labels.
    #[must_use]
    pub fn drops(&self) -> Vec<(&'static str, u64)> {
        DropReason::ALL
            .iter()
            .map(|r| (r.as_str(), self.dropped(*r)))
            .collect()
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}
