//! The `[remote_model]` configuration section, validated before anything connects.
//!
//! ```toml
//! [remote_model]
//! endpoint = "http://oip.cluster.local:8081"   # gRPC port of KServe / Triton / MLServer
//! contract = "models/slice_forecaster/slice_forecaster.contract.toml"
//! model_name = "slice-prb-forecaster"          # default: the contract's name
//! model_version = "2.0.0"                      # default: the contract's version
//! deadline_ms = 80                             # per call, and never past the tick's budget
//! connect_timeout_ms = 1000
//! max_batch_rows = 256                         # rows per ModelInfer; more are split
//! max_message_bytes = 4194304                  # both directions
//! input_encoding = "raw"                       # or "typed" (fp32_contents)
//!
//! [remote_model.tls]                           # with an https:// endpoint only
//! ca = "/etc/airan/oip/ca.crt"                 # the CA the server must chain to (pinned)
//! cert = "/etc/airan/oip/tls.crt"              # optional, with key: mTLS
//! key = "/etc/airan/oip/tls.key"
//! server_name = "oip.cluster.local"            # optional (default: the endpoint's host)
//! reload_ms = 5000                             # optional: how often the files are looked at
//! ```
//!
//! Every problem is reported at once, each naming its key (`remote_model.tls.ca`, ...).
//! The scheme and the TLS section must agree: `https://` needs `[remote_model.tls]`, and
//! `[remote_model.tls]` with `http://` is refused (no silent cleartext). The TLS files are
//! read and parsed here, before anything connects (see [`crate::client`], "TLS").

use std::path::{Path, PathBuf};
use std::time::Duration;

use nf_infer::{Contract, ContractError};
use serde::Deserialize;

use crate::metadata::oip_datatype;

/// Bounds of `deadline_ms` (a remote answer later than a minute is no answer).
pub const DEADLINE_MS_RANGE: std::ops::RangeInclusive<u64> = 1..=60_000;
/// Bounds of `connect_timeout_ms`.
pub const CONNECT_TIMEOUT_MS_RANGE: std::ops::RangeInclusive<u64> = 1..=60_000;
/// Bounds of `max_batch_rows`.
pub const MAX_BATCH_ROWS_RANGE: std::ops::RangeInclusive<usize> = 1..=65_536;
/// Bounds of `max_message_bytes` (4 KiB to 256 MiB).
pub const MAX_MESSAGE_BYTES_RANGE: std::ops::RangeInclusive<usize> = 4096..=256 << 20;
/// Defaults.
pub const DEFAULT_DEADLINE_MS: u64 = 100;
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 1000;
pub const DEFAULT_MAX_BATCH_ROWS: usize = 256;
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 4 << 20;
/// Room left in a message for everything but the tensor values (names, shapes, framing).
pub const MESSAGE_OVERHEAD_BYTES: usize = 1024;
/// The section's name, prefixed to every key in messages.
pub const SECTION: &str = "remote_model";

/// How input values travel in a `ModelInferRequest`.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// `raw_input_contents`: the FP32 values as little-endian bytes (compact, and what
    /// Triton and MLServer answer in kind).
    #[default]
    Raw,
    /// `InferTensorContents.fp32_contents` (for servers without raw support).
    Typed,
}

/// The section as written.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RemoteModelSection {
    /// `http://host:port` of the server's gRPC endpoint.
    pub endpoint: String,
    /// The remote model's contract (relative paths: from the config file's folder).
    pub contract: PathBuf,
    /// Name the server knows the model by; the contract's `name` when absent.
    #[serde(default)]
    pub model_name: Option<String>,
    /// Version asked for; the contract's `version` when absent.
    #[serde(default)]
    pub model_version: Option<String>,
    /// Longest wait for one call [ms]; a tick may ask for less.
    #[serde(default = "default_deadline_ms")]
    pub deadline_ms: u64,
    /// Longest wait for a connection [ms]: TCP, and the TLS handshake of `https://`.
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Rows per `ModelInfer`; a tick with more is split into several calls in parallel.
    #[serde(default = "default_max_batch_rows")]
    pub max_batch_rows: usize,
    /// Largest gRPC message either way [bytes].
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: usize,
    /// `raw` (default) or `typed`.
    #[serde(default)]
    pub input_encoding: Encoding,
    /// `[remote_model.tls]`: TLS (mTLS with `cert` and `key`) to the server; required by
    /// an `https://` endpoint, refused with `http://`.
    #[serde(default)]
    pub tls: Option<nf_tls::ClientSection>,
}

