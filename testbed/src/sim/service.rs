//! The gRPC services of the simulated E2T.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use e2_proto::cause::E2Cause;
use e2_proto::pb::admin::e2t_admin_service_server::{E2tAdminService, E2tAdminServiceServer};
use e2_proto::pb::admin::{
    E2NodeConnectionType, ListE2NodeConnectionsRequest, ListE2NodeConnectionsResponse, RanFunction,
};
use e2_proto::pb::e2t::control_service_server::{ControlService, ControlServiceServer};
use e2_proto::pb::e2t::subscription_service_server::{
    SubscriptionService, SubscriptionServiceServer,
};
use e2_proto::pb::e2t::{
    Acknowledgement, ControlOutcome, ControlRequest, ControlResponse, Encoding, RequestHeaders,
    ResponseHeaders, SubscribeRequest, SubscribeResponse, UnsubscribeRequest, UnsubscribeResponse,
    subscribe_response,
};
use e2_proto::pb::stream::control_stream_service_server::{
    ControlStreamService, ControlStreamServiceServer,
};
use e2_proto::pb::stream::{
    ControlFailure, ControlStreamRequest, ControlStreamResponse, control_stream_response,
};
use e2_proto::{kpm, rc};
use futures::Stream;
use prost::Message;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::{Code, Request, Response, Status, Streaming};

use nf_core::policy::SliceQuota;

use super::osc::{Refusal, rc_refusal};
use super::radio::{ActionKind, Feed, FeedAction};
use super::replay::{GrpcSink, Replay};
use super::{ControlParameter, ControlRecord, MAX_MESSAGE_BYTES, Sim};

pub(crate) type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// Serves the simulator's admin, subscription and control services on `listener` until
/// `shutdown` completes.
pub async fn serve(
    sim: Arc<Sim>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    serve_tls(sim, listener, None, shutdown).await
}

/// [`serve`], through TLS when `tls` is set (mTLS when it names a client CA).
pub async fn serve_tls(
    sim: Arc<Sim>,
    listener: TcpListener,
    tls: Option<nf_tls::ServerTls>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let svc = Svc(sim.clone());
    let control_stream = sim.cfg.control_stream;
    let stop = async move {
        shutdown.await;
        sim.stop_streams();
    };
    tonic::transport::Server::builder()
        .tcp_nodelay(true)
        .add_service(
            E2tAdminServiceServer::new(svc.clone()).max_decoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(
            SubscriptionServiceServer::new(svc.clone())
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES * 2),
        )
        .add_service(
            ControlServiceServer::new(svc.clone()).max_decoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_optional_service(control_stream.then(|| {
            ControlStreamServiceServer::new(svc).max_decoding_message_size(MAX_MESSAGE_BYTES)
        }))
        .serve_with_incoming_shutdown(nf_tls::incoming(listener, tls), stop)
        .await
}

/// Accepted connections with Nagle off: small E2 messages must not wait for a delayed ACK.
pub(crate) fn incoming_nodelay(
    listener: TcpListener,
) -> impl Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    use futures::StreamExt;
    TcpListenerStream::new(listener).map(|s| {
        let s = s?;
        s.set_nodelay(true)?;
        Ok(s)
    })
}

#[derive(Clone)]
struct Svc(Arc<Sim>);

fn node_index(sim: &Sim, headers: Option<&RequestHeaders>) -> Result<usize, Status> {
    let id = headers.map(|h| h.e2_node_id.as_str()).unwrap_or_default();
    sim.nodes.iter().position(|n| n.id == id).ok_or_else(|| {
        E2Cause::RanFunctionIdInvalid.status(Code::NotFound, format!("unknown E2 node `{id}`"))
    })
}

/// Service model of KPM subscriptions, named as onos-e2t registers it (`pkg/oid`).
pub const KPM_SERVICE_MODEL: &str = "oran-e2sm-kpm";
/// Service model of RC controls, named as onos-e2t registers it.
pub const RC_SERVICE_MODEL: &str = "oran-e2sm-rc";

