//! `PATCH /rooms/{room}/participants/{identity}` (mute their tracks, change their role) and
//! `DELETE` (remove them, and keep them out) by a moderator of the room.

use std::collections::HashMap;

use lambda_http::http::{Request, Response, StatusCode};
use lambda_http::Body;
use livekit_api::services::room::{RemoveParticipantOptions, UpdateParticipantOptions};
use livekit_lambda_shared::attributes;
use livekit_lambda_shared::auth::Caller;
use livekit_lambda_shared::livekit::{ApiFailure, LiveKitClients};
use livekit_lambda_shared::membership;
use livekit_lambda_shared::routes::Matched;
use livekit_lambda_shared::state::now_secs;
use livekit_lambda_shared::web::{json_response, ErrorResponse, RequestFacts};
use livekit_protocol as proto;
use serde::{Deserialize, Serialize};

use super::refusal::ModerationRefusal;
use super::{identity_of, not_found_as};
use crate::context::Context;
use crate::input::json_body;
use crate::moderator::moderator_of;

/// Largest change body (`{"role": …, "mute": {"track_sid": …}}`).
const MAX_CHANGE_BODY_BYTES: usize = 1024;

/// What a moderator changes about a participant: either, or both.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Change {
    role: Option<RoleName>,
    mute: Option<Mute>,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum RoleName {
    Moderator,
    Participant,
}

/// Which of the participant's published tracks to mute: one by sid, or all of a kind.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Mute {
    Kind(MuteKind),
    Track { track_sid: String },
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum MuteKind {
    Audio,
    Video,
    All,
}

#[derive(Debug, Serialize)]
struct Changed<'a> {
    room: &'a str,
    identity: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<RoleName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    muted: Option<Vec<String>>,
}

#[derive(Debug, Serialize)]
struct Removed<'a> {
    room: &'a str,
    identity: &'a str,
    /// Whether they were in the room (a removal also keeps out someone not there now).
    was_present: bool,
    /// LiveKit refuses this participant's tokens issued before it (epoch seconds).
    revoke_token_ts: u64,
    /// Our own refusal of a new token lasts until then at most (a moderator may lift it).
    kept_out_until: String,
}

/// Whether `identity` is the moderator's own (their family, for a link's guest).
fn is_own(caller: &Caller, context: &Context, identity: &str) -> Result<bool, ErrorResponse> {
    let own = caller.own_participant(&context.settings.auth, context.settings.names)?;
    Ok(own.is_some_and(|(own, _)| membership::member_of(&own) == membership::member_of(identity)))
}

/// `PATCH /rooms/{room}/participants/{identity}`.
pub async fn change(
    context: &Context,
    route: &Matched<'_>,
    request: &Request<Body>,
    facts: &mut RequestFacts,
) -> Result<Response<Body>, ErrorResponse> {
    let (moderator, room) = moderator_of(context, route, request, facts)?;
    let identity = identity_of(context, route, facts)?;
    let change: Change = json_body(request, MAX_CHANGE_BODY_BYTES)?.unwrap_or_default();
    if change.role.is_none() && change.mute.is_none() {
        return Err(ModerationRefusal::NothingToDo("give `role` or `mute`").into());
    }
    if change.role == Some(RoleName::Participant) && is_own(&moderator, context, &identity)? {
        return Err(ModerationRefusal::CannotTargetSelf("demote").into());
    }
    let clients = context.livekit().await?;
    if let Some(role) = change.role {
        set_role(context, &clients, &room, &identity, role == RoleName::Moderator, &moderator).await?;
    }
    let muted = match &change.mute {
        Some(mute) => Some(mute_tracks(&clients, &room, &identity, mute).await?),
        None => None,
    };
    tracing::info!(room = %room, role = ?change.role, muted = muted.as_ref().map(Vec::len), "participant changed by a moderator");
    Ok(json_response(StatusCode::OK, &Changed { room: &room, identity: &identity, role: change.role, muted }))
}

