//! The simulator's O-RAN SC face: the simulated E2 nodes behind an O-RAN SC near-RT RIC,
//! as an xApp of that RIC sees them.
//!
//! - **E2 termination over RMR** ([`nf_rmr::RmrEndpoint`]): indications go to the xApp as
//!   RMR mtype 12050 (`RIC_INDICATION`) with `sub_id` = the subscription's
//!   `E2EventInstanceId` and `meid` = the E2 node's RAN name, routed by the route table
//!   (a static `RMR_SEED_RT` table, tables pushed on the control port, or, with
//!   [`OscConfig::xapp_rmr`], one `mse|12050|<sub_id>|<xapp>` entry per subscription as
//!   the routing manager pushes them). Controls arrive as 12040 (`RIC_CONTROL_REQ`) and are
//!   answered by return to sender with 12041 (`RIC_CONTROL_ACK`) or 12042
//!   (`RIC_CONTROL_FAILURE`). Health checks (100) are answered by the endpoint.
//! - **Subscription Manager** ([`crate::osc::submgr::SubMgrServer`]): the REST API xApps
//!   subscribe with; its E2 side is this module ([`E2Side`]).
//! - **E2 manager** ([`nodeb`]): `GET /v1/nodeb/states` and `GET /v1/nodeb/{ranName}` with
//!   the RAN functions of each node's E2 setup (KPM and RC definitions, APER, hex).
//!
//! All payloads are aligned PER: E2AP v02.03 ([`e2_asn1::e2ap`]), E2SM-KPM v03.00 by default (8-byte
//! NTP timestamps) or v02.03 for nodes listed in [`OscConfig::kpm_v2_nodes`] (4-byte
//! timestamps: the version-skew case), E2SM-RC v05.00 decoded with each node's RAN
//! parameter-ID profile ([`RcProfile`], srsRAN's by default). Control validation, recording
//! and round-trip timing are the simulator's shared ones ([`Sim::apply_quotas`],
//! [`Sim::account_control`]). Everything refused is counted by a bounded reason
//! ([`OscRic::refusals`]).

pub mod nodeb;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};

use e2_asn1::e2ap::{self, E2apError, E2apMessage, IndicationType, RicRequestId};
use e2_asn1::generated::e2ap_v02_03::e2_ap_ies::{CauseMisc, CauseProtocol, CauseRICrequest};
use e2_asn1::kpm::{self, KpmVersion};
use e2_asn1::rc::{self, RcAperError, RcProfile};
use e2_proto::cause::E2Cause;
use e2_proto::record::{RecordedIndication, record_entry};
use nf_core::policy::SliceQuota;
use nf_osc::submgr::{ActionToBeSetup, ActionType, ErrorSource};
use nf_rmr::mtype::{RIC_CONTROL_ACK, RIC_CONTROL_FAILURE, RIC_CONTROL_REQ, RIC_INDICATION};
use nf_rmr::{Message, RmrConfig, RmrEndpoint, RouteTable};
use tokio::sync::{mpsc, watch};

use super::replay::{Delivery, Payload, Replay, Report, ReportSink};
use super::{PLMN, Sim};
use crate::osc::submgr::{Cause, E2Side, SubMgrServer, SubMgrServerConfig};

/// RAN function ID of E2SM-KPM on every simulated node (as srsRAN's gNB numbers it).
pub const KPM_RAN_FUNCTION_ID: u16 = 2;
/// RAN function ID of E2SM-RC on every simulated node.
pub const RC_RAN_FUNCTION_ID: u16 = 3;
/// `ricRequestorID` of the RICrequestID the simulated RIC puts in subscriptions (the
/// O-RAN SC Subscription Manager uses one fixed requestor); `ricInstanceID` is the
/// `E2EventInstanceId`.
pub const RIC_REQUESTOR_ID: u16 = 123;

/// RAN name (`meid`) of node number `n`: `gnb_<mcc>_<mnc>_<gNB ID, 8 hex digits>`, the
/// E2 manager's naming, for the simulator's PLMN 001/01 and gNB IDs `0xe0000 + n`.
pub fn ran_name(n: usize) -> String {
    format!("gnb_001_001_{:08x}", 0xe0000 + n)
}

