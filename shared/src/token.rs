//! Room-scoped LiveKit tokens: built and verified with livekit-api, never by hand.

use std::collections::HashMap;
use std::time::Duration;

use livekit_api::access_token::{AccessToken, Claims, TokenVerifier, VideoGrants};
use livekit_protocol::RoomConfiguration;

use crate::attributes;
use crate::credentials::Credentials;
use crate::error::Error;

/// The publish sources LiveKit accepts in `canPublishSources`.
pub const PUBLISH_SOURCES: &[&str] = &["camera", "microphone", "screen_share", "screen_share_audio"];

/// Who a token is for and where: the room, the participant's identity and what it shows
/// of itself. Validated before it gets here (the token generator's request rules).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Participant {
    pub room: String,
    pub identity: String,
    /// Display name; empty means none.
    pub name: String,
    pub metadata: String,
    pub attributes: HashMap<String, String>,
    pub room_config: Option<RoomConfiguration>,
}

/// Everything a participant token says: the participant, and the grants decided for them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParticipantToken {
    pub participant: Participant,
    /// Empty means every source may be published.
    pub publish_sources: Vec<String>,
    /// Moderators: `roomAdmin` for this one room (given only to verified callers whose
    /// scope or claim says so).
    pub room_admin: bool,
    /// `roomCreate`: with `ROOM_CREATION=moderators`, moderators' tokens only, so that with
    /// LiveKit's `room.auto_create: false` only a moderator can start the room.
    pub room_create: bool,
    pub ttl: Duration,
}

/// `ROOM_CREATION`: who may start a room.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RoomCreation {
    /// No token carries `roomCreate`: LiveKit's own `room.auto_create` decides (by default
    /// any participant's join creates the room).
    #[default]
    Anyone,
    /// Moderators' tokens carry `roomCreate` (for their one room); with LiveKit's
    /// `room.auto_create: false` nobody else can start it.
    Moderators,
}

/// What every token of a deployment gets besides its participant: its life, and what each
/// role may publish (`TOKEN_TTL_SECONDS`, `PUBLISH_SOURCES`, `AUTH_ADMIN_PUBLISH_SOURCES`).
/// The token generator and the room controls (an admitted guest's token) mint through it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenPolicy {
    /// `TOKEN_TTL_SECONDS`, default 6 h like LiveKit's SDKs.
    pub ttl: Duration,
    /// `PUBLISH_SOURCES`: empty means every source.
    pub publish_sources: Vec<String>,
    /// `AUTH_ADMIN_PUBLISH_SOURCES`: what moderators may publish; empty means every source.
    pub moderator_publish_sources: Vec<String>,
    /// `ROOM_CREATION` (`anyone` by default).
    pub room_creation: RoomCreation,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(6 * 3600),
            publish_sources: Vec::new(),
            moderator_publish_sources: Vec::new(),
            room_creation: RoomCreation::Anyone,
        }
    }
}

impl TokenPolicy {
    pub fn from_env(env: &crate::settings::EnvSettings) -> Result<Self, Error> {
        let defaults = Self::default();
        Ok(Self {
            ttl: env.duration_secs("TOKEN_TTL_SECONDS", defaults.ttl.as_secs(), 60..=86_400)?,
            publish_sources: env.list_of("PUBLISH_SOURCES", PUBLISH_SOURCES)?,
            moderator_publish_sources: env.list_of("AUTH_ADMIN_PUBLISH_SOURCES", PUBLISH_SOURCES)?,
            room_creation: match env.choice("ROOM_CREATION", "anyone", &["anyone", "moderators"])? {
                "moderators" => RoomCreation::Moderators,
                _ => RoomCreation::Anyone,
            },
        })
    }

    /// What a participant of `moderator`'s role may publish (empty: every source).
    pub fn publish_sources(&self, moderator: bool) -> &[String] {
        if moderator {
            &self.moderator_publish_sources
        } else {
            &self.publish_sources
        }
    }

    /// The token of `participant`: a moderator gets `roomAdmin` of that one room, the
    /// moderators' publish sources and the role attribute (`auth.role`, by which the room
    /// controls find a room's moderators); everyone else the participants'.
    pub fn token(&self, mut participant: Participant, moderator: bool) -> ParticipantToken {
        if moderator {
            participant.attributes.insert(attributes::ROLE.into(), attributes::MODERATOR_ROLE.into());
        } else {
            participant.attributes.remove(attributes::ROLE);
        }
        ParticipantToken {
            participant,
            publish_sources: self.publish_sources(moderator).to_vec(),
            room_admin: moderator,
            room_create: moderator && self.room_creation == RoomCreation::Moderators,
            ttl: self.ttl,
        }
    }
}

impl ParticipantToken {
    /// The grants of a participant: join this one room, publish, subscribe and send data;
    /// `roomAdmin` of this room for moderators, `roomCreate` for them with
    /// `ROOM_CREATION=moderators`. Never roomList or roomRecord.
    pub fn grants(&self) -> VideoGrants {
        VideoGrants {
            room_join: true,
            room_admin: self.room_admin,
            room_create: self.room_create,
            room: self.participant.room.clone(),
            can_publish: Some(true),
            can_subscribe: Some(true),
            can_publish_data: Some(true),
            can_publish_sources: self.publish_sources.clone(),
            ..VideoGrants::default()
        }
    }

