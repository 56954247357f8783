//! Property tests against an independent codec: the interop kit's `asn1-oracle.py`
//! (pycrate for E2AP, asn1tools for E2SM), driven in batches by `tests/oracle/driver.py`.
//!
//! For seeded random well-formed values, both directions:
//! * ours → oracle: our APER bytes decode in the oracle to the value we meant (compared in
//!   JER/JSON), and the oracle re-encodes them to the very same bytes;
//! * oracle → ours: the oracle's APER for the same JER value decodes with our codec to the
//!   Rust value we build from the same parameters, and equals our own encoding.
//!
//! JER normalisation (see `same_json`): numbers compare as numbers (a REAL `1.0` in one JSON
//! and `1` in the other are equal; floats compare bit for bit), and hex strings (OCTET STRING
//! in JER) compare case-insensitively (asn1tools writes upper case).
//!
//! Known byte disagreement, REAL: when the binary mantissa's first octet has its top bit set,
//! asn1tools writes a leading `00` octet before it, as if the mantissa were a signed integer.
//! X.690 8.5.7.5 encodes the mantissa as an *unsigned* number, and srsRAN (whose packing
//! `real.rs` tests reproduce) writes no such octet, so we do not either. For such values the
//! bytes are not compared; the values still are, both ways (our decoder reads either form).
//!
//! Needs python3 and `../shared/interop`; skips with a printed line without them, and fails
//! when python3 exists but `scripts/oracle-venv.sh` cannot make the venv.

mod common;

