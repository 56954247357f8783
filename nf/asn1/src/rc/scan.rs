//! Allocation pre-check of the E2SM-RC control message, the twin of `crate::kpm::prescan`.
//!
//! The RAN parameter tree nests lists inside list elements (`RANParameter-STRUCTURE` and
//! `RANParameter-LIST` inside `RANParameter-ValueType`). rasn 0.30 reserves each SEQUENCE
//! OF for its claimed count, capped by the input left in *bits*, before reading the first
//! element; the reservation of every open level stays live while the levels below it are
//! decoded. One level of a 2 KB input thus costs about 16,000 × 64 bytes (1 MB) and every
//! nested level adds as much again: the fuzz test measured 2.1 MB of heap growth on a
//! 1,949-octet input that never decoded. A claimed count is only believed once the elements
//! are there, so the message is first decoded into the mirror types below, whose list
//! elements are zero-sized [`Skip`]s (nothing is reserved for them) counted at the size of
//! the real element, and refused when its lists would take more than
//! [`crate::kpm::decoded_bytes_limit`] of the input's size. A message that passes has true
//! counts only, and the real decode reserves no more than the tally.
//!
//! Formats 1 and 2 carry the RAN parameter tree and are mirrored down to its leaves.
//! Formats 3 to 5 are decoded as the real types: nothing in the xApp sends or reads them,
//! and the mirror need only accept the same encodings (it is still the real decode that
//! refuses or accepts them).

// The mirrors are decoded and dropped; their fields are never read.
#![allow(dead_code)]

use rasn::prelude::*;

use crate::generated::e2sm_rc_v05_00::e2_sm_common_ies as c;
use crate::generated::e2sm_rc_v05_00::e2_sm_rc_ies as r;
use crate::kpm::prescan::{ScanFailure, Skip, Tally};

/// `E2SM-RC-ControlMessage`.
#[derive(AsnType, Decode)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub(crate) struct Message {
    formats: Formats,
}

#[derive(AsnType, Decode)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)]
enum Formats {
    Format1(Format1),
    #[rasn(extension_addition)]
    Format2(Format2),
    #[rasn(extension_addition)]
    Format3(r::E2SMRCControlMessageFormat3),
    #[rasn(extension_addition)]
    Format4(r::E2SMRCControlMessageFormat4),
    #[rasn(extension_addition)]
    Format5(r::E2SMRCControlMessageFormat5),
}

#[derive(AsnType, Decode)]
#[rasn(automatic_tags)]
#[non_exhaustive]
struct Format1 {
    #[rasn(size("0..=65535"))]
    ran_p_list: Vec<Skip<Format1Item, r::E2SMRCControlMessageFormat1Item>>,
}

#[derive(AsnType, Decode)]
#[rasn(automatic_tags)]
#[non_exhaustive]
struct Format1Item {
    ran_parameter_id: r::RANParameterID,
    ran_parameter_value_type: ValueType,
}

#[derive(AsnType, Decode)]
#[rasn(automatic_tags)]
#[non_exhaustive]
struct Format2 {
    #[rasn(size("1..=63"))]
    ric_control_style_list: Vec<Skip<StyleItem, r::E2SMRCControlMessageFormat2StyleItem>>,
}

#[derive(AsnType, Decode)]
#[rasn(automatic_tags)]
#[non_exhaustive]
struct StyleItem {
    indicated_control_style_type: c::RICStyleType,
    #[rasn(size("1..=63"))]
    ric_control_action_list: Vec<Skip<ActionItem, r::E2SMRCControlMessageFormat2ControlActionItem>>,
}

#[derive(AsnType, Decode)]
#[rasn(automatic_tags)]
#[non_exhaustive]
struct ActionItem {
    ric_control_action_id: r::RICControlActionID,
    ran_p_list: Format1,
}

/// `RANParameter-ValueType`: leaves as the real types, the two nesting choices mirrored.
#[derive(AsnType, Decode)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
enum ValueType {
    ElementTrue(r::RANParameterValueTypeChoiceElementTrue),
    ElementFalse(r::RANParameterValueTypeChoiceElementFalse),
    Structure(ChoiceStructure),
    List(ChoiceList),
}

#[derive(AsnType, Decode)]
#[rasn(automatic_tags)]
#[non_exhaustive]
struct ChoiceStructure {
    ran_parameter_structure: Structure,
}

#[derive(AsnType, Decode)]
#[rasn(automatic_tags)]
#[non_exhaustive]
struct ChoiceList {
    ran_parameter_list: List,
}

