//! Why a room link was refused: each a stable code, none a LiveKit token (a link that does
//! not verify is the shared `room_link::LinkError`).

use lambda_http::http::StatusCode;
use livekit_lambda_shared::HttpError;

/// Why a link was refused: each a stable code, none a LiveKit token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkRefusal {
    #[error("a room link is required (`link` query parameter or `room_link` body field)")]
    Required,
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
    #[error("only a moderator may create a moderator link")]
    ModeratorNotAllowed,
    #[error("a guest's identity is chosen by the server; leave `participant_identity` out")]
    IdentityChosenByServer,
    #[error("the link request is invalid: {0}")]
    BadRequest(String),
    /// The link says its guest waits for a moderator (`"admission": "knock"`).
    #[error("this link admits its guest through the waiting room: knock at /guest/lobby")]
    KnockRequired,
}

impl HttpError for LinkRefusal {
    fn status(&self) -> StatusCode {
        match self {
            LinkRefusal::Required => StatusCode::UNAUTHORIZED,
            LinkRefusal::WrongRoom
            | LinkRefusal::NotYours
            | LinkRefusal::ModeratorNotAllowed
            | LinkRefusal::IdentityChosenByServer
            | LinkRefusal::KnockRequired => StatusCode::FORBIDDEN,
            LinkRefusal::UsedUp | LinkRefusal::Revoked => StatusCode::GONE,
            LinkRefusal::NotFound => StatusCode::NOT_FOUND,
            LinkRefusal::NeedsStore(_) => StatusCode::NOT_IMPLEMENTED,
            LinkRefusal::BadRequest(_) => StatusCode::BAD_REQUEST,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            LinkRefusal::Required => "link_required",
            LinkRefusal::WrongRoom => "link_wrong_room",
            LinkRefusal::UsedUp => "link_used_up",
            LinkRefusal::Revoked => "link_revoked",
            LinkRefusal::NotFound => "link_not_found",
            LinkRefusal::NotYours => "link_not_yours",
            LinkRefusal::NeedsStore(_) => "link_state_unavailable",
            LinkRefusal::ModeratorNotAllowed => "role_not_allowed",
            LinkRefusal::IdentityChosenByServer => "field_not_allowed",
            LinkRefusal::BadRequest(_) => "invalid_field",
            LinkRefusal::KnockRequired => "knock_required",
        }
    }
}
