//! Random well-formed E2SM-KPM values (seeded), built twice from the same parameters: as our
//! generated Rust value and as the JER JSON text the oracle (asn1tools) reads and writes.
#![allow(dead_code)]

use rand::Rng;
use rand::rngs::StdRng;
use serde_json::{Value, json};

/// One measurement record item: what KPM `MeasurementRecordItem` carries.
#[derive(Debug, Clone, Copy)]
pub enum Record {
    Integer(u32),
    Real(f64),
    NoValue,
}

/// Parameters of an indication message format 1 with one `MeasurementDataItem` per row.
#[derive(Debug, Clone)]
pub struct IndicationMessageF1 {
    pub rows: Vec<Vec<Record>>,
    pub granularity_ms: Option<u32>,
}

/// A finite f64 of any magnitude and sign, or a small "telemetry-like" value.
pub fn random_real(rng: &mut StdRng) -> f64 {
    match rng.random_range(0..4) {
        0 => f64::from(rng.random_range(-100_000i32..100_000)) / 8.0,
        1 => f64::from(rng.random::<f32>()) * 1e4,
        2 => 0.0,
        _ => loop {
            let v = f64::from_bits(rng.random::<u64>());
            if v.is_finite() {
                break v;
            }
        },
    }
}

pub fn random_record(rng: &mut StdRng) -> Record {
    match rng.random_range(0..3) {
        0 => Record::Integer(rng.random()),
        1 => Record::Real(random_real(rng)),
        _ => Record::NoValue,
    }
}

pub fn random_indication_message(rng: &mut StdRng) -> IndicationMessageF1 {
    let rows = (0..rng.random_range(1..6))
        .map(|_| {
            (0..rng.random_range(1..8))
                .map(|_| random_record(rng))
                .collect()
        })
        .collect();
    IndicationMessageF1 {
        rows,
        granularity_ms: rng.random_bool(0.7).then(|| rng.random_range(1..=u32::MAX)),
    }
}

impl IndicationMessageF1 {
    /// The JER text of `E2SM-KPM-IndicationMessage` (format 1) as asn1tools writes it.
    pub fn jer(&self) -> Value {
        let data: Vec<Value> = self
            .rows
            .iter()
            .map(|row| {
                let recs: Vec<Value> = row
                    .iter()
                    .map(|r| match r {
                        Record::Integer(v) => json!({ "integer": v }),
                        Record::Real(v) => json!({ "real": v }),
                        Record::NoValue => json!({ "noValue": null }),
                    })
                    .collect();
                json!({ "measRecord": recs })
            })
            .collect();
        let mut f1 = json!({ "measData": data });
        if let Some(g) = self.granularity_ms {
            f1["granulPeriod"] = json!(g);
        }
        json!({ "indicationMessage-formats": { "indicationMessage-Format1": f1 } })
    }
}

/// Parameters of an indication header format 1.
#[derive(Debug, Clone)]
pub struct IndicationHeaderF1 {
    pub timestamp: Vec<u8>,
    pub sender_name: Option<String>,
    pub vendor_name: Option<String>,
}

const PRINTABLE: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?";

pub fn random_printable(rng: &mut StdRng, max: usize) -> String {
    (0..rng.random_range(0..=max))
        .map(|_| PRINTABLE[rng.random_range(0..PRINTABLE.len())] as char)
        .collect()
}

pub fn random_indication_header(rng: &mut StdRng, ts_len: usize) -> IndicationHeaderF1 {
    IndicationHeaderF1 {
        timestamp: (0..ts_len).map(|_| rng.random()).collect(),
        sender_name: rng.random_bool(0.5).then(|| random_printable(rng, 40)),
        vendor_name: rng.random_bool(0.5).then(|| random_printable(rng, 32)),
    }
}

impl IndicationHeaderF1 {
    pub fn jer(&self) -> Value {
        let mut f1 = json!({ "colletStartTime": hex::encode_upper(&self.timestamp) });
        if let Some(s) = &self.sender_name {
            f1["senderName"] = json!(s);
        }
        if let Some(s) = &self.vendor_name {
            f1["vendorName"] = json!(s);
        }
        json!({ "indicationHeader-formats": { "indicationHeader-Format1": f1 } })
    }
}

pub fn event_trigger_jer(period_ms: u32) -> Value {
    json!({ "eventDefinition-formats": { "eventDefinition-Format1": { "reportingPeriod": period_ms } } })
}

/// Builds the Rust values of one KPM module from the parameters above.
#[macro_export]
macro_rules! kpm_builders {
    ($m:ident, $ts:literal) => {
        pub mod $m {
            use e2_asn1::generated::$m::e2_sm_kpm_ies as k;
            use e2_asn1::real::Real;
            use rasn::prelude::*;
            use $crate::common::kpm::{IndicationHeaderF1, IndicationMessageF1, Record};

            pub fn indication_message(p: &IndicationMessageF1) -> k::E2SMKPMIndicationMessage {
                let rows = p
                    .rows
                    .iter()
                    .map(|row| {
                        let recs = row
                            .iter()
                            .map(|r| match r {
                                Record::Integer(v) => k::MeasurementRecordItem::integer(*v),
                                Record::Real(v) => k::MeasurementRecordItem::real(Real(*v)),
                                Record::NoValue => k::MeasurementRecordItem::noValue(()),
                            })
                            .collect();
                        k::MeasurementDataItem::new(k::MeasurementRecord(recs), None)
                    })
                    .collect();
                let f1 = k::E2SMKPMIndicationMessageFormat1::new(
                    k::MeasurementData(rows),
                    None,
                    p.granularity_ms.map(k::GranularityPeriod),
                );
                k::E2SMKPMIndicationMessage::new(
                    k::E2SMKPMIndicationMessageIndicationMessageFormats::indicationMessage_Format1(
                        f1,
                    ),
                )
            }

            pub fn indication_header(p: &IndicationHeaderF1) -> k::E2SMKPMIndicationHeader {
                let ts: [u8; $ts] = p.timestamp.as_slice().try_into().expect("timestamp length");
                let s = |v: &Option<String>| {
                    v.as_ref()
                        .map(|s| PrintableString::from_bytes(s.as_bytes()).expect("printable"))
                };
                let f1 = k::E2SMKPMIndicationHeaderFormat1::new(
                    k::TimeStamp(FixedOctetString::new(ts)),
                    None,
                    s(&p.sender_name),
                    None,
                    s(&p.vendor_name),
                );
                k::E2SMKPMIndicationHeader::new(
                    k::E2SMKPMIndicationHeaderIndicationHeaderFormats::indicationHeader_Format1(f1),
                )
            }

            pub fn event_trigger(period_ms: u32) -> k::E2SMKPMEventTriggerDefinition {
                k::E2SMKPMEventTriggerDefinition::new(
                    k::E2SMKPMEventTriggerDefinitionEventDefinitionFormats::eventDefinition_Format1(
                        k::E2SMKPMEventTriggerDefinitionFormat1::new(period_ms),
                    ),
                )
            }
        }
    };
}
