//! The active policy instances of the xApp's policy type, and what each request does to
//! them. [`A1Policies::plan`] computes the next state without touching the current one, so
//! the runtime can write it to the state file first and only then make it current: a
//! policy the xApp answered `OK` to always survives a restart.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::effective::EffectivePolicy;
use super::instance::{PolicyInstance, check_instance_id};
use super::request::{Operation, PolicyRequest, Status};
use super::{A1Error, MAX_INSTANCES};

/// Version of the state file's form (its `format` field).
pub const STATE_FORMAT: &str = "airan.a1.state.v1";

/// What a request did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// A new instance is active.
    Created,
    /// An active instance was replaced by another payload.
    Replaced,
    /// The same payload again (e.g. the mediator answering a query): nothing changes.
    Unchanged,
    /// The instance is gone.
    Deleted,
    /// READ of an active instance.
    Read,
}

impl Change {
    /// Labels of `xapp_a1_policy_requests_total{result}` besides [`A1Error::KINDS`].
    pub const LABELS: [&'static str; 2] = ["ok", "deleted"];

    /// The status answered to the mediator.
    pub fn status(self) -> Status {
        match self {
            Self::Deleted => Status::Deleted,
            _ => Status::Ok,
        }
    }

    /// Bounded metric label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Deleted => "deleted",
            _ => "ok",
        }
    }

    /// True when the effective policy changed.
    pub fn changes_policy(self) -> bool {
        matches!(self, Self::Created | Self::Replaced | Self::Deleted)
    }
}

/// A state file the xApp cannot start from.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum StateError {
    #[error("not an A1 state file ({STATE_FORMAT}): {0}")]
    Format(String),
    #[error("it holds policy type {file}, the configuration handles {config}")]
    PolicyType { file: u64, config: u32 },
}

/// The active instances of one policy type.
#[derive(Clone, Debug, PartialEq)]
pub struct A1Policies {
    policy_type_id: u32,
    instances: BTreeMap<String, PolicyInstance>,
    /// Bumped by every change of the effective policy.
    generation: u64,
}

impl A1Policies {
    /// No instance of `policy_type_id` yet.
    pub fn new(policy_type_id: u32) -> Self {
        Self {
            policy_type_id,
            instances: BTreeMap::new(),
            generation: 0,
        }
    }

    pub fn policy_type_id(&self) -> u32 {
        self.policy_type_id
    }

    /// Active instances.
    pub fn len(&self) -> usize {
        self.instances.len()
    }

    pub fn is_empty(&self) -> bool {
        self.instances.is_empty()
    }

    /// The active instances, by ID.
    pub fn instances(&self) -> impl Iterator<Item = &PolicyInstance> {
        self.instances.values()
    }

    /// The state after `req` and what it did; refusals name their reason. `self` is not
    /// changed: make the returned state current once it is stored.
    pub fn plan(&self, req: &PolicyRequest) -> Result<(Self, Change), A1Error> {
        if req.policy_type_id != u64::from(self.policy_type_id) {
            return Err(A1Error::WrongPolicyType {
                got: req.policy_type_id,
                expected: self.policy_type_id,
            });
        }
        match req.operation {
            Operation::Create | Operation::Update => {
                let instance = PolicyInstance::from_payload(&req.instance_id, &req.payload)?;
                self.upsert(instance)
            }
            Operation::Delete => {
                let mut next = self.clone();
                if next.instances.remove(&req.instance_id).is_none() {
                    return Err(A1Error::UnknownInstance(req.instance_id.clone()));
                }
                next.generation += 1;
                Ok((next, Change::Deleted))
            }
            Operation::Read => match self.instances.contains_key(&req.instance_id) {
                true => Ok((self.clone(), Change::Read)),
                false => Err(A1Error::UnknownInstance(req.instance_id.clone())),
            },
        }
    }