/// The E2SM encoding a request's `Encoding` header names, after refusing a request for
/// another service model than `name` (an absent one too unless `optional`: probes of the
/// control path send none) or in an encoding the simulator does not speak (`ASN1_XER`,
/// unknown values).
fn check_headers(
    headers: Option<&RequestHeaders>,
    name: &str,
    optional: bool,
) -> Result<Encoding, Status> {
    let h = headers.cloned().unwrap_or_default();
    let sm = h.service_model.as_ref().map(|s| s.name.as_str());
    if sm != Some(name) && !(optional && sm.is_none()) {
        return Err(E2Cause::RanFunctionIdInvalid.status(
            Code::InvalidArgument,
            format!("service model {sm:?} is not offered: this request needs {name}"),
        ));
    }
    match Encoding::try_from(h.encoding) {
        Ok(e @ (Encoding::Proto | Encoding::Asn1Per)) => Ok(e),
        other => {
            let got = other.map_or("unknown", |e| e.as_str_name());
            Err(E2Cause::TransferSyntaxError.status(
                Code::InvalidArgument,
                format!(
                    "encoding {got} ({}) is not offered: the simulator speaks PROTO and ASN1_PER payloads",
                    h.encoding
                ),
            ))
        }
    }
}

fn bad(cause: E2Cause, msg: impl std::fmt::Display) -> Status {
    cause.status(Code::InvalidArgument, msg.to_string())
}

/// The node-list entry of an E2 node offering KPM with the RAN function definition
/// `kpm_description` (a gNB on loopback, as the simulator lists its nodes).
pub(crate) fn node_entry(id: &str, kpm_description: Vec<u8>) -> ListE2NodeConnectionsResponse {
    ListE2NodeConnectionsResponse {
        remote_ip: vec!["127.0.0.1".into()],
        remote_port: 36421,
        id: id.into(),
        plmn_id: "00f110".into(),
        connection_type: E2NodeConnectionType::GNb as i32,
        ran_functions: vec![RanFunction {
            oid: e2_proto::KPM_OID.into(),
            ran_function_id: "2".into(),
            description: kpm_description,
        }],
        node_id: id.into(),
        age_ms: 0,
    }
}

#[tonic::async_trait]
impl E2tAdminService for Svc {
    type ListE2NodeConnectionsStream = BoxStream<ListE2NodeConnectionsResponse>;

    async fn list_e2_node_connections(
        &self,
        _req: Request<ListE2NodeConnectionsRequest>,
    ) -> Result<Response<Self::ListE2NodeConnectionsStream>, Status> {
        if !self.0.cfg.list_nodes {
            return Err(Status::unimplemented(
                "ListE2NodeConnections is not served: discover E2 nodes with onos-topo",
            ));
        }
        let items: Vec<Result<_, Status>> = self
            .0
            .nodes
            .iter()
            .map(|n| {
                let cells: Vec<_> = n.cells.iter().map(|c| c.info.clone()).collect();
                let mut entry = node_entry(&n.id, kpm::encode_ran_function(&cells));
                entry.ran_functions.push(RanFunction {
                    oid: e2_proto::RC_OID.into(),
                    ran_function_id: "3".into(),
                    description: Vec::new(),
                });
                Ok(entry)
            })
            .collect();
        Ok(Response::new(Box::pin(tokio_stream::iter(items))))
    }
}

/// One action of a subscription, decoded and checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SubAction {
    /// Index into the node's cells.
    pub cell: usize,
    /// RIC action ID (E2AP 0..255).
    pub id: u8,
    pub kind: ActionKind,
}

