//! One policy instance of the slice SLA target type, checked in code (the mediator checks
//! the shipped JSON Schema too, but an xApp must not trust that it did, nor that it runs the
//! same schema version).
//!
//! ```json
//! {"slices": [{"sst": 1, "sd": "000001",
//!              "min_prb_share_pct": 20, "max_prb_share_pct": 80,
//!              "throughput_floor_mbps": 50, "delay_target_ms": 300,
//!              "utility_weight": 2}]}
//! ```
//!
//! Every key is optional but `slices` and each entry's `sst`; unknown keys are refused.
//! Shares are whole percent 0..=100 with min ≤ max (defaults 0 and 100) and Σ min ≤ 100;
//! floors and targets are finite and non-negative (delay target > 0); the utility weight
//! is finite, ≥ 0 (default 1).

use serde_json::{Map, Value, json};

use super::{
    A1Error, MAX_DELAY_TARGET_MS, MAX_INSTANCE_ID_BYTES, MAX_SLICES, MAX_THROUGHPUT_FLOOR_MBPS,
    MAX_UTILITY_WEIGHT,
};
use crate::ids::Snssai;

/// What one slice is promised.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SliceTarget {
    pub snssai: Snssai,
    /// Floor of the slice's minimum (prioritised) PRB ratio [%].
    pub min_share_pct: u8,
    /// Cap of the slice's maximum PRB ratio (and so of every ratio) [%].
    pub max_share_pct: u8,
    /// Throughput the slice's minimum share must be able to carry [Mbit/s].
    pub throughput_floor_mbps: Option<f64>,
    /// Time in which the slice's DL buffer should drain [ms].
    pub delay_target_ms: Option<f64>,
    /// Relative importance: the last to give back share when minimums compete, and the
    /// slice's weight in the slice utility.
    pub utility_weight: f64,
}

/// A checked policy instance.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyInstance {
    /// `policy_instance_id`.
    pub id: String,
    /// Its slices, in the order given.
    pub slices: Vec<SliceTarget>,
}

/// Keys of a slice entry.
const SLICE_KEYS: [&str; 7] = [
    "sst",
    "sd",
    "min_prb_share_pct",
    "max_prb_share_pct",
    "throughput_floor_mbps",
    "delay_target_ms",
    "utility_weight",
];

/// Checks a policy instance ID: 1..=128 printable ASCII characters (it is logged and
/// written to the state file as it is).
pub fn check_instance_id(id: &str) -> Result<(), A1Error> {
    let printable = id.chars().all(|c| matches!(c, ' '..='~'));
    if id.is_empty() || id.len() > MAX_INSTANCE_ID_BYTES || !printable {
        let shown = crate::ids::Escaped(id).to_string();
        return Err(A1Error::bad(
            "policy_instance_id",
            format!("{shown:?}"),
            "must be 1..=128 printable ASCII characters",
        ));
    }
    Ok(())
}

/// A number at `key`, if present.
fn number(map: &Map<String, Value>, key: &str, at: &str) -> Result<Option<f64>, A1Error> {
    match map.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| A1Error::bad(format!("{at}.{key}"), v, "must be a number")),
    }
}

/// A whole number in `0..=max` at `key`, if present.
fn whole(map: &Map<String, Value>, key: &str, at: &str, max: u8) -> Result<Option<u8>, A1Error> {
    let Some(x) = number(map, key, at)? else {
        return Ok(None);
    };
    if x.fract() != 0.0 || !(0.0..=f64::from(max)).contains(&x) {
        let rule = if max == 100 {
            "must be a whole percent 0..=100"
        } else {
            "must be a whole number 0..=255"
        };
        return Err(A1Error::bad(format!("{at}.{key}"), x, rule));
    }
    Ok(Some(x as u8))
}

fn bounded(
    map: &Map<String, Value>,
    key: &str,
    at: &str,
    ok: impl Fn(f64) -> bool,
    rule: &'static str,
) -> Result<Option<f64>, A1Error> {
    match number(map, key, at)? {
        Some(x) if !ok(x) => Err(A1Error::bad(format!("{at}.{key}"), x, rule)),
        other => Ok(other),
    }
}

fn slice_id(map: &Map<String, Value>, at: &str) -> Result<Snssai, A1Error> {
    let sst = whole(map, "sst", at, u8::MAX)?
        .ok_or_else(|| A1Error::bad(format!("{at}.sst"), "absent", "is required"))?;
    let sd = match map.get("sd") {
        None => None,
        Some(Value::String(s)) if s.len() == 6 && s.bytes().all(|b| b.is_ascii_hexdigit()) => {
            u32::from_str_radix(s, 16).ok()
        }
        Some(v) => {
            return Err(A1Error::bad(
                format!("{at}.sd"),
                v,
                "must be a string of 6 hex digits (TS 23.003 slice differentiator)",
            ));
        }
    };
    Ok(Snssai::new(sst, sd))
}

