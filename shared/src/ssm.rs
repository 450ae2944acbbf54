//! Reads the LiveKit credentials from SSM Parameter Store in one batched call, and
//! retries it the way a burst of cold starts needs (issue 15, docs/large-meetings.md).
//!
//! SSM answers 40 GetParameters per second per account and Region by default and
//! `ThrottlingException` above it. When hundreds of execution environments start at once
//! most first calls are throttled, so a throttled call is retried with exponential backoff
//! and full jitter until a time budget is spent: `SSM_INIT_BUDGET_MS` inside Lambda's 10 s
//! init phase, then `SSM_REQUEST_BUDGET_MS` inside the first request (below the function
//! timeout). An SSM that is down is not worth that wait: a refused connection or a 5xx is
//! retried `SSM_FAULT_RETRIES` times, a call that times out (`SSM_TIMEOUT_MS`) not at all.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_ssm::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ssm::operation::get_parameters::{GetParametersError, GetParametersOutput};
use aws_sdk_ssm::types::ParameterType;

use crate::credentials::Credentials;
use crate::error::Error;
use crate::keys::{KeySet, KeySetError};
use crate::secret::Secret;
use crate::settings::EnvSettings;

/// Default share of Lambda's 10 s init phase spent waiting for a throttled SSM.
pub const DEFAULT_INIT_BUDGET_MS: u64 = 8_000;
/// Default time the first request may go on waiting for a throttled SSM (the template's
/// function timeout is 20 s; 8 s + 15 s stays inside API Gateway's 30 s).
pub const DEFAULT_REQUEST_BUDGET_MS: u64 = 15_000;

/// Time left for the last call of a budget (a GetParameters answer takes milliseconds).
const LAST_CALL: Duration = Duration::from_millis(100);

/// Who retries a GetParameters call, and how (`SSM_RETRY_MODE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryMode {
    /// `budget` (the only mode of a production build): our loop, exponential backoff with
    /// full jitter while SSM throttles, within the init and request budgets; the SDK makes
    /// one attempt per call.
    Budget,
    /// `legacy`: what this project did before issue 15: the SDK's standard retry with two
    /// attempts, everything within `SSM_TIMEOUT_MS`. Measurement only (`measure` feature:
    /// the burst simulation and its test build it, a deployed function does not).
    #[cfg(feature = "measure")]
    Legacy,
    /// `standard` / `adaptive`: the AWS SDK's own retry strategies with `SSM_MAX_ATTEMPTS`
    /// attempts (1 s initial backoff, 20 s max, full jitter, client-side retry budget),
    /// bounded by the same init and request budgets. Measurement only, as `Legacy`.
    #[cfg(feature = "measure")]
    SdkStandard,
    #[cfg(feature = "measure")]
    SdkAdaptive,
}

impl RetryMode {
    fn from_env(env: &EnvSettings) -> Result<Self, Error> {
        let mode = env.non_empty("SSM_RETRY_MODE").map(|m| m.to_ascii_lowercase());
        match mode.as_deref() {
            None | Some("budget") => Ok(RetryMode::Budget),
            #[cfg(feature = "measure")]
            Some("legacy") => Ok(RetryMode::Legacy),
            #[cfg(feature = "measure")]
            Some("standard") => Ok(RetryMode::SdkStandard),
            #[cfg(feature = "measure")]
            Some("adaptive") => Ok(RetryMode::SdkAdaptive),
            #[cfg(not(feature = "measure"))]
            Some(other @ ("legacy" | "standard" | "adaptive")) => Err(Error::config(
                "SSM_RETRY_MODE",
                format!("`{other}` is a measurement mode, built only with the `measure` feature; use `budget`"),
            )),
            Some(other) => Err(Error::config(
                "SSM_RETRY_MODE",
                format!("must be one of budget, legacy, standard, adaptive, got `{other}`"),
            )),
        }
    }
}

