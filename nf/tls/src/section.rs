//! The TLS sections of the configuration files, one shape everywhere they appear, and
//! their validation: every file read and parsed before anything starts, every problem
//! named by its key.
//!
//! Client (`[ric.tls]` for the E2T link, `[conflict.tls]` for the conflict manager):
//!
//! ```toml
//! [ric.tls]
//! ca = "/etc/airan/tls/ca.crt"        # the CA the server's certificate must chain to (pinned)
//! cert = "/etc/airan/tls/tls.crt"     # optional, with key: client certificate (mTLS)
//! key = "/etc/airan/tls/tls.key"
//! server_name = "onos-e2t"            # optional: the name verified (default: the endpoint host)
//! reload_ms = 5000                    # optional: how often the files are looked at
//! ```
//!
//! Server (`[tls]` of `conflict-mgr`; `e2sim --tls-cert --tls-key --tls-client-ca`):
//!
//! ```toml
//! [tls]
//! cert = "/etc/airan/tls/tls.crt"
//! key = "/etc/airan/tls/tls.key"
//! client_ca = "/etc/airan/tls/ca.crt" # optional: client certificates required (mTLS)
//! reload_ms = 5000
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustls::{ClientConfig, ServerConfig};
use rustls_pki_types::ServerName;
use serde::Deserialize;

use crate::live::{FileProblem, FileRef, Loaded};
use crate::material::{self, ClientPem, Fault, ServerPem};

/// Default of `reload_ms`.
pub const DEFAULT_RELOAD_MS: u64 = 5_000;
/// Bounds of `reload_ms`: 100 ms to one hour.
pub const RELOAD_MS: std::ops::RangeInclusive<u64> = 100..=3_600_000;

fn default_reload_ms() -> u64 {
    DEFAULT_RELOAD_MS
}

/// A TLS client section (`[ric.tls]`, `[conflict.tls]`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ClientSection {
    /// PEM file of the CA (or CAs) the server's certificate must chain to: the only trust
    /// anchors (no system or webpki roots).
    pub ca: PathBuf,
    /// PEM certificate chain presented to the server (mTLS); requires `key`.
    pub cert: Option<PathBuf>,
    /// PEM private key of `cert`; requires `cert`.
    pub key: Option<PathBuf>,
    /// Name the server's certificate is verified against (default: the endpoint's host).
    pub server_name: Option<String>,
    /// How often the files are looked at for a change [ms].
    #[serde(default = "default_reload_ms")]
    pub reload_ms: u64,
}

/// A TLS server section (`[tls]` of `conflict-mgr`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// PEM certificate chain of the server.
    pub cert: PathBuf,
    /// PEM private key of `cert`.
    pub key: PathBuf,
    /// PEM file of the CA client certificates must chain to: set, every client must
    /// present one (mTLS); unset, clients are not asked for one.
    pub client_ca: Option<PathBuf>,
    /// How often the files are looked at for a change [ms].
    #[serde(default = "default_reload_ms")]
    pub reload_ms: u64,
}

