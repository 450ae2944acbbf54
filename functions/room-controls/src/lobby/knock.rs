//! Knocking: `POST /guest/lobby` for a room link's guest whose link says they wait
//! (`"admission": "knock"`), and `POST /rooms/{room}/lobby` for a signed-in user whom the
//! room's policy keeps out. Either way the server chooses the identity (as for links), the
//! request goes into the queue, the moderators present are told, and the answer is `202`
//! with the request id and when to ask again.

use std::collections::HashMap;

use lambda_http::http::header::{HeaderValue, RETRY_AFTER};
use lambda_http::http::{Request, Response, StatusCode};
use lambda_http::Body;
use livekit_lambda_shared::auth::Caller;
use livekit_lambda_shared::membership;
use livekit_lambda_shared::random::random_id;
use livekit_lambda_shared::room_link::{self, Admission, LinkClaims, LinkError};
use livekit_lambda_shared::routes::Matched;
use livekit_lambda_shared::state::now_millis;
use livekit_lambda_shared::validate::{check_name, NameProblem};
use livekit_lambda_shared::web::{json_response, ErrorResponse, InvalidName, RequestFacts};
use serde::{Deserialize, Serialize};

use super::notice;
use super::queue::Queue;
use super::record::{self, Knocker, LobbyRequest, Status};
use super::refusal::LobbyRefusal;
use crate::context::Context;
use crate::input::{json_body, required_json_body};
use crate::moderator::room_of;

/// Largest knock body (`{"link": "<a few hundred bytes>", "name": "…"}`).
const MAX_KNOCK_BODY_BYTES: usize = 8192;

/// A guest's knock.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GuestKnock {
    link: String,
    /// The display name moderators see; the link's own name wins when it fixes one.
    name: Option<String>,
}

/// A signed-in user's knock: a display name when the token's claims give none.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserKnock {
    name: Option<String>,
}

/// `202` while a request waits, at the knock and at every poll.
#[derive(Debug, Serialize)]
pub struct Waiting<'a> {
    pub request_id: &'a str,
    pub room: &'a str,
    pub status: &'static str,
    /// Ask again in this many seconds (also `Retry-After`).
    pub retry_after: u64,
    /// The request lapses if its guest does not ask again within this many seconds.
    pub heartbeat_seconds: u64,
    /// At the knock: whether a moderator is in the room to admit the guest now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moderators_present: Option<bool>,
}

impl Waiting<'_> {
    pub fn response(&self) -> Response<Body> {
        let mut response = json_response(StatusCode::ACCEPTED, self);
        if let Ok(value) = HeaderValue::from_str(&self.retry_after.to_string()) {
            response.headers_mut().insert(RETRY_AFTER, value);
        }
        response
    }
}

/// The display name moderators will see: given, visible, within the limit.
fn display_name(fixed: &str, given: Option<String>, context: &Context) -> Result<String, ErrorResponse> {
    let name = if fixed.is_empty() { given.unwrap_or_default() } else { fixed.to_string() };
    match check_name(&name, context.settings.names.0) {
        Ok(()) => Ok(name),
        // Nothing visible (blank, or only zero-width characters) is no name.
        Err(NameProblem::Empty) => Err(LobbyRefusal::NameRequired.into()),
        Err(problem) => Err(InvalidName { field: "name", problem }.into()),
    }
}

