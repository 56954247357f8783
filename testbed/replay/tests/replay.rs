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
    if la != lb {
        // Name the first line that differs (the whole files would drown the report).
        let (ta, tb) = (String::from_utf8_lossy(&la), String::from_utf8_lossy(&lb));
        let (mut a_lines, mut b_lines) = (ta.lines(), tb.lines());
        let mut n = 0;
        let (x, y) = loop {
            n += 1;
            match (a_lines.next(), b_lines.next()) {
                (Some(x), Some(y)) if x == y => continue,
                (x, y) => break (x, y),
            }
        };
        panic!(
            "decision logs differ ({} and {} lines); first difference at line {n}:\n  a: {x:?}\n  b: {y:?}",
            ta.lines().count(),
            tb.lines().count()
        );
    }
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

/// Runs `replay` and returns (exit code, stdout + stderr).
/// `replay run --quiet --mapping M --input I --out O` plus `extra`: exit code and output.
fn replay_mapped(
    mapping: &Path,
    input: &Path,
    out: &Path,
    extra: &[&str],
) -> (Option<i32>, String) {
    let mut args = vec!["run", "--quiet", "--mapping"];
    args.push(mapping.to_str().unwrap());
    args.push("--input");
    args.push(input.to_str().unwrap());
    args.push("--out");
    args.push(out.to_str().unwrap());
    args.extend_from_slice(extra);
    replay_status(&args)
}

