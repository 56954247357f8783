//! Model and server metadata as domain types, and the check of a model's metadata against
//! the project's model contract (`nf_infer::Contract`).
//!
//! The check mirrors the one the local runtime makes on an ONNX session
//! (`nf_infer::runtime::load_model`): same tensor names, element types and shapes, with -1
//! (a dimension whose size varies, the batch) matching only -1. On top of it, the server
//! must know the model by the name asked for and list the version asked for. A server that
//! lists no versions at all (the specification allows it) is taken at its word through
//! `ModelReady`, which the caller asks for that exact version first.

use nf_infer::Contract;

use crate::error::ContractMismatch;
use crate::pb;

/// One tensor a model reads or writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorMetadata {
    pub name: String,
    /// Open Inference Protocol datatype, e.g. `FP32`.
    pub datatype: String,
    /// Dimensions, -1 where the size varies.
    pub shape: Vec<i64>,
}

/// What a server says about one model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelMetadata {
    pub name: String,
    pub versions: Vec<String>,
    pub platform: String,
    pub inputs: Vec<TensorMetadata>,
    pub outputs: Vec<TensorMetadata>,
}

/// What a server says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerMetadata {
    pub name: String,
    pub version: String,
    pub extensions: Vec<String>,
}

impl From<pb::model_metadata_response::TensorMetadata> for TensorMetadata {
    fn from(t: pb::model_metadata_response::TensorMetadata) -> Self {
        Self {
            name: t.name,
            datatype: t.datatype,
            shape: t.shape,
        }
    }
}

