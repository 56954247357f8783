//! Model contracts: the sidecar TOML next to every `.onnx` file.
//!
//! A contract states what the model consumes (input name, element type, shape and the
//! ordered feature names with units) and produces (outputs, columns, units, meaning), its
//! version and the sha256 of the model file. The runtime refuses a model whose file hash,
//! inputs or outputs differ from its contract, naming the first mismatch.
//!
//! Cell size: `cell_prbs` is the DL PRB count of the cells the model was trained on; the
//! inputs whose `unit` is `"PRB"` are PRB counts. `prb_scaling = "linear"` lets the runtime
//! serve other cell sizes by scaling those inputs to `cell_prbs` (quotas are ratios, so the
//! forecasts need no scaling back); `"refuse"` (the default) refuses such cells.
//!
//! Model kinds: `kind = "forecaster"` (the default when absent) reads one slice's window,
//! `[batch, window, features]`, and forecasts its PRB demand; `kind = "slice_policy"` reads
//! a whole cell, `[batch, slices, window, features]` with the slices in the order of the
//! contract's `slices` list (S-NSSAIs as `SST` or `SST-SD`, SD in hex), and outputs quotas
//! `[batch, slices, columns]`; `kind = "interference"` reads one UE's radio window,
//! exactly `[batch, 5, 8]` with the features of `nf_core::radio_features::FEATURE_NAMES`,
//! and outputs `[batch, 2]` (`loss_db`, `p_limited`); it reads no PRB counts, so it has no
//! `cell_prbs`.

use std::path::{Path, PathBuf};

use nf_core::Snssai;
use serde::{Deserialize, Deserializer};
use sha2::{Digest, Sha256};

/// One input feature of the model.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FeatureSpec {
    /// KPM measurement name (TS 28.552, or `VS.` vendor-specific).
    pub name: String,
    pub unit: String,
    pub meaning: String,
}

/// The model's single input tensor.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    pub name: String,
    pub dtype: String,
    /// `[-1, window, features]`; -1 is the batch dimension.
    pub shape: Vec<i64>,
    pub layout: String,
    pub features: Vec<FeatureSpec>,
}

/// One output tensor.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<i64>,
    pub unit: String,
    pub columns: Vec<String>,
    pub meaning: String,
}

/// How a model serves cells of another size than it was trained on.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PrbScaling {
    /// Cells whose `RRU.PrbAvailDl` differs from `cell_prbs` are refused.
    #[default]
    Refuse,
    /// PRB-count inputs are scaled by `cell_prbs / RRU.PrbAvailDl`.
    Linear,
}

/// What a model does, and so how its tensors are laid out.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// Per-slice PRB demand forecast: input `[batch, window, features]`, output
    /// `[batch, columns]`.
    #[default]
    Forecaster,
    /// Per-cell slice quotas: input `[batch, slices, window, features]`, output
    /// `[batch, slices, columns]`.
    SlicePolicy,
    /// Per-UE interference estimate: input `[batch, window, features]` exactly
    /// `[-1, nf_core::radio_features::WINDOW, FEATURES]` with the features of
    /// `nf_core::radio_features::FEATURE_NAMES` in order, output `[batch, 2]` with columns
    /// `loss_db`, `p_limited`; no slices, no `cell_prbs` (no PRB inputs).
    Interference,
}

impl ModelKind {
    /// Label for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Forecaster => "forecaster",
            ModelKind::SlicePolicy => "slice_policy",
            ModelKind::Interference => "interference",
        }
    }
}

fn snssai_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Snssai>, D::Error> {
    let names = Vec::<String>::deserialize(d)?;
    names
        .iter()
        .map(|n| n.parse::<Snssai>().map_err(serde::de::Error::custom))
        .collect()
}

/// Output columns of an interference model, in order.
pub const INTERFERENCE_COLUMNS: [&str; 2] = ["loss_db", "p_limited"];

/// Unit that marks an input feature as a PRB count.
pub const PRB_UNIT: &str = "PRB";

