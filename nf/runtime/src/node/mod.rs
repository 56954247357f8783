//! The task of one E2 node, split so that one indication flows forward only:
//!
//! ```text
//! transport ──Indication──▶ ingest ──Job──▶ decide ──Decision──▶ emit ──Control──▶ transport
//!                                            ▲   │ (model arms: inference worker,         │
//!                                            └───┘  answer as NodeEvent::Inferred)        │
//!                              NodeEvent::ControlFailed ◀── control outcome ◀─────────────┘
//! ```
//!
//! With a conflict manager (`RuntimeConfig::conflict`), emit asks it before sending: the
//! decision waits in a task for the guidance, which comes back as `NodeEvent::Guided` and is
//! handed to emit again (sent on `Allow`; dropped, counted `conflict_denied` and forgotten
//! by the guard on `Deny`).
//!
//! - this module: connection handling. It subscribes through the [`RicTransport`], reads
//!   the [`IndicationStream`](crate::transport::IndicationStream) and the node's event queue,
//!   hands each stage's output to the next, and on a stream loss, or a stream silent for
//!   `silent_periods` report periods, resubscribes with backoff; on shutdown it drains and
//!   unsubscribes. Every wait on the RIC is bounded and gives way to shutdown.
//! - [`ingest`]: decode → checks → cell table (and the trial's bookkeeping).
//! - [`decide`]: inference submission and result → policy → guard rails.
//! - [`emit`]: control encoding and send → outcome → decision log.
//!
//! No stage calls an earlier one: results of asynchronous work (an inference, a control's
//! failure) come back to this module as [`NodeEvent`]s and are handed on from here.
//!
//! # The decision path
//! Nothing reaches the RAN unchecked: a report with an impossible measurement or a time
//! stamped far ahead is refused; a report whose end-to-end age (see
//! [`nf_core::latency::NodeClock`]) is past the budget is not decided; a cell missing a model
//! input or of a size the model cannot serve is refused; a NaN, infinite or out-of-range
//! forecast is dropped and the cell keeps its last quota. Each is counted by reason and
//! logged (once per cell and reason where it would repeat every period).

mod a1;
mod decide;
mod emit;
mod ingest;
mod slice_policy;

use std::sync::Arc;
use std::time::Duration;

use e2_proto::kpm;
use nf_core::features::FeatureLayout;
use nf_infer::InferenceHandle;
use nf_infer::contract::PrbScaling;
use tokio::sync::{mpsc, watch};

pub(crate) use decide::{InferCtx, NodeEvent};
pub(crate) use slice_policy::ServedPolicy;

use crate::clock::Clock;
use crate::config::RuntimeConfig;
use crate::e2::{Backoff, E2Node};
use crate::health::{NodeState, NodeTracker};
use crate::metrics::Metrics;
use crate::transport::{E2smCodec, RicTransport, StreamEvent, SubscriptionSpec};
use crate::trial::Arms;

use decide::Decide;
use emit::Emit;
use ingest::Ingest;

/// Longest wait on shutdown for in-flight decisions and their control outcomes.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Everything one node task needs; cloned to restart a task that died.
#[derive(Clone)]
pub(crate) struct NodeTask {
    pub node: E2Node,
    pub transport: RicTransport,
    pub codec: E2smCodec,
    pub cfg: Arc<RuntimeConfig>,
    /// Feature order of the forecasters (every forecaster shares it).
    pub layout: FeatureLayout,
    /// Reports kept per slice: the longest window of the models (each reads its own tail).
    pub window: usize,
    /// DL PRBs of the cells the forecasters were trained on (contract `cell_prbs`).
    pub default_prbs: f32,
    /// How the forecasters serve cells of other sizes.
    pub prb_scaling: PrbScaling,
    /// One inference worker per model (indexed as [`crate::trial::ArmPolicy::Model`]).
    pub infer: Vec<InferenceHandle<InferCtx>>,
    /// Per model (same index): its slice-policy view, `None` for a forecaster.
    pub policies: Arc<[Option<ServedPolicy>]>,
    pub arms: Arc<Arms>,
    /// Counters of each arm, in `arms.arms` order.
    pub arm_metrics: Arc<[crate::metrics::ArmMetrics]>,
    pub metrics: Arc<Metrics>,
    pub clock: Clock,
    /// Where decisions are logged, if anywhere.
    pub log: Option<Arc<crate::decisions::DecisionLog>>,
    /// Record layout of each subscribed cell (the order of its action definition); also
    /// the set of cells this node may report on.
    pub layouts: kpm::Layouts,
    /// The effective A1 policy, read once when a decision starts (`None`: no A1 handler).
    pub a1: Option<crate::a1::PolicyWatch>,
}

/// The three stages of one node.
struct Stages<'a> {
    ingest: Ingest<'a>,
    decide: Decide<'a>,
    emit: Emit<'a>,
}

