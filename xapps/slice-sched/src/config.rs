//! The xApp's TOML configuration: parsed with unknown keys refused, then validated into the
//! runtime's types. Validation reports every problem of the file at once, each naming its
//! `section.key`; the accepted ranges live in [`bounds`]. Relative paths are resolved against
//! the config file's folder. A bad file stops the process before anything starts.

pub mod a1;
pub mod bounds;
pub mod placement;
pub mod policy_arm;
pub mod problems;
pub mod ric;
pub mod shard;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nf_core::baseline::Baseline;
use nf_core::guard::GuardConfig;
use nf_core::latency::Budget;
use nf_core::policy::PolicyConfig;
use nf_core::trial::sequential::RailConfig;
use nf_core::trial::{Assignment, Design};
use nf_infer::{ModelConfig, Provider};
use nf_runtime::RuntimeConfig;
use nf_runtime::config::{BackoffConfig, ControlTransport, Overload};
use nf_runtime::trial::{ArmPolicy, ArmSpec, Kpi, RailSpec, TrialSpec};
use serde::Deserialize;

use bounds as b;
use problems::resolve;
pub use problems::{Problem, Problems};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub e2t: E2tSection,
    /// Which RIC, which encoding, configured nodes (all optional).
    #[serde(default)]
    pub ric: ric::RicSection,
    pub model: ModelSection,
    pub state: StateSection,
    pub policy: PolicySection,
    pub guard: GuardSection,
    #[serde(default)]
    pub metrics: MetricsSection,
    pub decision_log: Option<DecisionLogSection>,
    pub trial: Option<TrialSection>,
    /// Conflict guidance between xApps (`docs/conflicts.md`); absent: no manager is asked.
    pub conflict: Option<ConflictSection>,
    /// Sharding the E2 nodes over StatefulSet replicas; absent: one replica serves all.
    #[serde(default)]
    pub shard: shard::ShardSection,
    /// A1 policies of slice SLA targets (`docs/a1.md`); absent: none bound the decisions.
    pub a1: Option<a1::A1Section>,
    /// Where forecaster inference runs (`docs/hybrid.md`); absent: locally.
    #[serde(default)]
    pub placement: placement::PlacementSection,
    /// The remote forecaster served over the Open Inference Protocol; absent: none.
    pub remote_model: Option<nf_oip::RemoteModelSection>,
}

/// `[conflict]`: ask a conflict manager (`conflict-mgr`) before every control.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConflictSection {
    /// gRPC endpoint of the manager, `http://host:port`.
    pub endpoint: String,
    /// The xApp's name at the manager (default: `e2t.app_id`).
    pub xapp: Option<String>,
    /// Longest wait for guidance [ms]; the decision waits that long at most.
    #[serde(default = "default_conflict_timeout_ms")]
    pub timeout_ms: u64,
    /// `deny` (default: the control is dropped when the manager does not answer) or `allow`.
    #[serde(default)]
    pub on_unavailable: nf_runtime::conflict::OnUnavailable,
    /// KPIs the xApp's decisions read, told to the manager (indirect conflicts); default:
    /// `RRU.PrbUsedDl`, `DRB.UEThpDl`, `RRU.PrbAvailDl`.
    pub consumes: Option<Vec<String>>,
    /// `[conflict.tls]`: TLS (mTLS with `cert` and `key`) to the manager; required by an
    /// `https://` endpoint, refused with an `http://` one.
    pub tls: Option<nf_tls::ClientSection>,
}

fn default_conflict_timeout_ms() -> u64 {
    100
}

/// Bounds of `conflict.timeout_ms`.
pub const CONFLICT_TIMEOUT_MS: std::ops::RangeInclusive<u64> = 1..=10_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionLogSection {
    /// JSON-lines file, appended to (never truncated) and rotated by size.
    pub path: PathBuf,
    /// Rotated past this size [bytes].
    #[serde(default = "default_log_max_bytes")]
    pub max_bytes: u64,
    /// Rotated files kept (`PATH.1` … `PATH.keep`).
    #[serde(default = "default_log_keep")]
    pub keep: u64,
    /// Add wall-clock latency to each line (the file is then not reproducible).
    #[serde(default)]
    pub timings: bool,
    /// Report time a line is held for late outcomes and reordering [ms].
    #[serde(default = "default_hold_ms")]
    pub hold_ms: u64,
}

fn default_hold_ms() -> u64 {
    10_000
}

fn default_log_max_bytes() -> u64 {
    nf_runtime::logfile::Rotation::default().max_bytes
}

fn default_log_keep() -> u64 {
    nf_runtime::logfile::Rotation::default().keep as u64
}

impl DecisionLogSection {
    /// The rotation the keys ask for (bounds checked by `validate`).
    pub fn rotation(&self) -> nf_runtime::logfile::Rotation {
        nf_runtime::logfile::Rotation {
            max_bytes: self.max_bytes,
            keep: usize::try_from(self.keep).unwrap_or(1),
        }
    }
}

/// An A/B trial: two arms, a design and an optional guard rail.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrialSection {
    /// `cell_randomised`, `switchback` or `shadow`.
    pub design: String,
    pub seed: u64,
    #[serde(default = "half")]
    pub treatment_share: f64,
    /// Switchback block length [s].
    #[serde(default = "default_block_s")]
    pub block_s: u64,
    pub control: ArmSection,
    pub treatment: ArmSection,
    pub guard_rail: Option<RailSection>,
}

