//! The pinned MLServer test server, for the tests and `oipbench`: a real Open Inference
//! Protocol server on loopback, serving the project's ONNX models through onnxruntime.
//!
//! [`python`] makes (once) and returns the server's venv (`scripts/oip-venv.sh`: MLServer
//! and its dependencies at the versions of `nf/oip/tests/server/requirements.lock`);
//! [`TestServer::start`] runs `nf/oip/tests/server/serve.py` on two free loopback ports
//! with the models asked for, and [`TestServer::wait_ready`] waits until each answers
//! `ModelReady`. [`TestServer::start_tls`] makes its gRPC port a TLS (or mTLS) port with
//! grpcio's own TLS (BoringSSL), so the client's TLS is tested against an implementation
//! that is not ours. The server lives as long as its [`TestServer`] (dropped or
//! [`TestServer::kill`]ed) and never longer than the process that started it: it exits
//! when its standard input closes.

use std::fs::File;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use crate::client::{ChannelConfig, OipClient};

/// Set to `1` to make a missing Python a failure instead of a skip (CI).
pub const REQUIRE_ENV: &str = "AIRAN_REQUIRE_OIP_TESTS";

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The shipped forecaster's contract and model.
pub fn forecaster_contract() -> PathBuf {
    repo_root().join("models/slice_forecaster/slice_forecaster.contract.toml")
}

