//! The part of the O-RAN SC E2 manager's REST API an xApp reads: which E2 nodes are
//! connected and the RAN functions each announced in its E2 setup.
//!
//! | call | answer |
//! |---|---|
//! | `GET /v1/nodeb/states` | `200`, `[{"inventoryName", "globalNbId": {"plmnId", "nbId"}, "connectionStatus"}]` |
//! | `GET /v1/nodeb/{ranName}` | `200`, `{"ranName", "connectionStatus", "globalNbId", "nodeType", "gnb": {"ranFunctions": [{"ranFunctionId", "ranFunctionDefinition", "ranFunctionRevision", "ranFunctionOid"}]}}`; unknown name `404` |
//!
//! As the E2 manager stores them, RAN function definitions are the APER bytes of the
//! E2 setup in upper-case hex. Other paths answer `404`, other methods `405`, both with a
//! JSON `{"errorCode", "errorMessage"}` body.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use super::{KPM_RAN_FUNCTION_ID, OscNode, RC_RAN_FUNCTION_ID};

/// Path prefix of the node resources.
pub const NODEB_PATH: &str = "/v1/nodeb";

/// A running E2 manager REST server; it stops when dropped.
#[derive(Debug)]
pub struct NodebServer {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for NodebServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl NodebServer {
    /// Binds `addr` and serves `nodes`.
    pub async fn start(addr: SocketAddr, nodes: Vec<OscNode>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let nodes = Arc::new(nodes);
        let task = tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let nodes = nodes.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        let nodes = nodes.clone();
                        async move { Ok::<_, Infallible>(handle(&nodes, &req)) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(Duration::from_secs(5))
                        .serve_connection(TokioIo::new(sock), svc)
                        .await;
                });
            }
        });
        Ok(Self { addr, task })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

fn json(status: StatusCode, v: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::from(v.to_string())));
    *res.status_mut() = status;
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

fn error(status: StatusCode, code: u32, msg: &str) -> Response<Full<Bytes>> {
    json(
        status,
        &serde_json::json!({ "errorCode": code, "errorMessage": msg }),
    )
}

fn handle(nodes: &[OscNode], req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let Some(rest) = req
        .uri()
        .path()
        .strip_prefix(NODEB_PATH)
        .and_then(|r| r.strip_prefix('/'))
    else {
        return error(StatusCode::NOT_FOUND, 404, "no such path");
    };
    if req.method() != Method::GET {
        return error(StatusCode::METHOD_NOT_ALLOWED, 405, "use GET");
    }
    if rest == "states" {
        let list: Vec<_> = nodes.iter().map(state).collect();
        return json(StatusCode::OK, &serde_json::Value::Array(list));
    }
    match nodes.iter().find(|n| n.meid == rest) {
        Some(n) => json(StatusCode::OK, &nodeb(n)),
        None => error(StatusCode::NOT_FOUND, 404, "no E2 node by that RAN name"),
    }
}

fn global_nb_id(n: &OscNode) -> serde_json::Value {
    let nb_id = n.meid.rsplit('_').next().unwrap_or_default();
    serde_json::json!({ "plmnId": "00F110", "nbId": nb_id.to_uppercase() })
}

fn state(n: &OscNode) -> serde_json::Value {
    serde_json::json!({
        "inventoryName": n.meid,
        "globalNbId": global_nb_id(n),
        "connectionStatus": "CONNECTED",
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// The node as `GET /v1/nodeb/{ranName}` shows it.
pub fn nodeb(n: &OscNode) -> serde_json::Value {
    serde_json::json!({
        "ranName": n.meid,
        "connectionStatus": "CONNECTED",
        "globalNbId": global_nb_id(n),
        "nodeType": "GNB",
        "gnb": {
            "gnbType": "GNB",
            "ranFunctions": [
                {
                    "ranFunctionId": KPM_RAN_FUNCTION_ID,
                    "ranFunctionDefinition": hex(&n.kpm_definition),
                    "ranFunctionRevision": 1,
                    "ranFunctionOid": n.kpm_oid(),
                },
                {
                    "ranFunctionId": RC_RAN_FUNCTION_ID,
                    "ranFunctionDefinition": hex(&n.rc_definition),
                    "ranFunctionRevision": 1,
                    "ranFunctionOid": e2_asn1::rc::E2SM_RC_OID,
                },
            ],
        },
    })
}