/// How GetParameters is retried; read once at start-up (see docs/large-meetings.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub mode: RetryMode,
    /// `SSM_TIMEOUT_MS`: bound on one attempt (a stuck SSM is not waited for twice).
    pub attempt_timeout: Duration,
    /// `SSM_INIT_BUDGET_MS`: how long the cold start's fetch may retry during init.
    pub init_budget: Duration,
    /// `SSM_REQUEST_BUDGET_MS`: how long a request without credentials may retry.
    pub request_budget: Duration,
    /// `SSM_RETRY_BASE_MS` / `SSM_RETRY_CAP_MS`: backoff before retry n is uniformly
    /// random in [0, min(cap, base * 2^n)] ("full jitter").
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// `SSM_FAULT_RETRIES`: retries of a refused connection or a 5xx (SSM down, not busy).
    pub fault_retries: u32,
    /// `SSM_MAX_ATTEMPTS`: attempts of the SDK's own strategies (`standard`, `adaptive`).
    pub sdk_max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            mode: RetryMode::Budget,
            attempt_timeout: Duration::from_millis(3_000),
            init_budget: Duration::from_millis(DEFAULT_INIT_BUDGET_MS),
            request_budget: Duration::from_millis(DEFAULT_REQUEST_BUDGET_MS),
            backoff_base: Duration::from_millis(100),
            backoff_cap: Duration::from_millis(2_000),
            fault_retries: 1,
            sdk_max_attempts: 10,
        }
    }
}

impl RetryPolicy {
    pub fn from_env(env: &EnvSettings) -> Result<Self, Error> {
        let defaults = Self::default();
        let mode = RetryMode::from_env(env)?;
        let policy = Self {
            mode,
            attempt_timeout: env.duration_millis("SSM_TIMEOUT_MS", 3_000, 100..=60_000)?,
            init_budget: env.duration_millis("SSM_INIT_BUDGET_MS", DEFAULT_INIT_BUDGET_MS, 0..=9_500)?,
            request_budget: env.duration_millis("SSM_REQUEST_BUDGET_MS", DEFAULT_REQUEST_BUDGET_MS, 0..=28_000)?,
            backoff_base: env.duration_millis("SSM_RETRY_BASE_MS", 100, 1..=10_000)?,
            backoff_cap: env.duration_millis("SSM_RETRY_CAP_MS", 2_000, 1..=20_000)?,
            fault_retries: env.u64_in("SSM_FAULT_RETRIES", u64::from(defaults.fault_retries), 0..=5)? as u32,
            sdk_max_attempts: env.u64_in("SSM_MAX_ATTEMPTS", u64::from(defaults.sdk_max_attempts), 1..=50)? as u32,
        };
        if policy.backoff_cap < policy.backoff_base {
            return Err(Error::config("SSM_RETRY_CAP_MS", "must not be below SSM_RETRY_BASE_MS"));
        }
        Ok(policy)
    }

    /// The backoff before the retry that follows `failures` consecutive throttled calls:
    /// uniformly random in [0, min(cap, base * 2^failures)].
    pub fn backoff(&self, failures: u32) -> Duration {
        let ceiling = self.backoff_base.saturating_mul(1u32 << failures.min(20)).min(self.backoff_cap);
        ceiling.mul_f64(random_fraction())
    }
}

/// A uniformly random number in [0, 1) from the operating system's CSPRNG (jitter only).
fn random_fraction() -> f64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// The production SDK configuration: ring HTTPS client, `timeout` per attempt and per
/// operation (a cold start never hangs on SSM), one attempt: [`SsmParameters`] retries.
/// Tests add an endpoint.
pub fn aws_config_loader(timeout: Duration) -> aws_config::ConfigLoader {
    aws_config_loader_for(&RetryPolicy { attempt_timeout: timeout, ..RetryPolicy::default() })
}

/// The SDK configuration for a retry policy: the SDK retries only in the measurement modes
/// (`legacy`, `standard`, `adaptive`).
pub fn aws_config_loader_for(policy: &RetryPolicy) -> aws_config::ConfigLoader {
    use aws_config::retry::RetryConfig;
    let timeout = policy.attempt_timeout;
    let (retry, operation_timeout) = match policy.mode {
        RetryMode::Budget => (RetryConfig::standard().with_max_attempts(1), timeout),
        #[cfg(feature = "measure")]
        RetryMode::Legacy => (RetryConfig::standard().with_max_attempts(2), timeout),
        #[cfg(feature = "measure")]
        RetryMode::SdkStandard => (
            RetryConfig::standard().with_max_attempts(policy.sdk_max_attempts),
            policy.init_budget.max(policy.request_budget),
        ),
        #[cfg(feature = "measure")]
        RetryMode::SdkAdaptive => (
            RetryConfig::adaptive().with_max_attempts(policy.sdk_max_attempts),
            policy.init_budget.max(policy.request_budget),
        ),
    };
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(timeout.min(Duration::from_secs(2)))
        .operation_attempt_timeout(timeout)
        .operation_timeout(operation_timeout)
        .build();
    crate::aws::config_loader(timeouts, retry)
}

