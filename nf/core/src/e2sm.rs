//! E2SM-KPM domain types shared by every KPM codec (the protobuf one in `e2-proto` and the
//! aligned-PER one in `e2-asn1`): the cells a node announces, the limits applied before a
//! payload is trusted, the soft problems counted while decoding, and the record layout of a
//! report subscription.

use std::collections::HashMap;

use crate::ids::{CellId, Snssai};
use crate::kpm::Meas;

/// Report style 1: E2 node measurement (E2SM-KPM 7.4.1).
pub const REPORT_STYLE_NODE_MEASUREMENT: i32 = 1;
/// Most slices accepted in one report.
pub const MAX_SLICES: usize = 16;

/// A cell as announced in the KPM RAN function definition (or, for nodes whose definition
/// does not carry cells, as configured).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CellInfo {
    pub cell: CellId,
    pub slices: Vec<Snssai>,
    pub prb_total_dl: u32,
}

/// Limits applied before a payload is decoded.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest indication payload accepted [bytes].
    pub max_payload_bytes: usize,
    /// Most measurement-info entries accepted in one indication.
    pub max_measurements: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_payload_bytes: 64 * 1024,
            max_measurements: 512,
        }
    }
}

/// Soft problems found in an accepted indication.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecodeNotes {
    /// Measurements with names the xApp does not know (skipped).
    pub unknown_measurements: u32,
    /// NaN or infinite values (treated as missing).
    pub non_finite_values: u32,
    /// Records explicitly carrying no value.
    pub no_values: u32,
}

/// One record's meaning: the measurement and, for per-slice ones, the slice.
pub type Slot = (Meas, Option<Snssai>);

/// What each record of an indication means: the measurement and, for per-slice ones, the
/// slice. The order is the one of the action definition (cell-level measurements, then the
/// per-slice ones for each slice in turn).
pub type Layout = Vec<Slot>;

/// Record layouts of subscribed cells, for indications that omit the measurement info.
pub type Layouts = HashMap<CellId, Layout>;

/// The record layout of a cell with `slices`.
pub fn layout(slices: &[Snssai]) -> Layout {
    let mut out: Layout = Meas::PER_CELL.iter().map(|m| (*m, None)).collect();
    for s in slices {
        out.extend(Meas::PER_SLICE.iter().map(|m| (*m, Some(*s))));
    }
    out
}
