//! E2AP and E2SM-KPM APER codecs: real srsRAN E2AP bytes through the typed layer, foreign
//! (ONF) KPM bytes, round trips for every KPM version, version skew, hostile input.

use std::path::PathBuf;

use e2_asn1::e2ap::{self, Action, ActionType, E2apError, E2apMessage, RicRequestId};
use e2_asn1::kpm::{self, IndicationScope, KpmAperError, KpmVersion, V2Sequencer};
use nf_core::e2sm::{CellInfo, DecodeNotes, Layouts, Limits, layout};
use nf_core::{CellId, KpmReport, Meas, MeasVec, Snssai};

fn interop() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/interop");
    if p.join("vectors/srsran.json").exists() {
        Some(p)
    } else {
        println!("skipping: ../shared/interop (the interop kit) is absent");
        None
    }
}

fn vectors(file: &str) -> Option<Vec<(String, Vec<u8>)>> {
    let text = std::fs::read_to_string(interop()?.join("vectors").join(file)).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some(
        v.as_array()?
            .iter()
            .map(|e| {
                (
                    e["id"].as_str().unwrap_or_default().to_owned(),
                    hex::decode(e["hex"].as_str().unwrap_or_default()).unwrap_or_default(),
                )
            })
            .collect(),
    )
}

fn vector(file: &str, id: &str) -> Option<Vec<u8>> {
    vectors(file)?
        .into_iter()
        .find(|(i, _)| i == id)
        .map(|(_, b)| b)
}

// ---------------------------------------------------------------- E2AP, real srsRAN bytes

#[test]
fn srsran_e2ap_vectors_decode_to_their_values_and_re_encode_byte_for_byte() {
    let Some(all) = vectors("srsran.json") else {
        return;
    };
    let e2ap_vectors: Vec<_> = all
        .iter()
        .filter(|(id, _)| id.contains("e2ap") || id.contains("sub_") || id.contains("ctrl_req"))
        .collect();
    assert_eq!(
        e2ap_vectors.len(),
        6,
        "{:?}",
        e2ap_vectors.iter().map(|v| &v.0).collect::<Vec<_>>()
    );
    for (id, bytes) in e2ap_vectors {
        let (msg, crit) = e2ap::decode_with_criticality(bytes, &e2ap::Limits::default())
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(
            &e2ap::encode_with_criticality(&msg, crit).unwrap(),
            bytes,
            "{id}: re-encoding differs"
        );
    }
}

#[test]
fn srsran_control_request_values() {
    let Some(b) = vector("srsran.json", "srsran/ric_control_request/e2ap_msg") else {
        return;
    };
    let E2apMessage::ControlRequest {
        request,
        ran_function,
        call_process_id,
        header,
        message,
        ack_request,
    } = e2ap::decode(&b, &e2ap::Limits::default()).unwrap()
    else {
        panic!("not a control request")
    };
    assert_eq!(
        request,
        RicRequestId {
            requestor: 1021,
            instance: 0
        }
    );
    assert_eq!(ran_function, 3);
    assert_eq!(call_process_id, None);
    assert_eq!(ack_request, Some(true));
    // The E2SM-RC header and message are the separate srsRAN RC vectors, carried verbatim.
    assert_eq!(
        header,
        vector(
            "srsran.json",
            "srsran/unpack_ric_control_header/ctrl_header"
        )
        .unwrap()
    );
    assert_eq!(
        message,
        vector(
            "srsran.json",
            "srsran/unpack_ric_control_message/ctrl_header"
        )
        .unwrap()
    );
}

