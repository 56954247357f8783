//! Offline A/B trials on the twin: A/A false-positive rate, a planted better arm, the guard
//! rail rolling back a planted harmful arm, a model arm through onnxruntime, and the real
//! `abtrial` binary: its CLI, JSON and HTML agree, and set-ups that cannot give an answer
//! are refused with the reason.

#![allow(clippy::unwrap_used)] // test helpers

use nf_core::baseline::Baseline;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use nf_core::trial::Design;
use nf_core::trial::kpi::{Kpi, NAMES};
use nf_core::trial::sequential::RailConfig;
use testbed::trace;
use testbed::trial::{self, Arm, NK, TrialConfig, TrialError};
use testbed::twin::{self, LinkTable, TwinCell};

fn cells() -> (Vec<TwinCell>, LinkTable) {
    let root = trace::shared_root().unwrap_or_else(trace::bundled_root);
    let cells = twin::load(&root, 400).unwrap();
    let link = LinkTable::fit(&cells);
    (cells, link)
}

/// Index of the delay proxy in `trial::KPIS`.
const DELAY: usize = Kpi::DelayDl as usize;

fn delay_rail() -> RailConfig {
    RailConfig {
        higher_is_better: false,
        tau: 0.5,
        ..RailConfig::default()
    }
}

#[test]
fn a_a_trials_report_effects_at_about_the_nominal_rate() {
    let (cells, link) = cells();
    let seeds = 100;
    let (mut significant, mut tripped) = ([0usize; 2], 0);
    for seed in 0..seeds {
        let cfg = TrialConfig {
            seed,
            windows: 240,
            rail: Some(delay_rail()),
            rail_kpi: Kpi::DelayDl,
            ..TrialConfig::default()
        };
        let mut arms = [
            Arm::baseline("a", Baseline::Proportional),
            Arm::baseline("a-again", Baseline::Proportional),
        ];
        let r = trial::run(&cfg, &cells, &link, &mut arms).unwrap();
        for (n, j) in significant.iter_mut().zip([0, DELAY]) {
            *n += usize::from(r.effects[j].matched.unwrap().significant());
        }
        tripped += usize::from(r.rolled_back_at.is_some());
    }
    println!(
        "A/A over {seeds} seeds: {significant:?} significant (throughput, delay) effects, {tripped} rail trips"
    );
    // Nominal 5 %: 5 of 100 expected; P(X >= 11) < 1.2 % under Binomial(100, 0.05).
    assert!(significant.iter().all(|n| *n <= 10), "{significant:?}");
    assert!(tripped <= 10, "{tripped}");
}

#[test]
fn a_planted_better_arm_is_detected() {
    let (cells, link) = cells();
    let mut detected = 0;
    for seed in 0..10 {
        let cfg = TrialConfig {
            seed,
            windows: 240,
            cells: 24,
            ..TrialConfig::default()
        };
        // The control starves every slice at 8 % of the cell; the treatment follows demand.
        let mut arms = [
            Arm::baseline("starved", Baseline::Fixed(vec![8, 8, 8])),
            Arm::baseline("proportional", Baseline::Proportional),
        ];
        let r = trial::run(&cfg, &cells, &link, &mut arms).unwrap();
        // Offered traffic is the recording's, so a starved slice queues rather than loses
        // it: the harm shows in the delay proxy and SLA violations.
        let e = r.effects[DELAY].matched.unwrap();
        detected += usize::from(e.significant() && e.diff < 0.0);
        let sla = r.effects[Kpi::SlaViolationShare as usize].welch.unwrap();
        assert!(sla.diff < 0.0, "{sla:?}");
    }
    assert!(detected >= 9, "{detected}/10");
}

