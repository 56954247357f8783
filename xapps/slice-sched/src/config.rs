//! The xApp's TOML configuration: parsed with unknown keys refused, then validated into the
//! runtime's types. A bad file stops the process before anything starts, naming the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nf_core::guard::GuardConfig;
use nf_core::latency::Budget;
use nf_core::policy::PolicyConfig;
use nf_infer::{ModelConfig, Provider};
use nf_runtime::RuntimeConfig;
use nf_runtime::config::{BackoffConfig, ControlTransport};
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
    pub model: ModelConfig,
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
        let model = ModelConfig {
            contract: base.join(&m.contract),
            onnxruntime_lib: m.onnxruntime_lib.as_ref().map(|p| base.join(p)),
            providers: m.providers.clone(),
        };
        Ok(Validated { runtime, model })
    }
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
