//! [`OipClient`]: one method per Open Inference Protocol RPC, each with its own deadline.
//!
//! The channel connects lazily (the xApp starts, and decides locally, while the remote
//! server is down) and reconnects by itself after the server comes back. A deadline is
//! sent to the server as `grpc-timeout` and enforced here as well, so a server that never
//! answers costs the caller the deadline and not a moment more.
//!
//! # TLS
//! An `https://` endpoint connects through [`nf_tls::ClientTls`] (link label
//! `remote_model`), built from `[remote_model.tls]`: rustls with the pinned CA as the only
//! trust anchor (no system roots), the client certificate for mTLS, ALPN `h2`. The
//! certificate files are re-read every `reload_ms` by a watcher that starts with the first
//! connection; a connection made after a change (the first call after the server went
//! away, or a reconnect after a refused handshake) uses the new files, no restart.
//! A handshake that fails is counted in `tls_handshake_failures_total{link="remote_model",
//! reason}` (the xApp's `xapp_` prefix) and the call comes back as `unavailable`, its
//! detail naming the TLS cause: the local model decides that tick, nothing waits on it.
//! `http://` stays cleartext HTTP/2, and the config refuses either scheme without its
//! matching section.

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
    /// `http://host:port`, or `https://host:port` with `tls`.
    pub endpoint: String,
    pub connect_timeout: Duration,
    /// Largest message either way [bytes].
    pub max_message_bytes: usize,
    /// The TLS client of an `https://` endpoint (`None` for `http://`).
    pub tls: Option<nf_tls::ClientTls>,
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
    let https = cfg.endpoint.starts_with("https://");
    match (&cfg.tls, https) {
        // Each connection (the first, and every reconnect) through rustls with the
        // configuration in use at that moment.
        (Some(tls), true) => Ok(tls.channel(&endpoint)),
        (None, false) => Ok(endpoint.connect_lazy()),
        (None, true) => Err(OipError::BadInput(format!(
            "endpoint {:?} is https:// but no TLS client is configured",
            cfg.endpoint
        ))),
        (Some(_), false) => Err(OipError::BadInput(format!(
            "endpoint {:?} is http:// but a TLS client is configured (no silent cleartext)",
            cfg.endpoint
        ))),
    }
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
