//! Nesting bound of the recursive E2SM-RC RAN parameter tree, checked before decoding.
//!
//! `RANParameter-ValueType` nests `RANParameter-STRUCTURE` and `RANParameter-LIST` without
//! limit. rasn 0.30 decodes it by recursion and stops only at 128 nested constructed values
//! (`remaining_depth` in its PER decoder); measured on a debug build, a 100-level tree (about
//! 500 bytes) overflows a 256 KiB thread stack before that limit is reached. This walker
//! reads the aligned-PER layout of an `E2SM-RC-ControlMessage` format 1 (X.691 clauses 10.9,
//! 12, 16, 19, 20, 23) far enough to measure the nesting depth, its own recursion bounded by
//! [`MAX_DEPTH`], and refuses deeper trees with a typed error before rasn sees them. It
//! decodes no value: the real decode is rasn's.

use super::RcAperError;

/// Deepest RAN parameter nesting accepted, each structure, list and list item counting one
/// level. The slice-level PRB quota tree is 8 deep (list, item, group, policy, member list,
/// item, member, S-NSSAI).
pub const MAX_DEPTH: usize = 12;

struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

fn truncated() -> RcAperError {
    RcAperError::Decode {
        what: "control message",
        detail: "truncated RAN parameter tree".into(),
    }
}

impl<'a> Bits<'a> {
    fn bit(&mut self) -> Result<bool, RcAperError> {
        let byte = *self.data.get(self.pos / 8).ok_or_else(truncated)?;
        let b = byte & (0x80 >> (self.pos % 8)) != 0;
        self.pos += 1;
        Ok(b)
    }

    fn bits(&mut self, n: usize) -> Result<usize, RcAperError> {
        let mut v = 0;
        for _ in 0..n {
            v = (v << 1) | usize::from(self.bit()?);
        }
        Ok(v)
    }

    fn align(&mut self) {
        self.pos = self.pos.div_ceil(8) * 8;
    }

    fn skip_octets(&mut self, n: usize) -> Result<(), RcAperError> {
        self.align();
        let end = self
            .pos
            .checked_add(n.checked_mul(8).ok_or_else(truncated)?);
        match end {
            Some(end) if end <= self.data.len() * 8 => {
                self.pos = end;
                Ok(())
            }
            _ => Err(truncated()),
        }
    }

    fn skip_bits(&mut self, n: usize) -> Result<(), RcAperError> {
        match self.pos.checked_add(n) {
            Some(end) if end <= self.data.len() * 8 => {
                self.pos = end;
                Ok(())
            }
            _ => Err(truncated()),
        }
    }

    /// An unconstrained length determinant (X.691 11.9.3.6-8); fragments are refused.
    fn length(&mut self) -> Result<usize, RcAperError> {
        self.align();
        if !self.bit()? {
            return self.bits(7);
        }
        if !self.bit()? {
            return self.bits(14);
        }
        Err(RcAperError::Decode {
            what: "control message",
            detail: "fragmented length in RAN parameter tree".into(),
        })
    }

    /// A SEQUENCE OF count constrained to 0..=65535 or 1..=65535: two aligned octets.
    fn count16(&mut self) -> Result<usize, RcAperError> {
        self.align();
        self.bits(16)
    }

    /// Skips the extension additions of an extensible SEQUENCE whose extension bit was set.
    fn skip_extensions(&mut self) -> Result<(), RcAperError> {
        let n = if self.bit()? {
            self.length()?
        } else {
            self.bits(6)? + 1
        };
        let mut present = 0;
        for _ in 0..n {
            present += usize::from(self.bit()?);
        }
        for _ in 0..present {
            let len = self.length()?;
            self.skip_octets(len)?;
        }
        Ok(())
    }
}

/// The RAN parameter nesting depth of an `E2SM-RC-ControlMessage`, refused past
/// [`MAX_DEPTH`]. Formats 2 to 5 (extension alternatives, which nest format 1 lists) are
/// refused here, before rasn would recurse into them.
pub fn check_control_message(message: &[u8]) -> Result<usize, RcAperError> {
    let mut b = Bits {
        data: message,
        pos: 0,
    };
    let _message_ext = b.bit()?;
    if b.bit()? {
        let index = if b.bit()? { usize::MAX } else { b.bits(6)? };
        let format = u8::try_from(index.saturating_add(2)).unwrap_or(u8::MAX);
        return Err(RcAperError::UnsupportedFormat {
            what: "control message",
            format,
        });
    }
    let format1_ext = b.bit()?;
    let n = b.count16()?;
    let mut deepest = 0;
    for _ in 0..n {
        deepest = deepest.max(item(&mut b, 0)?);
    }
    if format1_ext {
        b.skip_extensions()?;
    }
    Ok(deepest)
}

