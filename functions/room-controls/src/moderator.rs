//! Who moderates a room: a verified caller (through the JWT authorizer that guards `/token`)
//! with the moderator scope or claim (`AUTH_ADMIN_SCOPE`, `AUTH_ADMIN_CLAIM`: the callers
//! whose tokens get `roomAdmin`), allowed into that room by the room policy
//! (`AUTH_ROOMS_CLAIM`, an application's room prefix). Every route that acts for a room's
//! moderators proves them here.

use lambda_http::http::{Request, StatusCode};
use lambda_http::Body;
use livekit_lambda_shared::auth::Caller;
use livekit_lambda_shared::routes::Matched;
use livekit_lambda_shared::web::{room_segment, ErrorResponse, RequestFacts};
use livekit_lambda_shared::HttpError;

use crate::context::Context;

/// A verified caller who is not a moderator.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("only a moderator of the room may do this")]
pub struct NotModerator;

impl HttpError for NotModerator {
    fn status(&self) -> StatusCode {
        StatusCode::FORBIDDEN
    }
    fn code(&self) -> &'static str {
        "not_moderator"
    }
}

/// The route's `{room}`, validated, in the request log line.
pub fn room_of(context: &Context, route: &Matched<'_>, facts: &mut RequestFacts) -> Result<String, ErrorResponse> {
    let room = room_segment(route, context.settings.names)?.into_string();
    facts.room = Some(room.clone());
    Ok(room)
}

/// The moderator of the route's room asking, and the room; or why they are not one: `401`
/// without a verified token, `403 not_moderator`, `403 room_not_allowed` for a moderator of
/// other rooms.
pub fn moderator_of(
    context: &Context,
    route: &Matched<'_>,
    request: &Request<Body>,
    facts: &mut RequestFacts,
) -> Result<(Caller, String), ErrorResponse> {
    let auth = &context.settings.auth;
    let room = room_of(context, route, facts)?;
    let caller = Caller::of(request, auth)?;
    facts.caller = caller.log_name();
    if !auth.enabled || !caller.is_admin() {
        return Err(NotModerator.into());
    }
    caller.check_room(&room, auth)?;
    Ok((caller, room))
}
