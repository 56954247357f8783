//! The node pipeline of the interference xApp, the same shape as the slice pipeline
//! (`node`): one task per E2 node, one indication flowing forward only.
//!
//! ```text
//! transport ──Indication──▶ ingest ──Period──▶ decide ──Action──▶ emit ──Control──▶ transport
//!                                               ▲   │ (one batch per node and period on the
//!                                               └───┘  inference worker: MobEvent::Inferred)
//!            MobEvent::Guidance (conflict gate) ◀── emit ──▶ MobEvent::Done (control outcome)
//! ```
//!
//! - this module: the subscription (per cell two REPORT actions: UE-level report style 4
//!   at action `2·i`, the cell radio report style 1 at `2·i + 1`, `i` the cell's position),
//!   the read loop, resubscription with backoff, drain and unsubscribe.
//! - [`ingest`]: decode (told apart by the action the indication reports on; where the RIC
//!   does not say, by the message format), range checks, per-UE windows (bounded per cell,
//!   evictions counted), the latest cell radio report per cell, and the period: when every
//!   cell of the node has reported a period (or half a period after the first report of a
//!   period) the UEs reported in it go to decide as one [`ingest::Period`].
//! - [`decide`]: one input row per UE with a full window ([`nf_core::radio_features`]), ONE
//!   inference job per node and period; the answer comes back as [`MobEvent::Inferred`]:
//!   outputs checked (finite, `loss_db` 0..=80, `p_limited` 0..=1; garbage dropped, counted,
//!   logged), each row an [`nf_core::mobility::Assessment`] for the node's
//!   [`nf_core::mobility::MobilityGuard`] (A3 + hysteresis + time-to-trigger, ping-pong,
//!   per-UE and per-cell rate limits), plus the optional dominant-interferer restriction.
//! - [`emit`]: the conflict gate first when configured (its answer comes back as
//!   [`MobEvent::Guidance`]), then the E2SM-RC control (style 3 action 1 handover; the
//!   slice PRB quota control for a restriction), its outcome back as [`MobEvent::Done`]:
//!   an accepted handover is `completed` on the guard, a failed one counted.
//!
//! Every drop is counted by a bounded reason (`xapp_ue_reports_dropped_total{reason}`,
//! `xapp_interference_outputs_refused_total{reason}`, `xapp_handovers_total{result}`,
//! `xapp_handovers_held_total{reason}`, `xapp_restrictions_total{result}`).

mod decide;
mod emit;
mod ingest;
pub mod log;
mod summary;

use std::sync::Arc;
use std::time::Duration;

use nf_core::mobility::MobilityConfig;
use nf_infer::InferenceHandle;
use tokio::sync::{mpsc, watch};

pub use decide::{MobCtx, MobEvent, OUTPUT_REFUSALS};
pub use ingest::UE_DROP_REASONS;
pub use log::MobilityLog;
pub use summary::MobilitySummary;

/// The KPIs the interference xApp consumes (told to the conflict manager: a control of
/// another xApp that changes one of them is an indirect conflict).
pub const CONSUMED_KPIS: [&str; 8] = [
    nf_core::radio::ue_meas::SS_RSRP,
    nf_core::radio::ue_meas::SS_RSRQ,
    nf_core::radio::ue_meas::SS_SINR,
    nf_core::radio::ue_meas::WB_CQI,
    nf_core::radio::ue_meas::UE_THP_DL,
    nf_core::radio::ue_meas::NBR_SS_RSRP,
    nf_core::radio::cell_meas::PRB_USED_DL,
    nf_core::radio::cell_meas::PRB_AVAIL_DL,
];

/// Every `result` of `xapp_handovers_total`.
pub const HANDOVER_RESULTS: &[&str] = emit::RESULTS;
/// Every `result` of `xapp_restrictions_total`: the control results and the holds.
pub const RESTRICTION_RESULTS: &[&str] = &[
    "sent",
    "accepted",
    "failed",
    "timeout",
    "denied",
    "encode_failed",
    "backpressure",
    "not_this_node",
    "rate_limited",
];

