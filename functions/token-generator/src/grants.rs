//! What a caller gets: one decision per request, returned as the token to sign. A
//! signed-in user is who their token says (whatever the request names), the room must be
//! one the caller may enter, `auth.*` attributes come only from verified claims, the
//! identity of the simple form may get a suffix, and moderators get `roomAdmin` of that
//! one room with their own publish sources. The identity is decided here and nowhere else.

use std::collections::HashMap;

use livekit_lambda_shared::random::random_id;
use livekit_lambda_shared::token::{Participant, ParticipantToken};
use livekit_lambda_shared::validate::{Identity, NameLimit};
use livekit_lambda_shared::web::InvalidName;
use livekit_lambda_shared::ErrorResponse;

use crate::error::TokenError;
use crate::request::{Form, TokenRequest};
use crate::settings::TokenSettings;
use livekit_lambda_shared::auth::{AuthSettings, Caller};

/// Attribute keys the token generator writes from verified claims and room links. No caller
/// may set an `auth.` key, with authentication on or off, so a reader can trust them.
pub const ATTRIBUTE_PREFIX: &str = "auth.";
/// Attribute prefixes no caller may set: ours, LiveKit's own (`lk.`: agent state,
/// transcription, publishing on behalf) and LiveKit SIP's (`sip.`: a phone caller's number
/// and call; a browser claiming them would pass for a phone caller).
pub const RESERVED_ATTRIBUTE_PREFIXES: &[&str] = &[ATTRIBUTE_PREFIX, "lk.", "sip."];
/// A guest's identity: `guest:<link id>:<random>`, chosen by the server for room links.
pub const GUEST_PREFIX: &str = "guest:";
pub const USER_ID_ATTRIBUTE: &str = "auth.user_id";
pub const EMAIL_ATTRIBUTE: &str = "auth.email";
pub const OWNER_ATTRIBUTE: &str = "auth.owner";

const IDENTITY_SUFFIX_CHARS: usize = 6;

/// The token `caller` gets for `request`, or why it gets none.
pub fn decide(
    caller: &Caller,
    request: TokenRequest,
    settings: &TokenSettings,
) -> Result<ParticipantToken, ErrorResponse> {
    let auth = &settings.auth;
    let TokenRequest { mut participant, form } = request;
    check_reserved_attributes(&participant.attributes)?;
    match own_participant(caller, auth, settings.limits.names)? {
        Some((identity, name)) => {
            participant.identity = suffixed(&identity, settings)?;
            participant.name = name;
        }
        // The simple form's participant is a display name too: two people called Jane
        // must not kick each other out of the room.
        None => {
            check_identity_namespace(&participant.identity, auth)?;
            if form == Form::Simple {
                participant.identity = suffixed(&participant.identity, settings)?;
            }
        }
    }
    caller.check_room(&participant.room, auth)?;
    attribute(caller, &mut participant.attributes, auth);
    Ok(token(participant, caller.is_admin(), settings))
}

/// The token of `participant`: a moderator (`room_admin`) gets `roomAdmin` of that one room
/// and the moderators' publish sources, everyone else the participants'.
pub fn token(participant: Participant, room_admin: bool, settings: &TokenSettings) -> ParticipantToken {
    let sources = if room_admin { &settings.auth.admin_publish_sources } else { &settings.publish_sources };
    ParticipantToken { participant, publish_sources: sources.clone(), room_admin, ttl: settings.ttl }
}

/// A user's participant identity (`user:<sub>`) and display name (from the name claims;
/// left out when unusable); `None` for callers who name the participant.
fn own_participant(
    caller: &Caller,
    settings: &AuthSettings,
    limit: NameLimit,
) -> Result<Option<(Identity, String)>, InvalidName> {
    let Caller::User { subject, name, .. } = caller else { return Ok(None) };
    let identity = Identity::parse(format!("{}{subject}", settings.identity_prefix), limit)
        .map_err(|problem| InvalidName { field: "token subject", problem })?;
    let name = if Identity::parse(name.as_str(), limit).is_ok() { name.clone() } else { String::new() };
    Ok(Some((identity, name)))
}

/// `identity`, with a random suffix when `APPEND_IDENTITY_SUFFIX` asks for one.
fn suffixed(identity: &str, settings: &TokenSettings) -> Result<String, ErrorResponse> {
    Ok(if settings.append_identity_suffix {
        format!("{identity}-{}", random_id(IDENTITY_SUFFIX_CHARS)?)
    } else {
        identity.to_string()
    })
}

