//! Sending E2SM-RC controls and recording their outcomes.
//!
//! When the E2T offers the `airan.e2t.v1` control stream, one bidirectional stream per E2
//! node carries every control (no HTTP/2 stream set-up per control); otherwise, or with
//! `ControlTransport::Unary`, each control is a unary SD-RAN `ControlService.Control`.
//! Outcomes are recorded the same way for both: accepted with the indication→outcome time,
//! or failed with its E2AP cause (or `timeout` / `transport`), which also makes the guard
//! rails forget the cell's last quota.
//!
//! The stream is opened by its own task, and the node never waits on it for longer than
//! the control timeout: a grpcio-style E2T sends its response headers only with the first
//! outcome, which comes only after the first control. Past the timeout the stream is used
//! anyway (counted as `control_stream_late_headers`); controls on a stream that never
//! answers time out one by one like any other.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use e2_proto::cause::E2Cause;
use e2_proto::pb::e2t::ControlRequest;
use e2_proto::pb::stream::{ControlStreamRequest, ControlStreamResponse, control_stream_response};
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};
use tonic::Streaming;

use crate::clock::Clock;
use crate::config::ControlTransport;
use crate::decisions::{DecisionKey, DecisionLog};
use crate::e2::E2Client;
use crate::metrics::Metrics;
use crate::node::NodeEvent;

/// Where outcomes go.
#[derive(Clone, Debug)]
pub(crate) struct Outcomes {
    pub metrics: Arc<Metrics>,
    pub events: mpsc::Sender<NodeEvent>,
    pub clock: Clock,
    pub node: Arc<str>,
    pub log: Option<Arc<DecisionLog>>,
}

impl Outcomes {
    fn accepted(&self, key: &DecisionKey, arrival_ns: u64) {
        if let Some(log) = &self.log {
            log.outcome(key, "accepted");
        }
        let d = self.clock.now_ns().saturating_sub(arrival_ns);
        self.metrics.controls_accepted.inc();
        self.metrics.control_rtt.observe(d as f64 / 1e9);
        self.metrics.latencies.control_rtt.record_ns(d);
    }

    fn failed(&self, key: &DecisionKey, cause: &'static str, detail: &str) {
        let cell = key.2;
        if let Some(log) = &self.log {
            log.outcome(key, cause);
        }
        Metrics::inc(&self.metrics.controls_rejected, cause);
        if let Some(suppressed) = self.metrics.control_failed_log.admit(self.clock.now_ns()) {
            let detail = nf_core::ids::Escaped(detail);
            tracing::warn!(e2_node = %self.node, %cell, cause, %detail, suppressed, "control failed");
        }
        let _ = self.events.try_send(NodeEvent::ControlFailed(cell));
    }

    fn status(&self, key: &DecisionKey, status: &tonic::Status) {
        let cause = match status.code() {
            tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => "timeout",
            tonic::Code::Unavailable | tonic::Code::Unknown => "transport",
            _ => E2Cause::of_status(status).label(),
        };
        self.failed(key, cause, status.message());
    }
}

/// A control waiting for its outcome on the stream.
#[derive(Debug)]
struct Pending {
    key: DecisionKey,
    arrival_ns: u64,
    sent_ns: u64,
    _permit: OwnedSemaphorePermit,
}

type PendingMap = Arc<Mutex<HashMap<u64, Pending>>>;

#[derive(Debug)]
struct OpenStream {
    tx: mpsc::Sender<ControlStreamRequest>,
    pending: PendingMap,
    closed: Arc<AtomicBool>,
}

/// The control path of one E2 node.
#[derive(Debug)]
pub(crate) struct ControlSender {
    client: E2Client,
    transport: ControlTransport,
    timeout: Duration,
    queue: usize,
    outcomes: Outcomes,
    stream: Option<OpenStream>,
    /// The E2T answered UNIMPLEMENTED: stop asking (set by the stream's task).
    stream_unsupported: Arc<AtomicBool>,
    next_id: u64,
}

impl ControlSender {
    pub fn new(
        client: E2Client,
        transport: ControlTransport,
        timeout: Duration,
        queue: usize,
        outcomes: Outcomes,
    ) -> Self {
        Self {
            client,
            transport,
            timeout,
            queue,
            outcomes,
            stream: None,
            stream_unsupported: Arc::default(),
            next_id: 0,
        }
    }

    /// Opens the control stream if the transport allows it and the E2T offers it. Waits
    /// for the E2T's answer at most the control timeout.
    pub async fn open(&mut self) {
        self.close();
        if self.transport == ControlTransport::Unary
            || self.stream_unsupported.load(Ordering::Acquire)
        {
            return;
        }
        let (tx, rx) = mpsc::channel(self.queue);
        let pending: PendingMap = Arc::default();
        let closed = Arc::new(AtomicBool::new(false));
        let (opened_tx, opened) = oneshot::channel();
        tokio::spawn(drive_stream(
            self.client.clone(),
            rx,
            StreamShared {
                pending: pending.clone(),
                closed: closed.clone(),
                unsupported: self.stream_unsupported.clone(),
                outcomes: self.outcomes.clone(),
            },
            opened_tx,
        ));
        let node = &self.outcomes.node;
        match tokio::time::timeout(self.timeout, opened).await {
            Ok(Ok(Ok(()))) => tracing::info!(e2_node = %node, "control stream open"),
            Ok(Ok(Err(s))) if s.code() == tonic::Code::Unimplemented => {
                tracing::info!(e2_node = %node, "E2T has no control stream; using unary Control");
                return;
            }
            Ok(Ok(Err(s))) => {
                tracing::warn!(e2_node = %node, cause = %s.message(), "control stream refused; using unary Control");
                return;
            }
            Ok(Err(_)) => return, // the stream task ended without a word: nothing to use
            Err(_) => {
                Metrics::inc(
                    &self.outcomes.metrics.e2_failures,
                    "control_stream_late_headers",
                );
                tracing::warn!(
                    e2_node = %node,
                    waited_ms = self.timeout.as_millis() as u64,
                    "control stream response headers late; sending on it before they arrive"
                );
            }
        }
        self.stream = Some(OpenStream {
            tx,
            pending,
            closed,
        });
    }

