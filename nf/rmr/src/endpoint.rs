//! A tokio RMR endpoint: what an xApp needs to be reached by the O-RAN SC RIC (E2T,
//! subscription manager, routing manager) and to reach it.
//!
//! - One listener on the data port (4560 in O-RAN SC xApps) accepting any number of
//!   connections; every connection, inbound or outbound, is read frame by frame.
//! - Sending by route: each destination endpoint has its own task and bounded queue, is
//!   connected lazily and reconnected after a failure (with a back-off), so a stalled or
//!   dead peer only fills its own queue.
//! - Return to sender: a reply goes back on the connection the request came on.
//! - Health checks (100) are answered with 101 without reaching the application.
//! - Route tables: a seed table, tables pushed by the routing manager (20 → 22 `OK`/`ERR`)
//!   on the separate control port (librmr's `RMR_CTL_PORT`, 4561), and a table request
//!   (21) sent to the routing manager at start until a table arrives, when configured.
//!
//! Nothing blocks the caller: [`RmrEndpoint::send`] and [`RmrEndpoint::rts`] enqueue and
//! return; what cannot be queued is refused and counted in [`RmrCounters`].

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::counters::{DropReason, RmrCounters};
use crate::frame::{self, FrameError, HFL_CALL_MSG, Message, RMR_HDR_LEN, TP_HDR_LEN};

const MIN_FRAME: usize = TP_HDR_LEN + RMR_HDR_LEN;
use crate::mtype;
use crate::route::{NoRoute, RouteError, RouteLoader, RouteTable};

/// Configuration of an [`RmrEndpoint`].
#[derive(Debug, Clone)]
pub struct RmrConfig {
    /// Data port address (O-RAN SC xApps: `0.0.0.0:4560`). Port 0 picks a free port.
    pub listen: SocketAddr,
    /// Our name in the `src` field (`host:port`); default: `srcip`.
    pub name: Option<String>,
    /// Our address in the `srcip` field (`ip:port`); default: the listen address, with
    /// 127.0.0.1 for an unspecified IP.
    pub srcip: Option<String>,
    /// Seed route table file (`RMR_SEED_RT`).
    pub seed_routes: Option<PathBuf>,
    /// Control port where the routing manager pushes tables (`RMR_CTL_PORT`, 4561).
    pub ctl_listen: Option<SocketAddr>,
    /// Routing manager `host:port` to request a table from (21) until one arrives.
    pub rtmgr: Option<String>,
    /// Delay between table requests (librmr: `RMR_RTREQ_FREQ`, 5 s).
    pub rtreq_interval: Duration,
    /// Largest frame accepted or sent, transport header included.
    pub max_frame: usize,
    /// Capacity of the queue of messages delivered to the application.
    pub rx_queue: usize,
    /// Capacity of each connection's send queue.
    pub tx_queue: usize,
    /// Time allowed to connect to an endpoint.
    pub connect_timeout: Duration,
    /// Time after a failed connect during which sends to that endpoint are dropped.
    pub reconnect_backoff: Duration,
}

impl Default for RmrConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), DEF_DATA_PORT),
            name: None,
            srcip: None,
            seed_routes: None,
            ctl_listen: None,
            rtmgr: None,
            rtreq_interval: Duration::from_secs(5),
            max_frame: 4 << 20,
            rx_queue: 4096,
            tx_queue: 1024,
            connect_timeout: Duration::from_secs(2),
            reconnect_backoff: Duration::from_millis(500),
        }
    }
}

impl RmrConfig {
    /// Applies librmr's environment variables (see [`RmrConfig::with_vars`]).
    #[must_use]
    pub fn with_env(self) -> Self {
        self.with_vars(|k| std::env::var(k).ok())
    }

