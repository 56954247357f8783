//! The O-RAN SC xApp descriptor (`xapps/deploy/oran-sc/config-file.json`) checked as the O-RAN SC
//! onboarder checks it: against the onboarder's own schema (vendored under
//! `tests/data/oran-sc-appmgr/`, see its README) with our controls schema
//! (`xapps/deploy/oran-sc/schema.json`) put in place of its `controls` placeholder, by a Draft-7
//! validator. The controls must also be a configuration the xApp itself accepts, and the
//! RMR message names must be ones RMR defines.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

fn here() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn descriptor() -> Value {
    read_json(&here().join("../deploy/oran-sc/config-file.json"))
}

fn controls_schema() -> Value {
    read_json(&here().join("../deploy/oran-sc/schema.json"))
}

/// The onboarder's schema with our controls schema in place, as `api/onboard.py` builds it.
fn onboarder_schema() -> Value {
    let mut schema =
        read_json(&here().join("tests/data/oran-sc-appmgr/xapp-onboarder-schema.json"));
    schema["properties"]["controls"] = controls_schema();
    schema
}

/// Every error of `instance` against `schema` (Draft 7), as "path: message".
fn errors(schema: &Value, instance: &Value) -> Vec<String> {
    let validator = jsonschema::draft7::new(schema).unwrap();
    validator
        .iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path))
        .collect()
}

#[test]
fn schemas_are_valid_draft7() {
    for (name, schema) in [
        ("onboarder + controls", onboarder_schema()),
        ("controls", controls_schema()),
    ] {
        assert!(
            jsonschema::draft7::meta::is_valid(&schema),
            "{name}: {:?}",
            jsonschema::draft7::meta::validate(&schema).err()
        );
    }
}

#[test]
fn descriptor_passes_the_onboarder_schema() {
    let errs = errors(&onboarder_schema(), &descriptor());
    assert!(errs.is_empty(), "{errs:#?}");
    // And the controls alone against our schema.
    let errs = errors(&controls_schema(), &descriptor()["controls"]);
    assert!(errs.is_empty(), "{errs:#?}");
}

#[test]
fn the_onboarder_schema_refuses_broken_descriptors() {
    let schema = onboarder_schema();
    type Breakage = fn(&mut Value);
    let cases: [(&str, Breakage, &str); 8] = [
        (
            "version not semver",
            |d| d["version"] = json!("1.0"),
            "/version",
        ),
        (
            "image registry with an underscore",
            |d| d["containers"][0]["image"]["registry"] = json!("my_registry"),
            "/containers/0/image/registry",
        ),
        (
            "image without a tag",
            |d| {
                d["containers"][0]["image"]
                    .as_object_mut()
                    .unwrap()
                    .remove("tag");
            },
            "/containers/0/image",
        ),
        (
            "rxMessages without policies",
            |d| {
                d["messaging"]["ports"][2]
                    .as_object_mut()
                    .unwrap()
                    .remove("policies");
            },
            "/messaging/ports/2",
        ),
        (
            "probe with both exec and httpGet",
            |d| d["livenessProbe"]["exec"] = json!({"command": ["/bin/true"]}),
            "/livenessProbe",
        ),
        (
            "unknown controls key",
            |d| d["controls"]["e2t"]["report_period"] = json!(250),
            "/controls/e2t",
        ),
        (
            "controls value out of range",
            |d| d["controls"]["policy"]["max_ratio_floor"] = json!(101),
            "/controls/policy/max_ratio_floor",
        ),
        (
            "controls section missing",
            |d| {
                d["controls"].as_object_mut().unwrap().remove("guard");
            },
            "/controls",
        ),
    ];
    for (what, breakage, path) in cases {
        let mut d = descriptor();
        breakage(&mut d);
        let errs = errors(&schema, &d);
        assert!(
            errs.iter().any(|e| e.starts_with(&format!("{path}: "))),
            "{what}: expected an error at {path}, got {errs:#?}"
        );
    }
    // Without a controls schema the onboarder's placeholder refuses every descriptor, as
    // its own test expects ("'__empty_control_section__' is a required property").
    let bare = read_json(&here().join("tests/data/oran-sc-appmgr/xapp-onboarder-schema.json"));
    let errs = errors(&bare, &descriptor());
    assert!(
        errs.iter().any(|e| e.contains("__empty_control_section__")),
        "{errs:#?}"
    );
}

