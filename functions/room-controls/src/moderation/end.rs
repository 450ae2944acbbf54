//! `DELETE /rooms/{room}`: a moderator ends the meeting for everyone (LiveKit's
//! `DeleteRoom`). LiveKit then sends `room_finished`, and the webhook receiver clears what
//! it clears for any finished room: the waiting room lapses, the dial-in rule goes.

use lambda_http::http::{Request, Response, StatusCode};
use lambda_http::Body;
use livekit_lambda_shared::livekit::ApiFailure;
use livekit_lambda_shared::routes::Matched;
use livekit_lambda_shared::web::{empty_response, ErrorResponse, RequestFacts};

use crate::context::Context;
use crate::moderator::moderator_of;

pub async fn end(
    context: &Context,
    route: &Matched<'_>,
    request: &Request<Body>,
    facts: &mut RequestFacts,
) -> Result<Response<Body>, ErrorResponse> {
    let (_, room) = moderator_of(context, route, request, facts)?;
    let clients = context.livekit().await?;
    match clients.room().delete_room(&room).await {
        Ok(()) => {}
        Err(error) => {
            let failure = ApiFailure::from_service_error("RoomService.DeleteRoom", &error);
            // Already over: what the moderator wanted.
            if !failure.is_code("not_found") {
                return Err(failure.into());
            }
        }
    }
    tracing::info!(room = %room, "meeting ended by a moderator");
    Ok(empty_response(StatusCode::NO_CONTENT))
}