fn replay_status(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_replay"))
        .current_dir(root())
        .args(args)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

/// A mapping for the generated operator-style CSVs below: 1 s windows, relative time,
/// `-` / `NA` / empty as missing values.
const FIXTURE_MAPPING: &str = r#"
[format]
name = "generated operator CSV"
period_ms = 1000
run_gap_ms = 5000
missing = ["-", "NA", ""]

[time]
column = "t"
format = "relative_ms"

[cell]
column = "cell"

[slice]
column = "slice"
sst = { "0" = 1, "1" = 2 }

[ue]
column = "ue"

[[measurement]]
name = "RRU.PrbUsedDl"
column = "prb"

[[measurement]]
name = "DRB.UEThpDl"
column = "thp"

[[measurement]]
name = "VS.DlCqiMean"
column = "cqi"
aggregate = "mean"

[[measurement]]
name = "RRU.PrbAvailDl"
value = 50.0
cell = true
aggregate = "max"
"#;

/// Windows per run and runs per cell of [`fixture`].
const RUN_WINDOWS: u64 = 20;

/// Five cells whose first row is at time 0; each has a run with slice 0 only and, after a
/// gap, a run with slices 0 and 1 (so a window of the first run has no data for slice 1).
/// Every 7th value is written as a missing-value token.
fn fixture(dir: &Path) -> (PathBuf, PathBuf, u64) {
    let mapping = dir.join("fixture.toml");
    std::fs::write(&mapping, FIXTURE_MAPPING).unwrap();
    let mut csv = String::from("t,cell,slice,ue,prb,thp,cqi\n");
    let mut missing = 0;
    let tokens = ["-", "NA", ""];
    for cell in 1..=5 {
        for run in 0..2u64 {
            for w in 0..RUN_WINDOWS {
                let t = run * 60_000 + w * 1000;
                for slice in 0..=run {
                    let k = (cell * 100 + w + slice * 7) as usize;
                    let cqi = if k.is_multiple_of(7) {
                        missing += 1;
                        tokens[k % 3].to_owned()
                    } else {
                        format!("{}", 5 + k % 9)
                    };
                    let prb = 2 + (k * 13) % 30;
                    csv += &format!("{t},c{cell},{slice},u{slice},{prb},{},{cqi}\n", prb * 400);
                }
            }
        }
    }
    let input = dir.join("cells.csv");
    std::fs::write(&input, csv).unwrap();
    (mapping, input, missing)
}

#[test]
fn slices_without_data_time_zero_odd_node_split_and_period_reach_the_xapp() {
    let d = scratch("fixture");
    let (mapping, input, missing) = fixture(&d);
    let out = d.join("max");
    let play = |out: &Path, speed: &str| {
        let extra = [
            "--missing-inputs",
            "impute-zero",
            "--nodes",
            "2",
            "--speed",
            speed,
        ];
        replay_mapped(&mapping, &input, out, &extra)
    };
    let (code, text) = play(&out, "max");
    assert_eq!(code, Some(0), "{text}");
    let s = summary(&out);
    // 5 cells over 2 nodes: 5, not 6.
    assert_eq!(s["cells"], 5, "{s}");
    // Every window, the one at time 0 included, reached the xApp; none was rejected.
    let windows = 5 * 2 * RUN_WINDOWS;
    assert_eq!(s["windows"], windows, "{s}");
    assert_eq!(s["indications_received"], windows, "{s}");
    assert_eq!(s["rejected"], 0, "{text}");
    assert_eq!(s["unexplained_loss"], serde_json::json!({}), "{s}");
    // Slice 1 has no data in the first run: KPM noValue records, not rejections.
    assert!(
        s["skipped_measurements"]["no_value"].as_u64().unwrap() > 0,
        "{s}"
    );
    assert_eq!(s["trace_read"]["missing_values"], missing, "{s}");
    // The mapping's 1 s period is the subscription's and the speed-up's.
    assert_eq!(s["period_ms"], 1000);
    assert_eq!(s["trace_s_per_cell"], (2 * RUN_WINDOWS) as f64);
    assert!(s["decisions"].as_u64().unwrap() > 0, "{s}");
    assert!(text.contains("(1000 ms each)"), "{text}");

    // A paced replay decides exactly as the max-speed one: nothing dropped by age.
    let paced = d.join("paced");
    let (code, text) = play(&paced, "20");
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(summary(&paced)["dropped_past_budget"], 0);
    assert!(summary(&paced)["controls_late"].is_u64());
    assert_eq!(
        std::fs::read(out.join("decisions.jsonl")).unwrap(),
        std::fs::read(paced.join("decisions.jsonl")).unwrap(),
        "paced and max-speed decision logs differ"
    );
}

#[test]
fn input_without_mapping_is_refused() {
    let (code, text) = replay_status(&["run", "--input", "somewhere.csv"]);
    assert_ne!(code, Some(0), "{text}");
    assert!(text.contains("--mapping"), "{text}");
}

#[test]
fn a_run_that_loses_windows_fails_and_names_why() {
    // 17 slices in one cell: the xApp refuses the E2 node (at most 16 slices), so no
    // window is ever read. The replay must not end with a clean summary.
    let d = scratch("loss");
    let mapping = d.join("m.toml");
    std::fs::write(
        &mapping,
        "[format]\nname = \"x\"\nperiod_ms = 250\n[time]\ncolumn = \"t\"\nformat = \"epoch_ms\"\n\
         [cell]\nvalue = \"c\"\n[slice]\ncolumn = \"s\"\n\
         [[measurement]]\nname = \"RRU.PrbUsedDl\"\ncolumn = \"prb\"\n",
    )
    .unwrap();
    let mut csv = String::from("t,s,prb\n");
    for s in 1..=17 {
        csv += &format!("1700000000000,{s},1\n");
    }
    let input = d.join("c.csv");
    std::fs::write(&input, csv).unwrap();
    let (code, text) = replay_mapped(
        &mapping,
        &input,
        &d.join("out"),
        &["--missing-inputs", "impute-zero", "--stall-timeout", "3"],
    );
    // The runtime finds no node it can serve and says why; no clean summary.
    assert!(matches!(code, Some(c) if c != 0), "{text}");
    assert!(
        text.contains("slices: 17 exceeds the limit of 16"),
        "{text}"
    );
    assert!(text.contains("no E2 node offering KPM"), "{text}");
    assert!(!text.contains("replayed "), "{text}");
}

#[test]
fn a_trace_without_the_models_inputs_is_refused_unless_imputation_is_asked_for() {
    // The fixture has PRBs, throughput and CQI, not the UE count, buffer or PRB demand the
    // forecaster reads: its cells are refused (a loss that fails the run), by name.
    let d = scratch("missing");
    let (mapping, input, _) = fixture(&d);
    let (code, text) = replay_mapped(&mapping, &input, &d.join("out"), &[]);
    // Refused before anything plays, naming what is missing and the way out.
    assert_eq!(code, Some(1), "{text}");
    for name in [
        "RRC.ConnMean",
        "VS.DlBufferBytes",
        "VS.PrbReqDl",
        "--missing-inputs",
    ] {
        assert!(text.contains(name), "{name}: {text}");
    }
    assert!(!text.contains("replayed "), "{text}");
}

#[test]
fn an_idle_trace_with_rare_controls_plays_to_its_end_the_same_every_run() {
    // 20 idle cells: after the first controls almost nothing changes, so controls are rare.
    // The replay must still play every window, and give one decision log.
    let d = scratch("idle");
    let mapping = d.join("fixture.toml");
    std::fs::write(&mapping, FIXTURE_MAPPING).unwrap();
    let mut csv = String::from("t,cell,slice,ue,prb,thp,cqi\n");
    for cell in 1..=20 {
        for w in 0..60 {
            csv += &format!("{},c{cell},0,u1,0,0,7\n", w * 1000);
        }
    }
    let input = d.join("idle.csv");
    std::fs::write(&input, csv).unwrap();
    let logs: Vec<Vec<u8>> = ["a", "b"]
        .iter()
        .map(|run| {
            let out = d.join(run);
            let extra = ["--missing-inputs", "impute-zero", "--nodes", "3"];
            let (code, text) = replay_mapped(&mapping, &input, &out, &extra);
            assert_eq!(code, Some(0), "{text}");
            let s = summary(&out);
            assert_eq!(s["indications_received"], 20 * 60, "{s}");
            assert!(s["controls_sent"].as_u64().unwrap() < 200, "{s}");
            std::fs::read(out.join("decisions.jsonl")).unwrap()
        })
        .collect();
    assert_eq!(
        logs[0], logs[1],
        "two runs of one idle trace decided differently"
    );
}
