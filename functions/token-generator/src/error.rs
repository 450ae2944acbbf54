//! The token generator's one error type, mapped to HTTP in one place.

use lambda_http::http::StatusCode;
use livekit_lambda_shared::state::StoreError;
use livekit_lambda_shared::validate::NameProblem;
use livekit_lambda_shared::web::RequestError;
use livekit_lambda_shared::ErrorResponse;

use crate::links::LinkRefusal;

#[derive(Clone, Debug, thiserror::Error)]
pub enum TokenError {
    #[error(transparent)]
    Shared(#[from] livekit_lambda_shared::Error),
    /// The query string or the body's size.
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error("missing query parameter `{0}`")]
    MissingParameter(&'static str),
    #[error("`{field}` {problem}")]
    InvalidName { field: &'static str, problem: NameProblem },
    #[error("request body must be application/json")]
    UnsupportedMediaType,
    #[error("request body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("request body does not match the token request schema: {0}")]
    InvalidField(String),
    #[error("`{field}` is too large (at most {limit})")]
    TooLarge { field: &'static str, limit: String },
    #[error("agent `{0}` may not be dispatched from this endpoint")]
    AgentNotAllowed(String),
    #[error("`room_config.{0}` may not be set from this endpoint")]
    RoomConfigFieldNotAllowed(&'static str),
    #[error("`room_config.name` must be empty or equal to `room_name`")]
    RoomConfigNameMismatch,
    #[error("{0}")]
    Unauthenticated(&'static str),
    #[error("{0}")]
    InsufficientScope(String),
    #[error("{0}")]
    RoomNotAllowed(String),
    #[error("attribute `{0}` is set by the server from the verified token")]
    ReservedAttribute(String),
    #[error(transparent)]
    Link(#[from] LinkRefusal),
    #[error(transparent)]
    State(#[from] StoreError),
    #[error("room links are redeemed at /guest/token, not here")]
    LinkNotHere,
}

/// The one place a token-generator error becomes what the caller sees.
impl From<TokenError> for ErrorResponse {
    fn from(error: TokenError) -> Self {
        let (status, code) = match &error {
            TokenError::Shared(shared) => return shared.clone().into(),
            TokenError::Request(request) => return request.clone().into(),
            TokenError::MissingParameter(_) => (StatusCode::BAD_REQUEST, "missing_parameter"),
            TokenError::InvalidName { field, .. } => (StatusCode::BAD_REQUEST, invalid_code(field)),
            TokenError::UnsupportedMediaType => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            TokenError::InvalidJson(_) => (StatusCode::BAD_REQUEST, "invalid_json"),
            TokenError::InvalidField(_) => (StatusCode::BAD_REQUEST, "invalid_field"),
            TokenError::TooLarge { .. } => (StatusCode::BAD_REQUEST, "field_too_large"),
            TokenError::AgentNotAllowed(_) => (StatusCode::FORBIDDEN, "agent_not_allowed"),
            TokenError::RoomConfigFieldNotAllowed(_) => (StatusCode::FORBIDDEN, "field_not_allowed"),
            TokenError::RoomConfigNameMismatch => (StatusCode::BAD_REQUEST, "invalid_field"),
            TokenError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            TokenError::InsufficientScope(_) => (StatusCode::FORBIDDEN, "insufficient_scope"),
            TokenError::RoomNotAllowed(_) => (StatusCode::FORBIDDEN, "room_not_allowed"),
            TokenError::ReservedAttribute(_) => (StatusCode::FORBIDDEN, "field_not_allowed"),
            TokenError::Link(refusal) => {
                let (status, code) = refusal.status_and_code();
                (StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST), code)
            }
            TokenError::State(store) => return store.clone().into(),
            TokenError::LinkNotHere => (StatusCode::BAD_REQUEST, "field_not_allowed"),
        };
        ErrorResponse::new(status, code, error.to_string())
    }
}

fn invalid_code(field: &str) -> &'static str {
    match field {
        "room" | "room_name" => "invalid_room",
        "participant" | "participant_identity" => "invalid_identity",
        "participant_name" => "invalid_name",
        _ => "invalid_field",
    }
}

/// For tests that look at a refusal without giving it up.
#[cfg(test)]
pub(crate) fn response(error: &TokenError) -> ErrorResponse {
    error.clone().into()
}
