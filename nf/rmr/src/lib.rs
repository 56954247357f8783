//! RMR (the RIC Message Router of the O-RAN SC near-RT RIC) over TCP, in pure Rust.
//!
//! The O-RAN SC RIC platform (E2 termination, subscription manager, routing manager)
//! talks to xApps over RMR's "SI95" TCP transport. This crate speaks it without librmr:
//!
//! - [`frame`]: the 50-byte transport header and the RMR header v3, encoded and decoded
//!   with bounded sizes (checked against frames written by librmr 4.9.4);
//! - [`route`]: the route table format of `RMR_SEED_RT` and of the routing manager, and
//!   librmr's lookup precedence;
//! - [`RmrEndpoint`]: a tokio endpoint (listen, send by route with lazy connect, return
//!   to sender, health checks, route tables pushed by the routing manager);
//! - [`mtype`]: message type numbers of `RIC_message_types.h`.
//!
//! The format is defined only by librmr's C source; `docs/rmr.md` says what is
//! implemented and how it was tested against the real library.

pub mod counters;
pub mod endpoint;
pub mod frame;
pub mod mtype;
pub mod route;

pub use counters::{DropReason, RmrCounters};
pub use endpoint::{BindError, RmrConfig, RmrEndpoint, SendError};
pub use frame::{FrameError, Message};
pub use route::{RouteError, RouteTable};
