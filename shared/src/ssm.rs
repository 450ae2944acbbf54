//! Reads the LiveKit credentials from SSM Parameter Store in one batched call.

use std::time::Duration;

use aws_sdk_ssm::config::SharedHttpClient;
use aws_sdk_ssm::error::DisplayErrorContext;
use aws_sdk_ssm::types::ParameterType;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};

use crate::credentials::Credentials;
use crate::error::Error;
use crate::keys::KeySet;
use crate::secret::Secret;

/// The AWS SDK's HTTPS client on rustls with ring: the same crypto provider livekit-api
/// uses, so a function links one provider instead of two (smaller, faster to build).
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https()
}

/// The production SDK configuration: ring HTTPS client, `timeout` per attempt and per
/// operation (a cold start never hangs on SSM), two attempts. Tests add an endpoint.
pub fn aws_config_loader(timeout: Duration) -> aws_config::ConfigLoader {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(timeout.min(Duration::from_secs(2)))
        .operation_attempt_timeout(timeout)
        .operation_timeout(timeout)
        .build();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https_client())
        .timeout_config(timeouts)
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(2))
}

/// The parameter names under one prefix, e.g. `/dissertation-editor/livekit/api-key`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParameterNames {
    pub api_key: String,
    pub api_secret: String,
    pub url: String,
    /// Optional: the https URL for server-side API calls, when it differs from `url`.
    pub api_url: String,
    /// Optional: the keys that verify, in LiveKit's `key: secret` format (SecureString).
    pub api_keys: String,
}

impl ParameterNames {
    pub fn under(prefix: &str) -> Self {
        let prefix = prefix.trim().trim_end_matches('/');
        Self {
            api_key: format!("{prefix}/api-key"),
            api_secret: format!("{prefix}/api-secret"),
            url: format!("{prefix}/url"),
            api_url: format!("{prefix}/api-url"),
            api_keys: format!("{prefix}/api-keys"),
        }
    }

    /// What one `GetParameters` call asks for (at most 10 names per call).
    pub fn requested(&self, verifier_keys: bool) -> Vec<String> {
        let mut names = vec![self.api_key.clone(), self.api_secret.clone(), self.url.clone(), self.api_url.clone()];
        if verifier_keys {
            names.push(self.api_keys.clone());
        }
        names
    }
}

/// An SSM client (built once per cold start) and the names it reads.
#[derive(Clone, Debug)]
pub struct SsmParameters {
    client: aws_sdk_ssm::Client,
    names: ParameterNames,
    /// Whether `api-keys` is read too (every function that verifies LiveKit tokens).
    verifier_keys: bool,
}

impl SsmParameters {
    /// Reads the current key, secret and URLs, and the keys that verify (`api-keys`).
    pub fn new(client: aws_sdk_ssm::Client, prefix: &str) -> Self {
        Self { client, names: ParameterNames::under(prefix), verifier_keys: true }
    }

    /// Leaves `api-keys` out: for a function that only signs.
    pub fn signing_only(self) -> Self {
        Self { verifier_keys: false, ..self }
    }

    /// Builds the client from the usual AWS environment (region, credentials,
    /// `AWS_ENDPOINT_URL`), with a bounded time per call so a cold start never hangs.
    pub async fn from_aws_env(prefix: &str, timeout: Duration) -> Result<Self, Error> {
        let config = aws_config_loader(timeout).load().await;
        if config.region().is_none() {
            return Err(Error::config(
                "AWS_REGION",
                "is required to read LiveKit credentials from SSM (LIVEKIT_SSM_PREFIX is set)",
            ));
        }
        Ok(Self::new(aws_sdk_ssm::Client::new(&config), prefix))
    }

    /// One `GetParameters` call with decryption for all the names (four, or five with
    /// `api-keys`). Names SSM does not have come back as `InvalidParameters`, not as an
    /// error: the required ones are checked below, the optional ones may be absent.
    pub async fn fetch(&self) -> Result<Credentials, Error> {
        let output = self
            .client
            .get_parameters()
            .set_names(Some(self.names.requested(self.verifier_keys)))
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| Error::Ssm(DisplayErrorContext(&e).to_string()))?;

        let find = |name: &str| output.parameters().iter().find(|p| p.name() == Some(name));
        let missing: Vec<String> = [&self.names.api_key, &self.names.api_secret, &self.names.url]
            .into_iter()
            .filter(|name| find(name).and_then(|p| p.value()).is_none_or(str::is_empty))
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(Error::MissingParameters(missing));
        }
        let value = |name: &str| find(name).and_then(|p| p.value()).unwrap_or_default().to_string();

        // The secret must be encrypted at rest: a plain String parameter means a
        // mis-provisioned deployment, and failing loudly beats signing with it.
        let secret_type = find(&self.names.api_secret).and_then(|p| p.r#type());
        if secret_type != Some(&ParameterType::SecureString) {
            return Err(Error::NotSecureString(self.names.api_secret.clone()));
        }
        let api_url = find(&self.names.api_url).and_then(|p| p.value()).map(str::to_string);
        let credentials = Credentials::new(
            value(&self.names.api_key),
            Secret::new(value(&self.names.api_secret)),
            &value(&self.names.url),
            api_url.as_deref(),
        )?;
        let Some(api_keys) = find(&self.names.api_keys).filter(|_| self.verifier_keys) else {
            return Ok(credentials);
        };
        // Secrets again: encrypted at rest, or refused.
        if api_keys.r#type() != Some(&ParameterType::SecureString) {
            return Err(Error::NotSecureString(self.names.api_keys.clone()));
        }
        let name = &self.names.api_keys;
        KeySet::parse(api_keys.value().unwrap_or_default())
            .and_then(|keys| credentials.with_verifiers(keys))
            .map_err(|e| Error::InvalidCredentials(format!("SSM parameter {name}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_one_prefix_with_or_without_trailing_slash() {
        let names = ParameterNames::under("/dissertation-editor/livekit/");
        assert_eq!(names.api_key, "/dissertation-editor/livekit/api-key");
        assert_eq!(names.api_secret, "/dissertation-editor/livekit/api-secret");
        assert_eq!(names.url, "/dissertation-editor/livekit/url");
        assert_eq!(names.api_url, "/dissertation-editor/livekit/api-url");
        assert_eq!(names.api_keys, "/dissertation-editor/livekit/api-keys");
        assert_eq!(names.requested(true).len(), 5, "one GetParameters call takes at most 10 names");
        assert!(!names.requested(false).contains(&names.api_keys));
    }
}
