//! Real aligned-PER bytes written by others decode with our generated types and re-encode
//! byte for byte.
//!
//! * `srsran.json`: srsRAN Project unit-test bytes (E2AP v02.03, E2SM-RC v05.00); every entry
//!   names its type and must round-trip, with the important values asserted.
//! * `onos-e2-sm.json`: onos-e2-sm reference bytes of ONF's E2SM-KPM v2.0.3 *dialect*. The
//!   file does not name types: [`ONF_KPM`] maps each id to the O-RAN E2SM-KPM v02.03 type it
//!   encodes and states what we expect — same bytes (`Same`), the ONF dialect differs from
//!   O-RAN v02.03 for that element (`Dialect`: asserted *not* to round-trip, so a change is
//!   noticed), or an ONF-only type that O-RAN v02.03 does not define (`OnfOnly`: asserted
//!   absent from the O-RAN module). Our codec is never bent towards the dialect.
//!
//! Needs `../shared/interop` (or `$E2_INTEROP_DIR`); skips with a printed line without it.

mod common;

use std::collections::BTreeSet;

use e2_asn1::generated::e2ap_v02_03::e2_ap_common_data_types::ProcedureCode;
use e2_asn1::generated::e2ap_v02_03::e2_ap_constants as c;
use e2_asn1::generated::e2ap_v02_03::e2_ap_ies::{
    ENBIDChoice, RANfunctionID, RICactionType, RICrequestID,
};
use e2_asn1::generated::e2ap_v02_03::e2_ap_pdu_contents::{
    RICactionToBeSetupItem, RICcontrolFailure, RICcontrolRequest, RICsubscriptionDeleteRequest,
    RICsubscriptionDetails, RICsubscriptionRequest,
};
use e2_asn1::generated::e2ap_v02_03::e2_ap_pdu_descriptions::E2APPDU;
use e2_asn1::generated::e2sm_kpm_v02_03::e2_sm_common_ies as k2c;
use e2_asn1::generated::e2sm_kpm_v02_03::e2_sm_kpm_ies as k2;
use e2_asn1::generated::e2sm_rc_v05_00::e2_sm_rc_ies::{
    E2SMRCControlHeader, E2SMRCControlHeaderRicControlHeaderFormats, E2SMRCControlMessage,
};
use rasn::prelude::*;

/// Decodes `T` and re-encodes it: the re-encoded bytes, or why decoding/encoding failed.
fn round_trip<T: Decode + Encode>(bytes: &[u8]) -> Result<(T, Vec<u8>), String> {
    let v: T = rasn::aper::decode(bytes).map_err(|e| format!("decode: {e}"))?;
    let again = rasn::aper::encode(&v).map_err(|e| format!("encode: {e}"))?;
    Ok((v, again))
}

fn same_bytes<T: Decode + Encode>(bytes: &[u8]) -> Result<Vec<u8>, String> {
    round_trip::<T>(bytes).map(|(_, b)| b)
}

// ---------------------------------------------------------------- srsRAN (O-RAN modules)

/// `(IE id, value octets)` of an E2AP protocol-IE container.
fn ies<I>(items: I) -> Vec<(u16, Vec<u8>)>
where
    I: IntoIterator<Item = (u16, Vec<u8>)>,
{
    items.into_iter().collect()
}

fn ie<T: Decode>(list: &[(u16, Vec<u8>)], id: u16) -> T {
    let (_, bytes) = list
        .iter()
        .find(|(i, _)| *i == id)
        .unwrap_or_else(|| panic!("IE {id} absent"));
    rasn::aper::decode(bytes).unwrap_or_else(|e| panic!("IE {id}: {e}"))
}

fn initiating(pdu: &E2APPDU) -> (ProcedureCode, Vec<u8>) {
    match pdu {
        E2APPDU::initiatingMessage(m) => (m.procedure_code.clone(), m.value.as_bytes().to_vec()),
        other => panic!("not an initiating message: {other:?}"),
    }
}

/// RAN parameter IDs in the order they appear in a decoded value (read from its `Debug`,
/// which names every `RANParameterID` of the nested structure).
fn ran_parameter_ids(debug: &str) -> Vec<u64> {
    numbers_after(debug, "RANParameterID(")
}

/// The integers that follow each `marker` in a `Debug` text (digits before the next `)`).
fn numbers_after(debug: &str, marker: &str) -> Vec<u64> {
    debug
        .match_indices(marker)
        .map(|(at, m)| {
            let tail = &debug[at + m.len()..];
            // e.g. `RANParameterID(Integer(..))`: the digits before the first `)`.
            let digits: String = tail[..tail.find(')').expect("closing paren")]
                .chars()
                .filter(char::is_ascii_digit)
                .collect();
            digits.parse().expect("an integer id")
        })
        .collect()
}