#[test]
fn srsran_control_failure_subscription_and_delete_values() {
    let Some(b) = vector("srsran.json", "srsran/ric_control_failure_message/e2ap_msg") else {
        return;
    };
    let m = e2ap::decode(&b, &e2ap::Limits::default()).unwrap();
    let E2apMessage::ControlFailure {
        request,
        ran_function,
        cause,
        outcome,
        ..
    } = &m
    else {
        panic!("{m:?}")
    };
    assert_eq!(
        (*request, *ran_function),
        (
            RicRequestId {
                requestor: 1021,
                instance: 0
            },
            3
        )
    );
    // 0x56: CHOICE index 5 (misc), ENUMERATED 3 (unspecified).
    assert_eq!(cause, &e2ap::Cause::unspecified());
    assert_eq!(cause.label(), "misc");
    assert_eq!(outcome, &None);

    let b = vector(
        "srsran.json",
        "srsran/when_e2_subscription_request_correct_sent_subscription_response/e2ap_sub_req",
    )
    .unwrap();
    let m = e2ap::decode(&b, &e2ap::Limits::default()).unwrap();
    let E2apMessage::SubscriptionRequest {
        request,
        ran_function,
        event_trigger,
        actions,
    } = &m
    else {
        panic!("{m:?}")
    };
    assert_eq!(
        *request,
        RicRequestId {
            requestor: 123,
            instance: 21
        }
    );
    assert_eq!(*ran_function, 1);
    assert_eq!(event_trigger, &[1, 2, 3, 4]);
    let subsequent = e2ap::RICsubsequentAction::new(
        e2ap::RICsubsequentActionType::R_continue,
        e2ap::RICtimeToWait::w20ms,
    );
    assert_eq!(
        actions,
        &[Action {
            id: 1,
            kind: ActionType::Report,
            definition: Some(vec![1, 2, 3, 4]),
            subsequent: Some(subsequent)
        }]
    );

    let b = vector(
        "srsran.json",
        "srsran/start_subscription_then_delete_subscription/sub_del_req",
    )
    .unwrap();
    assert_eq!(
        e2ap::decode(&b, &e2ap::Limits::default()).unwrap(),
        E2apMessage::SubscriptionDeleteRequest {
            request: RicRequestId {
                requestor: 123,
                instance: 21
            },
            ran_function: 147
        }
    );
}

// ---------------------------------------------------------------- E2AP, both directions

fn req() -> RicRequestId {
    RicRequestId {
        requestor: 7,
        instance: 4242,
    }
}

