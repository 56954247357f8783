//! `[ric]`: which RIC the xApp talks to and how (`transport`, `encoding`, `rc_profile`), the
//! E2 nodes to serve when the RIC cannot list them (`[[ric.nodes]]`), and the O-RAN SC
//! platform (`[ric.osc]`: Subscription Manager, RMR, the callback endpoint).
//!
//! `transport = "osc-rmr"` requires `encoding = "asn1-per"`: behind an O-RAN SC RIC the E2
//! termination hands E2SM bytes through as the E2 node encoded them, and real nodes encode
//! E2SM in ASN.1 aligned PER; the protobuf E2SM exists only between this xApp and its own
//! simulator. It also requires every node to be listed with its KPM and RC RAN function IDs
//! and its E2SM-KPM version (RMR offers an xApp no node list, and the KPM version, which
//! the RAN function OID does not tell, is read from the node's RAN function definition).
//!
//! The choices are read as text so that a value this build does not implement
//! (`osc-rmr`, `asn1-per`) is a named problem beside every other one of the file, not a
//! parse error that hides them.

use nf_core::{CellId, Snssai};
use nf_runtime::e2::{CellInfo, E2Node};
use nf_runtime::transport::osc::{OscConfig, OscNode};
use nf_runtime::transport::{RcProfile, TransportKind, WireEncoding};
use serde::Deserialize;

use super::bounds as b;
use super::problems::Problems;

/// `[ric]`; every key optional (SD-RAN gRPC with protobuf payloads, the node list read
/// from the E2T).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RicSection {
    /// `sdran-grpc` (default) or `osc-rmr`.
    pub transport: Option<String>,
    /// `proto` (default) or `asn1-per`.
    pub encoding: Option<String>,
    /// `oran`, `srsran` or `flexric`: the E2SM-RC dialect; only with `asn1-per`.
    pub rc_profile: Option<String>,
    /// E2 nodes served when the RIC cannot list its own.
    #[serde(default)]
    pub nodes: Vec<NodeSection>,
    /// The O-RAN SC platform; only with `transport = "osc-rmr"`.
    pub osc: Option<OscSection>,
    /// `[ric.tls]`: TLS (mTLS with `cert` and `key`) to the E2T (`sdran-grpc` only);
    /// required by an `https://` `e2t.endpoint`, refused with an `http://` one.
    pub tls: Option<nf_tls::ClientSection>,
}

/// `[ric.osc]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OscSection {
    /// E2 manager `host:port`: each node's RAN function definitions are read from its
    /// `GET /v1/nodeb/{ranName}` (the KPM version decided from them).
    pub e2mgr: Option<String>,
    /// Subscription Manager `host:port` (default: the O-RAN SC service,
    /// `service-ricplt-submgr-http.ricplt:8088`).
    pub submgr: Option<String>,
    /// RMR data port to listen on (default `0.0.0.0:4560`).
    pub rmr_listen: Option<std::net::SocketAddr>,
    /// Static RMR route table (`rte|mtype|host:port` lines); default: `RMR_SEED_RT` and the
    /// routing manager, as librmr reads its environment.
    pub rmr_route_table: Option<std::path::PathBuf>,
    /// Host the Subscription Manager posts notifications to (this xApp's HTTP service).
    pub callback_host: Option<String>,
    /// Port of that HTTP service (default: the port of `metrics.listen`).
    pub callback_http_port: Option<u64>,
    /// RMR port announced to the manager (default: the port of `rmr_listen`).
    pub callback_rmr_port: Option<u64>,
    /// RICrequestID requestor of this xApp's controls.
    #[serde(default = "default_requestor_id")]
    pub requestor_id: u64,
    /// Time limit of one Subscription Manager call [ms].
    #[serde(default = "default_submgr_timeout_ms")]
    pub submgr_timeout_ms: u64,
}

fn default_requestor_id() -> u64 {
    1
}

fn default_submgr_timeout_ms() -> u64 {
    5000
}

