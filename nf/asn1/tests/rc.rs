//! E2SM-RC domain codec against real bytes (srsRAN Project vectors), the independent oracle
//! (`../shared/interop/asn1-oracle.py`) and hostile inputs. Tests needing `../shared` or the
//! oracle's Python skip with a printed line when it is absent.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use e2_asn1::generated::e2ap_v02_03::e2_ap_pdu_contents::RICcontrolRequest;
use e2_asn1::generated::e2ap_v02_03::e2_ap_pdu_descriptions::E2APPDU;
use e2_asn1::generated::e2sm_rc_v05_00::e2_sm_rc_ies as ies;
use e2_asn1::rc::*;
use nf_core::policy::SliceQuota;
use nf_core::{CellId, Snssai};
use rasn::types::Integer;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn srsran_vectors() -> Option<Vec<serde_json::Value>> {
    let path = workspace().join("../shared/interop/vectors/srsran.json");
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(serde_json::from_str(&text).expect("srsran.json parses")),
        Err(_) => {
            println!("skipped: {} is absent", path.display());
            None
        }
    }
}

fn vector(vectors: &[serde_json::Value], id: &str) -> Vec<u8> {
    let v = vectors
        .iter()
        .find(|v| v["id"] == id)
        .unwrap_or_else(|| panic!("vector {id} present"));
    hex::decode(v["hex"].as_str().expect("hex")).expect("hex decodes")
}

/// IEs 22 (RICcontrolHeader) and 23 (RICcontrolMessage) of an E2AP RIC control request.
fn control_ies(pdu: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let E2APPDU::initiatingMessage(m) = rasn::aper::decode::<E2APPDU>(pdu).expect("E2AP PDU")
    else {
        panic!("not an initiating message")
    };
    assert_eq!(m.procedure_code.0, 4, "RIC control procedure");
    let req: RICcontrolRequest = rasn::aper::decode(m.value.as_bytes()).expect("control request");
    let ie = |id: u16| -> Vec<u8> {
        let any = &req
            .protocol_ies
            .0
            .iter()
            .find(|ie| ie.id.0 == id)
            .unwrap_or_else(|| panic!("IE {id}"))
            .value;
        let octets: rasn::types::OctetString = rasn::aper::decode(any.as_bytes()).expect("octets");
        octets.to_vec()
    };
    (ie(22), ie(23))
}

fn quotas() -> Vec<SliceQuota> {
    vec![
        SliceQuota {
            snssai: Snssai::new(1, Some(0xabcdef)),
            min_ratio: 20,
            max_ratio: 60,
            dedicated_ratio: 10,
        },
        SliceQuota {
            snssai: Snssai::new(2, None),
            min_ratio: 5,
            max_ratio: 30,
            dedicated_ratio: 0,
        },
    ]
}

const PLMN: [u8; 3] = [0x00, 0xf1, 0x10];

#[test]
fn profiles_parse_from_lower_case_names() {
    for (text, want) in [
        ("\"oran\"", RcProfile::Oran),
        ("\"srsran\"", RcProfile::Srsran),
        ("\"flexric\"", RcProfile::Flexric),
    ] {
        let got: RcProfile = serde_json::from_str(text).expect("profile parses");
        assert_eq!(got, want);
        assert_eq!(serde_json::to_string(&got).expect("serialises"), text);
        assert_eq!(got.name().parse::<RcProfile>(), Ok(want));
    }
    assert!(serde_json::from_str::<RcProfile>("\"SRSRAN\"").is_err());
    assert!("openairinterface".parse::<RcProfile>().is_err());
    // srsRAN member list .. SD are 5..=10, ratios 11..=13; FlexRIC 4..=9 and 10..=12.
    let s = RcProfile::Srsran.ids();
    assert_eq!((s.rrm_policy_member_list, s.sd), (5, 10));
    assert_eq!(
        (s.min_prb_policy_ratio, s.dedicated_prb_policy_ratio),
        (11, 13)
    );
    let f = RcProfile::Flexric.ids();
    assert_eq!((f.rrm_policy_member_list, f.sd), (4, 9));
    assert_eq!(
        (f.min_prb_policy_ratio, f.dedicated_prb_policy_ratio),
        (10, 12)
    );
}

