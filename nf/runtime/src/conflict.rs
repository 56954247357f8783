//! The conflict-guidance client of an xApp: [`Gate`] asks the conflict manager
//! (`conflict-mgr`, `airan.conflict.v1.ConflictGuidance`) before a control is sent, and
//! reports each control's outcome after.
//!
//! - Bounded: every call waits at most [`GateConfig::timeout`] (connection, registration
//!   and proposal together).
//! - Leases are cached: after an `Allow { lease_ms }` a control on the same parameter
//!   instance (node, cell, parameter, UE) is allowed again without asking until the lease
//!   ends (the manager refuses every other xApp on it until the lease ends plus the
//!   parameter's guard window, so this cannot let a direct conflict through).
//! - A manager that cannot be reached, times out or answers garbage is handled by
//!   [`OnUnavailable`]: `deny` by default. A control not sent leaves the RAN as it is (the
//!   cell keeps its last quota, the UE its cell), which the RAN survives; a control sent
//!   without guidance may be the direct conflict the manager exists to stop, and no
//!   xApp can tell. `allow` is for an operator who prefers the xApp to act alone.
//! - Every outcome is counted in `xapp_conflict_guidance_total{result}`: `allow`,
//!   `allow_cached`, `deny`, `unavailable_denied`, `unavailable_allowed`.
//! - The xApp registers (its name, the KPIs it consumes, its objectives) on first use and
//!   again when the manager says it does not know it (a restarted manager). Its priority is
//!   the manager's configuration.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use e2_proto::pb::conflict as pb;
use e2_proto::pb::conflict::conflict_guidance_client::ConflictGuidanceClient;
use nf_conflict::wire;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use tonic::transport::Channel;

use crate::metrics::{Metrics, ResultLabel};

pub use nf_core::conflict::{ControlIntent, Guidance, LeaseKey, Objective, Parameter};

/// Every `result` of `xapp_conflict_guidance_total`.
pub const GUIDANCE_RESULTS: [&str; 5] = [
    "allow",
    "allow_cached",
    "deny",
    "unavailable_denied",
    "unavailable_allowed",
];

/// What a control does when the manager cannot answer in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnUnavailable {
    /// Drop the control (the safe default: see the module documentation).
    #[default]
    Deny,
    /// Send it without guidance.
    Allow,
}

/// The client's configuration.
#[derive(Clone, Debug)]
pub struct GateConfig {
    /// gRPC endpoint of the manager, e.g. `http://127.0.0.1:7070`.
    pub endpoint: String,
    /// The xApp's name at the manager (its RIC app id).
    pub xapp: String,
    /// Longest wait for an answer (connect + register + propose).
    pub timeout: Duration,
    pub on_unavailable: OnUnavailable,
    /// Input KPIs the xApp consumes (TS 28.552 names).
    pub consumes: Vec<String>,
    pub objectives: Vec<Objective>,
    /// Most leases cached.
    pub max_cached_leases: usize,
    /// TLS of the link (`[conflict.tls]`): required by an `https://` endpoint, refused with
    /// an `http://` one.
    pub tls: Option<nf_tls::ClientSettings>,
}

impl GateConfig {
    /// Defaults for `xapp` asking the manager at `endpoint`: 100 ms, deny when unavailable.
    pub fn new(endpoint: impl Into<String>, xapp: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            xapp: xapp.into(),
            timeout: Duration::from_millis(100),
            on_unavailable: OnUnavailable::Deny,
            consumes: Vec::new(),
            objectives: Vec::new(),
            max_cached_leases: 65_536,
            tls: None,
        }
    }
}

/// The client. One per process; share it (`Arc`) between node tasks.
#[derive(Debug)]
pub struct Gate {
    cfg: GateConfig,
    client: tokio::sync::OnceCell<ConflictGuidanceClient<Channel>>,
    /// The TLS of the link in use (reloaded when its files change).
    tls: Option<nf_tls::ClientTls>,
    registered: AtomicBool,
    leases: Mutex<HashMap<LeaseKey, Instant>>,
    counter: Family<ResultLabel, Counter>,
    /// Unavailability is logged once per outage.
    outage: AtomicBool,
}

