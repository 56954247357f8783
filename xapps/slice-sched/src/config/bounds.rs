//! The one place that says which values each numeric config key accepts.
//!
//! Every numeric key has a [`Bound`] here, listed in [`BOUNDS`]; validation checks against
//! these constants and `docs/operations.md` carries the table [`markdown_table`] renders (a
//! test fails when the two drift apart). Rules between keys (`e2t.reconnect_max_ms` ≥
//! `e2t.reconnect_initial_ms`, …) are in the `also` column and checked in `config.rs`.

use std::fmt;

/// The values a key accepts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Range {
    /// An integer in `min..=max`.
    Int { min: u64, max: u64 },
    /// A finite real number between `min` and `max`; an open end excludes the limit.
    Real {
        min: f64,
        max: f64,
        open_min: bool,
        open_max: bool,
    },
}

impl Range {
    /// Whether an integer value is in range (a negative or oversized one is not).
    pub fn contains_int<T: TryInto<u64>>(&self, value: T) -> bool {
        match (self, value.try_into()) {
            (Range::Int { min, max }, Ok(v)) => (*min..=*max).contains(&v),
            _ => false,
        }
    }

    /// Whether a real value is in range; NaN and infinities never are.
    pub fn contains_real(&self, v: f64) -> bool {
        let Range::Real {
            min,
            max,
            open_min,
            open_max,
        } = *self
        else {
            return false;
        };
        let above = if open_min { v > min } else { v >= min };
        let below = if open_max { v < max } else { v <= max };
        v.is_finite() && above && below
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Range::Int { min, max } => write!(f, "{min}..={max}"),
            Range::Real {
                min,
                max,
                open_min,
                open_max,
            } => {
                let (l, r) = (
                    if open_min { '(' } else { '[' },
                    if open_max { ')' } else { ']' },
                );
                write!(f, "{l}{min}, {max}{r}")
            }
        }
    }
}

/// The accepted values of one numeric key.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bound {
    /// `section.key` as written in the file.
    pub key: &'static str,
    pub range: Range,
    /// Unit of the value ("" when it has none).
    pub unit: &'static str,
    /// A rule against another key, checked beside the range ("" when none).
    pub also: &'static str,
}

const fn int(key: &'static str, min: u64, max: u64, unit: &'static str) -> Bound {
    Bound {
        key,
        range: Range::Int { min, max },
        unit,
        also: "",
    }
}

const fn real(key: &'static str, min: f64, max: f64, unit: &'static str) -> Bound {
    Bound {
        key,
        range: Range::Real {
            min,
            max,
            open_min: false,
            open_max: false,
        },
        unit,
        also: "",
    }
}

const fn also(b: Bound, rule: &'static str) -> Bound {
    Bound { also: rule, ..b }
}

const fn open(b: Bound, open_min: bool, open_max: bool) -> Bound {
    match b.range {
        Range::Real { min, max, .. } => Bound {
            range: Range::Real {
                min,
                max,
                open_min,
                open_max,
            },
            ..b
        },
        Range::Int { .. } => b,
    }
}

const MIB: u64 = 1 << 20;

pub const REPORT_PERIOD_MS: Bound = int("e2t.report_period_ms", 1, 60_000, "ms");
pub const MAX_MESSAGE_BYTES: Bound = int("e2t.max_message_bytes", 4096, 64 * MIB, "bytes");
pub const RECONNECT_INITIAL_MS: Bound = int("e2t.reconnect_initial_ms", 1, 60_000, "ms");
pub const RECONNECT_MAX_MS: Bound = also(
    int("e2t.reconnect_max_ms", 1, 300_000, "ms"),
    "≥ e2t.reconnect_initial_ms",
);
pub const CONTROL_TIMEOUT_MS: Bound = int("e2t.control_timeout_ms", 1, 60_000, "ms");
pub const SILENT_PERIODS: Bound = also(
    int(
        "e2t.silent_periods",
        *nf_runtime::config::SILENT_PERIODS_RANGE.start() as u64,
        *nf_runtime::config::SILENT_PERIODS_RANGE.end() as u64,
        "periods",
    ),
    "silence before resubscribing",
);
pub const MAX_E2_NODES: Bound = int(
    "e2t.max_e2_nodes",
    *nf_runtime::config::MAX_E2_NODES_RANGE.start() as u64,
    *nf_runtime::config::MAX_E2_NODES_RANGE.end() as u64,
    "nodes",
);
pub const DISCOVERY_TIMEOUT_MS: Bound = also(
    int(
        "e2t.discovery_timeout_ms",
        *nf_runtime::config::DISCOVERY_TIMEOUT_MS_RANGE.start(),
        *nf_runtime::config::DISCOVERY_TIMEOUT_MS_RANGE.end(),
        "ms",
    ),
    "node list read; Subscribe answer",
);
pub const MAX_BATCH_ROWS: Bound = int("model.max_batch_rows", 1, MIB, "rows");
pub const QUEUE_DEPTH: Bound = int("model.queue_depth", 1, 4 * MIB, "jobs");
pub const KEEP_WARM_MS: Bound = also(real("model.keep_warm_ms", 0.0, 1000.0, "ms"), "0 = off");
pub const DEVICE_ID: Bound = int("model.providers[].device_id", 0, 255, "");
pub const STALE_AFTER_MS: Bound = also(
    int("state.stale_after_ms", 1, 3_600_000, "ms"),
    "≥ e2t.report_period_ms",
);
pub const LATE_AFTER_MS: Bound = also(
    int("state.late_after_ms", 0, 60_000, "ms"),
    "≤ state.stale_after_ms",
);
pub const MAX_CELLS_PER_NODE: Bound = int("state.max_cells_per_node", 1, MIB, "cells");
pub const MAX_AHEAD_MS: Bound = also(
    int("state.max_ahead_ms", 1, 86_400_000, "ms"),
    "report stamped ahead of its node's clock",
);
pub const MAX_PAYLOAD_BYTES: Bound = also(
    int("state.max_payload_bytes", 256, 64 * MIB, "bytes"),
    "≤ e2t.max_message_bytes",
);
pub const HEADROOM: Bound = real("policy.headroom", 0.0, 2.0, "");
pub const MAX_RATIO_FLOOR: Bound = int("policy.max_ratio_floor", 0, 100, "%");
pub const DEDICATED_SHARE: Bound = real("policy.dedicated_share", 0.0, 1.0, "");
pub const HYSTERESIS_PCT: Bound = int("guard.hysteresis_pct", 0, 100, "points");
pub const MAX_CONTROLS_PER_CELL_PER_SEC: Bound =
    int("guard.max_controls_per_cell_per_sec", 1, 1000, "controls/s");
