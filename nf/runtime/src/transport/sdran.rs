//! `sdran-grpc`: the SD-RAN-like E2T northbound gRPC API (onos-e2t `E2TAdminService`,
//! `SubscriptionService`, `ControlService`, and this project's control stream extension).
//!
//! Protobuf API types stay in here (and in `sdran_control`). Service models are named as
//! onos-e2t registers them (`oran-e2sm-kpm` `v2`, `oran-e2sm-rc` `v1`: its `pkg/oid`), and
//! every request's `Encoding` header follows `ric.encoding` (`PROTO` or `ASN1_PER`), so that
//! onos-e2t hands the E2SM bytes through untouched.
//!
//! Current onos-e2t no longer serves `E2TAdminService.ListE2NodeConnections` (onos-topo
//! does discovery there): its `UNIMPLEMENTED` is reported to the caller, which falls back
//! to the configured node list (`discovery`).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use e2_proto::pb::admin::ListE2NodeConnectionsRequest;
use e2_proto::pb::admin::e2t_admin_service_client::E2tAdminServiceClient;
use e2_proto::pb::e2t::control_service_client::ControlServiceClient;
use e2_proto::pb::e2t::subscription_service_client::SubscriptionServiceClient;
use e2_proto::pb::e2t::{
    Action, ActionType, ControlMessage, ControlRequest, ControlResponse, Encoding, EventTrigger,
    RequestHeaders, ServiceModel, SubscribeRequest, SubscribeResponse, SubscriptionSpec as PbSpec,
    UnsubscribeRequest, subscribe_response,
};
use e2_proto::pb::stream::control_stream_service_client::ControlStreamServiceClient;
use e2_proto::pb::stream::{ControlStreamRequest, ControlStreamResponse};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;
use tonic::transport::{Channel, Endpoint};

use super::sdran_control::ControlSender;
use super::{E2smCodec, Indication, StreamEvent, SubscriptionSpec, WireEncoding};
use crate::config::RuntimeConfig;
use crate::e2::{Discovery, E2Error, E2Node, Skipped};
use crate::metrics::Metrics;

/// Service model of KPM subscriptions, as onos-e2t names it: (name, version).
pub const KPM_SERVICE_MODEL: (&str, &str) = ("oran-e2sm-kpm", "v2");
/// Service model of RC controls, as onos-e2t names it: (name, version).
pub const RC_SERVICE_MODEL: (&str, &str) = ("oran-e2sm-rc", "v1");

/// Largest node-list entry the admin client decodes at all [bytes]. Entries between the
/// configured message limit and this are decoded only to be named and skipped; one past
/// this ends the list (the nodes read before it are kept).
const MAX_NODE_ENTRY_DECODE_BYTES: usize = 64 * 1024 * 1024;

/// The `Encoding` header of `encoding`.
pub fn encoding_header(encoding: WireEncoding) -> Encoding {
    match encoding {
        WireEncoding::Proto => Encoding::Proto,
        WireEncoding::Asn1Per => Encoding::Asn1Per,
    }
}

/// The `sdran-grpc` transport: a client on the E2T plus the control settings.
#[derive(Clone, Debug)]
pub struct SdranGrpc {
    client: E2Client,
}

impl SdranGrpc {
    /// A transport that connects on first use (and reconnects after a loss).
    pub fn new(cfg: &RuntimeConfig) -> Result<Self, E2Error> {
        let client = E2Client::new(
            &cfg.e2t_endpoint,
            &cfg.app_id,
            &cfg.app_instance_id,
            cfg.max_message_bytes,
            cfg.e2t_tls.as_ref(),
        )?
        .with_encoding(cfg.encoding);
        Ok(Self { client })
    }

    pub(super) async fn list_nodes(
        &mut self,
        deadline: Duration,
        codec: &E2smCodec,
    ) -> Result<Discovery, E2Error> {
        self.client.list_nodes(deadline, codec).await
    }

    pub(super) async fn subscribe(
        &mut self,
        node: &str,
        spec: SubscriptionSpec,
        timeout: Duration,
    ) -> Result<Indications, E2Error> {
        let stream = self.client.subscribe(node, spec, timeout).await?;
        Ok(Indications { stream })
    }

    pub(super) async fn unsubscribe(&mut self, node: &str) -> Result<(), E2Error> {
        self.client.unsubscribe(node).await
    }

