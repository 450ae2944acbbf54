//! Acting once per event across the fleet, with the semantics the Powertools idempotency
//! utility made standard (there is no Rust port): a conditional write takes an
//! in-progress lock that lapses with the invocation's deadline; completion stores the
//! outcome for `IDEMPOTENCY_TTL_SECONDS`; a failure releases the lock so LiveKit's retry
//! runs again; a concurrent duplicate is told to come back later (a 503, which LiveKit
//! retries) instead of acting a second time.

use std::time::Duration;

use livekit_lambda_shared::state::{now_secs, Claim, Fields, SharedStore, StoreError};

const STATUS: &str = "status";
const OUTCOME: &str = "outcome";
const IN_PROGRESS: &str = "IN_PROGRESS";
const COMPLETED: &str = "COMPLETED";

/// What [`Idempotency::begin`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Begin {
    /// Ours to act on; finish with `complete` or `release`.
    Acquired,
    /// Another invocation is acting on it right now.
    InProgress,
    /// Already done; the stored outcome (JSON).
    Completed(String),
}

#[derive(Clone, Debug)]
pub struct Idempotency {
    store: SharedStore,
    ttl: Duration,
}

impl Idempotency {
    pub fn new(store: SharedStore, ttl: Duration) -> Self {
        Self { store, ttl }
    }

    pub fn store(&self) -> &SharedStore {
        &self.store
    }

    fn expires_at(&self) -> u64 {
        now_secs() + self.ttl.as_secs()
    }

    /// Takes the lock on `key` until `lock_until_ms` (epoch ms).
    pub async fn begin(&self, key: &str, lock_until_ms: u64) -> Result<Begin, StoreError> {
        let fields = Fields::from([(STATUS.to_string(), IN_PROGRESS.to_string())]);
        Ok(match self.store.claim(key, &fields, Some(lock_until_ms), self.expires_at()).await? {
            Claim::Claimed => Begin::Acquired,
            Claim::Taken(found) if found.get(STATUS).map(String::as_str) == Some(COMPLETED) => {
                Begin::Completed(found.get(OUTCOME).cloned().unwrap_or_default())
            }
            Claim::Taken(_) => Begin::InProgress,
        })
    }

    pub async fn complete(&self, key: &str, outcome: &str) -> Result<(), StoreError> {
        let fields =
            Fields::from([(STATUS.to_string(), COMPLETED.to_string()), (OUTCOME.to_string(), outcome.to_string())]);
        self.store.put(key, &fields, self.expires_at()).await
    }

    pub async fn release(&self, key: &str) -> Result<(), StoreError> {
        self.store.delete(key).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use livekit_lambda_shared::state::{now_millis, MemoryStore};

    use super::*;

    #[tokio::test]
    async fn lock_then_complete_or_release() {
        let idempotency = Idempotency::new(Arc::new(MemoryStore::default()), Duration::from_secs(3600));
        let until = now_millis() + 10_000;
        assert_eq!(idempotency.begin("e1", until).await.unwrap(), Begin::Acquired);
        assert_eq!(idempotency.begin("e1", until).await.unwrap(), Begin::InProgress);
        idempotency.complete("e1", "[1]").await.unwrap();
        assert_eq!(idempotency.begin("e1", until).await.unwrap(), Begin::Completed("[1]".into()));

        assert_eq!(idempotency.begin("e2", until).await.unwrap(), Begin::Acquired);
        idempotency.release("e2").await.unwrap();
        assert_eq!(idempotency.begin("e2", until).await.unwrap(), Begin::Acquired, "a released lock runs again");

        // An invocation that died holding the lock: its deadline passed, the retry acts.
        assert_eq!(idempotency.begin("e3", now_millis() - 1).await.unwrap(), Begin::Acquired);
        assert_eq!(idempotency.begin("e3", until).await.unwrap(), Begin::Acquired);
    }
}
