//! A1 policies for slice SLA targets (O-RAN A1-P, as the O-RAN SC A1 mediator delivers it
//! to xApps over RMR), I/O-free.
//!
//! The A1 mediator sends `A1_POLICY_REQ` (RMR 20010) with a JSON envelope `{operation,
//! policy_type_id, policy_instance_id, payload}`; the xApp answers `A1_POLICY_RESP` (20011)
//! `{policy_type_id, policy_instance_id, handler_id, status}` and may ask for every instance
//! of its type again with `A1_POLICY_QUERY` (20012). The runtime moves the bytes
//! (`nf_runtime::a1`); everything that decides lives here and is tested without a socket.
//!
//! # Layout
//! - [`instance`]: one policy instance of type [`DEFAULT_POLICY_TYPE_ID`] (per S-NSSAI:
//!   min/max PRB share, throughput floor, delay target, utility weight), parsed and checked
//!   with every refusal naming its key.
//! - [`request`]: the mediator's envelope (both the contract's object payload and the Go
//!   mediator's payload-as-a-string) and the response body.
//! - [`policies`]: the active instances of the xApp's type: create / update / delete /
//!   read, the rules between instances (no two bound the same slice, Σ min ≤ 100), and the
//!   state file's form.
//! - [`effective`]: the merge of the active instances, and how it bounds a quota set
//!   before it goes out (share clamps, SLA floors, utility-weighted give-back).
//!
//! # Rules (`docs/a1.md` has the operator's view)
//! - A slice no cell serves yet is accepted: cells announce their slices in their reports,
//!   so the xApp cannot know every slice ahead; the target applies as soon as a cell
//!   reports that slice.
//! - Two active instances never bound the same slice: an instance naming a slice another
//!   one bounds is refused (`overlap`), so the effective policy is a plain union.
//! - CREATE and UPDATE both create or replace (the mediator re-sends CREATE for every
//!   instance it holds after a query, and its UPDATE detection is not reliable); DELETE of
//!   an instance the xApp does not hold is refused (`unknown_instance`).

pub mod effective;
pub mod instance;
pub mod policies;
pub mod request;

pub use effective::{Bounded, EffectivePolicy, SliceLoad};
pub use instance::{PolicyInstance, SliceTarget};
pub use policies::{A1Policies, Change};
pub use request::{Operation, PolicyRequest, Refused, Status};

/// Policy type of slice SLA targets. A1 policy type IDs are their own namespace (the
/// mediator's REST path `/A1-P/v2/policytypes/{id}`, an integer 1..=2147483647), unrelated
/// to RMR message types; 21010 keeps clear of the O-RAN SC examples' types (1, 20000,
/// 20008) and reads as "21: slicing, 010: SLA targets, version 0".
pub const DEFAULT_POLICY_TYPE_ID: u32 = 21010;
/// Largest policy type ID of the mediator's contract.
pub const MAX_POLICY_TYPE_ID: u32 = 2_147_483_647;
/// Most slices one instance may name.
pub const MAX_SLICES: usize = 64;
/// Most active instances.
pub const MAX_INSTANCES: usize = 64;
/// Longest policy instance ID [bytes].
pub const MAX_INSTANCE_ID_BYTES: usize = 128;
/// Largest throughput floor [Mbit/s] (100 Gbit/s, `nf_core::kpm::MAX_THP_KBPS`).
pub const MAX_THROUGHPUT_FLOOR_MBPS: f64 = 100_000.0;
/// Largest delay target [ms].
pub const MAX_DELAY_TARGET_MS: f64 = 60_000.0;
/// Largest utility weight.
pub const MAX_UTILITY_WEIGHT: f64 = 1_000.0;

