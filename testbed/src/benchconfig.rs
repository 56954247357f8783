//! The slice-xapp configuration the benchmark programs (`loadbench`, `hybridbench`) run the
//! real xApp with: the shipped forecaster, the simulator's E2T (the endpoint is replaced
//! by `--e2t`), limits wide enough that the benchmark, not the config, is what is measured.
//! Each program appends its own sections (`[placement]`, `[remote_model]`, `[ric]`, ...).

use std::path::Path;

/// The knobs the benchmarks set differently.
#[derive(Clone, Debug)]
pub struct BenchConfig<'a> {
    /// `e2t.app_id` (and `<app>-1` as the instance).
    pub app: &'a str,
    pub report_period_ms: u32,
    /// `e2t.control_transport`; `None`: the default.
    pub control_transport: Option<&'a str>,
    pub max_batch_rows: u32,
    pub queue_depth: u32,
    pub keep_warm_ms: f64,
    pub max_controls_per_cell_per_sec: u32,
    pub latency_budget_ms: f64,
}

impl BenchConfig<'_> {
    /// The TOML, with the shipped forecaster's contract (`contract`, an absolute path).
    pub fn toml(&self, contract: &Path) -> String {
        let transport = self
            .control_transport
            .map(|t| format!("control_transport = \"{t}\"\n"))
            .unwrap_or_default();
        format!(
            r#"[e2t]
endpoint = "http://127.0.0.1:1"
app_id = "{app}"
app_instance_id = "{app}-1"
report_period_ms = {period}
max_message_bytes = 4194304
reconnect_initial_ms = 50
reconnect_max_ms = 1000
control_timeout_ms = 1000
{transport}
[model]
contract = "{contract}"
providers = [{{ kind = "cpu" }}]
max_batch_rows = {batch}
queue_depth = {queue}
keep_warm_ms = {keep_warm}

[state]
stale_after_ms = 10000
late_after_ms = {late}
max_cells_per_node = 16384
max_payload_bytes = 65536

[policy]
headroom = 0.2
max_ratio_floor = 10
dedicated_share = 0.5

[guard]
hysteresis_pct = 3
max_controls_per_cell_per_sec = {controls}
latency_budget_ms = {budget:?}
max_inflight_controls = 4096
"#,
            app = self.app,
            period = self.report_period_ms,
            contract = contract.display(),
            batch = self.max_batch_rows,
            queue = self.queue_depth,
            keep_warm = self.keep_warm_ms,
            late = self.report_period_ms.max(50),
            controls = self.max_controls_per_cell_per_sec,
            budget = self.latency_budget_ms,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_benchmarks_config_is_valid_toml_with_the_transport_only_when_set() {
        let mut c = BenchConfig {
            app: "loadbench",
            report_period_ms: 20,
            control_transport: Some("stream"),
            max_batch_rows: 8192,
            queue_depth: 32768,
            keep_warm_ms: 1.0,
            max_controls_per_cell_per_sec: 4,
            latency_budget_ms: 10.0,
        };
        let t: toml::Value = toml::from_str(&c.toml(Path::new("/m/c.toml"))).unwrap();
        assert_eq!(t["e2t"]["control_transport"].as_str(), Some("stream"));
        assert_eq!(t["e2t"]["app_instance_id"].as_str(), Some("loadbench-1"));
        assert_eq!(t["state"]["late_after_ms"].as_integer(), Some(50));
        assert_eq!(t["guard"]["latency_budget_ms"].as_float(), Some(10.0));
        c.control_transport = None;
        let t: toml::Value = toml::from_str(&c.toml(Path::new("/m/c.toml"))).unwrap();
        assert!(t["e2t"].get("control_transport").is_none());
    }
}