pub const LATENCY_BUDGET_MS: Bound = open(
    real("guard.latency_budget_ms", 0.0, 1000.0, "ms"),
    true,
    false,
);
pub const MAX_INFLIGHT_CONTROLS: Bound = also(
    int("guard.max_inflight_controls", 1, 65_536, "controls"),
    "per E2 node",
);
pub const PLACEMENT_MARGIN_MS: Bound = also(
    int("placement.margin_ms", 0, 60_000, "ms"),
    "kept free of the budget when waiting for the remote model",
);
pub const PLACEMENT_BATCH_WINDOW_US: Bound = also(
    int(
        "placement.batch_window_us",
        0,
        nf_runtime::placement::MAX_BATCH_WINDOW_US,
        "µs",
    ),
    "asks within it of the first go to the remote model as one request",
);
pub const HOLD_MS: Bound = int("decision_log.hold_ms", 0, 3_600_000, "ms");
/// The decision log is rotated past this size (1 MiB .. 1 TiB).
pub const LOG_MAX_BYTES: Bound = int("decision_log.max_bytes", 1 << 20, 1 << 40, "bytes");
pub const LOG_KEEP: Bound = also(
    int("decision_log.keep", 1, 1000, "files"),
    "rotated files kept",
);
pub const TREATMENT_SHARE: Bound = real("trial.treatment_share", 0.0, 1.0, "");
pub const BLOCK_S: Bound = int("trial.block_s", 1, 86_400, "s");
pub const ARM_HEADROOM: Bound = also(
    Bound {
        key: "trial.{control,treatment}.headroom",
        ..HEADROOM
    },
    "default policy.headroom",
);
pub const FIXED_SPLIT: Bound = also(
    int("trial.{control,treatment}.fixed_split[]", 0, 100, "%"),
    "sum ≤ 100",
);
pub const MARGIN: Bound = open(real("trial.guard_rail.margin", 0.0, 1.0, ""), false, true);
pub const ALPHA: Bound = open(real("trial.guard_rail.alpha", 0.0, 0.5, ""), true, true);
pub const TAU: Bound = open(real("trial.guard_rail.tau", 0.0, 1000.0, ""), true, false);
pub const LOOK_EVERY_S: Bound = int("trial.guard_rail.look_every_s", 1, 86_400, "s");
pub const MIN_CELLS: Bound = int("trial.guard_rail.min_cells", 2, MIB, "cells");

/// Every bound, in the order of the sections in the file.
/// NR cell identity of a configured cell (36 bits).
pub const NCI: Bound = int("ric.nodes.cells.nci", 0, (1 << 36) - 1, "");
/// DL PRBs of a configured cell (NR: at most 275 in one carrier).
pub const CELL_PRBS: Bound = int("ric.nodes.cells.prbs", 1, 275, "PRBs");