/// One `[[ric.nodes]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSection {
    /// The E2 node ID as the RIC names it (O-RAN SC: the RMR `meid`, the RAN name).
    pub id: String,
    #[serde(default)]
    pub cells: Vec<CellSection>,
    /// RAN function ID of E2SM-KPM on the node (O-RAN SC: required).
    pub kpm_function_id: Option<u64>,
    /// RAN function ID of E2SM-RC on the node (O-RAN SC: required).
    pub rc_function_id: Option<u64>,
    /// E2SM-KPM version of the node's RAN function definition: `"v2.03"`, `"v3.00"`,
    /// `"v4.00"` (O-RAN SC: required; the OID is the same for all three).
    pub kpm_version: Option<String>,
    /// E2SM-RC profile of the node (default: `ric.rc_profile`).
    pub rc_profile: Option<String>,
}

/// One `[[ric.nodes.cells]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellSection {
    /// PLMN identity as on the wire: 6 hex digits (`"00f110"`).
    pub plmn: String,
    /// NR cell identity (36 bits).
    pub nci: u64,
    /// S-NSSAIs: `"1"` (SST only) or `"1-000001"` (SST-SD, SD in hex).
    #[serde(default)]
    pub slices: Vec<String>,
    /// DL PRBs of the cell.
    pub prbs: u64,
}

/// The validated `[ric]`.
#[derive(Debug)]
pub struct Ric {
    pub transport: TransportKind,
    pub encoding: WireEncoding,
    pub rc_profile: RcProfile,
    pub nodes: Vec<E2Node>,
    /// The O-RAN SC settings; `callback_http_port` is 0 when it is to follow
    /// `metrics.listen` (filled in by the caller).
    pub osc: OscConfig,
}

impl RicSection {
    /// Checks every key; what is refused is recorded in `p` (defaults stand in for it).
    pub fn check(&self, p: &mut Problems) -> Ric {
        let transport = self.transport(p);
        let encoding = self.encoding(p);
        let rc_profile = self.rc_profile(encoding, p);
        let osc_path = transport == TransportKind::OscRmr;
        if osc_path {
            let rule = "transport = \"osc-rmr\" requires encoding = \"asn1-per\": behind an O-RAN SC RIC the E2SM bytes are the E2 node's own ASN.1 aligned PER, passed through unchanged";
            p.rule(
                encoding == WireEncoding::Asn1Per,
                "ric.encoding",
                format!("{:?}", encoding.name()),
                rule,
            );
            let rule = "transport = \"osc-rmr\" needs the E2 nodes listed: RMR offers an xApp no node list";
            p.rule(!self.nodes.is_empty(), "ric.nodes", "none".to_owned(), rule);
        }
        let mut osc = self.osc_config(osc_path, p);
        let mut nodes = Vec::new();
        for (i, n) in self.nodes.iter().enumerate() {
            let key = format!("ric.nodes[{i}].id");
            if let Err(e) = nf_core::ids::check_node_id(&n.id) {
                p.rule(false, key, format!("{:?}", n.id), e.to_string());
            } else if nodes.iter().any(|m: &E2Node| m.id == n.id) {
                p.rule(false, key, format!("{:?}", n.id), "listed twice");
            }
            let cells = n
                .cells
                .iter()
                .enumerate()
                .filter_map(|(j, c)| c.check(&format!("ric.nodes[{i}].cells[{j}]"), p))
                .collect();
            nodes.push(E2Node {
                id: n.id.clone(),
                cells,
            });
            let need_version = osc_path && osc.e2mgr.is_none();
            if let Some(node) = n.osc_node(i, osc_path, need_version, encoding, p) {
                osc.nodes.push(node);
            }
        }
        Ric {
            transport,
            encoding,
            rc_profile,
            nodes,
            osc,
        }
    }

    /// `[ric.tls]`, its files read and checked (relative paths against `base`); the E2T
    /// gRPC link only: RMR (`osc-rmr`) has no TLS, so the section is refused there rather
    /// than ignored.
    pub fn check_tls(
        &self,
        base: &std::path::Path,
        p: &mut Problems,
    ) -> Option<nf_tls::ClientSettings> {
        let osc = self.transport.as_deref() == Some("osc-rmr");
        let rule = "applies to the sdran-grpc E2T link only: RMR (osc-rmr) has no TLS";
        p.rule(!(osc && self.tls.is_some()), "ric.tls", "present", rule);
        super::client_tls(self.tls.as_ref(), "ric.tls", base, p)
    }

