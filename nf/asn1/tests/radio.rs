//! UE-level telemetry (report style 4: action definition format 4, indication message
//! format 3), the cell radio report (style 1 by name) and handover by `UeId`, in every
//! supported E2SM-KPM version: round trips, per-UE refusals, bounds, and both directions
//! against the independent oracle of `../shared/interop` (asn1tools), which decodes our
//! bytes into the values we put in and encodes values our decoder must read.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use e2_asn1::kpm::radio::{
    ActionKind, classify_action_definition, decode_cell_radio_indication,
    decode_ue_action_definition, decode_ue_indication, encode_cell_radio_action_definition,
    encode_cell_radio_indication, encode_ue_action_definition, encode_ue_indication,
};
use e2_asn1::kpm::{IndicationScope, KpmAperError, KpmVersion, encode_action_definition};
use e2_asn1::rc::{
    HandoverControl, decode_handover_control, decode_ue_handover, encode_handover_control,
    gnb_ue_id, ue_id_of,
};
use nf_core::CellId;
use nf_core::e2sm::{CellInfo, Limits, MAX_UES_PER_REPORT, ue_drop};
use nf_core::radio::{CellRadio, Neighbour, UeId, UeLevelReport, UeRadio, ue_meas};
use serde_json::{Value, json};

const PLMN: [u8; 3] = [0x00, 0xf1, 0x10];

fn cell() -> CellInfo {
    CellInfo {
        cell: CellId::new(PLMN, 0x0_0000_19b1),
        slices: vec![],
        prb_total_dl: 106,
    }
}

fn scope() -> IndicationScope {
    IndicationScope {
        cell: cell().cell,
        granularity_ms: 1000,
    }
}

fn ue(id: u64) -> UeRadio {
    UeRadio {
        ue: UeId(id),
        rsrp_dbm: Some(-85.5),
        rsrq_db: Some(-11.25),
        sinr_db: Some(7.5),
        cqi: Some(9.0),
        thp_dl_kbps: Some(12_345.5),
        prb_used_dl: Some(17.0),
        neighbour: Some(Neighbour {
            // Over 32 bits: written as an exact REAL, read back as the integer.
            cell: CellId::new(PLMN, 0xf_1234_5678),
            rsrp_dbm: -88.0,
            rsrq_db: Some(-14.5),
        }),
    }
}

fn report() -> UeLevelReport {
    let mut sparse = UeRadio::empty(UeId(UeId::MAX));
    sparse.rsrp_dbm = Some(-120.0);
    sparse.sinr_db = Some(-3.0);
    let mut unnamed = ue(42);
    unnamed.neighbour = Some(Neighbour {
        cell: CellId::new(PLMN, 0),
        rsrp_dbm: -99.0,
        rsrq_db: None,
    });
    UeLevelReport {
        cell: cell().cell,
        collection_start_ms: 1_700_000_001_000,
        granularity_ms: 1000,
        ues: vec![ue(7), sparse, unnamed],
    }
}

fn cell_radio() -> CellRadio {
    let mut c = CellRadio {
        cell: cell().cell,
        collection_start_ms: 1_700_000_002_000,
        granularity_ms: 1000,
        prb_used_dl: Some(63.0),
        prb_avail_dl: Some(106.0),
        cqi_bins: [0; 16],
        rsrp_bins: [0; 16],
    };
    for (i, b) in c.cqi_bins.iter_mut().enumerate() {
        *b = (i * 3) as u32;
    }
    c.rsrp_bins[12] = 5;
    c.rsrp_bins[15] = u32::MAX;
    c
}

#[test]
fn ue_level_reports_round_trip_in_every_version() {
    for v in KpmVersion::ALL {
        let r = report();
        let (h, m) = encode_ue_indication(&r, v);
        let (back, notes) = decode_ue_indication(&h, &m, &Limits::default(), &scope(), v)
            .unwrap_or_else(|e| panic!("{v}: {e}"));
        assert_eq!(back, r, "{v}");
        assert!(notes.dropped.is_empty(), "{v}: {notes:?}");
        assert_eq!(notes.values.unknown_measurements, 0);
        // The sparse UE: RSRQ, CQI, throughput, PRBs and the three neighbour names are noValue;
        // the unnamed neighbour's RSRQ too.
        assert_eq!(notes.values.no_values, 8, "{v}");
    }
}