/// RAN function ID of a configured node (E2AP: 0..=4095).
pub const RAN_FUNCTION_ID: Bound = int("ric.nodes.kpm_function_id, rc_function_id", 0, 4095, "");
/// `ClientEndpoint.HTTPPort` announced to the Subscription Manager.
pub const CALLBACK_HTTP_PORT: Bound = also(
    int("ric.osc.callback_http_port", 1, 65_535, ""),
    "default: the port of metrics.listen",
);
/// `ClientEndpoint.RMRPort` announced to the Subscription Manager.
pub const CALLBACK_RMR_PORT: Bound = also(
    int("ric.osc.callback_rmr_port", 1, 65_535, ""),
    "default: the port of ric.osc.rmr_listen",
);
/// RICrequestID requestor of the xApp's controls (E2AP: 0..=65535).
pub const REQUESTOR_ID: Bound = int("ric.osc.requestor_id", 0, 65_535, "");
/// Time limit of one Subscription Manager call.
pub const SUBMGR_TIMEOUT_MS: Bound = int("ric.osc.submgr_timeout_ms", 100, 600_000, "ms");
/// A1 policy type handled (the A1 mediator's policy type IDs are 1..=2^31-1).
pub const A1_POLICY_TYPE_ID: Bound = also(
    int("a1.policy_type_id", 1, 2_147_483_647, ""),
    "default: 21010 (slice SLA targets)",
);

/// Ordinals a sharded xApp's replicas probe (`nf_core::shard::MAX_REPLICAS`).
pub const SHARD_REPLICAS: Bound = also(
    int(
        "shard.replicas",
        1,
        nf_core::shard::MAX_REPLICAS as u64,
        "replicas",
    ),
    "1 = not sharded",
);
pub const SHARD_ORDINAL: Bound = also(
    int(
        "shard.ordinal",
        0,
        nf_core::shard::MAX_REPLICAS as u64 - 1,
        "",
    ),
    "< shard.replicas; default: the -N of POD_NAME or HOSTNAME",
);
pub const SHARD_PROBE_INTERVAL_MS: Bound = also(
    int("shard.probe_interval_ms", 50, 60_000, "ms"),
    "also each probe's timeout",
);
pub const SHARD_FAILURE_THRESHOLD: Bound = int("shard.failure_threshold", 1, 100, "probes");
pub const SHARD_HANDOVER_GRACE_MS: Bound = int("shard.handover_grace_ms", 0, 600_000, "ms");

pub const BOUNDS: &[Bound] = &[
    REPORT_PERIOD_MS,
    MAX_MESSAGE_BYTES,
    RECONNECT_INITIAL_MS,
    RECONNECT_MAX_MS,
    CONTROL_TIMEOUT_MS,
    SILENT_PERIODS,
    MAX_E2_NODES,
    DISCOVERY_TIMEOUT_MS,
    NCI,
    CELL_PRBS,
    RAN_FUNCTION_ID,
    CALLBACK_HTTP_PORT,
    CALLBACK_RMR_PORT,
    REQUESTOR_ID,
    SUBMGR_TIMEOUT_MS,
    MAX_BATCH_ROWS,
    QUEUE_DEPTH,
    KEEP_WARM_MS,
    DEVICE_ID,
    STALE_AFTER_MS,
    LATE_AFTER_MS,
    MAX_CELLS_PER_NODE,
    MAX_AHEAD_MS,
    MAX_PAYLOAD_BYTES,
    HEADROOM,
    MAX_RATIO_FLOOR,
    DEDICATED_SHARE,
    HYSTERESIS_PCT,
    MAX_CONTROLS_PER_CELL_PER_SEC,
    LATENCY_BUDGET_MS,
    MAX_INFLIGHT_CONTROLS,
    PLACEMENT_MARGIN_MS,
    PLACEMENT_BATCH_WINDOW_US,
    HOLD_MS,
    LOG_MAX_BYTES,
    LOG_KEEP,
    TREATMENT_SHARE,
    BLOCK_S,
    ARM_HEADROOM,
    FIXED_SPLIT,
    MARGIN,
    ALPHA,
    TAU,
    LOOK_EVERY_S,
    MIN_CELLS,
    SHARD_REPLICAS,
    SHARD_ORDINAL,
    SHARD_PROBE_INTERVAL_MS,
    SHARD_FAILURE_THRESHOLD,
    SHARD_HANDOVER_GRACE_MS,
    A1_POLICY_TYPE_ID,
];

/// The Markdown table of [`BOUNDS`] that `docs/operations.md` carries.
pub fn markdown_table() -> String {
    let mut out = String::from("| key | accepted | unit | also |\n|---|---|---|---|\n");
    for b in BOUNDS {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            b.key, b.range, b.unit, b.also
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_refuse_what_is_outside_and_every_non_number() {
        assert!(MAX_INFLIGHT_CONTROLS.range.contains_int(1024usize));
        assert!(!MAX_INFLIGHT_CONTROLS.range.contains_int(i64::MAX));
        assert!(!MAX_INFLIGHT_CONTROLS.range.contains_int(0u64));
        assert!(!DEVICE_ID.range.contains_int(-1i32));
        assert!(LATENCY_BUDGET_MS.range.contains_real(1000.0));
        assert!(!LATENCY_BUDGET_MS.range.contains_real(0.0));
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(!KEEP_WARM_MS.range.contains_real(bad), "{bad}");
        }
        assert_eq!(ALPHA.range.to_string(), "(0, 0.5)");
        assert_eq!(REPORT_PERIOD_MS.range.to_string(), "1..=60000");
    }

    #[test]
    fn every_key_is_listed_once() {
        let mut keys: Vec<_> = BOUNDS.iter().map(|b| b.key).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), BOUNDS.len());
    }
}
