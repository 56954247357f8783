//! Trial reports: JSON (the [`TrialReport`] as is) and a self-contained HTML page with SVG
//! plots. No scripts, no external assets: the file can be mailed or attached to a change
//! request.
//!
//! The page shows, in order: the verdict per KPI (the design's primary analysis, with the
//! minimum detectable effect when nothing was detected), the effects as a forest plot
//! (intervals beyond the plot's range are marked, not clamped silently), the secondary
//! analyses, the per-slice breakdown, the guard rail's settings and status, provenance
//! (model sha256, trace runs, virtual-cell offsets) and every KPI's time series per arm
//! with axes, ticks and units.

use std::fmt::Write;

use crate::trial::analysis::KpiEffect;
use crate::trial::{KPIS, TrialReport};

const W: f64 = 720.0;
const H: f64 = 200.0;
/// Left margin of the plots (y tick labels).
const LEFT: f64 = 70.0;
const COLORS: [&str; 2] = ["#1f77b4", "#d62728"];
/// Moving-mean length of the time series [windows].
const SMOOTH: usize = 40;
/// Widest relative effect drawn in the forest plot [%]; wider intervals are marked.
const FOREST_MAX_PCT: f64 = 300.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Moving mean of KPI `j` of arm `a` over the windows where some cell acted with the arm
/// (zeros kept: a window of zero throughput is data).
fn smooth(r: &TrialReport, a: usize, j: usize) -> Vec<Option<f64>> {
    let acted = |w: usize| r.series_cells[w][a] > 0;
    let (mut sum, mut n) = (0.0, 0usize);
    (0..r.series.len())
        .map(|k| {
            // Slide the window of the last SMOOTH windows: add k, drop k - SMOOTH.
            if acted(k) {
                sum += r.series[k][a][j];
                n += 1;
            }
            if k >= SMOOTH && acted(k - SMOOTH) {
                sum -= r.series[k - SMOOTH][a][j];
                n -= 1;
            }
            (acted(k) && n > 0).then(|| sum / n as f64)
        })
        .collect()
}

/// A "nice" tick step for a range of `span` with about `n` ticks.
fn tick_step(span: f64, n: f64) -> f64 {
    let raw = (span / n).max(f64::MIN_POSITIVE);
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

fn axes(svg: &mut String, max: f64, windows: usize, period_ms: u64, unit: &str) {
    let pw = W - LEFT - 10.0;
    let _ = write!(
        svg,
        r##"<rect x="{LEFT}" y="5" width="{pw}" height="{H}" fill="none" stroke="#999"/>"##
    );
    let step = tick_step(max, 4.0);
    let mut v = 0.0;
    while v <= max * 1.0001 {
        let y = 5.0 + H * (1.0 - v / max);
        let _ = write!(
            svg,
            r##"<line class="ytick" x1="{:.1}" y1="{y:.1}" x2="{LEFT}" y2="{y:.1}" stroke="#999"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT - 4.0,
            LEFT - 6.0,
            y + 4.0,
            fmt_tick(v)
        );
        v += step;
    }
    let secs = windows as f64 * period_ms as f64 / 1000.0;
    let xstep = tick_step(secs, 8.0);
    let mut t = 0.0;
    while t <= secs * 1.0001 {
        let x = LEFT + pw * t / secs.max(f64::MIN_POSITIVE);
        let _ = write!(
            svg,
            r##"<line class="xtick" x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#999"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            5.0 + H,
            9.0 + H,
            20.0 + H,
            fmt_tick(t)
        );
        t += xstep;
    }
    let _ = write!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">time [s]</text><text x="12" y="{:.1}" transform="rotate(-90 12 {:.1})" text-anchor="middle">{}</text>"#,
        LEFT + pw / 2.0,
        H + 34.0,
        5.0 + H / 2.0,
        5.0 + H / 2.0,
        esc(unit)
    );
}

