//! The manager's TOML configuration: unknown keys refused, validated before anything starts.
//!
//! ```toml
//! listen = "127.0.0.1:7070"          # gRPC (default 127.0.0.1:7070)
//! http_listen = "127.0.0.1:7071"     # /metrics and /health (optional)
//!
//! [xapps]                             # name (RIC app id) = priority; higher wins
//! slice-xapp = 10
//! interference-xapp = 5
//!
//! [parameters.slice_prb_quota]        # lease a grant gives, guard window after it [ms]
//! lease_ms = 5000
//! guard_ms = 2000
//! [parameters.handover]
//! lease_ms = 1000
//! guard_ms = 10000
//!
//! [indirect]
//! policy = "count"                    # or "deny-lower-priority"
//! window_ms = 5000
//!
//! [implicit]
//! window_ms = 10000
//! min_change = 0.2
//!
//! [limits]
//! max_leases = 100000
//! max_cells = 100000
//! max_recent = 256
//!
//! [tls]                               # optional: gRPC over TLS (nf_tls::ServerSection)
//! cert = "/etc/airan/tls/tls.crt"
//! key = "/etc/airan/tls/tls.key"
//! client_ca = "/etc/airan/tls/ca.crt" # optional: client certificates required (mTLS)
//! ```
//!
//! Relative paths are resolved against the configuration file's folder.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use nf_core::conflict::{IndirectPolicy, ManagerConfig, Windows};
use serde::Deserialize;

/// Default gRPC listen address: loopback only (the guidance service has no authentication;
/// expose it to the cluster deliberately).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7070";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    pub http_listen: Option<SocketAddr>,
    pub xapps: BTreeMap<String, u32>,
    #[serde(default)]
    pub parameters: ParametersSection,
    #[serde(default)]
    pub indirect: IndirectSection,
    #[serde(default)]
    pub implicit: ImplicitSection,
    #[serde(default)]
    pub limits: LimitsSection,
    /// gRPC over TLS; absent: cleartext (keep it on loopback or a trusted network).
    pub tls: Option<nf_tls::ServerSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParametersSection {
    pub slice_prb_quota: Option<WindowsSection>,
    pub handover: Option<WindowsSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowsSection {
    pub lease_ms: u64,
    pub guard_ms: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndirectSection {
    pub policy: Option<IndirectPolicy>,
    pub window_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImplicitSection {
    pub window_ms: Option<u64>,
    pub min_change: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    pub max_leases: Option<usize>,
    pub max_cells: Option<usize>,
    pub max_recent: Option<usize>,
}

/// The validated configuration of a manager.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub listen: SocketAddr,
    pub http_listen: Option<SocketAddr>,
    pub manager: ManagerConfig,
    /// TLS of the gRPC listener (`[tls]`), its files read and checked.
    pub tls: Option<nf_tls::ServerSettings>,
}

impl Config {
    /// Loopback listeners on free ports and `manager` (tests).
    pub fn local(manager: ManagerConfig) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            http_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            manager,
            tls: None,
        }
    }

    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new(""));
        let base = std::path::absolute(base).unwrap_or_else(|_| base.to_path_buf());
        Self::parse_at(&text, &base).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses and validates; the error names the bad key. Relative TLS paths resolve
    /// against the working directory.
    pub fn parse(text: &str) -> Result<Self, String> {
        Self::parse_at(text, Path::new(""))
    }

    /// Parses and validates, relative TLS paths resolved against `base`.
    pub fn parse_at(text: &str, base: &Path) -> Result<Self, String> {
        let f: FileConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        let d = ManagerConfig::default();
        let w = |s: Option<WindowsSection>, d: Windows| {
            s.map_or(d, |s| Windows {
                lease_ms: s.lease_ms,
                guard_ms: s.guard_ms,
            })
        };
        let manager = ManagerConfig {
            xapps: f.xapps,
            slice_prb_quota: w(f.parameters.slice_prb_quota, d.slice_prb_quota),
            handover: w(f.parameters.handover, d.handover),
            indirect: f.indirect.policy.unwrap_or(d.indirect),
            indirect_window_ms: f.indirect.window_ms.unwrap_or(d.indirect_window_ms),
            implicit_window_ms: f.implicit.window_ms.unwrap_or(d.implicit_window_ms),
            implicit_min_change: f.implicit.min_change.unwrap_or(d.implicit_min_change),
            max_leases: f.limits.max_leases.unwrap_or(d.max_leases),
            max_cells: f.limits.max_cells.unwrap_or(d.max_cells),
            max_recent: f.limits.max_recent.unwrap_or(d.max_recent),
        };
        // Keys as the file spells them.
        manager.validate().map_err(|e| {
            e.replace("indirect_window_ms", "indirect.window_ms")
                .replace("implicit_window_ms", "implicit.window_ms")
                .replace("implicit_min_change", "implicit.min_change")
                .replace("max_", "limits.max_")
        })?;
        let listen = match f.listen {
            Some(l) => l,
            None => DEFAULT_LISTEN.parse().map_err(|_| "listen".to_owned())?,
        };
        let tls = match &f.tls {
            None => None,
            Some(t) => Some(
                t.load(nf_tls::Names::Section("tls"), base)
                    .map_err(|problems| {
                        problems
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("; ")
                    })?,
            ),
        };
        Ok(Self {
            listen,
            http_listen: f.http_listen,
            manager,
            tls,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[xapps]
slice-xapp = 10
interference-xapp = 5
[parameters.handover]
lease_ms = 500
guard_ms = 3000
[indirect]
policy = "deny-lower-priority"
"#;

    #[test]
    fn parses_with_defaults() {
        let c = Config::parse(GOOD).expect("valid");
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.manager.xapps["slice-xapp"], 10);
        assert_eq!(c.manager.handover.lease_ms, 500);
        assert_eq!(c.manager.slice_prb_quota.lease_ms, 5_000);
        assert_eq!(c.manager.indirect, IndirectPolicy::DenyLowerPriority);
    }

    #[test]
    fn refuses_unknown_keys_and_bad_values_by_name() {
        let e = Config::parse(&format!("{GOOD}\n[limits]\nmax_lease = 3\n")).unwrap_err();
        assert!(e.contains("max_lease"), "{e}");
        let e = Config::parse(&format!("{GOOD}\n[limits]\nmax_recent = 0\n")).unwrap_err();
        assert!(e.contains("limits.max_recent"), "{e}");
        let e = Config::parse(&format!("{GOOD}\n[implicit]\nwindow_ms = 99999999\n")).unwrap_err();
        assert!(e.contains("implicit.window_ms"), "{e}");
        let e = Config::parse("[xapps]\n").unwrap_err();
        assert!(e.contains("xapps"), "{e}");
        let e = Config::parse("listen = \"nowhere\"\n[xapps]\na = 1\n").unwrap_err();
        assert!(e.contains("listen"), "{e}");
    }
}
