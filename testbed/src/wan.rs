//! A delaying TCP proxy on loopback: every byte is forwarded, in order, a fixed one-way
//! delay after it was read, in both directions, so a request and its answer cross two
//! delays (round trip = 2 × one way). It emulates a WAN link to a remote model server
//! without `tc netem` or a network namespace (no privileges). Bandwidth is not limited:
//! only latency is added, as on a well-provisioned long link.
//!
//! The delay can change while connections are open ([`DelayProxy::set_one_way`]); bytes
//! already read keep the delay they were read with.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// A running proxy; stops when dropped.
#[derive(Debug)]
pub struct DelayProxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    one_way_ns: Arc<AtomicU64>,
    accept: JoinHandle<()>,
}

impl DelayProxy {
    /// Listens on a free loopback port and forwards to `upstream` with `one_way` delay.
    pub async fn start(upstream: SocketAddr, one_way: Duration) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let one_way_ns = Arc::new(AtomicU64::new(one_way.as_nanos() as u64));
        let delay = one_way_ns.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let delay = delay.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        relay(client, server, delay).await;
                    }
                });
            }
        });
        Ok(Self {
            addr,
            one_way_ns,
            accept,
        })
    }

    /// `http://` endpoint of the proxy (for a gRPC client).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Changes the one-way delay of bytes read from now on.
    pub fn set_one_way(&self, one_way: Duration) {
        self.one_way_ns
            .store(one_way.as_nanos() as u64, Ordering::Relaxed);
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Both directions of one connection, until either side closes.
async fn relay(client: TcpStream, server: TcpStream, delay: Arc<AtomicU64>) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    let up = pipe(cr, sw, delay.clone());
    let down = pipe(sr, cw, delay);
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}

/// Reads from `r`, and writes each chunk to `w` once its delay has passed.
async fn pipe(
    mut r: tokio::net::tcp::OwnedReadHalf,
    mut w: tokio::net::tcp::OwnedWriteHalf,
    delay: Arc<AtomicU64>,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let writer = async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if w.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = w.shutdown().await;
    };
    let reader = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match r.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    let due = Instant::now() + Duration::from_nanos(delay.load(Ordering::Relaxed));
                    if tx.send((due, buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
    };
    // The writer drains what was read before the reader saw the end.
    let (_, ()) = tokio::join!(reader, writer);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server behind the proxy: a round trip takes two one-way delays, not less.
    #[tokio::test]
    async fn a_round_trip_crosses_two_delays() {
        let echo = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let upstream = echo.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut s, _)) = echo.accept().await {
                tokio::spawn(async move {
                    let mut b = [0u8; 1024];
                    while let Ok(n) = s.read(&mut b).await {
                        if n == 0 || s.write_all(&b[..n]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        let proxy = DelayProxy::start(upstream, Duration::from_millis(20))
            .await
            .expect("proxy");
        let mut c = TcpStream::connect(proxy.addr).await.expect("connect");
        for (one_way, low, high) in [(20, 40, 200), (5, 10, 150)] {
            proxy.set_one_way(Duration::from_millis(one_way));
            let started = Instant::now();
            c.write_all(b"ping").await.expect("write");
            let mut b = [0u8; 4];
            c.read_exact(&mut b).await.expect("read");
            let rtt = started.elapsed();
            assert_eq!(&b, b"ping");
            assert!(
                rtt >= Duration::from_millis(low) && rtt < Duration::from_millis(high),
                "{rtt:?} for {one_way} ms one way"
            );
        }
    }
}
