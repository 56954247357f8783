//! The xApp's TOML configuration: parsed with unknown keys refused, then validated into the
//! runtime's types. A bad file stops the process before anything starts, naming the key.

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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub e2t: E2tSection,
    pub model: ModelSection,
    pub state: StateSection,
    pub policy: PolicySection,
    pub guard: GuardSection,
    #[serde(default)]
    pub metrics: MetricsSection,
    pub decision_log: Option<DecisionLogSection>,
    pub trial: Option<TrialSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionLogSection {
    /// JSON-lines file, created or truncated.
    pub path: PathBuf,
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
    /// `model`, `equal`, `fixed` or `proportional`.
    pub policy: String,
    /// Model contract of a `model` arm (default: `[model].contract`).
    pub contract: Option<PathBuf>,
    /// Percent per slice of a `fixed` arm.
    #[serde(default)]
    pub fixed_split: Vec<u8>,
    /// Headroom of a `model` arm (default: `[policy].headroom`).
    pub headroom: Option<f32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RailSection {
    /// `throughput_dl` (DRB.UEThpDl, higher is better) or `buffer_dl` (VS.DlBufferBytes).
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
    pub report_period_ms: u32,
    pub max_message_bytes: usize,
    pub reconnect_initial_ms: u64,
    pub reconnect_max_ms: u64,
    pub control_timeout_ms: u64,
    /// `auto`: the control stream extension when the E2T offers it, else unary; `unary`:
    /// always SD-RAN's unary Control.
    #[serde(default = "default_transport")]
    pub control_transport: ControlTransport,
}

fn default_transport() -> ControlTransport {
    ControlTransport::Auto
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
    pub max_ratio_floor: u8,
    pub dedicated_share: f32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardSection {
    pub hysteresis_pct: u8,
    pub max_controls_per_cell_per_sec: u32,
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

/// A configuration problem, naming the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config {path}: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    #[error("config key `{key}` = {value}: {rule}")]
    Invalid {
        key: &'static str,
        value: String,
        rule: &'static str,
    },
}

fn check<T: std::fmt::Display>(
    ok: bool,
    key: &'static str,
    value: T,
    rule: &'static str,
) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            key,
            value: value.to_string(),
            rule,
        })
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
}

