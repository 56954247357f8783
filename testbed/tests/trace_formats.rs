//! Trace formats: column-mapping files, the ColO-RAN join, bad rows.

#![allow(clippy::unwrap_used)] // test helpers

use std::path::{Path, PathBuf};

use nf_core::{Meas, Snssai};
use testbed::coloran;
use testbed::mapping::{Mapping, MappingError, OnBadRow, bundled};
use testbed::trace::{self, CellTrace, Window};

fn close(a: &Window, b: &Window) -> bool {
    let same =
        |x: f32, y: f32| (x - y).abs() <= 1e-3 * x.abs().max(1.0) || (x.is_nan() && y.is_nan());
    a.start_ms == b.start_ms
        && a.slices.len() == b.slices.len()
        && Meas::ALL
            .iter()
            .all(|m| same(a.cell.get(*m), b.cell.get(*m)))
        && a.slices.iter().zip(&b.slices).all(|((sa, ma), (sb, mb))| {
            sa == sb && Meas::PER_SLICE.iter().all(|m| same(ma.get(*m), mb.get(*m)))
        })
}

fn read(mapping: &Path, data: &Path) -> Vec<CellTrace> {
    let m = Mapping::load(mapping).unwrap();
    let files = m.files(data).unwrap();
    let (rows, report) = m.read_rows(&files, OnBadRow::Stop).unwrap();
    assert_eq!(report.bad_rows, 0);
    m.to_cells(&rows).unwrap()
}

#[test]
fn scope_mapping_file_matches_the_scope_reader() {
    let by_code = trace::read_cells(&trace::bundled_root()).unwrap();
    let by_mapping = read(&bundled("scope"), &trace::bundled_root());
    assert_eq!(by_code.len(), by_mapping.len());
    for (c, m) in by_code.iter().zip(&by_mapping) {
        assert_eq!(c.name, m.name);
        assert_eq!(c.runs.len(), m.runs.len());
        let (wc, wm): (Vec<_>, Vec<_>) = (c.windows().collect(), m.windows().collect());
        assert_eq!(wc.len(), wm.len(), "{}", c.name);
        for (a, b) in wc.iter().zip(&wm) {
            assert!(close(a, b), "{}: {a:?}\n{b:?}", c.name);
        }
    }
}

#[test]
fn a_format_with_no_reader_code_is_ingested_through_its_mapping_file() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/vendor-x");
    let cells = read(&dir.join("mapping.toml"), &dir);
    assert_eq!(cells.len(), 1);
    assert_eq!(cells[0].name, "gnb-7/cell-A");
    assert_eq!(
        cells[0].slices(),
        vec![Snssai::new(1, None), Snssai::new(2, None)]
    );
    // The export is a rewrite of the first 160 rows per UE of this SCOPE cell: the windows
    // both UEs still cover must be the same KPM windows.
    let scope = trace::read_cell(&trace::bundled_root().join("single-ue-trial6")).unwrap();
    let vendor: Vec<&Window> = cells[0].windows().collect();
    let mut compared = 0;
    for w in &vendor[..vendor.len() - 8] {
        let s = scope.windows().find(|s| s.start_ms == w.start_ms).unwrap();
        assert!(close(s, w), "{s:?}\n{w:?}");
        compared += 1;
    }
    assert!(compared > 100, "{compared}");
    assert!(
        vendor
            .iter()
            .any(|w| w.slices[0].1.get(Meas::UeThpDl) > 1_000.0)
    );
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn bad_rows_are_named_counted_and_skipped_or_fatal() {
    let dir = temp_dir("bad-rows");
    let src = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/vendor-x/export.csv"),
    )
    .unwrap();
    let mut lines: Vec<String> = src.lines().take(40).map(str::to_owned).collect();
    lines[5] = lines[5].replacen(";5", ";x5", 1); // cqi `x5`
    lines[9] = lines[9].replacen("2022-12-12T", "2022/12/12T", 1); // bad time
    lines[20] = lines[3].clone(); // time goes backwards for that UE
    lines[30] = lines[30].split(';').take(4).collect::<Vec<_>>().join(";"); // short row
    std::fs::write(dir.join("export.csv"), lines.join("\n")).unwrap();
    let m = Mapping::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/vendor-x/mapping.toml"),
    )
    .unwrap();
    let files = m.files(&dir).unwrap();
    let err = m.read_rows(&files, OnBadRow::Stop).unwrap_err();
    assert!(matches!(err, MappingError::Bad(_)));
    let msg = err.to_string();
    assert!(
        msg.contains("export.csv:6") && msg.contains("`cqi` = `x5`"),
        "{msg}"
    );
    let (rows, report) = m.read_rows(&files, OnBadRow::Skip).unwrap();
    assert_eq!(report.bad_rows, 4, "{:?}", report.bad);
    let lines_named: Vec<u64> = report.bad.iter().map(|b| b.line).collect();
    assert_eq!(lines_named, vec![6, 10, 21, 31]);
    assert!(
        report.bad[1].problem.contains("is not %Y"),
        "{}",
        report.bad[1].problem
    );
    assert!(
        report.bad[2].problem.contains("backwards"),
        "{}",
        report.bad[2].problem
    );
    assert!(
        report.bad[3].problem.contains("fields"),
        "{}",
        report.bad[3].problem
    );
    assert_eq!(rows.len(), 39 - 4);
    // A mapping naming a column the file lacks is refused with the column's name.
    let text = std::fs::read_to_string(&m.path)
        .unwrap()
        .replace("\"buffer_kB\"", "\"buf_kb\"");
    std::fs::write(dir.join("m.toml"), text).unwrap();
    let e = Mapping::load(&dir.join("m.toml"))
        .unwrap()
        .read_rows(&files, OnBadRow::Skip)
        .unwrap_err();
    assert!(e.to_string().contains("missing column `buf_kb`"), "{e}");
    // And a measurement the xApp does not know is refused when aggregated into cells.
    let text = std::fs::read_to_string(&m.path)
        .unwrap()
        .replace("VS.DlCqiMean", "VS.Made.Up");
    std::fs::write(dir.join("m.toml"), text).unwrap();
    let m2 = Mapping::load(&dir.join("m.toml")).unwrap();
    let (rows, _) = m2.read_rows(&files, OnBadRow::Skip).unwrap();
    assert!(
        m2.to_cells(&rows)
            .unwrap_err()
            .to_string()
            .contains("`VS.Made.Up` is not one the xApp knows")
    );
}

