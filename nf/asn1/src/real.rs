//! ASN.1 `REAL` in aligned PER.
//!
//! X.691 encodes an unconstrained REAL as the contents octets of its X.690 (BER/CER/DER)
//! encoding behind an unconstrained length determinant, octet-aligned: on the wire that is
//! exactly an unconstrained OCTET STRING. rasn's APER codec refuses REAL, so [`Real`]
//! writes and reads it that way. Encoding follows CER/DER (base 2, odd mantissa, shortest
//! exponent), which is what X.691 asks for; decoding accepts every X.690 form (base 2, 8
//! and 16 with a scale factor, decimal NR1/NR2/NR3, the special values), with bounded
//! exponent and mantissa lengths so hostile input cannot ask for unbounded work.

use rasn::prelude::*;

/// Longest contents we accept for one REAL (a binary f64 needs at most 10 octets; decimal
/// forms are longer but never this long in practice).
pub const MAX_CONTENT_OCTETS: usize = 64;

/// An ASN.1 REAL held as an `f64`. Equality is bitwise, so a NaN equals itself and the
/// value round-trips through `==`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Real(pub f64);

impl PartialEq for Real {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
            || (self.0.is_nan() && other.0.is_nan())
            || (self.0 == 0.0
                && other.0 == 0.0
                && self.0.is_sign_negative() == other.0.is_sign_negative())
    }
}

impl From<f64> for Real {
    fn from(v: f64) -> Self {
        Self(v)
    }
}

impl From<Real> for f64 {
    fn from(v: Real) -> Self {
        v.0
    }
}

impl AsnType for Real {
    const TAG: Tag = Tag::REAL;
}

impl Encode for Real {
    fn encode_with_tag_and_constraints<'b, E: Encoder<'b>>(
        &self,
        encoder: &mut E,
        tag: Tag,
        _constraints: &Constraints,
        identifier: Identifier,
    ) -> Result<(), E::Error> {
        let contents = encode_contents(self.0);
        encoder
            .encode_octet_string(tag, &Constraints::default(), &contents, identifier)
            .map(drop)
    }
}

impl Decode for Real {
    fn decode_with_tag_and_constraints<D: Decoder>(
        decoder: &mut D,
        tag: Tag,
        _constraints: &Constraints,
    ) -> Result<Self, D::Error> {
        let contents: Vec<u8> = decoder.decode_octet_string(tag, &Constraints::default())?;
        let codec = decoder.codec();
        decode_contents(&contents)
            .map(Real)
            .map_err(|e| <D::Error as rasn::de::Error>::custom(format!("invalid REAL: {e}"), codec))
    }
}

/// Why REAL contents were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RealError {
    #[error("{0} contents octets, over the {MAX_CONTENT_OCTETS} limit")]
    TooLong(usize),
    #[error("truncated binary encoding")]
    Truncated,
    #[error("reserved special value 0x{0:02x}")]
    ReservedSpecial(u8),
    #[error("reserved base")]
    ReservedBase,
    #[error("exponent does not fit 32 bits")]
    ExponentRange,
    #[error("decimal form is not a number: {0:?}")]
    Decimal(String),
}

/// X.690 contents octets of `v` in the CER/DER form (base 2, odd mantissa).
pub fn encode_contents(v: f64) -> Vec<u8> {
    if v == 0.0 {
        return if v.is_sign_negative() {
            vec![0x43]
        } else {
            Vec::new()
        };
    }
    if v.is_nan() {
        return vec![0x42];
    }
    if v.is_infinite() {
        return vec![if v > 0.0 { 0x40 } else { 0x41 }];
    }
    let bits = v.to_bits();
    let negative = bits >> 63 == 1;
    let raw_exp = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1u64 << 52) - 1);
    // v = mantissa * 2^exp with an integer mantissa.
    let (mut mantissa, mut exp) = if raw_exp == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1u64 << 52), raw_exp - 1075)
    };
    let shift = mantissa.trailing_zeros();
    mantissa >>= shift;
    exp += shift as i32;

    let exp_octets = signed_octets(exp);
    let mut out = Vec::with_capacity(2 + exp_octets.len() + 8);
    let mut first = 0x80u8;
    if negative {
        first |= 0x40;
    }
    match exp_octets.len() {
        1 => {}
        2 => first |= 0x01,
        3 => first |= 0x02,
        _ => first |= 0x03,
    }
    out.push(first);
    if exp_octets.len() > 3 {
        out.push(exp_octets.len() as u8);
    }
    out.extend_from_slice(&exp_octets);
    let m = mantissa.to_be_bytes();
    let skip = m.iter().take_while(|b| **b == 0).count();
    out.extend_from_slice(&m[skip..]);
    out
}