impl FileConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.into(),
            source,
        })
    }

    /// Checks every value and builds the runtime configuration; relative paths are taken
    /// relative to `base` (the config file's folder).
    pub fn validate(self, base: &Path) -> Result<Validated, ConfigError> {
        let e = &self.e2t;
        check(
            e.endpoint.starts_with("http://") || e.endpoint.starts_with("https://"),
            "e2t.endpoint",
            &e.endpoint,
            "must be an http:// or https:// URL",
        )?;
        check(
            !e.app_id.is_empty(),
            "e2t.app_id",
            &e.app_id,
            "must not be empty",
        )?;
        check(
            !e.app_instance_id.is_empty(),
            "e2t.app_instance_id",
            &e.app_instance_id,
            "must not be empty",
        )?;
        check(
            (1..=60_000).contains(&e.report_period_ms),
            "e2t.report_period_ms",
            e.report_period_ms,
            "must be 1..=60000",
        )?;
        check(
            (4096..=64 << 20).contains(&e.max_message_bytes),
            "e2t.max_message_bytes",
            e.max_message_bytes,
            "must be 4 KiB..=64 MiB",
        )?;
        check(
            e.reconnect_initial_ms >= 1,
            "e2t.reconnect_initial_ms",
            e.reconnect_initial_ms,
            "must be at least 1",
        )?;
        check(
            e.reconnect_max_ms >= e.reconnect_initial_ms,
            "e2t.reconnect_max_ms",
            e.reconnect_max_ms,
            "must be ≥ reconnect_initial_ms",
        )?;
        check(
            (1..=60_000).contains(&e.control_timeout_ms),
            "e2t.control_timeout_ms",
            e.control_timeout_ms,
            "must be 1..=60000",
        )?;
        let m = &self.model;
        check(
            !m.providers.is_empty(),
            "model.providers",
            "[]",
            "list at least one provider (cpu)",
        )?;
        check(
            (1..=1 << 20).contains(&m.max_batch_rows),
            "model.max_batch_rows",
            m.max_batch_rows,
            "must be 1..=1048576",
        )?;
        check(
            (1..=1 << 22).contains(&m.queue_depth),
            "model.queue_depth",
            m.queue_depth,
            "must be 1..=4194304",
        )?;
        check(
            (0.0..=1000.0).contains(&m.keep_warm_ms),
            "model.keep_warm_ms",
            m.keep_warm_ms,
            "must be 0 (off) ..= 1000",
        )?;
        let s = &self.state;
        check(
            s.stale_after_ms >= u64::from(e.report_period_ms),
            "state.stale_after_ms",
            s.stale_after_ms,
            "must be ≥ e2t.report_period_ms",
        )?;
        check(
            (1..=1 << 20).contains(&s.max_cells_per_node),
            "state.max_cells_per_node",
            s.max_cells_per_node,
            "must be 1..=1048576",
        )?;
        check(
            (256..=e.max_message_bytes).contains(&s.max_payload_bytes),
            "state.max_payload_bytes",
            s.max_payload_bytes,
            "must be 256..=e2t.max_message_bytes",
        )?;
        let p = &self.policy;
        check(
            (0.0..=2.0).contains(&p.headroom),
            "policy.headroom",
            p.headroom,
            "must be 0..=2",
        )?;
        check(
            p.max_ratio_floor <= 100,
            "policy.max_ratio_floor",
            p.max_ratio_floor,
            "must be 0..=100",
        )?;
        check(
            (0.0..=1.0).contains(&p.dedicated_share),
            "policy.dedicated_share",
            p.dedicated_share,
            "must be 0..=1",
        )?;
        let g = &self.guard;
        check(
            g.hysteresis_pct <= 100,
            "guard.hysteresis_pct",
            g.hysteresis_pct,
            "must be 0..=100",
        )?;
        check(
            g.max_controls_per_cell_per_sec >= 1,
            "guard.max_controls_per_cell_per_sec",
            g.max_controls_per_cell_per_sec,
            "must be at least 1",
        )?;
        check(
            g.latency_budget_ms > 0.0 && g.latency_budget_ms <= 1000.0,
            "guard.latency_budget_ms",
            g.latency_budget_ms,
            "must be in (0, 1000] (near-RT RIC loop)",
        )?;
        check(
            g.max_inflight_controls >= 1,
            "guard.max_inflight_controls",
            g.max_inflight_controls,
            "must be at least 1",
        )?;
        let mut runtime = RuntimeConfig::local(e.endpoint.clone());
        runtime.app_id = e.app_id.clone();
        runtime.app_instance_id = e.app_instance_id.clone();
        runtime.report_period_ms = e.report_period_ms;
        runtime.stale_after_ms = s.stale_after_ms;
        runtime.late_after_ms = s.late_after_ms;
        runtime.max_cells_per_node = s.max_cells_per_node;
        runtime.policy = PolicyConfig {
            headroom: p.headroom,
            max_ratio_floor: p.max_ratio_floor,
            dedicated_share: p.dedicated_share,
        };
        runtime.guard = GuardConfig {
            hysteresis_pct: g.hysteresis_pct,
            max_controls_per_cell_per_sec: g.max_controls_per_cell_per_sec,
        };
        runtime.budget = Budget::from_ms(g.latency_budget_ms);
        runtime.budget_mode = g.latency_budget_mode;
        runtime.max_ahead_ms = s.max_ahead_ms;
        runtime.missing_inputs = m.missing_inputs;
        runtime.limits.max_payload_bytes = s.max_payload_bytes;
        runtime.max_message_bytes = e.max_message_bytes;
        runtime.backoff = BackoffConfig {
            initial: Duration::from_millis(e.reconnect_initial_ms),
            max: Duration::from_millis(e.reconnect_max_ms),
        };
        runtime.max_batch_rows = m.max_batch_rows;
        runtime.inference_queue = m.queue_depth;
        runtime.keep_warm =
            (m.keep_warm_ms > 0.0).then(|| Duration::from_secs_f64(m.keep_warm_ms / 1000.0));
        runtime.max_inflight_controls = g.max_inflight_controls;
        runtime.control_timeout = Duration::from_millis(e.control_timeout_ms);
        runtime.control_transport = e.control_transport;
        runtime.metrics_listen = self.metrics.listen;
        runtime.overload = s.overload;
        runtime.reproducible = m.reproducible;
        let model = ModelConfig {
            contract: base.join(&m.contract),
            onnxruntime_lib: m.onnxruntime_lib.as_ref().map(|p| base.join(p)),
            providers: m.providers.clone(),
        };
        let mut models = vec![model.clone()];
        if let Some(t) = self.trial {
            runtime.trial = Some(trial(t, base, &model, runtime.policy, &mut models)?);
        }
        if let Some(d) = &self.decision_log {
            check(
                d.hold_ms <= 3_600_000,
                "decision_log.hold_ms",
                d.hold_ms,
                "must be 0..=3600000",
            )?;
        }
        let decision_log = self.decision_log.map(|mut d| {
            d.path = base.join(&d.path);
            d
        });
        Ok(Validated {
            runtime,
            model,
            models,
            decision_log,
        })
    }
}

