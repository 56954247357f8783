//! The checked-in bindings under `nf/asn1/src/generated/` must be exactly what the generator
//! makes from the O-RAN ASN.1 modules in `../shared/interop/asn1`. Regenerate with
//! `scripts/regen-asn1.sh` when this fails.

use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

#[test]
fn checked_in_bindings_match_the_asn1_modules() {
    let root = workspace();
    let asn1 = root.join("../shared/interop/asn1");
    if !asn1.is_dir() {
        println!(
            "SKIP drift: {} not found (the ASN.1 modules are not shipped in this repository)",
            asn1.display()
        );
        return;
    }
    let generated = e2_asn1_gen::generate(&asn1).expect("generate the bindings");
    let mut stale = Vec::new();
    for (file, text) in &generated {
        let path = root.join("nf/asn1/src/generated").join(file);
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        if &checked_in != text {
            stale.push(file.to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "generated bindings drifted from ../shared/interop/asn1: {stale:?}; run scripts/regen-asn1.sh"
    );
    // Every generated file is one the generator makes (no stray hand-written file).
    let listed: Vec<_> = std::fs::read_dir(root.join("nf/asn1/src/generated"))
        .expect("generated dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    for f in &listed {
        assert!(
            generated.iter().any(|(g, _)| g == f),
            "{f} in nf/asn1/src/generated is not produced by the generator"
        );
    }
}

#[test]
fn generated_code_carries_no_specification_text() {
    // The ASN.1 comments are O-RAN's text: the generator strips doc attributes.
    for unit in e2_asn1_gen::UNITS {
        let path = workspace().join("nf/asn1/src/generated").join(unit.file);
        let text = std::fs::read_to_string(&path).expect("generated file");
        assert!(!text.contains("#[doc"), "{} carries doc text", unit.file);
        assert!(!text.contains("///"), "{} carries doc comments", unit.file);
    }
}