    /// Signs the token with the deployment's credentials.
    pub fn sign(&self, credentials: &Credentials) -> Result<String, Error> {
        crate::jwt::install();
        let who = &self.participant;
        let mut token = AccessToken::with_api_key(&credentials.api_key, credentials.api_secret.expose())
            .with_ttl(self.ttl)
            .with_identity(&who.identity)
            .with_grants(self.grants());
        if !who.name.is_empty() {
            token = token.with_name(&who.name);
        }
        if !who.metadata.is_empty() {
            token = token.with_metadata(&who.metadata);
        }
        if !who.attributes.is_empty() {
            token = token.with_attributes(who.attributes.clone());
        }
        if let Some(config) = &who.room_config {
            token = token.with_room_config(config.clone());
        }
        token.to_jwt().map_err(|e| Error::Signing(e.to_string()))
    }
}

/// Why a presented token does not prove access to a room.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejection {
    /// Bad signature, expired, not yet valid or not a JWT at all.
    #[error("the token is invalid or expired")]
    Invalid,
    /// Issued by a key this deployment does not (yet) know. The caller sees the same as
    /// for `Invalid`; the function may re-read its keys once (rate-limited) and retry.
    #[error("the token is invalid or expired")]
    UnknownIssuer,
    #[error("the token does not grant roomJoin")]
    NoRoomJoin,
    #[error("the token is for another room")]
    WrongRoom,
}

/// The verifier for the key that issued `token`, as LiveKit's own key provider picks it:
/// the unverified `iss` names the key, the key set gives its secret, and livekit-api's
/// verifier then checks signature, issuer, `exp` and `nbf`. `UnknownIssuer` when the
/// token names no key of the set (or is not a JWT at all).
pub fn verifier_for(credentials: &Credentials, token: &str) -> Result<TokenVerifier, TokenRejection> {
    let key = unverified_issuer(token).ok_or(TokenRejection::Invalid)?;
    let secret = credentials.secret_for(&key).ok_or(TokenRejection::UnknownIssuer)?;
    Ok(TokenVerifier::with_api_key(&key, secret.expose()))
}

