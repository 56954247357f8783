//! I/O-free core of the xApp runtime.
//!
//! Nothing here touches a socket, a thread or the OS clock: every function that depends on
//! time takes `now` as an argument, so the testbed can drive the core deterministically.
//!
//! # Layout
//! - [`ids`]: cell and slice identities (NR CGI, S-NSSAI).
//! - [`kpm`]: E2SM-KPM measurements known to the xApp (TS 28.552 names) and decoded reports.
//! - [`e2sm`]: KPM codec domain types shared by the protobuf and APER codecs (cells, limits,
//!   decode notes, record layouts).
//! - [`state`]: per-cell, per-slice rolling windows; duplicate / late / missing handling.
//! - [`features`]: model input rows built from the windows, in the order a contract names.
//! - [`policy`]: PRB demand forecasts turned into slice PRB quotas with headroom.
//! - [`radio`]: UE-level radio telemetry (report style 4) and cell radio distributions.
//! - [`slice_policy`]: slice-policy model rows (a whole cell) and its quota outputs, checked.
//! - [`shard`]: E2 nodes over xApp replicas: rendezvous hashing and the handover state machine.
//! - [`guard`]: guard rails on quotas (bounds, ordering, sums, hysteresis, rate).
//! - [`latency`]: decision timestamps, the latency budget and HDR percentiles.
//! - [`baseline`]: baseline slice policies (equal, fixed, proportional to demand).
//! - [`trial`]: A/B trial designs, arm assignment, effect statistics, sequential guard rail.
//! - [`a1`]: A1 policies of slice SLA targets: requests, checks, the effective policy and
//!   how it bounds quotas.

pub mod a1;
pub mod baseline;
pub mod conflict;
pub mod e2sm;
pub mod features;
pub mod guard;
pub mod ids;
pub mod kpm;
pub mod latency;
pub mod mobility;
pub mod policy;
pub mod radio;
pub mod radio_features;
pub mod shard;
pub mod slice_policy;
pub mod state;
pub mod trial;

pub use ids::{CellId, Snssai};
pub use kpm::{KpmReport, Meas, MeasVec};