/// How the O-RAN SC face is served.
#[derive(Clone, Debug)]
pub struct OscConfig {
    /// RMR data port of the E2 termination (O-RAN SC: 38000).
    pub rmr_listen: SocketAddr,
    /// RMR control port where a routing manager pushes route tables (none: not served).
    pub rmr_ctl_listen: Option<SocketAddr>,
    /// Static route table (`RMR_SEED_RT` format).
    pub seed_routes: Option<PathBuf>,
    /// The xApp's RMR `host:port`: when set, the simulator plays the routing manager and
    /// adds `mse|12050|<E2EventInstanceId>|<xapp>` for each live subscription.
    pub xapp_rmr: Option<String>,
    /// Subscription Manager REST address (O-RAN SC: 8088).
    pub submgr_listen: SocketAddr,
    /// E2 manager REST address (O-RAN SC: 3800); none: not served.
    pub e2mgr_listen: Option<SocketAddr>,
    /// Node numbers speaking E2SM-KPM v02.03 (the others speak v03.00).
    pub kpm_v2_nodes: Vec<usize>,
    /// E2SM-RC RAN parameter-ID profile of every node not in `rc_profiles`.
    pub rc_profile: RcProfile,
    /// Per-node profile overrides (node number, profile).
    pub rc_profiles: Vec<(usize, RcProfile)>,
    /// Carry the measurement-info list in every indication (srsRAN does).
    pub meas_info: bool,
    /// Behaviour of the Subscription Manager.
    pub submgr: SubMgrServerConfig,
}

impl Default for OscConfig {
    fn default() -> Self {
        let any = |port| SocketAddr::from(([127, 0, 0, 1], port));
        Self {
            rmr_listen: any(0),
            rmr_ctl_listen: None,
            seed_routes: None,
            xapp_rmr: None,
            submgr_listen: any(0),
            e2mgr_listen: None,
            kpm_v2_nodes: Vec::new(),
            rc_profile: RcProfile::Srsran,
            rc_profiles: Vec::new(),
            meas_info: true,
            submgr: SubMgrServerConfig::default(),
        }
    }
}

/// One simulated node as the O-RAN SC RIC knows it (from its E2 setup).
#[derive(Clone, Debug)]
pub struct OscNode {
    /// RAN name: the `meid` of its RMR messages.
    pub meid: String,
    /// The simulator's node ID (SD-RAN face).
    pub sim_id: String,
    pub kpm: KpmVersion,
    pub rc: RcProfile,
    /// E2SM-KPM RAN function definition (APER) of RAN function [`KPM_RAN_FUNCTION_ID`].
    pub kpm_definition: Vec<u8>,
    /// E2SM-RC RAN function definition (APER) of RAN function [`RC_RAN_FUNCTION_ID`].
    pub rc_definition: Vec<u8>,
}

impl OscNode {
    /// The E2SM OID announced for KPM: the version-3 arc for v03.00 nodes, the version-2
    /// arc for v02.03 nodes.
    pub fn kpm_oid(&self) -> &'static str {
        match self.kpm {
            KpmVersion::V2_03 => kpm::KPM_OID,
            _ => kpm::KPM_OID_V3,
        }
    }
}