/// What a failed GetParameters call says about SSM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Failure {
    /// SSM is busy (`ThrottlingException`, 429): worth waiting for, within the budget.
    Throttled,
    /// Refused connection, broken response, 5xx: SSM is down or failing; a few retries.
    Fault,
    /// No answer within the attempt timeout: not waited for twice.
    Timeout,
    /// Anything else (access denied, validation): retrying cannot help.
    Permanent,
}

type GetParametersFailure = SdkError<GetParametersError, aws_sdk_ssm::config::http::HttpResponse>;

fn classify(error: &GetParametersFailure) -> Failure {
    match error {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or_default();
            if aws_runtime::retries::classifiers::THROTTLING_ERRORS.contains(&code)
                || service.raw().status().as_u16() == 429
            {
                Failure::Throttled
            } else if service.raw().status().is_server_error() {
                Failure::Fault
            } else {
                Failure::Permanent
            }
        }
        SdkError::TimeoutError(_) => Failure::Timeout,
        SdkError::DispatchFailure(dispatch) if dispatch.is_timeout() => Failure::Timeout,
        SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => Failure::Fault,
        _ => Failure::Permanent,
    }
}

/// The parameter names under one prefix, e.g. `/dissertation-editor/livekit/api-key`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParameterNames {
    /// The current key and its secret in one SecureString (`KEY: secret`, LiveKit's own
    /// format), so a rotation switches both in one write and no read sees half of it
    /// (issue 28). When present it wins over `api-key` and `api-secret`, which deployments
    /// made before it keep.
    pub current_key: String,
    pub api_key: String,
    pub api_secret: String,
    pub url: String,
    /// Optional: the https URL for server-side API calls, when it differs from `url`.
    pub api_url: String,
    /// Optional: the keys that verify, in LiveKit's `key: secret` format (SecureString).
    pub api_keys: String,
    /// Optional: room links' own keys, same format, the first listed signs (SecureString).
    pub room_link_keys: String,
}

impl ParameterNames {
    pub fn under(prefix: &str) -> Self {
        let prefix = prefix.trim().trim_end_matches('/');
        Self {
            current_key: format!("{prefix}/current-key"),
            api_key: format!("{prefix}/api-key"),
            api_secret: format!("{prefix}/api-secret"),
            url: format!("{prefix}/url"),
            api_url: format!("{prefix}/api-url"),
            api_keys: format!("{prefix}/api-keys"),
            room_link_keys: format!("{prefix}/room-link-keys"),
        }
    }

    /// What one `GetParameters` call asks for (at most 10 names per call).
    pub fn requested(&self, verifier_keys: bool, room_link_keys: bool) -> Vec<String> {
        let mut names = vec![
            self.current_key.clone(),
            self.api_key.clone(),
            self.api_secret.clone(),
            self.url.clone(),
            self.api_url.clone(),
        ];
        if verifier_keys {
            names.push(self.api_keys.clone());
        }
        if room_link_keys {
            names.push(self.room_link_keys.clone());
        }
        names
    }
}

/// An SSM client (built once per cold start), the names it reads and how it retries.
#[derive(Clone, Debug)]
pub struct SsmParameters {
    client: aws_sdk_ssm::Client,
    names: ParameterNames,
    policy: RetryPolicy,
    stats: Arc<FetchStats>,
    /// Whether `api-keys` is read too (every function that verifies LiveKit tokens).
    verifier_keys: bool,
    /// Whether `room-link-keys` is read too (the token generator with room links on).
    room_link_keys: bool,
}

/// Counters kept across fetches: the backoff goes on growing from the init phase into the
/// first request instead of starting small again (no second herd).
#[derive(Debug, Default)]
struct FetchStats {
    /// Throttled calls since the last success.
    throttled_in_a_row: AtomicU32,
    /// Every GetParameters call this process made.
    calls: AtomicU64,
}