/// A model contract as read from its TOML file.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    pub name: String,
    pub version: String,
    /// Forecaster (the default) or slice policy.
    #[serde(default)]
    pub kind: ModelKind,
    /// Slice policies: the S-NSSAIs of the input's and output's slice axis, in order; empty
    /// for forecasters.
    #[serde(default, deserialize_with = "snssai_list")]
    pub slices: Vec<Snssai>,
    /// Model file, relative to the contract.
    pub file: PathBuf,
    pub sha256: String,
    pub report_period_ms: u32,
    /// DL PRBs of the cells the model was trained on; also the ceiling of its outputs.
    /// Required (non-zero) for forecasters and slice policies; absent (0) for an
    /// interference model, which reads no PRB counts.
    #[serde(default)]
    pub cell_prbs: u32,
    /// Serving other cell sizes (see the module docs).
    #[serde(default)]
    pub prb_scaling: PrbScaling,
    pub input: InputSpec,
    pub outputs: Vec<OutputSpec>,
}

/// Why a model or its contract was refused.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    /// The contract or model file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The contract is not valid TOML of the expected shape.
    #[error("model contract {path} is invalid: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    /// The contract is inconsistent with itself.
    #[error("model contract {path}: {problem}")]
    Inconsistent { path: PathBuf, problem: String },
    /// The model file is not the one the contract describes.
    #[error("model file {file} has sha256 {actual}, its contract says {expected}")]
    HashMismatch {
        file: PathBuf,
        expected: String,
        actual: String,
    },
    /// The model's inputs or outputs differ from the contract.
    #[error(
        "model {file} does not match its contract: {what}: contract says {expected}, model has {found}"
    )]
    Mismatch {
        file: PathBuf,
        what: String,
        expected: String,
        found: String,
    },
}