/// The role attribute and the permissions that go with it, in LiveKit now, and recorded so
/// the next token minted for the participant carries it too. `roomAdmin` itself is a grant
/// of the token (LiveKit's permissions have no such flag): it comes with that next token.
async fn set_role(
    context: &Context,
    clients: &LiveKitClients,
    room: &str,
    identity: &str,
    moderator: bool,
    by: &Caller,
) -> Result<(), ErrorResponse> {
    let policy = &context.settings.policy;
    let sources = policy
        .publish_sources(moderator)
        .iter()
        .filter_map(|source| proto::TrackSource::from_str_name(&source.to_ascii_uppercase()))
        .map(|source| source as i32)
        .collect();
    let permission = proto::ParticipantPermission {
        can_subscribe: true,
        can_publish: true,
        can_publish_data: true,
        can_publish_sources: sources,
        ..Default::default()
    };
    // An empty value deletes the attribute in LiveKit.
    let role = if moderator { attributes::MODERATOR_ROLE } else { "" };
    let options = UpdateParticipantOptions {
        attributes: HashMap::from([(attributes::ROLE.to_string(), role.to_string())]),
        permission: Some(permission),
        ..Default::default()
    };
    clients.room().update_participant(room, identity, options).await.map_err(|e| {
        not_found_as(
            ApiFailure::from_service_error("RoomService.UpdateParticipant", &e),
            ModerationRefusal::ParticipantNotFound,
        )
    })?;
    // A link's guest's next token is a new identity, which their link decides: only a
    // stable identity's role is recorded.
    if !identity.starts_with(attributes::GUEST_IDENTITY_PREFIX) {
        let by = by.log_name().unwrap_or_default();
        membership::set_role(context.store.as_ref(), room, identity, moderator, &by, policy.ttl).await?;
    }
    Ok(())
}

/// Mutes the participant's published tracks that `mute` names; their sids.
async fn mute_tracks(
    clients: &LiveKitClients,
    room: &str,
    identity: &str,
    mute: &Mute,
) -> Result<Vec<String>, ErrorResponse> {
    let participant = clients.room().get_participant(room, identity).await.map_err(|e| {
        not_found_as(
            ApiFailure::from_service_error("RoomService.GetParticipant", &e),
            ModerationRefusal::ParticipantNotFound,
        )
    })?;
    let chosen: Vec<String> = participant
        .tracks
        .iter()
        .filter(|track| match mute {
            Mute::Track { track_sid } => &track.sid == track_sid,
            Mute::Kind(MuteKind::All) => true,
            Mute::Kind(MuteKind::Audio) => track.r#type == proto::TrackType::Audio as i32,
            Mute::Kind(MuteKind::Video) => track.r#type == proto::TrackType::Video as i32,
        })
        .filter(|track| !track.muted)
        .map(|track| track.sid.clone())
        .collect();
    if let Mute::Track { track_sid } = mute {
        if !participant.tracks.iter().any(|t| &t.sid == track_sid) {
            return Err(ModerationRefusal::TrackNotFound.into());
        }
    }
    for sid in &chosen {
        clients.room().mute_published_track(room, identity, sid, true).await.map_err(|e| {
            not_found_as(
                ApiFailure::from_service_error("RoomService.MutePublishedTrack", &e),
                ModerationRefusal::TrackNotFound,
            )
        })?;
    }
    Ok(chosen)
}

/// `DELETE /rooms/{room}/participants/{identity}`: recorded first (so no token is minted for
/// them from now on, on any container), then LiveKit removes them and refuses their tokens
/// issued before now.
pub async fn remove(
    context: &Context,
    route: &Matched<'_>,
    request: &Request<Body>,
    facts: &mut RequestFacts,
) -> Result<Response<Body>, ErrorResponse> {
    let (moderator, room) = moderator_of(context, route, request, facts)?;
    let identity = identity_of(context, route, facts)?;
    if is_own(&moderator, context, &identity)? {
        return Err(ModerationRefusal::CannotTargetSelf("remove").into());
    }
    let clients = context.livekit().await?;
    let at = now_secs();
    let keep_for = context.settings.policy.ttl;
    let by = moderator.log_name().unwrap_or_default();
    membership::remove(context.store.as_ref(), &room, &identity, at, &by, keep_for).await?;
    let options = RemoveParticipantOptions { revoke_token_ts: at as i64 };
    let was_present = match clients.room().remove_participant_with_options(&room, &identity, options).await {
        Ok(()) => true,
        Err(error) => {
            let failure = ApiFailure::from_service_error("RoomService.RemoveParticipant", &error);
            if !failure.is_code("not_found") {
                return Err(failure.into());
            }
            false
        }
    };
    tracing::info!(room = %room, was_present, "participant removed by a moderator");
    let until = livekit_lambda_shared::telemetry::rfc3339(((at + keep_for.as_secs()) * 1000) as i64);
    Ok(json_response(
        StatusCode::OK,
        &Removed { room: &room, identity: &identity, was_present, revoke_token_ts: at, kept_out_until: until },
    ))
}