    pub(super) fn control_path(
        &self,
        node: &str,
        cfg: &RuntimeConfig,
        metrics: Arc<Metrics>,
    ) -> ControlSender {
        ControlSender::new(
            self.client.clone(),
            node,
            cfg.control_transport,
            cfg.control_timeout,
            cfg.max_inflight_controls,
            metrics,
        )
    }
}

/// The indication stream of one `Subscribe`.
#[derive(Debug)]
pub struct Indications {
    stream: Streaming<SubscribeResponse>,
}

impl Indications {
    pub(super) async fn next(&mut self) -> StreamEvent {
        match self.stream.message().await {
            Ok(Some(resp)) => match resp.message {
                Some(subscribe_response::Message::Indication(ind)) => {
                    StreamEvent::Indication(Indication {
                        header: ind.header,
                        message: ind.payload,
                        call_process_id: ind.call_process_id,
                        // An action ID past E2AP's 0..255 names no action: the codec
                        // then refuses the indication as `unknown_action` (APER).
                        action_id: ind.action_id.and_then(|a| u8::try_from(a).ok()),
                    })
                }
                Some(subscribe_response::Message::Ack(ack)) => {
                    tracing::debug!(channel = %ack.channel_id, "subscription acknowledged");
                    StreamEvent::Acknowledged
                }
                None => StreamEvent::NotIndication,
            },
            Ok(None) => StreamEvent::Ended,
            Err(status) => StreamEvent::Lost {
                // One bad frame (e.g. over the size limit) ends a gRPC stream.
                oversize: status.code() == tonic::Code::OutOfRange
                    || status.message().contains("message length too large"),
                detail: format!("{:?}: {}", status.code(), status.message()),
            },
        }
    }
}

/// The E2T endpoint's connection settings (TLS or not).
fn endpoint_of(endpoint: &str) -> Result<Endpoint, E2Error> {
    Ok(Endpoint::from_shared(endpoint.to_owned())
        .map_err(|source| E2Error::Endpoint {
            endpoint: endpoint.into(),
            source,
        })?
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(2))
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(5)))
}

/// A handle on the E2T; cheap to clone (one HTTP/2 connection underneath).
#[derive(Clone, Debug)]
pub(crate) struct E2Client {
    admin: E2tAdminServiceClient<Channel>,
    subs: SubscriptionServiceClient<Channel>,
    ctl: ControlServiceClient<Channel>,
    ctl_stream: ControlStreamServiceClient<Channel>,
    app_id: String,
    app_instance_id: String,
    /// Node-list entries larger than this are skipped.
    max_message_bytes: usize,
    /// The `Encoding` header of every request.
    encoding: Encoding,
}

impl E2Client {
    /// A client that connects on first use (and reconnects after a loss), through `tls`
    /// when set. The endpoint's scheme must agree: `https://` with TLS, `http://` without
    /// (either mismatch is refused rather than run in cleartext by mistake).
    pub fn new(
        endpoint: &str,
        app_id: &str,
        app_instance_id: &str,
        max_message_bytes: usize,
        tls: Option<&nf_tls::ClientTls>,
    ) -> Result<Self, E2Error> {
        let https = endpoint.starts_with("https://");
        let ep = endpoint_of(endpoint)?;
        let channel = match tls {
            Some(tls) if https => tls.channel(&ep),
            None if !https => ep.connect_lazy(),
            Some(_) => {
                return Err(E2Error::Tls {
                    endpoint: endpoint.into(),
                    rule: "TLS is configured ([ric.tls]) but the endpoint is not https://",
                });
            }
            None => {
                return Err(E2Error::Tls {
                    endpoint: endpoint.into(),
                    rule: "https:// needs TLS configured ([ric.tls]); refused rather than sent in cleartext",
                });
            }
        };
        Ok(Self::on(
            channel,
            app_id,
            app_instance_id,
            max_message_bytes,
        ))
    }

    fn on(channel: Channel, app_id: &str, app_instance_id: &str, max_message_bytes: usize) -> Self {
        Self {
            admin: E2tAdminServiceClient::new(channel.clone())
                .max_decoding_message_size(MAX_NODE_ENTRY_DECODE_BYTES.max(max_message_bytes)),
            subs: SubscriptionServiceClient::new(channel.clone())
                .max_decoding_message_size(max_message_bytes)
                .max_encoding_message_size(max_message_bytes),
            ctl: ControlServiceClient::new(channel.clone())
                .max_decoding_message_size(max_message_bytes)
                .max_encoding_message_size(max_message_bytes),
            ctl_stream: ControlStreamServiceClient::new(channel)
                .max_decoding_message_size(max_message_bytes)
                .max_encoding_message_size(max_message_bytes),
            app_id: app_id.into(),
            app_instance_id: app_instance_id.into(),
            max_message_bytes,
            encoding: Encoding::Proto,
        }
    }

