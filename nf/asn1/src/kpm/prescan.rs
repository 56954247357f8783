//! Allocation bound of the E2SM-KPM decodes of untrusted input, checked before decoding.
//!
//! rasn 0.30 reserves a SEQUENCE OF for its claimed count, capped only by the remaining
//! input in *bits* (`per::de::decode_sequence_of`): a mutated length determinant in front of
//! a label list (`LabelInfoItem` is 256 bytes in memory) turned a 3 KB format-3 message into
//! a 5.8 MB allocation before the decode failed. So an indication message or an action
//! definition is first decoded into mirror types of the same ASN.1 (same tags, constraints
//! and extension markers, see `scan` in `versioned.rs`) whose list elements are [`Skip`]: a
//! zero-sized value that decodes the element and drops it. A `Vec` of a zero-sized type never
//! allocates, so the claimed counts cost nothing; each element adds its size in the real
//! types to a [`Tally`]. The scan always runs to the end of the input (its memory does not
//! depend on the counts), so the tally is exact and the caller can name the real cause: too
//! many UEs ([`Tally::ues`]) or too many bytes of lists for the input's size
//! ([`Tally::check_bytes`], [`decoded_bytes_limit`]). Only a
//! message within the bounds reaches the real decode, where every count is then a real one.

use std::cell::Cell;
use std::marker::PhantomData;

use rasn::prelude::*;
use rasn::types::{Constraints, Identifier, TagTree};

use super::KpmAperError;

/// Most bytes the list elements of one decoded message may take in memory (the real rasn
/// types). A 64 KiB message of about 190 UEs with 12 named measurements each (the largest
/// legitimate UE-level report under the default payload limit) takes about 0.84 MiB.
pub const MAX_DECODED_BYTES: usize = 1 << 20;

/// Bytes of decoded lists allowed per input octet, under [`MAX_DECODED_BYTES`]: legitimate
/// reports take about 13 (a name, an empty label and a record: some 23 octets on the wire,
/// 370 bytes decoded), so a small hostile input cannot claim the whole budget.
pub const DECODED_BYTES_PER_OCTET: usize = 24;

/// Lists of this many bytes are always allowed (a short message of `noValue` records takes
/// 43 bytes decoded per octet, but never much in all).
pub const MIN_DECODED_BYTES: usize = 64 << 10;

/// The list bytes allowed for an input of `len` octets.
pub fn decoded_bytes_limit(len: usize) -> usize {
    len.saturating_mul(DECODED_BYTES_PER_OCTET)
        .clamp(MIN_DECODED_BYTES, MAX_DECODED_BYTES)
}

/// What one scan found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Bytes the list elements take in the real types.
    pub(crate) bytes: usize,
    /// Their limit for this input ([`decoded_bytes_limit`]).
    pub(crate) limit: usize,
    /// Entries of the UE measurement report list (indication message format 3).
    pub(crate) ues: usize,
}

impl Tally {
    /// The list bytes against their limit.
    pub(crate) fn check_bytes(self) -> Result<(), KpmAperError> {
        if self.bytes > self.limit {
            return Err(KpmAperError::TooMany {
                what: "bytes of decoded list elements",
                count: self.bytes,
                limit: self.limit,
            });
        }
        Ok(())
    }
}

thread_local! {
    static TALLY: Cell<Tally> = const { Cell::new(Tally { bytes: 0, limit: 0, ues: 0 }) };
}

/// A list element decoded as `T` and dropped, counted as `size_of::<R>()` bytes: `R` is the
/// real generated type when `T` is its mirror (whose own size is smaller, its lists being
/// of zero-sized elements). Zero-sized, so a list of them never allocates.
pub(crate) struct Skip<T, R = T>(PhantomData<fn() -> (T, R)>);

/// A [`Skip`] that also counts one UE (the elements of the UE measurement report list).
pub(crate) struct SkipUe<T, R>(PhantomData<fn() -> (T, R)>);

impl<T: AsnType, R> AsnType for Skip<T, R> {
    const TAG: Tag = T::TAG;
    const TAG_TREE: TagTree = T::TAG_TREE;
    const CONSTRAINTS: Constraints = T::CONSTRAINTS;
    const IDENTIFIER: Identifier = T::IDENTIFIER;
    const IS_CHOICE: bool = T::IS_CHOICE;
}

impl<T: AsnType, R> AsnType for SkipUe<T, R> {
    const TAG: Tag = T::TAG;
    const TAG_TREE: TagTree = T::TAG_TREE;
    const CONSTRAINTS: Constraints = T::CONSTRAINTS;
    const IDENTIFIER: Identifier = T::IDENTIFIER;
    const IS_CHOICE: bool = T::IS_CHOICE;
}

fn add(bytes: usize, ues: usize) {
    TALLY.with(|t| {
        let mut v = t.get();
        v.bytes = v.bytes.saturating_add(bytes);
        v.ues = v.ues.saturating_add(ues);
        t.set(v);
    });
}

