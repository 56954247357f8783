//! [`SubMgrClient`]: the xApp's HTTP/1.1 client of the Subscription Manager REST API.
//!
//! One connection per call (the manager is called a few times per E2 node, never on the
//! indication path), a bound on connecting and on the whole exchange, a bound on the
//! answer's size, and every failure a [`SubMgrError`] with a bounded [`SubMgrError::kind`].

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::SUBSCRIPTIONS_PATH;
use super::model::{self, MAX_RESPONSE_BODY, ModelError, SubscriptionParams, SubscriptionResponse};

/// The manager's service in an O-RAN SC deployment (`ricplt` namespace, HTTP port 8088).
pub const DEFAULT_SUBMGR: &str = "service-ricplt-submgr-http.ricplt:8088";

/// Longest error body kept in an error (the rest is cut).
const MAX_ERROR_TEXT: usize = 256;

/// Time limits of a call.
#[derive(Clone, Copy, Debug)]
pub struct SubMgrTimeouts {
    /// Establishing the TCP connection.
    pub connect: Duration,
    /// Sending the request and reading the whole answer.
    pub request: Duration,
}

impl Default for SubMgrTimeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(2),
            request: Duration::from_secs(10),
        }
    }
}

/// A failed call to the manager.
#[derive(Debug, thiserror::Error)]
pub enum SubMgrError {
    #[error("request refused before sending: {0}")]
    InvalidRequest(#[source] ModelError),
    #[error("subscription manager {addr} unreachable: {source}")]
    Unreachable {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("subscription manager {op}: no answer within {after:?}")]
    Timeout { op: &'static str, after: Duration },
    #[error("subscription manager {op}: HTTP exchange failed: {source}")]
    Http {
        op: &'static str,
        #[source]
        source: hyper::Error,
    },
    #[error("subscription manager {op}: refused with {status}: {body}")]
    Status4xx {
        op: &'static str,
        status: u16,
        body: String,
    },
    #[error("subscription manager {op}: failed with {status}: {body}")]
    Status5xx {
        op: &'static str,
        status: u16,
        body: String,
    },
    #[error("subscription manager {op}: answered {status}, expected {expected}")]
    UnexpectedStatus {
        op: &'static str,
        status: u16,
        expected: u16,
    },
    #[error("subscription manager {op}: answer body exceeds {max} bytes")]
    BodyTooLarge { op: &'static str, max: usize },
    #[error("subscription manager {op}: invalid answer: {source}")]
    BadResponse {
        op: &'static str,
        #[source]
        source: ModelError,
    },
}

impl SubMgrError {
    /// Bounded label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            SubMgrError::InvalidRequest(_) => "submgr_invalid_request",
            SubMgrError::Unreachable { .. } => "submgr_unreachable",
            SubMgrError::Timeout { .. } => "submgr_timeout",
            SubMgrError::Http { .. } => "submgr_http",
            SubMgrError::Status4xx { .. } => "submgr_status_4xx",
            SubMgrError::Status5xx { .. } => "submgr_status_5xx",
            SubMgrError::UnexpectedStatus { .. } => "submgr_unexpected_status",
            SubMgrError::BodyTooLarge { .. } => "submgr_body_too_large",
            SubMgrError::BadResponse { .. } => "submgr_bad_response",
        }
    }

    /// Whether trying again later may succeed (the manager was down, slow or failing).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            SubMgrError::Unreachable { .. }
                | SubMgrError::Timeout { .. }
                | SubMgrError::Http { .. }
                | SubMgrError::Status5xx { .. }
        )
    }
}

/// Client of one Subscription Manager.
#[derive(Clone, Debug)]
pub struct SubMgrClient {
    authority: String,
    timeouts: SubMgrTimeouts,
}

impl SubMgrClient {
    /// A client of the manager at `authority` (`host:port`, e.g. [`DEFAULT_SUBMGR`]).
    pub fn new(authority: impl Into<String>, timeouts: SubMgrTimeouts) -> Self {
        Self {
            authority: authority.into(),
            timeouts,
        }
    }

    /// `host:port` of the manager.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// `POST /ric/v1/subscriptions`: asks for the subscription; `201` gives its
    /// `SubscriptionId`. The instances come later, in the notification.
    pub async fn subscribe(
        &self,
        params: &SubscriptionParams,
    ) -> Result<SubscriptionResponse, SubMgrError> {
        const OP: &str = "subscribe";
        let body = params.to_json().map_err(SubMgrError::InvalidRequest)?;
        let (status, answer) = self
            .exchange(
                OP,
                Method::POST,
                SUBSCRIPTIONS_PATH,
                Some(body),
                MAX_RESPONSE_BODY,
            )
            .await?;
        expect_status(OP, status, StatusCode::CREATED, &answer)?;
        let resp = SubscriptionResponse::from_json(&answer)
            .map_err(|source| SubMgrError::BadResponse { op: OP, source })?;
        tracing::debug!(
            meid = %params.meid,
            subscription_id = %resp.subscription_id,
            "subscription accepted by the manager"
        );
        Ok(resp)
    }

