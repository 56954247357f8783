//! `[ric]`: which RIC the xApp talks to and how (`transport`, `encoding`, `rc_profile`), and
//! the E2 nodes to serve when the RIC cannot list them (`[[ric.nodes]]`).
//!
//! The choices are read as text so that a value this build does not implement
//! (`osc-rmr`, `asn1-per`) is a named problem beside every other one of the file, not a
//! parse error that hides them.

use nf_core::{CellId, Snssai};
use nf_runtime::e2::{CellInfo, E2Node};
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
}

/// One `[[ric.nodes]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSection {
    /// The E2 node ID as the RIC names it.
    pub id: String,
    #[serde(default)]
    pub cells: Vec<CellSection>,
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
}

impl RicSection {
    /// Checks every key; what is refused is recorded in `p` (defaults stand in for it).
    pub fn check(&self, p: &mut Problems) -> Ric {
        let transport = self.transport(p);
        let encoding = self.encoding(p);
        let rc_profile = self.rc_profile(encoding, p);
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
        }
        Ric {
            transport,
            encoding,
            rc_profile,
            nodes,
        }
    }

    fn transport(&self, p: &mut Problems) -> TransportKind {
        let Some(v) = &self.transport else {
            return TransportKind::SdranGrpc;
        };
        let kind = match v.as_str() {
            "sdran-grpc" => TransportKind::SdranGrpc,
            "osc-rmr" => TransportKind::OscRmr,
            _ => {
                p.rule(false, "ric.transport", format!("{v:?}"), "must be \"sdran-grpc\" or \"osc-rmr\"");
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
                p.rule(false, "ric.encoding", format!("{v:?}"), "must be \"proto\" or \"asn1-per\"");
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
        p.rule(encoding == WireEncoding::Asn1Per, "ric.rc_profile", format!("{v:?}"), rule);
        profile
    }
}

impl CellSection {
    fn check(&self, at: &str, p: &mut Problems) -> Option<CellInfo> {
        let plmn = parse_plmn(&self.plmn);
        if plmn.is_none() {
            let rule = "must be 6 hex digits, the PLMN identity as on the wire (e.g. \"00f110\")";
            p.rule(false, format!("{at}.plmn"), format!("{:?}", self.plmn), rule);
        }
        let nci_ok = p.int_at(&b::NCI, format!("{at}.nci"), self.nci);
        let prbs_ok = p.int_at(&b::CELL_PRBS, format!("{at}.prbs"), self.prbs);
        let mut slices = Vec::new();
        for (k, s) in self.slices.iter().enumerate() {
            match parse_snssai(s) {
                Some(v) if slices.contains(&v) => {
                    p.rule(false, format!("{at}.slices[{k}]"), format!("{s:?}"), "listed twice");
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
    fn what_is_not_built_is_refused_by_name() {
        let (_, problems) = check(
            "transport = \"osc-rmr\"\nencoding = \"asn1-per\"\nrc_profile = \"srsran\"\n",
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("`ric.transport` = \"osc-rmr\": is not built yet"));
        assert!(problems[1].starts_with("`ric.encoding` = \"asn1-per\": is not built yet"));
        let (_, problems) = check("transport = \"rmr\"\nencoding = \"per\"\nrc_profile = \"x\"\n");
        assert_eq!(problems.len(), 3, "{problems:?}");
        let (_, problems) = check("rc_profile = \"srsran\"\n");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("asn1-per"), "{problems:?}");
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
        assert_eq!(cell.slices, vec![Snssai::new(1, Some(1)), Snssai::new(2, None)]);
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
