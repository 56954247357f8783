//! Waiting on a condition in tests and harnesses that watch a live loop from outside.

use std::time::Duration;

/// Polls `cond` every 20 ms until it holds or `limit` has passed; its last answer.
pub async fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cond()
}
