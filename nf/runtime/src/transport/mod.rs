//! The seam between the node pipeline and the RIC: one interface, one module per RIC.
//!
//! The pipeline (`node`) never learns which RIC it talks to. It holds a [`RicTransport`]
//! and an [`E2smCodec`](codec::E2smCodec) and sees only bytes and domain values:
//!
//! - the E2 node list ([`RicTransport::list_nodes`]): discovery where the RIC offers it, the
//!   configured `[[ric.nodes]]` otherwise;
//! - a subscription ([`RicTransport::subscribe`]): an E2SM event trigger and one action
//!   definition per cell, as bytes, answered by an [`IndicationStream`] of
//!   [`StreamEvent`]s (an [`Indication`] `{header, message, call_process_id}`, or the
//!   stream lost / ended). Silence is the pipeline's to judge (it alone knows when it stopped
//!   reading under backpressure);
//! - unsubscribe ([`RicTransport::unsubscribe`]);
//! - controls ([`ControlPath`]): a [`Control`] `{header, message, call_process_id}` goes
//!   out with a [`Completion`] that the transport calls exactly once with the
//!   [`ControlOutcome`]: acknowledged (with the outcome bytes, if any), failed with a bounded
//!   cause label, or timed out.
//!
//! # Implementations
//! - `sdran-grpc` ([`sdran`]): the SD-RAN-like E2T gRPC API (onos-e2t service-model names,
//!   the `Encoding` header following [`WireEncoding`]), controls on the control stream
//!   extension or unary `ControlService.Control`.
//! - `osc-rmr` ([`osc`]): the O-RAN SC near-RT RIC. Node list from the configuration,
//!   `subscribe` resolving when the Subscription Manager's REST notification arrives (its
//!   `E2EventInstanceId` then routes the RMR indications, which carry it as `sub_id`, to the
//!   node's stream), controls as RMR messages (mtype 12040, `meid` = node) whose
//!   ack/failure (12041/12042) complete them.

pub mod codec;
pub mod osc;
pub mod sdran;
mod sdran_control;

use std::time::Duration;

use crate::config::RuntimeConfig;
use crate::e2::{Discovery, E2Error};
use crate::metrics::Metrics;

pub use codec::{CodecError, E2smCodec};

/// Which RIC the xApp talks to (`ric.transport`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
pub enum TransportKind {
    /// SD-RAN's onos-e2t northbound gRPC API (and this project's simulator).
    #[serde(rename = "sdran-grpc")]
    SdranGrpc,
    /// The O-RAN SC near-RT RIC: RMR and the Subscription Manager.
    #[serde(rename = "osc-rmr")]
    OscRmr,
}

impl TransportKind {
    /// The configuration spelling.
    pub fn name(self) -> &'static str {
        match self {
            Self::SdranGrpc => "sdran-grpc",
            Self::OscRmr => "osc-rmr",
        }
    }

    /// Whether this build implements it.
    pub fn is_built(self) -> bool {
        matches!(self, Self::SdranGrpc | Self::OscRmr)
    }
}

/// How E2SM payloads are encoded on the wire (`ric.encoding`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
pub enum WireEncoding {
    /// This project's protobuf E2SM messages (`e2_proto::{kpm, rc}`).
    #[serde(rename = "proto")]
    Proto,
    /// ASN.1 aligned PER, as RAN nodes send it (`e2_asn1::{kpm, rc}`).
    #[serde(rename = "asn1-per")]
    Asn1Per,
}

impl WireEncoding {
    /// The configuration spelling.
    pub fn name(self) -> &'static str {
        match self {
            Self::Proto => "proto",
            Self::Asn1Per => "asn1-per",
        }
    }

    /// Whether this build implements it.
    pub fn is_built(self) -> bool {
        matches!(self, Self::Proto | Self::Asn1Per)
    }
}

/// Which E2SM-RC dialect slice controls follow under `asn1-per` (`ric.rc_profile`): RAN
/// parameter IDs differ between implementations. The codec crate's own type, so the
/// configuration and the codec cannot drift apart.
pub use e2_asn1::rc::RcProfile;

