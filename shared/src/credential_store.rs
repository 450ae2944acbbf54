//! Where a function's credentials come from, decided once at start-up (SSM Parameter
//! Store, the environment, or locally LiveKit's development defaults), and how long they
//! are kept: one batched SSM call per cold start, refreshed when older than the max age,
//! the last good value while SSM fails, a rate-limited re-read for a key a rotation added.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, RwLock};

use crate::credentials::{Credentials, DEV_API_KEY, DEV_URL};
use crate::error::Error;
use crate::keys::KeySet;
use crate::secret::Secret;
use crate::settings::{EnvSettings, Runtime};
use crate::ssm::{Budget, RetryPolicy, SsmParameters};

/// Where credentials come from, decided once at start-up.
// One value per process, held by the credential store: boxing the SSM client and its
// retry policy would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum CredentialSource {
    Ssm(SsmParameters),
    Fixed(Arc<Credentials>),
    /// Nothing configured inside Lambda: every request that needs credentials gets a 503.
    Missing,
}

/// How long fetched credentials are trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CachePolicy {
    /// Refresh from SSM when the cached value is older than this.
    pub max_age: Duration,
    /// If a refresh fails, keep serving the last good value until it is this old.
    pub stale_limit: Duration,
}

impl Default for CachePolicy {
    fn default() -> Self {
        Self { max_age: Duration::from_secs(300), stale_limit: Duration::from_secs(3600) }
    }
}

struct Cached {
    credentials: Arc<Credentials>,
    fetched_at: Instant,
}

/// Credentials cached for the container's life: one batched SSM call per cold start,
/// refreshed when older than the max age, never fetched per request.
pub struct CredentialStore {
    source: CredentialSource,
    policy: CachePolicy,
    cached: RwLock<Option<Cached>>,
    // Serialises refreshes so concurrent requests (local server) cause one SSM call, not many.
    refreshing: Mutex<()>,
    // When the last forced refresh ran: forged requests must not be able to hammer SSM.
    last_forced: Mutex<Option<Instant>>,
    // After a failed refresh served stale credentials: no new SSM call before this, so a
    // busy warm container does not call a throttled SSM on every request.
    refresh_not_before: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for CredentialStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialStore").field("source", &self.source).field("policy", &self.policy).finish()
    }
}

impl CredentialStore {
    pub fn new(source: CredentialSource, policy: CachePolicy) -> Self {
        Self {
            source,
            policy,
            cached: RwLock::new(None),
            refreshing: Mutex::new(()),
            last_forced: Mutex::new(None),
            refresh_not_before: Mutex::new(None),
        }
    }

    pub fn fixed(credentials: Credentials) -> Self {
        Self::new(CredentialSource::Fixed(Arc::new(credentials)), CachePolicy::default())
    }

    /// For a function that only signs (the token generator): SSM is asked for the current
    /// key, secret and URLs, not for the keys that only verify (`api-keys`), so its role
    /// needs no access to them.
    pub fn signing_only(mut self) -> Self {
        if let CredentialSource::Ssm(parameters) = self.source {
            self.source = CredentialSource::Ssm(parameters.signing_only());
        }
        self
    }

    /// For a function that signs room links: the same batched SSM call also reads
    /// `${prefix}/room-link-keys`.
    pub fn with_room_link_keys(mut self) -> Self {
        if let CredentialSource::Ssm(parameters) = self.source {
            self.source = CredentialSource::Ssm(parameters.with_room_link_keys());
        }
        self
    }

