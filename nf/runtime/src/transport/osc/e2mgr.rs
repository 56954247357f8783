//! The O-RAN SC E2 manager's REST API, as far as the xApp reads it: `GET /v1/nodeb/{ranName}`
//! gives the node's RAN functions from its E2 setup (`gnb.ranFunctions[]` with
//! `ranFunctionId`, `ranFunctionOid` and `ranFunctionDefinition`, the APER definition in
//! hex). The xApp reads each node's E2SM-KPM version from its KPM definition
//! (`e2_asn1::kpm::decide_version`) and checks that its E2SM-RC definition offers slice PRB
//! quota control under the node's profile.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::header::HOST;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Largest `nodeb` answer read [bytes].
const MAX_BODY: usize = 1024 * 1024;

/// One RAN function of a node's E2 setup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RanFunction {
    pub id: u16,
    pub oid: String,
    pub definition: Vec<u8>,
}

/// A failed E2 manager read.
#[derive(Debug, thiserror::Error)]
pub enum E2mgrError {
    #[error("e2 manager {addr} unreachable: {detail}")]
    Unreachable { addr: String, detail: String },
    #[error("e2 manager: no answer within {0:?}")]
    Timeout(Duration),
    #[error("e2 manager: HTTP exchange failed: {0}")]
    Http(String),
    #[error("e2 manager: GET /v1/nodeb/{ran_name} answered {status}")]
    Status { ran_name: String, status: u16 },
    #[error("e2 manager: invalid nodeb answer: {0}")]
    BadAnswer(String),
}

impl E2mgrError {
    /// Bounded label.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Unreachable { .. } => "e2mgr_unreachable",
            Self::Timeout(_) => "e2mgr_timeout",
            Self::Http(_) => "e2mgr_http",
            Self::Status { .. } => "e2mgr_status",
            Self::BadAnswer(_) => "e2mgr_bad_answer",
        }
    }
}

/// `GET /v1/nodeb/{ran_name}` from the E2 manager at `authority`, bounded by `timeout`.
pub async fn ran_functions(
    authority: &str,
    ran_name: &str,
    timeout: Duration,
) -> Result<Vec<RanFunction>, E2mgrError> {
    let body = tokio::time::timeout(timeout, get(authority, ran_name))
        .await
        .map_err(|_| E2mgrError::Timeout(timeout))??;
    parse(&body)
}

async fn get(authority: &str, ran_name: &str) -> Result<Bytes, E2mgrError> {
    let sock = TcpStream::connect(authority)
        .await
        .map_err(|e| E2mgrError::Unreachable {
            addr: authority.to_owned(),
            detail: e.to_string(),
        })?;
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(sock))
        .await
        .map_err(|e| E2mgrError::Http(e.to_string()))?;
    tokio::spawn(conn);
    // RAN names are printable node IDs (checked by the configuration); escape anything else.
    let path: String = ran_name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let req = Request::builder()
        .method(Method::GET)
        .uri(format!("/v1/nodeb/{path}"))
        .header(HOST, authority)
        .body(Empty::<Bytes>::new())
        .map_err(|e| E2mgrError::Http(e.to_string()))?;
    let resp = send
        .send_request(req)
        .await
        .map_err(|e| E2mgrError::Http(e.to_string()))?;
    let status = resp.status();
    let body = Limited::new(resp.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| E2mgrError::BadAnswer(format!("body: {e}")))?
        .to_bytes();
    if status != StatusCode::OK {
        return Err(E2mgrError::Status {
            ran_name: ran_name.to_owned(),
            status: status.as_u16(),
        });
    }
    Ok(body)
}