impl From<pb::ModelMetadataResponse> for ModelMetadata {
    fn from(m: pb::ModelMetadataResponse) -> Self {
        Self {
            name: m.name,
            versions: m.versions,
            platform: m.platform,
            inputs: m.inputs.into_iter().map(Into::into).collect(),
            outputs: m.outputs.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<pb::ServerMetadataResponse> for ServerMetadata {
    fn from(m: pb::ServerMetadataResponse) -> Self {
        Self {
            name: m.name,
            version: m.version,
            extensions: m.extensions,
        }
    }
}

/// The Open Inference Protocol datatype of a contract's element type (`float32` → `FP32`);
/// `None` for a type the protocol has no name for.
pub fn oip_datatype(contract_dtype: &str) -> Option<&'static str> {
    Some(match contract_dtype {
        "float32" => "FP32",
        "float64" => "FP64",
        "float16" => "FP16",
        "bfloat16" => "BF16",
        "int8" => "INT8",
        "int16" => "INT16",
        "int32" => "INT32",
        "int64" => "INT64",
        "uint8" => "UINT8",
        "uint16" => "UINT16",
        "uint32" => "UINT32",
        "uint64" => "UINT64",
        "bool" => "BOOL",
        "string" => "BYTES",
        _ => return None,
    })
}

/// The model the client asks the server for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelRef {
    pub name: String,
    pub version: String,
    pub endpoint: String,
}

/// Checks `meta` (the server's answer for `want`) against `contract`; the first difference
/// is returned, naming the field.
pub fn check_contract(
    contract: &Contract,
    want: &ModelRef,
    meta: &ModelMetadata,
) -> Result<(), ContractMismatch> {
    let differ = |field: String, expected: String, found: String| ContractMismatch {
        model: want.name.clone(),
        endpoint: want.endpoint.clone(),
        field,
        expected,
        found,
    };
    if meta.name != want.name {
        return Err(differ("name".into(), want.name.clone(), meta.name.clone()));
    }
    if !meta.versions.is_empty() && !meta.versions.contains(&want.version) {
        return Err(differ(
            "version".into(),
            want.version.clone(),
            format!("{:?}", meta.versions),
        ));
    }
    let input = &contract.input;
    check_tensors(
        "input",
        &[(&input.name, &input.dtype, &input.shape)],
        &meta.inputs,
        &differ,
    )?;
    let outputs: Vec<_> = contract
        .outputs
        .iter()
        .map(|o| (&o.name, &o.dtype, &o.shape))
        .collect();
    check_tensors("output", &outputs, &meta.outputs, &differ)
}

type Differ<'a> = dyn Fn(String, String, String) -> ContractMismatch + 'a;

fn check_tensors(
    role: &str,
    expected: &[(&String, &String, &Vec<i64>)],
    found: &[TensorMetadata],
    differ: &Differ<'_>,
) -> Result<(), ContractMismatch> {
    if expected.len() != found.len() {
        let names = |n: Vec<&str>| format!("{} ({})", n.len(), n.join(", "));
        return Err(differ(
            format!("number of {role}s"),
            names(expected.iter().map(|e| e.0.as_str()).collect()),
            names(found.iter().map(|f| f.name.as_str()).collect()),
        ));
    }
    for (i, (name, dtype, shape)) in expected.iter().enumerate() {
        let Some(t) = found.iter().find(|t| t.name == **name) else {
            return Err(differ(
                format!("{role} name"),
                (*name).clone(),
                found[i].name.clone(),
            ));
        };
        let want_type = oip_datatype(dtype).unwrap_or(dtype.as_str());
        if t.datatype != want_type {
            return Err(differ(
                format!("{role} `{name}` datatype"),
                format!("{want_type} ({dtype})"),
                t.datatype.clone(),
            ));
        }
        let dims_match = shape.len() == t.shape.len()
            && shape
                .iter()
                .zip(&t.shape)
                .all(|(e, f)| e == f || (*e < 0 && *f < 0));
        if !dims_match {
            return Err(differ(
                format!("{role} `{name}` shape"),
                format!("{shape:?}"),
                format!("{:?}", t.shape),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn forecaster() -> Contract {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../models/slice_forecaster/slice_forecaster.contract.toml");
        Contract::load(&path).expect("the shipped contract loads")
    }

    fn served() -> ModelMetadata {
        let t = |name: &str, shape: &[i64]| TensorMetadata {
            name: name.into(),
            datatype: "FP32".into(),
            shape: shape.to_vec(),
        };
        ModelMetadata {
            name: "slice-prb-forecaster".into(),
            versions: vec!["2.0.0".into()],
            platform: "onnxruntime".into(),
            inputs: vec![t("kpm_window", &[-1, 8, 6])],
            outputs: vec![t("prb_demand", &[-1, 2])],
        }
    }

    fn want() -> ModelRef {
        ModelRef {
            name: "slice-prb-forecaster".into(),
            version: "2.0.0".into(),
            endpoint: "http://127.0.0.1:1".into(),
        }
    }

    fn field_of(meta: ModelMetadata) -> String {
        check_contract(&forecaster(), &want(), &meta)
            .expect_err("a mismatch")
            .field
    }

    #[test]
    fn the_served_forecaster_matches_its_contract() {
        check_contract(&forecaster(), &want(), &served()).expect("matches");
        // A server that lists no versions is not refused here (ModelReady vouched for it).
        let mut m = served();
        m.versions.clear();
        check_contract(&forecaster(), &want(), &m).expect("matches");
    }

    #[test]
    fn each_difference_is_named() {
        let mut m = served();
        m.name = "other".into();
        assert_eq!(field_of(m), "name");
        let mut m = served();
        m.versions = vec!["1.0.0".into()];
        assert_eq!(field_of(m), "version");
        let mut m = served();
        m.inputs[0].name = "window".into();
        assert_eq!(field_of(m), "input name");
        let mut m = served();
        m.inputs[0].datatype = "FP64".into();
        assert_eq!(field_of(m), "input `kpm_window` datatype");
        let mut m = served();
        m.inputs[0].shape = vec![-1, 12, 6];
        assert_eq!(field_of(m), "input `kpm_window` shape");
        // A fixed batch is not the contract's variable one.
        let mut m = served();
        m.inputs[0].shape = vec![1, 8, 6];
        assert_eq!(field_of(m), "input `kpm_window` shape");
        let mut m = served();
        m.outputs.push(m.outputs[0].clone());
        assert_eq!(field_of(m), "number of outputs");
        let mut m = served();
        m.outputs[0].shape = vec![-1, 3];
        assert_eq!(field_of(m), "output `prb_demand` shape");
    }

    #[test]
    fn the_message_says_what_each_side_has() {
        let mut m = served();
        m.inputs[0].shape = vec![-1, 12, 6];
        let shown = check_contract(&forecaster(), &want(), &m)
            .expect_err("a mismatch")
            .to_string();
        assert!(
            shown.contains("[-1, 8, 6]") && shown.contains("[-1, 12, 6]"),
            "{shown}"
        );
        assert!(shown.contains("slice-prb-forecaster"), "{shown}");
    }
}