#[test]
fn srsran_unit_test_quota_message_decodes_and_re_encodes_byte_for_byte() {
    let Some(v) = srsran_vectors() else { return };
    let message = vector(&v, "srsran/unpack_ric_control_message/ctrl_header");
    assert_eq!(
        control_message_parameter_ids(&message).expect("walks"),
        vec![1, 3, 5, 7, 8, 9, 10, 11, 12, 13],
        "the srsRAN quota message carries IDs 1,3,5,7,8,9,10,11,12,13"
    );
    let groups = decode_policy_ratio_list(RcProfile::Srsran, &message).expect("decodes");
    assert_eq!(
        groups,
        vec![RrmPolicyRatioGroup {
            members: vec![RrmPolicyMember {
                plmn: b"00101".to_vec(),
                sst: b"1".to_vec(),
                sd: Some(b"0".to_vec()),
                wrapped: false,
            }],
            min_ratio: Some(5),
            max_ratio: Some(25),
            dedicated_ratio: Some(100),
            wrapped: false,
        }]
    );
    assert_eq!(
        encode_policy_ratio_list(RcProfile::Srsran, &groups).expect("encodes"),
        message
    );
    // Its PLMN is the text "00101", not 3 octets: the domain layer refuses it by name.
    let header = vector(&v, "srsran/unpack_ric_control_header/ctrl_header");
    let err = decode_quota_control(RcProfile::Srsran, &header, &message).expect_err("refused");
    assert_eq!(err.kind(), "bad_parameter");
    assert_eq!(
        err.to_string(),
        "RAN parameter 7 (PLMN Identity): not 3 octets"
    );
}

#[test]
fn srsran_control_header_vector_decodes_and_re_encodes() {
    let Some(v) = srsran_vectors() else { return };
    let header = vector(&v, "srsran/unpack_ric_control_header/ctrl_header");
    let h = decode_control_header(&header).expect("decodes");
    assert_eq!((h.style, h.action), (2, 6));
    let UEID::gNB_UEID(ue) = &h.ue_id else {
        panic!("gNB-UEID expected, got {:?}", h.ue_id)
    };
    assert_eq!(ue.amf_ue_ngap_id.0, 0);
    assert_eq!(*ue.guami.p_lmnidentity.0, [0x00, 0xf1, 0x10]);
    assert_eq!(encode_control_header(&h).expect("encodes"), header);
}

#[test]
fn srsran_control_procedure_quota_round_trips_through_the_domain_value() {
    let Some(v) = srsran_vectors() else { return };
    let (header, message) = control_ies(&vector(
        &v,
        "srsran/ric_control_procedure_packed/e2ap_ctrl_req",
    ));
    assert_eq!(
        control_message_parameter_ids(&message).expect("walks"),
        vec![1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13]
    );
    let q = decode_quota_control(RcProfile::Srsran, &header, &message).expect("decodes");
    assert_eq!(q.ue_id, cell_level_ue_id());
    assert_eq!(q.plmn, [0x21, 0xf3, 0x54]);
    assert_eq!(q.quotas, vec![(Snssai::new(0x16, Some(0x21)), 10, 30, 100)]);
    let (h2, m2) = q.encode(RcProfile::Srsran).expect("encodes");
    assert_eq!(h2, header, "header byte for byte");
    assert_eq!(m2, message, "message byte for byte");
}

