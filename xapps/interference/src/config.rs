//! The interference xApp's TOML configuration: parsed with unknown keys refused
//! (`deny_unknown_fields` on every section), then validated into the runtime's types.
//! Validation reports every problem of the file at once, each naming its `section.key`.
//!
//! `[e2t]`, `[ric]`, `[metrics]` and `[shard]` are the slice-scheduling xApp's sections (same keys,
//! same bounds, same checks: both xApps can be pointed at one RIC with the same text);
//! `[model]`, `[state]`, `[mobility]`, `[restriction]`, `[conflict]` and `[decision_log]`
//! are this xApp's. Relative paths are resolved against the config file's folder.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nf_core::mobility::{MobilityConfig, RestrictionConfig};
use nf_infer::{ModelConfig, Provider};
use nf_runtime::RuntimeConfig;
use nf_runtime::conflict::{GateConfig, OnUnavailable};
use nf_runtime::mobility::{InterferenceConfig, RestrictionSettings};
use serde::Deserialize;
use slice_xapp::config::bounds::{self as sb, Bound, Range};
use slice_xapp::config::ric::RicSection;
use slice_xapp::config::shard::ShardSection;
use slice_xapp::config::{E2tSection, MetricsSection, Problems, client_tls, endpoint_tls_problem};

pub use slice_xapp::config::ConfigError;

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub e2t: E2tSection,
    #[serde(default)]
    pub ric: RicSection,
    pub model: ModelSection,
    #[serde(default)]
    pub state: StateSection,
    /// `[mobility]`: the core's [`MobilityConfig`] (every key optional, unknown keys refused).
    #[serde(default)]
    pub mobility: MobilityConfig,
    #[serde(default)]
    pub restriction: RestrictionSection,
    pub conflict: Option<ConflictSection>,
    #[serde(default)]
    pub metrics: MetricsSection,
    pub decision_log: Option<DecisionLogSection>,
    /// Sharding the E2 nodes over replicas: the slice-scheduling xApp's section.
    #[serde(default)]
    pub shard: ShardSection,
}

/// `[model]`: the interference model (contract `kind = "interference"`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    pub contract: PathBuf,
    pub onnxruntime_lib: Option<PathBuf>,
    #[serde(default = "cpu")]
    pub providers: Vec<Provider>,
    /// Largest inference batch [rows]; a node's UEs of one period are one job.
    #[serde(default = "default_batch_rows")]
    pub max_batch_rows: u64,
    /// Inference jobs queued at most.
    #[serde(default = "default_queue_depth")]
    pub queue_depth: u64,
}

fn cpu() -> Vec<Provider> {
    vec![Provider::Cpu]
}
fn default_batch_rows() -> u64 {
    4096
}
fn default_queue_depth() -> u64 {
    1024
}

/// `[state]`: what the xApp keeps per node.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateSection {
    /// A UE (or cell) not reported for this long is forgotten [ms].
    #[serde(default = "default_stale_after_ms")]
    pub stale_after_ms: u64,
    /// UEs tracked per cell; a new UE past it evicts the least recently reported (counted).
    #[serde(default = "default_max_ues_per_cell")]
    pub max_ues_per_cell: u64,
    /// Largest E2SM payload accepted [bytes].
    #[serde(default = "default_max_payload_bytes")]
    pub max_payload_bytes: u64,
}

impl Default for StateSection {
    fn default() -> Self {
        Self {
            stale_after_ms: default_stale_after_ms(),
            max_ues_per_cell: default_max_ues_per_cell(),
            max_payload_bytes: default_max_payload_bytes(),
        }
    }
}

fn default_stale_after_ms() -> u64 {
    10_000
}
fn default_max_ues_per_cell() -> u64 {
    1024
}
fn default_max_payload_bytes() -> u64 {
    262_144
}

/// `[restriction]`: the coordinated PRB restriction of a dominant interferer (off unless
/// `enabled`); the rule's keys are the core's [`RestrictionConfig`] (each optional, its
/// default otherwise).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestrictionSection {
    #[serde(default)]
    pub enabled: bool,
    /// Least time between two restrictions of one cell [ms].
    #[serde(default = "default_restriction_interval_ms")]
    pub min_interval_ms: u64,
    pub min_limited_ues: Option<usize>,
    pub min_dominant_share: Option<f32>,
    pub min_victim_load: Option<f32>,
    pub max_interferer_load: Option<f32>,
    pub step_pct: Option<u32>,
    pub floor_pct: Option<u32>,
}

