//! The Subscription Manager REST API of the O-RAN SC near-RT RIC, seen from an xApp.
//!
//! | call | path | success |
//! |---|---|---|
//! | subscribe | `POST /ric/v1/subscriptions` ([`model::SubscriptionParams`]) | `201` + [`model::SubscriptionResponse`] |
//! | unsubscribe | `DELETE /ric/v1/subscriptions/{subscriptionId}` | `204` |
//! | list (not called by the xApp) | `GET /ric/v1/subscriptions` | `200` + [`model::SubscriptionData`] list |
//! | notification (manager → xApp) | `POST /ric/v1/subscriptions/response` ([`model::SubscriptionResponse`]) | `200` |

pub mod client;
pub mod model;
pub mod tracker;

pub use client::{SubMgrClient, SubMgrError, SubMgrTimeouts};
pub use model::{
    ActionToBeSetup, ActionType, ClientEndpoint, E2SubscriptionDirectives, E2smOctets, ErrorSource,
    ModelError, SubscriptionData, SubscriptionDetail, SubscriptionInstance, SubscriptionParams,
    SubscriptionResponse, SubsequentAction, SubsequentActionType, TimeToWait, TimeoutType,
};
pub use tracker::{SubscriptionTracker, TrackerError, TrackerEvent};

/// Path of the manager's subscription collection.
pub const SUBSCRIPTIONS_PATH: &str = "/ric/v1/subscriptions";
/// Path on the xApp where the manager POSTs its notifications.
pub const NOTIFICATION_PATH: &str = "/ric/v1/subscriptions/response";