#[test]
fn the_guard_rail_rolls_back_a_planted_harmful_arm() {
    let (cells, link) = cells();
    for design in [
        Design::CellRandomised {
            treatment_share: 0.5,
        },
        Design::Switchback { block_ms: 10_000 },
    ] {
        let cfg = TrialConfig {
            design,
            seed: 3,
            windows: 480,
            rail: Some(delay_rail()),
            rail_kpi: Kpi::DelayDl,
            look_every: 20,
            ..TrialConfig::default()
        };
        let mut arms = [
            Arm::baseline("proportional", Baseline::Proportional),
            Arm::baseline("harmful", Baseline::Fixed(vec![4, 4, 4])),
        ];
        let r = trial::run(&cfg, &cells, &link, &mut arms).unwrap();
        let at = r
            .rolled_back_at
            .unwrap_or_else(|| panic!("{design:?}: rail never tripped: {:?}", r.looks));
        assert!(at < 480, "{at}");
        // After the roll-back no cell acts with the treatment.
        assert!(
            r.series[at..].iter().all(|w| w[1] == [0.0; NK]),
            "{design:?}"
        );
        assert!(r.looks.last().unwrap().tripped);
        // The primary analysis is the one that fits the design.
        let delay = &r.effects[DELAY];
        match design {
            Design::Switchback { .. } => {
                assert!(r.method.contains("within a cell"), "{}", r.method);
                assert_eq!(delay.primary, delay.welch);
                assert!(delay.bootstrap.is_none());
            }
            _ => {
                assert!(r.method.contains("load-matched"), "{}", r.method);
                assert_eq!(delay.primary, delay.matched);
            }
        }
        assert!(r.rail.unwrap().status.starts_with("tripped at window"));
    }
}

#[test]
fn a_model_arm_runs_through_onnxruntime_and_shadow_logs_disagreement() {
    let (cells, link) = cells();
    let contract = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../models/slice_forecaster/slice_forecaster.contract.toml");
    let model = nf_infer::runtime::load_model(&nf_infer::ModelConfig {
        contract,
        onnxruntime_lib: None,
        providers: vec![nf_infer::Provider::Cpu],
    })
    .unwrap();
    let sha256 = model.contract.sha256.to_ascii_lowercase();
    let mut arms = [
        Arm::baseline("equal", Baseline::Equal),
        Arm::model(
            "forecaster",
            model,
            nf_core::policy::PolicyConfig::default(),
        )
        .unwrap(),
    ];
    let cfg = TrialConfig {
        design: Design::Shadow,
        windows: 160,
        cells: 4,
        ..TrialConfig::default()
    };
    let r = trial::run(&cfg, &cells, &link, &mut arms).unwrap();
    let d = r.shadow_disagreement.unwrap();
    assert!(d > 0.1 && d <= 1.0, "{d}");
    assert_eq!(r.controls[1], 0, "shadow arm must never send");
    assert!(r.controls[0] > 0);
    let html = testbed::report::html(&r);
    assert!(html.contains("<svg") && html.contains("forecaster"));
    // Provenance: the model's sha256; shadow has no KPI effect and says so.
    assert!(html.contains(&sha256), "model sha256 missing");
    assert!(
        r.effects
            .iter()
            .all(|e| e.verdict.text.starts_with("not estimable"))
    );
}

#[test]
fn too_few_cells_for_the_design_are_refused_with_the_reason() {
    let (cells, link) = cells();
    for (design, n, min) in [
        (
            Design::CellRandomised {
                treatment_share: 0.5,
            },
            3,
            "at least 4 cells",
        ),
        (
            Design::Switchback { block_ms: 10_000 },
            1,
            "at least 2 cells",
        ),
    ] {
        let cfg = TrialConfig {
            design,
            cells: n,
            windows: 40,
            ..TrialConfig::default()
        };
        let mut arms = [
            Arm::baseline("a", Baseline::Equal),
            Arm::baseline("b", Baseline::Proportional),
        ];
        let err = trial::run(&cfg, &cells, &link, &mut arms).unwrap_err();
        assert!(matches!(err, TrialError::TooFewCells { .. }), "{err}");
        assert!(err.to_string().contains(min), "{err}");
    }
}