#[test]
fn an_empty_ue_report_has_no_message_and_garbage_is_refused() {
    let mut r = report();
    r.ues.clear();
    let (h, m) = encode_ue_indication(&r, KpmVersion::V3_00);
    assert!(!h.is_empty());
    assert!(
        m.is_empty(),
        "format 3's UE list is SIZE(1..): nothing to send"
    );
    let e =
        decode_ue_indication(&h, &m, &Limits::default(), &scope(), KpmVersion::V3_00).unwrap_err();
    assert_eq!(e.kind(), "malformed");
    // A slice report (format 1) is not a UE-level report.
    let (h1, m1) = e2_asn1::kpm::encode_indication(
        &nf_core::KpmReport {
            cell: cell().cell,
            collection_start_ms: 1_700_000_000_000,
            granularity_ms: 1000,
            cell_meas: Default::default(),
            slices: vec![],
        },
        true,
        KpmVersion::V3_00,
    );
    let e = decode_ue_indication(&h1, &m1, &Limits::default(), &scope(), KpmVersion::V3_00)
        .unwrap_err();
    assert_eq!(e.kind(), "missing_field");
    // A v02.03 header under v03.00: the named skew.
    let (h2, m2) = encode_ue_indication(&report(), KpmVersion::V2_03);
    let e = decode_ue_indication(&h2, &m2, &Limits::default(), &scope(), KpmVersion::V3_00)
        .unwrap_err();
    assert_eq!(e.kind(), "kpm_version_skew");
}

#[test]
fn a_bad_ue_is_dropped_and_named_and_the_rest_kept() {
    let v = KpmVersion::V4_00;
    let mut r = report();
    let mut hot = ue(9);
    hot.sinr_db = Some(55.0); // over the 40 dB of TS 38.133
    let mut nan = ue(10);
    nan.rsrq_db = Some(f32::INFINITY);
    let mut far = ue(11);
    if let Some(n) = far.neighbour.as_mut() {
        n.rsrp_dbm = 3.0;
    }
    r.ues.extend([hot, nan, far, ue(7)]); // and UE 7 again
    let (h, m) = encode_ue_indication(&r, v);
    let (back, notes) = decode_ue_indication(&h, &m, &Limits::default(), &scope(), v).unwrap();
    assert_eq!(back.ues, report().ues, "the good UEs are kept, in order");
    let reasons: Vec<(Option<UeId>, &str)> =
        notes.dropped.iter().map(|d| (d.ue, d.reason)).collect();
    assert_eq!(
        reasons,
        [
            (Some(UeId(9)), ue_drop::IMPOSSIBLE_VALUE),
            (Some(UeId(10)), ue_drop::IMPOSSIBLE_VALUE),
            (Some(UeId(11)), ue_drop::IMPOSSIBLE_VALUE),
            (Some(UeId(7)), ue_drop::DUPLICATE_UE),
        ]
    );
    assert!(
        notes.dropped[0].detail.contains(ue_meas::SS_SINR),
        "{:?}",
        notes.dropped[0]
    );
    assert!(
        notes.dropped[1].detail.contains(ue_meas::SS_RSRQ),
        "{:?}",
        notes.dropped[1]
    );
    assert!(
        notes.dropped[2].detail.contains(ue_meas::NBR_SS_RSRP),
        "{:?}",
        notes.dropped[2]
    );
}

#[test]
fn ue_count_and_payload_bounds_refuse_the_whole_report() {
    let v = KpmVersion::V3_00;
    let mut r = report();
    r.ues = (0..=MAX_UES_PER_REPORT as u64).map(ue).collect();
    let (h, m) = encode_ue_indication(&r, v);
    let roomy = Limits {
        max_payload_bytes: 1 << 20,
        ..Limits::default()
    };
    match decode_ue_indication(&h, &m, &roomy, &scope(), v) {
        Err(KpmAperError::TooMany {
            what: "UEs",
            count,
            limit,
        }) => {
            assert_eq!((count, limit), (MAX_UES_PER_REPORT + 1, MAX_UES_PER_REPORT));
        }
        other => panic!("{other:?}"),
    }
    let e = decode_ue_indication(&h, &m, &Limits::default(), &scope(), v).unwrap_err();
    assert_eq!(e.kind(), "oversize");
    let few = Limits {
        max_measurements: 8,
        ..Limits::default()
    };
    let (h, m) = encode_ue_indication(&report(), v);
    let e = decode_ue_indication(&h, &m, &few, &scope(), v).unwrap_err();
    assert_eq!(e.kind(), "too_many");
}