/// Longest token whose issuer is looked at (LiveKit tokens are well under 4 KiB).
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The `iss` claim of a JWT, read WITHOUT verifying anything (livekit-api's
/// `Claims::from_unverified`): only to pick the secret the token must then be verified
/// with (LiveKit's `KeyProvider.GetSecret`). `None` when the token is not a LiveKit JWT or
/// names no issuer.
pub fn unverified_issuer(token: &str) -> Option<String> {
    if token.len() > MAX_TOKEN_BYTES {
        return None;
    }
    crate::jwt::install();
    Claims::from_unverified(token).ok().map(|claims| claims.iss).filter(|iss| !iss.is_empty())
}

/// Verifies a participant token and that it grants joining exactly `room`. The
/// verifier checks signature, issuer (a key of the set), `exp` and `nbf`; the room check
/// is ours, because a token for room A must never act in room B.
pub fn verify_room_token(credentials: &Credentials, token: &str, room: &str) -> Result<Claims, TokenRejection> {
    let claims = verifier_for(credentials, token)?.verify(token).map_err(|_| TokenRejection::Invalid)?;
    if !claims.video.room_join {
        return Err(TokenRejection::NoRoomJoin);
    }
    if claims.video.room != room {
        return Err(TokenRejection::WrongRoom);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn credentials() -> Credentials {
        Credentials::new(
            "APIkey123",
            Secret::new("a-very-long-test-secret-value-0123456789"),
            "wss://lk.example.com",
            None,
        )
        .unwrap()
    }

    fn token_for(room: &str) -> ParticipantToken {
        let participant =
            Participant { room: room.into(), identity: "jane".into(), name: "Jane".into(), ..Default::default() };
        ParticipantToken { participant, ttl: Duration::from_secs(600), ..Default::default() }
    }

    #[test]
    fn moderators_get_their_role_sources_and_room_create_only_when_the_policy_says() {
        let mut policy = TokenPolicy {
            publish_sources: vec!["camera".into()],
            moderator_publish_sources: vec!["camera".into(), "screen_share".into()],
            ..TokenPolicy::default()
        };
        let who = || Participant { room: "r".into(), identity: "u".into(), ..Participant::default() };
        let moderator = policy.token(who(), true);
        assert!(moderator.room_admin && !moderator.room_create);
        assert_eq!(moderator.participant.attributes[attributes::ROLE], attributes::MODERATOR_ROLE);
        assert_eq!(moderator.publish_sources, ["camera", "screen_share"]);
        let demoted = policy.token(moderator.participant, false);
        assert!(!demoted.room_admin && !demoted.participant.attributes.contains_key(attributes::ROLE));
        assert_eq!(demoted.publish_sources, ["camera"]);
        policy.room_creation = RoomCreation::Moderators;
        assert!(policy.token(who(), true).grants().room_create);
        assert!(!policy.token(who(), false).grants().room_create);
        let env = crate::settings::EnvSettings::from_pairs([("ROOM_CREATION", "everyone")]);
        assert!(TokenPolicy::from_env(&env).unwrap_err().to_string().contains("ROOM_CREATION"));
    }

    #[test]
    fn signed_token_carries_participant_grants_only() {
        let creds = credentials();
        let jwt = token_for("demo").sign(&creds).unwrap();
        let claims = verify_room_token(&creds, &jwt, "demo").unwrap();
        assert_eq!(claims.sub, "jane");
        assert_eq!(claims.name, "Jane");
        assert_eq!(claims.iss, "APIkey123");
        let v = &claims.video;
        assert!(v.room_join && v.room == "demo");
        assert_eq!((v.can_publish, v.can_subscribe, v.can_publish_data), (Some(true), Some(true), Some(true)));
        assert!(!v.room_admin && !v.room_create && !v.room_list && !v.room_record);
        assert!(claims.exp - claims.nbf <= 601 && claims.exp - claims.nbf >= 599);
    }

    #[test]
    fn room_check_rejects_other_rooms_forgeries_and_missing_join() {
        let creds = credentials();
        let jwt = token_for("room-a").sign(&creds).unwrap();
        assert_eq!(verify_room_token(&creds, &jwt, "room-b").unwrap_err(), TokenRejection::WrongRoom);

        let other =
            Credentials::new("APIkey123", Secret::new("another-secret-another-secret-0000"), "wss://x", None).unwrap();
        assert_eq!(verify_room_token(&other, &jwt, "room-a").unwrap_err(), TokenRejection::Invalid);
        let wrong_issuer = Credentials { api_key: "other".into(), ..creds.clone() };
        assert_eq!(verify_room_token(&wrong_issuer, &jwt, "room-a").unwrap_err(), TokenRejection::UnknownIssuer);
        assert_eq!(verify_room_token(&creds, "not.a.jwt", "room-a").unwrap_err(), TokenRejection::Invalid);

        let no_join = AccessToken::with_api_key(&creds.api_key, creds.api_secret.expose())
            .with_identity("x")
            .with_grants(VideoGrants { room: "room-a".into(), ..Default::default() })
            .to_jwt()
            .unwrap();
        assert_eq!(verify_room_token(&creds, &no_join, "room-a").unwrap_err(), TokenRejection::NoRoomJoin);
    }

    #[test]
    fn tokens_of_every_key_in_the_set_verify_and_a_known_key_with_a_wrong_secret_does_not() {
        use crate::keys::KeySet;
        let old = ("APIold", "old-secret-old-secret-old-secret-0000");
        let creds = credentials().with_verifiers(KeySet::from_pairs([old])).unwrap();
        let by_old = AccessToken::with_api_key(old.0, old.1)
            .with_identity("jane")
            .with_grants(VideoGrants { room_join: true, room: "demo".into(), ..Default::default() })
            .to_jwt()
            .unwrap();
        assert_eq!(verify_room_token(&creds, &by_old, "demo").unwrap().iss, "APIold");
        assert_eq!(
            verify_room_token(&creds, &token_for("demo").sign(&creds).unwrap(), "demo").unwrap().iss,
            "APIkey123"
        );
        let forged = AccessToken::with_api_key(old.0, "forged-forged-forged-forged-forged-00")
            .with_identity("jane")
            .with_grants(VideoGrants { room_join: true, room: "demo".into(), ..Default::default() })
            .to_jwt()
            .unwrap();
        assert_eq!(verify_room_token(&creds, &forged, "demo").unwrap_err(), TokenRejection::Invalid);
        assert_eq!(verify_room_token(&credentials(), &by_old, "demo").unwrap_err(), TokenRejection::UnknownIssuer);
        // The current key listed again with another secret: a torn read or a stale entry.
        let conflicting = KeySet::from_pairs([("APIkey123", "another-secret-another-secret-000")]);
        let error = credentials().with_verifiers(conflicting).unwrap_err().to_string();
        assert!(error.contains("APIkey123") && !error.contains("another-secret"), "{error}");
    }

    #[test]
    fn unverified_issuer_reads_iss_and_nothing_else() {
        let token = AccessToken::with_api_key("APIiss", "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t")
            .with_identity("jane")
            .to_jwt()
            .unwrap();
        assert_eq!(unverified_issuer(&token).as_deref(), Some("APIiss"));
        for bad in ["", "not-a-jwt", "a.!!!.c", "a.e30.c", "a.eyJpc3MiOjF9.c", "e30.eyJpc3MiOiIifQ.c"] {
            assert_eq!(unverified_issuer(bad), None, "{bad}");
        }
        assert_eq!(unverified_issuer(&"a".repeat(MAX_TOKEN_BYTES + 1)), None);
    }
}
