//! [`SubscriptionTracker`]: matches the Subscription Manager's asynchronous notifications to
//! the xApp's requests and maps the RMR `sub_id` of indications back to a subscription.
//!
//! The xApp registers a request before POSTing it ([`SubscriptionTracker::register`]):
//! the manager may notify before its `201` answer arrives. Each subscription detail is then
//! keyed by its `XappEventInstanceId` (unique among the xApp's pending and active ones)
//! until the notification names it: it becomes active with the `E2EventInstanceId` the
//! indications will carry as `sub_id`, or failed with the manager's `ErrorCause`; without a
//! notification within the deadline it times out ([`SubscriptionTracker::expire`]). Every
//! outcome is a [`TrackerEvent`] with a bounded [`TrackerEvent::label`]. The tracker is
//! plain data (no I/O, no clock): the caller passes `now` and owns the locking.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::model::{ErrorSource, SubscriptionParams, SubscriptionResponse, TimeoutType};

/// One subscription detail the xApp asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    meid: String,
    ran_function_id: u16,
    subscription_id: Option<String>,
    state: State,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    Pending { deadline: Instant },
    Active { e2_event_instance_id: u16 },
}

/// What a notification, an answer or the passing of time did to a subscription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrackerEvent {
    /// Indications for `(meid, xapp_event_instance_id)` will carry
    /// `sub_id = e2_event_instance_id`.
    Active {
        meid: String,
        subscription_id: String,
        xapp_event_instance_id: u16,
        e2_event_instance_id: u16,
    },
    /// The manager reports the subscription failed.
    Failed {
        meid: String,
        subscription_id: String,
        xapp_event_instance_id: u16,
        cause: String,
        source: Option<ErrorSource>,
        timeout_type: Option<TimeoutType>,
    },
    /// No notification came within the deadline.
    TimedOut {
        meid: String,
        subscription_id: Option<String>,
        xapp_event_instance_id: u16,
        waited: Duration,
    },
    /// A notification named an `XappEventInstanceId` nobody waits for.
    UnknownInstance {
        subscription_id: String,
        xapp_event_instance_id: u16,
    },
    /// A notification's `SubscriptionId` differs from the one the manager gave in its answer.
    SubscriptionMismatch {
        xapp_event_instance_id: u16,
        expected: String,
        got: String,
    },
    /// Another active subscription already uses this `E2EventInstanceId`: indications
    /// could not be told apart, so the newer one is refused.
    DuplicateE2Instance {
        meid: String,
        xapp_event_instance_id: u16,
        e2_event_instance_id: u16,
    },
}

impl TrackerEvent {
    /// Bounded label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            TrackerEvent::Active { .. } => "active",
            TrackerEvent::Failed { .. } => "failed",
            TrackerEvent::TimedOut { .. } => "timed_out",
            TrackerEvent::UnknownInstance { .. } => "unknown_instance",
            TrackerEvent::SubscriptionMismatch { .. } => "subscription_mismatch",
            TrackerEvent::DuplicateE2Instance { .. } => "duplicate_e2_instance",
        }
    }
}

/// A request the tracker refuses to register.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TrackerError {
    #[error("XappEventInstanceId {0} is already pending or active")]
    InstanceInUse(u16),
}

impl TrackerError {
    /// Bounded label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            TrackerError::InstanceInUse(_) => "instance_in_use",
        }
    }
}

/// Subscriptions of one xApp, pending and active.
#[derive(Debug)]
pub struct SubscriptionTracker {
    timeout: Duration,
    by_instance: BTreeMap<u16, Entry>,
    /// `E2EventInstanceId` → `XappEventInstanceId` of the active subscriptions.
    by_e2_instance: BTreeMap<u16, u16>,
}

