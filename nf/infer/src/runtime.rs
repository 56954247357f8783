//! Finding and loading onnxruntime, and building a session checked against its contract.
//!
//! `libonnxruntime.so` is loaded at run time (`ort`'s `load-dynamic`). Where it comes from:
//! the path in the config (`model.onnxruntime_lib`) when set, else `ORT_DYLIB_PATH` when set,
//! else the copy `scripts/fetch-onnxruntime.sh` places under `.cache/onnxruntime/` in the
//! source tree. A path that is named but missing is refused, naming it and where it came
//! from: the search never falls through to another library. One library per process: a
//! second model asking for a different one is refused too.
//! Execution providers are tried in the configured order; one that cannot be registered
//! (no GPU, a CPU-only onnxruntime build) is logged and the next is tried, ending on CPU.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::environment::Environment;
use ort::ep::{self, ExecutionProviderDispatch};
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::{TensorElementType, ValueType};
use serde::Deserialize;

use crate::contract::{Contract, ContractError};

/// onnxruntime release this build targets (`ort` feature `api-31`).
pub const ORT_VERSION: &str = "1.31.1";
/// Where `scripts/fetch-onnxruntime.sh` puts the library, relative to the repository root.
pub const FETCHED_DYLIB: &str = ".cache/onnxruntime/1.31.1/libonnxruntime.so.1.31.1";

/// An execution provider to try.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase", tag = "kind", deny_unknown_fields)]
pub enum Provider {
    Cpu,
    Cuda {
        #[serde(default)]
        device_id: i32,
    },
    Tensorrt {
        #[serde(default)]
        device_id: i32,
    },
}