/// The four decode entry points of a skipped element, each decoding a `T` and then counting.
macro_rules! skip_decode {
    ($ty:ident, $ues:literal) => {
        impl<T: Decode, R> Decode for $ty<T, R> {
            fn decode<D: Decoder>(decoder: &mut D) -> Result<Self, D::Error> {
                T::decode(decoder)?;
                add(size_of::<R>(), $ues);
                Ok($ty(PhantomData))
            }

            fn decode_with_tag<D: Decoder>(decoder: &mut D, tag: Tag) -> Result<Self, D::Error> {
                T::decode_with_tag(decoder, tag)?;
                add(size_of::<R>(), $ues);
                Ok($ty(PhantomData))
            }

            fn decode_with_constraints<D: Decoder>(
                decoder: &mut D,
                constraints: &Constraints,
            ) -> Result<Self, D::Error> {
                T::decode_with_constraints(decoder, constraints)?;
                add(size_of::<R>(), $ues);
                Ok($ty(PhantomData))
            }

            fn decode_with_tag_and_constraints<D: Decoder>(
                decoder: &mut D,
                tag: Tag,
                constraints: &Constraints,
            ) -> Result<Self, D::Error> {
                T::decode_with_tag_and_constraints(decoder, tag, constraints)?;
                add(size_of::<R>(), $ues);
                Ok($ty(PhantomData))
            }
        }
    };
}

skip_decode!(Skip, 0);
skip_decode!(SkipUe, 1);

/// A pre-check: the tally and the octets left after the value, or why it is invalid.
pub(crate) type ScanFn = fn(&[u8]) -> Result<(Tally, usize), ScanFailure>;

/// Why a scan found no valid encoding.
#[derive(Debug)]
pub(crate) enum ScanFailure {
    /// Not a valid aligned-PER encoding of the type (rasn's reason).
    Invalid(String),
    /// The decoder panicked (caught and counted).
    Panicked,
}

impl ScanFailure {
    /// As the error of the domain decoders, naming the type `what`.
    pub(crate) fn into_kpm(self, what: &'static str) -> KpmAperError {
        let reason = match self {
            ScanFailure::Invalid(reason) => reason,
            ScanFailure::Panicked => "the decoder panicked on this input (caught)".into(),
        };
        KpmAperError::Malformed { what, reason }
    }
}

/// Decodes `bytes` as the mirror type `M` (see the module docs) and returns what it holds
/// with the number of octets left after the value (for the tests that compare mirrors with
/// the real types), or why it is not a valid encoding.
pub(crate) fn scan<M: Decode>(bytes: &[u8]) -> Result<(Tally, usize), ScanFailure> {
    TALLY.with(|t| t.set(Tally::default()));
    let r = std::panic::catch_unwind(|| rasn::aper::decode_with_remainder::<M>(bytes));
    let mut tally = TALLY.with(|t| t.replace(Tally::default()));
    tally.limit = decoded_bytes_limit(bytes.len());
    match r {
        Ok(Ok((_, rest))) => Ok((tally, rest.len())),
        Ok(Err(e)) => Err(ScanFailure::Invalid(e.to_string())),
        Err(_) => {
            crate::decode::count_caught_panic();
            Err(ScanFailure::Panicked)
        }
    }
}

#[cfg(test)]
mod tests {
    //! The mirrors must accept exactly what the generated types accept: valid messages of
    //! every version and format scan clean and to the same last octet, and mutated ones are
    //! accepted or refused by both alike, consuming the same octets.

    use nf_core::{CellId, Meas, Snssai};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::Tally;
    use crate::kpm::Record;
    use crate::kpm::versioned::{v2, v3, v4};

    fn record(rng: &mut StdRng) -> Record {
        match rng.random_range(0..3) {
            0 => Record::Integer(rng.random()),
            1 => Record::Real(rng.random_range(-1e6..1e6)),
            _ => Record::NoValue,
        }
    }

    /// Flips bits, overwrites an octet with a length-like value, truncates or inserts.
    fn mutate(rng: &mut StdRng, buf: &mut Vec<u8>) {
        for _ in 0..rng.random_range(1..=2) {
            let len = buf.len();
            if len == 0 {
                return;
            }
            match rng.random_range(0..4) {
                0 => {
                    let i = rng.random_range(0..len * 8);
                    buf[i / 8] ^= 0x80 >> (i % 8);
                }
                1 => {
                    buf[rng.random_range(0..len)] =
                        [0x00, 0xff, 0x80, 0xbf, 0xc4][rng.random_range(0..5)]
                }
                2 => buf.truncate(rng.random_range(0..len)),
                _ => {
                    let i = rng.random_range(0..=len);
                    buf.insert(i, rng.random());
                }
            }
        }
    }