/// Why a transport or codec cannot be started.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The configuration names a transport or encoding this build does not implement.
    #[error("{key} = \"{value}\" is not built yet")]
    NotBuilt {
        key: &'static str,
        value: &'static str,
    },
    #[error(transparent)]
    E2(#[from] E2Error),
    /// The O-RAN SC transport could not start (RMR port taken, route table unreadable).
    #[error(transparent)]
    Osc(#[from] osc::OscStartError),
}

/// One RIC indication as the transport delivered it, still encoded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Indication {
    /// E2SM indication header.
    pub header: Vec<u8>,
    /// E2SM indication message.
    pub message: Vec<u8>,
    /// RIC call process ID, echoed by the control it triggers.
    pub call_process_id: Vec<u8>,
    /// RIC action ID the indication reports on, where the RIC says it (E2AP over RMR):
    /// the position of the cell in the subscription, since E2SM-KPM indication message
    /// format 1 names no cell.
    pub action_id: Option<u8>,
}

/// What an [`IndicationStream`] yields.
#[derive(Debug)]
pub enum StreamEvent {
    /// An indication.
    Indication(Indication),
    /// The RIC confirmed the subscription (no data).
    Acknowledged,
    /// A message that is not an indication (counted as `not_indication`).
    NotIndication,
    /// The stream failed; `oversize` when one message was over the size limit.
    Lost { oversize: bool, detail: String },
    /// The RIC ended the stream.
    Ended,
}

/// What a subscription asks of one E2 node: the encoded E2SM event trigger and one
/// encoded action definition per cell (action ID = position).
#[derive(Clone, Debug, Default)]
pub struct SubscriptionSpec {
    pub event_trigger: Vec<u8>,
    pub actions: Vec<Vec<u8>>,
}

/// One encoded E2SM control.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Control {
    pub header: Vec<u8>,
    pub message: Vec<u8>,
    pub call_process_id: Vec<u8>,
}

/// How a control ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ControlOutcome {
    /// Acknowledged; the E2SM control outcome, if the RIC returned one.
    Ack { outcome: Option<Vec<u8>> },
    /// Failed with a bounded cause label (an E2AP cause, `transport`, `overload`).
    Failure { cause: &'static str, detail: String },
    /// No outcome within the control timeout.
    Timeout { detail: String },
}

/// Called exactly once with a control's outcome.
pub type Completion = Box<dyn FnOnce(ControlOutcome) + Send>;

/// The RIC the xApp talks to.
// One value per run or per node task, never in a collection: the size difference between
// the gRPC and RMR variants costs nothing worth an indirection on every call.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum RicTransport {
    SdranGrpc(sdran::SdranGrpc),
    OscRmr(osc::OscRmr),
}

impl RicTransport {
    /// The transport `cfg.transport` names; refuses what is not built.
    pub fn new(cfg: &RuntimeConfig) -> Result<Self, TransportError> {
        match cfg.transport {
            TransportKind::SdranGrpc => Ok(Self::SdranGrpc(sdran::SdranGrpc::new(cfg)?)),
            TransportKind::OscRmr => Ok(Self::OscRmr(osc::OscRmr::new(cfg))),
        }
    }

    /// Starts what the transport runs besides the node tasks (O-RAN SC: the RMR endpoint,
    /// its receiver and the notification handler). The sink the HTTP endpoint must hand
    /// Subscription Manager notifications to, if the transport takes them.
    pub async fn start(
        &mut self,
        metrics: &std::sync::Arc<Metrics>,
    ) -> Result<Option<crate::http::NotificationSink>, TransportError> {
        match self {
            Self::SdranGrpc(_) => Ok(None),
            Self::OscRmr(t) => Ok(Some(t.start(metrics.clone()).await?)),
        }
    }

    /// The E2SM-KPM version the RIC says `node` speaks (O-RAN SC: read from the E2
    /// manager's RAN function definition), if it says.
    pub fn kpm_version(&self, node: &str) -> Option<e2_asn1::kpm::KpmVersion> {
        match self {
            Self::SdranGrpc(_) => None,
            Self::OscRmr(t) => t.kpm_version(node),
        }
    }

