//! One RMR message on a TCP stream: the SI95 transport header, the RMR header v3, the
//! trace / data areas and the payload, as librmr 4.9.4 writes and reads them.
//!
//! ```text
//! offset  size  field (transport header, 50 bytes)
//!      0     4  total frame length, little-endian ("host order" of the x86/arm senders)
//!      4     4  total frame length, big-endian (network order)
//!      8     1  '$' marker: the network-order length is present
//!      9    41  unused (librmr zeroes bytes 9..13 and leaves the rest as it was)
//! offset  size  field (RMR header v3, 280 bytes, at offset 50)
//!      0     4  mtype, big-endian i32
//!      4     4  plen: payload length, big-endian i32
//!      8     4  rmr_ver: 3, big-endian
//!     12    32  xid: transaction id (bytes)
//!     44    32  sid (reserved; zero)
//!     76    64  src: "host:port" of the sender, NUL-terminated
//!    140    32  meid: managed element (E2 node) name, NUL-terminated
//!    172     4  padding (struct timespec alignment)
//!    176    16  timestamp (struct timespec; librmr never sets it: zero)
//!    192     4  flags (host order; 0x04 = sent by rmr_call)
//!    196    16  len0 (this header's length), len1 (trace), len2 (d1), len3 (d2), big-endian
//!    212     4  sub_id, big-endian i32 (-1: unset)
//!    216    64  srcip: "ip:port" of the sender, NUL-terminated
//! then len1 bytes of trace data, len2 bytes of d1 (d1[0] = rmr_call id), len3 bytes of
//! d2, then plen bytes of payload.
//! ```
//!
//! The total length counts the transport header itself. Every length is checked against
//! the frame and a configured maximum before anything is allocated.

use bytes::{BufMut, Bytes, BytesMut};
use thiserror::Error;

/// Length of the SI95 transport header in front of every RMR message.
pub const TP_HDR_LEN: usize = 50;
/// Bytes of the transport header needed to know a frame's total length.
pub const TP_SZFIELD_LEN: usize = 9;
/// The marker at byte 8 saying that bytes 4..8 hold the network-order length.
pub const TP_SZ_MARKER: u8 = b'$';
/// Length of the RMR header v3 (`uta_mhdr_t` on a 64-bit host).
pub const RMR_HDR_LEN: usize = 280;
/// The RMR header version this crate reads and writes.
pub const RMR_MSG_VER: i32 = 3;
/// `sub_id` of a message that carries no subscription id.
pub const UNSET_SUBID: i32 = -1;
/// Size of the `xid` field.
pub const RMR_MAX_XID: usize = 32;
/// Size of the `meid` field (31 characters and a NUL).
pub const RMR_MAX_MEID: usize = 32;
/// Size of the `src` and `srcip` fields (63 characters and a NUL).
pub const RMR_MAX_SRC: usize = 64;
/// Length of the d1 area librmr reserves in every message it allocates.
pub const DEFAULT_D1_LEN: usize = 4;
/// Header flag: the message was sent by `rmr_call` (a reply must come back by rts).
pub const HFL_CALL_MSG: u32 = 0x04;

// Offsets inside the RMR header.
const OFF_MTYPE: usize = 0;
const OFF_PLEN: usize = 4;
const OFF_VER: usize = 8;
const OFF_XID: usize = 12;
const OFF_SRC: usize = 76;
const OFF_MEID: usize = 140;
const OFF_FLAGS: usize = 192;
const OFF_LEN0: usize = 196;
const OFF_SUBID: usize = 212;
const OFF_SRCIP: usize = 216;

