//! Testbed of the AI-RAN xApp: an E2T simulator that replays recorded cell traces over the
//! SD-RAN-compatible gRPC API, the trace reader it uses, and helpers for tests and
//! benchmarks.
//!
//! # Layout
//! - [`trace`]: SCOPE per-UE CSV traces aggregated into cells and slices.
//! - [`mapping`]: any CSV trace through a TOML column-mapping file.
//! - [`coloran`]: ColO-RAN cell and UE files joined on one clock.
//! - [`recording`]: session recordings (`airan.record.v1`) read back as traces.
//! - [`twin`]: the closed-loop RAN twin and its calibration.
//! - [`trial`]: offline A/B trials on the twin, and their report.
//! - [`eval`]: scoring a forecaster on recorded traces (`model-eval`).
//! - [`sim`]: the E2T simulator (admin, subscription and control services).
//! - [`hostile`]: a misbehaving E2T in front of the simulator, for failure tests.
//! - [`osc`]: the O-RAN SC platform side: a Subscription Manager speaking its REST API.
//! - [`librmr`]: the real librmr built for C peers of RMR tests.
//! - [`wan`]: a delaying TCP proxy emulating a WAN round trip to a remote model server.

pub mod benchconfig;
pub mod coloran;
pub mod eval;
pub mod hostile;
pub mod hybridplot;
pub mod librmr;
pub mod mapping;
pub mod osc;
pub mod policy_train;
pub mod poll;
pub mod ports;
pub mod radio;
pub mod recording;
pub mod report;
pub mod shipped;
pub mod sim;
pub mod trace;
pub mod trial;
pub mod twin;
pub mod wan;
