//! The one configuration every AWS SDK client of the functions starts from (SSM's, the
//! state store's): the SDK's HTTPS client on rustls with ring, the crypto provider
//! livekit-api's client uses too, so a function links one provider instead of two
//! (smaller, faster to build), with the caller's timeouts and retries.

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_ssm::config::SharedHttpClient;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};

/// The AWS SDK's HTTPS client on rustls with ring.
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https()
}

/// The SDK configuration from the usual AWS environment (region, credentials,
/// `AWS_ENDPOINT_URL*`), on [`https_client`], with these timeouts and retries.
pub fn config_loader(timeouts: TimeoutConfig, retry: RetryConfig) -> aws_config::ConfigLoader {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https_client())
        .timeout_config(timeouts)
        .retry_config(retry)
}