/// Decodes and checks every action of a KPM subscription under `encoding`: a report action
/// with an action ID in 0..255 and a definition of one of the node's cells.
fn sub_actions(
    sim: &Sim,
    node: usize,
    encoding: Encoding,
    actions: &[e2_proto::pb::e2t::Action],
) -> Result<Vec<SubAction>, Status> {
    let version = sim.kpm_version(node);
    let mut out: Vec<SubAction> = Vec::with_capacity(actions.len());
    for a in actions {
        let id = u8::try_from(a.id).map_err(|_| {
            bad(
                E2Cause::ActionNotSupported,
                format!("action {}: RIC action ID outside 0..255", a.id),
            )
        })?;
        if out.iter().any(|o| o.id == id) {
            return Err(bad(
                E2Cause::ActionNotSupported,
                format!("action {id}: action ID used twice"),
            ));
        }
        if a.r#type != e2_proto::pb::e2t::ActionType::Report as i32 {
            return Err(bad(
                E2Cause::ActionNotSupported,
                format!("action {id}: only report actions are supported"),
            ));
        }
        let (cell, kind) = match encoding {
            Encoding::Asn1Per => {
                use e2_asn1::kpm::radio::ActionKind as K;
                match e2_asn1::kpm::radio::classify_action_definition(&a.payload, version) {
                    Ok(K::SliceMeasurement { cell, .. }) => (cell, ActionKind::Slice),
                    Ok(K::CellRadio { cell, .. }) => (cell, ActionKind::CellRadio),
                    Ok(K::UeLevel(u)) => (u.cell, ActionKind::UeLevel),
                    Err(e) => {
                        return Err(bad(
                            E2Cause::ActionNotSupported,
                            format!("action {id}: E2SM-KPM {version}: {e}"),
                        ));
                    }
                }
            }
            _ => {
                use e2_proto::kpm::radio::ActionKind as K;
                match e2_proto::kpm::radio::classify_action_definition(&a.payload) {
                    Ok(K::SliceMeasurement { cell, .. }) => (cell, ActionKind::Slice),
                    Ok(K::CellRadio { cell, .. }) => (cell, ActionKind::CellRadio),
                    Ok(K::UeLevel(u)) => (u.cell, ActionKind::UeLevel),
                    Err(e) => {
                        return Err(bad(
                            E2Cause::ActionNotSupported,
                            format!("action {id}: {e}"),
                        ));
                    }
                }
            }
        };
        if kind != ActionKind::Slice && sim.radio.is_none() {
            return Err(bad(
                E2Cause::ActionNotSupported,
                format!(
                    "action {id}: {} reports are served in radio mode only (e2sim --radio)",
                    kind.label()
                ),
            ));
        }
        let idx = sim.nodes[node]
            .cells
            .iter()
            .position(|c| c.info.cell == cell)
            .ok_or_else(|| {
                bad(
                    E2Cause::ActionNotSupported,
                    format!(
                        "action {id}: cell {cell} is not on node {}",
                        sim.nodes[node].id
                    ),
                )
            })?;
        out.push(SubAction {
            cell: idx,
            id,
            kind,
        });
    }
    if out.is_empty() {
        return Err(bad(
            E2Cause::ActionNotSupported,
            "subscription has no actions",
        ));
    }
    Ok(out)
}

#[tonic::async_trait]
impl SubscriptionService for Svc {
    type SubscribeStream = BoxStream<SubscribeResponse>;

