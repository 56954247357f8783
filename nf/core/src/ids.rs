//! Identities of cells and network slices.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_stable() {
        let cell = CellId::new([0x00, 0xf1, 0x10], 0x1234);
        assert_eq!(cell.to_string(), "00f110/000001234");
        assert_eq!(Snssai::new(1, Some(1)).to_string(), "1-000001");
        assert_eq!(Snssai::new(2, None).to_string(), "2");
    }
}
