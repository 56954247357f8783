//! Aligned-PER (APER) codecs of the E2 interface as real E2 nodes and RICs speak it.
//!
//! The ASN.1 bindings under [`generated`] are produced by `rasn-compiler` from the O-RAN
//! modules (E2AP v02.03, E2SM common v05.00, E2SM-KPM v02.03 / v03.00 / v04.00, E2SM-RC
//! v05.00) and checked in; `scripts/regen-asn1.sh` regenerates them and
//! `cargo test -p e2-asn1-gen --test drift` fails when they drift. ASN.1 `REAL`, which
//! rasn's APER codec refuses and srsRAN sends in KPM measurement records, is [`real::Real`].

pub mod e2ap;
pub mod kpm;
/// E2SM-RC domain codec: slice PRB quota under per-implementation RAN parameter-ID profiles.
pub mod rc;
pub mod real;

/// The generated bindings, one module per ASN.1 source set.
#[allow(
    missing_debug_implementations,
    clippy::all,
    clippy::pedantic,
    clippy::unwrap_used
)]
pub mod generated {
    /// E2AP v02.03 (O-RAN.WG3.E2AP-v02.03): PDUs, IEs, constants.
    pub mod e2ap_v02_03 {
        include!("generated/e2ap_v02_03.rs");
    }
    /// E2SM-KPM v02.03 (`TimeStamp` of 4 octets).
    pub mod e2sm_kpm_v02_03 {
        include!("generated/e2sm_kpm_v02_03.rs");
    }
    /// E2SM-KPM v03.00 (`TimeStamp` of 8 octets).
    pub mod e2sm_kpm_v03_00 {
        include!("generated/e2sm_kpm_v03_00.rs");
    }
    /// E2SM-KPM v04.00 with the E2SM common IEs v05.00.
    pub mod e2sm_kpm_v04_00 {
        include!("generated/e2sm_kpm_v04_00.rs");
    }
    /// E2SM-RC v05.00 with the E2SM common IEs v05.00.
    pub mod e2sm_rc_v05_00 {
        include!("generated/e2sm_rc_v05_00.rs");
    }
}