/// Why the manager gave no guidance.
#[derive(Debug)]
struct Unavailable(String);

impl Gate {
    /// Counts into `metrics` (`xapp_conflict_guidance_total`). Connects on first use.
    pub fn new(cfg: GateConfig, metrics: &Metrics) -> Self {
        let tls = cfg
            .tls
            .clone()
            .map(|s| nf_tls::ClientTls::new(s, "conflict", &metrics.tls));
        Self {
            cfg,
            tls,
            client: tokio::sync::OnceCell::new(),
            registered: AtomicBool::new(false),
            leases: Mutex::new(HashMap::new()),
            counter: metrics.conflict_guidance.clone(),
            outage: AtomicBool::new(false),
        }
    }

    pub fn config(&self) -> &GateConfig {
        &self.cfg
    }

    fn count(&self, result: &'static str) {
        self.counter.get_or_create(&ResultLabel { result }).inc();
    }

    fn cached(&self, key: &LeaseKey, now: Instant) -> Option<u64> {
        let leases = self.leases.lock().unwrap_or_else(|p| p.into_inner());
        let until = *leases.get(key)?;
        (until > now).then(|| (until - now).as_millis() as u64)
    }

    fn cache(&self, key: LeaseKey, lease_ms: u64, now: Instant) {
        if lease_ms == 0 {
            return;
        }
        let mut leases = self.leases.lock().unwrap_or_else(|p| p.into_inner());
        if leases.len() >= self.cfg.max_cached_leases {
            leases.retain(|_, until| *until > now);
            if leases.len() >= self.cfg.max_cached_leases {
                return;
            }
        }
        leases.insert(key, now + Duration::from_millis(lease_ms));
    }

    async fn client(&self) -> Result<ConflictGuidanceClient<Channel>, Unavailable> {
        self.client
            .get_or_try_init(|| async {
                let ep = tonic::transport::Endpoint::from_shared(self.cfg.endpoint.clone())
                    .map_err(|e| Unavailable(format!("endpoint {}: {e}", self.cfg.endpoint)))?
                    .connect_timeout(self.cfg.timeout)
                    .tcp_nodelay(true);
                let https = self.cfg.endpoint.starts_with("https://");
                let channel = match &self.tls {
                    Some(tls) if https => tls.channel(&ep),
                    None if !https => ep.connect_lazy(),
                    // Validation refuses both; never fall back to cleartext.
                    Some(_) => {
                        return Err(Unavailable(
                            "TLS configured but the endpoint is not https://".into(),
                        ));
                    }
                    None => {
                        return Err(Unavailable(
                            "https:// endpoint without TLS configured".into(),
                        ));
                    }
                };
                Ok(ConflictGuidanceClient::new(channel))
            })
            .await
            .cloned()
    }

    async fn register(
        &self,
        client: &mut ConflictGuidanceClient<Channel>,
    ) -> Result<(), Unavailable> {
        let reg = nf_core::conflict::Registration {
            xapp: self.cfg.xapp.clone(),
            consumes: self.cfg.consumes.clone(),
            cells: Vec::new(),
            objectives: self.cfg.objectives.clone(),
        };
        let r = client
            .register(wire::registration_to_pb(&reg))
            .await
            .map_err(|s| Unavailable(format!("register refused: {}", s.message())))?;
        tracing::info!(xapp = %self.cfg.xapp, priority = r.get_ref().priority, endpoint = %self.cfg.endpoint, "registered with the conflict manager");
        self.registered.store(true, Ordering::Relaxed);
        Ok(())
    }