/// The RAN functions of a `nodeb` answer (`gnb.ranFunctions[]`).
pub fn parse(body: &[u8]) -> Result<Vec<RanFunction>, E2mgrError> {
    let bad = |s: String| E2mgrError::BadAnswer(s);
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| bad(e.to_string()))?;
    let list = v
        .get("gnb")
        .and_then(|g| g.get("ranFunctions"))
        .and_then(|f| f.as_array())
        .ok_or_else(|| bad("no gnb.ranFunctions".into()))?;
    list.iter()
        .map(|f| {
            let id = f
                .get("ranFunctionId")
                .and_then(serde_json::Value::as_u64)
                .and_then(|i| u16::try_from(i).ok())
                .filter(|i| *i <= 4095)
                .ok_or_else(|| bad("ranFunctionId missing or out of 0..=4095".into()))?;
            let oid = f
                .get("ranFunctionOid")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let hex = f
                .get("ranFunctionDefinition")
                .and_then(serde_json::Value::as_str)
                .ok_or_else(|| bad(format!("RAN function {id}: no ranFunctionDefinition")))?;
            let definition = unhex(hex)
                .ok_or_else(|| bad(format!("RAN function {id}: definition is not hex")))?;
            Ok(RanFunction {
                id,
                oid,
                definition,
            })
        })
        .collect()
}

/// Hex text (either case, whitespace ignored) as bytes.
fn unhex(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .map(|b| (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok()))
        .collect::<Option<_>>()?;
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    Some(digits.chunks(2).map(|p| p[0] << 4 | p[1]).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn answer(defs: &[(u16, &str, &[u8])]) -> String {
        let fs: Vec<serde_json::Value> = defs
            .iter()
            .map(|(id, oid, d)| {
                let hex: String = d.iter().map(|b| format!("{b:02X}")).collect();
                serde_json::json!({"ranFunctionId": id, "ranFunctionOid": oid, "ranFunctionDefinition": hex, "ranFunctionRevision": 1})
            })
            .collect();
        serde_json::json!({"ranName": "gnb_001_001_000e0000", "connectionStatus": "CONNECTED", "gnb": {"ranFunctions": fs}}).to_string()
    }

    /// One HTTP/1.1 answer per connection, from a plain socket.
    async fn serve(status: &'static str, body: String) -> std::net::SocketAddr {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let text = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(text.as_bytes()).await;
            }
        });
        addr
    }

    #[tokio::test]
    async fn a_nodes_kpm_version_is_read_from_its_ran_function_definition() {
        use e2_asn1::kpm::{self, KpmVersion, VersionSource};
        // What a v03.00 node announces: the version-3 OID arc in its definition.
        let mut f = kpm::decode_ran_function(
            &kpm::encode_ran_function(&[], KpmVersion::V3_00),
            KpmVersion::V3_00,
        )
        .unwrap();
        f.name.oid = kpm::KPM_OID_V3.into();
        let v3 = kpm::encode_ran_function_description(&f, KpmVersion::V3_00);
        let v2 = kpm::encode_ran_function(&[], KpmVersion::V2_03);
        let addr = serve("200 OK", answer(&[(2, kpm::KPM_OID, &v3), (3, "x", &v2)])).await;
        let fs = ran_functions(
            &addr.to_string(),
            "gnb_001_001_000e0000",
            Duration::from_secs(2),
        )
        .await
        .unwrap();
        assert_eq!(fs.len(), 2);
        assert_eq!(fs[0].definition, v3);
        let d = kpm::decide_version(&fs[0].definition, None).unwrap();
        assert_eq!(
            (d.version, d.source),
            (KpmVersion::V3_00, VersionSource::Oid)
        );
        let d = kpm::decide_version(&fs[1].definition, None).unwrap();
        assert_eq!(d.version, KpmVersion::V2_03);
    }

    #[tokio::test]
    async fn e2_manager_failures_are_named() {
        let addr = serve("404 Not Found", "{}".into()).await;
        let e = ran_functions(&addr.to_string(), "gnb-x", Duration::from_secs(2))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), "e2mgr_status");
        let addr = serve("200 OK", "{\"gnb\": {\"ranFunctions\": [{\"ranFunctionId\": 2, \"ranFunctionDefinition\": \"ZZ\"}]}}".into()).await;
        let e = ran_functions(&addr.to_string(), "gnb-x", Duration::from_secs(2))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), "e2mgr_bad_answer");
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let gone = closed.local_addr().unwrap();
        drop(closed);
        let e = ran_functions(&gone.to_string(), "gnb-x", Duration::from_secs(2))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), "e2mgr_unreachable");
        assert_eq!(unhex("0a FF\n10"), Some(vec![0x0a, 0xff, 0x10]));
        assert_eq!(unhex("abc"), None);
    }
}
