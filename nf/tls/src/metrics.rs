//! The TLS metrics every process with a TLS link exports, under its own prefix
//! (`xapp_tls_*` in the xApps, `conflict_tls_*` in `conflict-mgr`, none in `e2sim`, which logs): reloads,
//! reload failures and handshake failures, by link and reason. Every label value comes from
//! a bounded set and is created at zero when a link is set up.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// Every `reason` of `tls_handshake_failures_total`.
pub const HANDSHAKE_FAILURES: [&str; 10] = [
    // The client sent no certificate where the server requires one (mTLS).
    "no_client_certificate",
    // The peer's certificate chains to no CA this side pins.
    "unknown_ca",
    // The certificate is valid but not for the name (or IP address) asked for.
    "name_mismatch",
    // The certificate is expired or not yet valid.
    "expired",
    // Any other refusal of the peer's certificate (bad encoding, wrong usage, revoked).
    "bad_certificate",
    // The peer refused us (it sent an alert: e.g. it does not trust our certificate).
    "peer_refused",
    // Not TLS, or TLS this side does not speak (e.g. cleartext HTTP/2 to a TLS port).
    "protocol",
    // The handshake did not finish in time.
    "timeout",
    // Too many handshakes at once: the connection was closed before its handshake.
    "overload",
    // The connection failed under the handshake (reset, closed, refused).
    "io",
];

/// `link` label: which link a counter is about (`e2t`, `conflict`, `remote_model`,
/// `server`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LinkLabel {
    pub link: &'static str,
}

/// `link` and `reason` labels of handshake failures.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LinkReason {
    pub link: &'static str,
    pub reason: &'static str,
}

/// The TLS counters of one process; cheap to clone (the families are shared).
#[derive(Clone, Debug, Default)]
pub struct TlsMetrics {
    /// Certificate / key / CA sets reloaded after their files changed.
    pub reloads: Family<LinkLabel, Counter>,
    /// Changed files that could not be used (the previous set stays in use).
    pub reload_failures: Family<LinkLabel, Counter>,
    /// Handshakes that failed, by link and reason ([`HANDSHAKE_FAILURES`]).
    pub handshake_failures: Family<LinkReason, Counter>,
}

impl TlsMetrics {
    /// Registers the families in `registry` (the caller's prefix applies):
    /// `tls_reloads_total`, `tls_reload_failures_total`, `tls_handshake_failures_total`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "tls_reloads",
            "TLS certificate, key and CA sets reloaded after their files changed, by link",
            self.reloads.clone(),
        );
        registry.register(
            "tls_reload_failures",
            "Changed TLS files that could not be used (the previous set stays), by link",
            self.reload_failures.clone(),
        );
        registry.register(
            "tls_handshake_failures",
            "TLS handshakes that failed, by link and reason",
            self.handshake_failures.clone(),
        );
    }

    /// Creates every label of `link` at zero.
    pub fn precreate(&self, link: &'static str) {
        drop(self.reloads.get_or_create(&LinkLabel { link }));
        drop(self.reload_failures.get_or_create(&LinkLabel { link }));
        for reason in HANDSHAKE_FAILURES {
            drop(
                self.handshake_failures
                    .get_or_create(&LinkReason { link, reason }),
            );
        }
    }

    /// Counts a failed handshake.
    pub fn handshake_failed(&self, link: &'static str, reason: &'static str) {
        self.handshake_failures
            .get_or_create(&LinkReason { link, reason })
            .inc();
    }

    /// The count of handshake failures of `link` for `reason` (tests, summaries).
    pub fn handshake_failures_of(&self, link: &'static str, reason: &'static str) -> u64 {
        self.handshake_failures
            .get_or_create(&LinkReason { link, reason })
            .get()
    }

    /// Reloads of `link` so far.
    pub fn reloads_of(&self, link: &'static str) -> u64 {
        self.reloads.get_or_create(&LinkLabel { link }).get()
    }

    /// Reload failures of `link` so far.
    pub fn reload_failures_of(&self, link: &'static str) -> u64 {
        self.reload_failures
            .get_or_create(&LinkLabel { link })
            .get()
    }
}

/// The bounded reason of a failed handshake (an I/O error as tokio-rustls reports it).
pub fn classify(err: &std::io::Error) -> &'static str {
    use rustls::{CertificateError as C, Error as E};
    let Some(tls) = err.get_ref().and_then(|e| e.downcast_ref::<E>()) else {
        return match err.kind() {
            std::io::ErrorKind::TimedOut => "timeout",
            std::io::ErrorKind::InvalidData => "protocol",
            _ => "io",
        };
    };
    match tls {
        E::NoCertificatesPresented => "no_client_certificate",
        E::InvalidCertificate(c) => match c {
            C::UnknownIssuer => "unknown_ca",
            C::NotValidForName | C::NotValidForNameContext { .. } => "name_mismatch",
            C::Expired
            | C::ExpiredContext { .. }
            | C::NotValidYet
            | C::NotValidYetContext { .. } => "expired",
            _ => "bad_certificate",
        },
        E::AlertReceived(_) => "peer_refused",
        _ => "protocol",
    }
}

/// Rate limit of the handshake-failure warnings: a scanner, or a client retrying against a
/// certificate it will never accept, must not flood the log (every failure is counted
/// anyway). At most one warning per [`LogLimit::EVERY`]; the others go to debug, and the
/// next warning says how many were held back.
#[derive(Debug, Default)]
pub(crate) struct LogLimit {
    last: std::sync::Mutex<Option<std::time::Instant>>,
    held: std::sync::atomic::AtomicU64,
}

impl LogLimit {
    pub const EVERY: std::time::Duration = std::time::Duration::from_secs(10);

    /// `Some(held back since the last warning)` when this one may be a warning.
    pub fn warn(&self) -> Option<u64> {
        use std::sync::atomic::Ordering;
        let now = std::time::Instant::now();
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        match *last {
            Some(t) if now.duration_since(t) < Self::EVERY => {
                self.held.fetch_add(1, Ordering::Relaxed);
                None
            }
            _ => {
                *last = Some(now);
                Some(self.held.swap(0, Ordering::Relaxed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_are_limited_and_say_how_many_were_held_back() {
        let l = LogLimit::default();
        assert_eq!(l.warn(), Some(0));
        assert_eq!(l.warn(), None);
        assert_eq!(l.warn(), None);
        *l.last.lock().unwrap_or_else(|p| p.into_inner()) =
            std::time::Instant::now().checked_sub(LogLimit::EVERY);
        assert_eq!(l.warn(), Some(2));
    }

    #[test]
    fn every_reason_is_created_at_zero() {
        let m = TlsMetrics::default();
        m.precreate("e2t");
        let mut reg = Registry::default();
        m.register(&mut reg);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &reg).unwrap_or_default();
        for reason in HANDSHAKE_FAILURES {
            let series =
                format!("tls_handshake_failures_total{{link=\"e2t\",reason=\"{reason}\"}} 0");
            assert!(text.contains(&series), "{series} in\n{text}");
        }
        assert!(
            text.contains("tls_reload_failures_total{link=\"e2t\"} 0"),
            "{text}"
        );
    }
}
