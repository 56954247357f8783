//! The remote-inference link over TLS and mTLS against a TLS implementation that is not
//! ours: MLServer's gRPC port made secure with grpcio's own TLS (BoringSSL), requiring a
//! client certificate (`serve.py --tls-client-ca`). Certificates are made with rcgen at
//! test time and written to a temporary folder, the way an operator mounts them.
//!
//! One server for the whole file: its certificate signed by the "server CA", client
//! certificates required and verified against the "client CA". Each test makes its own
//! client files, so that replacing them (a rotation) touches no other test.
//! Two more need no MLServer: a port that accepts and never answers the ClientHello, and
//! one that answers it in cleartext.
//!
//! Without python3 (and its venv module) every test prints `SKIPPED:` and passes, unless
//! `AIRAN_REQUIRE_OIP_TESTS=1`.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{config, contract, local_model, local_outputs, max_abs_diff, rows};
use nf_oip::testserver::{Served, ServerTls, TestServer, python};
use nf_oip::{OipError, RemoteModel, TLS_LINK, TlsMetrics};
use nf_tls::testing::{Leaf, TestCa, replace, scratch};

/// The CAs and the running server.
struct Pki {
    dir: PathBuf,
    server_ca: TestCa,
    client_ca: TestCa,
    endpoint: String,
    _server: TestServer,
}

/// The shared mTLS server, or `None` to skip.
fn pki(test: &str) -> Option<&'static Pki> {
    static PKI: OnceLock<Option<Pki>> = OnceLock::new();
    let started = PKI.get_or_init(|| {
        let python = python("nf-oip tls tests").unwrap_or_else(|e| panic!("{e}"))?;
        let dir = scratch("oip-tls");
        let server_ca = TestCa::new("oip test server CA");
        let client_ca = TestCa::new("oip test client CA");
        let server = server_ca.write(&dir, "server");
        let client = client_ca.write(&dir, "ready-client");
        let tls = ServerTls {
            cert: server.cert.clone(),
            key: server.key.clone(),
            client_ca: Some(client.ca.clone()),
            // The readiness wait connects with mTLS like any client.
            client: client.client_of(&server.ca, 5_000),
        };
        let models = [Served::forecaster("slice-prb-forecaster", &[])];
        let mut server =
            TestServer::start_tls(&python, &models, "tls-test", tls).expect("start MLServer");
        let took = server
            .wait_ready_blocking(common::START_TIMEOUT)
            .unwrap_or_else(|e| panic!("{e}"));
        println!(
            "MLServer (mTLS) ready at {} after {took:?}",
            server.endpoint
        );
        Some(Pki {
            dir,
            server_ca,
            client_ca,
            endpoint: server.endpoint.clone(),
            _server: server,
        })
    });
    if started.is_none() {
        println!(
            "SKIPPED: nf-oip tls test `{test}`: no python3 with venv for the MLServer test server"
        );
    }
    started.as_ref()
}

/// A client's files: the CA it pins, and (for mTLS) its certificate and key.
struct ClientFiles {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl ClientFiles {
    /// Files under `pki.dir/<name>-*` pinning `ca_pem`, presenting `leaf`.
    fn new(pki: &Pki, name: &str, ca_pem: &str, leaf: &Leaf) -> Self {
        let at = |suffix: &str| pki.dir.join(format!("{name}-{suffix}"));
        let files = Self {
            ca: at("ca.crt"),
            cert: at("tls.crt"),
            key: at("tls.key"),
        };
        replace(&files.ca, ca_pem);
        files.present(leaf);
        files
    }

    /// Replaces the certificate and key (each in one rename, as a Secret update does).
    fn present(&self, leaf: &Leaf) {
        replace(&self.cert, &leaf.cert_pem);
        replace(&self.key, &leaf.key_pem);
    }