fn half() -> f64 {
    0.5
}
fn default_block_s() -> u64 {
    60
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArmSection {
    pub name: String,
    /// `model`, `equal`, `fixed` or `proportional`. A `model` arm runs a forecaster (quotas
    /// from its forecasts and `[policy]`) or a slice policy (contract `kind =
    /// "slice_policy"`: quotas are its outputs, checked), as its contract says.
    pub policy: String,
    /// Model contract of a `model` arm (default: `[model].contract`).
    pub contract: Option<PathBuf>,
    /// Percent per slice of a `fixed` arm.
    #[serde(default)]
    pub fixed_split: Vec<u64>,
    /// Headroom of a forecaster `model` arm (default: `[policy].headroom`); refused on a
    /// slice-policy arm.
    pub headroom: Option<f32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RailSection {
    /// A KPI measured online (`nf_core::trial::kpi::Kpi::ONLINE`): `throughput_dl`
    /// (DRB.UEThpDl, higher is better), `prb_used_dl` (RRU.PrbUsedDl) or `buffer_dl`
    /// (VS.DlBufferBytes).
    pub kpi: String,
    /// Degradation tolerated, relative to the control arm.
    pub margin: f64,
    /// Chance of ever tripping when the treatment is within the margin.
    pub alpha: f64,
    #[serde(default = "default_tau")]
    pub tau: f64,
    #[serde(default = "default_look_s")]
    pub look_every_s: u64,
    #[serde(default = "default_min_cells")]
    pub min_cells: usize,
}

fn default_tau() -> f64 {
    0.1
}
fn default_look_s() -> u64 {
    10
}
fn default_min_cells() -> usize {
    4
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct E2tSection {
    pub endpoint: String,
    pub app_id: String,
    pub app_instance_id: String,
    pub report_period_ms: u64,
    pub max_message_bytes: usize,
    pub reconnect_initial_ms: u64,
    pub reconnect_max_ms: u64,
    pub control_timeout_ms: u64,
    /// `auto`: the control stream extension when the E2T offers it, else unary; `unary`:
    /// always SD-RAN's unary Control.
    #[serde(default = "default_transport")]
    pub control_transport: ControlTransport,
    /// Resubscribe after this many report periods without a message on a KPM stream.
    #[serde(default = "default_silent_periods")]
    pub silent_periods: u64,
    /// Most E2 nodes served; further nodes are refused (counted).
    #[serde(default = "default_max_e2_nodes")]
    pub max_e2_nodes: u64,
    /// Longest wait for the E2T's node list or a Subscribe answer [ms].
    #[serde(default = "default_discovery_timeout_ms")]
    pub discovery_timeout_ms: u64,
    /// Where `endpoint` came from when not the file (`--e2t`), for messages.
    #[serde(skip)]
    pub endpoint_from: Option<&'static str>,
}

fn default_transport() -> ControlTransport {
    ControlTransport::Auto
}

fn default_silent_periods() -> u64 {
    nf_runtime::config::DEFAULT_SILENT_PERIODS.into()
}

fn default_max_e2_nodes() -> u64 {
    nf_runtime::config::DEFAULT_MAX_E2_NODES as u64
}

fn default_discovery_timeout_ms() -> u64 {
    nf_runtime::config::DEFAULT_DISCOVERY_TIMEOUT_MS
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    pub contract: PathBuf,
    pub onnxruntime_lib: Option<PathBuf>,
    pub providers: Vec<Provider>,
    pub max_batch_rows: usize,
    pub queue_depth: usize,
    /// Idle time after which a throw-away row keeps onnxruntime warm [ms]; 0 disables.
    #[serde(default = "default_keep_warm_ms")]
    pub keep_warm_ms: f64,
    /// One inference job per run, for bit-reproducible outputs (replay).
    #[serde(default)]
    pub reproducible: bool,
    /// Model inputs a cell never reports: `refuse` the cell (default) or `impute_zero`.
    #[serde(default)]
    pub missing_inputs: nf_core::features::MissingInputs,
}

fn default_keep_warm_ms() -> f64 {
    1.0
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateSection {
    pub stale_after_ms: u64,
    pub late_after_ms: u64,
    pub max_cells_per_node: usize,
    pub max_payload_bytes: usize,
    /// `shed` (live: drop what does not fit) or `backpressure` (replay: slow the E2T down).
    #[serde(default = "default_overload")]
    pub overload: Overload,
    /// How far a report may be stamped ahead of its node's clock [ms].
    #[serde(default = "default_max_ahead_ms")]
    pub max_ahead_ms: u64,
}

fn default_max_ahead_ms() -> u64 {
    nf_core::state::DEFAULT_MAX_AHEAD_MS
}

fn default_overload() -> Overload {
    Overload::Shed
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySection {
    pub headroom: f32,
    pub max_ratio_floor: u64,
    pub dedicated_share: f32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardSection {
    pub hysteresis_pct: u64,
    pub max_controls_per_cell_per_sec: u64,
    pub latency_budget_ms: f64,
    /// `drop` decisions past the budget (default) or only `count` them (replay).
    #[serde(default)]
    pub latency_budget_mode: nf_core::latency::BudgetMode,
    pub max_inflight_controls: usize,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSection {
    pub listen: Option<SocketAddr>,
}

/// A configuration the xApp refuses.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read config {written} (resolved to {resolved}): {source}")]
    Read {
        written: PathBuf,
        resolved: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not TOML of the expected shape (an unknown key, a wrong type).
    #[error("config {path}: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    /// Values out of range or inconsistent: every one of them.
    #[error("config refused, {0}")]
    Invalid(Problems),
}

impl ConfigError {
    /// How many values were refused (0 for a read or parse error).
    pub fn problem_count(&self) -> usize {
        match self {
            ConfigError::Invalid(p) => p.iter().count(),
            _ => 0,
        }
    }
}

/// The validated configuration.
#[derive(Debug)]
pub struct Validated {
    pub runtime: RuntimeConfig,
    /// The model of `[model]`.
    pub model: ModelConfig,
    /// Every model to load, in the order arms refer to them (the first is `[model]`'s).
    pub models: Vec<ModelConfig>,
    pub decision_log: Option<DecisionLogSection>,
    /// The conflict-guidance client's configuration (`[conflict]`), if any: the binary
    /// builds the [`nf_runtime::conflict::Gate`] once its metrics exist.
    pub conflict: Option<nf_runtime::conflict::GateConfig>,
    /// TLS of the E2T link (`[ric.tls]`), its files read and checked: the binary turns it
    /// into `RuntimeConfig::e2t_tls` once its metrics exist.
    pub e2t_tls: Option<nf_tls::ClientSettings>,
    /// The remote forecaster and its placement (`[remote_model]`, `[placement]`), if any.
    pub remote: Option<placement::RemoteSettings>,
}

/// Why an endpoint is refused when no TLS section goes with it (`None`: accepted): an
/// `https://` endpoint needs one (see [`endpoint_tls_problem`]).
pub fn endpoint_problem(endpoint: &str) -> Option<&'static str> {
    match shape_problem(endpoint) {
        Some(rule) => Some(rule),
        None if endpoint.starts_with("https://") => Some(
            "https:// needs a TLS section ([ric.tls] for e2t.endpoint, [conflict.tls] for \
             conflict.endpoint) naming the CA to verify the server with",
        ),
        None => None,
    }
}

/// Why an endpoint is refused given whether its TLS section (`tls_key`, e.g. `ric.tls`)
/// is set (`None`: accepted). The scheme must agree with it: `https://` with the section,
/// `http://` without (a section with `http://` would silently run in cleartext).
pub fn endpoint_tls_problem(endpoint: &str, tls_key: &str, tls: bool) -> Option<String> {
    if let Some(rule) = shape_problem(endpoint) {
        return Some(rule.to_owned());
    }
    match (endpoint.starts_with("https://"), tls) {
        (true, false) => Some(format!(
            "https:// needs [{tls_key}] (ca = the PEM file of the CA to verify the server with)"
        )),
        (false, true) => Some(format!(
            "[{tls_key}] is set but the endpoint is http://: write https:// (no silent cleartext)"
        )),
        _ => None,
    }
}

/// Why an endpoint is not `http(s)://host:port` (`None`: it is).
fn shape_problem(endpoint: &str) -> Option<&'static str> {
    use tonic::codegen::http::Uri;
    let Ok(uri) = endpoint.parse::<Uri>() else {
        return Some("not a URL; write http://host:port");
    };
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Some("must start with http:// (or https:// with TLS)");
    }
    let Some(authority) = uri.authority() else {
        return Some("names no host; write http://host:port");
    };
    if authority.host().is_empty() || authority.as_str().contains('@') {
        return Some("must be http://host:port (no user info)");
    }
    if authority.as_str().contains(':') && authority.port_u16().is_none() {
        return Some("port must be 1..=65535");
    }
    if authority.port_u16() == Some(0) {
        return Some("port must be 1..=65535");
    }
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Some("must be http://host:port with no path or query");
    }
    None
}

/// Loads a TLS client section named `key` (`ric.tls`, `conflict.tls`), its problems
/// recorded in `p`.
pub fn client_tls(
    section: Option<&nf_tls::ClientSection>,
    key: &str,
    base: &Path,
    p: &mut Problems,
) -> Option<nf_tls::ClientSettings> {
    match section?.load(nf_tls::Names::Section(key), base) {
        Ok(s) => Some(s),
        Err(problems) => {
            for t in problems {
                p.rule(false, t.key, t.value, t.rule);
            }
            None
        }
    }
}

impl FileConfig {
    /// Reads and parses `path` (unknown keys refused). A missing file is named both as
    /// written and as resolved against the working directory.
    /// The folder relative paths in the file at `path` resolve against (absolute, so that
    /// messages name the resolved path whatever the working directory).
    pub fn folder_of(path: &Path) -> PathBuf {
        let folder = path.parent().unwrap_or(Path::new(""));
        std::path::absolute(folder).unwrap_or_else(|_| folder.to_path_buf())
    }

    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            written: path.into(),
            resolved: std::path::absolute(path).unwrap_or_else(|_| path.into()),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.into(),
            source,
        })
    }

    /// Replaces the file's E2T endpoint (`--e2t`); problems with it then name `from`.
    pub fn override_endpoint(&mut self, endpoint: String, from: &'static str) {
        self.e2t.endpoint = endpoint;
        self.e2t.endpoint_from = Some(from);
    }

    /// Checks every value and builds the runtime configuration; relative paths are taken
    /// relative to `base` (the config file's folder). Every problem is reported, not the
    /// first only.
    pub fn validate(self, base: &Path) -> Result<Validated, ConfigError> {
        let mut p = Problems::default();
        self.e2t.check_with_tls(self.ric.tls.is_some(), &mut p);
        let ric = self.ric.check(&mut p);
        let e2t_tls = self.ric.check_tls(base, &mut p);
        check_model(&self.model, base, &mut p);
        check_state(&self.state, &self.e2t, &mut p);
        check_policy(&self.policy, &mut p);
        check_guard(&self.guard, &mut p);
        if let Some(d) = &self.decision_log {
            p.int(&b::HOLD_MS, d.hold_ms);
            p.int(&b::LOG_MAX_BYTES, d.max_bytes);
            p.int(&b::LOG_KEEP, d.keep);
        }
        let conflict = self
            .conflict
            .as_ref()
            .map(|c| conflict_gate(c, &self.e2t.app_id, base, &mut p));
        let sharded = self
            .shard
            .check(self.metrics.listen, &self.e2t.app_instance_id, &mut p);
        let mut runtime = self.runtime();
        runtime.transport = ric.transport;
        runtime.encoding = ric.encoding;
        runtime.rc_profile = ric.rc_profile;
        runtime.nodes = ric.nodes;
        runtime.osc = ric.osc;
        runtime.a1 = self
            .a1
            .as_ref()
            .and_then(|s| s.check(base, runtime.transport, &self.e2t.app_instance_id, &mut p));
        sharded.apply(&mut runtime);
        if let Some(written) = runtime.osc.rmr_route_table.take() {
            let resolved = resolve(base, &written);
            p.file("ric.osc.rmr_route_table", &written, &resolved);
            runtime.osc.rmr_route_table = Some(resolved);
        }
        if runtime.transport == nf_runtime::transport::TransportKind::OscRmr {
            // The Subscription Manager posts its notifications to the xApp's HTTP endpoint.
            let rule = "is required with ric.transport = \"osc-rmr\": the Subscription Manager posts its notifications to /ric/v1/subscriptions/response there";
            p.rule(
                self.metrics.listen.is_some(),
                "metrics.listen",
                "none".to_owned(),
                rule,
            );
            if runtime.osc.callback_http_port == 0 {
                runtime.osc.callback_http_port = self.metrics.listen.map_or(0, |a| a.port());
            }
            runtime.osc.e2ap_limits.max_pdu_bytes = runtime.max_message_bytes;
        }
        let model = ModelConfig {
            contract: resolve(base, &self.model.contract),
            onnxruntime_lib: self
                .model
                .onnxruntime_lib
                .as_ref()
                .map(|l| resolve(base, l)),
            providers: self.model.providers.clone(),
        };
        let mut models = vec![model.clone()];
        if let Some(t) = self.trial {
            let ctx = ArmContext {
                base,
                default_model: &model,
                policy: runtime.policy,
            };
            runtime.trial = trial(t, &ctx, &mut models, &mut p);
        }
        let default_arm = ArmSpec {
            name: "default".into(),
            policy: ArmPolicy::Model(0),
            policy_cfg: runtime.policy,
        };
        let served: Vec<&ArmSpec> = match &runtime.trial {
            Some(t) => t.arms.iter().collect(),
            None => vec![&default_arm],
        };
        policy_arm::check_cells(&served, &models, &runtime.nodes, &mut p);
        let remote = placement::check(&self.placement, self.remote_model.as_ref(), base, &mut p);
        if !p.is_empty() {
            return Err(ConfigError::Invalid(p));
        }
        let decision_log = self.decision_log.map(|mut d| {
            d.path = resolve(base, &d.path);
            d
        });
        Ok(Validated {
            runtime,
            model,
            models,
            decision_log,
            conflict,
            e2t_tls,
            remote,
        })
    }

    /// The runtime configuration of the (checked) sections, trial aside.
    fn runtime(&self) -> RuntimeConfig {
        let (e, m, s, p, g) = (
            &self.e2t,
            &self.model,
            &self.state,
            &self.policy,
            &self.guard,
        );
        let mut r = e.runtime();
        r.stale_after_ms = s.stale_after_ms;
        r.late_after_ms = s.late_after_ms;
        r.max_cells_per_node = s.max_cells_per_node;
        r.policy = PolicyConfig {
            headroom: p.headroom,
            max_ratio_floor: narrow(p.max_ratio_floor),
            dedicated_share: p.dedicated_share,
        };
        r.guard = GuardConfig {
            hysteresis_pct: narrow(g.hysteresis_pct),
            max_controls_per_cell_per_sec: narrow(g.max_controls_per_cell_per_sec),
        };
        r.budget = Budget::from_ms(g.latency_budget_ms);
        r.budget_mode = g.latency_budget_mode;
        r.max_ahead_ms = s.max_ahead_ms;
        r.missing_inputs = m.missing_inputs;
        r.limits.max_payload_bytes = s.max_payload_bytes;
        r.max_batch_rows = m.max_batch_rows;
        r.inference_queue = m.queue_depth;
        r.keep_warm = (m.keep_warm_ms > 0.0 && m.keep_warm_ms.is_finite())
            .then(|| Duration::from_secs_f64(m.keep_warm_ms / 1000.0));
        r.max_inflight_controls = g.max_inflight_controls;
        r.metrics_listen = self.metrics.listen;
        r.overload = s.overload;
        r.reproducible = m.reproducible;
        r
    }
}

