//! LiveKit's server API clients, built once per set of credentials and reused across
//! warm invocations, and the one place that decides whether a failed call is worth a retry.

use std::sync::Arc;
use std::time::Duration;

use livekit_api::services::agent_dispatch::AgentDispatchClient;
use livekit_api::services::room::RoomClient;
use livekit_api::services::sip::SIPClient;
use livekit_api::services::LiveKitApi;
use livekit_api::services::{ServerError, ServiceError};
use tokio::sync::Mutex;

use crate::credentials::Credentials;
use crate::error::Error;
use crate::settings::EnvSettings;

/// `LIVEKIT_API_TIMEOUT_MS` (default 3 s): the bound on each LiveKit API call, read here
/// for every function that calls LiveKit. LiveKit drops queued webhooks older than ~30 s
/// and a browser is waiting on the subtitle routes: both must answer fast.
pub fn api_timeout(env: &EnvSettings) -> Result<Duration, Error> {
    env.duration_millis("LIVEKIT_API_TIMEOUT_MS", 3000, 100..=20_000)
}

/// The clients of one LiveKit deployment (its API URL and key): livekit-api's
/// `LiveKitApi`, whose services share one HTTP client and so one connection pool.
#[derive(Debug)]
pub struct LiveKitClients {
    api: LiveKitApi,
}

impl LiveKitClients {
    fn new(credentials: &Credentials, timeout: Duration) -> Self {
        let (url, key, secret) = (&credentials.api_url, &credentials.api_key, credentials.api_secret.expose());
        // Failover retries other regions of LiveKit Cloud for several seconds; a webhook or
        // a browser waiting on us would rather get a clear error within the timeout.
        Self { api: LiveKitApi::with_api_key(url, key, secret).with_failover(false).with_request_timeout(timeout) }
    }

    pub fn room(&self) -> &RoomClient {
        self.api.room()
    }

    pub fn sip(&self) -> &SIPClient {
        self.api.sip()
    }

    pub fn dispatch(&self) -> &AgentDispatchClient {
        self.api.agent_dispatch()
    }
}

/// Builds the clients on first use and again only when the credentials change (rotation).
#[derive(Debug)]
pub struct ClientCache {
    timeout: Duration,
    cached: Mutex<Option<(Arc<Credentials>, Arc<LiveKitClients>)>>,
}

impl ClientCache {
    pub fn new(timeout: Duration) -> Self {
        Self { timeout, cached: Mutex::new(None) }
    }

    pub async fn clients(&self, credentials: &Arc<Credentials>) -> Arc<LiveKitClients> {
        let mut cached = self.cached.lock().await;
        if let Some((for_credentials, clients)) = cached.as_ref() {
            if Arc::ptr_eq(for_credentials, credentials) || **for_credentials == **credentials {
                return clients.clone();
            }
        }
        let clients = Arc::new(LiveKitClients::new(credentials, self.timeout));
        *cached = Some((credentials.clone(), clients.clone()));
        clients
    }
}

/// A failed LiveKit API call, classified once for every caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{method}: {detail}")]
pub struct ApiFailure {
    pub method: &'static str,
    /// The Twirp error code when LiveKit answered with one (`not_found`, `already_exists`, …).
    pub code: Option<String>,
    pub detail: String,
    /// Whether trying again later could succeed: LiveKit unreachable, timed out, or a 5xx.
    pub transient: bool,
}

impl ApiFailure {
    /// Classifies a failed call, and counts it (`LiveKitApiErrors` by method): every
    /// failed call passes through here, even those the caller then treats as done.
    pub fn from_service_error(method: &'static str, error: &ServiceError) -> Self {
        crate::metrics::livekit_api_error(method);
        let (code, transient) = match error {
            ServiceError::Twirp(ServerError::Twirp(twirp)) => {
                let transient = matches!(
                    twirp.code.as_str(),
                    "unavailable"
                        | "deadline_exceeded"
                        | "internal"
                        | "unknown"
                        | "resource_exhausted"
                        | "aborted"
                        | "canceled"
                );
                (Some(twirp.code.clone()), transient)
            }
            // Connection refused, timeout, TLS, or an error body that was not JSON (a proxy's 502).
            ServiceError::Twirp(ServerError::Request(_)) => (None, true),
            _ => (None, false),
        };
        Self { method, code, detail: error.to_string(), transient }
    }

    pub fn is_code(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }
}