/// Why the O-RAN SC face could not start.
#[derive(Debug, thiserror::Error)]
pub enum OscError {
    #[error("rmr: {0}")]
    Rmr(#[from] nf_rmr::BindError),
    #[error("cannot serve the {what} on {addr}: {source}")]
    Listen {
        what: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("node {node} of --{flag} does not exist (the simulator has {nodes} nodes)")]
    NoSuchNode {
        flag: &'static str,
        node: usize,
        nodes: usize,
    },
    #[error("route table: {0}")]
    Routes(String),
    #[error("E2SM-RC RAN function definition: {0}")]
    Definition(#[from] RcAperError),
}

/// Counts by bounded reason.
#[derive(Debug, Default)]
struct Reasons(Mutex<BTreeMap<&'static str, u64>>);

impl Reasons {
    fn count(&self, reason: &'static str) {
        *self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(reason)
            .or_default() += 1;
    }

    fn snapshot(&self) -> Vec<(&'static str, u64)> {
        let m = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        m.iter().map(|(k, v)| (*k, *v)).collect()
    }
}

/// The route table the simulator installs when it plays the routing manager.
#[derive(Debug)]
struct Routing {
    /// Entry lines of the seed table (its `newrt` records left out).
    seed_entries: String,
    xapp: Option<String>,
    subs: BTreeSet<u16>,
}

impl Routing {
    fn table(&self) -> Option<Result<RouteTable, String>> {
        let xapp = self.xapp.as_ref()?;
        let mut text = String::from("newrt|start|simulator\n");
        text.push_str(&self.seed_entries);
        for s in &self.subs {
            text.push_str(&format!("mse|{RIC_INDICATION}|{s}|{xapp}\n"));
        }
        text.push_str("newrt|end\n");
        Some(RouteTable::parse(&text).map_err(|e| e.to_string()))
    }
}

/// The E2 termination: RMR endpoint, nodes, subscriptions.
struct E2t {
    sim: Arc<Sim>,
    rmr: RmrEndpoint,
    nodes: Vec<OscNode>,
    meas_info: bool,
    routing: Mutex<Routing>,
    refused: Reasons,
    dropped: Reasons,
    /// The `Arc` this E2 termination lives in (each replay holds one).
    me: std::sync::Weak<E2t>,
}

impl std::fmt::Debug for E2t {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("E2t")
            .field("rmr", &self.rmr.local_addr())
            .field("nodes", &self.nodes.len())
            .finish_non_exhaustive()
    }
}

fn nodes_of(sim: &Sim, cfg: &OscConfig) -> Result<Vec<OscNode>, OscError> {
    let count = sim.nodes.len();
    let check = |flag, node: usize| {
        (node < count).then_some(()).ok_or(OscError::NoSuchNode {
            flag,
            node,
            nodes: count,
        })
    };
    for &n in &cfg.kpm_v2_nodes {
        check("kpm-v2-nodes", n)?;
    }
    for &(n, _) in &cfg.rc_profiles {
        check("rc-profile", n)?;
    }
    sim.nodes
        .iter()
        .enumerate()
        .map(|(n, node)| {
            let kpm = if cfg.kpm_v2_nodes.contains(&n) {
                KpmVersion::V2_03
            } else {
                KpmVersion::V3_00
            };
            let rc = cfg
                .rc_profiles
                .iter()
                .rev()
                .find(|(i, _)| *i == n)
                .map_or(cfg.rc_profile, |(_, p)| *p);
            let cells: Vec<_> = node.cells.iter().map(|c| c.info.clone()).collect();
            let mut osc = OscNode {
                meid: ran_name(n),
                sim_id: node.id.clone(),
                kpm,
                rc,
                kpm_definition: Vec::new(),
                rc_definition: rc::encode_ran_function_definition(
                    &rc::RcFunctionDefinition::slice_prb_quota(rc),
                )?,
            };
            let announced = kpm::encode_ran_function(&cells, kpm);
            osc.kpm_definition = match kpm::decode_ran_function(&announced, kpm) {
                Ok(mut f) => {
                    f.name.oid = osc.kpm_oid().to_owned();
                    kpm::encode_ran_function_description(&f, kpm)
                }
                Err(_) => announced,
            };
            Ok(osc)
        })
        .collect()
}

/// What a refused control is answered with: cause, message, metric reason.
pub(crate) type Refusal = (E2Cause, String, &'static str);

/// The IEs of a RICcontrolRequest.
#[derive(Debug)]
struct ControlRequest {
    request: RicRequestId,
    ran_function: u16,
    call_process_id: Option<Vec<u8>>,
    header: Vec<u8>,
    message: Vec<u8>,
    ack_request: Option<bool>,
}

/// The E2AP cause of an [`E2Cause`].
pub fn cause_of(c: E2Cause) -> e2ap::Cause {
    use e2ap::Cause;
    match c {
        E2Cause::ControlMessageInvalid => {
            Cause::ricRequest(CauseRICrequest::control_message_invalid)
        }
        E2Cause::ActionNotSupported => Cause::ricRequest(CauseRICrequest::action_not_supported),
        E2Cause::RanFunctionIdInvalid => {
            Cause::ricRequest(CauseRICrequest::ran_function_id_invalid)
        }
        E2Cause::TransferSyntaxError => Cause::protocol(CauseProtocol::transfer_syntax_error),
        E2Cause::ControlProcessingOverload => Cause::misc(CauseMisc::control_processing_overload),
        E2Cause::Unspecified => Cause::misc(CauseMisc::unspecified),
    }
}

/// The refusal reason of an E2AP decoding error (the codec's kind, prefixed `e2ap_`).
fn e2ap_reason(e: &E2apError) -> &'static str {
    match e {
        E2apError::Oversize { .. } => "e2ap_oversize",
        E2apError::Malformed { .. } => "e2ap_malformed",
        E2apError::UnsupportedProcedure { .. } => "e2ap_unsupported_procedure",
        E2apError::Missing(_) => "e2ap_missing_ie",
        E2apError::DuplicateIe(_) => "e2ap_duplicate_ie",
        E2apError::UnknownIe(_) => "e2ap_unknown_ie",
        E2apError::TooMany { .. } => "e2ap_too_many",
        _ => "e2ap_other",
    }
}

/// The control request a PDU carries, or why it is refused.
fn control_request(payload: &[u8]) -> Result<ControlRequest, Refusal> {
    match e2ap::decode(payload, &e2ap::Limits::default()) {
        Ok(E2apMessage::ControlRequest {
            request,
            ran_function,
            call_process_id,
            header,
            message,
            ack_request,
        }) => Ok(ControlRequest {
            request,
            ran_function,
            call_process_id,
            header,
            message,
            ack_request,
        }),
        Ok(other) => Err((
            E2Cause::Unspecified,
            format!("{} sent as a RIC control request", other.name()),
            "e2ap_not_a_control_request",
        )),
        Err(e) => Err((E2Cause::TransferSyntaxError, e.to_string(), e2ap_reason(&e))),
    }
}

pub(crate) fn rc_refusal(e: &RcAperError) -> Refusal {
    let cause = match e {
        RcAperError::Decode { .. }
        | RcAperError::Encode { .. }
        | RcAperError::TooLong { .. }
        | RcAperError::TooDeep { .. }
        | RcAperError::TooLarge { .. } => E2Cause::TransferSyntaxError,
        RcAperError::UnsupportedFormat { .. }
        | RcAperError::UnexpectedAction { .. }
        | RcAperError::NotOffered { .. } => E2Cause::ActionNotSupported,
        _ => E2Cause::ControlMessageInvalid,
    };
    (cause, e.to_string(), e.kind())
}

impl E2t {
    fn node_of(&self, meid: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.meid == meid)
    }

    fn refuse(&self, reason: &'static str, source: ErrorSource, cause: String) -> Cause {
        self.refused.count(reason);
        tracing::debug!(reason, %cause, "subscription refused");
        Cause {
            cause,
            source,
            timeout_type: None,
        }
    }

    fn reroute(&self) {
        let routing = self.routing.lock().unwrap_or_else(PoisonError::into_inner);
        match routing.table() {
            Some(Ok(t)) => self.rmr.set_routes(t),
            Some(Err(e)) => {
                self.refused.count("route_table");
                tracing::warn!(cause = %e, "generated route table refused");
            }
            None => {}
        }
    }

    /// The node cells the actions ask for, with their action IDs (global cell index →
    /// action ID).
    fn actions(
        &self,
        node: usize,
        actions: &[ActionToBeSetup],
    ) -> Result<(Vec<usize>, HashMap<usize, u8>), Cause> {
        let version = self.nodes[node].kpm;
        let sim_node = &self.sim.nodes[node];
        let (mut cells, mut ids) = (Vec::new(), HashMap::new());
        for a in actions {
            if a.action_type != ActionType::Report {
                return Err(self.refuse(
                    "action_not_supported",
                    ErrorSource::E2Node,
                    format!("action {}: only report actions are supported", a.action_id),
                ));
            }
            let Some(def) = &a.action_definition else {
                return Err(self.refuse(
                    "action_definition_missing",
                    ErrorSource::E2Node,
                    format!("action {}: no action definition", a.action_id),
                ));
            };
            let (cell, _) = kpm::decode_action_definition(&def.0, version).map_err(|e| {
                self.refuse(
                    "action_definition_invalid",
                    ErrorSource::Asn1,
                    format!("action {}: E2SM-KPM {version}: {e}", a.action_id),
                )
            })?;
            let idx = sim_node
                .cells
                .iter()
                .position(|c| c.info.cell == cell)
                .ok_or_else(|| {
                    self.refuse(
                        "unknown_cell",
                        ErrorSource::E2Node,
                        format!(
                            "action {}: cell {cell} is not on {}",
                            a.action_id, self.nodes[node].meid
                        ),
                    )
                })?;
            if ids.insert(sim_node.cells[idx].index, a.action_id).is_some() {
                return Err(self.refuse(
                    "duplicate_action",
                    ErrorSource::E2Node,
                    format!("action {}: cell {cell} is asked for twice", a.action_id),
                ));
            }
            cells.push(idx);
        }
        if cells.is_empty() {
            return Err(self.refuse(
                "no_actions",
                ErrorSource::E2Node,
                "subscription has no actions".into(),
            ));
        }
        Ok((cells, ids))
    }

    /// Answers one RMR message that is not a health check.
    fn on_message(self: &Arc<Self>, m: &Message) {
        if m.mtype != RIC_CONTROL_REQ {
            self.refused.count("unexpected_mtype");
            tracing::warn!(mtype = m.mtype, src = %m.src, "message type not served by the e2 termination, dropped");
            return;
        }
        let node = self.node_of(&m.meid);
        // O-RAN SC requests carry no app id: the sender's RMR source stands for it.
        let mut record = crate::sim::ControlRecord {
            t_ms: 0,
            app_id: m.src.clone(),
            app_instance_id: m.src.clone(),
            node: node
                .map(|n| self.sim.nodes[n].id.clone())
                .unwrap_or_default(),
            cells: Vec::new(),
            ue: None,
            parameter: None,
            value: String::new(),
            accepted: false,
            cause: None,
        };
        let (req, result) = match control_request(&m.payload) {
            Ok(req) => {
                let result = self.apply_control(node, &m.meid, &req, &mut record);
                (Some(req), result)
            }
            Err(refusal) => (None, Err(refusal)),
        };
        record.accepted = result.is_ok();
        record.cause = result.as_ref().err().map(|(c, ..)| c.label());
        self.sim.log_control(record);
        if let Err((_, msg, reason)) = &result {
            self.refused.count(reason);
            tracing::debug!(reason, cause = %msg, meid = %m.meid, "control refused");
        }
        let (header, message, cpid) = req.as_ref().map_or_else(Default::default, |r| {
            (
                r.header.clone(),
                r.message.clone(),
                r.call_process_id.clone().unwrap_or_default(),
            )
        });
        self.sim.account_control(
            node,
            header,
            message,
            &cpid,
            result
                .as_ref()
                .map(|_| ())
                .map_err(|(c, msg, _)| (*c, msg.clone())),
        );
        self.answer(m, req.as_ref(), result);
    }

    /// Decodes and applies a control; the E2SM-RC outcome on success.
    fn apply_control(
        &self,
        node: Option<usize>,
        meid: &str,
        req: &ControlRequest,
        record: &mut crate::sim::ControlRecord,
    ) -> Result<Vec<u8>, Refusal> {
        let n = node.ok_or_else(|| {
            (
                E2Cause::Unspecified,
                format!("no E2 node named {meid:?}"),
                "unknown_meid",
            )
        })?;
        if req.ran_function != RC_RAN_FUNCTION_ID {
            return Err((
                E2Cause::RanFunctionIdInvalid,
                format!(
                    "RAN function {} is not E2SM-RC (RAN function {RC_RAN_FUNCTION_ID})",
                    req.ran_function
                ),
                "ran_function_id_invalid",
            ));
        }
        let profile = self.nodes[n].rc;
        let ctl = rc::decode_quota_control(profile, &req.header, &req.message)
            .map_err(|e| rc_refusal(&e))?;
        record.parameter = Some(crate::sim::ControlParameter::SlicePrbQuota);
        record.value = ctl
            .quotas
            .iter()
            .map(|(s, min, max, ded)| format!("{s} {min}..{max}/{ded}%"))
            .collect::<Vec<_>>()
            .join(", ");
        let targets = self.sim.control_targets(n, req.call_process_id.as_deref());
        record.cells.clone_from(&targets);
        if ctl.plmn != PLMN {
            return Err((
                E2Cause::ControlMessageInvalid,
                format!("PLMN {:02x?} is not the node's", ctl.plmn),
                "wrong_plmn",
            ));
        }
        for cell in targets {
            self.sim
                .apply_quotas(n, &cell, &ctl.quotas)
                .map_err(|(c, msg)| (c, msg, "quota_refused"))?;
        }
        let quotas: Vec<SliceQuota> = ctl.quotas.iter().map(SliceQuota::from_wire).collect();
        rc::encode_control_outcome(&rc::quota_outcome_items(profile, &quotas))
            .map_err(|e| (E2Cause::Unspecified, e.to_string(), "outcome_encode"))
    }

    /// Sends the acknowledge (unless `noAck` was asked) or the failure back to the sender.
    /// An undecodable request is answered with RICrequestID 0/0 and RAN function 0.
    fn answer(&self, m: &Message, req: Option<&ControlRequest>, result: Result<Vec<u8>, Refusal>) {
        let request = req.map_or(
            RicRequestId {
                requestor: 0,
                instance: 0,
            },
            |r| r.request,
        );
        let ran_function = req.map_or(0, |r| r.ran_function);
        let call_process_id = req.and_then(|r| r.call_process_id.clone());
        let (mtype, answer) = match result {
            Ok(_) if req.and_then(|r| r.ack_request) == Some(false) => return,
            Ok(outcome) => (
                RIC_CONTROL_ACK,
                E2apMessage::ControlAcknowledge {
                    request,
                    ran_function,
                    call_process_id,
                    outcome: Some(outcome),
                },
            ),
            Err((cause, ..)) => (
                RIC_CONTROL_FAILURE,
                E2apMessage::ControlFailure {
                    request,
                    ran_function,
                    call_process_id,
                    cause: cause_of(cause),
                    outcome: None,
                },
            ),
        };
        let payload = match e2ap::encode(&answer) {
            Ok(p) => p,
            Err(e) => {
                self.dropped.count("e2ap_encode");
                tracing::error!(cause = %e, "control answer not encodable");
                return;
            }
        };
        let reply = Message::new(mtype, payload)
            .with_meid(m.meid.clone())
            .with_sub_id(m.sub_id);
        if let Err(e) = self.rmr.rts(m, reply) {
            self.dropped.count(e.kind());
            tracing::warn!(cause = %e, mtype, "control answer not sent");
        }
    }
}

impl E2Side for E2t {
    fn subscribe(
        &self,
        meid: &str,
        ran_function_id: u16,
        e2_event_instance_id: u16,
        event_trigger: &[u8],
        actions: &[ActionToBeSetup],
    ) -> Result<(), Cause> {
        let Some(node) = self.node_of(meid) else {
            return Err(self.refuse(
                "unknown_meid",
                ErrorSource::Submgr,
                format!("no E2 node named {meid:?}"),
            ));
        };
        if ran_function_id != KPM_RAN_FUNCTION_ID {
            return Err(self.refuse(
                "ran_function_id_invalid",
                ErrorSource::E2Node,
                format!(
                    "RAN function {ran_function_id} does not report (E2SM-KPM is RAN function {KPM_RAN_FUNCTION_ID})"
                ),
            ));
        }
        let version = self.nodes[node].kpm;
        let period = kpm::decode_event_trigger(event_trigger, version).map_err(|e| {
            self.refuse(
                "event_trigger_invalid",
                ErrorSource::Asn1,
                format!("event trigger: E2SM-KPM {version}: {e}"),
            )
        })?;
        if period == 0 {
            return Err(self.refuse(
                "event_trigger_invalid",
                ErrorSource::E2Node,
                "event trigger: reporting period 0".into(),
            ));
        }
        let (cells, action_ids) = self.actions(node, actions)?;
        let Some(me) = self.me.upgrade() else {
            return Err(self.refuse(
                "stopping",
                ErrorSource::E2Node,
                "the E2 termination is stopping".into(),
            ));
        };
        let (unsub_tx, unsub_rx) = watch::channel(false);
        if let Ok(mut subs) = self.sim.subs.lock()
            && let Some(old) = subs.insert(sub_key(meid, e2_event_instance_id), unsub_tx)
        {
            let _ = old.send(true);
        }
        self.routing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .subs
            .insert(e2_event_instance_id);
        self.reroute();
        self.sim.stats.subscriptions.fetch_add(1, Ordering::Relaxed);
        tracing::info!(meid, sub_id = e2_event_instance_id, cells = cells.len(), period_ms = period, kpm = %version, "subscription set up");
        tokio::spawn(
            Replay {
                sim: self.sim.clone(),
                node,
                cells,
                period_ms: period,
                sink: OscSink {
                    e2t: me,
                    node,
                    instance: e2_event_instance_id,
                    actions: action_ids,
                    sn: 0,
                },
                unsubscribed: unsub_rx,
            }
            .run(),
        );
        Ok(())
    }

