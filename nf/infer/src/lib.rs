//! ONNX inference on onnxruntime through `ort` (dynamically loaded `libonnxruntime.so`).
//!
//! # Layout
//! - [`contract`]: the sidecar contract every model ships with, and its checks.
//! - [`runtime`]: finding and loading `libonnxruntime.so`, execution providers.
//! - [`worker`]: the session-owning worker thread that batches jobs from many cells.

pub mod contract;
pub mod runtime;
pub mod worker;

pub use contract::{Contract, ContractError};
pub use runtime::{EngineError, ModelConfig, Provider};
pub use worker::{
    CanaryCheck, CanarySource, InferenceHandle, JobOutput, ModelId, SwapError, SwapReport,
    WorkerConfig, WorkerStats, spawn_worker,
};