    /// Applies librmr's variables as `get` returns them: `RMR_SEED_RT` (seed table file),
    /// `RMR_SRC_ID` (our name), and the routing-manager pair as librmr's route collector
    /// reads it:
    ///
    /// | `RMR_RTG_SVC` | `RMR_CTL_PORT` | behaviour |
    /// |---|---|---|
    /// | `host:port` | port or unset | request tables from `host:port`, control port `RMR_CTL_PORT` or 4561 |
    /// | `port` / `tcp:port` | ignored | listen on `port` for pushed tables, no request |
    /// | unset | set | request from `routemgr:4561`, control port `RMR_CTL_PORT` |
    /// | unset | unset | listen on 4561 for pushed tables |
    /// | `-1` (or not a port) | ignored | static routes only |
    #[must_use]
    pub fn with_vars(mut self, get: impl Fn(&str) -> Option<String>) -> Self {
        let var = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        if let Some(p) = var("RMR_SEED_RT") {
            self.seed_routes = Some(p.into());
        }
        if let Some(n) = var("RMR_SRC_ID") {
            self.name = Some(n);
        }
        let ip = self.listen.ip();
        let ctl_port = var("RMR_CTL_PORT").and_then(|p| p.trim().parse::<u16>().ok());
        let at = |port: u16| Some(SocketAddr::new(ip, port));
        match var("RMR_RTG_SVC") {
            Some(rtg) => {
                let port_only = rtg.strip_prefix("tcp:").unwrap_or(&rtg);
                if let Ok(port) = port_only.trim().parse::<u16>() {
                    self.ctl_listen = at(port);
                    self.rtmgr = None;
                } else if rtg.contains(':') && !rtg.starts_with("tcp:") {
                    self.rtmgr = Some(rtg);
                    self.ctl_listen = at(ctl_port.unwrap_or(DEF_CTL_PORT));
                } else {
                    self.ctl_listen = None;
                    self.rtmgr = None;
                }
            }
            None => match ctl_port {
                Some(port) => {
                    self.rtmgr = Some(DEF_RTG_WK_ADDR.to_owned());
                    self.ctl_listen = at(port);
                }
                None => self.ctl_listen = at(DEF_CTL_PORT),
            },
        }
        self
    }
}

/// librmr's default control port (route tables from the routing manager).
pub const DEF_CTL_PORT: u16 = 4561;
/// librmr's default routing manager address in request mode.
pub const DEF_RTG_WK_ADDR: &str = "routemgr:4561";
/// The data port O-RAN SC xApps listen on.
pub const DEF_DATA_PORT: u16 = 4560;

/// Why the endpoint could not start.
#[derive(Debug, Error)]
pub enum BindError {
    /// A listener could not be bound.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// The seed route table file could not be read.
    #[error("cannot read route table {path}: {source}")]
    ReadRoutes {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The seed route table was refused.
    #[error("route table {path}: {source}")]
    Routes {
        /// File.
        path: PathBuf,
        /// The refused line.
        source: RouteError,
    },
}

/// Why a message was not queued for sending.
#[derive(Debug, Error)]
pub enum SendError {
    /// No route for the message.
    #[error(transparent)]
    NoRoute(#[from] NoRoute),
    /// The message does not fit a frame.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// Every destination's queue was full.
    #[error("send queue of {0} full")]
    QueueFull(String),
    /// The origin connection of an rts is gone and the sender has no usable address.
    #[error("no return path to {0:?}")]
    NoReturnPath(String),
}

impl SendError {
    /// A bounded label for metrics.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        self.reason().as_str()
    }