// ---- the real `abtrial` binary -------------------------------------------------------

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("abtrial-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn abtrial(args: &[&str], out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_abtrial"))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Points of the first (control arm) polyline of the series plot of `kpi`.
fn control_line(html: &str, kpi: &str) -> Vec<(f64, f64)> {
    let svg = html
        .split(&format!(r#"<svg class="series" data-kpi="{kpi}""#))
        .nth(1)
        .unwrap();
    let pts = svg.split(r#"points=""#).nth(1).unwrap();
    pts[..pts.find('"').unwrap()]
        .split(' ')
        .map(|p| {
            let (x, y) = p.split_once(',').unwrap();
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect()
}

#[test]
fn abtrial_rolls_back_a_harmful_arm_and_its_cli_json_and_html_agree() {
    if trace::shared_root().is_none() {
        println!("skipped: ../shared/traces/tractor is absent");
        return;
    }
    let out = scratch("harmful");
    let o = abtrial(
        &[
            "--control",
            "proportional",
            "--treatment",
            "fixed:4,4,4",
            "--rail-kpi",
            "delay_dl",
            "--cells",
            "16",
            "--windows",
            "480",
            "--look-every",
            "20",
            "--seed",
            "3",
        ],
        &out,
    );
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}{stderr}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("trial.json")).unwrap()).unwrap();
    let html = std::fs::read_to_string(out.join("trial.html")).unwrap();
    // The harmful arm is rolled back, and every output says so.
    assert!(r["rolled_back_at"].as_u64().unwrap() < 480);
    let status = r["rail"]["status"].as_str().unwrap();
    assert!(status.starts_with("tripped at window"), "{status}");
    assert!(stdout.contains(status) && html.contains(status), "{stdout}");
    assert!(html.contains("margin 5.0 % of control, α 0.05"));
    // One verdict per KPI, the same in the CLI, the JSON and the HTML.
    let effects = r["effects"].as_array().unwrap();
    assert_eq!(effects.len(), NK);
    for e in effects {
        let (kpi, verdict) = (e["kpi"].as_str().unwrap(), &e["verdict"]);
        let text = verdict["text"].as_str().unwrap();
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(kpi))
            .unwrap();
        assert!(line.ends_with(text), "{line} / {text}");
        let row = html
            .split(&format!(r#"<tr data-kpi="{kpi}""#))
            .nth(1)
            .unwrap();
        assert!(
            row.contains(&format!(r#"<td class="verdict">{text}</td>"#)),
            "{kpi}"
        );
        assert!(row.starts_with(&format!(
            r#" data-call="{}""#,
            verdict["call"].as_str().unwrap()
        )));
        if verdict["call"] == "no_detectable_difference" {
            assert!(text.contains("minimum detectable effect ±"), "{text}");
        }
    }
    assert_eq!(effects[DELAY]["verdict"]["call"], "worse");
    // The interval method is the design's (paired over matched pairs), in every output.
    let method = r["method"].as_str().unwrap();
    assert_eq!(method, "paired t over load-matched cell pairs");
    assert!(html.contains(&format!(r#"<span class="method">{method}</span>"#)));
    assert!(stdout.lines().next().unwrap().contains(method));
    assert_eq!(effects[DELAY]["primary"], effects[DELAY]["matched"]);
    // A relative interval beyond the forest plot's ±300 % is marked at the edge.
    let e = &effects[DELAY]["primary"];
    let hi_pct = e["hi"].as_f64().unwrap() / e["control_mean"].as_f64().unwrap() * 100.0;
    assert!(hi_pct > 300.0, "{hi_pct}");
    assert!(html.contains(&format!(
        r#"class="beyond" data-kpi="delay_dl" data-value="{hi_pct:.1}""#
    )));
    // Per-slice breakdown, provenance, every KPI plotted (controls too) with units and ticks.
    for s in r["slices"].as_array().unwrap() {
        assert!(html.contains(&format!(
            "<h3>S-NSSAI {}</h3>",
            s["snssai"].as_str().unwrap()
        )));
    }
    let runs = r["provenance"]["runs"].as_array().unwrap().len();
    assert!(html.contains(&format!(
        "16 virtual cells are time offsets of {runs} recorded runs"
    )));
    for k in Kpi::ALL {
        assert!(
            html.contains(&format!(r#"<svg class="series" data-kpi="{k}""#)),
            "{k}"
        );
    }
    assert!(html.contains("time [s]") && html.contains(r#"class="ytick""#));
    assert!(html.contains("controls/period"));
    // The control arm's moving mean of controls keeps windows where no control was sent.
    let series = r["series"].as_array().unwrap();
    let cells = r["series_cells"].as_array().unwrap();
    let j = Kpi::Controls as usize;
    let smooth = |k: usize| -> f64 {
        let xs: Vec<f64> = (k.saturating_sub(39)..=k)
            .filter(|w| cells[*w][0].as_u64().unwrap() > 0)
            .map(|w| series[w][0][j].as_f64().unwrap())
            .collect();
        xs.iter().sum::<f64>() / xs.len() as f64
    };
    let means: Vec<f64> = (0..series.len()).map(smooth).collect();
    let max = means.iter().fold(0.0_f64, |m, v| m.max(*v)) * 1.05;
    let line = control_line(&html, "controls");
    assert_eq!(line.len(), series.len());
    let zeros = series.iter().filter(|w| w[0][j] == 0.0).count();
    assert!(
        zeros > 0,
        "no window without a control: the check would prove nothing"
    );
    for (k, (_, y)) in line.iter().enumerate() {
        let expected = 5.0 + 200.0 * (1.0 - means[k] / max);
        assert!((y - expected).abs() < 0.11, "window {k}: {y} vs {expected}");
    }
}

#[test]
fn abtrial_refuses_an_unknown_rail_kpi_naming_it() {
    let out = scratch("kpi");
    let o = abtrial(&["--rail-kpi", "delay_ms"], &out);
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("`delay_ms`") && stderr.contains(NAMES),
        "{stderr}"
    );
    assert!(!out.join("trial.json").exists());
}

#[test]
fn abtrial_explains_too_few_cells_and_too_many_windows() {
    let out = scratch("small");
    for (args, why) in [
        (
            &["--cells", "3"][..],
            "cell-randomised needs at least 4 cells",
        ),
        (
            &["--windows", "1000000"][..],
            "is longer than every recorded run",
        ),
    ] {
        let o = abtrial(args, &out);
        let (stdout, stderr) = text(&o);
        assert!(!o.status.success(), "{args:?}: {stdout}");
        assert!(stderr.contains(why), "{args:?}: {stderr}");
        assert!(!out.join("trial.json").exists());
    }
}

// ---- issue 9: slice utility as the primary KPI, sweeps, static search ------------------

fn small(design: Design) -> TrialConfig {
    TrialConfig {
        design,
        cells: 8,
        windows: 120,
        bootstrap_iterations: 200,
        ..TrialConfig::default()
    }
}

#[test]
fn an_a_a_sweep_is_significant_at_about_the_nominal_rate() {
    let (cells, link) = cells();
    let cfg = small(Design::Switchback { block_ms: 5_000 });
    let seeds: Vec<u64> = (1..=20).collect();
    let r = trial::sweep::sweep(&cfg, &cells, &link, &seeds, || {
        Ok([
            trial::parse_arm("proportional")?,
            trial::parse_arm("proportional")?,
        ])
    })
    .unwrap();
    println!(
        "A/A: {} of 20 significant, mean relative {:+.4}",
        r.share_significant * 20.0,
        r.mean_relative
    );
    assert_eq!(r.kpi, Kpi::SliceUtility);
    assert_eq!(r.seeds.len(), 20);
    // Nominal 5 %: 4 or more of 20 has probability < 2 %.
    assert!(r.share_significant <= 0.15, "{}", r.share_significant);
}

#[test]
fn a_starving_split_loses_slice_utility_in_every_seed() {
    let (cells, link) = cells();
    let seeds: Vec<u64> = (1..=5).collect();
    // Planted: the treatment caps every slice at 4 % of the cell.
    let arms = || {
        Ok([
            trial::parse_arm("static:1=0")?,
            trial::parse_arm("fixed:4,4,4")?,
        ])
    };
    // The recorded cells are idle most of the time, so 8 cells × 30 s leave few units with
    // utility (cell-randomised: 3-4 load-matched pairs, t with 2-3 degrees of freedom;
    // switchback: about 7 cells): a −50 % loss shows in every seed's estimate, but a single
    // seed need not be significant. Over seeds the interval excludes 0.
    for design in [
        Design::CellRandomised {
            treatment_share: 0.5,
        },
        Design::Switchback { block_ms: 5_000 },
    ] {
        let r = trial::sweep::sweep(&small(design), &cells, &link, &seeds, arms).unwrap();
        for s in &r.seeds {
            assert!(s.effect.unwrap().diff < 0.0, "{design:?}: {s:?}");
            assert_ne!(s.call, "better", "{design:?}: {s:?}");
        }
        assert!(r.relative_hi < 0.0, "{design:?}: {r:?}");
    }
}

#[test]
fn the_static_search_finds_a_split_no_worse_than_any_candidate_and_parses_back() {
    let (cells, link) = cells();
    let short: Vec<TwinCell> = cells
        .iter()
        .take(2)
        .map(|c| {
            let mut c = c.clone();
            c.len = c.len.min(200);
            c
        })
        .collect();
    let w = nf_core::trial::utility::UtilityWeights::default();
    let r = trial::sweep::search_static(&short, &link, &w, twin::Scheduler::RoundRobin, 25);
    assert!(r.candidates > 1, "{}", r.candidates);
    // Three slices in 25 % steps: (a, b, c) quarters with a + b + c ≤ 4, C(7, 3) = 35.
    assert_eq!(trial::sweep::grid(&[1, 2, 3], 25).len(), 35);
    assert_eq!(trial::sweep::grid(&[1, 2], 25).len(), 15);
    assert!(r.top.iter().all(|(_, u)| *u <= r.utility));
    let arm = trial::parse_arm(&format!("static:{}", r.split)).unwrap();
    assert_eq!(arm.name, format!("static:{}", r.split));
    let e = trial::parse_arm("static:1=80,2=30")
        .unwrap_err()
        .to_string();
    assert!(e.contains("1=80,2=30"), "{e}");
    let e = trial::parse_arm("bogus").unwrap_err().to_string();
    assert!(e.contains("bogus") && e.contains("static:"), "{e}");
}

// ---- issue 12: a remote model's late answer, at its worst a whole window late ------------

#[test]
fn a_treatment_lag_delays_only_the_treatment_arm_s_decisions() {
    let (cells, link) = cells();
    let run = |lag: usize| {
        let cfg = TrialConfig {
            treatment_lag_windows: lag,
            rail: None,
            ..small(Design::CellRandomised {
                treatment_share: 0.5,
            })
        };
        let mut arms = [
            trial::parse_arm("proportional").unwrap(),
            trial::parse_arm("proportional").unwrap(),
        ];
        trial::run(&cfg, &cells, &link, &mut arms).unwrap()
    };
    let (now, late) = (run(0), run(4));
    let (c, t) = (0, 1);
    // The control's cells are played exactly as before.
    assert_eq!(now.controls[c], late.controls[c]);
    let series = |r: &trial::TrialReport, arm: usize| -> Vec<[f64; NK]> {
        r.series.iter().map(|w| w[arm]).collect()
    };
    assert_eq!(series(&now, c), series(&late, c));
    // The treatment's first decision lands 4 windows late: no control before window 4,
    // and its cells are played differently.
    assert!(
        late.controls[t] < now.controls[t],
        "{:?} vs {:?}",
        late.controls,
        now.controls
    );
    assert_ne!(series(&now, t), series(&late, t));
}

// ---- issue 11: an A1 policy in force during an offline trial ---------------------------

/// Slice `snssai`'s mean of `kpi` per arm (control, treatment), from the primary analysis.
fn slice_means(r: &trial::TrialReport, snssai: &str, kpi: Kpi) -> (f64, f64) {
    let e = r
        .slices
        .iter()
        .find(|s| s.snssai == snssai)
        .unwrap_or_else(|| panic!("no slice {snssai}"))
        .effects
        .iter()
        .find(|e| e.kpi == kpi)
        .unwrap()
        .primary
        .unwrap_or_else(|| panic!("slice {snssai} {kpi:?}: no estimate"));
    (e.control_mean, e.treatment_mean)
}

#[test]
fn an_a1_policy_bounds_both_arms_quotas_and_weights_the_utility() {
    let (cells, link) = cells();
    let cap = 6u8;
    let payload = serde_json::json!({"slices": [
        {"sst": 2, "max_prb_share_pct": cap, "utility_weight": 3}]});
    let instance = nf_core::a1::PolicyInstance::from_payload("cap", &payload).unwrap();
    let policy = nf_core::a1::EffectivePolicy::new(1, std::iter::once(&instance));
    let base = nf_core::trial::utility::UtilityWeights::default();
    let run = |a1: Option<nf_core::a1::EffectivePolicy>| {
        let weights = a1.as_ref().map_or(base, |p| p.utility_weights(base));
        let cfg = TrialConfig {
            a1,
            weights,
            rail: None,
            // Every cell plays both arms: each arm's slice means cover every cell.
            ..small(Design::Switchback { block_ms: 5_000 })
        };
        let mut arms = [
            trial::parse_arm("equal").unwrap(),
            trial::parse_arm("proportional").unwrap(),
        ];
        trial::run(&cfg, &cells, &link, &mut arms).unwrap()
    };
    let (free, capped) = (run(None), run(Some(policy)));
    assert!(free.a1.is_none());
    let a1 = capped.a1.as_ref().unwrap();
    assert_eq!(a1.instances, ["cap"]);
    // URLLC (SST 2) takes the policy's weight; the others keep the base's.
    assert_eq!(a1.weights.urllc, 3.0);
    assert_eq!((a1.weights.embb, a1.weights.sla_penalty), (1.0, 0.5));
    assert!(a1.bounded[0] > 0 && a1.bounded[1] > 0, "{:?}", a1.bounded);
    // Slice 2 (the one the recorded cells load) never gets more than the cap's PRBs in
    // either arm, and got more without it.
    let prbs = cells.iter().map(|c| c.prbs).fold(0.0, f64::max);
    let limit = (f64::from(cap) / 100.0 * prbs).ceil();
    let (fc, ft) = slice_means(&free, "2", Kpi::PrbUsedDl);
    let (cc, ct) = slice_means(&capped, "2", Kpi::PrbUsedDl);
    println!(
        "slice 2 mean PRB: control {fc:.2} → {cc:.2}, treatment {ft:.2} → {ct:.2} under a {cap} % cap ({limit} PRB)"
    );
    assert!(cc <= limit && ct <= limit, "{cc} / {ct} above {limit}");
    assert!(fc > cc && ft > ct, "{fc} / {ft} vs {cc} / {ct}");
}

#[test]
fn abtrial_runs_under_an_a1_policy_file_and_refuses_a_bad_one_naming_it() {
    let out = scratch("a1");
    // The shipped example: URLLC (SST 2) at least 20 % and weighted 2, eMBB at most 70 %.
    let good = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../xapps/deploy/oran-sc/slice-sla-policy-example.json");
    let bad = out.join("bad.json");
    std::fs::write(
        &bad,
        r#"{"slices": [{"sst": 1, "min_prb_share_pct": 60, "max_prb_share_pct": 40}]}"#,
    )
    .unwrap();
    let args = |policy: &Path| {
        vec![
            "--control".to_owned(),
            "equal".to_owned(),
            "--treatment".to_owned(),
            "proportional".to_owned(),
            "--cells".to_owned(),
            "8".to_owned(),
            "--windows".to_owned(),
            "120".to_owned(),
            "--a1-policy".to_owned(),
            policy.display().to_string(),
        ]
    };
    let run = |policy: &Path| {
        let a = args(policy);
        abtrial(&a.iter().map(String::as_str).collect::<Vec<_>>(), &out)
    };
    let o = run(&bad);
    let (stdout, stderr) = text(&o);
    assert!(!o.status.success(), "{stdout}");
    assert!(
        stderr.contains("bad.json") && stderr.contains("min"),
        "{stderr}"
    );
    assert!(!out.join("trial.json").exists());
    let o = run(&good);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("A1 policy abtrial: bounded"), "{stdout}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("trial.json")).unwrap()).unwrap();
    assert_eq!(json["a1"]["weights"]["urllc"], 2.0);
    assert_eq!(json["a1"]["weights"]["embb"], 1.0);
    // `equal` (a third each) already keeps the policy and is never changed; `proportional`
    // gives URLLC less than 20 % whenever it carries little, and is bounded.
    assert_eq!(json["a1"]["bounded"][0], 0, "{}", json["a1"]);
    assert!(
        json["a1"]["bounded"][1].as_u64().unwrap() > 0,
        "{}",
        json["a1"]
    );
    let html = std::fs::read_to_string(out.join("trial.html")).unwrap();
    assert!(html.contains("A1 policy abtrial in force"));
}
