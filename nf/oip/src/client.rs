//! [`OipClient`]: one method per Open Inference Protocol RPC, each with its own deadline.
//!
//! The channel connects lazily (the xApp starts, and decides locally, while the remote
//! server is down) and reconnects by itself after the server comes back. A deadline is
//! sent to the server as `grpc-timeout` and enforced here as well, so a server that never
//! answers costs the caller the deadline and not a moment more.
//!
//! # TLS
//! Cleartext HTTP/2 only for now: [`crate::config`] refuses `https://`. Issue 11 adds the
//! TLS module (`nf_runtime::tls` / `nf-tls`); it plugs in at [`channel`], marked
//! `TLS SEAM`, as a `tonic::transport::ClientTlsConfig` on the endpoint, and the config
//! check then lets `https://` through.

use std::future::Future;
use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

use crate::error::OipError;
use crate::metadata::{ModelMetadata, ServerMetadata};
use crate::pb;
use crate::pb::grpc_inference_service_client::GrpcInferenceServiceClient;

/// A connection to one inference server.
#[derive(Clone, Debug)]
pub struct OipClient {
    grpc: GrpcInferenceServiceClient<Channel>,
    endpoint: String,
}

/// How to reach a server.
#[derive(Clone, Debug)]
pub struct ChannelConfig {
    /// `http://host:port`.
    pub endpoint: String,
    pub connect_timeout: Duration,
    /// Largest message either way [bytes].
    pub max_message_bytes: usize,
}

/// The lazily connecting channel to `cfg.endpoint`.
pub fn channel(cfg: &ChannelConfig) -> Result<Channel, OipError> {
    let endpoint = Endpoint::from_shared(cfg.endpoint.clone())
        .map_err(|e| OipError::BadInput(format!("endpoint {:?}: {e}", cfg.endpoint)))?
        .connect_timeout(cfg.connect_timeout)
        .tcp_nodelay(true)
        // A dead peer (a cable cut, not a closed socket) is noticed between ticks.
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(5));
    // TLS SEAM: with issue 11's module, `https://` endpoints get
    // `endpoint.tls_config(ClientTlsConfig::new()...)` here (CA, client certificate for
    // mTLS, server name); nothing else in this crate changes.
    Ok(endpoint.connect_lazy())
}

impl OipClient {
    /// A client of `cfg.endpoint`; nothing is sent until the first call.
    pub fn new(cfg: &ChannelConfig) -> Result<Self, OipError> {
        let grpc = GrpcInferenceServiceClient::new(channel(cfg)?)
            .max_decoding_message_size(cfg.max_message_bytes)
            .max_encoding_message_size(cfg.max_message_bytes);
        Ok(Self {
            grpc,
            endpoint: cfg.endpoint.clone(),
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// `ServerLive`.
    pub async fn server_live(&self, deadline: Duration) -> Result<bool, OipError> {
        let mut g = self.grpc.clone();
        let r = call(
            "ServerLive",
            deadline,
            pb::ServerLiveRequest {},
            |req| async move { g.server_live(req).await },
        );
        Ok(r.await?.live)
    }

    /// `ServerReady`.
    pub async fn server_ready(&self, deadline: Duration) -> Result<bool, OipError> {
        let mut g = self.grpc.clone();
        let r = call(
            "ServerReady",
            deadline,
            pb::ServerReadyRequest {},
            |req| async move { g.server_ready(req).await },
        );
        Ok(r.await?.ready)
    }

    /// `ModelReady` for `name` at `version` (`None`: the server's choice).
    pub async fn model_ready(
        &self,
        name: &str,
        version: Option<&str>,
        deadline: Duration,
    ) -> Result<bool, OipError> {
        let mut g = self.grpc.clone();
        let msg = pb::ModelReadyRequest {
            name: name.to_owned(),
            version: version.map(str::to_owned),
        };
        let r = call("ModelReady", deadline, msg, |req| async move {
            g.model_ready(req).await
        });
        Ok(r.await?.ready)
    }

    /// `ServerMetadata`.
    pub async fn server_metadata(&self, deadline: Duration) -> Result<ServerMetadata, OipError> {
        let mut g = self.grpc.clone();
        let msg = pb::ServerMetadataRequest {};
        let r = call("ServerMetadata", deadline, msg, |req| async move {
            g.server_metadata(req).await
        });
        Ok(r.await?.into())
    }

    /// `ModelMetadata` for `name` at `version` (`None`: the server's choice).
    pub async fn model_metadata(
        &self,
        name: &str,
        version: Option<&str>,
        deadline: Duration,
    ) -> Result<ModelMetadata, OipError> {
        let mut g = self.grpc.clone();
        let msg = pb::ModelMetadataRequest {
            name: name.to_owned(),
            version: version.map(str::to_owned),
        };
        let r = call("ModelMetadata", deadline, msg, |req| async move {
            g.model_metadata(req).await
        });
        Ok(r.await?.into())
    }

    /// `ModelInfer` (the request and response stay protocol messages inside the crate).
    pub(crate) async fn model_infer(
        &self,
        msg: pb::ModelInferRequest,
        deadline: Duration,
    ) -> Result<pb::ModelInferResponse, OipError> {
        let mut g = self.grpc.clone();
        call("ModelInfer", deadline, msg, |req| async move {
            g.model_infer(req).await
        })
        .await
    }
}

/// Runs one unary call with `deadline` sent to the server and enforced here.
async fn call<M, T, F, Fut>(
    name: &'static str,
    deadline: Duration,
    msg: M,
    rpc: F,
) -> Result<T, OipError>
where
    F: FnOnce(tonic::Request<M>) -> Fut,
    Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    let mut req = tonic::Request::new(msg);
    req.set_timeout(deadline);
    match tokio::time::timeout(deadline, rpc(req)).await {
        Ok(Ok(resp)) => Ok(resp.into_inner()),
        Ok(Err(status)) => Err(OipError::from_status(name, deadline, status)),
        Err(_) => Err(OipError::Deadline {
            call: name,
            deadline,
        }),
    }
}
