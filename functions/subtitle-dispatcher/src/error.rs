//! The subtitle dispatcher's own refusals; a participant token that proves nothing, LiveKit's
//! API and the fleet store refuse through their own error types.

use lambda_http::http::StatusCode;
use livekit_lambda_shared::HttpError;

#[derive(Debug, thiserror::Error)]
pub enum SubtitleError {
    #[error("send the participant's LiveKit token as `Authorization: Bearer <token>`")]
    MissingToken,
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
}

impl HttpError for SubtitleError {
    fn status(&self) -> StatusCode {
        match self {
            SubtitleError::MissingToken => StatusCode::UNAUTHORIZED,
            SubtitleError::InvalidBody(_) | SubtitleError::LanguageNotAllowed(_) => StatusCode::BAD_REQUEST,
            SubtitleError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            SubtitleError::RoomNotFound(_) | SubtitleError::NotRunning => StatusCode::NOT_FOUND,
            SubtitleError::NotInRoom => StatusCode::FORBIDDEN,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            SubtitleError::MissingToken => "missing_token",
            SubtitleError::InvalidBody(_) => "invalid_body",
            SubtitleError::LanguageNotAllowed(_) => "language_not_allowed",
            SubtitleError::RateLimited(_) => "rate_limited",
            SubtitleError::RoomNotFound(_) => "room_not_found",
            SubtitleError::NotInRoom => "not_in_room",
            SubtitleError::NotRunning => "subtitles_not_running",
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            SubtitleError::RateLimited(seconds) => Some(*seconds),
            _ => None,
        }
    }
}
