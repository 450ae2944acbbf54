//! The shared crate's one error type.

use lambda_http::http::StatusCode;

use crate::web::ErrorResponse;

#[derive(Clone, Debug, thiserror::Error)]
pub enum Error {
    /// A setting is invalid: start-up stops with this message.
    #[error("invalid configuration: {variable} {reason}")]
    Config { variable: String, reason: String },
    #[error("no LiveKit credentials are configured (set LIVEKIT_SSM_PREFIX)")]
    NotConfigured,
    #[error("SSM GetParameters failed: {0}")]
    Ssm(String),
    #[error("SSM parameters missing or empty: {}", .0.join(", "))]
    MissingParameters(Vec<String>),
    #[error("SSM parameter {0} must be a SecureString")]
    NotSecureString(String),
    #[error("invalid LiveKit credentials: {0}")]
    InvalidCredentials(String),
    #[error("could not sign the token: {0}")]
    Signing(String),
}

impl Error {
    /// The one way a setting is refused: start-up stops with a message naming the variable.
    pub fn config(variable: &str, reason: impl Into<String>) -> Self {
        Error::Config { variable: variable.to_string(), reason: reason.into() }
    }
}

/// What a caller sees: credential problems are the deployment's, never the caller's,
/// so they are a 503 with no detail beyond a stable code (the cause goes to the log).
impl From<Error> for ErrorResponse {
    fn from(error: Error) -> Self {
        let response = match &error {
            Error::Config { .. } => ErrorResponse::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "configuration_invalid",
                "the service is misconfigured",
            ),
            // SSM itself failed (throttled or down for the whole retry budget): come back soon.
            Error::Ssm(_) => credentials_unavailable().retry_after(crate::credentials::RETRY_AFTER_SECONDS),
            Error::NotConfigured
            | Error::MissingParameters(_)
            | Error::NotSecureString(_)
            | Error::InvalidCredentials(_) => credentials_unavailable(),
            Error::Signing(_) => {
                ErrorResponse::new(StatusCode::INTERNAL_SERVER_ERROR, "signing_failed", "could not sign the token")
            }
        };
        response.with_detail(error)
    }
}

fn credentials_unavailable() -> ErrorResponse {
    ErrorResponse::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "credentials_unavailable",
        "LiveKit credentials are unavailable; try again later",
    )
}