#[test]
fn coloran_ue_clock_is_aligned_to_the_cell_file() {
    let Some(root) = trace::shared_root().map(|p| p.join("../coloran/sched0-tr0-exp1-bs1")) else {
        eprintln!("../shared/traces absent: skipped");
        return;
    };
    let j = coloran::read(
        &root.join("bs1.csv"),
        &[&root.join("ue1.csv")],
        OnBadRow::Stop,
    )
    .unwrap();
    assert_eq!(j.report.bad_rows, 0);
    assert_eq!(j.cells.len(), 1);
    let windows: Vec<&Window> = j.cells[0].windows().collect();
    assert!(windows.len() > 1_200, "{}", windows.len());
    // The cell first counts a UE at row 242 (epoch 1617070525976); the UE attaches at its
    // 998 ms row (`is_attached` goes to 1): the shift puts that row on the cell's onset.
    let first_conn = windows
        .iter()
        .find(|w| w.cell.get(Meas::ConnMean) >= 1.0)
        .unwrap();
    let attached = j.ue_mapping.index_of("VS.Attached").unwrap();
    let ue_attach = j.ue_rows.iter().find(|r| r.values[attached] > 0.0).unwrap();
    assert_eq!(ue_attach.t_ms, 1_617_070_525_976);
    assert_eq!(first_conn.start_ms, 1_617_070_525_976 / 250 * 250);
    assert_eq!(j.ue_offsets_ms.len(), 1);
    // Every aligned UE row lands inside the cell file's time span.
    let (start, end) = (
        windows[0].start_ms as i64,
        windows[windows.len() - 1].start_ms as i64 + 250,
    );
    assert!(j.ue_rows.iter().all(|r| (start..end).contains(&r.t_ms)));
    // Bit rates are converted to kbit/s.
    let peak = windows
        .iter()
        .map(|w| w.cell.get(Meas::UeThpDl))
        .fold(0.0, f32::max);
    assert!((1_000.0..50_000.0).contains(&peak), "{peak}");
}

/// A small operator-style CSV: two UEs of slice 0 in one cell, 1 s windows.
const OPERATOR_MAPPING: &str = r#"
[format]
name = "operator"
period_ms = 1000
missing = ["-", "", "NA"]

[time]
column = "t"
format = "epoch_ms"

[cell]
value = "c1"

[slice]
column = "slice"
sst = { "0" = 1 }

[ue]
column = "ue"

[[measurement]]
name = "DRB.UEThpDl"
column = "thp"

[[measurement]]
name = "VS.DlCqiMean"
column = "cqi"
aggregate = "mean"
"#;