fn check_srsran_rc_header(bytes: &[u8]) {
    let (h, again) = round_trip::<E2SMRCControlHeader>(bytes).expect("RC control header");
    assert_eq!(again, bytes);
    let E2SMRCControlHeaderRicControlHeaderFormats::controlHeader_Format1(f1) =
        &h.ric_control_header_formats
    else {
        panic!("control header format 1 expected: {h:?}")
    };
    // Slice-level PRB quota: RIC style 2 (radio resource allocation), action 6.
    assert_eq!(f1.ric_style_type.0, Integer::from(2));
    assert_eq!(f1.ric_control_action_id.0, Integer::from(6));
}

/// The slice-PRB-quota control message srsRAN acts on, as its own test packs it: RRM Policy
/// Ratio List (1) → [list item] RRM Policy (3) → member list (5) → [member] PLMN (7) and
/// S-NSSAI (8: SST 9, SD 10), then min PRB ratio 11, max 12, dedicated 13. List items carry
/// no ID of their own. The independent oracle reads the same IDs from these bytes.
fn check_srsran_rc_quota(bytes: &[u8]) -> Vec<u64> {
    let (m, again) = round_trip::<E2SMRCControlMessage>(bytes).expect("RC control message");
    assert_eq!(again, bytes);
    let debug = format!("{m:?}");
    let ids = ran_parameter_ids(&debug);
    // The only integer values: the three ratios, min 5 %, max 25 %, dedicated 100 %.
    assert_eq!(numbers_after(&debug, "valueInt("), [5, 25, 100], "{debug}");
    ids
}

fn check_srsran_control_request(bytes: &[u8], want_requestor: u16, want_instance: u16) {
    let (pdu, again) = round_trip::<E2APPDU>(bytes).expect("E2AP PDU");
    assert_eq!(again, bytes);
    let (code, value) = initiating(&pdu);
    assert_eq!(code, c::ID_RICCONTROL);
    let req: RICcontrolRequest = rasn::aper::decode(&value).expect("RICcontrolRequest");
    let list = ies(req
        .protocol_ies
        .0
        .iter()
        .map(|i| (i.id.0, i.value.as_bytes().to_vec())));
    let rid: RICrequestID = ie(&list, c::ID_RICREQUEST_ID.0);
    assert_eq!(
        (rid.ric_requestor_id, rid.ric_instance_id),
        (want_requestor, want_instance)
    );
    let fid: RANfunctionID = ie(&list, c::ID_RANFUNCTION_ID.0);
    assert_eq!(fid.0, 3);
    // The header and message IEs are E2SM-RC octet strings: they decode as E2SM-RC too.
    let hdr: OctetString = ie(&list, c::ID_RICCONTROL_HEADER.0);
    let msg: OctetString = ie(&list, c::ID_RICCONTROL_MESSAGE.0);
    assert!(round_trip::<E2SMRCControlHeader>(&hdr).is_ok());
    assert!(round_trip::<E2SMRCControlMessage>(&msg).is_ok());
}

