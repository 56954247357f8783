//! `replay diff` on two decision logs written by the runtime's own log writer: readable rows
//! whose text and `--json` agree, refusal of an unversioned log, and a quiet exit when the
//! reader closes stdout.

#![allow(clippy::unwrap_used)] // test helpers

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nf_core::policy::SliceQuota;
use nf_core::{CellId, Snssai};
use nf_runtime::decisions::{DecisionLog, DecisionRecord, FORMAT, digest};

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("replay-diff-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A log of `cells` × `ticks` decisions over two slices; `shift` moves the eMBB maximum of
/// cell 1 on every third tick (0: no change).
fn write_log(path: &Path, cells: u64, ticks: u64, shift: u8) {
    let file = std::fs::File::create(path).unwrap();
    let log = DecisionLog::new(Box::new(file), 0, false);
    for k in 0..ticks {
        for n in 0..cells {
            let cell = CellId::new([0, 0xf1, 0x10], n);
            let moved = if n == 1 && k % 3 == 0 { shift } else { 0 };
            let quotas = [
                SliceQuota {
                    snssai: Snssai::new(1, Some(1)),
                    min_ratio: 20,
                    max_ratio: 70 + moved,
                    dedicated_ratio: 0,
                },
                SliceQuota {
                    snssai: Snssai::new(2, Some(2)),
                    min_ratio: 10,
                    max_ratio: 30,
                    dedicated_ratio: 5,
                },
            ];
            let record = DecisionRecord {
                format: FORMAT,
                t_ms: 1_000 + 250 * k,
                node: "gnb-1".into(),
                cell: cell.to_string(),
                arm: "default".into(),
                role: "acting",
                digest: digest(&[k as f32]),
                outputs: Vec::new(),
                quotas: DecisionRecord::quotas_of(&quotas),
                action: "sent",
                model: None,
                a1_instances: None,
                decided_by: None,
                remote_result: None,
                remote_outputs: None,
                outcome: "accepted".into(),
                latency_us: None,
            };
            log.add((record.t_ms, "gnb-1".into(), cell, false), record);
        }
    }
    log.close();
}

fn replay() -> Command {
    Command::new(env!("CARGO_BIN_EXE_replay"))
}

#[test]
fn text_rows_and_json_carry_the_same_changes() {
    let d = scratch("rows");
    let (a, b, json) = (d.join("a.jsonl"), d.join("b.jsonl"), d.join("diff.json"));
    write_log(&a, 2, 30, 0);
    write_log(&b, 2, 30, 8);
    let out = replay()
        .args([
            "diff",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--top",
            "0",
        ])
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["decisions_in_both"], 60);
    assert_eq!(v["quotas_changed"], 10);
    assert!(
        text.contains("decisions in both: 60; only in A: 0; only in B: 0"),
        "{text}"
    );
    assert!(text.contains("quotas changed: 10 (16.7 %)"), "{text}");
    assert!(text.contains("outcome changed: 0"), "{text}");
    assert_eq!(v["outcomes_changed"], 0);
    let rows: Vec<&str> = text.lines().filter(|l| l.contains(" t_ms ")).collect();
    let changes = v["changes"].as_array().unwrap();
    assert_eq!(rows.len(), 10, "{text}");
    assert_eq!(changes.len(), rows.len());
    for (row, c) in rows.iter().zip(changes) {
        let expected = format!(
            "{}  t_ms {}  {}  slice {}  {}/{}/{} → {}/{}/{}  ({} pts)",
            c["cell"].as_str().unwrap(),
            c["t_ms"],
            c["role"].as_str().unwrap(),
            c["slice"].as_str().unwrap(),
            c["a"]["min_ratio"],
            c["a"]["max_ratio"],
            c["a"]["dedicated_ratio"],
            c["b"]["min_ratio"],
            c["b"]["max_ratio"],
            c["b"]["dedicated_ratio"],
            c["points"],
        );
        assert_eq!(row.trim(), expected);
        assert_eq!(c["a"]["max_ratio"], 70);
        assert_eq!(c["b"]["max_ratio"], 78);
        assert_eq!(c["points"], 8);
    }
}

#[test]
fn an_unversioned_log_is_refused_naming_the_line() {
    let d = scratch("old");
    let (a, old) = (d.join("a.jsonl"), d.join("old.jsonl"));
    write_log(&a, 1, 2, 0);
    std::fs::write(
        &old,
        r#"{"t_ms":1000,"node":"gnb-1","cell":"c","role":"acting","action":"sent","quotas":[]}"#,
    )
    .unwrap();
    let out = replay()
        .args(["diff", a.to_str().unwrap(), old.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("old.jsonl:1") && err.contains(FORMAT), "{err}");
}

#[test]
fn a_closed_stdout_ends_the_listing_quietly() {
    let d = scratch("pipe");
    let (a, b) = (d.join("a.jsonl"), d.join("b.jsonl"));
    // Far more rows than a pipe buffers (64 KiB).
    write_log(&a, 2, 12_000, 0);
    write_log(&b, 2, 12_000, 8);
    let mut child = replay()
        .args([
            "diff",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--top",
            "0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // `| head -1`: the reader is gone after one line.
    assert!(first.starts_with("decisions in both:"), "{first}");
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {err}", out.status);
    assert!(err.is_empty(), "{err}");
}