use crate::clock::Clock;
use crate::config::RuntimeConfig;
use crate::e2::{Backoff, E2Node};
use crate::health::{NodeState, NodeTracker};
use crate::metrics::Metrics;
use crate::transport::{E2smCodec, RicTransport, StreamEvent, SubscriptionSpec};

/// Longest wait on shutdown for in-flight inferences and control outcomes.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(3);

/// The coordinated PRB restriction of a dominant interferer: the core's rule
/// ([`nf_core::mobility::propose_restriction`]) and how often one cell may be restricted.
#[derive(Clone, Debug, PartialEq)]
pub struct RestrictionSettings {
    pub rule: nf_core::mobility::RestrictionConfig,
    /// Least time between two restrictions of one cell [ms].
    pub min_interval_ms: u64,
}

/// The interference xApp's own settings (the runtime's are in [`RuntimeConfig`]).
#[derive(Clone, Debug)]
pub struct InterferenceConfig {
    pub mobility: MobilityConfig,
    /// `None`: no restriction is ever sent.
    pub restriction: Option<RestrictionSettings>,
    /// `None`: controls are sent without asking a conflict manager.
    pub conflict: Option<crate::conflict::GateConfig>,
    /// UEs tracked per cell.
    pub max_ues_per_cell: usize,
    /// A UE or cell not reported this long is forgotten [ms].
    pub stale_after_ms: u64,
}

impl Default for InterferenceConfig {
    fn default() -> Self {
        Self {
            mobility: MobilityConfig::default(),
            restriction: None,
            conflict: None,
            max_ues_per_cell: 1024,
            stale_after_ms: 10_000,
        }
    }
}

/// Everything one node task needs; cloned to restart a task that died.
#[derive(Clone)]
pub(crate) struct MobTask {
    pub node: E2Node,
    pub transport: RicTransport,
    pub codec: E2smCodec,
    pub cfg: Arc<RuntimeConfig>,
    pub icfg: Arc<InterferenceConfig>,
    pub infer: InferenceHandle<MobCtx>,
    pub metrics: Arc<Metrics>,
    pub clock: Clock,
    pub log: Option<Arc<MobilityLog>>,
    pub gate: Option<Arc<crate::conflict::Gate>>,
}

/// The three stages of one node.
struct Stages<'a> {
    ingest: ingest::Ingest<'a>,
    decide: decide::Decide<'a>,
    emit: emit::Emit<'a>,
}

impl Stages<'_> {
    fn on_event(&mut self, ev: MobEvent) {
        match ev {
            MobEvent::Inferred { ctx, out } => {
                let actions = self.decide.inferred(ctx, out, &self.ingest);
                for a in actions {
                    self.emit.emit(a);
                }
            }
            MobEvent::Guidance { action, guidance } => self.emit.guided(action, guidance),
            MobEvent::Done { action, outcome } => {
                if let Some(done) = self.emit.done(action, outcome) {
                    self.decide.completed(done);
                }
            }
        }
    }

    fn on_indication(&mut self, ind: crate::transport::Indication) {
        for period in self.ingest.accept(ind) {
            self.decide.start(period, &self.ingest);
        }
    }

    fn tick(&mut self) {
        if let Some(period) = self.ingest.flush_due() {
            self.decide.start(period, &self.ingest);
        }
        for ue in self.ingest.age_out() {
            self.decide.forget_ue(ue);
        }
        self.emit.sweep();
    }
}

enum Ended {
    Shutdown,
    Resubscribe,
}

impl crate::supervise::Supervised for MobTask {
    fn node_id(&self) -> &str {
        &self.node.id
    }
    fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }
    fn backoff(&self) -> crate::config::BackoffConfig {
        self.cfg.backoff
    }
    fn run(self, shutdown: watch::Receiver<bool>) -> impl Future<Output = ()> + Send + 'static {
        MobTask::run(self, shutdown)
    }
}