fn fmt_tick(v: f64) -> String {
    if v.abs() >= 100.0 || v == v.round() {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Time series of KPI `j` per arm (moving mean over [`SMOOTH`] windows).
fn series_svg(r: &TrialReport, j: usize) -> String {
    let kpi = KPIS[j];
    let lines = [smooth(r, 0, j), smooth(r, 1, j)];
    let max = lines
        .iter()
        .flatten()
        .flatten()
        .fold(0.0_f64, |m, v| m.max(*v));
    let max = if max > 0.0 { max * 1.05 } else { 1.0 };
    let n = r.series.len().max(2);
    let pw = W - LEFT - 10.0;
    let mut svg = format!(
        r#"<svg class="series" data-kpi="{kpi}" xmlns="http://www.w3.org/2000/svg" width="{W}" height="{}" font-family="sans-serif" font-size="11">"#,
        H + 60.0
    );
    axes(&mut svg, max, r.series.len(), r.period_ms, kpi.unit());
    let _ = write!(
        svg,
        r#"<text x="{:.1}" y="17">{kpi} ({}) [{}]</text>"#,
        LEFT + 4.0,
        esc(kpi.source()),
        esc(kpi.unit())
    );
    for (a, line) in lines.iter().enumerate() {
        let pts: Vec<String> = line
            .iter()
            .enumerate()
            .filter_map(|(k, v)| Some((k, (*v)?)))
            .map(|(k, v)| {
                format!(
                    "{:.1},{:.1}",
                    LEFT + pw * k as f64 / (n - 1) as f64,
                    5.0 + H * (1.0 - v / max)
                )
            })
            .collect();
        let _ = write!(
            svg,
            r#"<polyline fill="none" stroke="{}" stroke-width="1.5" points="{}"/><text x="{}" y="{}" fill="{}">{}</text>"#,
            COLORS[a],
            pts.join(" "),
            LEFT + 10.0 + 200.0 * a as f64,
            H + 52.0,
            COLORS[a],
            esc(&r.arms[a])
        );
    }
    if let Some(at) = r.rolled_back_at {
        let x = LEFT + pw * at as f64 / (n - 1) as f64;
        let _ = write!(
            svg,
            r##"<line x1="{x:.1}" y1="5" x2="{x:.1}" y2="{}" stroke="#000" stroke-dasharray="4"/><text x="{:.1}" y="30">rolled back</text>"##,
            5.0 + H,
            x + 3.0
        );
    }
    svg + "</svg>"
}

/// One forest-plot row: relative effect and interval [%], or why there is none.
fn relative(e: &KpiEffect) -> Option<(f64, f64, f64)> {
    let w = e.primary?;
    let base = w.control_mean.abs();
    (base > 1e-9).then(|| {
        (
            w.diff / base * 100.0,
            w.lo / base * 100.0,
            w.hi / base * 100.0,
        )
    })
}

/// Relative primary effects (treatment vs control) with 95 % intervals.
fn forest_svg(r: &TrialReport) -> String {
    let rows: Vec<(&KpiEffect, (f64, f64, f64))> = r
        .effects
        .iter()
        .filter_map(|e| Some((e, relative(e)?)))
        .collect();
    let span = rows
        .iter()
        .flat_map(|(_, r)| [r.1.abs(), r.2.abs()])
        .filter(|v| v.is_finite())
        .fold(5.0_f64, f64::max)
        .min(FOREST_MAX_PCT);
    let h = 40.0 + 24.0 * rows.len() as f64;
    let x0 = 330.0;
    let x = |v: f64| x0 + (W - x0 - 60.0) * (v.clamp(-span, span) + span) / (2.0 * span);
    let mut svg = format!(
        r#"<svg class="forest" xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" font-family="sans-serif" font-size="11">"#
    );
    for t in [-span, -span / 2.0, 0.0, span / 2.0, span] {
        let _ = write!(
            svg,
            r##"<line class="xtick" x1="{0:.1}" y1="5" x2="{0:.1}" y2="{1}" stroke="{2}"/><text x="{0:.1}" y="{3}" text-anchor="middle">{t:+.0} %</text>"##,
            x(t),
            h - 20.0,
            if t == 0.0 { "#555" } else { "#ddd" },
            h - 8.0
        );
    }
    for (i, (e, (d, lo, hi))) in rows.iter().enumerate() {
        let y = 20.0 + 24.0 * i as f64;
        let color = if *lo > 0.0 || *hi < 0.0 {
            "#d62728"
        } else {
            "#555"
        };
        let _ = write!(
            svg,
            r#"<text x="5" y="{:.1}">{}: {d:+.1} % [{lo:+.1}, {hi:+.1}]</text><line x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{color}" stroke-width="2"/><circle cx="{:.1}" cy="{y:.1}" r="4" fill="{color}"/>"#,
            y + 4.0,
            e.kpi,
            x(*lo),
            x(*hi),
            x(*d)
        );
        // A bound past the plot is drawn as an arrow at the edge with its value.
        for (v, side) in [(*lo, -1.0), (*hi, 1.0)] {
            if v * side > span {
                let xe = x(v);
                let tip = xe + 8.0 * side;
                let _ = write!(
                    svg,
                    r#"<polygon class="beyond" data-kpi="{}" data-value="{v:.1}" points="{xe:.1},{:.1} {tip:.1},{y:.1} {xe:.1},{:.1}" fill="{color}"/><text class="beyond" x="{:.1}" y="{:.1}">{v:+.0} %</text>"#,
                    e.kpi,
                    y - 5.0,
                    y + 5.0,
                    if side > 0.0 { tip + 2.0 } else { tip - 40.0 },
                    y + 4.0
                );
            }
        }
    }
    svg + "</svg>"
}

fn effect_cells(e: &Option<nf_core::trial::stats::Effect>) -> String {
    match e {
        Some(w) => format!(
            "<td>{:.3}</td><td>{:.3}</td><td>{:+.3}</td><td>[{:+.3}, {:+.3}]</td><td>{:.3}</td>",
            w.control_mean, w.treatment_mean, w.diff, w.lo, w.hi, w.p_value
        ),
        None => "<td colspan=5>–</td>".into(),
    }
}

fn verdict_table(body: &mut String, effects: &[KpiEffect], class: &str) {
    let _ = write!(
        body,
        "<table class=\"{class}\" border=1 cellpadding=3><tr><th>KPI [unit]</th><th>control</th><th>treatment</th><th>diff</th><th>95 % CI</th><th>p</th><th>MDE (80 % power)</th><th>verdict</th></tr>"
    );
    for e in effects {
        let mde = e
            .verdict
            .mde
            .map_or_else(|| "–".into(), |m| format!("±{m:.3}"));
        let _ = write!(
            body,
            "<tr data-kpi=\"{}\" data-call=\"{}\"><td>{} [{}]</td>{}<td>{mde}</td><td class=\"verdict\">{}</td></tr>",
            e.kpi,
            e.verdict.call.name(),
            e.kpi,
            esc(e.unit),
            effect_cells(&e.primary),
            esc(&e.verdict.text)
        );
    }
    body.push_str("</table>");
}

fn secondary(body: &mut String, r: &TrialReport) {
    if !r.effects.iter().any(|e| e.bootstrap.is_some()) {
        return;
    }
    body.push_str("<h2>Secondary analyses (ignore the pairing; for comparison only)</h2><table class=\"secondary\" border=1 cellpadding=3><tr><th>KPI</th><th colspan=5>Welch over cells: control, treatment, diff, 95 % CI, p</th><th>cluster bootstrap 95 % CI</th></tr>");
    for e in &r.effects {
        let boot = e
            .bootstrap
            .map_or_else(String::new, |b| format!("[{:+.3}, {:+.3}]", b.lo, b.hi));
        let _ = write!(
            body,
            "<tr><td>{}</td>{}<td>{boot}</td></tr>",
            e.kpi,
            effect_cells(&e.welch)
        );
    }
    body.push_str("</table>");
}

fn rail_section(body: &mut String, r: &TrialReport) {
    body.push_str("<h2>Guard rail</h2>");
    match &r.rail {
        None => body.push_str(
            "<p class=\"rail\">No guard rail: nothing would have stopped a harmful treatment.</p>",
        ),
        Some(g) => {
            let _ = write!(
                body,
                "<p class=\"rail\">KPI {} [{}] ({}), margin {:.1} % of control, α {}, τ {}, at least {} cells per arm, a look every {} windows ({} s). Status: <b>{}</b>.</p>",
                g.kpi,
                esc(g.unit),
                if g.config.higher_is_better {
                    "higher is better"
                } else {
                    "lower is better"
                },
                g.config.margin * 100.0,
                g.config.alpha,
                g.config.tau,
                g.config.min_units.max(2),
                g.look_every_windows,
                g.look_every_windows as f64 * r.period_ms as f64 / 1000.0,
                esc(&g.status)
            );
        }
    }
}

fn provenance(body: &mut String, r: &TrialReport) {
    let p = &r.provenance;
    let _ = write!(
        body,
        "<h2>Provenance</h2><p class=\"provenance\">{} virtual cells are time offsets of {} recorded runs{}: ",
        r.cells,
        p.runs.len(),
        p.trace_root.as_ref().map_or_else(String::new, |t| format!(
            " read from <code>{}</code>",
            esc(t)
        ))
    );
    let runs: Vec<String> = p
        .runs
        .iter()
        .map(|(n, w)| format!("{} ({w} windows)", esc(n)))
        .collect();
    body.push_str(&runs.join(", "));
    body.push_str(". Cell offsets: ");
    let cells: Vec<String> = p
        .cells
        .iter()
        .enumerate()
        .map(|(i, (n, o))| format!("#{i} {} +{o}", esc(n)))
        .collect();
    body.push_str(&cells.join(", "));
    body.push_str(".</p><ul class=\"arms\">");
    for (i, a) in r.arm_info.iter().enumerate() {
        let what = match (&a.model, &a.model_sha256) {
            (Some(m), Some(sha)) => format!("model {} sha256 <code>{sha}</code>", esc(m)),
            _ => "baseline policy".into(),
        };
        let _ = write!(
            body,
            "<li>{}: {} ({what})</li>",
            ["control", "treatment"][i],
            esc(&a.name)
        );
    }
    body.push_str("</ul>");
}

fn per_slice(body: &mut String, r: &TrialReport) {
    if r.slices.is_empty() {
        return;
    }
    body.push_str("<h2>Per slice</h2>");
    for s in &r.slices {
        let _ = write!(body, "<h3>S-NSSAI {}</h3>", esc(&s.snssai));
        verdict_table(body, &s.effects, "slice");
    }
}

/// The self-contained HTML report.
pub fn html(r: &TrialReport) -> String {
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>A/B trial: {} vs {}</h1><p>design {}, seed {}, {} cells ({} control / {} treatment at start), {} windows of {} ms ({} s); controls sent {} / {}.</p>",
        esc(&r.arms[0]),
        esc(&r.arms[1]),
        esc(&r.design),
        r.seed,
        r.cells,
        r.cells_per_arm[0],
        r.cells_per_arm[1],
        r.windows,
        r.period_ms,
        r.windows as f64 * r.period_ms as f64 / 1000.0,
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
    if let Some(a1) = &r.a1 {
        let _ = write!(
            body,
            "<p>A1 policy {} in force on every cell: it bounded {} control and {} treatment decisions; slice utility weights eMBB {}, URLLC {}, mMTC {}.</p>",
            esc(&a1.instances.join(", ")),
            a1.bounded[0],
            a1.bounded[1],
            a1.weights.embb,
            a1.weights.urllc,
            a1.weights.mmtc
        );
    }
    let _ = write!(
        body,
        "<h2>Verdict (treatment − control; <span class=\"method\">{}</span>; 95 % intervals)</h2>",
        esc(r.method)
    );
    verdict_table(&mut body, &r.effects, "verdicts");
    body.push_str("<h2>Effects relative to control (red: the interval excludes 0; arrows: beyond the plot)</h2>");
    body.push_str(&forest_svg(r));
    secondary(&mut body, r);
    per_slice(&mut body, r);
    rail_section(&mut body, r);
    provenance(&mut body, r);
    let _ = write!(
        body,
        "<h2>KPIs per arm over time ({SMOOTH}-window moving mean over the windows an arm acted)</h2>"
    );
    for j in 0..KPIS.len() {
        body.push_str(&series_svg(r, j));
    }
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>A/B trial</title></head><body style=\"font-family:sans-serif\">{body}</body></html>\n"
    )
}
