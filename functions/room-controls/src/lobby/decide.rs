//! What moderators do: `GET /rooms/{room}/lobby` lists who waits (an empty list when
//! nobody does), `PUT /rooms/{room}/lobby/{request}` with `{"decision": "admit" | "deny"}`
//! decides one request. Both by a moderator of that room (`moderator`); of two moderators
//! deciding at once, one decision is made and the other gets `409 lobby_decided`.

use lambda_http::http::{Request, Response, StatusCode};
use lambda_http::Body;
use livekit_lambda_shared::routes::Matched;
use livekit_lambda_shared::state::{now_millis, Fields};
use livekit_lambda_shared::telemetry::rfc3339;
use livekit_lambda_shared::web::{json_response, ErrorResponse, RequestFacts};
use serde::{Deserialize, Serialize};

use super::queue::{Queue, Step};
use super::record::{self, Status};
use super::refusal::LobbyRefusal;
use crate::context::Context;
use crate::input::required_json_body;
use crate::moderator::moderator_of;

/// Largest decision body (`{"decision":"admit"}`).
const MAX_DECISION_BODY_BYTES: usize = 1024;

#[derive(Debug, Serialize)]
struct WaitingGuest<'a> {
    request_id: &'a str,
    name: &'a str,
    /// `guest` (came by a room link) or `user` (signed in, not on the room's list).
    kind: &'static str,
    identity: &'a str,
    since: String,
    waited_seconds: u64,
}

#[derive(Debug, Serialize)]
struct WaitingList<'a> {
    room: &'a str,
    waiting: Vec<WaitingGuest<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionRequest {
    decision: Decision,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Decision {
    Admit,
    Deny,
}

#[derive(Debug, Serialize)]
struct Decided<'a> {
    request_id: &'a str,
    room: &'a str,
    status: &'static str,
}

/// `GET /rooms/{room}/lobby`.
pub async fn list(
    context: &Context,
    route: &Matched<'_>,
    request: &Request<Body>,
    facts: &mut RequestFacts,
) -> Result<Response<Body>, ErrorResponse> {
    let (_, room) = moderator_of(context, route, request, facts)?;
    let waiting = Queue::new(&context.store, &context.settings.lobby).waiting(&room).await?;
    let now = now_millis();
    let guests = waiting
        .iter()
        .map(|r| WaitingGuest {
            request_id: &r.id,
            name: &r.name,
            kind: r.knocker.as_str(),
            identity: &r.identity,
            since: rfc3339(r.since_ms as i64),
            waited_seconds: now.saturating_sub(r.since_ms) / 1000,
        })
        .collect();
    Ok(json_response(StatusCode::OK, &WaitingList { room: &room, waiting: guests }))
}

/// `PUT /rooms/{room}/lobby/{request}`.
pub async fn decide(
    context: &Context,
    route: &Matched<'_>,
    request: &Request<Body>,
    facts: &mut RequestFacts,
) -> Result<Response<Body>, ErrorResponse> {
    let (moderator, room) = moderator_of(context, route, request, facts)?;
    let ask: DecisionRequest =
        required_json_body(request, MAX_DECISION_BODY_BYTES, r#"{"decision": "admit"} or {"decision": "deny"}"#)?;
    let queue = Queue::new(&context.store, &context.settings.lobby);
    let id = route.segments.get(1).copied().unwrap_or_default();
    // Another room's request is no request of this room: nothing is said about it.
    let waiting = queue.load(id).await?.filter(|r| r.room == room).ok_or(LobbyRefusal::NotFound)?;
    facts.identity = Some(waiting.identity.clone());
    if waiting.status != Status::Waiting {
        return Err(LobbyRefusal::Decided(waiting.status).into());
    }
    if queue.has_lapsed(&waiting).await? {
        return Err(match queue.expire(&waiting).await? {
            None => LobbyRefusal::Expired,
            Some(moved) => LobbyRefusal::Decided(moved.status),
        }
        .into());
    }
    let outcome = match ask.decision {
        Decision::Admit => Status::Admitted,
        Decision::Deny => Status::Denied,
    };
    let changes = Fields::from([
        (record::STATUS.to_string(), outcome.as_str().to_string()),
        (record::DECIDED_BY.to_string(), moderator.log_name().unwrap_or_default()),
        (record::DECIDED_MS.to_string(), now_millis().to_string()),
    ]);
    match queue.step(id, Status::Waiting, changes).await? {
        Step::Done(decided) => {
            // It waits no more: out of the list and of its guest's count.
            queue.release(&decided).await;
            tracing::info!(room = %room, decision = outcome.as_str(), "waiting-room request decided");
            Ok(json_response(StatusCode::OK, &Decided { request_id: id, room: &room, status: outcome.as_str() }))
        }
        Step::Moved(moved) => Err(LobbyRefusal::Decided(moved.status).into()),
        Step::Missing => Err(LobbyRefusal::NotFound.into()),
    }
}