/// Shortest two's-complement big-endian octets of `v`.
fn signed_octets(v: i32) -> Vec<u8> {
    let b = v.to_be_bytes();
    let mut start = 0;
    while start < 3 {
        let (cur, next) = (b[start], b[start + 1]);
        if (cur == 0x00 && next & 0x80 == 0) || (cur == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    b[start..].to_vec()
}

/// The value of X.690 REAL contents octets.
pub fn decode_contents(c: &[u8]) -> Result<f64, RealError> {
    if c.len() > MAX_CONTENT_OCTETS {
        return Err(RealError::TooLong(c.len()));
    }
    let Some(&first) = c.first() else {
        return Ok(0.0);
    };
    if first & 0x80 != 0 {
        return decode_binary(first, &c[1..]);
    }
    if first & 0x40 != 0 {
        return match first {
            0x40 => Ok(f64::INFINITY),
            0x41 => Ok(f64::NEG_INFINITY),
            0x42 => Ok(f64::NAN),
            0x43 => Ok(-0.0),
            other => Err(RealError::ReservedSpecial(other)),
        };
    }
    // Decimal (ISO 6093 NR1 / NR2 / NR3): the low 6 bits name the form; Rust's parser
    // reads all three once a decimal comma is a point.
    let text = String::from_utf8_lossy(&c[1..]).trim().replace(',', ".");
    text.parse::<f64>().map_err(|_| RealError::Decimal(text))
}

fn decode_binary(first: u8, rest: &[u8]) -> Result<f64, RealError> {
    let negative = first & 0x40 != 0;
    let base_bits = match (first >> 4) & 0x03 {
        0 => 1,
        1 => 3,
        2 => 4,
        _ => return Err(RealError::ReservedBase),
    };
    let scale = i32::from((first >> 2) & 0x03);
    let (exp_len, rest) = match first & 0x03 {
        3 => {
            let (&n, tail) = rest.split_first().ok_or(RealError::Truncated)?;
            (usize::from(n), tail)
        }
        n => (usize::from(n) + 1, rest),
    };
    if exp_len == 0 || rest.len() < exp_len {
        return Err(RealError::Truncated);
    }
    if exp_len > 4 {
        return Err(RealError::ExponentRange);
    }
    let (exp_bytes, mantissa_bytes) = rest.split_at(exp_len);
    let mut exp: i64 = if exp_bytes[0] & 0x80 != 0 { -1 } else { 0 };
    for b in exp_bytes {
        exp = (exp << 8) | i64::from(*b);
    }
    // Mantissa: at most 64 octets (bounded above); fold into f64 keeping the scale exact.
    let mut mantissa = 0.0f64;
    for b in mantissa_bytes {
        mantissa = mantissa * 256.0 + f64::from(*b);
    }
    let power = exp.saturating_mul(base_bits) + i64::from(scale);
    let power = power.clamp(-4000, 4000) as i32;
    let v = scale_by_power_of_two(mantissa, power);
    Ok(if negative { -v } else { v })
}

/// `v * 2^power` without the intermediate overflow of `2f64.powi(power)` (2^-1049 computed
/// as `1 / 2^1049` is `1 / inf = 0`): scale in exact steps of 2^±1000, round once at the end.
fn scale_by_power_of_two(mut v: f64, mut power: i32) -> f64 {
    while power > 1000 {
        v *= 2f64.powi(1000);
        power -= 1000;
    }
    while power < -1000 {
        v *= 2f64.powi(-1000);
        power += 1000;
    }
    v * 2f64.powi(power)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finite_values_round_trip_through_the_contents_octets() {
        for v in [
            1.0,
            -1.0,
            0.5,
            3.25,
            1e-300,
            -7.5e300,
            f64::MIN_POSITIVE,
            5e-324,
            f64::MAX,
            123456.789,
        ] {
            let c = encode_contents(v);
            assert_eq!(decode_contents(&c).unwrap(), v, "{v} via {c:02x?}");
        }
    }

    #[test]
    fn special_values_use_the_x690_octets() {
        assert!(encode_contents(0.0).is_empty());
        assert_eq!(encode_contents(-0.0), [0x43]);
        assert_eq!(encode_contents(f64::INFINITY), [0x40]);
        assert_eq!(encode_contents(f64::NEG_INFINITY), [0x41]);
        assert_eq!(encode_contents(f64::NAN), [0x42]);
        assert!(decode_contents(&[0x42]).unwrap().is_nan());
    }

    #[test]
    fn der_form_has_an_odd_mantissa_and_short_exponent() {
        // 1.0 = 1 * 2^0: 0x80, exponent 0x00, mantissa 0x01.
        assert_eq!(encode_contents(1.0), [0x80, 0x00, 0x01]);
        // 0.5 = 1 * 2^-1.
        assert_eq!(encode_contents(0.5), [0x80, 0xff, 0x01]);
        // -3.25 = -13 * 2^-2.
        assert_eq!(encode_contents(-3.25), [0xc0, 0xfe, 0x0d]);
    }

    /// srsRAN packs KPM REALs from an `f32` (`pack_unconstrained_real`, srsRAN Project
    /// `lib/asn1/asn1_utils.cpp`): first octet 0x80 (0xc0 when negative), always exactly one
    /// exponent octet (the 8-bit two's complement of the true exponent, wrapping), then the
    /// odd mantissa (implicit bit set) big-endian in as few octets as it needs. Re-stated
    /// here from that description, not copied.
    fn srsran_style_contents(v: f32) -> Vec<u8> {
        let bits = v.to_bits();
        let mantissa = (bits & 0x7f_ffff) | 0x80_0000;
        let tz = mantissa.trailing_zeros();
        let odd = mantissa >> tz;
        let raw_exp = ((bits >> 23) & 0xff) as i32;
        let exp = (raw_exp - 127 - (23 - tz as i32)) as u8; // wraps like the C int8_t
        let mut out = vec![if bits >> 31 == 1 { 0xc0 } else { 0x80 }, exp];
        let octets = (24 - tz).div_ceil(8) as usize;
        out.extend_from_slice(&odd.to_be_bytes()[4 - octets..]);
        out
    }

    #[test]
    fn srsran_packed_reals_decode_to_the_f32_sent_and_we_encode_the_same_octets() {
        // Every normal f32 whose true exponent fits srsRAN's single exponent octet (all
        // magnitudes from about 2^-104 up; KPM values are far inside), sampled.
        let mut x = 0x1234_5678_9abc_def0_u64;
        let mut checked = 0;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = f32::from_bits(x as u32);
            if !v.is_normal() || ((v.to_bits() >> 23) & 0xff) < 46 {
                continue;
            }
            let wire = srsran_style_contents(v);
            assert_eq!(
                decode_contents(&wire).unwrap(),
                f64::from(v),
                "{v} from {wire:02x?}"
            );
            assert_eq!(encode_contents(f64::from(v)), wire, "{v}");
            checked += 1;
        }
        assert!(checked > 100_000, "{checked}");
        // Telemetry-like values, by hand: 1.5 = 3 * 2^-1; 100.0 = 25 * 2^2; -0.25 = -1 * 2^-2.
        assert_eq!(srsran_style_contents(1.5), [0x80, 0xff, 0x03]);
        assert_eq!(encode_contents(1.5), [0x80, 0xff, 0x03]);
        assert_eq!(encode_contents(100.0), srsran_style_contents(100.0));
        assert_eq!(encode_contents(-0.25), [0xc0, 0xfe, 0x01]);
    }

    #[test]
    fn srsran_zero_is_a_tiny_number_on_the_wire_and_is_read_as_such() {
        // srsRAN has no zero form: 0.0f packs as 1 * 2^-127 (`80 81 01`). We decode what
        // the octets say, not what the sender meant; our own encoder writes X.690's empty
        // contents for +0.
        let wire = srsran_style_contents(0.0);
        assert_eq!(wire, [0x80, 0x81, 0x01]);
        assert_eq!(decode_contents(&wire).unwrap(), 2f64.powi(-127));
        assert!(encode_contents(0.0).is_empty());
    }

    #[test]
    fn decimal_forms_are_read() {
        assert_eq!(decode_contents(b"\x0312.5E1").unwrap(), 125.0);
        assert_eq!(decode_contents(b"\x02-1,5").unwrap(), -1.5);
        assert!(decode_contents(b"\x03abc").is_err());
    }

    #[test]
    fn hostile_contents_are_refused_not_trusted() {
        assert!(matches!(
            decode_contents(&[0u8; 65]),
            Err(RealError::TooLong(65))
        ));
        assert_eq!(decode_contents(&[0x83]), Err(RealError::Truncated));
        assert_eq!(decode_contents(&[0x83, 9, 0, 0]), Err(RealError::Truncated));
        assert_eq!(decode_contents(&[0xb0, 0, 1]), Err(RealError::ReservedBase));
        assert_eq!(
            decode_contents(&[0x44]),
            Err(RealError::ReservedSpecial(0x44))
        );
    }
}
