//! Identities of E2 nodes, cells and network slices.
//!
//! E2 node IDs come from the E2T as free text and end up in logs, metrics and the decision
//! log: [`check_node_id`] refuses the ones that could forge a log line or a terminal
//! sequence, and [`Escaped`] prints any untrusted text with its control characters escaped.

use std::fmt;

/// NR cell global identity: PLMN identity (3 bytes, TS 38.413 encoding) and the 36-bit
/// NR cell identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CellId {
    /// PLMN identity as carried on the wire.
    pub plmn: [u8; 3],
    /// NR cell identity (36 bits).
    pub nci: u64,
}

impl CellId {
    /// Largest NR cell identity (36 bits).
    pub const MAX_NCI: u64 = (1 << 36) - 1;

    pub fn new(plmn: [u8; 3], nci: u64) -> Self {
        Self { plmn, nci }
    }
}

impl fmt::Display for CellId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c] = self.plmn;
        write!(f, "{a:02x}{b:02x}{c:02x}/{:09x}", self.nci)
    }
}

/// Single network slice selection assistance information (TS 23.003 clause 28.4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Snssai {
    /// Slice/service type: 1 eMBB, 2 URLLC, 3 MIoT (TS 23.501 5.15.2.2).
    pub sst: u8,
    /// 24-bit slice differentiator, if any.
    pub sd: Option<u32>,
}

impl Snssai {
    /// Largest slice differentiator (24 bits).
    pub const MAX_SD: u32 = 0x00ff_ffff;

    pub fn new(sst: u8, sd: Option<u32>) -> Self {
        Self { sst, sd }
    }
}

impl fmt::Display for Snssai {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.sd {
            Some(sd) => write!(f, "{}-{sd:06x}", self.sst),
            None => write!(f, "{}", self.sst),
        }
    }
}

/// An S-NSSAI that does not parse from `SST` or `SST-SD` (SD: six hex digits).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an S-NSSAI (SST 0..=255, optionally `-` and a 24-bit SD in hex)")]
pub struct SnssaiParseError(pub String);

impl std::str::FromStr for Snssai {
    type Err = SnssaiParseError;

    /// Parses what [`fmt::Display`] writes: `1`, `2-00000a`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || SnssaiParseError(s.to_owned());
        let (sst, sd) = match s.split_once('-') {
            Some((sst, sd)) => (sst, Some(sd)),
            None => (s, None),
        };
        let sst = sst.trim().parse::<u8>().map_err(|_| bad())?;
        let sd = match sd {
            Some(sd) => {
                let v = u32::from_str_radix(sd.trim(), 16).map_err(|_| bad())?;
                if v > Snssai::MAX_SD {
                    return Err(bad());
                }
                Some(v)
            }
            None => None,
        };
        Ok(Snssai::new(sst, sd))
    }
}

/// Longest E2 node ID accepted [bytes] (global E2 node IDs in SD-RAN are ≈ 20 bytes).
pub const MAX_NODE_ID_BYTES: usize = 256;

/// Why an E2 node ID is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NodeIdError {
    /// No characters at all.
    #[error("empty E2 node ID")]
    Empty,
    /// Longer than [`MAX_NODE_ID_BYTES`].
    #[error("E2 node ID of {0} bytes is longer than {MAX_NODE_ID_BYTES}")]
    TooLong(usize),
    /// A character outside printable ASCII (control, escape, bidi override, …).
    #[error("E2 node ID holds the non-printable character {0:?}")]
    NotPrintable(char),
}

impl NodeIdError {
    /// Bounded metric label.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Empty => "node_id_empty",
            Self::TooLong(_) => "node_id_too_long",
            Self::NotPrintable(_) => "node_id_not_printable",
        }
    }

    /// Every [`Self::kind`], to pre-create counters at zero.
    pub const KINDS: [&'static str; 3] =
        ["node_id_empty", "node_id_too_long", "node_id_not_printable"];
}

/// Accepts an E2 node ID made of printable ASCII (space to `~`), 1 to
/// [`MAX_NODE_ID_BYTES`] bytes: such an ID can be logged and labelled as it is.
pub fn check_node_id(id: &str) -> Result<(), NodeIdError> {
    if id.is_empty() {
        return Err(NodeIdError::Empty);
    }
    if id.len() > MAX_NODE_ID_BYTES {
        return Err(NodeIdError::TooLong(id.len()));
    }
    match id.chars().find(|c| !matches!(c, ' '..='~')) {
        Some(c) => Err(NodeIdError::NotPrintable(c)),
        None => Ok(()),
    }
}

/// Displays untrusted text on one line: characters outside printable ASCII are written as
/// `\u{…}` escapes (`\n`, `\r`, `\t`, `\\` as such), and text past 256 bytes is cut with `…`.
#[derive(Clone, Copy, Debug)]
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.0.char_indices() {
            if i >= MAX_NODE_ID_BYTES {
                return f.write_str("…");
            }
            match c {
                '\\' => f.write_str("\\\\")?,
                ' '..='~' => fmt::Write::write_char(f, c)?,
                _ => write!(f, "{}", c.escape_default())?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snssai_parses_what_it_displays() {
        for s in [
            Snssai::new(1, None),
            Snssai::new(2, Some(0xa)),
            Snssai::new(255, Some(Snssai::MAX_SD)),
        ] {
            assert_eq!(s.to_string().parse::<Snssai>(), Ok(s));
        }
        for bad in ["", "x", "256", "1-", "1-1000000", "1-zz"] {
            assert!(bad.parse::<Snssai>().is_err(), "{bad}");
        }
    }

    #[test]
    fn node_ids_that_forge_log_lines_are_refused() {
        assert_eq!(check_node_id("e2:4/e00/2/64"), Ok(()));
        let forged = "gnb-1\n2026-01-01T00:00:00Z ERROR fake line";
        assert_eq!(check_node_id(forged), Err(NodeIdError::NotPrintable('\n')));
        let ansi = "gnb\u{1b}[2J";
        assert_eq!(
            check_node_id(ansi).map_err(|e| e.kind()),
            Err("node_id_not_printable")
        );
        assert_eq!(
            check_node_id("gnb\u{202e}1"),
            Err(NodeIdError::NotPrintable('\u{202e}'))
        );
        assert_eq!(check_node_id(""), Err(NodeIdError::Empty));
        assert_eq!(
            check_node_id(&"x".repeat(300)),
            Err(NodeIdError::TooLong(300))
        );
    }

    #[test]
    fn escaped_text_stays_on_one_line() {
        let s = Escaped("a\nb\u{1b}[31m\\c\r").to_string();
        assert_eq!(s, "a\\nb\\u{1b}[31m\\\\c\\r");
        assert!(!s.contains(['\n', '\r', '\u{1b}']));
        assert!(Escaped(&"y".repeat(1000)).to_string().ends_with('…'));
    }

    #[test]
    fn display_is_stable() {
        let cell = CellId::new([0x00, 0xf1, 0x10], 0x1234);
        assert_eq!(cell.to_string(), "00f110/000001234");
        assert_eq!(Snssai::new(1, Some(1)).to_string(), "1-000001");
        assert_eq!(Snssai::new(2, None).to_string(), "2");
    }
}