fn check_srsran_vector(v: &common::Vector) {
    let b = &v.bytes;
    match v.id.rsplit_once('/').map(|(_, s)| s).unwrap_or(&v.id) {
        _ if v.id == "srsran/unpack_ric_control_header/ctrl_header" => check_srsran_rc_header(b),
        _ if v.id == "srsran/unpack_ric_control_message/ctrl_header" => {
            let ids = check_srsran_rc_quota(b);
            assert_eq!(ids, [1, 3, 5, 7, 8, 9, 10, 11, 12, 13], "{ids:?}");
        }
        _ if v.id == "srsran/ric_control_request/e2ap_msg" => {
            check_srsran_control_request(b, 1021, 0);
        }
        _ if v.id == "srsran/ric_control_procedure_packed/e2ap_ctrl_req" => {
            check_srsran_control_request(b, 1, 0);
        }
        _ if v.id == "srsran/ric_control_procedure_ho/e2_ctrl_req" => {
            check_srsran_control_request(b, 1, 0);
        }
        _ if v.id == "srsran/ric_control_failure_message/e2ap_msg" => {
            let (pdu, again) = round_trip::<E2APPDU>(b).expect("E2AP PDU");
            assert_eq!(&again, b);
            let E2APPDU::unsuccessfulOutcome(o) = &pdu else {
                panic!("unsuccessful outcome expected: {pdu:?}")
            };
            assert_eq!(o.procedure_code, c::ID_RICCONTROL);
            let f: RICcontrolFailure = rasn::aper::decode(o.value.as_bytes()).expect("failure");
            let list = ies(f
                .protocol_ies
                .0
                .iter()
                .map(|i| (i.id.0, i.value.as_bytes().to_vec())));
            let rid: RICrequestID = ie(&list, c::ID_RICREQUEST_ID.0);
            assert_eq!((rid.ric_requestor_id, rid.ric_instance_id), (1021, 0));
            assert_eq!(ie::<RANfunctionID>(&list, c::ID_RANFUNCTION_ID.0).0, 3);
            assert!(list.iter().any(|(id, _)| *id == c::ID_CAUSE.0));
        }
        _ if v.id.ends_with("/e2ap_sub_req") => {
            let (pdu, again) = round_trip::<E2APPDU>(b).expect("E2AP PDU");
            assert_eq!(&again, b);
            let (code, value) = initiating(&pdu);
            assert_eq!(code, c::ID_RICSUBSCRIPTION);
            let req: RICsubscriptionRequest = rasn::aper::decode(&value).expect("sub request");
            let list = ies(req
                .protocol_ies
                .0
                .iter()
                .map(|i| (i.id.0, i.value.as_bytes().to_vec())));
            let rid: RICrequestID = ie(&list, c::ID_RICREQUEST_ID.0);
            assert_eq!((rid.ric_requestor_id, rid.ric_instance_id), (123, 21));
            assert_eq!(ie::<RANfunctionID>(&list, c::ID_RANFUNCTION_ID.0).0, 1);
            let details: RICsubscriptionDetails = ie(&list, c::ID_RICSUBSCRIPTION_DETAILS.0);
            assert_eq!(
                details.ric_event_trigger_definition.0.as_ref(),
                [1, 2, 3, 4]
            );
            let actions = &details.ric_action_to_be_setup_list.0;
            assert_eq!(actions.len(), 1);
            assert_eq!(actions[0].id, c::ID_RICACTION_TO_BE_SETUP_ITEM);
            let item: RICactionToBeSetupItem =
                rasn::aper::decode(actions[0].value.as_bytes()).expect("action item");
            // Action 1, report, with a subsequent action (continue, wait 20 ms) — the oracle
            // reads the same.
            assert_eq!(item.ric_action_id.0, 1);
            assert!(item.ric_subsequent_action.is_some());
            assert_eq!(item.ric_action_type, RICactionType::report);
            assert_eq!(
                item.ric_action_definition.as_ref().map(|d| d.0.to_vec()),
                Some(vec![1, 2, 3, 4])
            );
        }
        _ if v.id.ends_with("/sub_del_req") => {
            let (pdu, again) = round_trip::<E2APPDU>(b).expect("E2AP PDU");
            assert_eq!(&again, b);
            let (code, value) = initiating(&pdu);
            assert_eq!(code, c::ID_RICSUBSCRIPTION_DELETE);
            let req: RICsubscriptionDeleteRequest = rasn::aper::decode(&value).expect("delete");
            let list = ies(req
                .protocol_ies
                .0
                .iter()
                .map(|i| (i.id.0, i.value.as_bytes().to_vec())));
            let rid: RICrequestID = ie(&list, c::ID_RICREQUEST_ID.0);
            assert_eq!((rid.ric_requestor_id, rid.ric_instance_id), (123, 21));
            assert_eq!(ie::<RANfunctionID>(&list, c::ID_RANFUNCTION_ID.0).0, 147);
        }
        _ => panic!(
            "srsRAN vector {} ({} {:?}) is covered by no assertion: add one",
            v.id, v.spec, v.type_name
        ),
    }
}

// ------------------------------------------------------------------- ONF KPM v2.0.3 dialect

/// What an ONF vector is expected to do against the O-RAN E2SM-KPM v02.03 module.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Decodes with the O-RAN v02.03 type and re-encodes to the same bytes.
    Same,
    /// ONF's v2.0.3 defines this element differently from O-RAN v02.03: it must not
    /// round-trip under the O-RAN type (why given).
    Dialect(&'static str),
    /// The vector's source left its bytes empty: nothing decodes from nothing.
    Empty,
    /// A type only ONF's dialect defines: asserted absent from the O-RAN v02.03 module.
    OnfOnly,
}
use Expect::*;

// Why an ONF element is not O-RAN E2SM-KPM v02.03 (the interop kit's oracle, asn1tools, fails
// to round-trip each of these under the O-RAN module too).
const DIALECT_MEAS_INFO: &str =
    "ONF's MeasurementInfoItem / MeasurementType and action definition formats differ";
const DIALECT_IND_HEADER: &str =
    "ONF's indication header format 1 carries fields O-RAN v02.03 does not (extra octets)";
const DIALECT_MEAS_RECORD: &str =
    "ONF's measData / MeasurementRecord encoding differs (empty or re-constrained records)";
const DIALECT_RAN_FUNCTION_NAME: &str =
    "ONF's RANfunction-Name strings and instance differ in bounds and extensibility";
const DIALECT_CONDITIONS: &str =
    "ONF's MeasurementLabel / TestCondInfo / matching conditions differ in fields and bounds";
const DIALECT_IE_BOUNDS: &str =
    "ONF constrains this IE differently (value bounds or extension markers)";