impl SubscriptionTracker {
    /// A tracker that gives a notification `timeout` to come.
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            by_instance: BTreeMap::new(),
            by_e2_instance: BTreeMap::new(),
        }
    }

    /// Registers every detail of `params` as pending, before the request is sent. Nothing
    /// is registered when one of its `XappEventInstanceId`s is already in use.
    pub fn register(
        &mut self,
        params: &SubscriptionParams,
        now: Instant,
    ) -> Result<(), TrackerError> {
        if let Some(id) = params
            .xapp_event_instance_ids()
            .find(|id| self.by_instance.contains_key(id))
        {
            return Err(TrackerError::InstanceInUse(id));
        }
        for id in params.xapp_event_instance_ids() {
            self.by_instance.insert(
                id,
                Entry {
                    meid: params.meid.clone(),
                    ran_function_id: params.ran_function_id,
                    subscription_id: params.subscription_id.clone(),
                    state: State::Pending {
                        deadline: now + self.timeout,
                    },
                },
            );
        }
        Ok(())
    }

    /// Records the `SubscriptionId` of the manager's `201` answer for the details of
    /// `params` (the notification will be checked against it).
    pub fn accepted(&mut self, params: &SubscriptionParams, resp: &SubscriptionResponse) {
        for id in params.xapp_event_instance_ids() {
            if let Some(e) = self.by_instance.get_mut(&id) {
                e.subscription_id
                    .get_or_insert_with(|| resp.subscription_id.clone());
            }
        }
    }

    /// Forgets the pending details of `params` whose request failed before the manager
    /// took it (an error from [`super::SubMgrClient::subscribe`]).
    pub fn abandon(&mut self, params: &SubscriptionParams) {
        for id in params.xapp_event_instance_ids() {
            if matches!(
                self.by_instance.get(&id).map(|e| &e.state),
                Some(State::Pending { .. })
            ) {
                self.by_instance.remove(&id);
            }
        }
    }

    /// Applies a notification (the body POSTed to `/ric/v1/subscriptions/response`).
    pub fn on_notification(&mut self, n: &SubscriptionResponse) -> Vec<TrackerEvent> {
        n.subscription_instances
            .iter()
            .map(|inst| {
                let xid = inst.xapp_event_instance_id;
                let Some(entry) = self.by_instance.get_mut(&xid) else {
                    return TrackerEvent::UnknownInstance {
                        subscription_id: n.subscription_id.clone(),
                        xapp_event_instance_id: xid,
                    };
                };
                match &entry.subscription_id {
                    Some(known) if *known != n.subscription_id => {
                        return TrackerEvent::SubscriptionMismatch {
                            xapp_event_instance_id: xid,
                            expected: known.clone(),
                            got: n.subscription_id.clone(),
                        };
                    }
                    Some(_) => {}
                    None => entry.subscription_id = Some(n.subscription_id.clone()),
                }
                let meid = entry.meid.clone();
                if let Some(cause) = inst.failure() {
                    self.drop_instance(xid);
                    return TrackerEvent::Failed {
                        meid,
                        subscription_id: n.subscription_id.clone(),
                        xapp_event_instance_id: xid,
                        cause: cause.to_owned(),
                        source: inst.error_source,
                        timeout_type: inst.timeout_type,
                    };
                }
                let e2 = inst.e2_event_instance_id;
                match self.by_e2_instance.get(&e2) {
                    Some(other) if *other != xid => {
                        return TrackerEvent::DuplicateE2Instance {
                            meid,
                            xapp_event_instance_id: xid,
                            e2_event_instance_id: e2,
                        };
                    }
                    _ => {}
                }
                if let Some(State::Active {
                    e2_event_instance_id: old,
                }) = self.by_instance.get(&xid).map(|e| e.state.clone())
                {
                    self.by_e2_instance.remove(&old);
                }
                if let Some(entry) = self.by_instance.get_mut(&xid) {
                    entry.state = State::Active {
                        e2_event_instance_id: e2,
                    };
                }
                self.by_e2_instance.insert(e2, xid);
                TrackerEvent::Active {
                    meid,
                    subscription_id: n.subscription_id.clone(),
                    xapp_event_instance_id: xid,
                    e2_event_instance_id: e2,
                }
            })
            .collect()
    }

    /// Times out the pending details whose deadline has passed at `now`.
    pub fn expire(&mut self, now: Instant) -> Vec<TrackerEvent> {
        let due: Vec<u16> = self
            .by_instance
            .iter()
            .filter(|(_, e)| matches!(e.state, State::Pending { deadline } if deadline <= now))
            .map(|(id, _)| *id)
            .collect();
        due.into_iter()
            .filter_map(|id| self.by_instance.remove(&id).map(|e| (id, e)))
            .map(|(id, e)| TrackerEvent::TimedOut {
                meid: e.meid,
                subscription_id: e.subscription_id,
                xapp_event_instance_id: id,
                waited: self.timeout,
            })
            .collect()
    }

    /// The earliest deadline among pending details, for the caller's timer.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.by_instance
            .values()
            .filter_map(|e| match e.state {
                State::Pending { deadline } => Some(deadline),
                State::Active { .. } => None,
            })
            .min()
    }

    /// The `sub_id` that indications of `(meid, xapp_event_instance_id)` carry, once active.
    pub fn sub_id(&self, meid: &str, xapp_event_instance_id: u16) -> Option<u16> {
        match self.by_instance.get(&xapp_event_instance_id) {
            Some(Entry {
                meid: m,
                state: State::Active {
                    e2_event_instance_id,
                },
                ..
            }) if m == meid => Some(*e2_event_instance_id),
            _ => None,
        }
    }

    /// The `XappEventInstanceId` an indication from `meid` with RMR `sub_id` belongs to;
    /// `None` when no active subscription of that node has that instance.
    pub fn route(&self, meid: &str, sub_id: u16) -> Option<u16> {
        let xid = *self.by_e2_instance.get(&sub_id)?;
        let e = self.by_instance.get(&xid)?;
        (e.meid == meid).then_some(xid)
    }

    /// The RAN function a subscription detail was made on.
    pub fn ran_function_id(&self, xapp_event_instance_id: u16) -> Option<u16> {
        self.by_instance
            .get(&xapp_event_instance_id)
            .map(|e| e.ran_function_id)
    }

    /// Forgets every detail of `subscription_id` (after an unsubscribe); returns how many.
    pub fn remove_subscription(&mut self, subscription_id: &str) -> usize {
        let ids: Vec<u16> = self
            .by_instance
            .iter()
            .filter(|(_, e)| e.subscription_id.as_deref() == Some(subscription_id))
            .map(|(id, _)| *id)
            .collect();
        for id in &ids {
            self.drop_instance(*id);
        }
        ids.len()
    }

    /// Subscription details active now.
    pub fn active(&self) -> usize {
        self.by_e2_instance.len()
    }

    /// Subscription details still waiting for their notification.
    pub fn pending(&self) -> usize {
        self.by_instance.len() - self.active()
    }

    fn drop_instance(&mut self, xid: u16) {
        if let Some(Entry {
            state: State::Active {
                e2_event_instance_id,
            },
            ..
        }) = self.by_instance.remove(&xid)
        {
            self.by_e2_instance.remove(&e2_event_instance_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::submgr::model::{
        ActionToBeSetup, ActionType, ClientEndpoint, E2smOctets, SubscriptionDetail,
        SubscriptionInstance,
    };

    fn params(meid: &str, ids: &[u16]) -> SubscriptionParams {
        SubscriptionParams {
            subscription_id: None,
            client_endpoint: ClientEndpoint {
                host: "xapp".into(),
                http_port: 8080,
                rmr_port: 4560,
            },
            meid: meid.into(),
            ran_function_id: 2,
            e2_subscription_directives: None,
            subscription_details: ids
                .iter()
                .map(|&x| SubscriptionDetail {
                    xapp_event_instance_id: x,
                    event_triggers: E2smOctets(vec![1]),
                    action_to_be_setup_list: vec![ActionToBeSetup {
                        action_id: 1,
                        action_type: ActionType::Report,
                        action_definition: None,
                        subsequent_action: None,
                    }],
                })
                .collect(),
        }
    }

    fn note(id: &str, instances: &[(u16, u16)]) -> SubscriptionResponse {
        SubscriptionResponse {
            subscription_id: id.into(),
            subscription_instances: instances
                .iter()
                .map(|&(x, e)| SubscriptionInstance::ok(x, e))
                .collect(),
        }
    }

    #[test]
    fn notifications_are_matched_by_instance_and_checked_against_the_answer() {
        let t0 = Instant::now();
        let mut t = SubscriptionTracker::new(Duration::from_secs(5));
        let a = params("gnb_a", &[1, 2]);
        t.register(&a, t0).unwrap();
        assert_eq!(
            t.register(&params("gnb_b", &[2]), t0),
            Err(TrackerError::InstanceInUse(2))
        );
        // Nothing of a refused request was registered.
        assert_eq!(t.pending(), 2);
        t.accepted(&a, &note("S1", &[]));
        let ev = t.on_notification(&note("S2", &[(1, 10)]));
        assert_eq!(ev[0].label(), "subscription_mismatch");
        let ev = t.on_notification(&note("S1", &[(9, 10)]));
        assert_eq!(ev[0].label(), "unknown_instance");
        let ev = t.on_notification(&note("S1", &[(1, 10)]));
        assert_eq!(ev[0].label(), "active");
        // A repeated notification (the manager retried) changes nothing.
        let ev = t.on_notification(&note("S1", &[(1, 10)]));
        assert_eq!(ev[0].label(), "active");
        assert_eq!(t.active(), 1);
        // Another detail may not take an E2EventInstanceId in use.
        let ev = t.on_notification(&note("S1", &[(2, 10)]));
        assert_eq!(ev[0].label(), "duplicate_e2_instance");
        assert_eq!(t.route("gnb_a", 10), Some(1));
        assert_eq!(t.next_deadline(), Some(t0 + Duration::from_secs(5)));
        // Detail 2 is still pending and times out exactly at its deadline.
        assert!(t.expire(t0 + Duration::from_millis(4999)).is_empty());
        let ev = t.expire(t0 + Duration::from_secs(5));
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].label(), "timed_out");
        assert_eq!(t.next_deadline(), None);
        assert_eq!(t.remove_subscription("S1"), 1);
        assert_eq!(t.route("gnb_a", 10), None);
        // A request that failed before the manager took it frees its instances.
        let b = params("gnb_b", &[3]);
        t.register(&b, t0).unwrap();
        t.abandon(&b);
        t.register(&b, t0).unwrap();
    }
}
