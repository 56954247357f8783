//! The client side: a tonic channel whose connections are TLS through a custom connector.
//!
//! tonic's own TLS (`ClientTlsConfig`) is fixed when the channel is made; this connector
//! takes the configuration in use at each connection instead, so a reconnect after the
//! files changed uses the new CA and client certificate. The server's certificate is
//! verified against the pinned CA for `server_name` (default: the endpoint's host; an IP
//! address is verified against the certificate's IP addresses).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tonic::codegen::http::Uri;
use tonic::transport::{Channel, Endpoint};

use crate::live::{Live, Reload};
use crate::metrics::{LogLimit, TlsMetrics, classify};
use crate::section::ClientSettings;

/// A TLS client configuration in use on one link, reloaded when its files change; cheap
/// to clone.
#[derive(Clone)]
pub struct ClientTls {
    live: Arc<Live<ClientConfig>>,
    server_name: Option<ServerName<'static>>,
    warnings: Arc<LogLimit>,
}

impl fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTls")
            .field("link", &self.live.link())
            .field("files", &self.live.files())
            .field("server_name", &self.server_name)
            .finish()
    }
}

impl ClientTls {
    /// The link `link` (a metric label: `e2t`, `conflict`) with `settings`, counted into
    /// `metrics`.
    pub fn new(settings: ClientSettings, link: &'static str, metrics: &TlsMetrics) -> Self {
        Self {
            live: Live::new(settings.loaded, link, metrics),
            server_name: settings.server_name,
            warnings: Arc::new(LogLimit::default()),
        }
    }

    /// A channel to `endpoint` (an `https://` URI) that connects on first use and
    /// reconnects after a loss, each connection through TLS.
    pub fn channel(&self, endpoint: &Endpoint) -> Channel {
        endpoint.connect_with_connector_lazy(self.connector())
    }

    /// The connector of [`Self::channel`].
    pub fn connector(&self) -> Connector {
        Connector { tls: self.clone() }
    }

    /// Looks at the files now (the watcher does every `reload_ms`).
    pub fn check_now(&self) -> Reload {
        self.live.check()
    }

    pub fn link(&self) -> &'static str {
        self.live.link()
    }

    /// Opens a TCP connection to `uri`'s host and port and runs the handshake.
    pub async fn connect(&self, uri: &Uri) -> std::io::Result<TlsStream<TcpStream>> {
        let invalid = |what: &str| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{uri}: {what}"))
        };
        let host = uri.host().ok_or_else(|| invalid("no host"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = uri.port_u16().unwrap_or(443);
        let name = match &self.server_name {
            Some(n) => n.clone(),
            None => ServerName::try_from(host.to_owned())
                .map_err(|_| invalid("host is not a DNS name or IP address"))?,
        };
        let tcp = TcpStream::connect((host, port)).await?;
        tcp.set_nodelay(true)?;
        let cfg = self.live.current();
        match TlsConnector::from(cfg).connect(name, tcp).await {
            Ok(s) => Ok(s),
            Err(e) => {
                let reason = classify(&e);
                let link = self.live.link();
                self.live.metrics().handshake_failed(link, reason);
                match self.warnings.warn() {
                    Some(held_back) => {
                        tracing::warn!(link, %uri, reason, cause = %e, held_back, "tls handshake failed");
                    }
                    None => tracing::debug!(link, %uri, reason, cause = %e, "tls handshake failed"),
                }
                Err(e)
            }
        }
    }
}

/// A tower connector doing TCP then TLS (see the module documentation).
#[derive(Clone, Debug)]
pub struct Connector {
    tls: ClientTls,
}

type Connecting =
    Pin<Box<dyn Future<Output = std::io::Result<TokioIo<TlsStream<TcpStream>>>> + Send>>;

impl tower_service::Service<Uri> for Connector {
    type Response = TokioIo<TlsStream<TcpStream>>;
    type Error = std::io::Error;
    type Future = Connecting;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let tls = self.tls.clone();
        Box::pin(async move { tls.connect(&uri).await.map(TokioIo::new) })
    }
}