/// ONF vector id (after `onos/kpm_v2/`) → ASN.1 type name → expectation.
const ONF_KPM: &[(&str, &str, Expect)] = &[
    ("refPerArpLB", "ARP", OnfOnly),
    ("refPerArpUB", "ARP", OnfOnly),
    ("refPerArpExt", "ARP", OnfOnly),
    (
        "refPerCellMeasObjItem1",
        "CellMeasurementObjectItem",
        OnfOnly,
    ),
    (
        "refPerCellMeasObjItem2",
        "CellMeasurementObjectItem",
        OnfOnly,
    ),
    ("refPerCellGlobalID1", "CGI", Same),
    ("refPerCellGlobalID2", "CGI", Same),
    ("refPerCellObjectID0", "CellObjectID", OnfOnly),
    ("refPerCellObjectID1", "CellObjectID", OnfOnly),
    ("refPerCellObjectID2", "CellObjectID", OnfOnly),
    (
        "refPerAD1",
        "E2SM-KPM-ActionDefinition-Format1",
        Dialect(DIALECT_MEAS_INFO),
    ),
    (
        "refPerAD2",
        "E2SM-KPM-ActionDefinition-Format2",
        Dialect(DIALECT_MEAS_INFO),
    ),
    (
        "refPerAD3",
        "E2SM-KPM-ActionDefinition-Format3",
        Dialect(DIALECT_MEAS_INFO),
    ),
    (
        "refPerADF1",
        "E2SM-KPM-ActionDefinition",
        Dialect(DIALECT_MEAS_INFO),
    ),
    (
        "refPerADF2",
        "E2SM-KPM-ActionDefinition",
        Dialect(DIALECT_MEAS_INFO),
    ),
    (
        "refPerADF3",
        "E2SM-KPM-ActionDefinition",
        Dialect(DIALECT_MEAS_INFO),
    ),
    (
        "refPerEventTriggerDefinitionFormat1",
        "E2SM-KPM-EventTriggerDefinition-Format1",
        Same,
    ),
    (
        "refPerEventTriggerDefinition",
        "E2SM-KPM-EventTriggerDefinition",
        Same,
    ),
    (
        "refPerE2SmKpmIndicationHeaderFormat1",
        "E2SM-KPM-IndicationHeader-Format1",
        Dialect(DIALECT_IND_HEADER),
    ),
    (
        "refPerE2SmKpmIndicationHeader",
        "E2SM-KPM-IndicationHeader",
        Dialect(DIALECT_IND_HEADER),
    ),
    (
        "refPerIndMsgF1",
        "E2SM-KPM-IndicationMessage-Format1",
        Dialect(DIALECT_MEAS_RECORD),
    ),
    (
        "refPerIndMsgF1noReal",
        "E2SM-KPM-IndicationMessage-Format1",
        Dialect(DIALECT_MEAS_RECORD),
    ),
    (
        "refPerIndMsgF2",
        "E2SM-KPM-IndicationMessage-Format2",
        Dialect(DIALECT_MEAS_RECORD),
    ),
    (
        "refPerIndMsgF2noReal",
        "E2SM-KPM-IndicationMessage-Format2",
        Dialect(DIALECT_MEAS_RECORD),
    ),
    (
        "refPerIndMsg1",
        "E2SM-KPM-IndicationMessage",
        Dialect(DIALECT_MEAS_RECORD),
    ),
    (
        "refPerIndMsg2",
        "E2SM-KPM-IndicationMessage",
        Dialect(DIALECT_MEAS_RECORD),
    ),
    (
        "refPerIndMsg1noReal",
        "E2SM-KPM-IndicationMessage",
        Dialect(DIALECT_MEAS_RECORD),
    ),
    (
        "refPerIndMsg2noReal",
        "E2SM-KPM-IndicationMessage",
        Dialect(DIALECT_MEAS_RECORD),
    ),
    (
        "refPerE2SmKpmRanFunctionDescriptionFull",
        "E2SM-KPM-RANfunction-Description",
        Dialect(DIALECT_RAN_FUNCTION_NAME),
    ),
    (
        "refPerE2SmKpmRanFunctionDescriptionNodeListOnly",
        "E2SM-KPM-RANfunction-Description",
        Dialect(DIALECT_RAN_FUNCTION_NAME),
    ),
    (
        "refPerE2SmKpmRanFunctionDescriptionEventListOnly",
        "E2SM-KPM-RANfunction-Description",
        Dialect(DIALECT_RAN_FUNCTION_NAME),
    ),
    (
        "refPerE2SmKpmRanFunctionDescriptionReportListOnly",
        "E2SM-KPM-RANfunction-Description",
        Dialect(DIALECT_RAN_FUNCTION_NAME),
    ),
    (
        "refPerE2SmKpmRanFunctionDescriptionMndtOnly",
        "E2SM-KPM-RANfunction-Description",
        Dialect(DIALECT_RAN_FUNCTION_NAME),
    ),
    ("refPerEnbIDchoiceMacro", "ENB-ID-Choice", Same),
    ("refPerEnbIDchoiceShortMacro", "ENB-ID-Choice", Same),
    ("refPerEnbIDchoiceLongMacro", "ENB-ID-Choice", Same),
    ("refPerEnbIDmacro", "ENB-ID", Same),
    ("refPerEnbIDhome", "ENB-ID", Same),
    ("refPerEnGnbID", "EN-GNB-ID", Same),
    ("refPerEnGnbIDlen32", "EN-GNB-ID", Same),
    ("refPerEutraCGI", "EUTRA-CGI", Same),
    ("refPerEutraCellIdentity", "EUTRACellIdentity", Same),
    ("refPerFiveQI", "FiveQI", Same),
    ("refPerGnbCuUpID", "GNB-CU-UP-ID", Same),
    ("refPerGnbDuID", "GNB-DU-ID", Same),
    ("refPerGnbDuIDhigh", "GNB-DU-ID", Same),
    ("refPerGnbDuIDub", "GNB-DU-ID", Same),
    ("refPerGnbIDchoice", "GNB-ID", Same),
    ("refPerGnbIDchoiceLen30", "GNB-ID", Same),
    ("refPerGlobalEnbID1", "GlobalENB-ID", Same),
    ("refPerGlobalEnbID2", "GlobalENB-ID", Same),
    ("refPerGlobalKPMnodeIDgnb", "GlobalKPMnode-ID", OnfOnly),
    ("refPerGlobalKPMnodeIDenGnb", "GlobalKPMnode-ID", OnfOnly),
    ("refPerGlobalKPMnodeIDngEnb", "GlobalKPMnode-ID", OnfOnly),
    ("refPerGlobalKPMnodeIDenb", "GlobalKPMnode-ID", OnfOnly),
    ("refPerGlobalKPMEnbID", "GlobalKPMnode-eNB-ID", OnfOnly),
    (
        "refPerGlobalKPMnodeEnGnbID",
        "GlobalKPMnode-en-gNB-ID",
        OnfOnly,
    ),
    ("refPerGlobalKPMnodeGnbID", "GlobalKPMnode-gNB-ID", OnfOnly),
    (
        "refPerGlobalKPMnodeNgEnbID",
        "GlobalKPMnode-ng-eNB-ID",
        OnfOnly,
    ),
    ("refPerGlobalenGnbID", "GlobalenGNB-ID", Same),
    ("refPerGlobalenGnbIDlen31", "GlobalenGNB-ID", Same),
    ("refPerGlobalenGnbIDlen32", "GlobalenGNB-ID", Same),
    ("refPerGlobalGnbID", "GlobalGNB-ID", Same),
    ("refPerGlobalGnbIDlen31", "GlobalGNB-ID", Same),
    (
        "refPerGlobalNgEnbID",
        "GlobalNgENB-ID",
        Dialect(DIALECT_IE_BOUNDS),
    ),
    ("refPerGP", "GranularityPeriod", Same),
    (
        "refPerLabelInfoItem",
        "LabelInfoItem",
        Dialect(DIALECT_CONDITIONS),
    ),
    (
        "refPerLabelInfoList",
        "LabelInfoList",
        Dialect(DIALECT_CONDITIONS),
    ),
    (
        "refPerMCI1",
        "MatchingCondItem",
        Dialect(DIALECT_CONDITIONS),
    ),
    (
        "refPerMCI2",
        "MatchingCondItem",
        Dialect(DIALECT_CONDITIONS),
    ),
    ("refPerMCL", "MatchingCondList", Dialect(DIALECT_CONDITIONS)),
    (
        "refPerMUeIDI",
        "MatchingUEidItem",
        Dialect(DIALECT_CONDITIONS),
    ),
    (
        "refPerMUeIDL",
        "MatchingUEidList",
        Dialect(DIALECT_CONDITIONS),
    ),
    (
        "refPerMeasCI",
        "MeasurementCondItem",
        Dialect(DIALECT_CONDITIONS),
    ),
    (
        "refPerMeasCL",
        "MeasurementCondList",
        Dialect(DIALECT_CONDITIONS),
    ),
    (
        "refPerMeasCondUeIDI",
        "MeasurementCondUEidItem",
        Dialect(DIALECT_CONDITIONS),
    ),
    (
        "refPerMeasCondUeIDL",
        "MeasurementCondUEidList",
        Dialect(DIALECT_CONDITIONS),
    ),
    ("refPerMDIfull", "MeasurementDataItem", Same),
    ("refPerMDInoRealnoOptional", "MeasurementDataItem", Same),
    ("refPerMDInoReal", "MeasurementDataItem", Same),
    (
        "refPerMDfull",
        "MeasurementData",
        Dialect(DIALECT_MEAS_RECORD),
    ),
    ("refPerMDnoReal", "MeasurementData", Empty),
    ("refPerMDnoRealnoOptional", "MeasurementData", Same),
    (
        "refPerMeasurementInfoActionItem",
        "MeasurementInfo-Action-Item",
        Same,
    ),
    (
        "refPerMeasurementInfoActionList",
        "MeasurementInfo-Action-List",
        Same,
    ),
    (
        "refPerMII",
        "MeasurementInfoItem",
        Dialect(DIALECT_MEAS_INFO),
    ),
    (
        "refPerMIInoOptional",
        "MeasurementInfoItem",
        Dialect(DIALECT_MEAS_INFO),
    ),
    (
        "refPerMIL",
        "MeasurementInfoList",
        Dialect(DIALECT_MEAS_INFO),
    ),
    (
        "refPerMILnoOptional",
        "MeasurementInfoList",
        Dialect(DIALECT_MEAS_INFO),
    ),
    (
        "refPerMeasLabel",
        "MeasurementLabel",
        Dialect(DIALECT_CONDITIONS),
    ),
    (
        "refPerMeasLabelXcldSomeOptnl",
        "MeasurementLabel",
        Dialect(DIALECT_CONDITIONS),
    ),
    ("refPerMRIinteger", "MeasurementRecordItem", Same),
    ("refPerMRIreal", "MeasurementRecordItem", Empty),
    ("refPerMRInovalue", "MeasurementRecordItem", Same),
    ("refPerMeasRecord", "MeasurementRecord", Same),
    ("refPerMeasRecordNoReal", "MeasurementRecord", Same),
    ("refPerMeasurementTypeID", "MeasurementTypeID", Same),
    ("refPerMeasurementTypeID65535", "MeasurementTypeID", Same),
    ("refPerMeasurementTypeID65536", "MeasurementTypeID", Same),
    ("refPerMeasurementTypeID1", "MeasurementTypeID", Same),
    ("refPerMeasurementTypeName", "MeasurementTypeName", Same),
    ("refPerMeasurementType1", "MeasurementType", Same),
    ("refPerMeasurementType2", "MeasurementType", Same),
    ("refPerNrCGI", "NR-CGI", Same),
    ("refPerNrCellID", "NRCellIdentity", Same),
    ("refPerPlmnID", "PLMNIdentity", Same),
    ("refPerQci", "QCI", Dialect(DIALECT_IE_BOUNDS)),
    ("refPerQfi", "QosFlowIdentifier", Same),
    (
        "refPerRanFunctionName",
        "RANfunction-Name",
        Dialect(DIALECT_RAN_FUNCTION_NAME),
    ),
    ("refPerRanFunctionNameNoOptional", "RANfunction-Name", Same),
    (
        "refPerRicEventTriggerStyleItem",
        "RIC-EventTriggerStyle-Item",
        Dialect(DIALECT_IE_BOUNDS),
    ),
    (
        "refPerRicFormatType",
        "RIC-Format-Type",
        Dialect(DIALECT_IE_BOUNDS),
    ),
    ("refPerRicKPMnodeItem", "RIC-KPMNode-Item", OnfOnly),
    (
        "refPerRicReportStyleItem",
        "RIC-ReportStyle-Item",
        Dialect(DIALECT_IE_BOUNDS),
    ),
    ("refPerRicStyleName1", "RIC-Style-Name", Same),
    ("refPerRicStyleName2", "RIC-Style-Name", Same),
    ("refPerRicStyleName3", "RIC-Style-Name", Same),
    ("refPerRicStyleName4", "RIC-Style-Name", Same),
    (
        "refPerRicStyleType",
        "RIC-Style-Type",
        Dialect(DIALECT_IE_BOUNDS),
    ),
    ("refPerSubID", "SubscriptionID", OnfOnly),
    ("refPerTestCondExpr", "TestCond-Expression", Same),
    ("refPerTCTgbr", "TestCond-Type", Same),
    ("refPerTCTambr", "TestCond-Type", Same),
    ("refPerTCTisstat", "TestCond-Type", Same),
    ("refPerTCTiscatm", "TestCond-Type", Same),
    ("refPerTCTrsrp", "TestCond-Type", Same),
    ("refPerTCTrsrq", "TestCond-Type", Same),
    ("refPerTCVint", "TestCond-Value", Same),
    ("refPerTCVenum", "TestCond-Value", Same),
    ("refPerTCVbool", "TestCond-Value", Same),
    ("refPerTCVbs", "TestCond-Value", Same),
    ("refPerTCVos", "TestCond-Value", Same),
    ("refPerTCVps", "TestCond-Value", Same),
    ("refPerTCI", "TestCondInfo", Dialect(DIALECT_CONDITIONS)),
    ("refPerTimeStamp", "TimeStamp", Same),
    ("refPerUeID", "UE-Identity", OnfOnly),
];

