//! The O-RAN SC near-RT RIC platform side of the simulator.
//!
//! - [`submgr`]: a Subscription Manager serving the REST API an O-RAN SC xApp calls
//!   (`POST /ric/v1/subscriptions`, `DELETE /ric/v1/subscriptions/{id}`), allocating
//!   `E2EventInstanceId`s and notifying the xApp asynchronously, with the E2 side behind
//!   the [`submgr::E2Side`] trait.

pub mod submgr;

use std::path::{Path, PathBuf};

/// Writes a static RMR route table (the `RMR_SEED_RT` format) to `dir/name`: one `rte`
/// record per message type, to `endpoints` (`host:port`, `,` for round robin within a
/// group, `;` between groups that each get a copy: a fan-out).
///
/// # Errors
/// When the file cannot be written.
pub fn write_route_table(
    dir: &Path,
    name: &str,
    routes: &[(i32, String)],
) -> std::io::Result<PathBuf> {
    let mut text = String::from("newrt|start\n");
    for (mtype, endpoints) in routes {
        text.push_str(&format!("rte|{mtype}|{endpoints}\n"));
    }
    text.push_str("newrt|end\n");
    let path = dir.join(name);
    std::fs::write(&path, text)?;
    Ok(path)
}