crate::kpm_builders!(e2sm_kpm_v02_03, 4);
crate::kpm_builders!(e2sm_kpm_v03_00, 8);
crate::kpm_builders!(e2sm_kpm_v04_00, 8);

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::kpm;
use e2_asn1::generated::e2ap_v02_03::e2_ap_ies::{RANfunctionID, RICrequestID};
use e2_asn1::generated::e2ap_v02_03::e2_ap_pdu_contents::RICcontrolRequest;
use e2_asn1::generated::e2ap_v02_03::e2_ap_pdu_descriptions::E2APPDU;
use e2_asn1::generated::e2sm_rc_v05_00::e2_sm_common_ies::RICStyleType;
use e2_asn1::generated::e2sm_rc_v05_00::e2_sm_rc_ies::{
    E2SMRCControlHeader, E2SMRCControlHeaderRicControlHeaderFormats, RICControlActionID,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rasn::prelude::*;
use serde_json::{Value, json};

const VALUES_PER_TYPE: usize = 200;

/// The oracle's python (after `scripts/oracle-venv.sh`) and the kit, or `None` to skip.
fn oracle() -> Option<(PathBuf, PathBuf)> {
    let kit = common::interop_dir("oracle")?;
    Some((common::oracle_python("oracle")?, kit))
}

/// Sends every request to one driver process and returns the replies in order.
fn ask(python: &Path, kit: &Path, requests: &[Value]) -> Vec<Value> {
    let driver = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/driver.py");
    let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/asn1-oracle");
    let mut child = Command::new(python)
        .arg(driver)
        .arg(kit.join("asn1-oracle.py"))
        .env("ASN1_ORACLE_CACHE", cache)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the oracle driver");
    let mut stdin = child.stdin.take().expect("stdin");
    let lines: Vec<String> = requests.iter().map(|r| r.to_string()).collect();
    let writer = std::thread::spawn(move || {
        for l in lines {
            writeln!(stdin, "{l}").expect("write a request");
        }
    });
    let replies: Vec<Value> = BufReader::new(child.stdout.take().expect("stdout"))
        .lines()
        .map(|l| serde_json::from_str(&l.expect("a reply line")).expect("a JSON reply"))
        .collect();
    writer.join().expect("writer");
    assert!(
        child.wait().expect("driver exit").success(),
        "oracle driver failed"
    );
    assert_eq!(replies.len(), requests.len(), "one reply per request");
    replies
}

/// JER equality up to the conventions noted in the module docs.
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_u64(), y.as_u64()) {
            (Some(p), Some(q)) => p == q,
            _ => x.as_f64().map(f64::to_bits) == y.as_f64().map(f64::to_bits),
        },
        (Value::String(x), Value::String(y)) => x == y || x.eq_ignore_ascii_case(y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_json(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

/// Decodes oracle bytes with our codec and compares them with the value we built.
type Matcher = Box<dyn Fn(&[u8]) -> Result<bool, String>>;

/// One value to check: its JER, our encoding, and how to decode + compare on our side.
struct Case {
    spec: &'static str,
    type_name: &'static str,
    jer: Value,
    ours: Vec<u8>,
    /// Decodes oracle bytes with our codec and says whether they equal the value we built.
    matches: Matcher,
    /// Holds a REAL whose mantissa asn1tools pads (see the module docs): bytes not compared.
    padded_real: bool,
}

/// Whether asn1tools would pad this REAL's mantissa: its first mantissa octet is >= 0x80.
fn asn1tools_pads(v: f64) -> bool {
    let c = e2_asn1::real::encode_contents(v);
    let Some(&first) = c.first() else {
        return false;
    };
    if first & 0x80 == 0 {
        return false;
    }
    let at = match first & 0x03 {
        3 => 2 + usize::from(c.get(1).copied().unwrap_or(0)),
        n => 2 + usize::from(n),
    };
    c.get(at).is_some_and(|m| m & 0x80 != 0)
}

fn message_pads(m: &kpm::IndicationMessageF1) -> bool {
    m.rows
        .iter()
        .flatten()
        .any(|r| matches!(r, kpm::Record::Real(v) if asn1tools_pads(*v)))
}

fn case<T>(spec: &'static str, type_name: &'static str, jer: Value, value: T) -> Case
where
    T: Encode + Decode + PartialEq + std::fmt::Debug + 'static,
{
    let ours = rasn::aper::encode(&value).expect("our encoding");
    Case {
        spec,
        type_name,
        jer,
        ours,
        matches: Box::new(move |bytes| {
            let got: T = rasn::aper::decode(bytes).map_err(|e| e.to_string())?;
            Ok(got == value)
        }),
        padded_real: false,
    }
}

fn kpm_cases(rng: &mut StdRng) -> Vec<Case> {
    let mut cases = Vec::new();
    for _ in 0..VALUES_PER_TYPE {
        let msg = kpm::random_indication_message(rng);
        let period = rng.random_range(1..=u32::MAX);
        let h4 = kpm::random_indication_header(rng, 4);
        let h8 = kpm::random_indication_header(rng, 8);
        let (m, h, t) = (
            "E2SM-KPM-IndicationMessage",
            "E2SM-KPM-IndicationHeader",
            "E2SM-KPM-EventTriggerDefinition",
        );
        let mut c = case(
            "e2sm-kpm-v2",
            m,
            msg.jer(),
            e2sm_kpm_v02_03::indication_message(&msg),
        );
        c.padded_real = message_pads(&msg);
        cases.push(c);
        let mut c = case(
            "e2sm-kpm-v3",
            m,
            msg.jer(),
            e2sm_kpm_v03_00::indication_message(&msg),
        );
        c.padded_real = message_pads(&msg);
        cases.push(c);
        let mut c = case(
            "e2sm-kpm-v4",
            m,
            msg.jer(),
            e2sm_kpm_v04_00::indication_message(&msg),
        );
        c.padded_real = message_pads(&msg);
        cases.push(c);
        cases.push(case(
            "e2sm-kpm-v2",
            h,
            h4.jer(),
            e2sm_kpm_v02_03::indication_header(&h4),
        ));
        cases.push(case(
            "e2sm-kpm-v3",
            h,
            h8.jer(),
            e2sm_kpm_v03_00::indication_header(&h8),
        ));
        cases.push(case(
            "e2sm-kpm-v4",
            h,
            h8.jer(),
            e2sm_kpm_v04_00::indication_header(&h8),
        ));
        let tj = kpm::event_trigger_jer(period);
        cases.push(case(
            "e2sm-kpm-v2",
            t,
            tj.clone(),
            e2sm_kpm_v02_03::event_trigger(period),
        ));
        cases.push(case(
            "e2sm-kpm-v3",
            t,
            tj.clone(),
            e2sm_kpm_v03_00::event_trigger(period),
        ));
        cases.push(case(
            "e2sm-kpm-v4",
            t,
            tj,
            e2sm_kpm_v04_00::event_trigger(period),
        ));
    }
    cases
}

/// Runs both directions for every case; returns the failures.
fn check_both_ways(python: &Path, kit: &Path, cases: &[Case]) -> Vec<String> {
    let mut requests = Vec::with_capacity(cases.len() * 2);
    for c in cases {
        requests.push(json!({"op": "decode", "spec": c.spec, "type": c.type_name, "hex": hex::encode(&c.ours)}));
        requests.push(json!({"op": "encode", "spec": c.spec, "type": c.type_name, "jer": c.jer}));
    }
    let replies = ask(python, kit, &requests);
    let mut failures = Vec::new();
    for (c, pair) in cases.iter().zip(replies.chunks(2)) {
        let label = format!("{} {} {}", c.spec, c.type_name, hex::encode(&c.ours));
        let (dec, enc) = (&pair[0], &pair[1]);
        // ours -> oracle
        if dec["ok"] != json!(true) {
            failures.push(format!(
                "{label}: oracle cannot decode ours: {}",
                dec["error"]
            ));
        } else {
            if !same_json(&dec["jer"], &c.jer) {
                failures.push(format!(
                    "{label}: oracle reads {} for {}",
                    dec["jer"], c.jer
                ));
            }
            if !c.padded_real && dec["hex"] != json!(hex::encode(&c.ours)) {
                failures.push(format!("{label}: oracle re-encodes {}", dec["hex"]));
            }
        }
        // oracle -> ours
        if enc["ok"] != json!(true) {
            failures.push(format!(
                "{label}: oracle cannot encode {}: {}",
                c.jer, enc["error"]
            ));
            continue;
        }
        let theirs = hex::decode(enc["hex"].as_str().unwrap_or_default()).unwrap_or_default();
        match (c.matches)(&theirs) {
            Ok(true) => {}
            Ok(false) => failures.push(format!(
                "{label}: ours decodes oracle {} to another value",
                hex::encode(&theirs)
            )),
            Err(e) => failures.push(format!(
                "{label}: ours cannot decode oracle {}: {e}",
                hex::encode(&theirs)
            )),
        }
        if !c.padded_real && theirs != c.ours {
            failures.push(format!("{label}: oracle encodes {}", hex::encode(&theirs)));
        }
    }
    failures
}

#[test]
fn kpm_messages_agree_with_the_oracle_both_ways() {
    let Some((python, kit)) = oracle() else {
        return;
    };
    let mut rng = StdRng::seed_from_u64(0x0000_ac1e_2024);
    let cases = kpm_cases(&mut rng);
    let started = std::time::Instant::now();
    let padded = cases.iter().filter(|c| c.padded_real).count();
    let failures = check_both_ways(&python, &kit, &cases);
    println!(
        "oracle: {padded} KPM messages hold a REAL asn1tools pads: values compared, not bytes"
    );
    println!(
        "oracle: {} KPM values (v02.03/v03.00/v04.00 indication message F1 with integer/real/noValue records, header F1, event trigger F1), both ways, {:.1} s, {} failures",
        cases.len(),
        started.elapsed().as_secs_f64(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures, first ones:\n{}",
        failures.len(),
        failures[..failures.len().min(10)].join("\n")
    );
}

/// The srsRAN control request with a random RIC request ID and RAN function ID.
fn control_request_variant(
    base: &E2APPDU,
    requestor: u16,
    instance: u16,
    function: u16,
) -> E2APPDU {
    let mut pdu = base.clone();
    let E2APPDU::initiatingMessage(m) = &mut pdu else {
        panic!("initiating message")
    };
    let mut req: RICcontrolRequest =
        rasn::aper::decode(m.value.as_bytes()).expect("control request");
    for ie in &mut req.protocol_ies.0 {
        if ie.id.0 == 29 {
            ie.value =
                Any::new(rasn::aper::encode(&RICrequestID::new(requestor, instance)).expect("id"));
        } else if ie.id.0 == 5 {
            ie.value = Any::new(rasn::aper::encode(&RANfunctionID(function)).expect("id"));
        }
    }
    m.value = Any::new(rasn::aper::encode(&req).expect("control request"));
    pdu
}

/// Sets the RIC request ID / RAN function ID IEs in pycrate's JER of a control request.
fn set_control_request_ids(jer: &mut Value, requestor: u16, instance: u16, function: u16) {
    let ies = jer["initiatingMessage"]["value"]["protocolIEs"]
        .as_array_mut()
        .expect("protocolIEs");
    for ie in ies {
        match ie["id"].as_u64() {
            Some(29) => {
                ie["value"] = json!({"ricRequestorID": requestor, "ricInstanceID": instance})
            }
            Some(5) => ie["value"] = json!(function),
            _ => {}
        }
    }
}

#[test]
fn e2ap_control_requests_and_rc_headers_agree_with_the_oracle_both_ways() {
    let Some((python, kit)) = oracle() else {
        return;
    };
    let vectors = common::load(&kit, "srsran.json");
    let get = |id: &str| vectors.iter().find(|v| v.id == id).expect(id).bytes.clone();
    let ctrl = get("srsran/ric_control_procedure_packed/e2ap_ctrl_req");
    let hdr = get("srsran/unpack_ric_control_header/ctrl_header");
    // The oracle's JER of each base value, to vary in place for the oracle -> ours direction.
    let base = ask(
        &python,
        &kit,
        &[
            json!({"op": "decode", "spec": "e2ap-v2", "type": "E2AP-PDU", "hex": hex::encode(&ctrl)}),
            json!({"op": "decode", "spec": "e2sm-rc-v5", "type": "E2SM-RC-ControlHeader", "hex": hex::encode(&hdr)}),
        ],
    );
    assert_eq!(base[0]["ok"], json!(true), "{}", base[0]);
    assert_eq!(base[1]["ok"], json!(true), "{}", base[1]);
    let ctrl_pdu: E2APPDU = rasn::aper::decode(&ctrl).expect("control request");
    let hdr_val: E2SMRCControlHeader = rasn::aper::decode(&hdr).expect("control header");

    let mut rng = StdRng::seed_from_u64(0x0000_ac1e_e2a9);
    let mut cases = Vec::new();
    for _ in 0..VALUES_PER_TYPE {
        let (a, b, f) = (rng.random(), rng.random(), rng.random_range(0..=4095));
        let mut jer = base[0]["jer"].clone();
        set_control_request_ids(&mut jer, a, b, f);
        cases.push(case(
            "e2ap-v2",
            "E2AP-PDU",
            jer,
            control_request_variant(&ctrl_pdu, a, b, f),
        ));

        let (style, action) = (
            rng.random_range(1..=i64::from(i32::MAX)),
            rng.random_range(1..=65535i64),
        );
        let mut h = hdr_val.clone();
        let E2SMRCControlHeaderRicControlHeaderFormats::controlHeader_Format1(f1) =
            &mut h.ric_control_header_formats
        else {
            panic!("format 1")
        };
        f1.ric_style_type = RICStyleType(Integer::from(style));
        f1.ric_control_action_id = RICControlActionID(Integer::from(action));
        let mut jer = base[1]["jer"].clone();
        let jf1 = &mut jer["ric-controlHeader-formats"]["controlHeader-Format1"];
        assert!(jf1.is_object(), "unexpected JER layout: {}", base[1]["jer"]);
        jf1["ric-Style-Type"] = json!(style);
        jf1["ric-ControlAction-ID"] = json!(action);
        cases.push(case("e2sm-rc-v5", "E2SM-RC-ControlHeader", jer, h));
    }
    let failures = check_both_ways(&python, &kit, &cases);
    println!(
        "oracle: {} E2AP control request / E2SM-RC control header variants, both ways, {} failures",
        cases.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures, first ones:\n{}",
        failures.len(),
        failures[..failures.len().min(10)].join("\n")
    );
}