    /// Sets the `Encoding` header of every request.
    pub fn with_encoding(mut self, encoding: WireEncoding) -> Self {
        self.encoding = encoding_header(encoding);
        self
    }

    fn headers(&self, node: &str, sm: (&str, &str)) -> RequestHeaders {
        RequestHeaders {
            app_id: self.app_id.clone(),
            app_instance_id: self.app_instance_id.clone(),
            e2_node_id: node.into(),
            service_model: Some(ServiceModel {
                name: sm.0.into(),
                version: sm.1.into(),
            }),
            encoding: self.encoding as i32,
        }
    }

    fn transaction_id(&self) -> String {
        format!("{}-kpm", self.app_instance_id)
    }

    /// The connected E2 nodes that offer KPM, with their cells, read for at most
    /// `deadline`. Entries that cannot be used are skipped by name (see [`Discovery`]);
    /// only a failure before the first entry is an error.
    pub async fn list_nodes(
        &mut self,
        deadline: Duration,
        codec: &E2smCodec,
    ) -> Result<Discovery, E2Error> {
        let call = "ListE2NodeConnections";
        let rpc = |status| E2Error::Rpc { call, status };
        let until = tokio::time::Instant::now() + deadline;
        let mut stream = match tokio::time::timeout_at(
            until,
            self.admin
                .list_e2_node_connections(ListE2NodeConnectionsRequest {}),
        )
        .await
        {
            Ok(r) => r.map_err(rpc)?.into_inner(),
            Err(_) => {
                return Err(E2Error::Timeout {
                    call,
                    after: deadline,
                });
            }
        };
        let mut out = Discovery::default();
        let mut seen = HashSet::new();
        loop {
            let conn = match tokio::time::timeout_at(until, stream.message()).await {
                Ok(Ok(Some(conn))) => conn,
                Ok(Ok(None)) => break,
                Ok(Err(status)) if out.nodes.is_empty() && out.skipped.is_empty() => {
                    return Err(rpc(status));
                }
                Ok(Err(status)) => {
                    out.cut_short = Some(("node_list_broken", status.message().to_owned()));
                    break;
                }
                Err(_) if out.nodes.is_empty() && out.skipped.is_empty() => {
                    return Err(E2Error::Timeout {
                        call,
                        after: deadline,
                    });
                }
                Err(_) => {
                    let detail = format!("no end of list within {deadline:?}");
                    out.cut_short = Some(("node_list_unterminated", detail));
                    break;
                }
            };
            match self.node_of(&conn, &mut seen, codec) {
                Ok(Some(node)) => out.nodes.push(node),
                Ok(None) => {}
                Err(skip) => out.skipped.push(skip),
            }
        }
        Ok(out)
    }

    /// The KPM node of one list entry; `None` when it offers no KPM RAN function.
    fn node_of(
        &self,
        conn: &e2_proto::pb::admin::ListE2NodeConnectionsResponse,
        seen: &mut HashSet<String>,
        codec: &E2smCodec,
    ) -> Result<Option<E2Node>, Skipped> {
        // The ID as it may be logged: escaped (it is not checked yet), at most 64 chars.
        let skip = |reason, detail: String| Skipped {
            node: nf_core::ids::Escaped(&conn.node_id)
                .to_string()
                .chars()
                .take(64)
                .collect(),
            reason,
            detail,
        };
        // Node IDs reach logs, metrics and the decision log: refuse the unprintable.
        if let Err(e) = nf_core::ids::check_node_id(&conn.node_id) {
            return Err(skip(e.kind(), e.to_string()));
        }
        let size = prost::Message::encoded_len(conn);
        if size > self.max_message_bytes {
            let detail = format!("{size} bytes, over the {} limit", self.max_message_bytes);
            return Err(skip("oversize_node_entry", detail));
        }
        let Some(f) = conn
            .ran_functions
            .iter()
            .find(|f| f.oid == e2_proto::KPM_OID)
        else {
            return Ok(None);
        };
        if !seen.insert(conn.node_id.clone()) {
            return Err(skip("duplicate_node_entry", "listed again".into()));
        }
        match codec.decode_ran_function(&f.description) {
            Ok(cells) => Ok(Some(E2Node {
                id: conn.node_id.clone(),
                cells,
            })),
            Err(e) => Err(skip("ran_function_invalid", e.to_string())),
        }
    }

