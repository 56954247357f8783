//! E2T client over the SD-RAN-compatible northbound API, and reconnect backoff.
//!
//! Protobuf types stay in here: callers get [`E2Node`]s, KPM indication streams and
//! control requests built from domain values.

use std::time::Duration;

use e2_proto::kpm::{self, CellInfo};
use e2_proto::pb::admin::ListE2NodeConnectionsRequest;
use e2_proto::pb::admin::e2t_admin_service_client::E2tAdminServiceClient;
use e2_proto::pb::e2t::control_service_client::ControlServiceClient;
use e2_proto::pb::e2t::subscription_service_client::SubscriptionServiceClient;
use e2_proto::pb::e2t::{
    Action, ActionType, ControlMessage, ControlRequest, ControlResponse, Encoding, EventTrigger,
    RequestHeaders, ServiceModel, SubscribeRequest, SubscribeResponse, SubscriptionSpec,
    UnsubscribeRequest,
};
use e2_proto::pb::stream::control_stream_service_client::ControlStreamServiceClient;
use e2_proto::pb::stream::{ControlStreamRequest, ControlStreamResponse};
use rand::Rng;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;
use tonic::transport::{Channel, Endpoint};

use crate::config::BackoffConfig;
use crate::metrics::{Metrics, Reason};

/// An E2 node with the cells its KPM RAN function announces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct E2Node {
    pub id: String,
    pub cells: Vec<CellInfo>,
}

/// Failures talking to the E2T.
#[derive(Debug, thiserror::Error)]
pub enum E2Error {
    #[error("invalid E2T endpoint `{endpoint}`: {source}")]
    Endpoint {
        endpoint: String,
        #[source]
        source: tonic::transport::Error,
    },
    #[error("E2T call {call} failed: {status}")]
    Rpc {
        call: &'static str,
        status: tonic::Status,
    },
}

/// A handle on the E2T; cheap to clone (one HTTP/2 connection underneath).
#[derive(Clone, Debug)]
pub struct E2Client {
    admin: E2tAdminServiceClient<Channel>,
    subs: SubscriptionServiceClient<Channel>,
    ctl: ControlServiceClient<Channel>,
    ctl_stream: ControlStreamServiceClient<Channel>,
    app_id: String,
    app_instance_id: String,
    /// Where nodes refused at discovery are counted (by reason).
    refused: prometheus_client::metrics::family::Family<
        Reason,
        prometheus_client::metrics::counter::Counter,
    >,
}

