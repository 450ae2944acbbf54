//! Who creates and revokes a room link: a signed-in user, or an application holding the
//! links or the mint scope; and the route's room, which they must be allowed into.

use lambda_http::http::Request;
use lambda_http::Body;
use livekit_lambda_shared::routes::Matched;
use livekit_lambda_shared::web::{room_segment, ErrorResponse, RequestFacts};

use crate::context::Context;
use livekit_lambda_shared::auth::Caller;

/// The caller and the route's room; both go in the request log line.
pub fn link_caller(
    context: &Context,
    route: &Matched<'_>,
    request: &Request<Body>,
    facts: &mut RequestFacts,
) -> Result<(Caller, String), ErrorResponse> {
    let auth = &context.settings.auth;
    let caller = Caller::link_creator(request, auth, &[&auth.mint_scope, &context.settings.links.scope])?;
    facts.caller = caller.log_name();
    let room = room_segment(route, context.settings.limits.names)?.into_string();
    facts.room = Some(room.clone());
    Ok((caller, room))
}