/// The gate configuration of `[conflict]` (problems named and collected).
fn conflict_gate(
    c: &ConflictSection,
    app_id: &str,
    base: &Path,
    p: &mut Problems,
) -> nf_runtime::conflict::GateConfig {
    if let Some(rule) = endpoint_tls_problem(&c.endpoint, "conflict.tls", c.tls.is_some()) {
        p.rule(
            false,
            "conflict.endpoint",
            format!("{:?}", c.endpoint),
            rule,
        );
    }
    p.rule(
        CONFLICT_TIMEOUT_MS.contains(&c.timeout_ms),
        "conflict.timeout_ms",
        c.timeout_ms,
        format!(
            "must be in {}..={}",
            CONFLICT_TIMEOUT_MS.start(),
            CONFLICT_TIMEOUT_MS.end()
        ),
    );
    let xapp = c.xapp.clone().unwrap_or_else(|| app_id.to_owned());
    let printable = !xapp.is_empty()
        && xapp.len() <= nf_core::conflict::MAX_NAME_BYTES
        && xapp.chars().all(|ch| matches!(ch, '!'..='~'));
    p.rule(
        printable,
        "conflict.xapp",
        format!("{xapp:?}"),
        "must be 1..=128 printable ASCII characters without spaces",
    );
    let consumes = c.consumes.clone().unwrap_or_else(|| {
        vec![
            "RRU.PrbUsedDl".to_owned(),
            "DRB.UEThpDl".to_owned(),
            "RRU.PrbAvailDl".to_owned(),
        ]
    });
    p.rule(
        consumes.len() <= nf_core::conflict::MAX_KPIS,
        "conflict.consumes",
        consumes.len(),
        format!("at most {} KPIs", nf_core::conflict::MAX_KPIS),
    );
    let mut g = nf_runtime::conflict::GateConfig::new(c.endpoint.clone(), xapp);
    g.tls = client_tls(c.tls.as_ref(), "conflict.tls", base, p);
    g.timeout = Duration::from_millis(c.timeout_ms);
    g.on_unavailable = c.on_unavailable;
    g.consumes = consumes;
    g.objectives = vec![nf_core::conflict::Objective {
        kpi: "DRB.UEThpDl".to_owned(),
        higher_is_better: true,
    }];
    g
}