#[test]
fn missing_value_tokens_are_counted_no_values_never_zeros() {
    let dir = temp_dir("missing-tokens");
    std::fs::write(dir.join("m.toml"), OPERATOR_MAPPING).unwrap();
    std::fs::write(
        dir.join("op.csv"),
        "t,slice,ue,thp,cqi\n\
         1000,0,a,100,7\n1000,0,b,-,9\n\
         2000,0,a,NA,-\n2000,0,b,-,\n\
         3000,0,a,300,NA\n",
    )
    .unwrap();
    let m = Mapping::load(&dir.join("m.toml")).unwrap();
    let (rows, report) = m
        .read_rows(&m.files(&dir).unwrap(), OnBadRow::Stop)
        .unwrap();
    // No row is lost: the tokens are values that are missing, not bad rows.
    assert_eq!((rows.len(), report.bad_rows), (5, 0));
    assert_eq!(report.missing_values, 6);
    assert_eq!(report.missing_by_column["thp"], 3);
    assert_eq!(report.missing_by_column["cqi"], 3);
    let cells = m.to_cells(&rows).unwrap();
    let w: Vec<&Window> = cells[0].windows().collect();
    let slice = |i: usize| w[i].slices[0].1;
    // Window 1: one UE missing is left out of the sum and the mean.
    assert_eq!(slice(0).get(Meas::UeThpDl), 100.0);
    assert_eq!(slice(0).get(Meas::DlCqiMean), 8.0);
    // Window 2: every value missing: no value (NaN, sent as KPM noValue), not 0.
    assert!(slice(1).get(Meas::UeThpDl).is_nan());
    assert!(slice(1).get(Meas::DlCqiMean).is_nan());
    assert!(slice(2).get(Meas::DlCqiMean).is_nan());
    // A `-` that is not declared missing is a bad row, named.
    let strict = OPERATOR_MAPPING.replace("missing = [\"-\", \"\", \"NA\"]", "");
    std::fs::write(dir.join("m.toml"), strict).unwrap();
    let m = Mapping::load(&dir.join("m.toml")).unwrap();
    let err = m
        .read_rows(&m.files(&dir).unwrap(), OnBadRow::Stop)
        .unwrap_err();
    assert!(err.to_string().contains("`thp` = `-`"), "{err}");
}

#[test]
fn a_ue_with_two_rows_in_one_window_counts_once() {
    // UE `a`'s logger drifted: two rows fall into the 1 s window at 1000. Summed as rows it
    // would report 400 kbit/s and 3 UEs; per UE it is mean(100, 300) + 50 = 250 and 2 UEs.
    let dir = temp_dir("ue-twice");
    let mapping = OPERATOR_MAPPING.to_owned()
        + "\n[[measurement]]\nname = \"RRC.ConnMean\"\naggregate = \"count\"\n";
    std::fs::write(dir.join("m.toml"), mapping).unwrap();
    std::fs::write(
        dir.join("op.csv"),
        "t,slice,ue,thp,cqi\n1000,0,a,100,7\n1900,0,a,300,9\n1500,0,b,50,11\n",
    )
    .unwrap();
    let m = Mapping::load(&dir.join("m.toml")).unwrap();
    let (rows, _) = m
        .read_rows(&m.files(&dir).unwrap(), OnBadRow::Stop)
        .unwrap();
    let cells = m.to_cells(&rows).unwrap();
    let w: Vec<&Window> = cells[0].windows().collect();
    let slice = w[0].slices[0].1;
    assert_eq!(slice.get(Meas::UeThpDl), 250.0);
    assert_eq!(slice.get(Meas::ConnMean), 2.0);
    // The mean across UEs is of per-UE means: (8 + 11) / 2.
    assert_eq!(slice.get(Meas::DlCqiMean), 9.5);
}

#[test]
fn duplicate_names_and_wrong_levels_are_refused_by_name() {
    let dir = temp_dir("mapping-refusals");
    let refused = |extra: &str| {
        std::fs::write(dir.join("m.toml"), format!("{OPERATOR_MAPPING}\n{extra}")).unwrap();
        Mapping::load(&dir.join("m.toml")).unwrap_err().to_string()
    };
    let e = refused("[[measurement]]\nname = \"DRB.UEThpDl\"\ncolumn = \"cqi\"\n");
    assert!(e.contains("`DRB.UEThpDl` is mapped twice"), "{e}");
    let e = refused("[[measurement]]\nname = \"RRU.PrbUsedDl\"\ncolumn = \"thp\"\ncell = true\n");
    assert!(
        e.contains("`RRU.PrbUsedDl` is per slice") && e.contains("cell = false"),
        "{e}"
    );
    let e = refused("[[measurement]]\nname = \"RRU.PrbAvailDl\"\nvalue = 50.0\n");
    assert!(
        e.contains("`RRU.PrbAvailDl` is cell-level") && e.contains("cell = true"),
        "{e}"
    );
}

#[test]
fn shipped_mappings_load_and_the_operator_csvs_read_through_theirs() {
    for name in [
        "scope",
        "scope-twin",
        "coloran-cell",
        "coloran-ue",
        "coloran-ue-kpm",
        "ucc5g",
        "synthetic-qp",
    ] {
        Mapping::load(&bundled(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let Some(root) = trace::shared_root().map(|p| p.join("../ucc5g")) else {
        println!("skipped: ../shared/traces is absent");
        return;
    };
    let m = Mapping::load(&bundled("ucc5g")).unwrap();
    let files = m.files(&root.join("Netflix")).unwrap();
    assert!(files.len() > 10, "{files:?}");
    let (rows, report) = m.read_rows(&files, OnBadRow::Skip).unwrap();
    // `-` marks values the phone did not report: counted, the rows kept.
    assert!(
        report.missing_values > 0 && report.bad_rows <= 2,
        "{report:?}"
    );
    let cells = m.to_cells(&rows).unwrap();
    assert!(cells.len() > 10);
    assert!(
        cells
            .iter()
            .all(|c| c.slices() == vec![Snssai::new(1, None)])
    );
}