fn default_restriction_interval_ms() -> u64 {
    10_000
}

/// `[conflict]`: the conflict-guidance service both xApps ask before a control.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConflictSection {
    /// gRPC endpoint of `conflict-mgr`, `http://host:port`.
    pub endpoint: String,
    /// This xApp's name in the guidance (default: `e2t.app_id`).
    pub xapp: Option<String>,
    /// Longest wait for guidance [ms]; past it `on_unavailable` decides.
    #[serde(default = "default_conflict_timeout_ms")]
    pub timeout_ms: u64,
    /// `deny` (default: no control without guidance) or `allow`.
    #[serde(default = "default_on_unavailable")]
    pub on_unavailable: String,
    /// `[conflict.tls]`: TLS (mTLS with `cert` and `key`) to the manager; required by an
    /// `https://` endpoint, refused with an `http://` one.
    pub tls: Option<nf_tls::ClientSection>,
}

fn default_conflict_timeout_ms() -> u64 {
    100
}
fn default_on_unavailable() -> String {
    "deny".into()
}

/// `[decision_log]`: one JSON line per assessment acted on or held.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionLogSection {
    /// JSON-lines file, appended to (never truncated) and rotated by size.
    pub path: PathBuf,
    /// Rotated past this size [bytes]; the slice-scheduling xApp's bounds.
    #[serde(default = "default_log_max_bytes")]
    pub max_bytes: u64,
    /// Rotated files kept.
    #[serde(default = "default_log_keep")]
    pub keep: u64,
}

fn default_log_max_bytes() -> u64 {
    nf_runtime::logfile::Rotation::default().max_bytes
}

fn default_log_keep() -> u64 {
    nf_runtime::logfile::Rotation::default().keep as u64
}

/// The validated configuration.
#[derive(Debug)]
pub struct Validated {
    pub runtime: RuntimeConfig,
    pub model: ModelConfig,
    pub interference: InterferenceConfig,
    pub decision_log: Option<PathBuf>,
    /// Rotation of the decision log (defaults when `[decision_log]` is absent and
    /// `--decision-log` names the file).
    pub decision_log_rotation: nf_runtime::logfile::Rotation,
    /// TLS of the E2T link (`[ric.tls]`), its files read and checked: the binary turns it
    /// into `RuntimeConfig::e2t_tls` once its metrics exist.
    pub e2t_tls: Option<nf_tls::ClientSettings>,
}

const fn int(key: &'static str, min: u64, max: u64, unit: &'static str) -> Bound {
    Bound {
        key,
        range: Range::Int { min, max },
        unit,
        also: "",
    }
}

/// The accepted values of this xApp's own numeric keys (`[e2t]` and `[ric]` use the
/// slice-scheduling xApp's bounds).
pub mod bounds {
    use super::{Bound, int};

    pub const MAX_BATCH_ROWS: Bound = int("model.max_batch_rows", 1, 1 << 20, "rows");
    pub const QUEUE_DEPTH: Bound = int("model.queue_depth", 1, 1 << 20, "jobs");
    pub const STALE_AFTER_MS: Bound = int("state.stale_after_ms", 1000, 3_600_000, "ms");
    pub const MAX_UES_PER_CELL: Bound = int("state.max_ues_per_cell", 1, 65_536, "UEs");
    pub const MAX_PAYLOAD_BYTES: Bound = int("state.max_payload_bytes", 1024, 64 << 20, "bytes");
    /// A restriction never caps a cell below 20 % of its PRBs.
    pub const FLOOR_PCT: Bound = int("restriction.floor_pct", 20, 100, "%");
    pub const RESTRICTION_INTERVAL_MS: Bound =
        int("restriction.min_interval_ms", 1000, 3_600_000, "ms");
    pub const CONFLICT_TIMEOUT_MS: Bound = int("conflict.timeout_ms", 1, 10_000, "ms");

    /// Every bound of this xApp's own keys.
    pub const BOUNDS: &[Bound] = &[
        MAX_BATCH_ROWS,
        QUEUE_DEPTH,
        STALE_AFTER_MS,
        MAX_UES_PER_CELL,
        MAX_PAYLOAD_BYTES,
        FLOOR_PCT,
        RESTRICTION_INTERVAL_MS,
        CONFLICT_TIMEOUT_MS,
    ];
}

