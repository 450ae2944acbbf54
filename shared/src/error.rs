//! The shared crate's one error type. It says what went wrong, not what a caller sees:
//! `web::refusal` maps it to a status and a stable code (the HTTP layer knows the domain,
//! never the other way round).

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