/// Refuses an attribute a caller may not set (any of [`RESERVED_ATTRIBUTE_PREFIXES`]).
pub fn check_reserved_attributes(attributes: &HashMap<String, String>) -> Result<(), TokenError> {
    let reserved = attributes.keys().find(|k| RESERVED_ATTRIBUTE_PREFIXES.iter().any(|p| k.starts_with(p)));
    match reserved {
        Some(key) => Err(TokenError::ReservedAttribute(key.clone())),
        None => Ok(()),
    }
}

/// A caller who names the participant (anonymous, or an application) may not name one in
/// the server's own namespaces: `user:<sub>` would be someone's signed-in identity, `guest:`
/// a room link's guest.
fn check_identity_namespace(identity: &str, settings: &AuthSettings) -> Result<(), TokenError> {
    for prefix in [settings.identity_prefix.as_str(), GUEST_PREFIX] {
        if identity.starts_with(prefix) {
            return Err(TokenError::ReservedIdentity(prefix.to_string()));
        }
    }
    Ok(())
}

/// Adds the attributes that come from the verified claims (reserved ones are refused
/// before this: [`check_reserved_attributes`]).
fn attribute(caller: &Caller, attributes: &mut HashMap<String, String>, settings: &AuthSettings) {
    match caller {
        Caller::Anonymous => {}
        Caller::User { subject, email, .. } => {
            attributes.insert(USER_ID_ATTRIBUTE.into(), subject.clone());
            if let Some(email) = email {
                attributes.insert(EMAIL_ATTRIBUTE.into(), email.clone());
            }
        }
        Caller::Client { .. } => {
            attributes.extend(caller.owner(settings).map(|owner| (OWNER_ATTRIBUTE.to_string(), owner)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on() -> AuthSettings {
        AuthSettings { enabled: true, ..Default::default() }
    }

    fn response(error: impl Into<ErrorResponse>) -> ErrorResponse {
        error.into()
    }

    #[test]
    fn attributes_come_from_claims_and_cannot_be_forged() {
        let s = on();
        let user = Caller::User { subject: "u-1".into(), name: String::new(), email: None, admin: false, rooms: None };
        let mut attributes = HashMap::from([("hand".to_string(), "up".to_string())]);
        attribute(&user, &mut attributes, &s);
        assert_eq!(attributes[USER_ID_ATTRIBUTE], "u-1");
        assert_eq!(attributes["hand"], "up");
        let app = Caller::Client { client_id: "app".into(), admin: false, rooms: None };
        let mut attributes = HashMap::new();
        attribute(&app, &mut attributes, &s);
        assert_eq!(attributes[OWNER_ATTRIBUTE], "owner:app");
        for key in [OWNER_ATTRIBUTE, USER_ID_ATTRIBUTE, "auth.link_id", "lk.agent.state", "sip.phoneNumber"] {
            let forged = HashMap::from([(key.to_string(), "forged".to_string())]);
            assert_eq!(response(check_reserved_attributes(&forged).unwrap_err()).code, "field_not_allowed", "{key}");
        }
        assert!(check_reserved_attributes(&HashMap::from([("authx".to_string(), "y".to_string())])).is_ok());
        assert_eq!(
            own_participant(&user, &s, NameLimit(128)).unwrap(),
            Some((Identity::parse("user:u-1", NameLimit(128)).unwrap(), String::new()))
        );
        assert_eq!(response(own_participant(&user, &s, NameLimit(5)).unwrap_err()).status, 400);
        assert_eq!(own_participant(&app, &s, NameLimit(128)).unwrap(), None);
        let named =
            Caller::User { subject: "u-1".into(), name: "Jane\u{7}".into(), email: None, admin: false, rooms: None };
        assert_eq!(own_participant(&named, &s, NameLimit(128)).unwrap().unwrap().1, "", "an unusable name is left out");
    }

    #[test]
    fn the_simple_form_can_suffix_the_identity_and_the_standard_form_never_does() {
        let s = TokenSettings { append_identity_suffix: true, ..Default::default() };
        let ask = |form| {
            let participant =
                Participant { room: "demo".into(), identity: "Jane".into(), name: "Jane".into(), ..Default::default() };
            decide(&Caller::Anonymous, TokenRequest { participant, form }, &s).unwrap().participant
        };
        let (a, b) = (ask(Form::Simple), ask(Form::Simple));
        assert!(a.identity.starts_with("Jane-") && a.identity.len() == "Jane-".len() + 6, "{}", a.identity);
        assert_ne!(a.identity, b.identity);
        assert_eq!(a.name, "Jane");
        assert_eq!(ask(Form::Standard).identity, "Jane", "LiveKit's standard endpoint gets the identity it asks for");
    }
}
