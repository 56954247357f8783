//! TLS and mTLS of the gRPC links: the xApps' E2T and conflict-manager clients, the slice
//! xApp's remote-inference client (`nf-oip`), the conflict manager's server and the
//! simulator's E2T server.
//!
//! - [`section`]: the configuration sections (one shape everywhere: client `ca`, `cert`,
//!   `key`, `server_name`; server `cert`, `key`, `client_ca`; both `reload_ms`), validated
//!   before start: every file read and parsed, every problem named by its key and file.
//! - [`client`]: a tonic channel whose connections run through rustls with the pinned CA
//!   (and the client certificate for mTLS), through a custom connector.
//! - [`server`]: a tonic server's incoming connections through rustls, client
//!   certificates required and verified when a client CA is set (mTLS).
//! - Reload: certificates, keys and CAs are re-read when their files change, without a
//!   restart; new handshakes use them, a broken file keeps the old set (logged, counted).
//! - [`metrics`]: `tls_reloads_total`, `tls_reload_failures_total`,
//!   `tls_handshake_failures_total{link,reason}`.
//!
//! rustls with the `ring` provider, set explicitly per configuration; TLS 1.2 and 1.3;
//! ALPN `h2`. tonic's own TLS support (`tls-ring`) is not used: its configuration is fixed
//! when a channel or server is built, which rules out a reload.

pub mod client;
mod live;
mod material;
pub mod metrics;
pub mod section;
pub mod server;
#[cfg(feature = "testing")]
pub mod testing;

pub use client::ClientTls;
pub use live::{FileProblem, FileRef, Reload};
pub use material::FileError;
pub use metrics::TlsMetrics;
pub use section::{ClientSection, ClientSettings, Names, Problem, ServerSection, ServerSettings};
pub use server::{Conn, Incoming, ServerTls, incoming};
