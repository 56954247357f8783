//! A metrics port already taken stops the real binary before it runs, with the exit code of
//! a refused configuration and a message naming the address and the key.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

#[test]
fn a_taken_metrics_port_exits_non_zero_naming_address_and_key() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_slice-xapp"))
        .arg("--config")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo.toml"))
        // Nothing listens there: the run would hang in discovery if the bind were not first.
        .args(["--e2t", "http://127.0.0.1:9", "--duration", "30"])
        .args(["--metrics-listen", &addr])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{err}");
    assert!(
        err.contains("metrics.listen") && err.contains(&addr),
        "{err}"
    );
    assert!(err.contains("slice-xapp: metrics.listen"), "{err}");
}
