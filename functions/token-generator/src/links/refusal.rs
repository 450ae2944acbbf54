//! Why a room link was refused: each a stable code, none a LiveKit token.

use lambda_http::http::StatusCode;
use livekit_lambda_shared::HttpError;

/// Why a link was refused: each a stable code, none a LiveKit token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkRefusal {
    #[error("a room link is required (`link` query parameter or `room_link` body field)")]
    Required,
    #[error("the room link is malformed, was altered, or was signed by a key this deployment does not hold")]
    Invalid,
    /// Signed by a key id this container does not know: perhaps one added by a rotation.
    #[error("the room link is malformed, was altered, or was signed by a key this deployment does not hold")]
    UnknownKey,
    #[error("the room link has expired; ask for a new one")]
    Expired,
    #[error("the room link is for another room")]
    WrongRoom,
    #[error("the room link has been used as many times as it allows")]
    UsedUp,
    #[error("the room link has been revoked")]
    Revoked,
    #[error("no such room link in this room")]
    NotFound,
    #[error("only the link's creator or a moderator may revoke it")]
    NotYours,
    #[error("{0} needs the fleet store (STATE_TABLE); links are stateless here")]
    NeedsStore(&'static str),
    #[error("room links are on but no room-link key is configured (`room-link-keys` in SSM, or ROOM_LINK_KEYS)")]
    KeysMissing,
    #[error("only a moderator may create a moderator link")]
    ModeratorNotAllowed,
    #[error("a guest's identity is chosen by the server; leave `participant_identity` out")]
    IdentityChosenByServer,
    #[error("the link request is invalid: {0}")]
    BadRequest(String),
}

impl HttpError for LinkRefusal {
    fn status(&self) -> StatusCode {
        match self {
            LinkRefusal::Required | LinkRefusal::Invalid | LinkRefusal::UnknownKey | LinkRefusal::Expired => {
                StatusCode::UNAUTHORIZED
            }
            LinkRefusal::WrongRoom
            | LinkRefusal::NotYours
            | LinkRefusal::ModeratorNotAllowed
            | LinkRefusal::IdentityChosenByServer => StatusCode::FORBIDDEN,
            LinkRefusal::UsedUp | LinkRefusal::Revoked => StatusCode::GONE,
            LinkRefusal::NotFound => StatusCode::NOT_FOUND,
            LinkRefusal::NeedsStore(_) => StatusCode::NOT_IMPLEMENTED,
            LinkRefusal::KeysMissing => StatusCode::SERVICE_UNAVAILABLE,
            LinkRefusal::BadRequest(_) => StatusCode::BAD_REQUEST,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            LinkRefusal::Required => "link_required",
            LinkRefusal::Invalid | LinkRefusal::UnknownKey => "link_invalid",
            LinkRefusal::Expired => "link_expired",
            LinkRefusal::WrongRoom => "link_wrong_room",
            LinkRefusal::UsedUp => "link_used_up",
            LinkRefusal::Revoked => "link_revoked",
            LinkRefusal::NotFound => "link_not_found",
            LinkRefusal::NotYours => "link_not_yours",
            LinkRefusal::NeedsStore(_) => "link_state_unavailable",
            LinkRefusal::KeysMissing => "link_keys_unavailable",
            LinkRefusal::ModeratorNotAllowed => "role_not_allowed",
            LinkRefusal::IdentityChosenByServer => "field_not_allowed",
            LinkRefusal::BadRequest(_) => "invalid_field",
        }
    }
}