/// Narrows a value validation bounds (integers are read as `u64` so that an out-of-range
/// value is a named problem, not a parse error that hides the others). Every bound fits
/// its runtime type; a value out of range is a problem and the runtime built from it is
/// thrown away, so the default never reaches a run.
fn narrow<T: TryFrom<u64> + Default>(v: u64) -> T {
    T::try_from(v).unwrap_or_default()
}

impl E2tSection {
    /// Checks `[e2t]` (both xApps' section) as if no `[ric.tls]` were set, naming every
    /// problem.
    pub fn check(&self, p: &mut Problems) {
        self.check_with_tls(false, p);
    }

    /// Checks `[e2t]`; `tls`: whether `[ric.tls]` is set (the endpoint's scheme must
    /// agree with it).
    pub fn check_with_tls(&self, tls: bool, p: &mut Problems) {
        let e = self;
        if let Some(rule) = endpoint_tls_problem(&e.endpoint, "ric.tls", tls) {
            let key = match e.endpoint_from {
                Some(from) => format!("e2t.endpoint (from {from})"),
                None => "e2t.endpoint".to_owned(),
            };
            p.rule(false, key, format!("{:?}", e.endpoint), rule);
        }
        let empty = "must not be empty";
        p.rule(!e.app_id.is_empty(), "e2t.app_id", "\"\"", empty);
        let instance_ok = !e.app_instance_id.is_empty();
        p.rule(instance_ok, "e2t.app_instance_id", "\"\"", empty);
        p.int(&b::REPORT_PERIOD_MS, e.report_period_ms);
        p.int(&b::MAX_MESSAGE_BYTES, e.max_message_bytes);
        let initial_ok = p.int(&b::RECONNECT_INITIAL_MS, e.reconnect_initial_ms);
        if p.int(&b::RECONNECT_MAX_MS, e.reconnect_max_ms) && initial_ok {
            let ok = e.reconnect_max_ms >= e.reconnect_initial_ms;
            p.relation(
                &b::RECONNECT_MAX_MS,
                ok,
                e.reconnect_max_ms,
                e.reconnect_initial_ms,
            );
        }
        p.int(&b::CONTROL_TIMEOUT_MS, e.control_timeout_ms);
        p.int(&b::SILENT_PERIODS, e.silent_periods);
        p.int(&b::MAX_E2_NODES, e.max_e2_nodes);
        p.int(&b::DISCOVERY_TIMEOUT_MS, e.discovery_timeout_ms);
    }

    /// The runtime configuration `[e2t]` sets (the rest at its defaults), once checked.
    pub fn runtime(&self) -> RuntimeConfig {
        let mut r = RuntimeConfig::local(self.endpoint.clone());
        r.app_id = self.app_id.clone();
        r.app_instance_id = self.app_instance_id.clone();
        r.report_period_ms = narrow(self.report_period_ms);
        r.max_message_bytes = self.max_message_bytes;
        r.backoff = BackoffConfig {
            initial: Duration::from_millis(self.reconnect_initial_ms),
            max: Duration::from_millis(self.reconnect_max_ms),
        };
        r.control_timeout = Duration::from_millis(self.control_timeout_ms);
        r.control_transport = self.control_transport;
        r.silent_periods = narrow(self.silent_periods);
        r.max_e2_nodes = narrow(self.max_e2_nodes);
        r.discovery_timeout = Duration::from_millis(self.discovery_timeout_ms);
        r
    }
}

fn check_model(m: &ModelSection, base: &Path, p: &mut Problems) {
    p.file("model.contract", &m.contract, &resolve(base, &m.contract));
    if let Some(lib) = &m.onnxruntime_lib {
        p.file("model.onnxruntime_lib", lib, &resolve(base, lib));
    }
    p.rule(
        !m.providers.is_empty(),
        "model.providers",
        "[]",
        "list at least one provider (cpu)",
    );
    for (i, provider) in m.providers.iter().enumerate() {
        if let Provider::Cuda { device_id } | Provider::Tensorrt { device_id } = *provider {
            p.int_at(
                &b::DEVICE_ID,
                format!("model.providers[{i}].device_id"),
                device_id,
            );
        }
    }
    p.int(&b::MAX_BATCH_ROWS, m.max_batch_rows);
    p.int(&b::QUEUE_DEPTH, m.queue_depth);
    p.real(&b::KEEP_WARM_MS, m.keep_warm_ms);
}

fn check_state(s: &StateSection, e: &E2tSection, p: &mut Problems) {
    // A rule between two keys is checked only when both are in range: one problem a key.
    let period_ok = b::REPORT_PERIOD_MS.range.contains_int(e.report_period_ms);
    let stale_ok = p.int(&b::STALE_AFTER_MS, s.stale_after_ms);
    if stale_ok && period_ok {
        let ok = s.stale_after_ms >= e.report_period_ms;
        p.relation(&b::STALE_AFTER_MS, ok, s.stale_after_ms, e.report_period_ms);
    }
    if p.int(&b::LATE_AFTER_MS, s.late_after_ms) && stale_ok {
        let ok = s.late_after_ms <= s.stale_after_ms;
        p.relation(&b::LATE_AFTER_MS, ok, s.late_after_ms, s.stale_after_ms);
    }
    p.int(&b::MAX_CELLS_PER_NODE, s.max_cells_per_node);
    p.int(&b::MAX_AHEAD_MS, s.max_ahead_ms);
    let message_ok = b::MAX_MESSAGE_BYTES.range.contains_int(e.max_message_bytes);
    if p.int(&b::MAX_PAYLOAD_BYTES, s.max_payload_bytes) && message_ok {
        let ok = s.max_payload_bytes <= e.max_message_bytes;
        let (payload, message) = (s.max_payload_bytes as u64, e.max_message_bytes as u64);
        p.relation(&b::MAX_PAYLOAD_BYTES, ok, payload, message);
    }
}

fn check_policy(pol: &PolicySection, p: &mut Problems) {
    p.real(&b::HEADROOM, f64::from(pol.headroom));
    p.int(&b::MAX_RATIO_FLOOR, pol.max_ratio_floor);
    p.real(&b::DEDICATED_SHARE, f64::from(pol.dedicated_share));
}

fn check_guard(g: &GuardSection, p: &mut Problems) {
    p.int(&b::HYSTERESIS_PCT, g.hysteresis_pct);
    p.int(
        &b::MAX_CONTROLS_PER_CELL_PER_SEC,
        g.max_controls_per_cell_per_sec,
    );
    p.real(&b::LATENCY_BUDGET_MS, g.latency_budget_ms);
    p.int(&b::MAX_INFLIGHT_CONTROLS, g.max_inflight_controls);
}

/// What every trial arm inherits from the rest of the file.
struct ArmContext<'a> {
    base: &'a Path,
    default_model: &'a ModelConfig,
    policy: PolicyConfig,
}

