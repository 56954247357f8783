//! Conflict mitigation between xApps (owner: the conflict work of issue 10).
