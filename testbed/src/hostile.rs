//! A hostile E2T for tests: a second gRPC server, wire-compatible with the E2T API the
//! xApp uses (`onos.e2t.admin`, `onos.e2t.e2.v1beta1`, `airan.e2t.v1`), standing in front
//! of a real simulator. Healthy nodes and their cells are the simulator's, proxied call by
//! call, so tests can check that healthy cells keep their controls; on top of them it
//! misbehaves the one way its [`Misbehaviour`] names.
//!
//! Every misbehaviour is one a real E2T or a network can show: a control stream that sends
//! its response headers only with its first message (grpcio's default), a node list that
//! never ends, a node-list entry of 16 MB, a subscription that is acknowledged and then
//! never reports.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::sim::service::{BoxStream, incoming_nodelay, node_entry};
use e2_proto::pb::admin::e2t_admin_service_client::E2tAdminServiceClient;
use e2_proto::pb::admin::e2t_admin_service_server::{E2tAdminService, E2tAdminServiceServer};
use e2_proto::pb::admin::{ListE2NodeConnectionsRequest, ListE2NodeConnectionsResponse};
use e2_proto::pb::e2t::control_service_client::ControlServiceClient;
use e2_proto::pb::e2t::control_service_server::{ControlService, ControlServiceServer};
use e2_proto::pb::e2t::subscription_service_client::SubscriptionServiceClient;
use e2_proto::pb::e2t::subscription_service_server::{
    SubscriptionService, SubscriptionServiceServer,
};
use e2_proto::pb::e2t::{
    Acknowledgement, ControlRequest, ControlResponse, RequestHeaders, ResponseHeaders,
    SubscribeRequest, SubscribeResponse, UnsubscribeRequest, UnsubscribeResponse,
    subscribe_response,
};
use e2_proto::pb::stream::control_stream_service_client::ControlStreamServiceClient;
use e2_proto::pb::stream::control_stream_service_server::{
    ControlStreamService, ControlStreamServiceServer,
};
use e2_proto::pb::stream::{ControlStreamRequest, ControlStreamResponse};
use futures::StreamExt;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status, Streaming};

/// Node ID of the 16 MB node-list entry.
pub const HUGE_NODE: &str = "hostile-huge";
/// Node ID of the node whose subscriptions stay silent.
pub const SILENT_NODE: &str = "hostile-silent";
/// Size of the oversize node-list entry's RAN function definition [bytes].
pub const HUGE_ENTRY_BYTES: usize = 16 * 1024 * 1024;

/// How the hostile E2T misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Misbehaviour {
    /// None: a transparent proxy (the control case).
    None,
    /// The control stream's response headers go out only with its first outcome: the
    /// handler waits for the first control before it returns (grpcio's default).
    LateControlHeaders,
    /// `ListE2NodeConnections` lists the nodes, then never ends.
    EndlessNodeList,
    /// A 16 MB entry ([`HUGE_NODE`]) comes first in the node list.
    HugeNodeEntry,
    /// An extra node ([`SILENT_NODE`]) is listed; its subscriptions are acknowledged,
    /// then nothing is ever sent on them.
    SilentNode,
    /// The node list is always empty: the E2T answers, but offers no KPM node.
    NoNodes,
}

/// What the hostile E2T saw.
#[derive(Debug, Default)]
pub struct HostileStats {
    pub node_lists: AtomicU64,
    /// Subscriptions to [`SILENT_NODE`].
    pub silent_subscriptions: AtomicU64,
    /// Control streams held back until their first control.
    pub late_streams: AtomicU64,
}

#[derive(Clone)]
struct Proxy {
    mode: Misbehaviour,
    stats: Arc<HostileStats>,
    admin: E2tAdminServiceClient<Channel>,
    subs: SubscriptionServiceClient<Channel>,
    ctl: ControlServiceClient<Channel>,
    ctl_stream: ControlStreamServiceClient<Channel>,
}

/// A hostile E2T serving on loopback.
#[derive(Debug)]
pub struct RunningHostile {
    pub addr: SocketAddr,
    pub stats: Arc<HostileStats>,
    stop: Option<oneshot::Sender<()>>,
    join: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
}

impl RunningHostile {
    /// Serves on a free loopback port, in front of the E2T (simulator) at `upstream`.
    pub async fn start(mode: Misbehaviour, upstream: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let channel = Endpoint::from_shared(format!("http://{upstream}"))
            .map_err(std::io::Error::other)?
            .connect_lazy();
        let limit = 64 * 1024 * 1024;
        let proxy = Proxy {
            mode,
            stats: Arc::default(),
            admin: E2tAdminServiceClient::new(channel.clone()).max_decoding_message_size(limit),
            subs: SubscriptionServiceClient::new(channel.clone()).max_decoding_message_size(limit),
            ctl: ControlServiceClient::new(channel.clone()),
            ctl_stream: ControlStreamServiceClient::new(channel),
        };
        let stats = proxy.stats.clone();
        let (tx, rx) = oneshot::channel::<()>();
        let join = tokio::spawn(
            tonic::transport::Server::builder()
                .tcp_nodelay(true)
                .add_service(
                    E2tAdminServiceServer::new(proxy.clone()).max_encoding_message_size(limit),
                )
                .add_service(SubscriptionServiceServer::new(proxy.clone()))
                .add_service(ControlServiceServer::new(proxy.clone()))
                .add_service(ControlStreamServiceServer::new(proxy))
                .serve_with_incoming_shutdown(incoming_nodelay(listener), async move {
                    let _ = rx.await;
                }),
        );
        Ok(Self {
            addr,
            stats,
            stop: Some(tx),
            join,
        })
    }

