//! One codec per E2SM-KPM version, stamped out by a macro over the generated module of that
//! version: the three modules name their types alike, and differ only in `TimeStamp` (4
//! octets in v02.03, 8 from v03.00) and in extension additions of v04.00 (`notSatisfied`
//! records, label and measurement-info extensions), which the macro takes as arguments.

macro_rules! kpm_codec {
    (
        $name:ident, $gen:ident, timestamp = $ts:literal,
        label_ext = { $($lext:ident),* },
        info_ext = { $($iext:ident),* },
        record_ext = { $($rext:tt)* },
        ueid_ext = { $($uext:ident),* },
        scan_info_ext = { $($scan_iext:tt)* },
        scan_defs = { $($scan_defs:tt)* }
    ) => {
        pub(crate) mod $name {
            use rasn::prelude::*;

            use nf_core::{CellId, Snssai};

            use crate::generated::$gen::e2_sm_common_ies as c;
            use crate::generated::$gen::e2_sm_kpm_ies as k;
            use crate::kpm::{
                ActionInfo, KpmAperError, Message, RanFunction, Record, ReportStyle, Slot,
                NodeName, aper_decode, aper_encode, printable,
            };
            use crate::kpm::radio::{AnyAction, NamedMessage, UeEntry, UeIdError};
            use nf_core::e2sm::MAX_UES_PER_REPORT;

            /// Octets of this version's `TimeStamp`.
            pub(crate) const TIMESTAMP_OCTETS: usize = $ts;

            fn cgi(cell: &CellId) -> c::CGI {
                let mut nci = FixedBitString::<36>::ZERO;
                for i in 0..36 {
                    nci.set(i, (cell.nci >> (35 - i)) & 1 == 1);
                }
                c::CGI::nR_CGI(c::NRCGI {
                    p_lmnidentity: c::PLMNIdentity(FixedOctetString::from(cell.plmn)),
                    n_rcell_identity: c::NRCellIdentity(nci),
                })
            }

            fn cell_of(cgi: &c::CGI) -> Result<CellId, KpmAperError> {
                match cgi {
                    c::CGI::nR_CGI(nr) => {
                        let bits = &nr.n_rcell_identity.0;
                        let nci = (0..36).fold(0u64, |acc, i| (acc << 1) | u64::from(bits[i]));
                        Ok(CellId::new(*nr.p_lmnidentity.0, nci))
                    }
                    c::CGI::eUTRA_CGI(_) => Err(KpmAperError::Invalid("cell global ID (E-UTRA, not NR)")),
                }
            }

            fn snssai(s: &Snssai) -> c::SNSSAI {
                c::SNSSAI {
                    s_st: c::SST(FixedOctetString::from([s.sst])),
                    s_d: s.sd.map(|sd| {
                        let [_, a, b, d] = sd.to_be_bytes();
                        c::SD(FixedOctetString::from([a, b, d]))
                    }),
                }
            }

            fn snssai_of(s: &c::SNSSAI) -> Snssai {
                let sd = s.s_d.as_ref().map(|sd| {
                    let [a, b, d] = *sd.0;
                    u32::from_be_bytes([0, a, b, d])
                });
                Snssai::new(s.s_st.0[0], sd)
            }

            fn label(slice: Option<&Snssai>) -> k::LabelInfoItem {
                k::LabelInfoItem {
                    meas_label: k::MeasurementLabel {
                        no_label: slice.is_none().then_some(k::MeasurementLabelNoLabel::R_true),
                        plmn_id: None,
                        slice_id: slice.map(snssai),
                        five_qi: None,
                        q_fi: None,
                        q_ci: None,
                        q_cimax: None,
                        q_cimin: None,
                        a_rpmax: None,
                        a_rpmin: None,
                        bitrate_range: None,
                        layer_mu_mimo: None,
                        s_um: None,
                        dist_bin_x: None,
                        dist_bin_y: None,
                        dist_bin_z: None,
                        pre_label_override: None,
                        start_end_ind: None,
                        min: None,
                        max: None,
                        avg: None,
                        ssb_index: None,
                        non_go_b_bfmode_index: None,
                        m_imo_mode_index: None,
                        $($lext: None,)*
                    },
                }
            }

            fn info_list(slots: &[Slot]) -> k::MeasurementInfoList {
                k::MeasurementInfoList(
                    slots
                        .iter()
                        .map(|(m, s)| k::MeasurementInfoItem {
                            meas_type: k::MeasurementType::measName(k::MeasurementTypeName(
                                printable(m.name()),
                            )),
                            label_info_list: k::LabelInfoList(vec![label(s.as_ref())]),
                            $($iext: None,)*
                        })
                        .collect(),
                )
            }

            /// The measurement name and slice label of each info entry (`None` slot for a
            /// name the xApp does not know or a measurement given by ID).
            fn slots_of(list: &k::MeasurementInfoList) -> Vec<Option<Slot>> {
                list.0
                    .iter()
                    .map(|item| {
                        let k::MeasurementType::measName(name) = &item.meas_type else {
                            return None;
                        };
                        let meas = std::str::from_utf8(name.0.as_bytes())
                            .ok()
                            .and_then(nf_core::Meas::from_name)?;
                        let slice = item
                            .label_info_list
                            .0
                            .iter()
                            .find_map(|l| l.meas_label.slice_id.as_ref())
                            .map(snssai_of);
                        Some((meas, slice))
                    })
                    .collect()
            }

            pub(crate) fn encode_ran_function(f: &RanFunction) -> Vec<u8> {
                let styles = |f: &RanFunction| -> Vec<k::RICReportStyleItem> {
                    f.report_styles
                        .iter()
                        .map(|s| k::RICReportStyleItem {
                            ric_report_style_type: c::RICStyleType(s.style.into()),
                            ric_report_style_name: c::RICStyleName(printable(&s.name)),
                            ric_action_format_type: c::RICFormatType(s.action_format.into()),
                            meas_info_action_list: k::MeasurementInfoActionList(
                                s.measurements
                                    .iter()
                                    .map(|n| k::MeasurementInfoActionItem {
                                        meas_name: k::MeasurementTypeName(printable(n)),
                                        meas_id: None,
                                        bin_range_def: None,
                                    })
                                    .collect(),
                            ),
                            ric_indication_header_format_type: c::RICFormatType(
                                s.header_format.into(),
                            ),
                            ric_indication_message_format_type: c::RICFormatType(
                                s.message_format.into(),
                            ),
                        })
                        .collect()
                };
                let d = k::E2SMKPMRANfunctionDescription {
                    ran_function_name: c::RANfunctionName {
                        ran_function_short_name: printable(&f.name.short_name),
                        ran_function_e2_sm_oid: printable(&f.name.oid),
                        ran_function_description: printable(&f.name.description),
                        ran_function_instance: f.name.instance.map(Integer::from),
                    },
                    ric_event_trigger_style_list: Some(vec![k::RICEventTriggerStyleItem {
                        ric_event_trigger_style_type: c::RICStyleType(1.into()),
                        ric_event_trigger_style_name: c::RICStyleName(printable("Periodic Report")),
                        ric_event_trigger_format_type: c::RICFormatType(1.into()),
                    }]),
                    ric_report_style_list: Some(styles(f)),
                };
                aper_encode(&d)
            }

            pub(crate) fn decode_ran_function(bytes: &[u8]) -> Result<RanFunction, KpmAperError> {
                let d: k::E2SMKPMRANfunctionDescription =
                    aper_decode(bytes, "RAN function description")?;
                let n = &d.ran_function_name;
                let text = |p: &PrintableString| String::from_utf8_lossy(p.as_bytes()).into_owned();
                let int = |i: &Integer, what| i32::try_from(i).map_err(|_| KpmAperError::Invalid(what));
                let report_styles = d
                    .ric_report_style_list
                    .iter()
                    .flatten()
                    .map(|s| {
                        Ok(ReportStyle {
                            style: int(&s.ric_report_style_type.0, "report style")?,
                            name: text(&s.ric_report_style_name.0),
                            action_format: int(&s.ric_action_format_type.0, "action format")?,
                            header_format: int(&s.ric_indication_header_format_type.0, "header format")?,
                            message_format: int(&s.ric_indication_message_format_type.0, "message format")?,
                            measurements: s
                                .meas_info_action_list
                                .0
                                .iter()
                                .map(|m| text(&m.meas_name.0))
                                .collect(),
                        })
                    })
                    .collect::<Result<_, KpmAperError>>()?;
                Ok(RanFunction {
                    name: NodeName {
                        short_name: text(&n.ran_function_short_name),
                        oid: text(&n.ran_function_e2_sm_oid),
                        description: text(&n.ran_function_description),
                        instance: n
                            .ran_function_instance
                            .as_ref()
                            .map(|i| int(i, "RAN function instance"))
                            .transpose()?,
                    },
                    report_styles,
                })
            }

            pub(crate) fn encode_event_trigger(period_ms: u32) -> Vec<u8> {
                aper_encode(&k::E2SMKPMEventTriggerDefinition {
                    event_definition_formats:
                        k::E2SMKPMEventTriggerDefinitionEventDefinitionFormats::eventDefinition_Format1(
                            k::E2SMKPMEventTriggerDefinitionFormat1 { reporting_period: period_ms.max(1) },
                        ),
                })
            }

            pub(crate) fn decode_event_trigger(bytes: &[u8]) -> Result<u32, KpmAperError> {
                let t: k::E2SMKPMEventTriggerDefinition =
                    aper_decode(bytes, "event trigger definition")?;
                let k::E2SMKPMEventTriggerDefinitionEventDefinitionFormats::eventDefinition_Format1(f) =
                    t.event_definition_formats;
                Ok(f.reporting_period)
            }

            pub(crate) fn encode_action_definition(
                style: i32,
                cell: &CellId,
                slots: &[Slot],
                granularity_ms: u32,
            ) -> Vec<u8> {
                aper_encode(&k::E2SMKPMActionDefinition {
                    ric_style_type: c::RICStyleType(style.into()),
                    action_definition_formats:
                        k::E2SMKPMActionDefinitionActionDefinitionFormats::actionDefinition_Format1(
                            k::E2SMKPMActionDefinitionFormat1 {
                                meas_info_list: info_list(slots),
                                granul_period: k::GranularityPeriod(granularity_ms.max(1)),
                                cell_global_id: Some(cgi(cell)),
                                dist_meas_bin_range_info: None,
                            },
                        ),
                })
            }

            pub(crate) fn decode_action_definition(bytes: &[u8]) -> Result<ActionInfo, KpmAperError> {
                let a = decode_action(bytes)?;
                let style = i32::try_from(&a.ric_style_type.0)
                    .map_err(|_| KpmAperError::Invalid("report style"))?;
                let k::E2SMKPMActionDefinitionActionDefinitionFormats::actionDefinition_Format1(f) =
                    a.action_definition_formats
                else {
                    return Err(KpmAperError::Missing("action definition format 1"));
                };
                let cell = f
                    .cell_global_id
                    .as_ref()
                    .ok_or(KpmAperError::Missing("cell global ID"))
                    .and_then(cell_of)?;
                Ok(ActionInfo {
                    style,
                    cell,
                    granularity_ms: f.granul_period.0,
                    slots: slots_of(&f.meas_info_list),
                })
            }

            pub(crate) fn encode_header(timestamp: [u8; $ts]) -> Vec<u8> {
                aper_encode(&k::E2SMKPMIndicationHeader {
                    indication_header_formats:
                        k::E2SMKPMIndicationHeaderIndicationHeaderFormats::indicationHeader_Format1(
                            k::E2SMKPMIndicationHeaderFormat1 {
                                collet_start_time: k::TimeStamp(FixedOctetString::from(timestamp)),
                                file_formatversion: None,
                                sender_name: None,
                                sender_type: None,
                                vendor_name: None,
                            },
                        ),
                })
            }

            /// The header's `colletStartTime` octets; the whole input must be consumed.
            pub(crate) fn decode_header(bytes: &[u8]) -> Result<[u8; $ts], rasn::error::DecodeError> {
                let (h, rest) = rasn::aper::decode_with_remainder::<k::E2SMKPMIndicationHeader>(bytes)?;
                if !rest.is_empty() {
                    return Err(rasn::error::DecodeError::from_kind(
                        rasn::error::DecodeErrorKind::Custom {
                            msg: format!("{} octets left after the indication header", rest.len()),
                        },
                        rasn::Codec::Aper,
                    ));
                }
                let k::E2SMKPMIndicationHeaderIndicationHeaderFormats::indicationHeader_Format1(f) =
                    h.indication_header_formats;
                Ok(*f.collet_start_time.0)
            }

            /// Mirrors of the indication message and action definition types whose list
            /// elements are [`Skip`]s, for the allocation pre-check of `crate::kpm::prescan`.
            /// Each mirrors one generated type of `$gen` field for field: the same automatic
            /// tags, size constraints, optional fields and extension markers (`non_exhaustive`
            /// = `...`, `extension_addition` after it), so it accepts exactly the encodings
            /// the real type accepts (checked by the `mirrors_accept_what_the_real_types_accept`
            /// tests). Leaf elements are skipped as the real type itself.
            #[allow(dead_code)]
            pub(crate) mod scan {
                use rasn::prelude::*;

                use super::{c, k};
                use crate::kpm::prescan::{Skip, SkipUe};

                // ---- E2SM-KPM-IndicationMessage ----------------------------------------

                #[derive(AsnType, Decode)]
                #[rasn(automatic_tags)]
                #[non_exhaustive]
                pub(crate) struct Message {
                    formats: Formats,
                }
                #[derive(AsnType, Decode)]
                #[rasn(choice, automatic_tags)]
                #[non_exhaustive]
                enum Formats {
                    Format1(Format1),
                    Format2(Format2),
                    #[rasn(extension_addition)]
                    Format3(Format3),
                }
                #[derive(AsnType, Decode)]
                #[rasn(automatic_tags)]
                #[non_exhaustive]
                struct Format1 {
                    meas_data: Data,
                    meas_info_list: Option<InfoList>,
                    granul_period: Option<k::GranularityPeriod>,
                }
                #[derive(AsnType, Decode)]
                #[rasn(delegate, size("1..=65535"))]
                struct Data(Vec<Skip<DataItem, k::MeasurementDataItem>>);
                #[derive(AsnType, Decode)]
                #[rasn(automatic_tags)]
                #[non_exhaustive]
                struct DataItem {
                    meas_record: Records,
                    incomplete_flag: Option<k::MeasurementDataItemIncompleteFlag>,
                }
                #[derive(AsnType, Decode)]
                #[rasn(delegate, size("1..=2147483647"))]
                struct Records(Vec<Skip<k::MeasurementRecordItem>>);
                #[derive(AsnType, Decode)]
                #[rasn(delegate, size("1..=65535"))]
                struct InfoList(Vec<Skip<InfoItem, k::MeasurementInfoItem>>);
                #[derive(AsnType, Decode)]
                #[rasn(automatic_tags)]
                #[non_exhaustive]
                struct InfoItem {
                    meas_type: k::MeasurementType,
                    label_info_list: Labels,
                    $($scan_iext)*
                }
                #[derive(AsnType, Decode)]
                #[rasn(delegate, size("1..=2147483647"))]
                struct Labels(Vec<Skip<k::LabelInfoItem>>);
                #[derive(AsnType, Decode)]
                #[rasn(automatic_tags)]
                #[non_exhaustive]
                struct Format2 {
                    meas_data: Data,
                    meas_cond_ueid_list: CondUeids,
                    granul_period: Option<k::GranularityPeriod>,
                }
                #[derive(AsnType, Decode)]
                #[rasn(delegate, size("1..=65535"))]
                struct CondUeids(Vec<Skip<CondUeidItem, k::MeasurementCondUEidItem>>);
                #[derive(AsnType, Decode)]
                #[rasn(automatic_tags)]
                #[non_exhaustive]
                struct CondUeidItem {
                    meas_type: k::MeasurementType,
                    matching_cond: Conds,
                    matching_ueid_list: Option<Ueids>,
                    #[rasn(extension_addition)]
                    matching_ueid_per_gp: Option<PerGp>,
                }
                #[derive(AsnType, Decode)]
                #[rasn(delegate, size("1..=32768"))]
                struct Conds(Vec<Skip<k::MatchingCondItem>>);
                #[derive(AsnType, Decode)]
                #[rasn(delegate, size("1..=65535"))]
                struct Ueids(Vec<Skip<k::MatchingUEidItem>>);
                #[derive(AsnType, Decode)]
                #[rasn(delegate, size("1..=65535"))]
                struct PerGp(Vec<Skip<PerGpItem, k::MatchingUEidPerGPItem>>);
                #[derive(AsnType, Decode)]
                #[rasn(automatic_tags)]
                #[non_exhaustive]
                struct PerGpItem {
                    matched_per_gp: Matched,
                }
                #[derive(AsnType, Decode)]
                #[rasn(choice, automatic_tags)]
                #[non_exhaustive]
                enum Matched {
                    NoUeMatched(k::MatchingUEidPerGPItemMatchedPerGPNoUEmatched),
                    OneOrMoreUeMatched(UeidsPerGp),
                }
                #[derive(AsnType, Decode)]
                #[rasn(delegate, size("1..=65535"))]
                struct UeidsPerGp(Vec<Skip<k::MatchingUEidItemPerGP>>);
                #[derive(AsnType, Decode)]
                #[rasn(automatic_tags)]
                #[non_exhaustive]
                struct Format3 {
                    ue_meas_report_list: Ues,
                }
                #[derive(AsnType, Decode)]
                #[rasn(delegate, size("1..=65535"))]
                struct Ues(Vec<SkipUe<UeItem, k::UEMeasurementReportItem>>);
                #[derive(AsnType, Decode)]
                #[rasn(automatic_tags)]
                #[non_exhaustive]
                struct UeItem {
                    ue_id: c::UEID,
                    meas_report: Format1,
                }

                // ---- E2SM-KPM-ActionDefinition -----------------------------------------

                #[derive(AsnType, Decode)]
                #[rasn(automatic_tags)]
                #[non_exhaustive]
                pub(crate) struct Action {
                    ric_style_type: c::RICStyleType,
                    formats: ActionFormats,
                }
                #[derive(AsnType, Decode)]
                #[rasn(choice, automatic_tags)]
                #[non_exhaustive]
                enum ActionFormats {
                    Format1(Action1),
                    Format2(Action2),
                    Format3(Action3),
                    #[rasn(extension_addition)]
                    Format4(Action4),
                    #[rasn(extension_addition)]
                    Format5(Action5),
                }
                #[derive(AsnType, Decode)]
                #[rasn(automatic_tags)]
                #[non_exhaustive]
                struct Action1 {
                    meas_info_list: InfoList,
                    granul_period: k::GranularityPeriod,
                    cell_global_id: Option<c::CGI>,
                    #[rasn(extension_addition)]
                    dist_meas_bin_range_info: Option<DistList>,
                }
                #[derive(AsnType, Decode)]
                #[rasn(delegate, size("1..=65535"))]
                struct DistList(Vec<Skip<DistItem, k::DistMeasurementBinRangeItem>>);
                #[derive(AsnType, Decode)]
                #[rasn(automatic_tags)]
                #[non_exhaustive]
                struct DistItem {
                    meas_type: k::MeasurementType,
                    bin_range_def: BinRanges,
                }
                #[derive(AsnType, Decode)]
                #[rasn(automatic_tags)]
                #[non_exhaustive]
                struct BinRanges {
                    bin_range_list_x: Bins,
                    bin_range_list_y: Option<Bins>,
                    bin_range_list_z: Option<Bins>,
                }
                #[derive(AsnType, Decode)]
                #[rasn(delegate, size("1..=65535"))]
                struct Bins(Vec<Skip<k::BinRangeItem>>);
                #[derive(AsnType, Decode)]
                #[rasn(automatic_tags)]
                #[non_exhaustive]
                struct Action2 {
                    ue_id: c::UEID,
                    subscript_info: Action1,
                }
                #[derive(AsnType, Decode)]
                #[rasn(automatic_tags)]
                #[non_exhaustive]
                struct Action3 {
                    meas_cond_list: CondList,
                    granul_period: k::GranularityPeriod,
                    cell_global_id: Option<c::CGI>,
                }
                #[derive(AsnType, Decode)]
                #[rasn(delegate, size("1..=65535"))]
                struct CondList(Vec<Skip<CondItem, k::MeasurementCondItem>>);
                #[derive(AsnType, Decode)]
                #[rasn(automatic_tags)]
                #[non_exhaustive]
                struct CondItem {
                    meas_type: k::MeasurementType,
                    matching_cond: Conds,
                    #[rasn(extension_addition)]
                    bin_range_def: Option<BinRanges>,
                }
                #[derive(AsnType, Decode)]
                #[rasn(automatic_tags)]
                #[non_exhaustive]
                struct Action4 {
                    matching_ue_cond_list: UeConds,
                    subscription_info: Action1,
                }
                #[derive(AsnType, Decode)]
                #[rasn(delegate, size("1..=32768"))]
                struct UeConds(Vec<Skip<k::MatchingUeCondPerSubItem>>);
                #[derive(AsnType, Decode)]
                #[rasn(automatic_tags)]
                #[non_exhaustive]
                struct Action5 {
                    matching_ueid_list: SubUeids,
                    subscription_info: Action1,
                }
                #[derive(AsnType, Decode)]
                #[rasn(delegate, size("2..=65535"))]
                struct SubUeids(Vec<Skip<k::MatchingUEidPerSubItem>>);
                $($scan_defs)*
            }

            /// The pre-check of an indication message (see `crate::kpm::prescan`): its tally
            /// and the octets left after it.
            pub(crate) fn scan_indication_message(
                bytes: &[u8],
            ) -> Result<(crate::kpm::prescan::Tally, usize), crate::kpm::prescan::ScanFailure> {
                crate::kpm::prescan::scan::<scan::Message>(bytes)
            }

            /// The pre-check of an action definition (see `crate::kpm::prescan`).
            pub(crate) fn scan_action_definition(
                bytes: &[u8],
            ) -> Result<(crate::kpm::prescan::Tally, usize), crate::kpm::prescan::ScanFailure> {
                crate::kpm::prescan::scan::<scan::Action>(bytes)
            }

            /// Decodes an indication message once its pre-check passed: at most
            /// `max_ues` UEs in a format-3 list (`TooMany`, counted exactly), then the byte
            /// bound of the decoded lists.
            fn decode_indication_message(
                bytes: &[u8],
                max_ues: usize,
            ) -> Result<k::E2SMKPMIndicationMessage, KpmAperError> {
                let (tally, _) = scan_indication_message(bytes)
                    .map_err(|e| e.into_kpm("indication message"))?;
                if tally.ues > max_ues {
                    return Err(KpmAperError::TooMany {
                        what: "UEs",
                        count: tally.ues,
                        limit: max_ues,
                    });
                }
                tally.check_bytes()?;
                aper_decode(bytes, "indication message")
            }

            /// Decodes an action definition once its pre-check passed.
            fn decode_action(bytes: &[u8]) -> Result<k::E2SMKPMActionDefinition, KpmAperError> {
                scan_action_definition(bytes)
                    .map_err(|e| e.into_kpm("action definition"))?
                    .0
                    .check_bytes()?;
                aper_decode(bytes, "action definition")
            }

            fn item(r: Record) -> k::MeasurementRecordItem {
                match r {
                    Record::Integer(i) => k::MeasurementRecordItem::integer(i),
                    Record::Real(v) => k::MeasurementRecordItem::real(crate::real::Real(v)),
                    Record::NoValue | Record::NotSatisfied => k::MeasurementRecordItem::noValue(()),
                }
            }

            fn record(i: &k::MeasurementRecordItem) -> Record {
                match i {
                    k::MeasurementRecordItem::integer(v) => Record::Integer(*v),
                    k::MeasurementRecordItem::real(v) => Record::Real(v.0),
                    k::MeasurementRecordItem::noValue(()) => Record::NoValue,
                    $($rext)*
                }
            }

            pub(crate) fn encode_message(
                records: &[Record],
                infos: Option<&[Slot]>,
                granularity_ms: u32,
            ) -> Vec<u8> {
                aper_encode(&k::E2SMKPMIndicationMessage {
                    indication_message_formats:
                        k::E2SMKPMIndicationMessageIndicationMessageFormats::indicationMessage_Format1(
                            k::E2SMKPMIndicationMessageFormat1 {
                                meas_data: k::MeasurementData(vec![k::MeasurementDataItem {
                                    meas_record: k::MeasurementRecord(
                                        records.iter().map(|r| item(*r)).collect(),
                                    ),
                                    incomplete_flag: None,
                                }]),
                                meas_info_list: infos.map(info_list),
                                granul_period: Some(k::GranularityPeriod(granularity_ms.max(1))),
                            },
                        ),
                })
            }

            pub(crate) fn decode_message(bytes: &[u8]) -> Result<Message, KpmAperError> {
                let m = decode_indication_message(bytes, usize::MAX)?;
                let k::E2SMKPMIndicationMessageIndicationMessageFormats::indicationMessage_Format1(f) =
                    m.indication_message_formats
                else {
                    return Err(KpmAperError::Missing("indication message format 1"));
                };
                let data = f
                    .meas_data
                    .0
                    .last()
                    .ok_or(KpmAperError::Missing("measurement data"))?;
                Ok(Message {
                    infos: f.meas_info_list.as_ref().map(slots_of),
                    records: data.meas_record.0.iter().map(record).collect(),
                    granularity_ms: f.granul_period.map(|g| g.0),
                })
            }

            // ---- UE-level (style 4) and cell radio (style 1 by name) ---------------------

            fn info_list_names(names: &[&str]) -> k::MeasurementInfoList {
                k::MeasurementInfoList(
                    names
                        .iter()
                        .map(|n| k::MeasurementInfoItem {
                            meas_type: k::MeasurementType::measName(k::MeasurementTypeName(
                                printable(n),
                            )),
                            label_info_list: k::LabelInfoList(vec![label(None)]),
                            $($iext: None,)*
                        })
                        .collect(),
                )
            }

            /// Each info entry's name (`None` for a measurement given by ID).
            fn names_of(list: &k::MeasurementInfoList) -> Vec<Option<String>> {
                list.0
                    .iter()
                    .map(|item| match &item.meas_type {
                        k::MeasurementType::measName(n) => {
                            Some(String::from_utf8_lossy(n.0.as_bytes()).into_owned())
                        }
                        _ => None,
                    })
                    .collect()
            }

            fn format1(names: &[&str], cell: Option<&CellId>, granularity_ms: u32) -> k::E2SMKPMActionDefinitionFormat1 {
                k::E2SMKPMActionDefinitionFormat1 {
                    meas_info_list: info_list_names(names),
                    granul_period: k::GranularityPeriod(granularity_ms.max(1)),
                    cell_global_id: cell.map(cgi),
                    dist_meas_bin_range_info: None,
                }
            }

            /// Action definition format 1 asking for `names`, each without label.
            pub(crate) fn encode_named_action_definition(
                style: i32,
                cell: &CellId,
                names: &[&str],
                granularity_ms: u32,
            ) -> Vec<u8> {
                aper_encode(&k::E2SMKPMActionDefinition {
                    ric_style_type: c::RICStyleType(style.into()),
                    action_definition_formats:
                        k::E2SMKPMActionDefinitionActionDefinitionFormats::actionDefinition_Format1(
                            format1(names, Some(cell), granularity_ms),
                        ),
                })
            }

            /// Action definition format 4 (report style 4): the single matching condition
            /// `rSRP present`, subscription info = format 1 with `names` and the cell.
            pub(crate) fn encode_ue_action_definition(
                style: i32,
                cell: &CellId,
                names: &[&str],
                granularity_ms: u32,
            ) -> Vec<u8> {
                let cond = k::MatchingUeCondPerSubItem {
                    test_cond_info: k::TestCondInfo {
                        test_type: k::TestCondType::rSRP(k::TestCondTypeRSRP::R_true),
                        test_expr: Some(k::TestCondExpression::present),
                        test_value: None,
                    },
                    logical_or: None,
                };
                aper_encode(&k::E2SMKPMActionDefinition {
                    ric_style_type: c::RICStyleType(style.into()),
                    action_definition_formats:
                        k::E2SMKPMActionDefinitionActionDefinitionFormats::actionDefinition_Format4(
                            k::E2SMKPMActionDefinitionFormat4 {
                                matching_ue_cond_list: k::MatchingUeCondPerSubList(vec![cond]),
                                subscription_info: format1(names, Some(cell), granularity_ms),
                            },
                        ),
                })
            }

            fn cond_text(t: &k::TestCondInfo) -> String {
                let ty = match &t.test_type {
                    k::TestCondType::gBR(_) => "gBR",
                    k::TestCondType::aMBR(_) => "aMBR",
                    k::TestCondType::isStat(_) => "isStat",
                    k::TestCondType::isCatM(_) => "isCatM",
                    k::TestCondType::rSRP(_) => "rSRP",
                    k::TestCondType::rSRQ(_) => "rSRQ",
                    k::TestCondType::ul_rSRP(_) => "ul-rSRP",
                    k::TestCondType::cQI(_) => "cQI",
                    k::TestCondType::fiveQI(_) => "fiveQI",
                    k::TestCondType::qCI(_) => "qCI",
                    k::TestCondType::sNSSAI(_) => "sNSSAI",
                    #[allow(unreachable_patterns)]
                    _ => "other",
                };
                let expr = match t.test_expr {
                    Some(k::TestCondExpression::equal) => " equal",
                    Some(k::TestCondExpression::greaterthan) => " greaterthan",
                    Some(k::TestCondExpression::lessthan) => " lessthan",
                    Some(k::TestCondExpression::contains) => " contains",
                    Some(k::TestCondExpression::present) => " present",
                    #[allow(unreachable_patterns)]
                    Some(_) => " other",
                    None => "",
                };
                let value = if t.test_value.is_some() { " <value>" } else { "" };
                format!("{ty}{expr}{value}")
            }

            /// Any action definition of format 1 or 4, by name.
            pub(crate) fn decode_any_action(bytes: &[u8]) -> Result<AnyAction, KpmAperError> {
                let a = decode_action(bytes)?;
                let style = i32::try_from(&a.ric_style_type.0)
                    .map_err(|_| KpmAperError::Invalid("report style"))?;
                let (format, f, conditions) = match a.action_definition_formats {
                    k::E2SMKPMActionDefinitionActionDefinitionFormats::actionDefinition_Format1(f) => {
                        (1, f, Vec::new())
                    }
                    k::E2SMKPMActionDefinitionActionDefinitionFormats::actionDefinition_Format4(f) => {
                        let conds = f
                            .matching_ue_cond_list
                            .0
                            .iter()
                            .map(|c| cond_text(&c.test_cond_info))
                            .collect();
                        (4, f.subscription_info, conds)
                    }
                    _ => return Err(KpmAperError::Missing("action definition format 1 or 4")),
                };
                Ok(AnyAction {
                    style,
                    format,
                    cell: f.cell_global_id.as_ref().map(cell_of).transpose()?,
                    granularity_ms: f.granul_period.0,
                    names: names_of(&f.meas_info_list),
                    conditions,
                })
            }

            fn msg_format1(
                records: &[Record],
                names: Option<&[&str]>,
                granularity_ms: u32,
            ) -> k::E2SMKPMIndicationMessageFormat1 {
                k::E2SMKPMIndicationMessageFormat1 {
                    meas_data: k::MeasurementData(vec![k::MeasurementDataItem {
                        meas_record: k::MeasurementRecord(records.iter().map(|r| item(*r)).collect()),
                        incomplete_flag: None,
                    }]),
                    meas_info_list: names.map(info_list_names),
                    granul_period: Some(k::GranularityPeriod(granularity_ms.max(1))),
                }
            }

            fn named_of(f: &k::E2SMKPMIndicationMessageFormat1) -> Result<NamedMessage, KpmAperError> {
                let data = f
                    .meas_data
                    .0
                    .last()
                    .ok_or(KpmAperError::Missing("measurement data"))?;
                Ok(NamedMessage {
                    names: f.meas_info_list.as_ref().map(names_of),
                    records: data.meas_record.0.iter().map(record).collect(),
                    granularity_ms: f.granul_period.as_ref().map(|g| g.0),
                })
            }

            /// Indication message format 1 with records named by `names`.
            pub(crate) fn encode_named_message(
                records: &[Record],
                names: Option<&[&str]>,
                granularity_ms: u32,
            ) -> Vec<u8> {
                aper_encode(&k::E2SMKPMIndicationMessage {
                    indication_message_formats:
                        k::E2SMKPMIndicationMessageIndicationMessageFormats::indicationMessage_Format1(
                            msg_format1(records, names, granularity_ms),
                        ),
                })
            }

            pub(crate) fn decode_named_message(bytes: &[u8]) -> Result<NamedMessage, KpmAperError> {
                let m = decode_indication_message(bytes, usize::MAX)?;
                let k::E2SMKPMIndicationMessageIndicationMessageFormats::indicationMessage_Format1(f) =
                    m.indication_message_formats
                else {
                    return Err(KpmAperError::Missing("indication message format 1"));
                };
                named_of(&f)
            }

            /// `UEID` gNB choice: the AMF UE NGAP ID with the GUAMI of `plmn` and the AMF
            /// region / set / pointer constants of [`crate::kpm::radio::GUAMI_AMF_REGION`].
            pub(crate) fn ue_id(amf_ue_ngap_id: u64, plmn: [u8; 3]) -> c::UEID {
                let mut region = FixedBitString::<8>::ZERO;
                for i in 0..8 {
                    region.set(i, (crate::kpm::radio::GUAMI_AMF_REGION >> (7 - i)) & 1 == 1);
                }
                let mut set = FixedBitString::<10>::ZERO;
                for i in 0..10 {
                    set.set(i, (crate::kpm::radio::GUAMI_AMF_SET >> (9 - i)) & 1 == 1);
                }
                let mut pointer = FixedBitString::<6>::ZERO;
                for i in 0..6 {
                    pointer.set(i, (crate::kpm::radio::GUAMI_AMF_POINTER >> (5 - i)) & 1 == 1);
                }
                c::UEID::gNB_UEID(c::UEIDGNB {
                    amf_ue_ngap_id: c::AMFUENGAPID(amf_ue_ngap_id),
                    guami: c::GUAMI {
                        p_lmnidentity: c::PLMNIdentity(FixedOctetString::from(plmn)),
                        a_mfregion_id: c::AMFRegionID(region),
                        a_mfset_id: c::AMFSetID(set),
                        a_mfpointer: c::AMFPointer(pointer),
                    },
                    g_nb_cu_ue_f1_ap_id_list: None,
                    g_nb_cu_cp_ue_e1_ap_id_list: None,
                    ran_ueid: None,
                    m_ng_ran_ue_xn_ap_id: None,
                    global_gnb_id: None,
                    $($uext: None,)*
                })
            }

            fn amf_ue_id_of(id: &c::UEID) -> Result<u64, UeIdError> {
                match id {
                    c::UEID::gNB_UEID(g) => Ok(g.amf_ue_ngap_id.0),
                    c::UEID::gNB_DU_UEID(_) => Err(UeIdError("gNB-DU-UEID")),
                    c::UEID::gNB_CU_UP_UEID(_) => Err(UeIdError("gNB-CU-UP-UEID")),
                    c::UEID::ng_eNB_UEID(_) => Err(UeIdError("ng-eNB-UEID")),
                    c::UEID::ng_eNB_DU_UEID(_) => Err(UeIdError("ng-eNB-DU-UEID")),
                    c::UEID::en_gNB_UEID(_) => Err(UeIdError("en-gNB-UEID")),
                    c::UEID::eNB_UEID(_) => Err(UeIdError("eNB-UEID")),
                    #[allow(unreachable_patterns)]
                    _ => Err(UeIdError("an unknown UEID choice")),
                }
            }

            /// Indication message format 3: one format-1 report per UE. `None` when there
            /// is no UE (the list is `SIZE(1..maxnoofUEMeasReport)`).
            pub(crate) fn encode_ue_message(
                ues: &[(u64, Vec<Record>)],
                plmn: [u8; 3],
                names: &[&str],
                granularity_ms: u32,
            ) -> Option<Vec<u8>> {
                if ues.is_empty() {
                    return None;
                }
                let list = ues
                    .iter()
                    .map(|(ue, records)| k::UEMeasurementReportItem {
                        ue_id: ue_id(*ue, plmn),
                        meas_report: msg_format1(records, Some(names), granularity_ms),
                    })
                    .collect();
                Some(aper_encode(&k::E2SMKPMIndicationMessage {
                    indication_message_formats:
                        k::E2SMKPMIndicationMessageIndicationMessageFormats::indicationMessage_Format3(
                            k::E2SMKPMIndicationMessageFormat3 {
                                ue_meas_report_list: k::UEMeasurementReportList(list),
                            },
                        ),
                }))
            }

            pub(crate) fn decode_ue_message(bytes: &[u8]) -> Result<Vec<UeEntry>, KpmAperError> {
                let m = decode_indication_message(bytes, MAX_UES_PER_REPORT)?;
                let k::E2SMKPMIndicationMessageIndicationMessageFormats::indicationMessage_Format3(f) =
                    m.indication_message_formats
                else {
                    return Err(KpmAperError::Missing("indication message format 3"));
                };
                f.ue_meas_report_list
                    .0
                    .iter()
                    .map(|u| {
                        Ok(UeEntry {
                            ue: amf_ue_id_of(&u.ue_id),
                            report: named_of(&u.meas_report)?,
                        })
                    })
                    .collect()
            }
        }
    };
}

kpm_codec!(
    v2,
    e2sm_kpm_v02_03,
    timestamp = 4,
    label_ext = {},
    info_ext = {},
    record_ext = {},
    ueid_ext = { global_ng_rannode_id },
    scan_info_ext = {},
    scan_defs = {}
);
kpm_codec!(
    v3,
    e2sm_kpm_v03_00,
    timestamp = 8,
    label_ext = {},
    info_ext = {},
    record_ext = {},
    ueid_ext = { global_ng_rannode_id },
    scan_info_ext = {},
    scan_defs = {}
);
kpm_codec!(
    v4,
    e2sm_kpm_v04_00,
    timestamp = 8,
    label_ext = { cell_global_id, beam_id },
    info_ext = { match_cond_report_list },
    record_ext = { k::MeasurementRecordItem::notSatisfied(()) => Record::NotSatisfied, },
    ueid_ext = { global_ng_rannode_id, cell_rnti },
    scan_info_ext = {
        #[rasn(extension_addition)]
        match_cond_report_list: Option<MatchConds>,
    },
    scan_defs = {
        #[derive(AsnType, Decode)]
        #[rasn(delegate, size("1..=32768"))]
        struct MatchConds(Vec<Skip<k::MatchCondReportItem>>);
    }
);