/// `RANParameter-STRUCTURE`.
#[derive(AsnType, Decode)]
#[rasn(automatic_tags)]
#[non_exhaustive]
struct Structure {
    #[rasn(size("1..=65535"))]
    sequence_of_ran_parameters: Option<Vec<Skip<StructureItem, r::RANParameterSTRUCTUREItem>>>,
}

#[derive(AsnType, Decode)]
#[rasn(automatic_tags)]
#[non_exhaustive]
struct StructureItem {
    ran_parameter_id: r::RANParameterID,
    ran_parameter_value_type: ValueType,
}

/// `RANParameter-LIST`.
#[derive(AsnType, Decode)]
#[rasn(automatic_tags)]
#[non_exhaustive]
struct List {
    #[rasn(size("1..=65535"))]
    list_of_ran_parameter: Vec<Skip<Structure, r::RANParameterSTRUCTURE>>,
}

/// The pre-check of an `E2SM-RC-ControlMessage`: its tally and the octets left after it.
pub(crate) fn scan_control_message(bytes: &[u8]) -> Result<(Tally, usize), ScanFailure> {
    crate::kpm::prescan::scan::<Message>(bytes)
}

#[cfg(test)]
mod tests {
    //! The mirror accepts exactly what the generated type accepts (valid messages, and
    //! mutations of them, consuming the same octets), and counts lists at their real size.

    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::{r, scan_control_message};

    fn agree(bytes: &[u8]) -> bool {
        let real = rasn::aper::decode_with_remainder::<r::E2SMRCControlMessage>(bytes)
            .map(|(_, rest)| rest.len());
        let mirror = scan_control_message(bytes);
        match (&real, &mirror) {
            (Ok(a), Ok((_, b))) => assert_eq!(a, b, "octets left differ on {}", hex::encode(bytes)),
            (Err(_), Err(_)) => {}
            _ => panic!(
                "real {:?} vs mirror {:?} on {}",
                real.map(drop),
                mirror.map(drop),
                hex::encode(bytes)
            ),
        }
        mirror.is_ok()
    }

    fn seeds() -> Vec<Vec<u8>> {
        use nf_core::Snssai;
        use nf_core::policy::SliceQuota;
        let mut out = Vec::new();
        for n in 1..=4u8 {
            let quotas: Vec<SliceQuota> = (0..n)
                .map(|i| SliceQuota {
                    snssai: Snssai::new(1, Some(u32::from(i) * 7)),
                    min_ratio: 10,
                    max_ratio: 50 + i,
                    dedicated_ratio: 5,
                })
                .collect();
            let ue = crate::rc::cell_level_ue_id();
            for profile in crate::rc::profile::RcProfile::ALL {
                let (_, m) =
                    crate::rc::encode_quota_control(profile, &ue, [0x00, 0xf1, 0x10], &quotas)
                        .expect("encodes");
                out.push(m);
            }
        }
        let ho = crate::rc::HandoverControl::of_ue(
            nf_core::radio::UeId(7),
            &nf_core::CellId::new([0x00, 0xf1, 0x10], 0x19b1),
        )
        .expect("a handover");
        out.push(crate::rc::encode_handover_control(&ho).expect("encodes").1);
        out
    }

    #[test]
    fn the_rc_mirror_accepts_what_the_real_type_accepts() {
        let seeds = seeds();
        assert!(!seeds.is_empty());
        for s in &seeds {
            assert!(agree(s), "a valid message scans");
            let (t, _) = scan_control_message(s).expect("scans");
            assert!(t.bytes > 0 && t.bytes <= t.limit, "{t:?}");
        }
        let mut rng = StdRng::seed_from_u64(0x7c5c);
        let mut ok = 0;
        for _ in 0..40_000 {
            let mut buf = seeds[rng.random_range(0..seeds.len())].clone();
            for _ in 0..rng.random_range(1..=2) {
                let len = buf.len();
                match rng.random_range(0..4) {
                    0 => {
                        let i = rng.random_range(0..len * 8);
                        buf[i / 8] ^= 0x80 >> (i % 8);
                    }
                    1 => {
                        buf[rng.random_range(0..len)] =
                            [0x00, 0xff, 0x80, 0xbf, 0xc4][rng.random_range(0..5)]
                    }
                    2 => buf.truncate(rng.random_range(1..len.max(2))),
                    _ => {
                        let i = rng.random_range(0..=len);
                        buf.insert(i, rng.random());
                    }
                }
            }
            ok += usize::from(agree(&buf));
        }
        assert!(ok > 1000, "only {ok} mutated inputs decoded");
    }
}
