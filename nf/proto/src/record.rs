//! Session recordings (`airan.record.v1`): a versioned, streamable file of the E2
//! indications received and controls sent, with timestamps.
//!
//! Layout: the magic `AIRANREC`, one length-delimited [`RecordHeader`], then
//! length-delimited [`RecordEntry`] messages (protobuf varint length prefixes). The
//! payloads are the unchanged E2SM bytes. `proto/airan/record/v1/record.proto` documents
//! every field.

use std::io::{self, BufRead, Write};

use prost::Message;

pub use crate::pb::record::{
    RecordEntry, RecordHeader, RecordedCell, RecordedControl, RecordedIndication, RecordedNode,
    RecordedSlice, record_entry,
};

/// First bytes of every recording.
pub const MAGIC: &[u8; 8] = b"AIRANREC";
/// Format version written and understood.
pub const VERSION: u32 = 1;
/// Largest entry a reader accepts [bytes].
pub const MAX_ENTRY_BYTES: u64 = 16 << 20;

/// Why a recording could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("recording I/O: {0}")]
    Io(#[from] io::Error),
    #[error("not a recording (magic bytes differ from AIRANREC)")]
    Magic,
    #[error("recording version {0} is not supported (this build reads version {VERSION})")]
    Version(u32),
    #[error("entry {index} at byte {offset}: {problem}")]
    Entry {
        index: u64,
        offset: u64,
        problem: String,
    },
}

/// Writes a recording entry by entry.
#[derive(Debug)]
pub struct RecordWriter<W: Write> {
    out: W,
    buf: Vec<u8>,
    entries: u64,
}

impl<W: Write> RecordWriter<W> {
    /// Writes the magic and `header` (its version is set here).
    pub fn new(mut out: W, mut header: RecordHeader) -> io::Result<Self> {
        header.version = VERSION;
        out.write_all(MAGIC)?;
        let mut buf = Vec::new();
        header
            .encode_length_delimited(&mut buf)
            .map_err(io::Error::other)?;
        out.write_all(&buf)?;
        Ok(Self {
            out,
            buf,
            entries: 0,
        })
    }

    pub fn write(&mut self, entry: &RecordEntry) -> io::Result<()> {
        self.buf.clear();
        entry
            .encode_length_delimited(&mut self.buf)
            .map_err(io::Error::other)?;
        self.entries += 1;
        self.out.write_all(&self.buf)
    }

    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// Flushes and returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Reads a recording: the header at once, entries as an iterator.
#[derive(Debug)]
pub struct RecordReader<R: BufRead> {
    input: R,
    pub header: RecordHeader,
    offset: u64,
    index: u64,
    buf: Vec<u8>,
}

fn read_varint(r: &mut impl BufRead) -> io::Result<Option<(u64, u64)>> {
    let (mut v, mut shift, mut n) = (0u64, 0u32, 0u64);
    loop {
        let mut b = [0u8; 1];
        match r.read(&mut b)? {
            0 if n == 0 => return Ok(None),
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            _ => {}
        }
        n += 1;
        v |= u64::from(b[0] & 0x7f) << shift;
        if b[0] & 0x80 == 0 {
            return Ok(Some((v, n)));
        }
        shift += 7;
        if shift > 63 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "varint too long",
            ));
        }
    }
}

impl<R: BufRead> RecordReader<R> {
    pub fn new(mut input: R) -> Result<Self, RecordError> {
        let mut magic = [0u8; 8];
        input
            .read_exact(&mut magic)
            .map_err(|_| RecordError::Magic)?;
        if &magic != MAGIC {
            return Err(RecordError::Magic);
        }
        let mut me = Self {
            input,
            header: RecordHeader::default(),
            offset: 8,
            index: 0,
            buf: Vec::new(),
        };
        let header = me.next_message()?.ok_or(RecordError::Entry {
            index: 0,
            offset: 8,
            problem: "no header".into(),
        })?;
        me.header = RecordHeader::decode(header.as_slice()).map_err(|e| RecordError::Entry {
            index: 0,
            offset: 8,
            problem: format!("header: {e}"),
        })?;
        if me.header.version != VERSION {
            return Err(RecordError::Version(me.header.version));
        }
        Ok(me)
    }

    fn next_message(&mut self) -> Result<Option<Vec<u8>>, RecordError> {
        let at = self.offset;
        let bad = |problem: String| RecordError::Entry {
            index: self.index,
            offset: at,
            problem,
        };
        let Some((len, n)) = read_varint(&mut self.input).map_err(|e| bad(e.to_string()))? else {
            return Ok(None);
        };
        if len > MAX_ENTRY_BYTES {
            return Err(bad(format!(
                "length {len} above the {MAX_ENTRY_BYTES}-byte limit"
            )));
        }
        self.buf.resize(len as usize, 0);
        self.input
            .read_exact(&mut self.buf)
            .map_err(|_| bad(format!("cut short: {len} bytes announced")))?;
        self.offset += n + len;
        Ok(Some(std::mem::take(&mut self.buf)))
    }
}

impl<R: BufRead> Iterator for RecordReader<R> {
    type Item = Result<RecordEntry, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        let at = self.offset;
        let msg = match self.next_message() {
            Ok(Some(m)) => m,
            Ok(None) => return None,
            Err(e) => return Some(Err(e)),
        };
        self.index += 1;
        Some(
            RecordEntry::decode(msg.as_slice()).map_err(|e| RecordError::Entry {
                index: self.index,
                offset: at,
                problem: e.to_string(),
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: u64) -> RecordEntry {
        RecordEntry {
            t_ns: i * 1_000,
            e2_node_id: "e2:4/e0000".into(),
            kind: Some(record_entry::Kind::Indication(RecordedIndication {
                header: vec![1, 2, 3],
                payload: vec![i as u8; 40],
                call_process_id: vec![],
            })),
        }
    }

    #[test]
    fn round_trip_and_truncation_loses_only_the_last_entry() {
        let mut w = RecordWriter::new(
            Vec::new(),
            RecordHeader {
                source: "test".into(),
                report_period_ms: 250,
                ..Default::default()
            },
        )
        .unwrap();
        for i in 0..10 {
            w.write(&entry(i)).unwrap();
        }
        let bytes = w.finish().unwrap();
        let r = RecordReader::new(bytes.as_slice()).unwrap();
        assert_eq!(r.header.version, VERSION);
        let all: Vec<_> = r.collect::<Result<_, _>>().unwrap();
        assert_eq!(all, (0..10).map(entry).collect::<Vec<_>>());
        let cut = &bytes[..bytes.len() - 5];
        let got: Vec<_> = RecordReader::new(cut).unwrap().collect();
        assert_eq!(got.len(), 10);
        assert!(got[..9].iter().all(Result::is_ok));
        assert!(
            got[9]
                .as_ref()
                .unwrap_err()
                .to_string()
                .contains("cut short")
        );
        assert!(matches!(
            RecordReader::new(&b"NOTARECORDING"[..]),
            Err(RecordError::Magic)
        ));
    }
}