    /// Sends `req` for `cell`; `permit` is held until the outcome is known.
    pub fn send(
        &mut self,
        key: DecisionKey,
        arrival_ns: u64,
        req: ControlRequest,
        permit: OwnedSemaphorePermit,
    ) {
        if self
            .stream
            .as_ref()
            .is_some_and(|s| s.closed.load(Ordering::Acquire))
        {
            self.stream = None;
        }
        if let Some(s) = &self.stream {
            let id = self.next_id;
            self.next_id += 1;
            let sent_ns = self.outcomes.clock.now_ns();
            if let Ok(mut p) = s.pending.lock() {
                p.insert(
                    id,
                    Pending {
                        key: key.clone(),
                        arrival_ns,
                        sent_ns,
                        _permit: permit,
                    },
                );
            }
            match s.tx.try_send(ControlStreamRequest {
                request_id: id,
                request: Some(req),
            }) {
                Ok(()) => return,
                Err(e) => {
                    if let Ok(mut p) = s.pending.lock() {
                        p.remove(&id);
                    }
                    let full = matches!(e, mpsc::error::TrySendError::Full(_));
                    self.outcomes.failed(
                        &key,
                        if full { "overload" } else { "transport" },
                        "control stream not writable",
                    );
                    return;
                }
            }
        }
        let mut client = self.client.clone();
        let outcomes = self.outcomes.clone();
        let timeout = self.timeout;
        tokio::spawn(async move {
            let _permit = permit;
            match client.control(req, timeout).await {
                Ok(_) => outcomes.accepted(&key, arrival_ns),
                Err(status) => outcomes.status(&key, &status),
            }
        });
    }

    /// Fails the stream's controls that have waited longer than the timeout.
    pub fn sweep(&mut self) {
        let Some(s) = &self.stream else { return };
        let horizon = self
            .outcomes
            .clock
            .now_ns()
            .saturating_sub(self.timeout.as_nanos() as u64);
        let expired: Vec<Pending> = match s.pending.lock() {
            Ok(mut p) => {
                let ids: Vec<u64> = p
                    .iter()
                    .filter(|(_, v)| v.sent_ns < horizon)
                    .map(|(k, _)| *k)
                    .collect();
                ids.iter().filter_map(|id| p.remove(id)).collect()
            }
            Err(_) => Vec::new(),
        };
        for p in expired {
            self.outcomes
                .failed(&p.key, "timeout", "no outcome on the control stream");
        }
    }

    /// Closes the stream (outstanding outcomes may still arrive until the E2T ends it).
    pub fn close(&mut self) {
        self.stream = None;
    }
}

/// What the node and a control stream's task share.
struct StreamShared {
    pending: PendingMap,
    closed: Arc<AtomicBool>,
    unsupported: Arc<AtomicBool>,
    outcomes: Outcomes,
}

/// Opens the stream, reports how that went on `opened`, then reads outcomes until the
/// E2T ends it; controls still pending then fail as `transport`.
async fn drive_stream(
    mut client: E2Client,
    requests: mpsc::Receiver<ControlStreamRequest>,
    shared: StreamShared,
    opened: oneshot::Sender<Result<(), tonic::Status>>,
) {
    match client.open_control_stream(requests).await {
        Ok(responses) => {
            let _ = opened.send(Ok(()));
            read_outcomes(responses, &shared.pending, &shared.outcomes).await;
        }
        Err(status) => {
            if status.code() == tonic::Code::Unimplemented {
                shared.unsupported.store(true, Ordering::Release);
            }
            let _ = opened.send(Err(status));
        }
    }
    shared.closed.store(true, Ordering::Release);
    let left: Vec<Pending> = shared
        .pending
        .lock()
        .map(|mut m| m.drain().map(|(_, v)| v).collect())
        .unwrap_or_default();
    for p in left {
        shared.outcomes.failed(
            &p.key,
            "transport",
            "control stream ended before the outcome",
        );
    }
}

async fn read_outcomes(
    mut responses: Streaming<ControlStreamResponse>,
    pending: &PendingMap,
    outcomes: &Outcomes,
) {
    while let Ok(Some(resp)) = responses.message().await {
        let Some(p) = pending
            .lock()
            .ok()
            .and_then(|mut m| m.remove(&resp.request_id))
        else {
            continue; // already timed out
        };
        match resp.result {
            Some(control_stream_response::Result::Response(_)) => {
                outcomes.accepted(&p.key, p.arrival_ns);
            }
            Some(control_stream_response::Result::Failure(f)) => {
                let cause = f
                    .error
                    .as_ref()
                    .map_or(E2Cause::Unspecified, E2Cause::of_error);
                outcomes.failed(&p.key, cause.label(), &f.message);
            }
            None => outcomes.failed(&p.key, "transport", "empty outcome"),
        }
    }
}