fn arm(
    a: ArmSection,
    which: &'static str,
    ctx: &ArmContext<'_>,
    models: &mut Vec<ModelConfig>,
    p: &mut Problems,
) -> Option<ArmSpec> {
    let key = |k: &str| format!("trial.{which}.{k}");
    let name_ok = !a.name.is_empty() && a.name.len() <= 32;
    p.rule(name_ok, key("name"), &a.name, "must be 1..=32 characters");
    let arm_policy = match a.policy.as_str() {
        "model" => Some(model_arm(a.contract.as_deref(), ctx, models)),
        "equal" => Some(ArmPolicy::Baseline(Baseline::Equal)),
        "proportional" => Some(ArmPolicy::Baseline(Baseline::Proportional)),
        "fixed" => {
            for (i, v) in a.fixed_split.iter().enumerate() {
                p.int_at(&b::FIXED_SPLIT, key(&format!("fixed_split[{i}]")), *v);
            }
            let sum = a.fixed_split.iter().fold(0u64, |s, v| s.saturating_add(*v));
            p.rule(
                !a.fixed_split.is_empty() && sum <= 100,
                key("policy"),
                format!("fixed {:?}", a.fixed_split),
                "a fixed arm needs fixed_split percentages summing to at most 100",
            );
            let split = a.fixed_split.iter().map(|v| narrow(*v)).collect();
            Some(ArmPolicy::Baseline(Baseline::Fixed(split)))
        }
        other => {
            p.rule(
                false,
                key("policy"),
                format!("{other:?}"),
                "must be model, equal, fixed or proportional",
            );
            None
        }
    };
    let mut policy_cfg = ctx.policy;
    if let Some(h) = a.headroom {
        let policy = match &arm_policy {
            Some(ArmPolicy::Model(i)) => models
                .get(*i)
                .and_then(|m| Some((policy_arm::policy_contract(&m.contract)?, &m.contract))),
            _ => None,
        };
        match policy {
            Some((c, path)) => {
                let rule = policy_arm::forecaster_only("headroom", &c, path);
                p.rule(false, key("headroom"), h, rule);
            }
            None => p.real_at(&b::ARM_HEADROOM, key("headroom"), f64::from(h)),
        }
        policy_cfg.headroom = h;
    }
    Some(ArmSpec {
        name: a.name,
        policy: arm_policy?,
        policy_cfg,
    })
}

/// The index of a model arm's model in `models`, adding it when new.
fn model_arm(
    contract: Option<&Path>,
    ctx: &ArmContext<'_>,
    models: &mut Vec<ModelConfig>,
) -> ArmPolicy {
    let contract = contract.map_or_else(
        || ctx.default_model.contract.clone(),
        |c| resolve(ctx.base, c),
    );
    let i = models
        .iter()
        .position(|m| m.contract == contract)
        .unwrap_or_else(|| {
            models.push(ModelConfig {
                contract,
                ..ctx.default_model.clone()
            });
            models.len() - 1
        });
    ArmPolicy::Model(i)
}

fn design(t: &TrialSection, p: &mut Problems) -> Option<Design> {
    p.real(&b::TREATMENT_SHARE, t.treatment_share);
    p.int(&b::BLOCK_S, t.block_s);
    match t.design.as_str() {
        "cell_randomised" => Some(Design::CellRandomised {
            treatment_share: t.treatment_share,
        }),
        "switchback" => Some(Design::Switchback {
            block_ms: t.block_s.saturating_mul(1000),
        }),
        "shadow" => Some(Design::Shadow),
        other => {
            p.rule(
                false,
                "trial.design",
                format!("{other:?}"),
                "must be cell_randomised, switchback or shadow",
            );
            None
        }
    }
}

fn rail(r: RailSection, p: &mut Problems) -> Option<RailSpec> {
    let kpi = r
        .kpi
        .parse::<Kpi>()
        .ok()
        .filter(|k| Kpi::ONLINE.contains(k));
    p.rule(
        kpi.is_some(),
        "trial.guard_rail.kpi",
        format!("{:?}", r.kpi),
        nf_core::trial::kpi::ONLINE_RULE,
    );
    p.real(&b::MARGIN, r.margin);
    p.real(&b::ALPHA, r.alpha);
    p.real(&b::TAU, r.tau);
    p.int(&b::LOOK_EVERY_S, r.look_every_s);
    p.int(&b::MIN_CELLS, r.min_cells);
    let kpi = kpi?;
    Some(RailSpec {
        cfg: RailConfig {
            margin: r.margin,
            alpha: r.alpha,
            tau: r.tau,
            min_units: r.min_cells,
            higher_is_better: kpi.higher_is_better(),
        },
        kpi,
        look_every_ms: r.look_every_s.saturating_mul(1000),
    })
}

fn trial(
    t: TrialSection,
    ctx: &ArmContext<'_>,
    models: &mut Vec<ModelConfig>,
    p: &mut Problems,
) -> Option<TrialSpec> {
    let design = design(&t, p);
    p.rule(
        t.control.name != t.treatment.name,
        "trial.treatment.name",
        format!("{:?}", t.treatment.name),
        "must differ from the control arm's name",
    );
    let control = arm(t.control, "control", ctx, models, p);
    let treatment = arm(t.treatment, "treatment", ctx, models, p);
    let rail = match t.guard_rail {
        None => None,
        Some(r) => Some(rail(r, p)?),
    };
    Some(TrialSpec {
        assignment: Assignment {
            design: design?,
            seed: t.seed,
        },
        arms: [control?, treatment?],
        rail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> String {
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo.toml"))
            .unwrap()
    }

    fn validate(text: &str) -> Result<Validated, ConfigError> {
        let cfg: FileConfig = toml::from_str(text).map_err(|source| ConfigError::Parse {
            path: "t.toml".into(),
            source,
        })?;
        cfg.validate(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config"))
    }

    fn problems(text: &str) -> Vec<Problem> {
        match validate(text) {
            Err(ConfigError::Invalid(p)) => p.iter().cloned().collect(),
            Err(other) => panic!("not a validation error: {other}"),
            Ok(_) => Vec::new(),
        }
    }

    fn keys(text: &str) -> Vec<String> {
        problems(text).into_iter().map(|p| p.key).collect()
    }

    #[test]
    fn tls_sections_are_read_before_start_and_must_agree_with_the_scheme() {
        use nf_tls::testing::{TestCa, scratch};
        let dir = scratch("slice-cfg");
        let f = TestCa::new("ca").write(&dir, "xapp");
        let tls = |section: &str| {
            format!(
                "\n[{section}]\nca = \"{}\"\ncert = \"{}\"\nkey = \"{}\"\n",
                f.ca.display(),
                f.cert.display(),
                f.key.display()
            )
        };
        let https = demo().replace("http://127.0.0.1:5150", "https://127.0.0.1:5150");
        let conflict = "\n[conflict]\nendpoint = \"https://127.0.0.1:7070\"\n";
        // https:// with both sections: accepted, the files read.
        let v = validate(&format!(
            "{https}{}{conflict}{}",
            tls("ric.tls"),
            tls("conflict.tls")
        ))
        .unwrap();
        assert!(v.e2t_tls.unwrap().presents_certificate());
        assert!(v.conflict.unwrap().tls.is_some());
        // https:// without a section, a section with http://: both refused, by key.
        assert_eq!(
            keys(&format!("{https}{conflict}")),
            ["e2t.endpoint", "conflict.endpoint"]
        );
        let found = problems(&format!("{}{}", demo(), tls("ric.tls")));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].key, "e2t.endpoint");
        assert!(found[0].rule.contains("no silent cleartext"), "{found:?}");
        // A bad PEM file is named with its key.
        std::fs::write(dir.join("bad.crt"), "not pem").unwrap();
        let bad = tls("ric.tls").replace(
            &f.ca.display().to_string(),
            &dir.join("bad.crt").display().to_string(),
        );
        let found = problems(&format!("{https}{bad}"));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].key, "ric.tls.ca");
        assert!(found[0].value.contains("bad.crt"), "{found:?}");
        assert!(found[0].rule.contains("no PEM certificate"), "{found:?}");
    }

    #[test]
    fn conflict_section_is_validated_and_optional() {
        assert!(validate(&demo()).unwrap().conflict.is_none());
        let ok = format!(
            "{}\n[conflict]\nendpoint = \"http://127.0.0.1:7070\"\non_unavailable = \"allow\"\n",
            demo()
        );
        let g = validate(&ok).unwrap().conflict.unwrap();
        assert_eq!(g.on_unavailable, nf_runtime::conflict::OnUnavailable::Allow);
        assert_eq!(g.timeout, Duration::from_millis(100));
        assert!(g.consumes.iter().any(|k| k == "RRU.PrbUsedDl"));
        let bad = format!(
            "{}\n[conflict]\nendpoint = \"nowhere\"\ntimeout_ms = 0\nxapp = \"a b\"\n",
            demo()
        );
        let k = keys(&bad);
        for key in ["conflict.endpoint", "conflict.timeout_ms", "conflict.xapp"] {
            assert!(k.iter().any(|x| x == key), "{key} not in {k:?}");
        }
        let unknown = format!(
            "{}\n[conflict]\nendpoint = \"http://127.0.0.1:7070\"\npriority = 3\n",
            demo()
        );
        assert!(matches!(validate(&unknown), Err(ConfigError::Parse { .. })));
    }

    const TRIAL: &str = r#"
