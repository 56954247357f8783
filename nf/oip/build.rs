//! Generates the Open Inference Protocol client from `proto/oip/v2` with a pure-Rust
//! protobuf compiler (protox), as `nf/proto` does for the E2 APIs, so a fresh machine needs
//! no `protoc`. The compiled descriptor set is kept too: a test compares its field numbers
//! with those of a real server's own definition.

use std::path::PathBuf;

use prost::Message;

const PROTO: &str = "oip/v2/grpc_predict_v2.proto";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    println!("cargo:rerun-if-changed={}", root.join(PROTO).display());
    let fds = protox::compile([root.join(PROTO)], [&root])?;
    std::fs::write(out.join("oip_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_server(false)
        .build_client(true)
        .compile_fds(fds)?;
    Ok(())
}