#[test]
fn quota_control_round_trips_under_every_profile() {
    for profile in RcProfile::ALL {
        let (h, m) =
            encode_quota_control(profile, &cell_level_ue_id(), PLMN, &quotas()).expect("encodes");
        let got = decode_quota_control(profile, &h, &m).expect("decodes");
        assert_eq!(got.plmn, PLMN);
        assert_eq!(got.ue_id, cell_level_ue_id());
        assert_eq!(
            got.quotas,
            quotas().iter().map(SliceQuota::wire).collect::<Vec<_>>(),
            "{profile}"
        );
        let ids = control_message_parameter_ids(&m).expect("walks");
        let table = profile.ids().all().map(|(id, _)| i64::from(id));
        assert!(
            ids.iter().all(|id| table.contains(id)),
            "{profile}: {ids:?}"
        );
        assert!(ids.contains(&i64::from(profile.ids().dedicated_prb_policy_ratio)));
    }
}

#[test]
fn profile_mismatch_is_refused_by_name() {
    let (h, m) = encode_quota_control(RcProfile::Oran, &cell_level_ue_id(), PLMN, &quotas())
        .expect("encodes");
    let err = decode_quota_control(RcProfile::Flexric, &h, &m).expect_err("refused");
    assert_eq!(err.kind(), "unknown_parameter");
    assert_eq!(
        err.to_string(),
        "RAN parameter 13 is not a parameter of an RRM Policy Ratio Group in the flexric profile"
    );
    // FlexRIC's numbering (min ratio 10, member list 4) is what srsRAN refuses.
    let (h, m) = encode_quota_control(RcProfile::Flexric, &cell_level_ue_id(), PLMN, &quotas())
        .expect("encodes");
    let err = decode_quota_control(RcProfile::Srsran, &h, &m).expect_err("refused");
    assert_eq!(
        err.to_string(),
        "RAN parameter 10 is not a parameter of an RRM Policy Ratio Group in the srsran profile"
    );
    // The O-RAN table and srsRAN's agree (srsRAN: "4 missing in TS"): same bytes, same value.
    let oran = encode_quota_control(RcProfile::Oran, &cell_level_ue_id(), PLMN, &quotas());
    let srs = encode_quota_control(RcProfile::Srsran, &cell_level_ue_id(), PLMN, &quotas());
    assert_eq!(oran.expect("oran"), srs.expect("srsran"));
}

#[test]
fn wrong_action_is_refused() {
    let (_, m) = encode_quota_control(RcProfile::Oran, &cell_level_ue_id(), PLMN, &quotas())
        .expect("encodes");
    let h = encode_control_header(&ControlHeader {
        ue_id: cell_level_ue_id(),
        style: 3,
        action: 1,
    })
    .expect("encodes");
    let err = decode_quota_control(RcProfile::Oran, &h, &m).expect_err("refused");
    assert_eq!(err.kind(), "unexpected_action");
}

fn item(id: i64, v: ies::RANParameterValueType) -> ies::RANParameterSTRUCTUREItem {
    ies::RANParameterSTRUCTUREItem::new(ies::RANParameterID(Integer::from(id)), v)
}

fn st(items: Vec<ies::RANParameterSTRUCTUREItem>) -> ies::RANParameterValueType {
    ies::RANParameterValueType::ranP_Choice_Structure(
        ies::RANParameterValueTypeChoiceStructure::new(ies::RANParameterSTRUCTURE::new(Some(
            items,
        ))),
    )
}

fn int_el(v: i64) -> ies::RANParameterValueType {
    ies::RANParameterValueType::ranP_Choice_ElementFalse(
        ies::RANParameterValueTypeChoiceElementFalse::new(Some(RANParameterValue::valueInt(
            Integer::from(v),
        ))),
    )
}

fn message_of(top: Vec<(i64, ies::RANParameterValueType)>) -> Vec<u8> {
    let items = top
        .into_iter()
        .map(|(id, v)| {
            ies::E2SMRCControlMessageFormat1Item::new(ies::RANParameterID(Integer::from(id)), v)
        })
        .collect();
    rasn::aper::encode(&ies::E2SMRCControlMessage::new(
        ies::E2SMRCControlMessageRicControlMessageFormats::controlMessage_Format1(
            ies::E2SMRCControlMessageFormat1::new(items),
        ),
    ))
    .expect("encodes")
}

