//! `proto/oip/v2/grpc_predict_v2.proto` was written from the specification; this checks it
//! against a real server's own definition of the same API (MLServer's `dataplane.proto`, as
//! compiled into the pinned package): every message and field we declare that MLServer
//! declares too has the same number, type and cardinality, and our six RPCs take and return
//! the same messages. The differences that remain are listed, each for a reason.

use std::collections::BTreeMap;
use std::process::Command;

use nf_oip::testserver::{python, repo_root};
use prost::Message;
use prost_types::{DescriptorProto, FileDescriptorSet};

/// Fields one side has and the other lacks, on purpose.
const KNOWN_DIFFERENCES: &[(&str, &str, &str)] = &[
    (
        "inference.InferParameter",
        "double_param",
        "in the specification, not (yet) in MLServer 1.7.1",
    ),
    (
        "inference.InferParameter",
        "uint64_param",
        "in the specification, not (yet) in MLServer 1.7.1",
    ),
    (
        "inference.ModelMetadataResponse",
        "parameters",
        "MLServer's field 6; reserved here (the specification's field 6 is `properties`, of another type)",
    ),
    (
        "inference.ModelMetadataResponse.TensorMetadata",
        "parameters",
        "an MLServer addition, not in the specification",
    ),
];

type Fields = BTreeMap<String, (i32, i32, i32)>;

fn ours() -> (BTreeMap<String, Fields>, BTreeMap<String, (String, String)>) {
    let fds = FileDescriptorSet::decode(nf_oip::FILE_DESCRIPTOR_SET).expect("descriptor set");
    let mut messages = BTreeMap::new();
    let mut methods = BTreeMap::new();
    for file in &fds.file {
        let package = file.package();
        for m in &file.message_type {
            walk(package, m, &mut messages);
        }
        for s in &file.service {
            for m in &s.method {
                let strip = |t: &str| t.trim_start_matches('.').to_owned();
                methods.insert(
                    m.name().to_owned(),
                    (strip(m.input_type()), strip(m.output_type())),
                );
            }
        }
    }
    (messages, methods)
}

fn walk(prefix: &str, m: &DescriptorProto, out: &mut BTreeMap<String, Fields>) {
    let name = format!("{prefix}.{}", m.name());
    let fields = m
        .field
        .iter()
        .map(|f| {
            (
                f.name().to_owned(),
                (f.number(), f.r#type() as i32, f.label() as i32),
            )
        })
        .collect();
    for nested in &m.nested_type {
        walk(&name, nested, out);
    }
    out.insert(name, fields);
}

#[test]
fn our_proto_matches_mlserver_s_own_definition() {
    let Some(python) = python("nf-oip proto conformance").unwrap_or_else(|e| panic!("{e}")) else {
        return;
    };
    let script = repo_root().join("nf/oip/tests/server/dump_dataplane.py");
    let out = Command::new(&python)
        .arg(&script)
        .output()
        .expect("run the dump");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let (messages, methods) = ours();
    let known = |m: &str, f: &str| {
        KNOWN_DIFFERENCES
            .iter()
            .any(|(km, kf, _)| *km == m && *kf == f)
    };

    let mut compared = 0;
    for (message, fields) in &messages {
        let Some(their_fields) = theirs["messages"][message].as_object() else {
            panic!("MLServer has no message {message}");
        };
        for (field, (number, ty, label)) in fields {
            match their_fields.get(field) {
                Some(v) => {
                    let t: Vec<i64> = serde_json::from_value(v.clone()).expect("triple");
                    assert_eq!(
                        t,
                        [i64::from(*number), i64::from(*ty), i64::from(*label)],
                        "{message}.{field}: ours (number, type, label) = ({number}, {ty}, {label}), MLServer's {t:?}"
                    );
                    compared += 1;
                }
                None => assert!(known(message, field), "{message}.{field} is ours only"),
            }
        }
        for field in their_fields.keys() {
            assert!(
                fields.contains_key(field) || known(message, field),
                "{message}.{field} is MLServer's only"
            );
        }
    }
    for (name, (input, output)) in &methods {
        let t = &theirs["methods"][name];
        assert_eq!(
            (t[0].as_str(), t[1].as_str()),
            (Some(input.as_str()), Some(output.as_str())),
            "rpc {name}"
        );
    }
    assert_eq!(methods.len(), 6);
    println!(
        "{compared} fields of {} messages and {} RPCs agree with MLServer 1.7.1",
        messages.len(),
        methods.len()
    );
}