impl MobTask {
    /// Runs until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let (events_tx, mut events_rx) = mpsc::channel(4096);
        let mut state = NodeTracker::new(self.metrics.clone(), &self.node.id);
        let mut p = Stages {
            ingest: ingest::Ingest::new(&self),
            decide: decide::Decide::new(&self, events_tx.clone()),
            emit: emit::Emit::new(&self, events_tx),
        };
        let mut backoff = Backoff::new(self.cfg.backoff);
        let mut transport = self.transport.clone();
        let tick_every = Duration::from_millis(u64::from(self.cfg.report_period_ms.max(20)) / 4);
        let mut tick = tokio::time::interval(tick_every);
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
                    tokio::select! {
                        _ = p.emit.open() => {}
                        _ = shutdown.wait_for(|s| *s) => break,
                    }
                    tracing::info!(e2_node = %self.node.id, cells = self.node.cells.len(), "subscribed to UE-level and cell radio KPM");
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
                    &mut tick,
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

    async fn subscribe(
        &self,
        transport: &mut RicTransport,
    ) -> Result<crate::transport::IndicationStream, String> {
        let spec = self
            .subscription_spec(self.cfg.report_period_ms)
            .map_err(|e| {
                Metrics::inc(&self.metrics.e2_failures, "subscription_encode_failed");
                format!("subscription not encodable: {e}")
            })?;
        transport
            .subscribe(&self.node.id, spec, self.cfg.discovery_timeout)
            .await
            .map_err(|e| e.to_string())
    }

    /// Per cell `i`: action `2·i` the UE-level report (style 4), `2·i + 1` the cell radio
    /// report (style 1).
    pub(crate) fn subscription_spec(
        &self,
        period_ms: u32,
    ) -> Result<SubscriptionSpec, crate::transport::CodecError> {
        let mut actions = Vec::with_capacity(self.node.cells.len() * 2);
        for c in &self.node.cells {
            actions.push(self.codec.encode_ue_action_definition(c, period_ms)?);
            actions.push(
                self.codec
                    .encode_cell_radio_action_definition(c, period_ms)?,
            );
        }
        Ok(SubscriptionSpec {
            event_trigger: self.codec.encode_event_trigger(period_ms)?,
            actions,
        })
    }

    async fn read(
        &self,
        stream: &mut crate::transport::IndicationStream,
        p: &mut Stages<'_>,
        events_rx: &mut mpsc::Receiver<MobEvent>,
        backoff: &mut Backoff,
        tick: &mut tokio::time::Interval,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Ended {
        let silent_after = self.cfg.silent_after();
        let silence = tokio::time::sleep(silent_after);
        tokio::pin!(silence);
        loop {
            tokio::select! {
                biased;
                _ = shutdown.wait_for(|s| *s) => return Ended::Shutdown,
                Some(ev) = events_rx.recv() => p.on_event(ev),
                ev = stream.next() => {
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
                _ = &mut silence => {
                    Metrics::inc(&self.metrics.e2_failures, "silent_stream");
                    tracing::warn!(e2_node = %self.node.id, silent_ms = silent_after.as_millis() as u64, "indication stream silent; resubscribing");
                    return Ended::Resubscribe;
                }
                _ = tick.tick() => p.tick(),
            }
        }
    }

    /// Drain: the period being collected is decided, inferences in flight answered and
    /// their controls' outcomes awaited, within [`DRAIN_TIMEOUT`].
    async fn drain(&self, p: &mut Stages<'_>, events_rx: &mut mpsc::Receiver<MobEvent>) {
        if let Some(period) = p.ingest.flush_now() {
            p.decide.start(period, &p.ingest);
        }
        let until = tokio::time::Instant::now() + DRAIN_TIMEOUT;
        while !(p.decide.idle() && p.emit.idle()) {
            tokio::select! {
                Some(ev) = events_rx.recv() => p.on_event(ev),
                _ = tokio::time::sleep(Duration::from_millis(5)) => p.emit.sweep(),
                _ = tokio::time::sleep_until(until) => break,
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
}

/// Why a model output row (`loss_db`, `p_limited`) is refused, if it is: the check every
/// live output and the start-up canary pass.
pub fn output_refusal(loss_db: f32, p_limited: f32) -> Option<&'static str> {
    decide::refusal(loss_db, p_limited)
}
