//! The real-trace gauntlet: every recorded trace folder under `../shared/traces` played
//! through the E2T simulator to the real xApp (`replay run`, real onnxruntime, gRPC on
//! loopback), one replay process per folder, one folder after the other. Each must end
//! with exit 0, no unexplained loss, every window the trace reader produced read by the
//! xApp, and every window read either decided or not for a named reason. Skips, saying
//! so, where `../shared/traces` is absent.

#![allow(clippy::unwrap_used)] // test helpers

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One folder of the gauntlet and how it is read.
struct Case {
    name: &'static str,
    /// `replay run` arguments naming the input.
    input: Vec<String>,
    /// Every cell must get decisions (the model's inputs are all in the stream).
    decides_every_cell: bool,
    /// Trace rows the reader must skip (`--on-bad-row skip`), each counted with a reason:
    /// (reason, rows). Empty: not one bad row.
    bad_rows: &'static [(&'static str, u64)],
}

fn scope(name: &'static str, folder: &str, traces: &Path) -> Case {
    scope_accepting(name, folder, traces, &[])
}

/// A SCOPE trace whose recording holds windows the xApp must refuse, each named.
fn scope_accepting(name: &'static str, folder: &str, traces: &Path, accept: &[&str]) -> Case {
    let mut input = vec![
        "--trace".to_owned(),
        traces.join(folder).to_string_lossy().into(),
    ];
    for a in accept {
        input.extend(["--accept-loss".to_owned(), (*a).to_owned()]);
    }
    Case {
        name,
        input,
        decides_every_cell: true,
        bad_rows: &[],
    }
}

/// A SCOPE trace holding rows the reader must skip, read with `--on-bad-row skip`; the
/// skipped rows are counted per reason and must be exactly `bad_rows`.
fn scope_skipping(
    name: &'static str,
    folder: &str,
    traces: &Path,
    bad_rows: &'static [(&'static str, u64)],
) -> Case {
    let mut case = scope(name, folder, traces);
    case.input
        .extend(["--on-bad-row".to_owned(), "skip".to_owned()]);
    case.bad_rows = bad_rows;
    case
}

/// A spreadsheet re-save wrote every `Timestamp` of one class file as `1.66716E+12` (6
/// significant digits, no millisecond precision): SingleUE Trial1's mMTC file (18,088 rows,
/// hours of traffic that would fold into one or two windows) and SingleUE Trial2's
/// (8,065 rows). Those rows are skipped, counted, and nothing else.
const TIMESTAMP_NOT_MS: &str = "time_not_ms_precision";

/// SCOPE counts PRB-TTIs over a report window that is not always exactly 250 TTIs: in the
/// multi-UE trials a few windows sum to more than 12,500 (multi10 at 1690905810313: four UEs,
/// 14,095), i.e. `RRU.PrbTotDl` above 100 %. A live xApp must refuse such a report; the
/// gauntlet accepts exactly that loss, by name, and checks it stays rare.
const OVER_100_PERCENT: &str = "rejected:measurement_out_of_range";

fn mapped(name: &'static str, mapping: &str, input: &Path, extra: &[&str]) -> Case {
    let mut args = vec![
        "--mapping".into(),
        root()
            .join("testbed/mappings")
            .join(format!("{mapping}.toml"))
            .to_string_lossy()
            .into(),
        "--input".into(),
        input.to_string_lossy().into(),
    ];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    Case {
        name,
        input: args,
        decides_every_cell: false,
        bad_rows: &[],
    }
}

/// These traces lack model inputs (no PRB request, buffer or UE-count columns): the xApp
/// refuses such cells unless told to impute, so the gauntlet says so explicitly.
const IMPUTE: &[&str] = &["--missing-inputs", "impute-zero"];

fn cases(traces: &Path) -> Vec<Case> {
    let coloran = traces.join("coloran/sched0-tr0-exp1-bs1");
    vec![
        scope("tractor", "tractor", traces),
        scope_accepting(
            "multi-ue-trial1",
            "tractor-trials/multi-ue-trial1",
            traces,
            &[OVER_100_PERCENT],
        ),
        scope_accepting(
            "multi-ue-trial2",
            "tractor-trials/multi-ue-trial2",
            traces,
            &[OVER_100_PERCENT],
        ),
        scope_skipping(
            "single-ue-trial1",
            "tractor-trials/single-ue-trial1",
            traces,
            &[(TIMESTAMP_NOT_MS, 18_088)],
        ),
        scope_skipping(
            "single-ue-trial2",
            "tractor-trials/single-ue-trial2",
            traces,
            &[(TIMESTAMP_NOT_MS, 8_065)],
        ),
        scope(
            "single-ue-trial5",
            "tractor-trials/single-ue-trial5",
            traces,
        ),
        mapped(
            "coloran-cell",
            "coloran-cell",
            &coloran.join("bs1.csv"),
            IMPUTE,
        ),
        mapped(
            "coloran-ue",
            "coloran-ue-kpm",
            &coloran.join("ue1.csv"),
            IMPUTE,
        ),
        // One row of a phone log steps back a second: skipped by request, and counted.
        Case {
            bad_rows: &[("time_backwards", 1)],
            ..mapped(
                "ucc5g",
                "ucc5g",
                &traces.join("ucc5g"),
                &["--on-bad-row", "skip", IMPUTE[0], IMPUTE[1]],
            )
        },
        // Synthetic (ric-app-qp simulator output): plumbing only.
        mapped(
            "synthetic-qp",
            "synthetic-qp",
            &traces.join("synthetic-qp/cells.csv"),
            IMPUTE,
        ),
    ]
}

