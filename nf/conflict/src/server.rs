//! The `ConflictGuidance` gRPC service: one [`ConflictManager`] behind a mutex (every call
//! is a few map operations), its clock the manager's own monotonic time since start, every
//! conflict logged and counted.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use e2_proto::pb::conflict as pb;
use e2_proto::pb::conflict::conflict_guidance_server::{ConflictGuidance, ConflictGuidanceServer};
use nf_core::conflict::{Conflict, ConflictManager, Guidance, RegisterError};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::{Request, Response, Status};

use crate::config::Config;
use crate::metrics::{KindResolution, ManagerMetrics, Reason, ResultLabel};
use crate::wire;

/// How often expired leases and silent cells are dropped.
const EXPIRE_EVERY: Duration = Duration::from_secs(1);

/// The service state shared by the gRPC handlers.
#[derive(Debug)]
pub struct Service {
    manager: Mutex<ConflictManager>,
    started: Instant,
    metrics: Arc<ManagerMetrics>,
}

impl Service {
    pub fn new(cfg: nf_core::conflict::ManagerConfig, metrics: Arc<ManagerMetrics>) -> Self {
        Self {
            manager: Mutex::new(ConflictManager::new(cfg)),
            started: Instant::now(),
            metrics,
        }
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ConflictManager> {
        // A panic while holding the lock leaves consistent maps (every update is one insert
        // or remove), so a poisoned lock is taken over.
        self.manager.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn reject(&self, reason: &'static str, detail: impl std::fmt::Display) -> Status {
        self.metrics
            .rejected
            .get_or_create(&Reason { reason })
            .inc();
        tracing::warn!(reason, %detail, "conflict request refused");
        Status::invalid_argument(detail.to_string())
    }

    fn logged(&self, c: &Conflict) {
        self.metrics
            .conflicts
            .get_or_create(&KindResolution {
                kind: c.kind.name(),
                resolution: c.resolution.name(),
            })
            .inc();
        tracing::info!(
            kind = c.kind.name(),
            resolution = c.resolution.name(),
            e2_node = %nf_core::ids::Escaped(&c.node),
            cell = %c.cell,
            parameter = c.parameter.name(),
            xapp = %c.xapp,
            other = %c.other,
            detail = %c.detail,
            "conflict"
        );
    }

    /// Periodic housekeeping.
    pub fn expire(&self) {
        let now = self.now_ms();
        let mut m = self.lock();
        m.expire(now);
        self.metrics.leases.set(m.sizes().0 as i64);
    }
}

#[tonic::async_trait]
impl ConflictGuidance for Service {
    async fn register(
        &self,
        req: Request<pb::RegisterRequest>,
    ) -> Result<Response<pb::RegisterResponse>, Status> {
        let reg = wire::registration_from_pb(req.get_ref())
            .map_err(|e| self.reject("bad_registration", e))?;
        let xapp = reg.xapp.clone();
        let (consumes, objectives) = (reg.consumes.len(), reg.objectives.len());
        let priority = self.lock().register(reg).map_err(|e| match e {
            RegisterError::UnknownXapp(_) => {
                let s = self.reject("unknown_xapp", &e);
                Status::permission_denied(s.message())
            }
            RegisterError::Invalid(_) => self.reject("bad_registration", &e),
        })?;
        self.metrics.registrations.inc();
        tracing::info!(%xapp, priority, consumes, objectives, "xApp registered");
        Ok(Response::new(pb::RegisterResponse { priority }))
    }

    async fn propose(
        &self,
        req: Request<pb::ProposeRequest>,
    ) -> Result<Response<pb::ProposeResponse>, Status> {
        let intent = match wire::intent_from_pb(req.get_ref().intent.as_ref()) {
            Ok(i) => i,
            Err(e) => {
                self.metrics
                    .guidance
                    .get_or_create(&ResultLabel {
                        result: "invalid_intent",
                    })
                    .inc();
                return Err(self.reject("bad_intent", e));
            }
        };
        let now = self.now_ms();
        let (guidance, conflicts) = {
            let mut m = self.lock();
            let r = m.propose(now, &intent);
            self.metrics.leases.set(m.sizes().0 as i64);
            r
        };
        for c in &conflicts {
            self.logged(c);
        }
        let result = match &guidance {
            Guidance::Allow { .. } => "allow",
            Guidance::Deny { reason, .. } => reason,
        };
        self.metrics
            .guidance
            .get_or_create(&ResultLabel { result })
            .inc();
        tracing::debug!(
            xapp = %intent.xapp,
            e2_node = %nf_core::ids::Escaped(&intent.node),
            cell = %intent.cell,
            parameter = intent.parameter.name(),
            value = %nf_core::ids::Escaped(&intent.value),
            result,
            "guidance"
        );
        Ok(Response::new(wire::guidance_to_pb(&guidance)))
    }

    async fn report_applied(
        &self,
        req: Request<pb::ReportAppliedRequest>,
    ) -> Result<Response<pb::ReportAppliedResponse>, Status> {
        let r = req.get_ref();
        let intent =
            wire::intent_from_pb(r.intent.as_ref()).map_err(|e| self.reject("bad_intent", e))?;
        let now = self.now_ms();
        self.lock().report_applied(now, &intent, r.ok);
        let result = if r.ok { "ok" } else { "failed" };
        self.metrics
            .applied
            .get_or_create(&ResultLabel { result })
            .inc();
        Ok(Response::new(pb::ReportAppliedResponse {}))
    }

    async fn report_kpi(
        &self,
        req: Request<pb::ReportKpiRequest>,
    ) -> Result<Response<pb::ReportKpiResponse>, Status> {
        let r = req.get_ref();
        let cell = wire::cell_from_pb(r.cell.as_ref(), "cell")
            .map_err(|e| self.reject("bad_intent", e))?;
        if !r.value.is_finite() {
            return Err(self.reject("bad_intent", "value: not finite"));
        }
        let now = self.now_ms();
        let found = self.lock().report_kpi(now, &r.node, cell, &r.kpi, r.value);
        self.metrics.kpi_reports.inc();
        if let Some(c) = found {
            self.logged(&c);
        }
        Ok(Response::new(pb::ReportKpiResponse {}))
    }

    async fn list_conflicts(
        &self,
        _req: Request<pb::ListConflictsRequest>,
    ) -> Result<Response<pb::ListConflictsResponse>, Status> {
        let m = self.lock();
        Ok(Response::new(pb::ListConflictsResponse {
            recent: m.recent().map(wire::conflict_to_pb).collect(),
            counts: m
                .counts()
                .iter()
                .map(|((k, r), n)| pb::ConflictCount {
                    kind: k.name().to_owned(),
                    resolution: r.name().to_owned(),
                    count: *n,
                })
                .collect(),
        }))
    }
}

/// A running manager.
#[derive(Debug)]
pub struct Running {
    pub grpc_addr: SocketAddr,
    pub http_addr: Option<SocketAddr>,
    pub metrics: Arc<ManagerMetrics>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops serving and waits for the tasks.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }

    /// Resolves when every server task has ended (after [`Self::stop`], or a failure).
    pub fn stopper(&self) -> watch::Sender<bool> {
        self.stop.clone()
    }

    pub async fn wait(self) {
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Binds the listeners (an error names the address) and starts serving.
pub async fn start(cfg: Config) -> Result<Running, String> {
    let grpc = TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| format!("listen {}: {e}", cfg.listen))?;
    let grpc_addr = grpc.local_addr().map_err(|e| e.to_string())?;
    let http = match cfg.http_listen {
        Some(a) => Some(
            TcpListener::bind(a)
                .await
                .map_err(|e| format!("http_listen {a}: {e}"))?,
        ),
        None => None,
    };
    let http_addr = http.as_ref().and_then(|l| l.local_addr().ok());
    let metrics = Arc::new(ManagerMetrics::new());
    let svc = Arc::new(Service::new(cfg.manager, metrics.clone()));
    let security = match &cfg.tls {
        None => "cleartext",
        Some(s) if s.requires_client_certificate() => "mtls",
        Some(_) => "tls",
    };
    let tls = cfg
        .tls
        .map(|s| nf_tls::ServerTls::new(s, "server", &metrics.tls));
    let (stop, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    {
        let mut rx = stop_rx.clone();
        let svc = svc.clone();
        tasks.push(tokio::spawn(async move {
            let incoming = nf_tls::incoming(grpc, tls);
            let r = tonic::transport::Server::builder()
                .tcp_nodelay(true)
                .add_service(ConflictGuidanceServer::from_arc(svc))
                .serve_with_incoming_shutdown(incoming, async move {
                    let _ = rx.wait_for(|s| *s).await;
                })
                .await;
            if let Err(e) = r {
                tracing::error!(cause = %e, "conflict guidance server failed");
            }
        }));
    }
    {
        let mut rx = stop_rx.clone();
        let svc = svc.clone();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(EXPIRE_EVERY);
            loop {
                tokio::select! {
                    _ = tick.tick() => svc.expire(),
                    _ = rx.wait_for(|s| *s) => return,
                }
            }
        }));
    }
    if let Some(l) = http {
        tasks.push(tokio::spawn(crate::http::serve(
            l,
            metrics.clone(),
            stop_rx,
        )));
    }
    tracing::info!(%grpc_addr, http = ?http_addr, security, "conflict manager serving");
    Ok(Running {
        grpc_addr,
        http_addr,
        metrics,
        stop,
        tasks,
    })
}
