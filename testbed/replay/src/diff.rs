//! `replay diff A B`: which cells and report times changed decision between two decision
//! logs (`airan.decisions.v1`), slice by slice, and by how much (quota ratio points).
//!
//! The text and `--json` carry the same content: the summary, the per-cell table and the
//! changed rows (cell, time, role, slice, quota in A → quota in B). A closed stdout (`| head`)
//! ends the listing quietly.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use nf_runtime::decisions::{FORMAT, QuotaEntry, SliceQuotaEntry};
use serde::Deserialize;

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// Baseline decision log (decisions.jsonl).
    a: PathBuf,
    /// Candidate decision log.
    b: PathBuf,
    /// Write the comparison as JSON here as well (same content as the text).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Changed slice rows listed, largest change first (0: all).
    #[arg(long, default_value_t = 10)]
    top: usize,
}

#[derive(Debug, Deserialize)]
struct Line {
    t_ms: u64,
    node: String,
    cell: String,
    role: String,
    action: String,
    outcome: String,
    quotas: Vec<SliceQuotaEntry>,
}

/// (time, node, cell, role).
type Key = (u64, String, String, String);

fn parse_line(path: &Path, no: usize, text: &str) -> anyhow::Result<Line> {
    let value: serde_json::Value = serde_json::from_str(text)
        .with_context(|| format!("{}:{no}: not a JSON object", path.display()))?;
    match value.get("format").and_then(serde_json::Value::as_str) {
        Some(FORMAT) => serde_json::from_value(value)
            .with_context(|| format!("{}:{no}: not a {FORMAT} line", path.display())),
        Some(other) => bail!(
            "{}:{no}: format `{other}`, expected `{FORMAT}`",
            path.display()
        ),
        None => bail!(
            "{}:{no}: no `format` field (expected `{FORMAT}`): a log from an older xApp",
            path.display()
        ),
    }
}

fn read(path: &Path) -> anyhow::Result<BTreeMap<Key, Line>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let line = parse_line(path, i + 1, l)?;
            let key = (
                line.t_ms,
                line.node.clone(),
                line.cell.clone(),
                line.role.clone(),
            );
            Ok((key, line))
        })
        .collect()
}

/// Largest change of any ratio [points]; 100 when the slice is missing on one side.
fn points(a: Option<&QuotaEntry>, b: Option<&QuotaEntry>) -> u32 {
    match (a, b) {
        (Some(a), Some(b)) => u32::from(
            a.min_ratio
                .abs_diff(b.min_ratio)
                .max(a.max_ratio.abs_diff(b.max_ratio))
                .max(a.dedicated_ratio.abs_diff(b.dedicated_ratio)),
        ),
        (None, None) => 0,
        _ => 100,
    }
}

/// One slice whose quota differs between the logs.
#[derive(Debug, serde::Serialize)]
struct ChangeRow {
    cell: String,
    t_ms: u64,
    role: String,
    slice: String,
    /// Quota in A (`null`: the slice is not in A's decision).
    a: Option<QuotaEntry>,
    /// Quota in B.
    b: Option<QuotaEntry>,
    points: u32,
}

#[derive(Debug, Default, serde::Serialize)]
struct CellDiff {
    decisions: u64,
    changed_quotas: u64,
    changed_action: u64,
    /// Same action, other outcome (e.g. `accepted` vs `timeout`).
    changed_outcome: u64,
    max_points: u32,
    sum_points: u64,
}

#[derive(Debug, Default, serde::Serialize)]
struct Comparison {
    decisions_in_both: u64,
    only_in_a: usize,
    only_in_b: usize,
    quotas_changed: u64,
    actions_changed: u64,
    outcomes_changed: u64,
    cells: BTreeMap<String, CellDiff>,
    /// Rows listed (largest change first), at most `--top` unless 0.
    changes: Vec<ChangeRow>,
    /// Changed slice rows in all, listed or not.
    changed_rows: usize,
}

fn slice_rows(k: &Key, x: &Line, y: &Line) -> Vec<ChangeRow> {
    if x.quotas == y.quotas {
        return Vec::new();
    }
    let by_slice = |l: &Line| -> BTreeMap<String, QuotaEntry> {
        l.quotas
            .iter()
            .map(|q| (q.snssai.clone(), q.quota))
            .collect()
    };
    let (qa, qb) = (by_slice(x), by_slice(y));
    let mut slices: Vec<&String> = qa.keys().chain(qb.keys()).collect();
    slices.sort();
    slices.dedup();
    slices
        .into_iter()
        .filter_map(|s| {
            let (a, b) = (qa.get(s), qb.get(s));
            let points = points(a, b);
            (a != b).then(|| ChangeRow {
                cell: format!("{}/{}", k.1, k.2),
                t_ms: k.0,
                role: k.3.clone(),
                slice: s.clone(),
                a: a.copied(),
                b: b.copied(),
                points,
            })
        })
        .collect()
}

