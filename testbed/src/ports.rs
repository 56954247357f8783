//! Loopback ports for tests and benchmarks that must name a port before the process that
//! binds it starts (librmr takes a port number; an xApp binary takes `--metrics-listen`).
//!
//! `bind("127.0.0.1:0")` hands out a port of the kernel's ephemeral range, which every
//! outgoing connection on the machine also draws from: between the probe and the real bind,
//! a client socket of a concurrent test can take it (seen as `AddrInUse` under load). These
//! ports come from below that range (Linux: 32768-60999), where only explicit binds go, so
//! the only competitors are other callers of this function; a per-process random start and
//! a process-wide cursor keep those apart.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};

/// First and last port handed out.
const LOW: u32 = 20_000;
const HIGH: u32 = 32_000;

static CURSOR: AtomicU32 = AtomicU32::new(0);

/// A loopback TCP port outside the ephemeral range that could be bound just now (TCP and
/// UDP-free is not checked: callers bind TCP).
pub fn free_port() -> u16 {
    let span = HIGH - LOW;
    if CURSOR.load(Ordering::Relaxed) == 0 {
        // Processes running side by side start far apart.
        let seed = std::process::id().wrapping_mul(2_654_435_761) % span;
        let _ = CURSOR.compare_exchange(0, seed.max(1), Ordering::Relaxed, Ordering::Relaxed);
    }
    for _ in 0..span {
        let n = CURSOR.fetch_add(1, Ordering::Relaxed);
        let port = (LOW + n % span) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {LOW}..{HIGH}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_outside_the_ephemeral_range_and_bindable() {
        let ports: Vec<u16> = (0..50).map(|_| free_port()).collect();
        let mut sorted = ports.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), ports.len(), "{ports:?}");
        for p in ports {
            assert!((LOW..HIGH).contains(&u32::from(p)), "{p}");
            TcpListener::bind(("127.0.0.1", p)).unwrap();
        }
    }
}