    /// Adds or replaces `instance` if it fits with the other active instances.
    fn upsert(&self, instance: PolicyInstance) -> Result<(Self, Change), A1Error> {
        let old = self.instances.get(&instance.id);
        if old == Some(&instance) {
            return Ok((self.clone(), Change::Unchanged));
        }
        if old.is_none() && self.instances.len() >= MAX_INSTANCES {
            return Err(A1Error::TooMany {
                what: "active instances",
                count: self.instances.len() + 1,
                max: MAX_INSTANCES,
            });
        }
        let others = self.instances.values().filter(|i| i.id != instance.id);
        let mut sum: u32 = 0;
        for other in others {
            for s in &other.slices {
                if instance.slices.iter().any(|t| t.snssai == s.snssai) {
                    return Err(A1Error::Overlap {
                        slice: s.snssai.to_string(),
                        other: other.id.clone(),
                    });
                }
                sum += u32::from(s.min_share_pct);
            }
        }
        sum += instance
            .slices
            .iter()
            .map(|s| u32::from(s.min_share_pct))
            .sum::<u32>();
        if sum > 100 {
            return Err(A1Error::SumOfMins {
                sum,
                over: "over the slices of every active instance".into(),
            });
        }
        let change = match old {
            Some(_) => Change::Replaced,
            None => Change::Created,
        };
        let mut next = self.clone();
        next.instances.insert(instance.id.clone(), instance);
        next.generation += 1;
        Ok((next, change))
    }

    /// The merge of the active instances.
    pub fn effective(&self) -> EffectivePolicy {
        EffectivePolicy::new(self.generation, self.instances.values())
    }

    /// The state file's content: the policy type and each instance's canonical payload.
    pub fn to_state(&self) -> Value {
        let instances: Map<String, Value> = self
            .instances
            .values()
            .map(|i| (i.id.clone(), i.to_payload()))
            .collect();
        json!({
            "format": STATE_FORMAT,
            "policy_type_id": self.policy_type_id,
            "instances": instances,
        })
    }

    /// Reads a state file's content for `policy_type_id`. Each instance is checked again by
    /// today's rules and added like a CREATE; the ones refused come back with their reason
    /// (the caller logs and counts them; the mediator re-sends what it holds on a query).
    pub fn from_state(
        policy_type_id: u32,
        state: &Value,
    ) -> Result<(Self, Vec<(String, A1Error)>), StateError> {
        let bad = |what: &str| StateError::Format(what.to_owned());
        let map = state.as_object().ok_or_else(|| bad("not a JSON object"))?;
        if map.get("format").and_then(Value::as_str) != Some(STATE_FORMAT) {
            return Err(bad("`format` missing or another version"));
        }
        let file = map
            .get("policy_type_id")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad("`policy_type_id` missing"))?;
        if file != u64::from(policy_type_id) {
            return Err(StateError::PolicyType {
                file,
                config: policy_type_id,
            });
        }
        let instances = map
            .get("instances")
            .and_then(Value::as_object)
            .ok_or_else(|| bad("`instances` missing"))?;
        let mut policies = Self::new(policy_type_id);
        let mut refused = Vec::new();
        for (id, payload) in instances {
            let planned = check_instance_id(id)
                .and_then(|()| PolicyInstance::from_payload(id, payload))
                .and_then(|i| policies.upsert(i));
            match planned {
                Ok((next, _)) => policies = next,
                Err(e) => refused.push((id.clone(), e)),
            }
        }
        Ok((policies, refused))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(op: Operation, id: &str, payload: Value) -> PolicyRequest {
        PolicyRequest {
            operation: op,
            policy_type_id: 21010,
            instance_id: id.into(),
            payload,
        }
    }

    fn create(p: &A1Policies, id: &str, payload: Value) -> Result<(A1Policies, Change), A1Error> {
        p.plan(&req(Operation::Create, id, payload))
    }

