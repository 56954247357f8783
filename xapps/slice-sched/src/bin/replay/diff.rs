//! `replay diff A B`: which cells and ticks changed decision between two decision logs,
//! and by how much (quota ratio points).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// Baseline decision log (decisions.jsonl).
    a: PathBuf,
    /// Candidate decision log.
    b: PathBuf,
    /// Write the comparison as JSON here as well.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Changed decisions listed (largest first).
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
    quotas: Vec<(String, u8, u8, u8)>,
}

type Key = (u64, String, String, String);

fn read(path: &Path) -> anyhow::Result<BTreeMap<Key, Line>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            let line: Line =
                serde_json::from_str(l).with_context(|| format!("{}:{}", path.display(), i + 1))?;
            Ok((
                (
                    line.t_ms,
                    line.node.clone(),
                    line.cell.clone(),
                    line.role.clone(),
                ),
                line,
            ))
        })
        .collect()
}

/// Largest change of any ratio of any slice [points].
fn distance(a: &Line, b: &Line) -> u32 {
    let mut d = 0u32;
    for (qa, qb) in a.quotas.iter().zip(&b.quotas) {
        d = d
            .max(u32::from(qa.1.abs_diff(qb.1)))
            .max(u32::from(qa.2.abs_diff(qb.2)))
            .max(u32::from(qa.3.abs_diff(qb.3)));
    }
    if a.quotas.len() != b.quotas.len() {
        100
    } else {
        d
    }
}

#[derive(Debug, Default, serde::Serialize)]
struct CellDiff {
    decisions: u64,
    changed_quotas: u64,
    changed_action: u64,
    max_points: u32,
    sum_points: u64,
}

pub fn run(a: &DiffArgs) -> anyhow::Result<()> {
    let (la, lb) = (read(&a.a)?, read(&a.b)?);
    let mut per_cell: BTreeMap<String, CellDiff> = BTreeMap::new();
    let mut changes: Vec<(u32, &Key, &Line, &Line)> = Vec::new();
    let only_a = la.keys().filter(|k| !lb.contains_key(*k)).count();
    let only_b = lb.keys().filter(|k| !la.contains_key(*k)).count();
    for (k, x) in &la {
        let Some(y) = lb.get(k) else { continue };
        let c = per_cell.entry(format!("{}/{}", k.1, k.2)).or_default();
        c.decisions += 1;
        let d = distance(x, y);
        if d > 0 {
            c.changed_quotas += 1;
            c.max_points = c.max_points.max(d);
            c.sum_points += u64::from(d);
            changes.push((d, k, x, y));
        }
        if x.action != y.action {
            c.changed_action += 1;
        }
    }
    let both: u64 = per_cell.values().map(|c| c.decisions).sum();
    let changed: u64 = per_cell.values().map(|c| c.changed_quotas).sum();
    let actions: u64 = per_cell.values().map(|c| c.changed_action).sum();
    println!("decisions in both: {both}; only in A: {only_a}; only in B: {only_b}");
    println!(
        "quotas changed: {changed} ({:.1} %); action changed (sent vs suppressed): {actions}",
        100.0 * changed as f64 / both.max(1) as f64
    );
    println!(
        "{:<32} {:>9} {:>8} {:>8} {:>10}",
        "cell", "decisions", "changed", "max pts", "mean pts"
    );
    for (cell, c) in &per_cell {
        println!(
            "{:<32} {:>9} {:>8} {:>8} {:>10.2}",
            cell,
            c.decisions,
            c.changed_quotas,
            c.max_points,
            c.sum_points as f64 / c.changed_quotas.max(1) as f64
        );
    }
    changes.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(y.1)));
    for (d, k, x, y) in changes.iter().take(a.top) {
        println!(
            "  t_ms {} {}/{} ({}): {:?} → {:?} ({d} pts)",
            k.0, k.1, k.2, k.3, x.quotas, y.quotas
        );
    }
    if let Some(path) = &a.json {
        let json = serde_json::json!({
            "decisions_in_both": both,
            "only_in_a": only_a,
            "only_in_b": only_b,
            "quotas_changed": changed,
            "actions_changed": actions,
            "cells": per_cell,
        });
        std::fs::write(path, serde_json::to_string_pretty(&json)? + "\n")?;
    }
    Ok(())
}
