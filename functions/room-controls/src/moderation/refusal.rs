//! Why a moderator control refused: each a stable code. A caller who is no moderator
//! (`moderator::NotModerator`), a participant token that proves nothing, a removed member,
//! LiveKit's API and the store refuse through their own types.

use lambda_http::http::StatusCode;
use livekit_lambda_shared::HttpError;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ModerationRefusal {
    /// A change that names nothing to change.
    #[error("nothing to do: {0}")]
    NothingToDo(&'static str),
    #[error("the participant is not in the room")]
    ParticipantNotFound,
    #[error("the participant publishes no track with that sid")]
    TrackNotFound,
    /// A moderator removing or demoting themselves: another moderator may.
    #[error("a moderator cannot {0} themselves; another moderator of the room can")]
    CannotTargetSelf(&'static str),
    #[error("the participant is not removed from this room")]
    NotRemoved,
    #[error("send the participant's LiveKit token as `Authorization: Bearer <token>`")]
    MissingToken,
}

impl HttpError for ModerationRefusal {
    fn status(&self) -> StatusCode {
        match self {
            ModerationRefusal::NothingToDo(_) => StatusCode::BAD_REQUEST,
            ModerationRefusal::ParticipantNotFound
            | ModerationRefusal::TrackNotFound
            | ModerationRefusal::NotRemoved => StatusCode::NOT_FOUND,
            ModerationRefusal::CannotTargetSelf(_) => StatusCode::CONFLICT,
            ModerationRefusal::MissingToken => StatusCode::UNAUTHORIZED,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ModerationRefusal::NothingToDo(_) => "nothing_to_do",
            ModerationRefusal::ParticipantNotFound => "participant_not_found",
            ModerationRefusal::TrackNotFound => "track_not_found",
            ModerationRefusal::CannotTargetSelf(_) => "cannot_target_self",
            ModerationRefusal::NotRemoved => "not_removed",
            ModerationRefusal::MissingToken => "missing_token",
        }
    }
}
