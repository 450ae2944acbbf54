//! `PATCH /rooms/{room}/me`: a participant raises or lowers their hand (`auth.hand`), or
//! renames themselves, proven by their own LiveKit token for that room (as the subtitle
//! route is): our tokens never grant `canUpdateOwnMetadata`, so a participant's client can
//! set neither its attributes nor its name itself, and none can forge `auth.*` or the role.

use std::collections::HashMap;

use lambda_http::http::{Request, Response, StatusCode};
use lambda_http::Body;
use livekit_api::services::room::UpdateParticipantOptions;
use livekit_lambda_shared::attributes;
use livekit_lambda_shared::livekit::ApiFailure;
use livekit_lambda_shared::membership;
use livekit_lambda_shared::routes::Matched;
use livekit_lambda_shared::token::{verify_room_token, TokenRejection};
use livekit_lambda_shared::validate::check_name;
use livekit_lambda_shared::web::{bearer_token, json_response, ErrorResponse, InvalidName, RequestFacts};
use serde::{Deserialize, Serialize};

use super::not_found_as;
use super::refusal::ModerationRefusal;
use crate::context::Context;
use crate::input::required_json_body;
use crate::moderator::room_of;

const MAX_ME_BODY_BYTES: usize = 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MeChange {
    hand: Option<Hand>,
    name: Option<String>,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Hand {
    Raised,
    Lowered,
}

#[derive(Debug, Serialize)]
struct Me<'a> {
    room: &'a str,
    identity: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    hand: Option<Hand>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
}

pub async fn update(
    context: &Context,
    route: &Matched<'_>,
    request: &Request<Body>,
    facts: &mut RequestFacts,
) -> Result<Response<Body>, ErrorResponse> {
    let room = room_of(context, route, facts)?;
    let token = bearer_token(request.headers()).ok_or(ModerationRefusal::MissingToken)?;
    // The token must be for this room; a key this container does not know yet (a rotation)
    // gets one rate-limited re-read of SSM. Nothing reaches LiveKit before this passes.
    let (_, verified) = context
        .credentials
        .verify_by_issuer(
            context.settings.forced_refresh,
            |rejection| *rejection == TokenRejection::UnknownIssuer,
            |credentials| verify_room_token(credentials, token, &room),
        )
        .await?;
    let identity = verified?.sub;
    facts.identity = Some(identity.clone());
    let change: MeChange =
        required_json_body(request, MAX_ME_BODY_BYTES, r#"{"hand": "raised" | "lowered"} or {"name": …}"#)?;
    if change.hand.is_none() && change.name.is_none() {
        return Err(ModerationRefusal::NothingToDo("give `hand` or `name`").into());
    }
    if let Some(name) = &change.name {
        check_name(name, context.settings.names.0).map_err(|problem| InvalidName { field: "name", problem })?;
    }
    // A removed member's token may still verify; it acts no more.
    membership::admit(context.store.as_ref(), &room, &identity).await??;
    let mut options = UpdateParticipantOptions { name: change.name.clone().unwrap_or_default(), ..Default::default() };
    if let Some(hand) = change.hand {
        // An empty value deletes the attribute in LiveKit.
        let value = if hand == Hand::Raised { attributes::HAND_RAISED } else { "" };
        options.attributes = HashMap::from([(attributes::HAND.to_string(), value.to_string())]);
    }
    context.livekit().await?.room().update_participant(&room, &identity, options).await.map_err(|e| {
        let failure = ApiFailure::from_service_error("RoomService.UpdateParticipant", &e);
        not_found_as(failure, ModerationRefusal::ParticipantNotFound)
    })?;
    Ok(json_response(
        StatusCode::OK,
        &Me { room: &room, identity: &identity, hand: change.hand, name: change.name.as_deref() },
    ))
}
