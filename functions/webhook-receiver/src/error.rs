//! The webhook receiver's one error type, mapped to HTTP in one place.

use lambda_http::http::StatusCode;
use livekit_lambda_shared::livekit::ApiFailure;
use livekit_lambda_shared::state::StoreError;
use livekit_lambda_shared::web::RequestError;
use livekit_lambda_shared::ErrorResponse;

/// A concurrent duplicate's wait: the other delivery finishes within its deadline.
const IN_PROGRESS_RETRY_AFTER_SECS: u64 = 2;
/// A room end's wait for the join making the room's rule (one LiveKit call).
const DIAL_IN_RETRY_AFTER_SECS: u64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error(transparent)]
    Shared(#[from] livekit_lambda_shared::Error),
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error("missing Authorization header")]
    MissingAuthorization,
    /// Bad signature, wrong key, expired, or a body that does not match its `sha256` claim.
    #[error("the webhook signature is invalid")]
    InvalidSignature,
    /// Signed by a key this deployment does not know; LiveKit sees `InvalidSignature`.
    #[error("the webhook signature is invalid")]
    UnknownKey,
    #[error("webhook body must be application/webhook+json")]
    UnsupportedMediaType,
    #[error("webhook body is not UTF-8 text")]
    InvalidBody,
    #[error("verified webhook body is not a LiveKit event: {0}")]
    InvalidEvent(String),
    /// LiveKit's API failed in a way a later retry may fix: LiveKit will redeliver on 5xx.
    #[error("LiveKit API unavailable: {0}")]
    LiveKitUnavailable(ApiFailure),
    /// Another container is acting on this event right now: LiveKit retries the 503.
    #[error("this event is being handled by another delivery; retry later")]
    InProgress,
    /// A room end met the room's dial-in rule still being created by a join: LiveKit
    /// retries the 503 and then removes it.
    #[error("the room's dial-in rule is being created by another delivery; retry later")]
    DialInInProgress,
    /// The fleet's state store is throttled or down: nothing was done, LiveKit retries.
    #[error("{0}")]
    StateUnavailable(StoreError),
}

/// The one place a webhook-receiver error becomes what LiveKit sees.
impl From<WebhookError> for ErrorResponse {
    fn from(error: WebhookError) -> Self {
        let (status, code) = match &error {
            WebhookError::Shared(shared) => return shared.clone().into(),
            WebhookError::Request(request) => return request.clone().into(),
            WebhookError::MissingAuthorization => (StatusCode::UNAUTHORIZED, "missing_authorization"),
            WebhookError::InvalidSignature | WebhookError::UnknownKey => {
                (StatusCode::UNAUTHORIZED, "invalid_signature")
            }
            WebhookError::UnsupportedMediaType => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            WebhookError::InvalidBody => (StatusCode::BAD_REQUEST, "invalid_body"),
            WebhookError::InvalidEvent(_) => (StatusCode::BAD_REQUEST, "invalid_event"),
            WebhookError::LiveKitUnavailable(_) => {
                return ErrorResponse::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "livekit_unavailable",
                    "LiveKit's API is unavailable; retry later",
                )
                .with_detail(&error)
            }
            WebhookError::InProgress => {
                return ErrorResponse::new(StatusCode::SERVICE_UNAVAILABLE, "event_in_progress", error.to_string())
                    .retry_after(IN_PROGRESS_RETRY_AFTER_SECS)
            }
            WebhookError::DialInInProgress => {
                return ErrorResponse::new(StatusCode::SERVICE_UNAVAILABLE, "dial_in_in_progress", error.to_string())
                    .retry_after(DIAL_IN_RETRY_AFTER_SECS)
            }
            WebhookError::StateUnavailable(store) => return store.clone().into(),
        };
        ErrorResponse::new(status, code, error.to_string())
    }
}