/// Why a frame was refused; [`FrameError::kind`] is a bounded label for metrics.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// Fewer bytes than the part being read needs.
    #[error("truncated frame: {need} bytes needed, {have} present")]
    Truncated {
        /// Bytes needed.
        need: usize,
        /// Bytes present.
        have: usize,
    },
    /// The total length exceeds the configured maximum (checked before allocating).
    #[error("frame of {len} bytes exceeds the maximum of {max}")]
    Oversize {
        /// Claimed or computed total length.
        len: u64,
        /// Configured maximum.
        max: usize,
    },
    /// The total length cannot even hold the transport and RMR headers.
    #[error("frame length {len} is shorter than the {min} bytes of the headers")]
    TooShort {
        /// Claimed total length.
        len: usize,
        /// Minimum length.
        min: usize,
    },
    /// The RMR header version is not 3 (versions 1 and 2 are deprecated by librmr).
    #[error("rmr header version {0} is not supported (only 3)")]
    UnsupportedVersion(i32),
    /// `len0` (the header length) is below the v3 header size.
    #[error("rmr header length {0} is below the v3 header size of 280")]
    BadHeaderLength(i32),
    /// A negative length field.
    #[error("negative {field} length {value}")]
    NegativeLength {
        /// Which length.
        field: &'static str,
        /// Its value.
        value: i32,
    },
    /// Header, trace, data and payload lengths run past the end of the frame.
    #[error("lengths overrun the frame: {need} bytes described, {have} in the frame")]
    LengthOverrun {
        /// Bytes the header describes.
        need: u64,
        /// Bytes in the frame.
        have: usize,
    },
    /// A text field (src, srcip, meid) is not UTF-8.
    #[error("{0} is not valid utf-8")]
    BadText(&'static str),
    /// A field is longer than its slot in the header (encoding).
    #[error("{field} is {len} bytes, at most {max} fit")]
    FieldTooLong {
        /// Which field.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The most that fits.
        max: usize,
    },
}

impl FrameError {
    /// A bounded label for metrics and logs.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Truncated { .. } => "truncated",
            Self::Oversize { .. } => "oversize",
            Self::TooShort { .. } => "too_short",
            Self::UnsupportedVersion(_) => "bad_version",
            Self::BadHeaderLength(_) => "bad_header_len",
            Self::NegativeLength { .. } => "negative_length",
            Self::LengthOverrun { .. } => "length_overrun",
            Self::BadText(_) => "bad_text",
            Self::FieldTooLong { .. } => "field_too_long",
        }
    }
}

/// One RMR message: what the header says plus the payload.
///
/// `sid` and the timestamp are not kept: librmr writes neither (both are zero on the wire).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Message type (see [`crate::mtype`]).
    pub mtype: i32,
    /// Subscription id (the E2 RIC request instance); [`UNSET_SUBID`] when none.
    pub sub_id: i32,
    /// Managed element id: the E2 node's name (at most 31 bytes).
    pub meid: String,
    /// Transaction id: up to 32 bytes; trailing NULs are not kept.
    pub xid: Bytes,
    /// Sender name, `host:port` (set by the endpoint on send).
    pub src: String,
    /// Sender address, `ip:port` (set by the endpoint on send).
    pub srcip: String,
    /// Header flags (host order); [`HFL_CALL_MSG`] marks an `rmr_call` request.
    pub flags: u32,
    /// Trace data area (len1).
    pub trace: Bytes,
    /// Data area 1 (len2); `d1[0]` is librmr's call id. Kept so that a reply by rts
    /// reaches the C thread waiting in `rmr_call`.
    pub d1: Bytes,
    /// Data area 2 (len3), unused by librmr 4.9.4.
    pub d2: Bytes,
    /// The user payload (an APER E2AP PDU for E2 messages).
    pub payload: Bytes,
    /// The connection a received message came on (the return path of rts); set by the
    /// endpoint, `None` for decoded or constructed messages.
    pub(crate) origin: Option<u64>,
}

impl Message {
    /// A message of `mtype` with `payload`, no subscription id, no meid, no xid.
    #[must_use]
    pub fn new(mtype: i32, payload: impl Into<Bytes>) -> Self {
        Self {
            mtype,
            sub_id: UNSET_SUBID,
            meid: String::new(),
            xid: Bytes::new(),
            src: String::new(),
            srcip: String::new(),
            flags: 0,
            trace: Bytes::new(),
            d1: Bytes::from_static(&[0; DEFAULT_D1_LEN]),
            d2: Bytes::new(),
            payload: payload.into(),
            origin: None,
        }
    }

    /// Sets the subscription id.
    #[must_use]
    pub fn with_sub_id(mut self, sub_id: i32) -> Self {
        self.sub_id = sub_id;
        self
    }

    /// Sets the managed element id (E2 node name).
    #[must_use]
    pub fn with_meid(mut self, meid: impl Into<String>) -> Self {
        self.meid = meid.into();
        self
    }

    /// Sets the transaction id.
    #[must_use]
    pub fn with_xid(mut self, xid: impl Into<Bytes>) -> Self {
        self.xid = xid.into();
        self
    }

    /// Total length of this message's frame on the wire.
    #[must_use]
    pub fn frame_len(&self) -> usize {
        TP_HDR_LEN
            + RMR_HDR_LEN
            + self.trace.len()
            + self.d1.len()
            + self.d2.len()
            + self.payload.len()
    }
}