    #[test]
    fn create_replace_delete_and_the_rules_between_instances() {
        let p = A1Policies::new(21010);
        let a = json!({"slices": [{"sst": 1, "min_prb_share_pct": 40, "max_prb_share_pct": 60}]});
        let (p1, c) = create(&p, "a", a.clone()).unwrap();
        assert_eq!(c, Change::Created);
        assert!(p.is_empty(), "plan leaves the current state alone");
        // The same payload again (the mediator answering a query) changes nothing.
        let (same, c) = create(&p1, "a", a).unwrap();
        assert_eq!((c, &same), (Change::Unchanged, &p1));
        // Another instance on the same slice is refused, naming the one that has it.
        let e = create(&p1, "b", json!({"slices": [{"sst": 1}]})).unwrap_err();
        assert_eq!(e.kind(), "overlap");
        assert!(e.to_string().contains("\"a\""), "{e}");
        // Minimums summed over the active instances.
        let e = create(
            &p1,
            "b",
            json!({"slices": [{"sst": 2, "min_prb_share_pct": 61}]}),
        )
        .unwrap_err();
        assert_eq!(e.kind(), "sum_of_mins");
        let (p2, c) = create(
            &p1,
            "b",
            json!({"slices": [{"sst": 2, "min_prb_share_pct": 60}]}),
        )
        .unwrap();
        assert_eq!((c, p2.len()), (Change::Created, 2));
        // UPDATE replaces; an instance may move its own slices.
        let (p3, c) = p2
            .plan(&req(
                Operation::Update,
                "a",
                json!({"slices": [{"sst": 3}]}),
            ))
            .unwrap();
        assert_eq!(c, Change::Replaced);
        assert!(p3.effective().generation() > p2.effective().generation());
        let (p4, c) = p3.plan(&req(Operation::Delete, "b", Value::Null)).unwrap();
        assert_eq!((c, c.status()), (Change::Deleted, Status::Deleted));
        assert_eq!(p4.len(), 1);
        let e = p4
            .plan(&req(Operation::Delete, "b", Value::Null))
            .unwrap_err();
        assert_eq!(e.kind(), "unknown_instance");
        assert_eq!(
            p4.plan(&req(Operation::Read, "a", Value::Null)).unwrap().1,
            Change::Read
        );
        let mut other = req(Operation::Create, "c", json!({"slices": [{"sst": 4}]}));
        other.policy_type_id = 20008;
        let e = p4.plan(&other).unwrap_err();
        assert_eq!(e.kind(), "wrong_policy_type");
        assert!(e.to_string().contains("20008") && e.to_string().contains("21010"));
    }

    #[test]
    fn the_instance_count_is_bounded() {
        let mut p = A1Policies::new(21010);
        for i in 0..MAX_INSTANCES {
            let (next, _) = create(&p, &format!("i{i}"), json!({"slices": [{"sst": i}]})).unwrap();
            p = next;
        }
        let e = create(&p, "one-more", json!({"slices": [{"sst": 200}]})).unwrap_err();
        assert_eq!(e.kind(), "too_many");
        // Replacing an active one is still fine.
        assert!(create(&p, "i0", json!({"slices": [{"sst": 201}]})).is_ok());
    }

    #[test]
    fn the_state_round_trips_and_refuses_what_no_longer_passes() {
        let (p, _) = create(
            &A1Policies::new(21010),
            "cap",
            json!({"slices": [{"sst": 1, "sd": "000001", "max_prb_share_pct": 8,
                                "delay_target_ms": 50}]}),
        )
        .unwrap();
        let state = p.to_state();
        let (back, refused) = A1Policies::from_state(21010, &state).unwrap();
        assert!(refused.is_empty());
        assert_eq!(
            back.instances().collect::<Vec<_>>(),
            p.instances().collect::<Vec<_>>()
        );
        let e = A1Policies::from_state(20008, &state).unwrap_err();
        assert!(
            e.to_string().contains("21010") && e.to_string().contains("20008"),
            "{e}"
        );
        assert!(matches!(
            A1Policies::from_state(21010, &json!({"instances": {}})),
            Err(StateError::Format(_))
        ));
        let mut edited = state.clone();
        edited["instances"]["bad"] =
            json!({"slices": [{"sst": 2, "min_prb_share_pct": 9, "max_prb_share_pct": 1}]});
        let (back, refused) = A1Policies::from_state(21010, &edited).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(refused.len(), 1);
        assert_eq!(
            (refused[0].0.as_str(), refused[0].1.kind()),
            ("bad", "min_above_max")
        );
    }
}
