//! What a caller gets: one decision per request, returned as the token to sign. A
//! signed-in user is who their token says (whatever the request names), the room must be
//! one the caller may enter, `auth.*` attributes come only from verified claims, the
//! identity of the simple form may get a suffix, and moderators get `roomAdmin` of that
//! one room with their own publish sources. The identity is decided here and nowhere else.

use std::collections::HashMap;

use livekit_lambda_shared::attributes;
use livekit_lambda_shared::auth::{AuthSettings, Caller};
use livekit_lambda_shared::random::random_id;
use livekit_lambda_shared::token::{Participant, ParticipantToken};
use livekit_lambda_shared::web::Form;
use livekit_lambda_shared::ErrorResponse;

use crate::error::TokenError;
use crate::request::TokenRequest;
use crate::settings::TokenSettings;

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
    match caller.own_participant(auth, settings.limits.names)? {
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
    caller.attribute(&mut participant.attributes, auth);
    Ok(token(participant, caller.is_admin(), settings))
}

/// The token of `participant` under the deployment's policy (`TokenPolicy::token`: a
/// moderator gets `roomAdmin` of that one room, the moderators' publish sources and
/// `auth.role`).
pub fn token(participant: Participant, room_admin: bool, settings: &TokenSettings) -> ParticipantToken {
    settings.policy.token(participant, room_admin)
}

/// `identity`, with a random suffix when `APPEND_IDENTITY_SUFFIX` asks for one.
fn suffixed(identity: &str, settings: &TokenSettings) -> Result<String, ErrorResponse> {
    Ok(if settings.append_identity_suffix {
        format!("{identity}-{}", random_id(IDENTITY_SUFFIX_CHARS)?)
    } else {
        identity.to_string()
    })
}

/// Refuses an attribute a caller may not set (any of `attributes::RESERVED_PREFIXES`).
pub fn check_reserved_attributes(attributes: &HashMap<String, String>) -> Result<(), TokenError> {
    let reserved = attributes.keys().find(|k| attributes::is_reserved(k));
    match reserved {
        Some(key) => Err(TokenError::ReservedAttribute(key.clone())),
        None => Ok(()),
    }
}

/// A caller who names the participant (anonymous, or an application) may not name one in
/// the server's own namespaces: `user:<sub>` would be someone's signed-in identity, `guest:`
/// a room link's guest.
fn check_identity_namespace(identity: &str, settings: &AuthSettings) -> Result<(), TokenError> {
    for prefix in [settings.identity_prefix.as_str(), attributes::GUEST_IDENTITY_PREFIX] {
        if identity.starts_with(prefix) {
            return Err(TokenError::ReservedIdentity(prefix.to_string()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(error: impl Into<ErrorResponse>) -> ErrorResponse {
        error.into()
    }

    #[test]
    fn attributes_a_caller_may_not_set() {
        for key in [attributes::OWNER, attributes::USER_ID, attributes::LINK_ID, "lk.agent.state", "sip.phoneNumber"] {
            let forged = HashMap::from([(key.to_string(), "forged".to_string())]);
            assert_eq!(response(check_reserved_attributes(&forged).unwrap_err()).code, "field_not_allowed", "{key}");
        }
        assert!(check_reserved_attributes(&HashMap::from([("authx".to_string(), "y".to_string())])).is_ok());
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