#[test]
fn controls_are_a_configuration_the_xapp_accepts() {
    let mut controls = descriptor()["controls"].clone();
    // The container path of the model contract, pointed at the repository's copy.
    let contract = here().join("../../models/slice_forecaster/slice_forecaster.contract.toml");
    controls["model"]["contract"] = json!(contract.to_str().unwrap());
    // The container's A1 state folder, pointed at a folder of this machine.
    let state = std::env::temp_dir().join("descriptor-a1-policies.json");
    controls["a1"]["state_file"] = json!(state.to_str().unwrap());
    let file: slice_xapp::config::FileConfig = serde_json::from_value(controls).unwrap();
    if let Err(e) = file.validate(&here()) {
        panic!("the xApp refuses its descriptor's controls: {e}");
    }
}

#[test]
fn ports_probes_and_http_listener_agree() {
    let d = descriptor();
    let ports = d["messaging"]["ports"].as_array().unwrap();
    let port_of = |name: &str| {
        ports
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no {name} port"))["port"]
            .as_u64()
            .unwrap()
    };
    let http = port_of("http");
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(d[probe]["httpGet"]["port"].as_u64(), Some(http), "{probe}");
    }
    assert_eq!(d["livenessProbe"]["httpGet"]["path"], "ric/v1/health/alive");
    assert_eq!(
        d["readinessProbe"]["httpGet"]["path"],
        "ric/v1/health/ready"
    );
    let listen = d["controls"]["metrics"]["listen"].as_str().unwrap();
    assert!(listen.ends_with(&format!(":{http}")), "{listen}");
    let data = port_of("rmrdata");
    assert_eq!(d["rmr"]["protPort"], format!("tcp:{data}"));
    let rmrdata = ports.iter().find(|p| p["name"] == "rmrdata").unwrap();
    for key in ["rxMessages", "txMessages", "policies"] {
        assert_eq!(d["rmr"][key], rmrdata[key], "{key}");
    }
    // The A1 handler receives on the RMR data port, for the policy type it handles.
    let a1 = d["controls"]["a1"]["rmr_listen"].as_str().unwrap();
    assert!(a1.ends_with(&format!(":{data}")), "{a1}");
    let a1_type = d["controls"]["a1"]
        .get("policy_type_id")
        .map_or(u64::from(nf_core::a1::DEFAULT_POLICY_TYPE_ID), |v| {
            v.as_u64().unwrap()
        });
    assert_eq!(d["rmr"]["policies"], json!([a1_type]));
}

#[test]
fn rmr_message_names_are_defined_by_rmr() {
    let header =
        here().join("../../../shared/interop/rmr-4.9.4/src/rmr/common/include/RIC_message_types.h");
    let Ok(text) = std::fs::read_to_string(&header) else {
        println!(
            "skipped: {} absent (the interop kit is not beside the worktree)",
            header.display()
        );
        return;
    };
    let defined = |name: &str| -> Option<u32> {
        text.lines().find_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some("#define") && w.next() == Some(name))
                .then(|| w.next()?.parse().ok())
                .flatten()
        })
    };
    let d = descriptor();
    let mut seen = Vec::new();
    for key in ["rxMessages", "txMessages"] {
        for m in d["rmr"][key].as_array().unwrap() {
            let name = m.as_str().unwrap();
            let mtype =
                defined(name).unwrap_or_else(|| panic!("{name} is not an RMR message type"));
            seen.push((name.to_owned(), mtype));
        }
    }
    // The E2 message types the xApp's RMR transport uses (interop README, "RIC_message_types.h").
    // And the A1 policy types of the A1 handler (nf_rmr::mtype has the same numbers).
    for (name, mtype) in [
        ("RIC_INDICATION", 12050),
        ("RIC_CONTROL_REQ", 12040),
        ("RIC_CONTROL_ACK", 12041),
        ("RIC_CONTROL_FAILURE", 12042),
        ("A1_POLICY_REQ", nf_rmr::mtype::A1_POLICY_REQ as u32),
        ("A1_POLICY_RESP", nf_rmr::mtype::A1_POLICY_RESP as u32),
        ("A1_POLICY_QUERY", nf_rmr::mtype::A1_POLICY_QUERY as u32),
    ] {
        assert!(
            seen.contains(&(name.to_owned(), mtype)),
            "{name} ({mtype}) missing: {seen:?}"
        );
    }
}