/// A well-formed srsRAN-profile group as generated structures, plus `extra` items.
fn group(extra: Vec<ies::RANParameterSTRUCTUREItem>) -> ies::RANParameterSTRUCTURE {
    let octs = |v: &[u8]| {
        ies::RANParameterValueType::ranP_Choice_ElementFalse(
            ies::RANParameterValueTypeChoiceElementFalse::new(Some(RANParameterValue::valueOctS(
                rasn::types::OctetString::from_slice(v),
            ))),
        )
    };
    let member = ies::RANParameterSTRUCTURE::new(Some(vec![item(
        6,
        st(vec![
            item(7, octs(&PLMN)),
            item(8, st(vec![item(9, octs(&[1]))])),
        ]),
    )]));
    let members = ies::RANParameterValueType::ranP_Choice_List(
        ies::RANParameterValueTypeChoiceList::new(ies::RANParameterLIST::new(vec![member])),
    );
    let mut fields = vec![
        item(3, st(vec![item(5, members)])),
        item(11, int_el(10)),
        item(12, int_el(20)),
        item(13, int_el(0)),
    ];
    fields.extend(extra);
    ies::RANParameterSTRUCTURE::new(Some(fields))
}

fn ratio_list(groups: Vec<ies::RANParameterSTRUCTURE>) -> Vec<u8> {
    message_of(vec![(
        1,
        ies::RANParameterValueType::ranP_Choice_List(ies::RANParameterValueTypeChoiceList::new(
            ies::RANParameterLIST::new(groups),
        )),
    )])
}

fn quota_header() -> Vec<u8> {
    encode_control_header(&ControlHeader {
        ue_id: cell_level_ue_id(),
        style: 2,
        action: 6,
    })
    .expect("encodes")
}

#[test]
fn hostile_quota_messages_are_refused_by_name() {
    let h = quota_header();
    let ok = ratio_list(vec![group(vec![])]);
    assert!(decode_quota_control(RcProfile::Srsran, &h, &ok).is_ok());

    let many = ratio_list((0..=MAX_GROUPS).map(|_| group(vec![])).collect());
    let err = decode_quota_control(RcProfile::Srsran, &h, &many).expect_err("too many");
    assert_eq!(err.kind(), "too_many_groups");
    assert_eq!(
        err.to_string(),
        "65 RRM policy ratio groups exceed the bound of 64"
    );

    let dup = ratio_list(vec![group(vec![item(12, int_el(30))])]);
    let err = decode_quota_control(RcProfile::Srsran, &h, &dup).expect_err("duplicate");
    assert_eq!(
        err.to_string(),
        "RAN parameter 12 (Max PRB Policy Ratio) appears twice"
    );

    let unknown = ratio_list(vec![group(vec![item(77, int_el(1))])]);
    let err = decode_quota_control(RcProfile::Srsran, &h, &unknown).expect_err("unknown");
    assert_eq!(
        err.to_string(),
        "RAN parameter 77 is not a parameter of an RRM Policy Ratio Group in the srsran profile"
    );

    for (ratios, kind) in [
        ((5, 101, 0), "ratio_range"),
        ((-1, 10, 0), "ratio_range"),
        ((50, 10, 0), "ratio_order"),
    ] {
        let g = RrmPolicyRatioGroup {
            members: vec![RrmPolicyMember {
                plmn: PLMN.to_vec(),
                sst: vec![1],
                sd: None,
                wrapped: true,
            }],
            min_ratio: Some(ratios.0),
            max_ratio: Some(ratios.1),
            dedicated_ratio: Some(ratios.2),
            wrapped: true,
        };
        let m = encode_policy_ratio_list(RcProfile::Oran, &[g]).expect("carried as sent");
        let err = decode_quota_control(RcProfile::Oran, &h, &m).expect_err("refused");
        assert_eq!(err.kind(), kind, "{ratios:?}: {err}");
    }
    let q = QuotaControl {
        ue_id: cell_level_ue_id(),
        plmn: PLMN,
        quotas: vec![(Snssai::new(1, None), 5, 101, 0)],
    };
    assert_eq!(
        q.encode(RcProfile::Oran).expect_err("refused").kind(),
        "ratio_range"
    );
    let empty = encode_quota_control(RcProfile::Oran, &cell_level_ue_id(), PLMN, &[]);
    assert_eq!(empty.expect_err("refused").kind(), "empty");
}