fn all_messages() -> Vec<E2apMessage> {
    use e2_asn1::generated::e2ap_v02_03::e2_ap_ies::{CauseMisc, CauseRICrequest};
    let cause = e2ap::Cause::ricRequest(CauseRICrequest::action_not_supported);
    vec![
        E2apMessage::SubscriptionRequest {
            request: req(),
            ran_function: 2,
            event_trigger: kpm::encode_event_trigger(100, KpmVersion::V3_00),
            actions: vec![
                Action {
                    id: 1,
                    kind: ActionType::Report,
                    definition: Some(vec![9, 9]),
                    subsequent: Some(e2ap::RICsubsequentAction::new(
                        e2ap::RICsubsequentActionType::wait,
                        e2ap::RICtimeToWait::w100ms,
                    )),
                },
                Action {
                    id: 2,
                    kind: ActionType::Policy,
                    definition: None,
                    subsequent: None,
                },
            ],
        },
        E2apMessage::SubscriptionResponse {
            request: req(),
            ran_function: 2,
            admitted: vec![1],
            not_admitted: vec![(2, cause.clone())],
        },
        E2apMessage::SubscriptionResponse {
            request: req(),
            ran_function: 2,
            admitted: vec![1, 2],
            not_admitted: vec![],
        },
        E2apMessage::SubscriptionFailure {
            request: req(),
            ran_function: 2,
            cause: e2ap::Cause::misc(CauseMisc::hardware_failure),
        },
        E2apMessage::SubscriptionDeleteRequest {
            request: req(),
            ran_function: 2,
        },
        E2apMessage::SubscriptionDeleteResponse {
            request: req(),
            ran_function: 2,
        },
        E2apMessage::SubscriptionDeleteFailure {
            request: req(),
            ran_function: 2,
            cause: cause.clone(),
        },
        E2apMessage::Indication {
            request: req(),
            ran_function: 2,
            action: 1,
            sn: Some(65535),
            kind: e2ap::IndicationType::Report,
            header: vec![1, 2, 3],
            message: vec![4; 300],
            call_process_id: Some(vec![0xab]),
        },
        E2apMessage::Indication {
            request: req(),
            ran_function: 2,
            action: 1,
            sn: None,
            kind: e2ap::IndicationType::Insert,
            header: vec![1],
            message: vec![2],
            call_process_id: None,
        },
        E2apMessage::ControlRequest {
            request: req(),
            ran_function: 3,
            call_process_id: None,
            header: vec![1],
            message: vec![2, 3],
            ack_request: Some(false),
        },
        E2apMessage::ControlAcknowledge {
            request: req(),
            ran_function: 3,
            call_process_id: Some(vec![5]),
            outcome: Some(vec![6, 7]),
        },
        E2apMessage::ControlFailure {
            request: req(),
            ran_function: 3,
            call_process_id: None,
            cause: cause.clone(),
            outcome: None,
        },
        E2apMessage::ErrorIndication {
            transaction_id: Some(3),
            request: Some(req()),
            ran_function: Some(3),
            cause: Some(cause.clone()),
        },
        E2apMessage::ErrorIndication {
            transaction_id: None,
            request: None,
            ran_function: None,
            cause: None,
        },
        E2apMessage::E2SetupRequest {
            transaction_id: 1,
            node: e2ap::GlobalGnbId {
                plmn: [0x00, 0xf1, 0x10],
                gnb_id: 411,
                gnb_id_bits: 22,
                cu_up_id: None,
                du_id: Some(7),
            },
            ran_functions: vec![e2ap::RanFunctionItem {
                id: 2,
                revision: 1,
                oid: kpm::KPM_OID.into(),
                definition: kpm::encode_ran_function(&[], KpmVersion::V3_00),
            }],
            component_config_addition: vec![],
        },
        E2apMessage::E2SetupResponse {
            transaction_id: 1,
            ric: e2ap::GlobalRicId {
                plmn: [0x00, 0xf1, 0x10],
                ric_id: 0xabcde,
            },
            accepted: vec![(2, 1)],
            rejected: vec![(3, e2ap::Cause::unspecified())],
            component_config_addition_ack: vec![],
        },
    ]
}

#[test]
fn every_message_of_the_loop_round_trips() {
    for m in all_messages() {
        let bytes = e2ap::encode(&m).unwrap();
        let back = e2ap::decode(&bytes, &e2ap::Limits::default())
            .unwrap_or_else(|e| panic!("{}: {e}", m.name()));
        assert_eq!(back, m, "{}", m.name());
        assert_eq!(e2ap::encode(&back).unwrap(), bytes, "{}", m.name());
    }
}