/// `RANParameter-ID` then `RANParameter-ValueType` (a format 1 item or a structure item).
fn item(b: &mut Bits<'_>, depth: usize) -> Result<usize, RcAperError> {
    let ext = b.bit()?;
    parameter_id(b)?;
    let d = value_type(b, depth)?;
    if ext {
        b.skip_extensions()?;
    }
    Ok(d)
}

fn parameter_id(b: &mut Bits<'_>) -> Result<(), RcAperError> {
    if b.bit()? {
        let len = b.length()?;
        return b.skip_octets(len);
    }
    let octets = b.bits(2)? + 1;
    b.skip_octets(octets)
}

fn value_type(b: &mut Bits<'_>, depth: usize) -> Result<usize, RcAperError> {
    if b.bit()? {
        // An unknown extension alternative: an open type rasn skips without recursing.
        let _index = if b.bit()? { b.length()? } else { b.bits(6)? };
        let len = b.length()?;
        b.skip_octets(len)?;
        return Ok(depth);
    }
    match b.bits(2)? {
        0 => {
            let ext = b.bit()?;
            value(b)?;
            if ext {
                b.skip_extensions()?;
            }
            Ok(depth)
        }
        1 => {
            let ext = b.bit()?;
            if b.bit()? {
                value(b)?;
            }
            if ext {
                b.skip_extensions()?;
            }
            Ok(depth)
        }
        2 => {
            let ext = b.bit()?;
            let d = structure(b, depth + 1)?;
            if ext {
                b.skip_extensions()?;
            }
            Ok(d)
        }
        _ => {
            let ext = b.bit()?;
            let d = list(b, depth + 1)?;
            if ext {
                b.skip_extensions()?;
            }
            Ok(d)
        }
    }
}

fn enter(depth: usize) -> Result<(), RcAperError> {
    if depth > MAX_DEPTH {
        return Err(RcAperError::TooDeep { max: MAX_DEPTH });
    }
    Ok(())
}

/// `RANParameter-STRUCTURE`: optional SEQUENCE (SIZE (1..65535)) OF items.
fn structure(b: &mut Bits<'_>, depth: usize) -> Result<usize, RcAperError> {
    enter(depth)?;
    let ext = b.bit()?;
    let mut deepest = depth;
    if b.bit()? {
        let n = b.count16()? + 1;
        for _ in 0..n {
            deepest = deepest.max(item(b, depth)?);
        }
    }
    if ext {
        b.skip_extensions()?;
    }
    Ok(deepest)
}

/// `RANParameter-LIST`: SEQUENCE (SIZE (1..65535)) OF `RANParameter-STRUCTURE`.
fn list(b: &mut Bits<'_>, depth: usize) -> Result<usize, RcAperError> {
    enter(depth)?;
    let ext = b.bit()?;
    let n = b.count16()? + 1;
    let mut deepest = depth;
    for _ in 0..n {
        deepest = deepest.max(structure(b, depth + 1)?);
    }
    if ext {
        b.skip_extensions()?;
    }
    Ok(deepest)
}

/// `RANParameter-Value`: one of six alternatives, each skipped by its length.
fn value(b: &mut Bits<'_>) -> Result<(), RcAperError> {
    if b.bit()? {
        let _index = if b.bit()? { b.length()? } else { b.bits(6)? };
        let len = b.length()?;
        return b.skip_octets(len);
    }
    match b.bits(3)? {
        0 => b.bit().map(|_| ()),
        3 => {
            let bits = b.length()?;
            b.skip_bits(bits)
        }
        1 | 2 | 4 | 5 => {
            let len = b.length()?;
            b.skip_octets(len)
        }
        _ => Err(RcAperError::Decode {
            what: "control message",
            detail: "RAN parameter value alternative out of range".into(),
        }),
    }
}
