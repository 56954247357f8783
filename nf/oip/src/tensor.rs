//! FP32 rows to a `ModelInferRequest`, and a `ModelInferResponse` back to FP32 rows.
//!
//! The response is trusted for nothing: the output asked for must be there, FP32, shaped
//! exactly `[rows, dims of the contract past the batch]`, its values present once (raw or
//! typed) in the number the shape says, every one finite; the id must be the request's,
//! and a version, when the server names one, the one asked for. Anything else is refused
//! with the reason, naming the row and column of a bad value.

use crate::config::Encoding;
use crate::pb;
use crate::pb::model_infer_request::{InferInputTensor, InferRequestedOutputTensor};

/// What one request asks for.
#[derive(Debug)]
pub(crate) struct Ask<'a> {
    pub model: &'a str,
    pub version: &'a str,
    pub id: String,
    pub input: &'a str,
    /// Input shape, batch first.
    pub shape: Vec<i64>,
    pub output: &'a str,
    pub encoding: Encoding,
}

/// Builds the request for `rows` (row-major, `shape` worth of values).
pub(crate) fn request(ask: &Ask<'_>, rows: &[f32]) -> pb::ModelInferRequest {
    let mut input = InferInputTensor {
        name: ask.input.to_owned(),
        datatype: "FP32".into(),
        shape: ask.shape.clone(),
        ..Default::default()
    };
    let raw = match ask.encoding {
        Encoding::Raw => vec![rows.iter().flat_map(|v| v.to_le_bytes()).collect()],
        Encoding::Typed => {
            input.contents = Some(pb::InferTensorContents {
                fp32_contents: rows.to_vec(),
                ..Default::default()
            });
            Vec::new()
        }
    };
    pb::ModelInferRequest {
        model_name: ask.model.to_owned(),
        model_version: Some(ask.version.to_owned()),
        id: ask.id.clone(),
        inputs: vec![input],
        outputs: vec![InferRequestedOutputTensor {
            name: ask.output.to_owned(),
            ..Default::default()
        }],
        raw_input_contents: raw,
        ..Default::default()
    }
}

/// The output `ask.output` of `resp` as row-major values, shaped `expected` (batch first).
pub(crate) fn decode(
    ask: &Ask<'_>,
    expected: &[i64],
    resp: pb::ModelInferResponse,
) -> Result<Vec<f32>, String> {
    if resp.id != ask.id {
        return Err(format!(
            "the response carries id {:?}, the request had {:?}",
            resp.id, ask.id
        ));
    }
    if !resp.model_version.is_empty() && resp.model_version != ask.version {
        return Err(format!(
            "answered by version {:?} of the model, version {:?} was asked for",
            resp.model_version, ask.version
        ));
    }
    let Some(at) = resp.outputs.iter().position(|o| o.name == ask.output) else {
        let names: Vec<&str> = resp.outputs.iter().map(|o| o.name.as_str()).collect();
        return Err(format!("no output `{}` (outputs: {names:?})", ask.output));
    };
    let out = &resp.outputs[at];
    if out.datatype != "FP32" {
        return Err(format!(
            "output `{}` is {}, not FP32",
            out.name, out.datatype
        ));
    }
    if out.shape != expected {
        return Err(format!(
            "output `{}` has shape {:?}, expected {expected:?}",
            out.name, out.shape
        ));
    }
    let count: usize = expected.iter().map(|d| *d as usize).product();
    let values = values_of(&resp, at, count)?;
    let per_row = (count / (expected[0].max(1) as usize)).max(1);
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(format!(
            "output `{}` row {} column {} is {} (values must be finite)",
            out.name,
            i / per_row,
            i % per_row,
            values[i]
        ));
    }
    Ok(values)
}