    /// Subscribes `node` to `spec` (KPM, one REPORT action per definition, action ID =
    /// position). The E2T must answer (response headers) within `timeout`.
    pub async fn subscribe(
        &mut self,
        node: &str,
        spec: SubscriptionSpec,
        timeout: Duration,
    ) -> Result<Streaming<SubscribeResponse>, E2Error> {
        let actions = spec
            .actions
            .into_iter()
            .enumerate()
            .map(|(i, payload)| Action {
                id: i as i32,
                r#type: ActionType::Report as i32,
                payload,
                subsequent_action: None,
            })
            .collect();
        let req = SubscribeRequest {
            headers: Some(self.headers(node, KPM_SERVICE_MODEL)),
            transaction_id: self.transaction_id(),
            subscription: Some(PbSpec {
                event_trigger: Some(EventTrigger {
                    payload: spec.event_trigger,
                }),
                actions,
            }),
            transaction_timeout: None,
        };
        let call = "Subscribe";
        match tokio::time::timeout(timeout, self.subs.subscribe(req)).await {
            Ok(Ok(resp)) => Ok(resp.into_inner()),
            Ok(Err(status)) => Err(E2Error::Rpc { call, status }),
            Err(_) => Err(E2Error::Timeout {
                call,
                after: timeout,
            }),
        }
    }

    /// Deletes this app's KPM subscription on `node`.
    pub async fn unsubscribe(&mut self, node: &str) -> Result<(), E2Error> {
        let req = UnsubscribeRequest {
            headers: Some(self.headers(node, KPM_SERVICE_MODEL)),
            transaction_id: self.transaction_id(),
        };
        self.subs
            .unsubscribe(req)
            .await
            .map_err(|status| E2Error::Rpc {
                call: "Unsubscribe",
                status,
            })?;
        Ok(())
    }

    /// An E2SM-RC control request; `call_process_id` echoes the triggering indication's.
    pub fn control_request(
        &self,
        node: &str,
        header: Vec<u8>,
        payload: Vec<u8>,
        call_process_id: Vec<u8>,
    ) -> ControlRequest {
        ControlRequest {
            headers: Some(self.headers(node, RC_SERVICE_MODEL)),
            message: Some(ControlMessage { header, payload }),
            call_process_id,
        }
    }

    /// Sends one control as a unary `ControlService.Control`.
    pub async fn control(
        &mut self,
        req: ControlRequest,
        timeout: Duration,
    ) -> Result<ControlResponse, tonic::Status> {
        let mut req = tonic::Request::new(req);
        req.set_timeout(timeout);
        Ok(self.ctl.control(req).await?.into_inner())
    }

    /// Opens the `airan.e2t.v1` control stream: controls are read from `requests`,
    /// outcomes come out of the returned stream. `UNIMPLEMENTED` means the E2T does not
    /// offer it. Resolves when the E2T sends its response headers, which a grpcio-style
    /// E2T does only with its first outcome: callers must not wait on this before sending.
    pub async fn open_control_stream(
        &mut self,
        requests: mpsc::Receiver<ControlStreamRequest>,
    ) -> Result<Streaming<ControlStreamResponse>, tonic::Status> {
        let resp = self
            .ctl_stream
            .control_stream(ReceiverStream::new(requests))
            .await?;
        Ok(resp.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn requests_name_onos_e2t_service_models_and_the_configured_encoding() {
        let client = E2Client::new("http://127.0.0.1:1", "app", "app-1", 4096, None).unwrap();
        let h = client.headers("gnb-1", KPM_SERVICE_MODEL);
        let sm = h.service_model.unwrap();
        assert_eq!(
            (sm.name.as_str(), sm.version.as_str()),
            ("oran-e2sm-kpm", "v2")
        );
        assert_eq!(h.encoding, Encoding::Proto as i32);
        let per = client.with_encoding(WireEncoding::Asn1Per);
        let h = per
            .control_request("gnb-1", vec![], vec![], vec![])
            .headers
            .unwrap();
        assert_eq!(h.encoding, Encoding::Asn1Per as i32);
        let sm = h.service_model.unwrap();
        assert_eq!(
            (sm.name.as_str(), sm.version.as_str()),
            ("oran-e2sm-rc", "v1")
        );
        assert_eq!(h.e2_node_id, "gnb-1");
    }
}
