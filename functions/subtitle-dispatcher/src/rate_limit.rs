//! A small per-identity limit inside one warm container (API Gateway throttles the
//! route as a whole; this stops one participant from hammering LiveKit's API).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

/// A fixed one-minute window per key, forgotten once it has passed.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

const WINDOW: Duration = Duration::from_secs(60);
/// Bounds memory: past this many keys, expired windows are swept.
const SWEEP_AT: usize = 10_000;

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        Self { per_minute, windows: Mutex::new(HashMap::new()) }
    }

    /// `Ok` when the request may go ahead; `Err(seconds)` to wait otherwise.
    pub async fn check(&self, key: &str) -> Result<(), u64> {
        let now = Instant::now();
        let mut windows = self.windows.lock().await;
        if windows.len() >= SWEEP_AT {
            windows.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let (start, count) = windows.entry(key.to_string()).or_insert((now, 0));
        if now.duration_since(*start) >= WINDOW {
            *start = now;
            *count = 0;
        }
        if *count >= self.per_minute {
            let wait = WINDOW.saturating_sub(now.duration_since(*start)).as_secs().max(1);
            return Err(wait);
        }
        *count += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn allows_the_quota_then_says_how_long_to_wait() {
        let limiter = RateLimiter::new(2);
        assert!(limiter.check("jane").await.is_ok());
        assert!(limiter.check("jane").await.is_ok());
        let wait = limiter.check("jane").await.unwrap_err();
        assert!((1..=60).contains(&wait), "{wait}");
        assert!(limiter.check("bob").await.is_ok(), "per identity");
    }
}
