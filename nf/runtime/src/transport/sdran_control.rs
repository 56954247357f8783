//! `sdran-grpc` controls: sending E2SM-RC controls to the E2T and reporting each outcome
//! to its [`Completion`](super::Completion).
//!
//! When the E2T offers the `airan.e2t.v1` control stream, one bidirectional stream per E2
//! node carries every control (no HTTP/2 stream set-up per control); otherwise, or with
//! `ControlTransport::Unary`, each control is a unary SD-RAN `ControlService.Control`.
//! Outcomes are reported the same way for both: acknowledged (with the outcome bytes), failed
//! with its E2AP cause label (or `transport` / `overload`), or timed out.
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
use e2_proto::pb::e2t::ControlResponse;
use e2_proto::pb::stream::{ControlStreamRequest, ControlStreamResponse, control_stream_response};
use tokio::sync::{mpsc, oneshot};
use tonic::Streaming;

use super::sdran::E2Client;
use super::{Completion, Control, ControlOutcome};
use crate::clock::Clock;
use crate::config::ControlTransport;
use crate::metrics::Metrics;

/// The outcome of a failed gRPC call.
fn status_outcome(status: &tonic::Status) -> ControlOutcome {
    let detail = status.message().to_owned();
    match status.code() {
        tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => {
            ControlOutcome::Timeout { detail }
        }
        tonic::Code::Unavailable | tonic::Code::Unknown => ControlOutcome::Failure {
            cause: "transport",
            detail,
        },
        _ => ControlOutcome::Failure {
            cause: E2Cause::of_status(status).label(),
            detail,
        },
    }
}

/// An acknowledgement, with the E2SM control outcome bytes when the E2T sent any.
fn ack(resp: ControlResponse) -> ControlOutcome {
    ControlOutcome::Ack {
        outcome: resp.outcome.map(|o| o.payload).filter(|p| !p.is_empty()),
    }
}

fn failure(cause: &'static str, detail: &str) -> ControlOutcome {
    ControlOutcome::Failure {
        cause,
        detail: detail.to_owned(),
    }
}

/// A control waiting for its outcome on the stream.
struct Pending {
    sent_ns: u64,
    done: Completion,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("sent_ns", &self.sent_ns)
            .finish_non_exhaustive()
    }
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
pub struct ControlSender {
    client: E2Client,
    node: Arc<str>,
    transport: ControlTransport,
    timeout: Duration,
    queue: usize,
    metrics: Arc<Metrics>,
    clock: Clock,
    stream: Option<OpenStream>,
    /// The E2T answered UNIMPLEMENTED: stop asking (set by the stream's task).
    stream_unsupported: Arc<AtomicBool>,
    next_id: u64,
}

impl ControlSender {
    pub(super) fn new(
        client: E2Client,
        node: &str,
        transport: ControlTransport,
        timeout: Duration,
        queue: usize,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            client,
            node: node.into(),
            transport,
            timeout,
            queue,
            metrics,
            clock: Clock::new(),
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
            },
            opened_tx,
        ));
        let node = &self.node;
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
                Metrics::inc(&self.metrics.e2_failures, "control_stream_late_headers");
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

    /// Sends `control` to the node; `done` gets its outcome.
    pub fn send(&mut self, control: Control, done: Completion) {
        if self
            .stream
            .as_ref()
            .is_some_and(|s| s.closed.load(Ordering::Acquire))
        {
            self.stream = None;
        }
        let req = self.client.control_request(
            &self.node,
            control.header,
            control.message,
            control.call_process_id,
        );
        if let Some(s) = &self.stream {
            let id = self.next_id;
            self.next_id += 1;
            let sent_ns = self.clock.now_ns();
            let Ok(mut p) = s.pending.lock() else {
                return done(failure("transport", "control stream state poisoned"));
            };
            p.insert(id, Pending { sent_ns, done });
            drop(p);
            if let Err(e) = s.tx.try_send(ControlStreamRequest {
                request_id: id,
                request: Some(req),
            }) {
                let taken = s.pending.lock().ok().and_then(|mut p| p.remove(&id));
                let full = matches!(e, mpsc::error::TrySendError::Full(_));
                if let Some(p) = taken {
                    let cause = if full { "overload" } else { "transport" };
                    (p.done)(failure(cause, "control stream not writable"));
                }
            }
            return;
        }
        let mut client = self.client.clone();
        let timeout = self.timeout;
        tokio::spawn(async move {
            match client.control(req, timeout).await {
                Ok(resp) => done(ack(resp)),
                Err(status) => done(status_outcome(&status)),
            }
        });
    }

    /// Fails the stream's controls that have waited longer than the timeout.
    pub fn sweep(&mut self) {
        let Some(s) = &self.stream else { return };
        let horizon = self
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
            (p.done)(ControlOutcome::Timeout {
                detail: "no outcome on the control stream".into(),
            });
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
            read_outcomes(responses, &shared.pending).await;
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
        (p.done)(failure(
            "transport",
            "control stream ended before the outcome",
        ));
    }
}

async fn read_outcomes(mut responses: Streaming<ControlStreamResponse>, pending: &PendingMap) {
    while let Ok(Some(resp)) = responses.message().await {
        let Some(p) = pending
            .lock()
            .ok()
            .and_then(|mut m| m.remove(&resp.request_id))
        else {
            continue; // already timed out
        };
        let outcome = match resp.result {
            Some(control_stream_response::Result::Response(r)) => ack(r),
            Some(control_stream_response::Result::Failure(f)) => {
                let cause = f
                    .error
                    .as_ref()
                    .map_or(E2Cause::Unspecified, E2Cause::of_error);
                failure(cause.label(), &f.message)
            }
            None => failure("transport", "empty outcome"),
        };
        (p.done)(outcome);
    }
}
