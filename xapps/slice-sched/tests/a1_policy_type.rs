//! The shipped A1 policy type (`xapps/deploy/oran-sc/slice-sla-policy-type.json`) and the
//! xApp's own checks (`nf_core::a1`) agree: the A1 mediator validates instances against the
//! type's `create_schema` (Draft 7, as ric-plt-a1 does with a JSON Schema validator), the xApp
//! checks them again in code. Every instance the schema refuses the xApp refuses too, and
//! the rules a schema cannot say (min ≤ max, Σ min ≤ 100, a slice named once) are refused by
//! the xApp alone, as the type's description tells the operator.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use nf_core::a1::instance::PolicyInstance;
use serde_json::{Value, json};

fn policy_type() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/oran-sc/slice-sla-policy-type.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn schema_accepts(schema: &jsonschema::Validator, instance: &Value) -> bool {
    schema.is_valid(instance)
}

#[test]
fn the_policy_type_is_what_the_mediator_takes() {
    let t = policy_type();
    // The A1 mediator's PolicyTypeSchema: policy_type_id, name, description, create_schema.
    let mut keys: Vec<&str> = t.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["create_schema", "description", "name", "policy_type_id"]
    );
    assert_eq!(
        t["policy_type_id"].as_u64(),
        Some(u64::from(nf_core::a1::DEFAULT_POLICY_TYPE_ID))
    );
    let schema = &t["create_schema"];
    assert!(
        jsonschema::draft7::meta::is_valid(schema),
        "{:?}",
        jsonschema::draft7::meta::validate(schema).err()
    );
}

#[test]
fn the_schema_and_the_xapp_agree_on_every_instance() {
    let t = policy_type();
    let schema = jsonschema::draft7::new(&t["create_schema"]).unwrap();
    let accepted = [
        json!({"slices": [{"sst": 1}]}),
        json!({"slices": [{"sst": 1, "sd": "00000a", "min_prb_share_pct": 20,
                           "max_prb_share_pct": 80, "throughput_floor_mbps": 50.5,
                           "delay_target_ms": 300, "utility_weight": 2}]}),
        json!({"slices": [{"sst": 2, "min_prb_share_pct": 50.0}, {"sst": 3, "max_prb_share_pct": 0}]}),
    ];
    // The shipped example instance (docs/a1.md, `abtrial --a1-policy`).
    let example: Value = serde_json::from_str(
        &std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../deploy/oran-sc/slice-sla-policy-example.json"),
        )
        .unwrap(),
    )
    .unwrap();
    for i in accepted.iter().chain([&example]) {
        assert!(schema_accepts(&schema, i), "schema refuses {i}");
        PolicyInstance::from_payload("p", i).unwrap_or_else(|e| panic!("{i}: {e}"));
    }
    // Both refuse.
    let refused_by_both = [
        json!({}),
        json!({"slices": []}),
        json!({"slices": [{"sd": "000001"}]}),
        json!({"slices": [{"sst": 256}]}),
        json!({"slices": [{"sst": -1}]}),
        json!({"slices": [{"sst": 1.5}]}),
        json!({"slices": [{"sst": 1, "sd": "0001"}]}),
        json!({"slices": [{"sst": 1, "sd": 1}]}),
        json!({"slices": [{"sst": 1, "max_share": 40}]}),
        json!({"slices": [{"sst": 1}], "priority": 1}),
        json!({"slices": [{"sst": 1, "max_prb_share_pct": 101}]}),
        json!({"slices": [{"sst": 1, "min_prb_share_pct": 10.5}]}),
        json!({"slices": [{"sst": 1, "min_prb_share_pct": "10"}]}),
        json!({"slices": [{"sst": 1, "throughput_floor_mbps": -1}]}),
        json!({"slices": [{"sst": 1, "delay_target_ms": 0}]}),
        json!({"slices": [{"sst": 1, "delay_target_ms": 60001}]}),
        json!({"slices": [{"sst": 1, "utility_weight": -0.5}]}),
        json!({"slices": (0..65).map(|i| json!({"sst": i})).collect::<Vec<_>>()}),
    ];
    for i in &refused_by_both {
        assert!(!schema_accepts(&schema, i), "schema accepts {i}");
        assert!(
            PolicyInstance::from_payload("p", i).is_err(),
            "xApp accepts {i}"
        );
    }
    // What a schema cannot say: the xApp alone refuses (the type's description lists it).
    let description = t["description"].as_str().unwrap();
    for (i, kind, said) in [
        (
            json!({"slices": [{"sst": 1, "min_prb_share_pct": 60, "max_prb_share_pct": 40}]}),
            "min_above_max",
            "min_prb_share_pct above max_prb_share_pct",
        ),
        (
            json!({"slices": [{"sst": 1}, {"sst": 1}]}),
            "duplicate_slice",
            "names a slice twice",
        ),
        (
            json!({"slices": [{"sst": 1, "min_prb_share_pct": 60}, {"sst": 2, "min_prb_share_pct": 41}]}),
            "sum_of_mins",
            "minimum shares sum past 100",
        ),
    ] {
        assert!(schema_accepts(&schema, &i), "schema refuses {i}");
        let e = PolicyInstance::from_payload("p", &i).unwrap_err();
        assert_eq!(e.kind(), kind, "{i}");
        assert!(description.contains(said), "description lacks {said:?}");
    }
}