macro_rules! kpm_v2_types {
    ($($name:literal => $ty:ty,)*) => {
        /// Decode + re-encode `bytes` as the O-RAN KPM v02.03 type named `name`; `None` when
        /// this table does not know the name.
        fn kpm_v2_round_trip(name: &str, bytes: &[u8]) -> Option<Result<Vec<u8>, String>> {
            match name {
                $($name => Some(same_bytes::<$ty>(bytes)),)*
                _ => None,
            }
        }
    };
}

kpm_v2_types! {
    "CGI" => k2c::CGI,
    "E2SM-KPM-ActionDefinition-Format1" => k2::E2SMKPMActionDefinitionFormat1,
    "E2SM-KPM-ActionDefinition-Format2" => k2::E2SMKPMActionDefinitionFormat2,
    "E2SM-KPM-ActionDefinition-Format3" => k2::E2SMKPMActionDefinitionFormat3,
    "E2SM-KPM-ActionDefinition" => k2::E2SMKPMActionDefinition,
    "E2SM-KPM-EventTriggerDefinition-Format1" => k2::E2SMKPMEventTriggerDefinitionFormat1,
    "E2SM-KPM-EventTriggerDefinition" => k2::E2SMKPMEventTriggerDefinition,
    "E2SM-KPM-IndicationHeader-Format1" => k2::E2SMKPMIndicationHeaderFormat1,
    "E2SM-KPM-IndicationHeader" => k2::E2SMKPMIndicationHeader,
    "E2SM-KPM-IndicationMessage-Format1" => k2::E2SMKPMIndicationMessageFormat1,
    "E2SM-KPM-IndicationMessage-Format2" => k2::E2SMKPMIndicationMessageFormat2,
    "E2SM-KPM-IndicationMessage" => k2::E2SMKPMIndicationMessage,
    "E2SM-KPM-RANfunction-Description" => k2::E2SMKPMRANfunctionDescription,
    "ENB-ID-Choice" => ENBIDChoice,
    "ENB-ID" => k2c::ENBID,
    "EN-GNB-ID" => k2c::ENGNBID,
    "EUTRA-CGI" => k2c::EUTRACGI,
    "EUTRACellIdentity" => k2c::EUTRACellIdentity,
    "FiveQI" => k2c::FiveQI,
    "GNB-CU-UP-ID" => k2c::GNBCUUPID,
    "GNB-DU-ID" => k2c::GNBDUID,
    "GNB-ID" => k2c::GNBID,
    "GlobalENB-ID" => k2c::GlobalENBID,
    "GlobalenGNB-ID" => k2c::GlobalenGNBID,
    "GlobalGNB-ID" => k2c::GlobalGNBID,
    "GlobalNgENB-ID" => k2c::GlobalNgENBID,
    "GranularityPeriod" => k2::GranularityPeriod,
    "LabelInfoItem" => k2::LabelInfoItem,
    "LabelInfoList" => k2::LabelInfoList,
    "MatchingCondItem" => k2::MatchingCondItem,
    "MatchingCondList" => k2::MatchingCondList,
    "MatchingUEidItem" => k2::MatchingUEidItem,
    "MatchingUEidList" => k2::MatchingUEidList,
    "MeasurementCondItem" => k2::MeasurementCondItem,
    "MeasurementCondList" => k2::MeasurementCondList,
    "MeasurementCondUEidItem" => k2::MeasurementCondUEidItem,
    "MeasurementCondUEidList" => k2::MeasurementCondUEidList,
    "MeasurementDataItem" => k2::MeasurementDataItem,
    "MeasurementData" => k2::MeasurementData,
    "MeasurementInfo-Action-Item" => k2::MeasurementInfoActionItem,
    "MeasurementInfo-Action-List" => k2::MeasurementInfoActionList,
    "MeasurementInfoItem" => k2::MeasurementInfoItem,
    "MeasurementInfoList" => k2::MeasurementInfoList,
    "MeasurementLabel" => k2::MeasurementLabel,
    "MeasurementRecordItem" => k2::MeasurementRecordItem,
    "MeasurementRecord" => k2::MeasurementRecord,
    "MeasurementTypeID" => k2::MeasurementTypeID,
    "MeasurementTypeName" => k2::MeasurementTypeName,
    "MeasurementType" => k2::MeasurementType,
    "NR-CGI" => k2c::NRCGI,
    "NRCellIdentity" => k2c::NRCellIdentity,
    "PLMNIdentity" => k2c::PLMNIdentity,
    "QCI" => k2c::QCI,
    "QosFlowIdentifier" => k2c::QosFlowIdentifier,
    "RANfunction-Name" => k2c::RANfunctionName,
    "RIC-EventTriggerStyle-Item" => k2::RICEventTriggerStyleItem,
    "RIC-Format-Type" => k2c::RICFormatType,
    "RIC-ReportStyle-Item" => k2::RICReportStyleItem,
    "RIC-Style-Name" => k2c::RICStyleName,
    "RIC-Style-Type" => k2c::RICStyleType,
    "TestCond-Expression" => k2::TestCondExpression,
    "TestCond-Type" => k2::TestCondType,
    "TestCond-Value" => k2::TestCondValue,
    "TestCondInfo" => k2::TestCondInfo,
    "TimeStamp" => k2::TimeStamp,
}