use bounds as b;

impl FileConfig {
    /// The folder relative paths of the file at `path` resolve against.
    pub fn folder_of(path: &Path) -> PathBuf {
        slice_xapp::config::FileConfig::folder_of(path)
    }

    /// Reads and parses `path` (unknown keys refused).
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            written: path.into(),
            resolved: std::path::absolute(path).unwrap_or_else(|_| path.into()),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses TOML text read from `path` (named in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|source| ConfigError::Parse {
            path: path.into(),
            source,
        })
    }

    /// Replaces the E2T endpoint (`--e2t`); problems with it then name `from`.
    pub fn override_endpoint(&mut self, endpoint: String, from: &'static str) {
        self.e2t.endpoint = endpoint;
        self.e2t.endpoint_from = Some(from);
    }

    /// Checks every value; relative paths resolve against `base`. Every problem is
    /// reported, not the first only.
    pub fn validate(self, base: &Path) -> Result<Validated, ConfigError> {
        let mut p = Problems::default();
        self.e2t.check_with_tls(self.ric.tls.is_some(), &mut p);
        let ric = self.ric.check(&mut p);
        let e2t_tls = self.ric.check_tls(base, &mut p);
        if let Some(d) = &self.decision_log {
            p.int(&sb::LOG_MAX_BYTES, d.max_bytes);
            p.int(&sb::LOG_KEEP, d.keep);
        }
        let m = &self.model;
        let contract = base.join(&m.contract);
        p.file("model.contract", &m.contract, &contract);
        if let Some(lib) = &m.onnxruntime_lib {
            p.file("model.onnxruntime_lib", lib, &base.join(lib));
        }
        p.rule(
            !m.providers.is_empty(),
            "model.providers",
            "[]",
            "list at least one provider (cpu)",
        );
        p.int(&b::MAX_BATCH_ROWS, m.max_batch_rows);
        p.int(&b::QUEUE_DEPTH, m.queue_depth);
        let s = &self.state;
        p.int(&b::STALE_AFTER_MS, s.stale_after_ms);
        p.int(&b::MAX_UES_PER_CELL, s.max_ues_per_cell);
        p.int(&b::MAX_PAYLOAD_BYTES, s.max_payload_bytes);
        if let Err(e) = self.mobility.validate() {
            core_problem(e, &mut p);
        }
        let mobility = self.mobility.clone();
        let restriction = restriction(&self.restriction, &mut p);
        let conflict = self
            .conflict
            .as_ref()
            .and_then(|c| conflict(c, &self.e2t.app_id, base, &mut p));

        let sharded = self
            .shard
            .check(self.metrics.listen, &self.e2t.app_instance_id, &mut p);
        let mut runtime = self.e2t.runtime();
        runtime.stale_after_ms = s.stale_after_ms;
        runtime.late_after_ms = self.e2t.report_period_ms;
        runtime.limits.max_payload_bytes = usize::try_from(s.max_payload_bytes).unwrap_or(0);
        runtime.max_batch_rows = usize::try_from(m.max_batch_rows).unwrap_or(1);
        runtime.inference_queue = usize::try_from(m.queue_depth).unwrap_or(1);
        runtime.metrics_listen = self.metrics.listen;
        runtime.transport = ric.transport;
        runtime.encoding = ric.encoding;
        runtime.rc_profile = ric.rc_profile;
        runtime.nodes = ric.nodes;
        runtime.osc = ric.osc;
        sharded.apply(&mut runtime);
        if let Some(written) = runtime.osc.rmr_route_table.take() {
            let resolved = base.join(&written);
            p.file("ric.osc.rmr_route_table", &written, &resolved);
            runtime.osc.rmr_route_table = Some(resolved);
        }
        if runtime.transport == nf_runtime::transport::TransportKind::OscRmr {
            let rule = "is required with ric.transport = \"osc-rmr\": the Subscription Manager posts its notifications to /ric/v1/subscriptions/response there";
            p.rule(
                self.metrics.listen.is_some(),
                "metrics.listen",
                "none",
                rule,
            );
            if runtime.osc.callback_http_port == 0 {
                runtime.osc.callback_http_port = self.metrics.listen.map_or(0, |a| a.port());
            }
            runtime.osc.e2ap_limits.max_pdu_bytes = runtime.max_message_bytes;
        }
        if !p.is_empty() {
            return Err(ConfigError::Invalid(p));
        }
        let interference = InterferenceConfig {
            mobility,
            restriction,
            conflict,
            max_ues_per_cell: usize::try_from(s.max_ues_per_cell).unwrap_or(1),
            stale_after_ms: s.stale_after_ms,
        };
        Ok(Validated {
            runtime,
            model: ModelConfig {
                contract,
                onnxruntime_lib: m.onnxruntime_lib.as_ref().map(|l| base.join(l)),
                providers: m.providers.clone(),
            },
            interference,
            e2t_tls,
            decision_log_rotation: self
                .decision_log
                .as_ref()
                .map_or_else(Default::default, |d| nf_runtime::logfile::Rotation {
                    max_bytes: d.max_bytes,
                    keep: usize::try_from(d.keep).unwrap_or(1),
                }),
            decision_log: self.decision_log.map(|d| base.join(d.path)),
        })
    }
}