/// Windows read that led to no decision, summed over every named reason.
fn not_decided(s: &serde_json::Value) -> u64 {
    let sum = |key: &str| -> u64 {
        s[key].as_object().map_or(0, |m| {
            m.values().filter_map(serde_json::Value::as_u64).sum()
        })
    };
    [
        "rejected_by_reason",
        "not_ingested_by_reason",
        "undecided_by_reason",
        "dropped_by_reason",
    ]
    .iter()
    .map(|k| sum(k))
    .sum()
}

/// Cells named in a decision log.
fn decided_cells(log: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get("cell").map(ToString::to_string))
        .collect()
}

fn play(case: &Case, out: &Path) -> serde_json::Value {
    let started = Instant::now();
    let run = Command::new(env!("CARGO_BIN_EXE_replay"))
        .current_dir(root())
        .env("RUST_LOG", "error")
        .args(["run", "--quiet", "--out"])
        .arg(out)
        .args(&case.input)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&run.stdout).into_owned() + &String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{}: {text}", case.name);
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    println!(
        "gauntlet {:<17} {:>7} windows {:>4} cells {:>7} decisions {:>6} rows skipped  {:>6.1} s",
        case.name,
        s["windows"],
        s["cells"],
        s["decisions"],
        s["trace_read"]["bad_rows"],
        started.elapsed().as_secs_f64()
    );
    s
}

#[test]
fn every_window_of_every_recorded_trace_reaches_the_xapp() {
    let traces = root().join("../shared/traces");
    if !traces.join("README.md").is_file() {
        println!("skipped: {} is absent", traces.display());
        return;
    }
    let scratch = std::env::temp_dir().join(format!("gauntlet-{}", std::process::id()));
    let started = Instant::now();
    for case in cases(&traces) {
        let out = scratch.join(case.name);
        let s = play(&case, &out);
        let windows = s["windows"].as_u64().unwrap();
        assert!(windows > 0, "{}: {s}", case.name);
        // Rows the reader skipped: exactly the known ones, each with its reason.
        let want: serde_json::Map<String, serde_json::Value> = case
            .bad_rows
            .iter()
            .map(|(r, n)| ((*r).to_owned(), (*n).into()))
            .collect();
        assert_eq!(
            s["trace_read"]["bad_by_reason"],
            serde_json::Value::Object(want),
            "{}: rows skipped by the reader",
            case.name
        );
        assert_eq!(
            s["trace_read"]["bad_rows"].as_u64(),
            Some(case.bad_rows.iter().map(|(_, n)| n).sum()),
            "{}",
            case.name
        );
        assert_eq!(s["indications_sent"], windows, "{}: {s}", case.name);
        assert_eq!(s["indications_received"], windows, "{}: {s}", case.name);
        // Rejections only where accepted by name, and rare: < 0.01 % of the windows.
        let accepted: u64 = s["accepted_loss"].as_object().map_or(0, |m| {
            m.values().filter_map(serde_json::Value::as_u64).sum()
        });
        assert_eq!(s["rejected"].as_u64(), Some(accepted), "{}: {s}", case.name);
        assert!(accepted * 10_000 < windows, "{}: {s}", case.name);
        assert_eq!(
            s["unexplained_loss"],
            serde_json::json!({}),
            "{}",
            case.name
        );
        assert_eq!(
            windows,
            s["decisions"].as_u64().unwrap() + not_decided(&s),
            "{}: a window read but neither decided nor given a reason: {s}",
            case.name
        );
        if case.decides_every_cell {
            let cells = decided_cells(&out.join("decisions.jsonl"));
            assert_eq!(
                cells.len() as u64,
                s["cells"].as_u64().unwrap(),
                "{}: a cell got no decision ({cells:?})",
                case.name
            );
        }
    }
    println!(
        "gauntlet: every folder in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&scratch);
}
