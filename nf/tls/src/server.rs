//! The server side: accepted TCP connections turned into TLS streams for a tonic server
//! (`serve_with_incoming_shutdown`), or passed through in cleartext when no TLS is
//! configured, behind one type ([`Conn`]) so that a server is written once.
//!
//! Each handshake runs in its own task, bounded in time ([`HANDSHAKE_TIMEOUT`]) and in
//! number ([`MAX_PENDING_HANDSHAKES`]): a slow or hostile client holds up nobody. A failed
//! handshake is counted (`tls_handshake_failures_total{link,reason}`) and logged (a
//! certificate or protocol refusal at warn, at most one per 10 s, the rest and dropped or
//! timed-out connections at debug), and the server keeps serving. Every handshake takes
//! the configuration in use when it starts, so a reload applies to the next connection.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tonic::transport::server::{Connected, TcpConnectInfo};

use crate::live::{Live, Reload};
use crate::metrics::{LogLimit, TlsMetrics, classify};
use crate::section::ServerSettings;

/// Longest a client may take to finish its handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at most; a connection past it is closed at once (counted as
/// `overload`).
pub const MAX_PENDING_HANDSHAKES: usize = 256;

/// A TLS server configuration in use on one listener, reloaded when its files change;
/// cheap to clone.
#[derive(Clone)]
pub struct ServerTls {
    live: Arc<Live<ServerConfig>>,
    warnings: Arc<LogLimit>,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field("link", &self.live.link())
            .field("files", &self.live.files())
            .finish()
    }
}

impl ServerTls {
    /// The listener `link` (a metric label, e.g. `server`) with `settings`, counted into
    /// `metrics`.
    pub fn new(settings: ServerSettings, link: &'static str, metrics: &TlsMetrics) -> Self {
        Self {
            live: Live::new(settings.loaded, link, metrics),
            warnings: Arc::new(LogLimit::default()),
        }
    }

    /// Looks at the files now (the watcher does every `reload_ms`).
    pub fn check_now(&self) -> Reload {
        self.live.check()
    }

    pub fn link(&self) -> &'static str {
        self.live.link()
    }

    /// Runs the server handshake on one accepted connection.
    async fn handshake(&self, tcp: TcpStream) -> Result<TlsStream<TcpStream>, &'static str> {
        let peer = tcp.peer_addr().ok();
        let acceptor = TlsAcceptor::from(self.live.current());
        let result = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
            Ok(Ok(s)) => return Ok(s),
            Ok(Err(e)) => (classify(&e), e.to_string()),
            Err(_) => (
                "timeout",
                format!("no handshake within {HANDSHAKE_TIMEOUT:?}"),
            ),
        };
        let (reason, cause) = result;
        self.live
            .metrics()
            .handshake_failed(self.live.link(), reason);
        let link = self.live.link();
        let warn = if matches!(reason, "io" | "timeout") {
            None
        } else {
            self.warnings.warn()
        };
        match warn {
            Some(held_back) => {
                tracing::warn!(link, peer = ?peer, reason, %cause, held_back, "tls handshake refused");
            }
            None => tracing::debug!(link, peer = ?peer, reason, %cause, "tls handshake failed"),
        }
        Err(reason)
    }
}

/// A served connection: cleartext or TLS.
#[derive(Debug)]
pub enum Conn {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(s) => s,
            Conn::Tls(s) => s.get_ref().0,
        }
    }

    /// The peer's certificate chain (mTLS), if it presented one.
    pub fn peer_certificates(&self) -> Option<&[rustls_pki_types::CertificateDer<'static>]> {
        match self {
            Conn::Plain(_) => None,
            Conn::Tls(s) => s.get_ref().1.peer_certificates(),
        }
    }
}

impl Connected for Conn {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        let tcp = self.tcp();
        TcpConnectInfo {
            local_addr: tcp.local_addr().ok(),
            remote_addr: tcp.peer_addr().ok(),
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Conn::Plain(s) => s.is_write_vectored(),
            Conn::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The connections a tonic server serves: `listener`'s, Nagle off (small gRPC messages
/// must not wait for a delayed ACK), through TLS when `tls` is set. Ends when the server
/// drops it (its shutdown).
pub type Incoming = Pin<Box<dyn Stream<Item = io::Result<Conn>> + Send>>;

/// See [`Incoming`]. With TLS it spawns the accept task: call it inside a tokio runtime.
pub fn incoming(listener: TcpListener, tls: Option<ServerTls>) -> Incoming {
    use futures::StreamExt;
    match tls {
        None => Box::pin(
            tokio_stream::wrappers::TcpListenerStream::new(listener).map(|s| {
                let s = s?;
                s.set_nodelay(true)?;
                Ok(Conn::Plain(s))
            }),
        ),
        Some(tls) => {
            let (tx, rx) = mpsc::channel(64);
            tokio::spawn(accept_tls(listener, tls, tx));
            Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
        }
    }
}

async fn accept_tls(listener: TcpListener, tls: ServerTls, tx: mpsc::Sender<io::Result<Conn>>) {
    tls.live.watch();
    let pending = Arc::new(Semaphore::new(MAX_PENDING_HANDSHAKES));
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = tx.closed() => return,
        };
        let tcp = match accepted {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                // Out of file descriptors and the like: wait a little rather than spin.
                tracing::warn!(link = tls.link(), cause = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let Ok(permit) = pending.clone().try_acquire_owned() else {
            tls.live.metrics().handshake_failed(tls.link(), "overload");
            tracing::debug!(
                link = tls.link(),
                "too many handshakes in progress: connection closed"
            );
            continue;
        };
        let (tls, tx) = (tls.clone(), tx.clone());
        tokio::spawn(async move {
            let r = tls.handshake(tcp).await;
            drop(permit);
            if let Ok(s) = r {
                let _ = tx.send(Ok(Conn::Tls(Box::new(s)))).await;
            }
        });
    }
}