/// What the engine needs to serve one model.
#[derive(Clone, Debug)]
pub struct ModelConfig {
    /// The model's contract; the model file is named inside it.
    pub contract: PathBuf,
    /// Explicit `libonnxruntime.so`; `None` to search.
    pub onnxruntime_lib: Option<PathBuf>,
    /// Execution providers in order of preference.
    pub providers: Vec<Provider>,
}

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// No onnxruntime library to load.
    #[error(
        "onnxruntime {ORT_VERSION} not found (looked at {looked}); run `scripts/fetch-onnxruntime.sh`, \
         or set ORT_DYLIB_PATH (or model.onnxruntime_lib) to a libonnxruntime.so {ORT_VERSION}"
    )]
    LibraryMissing { looked: String },
    /// A library named by the config or the environment is not there; nothing else is tried.
    #[error(
        "onnxruntime library {path} (from {from}) is not a file; point {from} at a \
         libonnxruntime.so {ORT_VERSION} or unset it (search order: model.onnxruntime_lib, \
         ORT_DYLIB_PATH, then the copy `scripts/fetch-onnxruntime.sh` fetches)"
    )]
    LibraryNotFound { path: PathBuf, from: &'static str },
    /// onnxruntime is already loaded from another file in this process.
    #[error("onnxruntime is already loaded from {loaded}; cannot also load {path}")]
    LibraryConflict { loaded: PathBuf, path: PathBuf },
    /// The library exists but could not be loaded or initialised.
    #[error("cannot load onnxruntime from {path}: {message}")]
    LibraryLoad { path: PathBuf, message: String },
    /// The contract or model were refused.
    #[error(transparent)]
    Contract(#[from] ContractError),
    /// onnxruntime refused the model.
    #[error("onnxruntime cannot load {file}: {message}")]
    Session { file: PathBuf, message: String },
}

/// Where the library path came from, for messages.
pub const FROM_CONFIG: &str = "model.onnxruntime_lib";
/// The environment variable naming the library.
pub const FROM_ENV: &str = "ORT_DYLIB_PATH";

/// Picks the onnxruntime library to load: `explicit`, else `ORT_DYLIB_PATH`, else the fetched
/// copy. A named path that is not a file is an error, never a reason to try the next.
pub fn resolve_dylib(explicit: Option<&Path>) -> Result<PathBuf, EngineError> {
    let fetched = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(FETCHED_DYLIB);
    resolve_dylib_from(explicit, std::env::var_os(FROM_ENV), &fetched)
}

/// [`resolve_dylib`] with the environment and the fetched copy as arguments.
pub fn resolve_dylib_from(
    explicit: Option<&Path>,
    env: Option<OsString>,
    fetched: &Path,
) -> Result<PathBuf, EngineError> {
    let named = match (explicit, env.filter(|v| !v.is_empty())) {
        (Some(p), _) => Some((p.to_path_buf(), FROM_CONFIG)),
        (None, Some(v)) => Some((PathBuf::from(v), FROM_ENV)),
        (None, None) => None,
    };
    match named {
        Some((path, _)) if path.is_file() => Ok(path),
        Some((path, from)) => Err(EngineError::LibraryNotFound { path, from }),
        None if fetched.is_file() => Ok(fetched.to_path_buf()),
        None => Err(EngineError::LibraryMissing {
            looked: fetched.display().to_string(),
        }),
    }
}

static ENV: OnceLock<Result<(PathBuf, Environment), String>> = OnceLock::new();

/// The process-wide onnxruntime environment (loaded once; later calls reuse it).
pub fn environment(explicit: Option<&Path>) -> Result<Environment, EngineError> {
    let path = resolve_dylib(explicit)?;
    let loaded = ENV.get_or_init(|| {
        let env = ort::init_from(&path)
            .map_err(|e| e.to_string())?
            .with_name("ai-ran-xapp")
            // Microsoft's builds (the pinned PyPI one included) send usage telemetry unless
            // told not to; nothing about an operator's network leaves the xApp that way.
            .with_telemetry(false)
            .build()
            .map_err(|e| e.to_string())?;
        tracing::info!(path = %path.display(), "onnxruntime loaded");
        Ok((path.clone(), env))
    });
    match loaded {
        Ok((first, _)) if *first != path => Err(EngineError::LibraryConflict {
            loaded: first.clone(),
            path,
        }),
        Ok((_, env)) => Ok(env.clone()),
        Err(message) => Err(EngineError::LibraryLoad {
            path,
            message: message.clone(),
        }),
    }
}

fn dispatch(p: Provider) -> ExecutionProviderDispatch {
    match p {
        Provider::Cpu => ep::CPU::default().build().error_on_failure(),
        Provider::Cuda { device_id } => ep::CUDA::default()
            .with_device_id(device_id)
            .build()
            .error_on_failure(),
        Provider::Tensorrt { device_id } => ep::TensorRT::default()
            .with_device_id(device_id)
            .build()
            .error_on_failure(),
    }
}

fn dtype_name(t: TensorElementType) -> String {
    match t {
        TensorElementType::Float32 => "float32".into(),
        other => other.to_string(),
    }
}

fn describe(v: &ValueType) -> (String, Vec<i64>) {
    match v {
        ValueType::Tensor { ty, shape, .. } => (dtype_name(*ty), shape.to_vec()),
        other => (format!("{other:?}"), Vec::new()),
    }
}

/// A session that matched its contract, with the provider that was registered.
#[derive(Debug)]
pub struct LoadedModel {
    pub session: Session,
    pub contract: Contract,
    /// Execution provider in use ("cpu" when all others fell back).
    pub provider: String,
    /// What it was loaded from (a reload reads the same contract path again).
    pub config: ModelConfig,
}

impl EngineError {
    /// Bounded label of a model refused at run time (`xapp_model_swaps_total{result}`):
    /// `file_unreadable`, `contract_invalid`, `hash_mismatch`, `interface_mismatch` or
    /// `load_failed`.
    pub fn swap_result(&self) -> &'static str {
        match self {
            EngineError::Contract(ContractError::Io { .. }) => "file_unreadable",
            EngineError::Contract(
                ContractError::Parse { .. } | ContractError::Inconsistent { .. },
            ) => "contract_invalid",
            EngineError::Contract(ContractError::HashMismatch { .. }) => "hash_mismatch",
            EngineError::Contract(ContractError::Mismatch { .. }) => "interface_mismatch",
            EngineError::Session { .. }
            | EngineError::LibraryMissing { .. }
            | EngineError::LibraryNotFound { .. }
            | EngineError::LibraryConflict { .. }
            | EngineError::LibraryLoad { .. } => "load_failed",
        }
    }
}

/// Typical values of one feature at three load levels (idle, busy, saturated), by unit.
fn canary_levels(unit: &str, cell_prbs: f32) -> [f32; 3] {
    match unit {
        crate::contract::PRB_UNIT => [0.0, 0.5 * cell_prbs, cell_prbs],
        "UE" => [0.0, 4.0, 10.0],
        "CQI" => [0.0, 9.0, 15.0],
        "kbit/s" => [0.0, 20_000.0, 80_000.0],
        "byte" => [0.0, 100_000.0, 2_000_000.0],
        "%" | "percent" => [0.0, 50.0, 100.0],
        _ => [0.0, 1.0, 10.0],
    }
}

/// A fixed canary batch for `contract`'s input: three rows (idle, busy, saturated) whose
/// every feature holds a typical value of its unit (PRB counts as shares of `cell_prbs`,
/// UEs, CQI, kbit/s, bytes, percent), repeated over the window (and slices).
pub fn synthetic_canary(contract: &Contract) -> Vec<f32> {
    let features = &contract.input.features;
    let row_len: usize = contract.input.shape[1..]
        .iter()
        .map(|d| (*d).max(0) as usize)
        .product();
    let cell_prbs = contract.cell_prbs as f32;
    let mut rows = Vec::with_capacity(3 * row_len);
    for level in 0..3 {
        rows.extend((0..row_len).map(|i| {
            features
                .get(i % features.len().max(1))
                .map_or(0.0, |f| canary_levels(&f.unit, cell_prbs)[level])
        }));
    }
    rows
}