#[test]
fn e2ap_limits_and_hostile_input_are_named_errors() {
    let sub = e2ap::encode(&all_messages()[0]).unwrap();
    let small = e2ap::Limits {
        max_actions: 1,
        ..Default::default()
    };
    let e = e2ap::decode(&sub, &small).unwrap_err();
    assert!(
        matches!(
            e,
            E2apError::TooMany {
                what: "RIC actions",
                count: 2,
                limit: 1
            }
        ),
        "{e}"
    );
    let e = e2ap::decode(
        &sub,
        &e2ap::Limits {
            max_ies: 2,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(e.kind(), "too_many");
    let e = e2ap::decode(
        &sub,
        &e2ap::Limits {
            max_pdu_bytes: 10,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(e.kind(), "oversize");
    // Every truncation of every message is an error, never a panic.
    for m in all_messages() {
        let bytes = e2ap::encode(&m).unwrap();
        for cut in 0..bytes.len() {
            assert!(
                e2ap::decode(&bytes[..cut], &e2ap::Limits::default()).is_err(),
                "{} cut at {cut}",
                m.name()
            );
        }
    }
    // An open type claiming 4 x 16K fragments, and one claiming 2^32 - 1 octets.
    for hostile in [
        &[0x00, 0x08, 0x00, 0xc4, 0x00][..],
        &[0x00, 0x08, 0x00, 0xff, 0xff, 0xff, 0xff, 0x01],
        &[0xff; 16],
    ] {
        let e = e2ap::decode(hostile, &e2ap::Limits::default()).unwrap_err();
        assert_eq!(e.kind(), "malformed", "{e}");
    }
}

#[test]
fn a_message_breaking_an_e2ap_constraint_is_not_encoded() {
    let E2apMessage::SubscriptionRequest {
        request,
        ran_function,
        event_trigger,
        ..
    } = all_messages().remove(0)
    else {
        panic!()
    };
    let action = |id| Action {
        id,
        kind: ActionType::Report,
        definition: None,
        subsequent: None,
    };
    for actions in [vec![], (0..17).map(action).collect()] {
        let m = E2apMessage::SubscriptionRequest {
            request,
            ran_function,
            event_trigger: event_trigger.clone(),
            actions,
        };
        assert_eq!(e2ap::encode(&m).unwrap_err().kind(), "encode");
    }
    let m = E2apMessage::SubscriptionDeleteRequest {
        request,
        ran_function: 4096,
    };
    assert_eq!(e2ap::encode(&m).unwrap_err().kind(), "encode");
    let E2apMessage::E2SetupRequest {
        transaction_id,
        mut node,
        ran_functions,
        component_config_addition,
    } = all_messages().remove(14)
    else {
        panic!()
    };
    node.gnb_id_bits = 40;
    let m = E2apMessage::E2SetupRequest {
        transaction_id,
        node,
        ran_functions,
        component_config_addition,
    };
    assert_eq!(e2ap::encode(&m).unwrap_err().kind(), "encode");
}

#[test]
fn an_unknown_procedure_is_named() {
    use e2_asn1::generated::e2ap_v02_03::e2_ap_common_data_types::{Criticality, ProcedureCode};
    use e2_asn1::generated::e2ap_v02_03::e2_ap_pdu_descriptions::{E2APPDU, InitiatingMessage};
    // RICserviceUpdate (procedure 7) with an empty IE list.
    let pdu = E2APPDU::initiatingMessage(InitiatingMessage::new(
        ProcedureCode(7),
        Criticality::reject,
        rasn::types::Any::new(vec![0x00, 0x00, 0x00]),
    ));
    let bytes = rasn::aper::encode(&pdu).unwrap();
    let e = e2ap::decode(&bytes, &e2ap::Limits::default()).unwrap_err();
    assert!(
        matches!(e, E2apError::UnsupportedProcedure { code: 7, .. }),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        "unsupported procedure 7 (initiating message)"
    );
    assert_eq!(e.kind(), "unsupported_procedure");
}

#[test]
fn a_missing_mandatory_ie_is_named() {
    // An error indication's IEs re-labelled as a subscription delete request, where the
    // RAN function ID is mandatory.
    let m = E2apMessage::ErrorIndication {
        transaction_id: None,
        request: Some(req()),
        ran_function: None,
        cause: None,
    };
    let mut bytes = e2ap::encode(&m).unwrap();
    bytes[1] = 9;
    bytes[2] = 0x00;
    let e = e2ap::decode(&bytes, &e2ap::Limits::default()).unwrap_err();
    assert_eq!(e.kind(), "missing_ie", "{e}");
}

// ---------------------------------------------------------------- E2SM-KPM

fn cell() -> CellId {
    CellId::new([0x00, 0xf1, 0x10], 0x0_0066_c000 | 0xabc)
}

fn sample() -> KpmReport {
    let mut cell_meas = MeasVec::default();
    cell_meas.set(Meas::PrbAvailDl, 106.0);
    cell_meas.set(Meas::PrbTotDl, 12.5);
    let mut a = MeasVec::default();
    for (i, m) in Meas::PER_SLICE.iter().enumerate() {
        a.set(*m, i as f32 + 0.25);
    }
    a.set(Meas::ConnMean, 3.0);
    let mut b = a;
    b.set(Meas::DlCqiMean, f32::NAN);
    KpmReport {
        cell: cell(),
        collection_start_ms: 1_790_000_000_250,
        granularity_ms: 100,
        cell_meas,
        slices: vec![
            (Snssai::new(1, Some(0x123456)), a),
            (Snssai::new(2, None), b),
        ],
    }
}

fn scope() -> IndicationScope {
    IndicationScope {
        cell: cell(),
        granularity_ms: 100,
    }
}

fn v2_expected(mut r: KpmReport) -> KpmReport {
    r.collection_start_ms -= r.collection_start_ms % 1000;
    r
}

#[test]
fn indications_round_trip_under_every_version() {
    for v in KpmVersion::ALL {
        let r = sample();
        let want = if v == KpmVersion::V2_03 {
            v2_expected(r.clone())
        } else {
            r.clone()
        };
        let (h, m) = kpm::encode_indication(&r, true, v);
        assert_eq!(
            h.len(),
            1 + v.timestamp_octets(),
            "{v}: header {}",
            hex::encode(&h)
        );
        let (back, notes) =
            kpm::decode_indication(&h, &m, &Limits::default(), &scope(), None, v).unwrap();
        assert_eq!(back, want, "{v}");
        assert_eq!(
            notes,
            DecodeNotes {
                no_values: 1,
                ..Default::default()
            },
            "{v}"
        );
        // Without the measurement-info list: the subscribed layout.
        let (h2, m2) = kpm::encode_indication(&r, false, v);
        assert!(
            m2.len() * 2 < m.len(),
            "{v}: {} vs {} bytes",
            m2.len(),
            m.len()
        );
        let e =
            kpm::decode_indication(&h2, &m2, &Limits::default(), &scope(), None, v).unwrap_err();
        assert_eq!(e.kind(), "missing_field");
        let slices: Vec<Snssai> = r.slices.iter().map(|(s, _)| *s).collect();
        let layouts: Layouts = [(r.cell, layout(&slices))].into_iter().collect();
        let (back, _) =
            kpm::decode_indication(&h2, &m2, &Limits::default(), &scope(), Some(&layouts), v)
                .unwrap();
        assert_eq!(back, want, "{v}");
        let wrong: Layouts = [(r.cell, layout(&slices[..1]))].into_iter().collect();
        let e = kpm::decode_indication(&h2, &m2, &Limits::default(), &scope(), Some(&wrong), v)
            .unwrap_err();
        assert_eq!(e.kind(), "record_count");
    }
}

#[test]
fn subscription_parts_and_definition_round_trip_under_every_version() {
    let info = CellInfo {
        cell: cell(),
        slices: vec![Snssai::new(1, None), Snssai::new(3, Some(7))],
        prb_total_dl: 106,
    };
    for v in KpmVersion::ALL {
        assert_eq!(
            kpm::decode_event_trigger(&kpm::encode_event_trigger(250, v), v).unwrap(),
            250
        );
        let ad = kpm::encode_action_definition(&info, 100, v);
        assert_eq!(
            kpm::decode_action_definition(&ad, v).unwrap(),
            (info.cell, 100)
        );
        let a = kpm::decode_action_info(&ad, v).unwrap();
        let want: Vec<_> = layout(&info.slices).into_iter().map(Some).collect();
        assert_eq!(a.slots, want, "{v}");
        let def = kpm::encode_ran_function(std::slice::from_ref(&info), v);
        let f = kpm::decode_ran_function(&def, v).unwrap();
        assert_eq!(f.name.short_name, kpm::KPM_SHORT_NAME);
        assert_eq!(f.name.oid, kpm::KPM_OID);
        let names: Vec<&str> = Meas::ALL.iter().map(|m| m.name()).collect();
        assert_eq!(f.style1_measurements().unwrap(), names.as_slice());
    }
}

#[test]
fn the_version_is_decided_from_the_definition_and_config_never_the_oid_string_alone() {
    let def = kpm::encode_ran_function(&[], KpmVersion::V3_00);
    let d = kpm::decide_version(&def, None).unwrap();
    assert_eq!(
        (d.version, d.source),
        (KpmVersion::V2_03, kpm::VersionSource::Default)
    );
    let d = kpm::decide_version(&def, Some(KpmVersion::V4_00)).unwrap();
    assert_eq!(
        (d.version, d.source),
        (KpmVersion::V4_00, kpm::VersionSource::Configured)
    );
    let mut f = kpm::decode_ran_function(&def, KpmVersion::V3_00).unwrap();
    f.name.oid = kpm::KPM_OID_V3.into();
    let d = kpm::decide_version(
        &kpm::encode_ran_function_description(&f, KpmVersion::V3_00),
        None,
    )
    .unwrap();
    assert_eq!(
        (d.version, d.source),
        (KpmVersion::V3_00, kpm::VersionSource::Oid)
    );
    let e = kpm::decide_version(&[0xff, 0x01], None).unwrap_err();
    assert_eq!(e.kind(), "malformed");
    for (s, v) in [
        ("v2", KpmVersion::V2_03),
        ("3.00", KpmVersion::V3_00),
        ("v4.00", KpmVersion::V4_00),
    ] {
        assert_eq!(KpmVersion::parse(s), Some(v));
    }
}

#[test]
fn a_header_of_the_other_version_is_a_named_skew() {
    let r = sample();
    for (sent, announced) in [
        (KpmVersion::V2_03, KpmVersion::V3_00),
        (KpmVersion::V2_03, KpmVersion::V4_00),
        (KpmVersion::V3_00, KpmVersion::V2_03),
        (KpmVersion::V4_00, KpmVersion::V2_03),
    ] {
        let (h, m) = kpm::encode_indication(&r, true, sent);
        let e = kpm::decode_indication(&h, &m, &Limits::default(), &scope(), None, announced)
            .unwrap_err();
        assert_eq!(
            e.kind(),
            "kpm_version_skew",
            "{sent} sent, {announced} announced: {e}"
        );
        assert!(
            matches!(e, KpmAperError::VersionSkew { observed_octets, .. } if observed_octets == sent.timestamp_octets())
        );
        let fam = if sent == KpmVersion::V2_03 {
            KpmVersion::V2_03
        } else {
            KpmVersion::V3_00
        };
        assert_eq!(kpm::header_timestamp_version(&h), Some(fam));
    }
    assert_eq!(kpm::header_timestamp_version(&[0x00]), None);
}

#[test]
fn timestamps_follow_ntp_and_v2_reports_do_not_collide() {
    // 2026-01-01T00:00:00.250Z
    let ms = 1_767_225_600_250u64;
    let v3 = kpm::timestamp_octets(ms, KpmVersion::V3_00);
    assert_eq!(
        u32::from_be_bytes(v3[..4].try_into().unwrap()) as u64,
        1_767_225_600 + kpm::NTP_UNIX_OFFSET_S
    );
    assert_eq!(u32::from_be_bytes(v3[4..].try_into().unwrap()), 1 << 30); // a quarter second
    assert_eq!(kpm::timestamp_unix_ms(&v3).unwrap(), ms);
    let v2 = kpm::timestamp_octets(ms, KpmVersion::V2_03);
    assert_eq!(kpm::timestamp_unix_ms(&v2).unwrap(), ms - 250);
    for ms in [
        0u64,
        999,
        1_000_001,
        2_085_978_495_999,
        2_085_978_496_000,
        2_500_000_000_123,
    ] {
        assert_eq!(
            kpm::timestamp_unix_ms(&kpm::timestamp_octets(ms, KpmVersion::V4_00)).unwrap(),
            ms,
            "{ms}"
        );
    }
    // Ten 100 ms v2 reports of one second get ten distinct collection starts.
    let mut seq = V2Sequencer::default();
    let mut starts = Vec::new();
    for i in 0..10u64 {
        let mut r = sample();
        r.collection_start_ms = v2_expected(sample()).collection_start_ms + i * 100;
        let (h, m) = kpm::encode_indication(&r, true, KpmVersion::V2_03);
        let (mut back, _) = kpm::decode_indication(
            &h,
            &m,
            &Limits::default(),
            &scope(),
            None,
            KpmVersion::V2_03,
        )
        .unwrap();
        seq.place(&mut back);
        starts.push(back.collection_start_ms);
    }
    let want: Vec<u64> = (0..10)
        .map(|i| v2_expected(sample()).collection_start_ms + i * 100)
        .collect();
    assert_eq!(starts, want);
}

#[test]
fn kpm_hostile_and_soft_problems() {
    let mut r = sample();
    r.slices[0].1.set(Meas::PrbUsedDl, f32::INFINITY);
    r.slices[0].1.set(Meas::UeThpDl, f32::NEG_INFINITY);
    for v in KpmVersion::ALL {
        let (h, m) = kpm::encode_indication(&r, true, v);
        let (back, notes) =
            kpm::decode_indication(&h, &m, &Limits::default(), &scope(), None, v).unwrap();
        assert_eq!(notes.non_finite_values, 2, "{v}");
        assert!(back.slices[0].1.get(Meas::PrbUsedDl).is_nan());
        let e = kpm::decode_indication(
            &h,
            &m,
            &Limits {
                max_measurements: 8,
                ..Default::default()
            },
            &scope(),
            None,
            v,
        )
        .unwrap_err();
        assert_eq!(e.kind(), "too_many");
        let e = kpm::decode_indication(
            &h,
            &vec![0u8; 100_000],
            &Limits::default(),
            &scope(),
            None,
            v,
        )
        .unwrap_err();
        assert_eq!(e.kind(), "oversize");
        for cut in 0..m.len() {
            assert!(
                kpm::decode_indication(&h, &m[..cut], &Limits::default(), &scope(), None, v)
                    .is_err(),
                "{v} cut {cut}"
            );
        }
        for cut in 0..h.len() {
            assert!(
                kpm::decode_indication(&h[..cut], &m, &Limits::default(), &scope(), None, v)
                    .is_err(),
                "{v} header cut {cut}"
            );
        }
        // A record list claiming 2^31 - 1 records in a few bytes.
        let mut claim = m.clone();
        claim.truncate(8);
        claim.extend_from_slice(&[0xc4, 0xff, 0xff, 0xff]);
        assert!(kpm::decode_indication(&h, &claim, &Limits::default(), &scope(), None, v).is_err());
    }
}

#[test]
fn unknown_names_and_not_satisfied_records_are_counted() {
    use e2_asn1::generated::e2sm_kpm_v04_00::e2_sm_kpm_ies as k;
    let (h, m) = kpm::encode_indication(&sample(), true, KpmVersion::V4_00);
    let mut msg: k::E2SMKPMIndicationMessage = rasn::aper::decode(&m).unwrap();
    let k::E2SMKPMIndicationMessageIndicationMessageFormats::indicationMessage_Format1(f) =
        &mut msg.indication_message_formats
    else {
        panic!()
    };
    f.meas_data.0[0].meas_record.0[0] = k::MeasurementRecordItem::notSatisfied(());
    let infos = f.meas_info_list.as_mut().unwrap();
    infos.0[1].meas_type = k::MeasurementType::measName(k::MeasurementTypeName(
        rasn::types::PrintableString::from_bytes(b"RRU.Unheard").unwrap(),
    ));
    let bytes = rasn::aper::encode(&msg).unwrap();
    let (back, notes) = kpm::decode_indication(
        &h,
        &bytes,
        &Limits::default(),
        &scope(),
        None,
        KpmVersion::V4_00,
    )
    .unwrap();
    assert_eq!(
        notes,
        DecodeNotes {
            unknown_measurements: 1,
            non_finite_values: 0,
            no_values: 2
        }
    );
    assert!(back.cell_meas.get(Meas::PrbAvailDl).is_nan());
    assert!(back.cell_meas.get(Meas::PrbTotDl).is_nan());
    // v02.03 has no notSatisfied: the same bytes are refused there, not misread.
    let (h2, _) = kpm::encode_indication(&sample(), true, KpmVersion::V2_03);
    assert!(
        kpm::decode_indication(
            &h2,
            &bytes,
            &Limits::default(),
            &scope(),
            None,
            KpmVersion::V2_03
        )
        .is_err()
    );
}

// ---------------------------------------------------------------- ONF (SD-RAN) KPM v2.0.3 bytes

#[test]
fn onf_event_trigger_decodes_and_its_indication_header_dialect_is_refused_by_name() {
    let Some(b) = vector(
        "onos-e2-sm.json",
        "onos/kpm_v2/refPerEventTriggerDefinition",
    ) else {
        return;
    };
    // ONF encodes reportingPeriod 15 ms as 00 0e (aligned, 1-octet length class, offset 1).
    assert_eq!(
        kpm::decode_event_trigger(&b, KpmVersion::V2_03).unwrap(),
        15
    );
    assert_eq!(kpm::encode_event_trigger(15, KpmVersion::V2_03), b);
    // ONF's v2.0.3 indication header adds a KPM node ID after the timestamp: not O-RAN's
    // format 1 under any version, so it is malformed, never read as a time.
    let h = vector(
        "onos-e2-sm.json",
        "onos/kpm_v2/refPerE2SmKpmIndicationHeader",
    )
    .unwrap();
    for v in KpmVersion::ALL {
        let e = kpm::decode_indication_header(&h, v).unwrap_err();
        assert!(
            matches!(e.kind(), "malformed" | "kpm_version_skew"),
            "{v}: {e}"
        );
    }
}

// ---------------------------------------------------------------- cost

#[test]
#[ignore = "prints a rough per-indication decode time; run with --release -- --ignored --nocapture"]
fn indication_decode_time() {
    for v in KpmVersion::ALL {
        let (h, m) = kpm::encode_indication(&sample(), true, v);
        let n = 20_000;
        let t = std::time::Instant::now();
        for _ in 0..n {
            std::hint::black_box(
                kpm::decode_indication(&h, &m, &Limits::default(), &scope(), None, v).unwrap(),
            );
        }
        let per = t.elapsed() / n;
        println!(
            "{v}: {} + {} bytes, {per:?} per indication decode (header + message, 16 records with info list)",
            h.len(),
            m.len()
        );
    }
}

#[test]
#[ignore = "prints this codec's encodings as hex, for the independent oracle (docs/e2-api.md)"]
fn print_encodings_for_the_oracle() {
    let info = CellInfo {
        cell: cell(),
        slices: vec![Snssai::new(1, Some(0x123456))],
        prb_total_dl: 106,
    };
    for v in KpmVersion::ALL {
        let (h, m) = kpm::encode_indication(&sample(), true, v);
        println!("{v} E2SM-KPM-IndicationHeader {}", hex::encode(h));
        println!("{v} E2SM-KPM-IndicationMessage {}", hex::encode(m));
        println!(
            "{v} E2SM-KPM-ActionDefinition {}",
            hex::encode(kpm::encode_action_definition(&info, 100, v))
        );
        println!(
            "{v} E2SM-KPM-EventTriggerDefinition {}",
            hex::encode(kpm::encode_event_trigger(100, v))
        );
        println!(
            "{v} E2SM-KPM-RANfunction-Description {}",
            hex::encode(kpm::encode_ran_function(&[], v))
        );
    }
    for m in all_messages() {
        println!(
            "e2ap {} E2AP-PDU {}",
            m.name(),
            hex::encode(e2ap::encode(&m).unwrap())
        );
    }
}