/// Reads the total frame length from the first [`TP_SZFIELD_LEN`] bytes of a frame and
/// checks it against `max_frame` and the minimum header size. `Ok(None)` when fewer than
/// [`TP_SZFIELD_LEN`] bytes are present.
///
/// Like librmr, when the `$` marker is present and both copies differ the host-order copy
/// wins (a back-level peer answering by rts updates only that one).
pub fn frame_len(prefix: &[u8], max_frame: usize) -> Result<Option<usize>, FrameError> {
    let Some(head) = prefix.get(..TP_SZFIELD_LEN) else {
        return Ok(None);
    };
    let host = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
    let len = u64::from(host);
    if len > max_frame as u64 {
        return Err(FrameError::Oversize {
            len,
            max: max_frame,
        });
    }
    let len = host as usize;
    let min = TP_HDR_LEN + RMR_HDR_LEN;
    if len < min {
        return Err(FrameError::TooShort { len, min });
    }
    Ok(Some(len))
}

fn be_i32(b: &[u8], off: usize) -> i32 {
    i32::from_be_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

fn nonneg(field: &'static str, value: i32) -> Result<u64, FrameError> {
    u64::try_from(value).map_err(|_| FrameError::NegativeLength { field, value })
}

/// The text of a NUL-terminated field.
fn c_text(field: &'static str, raw: &[u8]) -> Result<String, FrameError> {
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    std::str::from_utf8(&raw[..end])
        .map(str::to_owned)
        .map_err(|_| FrameError::BadText(field))
}

/// Decodes one complete frame (copying the payload). See [`decode_bytes`].
pub fn decode(frame: &[u8], max_frame: usize) -> Result<Message, FrameError> {
    // Check the length before copying anything.
    match frame_len(frame, max_frame)? {
        None => Err(FrameError::Truncated {
            need: TP_SZFIELD_LEN,
            have: frame.len(),
        }),
        Some(_) => decode_bytes(Bytes::copy_from_slice(frame), max_frame),
    }
}

/// Decodes one complete frame held in `frame`; the payload and data areas are slices of
/// it (no copy). Bytes after the described payload are ignored, as librmr does.
pub fn decode_bytes(frame: Bytes, max_frame: usize) -> Result<Message, FrameError> {
    let total = frame_len(&frame, max_frame)?.ok_or(FrameError::Truncated {
        need: TP_SZFIELD_LEN,
        have: frame.len(),
    })?;
    if frame.len() < total {
        return Err(FrameError::Truncated {
            need: total,
            have: frame.len(),
        });
    }
    let h = &frame[TP_HDR_LEN..total];
    let ver = be_i32(h, OFF_VER);
    if ver != RMR_MSG_VER {
        return Err(FrameError::UnsupportedVersion(ver));
    }
    let len0 = be_i32(h, OFF_LEN0);
    if len0 < RMR_HDR_LEN as i32 {
        return Err(FrameError::BadHeaderLength(len0));
    }
    let lens = [
        nonneg("header", len0)?,
        nonneg("trace", be_i32(h, OFF_LEN0 + 4))?,
        nonneg("d1", be_i32(h, OFF_LEN0 + 8))?,
        nonneg("d2", be_i32(h, OFF_LEN0 + 12))?,
        nonneg("payload", be_i32(h, OFF_PLEN))?,
    ];
    let need: u64 = lens.iter().sum();
    if need > h.len() as u64 {
        return Err(FrameError::LengthOverrun {
            need: need + TP_HDR_LEN as u64,
            have: total,
        });
    }
    // Every length is now below `total`, itself below `max_frame`: the casts are exact.
    let mut at = TP_HDR_LEN + lens[0] as usize;
    let mut area = |len: u64| {
        let s = frame.slice(at..at + len as usize);
        at += len as usize;
        s
    };
    let trace = area(lens[1]);
    let d1 = area(lens[2]);
    let d2 = area(lens[3]);
    let payload = area(lens[4]);
    let xid_raw = &h[OFF_XID..OFF_XID + RMR_MAX_XID];
    let xid_len = xid_raw.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    Ok(Message {
        mtype: be_i32(h, OFF_MTYPE),
        sub_id: be_i32(h, OFF_SUBID),
        meid: c_text("meid", &h[OFF_MEID..OFF_MEID + RMR_MAX_MEID])?,
        xid: frame.slice(TP_HDR_LEN + OFF_XID..TP_HDR_LEN + OFF_XID + xid_len),
        src: c_text("src", &h[OFF_SRC..OFF_SRC + RMR_MAX_SRC])?,
        srcip: c_text("srcip", &h[OFF_SRCIP..OFF_SRCIP + RMR_MAX_SRC])?,
        flags: u32::from_le_bytes([
            h[OFF_FLAGS],
            h[OFF_FLAGS + 1],
            h[OFF_FLAGS + 2],
            h[OFF_FLAGS + 3],
        ]),
        trace,
        d1,
        d2,
        payload,
        origin: None,
    })
}

fn put_fixed(
    out: &mut BytesMut,
    field: &'static str,
    value: &[u8],
    size: usize,
    nul: bool,
) -> Result<(), FrameError> {
    let max = if nul { size - 1 } else { size };
    if value.len() > max {
        return Err(FrameError::FieldTooLong {
            field,
            len: value.len(),
            max,
        });
    }
    out.put_slice(value);
    out.put_bytes(0, size - value.len());
    Ok(())
}

fn len_i32(field: &'static str, len: usize, max: usize) -> Result<i32, FrameError> {
    i32::try_from(len).map_err(|_| FrameError::FieldTooLong {
        field,
        len,
        max: max.min(i32::MAX as usize),
    })
}

/// Encodes `msg` into one frame of at most `max_frame` bytes. Bytes librmr leaves
/// undefined (transport header 13..50, sid, padding, timestamp) are written as zeros.
pub fn encode(msg: &Message, max_frame: usize) -> Result<Bytes, FrameError> {
    let total = msg.frame_len();
    if total > max_frame || total > u32::MAX as usize {
        return Err(FrameError::Oversize {
            len: total as u64,
            max: max_frame,
        });
    }
    let mut out = BytesMut::with_capacity(total);
    // Transport header.
    out.put_u32_le(total as u32);
    out.put_u32(total as u32);
    out.put_u8(TP_SZ_MARKER);
    out.put_bytes(0, TP_HDR_LEN - TP_SZFIELD_LEN);
    // RMR header v3.
    out.put_i32(msg.mtype);
    out.put_i32(len_i32("payload", msg.payload.len(), max_frame)?);
    out.put_i32(RMR_MSG_VER);
    put_fixed(&mut out, "xid", &msg.xid, RMR_MAX_XID, false)?;
    out.put_bytes(0, 32); // sid
    put_fixed(&mut out, "src", msg.src.as_bytes(), RMR_MAX_SRC, true)?;
    put_fixed(&mut out, "meid", msg.meid.as_bytes(), RMR_MAX_MEID, true)?;
    out.put_bytes(0, 4 + 16); // padding and timestamp
    out.put_u32_le(msg.flags);
    out.put_i32(RMR_HDR_LEN as i32);
    out.put_i32(len_i32("trace", msg.trace.len(), max_frame)?);
    out.put_i32(len_i32("d1", msg.d1.len(), max_frame)?);
    out.put_i32(len_i32("d2", msg.d2.len(), max_frame)?);
    out.put_i32(msg.sub_id);
    put_fixed(&mut out, "srcip", msg.srcip.as_bytes(), RMR_MAX_SRC, true)?;
    out.put_slice(&msg.trace);
    out.put_slice(&msg.d1);
    out.put_slice(&msg.d2);
    out.put_slice(&msg.payload);
    debug_assert_eq!(out.len(), total);
    Ok(out.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_every_field() {
        let mut m = Message::new(12050, vec![1u8, 2, 3])
            .with_sub_id(7)
            .with_meid("gnb_001_001_00019b")
            .with_xid(&b"xid-1"[..]);
        m.src = "xapp:4560".into();
        m.srcip = "10.0.0.1:4560".into();
        m.trace = Bytes::from_static(b"tr");
        let f = encode(&m, 1 << 20).unwrap();
        assert_eq!(f.len(), m.frame_len());
        assert_eq!(decode(&f, 1 << 20).unwrap(), m);
    }

    #[test]
    fn oversize_is_refused_before_reading_the_rest() {
        let mut f = vec![0u8; 9];
        f[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        let e = frame_len(&f, 1 << 20).unwrap_err();
        assert_eq!(e.kind(), "oversize");
    }

    #[test]
    fn too_long_meid_is_refused() {
        let m = Message::new(1, Bytes::new()).with_meid("x".repeat(32));
        assert_eq!(encode(&m, 1 << 20).unwrap_err().kind(), "field_too_long");
    }
}