/// The budget a fetch may spend on throttling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Budget {
    /// Lambda's init phase: `SSM_INIT_BUDGET_MS`.
    Init,
    /// A request that has no credentials yet: `SSM_REQUEST_BUDGET_MS`.
    Request,
    /// One call, no retries of our own: a refresh while good credentials are still cached.
    Once,
}

impl SsmParameters {
    /// Reads the current key, secret and URLs, and the keys that verify (`api-keys`), with
    /// the default retry policy (tests pass their own client).
    pub fn new(client: aws_sdk_ssm::Client, prefix: &str) -> Self {
        Self::with_policy(client, prefix, RetryPolicy::default())
    }

    pub fn with_policy(client: aws_sdk_ssm::Client, prefix: &str, policy: RetryPolicy) -> Self {
        Self {
            client,
            names: ParameterNames::under(prefix),
            policy,
            stats: Arc::default(),
            verifier_keys: true,
            room_link_keys: false,
        }
    }

    /// Leaves `api-keys` out: for a function that only signs.
    pub fn signing_only(self) -> Self {
        Self { verifier_keys: false, ..self }
    }

    /// Reads `room-link-keys` too: for the function that signs and redeems room links.
    pub fn with_room_link_keys(self) -> Self {
        Self { room_link_keys: true, ..self }
    }

    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Builds the client from the usual AWS environment (region, credentials,
    /// `AWS_ENDPOINT_URL`), with a bounded time per call so a cold start never hangs.
    pub async fn from_aws_env(prefix: &str, policy: RetryPolicy) -> Result<Self, Error> {
        crate::telemetry::init_phase("settings");
        let config = aws_config_loader_for(&policy).load().await;
        crate::telemetry::init_phase("aws_config");
        if config.region().is_none() {
            return Err(Error::config(
                "AWS_REGION",
                "is required to read LiveKit credentials from SSM (LIVEKIT_SSM_PREFIX is set)",
            ));
        }
        let client = aws_sdk_ssm::Client::new(&config);
        crate::telemetry::init_phase("ssm_client");
        Ok(Self::with_policy(client, prefix, policy))
    }

    /// Fetches within the request budget (see [`SsmParameters::fetch_within`]).
    pub async fn fetch(&self) -> Result<Credentials, Error> {
        self.fetch_within(Budget::Request).await
    }

    /// Fetches the credentials, retrying as the policy says within `budget`: throttling
    /// until the budget is spent, faults `fault_retries` times, timeouts never.
    pub async fn fetch_within(&self, budget: Budget) -> Result<Credentials, Error> {
        let started = Instant::now();
        let (retries_throttling, limit) = match (self.policy.mode, budget) {
            (_, Budget::Once) => (false, None),
            #[cfg(feature = "measure")]
            (RetryMode::Legacy, _) => (false, None),
            (RetryMode::Budget, Budget::Init) => (true, Some(self.policy.init_budget)),
            (RetryMode::Budget, Budget::Request) => (true, Some(self.policy.request_budget)),
            // The SDK's strategies retry inside one call; only the budget is ours.
            #[cfg(feature = "measure")]
            (_, Budget::Init) => (false, Some(self.policy.init_budget)),
            #[cfg(feature = "measure")]
            (_, Budget::Request) => (false, Some(self.policy.request_budget)),
        };
        let deadline = limit.map(|limit| started + limit);
        let (mut attempts, mut faults) = (0u32, 0u32);
        loop {
            attempts += 1;
            self.stats.calls.fetch_add(1, Ordering::Relaxed);
            let call = self.get_parameters();
            let result = match deadline {
                Some(deadline) => match tokio::time::timeout_at(deadline.into(), call).await {
                    Ok(result) => result,
                    Err(_) => {
                        crate::metrics::credential_failure(false);
                        return Err(Error::Ssm(format!(
                            "no answer within the {} ms budget ({attempts} calls)",
                            limit.unwrap_or_default().as_millis()
                        )));
                    }
                },
                None => call.await,
            };
            let error = match result {
                Ok(output) => {
                    let throttled = self.stats.throttled_in_a_row.swap(0, Ordering::Relaxed);
                    if attempts > 1 || throttled > 0 {
                        tracing::info!(
                            ssm_calls = attempts,
                            ssm_calls_total = self.stats.calls.load(Ordering::Relaxed),
                            elapsed_ms = started.elapsed().as_millis() as u64,
                            "SSM answered after retries"
                        );
                    }
                    crate::metrics::credential_fetch(started.elapsed());
                    return self.credentials_from(&output);
                }
                Err(error) => error,
            };
            let failure = classify(&error);
            crate::metrics::credential_failure(failure == Failure::Throttled);
            let message = || {
                format!("{} ({attempts} calls in {} ms)", DisplayErrorContext(&error), started.elapsed().as_millis())
            };
            let retry = match failure {
                Failure::Throttled if retries_throttling => true,
                Failure::Fault if self.policy.mode == RetryMode::Budget && faults < self.policy.fault_retries => {
                    faults += 1;
                    true
                }
                _ => false,
            };
            if failure == Failure::Throttled {
                self.stats.throttled_in_a_row.fetch_add(1, Ordering::Relaxed);
            }
            if !retry {
                return Err(Error::Ssm(message()));
            }
            let failures = if failure == Failure::Throttled {
                self.stats.throttled_in_a_row.load(Ordering::Relaxed).saturating_sub(1)
            } else {
                faults - 1
            };
            let mut pause = self.policy.backoff(failures);
            if let Some(deadline) = deadline {
                // The last call must have time to be answered; a backoff that would run past
                // that point is cut short, so the budget is used to its end.
                let last_call = deadline.checked_sub(LAST_CALL).unwrap_or(deadline);
                let now = Instant::now();
                if now >= last_call {
                    return Err(Error::Ssm(format!("{}; retry budget spent", message())));
                }
                pause = pause.min(last_call - now);
            }
            tokio::time::sleep(pause).await;
        }
    }

    async fn get_parameters(&self) -> Result<GetParametersOutput, GetParametersFailure> {
        // Names SSM does not have come back as `InvalidParameters`, not as an error: the
        // required ones are checked in `credentials_from`, `api-keys` may be absent.
        let names = self.names.requested(self.verifier_keys, self.room_link_keys);
        self.client.get_parameters().set_names(Some(names)).with_decryption(true).send().await
    }

    fn credentials_from(&self, output: &GetParametersOutput) -> Result<Credentials, Error> {
        let find = |name: &str| output.parameters().iter().find(|p| p.name() == Some(name));
        let present = |name: &str| find(name).and_then(|p| p.value()).is_some_and(|v| !v.is_empty());
        let value = |name: &str| find(name).and_then(|p| p.value()).unwrap_or_default().to_string();
        let invalid = |name: &str, e: KeySetError| Error::InvalidCredentials(format!("SSM parameter {name}: {e}"));
        let names = &self.names;
        // A secret must be encrypted at rest: a plain String parameter means a
        // mis-provisioned deployment, and failing loudly beats signing with it.
        let secure = |name: &String| match find(name).and_then(|p| p.r#type()) {
            Some(ParameterType::SecureString) => Ok(()),
            _ => Err(Error::NotSecureString(name.clone())),
        };
        let (key, secret) = if present(&names.current_key) {
            secure(&names.current_key)?;
            let pair = KeySet::parse(&value(&names.current_key)).map_err(|e| invalid(&names.current_key, e))?;
            match (pair.signing(), pair.len()) {
                (Some((key, secret)), 1) => (key.to_string(), secret.clone()),
                _ => {
                    return Err(invalid(&names.current_key, KeySetError("must hold exactly one `key: secret`".into())))
                }
            }
        } else {
            let missing: Vec<String> = [&names.api_key, &names.api_secret]
                .into_iter()
                .filter(|name| !present(name))
                .map(|name| format!("{name} (or {} with both)", names.current_key))
                .collect();
            if !missing.is_empty() {
                return Err(Error::MissingParameters(missing));
            }
            secure(&names.api_secret)?;
            (value(&names.api_key), Secret::new(value(&names.api_secret)))
        };
        if !present(&names.url) {
            return Err(Error::MissingParameters(vec![names.url.clone()]));
        }
        let api_url = find(&names.api_url).and_then(|p| p.value()).map(str::to_string);
        let credentials = Credentials::new(key, secret, &value(&names.url), api_url.as_deref())?;
        // Optional key sets: secrets again, so encrypted at rest or refused.
        let key_set = |name: &String, wanted: bool| -> Result<Option<KeySet>, Error> {
            let Some(parameter) = find(name).filter(|_| wanted) else { return Ok(None) };
            if parameter.r#type() != Some(&ParameterType::SecureString) {
                return Err(Error::NotSecureString(name.clone()));
            }
            KeySet::parse(parameter.value().unwrap_or_default()).map(Some).map_err(|e| invalid(name, e))
        };
        let credentials = match key_set(&self.names.api_keys, self.verifier_keys)? {
            Some(keys) => credentials.with_verifiers(keys).map_err(|e| invalid(&self.names.api_keys, e))?,
            None => credentials,
        };
        match key_set(&self.names.room_link_keys, self.room_link_keys)? {
            Some(keys) => credentials.with_room_link_keys(keys).map_err(|e| invalid(&self.names.room_link_keys, e)),
            None => Ok(credentials),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_full_jitter_under_an_exponential_ceiling() {
        let policy = RetryPolicy::default();
        for failures in 0..12 {
            let ceiling = (100u64 << failures).min(2_000);
            let samples: Vec<Duration> = (0..200).map(|_| policy.backoff(failures)).collect();
            assert!(samples.iter().all(|d| *d <= Duration::from_millis(ceiling)), "{failures}: {samples:?}");
            let mean = samples.iter().map(Duration::as_secs_f64).sum::<f64>() / 200.0;
            let expected = ceiling as f64 / 2000.0;
            assert!((mean - expected).abs() < expected * 0.3, "{failures}: mean {mean} vs {expected}");
        }
    }

    #[test]
    fn retry_settings_come_from_the_environment_and_name_the_variable() {
        let policy = RetryPolicy::from_env(&EnvSettings::default()).unwrap();
        assert_eq!(policy, RetryPolicy::default());
        let env = EnvSettings::from_pairs([("SSM_RETRY_MODE", "budget"), ("SSM_REQUEST_BUDGET_MS", "5000")]);
        let policy = RetryPolicy::from_env(&env).unwrap();
        assert_eq!((policy.mode, policy.request_budget), (RetryMode::Budget, Duration::from_secs(5)));
        #[cfg(feature = "measure")]
        assert_eq!(
            RetryPolicy::from_env(&EnvSettings::from_pairs([("SSM_RETRY_MODE", "legacy")])).unwrap().mode,
            RetryMode::Legacy
        );
        #[cfg(not(feature = "measure"))]
        assert!(RetryPolicy::from_env(&EnvSettings::from_pairs([("SSM_RETRY_MODE", "legacy")]))
            .unwrap_err()
            .to_string()
            .contains("measure"));
        for (name, value) in [
            ("SSM_RETRY_MODE", "aggressive"),
            ("SSM_INIT_BUDGET_MS", "12000"),
            ("SSM_REQUEST_BUDGET_MS", "60000"),
            ("SSM_RETRY_CAP_MS", "10"),
        ] {
            let error = RetryPolicy::from_env(&EnvSettings::from_pairs([(name, value)])).unwrap_err().to_string();
            assert!(error.contains(name), "{name}: {error}");
        }
    }

    #[test]
    fn names_come_from_one_prefix_with_or_without_trailing_slash() {
        let names = ParameterNames::under("/dissertation-editor/livekit/");
        assert_eq!(names.api_key, "/dissertation-editor/livekit/api-key");
        assert_eq!(names.api_secret, "/dissertation-editor/livekit/api-secret");
        assert_eq!(names.url, "/dissertation-editor/livekit/url");
        assert_eq!(names.api_url, "/dissertation-editor/livekit/api-url");
        assert_eq!(names.api_keys, "/dissertation-editor/livekit/api-keys");
        assert_eq!(names.room_link_keys, "/dissertation-editor/livekit/room-link-keys");
        assert_eq!(names.current_key, "/dissertation-editor/livekit/current-key");
        assert_eq!(names.requested(true, true).len(), 7, "one GetParameters call takes at most 10 names");
        assert!(!names.requested(false, true).contains(&names.api_keys));
        assert!(!names.requested(true, false).contains(&names.room_link_keys));
    }
}