    /// Stops serving and waits for the server.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), &mut self.join).await;
        self.join.abort();
    }
}

/// The silent node announces the cells of the first healthy node (its own table).
fn silent_entry(
    healthy: &[ListE2NodeConnectionsResponse],
) -> Option<ListE2NodeConnectionsResponse> {
    let f = healthy
        .first()?
        .ran_functions
        .iter()
        .find(|f| f.oid == e2_proto::KPM_OID)?;
    Some(node_entry(SILENT_NODE, f.description.clone()))
}

#[tonic::async_trait]
impl E2tAdminService for Proxy {
    type ListE2NodeConnectionsStream = BoxStream<ListE2NodeConnectionsResponse>;

    async fn list_e2_node_connections(
        &self,
        req: Request<ListE2NodeConnectionsRequest>,
    ) -> Result<Response<Self::ListE2NodeConnectionsStream>, Status> {
        self.stats.node_lists.fetch_add(1, Ordering::Relaxed);
        let mut upstream = self
            .admin
            .clone()
            .list_e2_node_connections(req.into_inner())
            .await?
            .into_inner();
        let mut healthy = Vec::new();
        while let Some(e) = upstream.message().await? {
            healthy.push(e);
        }
        let mut entries = Vec::new();
        if self.mode == Misbehaviour::HugeNodeEntry {
            entries.push(node_entry(HUGE_NODE, vec![0x5a; HUGE_ENTRY_BYTES]));
        }
        if self.mode == Misbehaviour::SilentNode {
            entries.extend(silent_entry(&healthy));
        }
        if self.mode != Misbehaviour::NoNodes {
            entries.extend(healthy);
        }
        let listed = tokio_stream::iter(entries.into_iter().map(Ok));
        Ok(Response::new(
            if self.mode == Misbehaviour::EndlessNodeList {
                Box::pin(listed.chain(futures::stream::pending()))
            } else {
                Box::pin(listed)
            },
        ))
    }
}

/// The E2 node a request is for.
fn node_of(headers: Option<&RequestHeaders>) -> &str {
    headers.map_or("", |h| h.e2_node_id.as_str())
}

#[tonic::async_trait]
impl SubscriptionService for Proxy {
    type SubscribeStream = BoxStream<SubscribeResponse>;

    async fn subscribe(
        &self,
        req: Request<SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let req = req.into_inner();
        if node_of(req.headers.as_ref()) == SILENT_NODE {
            self.stats
                .silent_subscriptions
                .fetch_add(1, Ordering::Relaxed);
            let ack = SubscribeResponse {
                headers: Some(ResponseHeaders { encoding: 0 }),
                message: Some(subscribe_response::Message::Ack(Acknowledgement {
                    channel_id: format!("{SILENT_NODE}:{}", req.transaction_id),
                })),
            };
            let silent = tokio_stream::once(Ok(ack)).chain(futures::stream::pending());
            return Ok(Response::new(Box::pin(silent)));
        }
        let upstream = self.subs.clone().subscribe(req).await?.into_inner();
        Ok(Response::new(Box::pin(upstream)))
    }

    async fn unsubscribe(
        &self,
        req: Request<UnsubscribeRequest>,
    ) -> Result<Response<UnsubscribeResponse>, Status> {
        if node_of(req.get_ref().headers.as_ref()) == SILENT_NODE {
            return Ok(Response::new(UnsubscribeResponse {
                headers: Some(ResponseHeaders { encoding: 0 }),
            }));
        }
        self.subs.clone().unsubscribe(req.into_inner()).await
    }
}

#[tonic::async_trait]
impl ControlService for Proxy {
    async fn control(
        &self,
        req: Request<ControlRequest>,
    ) -> Result<Response<ControlResponse>, Status> {
        self.ctl.clone().control(req.into_inner()).await
    }
}

#[tonic::async_trait]
impl ControlStreamService for Proxy {
    type ControlStreamStream = BoxStream<ControlStreamResponse>;

    async fn control_stream(
        &self,
        req: Request<Streaming<ControlStreamRequest>>,
    ) -> Result<Response<Self::ControlStreamStream>, Status> {
        let mut inbound = req.into_inner();
        let first = if self.mode == Misbehaviour::LateControlHeaders {
            self.stats.late_streams.fetch_add(1, Ordering::Relaxed);
            // Nothing goes back, not even the headers, until the first control arrives.
            match inbound.message().await? {
                Some(m) => Some(m),
                None => return Err(Status::cancelled("control stream closed before use")),
            }
        } else {
            None
        };
        let rest = inbound.filter_map(|m| futures::future::ready(m.ok()));
        let requests = tokio_stream::iter(first).chain(rest);
        let upstream = self.ctl_stream.clone().control_stream(requests).await?;
        Ok(Response::new(Box::pin(upstream.into_inner())))
    }
}
