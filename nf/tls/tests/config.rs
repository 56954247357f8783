//! The TLS sections are validated before start: files read and parsed, each problem named
//! by its key and its file.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use nf_tls::testing::{TestCa, scratch};
use nf_tls::{ClientSection, Names, ServerSection};

fn client(ca: &Path) -> ClientSection {
    ClientSection {
        ca: ca.to_path_buf(),
        cert: None,
        key: None,
        server_name: None,
        reload_ms: 5000,
    }
}

fn text(problems: &[nf_tls::Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn good_sections_load_and_say_what_they_do() {
    let dir = scratch("cfg-good");
    let files = TestCa::new("ca").write(&dir, "x");
    let c = ClientSection {
        cert: Some("x.crt".into()),
        key: Some("x.key".into()),
        server_name: Some("onos-e2t".into()),
        ..client(Path::new("x-ca.crt"))
    };
    let s = c.load(Names::Section("ric.tls"), &dir).unwrap();
    assert!(s.presents_certificate());
    assert_eq!(s.files()[0].path, files.ca);
    let srv = files.server(Some(&files.ca), 5000);
    assert!(srv.requires_client_certificate());
}

#[test]
fn bad_pem_missing_files_and_mismatches_name_key_and_file() {
    let dir = scratch("cfg-bad");
    let ca = TestCa::new("ca");
    let files = ca.write(&dir, "x");
    let other = ca.write(&dir, "y");
    std::fs::write(dir.join("junk.pem"), "hello, not a certificate\n").unwrap();
    std::fs::write(
        dir.join("broken.pem"),
        "-----BEGIN CERTIFICATE-----\n%%%\n-----END CERTIFICATE-----\n",
    )
    .unwrap();

    let e = client(&dir.join("junk.pem"))
        .load(Names::Section("ric.tls"), &dir)
        .unwrap_err();
    let t = text(&e);
    assert!(
        t.contains("`ric.tls.ca`") && t.contains("junk.pem") && t.contains("no PEM certificate"),
        "{t}"
    );

    let e = client(&dir.join("broken.pem"))
        .load(Names::Section("conflict.tls"), &dir)
        .unwrap_err();
    let t = text(&e);
    assert!(
        t.contains("`conflict.tls.ca`") && t.contains("broken.pem") && t.contains("not valid PEM"),
        "{t}"
    );

    // Both missing files are named, each with its key and where it resolved to.
    let missing = ClientSection {
        cert: Some("nope.crt".into()),
        key: Some("nope.key".into()),
        ..client(Path::new("x-ca.crt"))
    };
    let t = text(&missing.load(Names::Section("ric.tls"), &dir).unwrap_err());
    assert!(
        t.contains("`ric.tls.cert` = \"nope.crt\" (resolved to "),
        "{t}"
    );
    assert!(t.contains("`ric.tls.key` = \"nope.key\""), "{t}");

    // A key that is not the certificate's.
    let mismatch = ServerSection {
        cert: files.cert.clone(),
        key: other.key.clone(),
        client_ca: None,
        reload_ms: 5000,
    };
    let t = text(&mismatch.load(Names::Flags, &dir).unwrap_err());
    assert!(
        t.contains("`--tls-key`") && t.contains("does not match the certificate of `--tls-cert`"),
        "{t}"
    );

    // A certificate file given as the key.
    let not_key = ServerSection {
        key: files.cert.clone(),
        ..mismatch.clone()
    };
    let t = text(&not_key.load(Names::Flags, &dir).unwrap_err());
    assert!(
        t.contains("`--tls-key`") && t.contains("no PEM private key"),
        "{t}"
    );

    // Half an identity, a bad name, a reload interval out of range: all at once.
    let half = ClientSection {
        cert: Some(files.cert.clone()),
        server_name: Some("bad name!".into()),
        reload_ms: 1,
        ..client(&files.ca)
    };
    let e = half.load(Names::Section("ric.tls"), &dir).unwrap_err();
    let keys: Vec<&str> = e.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        ["ric.tls.reload_ms", "ric.tls.server_name", "ric.tls.cert"],
        "{}",
        text(&e)
    );
}

#[test]
fn unknown_keys_are_refused() {
    let e = toml::from_str::<ClientSection>("ca = \"a\"\ninsecure = true\n").unwrap_err();
    assert!(e.to_string().contains("insecure"), "{e}");
}