/// A core `validate` message (`section.key = value must …`) as a named problem.
fn core_problem(message: String, p: &mut Problems) {
    let (key, rule) = match message.split_once(" = ") {
        Some((key, rest)) => (key.to_owned(), rest.to_owned()),
        None => ("mobility".to_owned(), message),
    };
    p.rule(false, key, "", rule);
}

fn restriction(r: &RestrictionSection, p: &mut Problems) -> Option<RestrictionSettings> {
    p.int(&b::RESTRICTION_INTERVAL_MS, r.min_interval_ms);
    let mut rule = RestrictionConfig::default();
    if let Some(v) = r.min_limited_ues {
        rule.min_limited_ues = v;
    }
    if let Some(v) = r.min_dominant_share {
        rule.min_dominant_share = v;
    }
    if let Some(v) = r.min_victim_load {
        rule.min_victim_load = v;
    }
    if let Some(v) = r.max_interferer_load {
        rule.max_interferer_load = v;
    }
    if let Some(v) = r.step_pct {
        rule.step_pct = v;
    }
    if let Some(v) = r.floor_pct {
        rule.floor_pct = v;
    }
    if let Err(e) = rule.validate() {
        core_problem(e.replace("mobility.restriction.", "restriction."), p);
    }
    p.int(&b::FLOOR_PCT, rule.floor_pct);
    r.enabled.then_some(RestrictionSettings {
        rule,
        min_interval_ms: r.min_interval_ms,
    })
}

fn conflict(
    c: &ConflictSection,
    app_id: &str,
    base: &Path,
    p: &mut Problems,
) -> Option<GateConfig> {
    if let Some(rule) = endpoint_tls_problem(&c.endpoint, "conflict.tls", c.tls.is_some()) {
        p.rule(
            false,
            "conflict.endpoint",
            format!("{:?}", c.endpoint),
            rule,
        );
    }
    let xapp = c.xapp.clone().unwrap_or_else(|| app_id.to_owned());
    p.rule(
        !xapp.is_empty() && xapp.len() <= 64,
        "conflict.xapp",
        format!("{xapp:?}"),
        "must be 1..=64 characters",
    );
    p.int(&b::CONFLICT_TIMEOUT_MS, c.timeout_ms);
    let on_unavailable = match c.on_unavailable.as_str() {
        "deny" => OnUnavailable::Deny,
        "allow" => OnUnavailable::Allow,
        other => {
            p.rule(
                false,
                "conflict.on_unavailable",
                format!("{other:?}"),
                "must be \"deny\" or \"allow\"",
            );
            OnUnavailable::Deny
        }
    };
    let mut g = GateConfig::new(c.endpoint.clone(), xapp);
    g.tls = client_tls(c.tls.as_ref(), "conflict.tls", base, p);
    g.timeout = Duration::from_millis(c.timeout_ms);
    g.on_unavailable = on_unavailable;
    g.consumes = nf_runtime::mobility::CONSUMED_KPIS
        .iter()
        .map(|k| (*k).to_owned())
        .collect();
    Some(g)
}

/// The Prometheus listen address of a validated file, if any (for messages).
pub fn listen(v: &Validated) -> Option<SocketAddr> {
    v.runtime.metrics_listen
}