#[test]
fn truncated_oversized_and_garbage_input_is_refused_without_panic() {
    let (h, m) = encode_quota_control(RcProfile::Oran, &cell_level_ue_id(), PLMN, &quotas())
        .expect("encodes");
    for cut in 0..m.len() {
        let err = decode_quota_control(RcProfile::Oran, &h, &m[..cut]).expect_err("truncated");
        assert_eq!(err.kind(), "decode", "cut at {cut}: {err}");
    }
    // An octet string whose length claims 16,000 bytes with none behind it.
    let mut claim = m.clone();
    if let Some(at) = claim.windows(2).position(|w| w == [0x2a, 0x00]) {
        claim.truncate(at + 2);
        claim.extend([0xbe, 0x80]);
        assert_eq!(
            decode_quota_control(RcProfile::Oran, &h, &claim)
                .expect_err("refused")
                .kind(),
            "decode"
        );
    }
    let huge = vec![0u8; MAX_PAYLOAD_BYTES + 1];
    assert_eq!(
        decode_quota_control(RcProfile::Oran, &h, &huge)
            .expect_err("refused")
            .kind(),
        "too_long"
    );
    // Deterministic garbage through every decoder, on a 512 KiB stack.
    std::thread::Builder::new()
        .stack_size(512 << 10)
        .spawn(|| {
            let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
            for n in 0..3000usize {
                let bytes: Vec<u8> = (0..(n % 97))
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        (x >> 24) as u8
                    })
                    .collect();
                let _ = decode_quota_control(RcProfile::Srsran, &bytes, &bytes);
                let _ = decode_policy_ratio_list(RcProfile::Srsran, &bytes);
                let _ = decode_handover_control(&bytes, &bytes);
                let _ = decode_control_outcome(&bytes);
                let _ = decode_ran_function_definition(&bytes);
                let _ = control_message_parameter_ids(&bytes);
            }
        })
        .expect("spawns")
        .join()
        .expect("no panic, no overflow");
}

fn nested(levels: usize) -> ies::RANParameterValueType {
    let mut v = int_el(1);
    for _ in 0..levels {
        v = st(vec![item(1, v)]);
    }
    v
}

#[test]
fn deep_nesting_is_refused_before_rasn_recurses() {
    // 5,000 nested structures (about 25 KB): encoding recurses in rasn too, so build it on a
    // large stack.
    let deep = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(|| message_of(vec![(1, nested(5_000))]))
        .expect("spawns")
        .join()
        .expect("encodes");
    assert!(deep.len() <= MAX_PAYLOAD_BYTES, "{}", deep.len());
    // Decoding runs on a 256 KiB stack, which rasn alone overflows at about 100 levels.
    let h = quota_header();
    let (quota, ids) = std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(move || {
            (
                decode_quota_control(RcProfile::Oran, &h, &deep).expect_err("refused"),
                control_message_parameter_ids(&deep).expect_err("refused"),
            )
        })
        .expect("spawns")
        .join()
        .expect("no stack overflow");
    assert_eq!((quota.kind(), ids.kind()), ("too_deep", "too_deep"));
    assert_eq!(
        quota.to_string(),
        "RAN parameter tree nests deeper than 12 levels"
    );
}