fn slice_target(v: &Value, at: &str) -> Result<SliceTarget, A1Error> {
    let Value::Object(map) = v else {
        return Err(A1Error::bad(at, v, "must be an object"));
    };
    if let Some(k) = map.keys().find(|k| !SLICE_KEYS.contains(&k.as_str())) {
        return Err(A1Error::UnknownKey(format!("{at}.{k}")));
    }
    let snssai = slice_id(map, at)?;
    let min = whole(map, "min_prb_share_pct", at, 100)?.unwrap_or(0);
    let max = whole(map, "max_prb_share_pct", at, 100)?.unwrap_or(100);
    if min > max {
        return Err(A1Error::MinAboveMax {
            slice: snssai.to_string(),
            min,
            max,
        });
    }
    let floor = bounded(
        map,
        "throughput_floor_mbps",
        at,
        |x| (0.0..=MAX_THROUGHPUT_FLOOR_MBPS).contains(&x),
        "must be a finite number 0..=100000 [Mbit/s]",
    )?;
    let delay = bounded(
        map,
        "delay_target_ms",
        at,
        |x| x > 0.0 && x <= MAX_DELAY_TARGET_MS,
        "must be a finite number above 0, at most 60000 [ms]",
    )?;
    let weight = bounded(
        map,
        "utility_weight",
        at,
        |x| (0.0..=MAX_UTILITY_WEIGHT).contains(&x),
        "must be a finite number 0..=1000",
    )?;
    Ok(SliceTarget {
        snssai,
        min_share_pct: min,
        max_share_pct: max,
        throughput_floor_mbps: floor,
        delay_target_ms: delay,
        utility_weight: weight.unwrap_or(1.0),
    })
}

impl PolicyInstance {
    /// Checks the payload of instance `id` (a JSON object).
    pub fn from_payload(id: &str, payload: &Value) -> Result<Self, A1Error> {
        check_instance_id(id)?;
        let Value::Object(map) = payload else {
            return Err(A1Error::bad("payload", payload, "must be a JSON object"));
        };
        if let Some(k) = map.keys().find(|k| k.as_str() != "slices") {
            return Err(A1Error::UnknownKey(k.clone()));
        }
        let list = match map.get("slices") {
            Some(Value::Array(list)) => list,
            Some(v) => return Err(A1Error::bad("slices", v, "must be an array")),
            None => return Err(A1Error::bad("slices", "absent", "is required")),
        };
        if list.is_empty() || list.len() > MAX_SLICES {
            return Err(A1Error::TooMany {
                what: "slices (at least 1)",
                count: list.len(),
                max: MAX_SLICES,
            });
        }
        let mut slices: Vec<SliceTarget> = Vec::with_capacity(list.len());
        for (i, v) in list.iter().enumerate() {
            let t = slice_target(v, &format!("slices[{i}]"))?;
            if slices.iter().any(|s| s.snssai == t.snssai) {
                return Err(A1Error::DuplicateSlice(t.snssai.to_string()));
            }
            slices.push(t);
        }
        let sum: u32 = slices.iter().map(|s| u32::from(s.min_share_pct)).sum();
        if sum > 100 {
            return Err(A1Error::SumOfMins {
                sum,
                over: "over the instance's slices".into(),
            });
        }
        Ok(Self {
            id: id.to_owned(),
            slices,
        })
    }