[trial]
design = "switchback"
seed = 7
block_s = 30

[trial.control]
name = "production"
policy = "model"

[trial.treatment]
name = "baseline"
policy = "fixed"
fixed_split = [60, 20, 20]

[trial.guard_rail]
kpi = "throughput_dl"
margin = 0.05
alpha = 0.05
"#;

    const POLICY_TRIAL: &str = r#"
[trial]
design = "cell_randomised"
seed = 9

[trial.control]
name = "forecaster"
policy = "model"
headroom = 0.1

[trial.treatment]
name = "slice-policy"
policy = "model"
contract = "../tests/data/policy/const.contract.toml"
"#;

    const POLICY_CELL: &str = r#"
[[ric.nodes]]
id = "gnb-1"
[[ric.nodes.cells]]
plmn = "00f110"
nci = 1
slices = ["1", "2-000001"]
prbs = 50
"#;

    /// A slice policy is a model arm like a forecaster; forecaster-only options on it and
    /// configured cells with a slice it does not list are refused, naming the key.
    #[test]
    fn policy_arms_refuse_headroom_and_cells_with_slices_they_lack() {
        let v = validate(&(demo() + POLICY_TRIAL)).unwrap();
        let t = v.runtime.trial.unwrap();
        assert_eq!(t.arms[1].policy, ArmPolicy::Model(1));
        assert_eq!(v.models.len(), 2);
        assert!(v.models[1].contract.ends_with("const.contract.toml"));
        // headroom stays fine on the forecaster arm, and is refused on the policy arm.
        let text = demo()
            + &POLICY_TRIAL.replace(
                "const.contract.toml\"",
                "const.contract.toml\"\nheadroom = 0.1",
            );
        let p = problems(&text);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].key, "trial.treatment.headroom");
        assert!(
            p[0].rule.contains("slice policy") && p[0].rule.contains("test-policy-const"),
            "{p:?}"
        );
        // A configured cell with slice 2-000001, which the policy does not list.
        let p = problems(&(demo() + POLICY_TRIAL + POLICY_CELL));
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].key, "ric.nodes[0].cells[0].slices[1]");
        assert!(p[0].rule.contains("slice_not_in_contract"), "{p:?}");
        // The same cell is fine when no arm runs the policy.
        assert!(problems(&(demo() + POLICY_CELL)).is_empty());
    }

    #[test]
    fn trial_section_becomes_arms_and_bad_trials_are_named() {
        let v = validate(&(demo() + TRIAL)).unwrap();
        let t = v.runtime.trial.unwrap();
        assert_eq!(t.assignment.design, Design::Switchback { block_ms: 30_000 });
        assert_eq!(t.arms[0].policy, ArmPolicy::Model(0));
        assert_eq!(
            t.arms[1].policy,
            ArmPolicy::Baseline(Baseline::Fixed(vec![60, 20, 20]))
        );
        assert_eq!(v.models.len(), 1);
        assert!(t.rail.unwrap().cfg.higher_is_better);
        for (from, to, key) in [
            (
                "design = \"switchback\"",
                "design = \"coin\"",
                "trial.design",
            ),
            (
                "fixed_split = [60, 20, 20]",
                "fixed_split = [60, 50]",
                "trial.treatment.policy",
            ),
            ("alpha = 0.05", "alpha = 0.9", "trial.guard_rail.alpha"),
            // One KPI vocabulary: a misspelt name and an offline-only KPI are refused,
            // naming the KPIs measured online.
            (
                "kpi = \"throughput_dl\"",
                "kpi = \"thp_dl_kbps\"",
                "throughput_dl, prb_used_dl or buffer_dl",
            ),
            (
                "kpi = \"throughput_dl\"",
                "kpi = \"delay_dl\"",
                "trial.guard_rail.kpi",
            ),
            (
                "name = \"baseline\"",
                "name = \"production\"",
                "trial.treatment.name",
            ),
        ] {
            let text = demo() + &TRIAL.replace(from, to);
            let err = validate(&text)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(key), "{key}: {err}");
        }
    }

    #[test]
    fn budget_mode_report_times_and_missing_inputs_are_configurable() {
        let v = validate(&demo()).unwrap();
        assert_eq!(v.runtime.budget_mode, nf_core::latency::BudgetMode::Drop);
        assert_eq!(
            v.runtime.missing_inputs,
            nf_core::features::MissingInputs::Refuse
        );
        let text = demo()
            .replace(
                "latency_budget_ms = 10.0",
                "latency_budget_ms = 10.0\nlatency_budget_mode = \"count\"",
            )
            .replace("[state]", "[state]\nmax_ahead_ms = 5000");
        let v = validate(&text).unwrap();
        assert_eq!(v.runtime.budget_mode, nf_core::latency::BudgetMode::Count);
        assert_eq!(v.runtime.max_ahead_ms, 5000);
        let err = validate(&demo().replace("[state]", "[state]\nmax_ahead_ms = 0"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("state.max_ahead_ms"), "{err}");
        let err = validate(&demo().replace("[model]", "[model]\nmissing_inputs = \"guess\""))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("missing_inputs") || err.contains("guess"),
            "{err}"
        );
    }

    /// `[placement]` and `[remote_model]`: every bad key named (the remote section's by
    /// nf-oip's own names), a mode other than local needs the remote model, and a valid
    /// pair comes through with the contract loaded.
    #[test]
    fn placement_and_remote_model_are_validated_by_key() {
        let contract = "../../../models/slice_forecaster/slice_forecaster.contract.toml";
        let remote = |extra: &str| {
            format!(
                "\n[remote_model]\nendpoint = \"http://127.0.0.1:8081\"\ncontract = \"{contract}\"\n{extra}"
            )
        };
        let hybrid = "\n[placement]\nmode = \"hybrid\"\nquantile = \"p95\"\nmargin_ms = 5\n";
        assert_eq!(keys(&(demo() + hybrid)), ["placement.mode"]);
        let bad = demo()
            + "\n[placement]\nmode = \"remote_first\"\nmargin_ms = 70000\n"
            + &remote("deadline_ms = 0");
        assert_eq!(
            keys(&bad),
            ["placement.margin_ms", "remote_model.deadline_ms"]
        );
        let https = demo() + hybrid + &remote("").replace("http://", "https://");
        assert_eq!(keys(&https), ["remote_model.endpoint"]);
        let v = validate(&(demo() + hybrid + &remote("deadline_ms = 80"))).unwrap();
        let r = v.remote.unwrap();
        assert_eq!(r.mode, nf_runtime::placement::PlacementMode::Hybrid);
        assert_eq!(r.quantile, nf_runtime::placement::Quantile::P95);
        assert_eq!(r.margin, Duration::from_millis(5));
        assert_eq!(r.model.deadline, Duration::from_millis(80));
        assert_eq!(r.model.contract.name, "slice-prb-forecaster");
        // Absent: local, no remote model.
        assert!(validate(&demo()).unwrap().remote.is_none());
        let unknown = demo() + "\n[placement]\nmode = \"cloud\"\n";
        assert!(validate(&unknown).is_err());
    }

    /// `[remote_model.tls]`: read before start with the rest of the file, its problems
    /// named `remote_model.tls.<key>`, and the scheme must agree with it.
    #[test]
    fn remote_model_tls_is_validated_with_the_file() {
        use nf_tls::testing::{TestCa, scratch};
        let dir = scratch("slice-cfg-oip");
        let f = TestCa::new("oip ca").write(&dir, "oip");
        let contract = "../../../models/slice_forecaster/slice_forecaster.contract.toml";
        let remote = |endpoint: &str, tls: &str| {
            format!(
                "\n[placement]\nmode = \"hybrid\"\n\n[remote_model]\nendpoint = \"{endpoint}\"\ncontract = \"{contract}\"\n{tls}"
            )
        };
        let tls = |ca: &std::path::Path| {
            format!(
                "\n[remote_model.tls]\nca = \"{}\"\ncert = \"{}\"\nkey = \"{}\"\n",
                ca.display(),
                f.cert.display(),
                f.key.display()
            )
        };
        let v = validate(&(demo() + &remote("https://127.0.0.1:8443", &tls(&f.ca)))).unwrap();
        let settings = v.remote.unwrap().model.tls.unwrap();
        assert!(settings.presents_certificate());
        let found = problems(&(demo() + &remote("https://127.0.0.1:8443", "")));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].key, "remote_model.endpoint");
        assert!(
            found[0].rule.contains("needs [remote_model.tls]"),
            "{found:?}"
        );
        let found = problems(&(demo() + &remote("http://127.0.0.1:8081", &tls(&f.ca))));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].key, "remote_model.endpoint");
        assert!(found[0].rule.contains("no silent cleartext"), "{found:?}");
        let missing = dir.join("missing-ca.crt");
        let found = problems(&(demo() + &remote("https://127.0.0.1:8443", &tls(&missing))));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].key, "remote_model.tls.ca");
        assert!(
            found[0].rule.contains("missing-ca.crt") && found[0].rule.contains("cannot be read"),
            "{found:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn demo_config_is_valid() {
        let v = validate(&demo()).unwrap();
        assert_eq!(v.runtime.report_period_ms, 250);
        assert_eq!(v.model.providers, vec![Provider::Cpu]);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let err = validate(&demo().replace("[policy]", "[policy]\nheadrom = 0.1"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("headrom"), "{err}");
        let err = validate(&demo().replace("latency_budget_ms = 10.0", "latency_budget_ms = -1.0"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("guard.latency_budget_ms"), "{err}");
        let err = validate(&demo().replace("dedicated_share = 0.5", "dedicated_share = 1.5"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("policy.dedicated_share"), "{err}");
        let err = validate(&demo().replace("http://127.0.0.1:5150", "127.0.0.1:5150"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("e2t.endpoint"), "{err}");
        let err = validate(&demo().replace("[{ kind = \"cpu\" }]", "[{ kind = \"tpu\" }]"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("tpu"), "{err}");
    }

    #[test]
    fn every_problem_is_reported_once_with_its_section() {
        let text = demo()
            .replace("hysteresis_pct = 3", "hysteresis_pct = 300")
            .replace(
                "max_inflight_controls = 1024",
                "max_inflight_controls = 9223372036854775807",
            )
            .replace("queue_depth = 65536", "queue_depth = 0")
            .replace("late_after_ms = 250", "late_after_ms = 99999999");
        assert_eq!(
            keys(&text),
            [
                "model.queue_depth",
                "state.late_after_ms",
                "guard.hysteresis_pct",
                "guard.max_inflight_controls",
            ]
        );
        let shown = validate(&text).unwrap_err().to_string();
        assert!(shown.starts_with("config refused, 4 problems"), "{shown}");
        for p in problems(&text) {
            assert_eq!(shown.matches(&p.to_string()).count(), 1, "{p}\n{shown}");
        }
        assert!(
            shown
                .contains("`guard.max_inflight_controls` = 9223372036854775807: must be 1..=65536")
        );
    }

    #[test]
    fn keys_without_bounds_before_are_bounded() {
        for (from, to, key) in [
            (
                "late_after_ms = 250",
                "late_after_ms = 60001",
                "state.late_after_ms",
            ),
            (
                "stale_after_ms = 10000",
                "stale_after_ms = 3600001",
                "state.stale_after_ms",
            ),
            (
                "reconnect_max_ms = 5000",
                "reconnect_max_ms = 300001",
                "e2t.reconnect_max_ms",
            ),
            (
                "reconnect_initial_ms = 100",
                "reconnect_initial_ms = 60001",
                "e2t.reconnect_initial_ms",
            ),
            (
                "max_controls_per_cell_per_sec = 4",
                "max_controls_per_cell_per_sec = 1001",
                "guard.max_controls_per_cell_per_sec",
            ),
            (
                "keep_warm_ms = 1.0",
                "keep_warm_ms = nan",
                "model.keep_warm_ms",
            ),
            (
                "latency_budget_ms = 10.0",
                "latency_budget_ms = inf",
                "guard.latency_budget_ms",
            ),
            ("headroom = 0.2", "headroom = nan", "policy.headroom"),
            (
                "[{ kind = \"cpu\" }]",
                "[{ kind = \"cuda\", device_id = -1 }]",
                "model.providers[0].device_id",
            ),
        ] {
            let text = demo().replace(from, to);
            assert_ne!(text, demo(), "{from} not in demo.toml");
            assert_eq!(keys(&text), [key], "{to}");
        }
    }

    #[test]
    fn the_largest_accepted_values_fit_the_runtime() {
        let text = demo()
            .replace(
                "max_inflight_controls = 1024",
                "max_inflight_controls = 65536",
            )
            .replace("reconnect_max_ms = 5000", "reconnect_max_ms = 300000");
        let v = validate(&text).unwrap();
        // The node task takes every permit at once as a u32, on a tokio semaphore.
        assert!(u32::try_from(v.runtime.max_inflight_controls).is_ok());
        assert!(v.runtime.max_inflight_controls <= tokio::sync::Semaphore::MAX_PERMITS);
    }

    #[test]
    fn endpoints_are_checked_like_the_runtime_reads_them() {
        for good in [
            "http://127.0.0.1:5150",
            "http://onos-e2t:5150",
            "http://[::1]:5150/",
        ] {
            assert_eq!(endpoint_problem(good), None, "{good}");
        }
        for bad in [
            "127.0.0.1:5150",
            "http://",
            "http://bad host:5150",
            "http://h:99999",
            "http://h:0",
            "http://h:5150/e2t",
            "grpc://h:5150",
        ] {
            assert!(endpoint_problem(bad).is_some(), "{bad}");
        }
        let tls = endpoint_problem("https://h:5150").unwrap();
        assert!(tls.contains("needs a TLS section"), "{tls}");
        let text = demo().replace("http://127.0.0.1:5150", "https://127.0.0.1:5150");
        assert_eq!(keys(&text), ["e2t.endpoint"]);
        let mut cfg: FileConfig = toml::from_str(&demo()).unwrap();
        cfg.override_endpoint("http://h:x".into(), "--e2t");
        let err = cfg.validate(Path::new(".")).unwrap_err().to_string();
        assert!(
            err.contains("`e2t.endpoint (from --e2t)` = \"http://h:x\""),
            "{err}"
        );
    }

    #[test]
    fn relative_paths_follow_the_config_folder_and_missing_files_are_named_twice() {
        let v = validate(&demo()).unwrap();
        assert!(v.model.contract.is_file(), "{}", v.model.contract.display());
        let text = demo().replace(
            "# onnxruntime_lib = \"/opt/onnxruntime-gpu/lib/libonnxruntime.so.1.31.1\"",
            "onnxruntime_lib = \"lib/libonnxruntime.so\"",
        );
        let p = problems(&text);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].key, "model.onnxruntime_lib");
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let resolved = base.join("lib/libonnxruntime.so").display().to_string();
        assert!(p[0].value.contains("\"lib/libonnxruntime.so\""), "{}", p[0]);
        assert!(p[0].value.contains(&resolved), "{}", p[0]);
        let err = FileConfig::load(Path::new("no/such.toml"))
            .unwrap_err()
            .to_string();
        let cwd = std::env::current_dir().unwrap().join("no/such.toml");
        assert!(
            err.contains("no/such.toml") && err.contains(&cwd.display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn the_ric_section_reaches_the_runtime_and_what_osc_rmr_needs_is_named() {
        let text = format!(
            "{}\n[ric]\ntransport = \"sdran-grpc\"\nencoding = \"proto\"\n\n[[ric.nodes]]\nid = \"gnb-1\"\n[[ric.nodes.cells]]\nplmn = \"00f110\"\nnci = 1\nslices = [\"1-000001\"]\nprbs = 106\n",
            demo()
        );
        let v = validate(&text).unwrap();
        assert_eq!(v.runtime.nodes.len(), 1);
        assert_eq!(v.runtime.nodes[0].cells[0].prb_total_dl, 106);
        let text = format!(
            "{}\n[ric]\ntransport = \"osc-rmr\"\nencoding = \"asn1-per\"\n",
            demo()
        );
        // osc-rmr is built: it names what it needs (nodes, [ric.osc], metrics.listen).
        let k = keys(&text);
        assert!(k.contains(&"ric.nodes".to_owned()), "{k:?}");
        assert!(k.contains(&"ric.osc".to_owned()), "{k:?}");
    }

    #[test]
    fn the_osc_demo_config_is_valid_and_resolves_its_route_table() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo-osc.toml");
        let v = FileConfig::load(&path)
            .unwrap()
            .validate(&FileConfig::folder_of(&path))
            .unwrap();
        let r = &v.runtime;
        assert_eq!(r.transport, nf_runtime::transport::TransportKind::OscRmr);
        assert_eq!(r.nodes.len(), 2);
        assert_eq!(r.osc.nodes.len(), 2);
        assert_eq!(r.osc.callback_http_port, 9464, "metrics.listen's port");
        let rt = r.osc.rmr_route_table.as_ref().unwrap();
        assert!(rt.is_absolute() && rt.is_file(), "{}", rt.display());
    }

    /// A sharded replica's A1 handler answers under the replica's own name: `{ordinal}`
    /// is replaced in the default (`e2t.app_instance_id`) and in `a1.handler_id`.
    #[test]
    fn a_sharded_replica_answers_a1_under_its_own_name() {
        let state = std::env::temp_dir().join("slice-xapp-a1-shard-test.json");
        let text = |handler: &str| {
            demo().replace(
                "app_instance_id = \"slice-xapp-1\"",
                "app_instance_id = \"slice-xapp-{ordinal}\"",
            ) + &format!(
                "\n[shard]\nreplicas = 3\nordinal = 2\npeers = [\"http://127.0.0.1:1\", \"http://127.0.0.1:2\", \"http://127.0.0.1:3\"]\n\
                 \n[a1]\nstate_file = \"{}\"\nrmr_listen = \"127.0.0.1:4562\"\n{handler}",
                state.display()
            )
        };
        let v = validate(&text("")).unwrap();
        assert_eq!(v.runtime.app_instance_id, "slice-xapp-2");
        assert_eq!(v.runtime.a1.unwrap().handler_id, "slice-xapp-2");
        let v = validate(&text("handler_id = \"a1-{ordinal}\"\n")).unwrap();
        assert_eq!(v.runtime.a1.unwrap().handler_id, "a1-2");
    }

    /// `[a1]`: every bad key named; its own RMR port unless the O-RAN SC transport's is
    /// shared; disabled sections are not checked.
    #[test]
    fn a1_section_is_validated_and_shares_the_osc_rmr_port() {
        let dir = std::env::temp_dir();
        let state = dir.join("slice-xapp-a1-config-test.json");
        let section =
            |extra: &str| format!("\n[a1]\nstate_file = \"{}\"\n{extra}", state.display());
        assert_eq!(keys(&(demo() + &section(""))), ["a1.rmr_listen"]);
        let ok = demo() + &section("rmr_listen = \"127.0.0.1:4562\"\n");
        let a = validate(&ok).unwrap().runtime.a1.unwrap();
        assert_eq!(a.policy_type_id, nf_core::a1::DEFAULT_POLICY_TYPE_ID);
        assert_eq!(a.handler_id, "slice-xapp-1");
        assert_eq!(a.state_file, state);
        assert_eq!(a.rmr_listen, Some("127.0.0.1:4562".parse().unwrap()));
        let bad = demo()
            + "\n[a1]\nstate_file = \"/no/such/folder/a1.json\"\npolicy_type_id = 0\n\
               handler_id = \"a b\"\nrmr_listen = \"127.0.0.1:4562\"\n\
               rmr_route_table = \"missing.rt\"\n";
        assert_eq!(
            keys(&bad),
            [
                "a1.policy_type_id",
                "a1.state_file",
                "a1.handler_id",
                "a1.rmr_route_table"
            ]
        );
        let shown = validate(&bad).unwrap_err().to_string();
        assert!(shown.contains("/no/such/folder does not exist"), "{shown}");
        let unknown = demo() + &section("rmr_listen = \"127.0.0.1:4562\"\nttl = 3\n");
        assert!(matches!(validate(&unknown), Err(ConfigError::Parse { .. })));
        let off = demo() + "\n[a1]\nenabled = false\nstate_file = \"/no/such/folder/a1.json\"\n";
        assert!(validate(&off).unwrap().runtime.a1.is_none());
        // Under osc-rmr the transport's RMR port is shared: an own port is refused.
        let osc_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo-osc.toml");
        let osc = std::fs::read_to_string(&osc_path).unwrap();
        let a = validate(&(osc.clone() + &section("")))
            .unwrap()
            .runtime
            .a1
            .unwrap();
        assert_eq!(a.rmr_listen, None);
        let twice = osc + &section("rmr_listen = \"127.0.0.1:4562\"\n");
        assert_eq!(keys(&twice), ["a1.rmr_listen"]);
    }

    #[test]
    fn docs_table_matches_the_bounds() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/operations.md");
        let text = std::fs::read_to_string(&docs).unwrap();
        let table = bounds::markdown_table();
        assert!(
            text.contains(&table),
            "docs/operations.md lacks the current bounds table; paste this between the \
             config-bounds markers:\n{table}"
        );
    }
}