/// `POST /guest/lobby`.
pub async fn guest(
    context: &Context,
    request: &Request<Body>,
    facts: &mut RequestFacts,
) -> Result<Response<Body>, ErrorResponse> {
    let knock: GuestKnock = required_json_body(request, MAX_KNOCK_BODY_BYTES, r#"{"link": …, "name": …}"#)?;
    // A link signed by a key this container has not seen yet may come from a rotation.
    let (_, verified) = context
        .credentials
        .verify_by_issuer(
            context.settings.forced_refresh,
            |error: &LinkError| *error == LinkError::UnknownKey,
            |credentials| room_link::verify(&knock.link, &credentials.room_link_keys),
        )
        .await?;
    let claims: LinkClaims = verified?;
    facts.caller = Some(format!("link:{}", claims.jti));
    facts.room = Some(claims.room.clone());
    if claims.admission != Admission::Knock {
        return Err(LobbyRefusal::NotNeeded("this link lets its guest straight in: redeem it at /guest/token").into());
    }
    // A revoked link's record is gone (the token generator deletes it): read only.
    if claims.stored && context.store.get(&room_link::record_key(&claims.jti)).await?.is_none() {
        return Err(LobbyRefusal::LinkRevoked.into());
    }
    let name = display_name(&claims.name, knock.name, context)?;
    let mut attributes = HashMap::new();
    claims.attribute(&mut attributes);
    let identity = claims.guest_identity()?;
    // A guest a moderator removed does not knock their way back in: their link's family is
    // kept out, whatever identity this knock drew.
    membership::admit(context.store.as_ref(), &claims.room, &identity).await??;
    let handle = format!("link:{}", claims.jti);
    enqueue(context, claims.room, name, identity, Knocker::Guest, handle, attributes, facts).await
}

/// `POST /rooms/{room}/lobby`: a signed-in user the room policy keeps out.
pub async fn user(
    context: &Context,
    route: &Matched<'_>,
    request: &Request<Body>,
    facts: &mut RequestFacts,
) -> Result<Response<Body>, ErrorResponse> {
    let auth = &context.settings.auth;
    let room = room_of(context, route, facts)?;
    let caller = Caller::of(request, auth)?;
    facts.caller = caller.log_name();
    let Some((identity, claimed_name)) = caller.own_participant(auth, context.settings.names)? else {
        return Err(LobbyRefusal::UsersOnly.into());
    };
    // A member a moderator removed does not knock their way back in.
    membership::admit(context.store.as_ref(), &room, &identity).await??;
    if caller.check_room(&room, auth).is_ok() {
        return Err(LobbyRefusal::NotNeeded("you may enter this room: ask /token").into());
    }
    let knock: UserKnock = json_body(request, MAX_KNOCK_BODY_BYTES)?.unwrap_or_default();
    let name = display_name(&claimed_name, knock.name, context)?;
    let mut attributes = HashMap::new();
    caller.attribute(&mut attributes, auth);
    let identity = identity.into_string();
    let handle = identity.clone();
    enqueue(context, room, name, identity, Knocker::User, handle, attributes, facts).await
}

#[allow(clippy::too_many_arguments)]
async fn enqueue(
    context: &Context,
    room: String,
    name: String,
    identity: String,
    knocker: Knocker,
    handle: String,
    attributes: HashMap<String, String>,
    facts: &mut RequestFacts,
) -> Result<Response<Body>, ErrorResponse> {
    let lobby = &context.settings.lobby;
    let now = now_millis();
    let request = LobbyRequest {
        id: random_id(record::REQUEST_ID_CHARS)?,
        room,
        name,
        identity,
        knocker,
        handle,
        attributes,
        status: Status::Waiting,
        since_ms: now,
        seen_ms: now,
        decided_by: None,
    };
    facts.identity = Some(request.identity.clone());
    Queue::new(&context.store, lobby).enqueue(&request).await?;
    let told = match context.livekit().await {
        Ok(clients) => notice::tell_moderators(&clients, &lobby.topic, &request).await,
        Err(error) => {
            tracing::warn!(error = %error, "no LiveKit credentials to tell the moderators; the knock waits");
            0
        }
    };
    tracing::info!(room = %request.room, knocker = knocker.as_str(), moderators_told = told, "knock");
    Ok(Waiting {
        request_id: &request.id,
        room: &request.room,
        status: Status::Waiting.as_str(),
        retry_after: lobby.poll_interval.as_secs(),
        heartbeat_seconds: lobby.heartbeat_timeout.as_secs(),
        moderators_present: Some(told > 0),
    }
    .response())
}