/// A RAN function definition whose one control parameter nests its RANParameter-Definition
/// `levels` deep (the recursion rasn bounds at 128 constructed values).
fn deep_definition(levels: usize) -> Vec<u8> {
    let p = |s: &str| rasn::types::PrintableString::from_bytes(s.as_bytes()).expect("printable");
    let name = || ies::RANParameterName(p("x"));
    let mut d: Option<ies::RANParameterDefinition> = None;
    for _ in 0..levels {
        let item = ies::RANParameterDefinitionChoiceSTRUCTUREItem::new(
            ies::RANParameterID(Integer::from(1)),
            name(),
            d.take(),
        );
        d = Some(ies::RANParameterDefinition::new(
            ies::RANParameterDefinitionChoice::choiceSTRUCTURE(
                ies::RANParameterDefinitionChoiceSTRUCTURE::new(vec![item]),
            ),
        ));
    }
    let param =
        ies::ControlActionRANParameterItem::new(ies::RANParameterID(Integer::from(1)), name(), d);
    let action = ies::RANFunctionDefinitionControlActionItem::new(
        ies::RICControlActionID(Integer::from(6)),
        ies::RICControlActionName(p("Slice-level PRB quota")),
        Some(vec![param]),
        None,
    );
    use e2_asn1::generated::e2sm_rc_v05_00::e2_sm_common_ies as common;
    let style = ies::RANFunctionDefinitionControlItem::new(
        common::RICStyleType(Integer::from(2)),
        common::RICStyleName(p("Radio Resource Allocation Control")),
        Some(vec![action]),
        common::RICFormatType(Integer::from(1)),
        common::RICFormatType(Integer::from(1)),
        None,
        common::RICFormatType(Integer::from(1)),
        None,
        None,
    );
    let def = ies::E2SMRCRANFunctionDefinition::new(
        common::RANfunctionName::new(p("ORAN-E2SM-RC"), p(E2SM_RC_OID), p("RAN Control"), None),
        None,
        None,
        None,
        Some(ies::RANFunctionDefinitionControl::new(vec![style])),
        None,
        None,
    );
    rasn::aper::encode(&def).expect("encodes")
}

#[test]
fn deep_ran_function_definition_is_refused_without_overflow() {
    let (shallow, deep) = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(|| (deep_definition(5), deep_definition(5_000)))
        .expect("spawns")
        .join()
        .expect("encodes");
    // rasn's own bound (128 nested constructed values) refuses it; measured on a debug build,
    // the refusal needs no more than a 512 KiB stack.
    let results = std::thread::Builder::new()
        .stack_size(512 << 10)
        .spawn(move || {
            [
                decode_ran_function_definition(&shallow).map(|d| d.control_styles.len()),
                decode_ran_function_definition(&deep).map(|d| d.control_styles.len()),
            ]
        })
        .expect("spawns")
        .join()
        .expect("no stack overflow");
    assert_eq!(results[0].as_ref().expect("5 levels decode"), &1);
    assert_eq!(results[1].as_ref().expect_err("refused").kind(), "decode");
}

#[test]
fn nesting_walker_agrees_with_rasn() {
    for levels in 0..=depth::MAX_DEPTH {
        let m = message_of(vec![(1, nested(levels))]);
        assert_eq!(depth::check_control_message(&m).expect("walks"), levels);
    }
    let m = message_of(vec![(1, nested(depth::MAX_DEPTH + 1))]);
    assert_eq!(
        depth::check_control_message(&m).expect_err("deep").kind(),
        "too_deep"
    );
    let (_, quota) = encode_quota_control(RcProfile::Srsran, &cell_level_ue_id(), PLMN, &quotas())
        .expect("encodes");
    assert_eq!(depth::check_control_message(&quota).expect("walks"), 8);
}

