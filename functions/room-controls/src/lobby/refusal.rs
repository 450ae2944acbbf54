//! Why the waiting room refused: each a stable code. A link that does not verify, a caller
//! without a verified token, the store or LiveKit failing refuse through their own types.

use lambda_http::http::StatusCode;
use livekit_lambda_shared::HttpError;

use super::record::Status;

/// Seconds a guest turned away by a full waiting room waits before knocking again.
pub const FULL_RETRY_AFTER_SECS: u64 = 30;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LobbyRefusal {
    #[error("a display name is required (`name`)")]
    NameRequired,
    /// The link lets its guest straight in, or the user may enter the room.
    #[error("{0}")]
    NotNeeded(&'static str),
    #[error("only signed-in users knock here; an application mints tokens at /token")]
    UsersOnly,
    #[error("the room link has been revoked")]
    LinkRevoked,
    #[error("too many are waiting at this room; try again later")]
    RoomFull,
    #[error("this guest already has as many requests waiting as allowed")]
    TooManyRequests,
    /// A forged, foreign, or long-gone request id: nothing is said about which.
    #[error("no such waiting-room request")]
    NotFound,
    #[error("a moderator declined the request")]
    Denied,
    #[error("the request has lapsed (the guest stopped waiting, waited too long, or the meeting ended); knock again")]
    Expired,
    #[error("the token of this request was already collected")]
    Collected,
    #[error("the request was already decided: it is {0}")]
    Decided(Status),
}

impl HttpError for LobbyRefusal {
    fn status(&self) -> StatusCode {
        match self {
            LobbyRefusal::NameRequired => StatusCode::BAD_REQUEST,
            LobbyRefusal::NotNeeded(_) | LobbyRefusal::Decided(_) => StatusCode::CONFLICT,
            LobbyRefusal::UsersOnly | LobbyRefusal::Denied => StatusCode::FORBIDDEN,
            LobbyRefusal::LinkRevoked | LobbyRefusal::Expired | LobbyRefusal::Collected => StatusCode::GONE,
            LobbyRefusal::RoomFull | LobbyRefusal::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            LobbyRefusal::NotFound => StatusCode::NOT_FOUND,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            LobbyRefusal::NameRequired => "name_required",
            LobbyRefusal::NotNeeded(_) => "lobby_not_needed",
            LobbyRefusal::UsersOnly => "knock_users_only",
            LobbyRefusal::LinkRevoked => "link_revoked",
            LobbyRefusal::RoomFull => "lobby_full",
            LobbyRefusal::TooManyRequests => "too_many_requests",
            LobbyRefusal::NotFound => "lobby_request_not_found",
            LobbyRefusal::Denied => "lobby_denied",
            LobbyRefusal::Expired => "lobby_expired",
            LobbyRefusal::Collected => "lobby_collected",
            LobbyRefusal::Decided(_) => "lobby_decided",
        }
    }

    fn retry_after(&self) -> Option<u64> {
        matches!(self, LobbyRefusal::RoomFull | LobbyRefusal::TooManyRequests).then_some(FULL_RETRY_AFTER_SECS)
    }
}