    /// Chooses the source from the environment, in this order: SSM when
    /// `LIVEKIT_SSM_PREFIX` is set; else `LIVEKIT_API_KEY`/`LIVEKIT_API_SECRET`/`LIVEKIT_URL`;
    /// else, only locally, LiveKit's dev defaults (with a loud warning).
    pub async fn from_env(env: &EnvSettings, runtime: Runtime) -> Result<Self, Error> {
        let policy = CachePolicy {
            max_age: env.duration_secs("CREDENTIALS_MAX_AGE_SECONDS", 300, 1..=86_400)?,
            stale_limit: env.duration_secs("CREDENTIALS_STALE_LIMIT_SECONDS", 3600, 0..=7 * 86_400)?,
        };
        if let Some(prefix) = env.non_empty("LIVEKIT_SSM_PREFIX") {
            let parameters = SsmParameters::from_aws_env(&prefix, RetryPolicy::from_env(env)?).await?;
            tracing::info!(prefix = %prefix, "LiveKit credentials come from SSM Parameter Store");
            return Ok(Self::new(CredentialSource::Ssm(parameters), policy));
        }
        let key = env.non_empty("LIVEKIT_API_KEY");
        let secret = env.non_empty("LIVEKIT_API_SECRET");
        let url = env.non_empty("LIVEKIT_URL");
        let verifiers = env.non_empty("LIVEKIT_KEYS");
        if key.is_some() || secret.is_some() || url.is_some() || verifiers.is_some() {
            let missing: Vec<&str> =
                [("LIVEKIT_API_KEY", &key), ("LIVEKIT_API_SECRET", &secret), ("LIVEKIT_URL", &url)]
                    .iter()
                    .filter(|(_, v)| v.is_none())
                    .map(|(name, _)| *name)
                    .collect();
            if let Some(first) = missing.first() {
                return Err(Error::config(
                    first,
                    format!(
                        "is required when any of LIVEKIT_API_KEY, LIVEKIT_API_SECRET, LIVEKIT_URL, LIVEKIT_KEYS is set (missing: {})",
                        missing.join(", ")
                    ),
                ));
            }
            let (key, secret, url) = (key.unwrap_or_default(), secret.unwrap_or_default(), url.unwrap_or_default());
            let credentials =
                Credentials::new(key, Secret::new(secret), &url, env.non_empty("LIVEKIT_API_URL").as_deref())
                    .map_err(|e| Error::config("LIVEKIT_URL", e.to_string()))?;
            let credentials = KeySet::parse(verifiers.as_deref().unwrap_or_default())
                .and_then(|keys| credentials.with_verifiers(keys))
                .map_err(|e| Error::config("LIVEKIT_KEYS", e.to_string()))?;
            let credentials = KeySet::parse(env.non_empty("ROOM_LINK_KEYS").as_deref().unwrap_or_default())
                .and_then(|keys| credentials.with_room_link_keys(keys))
                .map_err(|e| Error::config("ROOM_LINK_KEYS", e.to_string()))?;
            tracing::info!(
                verifying_keys = credentials.verifiers.len(),
                "LiveKit credentials come from LIVEKIT_API_KEY / LIVEKIT_API_SECRET / LIVEKIT_URL (+ LIVEKIT_KEYS)"
            );
            return Ok(Self::new(CredentialSource::Fixed(Arc::new(credentials)), policy));
        }
        match runtime {
            Runtime::Local => {
                tracing::warn!(
                    api_key = DEV_API_KEY,
                    url = DEV_URL,
                    "NO CREDENTIALS CONFIGURED: using LiveKit's development defaults (livekit-server --dev). \
                     Never expose this server; set LIVEKIT_SSM_PREFIX or LIVEKIT_API_KEY/LIVEKIT_API_SECRET/LIVEKIT_URL"
                );
                Ok(Self::new(CredentialSource::Fixed(Arc::new(Credentials::development())), policy))
            }
            Runtime::Lambda => {
                tracing::error!(
                    "no LiveKit credentials configured: set LIVEKIT_SSM_PREFIX; every request needing credentials will get 503"
                );
                Ok(Self::new(CredentialSource::Missing, policy))
            }
        }
    }

    /// Loads the credentials once during the cold start (Lambda's init phase runs at full
    /// CPU), retrying a throttled SSM for up to `SSM_INIT_BUDGET_MS`; a failure is logged
    /// and the first request that needs them goes on trying (`SSM_REQUEST_BUDGET_MS`).
    pub async fn warm_up(&self) {
        if let Err(error) = self.current_within(Budget::Init).await {
            tracing::error!(error = %error, "could not load LiveKit credentials at start-up; the first request tries again");
        }
    }

    /// The current credentials: cached while fresh, refreshed when older than the max
    /// age, the last good value while a refresh fails (up to the stale limit). Without any
    /// credentials yet, a throttled SSM is retried for up to `SSM_REQUEST_BUDGET_MS`.
    pub async fn current(&self) -> Result<Arc<Credentials>, Error> {
        self.current_within(Budget::Request).await
    }

    async fn current_within(&self, budget: Budget) -> Result<Arc<Credentials>, Error> {
        let ssm = match &self.source {
            CredentialSource::Fixed(credentials) => return Ok(credentials.clone()),
            CredentialSource::Missing => return Err(Error::NotConfigured),
            CredentialSource::Ssm(ssm) => ssm,
        };
        if let Some(fresh) = self.fresh().await {
            return Ok(fresh);
        }
        if let Some(stale) = self.stale_while_backing_off().await {
            return Ok(stale);
        }
        let _guard = self.refreshing.lock().await;
        // Another request may have refreshed while this one waited for the lock.
        if let Some(fresh) = self.fresh().await {
            return Ok(fresh);
        }
        // A refresh while good credentials are cached makes one call: on failure the
        // stale value is served at once instead of keeping the caller waiting.
        let budget = if self.cached.read().await.is_some() { Budget::Once } else { budget };
        self.fetch_and_store(ssm, budget).await
    }

