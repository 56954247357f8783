//! Conflict mitigation between xApps: the conflict-guidance gRPC service
//! (`airan.conflict.v1.ConflictGuidance`) over [`nf_core::conflict`], its Prometheus metrics
//! and health endpoint, and the wire conversions its clients share.
//!
//! Both xApps, as separate processes, ask this service before every control (`Propose`),
//! report each control's outcome (`ReportApplied`) and, optionally, the KPIs they read
//! (`ReportKpi`). The service shares nothing else with them: priorities and windows are its
//! own configuration ([`config`]); the state (leases, recent actions per cell, learnt
//! neighbour relations, conflicts) lives in one [`nf_core::conflict::ConflictManager`]
//! behind a mutex, bounded. `docs/conflicts.md` describes the design.

pub mod config;
mod http;
pub mod metrics;
pub mod server;
pub mod wire;

pub use config::Config;
pub use server::{Running, start};