impl E2Client {
    /// A client that connects on first use (and reconnects after a loss).
    pub fn new(
        endpoint: &str,
        app_id: &str,
        app_instance_id: &str,
        max_message_bytes: usize,
    ) -> Result<Self, E2Error> {
        let channel = Endpoint::from_shared(endpoint.to_owned())
            .map_err(|source| E2Error::Endpoint {
                endpoint: endpoint.into(),
                source,
            })?
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(2))
            .http2_keep_alive_interval(Duration::from_secs(10))
            .keep_alive_timeout(Duration::from_secs(5))
            .connect_lazy();
        Ok(Self {
            admin: E2tAdminServiceClient::new(channel.clone())
                .max_decoding_message_size(max_message_bytes),
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
            refused: Default::default(),
        })
    }

    /// Counts the E2 nodes refused at discovery in `metrics` (`xapp_e2_nodes_refused_total`).
    pub fn counting_refusals_in(mut self, metrics: &Metrics) -> Self {
        self.refused = metrics.nodes_refused.clone();
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
            encoding: Encoding::Proto as i32,
        }
    }

    fn transaction_id(&self) -> String {
        format!("{}-kpm", self.app_instance_id)
    }

    /// The connected E2 nodes that offer KPM, with their cells. Nodes whose RAN function
    /// definition does not decode are skipped with a warning.
    pub async fn list_nodes(&mut self) -> Result<Vec<E2Node>, E2Error> {
        let rpc = |status| E2Error::Rpc {
            call: "ListE2NodeConnections",
            status,
        };
        let mut stream = self
            .admin
            .list_e2_node_connections(ListE2NodeConnectionsRequest {})
            .await
            .map_err(rpc)?
            .into_inner();
        let mut nodes = Vec::new();
        while let Some(conn) = stream.message().await.map_err(rpc)? {
            // Node IDs reach logs, metrics and the decision log: refuse the unprintable.
            if let Err(e) = nf_core::ids::check_node_id(&conn.node_id) {
                Metrics::inc(&self.refused, e.kind());
                tracing::warn!(node = %nf_core::ids::Escaped(&conn.node_id), cause = %e, "E2 node refused");
                continue;
            }
            let Some(f) = conn
                .ran_functions
                .iter()
                .find(|f| f.oid == e2_proto::KPM_OID)
            else {
                continue;
            };
            match kpm::decode_ran_function(&f.description) {
                Ok(cells) => nodes.push(E2Node {
                    id: conn.node_id.clone(),
                    cells,
                }),
                Err(e) => {
                    Metrics::inc(&self.refused, "ran_function");
                    tracing::warn!(node = %conn.node_id, cause = %e, "KPM RAN function definition refused")
                }
            }
        }
        Ok(nodes)
    }

    /// Subscribes to periodic KPM reports (style 1) of every cell of `node`.
    pub async fn subscribe(
        &mut self,
        node: &E2Node,
        period_ms: u32,
    ) -> Result<Streaming<SubscribeResponse>, E2Error> {
        let actions = node
            .cells
            .iter()
            .enumerate()
            .map(|(i, c)| Action {
                id: i as i32,
                r#type: ActionType::Report as i32,
                payload: kpm::encode_action_definition(c, period_ms),
                subsequent_action: None,
            })
            .collect();
        let req = SubscribeRequest {
            headers: Some(
                self.headers(&node.id, (e2_proto::KPM_SM_NAME, e2_proto::KPM_SM_VERSION)),
            ),
            transaction_id: self.transaction_id(),
            subscription: Some(SubscriptionSpec {
                event_trigger: Some(EventTrigger {
                    payload: kpm::encode_event_trigger(period_ms),
                }),
                actions,
            }),
            transaction_timeout: None,
        };
        let resp = self
            .subs
            .subscribe(req)
            .await
            .map_err(|status| E2Error::Rpc {
                call: "Subscribe",
                status,
            })?;
        Ok(resp.into_inner())
    }

    /// Deletes this app's KPM subscription on `node`.
    pub async fn unsubscribe(&mut self, node: &str) -> Result<(), E2Error> {
        let req = UnsubscribeRequest {
            headers: Some(self.headers(node, (e2_proto::KPM_SM_NAME, e2_proto::KPM_SM_VERSION))),
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
            headers: Some(self.headers(node, (e2_proto::RC_SM_NAME, e2_proto::RC_SM_VERSION))),
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

    /// Opens the `airan.e2t.v1` control stream: controls go into the returned sender,
    /// outcomes come out of the stream. `UNIMPLEMENTED` means the E2T does not offer it.
    pub async fn open_control_stream(
        &mut self,
        capacity: usize,
    ) -> Result<
        (
            mpsc::Sender<ControlStreamRequest>,
            Streaming<ControlStreamResponse>,
        ),
        tonic::Status,
    > {
        let (tx, rx) = mpsc::channel(capacity);
        let resp = self
            .ctl_stream
            .control_stream(ReceiverStream::new(rx))
            .await?;
        Ok((tx, resp.into_inner()))
    }
}

/// Exponential backoff with jitter: the n-th wait is uniform in [d/2, d] where
/// d = min(max, initial · 2ⁿ).
#[derive(Debug)]
pub struct Backoff {
    cfg: BackoffConfig,
    attempt: u32,
}

impl Backoff {
    pub fn new(cfg: BackoffConfig) -> Self {
        Self { cfg, attempt: 0 }
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    pub fn next_delay(&mut self) -> Duration {
        let d = self
            .cfg
            .initial
            .saturating_mul(1 << self.attempt.min(20))
            .min(self.cfg.max);
        self.attempt += 1;
        let half = d / 2;
        half + Duration::from_nanos(rand::rng().random_range(0..=half.as_nanos() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_jitters() {
        let mut b = Backoff::new(BackoffConfig {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
        });
        let waits: Vec<Duration> = (0..8).map(|_| b.next_delay()).collect();
        assert!(waits[0] >= Duration::from_millis(50) && waits[0] <= Duration::from_millis(100));
        assert!(waits[3] >= Duration::from_millis(400) && waits[3] <= Duration::from_millis(800));
        assert!(waits.iter().all(|w| *w <= Duration::from_secs(1)));
        assert!(waits[7] >= Duration::from_millis(500));
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }
}