    fn unsubscribe(&self, meid: &str, _ran_function_id: u16, e2_event_instance_id: u16) {
        let found = self
            .sim
            .subs
            .lock()
            .ok()
            .and_then(|mut s| s.remove(&sub_key(meid, e2_event_instance_id)));
        if let Some(tx) = found {
            let _ = tx.send(true);
            self.sim
                .stats
                .unsubscriptions
                .fetch_add(1, Ordering::Relaxed);
        }
        self.routing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .subs
            .remove(&e2_event_instance_id);
        self.reroute();
        tracing::info!(meid, sub_id = e2_event_instance_id, "subscription deleted");
    }
}

/// The key of an O-RAN SC subscription in the simulator's subscription map.
fn sub_key(meid: &str, instance: u16) -> (String, String, String) {
    ("osc".into(), meid.into(), instance.to_string())
}

/// Sends a replay's reports as APER RIC indications over RMR.
struct OscSink {
    e2t: Arc<E2t>,
    node: usize,
    instance: u16,
    /// Global cell index → RIC action ID.
    actions: HashMap<usize, u8>,
    /// Next `RICindicationSN`.
    sn: u16,
}

impl ReportSink for OscSink {
    async fn emit(&mut self, sim: &Sim, r: Report, _wait: bool) -> Delivery {
        let e2t = &self.e2t;
        let node = &e2t.nodes[self.node];
        let (header, mut message) = match &r.payload {
            Payload::Slice(k) => kpm::encode_indication(k, e2t.meas_info, node.kpm),
            Payload::CellRadio(c) => kpm::radio::encode_cell_radio_indication(c, node.kpm),
            Payload::Ue(u) => kpm::radio::encode_ue_indication(u, node.kpm),
        };
        if let Some(f) = r.fault {
            message = f.bytes();
        }
        let sn = self.sn;
        self.sn = self.sn.wrapping_add(1);
        sim.tap(
            r.node,
            record_entry::Kind::Indication(RecordedIndication {
                header: header.clone(),
                payload: message.clone(),
                call_process_id: r.call_process_id.to_vec(),
            }),
        );
        let indication = E2apMessage::Indication {
            request: RicRequestId {
                requestor: RIC_REQUESTOR_ID,
                instance: self.instance,
            },
            ran_function: KPM_RAN_FUNCTION_ID,
            action: self.actions.get(&r.cell_index).copied().unwrap_or(0),
            sn: Some(sn),
            kind: IndicationType::Report,
            header,
            message,
            call_process_id: Some(r.call_process_id.to_vec()),
        };
        let payload = match e2ap::encode(&indication) {
            Ok(p) => p,
            Err(e) => {
                e2t.dropped.count("e2ap_encode");
                tracing::error!(cause = %e, cell = %r.cell, "indication not encodable");
                return Delivery::Dropped;
            }
        };
        let msg = Message::new(RIC_INDICATION, payload)
            .with_sub_id(i32::from(self.instance))
            .with_meid(node.meid.clone());
        match e2t.rmr.send(msg) {
            Ok(()) => Delivery::Sent,
            Err(e) => {
                e2t.dropped.count(e.kind());
                tracing::debug!(cause = %e, sub_id = self.instance, seq = r.seq, "indication not sent");
                Delivery::Dropped
            }
        }
    }
}

/// The simulator's O-RAN SC RIC: E2 termination over RMR, Subscription Manager and E2
/// manager, in front of the simulated nodes.
#[derive(Debug)]
pub struct OscRic {
    e2t: Arc<E2t>,
    submgr: SubMgrServer,
    e2mgr: Option<nodeb::NodebServer>,
    rx_task: tokio::task::JoinHandle<()>,
}

impl OscRic {
    /// Binds every port of `cfg` and serves `sim`'s nodes.
    pub async fn start(sim: Arc<Sim>, cfg: OscConfig) -> Result<Self, OscError> {
        let nodes = nodes_of(&sim, &cfg)?;
        let seed_entries = match &cfg.seed_routes {
            Some(p) => std::fs::read_to_string(p)
                .map_err(|e| OscError::Routes(format!("{}: {e}", p.display())))?
                .lines()
                .filter(|l| !l.trim_start().starts_with("newrt|"))
                .map(|l| format!("{l}\n"))
                .collect(),
            None => String::new(),
        };
        let (rmr, rx) = RmrEndpoint::bind(RmrConfig {
            listen: cfg.rmr_listen,
            seed_routes: cfg.seed_routes.clone(),
            ctl_listen: cfg.rmr_ctl_listen,
            ..RmrConfig::default()
        })
        .await?;
        sim.shutdown.send_replace(false);
        let e2t = Arc::new_cyclic(|me| E2t {
            sim: sim.clone(),
            rmr,
            nodes,
            meas_info: cfg.meas_info,
            routing: Mutex::new(Routing {
                seed_entries,
                xapp: cfg.xapp_rmr.clone(),
                subs: BTreeSet::new(),
            }),
            refused: Reasons::default(),
            dropped: Reasons::default(),
            me: me.clone(),
        });
        e2t.reroute();
        let submgr = SubMgrServer::start(cfg.submgr_listen, e2t.clone(), cfg.submgr)
            .await
            .map_err(|source| OscError::Listen {
                what: "subscription manager",
                addr: cfg.submgr_listen,
                source,
            })?;
        let e2mgr = match cfg.e2mgr_listen {
            Some(addr) => Some(
                nodeb::NodebServer::start(addr, e2t.nodes.clone())
                    .await
                    .map_err(|source| OscError::Listen {
                        what: "e2 manager",
                        addr,
                        source,
                    })?,
            ),
            None => None,
        };
        let rx_task = tokio::spawn(serve_rmr(e2t.clone(), rx));
        tracing::info!(
            rmr = %e2t.rmr.local_addr(),
            submgr = %submgr.local_addr(),
            e2mgr = ?e2mgr.as_ref().map(nodeb::NodebServer::local_addr),
            nodes = e2t.nodes.len(),
            "o-ran sc ric serving"
        );
        Ok(Self {
            e2t,
            submgr,
            e2mgr,
            rx_task,
        })
    }

