//! The plot of a `hybridbench` sweep: decision latency (p50, p99) and the share of
//! decisions the remote model served, against the emulated WAN round trip, per placement
//! mode. It is drawn from the Markdown table `hybridbench` prints, so a saved run can be
//! plotted again without running it (`hybridbench --plot-from run.md --plot out.svg`).

use std::fmt::Write as _;

/// One row of the table: a placement mode at one round trip (`rtt_ms` `None`: local only).
#[derive(Clone, Debug, PartialEq)]
pub struct SweepRow {
    pub mode: String,
    pub rtt_ms: Option<f64>,
    pub remote_pct: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// The rows of every table in `text` whose header starts `| mode | RTT ms |` (the
/// columns `hybridbench` prints); other lines are skipped.
pub fn parse(text: &str) -> Result<Vec<SweepRow>, String> {
    let mut rows = Vec::new();
    let mut in_table = false;
    for (n, line) in text.lines().enumerate() {
        let cells: Vec<&str> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        if line.trim_start().starts_with("| mode | RTT ms |") {
            in_table = true;
            continue;
        }
        if !line.trim_start().starts_with('|') {
            in_table = false;
            continue;
        }
        if !in_table || cells.first().is_some_and(|c| c.starts_with("---")) {
            continue;
        }
        if cells.len() < 7 {
            return Err(format!(
                "line {}: {} columns, expected at least 7",
                n + 1,
                cells.len()
            ));
        }
        let num = |i: usize, what: &str| {
            cells[i]
                .parse::<f64>()
                .map_err(|_| format!("line {}: {what} {:?} is not a number", n + 1, cells[i]))
        };
        rows.push(SweepRow {
            mode: cells[0].to_owned(),
            rtt_ms: match cells[1] {
                "–" | "-" => None,
                _ => Some(num(1, "RTT")?),
            },
            remote_pct: num(3, "remote %")?,
            p50_ms: num(5, "p50")?,
            p99_ms: num(6, "p99")?,
        });
    }
    if rows.is_empty() {
        return Err("no hybridbench table (header `| mode | RTT ms |`) in the text".into());
    }
    Ok(rows)
}

const W: f64 = 820.0;
const H: f64 = 330.0;
const PANEL: f64 = 330.0;
const TOP: f64 = 40.0;
const PLOT_H: f64 = 220.0;
const COLORS: [&str; 4] = ["#c0392b", "#2471a3", "#7d3c98", "#1e8449"];

/// A value drawn from a row, and the line's dash attribute.
type Line = (fn(&SweepRow) -> f64, &'static str);

/// The two panels as one SVG; `budget_ms` is drawn on the latency panel.
pub fn svg(rows: &[SweepRow], budget_ms: f64) -> String {
    let mut rtts: Vec<f64> = rows.iter().filter_map(|r| r.rtt_ms).collect();
    rtts.sort_by(f64::total_cmp);
    rtts.dedup();
    let mut modes: Vec<&str> = Vec::new();
    for r in rows.iter().filter(|r| r.rtt_ms.is_some()) {
        if !modes.contains(&r.mode.as_str()) {
            modes.push(&r.mode);
        }
    }
    let local = rows.iter().find(|r| r.rtt_ms.is_none());
    let lat_max = rows
        .iter()
        .map(|r| r.p99_ms)
        .fold(budget_ms, f64::max)
        .max(1.0)
        * 1.08;
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="11">"#
    );
    let _ = write!(out, r##"<rect width="{W}" height="{H}" fill="#fff"/>"##);
    // Categorical x: round trips evenly spaced, labelled with their value.
    let x = |left: f64, rtt: f64| {
        let i = rtts.iter().position(|v| *v == rtt).unwrap_or(0) as f64;
        left + 20.0 + (PANEL - 40.0) * i / (rtts.len().max(2) - 1) as f64
    };
    for (p, (title, max, unit)) in [
        ("decision latency, indication → control [ms]", lat_max, "ms"),
        ("decisions served by the remote model [%]", 105.0, "%"),
    ]
    .into_iter()
    .enumerate()
    {
        let left = 60.0 + p as f64 * (PANEL + 90.0);
        let y = |v: f64| TOP + PLOT_H * (1.0 - v / max);
        let _ = write!(
            out,
            r##"<text x="{left}" y="20" font-weight="bold">{title}</text><line x1="{left}" y1="{TOP}" x2="{left}" y2="{b}" stroke="#000"/><line x1="{left}" y1="{b}" x2="{r}" y2="{b}" stroke="#000"/>"##,
            b = TOP + PLOT_H,
            r = left + PANEL
        );
        for k in 0..=4 {
            // Ticks up to the largest value (latency) or 100 % (share).
            let top = if p == 1 { 100.0 } else { max / 1.08 };
            let v = top * k as f64 / 4.0;
            let _ = write!(
                out,
                r##"<line x1="{a}" y1="{yy:.1}" x2="{left}" y2="{yy:.1}" stroke="#000"/><text x="{t}" y="{ty:.1}" text-anchor="end">{v:.0}</text><line x1="{left}" y1="{yy:.1}" x2="{r}" y2="{yy:.1}" stroke="#eee"/>"##,
                a = left - 4.0,
                yy = y(v),
                t = left - 6.0,
                ty = y(v) + 4.0,
                r = left + PANEL
            );
        }
        for rtt in &rtts {
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{rtt:.0}</text>"#,
                x(left, *rtt),
                TOP + PLOT_H + 15.0
            );
        }
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">emulated WAN round trip [ms]</text><text x="{:.1}" y="{:.1}" transform="rotate(-90 {:.1} {:.1})" text-anchor="middle">{unit}</text>"#,
            left + PANEL / 2.0,
            TOP + PLOT_H + 32.0,
            left - 38.0,
            TOP + PLOT_H / 2.0,
            left - 38.0,
            TOP + PLOT_H / 2.0
        );
        if p == 0 {
            let _ = write!(
                out,
                r##"<line x1="{left}" y1="{yb:.1}" x2="{r}" y2="{yb:.1}" stroke="#555" stroke-dasharray="6 3"/><text x="{tx}" y="{ty:.1}" fill="#555">budget {budget_ms:.0} ms</text>"##,
                yb = y(budget_ms),
                r = left + PANEL,
                tx = left + 4.0,
                ty = y(budget_ms) - 4.0
            );
            if let Some(l) = local {
                let _ = write!(
                    out,
                    r##"<line x1="{left}" y1="{yl:.1}" x2="{r}" y2="{yl:.1}" stroke="{c}" stroke-dasharray="2 2"/>"##,
                    yl = y(l.p50_ms),
                    r = left + PANEL,
                    c = COLORS[3]
                );
            }
        }
        for (m, mode) in modes.iter().enumerate() {
            let pts = |f: fn(&SweepRow) -> f64| -> String {
                rows.iter()
                    .filter(|r| r.mode == *mode)
                    .filter_map(|r| Some((r.rtt_ms?, f(r))))
                    .map(|(rtt, v)| format!("{:.1},{:.1}", x(left, rtt), y(v)))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let c = COLORS[m % 3];
            let lines: &[Line] = if p == 0 {
                &[
                    (|r| r.p50_ms, ""),
                    (|r| r.p99_ms, r#" stroke-dasharray="4 2""#),
                ]
            } else {
                &[(|r| r.remote_pct, "")]
            };
            for (f, dash) in lines {
                let _ = write!(
                    out,
                    r#"<polyline class="mode" data-mode="{mode}" fill="none" stroke="{c}" stroke-width="1.8"{dash} points="{}"/>"#,
                    pts(*f)
                );
            }
        }
    }
    // Legend.
    let mut lx = 60.0;
    for (m, mode) in modes.iter().enumerate() {
        let _ = write!(
            out,
            r#"<line x1="{lx}" y1="{ly}" x2="{x2}" y2="{ly}" stroke="{c}" stroke-width="2"/><text x="{tx}" y="{ty}">{mode}</text>"#,
            ly = H - 12.0,
            x2 = lx + 20.0,
            c = COLORS[m % 3],
            tx = lx + 24.0,
            ty = H - 8.0
        );
        lx += 130.0;
    }
    let _ = write!(
        out,
        r#"<text x="{lx}" y="{}">solid p50, dashed p99; dotted: local model only (p50)</text>"#,
        H - 8.0
    );
    out + "</svg>"
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "intro\n\
| mode | RTT ms | decisions | remote % | local % | p50 ms | p99 ms | dropped past budget | remote results | edge CPU-ms /1k | edge cost /1k | remote requests /1k | remote cost /1k |\n\
|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|\n\
| local | – | 960 | 0.0 | 100.0 | 0.4 | 4.2 | 0 | – | 1312 | 0.000014 | 0 | 0.000000 |\n\
| hybrid | 5 | 960 | 100.0 | 0.0 | 8.9 | 10.4 | 0 | ok 960 | 1219 | 0.000013 | 1000 | 0.001100 |\n\
| hybrid | 200 | 960 | 0.0 | 100.0 | 0.4 | 2.6 | 0 | skipped_budget 961, probe 12 | 1385 | 0.000015 | 12 | 0.000014 |\n\
\nprices: 0 per request\n";

    #[test]
    fn a_printed_table_is_read_back_and_drawn_per_mode() {
        let rows = parse(TABLE).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].rtt_ms, None);
        assert_eq!(rows[2].rtt_ms, Some(200.0));
        assert_eq!(rows[1].remote_pct, 100.0);
        assert_eq!(rows[2].p99_ms, 2.6);
        let s = svg(&rows, 100.0);
        assert!(s.starts_with("<svg") && s.ends_with("</svg>"));
        // p50, p99 and the share: three lines of the one mode, two points each.
        assert_eq!(s.matches(r#"data-mode="hybrid""#).count(), 3);
        assert!(s.contains("budget 100 ms"));
    }

    #[test]
    fn text_without_a_table_or_with_a_bad_cell_is_refused_with_the_line() {
        assert!(
            parse("nothing here")
                .unwrap_err()
                .contains("no hybridbench table")
        );
        let bad = TABLE.replace("| 8.9 |", "| n/a |");
        assert!(
            parse(&bad).unwrap_err().contains("line 5: p50"),
            "{:?}",
            parse(&bad)
        );
    }
}