    fn reason(&self) -> DropReason {
        match self {
            Self::NoRoute(_) => DropReason::NoRoute,
            Self::Frame(FrameError::Oversize { .. }) => DropReason::Oversize,
            Self::Frame(_) => DropReason::BadMessage,
            Self::QueueFull(_) => DropReason::QueueFull,
            Self::NoReturnPath(_) => DropReason::NoReturnPath,
        }
    }
}

/// A bound RMR endpoint. Dropping it stops its listeners and connections.
#[derive(Debug)]
pub struct RmrEndpoint {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    cfg: RmrConfig,
    name: String,
    srcip: String,
    local: SocketAddr,
    ctl_local: Option<SocketAddr>,
    table: RwLock<Arc<RouteTable>>,
    have_table: AtomicBool,
    got_pushed_table: AtomicBool,
    loader: Mutex<RouteLoader>,
    peers: Mutex<HashMap<String, mpsc::Sender<Bytes>>>,
    conns: Mutex<HashMap<u64, mpsc::Sender<Bytes>>>,
    next_conn: AtomicU64,
    counters: Arc<RmrCounters>,
    deliver: mpsc::Sender<Message>,
    tasks: Mutex<Vec<AbortHandle>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl RmrEndpoint {
    /// Binds the data port (and the control port when configured), loads the seed table
    /// and starts serving. Received messages arrive on the returned receiver.
    pub async fn bind(
        mut cfg: RmrConfig,
    ) -> Result<(RmrEndpoint, mpsc::Receiver<Message>), BindError> {
        // A frame can never be smaller than its two headers.
        cfg.max_frame = cfg.max_frame.max(MIN_FRAME);
        let listener = TcpListener::bind(cfg.listen)
            .await
            .map_err(|source| BindError::Bind {
                addr: cfg.listen,
                source,
            })?;
        let local = listener.local_addr().map_err(|source| BindError::Bind {
            addr: cfg.listen,
            source,
        })?;
        let ctl = match cfg.ctl_listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| BindError::Bind { addr, source })?,
            ),
            None => None,
        };
        let ctl_local = ctl.as_ref().and_then(|l| l.local_addr().ok());
        let ip = if local.ip().is_unspecified() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            local.ip()
        };
        let srcip = cfg
            .srcip
            .clone()
            .unwrap_or_else(|| SocketAddr::new(ip, local.port()).to_string());
        let name = cfg.name.clone().unwrap_or_else(|| srcip.clone());
        let me = vec![name.clone(), srcip.clone()];
        let table = match &cfg.seed_routes {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| BindError::ReadRoutes {
                        path: path.clone(),
                        source,
                    })?;
                Some(
                    RouteTable::parse_as(&text, &me).map_err(|source| BindError::Routes {
                        path: path.clone(),
                        source,
                    })?,
                )
            }
            None => None,
        };
        let (deliver, rx) = mpsc::channel(cfg.rx_queue.max(1));
        let counters = Arc::new(RmrCounters::default());
        if table.is_some() {
            RmrCounters::add(&counters.tables_applied, 1);
        }
        let inner = Arc::new(Inner {
            have_table: AtomicBool::new(table.is_some()),
            table: RwLock::new(Arc::new(table.unwrap_or_default())),
            got_pushed_table: AtomicBool::new(false),
            loader: Mutex::new(RouteLoader::new(me)),
            peers: Mutex::new(HashMap::new()),
            conns: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
            counters,
            deliver,
            tasks: Mutex::new(Vec::new()),
            name,
            srcip,
            local,
            ctl_local,
            cfg,
        });
        info!(addr = %local, ctl = ?ctl_local, name = %inner.name, "rmr endpoint bound");
        inner.spawn(accept_loop(inner.clone(), listener, false));
        if let Some(l) = ctl {
            inner.spawn(accept_loop(inner.clone(), l, true));
        }
        if let Some(rtmgr) = inner.cfg.rtmgr.clone() {
            inner.spawn(request_tables(inner.clone(), rtmgr));
        }
        Ok((RmrEndpoint { inner }, rx))
    }

    /// Sends `msg` by route (its mtype, sub_id and meid): to one endpoint of each group.
    /// `src`/`srcip` are set to ours; the call flag and call id are cleared. Returns once queued; a later connect or write
    /// failure is counted, not returned.
    pub fn send(&self, mut msg: Message) -> Result<(), SendError> {
        self.inner.stamp(&mut msg);
        // As librmr's send: not a call, so no call id (a peer would queue it on a chute).
        msg.flags &= !HFL_CALL_MSG;
        if msg.d1.first().is_some_and(|&b| b != 0) {
            let mut d1 = msg.d1.to_vec();
            d1[0] = 0;
            msg.d1 = d1.into();
        }
        let r = self.inner.route_and_queue(&msg);
        if let Err(e) = &r {
            self.inner.counters.drop_one(e.reason());
            debug!(mtype = msg.mtype, sub_id = msg.sub_id, error = %e, "rmr send refused");
        }
        r
    }

    /// Returns `reply` to the sender of `received`, on the connection it came on (or, if
    /// that is gone, to its `srcip`/`src`). Keeps the d1 area (librmr's call id) and, when
    /// `reply` has none, the xid of `received`, so that a C peer waiting in `rmr_call`
    /// gets it.
    pub fn rts(&self, received: &Message, mut reply: Message) -> Result<(), SendError> {
        self.inner.stamp(&mut reply);
        let r = self.inner.rts(received, &mut reply);
        if let Err(e) = &r {
            self.inner.counters.drop_one(e.reason());
            debug!(mtype = reply.mtype, error = %e, "rmr rts refused");
        }
        r
    }

    /// The active route table.
    #[must_use]
    pub fn routes(&self) -> Arc<RouteTable> {
        self.inner
            .table
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the active route table.
    pub fn set_routes(&self, table: RouteTable) {
        self.inner.install(table);
    }

    /// The bound data port address.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local
    }

    /// The bound control port address, when configured.
    #[must_use]
    pub fn ctl_addr(&self) -> Option<SocketAddr> {
        self.inner.ctl_local
    }

    /// Our `src` name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The endpoint's counters.
    #[must_use]
    pub fn counters(&self) -> Arc<RmrCounters> {
        self.inner.counters.clone()
    }
}

