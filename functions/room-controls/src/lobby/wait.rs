//! Waiting: `GET` or `POST /guest/lobby/{request}`, every `retry_after` seconds, by whoever
//! knocked (the request id is the proof, as a link is for `/guest/token`). Still waiting:
//! `202` (the poll is the heartbeat). Admitted: the token, in `/token`'s shapes (`GET`: `200
//! {token, url, room, participant}`; `POST`: LiveKit's standard `201 {server_url,
//! participant_token, …}`), handed out exactly once. Denied: `403`; lapsed or collected:
//! `410`; unknown: `404`.

use lambda_http::http::{Method, Request, Response};
use lambda_http::Body;
use livekit_lambda_shared::attributes;
use livekit_lambda_shared::membership;
use livekit_lambda_shared::routes::Matched;
use livekit_lambda_shared::state::now_millis;
use livekit_lambda_shared::token::Participant;
use livekit_lambda_shared::web::{token_reply, ErrorResponse, Form, RequestFacts};

use super::knock::Waiting;
use super::queue::{Queue, Step};
use super::record::{self, LobbyRequest, Status};
use super::refusal::LobbyRefusal;
use crate::context::Context;
use crate::input::json_body;

/// Largest poll body: LiveKit's standard token request, whose fields are all fixed already.
const MAX_POLL_BODY_BYTES: usize = 16 * 1024;

pub async fn wait(
    context: &Context,
    route: &Matched<'_>,
    request: &Request<Body>,
    facts: &mut RequestFacts,
) -> Result<Response<Body>, ErrorResponse> {
    if request.method() == Method::POST {
        // Everything the token says was fixed at the knock; a body is at most a JSON object.
        json_body::<serde_json::Map<String, serde_json::Value>>(request, MAX_POLL_BODY_BYTES)?;
    }
    let lobby = &context.settings.lobby;
    let queue = Queue::new(&context.store, lobby);
    let id = route.segment().unwrap_or_default();
    let mut current = queue.load(id).await?.ok_or(LobbyRefusal::NotFound)?;
    facts.room = Some(current.room.clone());
    facts.identity = Some(current.identity.clone());
    // A request moves at most twice under one poll (waiting → admitted → collected).
    for _ in 0..3 {
        current = match current.status {
            Status::Waiting if queue.has_lapsed(&current).await? => match queue.expire(&current).await? {
                None => return Err(LobbyRefusal::Expired.into()),
                Some(moved) => moved,
            },
            Status::Waiting => {
                match queue.step(id, Status::Waiting, record::change(record::SEEN_MS, now_millis().to_string())).await?
                {
                    Step::Done(_) => {
                        return Ok(Waiting {
                            request_id: id,
                            room: &current.room,
                            status: Status::Waiting.as_str(),
                            retry_after: lobby.poll_interval.as_secs(),
                            heartbeat_seconds: lobby.heartbeat_timeout.as_secs(),
                            moderators_present: None,
                        }
                        .response())
                    }
                    Step::Moved(moved) => moved,
                    Step::Missing => return Err(LobbyRefusal::NotFound.into()),
                }
            }
            Status::Admitted => return collect(context, &queue, current, Form::of(request)).await,
            Status::Denied => return Err(LobbyRefusal::Denied.into()),
            Status::Collected => return Err(LobbyRefusal::Collected.into()),
            Status::Expired => return Err(LobbyRefusal::Expired.into()),
        };
    }
    Err(LobbyRefusal::NotFound.into())
}

/// The admitted guest's one token: collected by one step (of concurrent polls, one gets it).
async fn collect(
    context: &Context,
    queue: &Queue<'_>,
    admitted: LobbyRequest,
    form: Form,
) -> Result<Response<Body>, ErrorResponse> {
    // Credentials first: a token collected is never lost to SSM being slow. Removed since
    // the knock: no token (a moderator's later removal wins over an earlier admission).
    let credentials = context.credentials.current().await?;
    membership::admit(context.store.as_ref(), &admitted.room, &admitted.identity).await??;
    let collected = match queue
        .step(&admitted.id, Status::Admitted, record::change(record::STATUS, Status::Collected.as_str()))
        .await?
    {
        Step::Done(collected) => collected,
        Step::Moved(_) => return Err(LobbyRefusal::Collected.into()),
        Step::Missing => return Err(LobbyRefusal::NotFound.into()),
    };
    queue.release(&collected).await;
    let mut participant_attributes = collected.attributes;
    if let Some(by) = collected.decided_by {
        participant_attributes.insert(attributes::ADMITTED_BY.into(), by);
    }
    let participant = Participant {
        room: collected.room,
        identity: collected.identity,
        name: collected.name,
        attributes: participant_attributes,
        ..Participant::default()
    };
    // Whoever waits is a participant: a moderator would not have had to knock.
    let token = context.settings.policy.token(participant, false);
    token_reply(&token, &credentials, form, "lobby")
}
