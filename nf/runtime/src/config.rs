//! The runtime's configuration, already validated (the xApp binary turns its TOML into it).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use e2_proto::kpm::Limits;
use nf_core::features::MissingInputs;
use nf_core::guard::GuardConfig;
use nf_core::latency::{Budget, BudgetMode};
use nf_core::policy::PolicyConfig;

use crate::decisions::DecisionLog;
use crate::e2::E2Node;
use crate::transport::{RcProfile, TransportKind, WireEncoding};
use crate::trial::TrialSpec;

/// Bounds of [`RuntimeConfig::silent_periods`]: fewer than 2 would resubscribe on one
/// late report; more than 1000 would leave a dead stream unnoticed for minutes.
pub const SILENT_PERIODS_RANGE: std::ops::RangeInclusive<u32> = 2..=1000;
/// Bounds of [`RuntimeConfig::max_e2_nodes`].
pub const MAX_E2_NODES_RANGE: std::ops::RangeInclusive<usize> = 1..=65_536;
/// Bounds of [`RuntimeConfig::discovery_timeout`] [ms].
pub const DISCOVERY_TIMEOUT_MS_RANGE: std::ops::RangeInclusive<u64> = 100..=600_000;
/// Defaults of `silent_periods`, `max_e2_nodes` and `discovery_timeout` [ms].
pub const DEFAULT_SILENT_PERIODS: u32 = 8;
pub const DEFAULT_MAX_E2_NODES: usize = 1024;
pub const DEFAULT_DISCOVERY_TIMEOUT_MS: u64 = 5000;

/// Reconnect backoff: exponential from `initial` to `max`, with full jitter.
#[derive(Clone, Copy, Debug)]
pub struct BackoffConfig {
    pub initial: Duration,
    pub max: Duration,
}

/// How controls travel to the E2T.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ControlTransport {
    /// The `airan.e2t.v1` control stream when the E2T offers it, else unary `Control`.
    Auto,
    /// Always SD-RAN's unary `ControlService.Control`.
    Unary,
}

/// What a node does when decisions cannot keep up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Overload {
    /// Live RAN: keep reading, shed what does not fit (counted). Stale decisions are worse
    /// than none.
    Shed,
    /// Replay: stop reading the indication stream while `max_inflight_controls` decisions
    /// are in the pipeline, so nothing is shed and the E2T plays as fast as the xApp keeps up.
    Backpressure,
}

/// Everything the runtime needs besides the model.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// E2T gRPC endpoint, e.g. `http://127.0.0.1:5150` (`https://` with [`Self::e2t_tls`]).
    pub e2t_endpoint: String,
    /// TLS of the E2T link (`[ric.tls]`): required by an `https://` endpoint, refused with
    /// an `http://` one (see [`crate::transport::sdran`]).
    pub e2t_tls: Option<nf_tls::ClientTls>,
    pub app_id: String,
    pub app_instance_id: String,
    /// KPM reporting period asked for [ms].
    pub report_period_ms: u32,
    /// A cell silent this long is forgotten [ms].
    pub stale_after_ms: u64,
    /// A report later than this after its period is counted late [ms].
    pub late_after_ms: u64,
    /// Most cells tracked per E2 node.
    pub max_cells_per_node: usize,
    pub policy: PolicyConfig,
    pub guard: GuardConfig,
    /// End-to-end budget: from a report's collection end (clock offset handled) to its
    /// control leaving.
    pub budget: Budget,
    /// Drop decisions past the budget (live) or only count them (replay).
    pub budget_mode: BudgetMode,
    /// How far a report's collection time may run ahead of its node's clock, or of its
    /// cell's last report beyond our own clock's progress [ms].
    pub max_ahead_ms: u64,
    /// Each node's clock offset is the fastest transit seen over the last one to two of
    /// these windows [ms]: longer resists a sustained queue better, shorter forgets a node
    /// clock step sooner.
    pub offset_window_ms: u64,
    /// Model inputs a cell never reports: refuse the cell, or impute 0 (explicit).
    pub missing_inputs: MissingInputs,
    pub limits: Limits,
    /// gRPC message size limit, both directions [bytes].
    pub max_message_bytes: usize,
    pub backoff: BackoffConfig,
    /// Largest inference batch [rows].
    pub max_batch_rows: usize,
    /// Inference queue bound [jobs].
    pub inference_queue: usize,
    /// Keep the inference session warm with a throw-away row when idle this long.
    pub keep_warm: Option<Duration>,
    /// Controls in flight per node before new ones are shed.
    pub max_inflight_controls: usize,
    /// Deadline of one control RPC.
    pub control_timeout: Duration,
    pub control_transport: ControlTransport,
    /// Prometheus endpoint (`/metrics`), if any.
    pub metrics_listen: Option<SocketAddr>,
    pub overload: Overload,
    /// Run every inference job on its own (no batching across cells): onnxruntime rounds
    /// differently for different batch sizes, so only this gives bit-reproducible outputs.
    pub reproducible: bool,
    /// Where decisions are logged, if anywhere.
    pub decision_log: Option<Arc<DecisionLog>>,
    /// The A/B trial, if one runs.
    pub trial: Option<TrialSpec>,
    /// An indication stream silent for this many report periods is dropped and the node
    /// resubscribed (see [`SILENT_PERIODS_RANGE`]).
    pub silent_periods: u32,
    /// Most E2 nodes served; further nodes in the E2T's list are refused (counted).
    pub max_e2_nodes: usize,
    /// Longest one node-list read (`ListE2NodeConnections`) may take; also bounds the wait
    /// for a `Subscribe` answer.
    pub discovery_timeout: Duration,
    /// Which RIC the xApp talks to (`ric.transport`).
    pub transport: TransportKind,
    /// How E2SM payloads are encoded on the wire (`ric.encoding`).
    pub encoding: WireEncoding,
    /// Which E2SM-RC dialect controls follow under `asn1-per` (`ric.rc_profile`).
    pub rc_profile: RcProfile,
    /// E2 nodes and cells from the configuration (`[[ric.nodes]]`): used when the RIC
    /// cannot list its nodes (SD-RAN without `ListE2NodeConnections`; O-RAN SC).
    pub nodes: Vec<E2Node>,
    /// The O-RAN SC path (`ric.transport = "osc-rmr"`): Subscription Manager, RMR, and
    /// each node's RAN function IDs; also each node's E2SM-KPM version and E2SM-RC profile
    /// under `asn1-per` (`[ric.osc]`, `[[ric.nodes]]`).
    pub osc: crate::transport::osc::OscConfig,
    /// SIGHUP re-reads every model slot's contract and swaps in what changed (the xApp
    /// binary turns it on; see [`crate::models`]). Off: SIGHUP is left to the caller.
    pub reload_on_sighup: bool,
    /// The conflict-guidance client asked before every control (`[conflict]`); `None`:
    /// controls are sent without asking.
    pub conflict: Option<Arc<crate::conflict::Gate>>,
    /// This replica's share of the E2 nodes (`[shard]` with `replicas > 1`); `None`: every
    /// node is served here.
    pub shard: Option<crate::shard::ShardConfig>,
    /// The A1 policy handler (`[a1]`); `None`: no A1 policy bounds the decisions.
    pub a1: Option<crate::a1::A1Config>,
    /// A remote forecaster and the placement mode (`[remote_model]`, `[placement]`);
    /// `None`: every decision is the local model's.
    pub remote: Option<Arc<crate::placement::RemotePlacement>>,
}