    /// The E2 termination's RMR data port.
    pub fn rmr_addr(&self) -> SocketAddr {
        self.e2t.rmr.local_addr()
    }

    /// The RMR control port (route tables), when served.
    pub fn rmr_ctl_addr(&self) -> Option<SocketAddr> {
        self.e2t.rmr.ctl_addr()
    }

    /// The Subscription Manager's REST address.
    pub fn submgr_addr(&self) -> SocketAddr {
        self.submgr.local_addr()
    }

    /// The E2 manager's REST address, when served.
    pub fn e2mgr_addr(&self) -> Option<SocketAddr> {
        self.e2mgr.as_ref().map(nodeb::NodebServer::local_addr)
    }

    /// The Subscription Manager (its counters and live subscriptions).
    pub fn submgr(&self) -> &SubMgrServer {
        &self.submgr
    }

    /// The nodes with their RAN names, versions, profiles and RAN function definitions.
    pub fn nodes(&self) -> &[OscNode] {
        &self.e2t.nodes
    }

    /// Subscriptions and controls refused, and malformed or unexpected messages, by reason.
    pub fn refusals(&self) -> Vec<(&'static str, u64)> {
        self.e2t.refused.snapshot()
    }

    /// Indications and answers not sent, by reason (`no_route`, `queue_full`, ...).
    pub fn drops(&self) -> Vec<(&'static str, u64)> {
        self.e2t.dropped.snapshot()
    }