impl Drop for RmrEndpoint {
    fn drop(&mut self) {
        for t in lock(&self.inner.tasks).drain(..) {
            t.abort();
        }
    }
}

impl Inner {
    fn spawn<F>(&self, fut: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let h = tokio::spawn(fut);
        let mut tasks = lock(&self.tasks);
        tasks.retain(|t| !t.is_finished());
        tasks.push(h.abort_handle());
    }

    fn stamp(&self, msg: &mut Message) {
        msg.src.clone_from(&self.name);
        msg.srcip.clone_from(&self.srcip);
    }

    fn install(&self, table: RouteTable) {
        *self.table.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(table);
        self.have_table.store(true, Ordering::Release);
        RmrCounters::add(&self.counters.tables_applied, 1);
    }

    fn route_and_queue(self: &Arc<Self>, msg: &Message) -> Result<(), SendError> {
        let dests = self
            .table
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .destinations(msg.mtype, msg.sub_id, &msg.meid)?;
        let frame = frame::encode(msg, self.cfg.max_frame)?;
        let mut queued = 0;
        let mut full = None;
        for ep in dests {
            match self.peer(&ep, false).try_send(frame.clone()) {
                Ok(()) => queued += 1,
                Err(_) => full = Some(ep),
            }
        }
        match full {
            Some(ep) if queued == 0 => Err(SendError::QueueFull(ep)),
            Some(ep) => {
                // Fan-out to several groups: one queue was full, the others took it.
                self.counters.drop_one(DropReason::QueueFull);
                debug!(endpoint = %ep, "rmr fan-out queue full");
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn rts(self: &Arc<Self>, received: &Message, reply: &mut Message) -> Result<(), SendError> {
        reply.flags &= !HFL_CALL_MSG;
        if reply.d1.iter().all(|&b| b == 0) && !received.d1.is_empty() {
            reply.d1 = received.d1.clone();
        }
        if reply.xid.is_empty() {
            reply.xid = received.xid.clone();
        }
        let frame = frame::encode(reply, self.cfg.max_frame)?;
        let conn = received
            .origin
            .and_then(|id| lock(&self.conns).get(&id).cloned());
        let tx = match conn {
            Some(tx) if !tx.is_closed() => tx,
            _ => {
                let ep = [&received.srcip, &received.src]
                    .into_iter()
                    .find(|e| valid_endpoint(e))
                    .ok_or_else(|| SendError::NoReturnPath(received.src.clone()))?;
                self.peer(ep, false)
            }
        };
        tx.try_send(frame)
            .map_err(|_| SendError::QueueFull(received.src.clone()))
    }

    /// The send queue of an endpoint, starting its task on first use.
    fn peer(self: &Arc<Self>, ep: &str, ctl: bool) -> mpsc::Sender<Bytes> {
        let mut peers = lock(&self.peers);
        if let Some(tx) = peers.get(ep).filter(|tx| !tx.is_closed()) {
            return tx.clone();
        }
        let (tx, rx) = mpsc::channel(self.cfg.tx_queue.max(1));
        peers.insert(ep.to_owned(), tx.clone());
        drop(peers);
        self.spawn(peer_task(self.clone(), ep.to_owned(), tx.clone(), rx, ctl));
        tx
    }

    fn new_conn(&self, tx: mpsc::Sender<Bytes>) -> u64 {
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        lock(&self.conns).insert(id, tx);
        RmrCounters::add(&self.counters.connections, 1);
        id
    }

    fn end_conn(&self, id: u64) {
        lock(&self.conns).remove(&id);
    }

    /// What to do with one decoded inbound message.
    fn on_message(self: &Arc<Self>, mut msg: Message, conn: u64, ctl: bool) {
        msg.origin = Some(conn);
        match msg.mtype {
            mtype::RIC_HEALTH_CHECK_REQ => {
                let mut reply =
                    Message::new(mtype::RIC_HEALTH_CHECK_RESP, Bytes::from_static(b"OK\n\0"))
                        .with_sub_id(msg.sub_id)
                        .with_meid(msg.meid.clone());
                self.stamp(&mut reply);
                match self.rts(&msg, &mut reply) {
                    Ok(()) => RmrCounters::add(&self.counters.health_checks, 1),
                    Err(e) => self.counters.drop_one(e.reason()),
                }
            }
            mtype::RMRRM_TABLE_DATA if ctl => self.on_table_data(&msg),
            _ => match self.deliver.try_send(msg) {
                Ok(()) => RmrCounters::add(&self.counters.rx_msgs, 1),
                Err(_) => self.counters.drop_one(DropReason::QueueFull),
            },
        }
    }

    /// Feeds the records of a routing-manager message; answers each finished or refused
    /// table with `RMRRM_TABLE_STATE`.
    fn on_table_data(self: &Arc<Self>, msg: &Message) {
        let end = msg
            .payload
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(msg.payload.len());
        let text = String::from_utf8_lossy(&msg.payload[..end]);
        for (i, line) in text.split('\n').enumerate() {
            let current = self.have_table.load(Ordering::Acquire).then(|| {
                self.table
                    .read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone()
            });
            let mut loader = lock(&self.loader);
            let id = loader.pending_id().map(str::to_owned);
            let outcome = loader.feed(line, current.as_deref());
            drop(loader);
            let state = match outcome {
                Ok(None) => continue,
                Ok(Some(loaded)) => {
                    let id = loaded.table_id.clone();
                    info!(table_id = ?id, entries = loaded.table.len(), "rmr route table applied");
                    self.install(loaded.table);
                    self.got_pushed_table.store(true, Ordering::Release);
                    format!("OK {}\n", id.as_deref().unwrap_or("<id-missing>"))
                }
                Err(kind) => {
                    let e = RouteError { line: i + 1, kind };
                    warn!(table_id = ?id, error = %e, "rmr route table refused");
                    RmrCounters::add(&self.counters.tables_refused, 1);
                    format!("ERR {} {e}\n", id.as_deref().unwrap_or("<id-missing>"))
                }
            };
            let mut payload = BytesMut::from(state.as_bytes());
            payload.extend_from_slice(&[0]);
            let mut ack = Message::new(mtype::RMRRM_TABLE_STATE, payload.freeze());
            self.stamp(&mut ack);
            if let Err(e) = self.rts(msg, &mut ack) {
                self.counters.drop_one(e.reason());
            }
        }
    }
}

fn valid_endpoint(ep: &str) -> bool {
    ep.rsplit_once(':')
        .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
}

async fn accept_loop(inner: Arc<Inner>, listener: TcpListener, ctl: bool) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                debug!(peer = %peer, ctl, "rmr connection accepted");
                let _ = stream.set_nodelay(true);
                let (rd, wr) = stream.into_split();
                let (tx, rx) = mpsc::channel(inner.cfg.tx_queue.max(1));
                let id = inner.new_conn(tx);
                inner.spawn(write_loop(inner.clone(), wr, rx));
                let inner2 = inner.clone();
                inner.spawn(async move {
                    read_loop(&inner2, rd, id, ctl).await;
                    inner2.end_conn(id);
                });
            }
            Err(e) => {
                warn!(error = %e, "rmr accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn write_loop(inner: Arc<Inner>, mut wr: OwnedWriteHalf, mut rx: mpsc::Receiver<Bytes>) {
    while let Some(frame) = rx.recv().await {
        if wr.write_all(&frame).await.is_err() {
            inner.counters.drop_one(DropReason::SendFailed);
            break;
        }
        RmrCounters::add(&inner.counters.tx_msgs, 1);
        RmrCounters::add(&inner.counters.tx_bytes, frame.len() as u64);
    }
    // Whatever is still queued for a dead connection is lost: count it.
    rx.close();
    while rx.try_recv().is_ok() {
        inner.counters.drop_one(DropReason::SendFailed);
    }
}

/// Reads frames until the connection ends or its framing is lost.
async fn read_loop<R: AsyncRead + Unpin>(inner: &Arc<Inner>, mut rd: R, conn: u64, ctl: bool) {
    let max = inner.cfg.max_frame;
    loop {
        let mut head = [0u8; TP_HDR_LEN];
        if rd.read_exact(&mut head).await.is_err() {
            return;
        }
        let len = match frame::frame_len(&head, max) {
            Ok(Some(len)) => len,
            Ok(None) => return,
            Err(FrameError::Oversize { len, .. }) => {
                // Framing is intact: skip the body without storing it.
                inner.counters.drop_one(DropReason::Oversize);
                warn!(len, max, "rmr oversize frame skipped");
                let mut body = (&mut rd).take(len.saturating_sub(TP_HDR_LEN as u64));
                if tokio::io::copy(&mut body, &mut tokio::io::sink())
                    .await
                    .is_err()
                {
                    return;
                }
                continue;
            }
            Err(e) => {
                inner.counters.drop_one(DropReason::BadFrame);
                warn!(error = %e, kind = e.kind(), "rmr framing lost, closing connection");
                return;
            }
        };
        let mut buf = BytesMut::zeroed(len);
        buf[..TP_HDR_LEN].copy_from_slice(&head);
        if rd.read_exact(&mut buf[TP_HDR_LEN..]).await.is_err() {
            inner.counters.drop_one(DropReason::BadFrame);
            return;
        }
        RmrCounters::add(&inner.counters.rx_bytes, len as u64);
        match frame::decode_bytes(buf.freeze(), max) {
            Ok(msg) => inner.on_message(msg, conn, ctl),
            Err(e) => {
                inner.counters.drop_one(DropReason::BadFrame);
                warn!(error = %e, kind = e.kind(), "rmr bad frame dropped");
            }
        }
    }
}

/// One outbound endpoint: connects on demand, writes its queue, reconnects after a
/// failure, reads what the peer sends back on the same connection.
async fn peer_task(
    inner: Arc<Inner>,
    ep: String,
    self_tx: mpsc::Sender<Bytes>,
    mut rx: mpsc::Receiver<Bytes>,
    ctl: bool,
) {
    let mut conn: Option<(OwnedWriteHalf, u64, Arc<AtomicBool>)> = None;
    let mut retry_at: Option<Instant> = None;
    while let Some(frame) = rx.recv().await {
        if conn
            .as_ref()
            .is_some_and(|(_, _, closed)| closed.load(Ordering::Acquire))
        {
            conn = None;
        }
        if conn.is_none() {
            if retry_at.is_some_and(|t| Instant::now() < t) {
                inner.counters.drop_one(DropReason::ConnectFailed);
                continue;
            }
            match tokio::time::timeout(inner.cfg.connect_timeout, TcpStream::connect(&ep)).await {
                Ok(Ok(stream)) => {
                    debug!(endpoint = %ep, "rmr connected");
                    let _ = stream.set_nodelay(true);
                    let (rd, wr) = stream.into_split();
                    let id = inner.new_conn(self_tx.clone());
                    let closed = Arc::new(AtomicBool::new(false));
                    let (inner2, closed2) = (inner.clone(), closed.clone());
                    inner.spawn(async move {
                        read_loop(&inner2, rd, id, ctl).await;
                        closed2.store(true, Ordering::Release);
                        inner2.end_conn(id);
                    });
                    retry_at = None;
                    conn = Some((wr, id, closed));
                }
                Ok(Err(e)) => {
                    warn!(endpoint = %ep, error = %e, "rmr connect failed");
                    inner.counters.drop_one(DropReason::ConnectFailed);
                    retry_at = Some(Instant::now() + inner.cfg.reconnect_backoff);
                    continue;
                }
                Err(_) => {
                    warn!(endpoint = %ep, "rmr connect timed out");
                    inner.counters.drop_one(DropReason::ConnectFailed);
                    retry_at = Some(Instant::now() + inner.cfg.reconnect_backoff);
                    continue;
                }
            }
        }
        if let Some((wr, id, _)) = conn.as_mut() {
            if wr.write_all(&frame).await.is_ok() {
                RmrCounters::add(&inner.counters.tx_msgs, 1);
                RmrCounters::add(&inner.counters.tx_bytes, frame.len() as u64);
            } else {
                warn!(endpoint = %ep, "rmr write failed, will reconnect");
                inner.counters.drop_one(DropReason::SendFailed);
                inner.end_conn(*id);
                conn = None;
            }
        }
    }
}

/// Requests a table from the routing manager until one has been pushed to us.
async fn request_tables(inner: Arc<Inner>, rtmgr: String) {
    while !inner.got_pushed_table.load(Ordering::Acquire) {
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut req = Message::new(
            mtype::RMRRM_REQ_TABLE,
            Bytes::from(format!("{} ts={ts}\n\0", inner.name)),
        )
        .with_sub_id(0);
        inner.stamp(&mut req);
        match frame::encode(&req, inner.cfg.max_frame) {
            Ok(f) => {
                if inner.peer(&rtmgr, true).try_send(f).is_err() {
                    inner.counters.drop_one(DropReason::QueueFull);
                }
                debug!(rtmgr = %rtmgr, "rmr route table requested");
            }
            Err(e) => warn!(error = %e, "rmr table request not encodable"),
        }
        tokio::time::sleep(inner.cfg.rtreq_interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(vars: &[(&str, &str)]) -> RmrConfig {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        RmrConfig::default().with_vars(|k| vars.get(k).cloned())
    }

    #[test]
    fn routing_manager_variables_follow_librmr() {
        let c = with(&[("RMR_RTG_SVC", "-1"), ("RMR_SEED_RT", "/etc/rt")]);
        assert_eq!((c.rtmgr, c.ctl_listen), (None, None));
        assert_eq!(c.seed_routes, Some(PathBuf::from("/etc/rt")));
        let c = with(&[
            ("RMR_RTG_SVC", "rtmgr.ricplt:4561"),
            ("RMR_CTL_PORT", "4600"),
        ]);
        assert_eq!(c.rtmgr.as_deref(), Some("rtmgr.ricplt:4561"));
        assert_eq!(c.ctl_listen.map(|a| a.port()), Some(4600));
        let c = with(&[("RMR_RTG_SVC", "tcp:4999")]);
        assert_eq!(
            (c.rtmgr, c.ctl_listen.map(|a| a.port())),
            (None, Some(4999))
        );
        let c = with(&[("RMR_CTL_PORT", "4700")]);
        assert_eq!(c.rtmgr.as_deref(), Some(DEF_RTG_WK_ADDR));
        assert_eq!(c.ctl_listen.map(|a| a.port()), Some(4700));
        let c = with(&[("RMR_SRC_ID", "my-xapp:4560")]);
        assert_eq!(
            (c.rtmgr, c.ctl_listen.map(|a| a.port())),
            (None, Some(DEF_CTL_PORT))
        );
        assert_eq!(c.name.as_deref(), Some("my-xapp:4560"));
    }
}
