//! The single clock of the process.
//!
//! Decision timestamps (arrival, inference done, control sent) are nanoseconds on one
//! monotonic `Instant`; wall-clock milliseconds (compared with KPM collection times) are
//! derived from the same origin so the two never disagree within a run.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, Debug)]
pub struct Clock {
    origin: Instant,
    unix_origin_ms: u64,
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock {
    pub fn new() -> Self {
        let unix_origin_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Self {
            origin: Instant::now(),
            unix_origin_ms,
        }
    }

    /// Monotonic nanoseconds since the clock was made.
    pub fn now_ns(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }

    /// Unix milliseconds, advancing with the monotonic clock.
    pub fn unix_ms(&self) -> u64 {
        self.unix_origin_ms + self.origin.elapsed().as_millis() as u64
    }
}