/// Whether `name ::=` is defined in the O-RAN ASN.1 text.
fn defined_in(asn: &str, name: &str) -> bool {
    asn.lines().any(|l| {
        l.trim_start()
            .strip_prefix(name)
            .is_some_and(|rest| rest.trim_start().starts_with("::="))
    })
}

fn check_onf_vector(v: &common::Vector, oran_kpm_v2: &str) -> Result<(), String> {
    let short = v.id.strip_prefix("onos/kpm_v2/").ok_or("not a kpm_v2 id")?;
    let &(_, type_name, expect) = ONF_KPM
        .iter()
        .find(|(id, _, _)| *id == short)
        .ok_or_else(|| format!("{}: covered by no entry of ONF_KPM: add one", v.id))?;
    match expect {
        Same => {
            let again = kpm_v2_round_trip(type_name, &v.bytes)
                .ok_or_else(|| format!("{}: no Rust type for {type_name}", v.id))?
                .map_err(|e| format!("{} as {type_name}: {e}", v.id))?;
            if again != v.bytes {
                return Err(format!(
                    "{} as {type_name}: re-encoded {} != {}",
                    v.id,
                    hex::encode(&again),
                    hex::encode(&v.bytes)
                ));
            }
        }
        Dialect(why) => {
            let outcome = kpm_v2_round_trip(type_name, &v.bytes)
                .ok_or_else(|| format!("{}: no Rust type for {type_name}", v.id))?;
            if outcome.as_deref() == Ok(&v.bytes[..]) {
                return Err(format!(
                    "{}: expected the ONF dialect ({why}) to differ from O-RAN {type_name}, but it round-trips",
                    v.id
                ));
            }
        }
        Empty => {
            if !v.bytes.is_empty() {
                return Err(format!("{}: expected empty bytes in the source", v.id));
            }
            if let Some(Ok(_)) = kpm_v2_round_trip(type_name, &v.bytes) {
                return Err(format!("{}: empty input decoded as {type_name}", v.id));
            }
        }
        OnfOnly => {
            if defined_in(oran_kpm_v2, type_name) {
                return Err(format!(
                    "{}: {type_name} is defined in O-RAN KPM v02.03 after all",
                    v.id
                ));
            }
        }
    }
    Ok(())
}

