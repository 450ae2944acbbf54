//! The webhook receiver's own refusals of a delivery; LiveKit's API and the fleet store
//! refuse through their own error types (retryable 503s, which LiveKit redelivers).

use lambda_http::http::StatusCode;
use livekit_lambda_shared::HttpError;

/// A concurrent duplicate's wait: the other delivery finishes within its deadline.
const IN_PROGRESS_RETRY_AFTER_SECS: u64 = 2;
/// A room end's wait for the join making the room's rule (one LiveKit call).
const DIAL_IN_RETRY_AFTER_SECS: u64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("missing Authorization header")]
    MissingAuthorization,
    /// Bad signature, wrong key, expired, or a body that does not match its `sha256` claim.
    #[error("the webhook signature is invalid")]
    InvalidSignature,
    /// Signed by a key this deployment does not know; LiveKit sees `InvalidSignature`.
    #[error("the webhook signature is invalid")]
    UnknownKey,
    #[error("webhook body is not UTF-8 text")]
    InvalidBody,
    #[error("verified webhook body is not a LiveKit event: {0}")]
    InvalidEvent(String),
    /// Another container is acting on this event right now: LiveKit retries the 503.
    #[error("this event is being handled by another delivery; retry later")]
    InProgress,
    /// A room end met the room's dial-in rule still being created by a join: LiveKit
    /// retries the 503 and then removes it.
    #[error("the room's dial-in rule is being created by another delivery; retry later")]
    DialInInProgress,
}

impl HttpError for WebhookError {
    fn status(&self) -> StatusCode {
        match self {
            WebhookError::MissingAuthorization | WebhookError::InvalidSignature | WebhookError::UnknownKey => {
                StatusCode::UNAUTHORIZED
            }
            WebhookError::InvalidBody | WebhookError::InvalidEvent(_) => StatusCode::BAD_REQUEST,
            WebhookError::InProgress | WebhookError::DialInInProgress => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            WebhookError::MissingAuthorization => "missing_authorization",
            WebhookError::InvalidSignature | WebhookError::UnknownKey => "invalid_signature",
            WebhookError::InvalidBody => "invalid_body",
            WebhookError::InvalidEvent(_) => "invalid_event",
            WebhookError::InProgress => "event_in_progress",
            WebhookError::DialInInProgress => "dial_in_in_progress",
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            WebhookError::InProgress => Some(IN_PROGRESS_RETRY_AFTER_SECS),
            WebhookError::DialInInProgress => Some(DIAL_IN_RETRY_AFTER_SECS),
            _ => None,
        }
    }
}