    /// `[ric.osc]`, checked; defaults where it is absent.
    fn osc_config(&self, osc_path: bool, p: &mut Problems) -> OscConfig {
        let mut cfg = OscConfig {
            callback_http_port: 0,
            ..OscConfig::default()
        };
        let Some(o) = &self.osc else {
            let rule = "transport = \"osc-rmr\" needs [ric.osc] with at least callback_host (where the Subscription Manager reaches this xApp)";
            p.rule(!osc_path, "ric.osc", "none".to_owned(), rule);
            return cfg;
        };
        let rule = "applies to transport = \"osc-rmr\" only";
        p.rule(osc_path, "ric.osc", "present".to_owned(), rule);
        if let Some(s) = &o.submgr {
            let ok = s
                .rsplit_once(':')
                .is_some_and(|(h, port)| !h.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0));
            p.rule(ok, "ric.osc.submgr", format!("{s:?}"), "must be host:port");
            cfg.submgr = s.clone();
        }
        if let Some(s) = &o.e2mgr {
            let ok = s
                .rsplit_once(':')
                .is_some_and(|(h, port)| !h.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0));
            p.rule(ok, "ric.osc.e2mgr", format!("{s:?}"), "must be host:port");
            cfg.e2mgr = Some(s.clone());
        }
        if let Some(a) = o.rmr_listen {
            cfg.rmr_listen = a;
        }
        cfg.rmr_route_table = o.rmr_route_table.clone();
        match &o.callback_host {
            Some(h) => {
                let ok = !h.is_empty() && h.len() <= 253 && h.bytes().all(|c| c.is_ascii_graphic());
                let rule = "must be a host name or address, 1 to 253 printable characters";
                p.rule(ok, "ric.osc.callback_host", format!("{h:?}"), rule);
                cfg.callback_host = h.clone();
            }
            None => {
                let rule = "is required: the Subscription Manager posts its notifications there";
                p.rule(false, "ric.osc.callback_host", "none".to_owned(), rule);
            }
        }
        if let Some(v) = o.callback_http_port
            && p.int(&b::CALLBACK_HTTP_PORT, v)
        {
            cfg.callback_http_port = u16::try_from(v).unwrap_or(0);
        }
        if let Some(v) = o.callback_rmr_port
            && p.int(&b::CALLBACK_RMR_PORT, v)
        {
            cfg.callback_rmr_port = u16::try_from(v).ok();
        }
        if p.int(&b::REQUESTOR_ID, o.requestor_id) {
            cfg.requestor_id = u16::try_from(o.requestor_id).unwrap_or(0);
        }
        if p.int(&b::SUBMGR_TIMEOUT_MS, o.submgr_timeout_ms) {
            cfg.submgr_timeouts.request = std::time::Duration::from_millis(o.submgr_timeout_ms);
            cfg.submgr_timeouts.connect =
                cfg.submgr_timeouts.request.min(cfg.submgr_timeouts.connect);
        }
        cfg
    }

    fn transport(&self, p: &mut Problems) -> TransportKind {
        let Some(v) = &self.transport else {
            return TransportKind::SdranGrpc;
        };
        let kind = match v.as_str() {
            "sdran-grpc" => TransportKind::SdranGrpc,
            "osc-rmr" => TransportKind::OscRmr,
            _ => {
                p.rule(
                    false,
                    "ric.transport",
                    format!("{v:?}"),
                    "must be \"sdran-grpc\" or \"osc-rmr\"",
                );
                return TransportKind::SdranGrpc;
            }
        };
        p.rule(
            kind.is_built(),
            "ric.transport",
            format!("{v:?}"),
            "is not built yet in this version: use \"sdran-grpc\"",
        );
        kind
    }

    fn encoding(&self, p: &mut Problems) -> WireEncoding {
        let Some(v) = &self.encoding else {
            return WireEncoding::Proto;
        };
        let enc = match v.as_str() {
            "proto" => WireEncoding::Proto,
            "asn1-per" => WireEncoding::Asn1Per,
            _ => {
                p.rule(
                    false,
                    "ric.encoding",
                    format!("{v:?}"),
                    "must be \"proto\" or \"asn1-per\"",
                );
                return WireEncoding::Proto;
            }
        };
        p.rule(
            enc.is_built(),
            "ric.encoding",
            format!("{v:?}"),
            "is not built yet in this version: use \"proto\"",
        );
        enc
    }

    fn rc_profile(&self, encoding: WireEncoding, p: &mut Problems) -> RcProfile {
        let Some(v) = &self.rc_profile else {
            return RcProfile::Oran;
        };
        let profile = match v.as_str() {
            "oran" => RcProfile::Oran,
            "srsran" => RcProfile::Srsran,
            "flexric" => RcProfile::Flexric,
            _ => {
                let rule = "must be \"oran\", \"srsran\" or \"flexric\"";
                p.rule(false, "ric.rc_profile", format!("{v:?}"), rule);
                return RcProfile::Oran;
            }
        };
        let rule = "applies to ric.encoding = \"asn1-per\" only (protobuf controls have one form)";
        p.rule(
            encoding == WireEncoding::Asn1Per,
            "ric.rc_profile",
            format!("{v:?}"),
            rule,
        );
        profile
    }
}

