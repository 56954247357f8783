//! `[a1]`: A1 policies of slice SLA targets, delivered by the O-RAN SC A1 mediator over RMR
//! (`docs/a1.md`). Checked with the rest of the file; every problem names its key.
//!
//! ```toml
//! [a1]
//! state_file = "/var/lib/slice-xapp/a1-policies.json"   # on a volume that survives restarts
//! # policy_type_id = 21010          # the type shipped in xapps/deploy/oran-sc/
//! # handler_id = "slice-xapp-1"     # default: e2t.app_instance_id; `{ordinal}` replaced
//! # rmr_listen = "0.0.0.0:4560"     # only when ric.transport is not "osc-rmr"
//! # rmr_route_table = "a1.rt"       # idem; else RMR_SEED_RT / RMR_RTG_SVC
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use nf_runtime::a1::A1Config;
use nf_runtime::transport::TransportKind;
use serde::Deserialize;

use super::bounds as b;
use super::problems::{Problems, resolve};

/// `[a1]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct A1Section {
    /// `false` keeps the section in the file without running the handler.
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// The A1 policy type handled.
    #[serde(default = "default_policy_type_id")]
    pub policy_type_id: u64,
    /// JSON file keeping the active instances across restarts (its folder must exist).
    pub state_file: PathBuf,
    /// `handler_id` of the responses (default: `e2t.app_instance_id`); `{ordinal}` is
    /// replaced by the replica's ordinal, as in `e2t.app_instance_id`.
    pub handler_id: Option<String>,
    /// RMR data port of the handler's own endpoint (transports other than `osc-rmr`).
    pub rmr_listen: Option<SocketAddr>,
    /// Static route table of that endpoint (20011 and 20012 to the A1 mediator).
    pub rmr_route_table: Option<PathBuf>,
}

fn enabled() -> bool {
    true
}

fn default_policy_type_id() -> u64 {
    nf_core::a1::DEFAULT_POLICY_TYPE_ID.into()
}

/// The folder of `path` exists (the file itself may not, yet) and `path` is not a folder.
fn check_state_file(written: &Path, resolved: &Path, p: &mut Problems) {
    let value = format!(
        "\"{}\" (resolved to {})",
        written.display(),
        resolved.display()
    );
    let folder = resolved.parent().unwrap_or(Path::new("/"));
    let rule = if resolved.is_dir() {
        "is a folder; name a file in it".to_owned()
    } else if !folder.is_dir() {
        format!("its folder {} does not exist", folder.display())
    } else {
        return;
    };
    p.rule(false, "a1.state_file", value, rule);
}

impl A1Section {
    /// The handler's configuration (`None` when disabled); `transport` decides whether the
    /// handler shares the transport's RMR port or binds its own.
    pub fn check(
        &self,
        base: &Path,
        transport: TransportKind,
        app_instance_id: &str,
        p: &mut Problems,
    ) -> Option<A1Config> {
        if !self.enabled {
            return None;
        }
        p.int(&b::A1_POLICY_TYPE_ID, self.policy_type_id);
        let state_file = resolve(base, &self.state_file);
        check_state_file(&self.state_file, &state_file, p);
        let handler_id = self
            .handler_id
            .clone()
            .unwrap_or_else(|| app_instance_id.to_owned());
        let printable = !handler_id.is_empty()
            && handler_id.len() <= 128
            && handler_id.chars().all(|c| matches!(c, '!'..='~'));
        p.rule(
            printable,
            "a1.handler_id",
            format!("{handler_id:?}"),
            "must be 1..=128 printable ASCII characters without spaces",
        );
        let shared = "is refused with ric.transport = \"osc-rmr\": A1 requests arrive on the transport's RMR port (one RMR port per xApp); route 20011/20012 in ric.osc.rmr_route_table";
        let mut route_table = None;
        if transport == TransportKind::OscRmr {
            if let Some(l) = self.rmr_listen {
                p.rule(false, "a1.rmr_listen", l, shared);
            }
            if let Some(t) = &self.rmr_route_table {
                p.rule(
                    false,
                    "a1.rmr_route_table",
                    format!("{:?}", t.display()),
                    shared,
                );
            }
        } else {
            p.rule(
                self.rmr_listen.is_some(),
                "a1.rmr_listen",
                "none",
                "is required unless ric.transport = \"osc-rmr\" (the A1 mediator reaches the xApp over RMR)",
            );
            if let Some(written) = &self.rmr_route_table {
                let resolved = resolve(base, written);
                p.file("a1.rmr_route_table", written, &resolved);
                route_table = Some(resolved);
            }
        }
        let mut cfg = A1Config::new(state_file);
        cfg.policy_type_id = u32::try_from(self.policy_type_id).unwrap_or_default();
        cfg.handler_id = handler_id;
        cfg.rmr_listen = (transport != TransportKind::OscRmr)
            .then_some(self.rmr_listen)
            .flatten();
        cfg.rmr_route_table = route_table;
        Some(cfg)
    }
}
