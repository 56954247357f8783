//! What TLS costs on one core's worth of loopback: new-connection time (TCP + handshake)
//! for cleartext, TLS and mTLS, and the round trip of a 64-byte message on an established
//! connection, through this crate's client and server sides with certificates made at run
//! time (ECDSA P-256).
//!
//! `cargo run --release -p nf-tls --example tlsbench -- [CONNECTIONS] [ROUND_TRIPS]`

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use futures::StreamExt;
use nf_tls::testing::{TestCa, scratch};
use nf_tls::{ClientTls, ServerTls, TlsMetrics, incoming};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn echo(tls: Option<ServerTls>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut conns = incoming(listener, tls);
    tokio::spawn(async move {
        while let Some(Ok(mut c)) = conns.next().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 64];
                while c.read_exact(&mut buf).await.is_ok() {
                    if c.write_all(&buf).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

fn pct(mut v: Vec<Duration>, p: f64) -> f64 {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i].as_secs_f64() * 1e6
}

fn report(what: &str, v: Vec<Duration>) {
    println!(
        "{what:<34} n={:<6} p50 {:>8.1} us  p99 {:>8.1} us",
        v.len(),
        pct(v.clone(), 0.5),
        pct(v, 0.99)
    );
}

async fn round_trips<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, n: usize) -> Vec<Duration> {
    let msg = [7u8; 64];
    let mut buf = [0u8; 64];
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        s.write_all(&msg).await.unwrap();
        s.read_exact(&mut buf).await.unwrap();
        out.push(t.elapsed());
    }
    out
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let conns: usize = args.next().map_or(500, |a| a.parse().unwrap());
    let trips: usize = args.next().map_or(20_000, |a| a.parse().unwrap());
    let dir = scratch("tlsbench");
    let ca = TestCa::new("bench ca");
    let server = ca.write(&dir, "server");
    let client = ca.write(&dir, "client");
    let m = TlsMetrics::default();
    let plain_port = echo(None).await;
    let tls_port = echo(Some(ServerTls::new(server.server(None, 5000), "tls", &m))).await;
    let mtls_port = echo(Some(ServerTls::new(
        server.server(Some(&server.ca), 5000),
        "mtls",
        &m,
    )))
    .await;
    let tls = ClientTls::new(client.client(false, 5000), "tls", &m);
    let mtls = ClientTls::new(client.client(true, 5000), "mtls", &m);
    let uri = |p: u16| format!("https://localhost:{p}").parse().unwrap();

    let mut plain = Vec::new();
    let mut one_way = Vec::new();
    let mut mutual = Vec::new();
    for _ in 0..conns {
        let t = Instant::now();
        let mut s = TcpStream::connect(("127.0.0.1", plain_port)).await.unwrap();
        round_trips(&mut s, 1).await;
        plain.push(t.elapsed());
        let t = Instant::now();
        let mut s = tls.connect(&uri(tls_port)).await.unwrap();
        round_trips(&mut s, 1).await;
        one_way.push(t.elapsed());
        let t = Instant::now();
        let mut s = mtls.connect(&uri(mtls_port)).await.unwrap();
        round_trips(&mut s, 1).await;
        mutual.push(t.elapsed());
    }
    report("new connection + 1 rt, cleartext", plain);
    report("new connection + 1 rt, TLS", one_way);
    report("new connection + 1 rt, mTLS", mutual);

    let mut s = TcpStream::connect(("127.0.0.1", plain_port)).await.unwrap();
    s.set_nodelay(true).unwrap();
    report(
        "64 B round trip, cleartext",
        round_trips(&mut s, trips).await,
    );
    let mut s = mtls.connect(&uri(mtls_port)).await.unwrap();
    report("64 B round trip, mTLS", round_trips(&mut s, trips).await);
    let _ = std::fs::remove_dir_all(dir);
}