impl NodeSection {
    /// The node's O-RAN SC and APER settings, checked (required on the O-RAN SC path).
    fn osc_node(
        &self,
        i: usize,
        osc_path: bool,
        need_version: bool,
        encoding: WireEncoding,
        p: &mut Problems,
    ) -> Option<OscNode> {
        let at = |k: &str| format!("ric.nodes[{i}].{k}");
        let mut id = |key: &str, v: Option<u64>, b: &b::Bound| -> Option<u16> {
            match v {
                Some(v) => p
                    .int_at(b, at(key), v)
                    .then(|| u16::try_from(v).ok())
                    .flatten(),
                None => {
                    let rule = "is required with transport = \"osc-rmr\" (the node's RAN function ID, from its E2 setup)";
                    p.rule(!osc_path, at(key), "none".to_owned(), rule);
                    None
                }
            }
        };
        let kpm = id("kpm_function_id", self.kpm_function_id, &b::RAN_FUNCTION_ID);
        let rc = id("rc_function_id", self.rc_function_id, &b::RAN_FUNCTION_ID);
        let kpm_version = match &self.kpm_version {
            Some(v) => {
                let parsed = nf_runtime::transport::osc::KpmVersion::parse(v);
                let rule = "must be \"v2.03\", \"v3.00\" or \"v4.00\" (the version of the node's E2SM-KPM RAN function definition)";
                p.rule(parsed.is_some(), at("kpm_version"), format!("{v:?}"), rule);
                let rule = "applies to ric.encoding = \"asn1-per\" only";
                p.rule(
                    encoding == WireEncoding::Asn1Per,
                    at("kpm_version"),
                    format!("{v:?}"),
                    rule,
                );
                parsed
            }
            None => {
                let rule = "is required with transport = \"osc-rmr\" unless ric.osc.e2mgr is set: the E2SM-KPM version (TimeStamp of 4 or 8 octets) is read from the node's RAN function definition, which the E2 manager serves";
                p.rule(!need_version, at("kpm_version"), "none".to_owned(), rule);
                None
            }
        };
        let rc_profile = self.rc_profile.as_ref().and_then(|v| {
            let parsed = v.parse::<RcProfile>();
            let rule = "must be \"oran\", \"srsran\" or \"flexric\"";
            p.rule(parsed.is_ok(), at("rc_profile"), format!("{v:?}"), rule);
            let rule = "applies to ric.encoding = \"asn1-per\" only";
            p.rule(
                encoding == WireEncoding::Asn1Per,
                at("rc_profile"),
                format!("{v:?}"),
                rule,
            );
            parsed.ok()
        });
        let any = kpm.is_some() || rc.is_some() || kpm_version.is_some() || rc_profile.is_some();
        any.then(|| OscNode {
            meid: self.id.clone(),
            kpm_function_id: kpm.unwrap_or(0),
            rc_function_id: rc.unwrap_or(0),
            kpm_version,
            rc_profile,
        })
    }
}

