//! The E2T northbound API (`onos.e2t.e2.v1beta1`, `onos.e2t.admin`) and the E2SM-KPM /
//! E2SM-RC payloads (PROTO encoding), generated from `proto/` at build time, plus the
//! conversions between those messages and the domain types of `nf-core`.
//!
//! The generated types live in [`pb`]; the rest of the workspace touches them only at the
//! gRPC edge and goes through [`kpm`] and [`rc`] for payloads.
//!
//! # Layout
//! - [`pb`]: generated messages, clients and servers (incl. the `airan.e2t.v1` control
//!   stream extension).
//! - [`kpm`]: E2SM-KPM RAN function definition, subscription and indication codecs.
//! - [`rc`]: E2SM-RC style 2 action 6 (slice-level PRB quota) control codec.
//! - [`cause`]: E2AP error causes carried in gRPC status details.

pub mod cause;
pub mod kpm;
pub mod rc;
pub mod record;

/// Generated protobuf and gRPC code, in modules mirroring the protobuf packages (so
/// cross-package references resolve), with short aliases.
#[allow(
    missing_docs,
    missing_debug_implementations,
    clippy::all,
    clippy::unwrap_used
)]
pub mod pb {
    pub mod onos {
        pub mod e2t {
            pub mod e2 {
                pub mod v1beta1 {
                    tonic::include_proto!("onos.e2t.e2.v1beta1");
                }
            }
            pub mod admin {
                tonic::include_proto!("onos.e2t.admin");
            }
        }
    }
    pub mod e2sm {
        pub mod kpm {
            pub mod v2 {
                tonic::include_proto!("e2sm.kpm.v2");
            }
        }
        pub mod rc {
            pub mod v1 {
                tonic::include_proto!("e2sm.rc.v1");
            }
        }
    }
    pub mod airan {
        pub mod e2t {
            pub mod v1 {
                tonic::include_proto!("airan.e2t.v1");
            }
        }
        pub mod record {
            pub mod v1 {
                tonic::include_proto!("airan.record.v1");
            }
        }
        pub mod conflict {
            pub mod v1 {
                tonic::include_proto!("airan.conflict.v1");
            }
        }
    }
    /// `airan.conflict.v1`: conflict guidance between xApps.
    pub use airan::conflict::v1 as conflict;
    /// `airan.e2t.v1`: the bidirectional control stream extension.
    pub use airan::e2t::v1 as stream;
    /// `airan.record.v1`: the session recording format.
    pub use airan::record::v1 as record;
    /// `e2sm.kpm.v2`: E2SM-KPM payloads.
    pub use e2sm::kpm::v2 as kpm;
    /// `e2sm.rc.v1`: E2SM-RC payloads.
    pub use e2sm::rc::v1 as rc;
    /// `onos.e2t.admin`: E2 node discovery.
    pub use onos::e2t::admin;
    /// `onos.e2t.e2.v1beta1`: the SD-RAN-compatible E2T API.
    pub use onos::e2t::e2::v1beta1 as e2t;
}

/// Service model name of E2SM-KPM as announced by E2 nodes (RAN function short name).
pub const KPM_SM_NAME: &str = "ORAN-E2SM-KPM";
/// Service model version used on the E2T API.
pub const KPM_SM_VERSION: &str = "v2";
/// Service model OID of E2SM-KPM v2.
pub const KPM_OID: &str = "1.3.6.1.4.1.53148.1.2.2.2";
/// Service model name of E2SM-RC.
pub const RC_SM_NAME: &str = "ORAN-E2SM-RC";
/// Service model version used on the E2T API.
pub const RC_SM_VERSION: &str = "v1";
/// Service model OID of E2SM-RC.
pub const RC_OID: &str = "1.3.6.1.4.1.53148.1.1.2.3";
