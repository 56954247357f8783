//! The configuration as an operator writes it: the shipped file validates, unknown keys are
//! refused in every section, and every bad value is named by its `section.key`, all at once.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use interference_xapp::config::{ConfigError, FileConfig};

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/interference.toml")
}

fn text() -> String {
    std::fs::read_to_string(shipped()).unwrap()
}

/// Validates `text` as if it were the shipped file (same folder, so paths resolve).
fn validate(text: &str) -> Result<interference_xapp::config::Validated, ConfigError> {
    let path = shipped();
    FileConfig::parse(text, &path)?.validate(&FileConfig::folder_of(&path))
}

fn problems(text: &str) -> String {
    match validate(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn shipped_config_validates() {
    let v = validate(&text()).unwrap();
    assert_eq!(v.runtime.report_period_ms, 1000);
    assert_eq!(v.runtime.app_id, "interference-xapp");
    assert_eq!(
        v.interference.mobility,
        nf_core::mobility::MobilityConfig::default()
    );
    assert!(v.interference.restriction.is_none());
    assert!(v.interference.conflict.is_none());
    assert!(v.model.contract.ends_with("interference.contract.toml"));
}

#[test]
fn unknown_keys_are_refused_in_every_section() {
    for (section, key) in [
        ("[mobility]", "a3_ofset_db = 3.0"),
        ("[restriction]", "enable = true"),
        ("[state]", "max_ues = 5"),
        ("[model]", "batch = 5"),
        ("[e2t]", "endpoints = \"x\""),
    ] {
        let t = text().replace(section, &format!("{section}\n{key}"));
        let e = problems(&t);
        let name = key.split(' ').next().unwrap();
        assert!(e.contains(name), "{section} {key}: {e}");
    }
}

#[test]
fn bad_values_are_each_named_by_key() {
    let t = text()
        .replace("a3_offset_db = 3.0", "a3_offset_db = 99.0")
        .replace("floor_pct = 40", "floor_pct = 10")
        .replace("max_ues_per_cell = 1024", "max_ues_per_cell = 0")
        .replace("max_batch_rows = 4096", "max_batch_rows = 0")
        .replace("min_dominant_share = 0.5", "min_dominant_share = 1.5");
    let e = problems(&t);
    for key in [
        "mobility.a3_offset_db",
        "state.max_ues_per_cell",
        "model.max_batch_rows",
        "restriction.min_dominant_share",
    ] {
        assert!(e.contains(key), "{key} not named:\n{e}");
    }
    // The floor alone (the rule's own check passes 10; the xApp refuses below 20).
    let e = problems(&text().replace("floor_pct = 40", "floor_pct = 10"));
    assert!(e.contains("restriction.floor_pct"), "{e}");
}

#[test]
fn conflict_section_is_checked() {
    let with = |body: &str| text().replace("# [conflict]", &format!("[conflict]\n{body}"));
    let v = validate(&with("endpoint = \"http://127.0.0.1:7070\"\n")).unwrap();
    let c = v.interference.conflict.unwrap();
    assert_eq!(c.xapp, "interference-xapp");
    assert_eq!(c.on_unavailable, nf_runtime::conflict::OnUnavailable::Deny);
    assert!(c.consumes.iter().any(|k| k == "L1M.SS-SINR"));
    let e = problems(&with(
        "endpoint = \"https://x:1\"\non_unavailable = \"maybe\"\ntimeout_ms = 0\n",
    ));
    for key in [
        "conflict.endpoint",
        "conflict.on_unavailable",
        "conflict.timeout_ms",
    ] {
        assert!(e.contains(key), "{key} not named:\n{e}");
    }
}

#[test]
fn a_missing_model_is_named() {
    let e = problems(&text().replace("interference.contract.toml", "no-such.contract.toml"));
    assert!(e.contains("model.contract"), "{e}");
}

#[test]
fn enabled_restriction_carries_the_rule() {
    let t = text()
        .replace("enabled = false", "enabled = true")
        .replace("step_pct = 20", "step_pct = 25");
    let r = validate(&t).unwrap().interference.restriction.unwrap();
    assert_eq!(r.rule.step_pct, 25);
    assert_eq!(r.min_interval_ms, 10_000);
}

#[test]
fn tls_sections_are_checked_and_must_agree_with_the_scheme() {
    let dir = nf_tls::testing::scratch("interference-cfg");
    let f = nf_tls::testing::TestCa::new("ca").write(&dir, "x");
    let section = |name: &str, cert: &Path| {
        format!(
            "\n[{name}]\nca = {:?}\ncert = {:?}\nkey = {:?}\n",
            f.ca.display().to_string(),
            cert.display().to_string(),
            f.key.display().to_string()
        )
    };
    let https = text().replacen("endpoint = \"http://", "endpoint = \"https://", 1);
    let conflict = "\n[conflict]\nendpoint = \"https://127.0.0.1:7070\"\n";
    let both = format!(
        "{https}{}{conflict}{}",
        section("ric.tls", &f.cert),
        section("conflict.tls", &f.cert)
    );
    let v = validate(&both).unwrap();
    assert!(v.e2t_tls.unwrap().presents_certificate());
    assert!(v.interference.conflict.unwrap().tls.is_some());
    // https:// without [ric.tls]; [conflict.tls] with http://; a key given as certificate.
    let bad = format!(
        "{https}{}{}",
        conflict.replace("https", "http"),
        section("conflict.tls", &f.key)
    );
    let e = problems(&bad);
    assert!(
        e.contains("`e2t.endpoint`") && e.contains("needs [ric.tls]"),
        "{e}"
    );
    assert!(
        e.contains("`conflict.endpoint`") && e.contains("no silent cleartext"),
        "{e}"
    );
    assert!(
        e.contains("`conflict.tls.cert`") && e.contains("x.key"),
        "{e}"
    );
}