impl CellSection {
    fn check(&self, at: &str, p: &mut Problems) -> Option<CellInfo> {
        let plmn = parse_plmn(&self.plmn);
        if plmn.is_none() {
            let rule = "must be 6 hex digits, the PLMN identity as on the wire (e.g. \"00f110\")";
            p.rule(
                false,
                format!("{at}.plmn"),
                format!("{:?}", self.plmn),
                rule,
            );
        }
        let nci_ok = p.int_at(&b::NCI, format!("{at}.nci"), self.nci);
        let prbs_ok = p.int_at(&b::CELL_PRBS, format!("{at}.prbs"), self.prbs);
        let mut slices = Vec::new();
        for (k, s) in self.slices.iter().enumerate() {
            match parse_snssai(s) {
                Some(v) if slices.contains(&v) => {
                    p.rule(
                        false,
                        format!("{at}.slices[{k}]"),
                        format!("{s:?}"),
                        "listed twice",
                    );
                }
                Some(v) => slices.push(v),
                None => {
                    let rule = "must be \"SST\" or \"SST-SD\" (SST 0..=255, SD 6 hex digits)";
                    p.rule(false, format!("{at}.slices[{k}]"), format!("{s:?}"), rule);
                }
            }
        }
        let (plmn, true, true) = (plmn?, nci_ok, prbs_ok) else {
            return None;
        };
        Some(CellInfo {
            cell: CellId::new(plmn, self.nci),
            slices,
            prb_total_dl: u32::try_from(self.prbs).ok()?,
        })
    }
}

/// `"00f110"` → `[0x00, 0xf1, 0x10]`.
fn parse_plmn(s: &str) -> Option<[u8; 3]> {
    if s.len() != 6 || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let byte = |i: usize| u8::from_str_radix(&s[i..i + 2], 16).ok();
    Some([byte(0)?, byte(2)?, byte(4)?])
}

