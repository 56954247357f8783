//! Issue 10 end to end: `conflict-mgr`, `slice-xapp` and `interference-xapp` as three
//! separate processes against one `e2sim --radio` over APER. Both xApps close their loops
//! (each gets controls accepted), the manager refuses every direct conflict (so none reaches
//! the E2 node) and counts the indirect ones (handovers into cells whose quota the scheduler
//! just set).
//!
//! Ignored until the simulator's radio mode (`wt-sim`) and the interference xApp
//! (`wt-xapp`) are merged: run with `cargo test -p testbed --test two_xapps -- --ignored`
//! after `cargo build -p slice-xapp -p interference-xapp -p nf-conflict -p testbed`.
//! What it assumes of them, to check at merge time:
//! - `e2sim --radio --encoding asn1-per --listen ADDR` serves UE-level (style 4) and cell
//!   radio (style 1) KPM and takes both E2SM-RC quota and handover controls from several
//!   subscribers, logging each control with the sender's app id to `--control-log FILE`
//!   (JSON lines with `app_id`, `cell`, `parameter`, `ue`, `t_ms`);
//! - `interference-xapp --config FILE --e2t URL` with a `[conflict]` section like
//!   slice-xapp's (the same `nf_runtime::conflict::Gate`).

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn bin(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let p = target.join("debug").join(name);
    assert!(p.exists(), "{} missing: cargo build -p {name}", p.display());
    p
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs e2sim --radio (wt-sim) and interference-xapp (wt-xapp)"]
async fn both_xapps_close_their_loops_without_direct_conflicts() {
    let dir = std::env::temp_dir().join(format!("two-xapps-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");

    // The manager.
    let mgr_cfg = dir.join("conflict.toml");
    std::fs::write(
        &mgr_cfg,
        "[xapps]\nslice-xapp = 10\ninterference-xapp = 5\n\n[indirect]\npolicy = \"count\"\n",
    )
    .unwrap();
    let mut mgr = Killed(
        Command::new(bin("conflict-mgr"))
            .arg("--config")
            .arg(&mgr_cfg)
            .args(["--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(mgr.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let grpc = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("grpc="))
        .unwrap()
        .to_owned();
    let conflict = format!(
        "\n[conflict]\nendpoint = \"http://{grpc}\"\ntimeout_ms = 500\n"
    );

    // The simulator.
    let e2t = format!("127.0.0.1:{}", free_port());
    let control_log = dir.join("controls.jsonl");
    let _sim = Killed(
        Command::new(bin("e2sim"))
            .args(["--radio", "--encoding", "asn1-per", "--listen", &e2t])
            .arg("--control-log")
            .arg(&control_log)
            .spawn()
            .unwrap(),
    );
    tokio::time::sleep(Duration::from_secs(2)).await;

    // The two xApps, each with the gate.
    let slice_cfg = dir.join("slice.toml");
    let demo = std::fs::read_to_string(root.join("xapps/slice-sched/config/demo.toml"))
        .unwrap()
        .replace(
            "../../../models/",
            &format!("{}/models/", root.canonicalize().unwrap().display()),
        );
    std::fs::write(&slice_cfg, format!("{demo}{conflict}")).unwrap();
    let intf_cfg = dir.join("interference.toml");
    let intf_demo = std::fs::read_to_string(root.join("xapps/interference/config/demo.toml"))
        .unwrap()
        .replace(
            "../../../models/",
            &format!("{}/models/", root.canonicalize().unwrap().display()),
        );
    std::fs::write(&intf_cfg, format!("{intf_demo}{conflict}")).unwrap();
    let url = format!("http://{e2t}");
    let slice = Command::new(bin("slice-xapp"))
        .arg("--config")
        .arg(&slice_cfg)
        .args(["--e2t", &url, "--duration", "30", "--metrics-listen", "off"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let intf = Command::new(bin("interference-xapp"))
        .arg("--config")
        .arg(&intf_cfg)
        .args(["--e2t", &url, "--duration", "30", "--metrics-listen", "off"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let slice_out = slice.wait_with_output().unwrap();
    let intf_out = intf.wait_with_output().unwrap();
    assert!(slice_out.status.success());
    assert!(intf_out.status.success());

    // The node's control log: both xApps acted, and no parameter instance was controlled
    // by both within the guard window.
    let log = std::fs::read_to_string(&control_log).unwrap();
    let mut last: HashMap<(String, String, Option<u64>), (String, u64)> = HashMap::new();
    let mut by_app: HashMap<String, u64> = HashMap::new();
    for l in log.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let app = v["app_id"].as_str().unwrap().to_owned();
        let key = (
            v["cell"].as_str().unwrap().to_owned(),
            v["parameter"].as_str().unwrap().to_owned(),
            v["ue"].as_u64(),
        );
        let t = v["t_ms"].as_u64().unwrap();
        *by_app.entry(app.clone()).or_default() += 1;
        if let Some((prev, pt)) = last.get(&key) {
            assert!(
                *prev == app || t.saturating_sub(*pt) >= 2_000,
                "direct conflict reached the node: {key:?} by {prev} at {pt} then {app} at {t}"
            );
        }
        last.insert(key, (app, t));
    }
    assert!(by_app.get("slice-xapp").copied().unwrap_or(0) > 0, "{by_app:?}");
    assert!(by_app.get("interference-xapp").copied().unwrap_or(0) > 0, "{by_app:?}");

    // The manager counted indirect conflicts.
    let mut c = e2_proto::pb::conflict::conflict_guidance_client::ConflictGuidanceClient::connect(
        format!("http://{grpc}"),
    )
    .await
    .unwrap();
    let list = c
        .list_conflicts(e2_proto::pb::conflict::ListConflictsRequest {})
        .await
        .unwrap()
        .into_inner();
    let indirect: u64 = list
        .counts
        .iter()
        .filter(|n| n.kind == "indirect")
        .map(|n| n.count)
        .sum();
    assert!(indirect > 0, "{:?}", list.counts);
}