    /// `[remote_model.tls]` lines; `mtls`: with the certificate and key.
    fn section(&self, mtls: bool) -> String {
        let q = |p: &Path| format!("\"{}\"", p.display());
        let mut s = format!("[tls]\nca = {}\nreload_ms = 100\n", q(&self.ca));
        if mtls {
            s.push_str(&format!(
                "cert = {}\nkey = {}\n",
                q(&self.cert),
                q(&self.key)
            ));
        }
        s
    }
}

fn remote(pki: &Pki, files: &ClientFiles, mtls: bool, metrics: &TlsMetrics) -> RemoteModel {
    let cfg = config(&pki.endpoint, &files.section(mtls));
    assert!(cfg.tls.is_some(), "https:// with [remote_model.tls]");
    RemoteModel::new(cfg, metrics).expect("remote model")
}

fn leaf(ca: &TestCa) -> Leaf {
    ca.leaf(&["localhost", "127.0.0.1"])
}

fn failures(m: &TlsMetrics) -> Vec<(&'static str, u64)> {
    nf_tls::metrics::HANDSHAKE_FAILURES
        .iter()
        .map(|r| (*r, m.handshake_failures_of(TLS_LINK, r)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// Calls `infer` until it answers (the watcher reloads every 100 ms); the time it took.
async fn until_answered(model: &RemoteModel, input: &[f32]) -> Duration {
    let started = Instant::now();
    loop {
        match model.infer(input, Duration::from_secs(5)).await {
            Ok(out) => {
                assert_eq!(out.rows * model.row_len(), input.len());
                return started.elapsed();
            }
            Err(e) if started.elapsed() < Duration::from_secs(10) => {
                println!("not yet: {} ({e})", e.kind());
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
            Err(e) => panic!("still refused 10 s after the files were fixed: {e}"),
        }
    }
}

#[tokio::test]
async fn mtls_passes_the_contract_check_and_answers_like_the_local_model() {
    let Some(pki) = pki("mtls") else { return };
    let files = ClientFiles::new(pki, "good", &pki.server_ca.pem(), &leaf(&pki.client_ca));
    let metrics = TlsMetrics::default();
    let model = remote(pki, &files, true, &metrics);
    assert!(model.config().endpoint.starts_with("https://"));
    let meta = model.check().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(meta.name, "slice-prb-forecaster");
    assert_eq!(meta.versions, ["2.0.0"]);
    let mut local = local_model();
    for (n, seed) in [(1, 11), (16, 12), (64, 13)] {
        let input = rows(&contract(), n, seed);
        let got = model
            .infer(&input, Duration::from_secs(5))
            .await
            .unwrap_or_else(|e| panic!("{n} rows over mTLS: {e}"));
        let want = local_outputs(&mut local, &input);
        let diff = max_abs_diff(&got.values, &want);
        println!("mTLS {n:>3} rows: max |remote - local| = {diff:e}");
        assert!(diff <= 1e-5, "{n} rows differ by {diff}");
    }
    assert_eq!(failures(&metrics), [], "no handshake failed");
    assert_eq!(model.stats().failures("unavailable"), 0);
}

#[tokio::test]
async fn a_client_pinning_another_ca_is_refused_and_recovers_when_its_ca_file_is_fixed() {
    let Some(pki) = pki("wrong CA") else { return };
    let other = TestCa::new("a CA the server's certificate does not chain to");
    let files = ClientFiles::new(pki, "wrong-ca", &other.pem(), &leaf(&pki.client_ca));
    let metrics = TlsMetrics::default();
    let model = remote(pki, &files, true, &metrics);
    let input = rows(&contract(), 4, 21);
    for _ in 0..2 {
        let started = Instant::now();
        let err: OipError = model
            .infer(&input, Duration::from_secs(5))
            .await
            .expect_err("the server's certificate is not trusted");
        println!("pinning another CA: {} ({err})", err.kind());
        assert_eq!(err.kind(), "unavailable", "{err}");
        assert!(
            err.to_string().contains("UnknownIssuer") || err.to_string().contains("unknown"),
            "the detail names the TLS cause: {err}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "refused at once"
        );
    }
    let err = model.check().await.expect_err("the start check too");
    assert_eq!(err.kind(), "unavailable", "{err}");
    let counted = metrics.handshake_failures_of(TLS_LINK, "unknown_ca");
    assert!(counted >= 3, "every refused handshake counted: {counted}");
    assert_eq!(failures(&metrics), [("unknown_ca", counted)]);
    // A refused handshake found no server: it stays out of the latency window.
    assert_eq!(model.stats().latency_quantile(0.5), None);

    // The CA file is fixed in place: the same model connects with it, no restart.
    replace(&files.ca, &pki.server_ca.pem());
    let took = until_answered(&model, &input).await;
    println!("answered {took:?} after the CA file was fixed");
    assert!(metrics.reloads_of(TLS_LINK) >= 1, "the files were reloaded");
    model.check().await.unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test]
async fn a_client_the_server_does_not_trust_is_refused_and_recovers_after_a_rotation() {
    let Some(pki) = pki("untrusted client") else {
        return;
    };

    // No certificate at all, to a server that requires one.
    let files = ClientFiles::new(pki, "no-cert", &pki.server_ca.pem(), &leaf(&pki.client_ca));
    let metrics = TlsMetrics::default();
    let bare = remote(pki, &files, false, &metrics);
    let input = rows(&contract(), 4, 31);
    let err = bare
        .infer(&input, Duration::from_secs(5))
        .await
        .expect_err("a certificate is required");
    println!("no client certificate: {} ({err})", err.kind());
    // TLS 1.3: the client's side of the handshake is over before the server reads the
    // (empty) certificate; its refusal arrives as an alert on the first read, under the
    // HTTP/2 handshake, and the call finds no usable connection.
    assert_eq!(err.kind(), "unavailable", "{err}");
    assert_eq!(bare.stats().answered(), 0);

    // A certificate from a CA the server does not trust, then rotated to a good one.
    let stranger = TestCa::new("a CA the server does not trust");
    let files = ClientFiles::new(pki, "rotated", &pki.server_ca.pem(), &leaf(&stranger));
    let metrics = TlsMetrics::default();
    let model = remote(pki, &files, true, &metrics);
    let err = model
        .infer(&input, Duration::from_secs(5))
        .await
        .expect_err("the server refuses the certificate");
    println!("untrusted client certificate: {} ({err})", err.kind());
    assert_eq!(err.kind(), "unavailable", "{err}");
    assert_eq!(model.stats().answered(), 0);

    files.present(&leaf(&pki.client_ca));
    let took = until_answered(&model, &input).await;
    println!("answered {took:?} after the certificate was replaced");
    // (A poll between the two renames may see the new certificate with the old key: that
    // set is refused and counted, and the next poll takes the pair.)
    assert!(metrics.reloads_of(TLS_LINK) >= 1, "the files were reloaded");
}

/// A client (pinning `ca_pem`) of `endpoint` with the given timeouts; no server needed.
fn plain_client(
    dir: &Path,
    endpoint: &str,
    ca_pem: &str,
    extra: &str,
    metrics: &TlsMetrics,
) -> RemoteModel {
    let ca = dir.join("ca.crt");
    replace(&ca, ca_pem);
    let text = format!("{extra}\n[tls]\nca = \"{}\"\n", ca.display());
    RemoteModel::new(config(endpoint, &text), metrics).expect("remote model")
}

#[tokio::test]
async fn a_port_that_never_speaks_tls_costs_the_connect_timeout_not_more() {
    // Accepts TCP and then says nothing: the handshake waits for a ServerHello that never
    // comes, bounded by connect_timeout_ms (it covers TCP and the handshake together).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            open.push(s);
        }
    });
    let dir = scratch("oip-tls-silent");
    let metrics = TlsMetrics::default();
    let model = plain_client(
        &dir,
        &format!("https://127.0.0.1:{port}"),
        &TestCa::new("silent").pem(),
        "connect_timeout_ms = 300\ndeadline_ms = 5000",
        &metrics,
    );
    let input = rows(&contract(), 2, 41);
    let started = Instant::now();
    let err = model
        .infer(&input, Duration::from_secs(5))
        .await
        .expect_err("no TLS server there");
    let took = started.elapsed();
    println!("silent port: {} after {took:?} ({err})", err.kind());
    assert_eq!(err.kind(), "unavailable", "{err}");
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(2),
        "{took:?}"
    );
    held.abort();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_cleartext_answer_to_the_hello_is_counted_as_protocol() {
    // Something that is not TLS (an HTTP/1.1 server) answers the ClientHello.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let answering = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        while let Ok((mut s, _)) = listener.accept().await {
            let _ = s
                .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    });
    let dir = scratch("oip-tls-cleartext");
    let metrics = TlsMetrics::default();
    let model = plain_client(
        &dir,
        &format!("https://127.0.0.1:{port}"),
        &TestCa::new("cleartext").pem(),
        "",
        &metrics,
    );
    let err = model
        .infer(&rows(&contract(), 1, 51), Duration::from_secs(2))
        .await
        .expect_err("not TLS");
    println!("cleartext port: {} ({err})", err.kind());
    assert_eq!(err.kind(), "unavailable", "{err}");
    assert_eq!(failures(&metrics), [("protocol", 1)]);
    answering.abort();
    let _ = std::fs::remove_dir_all(&dir);
}
