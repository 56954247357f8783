//! `[placement]` and `[remote_model]`: edge-first inference with a remote forecaster over the
//! Open Inference Protocol (`docs/hybrid.md`). Checked with the rest of the file; every
//! problem names its key (`remote_model.*` as `nf_oip` names them).
//!
//! ```toml
//! [placement]
//! mode = "hybrid"        # local (default) | remote_first | hybrid | shadow
//! quantile = "p99"       # hybrid compares this quantile of the remote's latency: p95 | p99
//! margin_ms = 2          # the decision stops waiting for the remote this long before the budget ends
//! batch_window_us = 0    # asks within this long of the first go as one ModelInfer (0: none)
//!
//! [remote_model]
//! endpoint = "http://forecaster.cluster.local:8081"
//! contract = "models/slice_forecaster/slice_forecaster.contract.toml"
//! deadline_ms = 100
//! ```
//!
//! Over TLS: `endpoint = "https://..."` with `[remote_model.tls]` (`ca`, optional `cert` +
//! `key` for mTLS, `server_name`, `reload_ms`), its files read here with the rest.

use std::path::Path;
use std::time::Duration;

use nf_runtime::placement::{PlacementMode, Quantile};
use serde::Deserialize;

use super::bounds as b;
use super::problems::Problems;

/// `[placement]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlacementSection {
    #[serde(default)]
    pub mode: PlacementMode,
    #[serde(default)]
    pub quantile: Quantile,
    #[serde(default = "default_margin_ms")]
    pub margin_ms: u64,
    /// Asks of all cells and nodes within this long of the first are one `ModelInfer`
    /// [µs]; 0 (default): every ask is its own request.
    #[serde(default)]
    pub batch_window_us: u64,
}

fn default_margin_ms() -> u64 {
    nf_runtime::placement::DEFAULT_MARGIN_MS
}

/// The checked remote model and its placement; the binary makes the
/// [`nf_runtime::placement::RemotePlacement`] inside its tokio runtime.
#[derive(Debug)]
pub struct RemoteSettings {
    pub model: nf_oip::RemoteConfig,
    pub mode: PlacementMode,
    pub quantile: Quantile,
    pub margin: Duration,
    pub batch_window: Duration,
}

/// Checks both sections; `None` when no remote model is configured.
pub fn check(
    placement: &PlacementSection,
    remote: Option<&nf_oip::RemoteModelSection>,
    base: &Path,
    p: &mut Problems,
) -> Option<RemoteSettings> {
    p.int(&b::PLACEMENT_MARGIN_MS, placement.margin_ms);
    p.int(&b::PLACEMENT_BATCH_WINDOW_US, placement.batch_window_us);
    p.rule(
        placement.mode == PlacementMode::Local || remote.is_some(),
        "placement.mode",
        format!("\"{}\"", placement.mode.as_str()),
        "needs a [remote_model] section (the remote forecaster to place on)",
    );
    let model = match remote?.clone().validate(base) {
        Ok(m) => m,
        Err(nf_oip::ConfigError::Invalid(problems)) => {
            for x in problems {
                p.rule(false, x.key, "(as written)", x.problem);
            }
            return None;
        }
        Err(e) => {
            p.rule(
                false,
                "remote_model.contract",
                "(as written)",
                e.to_string(),
            );
            return None;
        }
    };
    Some(RemoteSettings {
        model,
        mode: placement.mode,
        quantile: placement.quantile,
        margin: Duration::from_millis(placement.margin_ms),
        batch_window: Duration::from_micros(placement.batch_window_us),
    })
}