/// Loads the model of `cfg.contract`: hash check, session with one intra-op thread and no
/// spinning, providers in order with fallback, then inputs/outputs against the contract.
pub fn load_model(cfg: &ModelConfig) -> Result<LoadedModel, EngineError> {
    let contract = Contract::load(&cfg.contract)?;
    let bytes = contract.read_verified_model()?;
    let env = environment(cfg.onnxruntime_lib.as_deref())?;
    let session_err = |e: &dyn std::fmt::Display| EngineError::Session {
        file: contract.file.clone(),
        message: e.to_string(),
    };
    let mut builder = Session::builder(&env)
        .and_then(|b| Ok(b.with_intra_threads(1)?))
        .and_then(|b| Ok(b.with_inter_threads(1)?))
        .and_then(|b| Ok(b.with_intra_op_spinning(false)?))
        .and_then(|b| Ok(b.with_optimization_level(GraphOptimizationLevel::Level3)?))
        .map_err(|e| session_err(&e))?;
    let mut provider = "cpu".to_owned();
    for p in &cfg.providers {
        if *p == Provider::Cpu {
            break;
        }
        match builder.with_execution_providers([dispatch(*p)]) {
            Ok(b) => {
                builder = b;
                provider = format!("{p:?}").to_lowercase();
                break;
            }
            Err(e) => {
                tracing::warn!(provider = ?p, cause = %e, "execution provider unavailable, falling back");
                builder = e.recover();
            }
        }
    }
    let session = builder
        .commit_from_memory(&bytes)
        .map_err(|e| session_err(&e))?;
    check_io(&session, &contract)?;
    tracing::info!(model = %contract.name, version = %contract.version, %provider, "model loaded");
    Ok(LoadedModel {
        session,
        contract,
        provider,
        config: cfg.clone(),
    })
}

fn check_io(session: &Session, contract: &Contract) -> Result<(), EngineError> {
    let count = |role: &str, e: usize, f: usize| ContractError::Mismatch {
        file: contract.file.clone(),
        what: format!("number of {role}s"),
        expected: e.to_string(),
        found: f.to_string(),
    };
    if session.inputs().len() != 1 {
        return Err(count("input", 1, session.inputs().len()).into());
    }
    if session.outputs().len() != contract.outputs.len() {
        return Err(count("output", contract.outputs.len(), session.outputs().len()).into());
    }
    let input = &session.inputs()[0];
    let (ty, shape) = describe(input.dtype());
    let i = &contract.input;
    contract.check_tensor(
        "input",
        (&i.name, &i.dtype, &i.shape),
        (input.name(), &ty, &shape),
    )?;
    for (o, spec) in session.outputs().iter().zip(&contract.outputs) {
        let (ty, shape) = describe(o.dtype());
        contract.check_tensor(
            "output",
            (&spec.name, &spec.dtype, &spec.shape),
            (o.name(), &ty, &shape),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_lib() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("nf-infer-dylib-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let lib = dir.join("libonnxruntime.so");
        std::fs::write(&lib, b"not really").unwrap();
        lib
    }

    #[test]
    fn a_named_library_that_is_missing_is_refused_with_its_origin() {
        let real = scratch_lib();
        let missing = Path::new("/nonexistent/libonnxruntime.so");
        let err = resolve_dylib_from(Some(missing), None, &real).unwrap_err();
        let shown = err.to_string();
        assert!(
            shown.contains("/nonexistent/libonnxruntime.so") && shown.contains(FROM_CONFIG),
            "{shown}"
        );
        let err = resolve_dylib_from(None, Some(missing.into()), &real).unwrap_err();
        let shown = err.to_string();
        assert!(
            shown.contains("/nonexistent/libonnxruntime.so") && shown.contains(FROM_ENV),
            "{shown}"
        );
        // The config wins over the environment, and is refused rather than skipped.
        let err = resolve_dylib_from(Some(missing), Some(real.clone().into()), &real);
        assert!(
            matches!(err, Err(EngineError::LibraryNotFound { from, .. }) if from == FROM_CONFIG)
        );
    }

    #[test]
    fn the_fetched_copy_is_used_only_when_nothing_is_named() {
        let real = scratch_lib();
        assert_eq!(resolve_dylib_from(None, None, &real).unwrap(), real);
        assert_eq!(
            resolve_dylib_from(None, Some(OsString::new()), &real).unwrap(),
            real
        );
        assert_eq!(
            resolve_dylib_from(None, Some(real.clone().into()), Path::new("/x")).unwrap(),
            real
        );
        let err = resolve_dylib_from(None, None, Path::new("/nonexistent/fetched.so"));
        assert!(matches!(err, Err(EngineError::LibraryMissing { .. })));
    }
}
