//! The per-identity limit, held across the fleet (issue 14): API Gateway throttles the
//! route as a whole; this stops one participant from hammering LiveKit's API, whichever
//! containers their requests land on. One atomic counter per identity and minute in the
//! state store (`subtitles#rate#<identity>#<minute>`), deleted by its TTL.

use livekit_lambda_shared::state::{now_secs, SharedStore, StoreError};

/// A fixed one-minute window per identity.
const WINDOW_SECS: u64 = 60;

#[derive(Debug, Clone)]
pub struct RateLimiter {
    per_minute: u32,
    store: SharedStore,
}

/// The counter's key for an identity in the window that holds `now`.
fn window_key(identity: &str, now: u64) -> String {
    format!("subtitles#rate#{identity}#{}", now / WINDOW_SECS)
}

impl RateLimiter {
    pub fn new(per_minute: u32, store: SharedStore) -> Self {
        Self { per_minute, store }
    }

    /// `Ok(Ok(()))` when the request may go ahead; `Ok(Err(seconds))` to wait that long
    /// (the rest of the window); `Err` when the store cannot say (a 503, retryable).
    pub async fn check(&self, identity: &str) -> Result<Result<(), u64>, StoreError> {
        let now = now_secs();
        let window_end = (now / WINDOW_SECS + 1) * WINDOW_SECS;
        // Kept one window past its end: DynamoDB's TTL deletes late, reads never need it.
        let allowed = self.store.count(&window_key(identity, now), self.per_minute, window_end + WINDOW_SECS).await?;
        Ok(if allowed { Ok(()) } else { Err(window_end.saturating_sub(now).max(1)) })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use livekit_lambda_shared::state::MemoryStore;

    use super::*;

    #[tokio::test]
    async fn allows_the_quota_then_says_how_long_to_wait() {
        let limiter = RateLimiter::new(2, Arc::new(MemoryStore::default()));
        assert_eq!(limiter.check("jane").await.unwrap(), Ok(()));
        assert_eq!(limiter.check("jane").await.unwrap(), Ok(()));
        let wait = limiter.check("jane").await.unwrap().unwrap_err();
        assert!((1..=60).contains(&wait), "{wait}");
        assert_eq!(limiter.check("bob").await.unwrap(), Ok(()), "per identity");
    }

    #[test]
    fn a_new_minute_is_a_new_counter() {
        assert_eq!(window_key("jane", 119), "subtitles#rate#jane#1");
        assert_eq!(window_key("jane", 120), "subtitles#rate#jane#2");
    }
}