    /// Stops what [`Self::start`] started (after the node tasks have unsubscribed).
    pub fn stop(&self) {
        if let Self::OscRmr(t) = self {
            t.stop();
        }
    }

    /// The RIC's E2 nodes offering KPM, read for at most `deadline`; RAN function
    /// definitions are decoded with `codec`. A RIC that cannot list them answers an error
    /// for which [`E2Error::is_unimplemented`] holds (a transport without any node list
    /// returns [`E2Error::NoNodeList`]): discovery then serves `[[ric.nodes]]`.
    pub async fn list_nodes(
        &mut self,
        deadline: Duration,
        codec: &E2smCodec,
    ) -> Result<Discovery, E2Error> {
        match self {
            Self::SdranGrpc(t) => t.list_nodes(deadline, codec).await,
            Self::OscRmr(t) => t.list_nodes(deadline).await,
        }
    }

    /// Subscribes `node` to `spec`; the RIC must answer within `timeout`.
    pub async fn subscribe(
        &mut self,
        node: &str,
        spec: SubscriptionSpec,
        timeout: Duration,
    ) -> Result<IndicationStream, E2Error> {
        match self {
            Self::SdranGrpc(t) => Ok(IndicationStream::SdranGrpc(
                t.subscribe(node, spec, timeout).await?,
            )),
            Self::OscRmr(t) => Ok(IndicationStream::OscRmr(
                t.subscribe(node, spec, timeout).await?,
            )),
        }
    }

    /// Deletes this xApp's subscription on `node`.
    pub async fn unsubscribe(&mut self, node: &str) -> Result<(), E2Error> {
        match self {
            Self::SdranGrpc(t) => t.unsubscribe(node).await,
            Self::OscRmr(t) => t.unsubscribe(node).await,
        }
    }

    /// The control path of `node`: at most `queue` controls outstanding, each given
    /// `timeout` for its outcome. Transport-level failures are counted in `metrics`.
    pub fn control_path(
        &self,
        node: &str,
        cfg: &RuntimeConfig,
        metrics: std::sync::Arc<Metrics>,
    ) -> ControlPath {
        match self {
            Self::SdranGrpc(t) => ControlPath::SdranGrpc(t.control_path(node, cfg, metrics)),
            Self::OscRmr(t) => ControlPath::OscRmr(t.control_path(node, cfg, metrics)),
        }
    }
}

/// The indications of one subscription.
// One value per run or per node task, never in a collection: the size difference between
// the gRPC and RMR variants costs nothing worth an indirection on every call.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum IndicationStream {
    SdranGrpc(sdran::Indications),
    OscRmr(osc::Indications),
}

impl IndicationStream {
    /// The next event; cancel-safe (a `select!` may drop it).
    pub async fn next(&mut self) -> StreamEvent {
        match self {
            Self::SdranGrpc(s) => s.next().await,
            Self::OscRmr(s) => s.next().await,
        }
    }
}

/// The control path of one E2 node.
// One value per run or per node task, never in a collection: the size difference between
// the gRPC and RMR variants costs nothing worth an indirection on every call.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum ControlPath {
    SdranGrpc(sdran_control::ControlSender),
    OscRmr(osc::ControlSender),
}

impl ControlPath {
    /// Prepares the path after a (re)subscription; bounded by the control timeout.
    pub async fn open(&mut self) {
        match self {
            Self::SdranGrpc(c) => c.open().await,
            Self::OscRmr(c) => c.open(),
        }
    }

    /// Sends `control`; `done` is called exactly once with its outcome.
    pub fn send(&mut self, control: Control, done: Completion) {
        match self {
            Self::SdranGrpc(c) => c.send(control, done),
            Self::OscRmr(c) => c.send(control, done),
        }
    }

    /// Times out controls that waited past the control timeout.
    pub fn sweep(&mut self) {
        match self {
            Self::SdranGrpc(c) => c.sweep(),
            Self::OscRmr(c) => c.sweep(),
        }
    }

    /// Drops the path's connection state (after a stream loss).
    pub fn close(&mut self) {
        match self {
            Self::SdranGrpc(c) => c.close(),
            Self::OscRmr(c) => c.close(),
        }
    }
}
