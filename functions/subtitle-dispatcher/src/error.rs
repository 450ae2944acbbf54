//! The subtitle dispatcher's one error type, mapped to HTTP in one place.

use lambda_http::http::StatusCode;
use livekit_lambda_shared::livekit::ApiFailure;
use livekit_lambda_shared::state::StoreError;
use livekit_lambda_shared::token::TokenRejection;
use livekit_lambda_shared::validate::NameProblem;
use livekit_lambda_shared::web::RequestError;
use livekit_lambda_shared::ErrorResponse;

#[derive(Debug, thiserror::Error)]
pub enum SubtitleError {
    #[error(transparent)]
    Shared(#[from] livekit_lambda_shared::Error),
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error("room name {0}")]
    InvalidRoom(NameProblem),
    #[error("send the participant's LiveKit token as `Authorization: Bearer <token>`")]
    MissingToken,
    #[error("{0}")]
    Token(TokenRejection),
    #[error("request body must be application/json")]
    UnsupportedMediaType,
    #[error("request body is not valid: {0}")]
    InvalidBody(String),
    #[error("language `{0}` is not offered")]
    LanguageNotAllowed(String),
    #[error("too many subtitle requests; retry in {0} s")]
    RateLimited(u64),
    #[error("room `{0}` does not exist (nobody is in it)")]
    RoomNotFound(String),
    #[error("the caller is not in the room")]
    NotInRoom,
    #[error("subtitles are not running in this room")]
    NotRunning,
    #[error("LiveKit API: {0}")]
    LiveKit(ApiFailure),
    /// The fleet's state store (the per-identity limit) is throttled or down.
    #[error("{0}")]
    StateUnavailable(#[from] StoreError),
}

/// The one place a subtitle-dispatcher error becomes what the caller sees.
impl From<SubtitleError> for ErrorResponse {
    fn from(error: SubtitleError) -> Self {
        let (status, code) = match &error {
            SubtitleError::Shared(shared) => return shared.clone().into(),
            SubtitleError::Request(request) => return request.clone().into(),
            SubtitleError::InvalidRoom(_) => (StatusCode::BAD_REQUEST, "invalid_room"),
            SubtitleError::MissingToken => (StatusCode::UNAUTHORIZED, "missing_token"),
            SubtitleError::Token(TokenRejection::Invalid | TokenRejection::UnknownIssuer) => {
                (StatusCode::UNAUTHORIZED, "invalid_token")
            }
            SubtitleError::Token(TokenRejection::NoRoomJoin) => (StatusCode::FORBIDDEN, "room_join_required"),
            SubtitleError::Token(TokenRejection::WrongRoom) => (StatusCode::FORBIDDEN, "token_for_another_room"),
            SubtitleError::UnsupportedMediaType => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            SubtitleError::InvalidBody(_) => (StatusCode::BAD_REQUEST, "invalid_body"),
            SubtitleError::LanguageNotAllowed(_) => (StatusCode::BAD_REQUEST, "language_not_allowed"),
            SubtitleError::RateLimited(seconds) => {
                return ErrorResponse::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", error.to_string())
                    .retry_after(*seconds)
            }
            SubtitleError::RoomNotFound(_) => (StatusCode::NOT_FOUND, "room_not_found"),
            SubtitleError::NotInRoom => (StatusCode::FORBIDDEN, "not_in_room"),
            SubtitleError::NotRunning => (StatusCode::NOT_FOUND, "subtitles_not_running"),
            // LiveKit's own state is not the caller's business: a fixed message.
            SubtitleError::LiveKit(failure) if failure.transient => {
                return ErrorResponse::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "livekit_unavailable",
                    "LiveKit's API is unavailable; retry later",
                )
                .with_detail(&error)
            }
            SubtitleError::StateUnavailable(store) => return store.clone().into(),
            SubtitleError::LiveKit(_) => {
                return ErrorResponse::new(
                    StatusCode::BAD_GATEWAY,
                    "livekit_error",
                    "LiveKit's API refused the request",
                )
                .with_detail(&error)
            }
        };
        ErrorResponse::new(status, code, error.to_string())
    }
}