/// `"1"` or `"1-000001"` (as the runtime prints an S-NSSAI).
fn parse_snssai(s: &str) -> Option<Snssai> {
    let (sst, sd) = match s.split_once('-') {
        Some((sst, sd)) => (sst, Some(sd)),
        None => (s, None),
    };
    if sst.is_empty() || !sst.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let sst = sst.parse::<u8>().ok()?;
    let sd = match sd {
        None => None,
        Some(sd) if sd.len() == 6 && sd.bytes().all(|c| c.is_ascii_hexdigit()) => {
            Some(u32::from_str_radix(sd, 16).ok()?)
        }
        Some(_) => return None,
    };
    Some(Snssai::new(sst, sd))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> (Ric, Vec<String>) {
        let s: RicSection = toml::from_str(text).unwrap();
        let mut p = Problems::default();
        let ric = s.check(&mut p);
        (ric, p.iter().map(|x| x.to_string()).collect())
    }

    #[test]
    fn defaults_are_sdran_grpc_with_protobuf_payloads() {
        let (ric, problems) = check("");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(ric.transport, TransportKind::SdranGrpc);
        assert_eq!(ric.encoding, WireEncoding::Proto);
        assert!(ric.nodes.is_empty());
    }

    #[test]
    fn bad_choices_are_refused_by_name() {
        let (_, problems) = check("transport = \"rmr\"\nencoding = \"per\"\nrc_profile = \"x\"\n");
        assert_eq!(problems.len(), 3, "{problems:?}");
        let (_, problems) = check("rc_profile = \"srsran\"\n");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("asn1-per"), "{problems:?}");
    }

    const OSC: &str = r#"
        transport = "osc-rmr"
        encoding = "asn1-per"
        rc_profile = "srsran"
        [osc]
        submgr = "127.0.0.1:8088"
        rmr_listen = "127.0.0.1:4560"
        callback_host = "xapp.ricxapp"
        callback_http_port = 8080
        requestor_id = 1001
        [[nodes]]
        id = "gnb-1"
        kpm_function_id = 2
        rc_function_id = 3
        kpm_version = "v3.00"
        [[nodes.cells]]
        plmn = "00f110"
        nci = 1
        slices = ["1-000001"]
        prbs = 106
        [[nodes]]
        id = "gnb-2"
        kpm_function_id = 2
        rc_function_id = 3
        kpm_version = "v2.03"
        rc_profile = "flexric"
    "#;

    #[test]
    fn the_osc_path_is_read_with_each_nodes_functions_version_and_profile() {
        let (ric, problems) = check(OSC);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(ric.transport, TransportKind::OscRmr);
        assert_eq!(ric.encoding, WireEncoding::Asn1Per);
        assert_eq!(ric.rc_profile, RcProfile::Srsran);
        let o = &ric.osc;
        assert_eq!(o.submgr, "127.0.0.1:8088");
        assert_eq!(o.callback_host, "xapp.ricxapp");
        assert_eq!(o.callback_http_port, 8080);
        assert_eq!(o.requestor_id, 1001);
        assert_eq!(o.nodes.len(), 2);
        assert_eq!(o.nodes[0].kpm_function_id, 2);
        assert_eq!(o.nodes[0].rc_function_id, 3);
        assert_eq!(
            o.nodes[0].kpm_version,
            Some(nf_runtime::transport::osc::KpmVersion::V3_00)
        );
        assert_eq!(o.nodes[0].rc_profile, None);
        assert_eq!(
            o.nodes[1].kpm_version,
            Some(nf_runtime::transport::osc::KpmVersion::V2_03)
        );
        assert_eq!(o.nodes[1].rc_profile, Some(RcProfile::Flexric));
    }

    #[test]
    fn the_osc_path_names_each_missing_or_wrong_key() {
        let (_, problems) = check(
            &OSC.replace("encoding = \"asn1-per\"", "encoding = \"proto\"")
                .replace("rc_profile = \"srsran\"\n", ""),
        );
        assert!(
            keys(&problems).contains(&"ric.encoding".to_owned()),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("requires encoding = \"asn1-per\"")),
            "{problems:?}"
        );
        let (_, problems) = check(
            r#"
            transport = "osc-rmr"
            encoding = "asn1-per"
            [osc]
            submgr = "nowhere"
            requestor_id = 70000
            [[nodes]]
            id = "gnb-1"
            kpm_function_id = 5000
            kpm_version = "v9"
            "#,
        );
        assert_eq!(
            keys(&problems),
            [
                "ric.osc.submgr",
                "ric.osc.callback_host",
                "ric.osc.requestor_id",
                "ric.nodes[0].kpm_function_id",
                "ric.nodes[0].rc_function_id",
                "ric.nodes[0].kpm_version",
            ],
            "{problems:?}"
        );
        let with_e2mgr = OSC
            .replace("kpm_version = \"v3.00\"\n", "")
            .replace("[osc]\n", "[osc]\n        e2mgr = \"127.0.0.1:3800\"\n");
        let (ric, problems) = check(&with_e2mgr);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(ric.osc.e2mgr.as_deref(), Some("127.0.0.1:3800"));
        assert_eq!(ric.osc.nodes[0].kpm_version, None);
        let (_, problems) = check("transport = \"osc-rmr\"\nencoding = \"asn1-per\"\n");
        assert_eq!(keys(&problems), ["ric.nodes", "ric.osc"], "{problems:?}");
        let (_, problems) = check("[osc]\ncallback_host = \"x\"\n");
        assert_eq!(keys(&problems), ["ric.osc"], "{problems:?}");
    }

    fn keys(problems: &[String]) -> Vec<String> {
        problems
            .iter()
            .map(|p| p.split('`').nth(1).unwrap_or_default().to_owned())
            .collect()
    }

    #[test]
    fn configured_nodes_become_e2_nodes_and_bad_cells_are_named() {
        let (ric, problems) = check(
            r#"
            [[nodes]]
            id = "gnb-1"
            [[nodes.cells]]
            plmn = "00f110"
            nci = 1
            slices = ["1-000001", "2"]
            prbs = 106
            "#,
        );
        assert!(problems.is_empty(), "{problems:?}");
        let cell = &ric.nodes[0].cells[0];
        assert_eq!(cell.cell, CellId::new([0x00, 0xf1, 0x10], 1));
        assert_eq!(
            cell.slices,
            vec![Snssai::new(1, Some(1)), Snssai::new(2, None)]
        );
        assert_eq!(cell.prb_total_dl, 106);
        let (_, problems) = check(
            r#"
            [[nodes]]
            id = "gnb-1"
            [[nodes.cells]]
            plmn = "0f110"
            nci = 68719476736
            slices = ["1-1", "x"]
            prbs = 0
            [[nodes]]
            id = "gnb-1"
            "#,
        );
        let keys: Vec<&str> = problems
            .iter()
            .map(|p| p.split('`').nth(1).unwrap_or_default())
            .collect();
        assert_eq!(
            keys,
            [
                "ric.nodes[0].cells[0].plmn",
                "ric.nodes[0].cells[0].nci",
                "ric.nodes[0].cells[0].prbs",
                "ric.nodes[0].cells[0].slices[0]",
                "ric.nodes[0].cells[0].slices[1]",
                "ric.nodes[1].id",
            ],
            "{problems:?}"
        );
    }
}