/// The venv's python, made on first use. `Ok(None)` (after printing a `SKIPPED:` line
/// naming `what`) when python3 or its venv module is missing, unless
/// `AIRAN_REQUIRE_OIP_TESTS=1`, which makes that an error; a venv that cannot be made
/// while Python is there is an error.
pub fn python(what: &str) -> Result<Option<PathBuf>, String> {
    let usable = Command::new("python3")
        .args(["-c", "import venv, ensurepip"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !usable {
        let why = "python3 with its venv module is not installed";
        if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") {
            return Err(format!(
                "{why} and {REQUIRE_ENV}=1: install python3 and python3-venv"
            ));
        }
        println!("SKIPPED: {what}: {why} (the MLServer test server needs it)");
        return Ok(None);
    }
    let script = repo_root().join("scripts/oip-venv.sh");
    let out = Command::new("bash")
        .arg(&script)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or("").trim();
    Ok(Some(PathBuf::from(line)))
}

/// One model the server serves.
#[derive(Clone, Debug)]
pub struct Served {
    pub name: String,
    pub version: String,
    pub onnx: PathBuf,
    /// Test knobs of `oip_runtime.py` (`delay_ms`, `corrupt`), as `key:value`.
    pub knobs: Vec<String>,
}

impl Served {
    /// The shipped forecaster (`models/slice_forecaster`) under `name`, version 2.0.0.
    pub fn forecaster(name: &str, knobs: &[&str]) -> Self {
        Self {
            name: name.into(),
            version: "2.0.0".into(),
            onnx: repo_root().join("models/slice_forecaster/slice_forecaster.onnx"),
            knobs: knobs.iter().map(|k| (*k).to_owned()).collect(),
        }
    }

    fn arg(&self) -> String {
        let mut a = format!("{}={}={}", self.name, self.version, self.onnx.display());
        if !self.knobs.is_empty() {
            a.push('=');
            a.push_str(&self.knobs.join(","));
        }
        a
    }
}

/// TLS of the test server's gRPC port (`serve.py --tls-cert --tls-key --tls-client-ca`).
#[derive(Clone, Debug)]
pub struct ServerTls {
    /// PEM certificate chain the server presents.
    pub cert: PathBuf,
    /// Its PEM private key.
    pub key: PathBuf,
    /// Set: every client must present a certificate this CA signed (mTLS).
    pub client_ca: Option<PathBuf>,
    /// How [`TestServer::wait_ready`] and [`TestServer::client`] connect (the CA that
    /// signed `cert`; a client certificate when `client_ca` is set).
    pub client: nf_tls::ClientSettings,
}

/// A running MLServer.
#[derive(Debug)]
pub struct TestServer {
    child: Child,
    /// Kept open: the server exits when it closes.
    stdin: Option<ChildStdin>,
    /// `http://127.0.0.1:<grpc port>`, or `https://` when started with TLS.
    pub endpoint: String,
    pub grpc_port: u16,
    pub log: PathBuf,
    models: Vec<Served>,
    /// The TLS client of [`Self::client`] (its metrics are its own).
    tls: Option<nf_tls::ClientTls>,
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl TestServer {
    /// Starts the server with `python` (from [`python`]) serving `models`; its output goes
    /// to `target/oip-logs/<label>.log` (kept after the run, replaced by the next).
    pub fn start(python: &Path, models: &[Served], label: &str) -> std::io::Result<Self> {
        Self::start_on(python, models, label, free_port()?)
    }

    /// [`Self::start`] with the gRPC port given (a server started again where one died).
    pub fn start_on(
        python: &Path,
        models: &[Served],
        label: &str,
        grpc: u16,
    ) -> std::io::Result<Self> {
        Self::launch(python, models, label, grpc, None)
    }

    /// [`Self::start`] with its gRPC port behind TLS (mTLS when `tls.client_ca` is set):
    /// the endpoint is `https://127.0.0.1:<port>` (the certificate must name 127.0.0.1).
    pub fn start_tls(
        python: &Path,
        models: &[Served],
        label: &str,
        tls: ServerTls,
    ) -> std::io::Result<Self> {
        Self::launch(python, models, label, free_port()?, Some(tls))
    }

    fn launch(
        python: &Path,
        models: &[Served],
        label: &str,
        grpc: u16,
        tls: Option<ServerTls>,
    ) -> std::io::Result<Self> {
        let http = free_port()?;
        let dir = repo_root().join("target/oip-logs");
        std::fs::create_dir_all(&dir)?;
        let log = dir.join(format!("{label}.log"));
        let out = File::create(&log)?;
        let mut cmd = Command::new(python);
        cmd.arg(repo_root().join("nf/oip/tests/server/serve.py"))
            .args([
                "--grpc-port",
                &grpc.to_string(),
                "--http-port",
                &http.to_string(),
            ]);
        for m in models {
            cmd.args(["--model", &m.arg()]);
        }
        if let Some(t) = &tls {
            cmd.arg("--tls-cert").arg(&t.cert);
            cmd.arg("--tls-key").arg(&t.key);
            if let Some(ca) = &t.client_ca {
                cmd.arg("--tls-client-ca").arg(ca);
            }
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()?;
        let stdin = child.stdin.take();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let metrics = nf_tls::TlsMetrics::default();
        Ok(Self {
            child,
            stdin,
            endpoint: format!("{scheme}://127.0.0.1:{grpc}"),
            grpc_port: grpc,
            log,
            models: models.to_vec(),
            tls: tls.map(|t| nf_tls::ClientTls::new(t.client, "test_server", &metrics)),
        })
    }

    /// A client of this server (over TLS when it was started with it).
    pub fn client(&self) -> OipClient {
        OipClient::new(&ChannelConfig {
            endpoint: self.endpoint.clone(),
            connect_timeout: Duration::from_secs(1),
            max_message_bytes: 16 << 20,
            tls: self.tls.clone(),
        })
        .unwrap_or_else(|e| panic!("client of {}: {e}", self.endpoint))
    }

    /// [`Self::wait_ready`] for callers that cannot wait on their own runtime (a test's
    /// runtime may not block): on a thread with a runtime of its own.
    pub fn wait_ready_blocking(&mut self, timeout: Duration) -> Result<Duration, String> {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| format!("cannot start a runtime to wait on: {e}"))?
                        .block_on(self.wait_ready(timeout))
                })
                .join()
                .map_err(|_| "the thread waiting for MLServer panicked".to_owned())?
        })
    }

    /// Waits until the server is ready and every model answers `ModelReady` (at most
    /// `timeout`); the error carries the end of the server's log.
    pub async fn wait_ready(&mut self, timeout: Duration) -> Result<Duration, String> {
        let started = Instant::now();
        let client = self.client();
        let short = Duration::from_millis(500);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "MLServer exited ({status}) before it was ready:\n{}",
                    self.log_tail()
                ));
            }
            let mut ready = client.server_ready(short).await.unwrap_or(false);
            for m in &self.models {
                ready = ready
                    && client
                        .model_ready(&m.name, Some(&m.version), short)
                        .await
                        .unwrap_or(false);
            }
            if ready {
                return Ok(started.elapsed());
            }
            if started.elapsed() > timeout {
                return Err(format!(
                    "MLServer at {} not ready after {timeout:?}:\n{}",
                    self.endpoint,
                    self.log_tail()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Kills the server (SIGKILL: no goodbye on open connections) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stdin.take();
    }

    /// The last lines of the server's log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.flush();
        }
        self.kill();
    }
}
