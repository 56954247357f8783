//! `replay`: the real xApp runtime over gRPC against the simulator playing a trace.

#![allow(clippy::unwrap_used)] // test helpers

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("replay-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn replay(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_replay"))
        .current_dir(root())
        .args(args)
        .args(if args[0] == "run" {
            &["--quiet"][..]
        } else {
            &[]
        })
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?}: {text}");
    text
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn same_trace_model_and_config_give_a_byte_identical_decision_log() {
    let d = scratch("same");
    let (a, b) = (d.join("a"), d.join("b"));
    let rec = d.join("session.airanrec");
    replay(&[
        "run",
        "--out",
        a.to_str().unwrap(),
        "--nodes",
        "2",
        "--record",
        rec.to_str().unwrap(),
    ]);
    replay(&["run", "--out", b.to_str().unwrap(), "--nodes", "2"]);
    let (la, lb) = (
        std::fs::read(a.join("decisions.jsonl")).unwrap(),
        std::fs::read(b.join("decisions.jsonl")).unwrap(),
    );
    assert_eq!(la, lb, "decision logs differ");
    let s = summary(&a);
    // Both bundled cells, every window played and decided (the first 7 fill the window).
    assert_eq!(s["indications_sent"], s["windows"]);
    let lines = la.iter().filter(|b| **b == b'\n').count() as u64;
    assert_eq!(lines, s["decisions"].as_u64().unwrap());
    assert_eq!(s["dropped_other"], 0);
    assert!(s["controls_sent"].as_u64().unwrap() > 100, "{s}");
    assert_eq!(s["controls_sent"], s["controls_accepted"]);
    let text = String::from_utf8(la).unwrap();
    assert!(
        text.lines()
            .all(|l| l.contains("\"digest\":\"") && l.contains("\"outputs\":[{"))
    );
    assert!(text.contains("\"action\":\"sent\",\"outcome\":\"accepted\""));
    assert!(text.contains("\"action\":\"hysteresis\",\"outcome\":\"none\""));

    // The session recording plays back to the same decisions as the trace it recorded.
    let c = d.join("c");
    replay(&[
        "run",
        "--out",
        c.to_str().unwrap(),
        "--nodes",
        "2",
        "--recording",
        rec.to_str().unwrap(),
    ]);
    let diff = replay(&[
        "diff",
        a.join("decisions.jsonl").to_str().unwrap(),
        c.join("decisions.jsonl").to_str().unwrap(),
    ]);
    assert!(
        diff.contains("only in A: 0; only in B: 0") && diff.contains("quotas changed: 0 "),
        "{diff}"
    );
    let rs = summary(&c);
    assert_eq!(rs["trace_read"]["indications"], s["indications_sent"]);
    assert_eq!(rs["trace_read"]["controls"], s["controls_received"]);
}

#[test]
fn diff_names_the_cells_and_ticks_that_changed() {
    let d = scratch("diff");
    let demo = root().join("xapps/slice-sched/config/demo.toml");
    let other = root().join("xapps/slice-sched/config/replay-headroom50.toml");
    let text = std::fs::read_to_string(&demo)
        .unwrap()
        .replace("headroom = 0.2 ", "headroom = 0.5 ");
    assert!(text.contains("headroom = 0.5"));
    std::fs::write(&other, text).unwrap();
    let (a, b) = (d.join("a"), d.join("b"));
    replay(&["run", "--out", a.to_str().unwrap()]);
    replay(&[
        "run",
        "--out",
        b.to_str().unwrap(),
        "--config",
        other.to_str().unwrap(),
    ]);
    let _ = std::fs::remove_file(&other);
    let json = d.join("diff.json");
    let out = replay(&[
        "diff",
        a.join("decisions.jsonl").to_str().unwrap(),
        b.join("decisions.jsonl").to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let changed = v["quotas_changed"].as_u64().unwrap();
    assert!(changed > 50, "{out}");
    assert!(out.contains("t_ms ") && out.contains("pts)"), "{out}");
    assert_eq!(v["cells"].as_object().unwrap().len(), 2);
}