    async fn subscribe(
        &self,
        req: Request<SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let sim = &self.0;
        let req = req.into_inner();
        let node = node_index(sim, req.headers.as_ref())?;
        let encoding = check_headers(req.headers.as_ref(), KPM_SERVICE_MODEL, false)?;
        let headers = req.headers.unwrap_or_default();
        let spec = req.subscription.unwrap_or_default();
        let version = sim.kpm_version(node);
        let trigger = spec.event_trigger.unwrap_or_default().payload;
        let period = match encoding {
            Encoding::Asn1Per => {
                e2_asn1::kpm::decode_event_trigger(&trigger, version).map_err(|e| {
                    bad(
                        E2Cause::TransferSyntaxError,
                        format!("event trigger: E2SM-KPM {version}: {e}"),
                    )
                })?
            }
            _ => kpm::decode_event_trigger(&trigger)
                .map_err(|e| bad(E2Cause::TransferSyntaxError, format!("event trigger: {e}")))?,
        };
        if period == 0 {
            return Err(bad(
                E2Cause::ActionNotSupported,
                "event trigger: reporting period 0",
            ));
        }
        let actions = sub_actions(sim, node, encoding, &spec.actions)?;
        let cells: Vec<usize> = actions.iter().map(|a| a.cell).collect();
        let (tx, rx) = mpsc::channel(sim.cfg.stream_queue.max(cells.len() * 2));
        let channel_id = format!(
            "{}:{}:{}",
            headers.app_id, sim.nodes[node].id, req.transaction_id
        );
        let ack = SubscribeResponse {
            headers: Some(ResponseHeaders {
                encoding: encoding as i32,
            }),
            message: Some(subscribe_response::Message::Ack(Acknowledgement {
                channel_id,
            })),
        };
        let _ = tx.try_send(Ok(ack));
        let (unsub_tx, unsub_rx) = watch::channel(false);
        if let Ok(mut subs) = sim.subs.lock() {
            let key = (
                headers.app_id.clone(),
                sim.nodes[node].id.clone(),
                req.transaction_id.clone(),
            );
            if let Some(old) = subs.insert(key, unsub_tx) {
                let _ = old.send(true);
            }
        }
        sim.stats.subscriptions.fetch_add(1, Ordering::Relaxed);
        if encoding == Encoding::Asn1Per {
            sim.stats.aper_subscriptions.fetch_add(1, Ordering::Relaxed);
        }
        tracing::info!(node = %sim.nodes[node].id, app_id = %headers.app_id, cells = cells.len(), period_ms = period, encoding = encoding.as_str_name(), "subscription opened");
        let closed = sim.log_subscription(&headers.app_id, &headers.app_instance_id, node);
        let node_cells = &sim.nodes[node].cells;
        let sink = GrpcSink {
            tx,
            encoding,
            kpm: version,
            actions: actions
                .iter()
                .map(|a| (node_cells[a.cell].index, a.id))
                .collect(),
        };
        if sim.radio.is_some() {
            tokio::spawn(
                closed.after(
                    Feed {
                        sim: sim.clone(),
                        node,
                        actions: actions
                            .iter()
                            .map(|a| FeedAction {
                                cell: a.cell,
                                id: a.id,
                                kind: a.kind,
                            })
                            .collect(),
                        period_ms: period,
                        sink,
                        unsubscribed: unsub_rx,
                    }
                    .run(),
                ),
            );
        } else {
            tokio::spawn(
                closed.after(
                    Replay {
                        sim: sim.clone(),
                        node,
                        cells,
                        period_ms: period,
                        sink,
                        unsubscribed: unsub_rx,
                    }
                    .run(),
                ),
            );
        }
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn unsubscribe(
        &self,
        req: Request<UnsubscribeRequest>,
    ) -> Result<Response<UnsubscribeResponse>, Status> {
        let sim = &self.0;
        let req = req.into_inner();
        let node = node_index(sim, req.headers.as_ref())?;
        let app = req.headers.map(|h| h.app_id).unwrap_or_default();
        let key = (app, sim.nodes[node].id.clone(), req.transaction_id);
        let found = sim.subs.lock().ok().and_then(|mut s| s.remove(&key));
        match found {
            Some(tx) => {
                let _ = tx.send(true);
                sim.stats.unsubscriptions.fetch_add(1, Ordering::Relaxed);
                Ok(Response::new(UnsubscribeResponse {
                    headers: Some(ResponseHeaders { encoding: 0 }),
                }))
            }
            None => Err(E2Cause::Unspecified.status(Code::NotFound, "no such subscription")),
        }
    }
}

#[tonic::async_trait]
impl ControlService for Svc {
    async fn control(
        &self,
        req: Request<ControlRequest>,
    ) -> Result<Response<ControlResponse>, Status> {
        self.handle_control(&req.into_inner()).map(Response::new)
    }
}

#[tonic::async_trait]
impl ControlStreamService for Svc {
    type ControlStreamStream = BoxStream<ControlStreamResponse>;

