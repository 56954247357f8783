//! Real TLS handshakes on loopback between this crate's client and server sides (rustls
//! both ends, certificates made at test time): server-only TLS, mTLS with the right, an
//! unknown and no client certificate, a client pinning another CA, and a reload of the
//! server's files while it listens. gRPC over these links is tested in `testbed`.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use futures::StreamExt;
use nf_tls::testing::{TestCa, scratch};
use nf_tls::{ClientTls, Reload, ServerTls, TlsMetrics, incoming};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tonic::codegen::http::Uri;

/// Serves `tls` on loopback: every accepted connection echoes one line back.
async fn echo_server(tls: ServerTls) -> Uri {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut conns = incoming(listener, Some(tls));
    tokio::spawn(async move {
        while let Some(Ok(mut c)) = conns.next().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 5];
                if c.read_exact(&mut buf).await.is_ok() {
                    let _ = c.write_all(&buf).await;
                    let _ = c.flush().await;
                }
            });
        }
    });
    format!("https://localhost:{port}").parse().unwrap()
}

/// Connects, sends `hello`, and reads it back: `Ok` only when both ends accepted.
async fn round_trip(client: &ClientTls, uri: &Uri) -> Result<(), String> {
    let mut s = client.connect(uri).await.map_err(|e| e.to_string())?;
    s.write_all(b"hello").await.map_err(|e| e.to_string())?;
    let mut buf = [0u8; 5];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut buf))
        .await
        .map_err(|_| "no echo".to_owned())?
        .map_err(|e| e.to_string())?;
    assert_eq!(&buf, b"hello");
    Ok(())
}

#[tokio::test]
async fn server_tls_and_mtls_accept_the_right_clients_only() {
    let dir = scratch("mtls");
    let ca = TestCa::new("airan test ca");
    let stranger = TestCa::new("unknown ca");
    let server_files = ca.write(&dir, "server");
    let good = ca.write(&dir, "good-client");
    let unknown = stranger.write(&dir, "unknown-client");
    let metrics = TlsMetrics::default();
    let client_metrics = TlsMetrics::default();

    // Server-only TLS: any client pinning the CA gets through.
    let plain = echo_server(ServerTls::new(
        server_files.server(None, 5000),
        "tls",
        &metrics,
    ))
    .await;
    let anon = ClientTls::new(good.client(false, 5000), "c", &client_metrics);
    round_trip(&anon, &plain).await.expect("server-only TLS");

    // mTLS: client certificates required, verified against the CA.
    let mtls = ServerTls::new(
        server_files.server(Some(&server_files.ca), 5000),
        "mtls",
        &metrics,
    );
    let uri = echo_server(mtls).await;
    let with_cert = ClientTls::new(good.client(true, 5000), "c", &client_metrics);
    round_trip(&with_cert, &uri)
        .await
        .expect("a client certificate of the CA");

    let err = round_trip(&anon, &uri)
        .await
        .expect_err("no client certificate");
    assert!(!err.is_empty());
    // An unknown CA's client: its files pin the unknown CA, so pin ours and present its leaf.
    let mixed = nf_tls::testing::Files {
        ca: server_files.ca.clone(),
        cert: unknown.cert.clone(),
        key: unknown.key.clone(),
    };
    let foreign = ClientTls::new(mixed.client(true, 5000), "c", &client_metrics);
    round_trip(&foreign, &uri)
        .await
        .expect_err("a client certificate of an unknown CA");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        metrics.handshake_failures_of("mtls", "no_client_certificate"),
        1
    );
    assert_eq!(metrics.handshake_failures_of("mtls", "unknown_ca"), 1);

    // A client pinning another CA refuses the server.
    let wrong_pin = ClientTls::new(unknown.client(false, 5000), "pin", &client_metrics);
    let err = round_trip(&wrong_pin, &plain)
        .await
        .expect_err("server of an unpinned CA");
    assert!(
        err.contains("UnknownIssuer") || err.contains("unknown"),
        "{err}"
    );
    assert_eq!(client_metrics.handshake_failures_of("pin", "unknown_ca"), 1);
}

#[tokio::test]
async fn a_server_picks_up_new_certificates_without_a_restart() {
    let dir = scratch("reload");
    let first = TestCa::new("first ca");
    let second = TestCa::new("second ca");
    let files = first.write(&dir, "server");
    let second_files = second.write(&dir, "second");
    let first_pin = ClientTls::new(files.client(false, 5000), "first", &TlsMetrics::default());
    let second_pin = ClientTls::new(
        second_files.client(false, 5000),
        "second",
        &TlsMetrics::default(),
    );
    let metrics = TlsMetrics::default();
    let server = ServerTls::new(files.server(None, 100), "server", &metrics);
    let uri = echo_server(server.clone()).await;
    round_trip(&first_pin, &uri).await.expect("first CA before");
    round_trip(&second_pin, &uri)
        .await
        .expect_err("second CA before");

    // A broken certificate file: refused, counted, the old one still served.
    nf_tls::testing::replace(&files.cert, "-----BEGIN CERTIFICATE-----\nnot base64\n");
    assert_eq!(server.check_now(), Reload::Failed);
    assert_eq!(
        server.check_now(),
        Reload::Unchanged,
        "one failure per content"
    );
    assert_eq!(metrics.reload_failures_of("server"), 1);
    round_trip(&first_pin, &uri)
        .await
        .expect("old certificate still served");

    // The second CA's certificate and key: picked up by the watcher (100 ms).
    let leaf = second.leaf(&["localhost", "127.0.0.1"]);
    files.write(&first.pem(), &leaf);
    let mut switched = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if metrics.reloads_of("server") == 1 {
            switched = true;
            break;
        }
    }
    assert!(switched, "reloaded within 5 s");
    round_trip(&second_pin, &uri)
        .await
        .expect("second CA after the reload");
    round_trip(&first_pin, &uri)
        .await
        .expect_err("first CA no longer");
}
