//! The `conflict-mgr` binary: real `--help`, a bad configuration refused by name (exit 78),
//! and a served manager answering a registration and two proposals over gRPC.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use e2_proto::pb::conflict as pb;

const BIN: &str = env!("CARGO_BIN_EXE_conflict-mgr");

fn write(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("conflict-mgr-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn help_and_bad_config() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for flag in ["--config", "--listen", "--http-listen", "--check"] {
        assert!(help.contains(flag), "{flag} missing from\n{help}");
    }
    let d = tmp("bad");
    let cfg = write(
        &d,
        "bad.toml",
        "[xapps]\nslice-xapp = 1\n[indirect]\npolicy = \"maybe\"\n",
    );
    let out = Command::new(BIN)
        .args(["--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("policy") && err.contains("bad.toml"), "{err}");
    let cfg = write(&d, "good.toml", "[xapps]\nslice-xapp = 1\n");
    let out = Command::new(BIN)
        .arg("--check")
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Kills the child however the test ends.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn serves_guidance() {
    let d = tmp("serve");
    let cfg = write(
        &d,
        "m.toml",
        "[xapps]\nslice-xapp = 10\ninterference-xapp = 5\n",
    );
    let mut child = Killed(
        Command::new(BIN)
            .arg("--config")
            .arg(&cfg)
            .args(["--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let grpc = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("grpc="))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    let mut c =
        pb::conflict_guidance_client::ConflictGuidanceClient::connect(format!("http://{grpc}"))
            .await
            .unwrap();
    for (xapp, prio) in [("slice-xapp", 10), ("interference-xapp", 5)] {
        let r = c
            .register(pb::RegisterRequest {
                xapp: xapp.into(),
                consumes: vec!["RRU.PrbUsedDl".into()],
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(r.get_ref().priority, prio);
    }
    let e = c
        .register(pb::RegisterRequest {
            xapp: "rogue".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied);
    let intent = |xapp: &str| pb::ProposeRequest {
        intent: Some(pb::ControlIntent {
            xapp: xapp.into(),
            node: "gnb-1".into(),
            cell: Some(pb::Cell {
                plmn: vec![0, 0xf1, 0x10],
                nci: 1,
            }),
            parameter: pb::Parameter::SlicePrbQuota as i32,
            value: "1:0/10/60".into(),
            ..Default::default()
        }),
    };
    let a = c
        .propose(intent("interference-xapp"))
        .await
        .unwrap()
        .into_inner();
    assert!(a.allow && a.lease_ms == 5_000);
    let b = c.propose(intent("slice-xapp")).await.unwrap().into_inner();
    assert!(!b.allow);
    assert_eq!(
        (b.reason.as_str(), b.holder.as_str()),
        ("direct_conflict", "interference-xapp")
    );
}

#[test]
fn tls_files_are_checked_before_start_relative_to_the_config() {
    let d = nf_tls::testing::scratch("conflict-mgr-tls");
    let files = nf_tls::testing::TestCa::new("ca").write(&d, "mgr");
    let tls = "[tls]\ncert = \"mgr.crt\"\nkey = \"mgr.key\"\nclient_ca = \"mgr-ca.crt\"\n";
    let cfg = write(&d, "tls.toml", &format!("[xapps]\nslice-xapp = 1\n{tls}"));
    let out = Command::new(BIN)
        .arg("--check")
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(
        &files.cert,
        "-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg("--check")
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`tls.cert`") && err.contains("mgr.crt") && err.contains("PEM"),
        "{err}"
    );
}
