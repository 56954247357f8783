//! What every RIC transport shares: the E2 node (as discovered or configured), the outcome
//! of a node-list read, the errors of talking to the RIC, and reconnect backoff.
//!
//! Discovery does not trust the RIC: the node list is read under a deadline (a stream that
//! never ends yields the nodes listed so far), an entry over the message limit is skipped
//! by name instead of failing the whole list, and duplicates are dropped. Every skipped
//! entry comes back in [`Discovery::skipped`] with a bounded reason for the caller to count.

use std::time::Duration;

pub use e2_proto::kpm::CellInfo;
use rand::Rng;

use crate::config::BackoffConfig;

/// An E2 node with the cells its KPM RAN function announces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct E2Node {
    pub id: String,
    pub cells: Vec<CellInfo>,
}

/// A node-list entry discovery did not keep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The E2 node ID the entry names (possibly truncated for logging).
    pub node: String,
    /// Bounded metric label: `oversize_node_entry`, `ran_function_invalid`,
    /// `duplicate_node_entry`.
    pub reason: &'static str,
    pub detail: String,
}

/// The outcome of one `ListE2NodeConnections`.
#[derive(Debug, Default)]
pub struct Discovery {
    /// Nodes offering KPM whose cells decoded.
    pub nodes: Vec<E2Node>,
    /// Entries refused, each named.
    pub skipped: Vec<Skipped>,
    /// Why the list ended before the E2T closed it, if it did (`node_list_unterminated`:
    /// deadline reached; `node_list_broken`: the stream failed mid-list). The nodes read
    /// before are kept.
    pub cut_short: Option<(&'static str, String)>,
}

/// Failures talking to the E2T.
#[derive(Debug, thiserror::Error)]
pub enum E2Error {
    #[error("invalid E2T endpoint `{endpoint}`: {source}")]
    Endpoint {
        endpoint: String,
        #[source]
        source: tonic::transport::Error,
    },
    /// The endpoint's scheme and the TLS configuration disagree (`https://` without TLS,
    /// `http://` with it): nothing is sent in cleartext by mistake.
    #[error("E2T endpoint `{endpoint}`: {rule}")]
    Tls {
        endpoint: String,
        rule: &'static str,
    },
    #[error("E2T call {call} failed: {status}")]
    Rpc {
        call: &'static str,
        status: tonic::Status,
    },
    /// The E2T did not answer in time (stalled peer).
    #[error("E2T call {call} got no answer within {after:?}")]
    Timeout { call: &'static str, after: Duration },
    /// An O-RAN SC platform call failed (Subscription Manager, RMR); `kind` is bounded.
    #[error("O-RAN SC {call} failed ({kind}): {detail}")]
    Osc {
        call: &'static str,
        kind: &'static str,
        detail: String,
    },
    /// The RIC has no E2 node list to offer (O-RAN SC: nodes come from configuration).
    #[error("{ric} offers no E2 node list")]
    NoNodeList { ric: &'static str },
}

impl E2Error {
    /// The RIC cannot list its E2 nodes: it does not implement the call (gRPC
    /// `UNIMPLEMENTED`), or has no such call at all; the configured nodes stand in.
    pub fn is_unimplemented(&self) -> bool {
        match self {
            Self::Rpc { status, .. } => status.code() == tonic::Code::Unimplemented,
            Self::NoNodeList { .. } => true,
            _ => false,
        }
    }
}

/// Exponential backoff with jitter: the n-th wait is uniform in [d/2, d] where
/// d = min(max, initial · 2ⁿ).
#[derive(Debug)]
pub struct Backoff {
    cfg: BackoffConfig,
    attempt: u32,
}

impl Backoff {
    pub fn new(cfg: BackoffConfig) -> Self {
        Self { cfg, attempt: 0 }
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    pub fn next_delay(&mut self) -> Duration {
        let d = self
            .cfg
            .initial
            .saturating_mul(1 << self.attempt.min(20))
            .min(self.cfg.max);
        self.attempt += 1;
        let half = d / 2;
        half + Duration::from_nanos(rand::rng().random_range(0..=half.as_nanos() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_jitters() {
        let mut b = Backoff::new(BackoffConfig {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
        });
        let waits: Vec<Duration> = (0..8).map(|_| b.next_delay()).collect();
        assert!(waits[0] >= Duration::from_millis(50) && waits[0] <= Duration::from_millis(100));
        assert!(waits[3] >= Duration::from_millis(400) && waits[3] <= Duration::from_millis(800));
        assert!(waits.iter().all(|w| *w <= Duration::from_secs(1)));
        assert!(waits[7] >= Duration::from_millis(500));
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }
}