impl Stages<'_> {
    /// Handles one event of the node's queue.
    fn on_event(&mut self, ev: NodeEvent) {
        match ev {
            NodeEvent::ControlFailed(cell) => self.decide.forget(cell),
            NodeEvent::Guided(g) => {
                // A denied quota never reached the cell: the guard forgets it, so the next
                // decision is not compared with it.
                if let Some(cell) = self.emit.guided(*g) {
                    self.decide.forget(cell);
                }
            }
            NodeEvent::RemoteShadow { key, result } => self.emit.remote_shadow(&key, result),
            NodeEvent::Inferred { ctx, forecasts } => {
                if let Some(d) = self.decide.inferred(ctx, forecasts) {
                    self.emit.emit(d);
                }
            }
        }
    }

    /// Takes one indication through ingest and into decide; emits what is decided at once.
    fn on_indication(&mut self, ind: crate::transport::Indication) {
        let Some(job) = self.ingest.accept(ind) else {
            return;
        };
        for d in self.decide.start(&job, self.ingest.table()) {
            self.emit.emit(d);
        }
    }

    fn age_out(&mut self) {
        let gone = self.ingest.age_out();
        self.decide.remove(&gone);
    }
}

/// The node's periodic work: control timeouts, cell ageing.
struct Ticks {
    sweep: tokio::time::Interval,
    age: tokio::time::Interval,
}

/// How one subscription's read loop ended.
enum Ended {
    Shutdown,
    Resubscribe,
}

