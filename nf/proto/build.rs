//! Generates the gRPC and payload types from `proto/` with a pure-Rust protobuf compiler
//! (protox), so a fresh machine needs no `protoc`.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "onos/e2t/e2/v1beta1/e2.proto",
    "onos/e2t/e2/v1beta1/subscription.proto",
    "onos/e2t/e2/v1beta1/control.proto",
    "onos/e2t/admin/admin.proto",
    "e2sm/kpm/v2/kpm.proto",
    "e2sm/rc/v1/rc.proto",
    "airan/e2t/v1/control_stream.proto",
    "airan/record/v1/record.proto",
    "airan/conflict/v1/conflict.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    for p in PROTOS {
        println!("cargo:rerun-if-changed={}", root.join(p).display());
    }
    let files: Vec<PathBuf> = PROTOS.iter().map(|p| root.join(p)).collect();
    let fds = protox::compile(&files, [&root])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(fds)?;
    Ok(())
}
