//! A client of the Open Inference Protocol (KServe v2 gRPC, `inference.GRPCInferenceService`)
//! for a model served away from the xApp: in a regional or central cluster behind KServe,
//! Triton or MLServer.
//!
//! The remote model obeys the same contract as a local one (`nf_infer::Contract`): at start
//! its server's model metadata is checked against it (name, version, input and output
//! names, datatypes, shapes), and every answer is checked again (shape, request id, version,
//! finite values) before anything uses it. Calls carry a deadline; failures come back as
//! [`OipError`], whose [`OipError::kind`] is a bounded metric label.
//!
//! # Layout
//! - [`config`]: the `[remote_model]` section (and `[remote_model.tls]`), validated.
//! - [`error`]: the error kinds, mapped from gRPC statuses.
//! - [`metadata`]: model metadata as domain types, checked against a contract.
//! - `tensor`: FP32 rows to a `ModelInferRequest` (raw little-endian or typed) and the
//!   response's output back to rows, refusing anything malformed.
//! - [`client`]: [`OipClient`], one method per RPC, each with its deadline.
//! - [`remote`]: [`RemoteModel`], what the runtime holds and calls once per tick, with its
//!   counters and recent latency quantiles (the placement's input).
//! - [`latency`]: the recent-latency window behind those quantiles (no I/O, time passed in).
//! - [`testserver`]: starts the pinned MLServer test server (tests and `oipbench`).

pub mod client;
pub mod config;
pub mod error;
pub mod latency;
pub mod metadata;
pub mod remote;
mod tensor;
pub mod testserver;

/// Code generated from `proto/oip/v2/grpc_predict_v2.proto`; it stays inside this crate.
mod pb {
    #![allow(clippy::all, missing_debug_implementations)]
    tonic::include_proto!("inference");
}

/// The compiled descriptor set of `proto/oip/v2/grpc_predict_v2.proto` (a test compares its
/// field numbers with a real server's definition).
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/oip_descriptor.bin"));

pub use client::OipClient;
pub use config::{ConfigError, Encoding, RemoteConfig, RemoteModelSection};
pub use error::{ContractMismatch, OipError};
pub use metadata::{ModelMetadata, ServerMetadata, TensorMetadata};
pub use nf_tls::TlsMetrics;
pub use remote::{RemoteModel, RemoteOutput, RemoteStats, TLS_LINK};