fn arm(
    a: ArmSection,
    which: &'static str,
    base: &Path,
    default_model: &ModelConfig,
    policy: PolicyConfig,
    models: &mut Vec<ModelConfig>,
) -> Result<ArmSpec, ConfigError> {
    let key = if which == "control" {
        "trial.control.policy"
    } else {
        "trial.treatment.policy"
    };
    check(
        !a.name.is_empty() && a.name.len() <= 32,
        if which == "control" {
            "trial.control.name"
        } else {
            "trial.treatment.name"
        },
        &a.name,
        "must be 1..=32 characters",
    )?;
    let arm_policy = match a.policy.as_str() {
        "model" => {
            let contract = a
                .contract
                .as_ref()
                .map_or_else(|| default_model.contract.clone(), |c| base.join(c));
            let i = match models.iter().position(|m| m.contract == contract) {
                Some(i) => i,
                None => {
                    models.push(ModelConfig {
                        contract,
                        ..default_model.clone()
                    });
                    models.len() - 1
                }
            };
            ArmPolicy::Model(i)
        }
        "equal" => ArmPolicy::Baseline(Baseline::Equal),
        "proportional" => ArmPolicy::Baseline(Baseline::Proportional),
        "fixed" => {
            let sum: u32 = a.fixed_split.iter().map(|v| u32::from(*v)).sum();
            check(
                !a.fixed_split.is_empty() && sum <= 100,
                key,
                format!("fixed {:?}", a.fixed_split),
                "a fixed arm needs fixed_split percentages summing to at most 100",
            )?;
            ArmPolicy::Baseline(Baseline::Fixed(a.fixed_split.clone()))
        }
        other => {
            return Err(ConfigError::Invalid {
                key,
                value: other.to_owned(),
                rule: "must be model, equal, fixed or proportional",
            });
        }
    };
    let mut policy_cfg = policy;
    if let Some(h) = a.headroom {
        check(
            (0.0..=2.0).contains(&h),
            "trial.*.headroom",
            h,
            "must be 0..=2",
        )?;
        policy_cfg.headroom = h;
    }
    Ok(ArmSpec {
        name: a.name,
        policy: arm_policy,
        policy_cfg,
    })
}

fn trial(
    t: TrialSection,
    base: &Path,
    default_model: &ModelConfig,
    policy: PolicyConfig,
    models: &mut Vec<ModelConfig>,
) -> Result<TrialSpec, ConfigError> {
    check(
        (0.0..=1.0).contains(&t.treatment_share),
        "trial.treatment_share",
        t.treatment_share,
        "must be 0..=1",
    )?;
    check(
        t.block_s >= 1,
        "trial.block_s",
        t.block_s,
        "must be at least 1",
    )?;
    let design = match t.design.as_str() {
        "cell_randomised" => Design::CellRandomised {
            treatment_share: t.treatment_share,
        },
        "switchback" => Design::Switchback {
            block_ms: t.block_s * 1000,
        },
        "shadow" => Design::Shadow,
        other => {
            return Err(ConfigError::Invalid {
                key: "trial.design",
                value: other.to_owned(),
                rule: "must be cell_randomised, switchback or shadow",
            });
        }
    };
    check(
        t.control.name != t.treatment.name,
        "trial.treatment.name",
        &t.treatment.name,
        "must differ from the control arm's name",
    )?;
    let control = arm(t.control, "control", base, default_model, policy, models)?;
    let treatment = arm(
        t.treatment,
        "treatment",
        base,
        default_model,
        policy,
        models,
    )?;
    let rail = match t.guard_rail {
        None => None,
        Some(r) => {
            let kpi = match r.kpi.as_str() {
                "throughput_dl" => Kpi::ThroughputDl,
                "buffer_dl" => Kpi::BufferDl,
                other => {
                    return Err(ConfigError::Invalid {
                        key: "trial.guard_rail.kpi",
                        value: other.to_owned(),
                        rule: "must be throughput_dl or buffer_dl",
                    });
                }
            };
            check(
                r.margin >= 0.0 && r.margin < 1.0,
                "trial.guard_rail.margin",
                r.margin,
                "must be in [0, 1)",
            )?;
            check(
                r.alpha > 0.0 && r.alpha < 0.5,
                "trial.guard_rail.alpha",
                r.alpha,
                "must be in (0, 0.5)",
            )?;
            check(
                r.tau > 0.0,
                "trial.guard_rail.tau",
                r.tau,
                "must be above 0",
            )?;
            check(
                r.look_every_s >= 1,
                "trial.guard_rail.look_every_s",
                r.look_every_s,
                "must be at least 1",
            )?;
            Some(RailSpec {
                cfg: RailConfig {
                    margin: r.margin,
                    alpha: r.alpha,
                    tau: r.tau,
                    min_units: r.min_cells.max(2),
                    higher_is_better: kpi.higher_is_better(),
                },
                kpi,
                look_every_ms: r.look_every_s * 1000,
            })
        }
    };
    Ok(TrialSpec {
        assignment: Assignment {
            design,
            seed: t.seed,
        },
        arms: [control, treatment],
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
        cfg.validate(Path::new("."))
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
        let err = validate(&demo().replace("[model]", "[model]\nmissing_inputs = \"guess\""))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("missing_inputs") || err.contains("guess"),
            "{err}"
        );
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
}
