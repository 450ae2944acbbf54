//! `POST /rooms/{room}/links`: a verified caller invites a guest into a room it may enter
//! itself; the answer is the guest's URL and the link.

use lambda_http::http::{Request, Response, StatusCode};
use lambda_http::Body;
use livekit_lambda_shared::routes::Matched;
use livekit_lambda_shared::state::{now_secs, Claim, Fields};
use livekit_lambda_shared::telemetry::rfc3339;
use livekit_lambda_shared::validate::check_name;
use livekit_lambda_shared::web::{body_within, json_response, optional_json, ErrorResponse, InvalidName, RequestFacts};
use serde::{Deserialize, Serialize};

use livekit_lambda_shared::room_link::{
    self, Admission, LinkClaims, Role, LINK_AUDIENCE, LINK_ISSUER, RECORD_BY, RECORD_ROOM,
};

use super::creator::link_caller;
use super::refusal::LinkRefusal;
use crate::context::Context;

/// `max_uses` above this is a typo, not a plan.
pub const MAX_USES: u32 = 1000;
/// Largest accepted link request body (`{"role":…,"expires_in":…,"max_uses":…,"name":…}`).
const MAX_LINK_BODY_BYTES: usize = 4096;

/// The body of `POST /rooms/{room}/links`; every field optional (`{}` or no body at all).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    #[serde(default)]
    pub role: Role,
    /// Seconds from now; at most `ROOM_LINK_MAX_TTL_SECONDS`.
    pub expires_in: Option<u64>,
    /// How many guests may redeem it (needs the fleet store).
    pub max_uses: Option<u32>,
    /// The guest's display name; otherwise the guest gives one when joining.
    pub name: Option<String>,
    /// `direct` (straight in) or `knock` (through the waiting room); default
    /// `ROOM_LINK_ADMISSION`.
    pub admission: Option<Admission>,
}

/// `POST /rooms/{room}/links` → 201.
#[derive(Debug, Serialize)]
struct LinkCreated<'a> {
    /// The guest's URL (`ROOM_LINK_URL` with the link).
    url: &'a str,
    /// The link itself, for front ends that build their own URL.
    link: &'a str,
    link_id: &'a str,
    room: &'a str,
    role: Role,
    admission: Admission,
    expires_at: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_uses: Option<u32>,
    /// Whether `max_uses` is counted and `DELETE` revokes it (the fleet store is set).
    revocable: bool,
}

pub async fn create(
    context: &Context,
    route: &Matched<'_>,
    request: &Request<Body>,
    facts: &mut RequestFacts,
) -> Result<Response<Body>, ErrorResponse> {
    let (auth, links) = (&context.settings.auth, &context.settings.links);
    let (caller, room) = link_caller(context, route, request, facts)?;
    caller.check_room(&room, auth)?;
    let ask: LinkRequest = match optional_json(request.headers(), body_within(request, MAX_LINK_BODY_BYTES)?)? {
        None => LinkRequest::default(),
        Some(json) => serde_json::from_slice(json).map_err(|e| LinkRefusal::BadRequest(e.to_string()))?,
    };
    if ask.role == Role::Moderator && !caller.is_admin() {
        return Err(LinkRefusal::ModeratorNotAllowed.into());
    }
    let ttl = ask.expires_in.unwrap_or(links.default_ttl.as_secs());
    if !(60..=links.max_ttl.as_secs()).contains(&ttl) {
        let message = format!("`expires_in` must be 60 to {} seconds", links.max_ttl.as_secs());
        return Err(LinkRefusal::BadRequest(message).into());
    }
    if let Some(uses) = ask.max_uses {
        if !(1..=MAX_USES).contains(&uses) {
            return Err(LinkRefusal::BadRequest(format!("`max_uses` must be 1 to {MAX_USES}")).into());
        }
        if context.link_store.is_none() {
            return Err(LinkRefusal::NeedsStore("`max_uses`").into());
        }
    }
    let admission = ask.admission.unwrap_or(links.default_admission);
    if admission == Admission::Knock {
        if !links.lobby {
            return Err(LinkRefusal::BadRequest("`admission: knock` needs the waiting room (LOBBY=on)".into()).into());
        }
        // Moderators decide who comes in, one by one: a count would be a second gate, and
        // a moderator who waits to be admitted has nobody to admit them.
        if ask.max_uses.is_some() {
            return Err(LinkRefusal::BadRequest(
                "a knock link takes no `max_uses`: moderators admit each guest".into(),
            )
            .into());
        }
        if ask.role == Role::Moderator {
            return Err(LinkRefusal::BadRequest("a moderator link cannot be a knock link".into()).into());
        }
    }
    let name = ask.name.unwrap_or_default();
    if !name.is_empty() {
        check_name(&name, context.settings.limits.names.0).map_err(|problem| InvalidName { field: "name", problem })?;
    }
    let credentials = context.credentials.current().await?;
    let now = now_secs();
    let claims = LinkClaims {
        iss: LINK_ISSUER.into(),
        aud: LINK_AUDIENCE.into(),
        jti: room_link::new_link_id()?,
        room,
        role: ask.role,
        name,
        by: caller.log_name().unwrap_or_default(),
        owner: caller.owner(auth),
        iat: now,
        exp: now + ttl,
        max_uses: ask.max_uses,
        stored: context.link_store.is_some(),
        admission,
    };
    let link = room_link::sign(&claims, &credentials.room_link_keys)?;
    if let Some(store) = &context.link_store {
        let item = Fields::from([(RECORD_ROOM.into(), claims.room.clone()), (RECORD_BY.into(), claims.by.clone())]);
        // A fresh 80-bit id is never taken; if it were, this link would count another's uses.
        if let Claim::Taken(_) = store.claim(&room_link::record_key(&claims.jti), &item, None, claims.exp).await? {
            return Err(LinkRefusal::BadRequest("link id collision; try again".into()).into());
        }
    }
    let url = links.url(&claims.room, &link);
    let expires_at = rfc3339(claims.exp as i64 * 1000);
    Ok(json_response(
        StatusCode::CREATED,
        &LinkCreated {
            url: &url,
            link: &link,
            link_id: &claims.jti,
            room: &claims.room,
            role: claims.role,
            admission: claims.admission,
            expires_at: &expires_at,
            max_uses: claims.max_uses,
            revocable: claims.stored,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_requests_parse_strictly() {
        let parse = |body: &str| serde_json::from_str::<LinkRequest>(body);
        assert_eq!(parse("{}").unwrap(), LinkRequest::default());
        let r = parse(r#"{"role":"moderator","expires_in":600,"max_uses":2,"name":"Client"}"#).unwrap();
        assert_eq!(parse(r#"{"admission":"knock"}"#).unwrap().admission, Some(Admission::Knock));
        assert!(parse(r#"{"admission":"wait"}"#).is_err());
        assert_eq!(
            (r.role, r.expires_in, r.max_uses, r.name.as_deref()),
            (Role::Moderator, Some(600), Some(2), Some("Client"))
        );
        assert!(parse(r#"{"role":"admin"}"#).is_err());
        assert!(parse(r#"{"rooms":"x"}"#).is_err(), "unknown fields are refused");
    }
}
