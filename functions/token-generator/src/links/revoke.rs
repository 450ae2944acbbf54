//! `DELETE /rooms/{room}/links/{link}`: its creator (or a moderator) revokes a stored link.

use lambda_http::http::{Request, Response, StatusCode};
use lambda_http::Body;
use livekit_lambda_shared::routes::Matched;
use livekit_lambda_shared::web::{empty_response, ErrorResponse, RequestFacts};

use livekit_lambda_shared::room_link::{self, RECORD_BY, RECORD_ROOM};

use super::creator::link_caller;
use super::refusal::LinkRefusal;
use crate::context::Context;

pub async fn revoke(
    context: &Context,
    route: &Matched<'_>,
    request: &Request<Body>,
    facts: &mut RequestFacts,
) -> Result<Response<Body>, ErrorResponse> {
    let (caller, room) = link_caller(context, route, request, facts)?;
    let link_id = route.segments.get(1).copied().unwrap_or_default();
    let store = context.link_store.as_ref().ok_or(LinkRefusal::NeedsStore("revocation"))?;
    if !room_link::is_link_id(link_id) {
        return Err(LinkRefusal::NotFound.into());
    }
    let item = store.get(&room_link::record_key(link_id)).await?.ok_or(LinkRefusal::NotFound)?;
    if item.get(RECORD_ROOM) != Some(&room) {
        return Err(LinkRefusal::NotFound.into());
    }
    if item.get(RECORD_BY) != caller.log_name().as_ref() && !caller.is_admin() {
        return Err(LinkRefusal::NotYours.into());
    }
    store.delete(&room_link::record_key(link_id)).await?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}
