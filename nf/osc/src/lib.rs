//! The O-RAN SC near-RT RIC platform face of the xApp.
//!
//! In the O-RAN SC RIC an xApp does not send E2 subscription requests itself: it asks the
//! Subscription Manager (`submgr`) over REST, and the manager answers asynchronously with
//! a POST to the xApp's `/ric/v1/subscriptions/response` carrying the `E2EventInstanceId`
//! that RIC indications will then carry over RMR as `sub_id`.
//!
//! - [`submgr::model`]: the REST model of the manager's API (`xapp_rest_api.yaml` of
//!   o-ran-sc/ric-plt-xapp-frame-py), strictly validated on decode.
//! - [`submgr::client`]: [`SubMgrClient`], an HTTP/1.1 client of that API with timeouts and
//!   typed errors.
//! - [`submgr::tracker`]: [`SubscriptionTracker`], which matches the manager's notifications
//!   to the requests and maps RMR `sub_id`s back to the subscription they belong to.
//! - [`xapp_config`]: the body of the xApp's `GET /ric/v1/config`.
//!
//! No RMR here: the transport that receives indications lives in the runtime.

pub mod submgr;
pub mod xapp_config;

pub use submgr::client::{SubMgrClient, SubMgrError, SubMgrTimeouts};
pub use submgr::model::{ModelError, SubscriptionParams, SubscriptionResponse};
pub use submgr::tracker::{SubscriptionTracker, TrackerEvent};
