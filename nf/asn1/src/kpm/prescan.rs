//! Allocation bound of the E2SM-KPM indication message decode, checked before decoding.
//!
//! rasn 0.30 reserves a SEQUENCE OF for its claimed count, capped only by the remaining
//! input in *bits* (`per::de::decode_sequence_of`): a mutated length determinant in front of
//! a label list (`LabelInfoItem` is 256 bytes in memory) turned a 3 KB format-3 message into
//! a 5.8 MB allocation before the decode failed. So every indication message is first
//! decoded into mirror types of the same ASN.1 (same tags, constraints and extension
//! markers, see `versioned.rs`) whose list elements are [`Skip`]: a zero-sized value that
//! decodes the element and drops it. A `Vec` of a zero-sized type never allocates, so the
//! claimed counts cost nothing, and each element's size in the real types is added to a
//! budget, refused past [`MAX_DECODED_BYTES`]. Only a message that decodes completely under
//! the budget reaches the real decode, where every count is then a real one.

use std::cell::Cell;
use std::marker::PhantomData;

use rasn::prelude::*;
use rasn::types::{Constraints, Identifier, TagTree};

/// Most bytes the list elements of one decoded indication message may take in memory (the
/// real rasn types). A 64 KiB message of about 190 UEs with 12 named measurements each (the
/// largest legitimate UE-level report under the default payload limit) takes about 0.84 MiB.
pub const MAX_DECODED_BYTES: usize = 1 << 20;

thread_local! {
    static BUDGET: Cell<usize> = const { Cell::new(0) };
}

/// A list element decoded as a `T` and dropped: zero-sized, so a list of them never
/// allocates, whatever count the input claims.
pub(crate) struct Skip<T>(PhantomData<fn() -> T>);

impl<T: AsnType> AsnType for Skip<T> {
    const TAG: Tag = T::TAG;
    const TAG_TREE: TagTree = T::TAG_TREE;
    const CONSTRAINTS: Constraints = T::CONSTRAINTS;
    const IDENTIFIER: Identifier = T::IDENTIFIER;
    const IS_CHOICE: bool = T::IS_CHOICE;
}

fn spend<T, E: rasn::de::Error>() -> Result<Skip<T>, E> {
    let used = BUDGET.with(|b| {
        let used = b.get().saturating_add(std::mem::size_of::<T>());
        b.set(used);
        used
    });
    if used > MAX_DECODED_BYTES {
        return Err(E::custom(
            format!("decoded lists would exceed {MAX_DECODED_BYTES} bytes"),
            rasn::Codec::Aper,
        ));
    }
    Ok(Skip(PhantomData))
}

impl<T: Decode> Decode for Skip<T> {
    fn decode<D: Decoder>(decoder: &mut D) -> Result<Self, D::Error> {
        T::decode(decoder)?;
        spend::<T, D::Error>()
    }

    fn decode_with_tag<D: Decoder>(decoder: &mut D, tag: Tag) -> Result<Self, D::Error> {
        T::decode_with_tag(decoder, tag)?;
        spend::<T, D::Error>()
    }

    fn decode_with_constraints<D: Decoder>(
        decoder: &mut D,
        constraints: &Constraints,
    ) -> Result<Self, D::Error> {
        T::decode_with_constraints(decoder, constraints)?;
        spend::<T, D::Error>()
    }

    fn decode_with_tag_and_constraints<D: Decoder>(
        decoder: &mut D,
        tag: Tag,
        constraints: &Constraints,
    ) -> Result<Self, D::Error> {
        T::decode_with_tag_and_constraints(decoder, tag, constraints)?;
        spend::<T, D::Error>()
    }
}

/// An alternative the xApp never reads (indication message format 2): refused as soon as
/// it is chosen, before anything in it is decoded.
pub(crate) struct Refused;

impl AsnType for Refused {
    const TAG: Tag = Tag::SEQUENCE;
}

impl Decode for Refused {
    fn decode_with_tag_and_constraints<D: Decoder>(
        _: &mut D,
        _: Tag,
        _: &Constraints,
    ) -> Result<Self, D::Error> {
        Err(<D::Error as rasn::de::Error>::custom(
            "indication message format 2 is not read",
            rasn::Codec::Aper,
        ))
    }
}

/// Decodes `bytes` as the mirror type `M` under a fresh budget (see the module docs).
pub(crate) fn check<M: Decode>(bytes: &[u8]) -> Result<(), super::KpmAperError> {
    BUDGET.with(|b| b.set(0));
    let r = super::aper_decode::<M>(bytes, "indication message");
    BUDGET.with(|b| b.set(0));
    r.map(|_| ())
}