impl Contract {
    /// Reads and checks a contract file (not yet the model it names).
    pub fn load(path: &Path) -> Result<Self, ContractError> {
        let text = std::fs::read_to_string(path).map_err(|source| ContractError::Io {
            path: path.into(),
            source,
        })?;
        let mut c: Contract = toml::from_str(&text).map_err(|source| ContractError::Parse {
            path: path.into(),
            source,
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        c.file = dir.join(&c.file);
        c.check_consistent(path)?;
        Ok(c)
    }

    fn check_consistent(&self, path: &Path) -> Result<(), ContractError> {
        let bad = |problem: String| ContractError::Inconsistent {
            path: path.into(),
            problem,
        };
        let (window, features) = self.check_shape_kind(path)?;
        if window <= 0 || features <= 0 {
            return Err(bad(format!(
                "input shape {:?} has a non-positive window or feature count",
                self.input.shape
            )));
        }
        if features as usize != self.input.features.len() {
            return Err(bad(format!(
                "input shape says {features} features, the feature list has {}",
                self.input.features.len()
            )));
        }
        if self.input.dtype != "float32" {
            return Err(bad(format!(
                "input dtype {} is not float32",
                self.input.dtype
            )));
        }
        if self.cell_prbs == 0 && self.kind != ModelKind::Interference {
            return Err(bad("cell_prbs is 0 or absent".into()));
        }
        let Some(out) = self.outputs.first() else {
            return Err(bad("no outputs".into()));
        };
        let out_ok = match self.kind {
            ModelKind::Forecaster => {
                out.shape.len() == 2 && out.shape[1] as usize == out.columns.len()
            }
            ModelKind::SlicePolicy => {
                out.shape.len() == 3
                    && out.shape[1] as usize == self.slices.len()
                    && out.shape[2] as usize == out.columns.len()
            }
            ModelKind::Interference => {
                out.shape.len() == 2
                    && out.shape[1] == 2
                    && out.columns == INTERFERENCE_COLUMNS
                    && self.outputs.len() == 1
            }
        };
        if !out_ok {
            return Err(bad(format!(
                "output shape {:?} does not match its columns {:?} (kind {})",
                out.shape,
                out.columns,
                self.kind.as_str()
            )));
        }
        Ok(())
    }

    /// Checks the input rank and slice list against the kind; returns (window, features).
    fn check_shape_kind(&self, path: &Path) -> Result<(i64, i64), ContractError> {
        let bad = |problem: String| ContractError::Inconsistent {
            path: path.into(),
            problem,
        };
        match (self.kind, &self.input.shape[..]) {
            (ModelKind::Forecaster, [_, window, features]) => {
                if !self.slices.is_empty() {
                    return Err(bad("a forecaster contract lists slices".into()));
                }
                Ok((*window, *features))
            }
            (ModelKind::SlicePolicy, [_, slices, window, features]) => {
                if self.slices.is_empty() {
                    return Err(bad("a slice_policy contract lists no slices".into()));
                }
                if *slices < 0 || *slices as usize != self.slices.len() {
                    return Err(bad(format!(
                        "input shape says {slices} slices, the slice list has {}",
                        self.slices.len()
                    )));
                }
                let mut seen = self.slices.clone();
                seen.sort();
                seen.dedup();
                if seen.len() != self.slices.len() {
                    return Err(bad("the slice list names a slice twice".into()));
                }
                Ok((*window, *features))
            }
            (ModelKind::Interference, [_, window, features]) => {
                use nf_core::radio_features::{FEATURE_NAMES, FEATURES, WINDOW};
                if !self.slices.is_empty() {
                    return Err(bad("an interference contract lists slices".into()));
                }
                if *window != WINDOW as i64 || *features != FEATURES as i64 {
                    return Err(bad(format!(
                        "input shape {:?} is not [batch, {WINDOW}, {FEATURES}] (nf_core::radio_features)",
                        self.input.shape
                    )));
                }
                let names = self.feature_names();
                if names != FEATURE_NAMES {
                    return Err(bad(format!(
                        "input features {names:?} are not {FEATURE_NAMES:?} in that order"
                    )));
                }
                Ok((*window, *features))
            }
            (ModelKind::Forecaster, _) => Err(bad(format!(
                "input shape {:?} is not [batch, window, features]",
                self.input.shape
            ))),
            (ModelKind::SlicePolicy, _) => Err(bad(format!(
                "input shape {:?} is not [batch, slices, window, features]",
                self.input.shape
            ))),
            (ModelKind::Interference, _) => Err(bad(format!(
                "input shape {:?} is not [batch, window, features]",
                self.input.shape
            ))),
        }
    }

    /// Rows of history the model reads.
    pub fn window(&self) -> usize {
        self.input.shape[self.input.shape.len() - 2] as usize
    }

    /// Floats of one batch row of the input: `window × features`, times the slices of a
    /// slice policy.
    pub fn input_row_len(&self) -> usize {
        self.input.shape[1..].iter().map(|d| *d as usize).product()
    }

    /// Floats of one batch row of the first output: its columns, times the slices of a
    /// slice policy.
    pub fn output_row_len(&self) -> usize {
        self.outputs
            .first()
            .map_or(0, |o| o.shape[1..].iter().map(|d| *d as usize).product())
    }

    /// Feature names in input order.
    pub fn feature_names(&self) -> Vec<&str> {
        self.input
            .features
            .iter()
            .map(|f| f.name.as_str())
            .collect()
    }

    /// Per input feature, in order: true for PRB counts (`unit = "PRB"`).
    pub fn prb_inputs(&self) -> Vec<bool> {
        self.input
            .features
            .iter()
            .map(|f| f.unit == PRB_UNIT)
            .collect()
    }

    /// Columns of the first output (per slice for a slice policy).
    pub fn output_columns(&self) -> usize {
        self.outputs.first().map_or(0, |o| o.columns.len())
    }

    /// Reads the model file and checks its sha256; returns the bytes.
    pub fn read_verified_model(&self) -> Result<Vec<u8>, ContractError> {
        let bytes = std::fs::read(&self.file).map_err(|source| ContractError::Io {
            path: self.file.clone(),
            source,
        })?;
        let actual = hex::encode(Sha256::digest(&bytes));
        if !actual.eq_ignore_ascii_case(&self.sha256) {
            return Err(ContractError::HashMismatch {
                file: self.file.clone(),
                expected: self.sha256.clone(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// Compares one tensor (name, element type, shape) of the model with the contract.
    pub fn check_tensor(
        &self,
        role: &str,
        expected: (&str, &str, &[i64]),
        found: (&str, &str, &[i64]),
    ) -> Result<(), ContractError> {
        let mismatch = |what: &str, e: String, f: String| ContractError::Mismatch {
            file: self.file.clone(),
            what: format!("{role} {what}"),
            expected: e,
            found: f,
        };
        if expected.0 != found.0 {
            return Err(mismatch("name", expected.0.into(), found.0.into()));
        }
        if expected.1 != found.1 {
            return Err(mismatch(
                &format!("`{}` element type", expected.0),
                expected.1.into(),
                found.1.into(),
            ));
        }
        let dims_match = expected.2.len() == found.2.len()
            && expected
                .2
                .iter()
                .zip(found.2)
                .all(|(e, f)| e == f || (*e < 0 && *f < 0));
        if !dims_match {
            return Err(mismatch(
                &format!("`{}` shape", expected.0),
                format!("{:?}", expected.2),
                format!("{:?}", found.2),
            ));
        }
        Ok(())
    }
}