#[test]
fn cell_radio_reports_round_trip_and_impossible_values_are_named() {
    for v in KpmVersion::ALL {
        let c = cell_radio();
        let (h, m) = encode_cell_radio_indication(&c, v);
        let (back, notes) =
            decode_cell_radio_indication(&h, &m, &Limits::default(), &scope(), v).unwrap();
        assert_eq!(back, c, "{v}");
        assert_eq!(notes, Default::default());
        let mut none = c.clone();
        none.prb_used_dl = None;
        let (h, m) = encode_cell_radio_indication(&none, v);
        let (back, notes) =
            decode_cell_radio_indication(&h, &m, &Limits::default(), &scope(), v).unwrap();
        assert_eq!(back.prb_used_dl, None);
        assert_eq!(notes.no_values, 1);
        let mut bad = c.clone();
        bad.prb_used_dl = Some(300.0);
        let (h, m) = encode_cell_radio_indication(&bad, v);
        let e = decode_cell_radio_indication(&h, &m, &Limits::default(), &scope(), v).unwrap_err();
        assert_eq!(e.kind(), "impossible_value");
        assert!(e.to_string().contains("RRU.PrbUsedDl"), "{e}");
        assert!(e2_asn1::kpm::KpmAperError::KINDS.contains(&e.kind()));
    }
}

#[test]
fn action_definitions_round_trip_and_are_told_apart() {
    for v in KpmVersion::ALL {
        let ue_def = encode_ue_action_definition(&cell(), 1000, v);
        let a = decode_ue_action_definition(&ue_def, v).unwrap();
        assert_eq!(a.cell, cell().cell);
        assert_eq!(a.granularity_ms, 1000);
        assert_eq!(a.measurements, ue_meas::ALL.map(str::to_owned).to_vec());
        assert_eq!(a.conditions, ["rSRP present"]);
        assert!(
            matches!(classify_action_definition(&ue_def, v), Ok(ActionKind::UeLevel(x)) if x == a)
        );
        let radio = encode_cell_radio_action_definition(&cell(), 500, v);
        assert_eq!(
            classify_action_definition(&radio, v).unwrap(),
            ActionKind::CellRadio {
                cell: cell().cell,
                granularity_ms: 500
            }
        );
        let mut slices = cell();
        slices.slices = vec![nf_core::Snssai::new(1, Some(1))];
        let slice = encode_action_definition(&slices, 250, v);
        assert_eq!(
            classify_action_definition(&slice, v).unwrap(),
            ActionKind::SliceMeasurement {
                cell: cell().cell,
                granularity_ms: 250
            }
        );
        assert_eq!(
            decode_ue_action_definition(&radio, v).unwrap_err().kind(),
            "invalid_id"
        );
        // The slice xApp's decoder still refuses a style-4 definition (not its style).
        assert!(e2_asn1::kpm::decode_action_info(&ue_def, v).is_err());
    }
}

#[test]
fn handover_carries_the_ue_id_and_srsrans_vector_still_reads() {
    let target = CellId::new(PLMN, 0x19b1);
    let ho = HandoverControl::of_ue(UeId(123_456_789), &target).unwrap();
    let (h, m) = encode_handover_control(&ho).unwrap();
    assert_eq!(
        decode_ue_handover(&h, &m).unwrap(),
        (UeId(123_456_789), target)
    );
    assert_eq!(decode_handover_control(&h, &m).unwrap(), ho);
    assert_eq!(
        HandoverControl::of_ue(UeId(UeId::MAX + 1), &target)
            .unwrap_err()
            .kind(),
        "out_of_range"
    );
    // A cell-level UE ID (gNB-DU choice) names no UE.
    let du = HandoverControl {
        ue_id: e2_asn1::rc::cell_level_ue_id(),
        target_cell: target,
    };
    let (h, m) = encode_handover_control(&du).unwrap();
    assert_eq!(
        decode_ue_handover(&h, &m).unwrap_err().kind(),
        "unsupported_ue_id"
    );
    assert_eq!(
        ue_id_of(&gnb_ue_id(UeId(5), PLMN).unwrap()).unwrap(),
        UeId(5)
    );

    // srsRAN's handover control: UE = AMF UE NGAP ID 7 (with an F1AP ID list we ignore).
    let Some(dir) = common::interop_dir("handover_carries_the_ue_id") else {
        return;
    };
    let v = common::load(&dir, "srsran.json");
    let pdu = v
        .iter()
        .find(|x| x.id == "srsran/ric_control_procedure_ho/e2_ctrl_req")
        .expect("the srsRAN handover vector");
    let (header, message) = control_ies(&pdu.bytes);
    assert_eq!(
        decode_ue_handover(&header, &message).unwrap(),
        (UeId(7), CellId::new(PLMN, 0x19b1))
    );
}