    /// The payload in its canonical form (every key written), as the state file keeps it.
    pub fn to_payload(&self) -> Value {
        let slices: Vec<Value> = self
            .slices
            .iter()
            .map(|s| {
                let mut m = Map::new();
                m.insert("sst".into(), json!(s.snssai.sst));
                if let Some(sd) = s.snssai.sd {
                    m.insert("sd".into(), json!(format!("{sd:06x}")));
                }
                m.insert("min_prb_share_pct".into(), json!(s.min_share_pct));
                m.insert("max_prb_share_pct".into(), json!(s.max_share_pct));
                if let Some(f) = s.throughput_floor_mbps {
                    m.insert("throughput_floor_mbps".into(), json!(f));
                }
                if let Some(d) = s.delay_target_ms {
                    m.insert("delay_target_ms".into(), json!(d));
                }
                m.insert("utility_weight".into(), json!(s.utility_weight));
                Value::Object(m)
            })
            .collect();
        json!({ "slices": slices })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(payload: Value) -> Result<PolicyInstance, A1Error> {
        PolicyInstance::from_payload("p-1", &payload)
    }

    #[test]
    fn a_full_instance_reads_and_round_trips() {
        let p = check(json!({"slices": [
            {"sst": 1, "sd": "00000A", "min_prb_share_pct": 20, "max_prb_share_pct": 80,
             "throughput_floor_mbps": 50.5, "delay_target_ms": 300, "utility_weight": 2},
            {"sst": 2, "max_prb_share_pct": 30}
        ]}))
        .unwrap();
        assert_eq!(p.slices[0].snssai, Snssai::new(1, Some(10)));
        assert_eq!(p.slices[0].throughput_floor_mbps, Some(50.5));
        assert_eq!(
            (p.slices[1].min_share_pct, p.slices[1].max_share_pct),
            (0, 30)
        );
        assert_eq!(p.slices[1].utility_weight, 1.0);
        assert_eq!(p.slices[1].delay_target_ms, None);
        let again = PolicyInstance::from_payload("p-1", &p.to_payload()).unwrap();
        assert_eq!(again, p);
    }

    #[test]
    fn each_bad_value_is_refused_naming_its_key() {
        let cases: [(Value, &str, &str); 16] = [
            (
                json!({"slices": [{"sst": 1, "min_prb_share_pct": 60, "max_prb_share_pct": 40}]}),
                "min_above_max",
                "min_prb_share_pct 60 is above max_prb_share_pct 40",
            ),
            (
                json!({"slices": [{"sst": 1, "max_share": 40}]}),
                "unknown_key",
                "slices[0].max_share",
            ),
            (
                json!({"slices": [{"sst": 1}], "priority": 1}),
                "unknown_key",
                "priority",
            ),
            (
                json!({"slices": [{"sst": 256}]}),
                "bad_value",
                "slices[0].sst",
            ),
            (
                json!({"slices": [{"sst": 1.5}]}),
                "bad_value",
                "slices[0].sst",
            ),
            (
                json!({"slices": [{"sd": "000001"}]}),
                "bad_value",
                "slices[0].sst",
            ),
            (
                json!({"slices": [{"sst": 1, "sd": 1}]}),
                "bad_value",
                "slices[0].sd",
            ),
            (
                json!({"slices": [{"sst": 1, "sd": "0x0001"}]}),
                "bad_value",
                "slices[0].sd",
            ),
            (
                json!({"slices": [{"sst": 1, "max_prb_share_pct": 101}]}),
                "bad_value",
                "whole percent",
            ),
            (
                json!({"slices": [{"sst": 1, "min_prb_share_pct": "10"}]}),
                "bad_value",
                "must be a number",
            ),
            (
                json!({"slices": [{"sst": 1, "throughput_floor_mbps": -1}]}),
                "bad_value",
                "throughput_floor_mbps",
            ),
            (
                json!({"slices": [{"sst": 1, "delay_target_ms": 0}]}),
                "bad_value",
                "delay_target_ms",
            ),
            (
                json!({"slices": [{"sst": 1, "utility_weight": 1e9}]}),
                "bad_value",
                "utility_weight",
            ),
            (
                json!({"slices": [{"sst": 1}, {"sst": 1}]}),
                "duplicate_slice",
                "slice 1 appears twice",
            ),
            (
                json!({"slices": [{"sst": 1, "min_prb_share_pct": 60}, {"sst": 2, "min_prb_share_pct": 50}]}),
                "sum_of_mins",
                "sums to 110",
            ),
            (json!({"slices": []}), "too_many", "slices"),
        ];
        for (payload, kind, names) in cases {
            let e = check(payload.clone()).unwrap_err();
            assert_eq!(e.kind(), kind, "{payload}: {e}");
            assert!(e.to_string().contains(names), "{payload}: {e}");
        }
        assert_eq!(check(json!([1])).unwrap_err().kind(), "bad_value");
        assert_eq!(check(json!({})).unwrap_err().kind(), "bad_value");
        let many: Vec<Value> = (0..65).map(|i| json!({"sst": i})).collect();
        assert_eq!(
            check(json!({ "slices": many })).unwrap_err().kind(),
            "too_many"
        );
    }

    #[test]
    fn instance_ids_are_printable_and_bounded() {
        let ok = json!({"slices": [{"sst": 1}]});
        assert!(PolicyInstance::from_payload("3d2157af-6a8f-4a7c", &ok).is_ok());
        for bad in ["", "a\nb", &"x".repeat(129)] {
            let e = PolicyInstance::from_payload(bad, &ok).unwrap_err();
            assert!(e.to_string().contains("policy_instance_id"), "{e}");
        }
    }
}
