//! Moderator controls (issue 30, docs/moderators.md): a moderator of the room (`moderator`)
//! mutes a participant or changes their role (`participant`: `PATCH`), removes them so the
//! removal sticks (`participant`: `DELETE`, recorded in `shared::membership`, which every
//! token's minting consults) and lifts a removal (`removal`), ends the meeting (`end`); a
//! participant, proven by their own LiveKit token, raises a hand or renames themselves
//! (`me`). Each acts server side through LiveKit's RoomService, with admin tokens signed here
//! for that one room: no browser ever holds one. Refusals are `refusal`; the switch
//! `settings`.

pub mod end;
pub mod me;
pub mod participant;
pub mod refusal;
pub mod removal;
pub mod settings;

pub use refusal::ModerationRefusal;
pub use settings::ModerationSettings;

use livekit_lambda_shared::livekit::ApiFailure;
use livekit_lambda_shared::routes::Matched;
use livekit_lambda_shared::validate::Identity;
use livekit_lambda_shared::web::{decode_segment, ErrorResponse, InvalidName, RequestFacts};

use crate::context::Context;

/// LiveKit's `not_found` as our `refusal` (the participant or track is not there); any other
/// failure as LiveKit's.
pub fn not_found_as(failure: ApiFailure, refusal: ModerationRefusal) -> ErrorResponse {
    if failure.is_code("not_found") {
        refusal.into()
    } else {
        failure.into()
    }
}

/// The route's `{identity}` (the segment after the room), validated, in the log line.
pub fn identity_of(context: &Context, route: &Matched<'_>, facts: &mut RequestFacts) -> Result<String, ErrorResponse> {
    let raw = route.segments.get(1).copied().unwrap_or_default();
    let identity = Identity::parse(decode_segment(raw)?, context.settings.names)
        .map_err(|problem| InvalidName { field: "identity", problem })?
        .into_string();
    facts.identity = Some(identity.clone());
    Ok(identity)
}