/// The control header and message octets of an E2AP RIC control request.
fn control_ies(pdu: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let msg = e2_asn1::e2ap::decode(pdu, &e2_asn1::e2ap::Limits::default()).expect("E2AP decodes");
    match msg {
        e2_asn1::e2ap::E2apMessage::ControlRequest {
            header, message, ..
        } => (header, message),
        other => panic!("not a control request: {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// The oracle.

fn oracle_replies(requests: &[Value]) -> Option<Vec<Value>> {
    let kit = common::interop_dir("radio oracle")?;
    let python = common::oracle_python("radio oracle")?;
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
    for r in requests {
        writeln!(stdin, "{r}").expect("write a request");
    }
    drop(stdin);
    let replies: Vec<Value> = BufReader::new(child.stdout.take().expect("stdout"))
        .lines()
        .map(|l| serde_json::from_str(&l.expect("a line")).expect("JSON"))
        .collect();
    assert!(child.wait().expect("exit").success());
    assert_eq!(replies.len(), requests.len());
    for r in &replies {
        assert_eq!(r["ok"], true, "oracle: {r}");
    }
    Some(replies)
}

fn spec(v: KpmVersion) -> &'static str {
    match v {
        KpmVersion::V2_03 => "e2sm-kpm-v2",
        KpmVersion::V3_00 => "e2sm-kpm-v3",
        KpmVersion::V4_00 => "e2sm-kpm-v4",
    }
}

fn decode_req(v: KpmVersion, ty: &str, bytes: &[u8]) -> Value {
    json!({"op": "decode", "spec": spec(v), "type": ty, "hex": hex::encode(bytes)})
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("measInfoList")
        .iter()
        .map(|i| {
            i["measType"]["measName"]
                .as_str()
                .expect("a name")
                .to_owned()
        })
        .collect()
}

fn num(v: &Value) -> Option<f64> {
    v.get("integer")
        .or_else(|| v.get("real"))
        .and_then(Value::as_f64)
}

#[test]
fn the_oracle_reads_our_ue_level_and_cell_radio_bytes() {
    let mut requests = Vec::new();
    for v in KpmVersion::ALL {
        requests.push(decode_req(
            v,
            "E2SM-KPM-ActionDefinition",
            &encode_ue_action_definition(&cell(), 1000, v),
        ));
        requests.push(decode_req(
            v,
            "E2SM-KPM-IndicationMessage",
            &encode_ue_indication(&report(), v).1,
        ));
        requests.push(decode_req(
            v,
            "E2SM-KPM-ActionDefinition",
            &encode_cell_radio_action_definition(&cell(), 1000, v),
        ));
        requests.push(decode_req(
            v,
            "E2SM-KPM-IndicationMessage",
            &encode_cell_radio_indication(&cell_radio(), v).1,
        ));
    }
    let Some(replies) = oracle_replies(&requests) else {
        return;
    };
    for (i, v) in KpmVersion::ALL.into_iter().enumerate() {
        let [def, ind, rdef, rind] = &replies[i * 4..i * 4 + 4] else {
            unreachable!()
        };
        // Format 4: style 4, one condition rSRP present, the UE names and the cell.
        let d = &def["jer"];
        assert_eq!(d["ric-Style-Type"], 4, "{v}: {d}");
        let f4 = &d["actionDefinition-formats"]["actionDefinition-Format4"];
        let conds = f4["matchingUeCondList"].as_array().expect("conditions");
        assert_eq!(conds.len(), 1);
        assert!(
            conds[0]["testCondInfo"]["testType"].get("rSRP").is_some(),
            "{v}: {d}"
        );
        assert_eq!(conds[0]["testCondInfo"]["testExpr"], "present");
        assert!(conds[0]["testCondInfo"].get("testValue").is_none());
        let sub = &f4["subscriptionInfo"];
        assert_eq!(
            names(&sub["measInfoList"]),
            ue_meas::ALL.map(str::to_owned).to_vec()
        );
        assert_eq!(sub["granulPeriod"], 1000);
        assert!(
            sub["cellGlobalID"]["nR-CGI"]["pLMNIdentity"]
                .as_str()
                .is_some_and(|p| p.eq_ignore_ascii_case("00F110")),
            "{v}: {sub}"
        );
        // Format 3: per UE the gNB UEID and one record per name with our values.
        let list = &ind["jer"]["indicationMessage-formats"]["indicationMessage-Format3"]["ueMeasReportList"];
        let list = list.as_array().unwrap_or_else(|| panic!("{v}: {ind}"));
        assert_eq!(list.len(), 3);
        for (item, want) in list.iter().zip(&report().ues) {
            let g = &item["ueID"]["gNB-UEID"];
            assert_eq!(g["amf-UE-NGAP-ID"].as_u64(), Some(want.ue.0), "{v}: {item}");
            assert!(
                g["guami"]["pLMNIdentity"]
                    .as_str()
                    .is_some_and(|p| p.eq_ignore_ascii_case("00F110"))
            );
            let rep = &item["measReport"];
            assert_eq!(
                names(&rep["measInfoList"]),
                ue_meas::ALL.map(str::to_owned).to_vec()
            );
            let recs = rep["measData"][0]["measRecord"]
                .as_array()
                .expect("records");
            let got: Vec<Option<f64>> = recs.iter().map(num).collect();
            let n = want.neighbour;
            let expect = [
                want.rsrp_dbm.map(f64::from),
                want.rsrq_db.map(f64::from),
                want.sinr_db.map(f64::from),
                want.cqi.map(f64::from),
                want.thp_dl_kbps.map(f64::from),
                want.prb_used_dl.map(f64::from),
                n.map(|n| n.cell.nci as f64),
                n.map(|n| f64::from(n.rsrp_dbm)),
                n.and_then(|n| n.rsrq_db).map(f64::from),
            ];
            assert_eq!(got, expect, "{v}: {rep}");
            // CQI and PRBs are integers, as real nodes send them; levels are reals.
            if want.cqi.is_some() {
                assert!(recs[3].get("integer").is_some(), "{v}: {}", recs[3]);
                assert!(recs[0].get("real").is_some(), "{v}: {}", recs[0]);
            }
        }
        // The cell radio action (format 1, style 1) and its indication.
        let rd = &rdef["jer"];
        assert_eq!(rd["ric-Style-Type"], 1);
        let rnames =
            names(&rd["actionDefinition-formats"]["actionDefinition-Format1"]["measInfoList"]);
        assert_eq!(rnames, nf_core::e2sm::cell_radio_names());
        let f1 = &rind["jer"]["indicationMessage-formats"]["indicationMessage-Format1"];
        assert_eq!(
            names(&f1["measInfoList"]),
            nf_core::e2sm::cell_radio_names()
        );
        let recs: Vec<Option<f64>> = f1["measData"][0]["measRecord"]
            .as_array()
            .expect("records")
            .iter()
            .map(num)
            .collect();
        let c = cell_radio();
        let mut expect = vec![Some(63.0), Some(106.0)];
        expect.extend(c.cqi_bins.iter().map(|b| Some(f64::from(*b))));
        expect.extend(c.rsrp_bins.iter().map(|b| Some(f64::from(*b))));
        assert_eq!(recs, expect, "{v}");
    }
}

/// A format-3 message written by hand in JER: UE 77 with every name in another order, an
/// unknown name and a vendor-specific one we do not know; UE 78 of the ng-eNB choice (to be
/// dropped); UE 79 with no measurement info (read in `ue_meas::ALL` order).
fn hand_written_format3() -> Value {
    let label = json!([{"measLabel": {"noLabel": "true"}}]);
    let info = |names: &[&str]| -> Value {
        names
            .iter()
            .map(|n| json!({"measType": {"measName": n}, "labelInfoList": label}))
            .collect()
    };
    let guami = json!({"pLMNIdentity": "00F110", "aMFRegionID": "80", "aMFSetID": "0040", "aMFPointer": "04"});
    json!({"indicationMessage-formats": {"indicationMessage-Format3": {"ueMeasReportList": [
        {"ueID": {"gNB-UEID": {"amf-UE-NGAP-ID": 77, "guami": guami}},
         "measReport": {
            "measData": [{"measRecord": [
                {"integer": 12}, {"real": -101.5}, {"real": 3.25}, {"integer": 4242},
                {"real": -104.0}, {"integer": 33}, {"real": 1.5}
            ]}],
            "measInfoList": info(&["CARR.WBCQIDist", "L1M.SS-RSRP", "L1M.SS-SINR",
                                   "VS.Nbr1.NCI", "VS.Nbr1.SS-RSRP", "VS.Unheard.Thing", "DRB.UEThpDl"]),
            "granulPeriod": 500}},
        {"ueID": {"ng-eNB-UEID": {"amf-UE-NGAP-ID": 78, "guami": guami}},
         "measReport": {"measData": [{"measRecord": [{"real": -90.0}]}],
                        "measInfoList": info(&["L1M.SS-RSRP"])}},
        {"ueID": {"gNB-UEID": {"amf-UE-NGAP-ID": 79, "guami": guami}},
         "measReport": {"measData": [{"measRecord": [
                {"real": -95.0}, {"real": -10.5}, {"real": 12.0}, {"integer": 11},
                {"real": 800.0}, {"integer": 5}, {"noValue": null}, {"noValue": null},
                {"noValue": null}]}]}}
    ]}}})
}

#[test]
fn we_read_what_the_oracle_encodes() {
    let mut requests = Vec::new();
    for v in KpmVersion::ALL {
        requests.push(
            json!({"op": "encode", "spec": spec(v), "type": "E2SM-KPM-IndicationMessage",
                             "jer": hand_written_format3()}),
        );
    }
    // A cell radio message by hand: three names, one unknown.
    let radio = json!({"indicationMessage-formats": {"indicationMessage-Format1": {
    "measData": [{"measRecord": [{"integer": 40}, {"integer": 9}, {"real": 2.0}]}],
    "measInfoList": [
        {"measType": {"measName": "RRU.PrbUsedDl"}, "labelInfoList": [{"measLabel": {"noLabel": "true"}}]},
        {"measType": {"measName": "CARR.WBCQIDist.Bin7"}, "labelInfoList": [{"measLabel": {"noLabel": "true"}}]},
        {"measType": {"measName": "CARR.WBCQIDist.Bin16"}, "labelInfoList": [{"measLabel": {"noLabel": "true"}}]}
    ]}}});
    for v in KpmVersion::ALL {
        requests.push(
            json!({"op": "encode", "spec": spec(v), "type": "E2SM-KPM-IndicationMessage",
                             "jer": radio}),
        );
    }
    let Some(replies) = oracle_replies(&requests) else {
        return;
    };
    for (i, v) in KpmVersion::ALL.into_iter().enumerate() {
        let m = hex::decode(replies[i]["hex"].as_str().expect("hex")).expect("hex");
        let (h, _) = encode_ue_indication(&report(), v);
        let (r, notes) = decode_ue_indication(&h, &m, &Limits::default(), &scope(), v)
            .unwrap_or_else(|e| panic!("{v}: {e}"));
        assert_eq!(r.granularity_ms, 500);
        let mut u77 = UeRadio::empty(UeId(77));
        u77.cqi = Some(12.0);
        u77.rsrp_dbm = Some(-101.5);
        u77.sinr_db = Some(3.25);
        u77.thp_dl_kbps = Some(1.5);
        u77.neighbour = Some(Neighbour {
            cell: CellId::new(PLMN, 4242),
            rsrp_dbm: -104.0,
            rsrq_db: None,
        });
        let u79 = UeRadio {
            ue: UeId(79),
            rsrp_dbm: Some(-95.0),
            rsrq_db: Some(-10.5),
            sinr_db: Some(12.0),
            cqi: Some(11.0),
            thp_dl_kbps: Some(800.0),
            prb_used_dl: Some(5.0),
            neighbour: None,
        };
        assert_eq!(r.ues, vec![u77, u79], "{v}");
        assert_eq!(notes.values.unknown_measurements, 1, "{v}");
        assert_eq!(notes.values.no_values, 3, "{v}");
        assert_eq!(notes.dropped.len(), 1);
        assert_eq!(notes.dropped[0].reason, ue_drop::UNSUPPORTED_UE_ID);
        assert!(
            notes.dropped[0].detail.contains("ng-eNB-UEID"),
            "{:?}",
            notes.dropped
        );

        let m = hex::decode(replies[3 + i]["hex"].as_str().expect("hex")).expect("hex");
        let (h, _) = encode_cell_radio_indication(&cell_radio(), v);
        let (c, notes) =
            decode_cell_radio_indication(&h, &m, &Limits::default(), &scope(), v).unwrap();
        assert_eq!(c.prb_used_dl, Some(40.0));
        assert_eq!(c.prb_avail_dl, None);
        assert_eq!(c.cqi_bins[7], 9);
        assert_eq!(c.cqi_bins.iter().sum::<u32>(), 9);
        assert_eq!(notes.unknown_measurements, 1, "Bin16 is not a CQI bin");
    }
}