    async fn stale_while_backing_off(&self) -> Option<Arc<Credentials>> {
        let not_before = (*self.refresh_not_before.lock().await)?;
        if Instant::now() >= not_before {
            return None;
        }
        let cached = self.cached.read().await;
        cached.as_ref().filter(|c| c.fetched_at.elapsed() < self.policy.stale_limit).map(|c| c.credentials.clone())
    }

    /// Runs `check` (a token verification) with the current credentials. When it fails
    /// because the token's key is one this container does not know yet (`unknown_key`: a
    /// key added by a rotation), re-reads SSM once (see [`Self::force_refresh`]) and runs
    /// it again with what it finds; a known key with a bad signature is a forgery and
    /// costs no SSM call. Returns the credentials the final check used, and its result.
    pub async fn verify_by_issuer<T, E>(
        &self,
        min_interval: Duration,
        unknown_key: impl Fn(&E) -> bool,
        check: impl Fn(&Credentials) -> Result<T, E>,
    ) -> Result<(Arc<Credentials>, Result<T, E>), Error> {
        let credentials = self.current().await?;
        let verified = check(&credentials);
        if verified.as_ref().is_err_and(&unknown_key) {
            if let Some(fresh) = self.force_refresh(min_interval).await {
                let verified = check(&fresh);
                return Ok((fresh, verified));
            }
        }
        Ok((credentials, verified))
    }

    /// Re-reads SSM now, ignoring the max age, at most once per `min_interval` (later calls
    /// within the interval return `None` without any SSM call). Only for a token issued by
    /// a key the cached set does not know (a key added by a rotation); a known key with a
    /// bad signature is a forgery and must not call this. Returns the credentials only
    /// when they differ from the cached ones.
    pub async fn force_refresh(&self, min_interval: Duration) -> Option<Arc<Credentials>> {
        let CredentialSource::Ssm(ssm) = &self.source else { return None };
        {
            let mut last = self.last_forced.lock().await;
            if last.is_some_and(|at| at.elapsed() < min_interval) {
                return None;
            }
            *last = Some(Instant::now());
        }
        let _guard = self.refreshing.lock().await;
        let before = self.cached.read().await.as_ref().map(|c| c.credentials.clone());
        match ssm.fetch_within(Budget::Once).await {
            Ok(credentials) if before.as_deref() != Some(&credentials) => {
                let credentials = Arc::new(credentials);
                *self.cached.write().await =
                    Some(Cached { credentials: credentials.clone(), fetched_at: Instant::now() });
                tracing::info!("credentials changed in SSM; using the new ones");
                Some(credentials)
            }
            Ok(_) => {
                if let Some(cached) = self.cached.write().await.as_mut() {
                    cached.fetched_at = Instant::now();
                }
                None
            }
            Err(error) => {
                tracing::warn!(error = %error, "forced credential refresh failed");
                None
            }
        }
    }

    async fn fresh(&self) -> Option<Arc<Credentials>> {
        let cached = self.cached.read().await;
        cached.as_ref().filter(|c| c.fetched_at.elapsed() < self.policy.max_age).map(|c| c.credentials.clone())
    }

    async fn fetch_and_store(&self, ssm: &SsmParameters, budget: Budget) -> Result<Arc<Credentials>, Error> {
        match ssm.fetch_within(budget).await {
            Ok(credentials) => {
                let credentials = Arc::new(credentials);
                *self.cached.write().await =
                    Some(Cached { credentials: credentials.clone(), fetched_at: Instant::now() });
                *self.refresh_not_before.lock().await = None;
                Ok(credentials)
            }
            Err(error) => {
                let cached = self.cached.read().await;
                match cached.as_ref() {
                    Some(stale) if stale.fetched_at.elapsed() < self.policy.stale_limit => {
                        tracing::warn!(error = %error, age_secs = stale.fetched_at.elapsed().as_secs(), "credential refresh failed; serving the last good credentials");
                        // Jittered, so containers that failed together do not retry together.
                        let pause = Duration::from_secs(1) + ssm.policy().backoff(u32::MAX);
                        *self.refresh_not_before.lock().await = Some(Instant::now() + pause);
                        Ok(stale.credentials.clone())
                    }
                    _ => {
                        tracing::error!(error = %error, "cannot load LiveKit credentials from SSM");
                        Err(error)
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn missing_source_fails_closed() {
        let store = CredentialStore::new(CredentialSource::Missing, CachePolicy::default());
        assert!(matches!(store.current().await, Err(Error::NotConfigured)));
    }
}