fn default_deadline_ms() -> u64 {
    DEFAULT_DEADLINE_MS
}
fn default_connect_timeout_ms() -> u64 {
    DEFAULT_CONNECT_TIMEOUT_MS
}
fn default_max_batch_rows() -> usize {
    DEFAULT_MAX_BATCH_ROWS
}
fn default_max_message_bytes() -> usize {
    DEFAULT_MAX_MESSAGE_BYTES
}

/// The section, checked, with its contract loaded.
#[derive(Clone, Debug)]
pub struct RemoteConfig {
    pub endpoint: String,
    pub contract: Contract,
    pub model_name: String,
    pub model_version: String,
    pub deadline: Duration,
    pub connect_timeout: Duration,
    pub max_batch_rows: usize,
    pub max_message_bytes: usize,
    pub encoding: Encoding,
    /// `[remote_model.tls]`, its files read and checked (`Some` exactly when the endpoint
    /// is `https://`).
    pub tls: Option<nf_tls::ClientSettings>,
}

/// One refused value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// `remote_model.<key>`.
    pub key: String,
    pub problem: String,
}

/// Why the section was refused: every problem found.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config refused: {}", show(.0))]
    Invalid(Vec<Problem>),
    /// The contract could not be read or is inconsistent.
    #[error("config refused: {SECTION}.contract: {0}")]
    Contract(#[source] ContractError),
}

fn show(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("{}: {}", p.key, p.problem))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The name of the TLS section in messages.
pub const TLS_SECTION: &str = "remote_model.tls";

/// Why an endpoint is refused (`None`: accepted); `tls`: whether `[remote_model.tls]` is
/// set. The scheme must agree with it: `https://` with the section, `http://` without (a
/// section with `http://` would silently run in cleartext).
pub fn endpoint_problem(endpoint: &str, tls: bool) -> Option<String> {
    use tonic::codegen::http::Uri;
    let Ok(uri) = endpoint.parse::<Uri>() else {
        return Some(format!("{endpoint:?} is not a URL; write http://host:port"));
    };
    let https = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => {
            return Some(format!(
                "{endpoint:?} must start with http:// (or https:// with [{TLS_SECTION}])"
            ));
        }
    };
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or("");
    if authority.is_empty() || authority.contains('@') || uri.port_u16().is_none() {
        return Some(format!(
            "{endpoint:?} must be http(s)://host:port (a port, no user info)"
        ));
    }
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Some(format!("{endpoint:?} must have no path or query"));
    }
    match (https, tls) {
        (true, false) => Some(format!(
            "https:// needs [{TLS_SECTION}] (ca = the PEM file of the CA to verify the server with)"
        )),
        (false, true) => Some(format!(
            "[{TLS_SECTION}] is set but the endpoint is http://: write https:// (no silent cleartext)"
        )),
        _ => None,
    }
}

#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, key: &str, problem: impl Into<String>) {
        self.0.push(Problem {
            key: format!("{SECTION}.{key}"),
            problem: problem.into(),
        });
    }

    fn range<T: PartialOrd + std::fmt::Debug>(
        &mut self,
        key: &str,
        v: T,
        r: std::ops::RangeInclusive<T>,
    ) {
        if !r.contains(&v) {
            self.add(key, format!("{v:?} is outside {r:?}"));
        }
    }
}

impl RemoteModelSection {
    /// Checks every value and loads the contract (`base`: the config file's folder).
    pub fn validate(self, base: &Path) -> Result<RemoteConfig, ConfigError> {
        let mut p = Problems::default();
        if let Some(problem) = endpoint_problem(&self.endpoint, self.tls.is_some()) {
            p.add("endpoint", problem);
        }
        // Every file is read and parsed now; each problem keeps nf-tls' key
        // (`remote_model.tls.ca`, ...).
        let tls = match self
            .tls
            .as_ref()
            .map(|t| t.load(nf_tls::Names::Section(TLS_SECTION), base))
        {
            None => None,
            Some(Ok(settings)) => Some(settings),
            Some(Err(problems)) => {
                p.0.extend(problems.into_iter().map(|t| Problem {
                    key: t.key,
                    problem: format!("{}: {}", t.value, t.rule),
                }));
                None
            }
        };
        p.range("deadline_ms", self.deadline_ms, DEADLINE_MS_RANGE);
        p.range(
            "connect_timeout_ms",
            self.connect_timeout_ms,
            CONNECT_TIMEOUT_MS_RANGE,
        );
        p.range("max_batch_rows", self.max_batch_rows, MAX_BATCH_ROWS_RANGE);
        p.range(
            "max_message_bytes",
            self.max_message_bytes,
            MAX_MESSAGE_BYTES_RANGE,
        );
        for (key, value) in [
            ("model_name", &self.model_name),
            ("model_version", &self.model_version),
        ] {
            if value.as_ref().is_some_and(|v| v.trim().is_empty()) {
                p.add(key, "is empty; leave it out to use the contract's");
            }
        }
        let path = if self.contract.is_absolute() {
            self.contract.clone()
        } else {
            base.join(&self.contract)
        };
        let contract = match Contract::load(&path) {
            Ok(c) => c,
            Err(e) if p.0.is_empty() => return Err(ConfigError::Contract(e)),
            Err(e) => {
                p.add("contract", e.to_string());
                return Err(ConfigError::Invalid(p.0));
            }
        };
        check_contract_fits(&self, &contract, &mut p);
        if !p.0.is_empty() {
            return Err(ConfigError::Invalid(p.0));
        }
        Ok(RemoteConfig {
            endpoint: self.endpoint.trim_end_matches('/').to_owned(),
            model_name: self.model_name.unwrap_or_else(|| contract.name.clone()),
            model_version: self
                .model_version
                .unwrap_or_else(|| contract.version.clone()),
            contract,
            deadline: Duration::from_millis(self.deadline_ms),
            connect_timeout: Duration::from_millis(self.connect_timeout_ms),
            max_batch_rows: self.max_batch_rows,
            max_message_bytes: self.max_message_bytes,
            encoding: self.input_encoding,
            tls,
        })
    }
}