    /// `DELETE /ric/v1/subscriptions/{subscriptionId}`: `204` when done.
    pub async fn unsubscribe(&self, subscription_id: &str) -> Result<(), SubMgrError> {
        const OP: &str = "unsubscribe";
        model::check_subscription_id(subscription_id).map_err(SubMgrError::InvalidRequest)?;
        let path = format!("{SUBSCRIPTIONS_PATH}/{subscription_id}");
        let (status, answer) = self
            .exchange(OP, Method::DELETE, &path, None, MAX_RESPONSE_BODY)
            .await?;
        expect_status(OP, status, StatusCode::NO_CONTENT, &answer)
    }

    /// One request on a fresh connection, bounded in time and answer size.
    async fn exchange(
        &self,
        op: &'static str,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        max_body: usize,
    ) -> Result<(StatusCode, Bytes), SubMgrError> {
        let connect = tokio::time::timeout(
            self.timeouts.connect,
            TcpStream::connect(self.authority.as_str()),
        );
        let sock = match connect.await {
            Err(_) => {
                return Err(SubMgrError::Timeout {
                    op: "connect",
                    after: self.timeouts.connect,
                });
            }
            Ok(Err(source)) => {
                return Err(SubMgrError::Unreachable {
                    addr: self.authority.clone(),
                    source,
                });
            }
            Ok(Ok(s)) => s,
        };
        let _ = sock.set_nodelay(true);
        let req = self.request(method, path, body)?;
        let work = async {
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(sock))
                .await
                .map_err(|source| SubMgrError::Http { op, source })?;
            let driver = tokio::spawn(conn);
            let res = sender
                .send_request(req)
                .await
                .map_err(|source| SubMgrError::Http { op, source });
            let out = match res {
                Ok(res) => {
                    let status = res.status();
                    read_body(op, res.into_body(), max_body)
                        .await
                        .map(|b| (status, b))
                }
                Err(e) => Err(e),
            };
            driver.abort();
            out
        };
        tokio::time::timeout(self.timeouts.request, work)
            .await
            .map_err(|_| SubMgrError::Timeout {
                op,
                after: self.timeouts.request,
            })?
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Request<Full<Bytes>>, SubMgrError> {
        let host = HeaderValue::from_str(&self.authority).map_err(|_| {
            SubMgrError::InvalidRequest(ModelError::BadText {
                field: "submgr address".into(),
                value: self.authority.chars().take(64).collect(),
                why: "not a valid Host header",
            })
        })?;
        let mut req = Request::new(Full::new(Bytes::from(body.unwrap_or_default())));
        *req.method_mut() = method;
        *req.uri_mut() = path.parse().map_err(|_| {
            SubMgrError::InvalidRequest(ModelError::BadText {
                field: "path".into(),
                value: path.chars().take(64).collect(),
                why: "not a valid URI path",
            })
        })?;
        req.headers_mut().insert(HOST, host);
        req.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Ok(req)
    }
}

async fn read_body(
    op: &'static str,
    body: hyper::body::Incoming,
    max: usize,
) -> Result<Bytes, SubMgrError> {
    use hyper::body::Body as _;
    if body.size_hint().lower() > max as u64 {
        return Err(SubMgrError::BodyTooLarge { op, max });
    }
    match Limited::new(body, max).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) => match e.downcast::<hyper::Error>() {
            Ok(source) => Err(SubMgrError::Http {
                op,
                source: *source,
            }),
            Err(_) => Err(SubMgrError::BodyTooLarge { op, max }),
        },
    }
}

fn expect_status(
    op: &'static str,
    status: StatusCode,
    expected: StatusCode,
    body: &[u8],
) -> Result<(), SubMgrError> {
    if status == expected {
        return Ok(());
    }
    let text: String = String::from_utf8_lossy(body)
        .chars()
        .take(MAX_ERROR_TEXT)
        .collect();
    let code = status.as_u16();
    Err(if status.is_client_error() {
        SubMgrError::Status4xx {
            op,
            status: code,
            body: text,
        }
    } else if status.is_server_error() {
        SubMgrError::Status5xx {
            op,
            status: code,
            body: text,
        }
    } else {
        SubMgrError::UnexpectedStatus {
            op,
            status: code,
            expected: expected.as_u16(),
        }
    })
}