    /// Compares a mirror scan with the real decode on `bytes`; returns the tally.
    fn agree<R: rasn::Decode>(scan: super::ScanFn, bytes: &[u8]) -> Option<Tally> {
        let real = rasn::aper::decode_with_remainder::<R>(bytes).map(|(_, rest)| rest.len());
        let mirror = scan(bytes);
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
        mirror.ok().map(|(t, _)| t)
    }

    macro_rules! mirror_test {
        ($test:ident, $v:ident, $gen:ident) => {
            #[test]
            fn $test() {
                use crate::generated::$gen::e2_sm_kpm_ies as k;
                let mut rng = StdRng::seed_from_u64(0x5ca9);
                let cell = CellId::new([0x00, 0xf1, 0x10], 0x19b1);
                let names: Vec<&str> = Meas::ALL.iter().map(|m| m.name()).collect();
                let mut messages = Vec::new();
                let mut actions = Vec::new();
                for _ in 0..20 {
                    let n = rng.random_range(1..=names.len());
                    let records: Vec<Record> = (0..n).map(|_| record(&mut rng)).collect();
                    let slots: Vec<_> = Meas::ALL[..n]
                        .iter()
                        .map(|m| {
                            (
                                *m,
                                rng.random_bool(0.5)
                                    .then(|| Snssai::new(1, Some(rng.random_range(0..1 << 24)))),
                            )
                        })
                        .collect();
                    messages.push($v::encode_message(&records, Some(&slots), 1000));
                    messages.push($v::encode_message(&records, None, 1000));
                    messages.push($v::encode_named_message(&records, Some(&names[..n]), 500));
                    let ues: Vec<(u64, Vec<Record>)> = (0..rng.random_range(1..8))
                        .map(|_| {
                            (
                                rng.random_range(0..1 << 40),
                                (0..n).map(|_| record(&mut rng)).collect(),
                            )
                        })
                        .collect();
                    messages.push(
                        $v::encode_ue_message(&ues, cell.plmn, &names[..n], 1000).expect("UEs"),
                    );
                    actions.push($v::encode_action_definition(1, &cell, &slots, 1000));
                    actions.push($v::encode_named_action_definition(
                        1,
                        &cell,
                        &names[..n],
                        1000,
                    ));
                    actions.push($v::encode_ue_action_definition(4, &cell, &names[..n], 1000));
                }
                for m in &messages {
                    let t = agree::<k::E2SMKPMIndicationMessage>($v::scan_indication_message, m)
                        .expect("a valid message scans");
                    t.check_bytes().expect("a valid value is within the bound");
                }
                for a in &actions {
                    let t = agree::<k::E2SMKPMActionDefinition>($v::scan_action_definition, a)
                        .expect("a valid action definition scans");
                    t.check_bytes().expect("a valid value is within the bound");
                }
                // Mutations reach the other formats too (a flipped choice index), and
                // extension additions, truncated and stretched lists.
                let mut ok = 0;
                for i in 0..40_000 {
                    let (list, is_msg) = if i % 2 == 0 {
                        (&messages, true)
                    } else {
                        (&actions, false)
                    };
                    let mut buf = list[rng.random_range(0..list.len())].clone();
                    mutate(&mut rng, &mut buf);
                    let r = if is_msg {
                        agree::<k::E2SMKPMIndicationMessage>($v::scan_indication_message, &buf)
                    } else {
                        agree::<k::E2SMKPMActionDefinition>($v::scan_action_definition, &buf)
                    };
                    ok += usize::from(r.is_some());
                }
                assert!(ok > 1000, "only {ok} mutated inputs decoded");
            }
        };
    }

    mirror_test!(
        mirrors_accept_what_the_real_types_accept_v2,
        v2,
        e2sm_kpm_v02_03
    );
    mirror_test!(
        mirrors_accept_what_the_real_types_accept_v3,
        v3,
        e2sm_kpm_v03_00
    );
    mirror_test!(
        mirrors_accept_what_the_real_types_accept_v4,
        v4,
        e2sm_kpm_v04_00
    );

    #[test]
    fn the_ue_count_is_exact_and_lists_are_counted_at_their_real_size() {
        let names = ["RRU.PrbUsedDl"];
        let ues: Vec<(u64, Vec<Record>)> = (0..1500).map(|i| (i, vec![Record::NoValue])).collect();
        let m = v3::encode_ue_message(&ues, [0, 0xf1, 0x10], &names, 1000).expect("UEs");
        let (t, rest) = v3::scan_indication_message(&m).expect("scans");
        assert_eq!((t.ues, rest), (1500, 0));
        use crate::generated::e2sm_kpm_v03_00::e2_sm_kpm_ies as k;
        let per_ue = size_of::<k::UEMeasurementReportItem>()
            + size_of::<k::MeasurementDataItem>()
            + size_of::<k::MeasurementRecordItem>()
            + size_of::<k::MeasurementInfoItem>()
            + size_of::<k::LabelInfoItem>();
        assert_eq!(t.bytes, 1500 * per_ue);
    }
}