    async fn control_stream(
        &self,
        req: Request<Streaming<ControlStreamRequest>>,
    ) -> Result<Response<Self::ControlStreamStream>, Status> {
        let mut inbound = req.into_inner();
        let (tx, rx) = mpsc::channel(1024);
        let svc = self.clone();
        let mut shutdown = self.0.shutdown.subscribe();
        tokio::spawn(async move {
            loop {
                let msg = tokio::select! {
                    m = inbound.message() => m,
                    _ = shutdown.wait_for(|s| *s) => return,
                };
                let Ok(Some(m)) = msg else { return };
                svc.0
                    .stats
                    .controls_via_stream
                    .fetch_add(1, Ordering::Relaxed);
                let result = match m.request.as_ref() {
                    Some(r) => svc.handle_control(r),
                    None => Err(bad(
                        E2Cause::ControlMessageInvalid,
                        "stream request without a control",
                    )),
                };
                let result = Some(match result {
                    Ok(resp) => control_stream_response::Result::Response(resp),
                    Err(status) => control_stream_response::Result::Failure(ControlFailure {
                        code: status.code() as i32,
                        message: status.message().to_owned(),
                        error: e2_proto::pb::e2t::Error::decode(status.details()).ok(),
                    }),
                });
                let out = ControlStreamResponse {
                    request_id: m.request_id,
                    result,
                };
                if tx.send(Ok(out)).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

impl Svc {
    /// Applies one control, whichever gRPC service brought it, keeps the statistics and
    /// logs it with its sender's `app_id`.
    fn handle_control(&self, req: &ControlRequest) -> Result<ControlResponse, Status> {
        let sim = &self.0;
        let node = node_index(sim, req.headers.as_ref()).ok();
        let mut record = ControlRecord {
            t_ms: 0,
            app_id: req
                .headers
                .as_ref()
                .map(|h| h.app_id.clone())
                .unwrap_or_default(),
            app_instance_id: req
                .headers
                .as_ref()
                .map(|h| h.app_instance_id.clone())
                .unwrap_or_default(),
            node: node.map(|n| sim.nodes[n].id.clone()).unwrap_or_default(),
            cells: Vec::new(),
            ue: None,
            parameter: None,
            value: String::new(),
            accepted: false,
            cause: None,
        };
        let result = self.apply(req, &mut record);
        let msg = req.message.clone().unwrap_or_default();
        let outcome = match &result {
            Ok(_) => Ok(()),
            Err(s) => Err((E2Cause::of_status(s), s.message().to_owned())),
        };
        record.accepted = outcome.is_ok();
        record.cause = outcome.as_ref().err().map(|(c, _)| c.label());
        sim.log_control(record);
        sim.account_control(node, msg.header, msg.payload, &req.call_process_id, outcome);
        result
    }

    /// Decodes (in the request's encoding) and applies one control; what it names goes
    /// into `record` as soon as it is known.
    fn apply(
        &self,
        req: &ControlRequest,
        record: &mut ControlRecord,
    ) -> Result<ControlResponse, Status> {
        let sim = &self.0;
        let node = node_index(sim, req.headers.as_ref())?;
        let encoding = check_headers(req.headers.as_ref(), RC_SERVICE_MODEL, true)?;
        let msg = req.message.clone().unwrap_or_default();
        let outcome = match encoding {
            Encoding::Asn1Per => self.apply_aper(node, req, &msg.header, &msg.payload, record)?,
            _ if rc::decode_handover_control(&msg.header, &msg.payload).is_ok() => {
                let (ue, target) = rc::decode_handover_control(&msg.header, &msg.payload)
                    .map_err(|e| bad(E2Cause::ControlMessageInvalid, e))?;
                record.parameter = Some(ControlParameter::Handover);
                self.handover(node, ue, target, record)?;
                Vec::new()
            }
            _ => {
                let ctl =
                    rc::decode_quota_control(&msg.header, &msg.payload).map_err(|e| match e {
                        rc::RcError::Unsupported { .. } => bad(E2Cause::ActionNotSupported, e),
                        rc::RcError::Payload(_) => bad(E2Cause::TransferSyntaxError, e),
                        rc::RcError::Parameter { .. } => bad(E2Cause::ControlMessageInvalid, e),
                    })?;
                record.parameter = Some(ControlParameter::SlicePrbQuota);
                record.cells = vec![ctl.cell];
                record.value = quota_value(&ctl.quotas);
                sim.apply_quotas(node, &ctl.cell, &ctl.quotas)
                    .map_err(|(cause, msg)| bad(cause, msg))?;
                sim.restrict_radio(&ctl.cell, &ctl.quotas);
                let applied = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64);
                rc::encode_outcome(&ctl.cell, &ctl.quotas, applied)
            }
        };
        Ok(ControlResponse {
            headers: Some(ResponseHeaders {
                encoding: encoding as i32,
            }),
            outcome: Some(ControlOutcome { payload: outcome }),
        })
    }

    /// An `ASN1_PER` E2SM-RC control with the node's RAN parameter-ID profile: style 2
    /// action 6 (slice PRB quota; the cell is the one whose indication the call process id
    /// echoes, else every cell of the node). Returns the E2SM-RC control outcome.
    fn apply_aper(
        &self,
        node: usize,
        req: &ControlRequest,
        header: &[u8],
        message: &[u8],
        record: &mut ControlRecord,
    ) -> Result<Vec<u8>, Status> {
        let sim = &self.0;
        let refuse = |(cause, msg, _): Refusal| bad(cause, msg);
        let h = e2_asn1::rc::decode_control_header(header).map_err(|e| refuse(rc_refusal(&e)))?;
        match (h.style, h.action) {
            (e2_asn1::rc::STYLE_RADIO_RESOURCE_ALLOCATION, e2_asn1::rc::ACTION_SLICE_PRB_QUOTA) => {
                let profile = sim.rc_profile(node);
                record.parameter = Some(ControlParameter::SlicePrbQuota);
                let ctl = e2_asn1::rc::decode_quota_control(profile, header, message)
                    .map_err(|e| refuse(rc_refusal(&e)))?;
                let targets = sim.control_targets(node, Some(&req.call_process_id));
                record.cells.clone_from(&targets);
                record.value = quota_value(&ctl.quotas);
                if ctl.plmn != super::PLMN {
                    return Err(bad(
                        E2Cause::ControlMessageInvalid,
                        format!("PLMN {:02x?} is not the node's", ctl.plmn),
                    ));
                }
                for cell in &targets {
                    sim.apply_quotas(node, cell, &ctl.quotas)
                        .map_err(|(cause, msg)| bad(cause, msg))?;
                    sim.restrict_radio(cell, &ctl.quotas);
                }
                let quotas: Vec<SliceQuota> =
                    ctl.quotas.iter().map(SliceQuota::from_wire).collect();
                e2_asn1::rc::encode_control_outcome(&e2_asn1::rc::quota_outcome_items(
                    profile, &quotas,
                ))
                .map_err(|e| bad(E2Cause::Unspecified, e))
            }
            (e2_asn1::rc::STYLE_CONNECTED_MODE_MOBILITY, e2_asn1::rc::ACTION_HANDOVER) => {
                record.parameter = Some(ControlParameter::Handover);
                if sim.radio.is_none() {
                    return Err(bad(
                        E2Cause::ActionNotSupported,
                        "E2SM-RC style 3 action 1 (handover) is offered in radio mode only",
                    ));
                }
                let (ue, target) = e2_asn1::rc::decode_ue_handover(header, message)
                    .map_err(|e| refuse(rc_refusal(&e)))?;
                self.handover(node, ue, target, record)?;
                // A handover has no RAN parameters to report back: no outcome.
                Ok(Vec::new())
            }
            (style, action) => Err(bad(
                E2Cause::ActionNotSupported,
                format!("E2SM-RC style {style} action {action} is not offered by this node"),
            )),
        }
    }
}

impl Svc {
    /// A handover control (either encoding) applied to the twin; logged in `record`.
    fn handover(
        &self,
        node: usize,
        ue: nf_core::radio::UeId,
        target: nf_core::CellId,
        record: &mut ControlRecord,
    ) -> Result<(), Status> {
        record.ue = Some(ue);
        record.value = format!("{ue} -> {target}");
        if let Some(source) = self.0.radio.as_ref().and_then(|r| r.serving(ue)) {
            record.cells = vec![source];
        }
        self.0
            .apply_handover(node, ue, target)
            .map(|_| ())
            .map_err(|(cause, msg)| bad(cause, msg))
    }
}

/// A quota list as the control log shows it: `slice min..max/dedicated %`.
fn quota_value(quotas: &[nf_core::policy::WireQuota]) -> String {
    quotas
        .iter()
        .map(|(s, min, max, ded)| format!("{s} {min}..{max}/{ded}%"))
        .collect::<Vec<_>>()
        .join(", ")
}