#[test]
fn srsran_handover_vector_decodes_and_re_encodes() {
    let Some(v) = srsran_vectors() else { return };
    let (header, message) = control_ies(&vector(&v, "srsran/ric_control_procedure_ho/e2_ctrl_req"));
    let ho = decode_handover_control(&header, &message).expect("decodes");
    let UEID::gNB_UEID(ue) = &ho.ue_id else {
        panic!("gNB-UEID expected, got {:?}", ho.ue_id)
    };
    assert_eq!(ue.amf_ue_ngap_id.0, 7);
    assert_eq!(*ue.guami.p_lmnidentity.0, [0x00, 0xf1, 0x10]);
    let f1ap = ue.g_nb_cu_ue_f1_ap_id_list.as_ref().expect("F1AP ID list");
    assert_eq!(f1ap.0.len(), 1);
    assert_eq!(f1ap.0[0].g_nb_cu_ue_f1_ap_id.0, 1);
    assert_eq!(ho.target_cell, CellId::new([0x00, 0xf1, 0x10], 0x19b1));
    let (h2, m2) = encode_handover_control(&ho).expect("encodes");
    assert_eq!((h2, m2), (header, message));
}

#[test]
fn handover_round_trips_and_refuses_a_bad_cell() {
    let ho = HandoverControl {
        ue_id: cell_level_ue_id(),
        target_cell: CellId::new(PLMN, CellId::MAX_NCI),
    };
    let (h, m) = encode_handover_control(&ho).expect("encodes");
    assert_eq!(decode_handover_control(&h, &m).expect("decodes"), ho);
    let bad = HandoverControl {
        target_cell: CellId::new(PLMN, CellId::MAX_NCI + 1),
        ..ho
    };
    assert_eq!(
        encode_handover_control(&bad).expect_err("refused").kind(),
        "out_of_range"
    );
    let (qh, qm) = encode_quota_control(RcProfile::Oran, &cell_level_ue_id(), PLMN, &quotas())
        .expect("encodes");
    assert_eq!(
        decode_handover_control(&qh, &qm)
            .expect_err("refused")
            .kind(),
        "unexpected_action"
    );
}

#[test]
fn control_outcome_round_trips() {
    let items = quota_outcome_items(RcProfile::Srsran, &quotas());
    assert_eq!(
        items.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        [11, 12, 11, 12]
    );
    let bytes = encode_control_outcome(&items).expect("encodes");
    assert_eq!(decode_control_outcome(&bytes).expect("decodes"), items);
    let too_many = vec![(1, RANParameterValue::valueBoolean(true)); MAX_OUTCOME_ITEMS + 1];
    assert_eq!(
        encode_control_outcome(&too_many)
            .expect_err("refused")
            .kind(),
        "out_of_range"
    );
}

#[test]
fn ran_function_definition_offers_or_refuses_slice_quota() {
    let def = RcFunctionDefinition::slice_prb_quota(RcProfile::Srsran);
    let bytes = encode_ran_function_definition(&def).expect("encodes");
    let got = decode_ran_function_definition(&bytes).expect("decodes");
    assert_eq!(got, def);
    got.require_slice_prb_quota(RcProfile::Srsran)
        .expect("offered");
    got.require_slice_prb_quota(RcProfile::Oran)
        .expect("same table");
    let err = got
        .require_slice_prb_quota(RcProfile::Flexric)
        .expect_err("refused");
    assert_eq!(err.kind(), "not_offered");
    assert!(
        err.to_string()
            .contains("RAN parameter 4 (RRM Policy Member List)"),
        "{err}"
    );

    let mut ho_only = def.clone();
    ho_only.control_styles[0].style_type = STYLE_CONNECTED_MODE_MOBILITY;
    ho_only.control_styles[0].actions[0].action_id = ACTION_HANDOVER;
    let bytes = encode_ran_function_definition(&ho_only).expect("encodes");
    let err = decode_ran_function_definition(&bytes)
        .expect("decodes")
        .require_slice_prb_quota(RcProfile::Oran)
        .expect_err("refused");
    assert_eq!(
        err.to_string(),
        "the E2 node does not offer control style 2 action 6"
    );
}