fn compare(la: &BTreeMap<Key, Line>, lb: &BTreeMap<Key, Line>, top: usize) -> Comparison {
    let mut c = Comparison {
        only_in_a: la.keys().filter(|k| !lb.contains_key(*k)).count(),
        only_in_b: lb.keys().filter(|k| !la.contains_key(*k)).count(),
        ..Comparison::default()
    };
    for (k, x) in la {
        let Some(y) = lb.get(k) else { continue };
        let cell = c.cells.entry(format!("{}/{}", k.1, k.2)).or_default();
        cell.decisions += 1;
        let rows = slice_rows(k, x, y);
        if let Some(d) = rows.iter().map(|r| r.points).max() {
            cell.changed_quotas += 1;
            cell.max_points = cell.max_points.max(d);
            cell.sum_points += u64::from(d);
        }
        cell.changed_action += u64::from(x.action != y.action);
        cell.changed_outcome += u64::from(x.action == y.action && x.outcome != y.outcome);
        c.changes.extend(rows);
    }
    c.decisions_in_both = c.cells.values().map(|x| x.decisions).sum();
    c.quotas_changed = c.cells.values().map(|x| x.changed_quotas).sum();
    c.actions_changed = c.cells.values().map(|x| x.changed_action).sum();
    c.outcomes_changed = c.cells.values().map(|x| x.changed_outcome).sum();
    c.changed_rows = c.changes.len();
    c.changes.sort_by(|x, y| {
        y.points
            .cmp(&x.points)
            .then(x.t_ms.cmp(&y.t_ms))
            .then(x.cell.cmp(&y.cell))
            .then(x.slice.cmp(&y.slice))
    });
    if top > 0 {
        c.changes.truncate(top);
    }
    c
}

fn quota(q: Option<&QuotaEntry>) -> String {
    q.map_or_else(
        || "(absent)".into(),
        |q| format!("{}/{}/{}", q.min_ratio, q.max_ratio, q.dedicated_ratio),
    )
}

fn write_text(c: &Comparison, out: &mut impl Write) -> io::Result<()> {
    writeln!(
        out,
        "decisions in both: {}; only in A: {}; only in B: {}",
        c.decisions_in_both, c.only_in_a, c.only_in_b
    )?;
    writeln!(
        out,
        "quotas changed: {} ({:.1} %); action changed (sent vs suppressed): {}; outcome changed: {}",
        c.quotas_changed,
        100.0 * c.quotas_changed as f64 / c.decisions_in_both.max(1) as f64,
        c.actions_changed,
        c.outcomes_changed
    )?;
    writeln!(
        out,
        "{:<32} {:>9} {:>8} {:>8} {:>10}",
        "cell", "decisions", "changed", "max pts", "mean pts"
    )?;
    for (cell, d) in &c.cells {
        writeln!(
            out,
            "{:<32} {:>9} {:>8} {:>8} {:>10.2}",
            cell,
            d.decisions,
            d.changed_quotas,
            d.max_points,
            d.sum_points as f64 / d.changed_quotas.max(1) as f64
        )?;
    }
    writeln!(
        out,
        "changed slice quotas, min/max/dedicated % (A → B), {} of {}:",
        c.changes.len(),
        c.changed_rows
    )?;
    for r in &c.changes {
        writeln!(
            out,
            "  {}  t_ms {}  {}  slice {}  {} → {}  ({} pts)",
            r.cell,
            r.t_ms,
            r.role,
            r.slice,
            quota(r.a.as_ref()),
            quota(r.b.as_ref()),
            r.points
        )?;
    }
    out.flush()
}

pub fn run(a: &DiffArgs) -> anyhow::Result<()> {
    let (la, lb) = (read(&a.a)?, read(&a.b)?);
    let c = compare(&la, &lb, a.top);
    if let Some(path) = &a.json {
        std::fs::write(path, serde_json::to_string_pretty(&c)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let mut out = io::BufWriter::new(io::stdout().lock());
    match write_text(&c, &mut out) {
        // The reader went away (`| head`): what it wanted is printed.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write to stdout"),
    }
}