impl RuntimeConfig {
    /// How long an indication stream may stay silent before the node resubscribes.
    pub fn silent_after(&self) -> Duration {
        Duration::from_millis(u64::from(self.report_period_ms) * u64::from(self.silent_periods))
    }

    /// Which E2 app instance this process is and which share of the nodes it serves, as
    /// `--check` prints it: `E2 app instance slice-xapp-2, shard 2 of 3` or
    /// `E2 app instance slice-xapp-0, every E2 node (not sharded)`.
    pub fn instance_line(&self) -> String {
        match &self.shard {
            Some(s) => format!(
                "E2 app instance {}, shard {} of {}",
                self.app_instance_id, s.ordinal, s.replicas
            ),
            None => format!(
                "E2 app instance {}, every E2 node (not sharded)",
                self.app_instance_id
            ),
        }
    }
}

impl RuntimeConfig {
    /// Defaults for a local E2T at `endpoint`.
    pub fn local(endpoint: impl Into<String>) -> Self {
        Self {
            e2t_endpoint: endpoint.into(),
            e2t_tls: None,
            app_id: "slice-xapp".into(),
            app_instance_id: "slice-xapp-1".into(),
            report_period_ms: 250,
            stale_after_ms: 10_000,
            late_after_ms: 250,
            max_cells_per_node: 16_384,
            policy: PolicyConfig::default(),
            guard: GuardConfig {
                hysteresis_pct: 3,
                max_controls_per_cell_per_sec: 4,
            },
            budget: Budget::from_ms(10.0),
            budget_mode: BudgetMode::Drop,
            max_ahead_ms: nf_core::state::DEFAULT_MAX_AHEAD_MS,
            offset_window_ms: nf_core::latency::DEFAULT_OFFSET_WINDOW_MS,
            missing_inputs: MissingInputs::Refuse,
            limits: Limits::default(),
            max_message_bytes: 4 * 1024 * 1024,
            backoff: BackoffConfig {
                initial: Duration::from_millis(100),
                max: Duration::from_secs(5),
            },
            max_batch_rows: 4096,
            inference_queue: 65_536,
            keep_warm: Some(Duration::from_millis(1)),
            max_inflight_controls: 1024,
            control_timeout: Duration::from_millis(500),
            control_transport: ControlTransport::Auto,
            metrics_listen: None,
            overload: Overload::Shed,
            reproducible: false,
            decision_log: None,
            trial: None,
            silent_periods: DEFAULT_SILENT_PERIODS,
            max_e2_nodes: DEFAULT_MAX_E2_NODES,
            discovery_timeout: Duration::from_millis(DEFAULT_DISCOVERY_TIMEOUT_MS),
            transport: TransportKind::SdranGrpc,
            encoding: WireEncoding::Proto,
            rc_profile: RcProfile::Oran,
            nodes: Vec::new(),
            osc: crate::transport::osc::OscConfig::default(),
            reload_on_sighup: false,
            conflict: None,
            shard: None,
            a1: None,
            remote: None,
        }
    }
}
