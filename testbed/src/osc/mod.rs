//! The O-RAN SC near-RT RIC platform side of the simulator.
//!
//! - [`submgr`]: a Subscription Manager serving the REST API an O-RAN SC xApp calls
//!   (`POST /ric/v1/subscriptions`, `DELETE /ric/v1/subscriptions/{id}`), allocating
//!   `E2EventInstanceId`s and notifying the xApp asynchronously, with the E2 side behind
//!   the [`submgr::E2Side`] trait.

pub mod submgr;