/// The `count` values of output `at`, from the raw bytes or the typed contents (exactly
/// one of the two).
fn values_of(resp: &pb::ModelInferResponse, at: usize, count: usize) -> Result<Vec<f32>, String> {
    let out = &resp.outputs[at];
    let typed = out
        .contents
        .as_ref()
        .map_or(&[][..], |c| &c.fp32_contents[..]);
    if resp.raw_output_contents.is_empty() {
        if typed.len() != count {
            return Err(format!(
                "output `{}` carries {} FP32 values, its shape needs {count}",
                out.name,
                typed.len()
            ));
        }
        return Ok(typed.to_vec());
    }
    if !typed.is_empty() {
        return Err(format!(
            "output `{}` carries both raw and typed values",
            out.name
        ));
    }
    if resp.raw_output_contents.len() != resp.outputs.len() {
        return Err(format!(
            "{} raw output entries for {} outputs",
            resp.raw_output_contents.len(),
            resp.outputs.len()
        ));
    }
    let raw = &resp.raw_output_contents[at];
    if raw.len() != count * 4 {
        return Err(format!(
            "output `{}` carries {} raw bytes, its shape needs {} (FP32)",
            out.name,
            raw.len(),
            count * 4
        ));
    }
    Ok(raw
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::model_infer_response::InferOutputTensor;

    fn ask(encoding: Encoding) -> Ask<'static> {
        Ask {
            model: "m",
            version: "2.0.0",
            id: "7".into(),
            input: "kpm_window",
            shape: vec![2, 8, 6],
            output: "prb_demand",
            encoding,
        }
    }

    fn answer(values: &[f32], shape: Vec<i64>, raw: bool) -> pb::ModelInferResponse {
        let mut out = InferOutputTensor {
            name: "prb_demand".into(),
            datatype: "FP32".into(),
            shape,
            ..Default::default()
        };
        let mut resp = pb::ModelInferResponse {
            model_name: "m".into(),
            model_version: "2.0.0".into(),
            id: "7".into(),
            ..Default::default()
        };
        if raw {
            resp.raw_output_contents = vec![values.iter().flat_map(|v| v.to_le_bytes()).collect()];
        } else {
            out.contents = Some(pb::InferTensorContents {
                fp32_contents: values.to_vec(),
                ..Default::default()
            });
        }
        resp.outputs = vec![out];
        resp
    }

    const GOOD: [f32; 4] = [1.0, 2.5, -0.0, 50.0];

    #[test]
    fn requests_carry_the_rows_in_the_chosen_encoding() {
        let rows: Vec<f32> = (0..96).map(|i| i as f32 * 0.5).collect();
        let raw = request(&ask(Encoding::Raw), &rows);
        assert_eq!(raw.raw_input_contents.len(), 1);
        assert_eq!(raw.raw_input_contents[0].len(), 96 * 4);
        assert_eq!(raw.raw_input_contents[0][4..8], 0.5f32.to_le_bytes());
        assert!(raw.inputs[0].contents.is_none());
        let typed = request(&ask(Encoding::Typed), &rows);
        assert!(typed.raw_input_contents.is_empty());
        assert_eq!(
            typed.inputs[0]
                .contents
                .as_ref()
                .map(|c| c.fp32_contents.len()),
            Some(96)
        );
        assert_eq!(typed.inputs[0].shape, vec![2, 8, 6]);
        assert_eq!(typed.model_version.as_deref(), Some("2.0.0"));
    }

    #[test]
    fn raw_and_typed_outputs_decode_alike() {
        for raw in [true, false] {
            let got = decode(&ask(Encoding::Raw), &[2, 2], answer(&GOOD, vec![2, 2], raw));
            assert_eq!(got.expect("decodes"), GOOD.to_vec());
        }
    }

    fn refused(resp: pb::ModelInferResponse) -> String {
        decode(&ask(Encoding::Raw), &[2, 2], resp).expect_err("refused")
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        let bad = [1.0, 2.0, f32::NAN, 4.0];
        let r = refused(answer(&bad, vec![2, 2], true));
        assert!(r.contains("row 1 column 0") && r.contains("NaN"), "{r}");
        let inf = [1.0, f32::INFINITY, 3.0, 4.0];
        assert!(refused(answer(&inf, vec![2, 2], false)).contains("row 0 column 1"));
        assert!(refused(answer(&GOOD, vec![4, 1], true)).contains("shape [4, 1]"));
        assert!(refused(answer(&GOOD[..3], vec![2, 2], false)).contains("carries 3 FP32 values"));
        let mut short = answer(&GOOD, vec![2, 2], true);
        short.raw_output_contents[0].pop();
        assert!(refused(short).contains("15 raw bytes"));
        let mut other = answer(&GOOD, vec![2, 2], true);
        other.id = "8".into();
        assert!(refused(other).contains("id \"8\""));
        let mut version = answer(&GOOD, vec![2, 2], true);
        version.model_version = "1.0.0".into();
        assert!(refused(version).contains("version \"1.0.0\""));
        let mut fp64 = answer(&GOOD, vec![2, 2], true);
        fp64.outputs[0].datatype = "FP64".into();
        assert!(refused(fp64).contains("FP64"));
        let mut renamed = answer(&GOOD, vec![2, 2], true);
        renamed.outputs[0].name = "other".into();
        assert!(refused(renamed).contains("no output `prb_demand`"));
        let mut both = answer(&GOOD, vec![2, 2], true);
        both.outputs[0].contents = Some(pb::InferTensorContents {
            fp32_contents: GOOD.to_vec(),
            ..Default::default()
        });
        assert!(refused(both).contains("both raw and typed"));
    }
}