/// The client sends FP32 rows and reads FP32 outputs; a full batch must fit a message.
fn check_contract_fits(s: &RemoteModelSection, c: &Contract, p: &mut Problems) {
    if let Some(o) = c
        .outputs
        .iter()
        .find(|o| oip_datatype(&o.dtype) != Some("FP32"))
    {
        p.add(
            "contract",
            format!(
                "output `{}` is {}; the remote client reads float32 outputs only",
                o.name, o.dtype
            ),
        );
    }
    let widest = c.input_row_len().max(c.output_row_len());
    let batch_bytes = s.max_batch_rows.saturating_mul(widest).saturating_mul(4);
    let need = batch_bytes.saturating_add(MESSAGE_OVERHEAD_BYTES);
    if need > s.max_message_bytes && MAX_BATCH_ROWS_RANGE.contains(&s.max_batch_rows) {
        p.add(
            "max_batch_rows",
            format!(
                "{} rows of {widest} float32 values need {need} bytes, more than max_message_bytes = {}",
                s.max_batch_rows, s.max_message_bytes
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(extra: &str) -> Result<RemoteConfig, ConfigError> {
        let text = format!(
            "endpoint = \"http://127.0.0.1:8081\"\n\
             contract = \"models/slice_forecaster/slice_forecaster.contract.toml\"\n{extra}"
        );
        let s: RemoteModelSection = toml::from_str(&text).expect("parses");
        s.validate(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
    }

    fn problems(extra: &str) -> String {
        section(extra).expect_err("refused").to_string()
    }

    #[test]
    fn defaults_come_from_the_contract() {
        let c = section("").expect("valid");
        assert_eq!(c.model_name, "slice-prb-forecaster");
        assert_eq!(c.model_version, "2.0.0");
        assert_eq!(c.deadline, Duration::from_millis(DEFAULT_DEADLINE_MS));
        assert_eq!(c.encoding, Encoding::Raw);
    }

    fn base() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    fn with_endpoint(endpoint: &str, extra: &str) -> Result<RemoteConfig, ConfigError> {
        let text = format!(
            "endpoint = \"{endpoint}\"\n\
             contract = \"models/slice_forecaster/slice_forecaster.contract.toml\"\n{extra}"
        );
        let s: RemoteModelSection = toml::from_str(&text).expect("parses");
        s.validate(&base())
    }

    #[test]
    fn https_needs_the_tls_section_and_the_section_needs_https() {
        use nf_tls::testing::{TestCa, scratch};
        let dir = scratch("oip-config");
        let files = TestCa::new("oip config test").write(&dir, "oip");
        let tls = format!(
            "[tls]\nca = \"{}\"\ncert = \"{}\"\nkey = \"{}\"\n",
            files.ca.display(),
            files.cert.display(),
            files.key.display()
        );
        let shown = with_endpoint("https://oip.example:443", "")
            .expect_err("https without tls")
            .to_string();
        assert!(
            shown.contains("remote_model.endpoint") && shown.contains("needs [remote_model.tls]"),
            "{shown}"
        );
        let shown = with_endpoint("http://oip.example:8081", &tls)
            .expect_err("tls with http")
            .to_string();
        assert!(
            shown.contains("remote_model.endpoint") && shown.contains("no silent cleartext"),
            "{shown}"
        );
        let ok = with_endpoint("https://127.0.0.1:8443", &tls).expect("https with tls");
        let settings = ok.tls.expect("tls settings");
        assert!(settings.presents_certificate());
        assert_eq!(settings.files()[0].key, "remote_model.tls.ca");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn tls_problems_name_their_key() {
        use nf_tls::testing::{TestCa, scratch};
        let dir = scratch("oip-config-bad");
        let files = TestCa::new("oip config test").write(&dir, "oip");
        // A missing CA file, a certificate without its key, and a bad reload interval,
        // reported together with the section's other problems.
        let tls = format!(
            "deadline_ms = 0\n[tls]\nca = \"{}/missing-ca.crt\"\ncert = \"{}\"\nreload_ms = 1\n",
            dir.display(),
            files.cert.display(),
        );
        let err = with_endpoint("https://127.0.0.1:8443", &tls).expect_err("refused");
        let ConfigError::Invalid(problems) = &err else {
            panic!("not a list of problems: {err}");
        };
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        for key in [
            "remote_model.deadline_ms",
            "remote_model.tls.ca",
            "remote_model.tls.cert",
            "remote_model.tls.reload_ms",
        ] {
            assert!(keys.contains(&key), "{key} not named in {keys:?}");
        }
        let ca = problems
            .iter()
            .find(|p| p.key == "remote_model.tls.ca")
            .map(|p| p.problem.clone())
            .unwrap_or_default();
        assert!(
            ca.contains("missing-ca.crt") && ca.contains("cannot be read"),
            "{ca}"
        );
        // A file that is there but holds no certificate is refused by its content.
        std::fs::write(&files.ca, "not a certificate").expect("write");
        let tls = format!("[tls]\nca = \"{}\"\n", files.ca.display());
        let shown = with_endpoint("https://127.0.0.1:8443", &tls)
            .expect_err("refused")
            .to_string();
        assert!(
            shown.contains("remote_model.tls.ca") && shown.contains("no PEM certificate"),
            "{shown}"
        );
        // Unknown keys inside the section are refused by name.
        let text =
            "endpoint = \"https://h:1\"\ncontract = \"x.toml\"\n[tls]\nca = \"a\"\nroots = \"b\"";
        let err = toml::from_str::<RemoteModelSection>(text).expect_err("unknown key");
        assert!(err.to_string().contains("roots"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn every_bad_value_is_named() {
        let shown = problems(
            "deadline_ms = 0\nmax_batch_rows = 0\nmax_message_bytes = 100\nmodel_version = \" \"",
        );
        for key in [
            "remote_model.deadline_ms",
            "remote_model.max_batch_rows",
            "remote_model.max_message_bytes",
            "remote_model.model_version",
        ] {
            assert!(shown.contains(key), "{key} not named in: {shown}");
        }
    }

    #[test]
    fn a_batch_that_cannot_fit_a_message_is_refused() {
        // 4096 rows × 48 floats × 4 bytes + 1 KiB of framing = 787,456 bytes > 65,536.
        let shown = problems("max_batch_rows = 4096\nmax_message_bytes = 65536");
        assert!(
            shown.contains("remote_model.max_batch_rows") && shown.contains("787456"),
            "{shown}"
        );
    }

    #[test]
    fn unknown_keys_and_missing_contracts_are_refused() {
        let text = "endpoint = \"http://h:1\"\ncontract = \"x.toml\"\ndeadline = 5";
        let err = toml::from_str::<RemoteModelSection>(text).expect_err("unknown key");
        assert!(err.to_string().contains("deadline"), "{err}");
        let text = "endpoint = \"http://h:1\"\ncontract = \"/nonexistent/x.toml\"";
        let s: RemoteModelSection = toml::from_str(text).expect("parses");
        let shown = s.validate(Path::new("/")).expect_err("refused").to_string();
        assert!(
            shown.contains("remote_model.contract") && shown.contains("/nonexistent/x.toml"),
            "{shown}"
        );
    }

    #[test]
    fn endpoints_need_a_port_and_nothing_else() {
        let e = |url| endpoint_problem(url, false);
        assert!(e("http://127.0.0.1:8081").is_none());
        assert!(e("http://127.0.0.1:8081/").is_none());
        assert!(e("http://127.0.0.1").is_some());
        assert!(e("http://u@h:1").is_some());
        assert!(e("http://h:1/v2").is_some());
        assert!(e("grpc://h:1").is_some());
        assert!(e("not a url").is_some());
        assert!(endpoint_problem("https://h:443", true).is_none());
        assert!(endpoint_problem("https://h", true).is_some());
    }
}