    async fn propose(&self, intent: &ControlIntent) -> Result<Guidance, Unavailable> {
        let mut client = self.client().await?;
        let req = pb::ProposeRequest {
            intent: Some(wire::intent_to_pb(intent)),
        };
        for _ in 0..2 {
            if !self.registered.load(Ordering::Relaxed) {
                self.register(&mut client).await?;
            }
            let r = client
                .propose(req.clone())
                .await
                .map_err(|s| Unavailable(format!("propose: {}", s.message())))?;
            let g = wire::guidance_from_pb(r.get_ref());
            match g {
                // A restarted manager does not know us: register again, once.
                Guidance::Deny {
                    reason: "unregistered",
                    ..
                } => self.registered.store(false, Ordering::Relaxed),
                g => return Ok(g),
            }
        }
        Err(Unavailable(
            "the manager keeps refusing the registration".into(),
        ))
    }

    /// Asks before a control. Bounded by the timeout; see [`OnUnavailable`].
    pub async fn ask(&self, intent: ControlIntent) -> Guidance {
        let now = Instant::now();
        let key = intent.key();
        if let Some(lease_ms) = self.cached(&key, now) {
            self.count("allow_cached");
            return Guidance::Allow { lease_ms };
        }
        let answer = match tokio::time::timeout(self.cfg.timeout, self.propose(&intent)).await {
            Ok(r) => r,
            Err(_) => Err(Unavailable(format!(
                "no answer within {} ms",
                self.cfg.timeout.as_millis()
            ))),
        };
        match answer {
            Ok(g) => {
                if self.outage.swap(false, Ordering::Relaxed) {
                    tracing::info!(endpoint = %self.cfg.endpoint, "conflict manager answers again");
                }
                match &g {
                    Guidance::Allow { lease_ms } => {
                        self.count("allow");
                        self.cache(key, *lease_ms, now);
                    }
                    Guidance::Deny { reason, holder } => {
                        self.count("deny");
                        tracing::debug!(cell = %intent.cell, parameter = intent.parameter.name(), reason, %holder, "control denied by the conflict manager");
                    }
                }
                g
            }
            Err(Unavailable(cause)) => {
                if !self.outage.swap(true, Ordering::Relaxed) {
                    tracing::warn!(endpoint = %self.cfg.endpoint, %cause, policy = ?self.cfg.on_unavailable, "conflict manager unavailable");
                }
                match self.cfg.on_unavailable {
                    OnUnavailable::Deny => {
                        self.count("unavailable_denied");
                        Guidance::Deny {
                            reason: "manager_unavailable",
                            holder: String::new(),
                        }
                    }
                    OnUnavailable::Allow => {
                        self.count("unavailable_allowed");
                        Guidance::Allow { lease_ms: 0 }
                    }
                }
            }
        }
    }

    /// Reports a control's outcome (`ok`: accepted by the node), in the background, bounded
    /// by the timeout; lost reports are only logged at debug (they feed implicit-conflict
    /// detection, never a decision).
    pub fn report_applied(&self, intent: &ControlIntent, ok: bool) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let Some(client) = self.client.get().cloned() else {
            return;
        };
        let req = pb::ReportAppliedRequest {
            intent: Some(wire::intent_to_pb(intent)),
            ok,
        };
        let timeout = self.cfg.timeout;
        handle.spawn(async move {
            let mut client = client;
            match tokio::time::timeout(timeout, client.report_applied(req)).await {
                Ok(Ok(_)) => {}
                Ok(Err(s)) => tracing::debug!(cause = %s.message(), "applied report refused"),
                Err(_) => tracing::debug!("applied report timed out"),
            }
        });
    }

    /// Reports a KPI of a cell as the xApp read it (for implicit-conflict detection), in the
    /// background like [`Self::report_applied`].
    pub fn report_kpi(&self, node: &str, cell: nf_core::CellId, kpi: &str, value: f64) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let Some(client) = self.client.get().cloned() else {
            return;
        };
        let req = pb::ReportKpiRequest {
            xapp: self.cfg.xapp.clone(),
            node: node.to_owned(),
            cell: Some(wire::cell_to_pb(&cell)),
            kpi: kpi.to_owned(),
            value,
        };
        let timeout = self.cfg.timeout;
        handle.spawn(async move {
            let mut client = client;
            let _ = tokio::time::timeout(timeout, client.report_kpi(req)).await;
        });
    }
}