/// One refused value of a TLS section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The key as written (`ric.tls.ca`, `--tls-cert`).
    pub key: String,
    /// The value as written (a file: also where it resolved to).
    pub value: String,
    /// What is wrong with it.
    pub rule: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` = {}: {}", self.key, self.value, self.rule)
    }
}

impl std::error::Error for Problem {}

/// How the keys of a section are named in messages: `[ric.tls]` names `ca` `ric.tls.ca`.
#[derive(Clone, Copy, Debug)]
pub enum Names<'a> {
    /// A TOML section: `prefix.key`.
    Section(&'a str),
    /// Command-line flags: `--tls-key` (underscores as dashes).
    Flags,
}

impl Names<'_> {
    pub fn key(&self, key: &str) -> String {
        match self {
            Names::Section(prefix) => format!("{prefix}.{key}"),
            Names::Flags => format!("--tls-{}", key.replace('_', "-")),
        }
    }
}

fn file_value(written: &Path, resolved: &Path) -> String {
    if written == resolved {
        format!("\"{}\"", written.display())
    } else {
        format!(
            "\"{}\" (resolved to {})",
            written.display(),
            resolved.display()
        )
    }
}

/// Collects the problems of one section.
struct Check<'a> {
    names: Names<'a>,
    base: &'a Path,
    problems: Vec<Problem>,
    /// Written path of every file, by the key of its `FileRef`.
    written: Vec<(String, PathBuf)>,
}

impl<'a> Check<'a> {
    fn new(names: Names<'a>, base: &'a Path) -> Self {
        Self {
            names,
            base,
            problems: Vec::new(),
            written: Vec::new(),
        }
    }

    fn rule(&mut self, ok: bool, key: &str, value: impl fmt::Display, rule: impl Into<String>) {
        if !ok {
            self.problems.push(Problem {
                key: self.names.key(key),
                value: value.to_string(),
                rule: rule.into(),
            });
        }
    }

    fn file(&mut self, key: &str, written: &Path) -> FileRef {
        let key = self.names.key(key);
        let path = self.base.join(written);
        self.written.push((key.clone(), written.to_path_buf()));
        // Every unreadable file is named, not only the first.
        let rule = match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => None,
            Ok(_) => Some("is not a file".to_owned()),
            Err(e) => Some(format!("cannot be read: {e}")),
        };
        if let Some(rule) = rule {
            self.problems.push(Problem {
                key: key.clone(),
                value: file_value(written, &path),
                rule,
            });
        }
        FileRef { key, path }
    }

    /// Reads and builds, unless a file is already refused.
    fn load<T>(
        &mut self,
        files: Vec<FileRef>,
        build: crate::live::Build<T>,
        every: Duration,
    ) -> Option<Loaded<T>> {
        if !self.problems.is_empty() {
            return None;
        }
        match Loaded::load(files, build, every) {
            Ok(l) => Some(l),
            Err(p) => {
                self.file_problem(p);
                None
            }
        }
    }

    fn reload(&mut self, ms: u64) -> Duration {
        self.rule(
            RELOAD_MS.contains(&ms),
            "reload_ms",
            ms,
            format!("must be in {}..={}", RELOAD_MS.start(), RELOAD_MS.end()),
        );
        Duration::from_millis(ms)
    }

    fn file_problem(&mut self, p: FileProblem) {
        let written = self
            .written
            .iter()
            .find(|(k, _)| *k == p.key)
            .map_or_else(|| p.path.clone(), |(_, w)| w.clone());
        self.problems.push(Problem {
            value: file_value(&written, &p.path),
            key: p.key,
            rule: p.error.to_string(),
        });
    }

    fn finish<T>(self, r: Option<T>) -> Result<T, Vec<Problem>> {
        match r {
            Some(t) if self.problems.is_empty() => Ok(t),
            _ => Err(self.problems),
        }
    }
}

/// A validated client section: its files read and parsed once, ready to connect with
/// ([`crate::ClientTls::new`]).
#[derive(Clone)]
pub struct ClientSettings {
    pub(crate) loaded: Loaded<ClientConfig>,
    pub(crate) server_name: Option<ServerName<'static>>,
}

impl fmt::Debug for ClientSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSettings")
            .field("files", &self.loaded.files)
            .field("server_name", &self.server_name)
            .field("reload", &self.loaded.every)
            .finish()
    }
}

/// Same files, name and reload interval.
impl PartialEq for ClientSettings {
    fn eq(&self, other: &Self) -> bool {
        self.loaded.files == other.loaded.files
            && self.loaded.every == other.loaded.every
            && self.server_name == other.server_name
    }
}

impl ClientSettings {
    /// Whether the client presents a certificate (mTLS).
    pub fn presents_certificate(&self) -> bool {
        self.loaded.files.len() == 3
    }

    pub fn files(&self) -> &[FileRef] {
        &self.loaded.files
    }
}

fn build_client(files: &[FileRef], b: &[Vec<u8>]) -> Result<ClientConfig, Fault> {
    let identity =
        (files.len() == 3).then(|| ((1, &b[1][..]), (2, &b[2][..]), files[1].key.as_str()));
    material::client_config(ClientPem {
        ca: (0, &b[0]),
        identity,
    })
}

impl ClientSection {
    /// Checks the section and reads its files (relative paths against `base`); every
    /// problem named by its key.
    pub fn load(&self, names: Names<'_>, base: &Path) -> Result<ClientSettings, Vec<Problem>> {
        let mut c = Check::new(names, base);
        let every = c.reload(self.reload_ms);
        let server_name = self.server_name.as_ref().and_then(|n| {
            let parsed = ServerName::try_from(n.clone()).ok();
            c.rule(
                parsed.is_some(),
                "server_name",
                format!("{n:?}"),
                "must be a DNS name or an IP address",
            );
            parsed
        });
        let ca = c.file("ca", &self.ca);
        let mut files = vec![ca];
        match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => {
                files.push(c.file("cert", cert));
                files.push(c.file("key", key));
            }
            (Some(cert), None) => c.rule(
                false,
                "cert",
                file_value(cert, &base.join(cert)),
                format!(
                    "needs `{}` (the certificate's private key)",
                    names.key("key")
                ),
            ),
            (None, Some(key)) => c.rule(
                false,
                "key",
                file_value(key, &base.join(key)),
                format!(
                    "needs `{}` (the certificate it signs for)",
                    names.key("cert")
                ),
            ),
            (None, None) => {}
        }
        let loaded = c.load(files, build_client, every);
        let settings = loaded.map(|loaded| ClientSettings {
            loaded,
            server_name,
        });
        c.finish(settings)
    }
}

/// A validated server section: its files read and parsed once, ready to serve with
/// ([`crate::ServerTls::new`]).
#[derive(Clone)]
pub struct ServerSettings {
    pub(crate) loaded: Loaded<ServerConfig>,
}

impl fmt::Debug for ServerSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerSettings")
            .field("files", &self.loaded.files)
            .field("reload", &self.loaded.every)
            .finish()
    }
}

/// Same files and reload interval.
impl PartialEq for ServerSettings {
    fn eq(&self, other: &Self) -> bool {
        self.loaded.files == other.loaded.files && self.loaded.every == other.loaded.every
    }
}

impl ServerSettings {
    /// Whether clients must present a certificate (mTLS).
    pub fn requires_client_certificate(&self) -> bool {
        self.loaded.files.len() == 3
    }

    pub fn files(&self) -> &[FileRef] {
        &self.loaded.files
    }
}

fn build_server(files: &[FileRef], b: &[Vec<u8>]) -> Result<ServerConfig, Fault> {
    material::server_config(ServerPem {
        cert: (0, &b[0]),
        key: (1, &b[1]),
        cert_key: &files[0].key,
        client_ca: (files.len() == 3).then(|| (2, &b[2][..])),
    })
}

impl ServerSection {
    /// Checks the section and reads its files (relative paths against `base`).
    pub fn load(&self, names: Names<'_>, base: &Path) -> Result<ServerSettings, Vec<Problem>> {
        let mut c = Check::new(names, base);
        let every = c.reload(self.reload_ms);
        let mut files = vec![c.file("cert", &self.cert), c.file("key", &self.key)];
        if let Some(ca) = &self.client_ca {
            files.push(c.file("client_ca", ca));
        }
        let loaded = c.load(files, build_server, every);
        c.finish(loaded.map(|loaded| ServerSettings { loaded }))
    }
}