#[test]
fn every_vector_file_entry_is_covered_by_an_assertion() {
    let Some(dir) = common::interop_dir("vectors") else {
        return;
    };
    let files = common::vector_files(&dir);
    assert!(files.contains(&"srsran.json".to_owned()), "{files:?}");
    assert!(files.contains(&"onos-e2-sm.json".to_owned()), "{files:?}");
    let oran_kpm_v2 = std::fs::read_to_string(dir.join("asn1/e2sm-kpm-v02.03.asn"))
        .expect("O-RAN KPM v02.03 module");
    let mut failures = Vec::new();
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for file in &files {
        for v in common::load(&dir, file) {
            match file.as_str() {
                "srsran.json" => {
                    check_srsran_vector(&v);
                    *counts.entry("srsran round-trip").or_default() += 1;
                }
                "onos-e2-sm.json" => match check_onf_vector(&v, &oran_kpm_v2) {
                    Ok(()) => {
                        let short = v.id.rsplit('/').next().unwrap_or_default();
                        let label = match ONF_KPM.iter().find(|(id, _, _)| *id == short) {
                            Some((_, _, Same)) => "onf same bytes",
                            Some((_, _, Dialect(_))) => "onf dialect differs",
                            Some((_, _, Empty)) => "onf empty in source",
                            _ => "onf-only type",
                        };
                        *counts.entry(label).or_default() += 1;
                    }
                    Err(e) => failures.push(e),
                },
                other => failures.push(format!(
                    "vector file {other} is covered by no test: add its entries here"
                )),
            }
        }
    }
    println!("vectors: {counts:?}");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_onf_table_names_only_vectors_that_exist() {
    let Some(dir) = common::interop_dir("vectors") else {
        return;
    };
    let ids: BTreeSet<String> = common::load(&dir, "onos-e2-sm.json")
        .into_iter()
        .map(|v| v.id)
        .collect();
    for (short, _, _) in ONF_KPM {
        assert!(
            ids.contains(&format!("onos/kpm_v2/{short}")),
            "stale table entry {short}"
        );
    }
}
