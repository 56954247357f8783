//! Trial reports: JSON (the [`TrialReport`] as is) and a self-contained HTML page with SVG
//! plots (KPI time series per arm, effects with their 95 % intervals). No scripts, no
//! external assets: the file can be mailed or attached to a change request.

use std::fmt::Write;

use crate::trial::{KPIS, TrialReport};

const W: f64 = 720.0;
const H: f64 = 200.0;
const COLORS: [&str; 2] = ["#1f77b4", "#d62728"];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Time series of KPI `j` per arm (40-window moving mean).
fn series_svg(r: &TrialReport, j: usize) -> String {
    let n = r.series.len().max(2);
    let smooth = |a: usize| -> Vec<f64> {
        (0..r.series.len())
            .map(|k| {
                let lo = k.saturating_sub(39);
                let xs: Vec<f64> = r.series[lo..=k]
                    .iter()
                    .map(|w| w[a][j])
                    .filter(|v| *v != 0.0)
                    .collect();
                if xs.is_empty() {
                    f64::NAN
                } else {
                    xs.iter().sum::<f64>() / xs.len() as f64
                }
            })
            .collect()
    };
    let lines = [smooth(0), smooth(1)];
    let max = lines
        .iter()
        .flatten()
        .filter(|v| v.is_finite())
        .fold(1e-9_f64, |m, v| m.max(*v));
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{}" font-family="sans-serif" font-size="11">"#,
        H + 30.0
    );
    let _ = write!(
        svg,
        r##"<rect x="40" y="5" width="{}" height="{H}" fill="none" stroke="#999"/>"##,
        W - 50.0
    );
    let _ = write!(
        svg,
        r#"<text x="42" y="17">{} (max {max:.1})</text>"#,
        KPIS[j]
    );
    for (a, line) in lines.iter().enumerate() {
        let pts: Vec<String> = line
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_finite())
            .map(|(k, v)| {
                format!(
                    "{:.1},{:.1}",
                    40.0 + (W - 50.0) * k as f64 / (n - 1) as f64,
                    5.0 + H * (1.0 - v / max)
                )
            })
            .collect();
        let _ = write!(
            svg,
            r#"<polyline fill="none" stroke="{}" stroke-width="1.5" points="{}"/>"#,
            COLORS[a],
            pts.join(" ")
        );
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" fill="{}">{}</text>"#,
            50.0 + 150.0 * a as f64,
            H + 22.0,
            COLORS[a],
            esc(&r.arms[a])
        );
    }
    if let Some(at) = r.rolled_back_at {
        let x = 40.0 + (W - 50.0) * at as f64 / (n - 1) as f64;
        let _ = write!(
            svg,
            r##"<line x1="{x:.1}" y1="5" x2="{x:.1}" y2="{}" stroke="#000" stroke-dasharray="4"/><text x="{:.1}" y="30">rolled back</text>"##,
            5.0 + H,
            x + 3.0
        );
    }
    svg + "</svg>"
}

/// Relative effects (treatment vs control) with 95 % intervals.
fn forest_svg(r: &TrialReport) -> String {
    let rows: Vec<(&str, f64, f64, f64)> = r
        .effects
        .iter()
        .filter_map(|e| {
            let w = e.welch?;
            let base = w.control_mean.abs().max(1e-9);
            Some((
                e.kpi,
                w.diff / base * 100.0,
                w.lo / base * 100.0,
                w.hi / base * 100.0,
            ))
        })
        .collect();
    let span = rows
        .iter()
        .flat_map(|r| [r.2.abs(), r.3.abs()])
        .filter(|v| v.is_finite())
        .fold(5.0_f64, f64::max)
        .min(500.0);
    let h = 30.0 + 24.0 * rows.len() as f64;
    let x = |v: f64| 200.0 + (W - 230.0) * (v.clamp(-span, span) + span) / (2.0 * span);
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" font-family="sans-serif" font-size="11">"#
    );
    let _ = write!(
        svg,
        r##"<line x1="{0:.1}" y1="5" x2="{0:.1}" y2="{1}" stroke="#999"/><text x="{2:.1}" y="{3}">−{span:.0} %</text><text x="{4:.1}" y="{3}">+{span:.0} %</text>"##,
        x(0.0),
        h - 15.0,
        x(-span),
        h - 3.0,
        x(span) - 30.0
    );
    for (i, (name, d, lo, hi)) in rows.iter().enumerate() {
        let y = 20.0 + 24.0 * i as f64;
        let color = if *lo > 0.0 || *hi < 0.0 {
            "#d62728"
        } else {
            "#555"
        };
        let _ = write!(
            svg,
            r#"<text x="5" y="{:.1}">{name}: {d:+.1} % [{lo:+.1}, {hi:+.1}]</text>"#,
            y + 4.0
        );
        let _ = write!(
            svg,
            r#"<line x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{color}" stroke-width="2"/><circle cx="{:.1}" cy="{y:.1}" r="4" fill="{color}"/>"#,
            x(*lo),
            x(*hi),
            x(*d)
        );
    }
    svg + "</svg>"
}

/// The self-contained HTML report.
pub fn html(r: &TrialReport) -> String {
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>A/B trial: {} vs {}</h1><p>design {}, seed {}, {} cells ({} control / {} treatment at start), {} windows of 250 ms; controls sent {} / {}.</p>",
        esc(&r.arms[0]),
        esc(&r.arms[1]),
        esc(&r.design),
        r.seed,
        r.cells,
        r.cells_per_arm[0],
        r.cells_per_arm[1],
        r.windows,
        r.controls[0],
        r.controls[1]
    );
    if let Some(at) = r.rolled_back_at {
        let _ = write!(
            body,
            "<p><b>Guard rail tripped at window {at}: treatment rolled back to the control arm.</b></p>"
        );
    }
    if let Some(d) = r.shadow_disagreement {
        let _ = write!(
            body,
            "<p>Shadow: the treatment's quotas differed from the acting arm's in {:.1} % of decisions.</p>",
            d * 100.0
        );
    }
    body.push_str(
        "<h2>Effects (treatment − control, 95 % Welch / paired t intervals; red: excludes 0)</h2>",
    );
    body.push_str(&forest_svg(r));
    body.push_str("<table border=1 cellpadding=3><tr><th>KPI</th><th>control</th><th>treatment</th><th>diff</th><th>95 % CI</th><th>p</th><th>bootstrap 95 % CI</th></tr>");
    for e in &r.effects {
        if let Some(w) = e.welch {
            let boot = e
                .bootstrap
                .map_or_else(String::new, |b| format!("[{:.3}, {:.3}]", b.lo, b.hi));
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{:.3}</td><td>{:.3}</td><td>{:+.3}</td><td>[{:.3}, {:.3}]</td><td>{:.3}</td><td>{boot}</td></tr>",
                e.kpi, w.control_mean, w.treatment_mean, w.diff, w.lo, w.hi, w.p_value
            );
        }
    }
    body.push_str("</table><h2>KPIs per arm over time (40-window moving mean)</h2>");
    for j in 0..KPIS.len() - 1 {
        body.push_str(&series_svg(r, j));
    }
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>A/B trial</title></head><body style=\"font-family:sans-serif\">{body}</body></html>\n"
    )
}