/// Why a policy request is refused; the text is returned to the A1 side.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum A1Error {
    /// The envelope or the payload is not JSON (or not an object).
    #[error("not JSON: {0}")]
    BadJson(String),
    /// The envelope misses a field, has an unknown one, or one of the wrong type.
    #[error("policy request: {0}")]
    BadMessage(String),
    /// `operation` is not CREATE, UPDATE, DELETE or READ.
    #[error("operation {0:?} is not CREATE, UPDATE, DELETE or READ")]
    UnknownOperation(String),
    /// The request is for a policy type this xApp does not handle.
    #[error("policy type {got} is not handled here (this xApp handles {expected})")]
    WrongPolicyType { got: u64, expected: u32 },
    /// A key the policy type does not define.
    #[error("unknown key `{0}`")]
    UnknownKey(String),
    /// A value missing, of the wrong type or out of range.
    #[error("`{key}` = {value}: {rule}")]
    BadValue {
        key: String,
        value: String,
        rule: &'static str,
    },
    /// A slice's minimum share above its maximum.
    #[error("slice {slice}: min_prb_share_pct {min} is above max_prb_share_pct {max}")]
    MinAboveMax { slice: String, min: u8, max: u8 },
    /// The minimum shares sum past 100 (within the instance, or with the active ones).
    #[error("min_prb_share_pct sums to {sum} {over}, above 100")]
    SumOfMins { sum: u32, over: String },
    /// A slice named twice in one instance.
    #[error("slice {0} appears twice")]
    DuplicateSlice(String),
    /// A slice another active instance already bounds.
    #[error(
        "slice {slice} is already bounded by active instance {other:?}; delete or update that one first"
    )]
    Overlap { slice: String, other: String },
    /// More slices or instances than allowed.
    #[error("{what}: {count}, at most {max}")]
    TooMany {
        what: &'static str,
        count: usize,
        max: usize,
    },
    /// DELETE or READ of an instance the xApp does not hold.
    #[error("no active instance {0:?} of this policy type")]
    UnknownInstance(String),
    /// The state file could not be written: the policy is not applied.
    #[error("not applied: the state file could not be written ({0})")]
    NotStored(String),
}

impl A1Error {
    /// Every [`Self::kind`], to pre-create counters at zero.
    pub const KINDS: [&'static str; 13] = [
        "bad_json",
        "bad_message",
        "unknown_operation",
        "wrong_policy_type",
        "unknown_key",
        "bad_value",
        "min_above_max",
        "sum_of_mins",
        "duplicate_slice",
        "overlap",
        "too_many",
        "unknown_instance",
        "not_stored",
    ];

    /// Bounded metric label.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::BadJson(_) => "bad_json",
            Self::BadMessage(_) => "bad_message",
            Self::UnknownOperation(_) => "unknown_operation",
            Self::WrongPolicyType { .. } => "wrong_policy_type",
            Self::UnknownKey(_) => "unknown_key",
            Self::BadValue { .. } => "bad_value",
            Self::MinAboveMax { .. } => "min_above_max",
            Self::SumOfMins { .. } => "sum_of_mins",
            Self::DuplicateSlice(_) => "duplicate_slice",
            Self::Overlap { .. } => "overlap",
            Self::TooMany { .. } => "too_many",
            Self::UnknownInstance(_) => "unknown_instance",
            Self::NotStored(_) => "not_stored",
        }
    }

    pub(crate) fn bad(key: impl Into<String>, value: impl ToString, rule: &'static str) -> Self {
        Self::BadValue {
            key: key.into(),
            value: value.to_string(),
            rule,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_listed_once() {
        let samples = [
            A1Error::BadJson(String::new()),
            A1Error::BadMessage(String::new()),
            A1Error::UnknownOperation(String::new()),
            A1Error::WrongPolicyType {
                got: 1,
                expected: 2,
            },
            A1Error::UnknownKey(String::new()),
            A1Error::bad("k", 1, "r"),
            A1Error::MinAboveMax {
                slice: String::new(),
                min: 2,
                max: 1,
            },
            A1Error::SumOfMins {
                sum: 101,
                over: String::new(),
            },
            A1Error::DuplicateSlice(String::new()),
            A1Error::Overlap {
                slice: String::new(),
                other: String::new(),
            },
            A1Error::TooMany {
                what: "slices",
                count: 65,
                max: 64,
            },
            A1Error::UnknownInstance(String::new()),
            A1Error::NotStored(String::new()),
        ];
        let kinds: Vec<_> = samples.iter().map(A1Error::kind).collect();
        assert_eq!(kinds, A1Error::KINDS);
    }
}