    /// The RMR endpoint's own counters.
    pub fn rmr_counters(&self) -> Arc<nf_rmr::RmrCounters> {
        self.e2t.rmr.counters()
    }

    /// What a client needs to reach this RIC, as JSON (the `--port-file` of `e2sim`).
    pub fn endpoints_json(&self) -> serde_json::Value {
        serde_json::json!({
            "ric": "osc-rmr",
            "rmr": self.rmr_addr().to_string(),
            "rmr_ctl": self.rmr_ctl_addr().map(|a| a.to_string()),
            "submgr": self.submgr_addr().to_string(),
            "e2mgr": self.e2mgr_addr().map(|a| a.to_string()),
            "kpm_ran_function_id": KPM_RAN_FUNCTION_ID,
            "rc_ran_function_id": RC_RAN_FUNCTION_ID,
            "nodes": self.nodes().iter().map(|n| serde_json::json!({
                "meid": n.meid,
                "sim_id": n.sim_id,
                "kpm_version": n.kpm.label(),
                "rc_profile": n.rc.name(),
            })).collect::<Vec<_>>(),
        })
    }

    /// Stops the replays and every server.
    pub async fn stop(self) {
        self.e2t.sim.stop_streams();
        self.rx_task.abort();
        let _ = self.rx_task.await;
        drop(self.submgr);
        drop(self.e2mgr);
    }
}

/// Reads the E2 termination's RMR messages until the endpoint closes.
async fn serve_rmr(e2t: Arc<E2t>, mut rx: mpsc::Receiver<Message>) {
    while let Some(m) = rx.recv().await {
        e2t.on_message(&m);
    }
}
