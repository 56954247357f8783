//! The A1 state file: the active instances, so that a restarted xApp applies them from its
//! first decision. Written atomically (a temporary file in the same folder, flushed to disk,
//! renamed over the old one, the folder flushed): a crash leaves the old file or the new
//! one, never half of one.

use std::io::Write;
use std::path::{Path, PathBuf};

use nf_core::a1::A1Error;
use nf_core::a1::A1Policies;
use nf_core::a1::policies::StateError;

/// Largest state file read [bytes] (64 instances × 64 slices fit in well under 1 MiB).
pub const MAX_STATE_BYTES: u64 = 4 << 20;

/// Why the state file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is {size} bytes, above the {MAX_STATE_BYTES} a state file may be")]
    TooLarge { path: PathBuf, size: u64 },
    #[error("{path} is not JSON: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: {source}")]
    State {
        path: PathBuf,
        #[source]
        source: StateError,
    },
}

/// The state file of one handler.
#[derive(Clone, Debug)]
pub struct StateFile {
    path: PathBuf,
}

impl StateFile {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The instances kept for `policy_type_id` (none when the file does not exist yet),
    /// and those refused by today's rules.
    pub fn load(
        &self,
        policy_type_id: u32,
    ) -> Result<(A1Policies, Vec<(String, A1Error)>), StoreError> {
        let path = || self.path.clone();
        let size = match std::fs::metadata(&self.path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok((A1Policies::new(policy_type_id), Vec::new()));
            }
            Err(source) => {
                return Err(StoreError::Read {
                    path: path(),
                    source,
                });
            }
        };
        if size > MAX_STATE_BYTES {
            return Err(StoreError::TooLarge { path: path(), size });
        }
        let text = std::fs::read(&self.path).map_err(|source| StoreError::Read {
            path: path(),
            source,
        })?;
        let value: serde_json::Value =
            serde_json::from_slice(&text).map_err(|source| StoreError::Json {
                path: path(),
                source,
            })?;
        A1Policies::from_state(policy_type_id, &value).map_err(|source| StoreError::State {
            path: path(),
            source,
        })
    }

    /// Replaces the file with `policies`' state, atomically.
    pub fn write(&self, policies: &A1Policies) -> std::io::Result<()> {
        let mut bytes =
            serde_json::to_vec_pretty(&policies.to_state()).map_err(std::io::Error::other)?;
        bytes.push(b'\n');
        let folder = match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = self.path.file_name().unwrap_or_default().to_string_lossy();
        let tmp = folder.join(format!(".{name}.tmp"));
        {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        // The rename itself reaches the disk with the folder.
        if let Ok(dir) = std::fs::File::open(&folder) {
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nf_core::a1::{Operation, PolicyRequest};

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("a1-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn written_state_loads_back_and_bad_files_are_named() {
        let dir = temp("roundtrip");
        let file = StateFile::new(dir.join("a1.json"));
        let (empty, refused) = file.load(21010).unwrap();
        assert!(
            empty.is_empty() && refused.is_empty(),
            "absent file: no instance"
        );
        let req = PolicyRequest {
            operation: Operation::Create,
            policy_type_id: 21010,
            instance_id: "cap".into(),
            payload: serde_json::json!({"slices": [{"sst": 1, "max_prb_share_pct": 8}]}),
        };
        let (p, _) = empty.plan(&req).unwrap();
        file.write(&p).unwrap();
        file.write(&p).unwrap();
        let (back, _) = file.load(21010).unwrap();
        assert_eq!(back.len(), 1);
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["a1.json"], "no temporary file left behind");
        std::fs::write(file.path(), b"{cut").unwrap();
        let e = file.load(21010).unwrap_err().to_string();
        assert!(e.contains("a1.json") && e.contains("not JSON"), "{e}");
        file.write(&p).unwrap();
        let e = file.load(20008).unwrap_err().to_string();
        assert!(e.contains("21010"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
