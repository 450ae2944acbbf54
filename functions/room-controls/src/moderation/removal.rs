//! `DELETE /rooms/{room}/removals/{identity}`: a moderator of the room lets a removed member
//! back in. Their next token is minted after the removal LiveKit enforces (its `nbf` after
//! the `revoke_token_ts` the removal sent), so LiveKit accepts it at once.

use lambda_http::http::{Request, Response, StatusCode};
use lambda_http::Body;
use livekit_lambda_shared::membership;
use livekit_lambda_shared::routes::Matched;
use livekit_lambda_shared::web::{empty_response, ErrorResponse, RequestFacts};

use super::identity_of;
use super::refusal::ModerationRefusal;
use crate::context::Context;
use crate::moderator::moderator_of;

pub async fn lift(
    context: &Context,
    route: &Matched<'_>,
    request: &Request<Body>,
    facts: &mut RequestFacts,
) -> Result<Response<Body>, ErrorResponse> {
    let (_, room) = moderator_of(context, route, request, facts)?;
    let identity = identity_of(context, route, facts)?;
    if !membership::lift(context.store.as_ref(), &room, &identity).await? {
        return Err(ModerationRefusal::NotRemoved.into());
    }
    tracing::info!(room = %room, "removal lifted by a moderator");
    Ok(empty_response(StatusCode::NO_CONTENT))
}