/// The oracle's Python and script (`common::oracle_python`), or `None` to skip.
fn oracle() -> Option<(PathBuf, PathBuf)> {
    let script = workspace().join("../shared/interop/asn1-oracle.py");
    if !script.exists() {
        println!("SKIP oracle: {} absent", script.display());
        return None;
    }
    Some((common::oracle_python("rc oracle")?, script))
}

fn oracle_decode(ty: &str, bytes: &[u8]) -> Option<serde_json::Value> {
    let (python, script) = oracle()?;
    let out = Command::new(python)
        .arg(script)
        .args(["decode", "e2sm-rc-v5", ty, &hex::encode(bytes)])
        .output()
        .expect("oracle runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).expect("oracle JSON"))
}

fn oracle_ids(v: &serde_json::Value, out: &mut Vec<i64>) {
    match v {
        serde_json::Value::Object(m) => {
            if let Some(id) = m.get("ranParameter-ID").and_then(|i| i.as_i64()) {
                out.push(id);
            }
            for (k, v) in m {
                if k != "ranParameter-ID" {
                    oracle_ids(v, out);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| oracle_ids(v, out)),
        _ => {}
    }
}

#[test]
fn oracle_reads_our_quota_handover_and_outcome() {
    let (h, m) = encode_quota_control(RcProfile::Srsran, &cell_level_ue_id(), PLMN, &quotas())
        .expect("encodes");
    let Some(hv) = oracle_decode("E2SM-RC-ControlHeader", &h) else {
        return;
    };
    let f1 = &hv["ric-controlHeader-formats"]["controlHeader-Format1"];
    assert_eq!(f1["ric-Style-Type"], 2);
    assert_eq!(f1["ric-ControlAction-ID"], 6);
    assert_eq!(f1["ueID"]["gNB-DU-UEID"]["gNB-CU-UE-F1AP-ID"], 0);
    let mv = oracle_decode("E2SM-RC-ControlMessage", &m).expect("oracle");
    let mut ids = Vec::new();
    oracle_ids(&mv, &mut ids);
    assert_eq!(ids, control_message_parameter_ids(&m).expect("walks"));
    assert_eq!(
        ids,
        [
            1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 2, 3, 5, 6, 7, 8, 9, 11, 12, 13
        ]
    );
    let text = mv.to_string();
    assert!(text.contains("\"valueOctS\":\"ABCDEF\""), "{text}");
    assert!(text.contains("\"valueInt\":60"), "{text}");

    let ho = HandoverControl {
        ue_id: cell_level_ue_id(),
        target_cell: CellId::new(PLMN, 0x0_1234_5678),
    };
    let (_, hm) = encode_handover_control(&ho).expect("encodes");
    let hv = oracle_decode("E2SM-RC-ControlMessage", &hm)
        .expect("oracle")
        .to_string();
    assert!(hv.contains("\"valueOctS\":\"0000F110012345678"), "{hv}");

    let out = encode_control_outcome(&quota_outcome_items(RcProfile::Srsran, &quotas()))
        .expect("encodes");
    let ov = oracle_decode("E2SM-RC-ControlOutcome", &out).expect("oracle");
    let mut ids = Vec::new();
    oracle_ids(&ov, &mut ids);
    assert_eq!(ids, [11, 12, 11, 12]);

    let def =
        encode_ran_function_definition(&RcFunctionDefinition::slice_prb_quota(RcProfile::Srsran))
            .expect("encodes");
    let dv = oracle_decode("E2SM-RC-RANFunctionDefinition", &def).expect("oracle");
    assert_eq!(dv["ranFunction-Name"]["ranFunction-E2SM-OID"], E2SM_RC_OID);
    let style = &dv["ranFunctionDefinition-Control"]["ric-ControlStyle-List"][0];
    assert_eq!(style["ric-ControlStyle-Type"], 2);
    let action = &style["ric-ControlAction-List"][0];
    assert_eq!(action["ric-ControlAction-ID"], 6);
    let mut ids = Vec::new();
    oracle_ids(action, &mut ids);
    assert_eq!(ids, [1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
}