impl NodeTask {
    /// Runs until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let (events_tx, mut events_rx) = mpsc::channel(self.cfg.inference_queue.min(1 << 16));
        let mut state = NodeTracker::new(self.metrics.clone(), &self.node.id);
        let mut p = Stages {
            ingest: Ingest::new(&self),
            decide: Decide::new(&self, events_tx.clone()),
            emit: Emit::new(&self, events_tx),
        };
        let mut backoff = Backoff::new(self.cfg.backoff);
        let mut transport = self.transport.clone();
        let mut ticks = Ticks {
            sweep: tokio::time::interval(self.cfg.control_timeout / 2),
            age: tokio::time::interval(Duration::from_millis(self.cfg.stale_after_ms.max(100) / 2)),
        };
        loop {
            if *shutdown.borrow() {
                break;
            }
            state.set(NodeState::Subscribing);
            let subscribed = tokio::select! {
                r = self.subscribe(&mut transport) => r,
                _ = shutdown.wait_for(|s| *s) => break,
            };
            let mut stream = match subscribed {
                Ok(s) => {
                    self.metrics.subscriptions.inc();
                    state.set(NodeState::Subscribed);
                    p.ingest.resubscribed();
                    tokio::select! {
                        _ = p.emit.open() => {}
                        _ = shutdown.wait_for(|s| *s) => break,
                    }
                    tracing::info!(e2_node = %self.node.id, cells = self.node.cells.len(), "subscribed to KPM");
                    s
                }
                Err(cause) => {
                    state.set(NodeState::Backoff);
                    let wait = backoff.next_delay();
                    tracing::warn!(e2_node = %self.node.id, %cause, retry_in_ms = wait.as_millis() as u64, "subscribe failed");
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => continue,
                        _ = shutdown.wait_for(|s| *s) => break,
                    }
                }
            };
            let ended = self
                .read(
                    &mut stream,
                    &mut p,
                    &mut events_rx,
                    &mut backoff,
                    &mut ticks,
                    &mut shutdown,
                )
                .await;
            if let Ended::Shutdown = ended {
                break;
            }
            self.metrics.reconnects.inc();
            state.set(NodeState::Backoff);
            p.emit.close();
            drop(stream);
            let wait = backoff.next_delay();
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.wait_for(|s| *s) => break,
            }
        }
        self.drain(&mut p, &mut events_rx).await;
        match tokio::time::timeout(Duration::from_secs(1), transport.unsubscribe(&self.node.id))
            .await
        {
            Ok(Ok(())) => tracing::info!(e2_node = %self.node.id, "unsubscribed"),
            Ok(Err(e)) => tracing::warn!(e2_node = %self.node.id, cause = %e, "unsubscribe failed"),
            Err(_) => tracing::warn!(e2_node = %self.node.id, "unsubscribe timed out"),
        }
    }

    /// Encodes the node's subscription and subscribes it.
    async fn subscribe(
        &self,
        transport: &mut RicTransport,
    ) -> Result<crate::transport::IndicationStream, String> {
        let period = self.cfg.report_period_ms;
        let spec = self.subscription_spec(period).map_err(|e| {
            Metrics::inc(&self.metrics.e2_failures, "subscription_encode_failed");
            format!("subscription not encodable: {e}")
        })?;
        transport
            .subscribe(&self.node.id, spec, self.cfg.discovery_timeout)
            .await
            .map_err(|e| e.to_string())
    }

    /// The event trigger and one action definition per cell, in the codec of the run.
    fn subscription_spec(
        &self,
        period_ms: u32,
    ) -> Result<SubscriptionSpec, crate::transport::CodecError> {
        let actions = self
            .node
            .cells
            .iter()
            .map(|c| self.codec.encode_action_definition(c, period_ms))
            .collect::<Result<_, _>>()?;
        Ok(SubscriptionSpec {
            event_trigger: self.codec.encode_event_trigger(period_ms)?,
            actions,
        })
    }

    /// Reads one subscription until it is lost, ended, silent, or shutdown comes.
    async fn read(
        &self,
        stream: &mut crate::transport::IndicationStream,
        p: &mut Stages<'_>,
        events_rx: &mut mpsc::Receiver<NodeEvent>,
        backoff: &mut Backoff,
        ticks: &mut Ticks,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Ended {
        let silent_after = self.cfg.silent_after();
        let silence = tokio::time::sleep(silent_after);
        tokio::pin!(silence);
        loop {
            if !p.decide.can_accept() {
                // Not reading (backpressure) is not the E2T's silence.
                silence
                    .as_mut()
                    .reset(tokio::time::Instant::now() + silent_after);
            }
            tokio::select! {
                biased;
                _ = shutdown.wait_for(|s| *s) => return Ended::Shutdown,
                Some(ev) = events_rx.recv() => p.on_event(ev),
                ev = stream.next(), if p.decide.can_accept() => {
                    silence.as_mut().reset(tokio::time::Instant::now() + silent_after);
                    match ev {
                        StreamEvent::Indication(ind) => {
                            backoff.reset();
                            p.on_indication(ind);
                        }
                        StreamEvent::Acknowledged => backoff.reset(),
                        StreamEvent::NotIndication => {
                            backoff.reset();
                            Metrics::inc(&self.metrics.rejected, "not_indication");
                        }
                        StreamEvent::Ended => {
                            tracing::warn!(e2_node = %self.node.id, "indication stream ended by the E2T");
                            return Ended::Resubscribe;
                        }
                        StreamEvent::Lost { oversize, detail } => {
                            if oversize {
                                Metrics::inc(&self.metrics.rejected, "oversize");
                            }
                            tracing::warn!(e2_node = %self.node.id, cause = %detail, "indication stream failed");
                            return Ended::Resubscribe;
                        }
                    }
                },
                _ = &mut silence, if p.decide.can_accept() => {
                    self.stream_silent(silent_after);
                    return Ended::Resubscribe;
                }
                _ = ticks.age.tick() => p.age_out(),
                _ = ticks.sweep.tick() => p.emit.sweep(),
            }
        }
    }

    /// Drain: decisions still being inferred are taken, decided and sent, and their
    /// outcomes awaited (every decision being made holds a token, in backpressure also a
    /// permit until its outcome).
    async fn drain(&self, p: &mut Stages<'_>, events_rx: &mut mpsc::Receiver<NodeEvent>) {
        let drained = tokio::time::Instant::now() + DRAIN_TIMEOUT;
        while !p.decide.idle() {
            tokio::select! {
                Some(ev) = events_rx.recv() => p.on_event(ev),
                _ = tokio::time::sleep(Duration::from_millis(5)) => {}
                _ = tokio::time::sleep_until(drained) => break,
            }
        }
        while let Ok(ev) = events_rx.try_recv() {
            p.on_event(ev);
        }
        // Then closed, and what came in meanwhile taken: what is still on its way fails to
        // send (counted as `shutdown` by the sender) instead of vanishing with the queue.
        events_rx.close();
        while let Ok(ev) = events_rx.try_recv() {
            p.on_event(ev);
        }
    }

    fn stream_silent(&self, silent_after: Duration) {
        Metrics::inc(&self.metrics.e2_failures, "silent_stream");
        tracing::warn!(
            e2_node = %self.node.id,
            silent_ms = silent_after.as_millis() as u64,
            periods = self.cfg.silent_periods,
            "indication stream silent; resubscribing"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rss() -> u64 {
        crate::process::ProcessStats::read().map_or(0, |s| s.resident_bytes)
    }

    /// What each node task holds for latencies is three pointers to the shared histograms:
    /// 10,000 nodes recording into them add next to nothing (four HDR histograms per node,
    /// as before, took ≈ 0.88 MB each).
    #[test]
    fn per_node_latency_memory_is_a_few_pointers() {
        assert!(size_of::<crate::metrics::Latencies>() <= 3 * size_of::<usize>());
        let metrics = Metrics::new();
        let before = rss();
        let nodes: Vec<crate::metrics::Latencies> =
            (0..10_000).map(|_| metrics.latencies.clone()).collect();
        for (i, n) in nodes.iter().enumerate() {
            let ns = 1_000 + i as u64 * 997;
            n.inference_latency.record_ns(ns);
            n.decision_latency.record_ns(ns * 7);
            n.control_rtt.record_ns(ns * 31);
        }
        let grown = rss().saturating_sub(before);
        if before > 0 {
            assert!(grown < 8 << 20, "10,000 nodes grew RSS by {grown} bytes");
        }
        assert_eq!(metrics.latencies.control_rtt.percentiles().count, 10_000);
    }
}
