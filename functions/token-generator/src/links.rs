//! Room links (issue 20, docs/room-links.md): short, signed, expiring invitations that let
//! a guest's browser into exactly one room. A verified caller creates one at
//! `POST /rooms/{room}/links`; the guest redeems it at `/guest/token`, which no authorizer
//! guards (a guest has no account), for a participant token with the link's grants.
//!
//! A link is a JWT with its own `typ`, `aud` and `iss`, signed (HS256) by a key of its own,
//! never a LiveKit secret (`${prefix}/room-link-keys`, the first listed signs, all verify),
//! produced and checked by `jsonwebtoken`, the library livekit-api signs LiveKit tokens with.

use std::sync::Once;
use std::time::Duration;

use jsonwebtoken::{decode, decode_header, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use livekit_lambda_shared::random::random_id;
use livekit_lambda_shared::{EnvSettings, Error, KeySet};
use serde::{Deserialize, Serialize};

use crate::auth::AuthSettings;
use crate::error::TokenError;

/// The link's JWT `typ`: a LiveKit token (`JWT`) is never taken for a link.
pub const LINK_TYPE: &str = "room-link+jwt";
pub const LINK_AUDIENCE: &str = "room-link";
pub const LINK_ISSUER: &str = "livekit-lambda";
/// Attributes a guest's token carries, set from the link only.
pub const INVITED_BY_ATTRIBUTE: &str = "auth.invited_by";
pub const LINK_ID_ATTRIBUTE: &str = "auth.link_id";
/// A guest's identity: `guest:<link id>:<random>`, chosen by the server.
pub const GUEST_PREFIX: &str = "guest:";
/// `max_uses` above this is a typo, not a plan.
pub const MAX_USES: u32 = 1000;
/// 16 × 5 bits = 80 bits: unguessable, short enough for a URL.
const LINK_ID_CHARS: usize = 16;
const GUEST_SUFFIX_CHARS: usize = 6;
/// The item of a stored link in the fleet store (the token generator's own prefix).
pub const STORE_PREFIX: &str = "links#";

/// What the link lets its guest be.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    #[default]
    Participant,
    /// `roomAdmin` of this one room; only a caller who is a moderator may grant it.
    Moderator,
}

/// A link's claims. Short names would save bytes; these are read by people debugging.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkClaims {
    pub iss: String,
    pub aud: String,
    /// The link id: how a creator revokes it and how the fleet store counts its uses.
    pub jti: String,
    pub room: String,
    pub role: Role,
    /// The guest's display name, when the creator fixed it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Who created it, as the request log names callers: `user:<sub>` or `client:<id>`.
    pub by: String,
    /// The owning application (`owner:<client id>`) when an application created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    pub iat: u64,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_uses: Option<u32>,
    /// A record exists in the fleet store: uses are counted there and a revoked link is gone.
    #[serde(default)]
    pub stored: bool,
}

/// `ROOM_LINK*` settings. Off by default; on needs `AUTH_MODE=jwt`, because links are
/// created by verified callers.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkSettings {
    /// `ROOM_LINKS`: `off` (default) or `on`.
    pub enabled: bool,
    /// `ROOM_LINK_URL`: the front end's join page, with `{link}` (and optionally `{room}`),
    /// e.g. `https://meet.example.com/join/{room}#{link}`: the fragment never reaches a server.
    pub url_template: String,
    /// `ROOM_LINK_TTL_SECONDS` (default 24 h): a link's life when the creator names none.
    pub default_ttl: Duration,
    /// `ROOM_LINK_MAX_TTL_SECONDS` (default 7 days): the longest `expires_in` accepted.
    pub max_ttl: Duration,
    /// `AUTH_LINK_SCOPE` (default `livekit/links`): lets an application create links.
    pub scope: String,
}

impl Default for LinkSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            url_template: String::new(),
            default_ttl: Duration::from_secs(24 * 3600),
            max_ttl: Duration::from_secs(7 * 24 * 3600),
            scope: "livekit/links".into(),
        }
    }
}

/// `ROOM_LINKS`: `off` (default) or `on`.
fn switch(env: &EnvSettings) -> Result<bool, Error> {
    match env.non_empty("ROOM_LINKS").map(|m| m.to_ascii_lowercase()).as_deref() {
        None | Some("off") => Ok(false),
        Some("on") => Ok(true),
        Some(other) => Err(Error::config("ROOM_LINKS", format!("must be `off` or `on`, got `{other}`"))),
    }
}

/// Whether links are on (an invalid value is reported by [`LinkSettings::from_env`]).
pub fn enabled_in(env: &EnvSettings) -> bool {
    switch(env).unwrap_or(false)
}

impl LinkSettings {
    pub fn from_env(env: &EnvSettings, auth: &AuthSettings) -> Result<Self, Error> {
        let defaults = Self::default();
        let enabled = switch(env)?;
        let scope = env.non_empty("AUTH_LINK_SCOPE").unwrap_or(defaults.scope);
        let max_ttl = env.duration_secs("ROOM_LINK_MAX_TTL_SECONDS", defaults.max_ttl.as_secs(), 60..=90 * 86_400)?;
        let default_ttl =
            env.duration_secs("ROOM_LINK_TTL_SECONDS", defaults.default_ttl.as_secs(), 60..=90 * 86_400)?;
        if !enabled {
            return Ok(Self { scope, max_ttl, default_ttl, ..defaults });
        }
        if !auth.enabled {
            return Err(Error::config("ROOM_LINKS", "needs AUTH_MODE=jwt: links are created by verified callers"));
        }
        let url_template = env.non_empty("ROOM_LINK_URL").ok_or_else(|| {
            Error::config("ROOM_LINK_URL", "is required with ROOM_LINKS=on (e.g. https://meet.example.com/join#{link})")
        })?;
        if !url_template.contains("{link}")
            || !(url_template.starts_with("https://") || url_template.starts_with("http://"))
        {
            return Err(Error::config("ROOM_LINK_URL", "must be an http(s) URL containing `{link}`"));
        }
        if default_ttl > max_ttl {
            return Err(Error::config("ROOM_LINK_TTL_SECONDS", "must not exceed ROOM_LINK_MAX_TTL_SECONDS"));
        }
        Ok(Self { enabled, url_template, default_ttl, max_ttl, scope })
    }

    /// The guest's URL: the template with the room (percent-encoded) and the link.
    pub fn url(&self, room: &str, link: &str) -> String {
        self.url_template.replace("{room}", &percent_encode(room)).replace("{link}", link)
    }
}

/// Everything but RFC 3986's unreserved characters, percent-encoded (a room in a path).
fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

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
}

/// Why a link was refused: each a stable code, none a LiveKit token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkRefusal {
    #[error("a room link is required (`link` query parameter or `room_link` body field)")]
    Required,
    #[error("the room link is malformed, was altered, or was signed by a key this deployment does not hold")]
    Invalid,
    /// Signed by a key id this container does not know: perhaps one added by a rotation.
    #[error("the room link is malformed, was altered, or was signed by a key this deployment does not hold")]
    UnknownKey,
    #[error("the room link has expired; ask for a new one")]
    Expired,
    #[error("the room link is for another room")]
    WrongRoom,
    #[error("the room link has been used as many times as it allows")]
    UsedUp,
    #[error("the room link has been revoked")]
    Revoked,
    #[error("no such room link in this room")]
    NotFound,
    #[error("only the link's creator or a moderator may revoke it")]
    NotYours,
    #[error("{0} needs the fleet store (STATE_TABLE); links are stateless here")]
    NeedsStore(&'static str),
    #[error("room links are on but no room-link key is configured (`room-link-keys` in SSM, or ROOM_LINK_KEYS)")]
    KeysMissing,
    #[error("only a moderator may create a moderator link")]
    ModeratorNotAllowed,
    #[error("a guest's identity is chosen by the server; leave `participant_identity` out")]
    IdentityChosenByServer,
    #[error("the link request is invalid: {0}")]
    BadRequest(String),
}

impl LinkRefusal {
    pub fn status_and_code(&self) -> (u16, &'static str) {
        match self {
            LinkRefusal::Required => (401, "link_required"),
            LinkRefusal::Invalid | LinkRefusal::UnknownKey => (401, "link_invalid"),
            LinkRefusal::Expired => (401, "link_expired"),
            LinkRefusal::WrongRoom => (403, "link_wrong_room"),
            LinkRefusal::UsedUp => (410, "link_used_up"),
            LinkRefusal::Revoked => (410, "link_revoked"),
            LinkRefusal::NotFound => (404, "link_not_found"),
            LinkRefusal::NotYours => (403, "link_not_yours"),
            LinkRefusal::NeedsStore(_) => (501, "link_state_unavailable"),
            LinkRefusal::KeysMissing => (503, "link_keys_unavailable"),
            LinkRefusal::ModeratorNotAllowed => (403, "role_not_allowed"),
            LinkRefusal::IdentityChosenByServer => (403, "field_not_allowed"),
            LinkRefusal::BadRequest(_) => (400, "invalid_field"),
        }
    }
}

/// jsonwebtoken 10 signs through a process-wide crypto provider. livekit-token installs
/// its HMAC-only one on first use and exposes no other way in, so make that first use
/// happen (a decode of nothing, which fails harmlessly) before any link is signed or read:
/// one crypto provider for links and LiveKit tokens, nothing hand-written.
fn ensure_jwt_provider() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let _ = livekit_api::access_token::Claims::from_unverified("");
    });
}

/// A new link id.
pub fn new_link_id() -> Result<String, TokenError> {
    Ok(random_id(LINK_ID_CHARS)?)
}

/// A guest's identity for one redemption of link `link_id`.
pub fn guest_identity(link_id: &str) -> Result<String, TokenError> {
    Ok(format!("{GUEST_PREFIX}{link_id}:{}", random_id(GUEST_SUFFIX_CHARS)?))
}

/// Signs `claims` with the key listed first.
pub fn sign(claims: &LinkClaims, keys: &KeySet) -> Result<String, LinkRefusal> {
    ensure_jwt_provider();
    let (kid, secret) = keys.signing().ok_or(LinkRefusal::KeysMissing)?;
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some(LINK_TYPE.into());
    header.kid = Some(kid.into());
    encode(&header, claims, &EncodingKey::from_secret(secret.expose().as_bytes()))
        .map_err(|e| LinkRefusal::BadRequest(format!("could not sign the link: {e}")))
}

/// Longest link read (a link is a few hundred bytes).
const MAX_LINK_BYTES: usize = 4096;

/// Checks a link's signature (by its `kid`), type, audience, issuer and expiry.
pub fn verify(link: &str, keys: &KeySet) -> Result<LinkClaims, LinkRefusal> {
    ensure_jwt_provider();
    if keys.is_empty() {
        return Err(LinkRefusal::KeysMissing);
    }
    if link.len() > MAX_LINK_BYTES {
        return Err(LinkRefusal::Invalid);
    }
    let header = decode_header(link).map_err(|_| LinkRefusal::Invalid)?;
    if header.alg != Algorithm::HS256 || header.typ.as_deref() != Some(LINK_TYPE) {
        return Err(LinkRefusal::Invalid);
    }
    let secret = header.kid.as_deref().and_then(|kid| keys.get(kid)).ok_or(LinkRefusal::UnknownKey)?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&[LINK_AUDIENCE]);
    validation.set_issuer(&[LINK_ISSUER]);
    validation.set_required_spec_claims(&["exp", "aud", "iss"]);
    // A link's expiry is its creator's promise: no minute of grace.
    validation.leeway = 0;
    decode::<LinkClaims>(link, &DecodingKey::from_secret(secret.expose().as_bytes()), &validation)
        .map(|data| data.claims)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => LinkRefusal::Expired,
            _ => LinkRefusal::Invalid,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use livekit_lambda_shared::state::now_secs;

    const SECRET_A: &str = "a-room-link-secret-of-32-characters!";
    const SECRET_B: &str = "another-room-link-secret-32-chars-long";

    fn claims(exp: u64) -> LinkClaims {
        LinkClaims {
            iss: LINK_ISSUER.into(),
            aud: LINK_AUDIENCE.into(),
            jti: "l1".into(),
            room: "consultation".into(),
            role: Role::Participant,
            name: String::new(),
            by: "user:editor".into(),
            owner: None,
            iat: now_secs(),
            exp,
            max_uses: Some(1),
            stored: true,
        }
    }

    #[test]
    fn a_signed_link_verifies_with_any_listed_key_and_only_then() {
        let keys = KeySet::from_pairs([("k2", SECRET_B), ("k1", SECRET_A)]);
        let signed = claims(now_secs() + 60);
        let link = sign(&signed, &keys).unwrap();
        assert_eq!(verify(&link, &keys).unwrap(), signed);
        // Rotated: the old key only verifies, a new one signs; the old link still works.
        let rotated = KeySet::from_pairs([("k3", "a-third-room-link-secret-32-chars-x"), ("k2", SECRET_B)]);
        assert!(verify(&link, &rotated).is_ok());
        assert_eq!(verify(&link, &KeySet::from_pairs([("k1", SECRET_A)])), Err(LinkRefusal::UnknownKey));
        assert_eq!(verify(&link, &KeySet::from_pairs([("k2", SECRET_A)])), Err(LinkRefusal::Invalid), "wrong key");
        assert_eq!(verify(&link, &KeySet::default()), Err(LinkRefusal::KeysMissing));
    }

    #[test]
    fn tampered_expired_and_foreign_tokens_are_refused() {
        let keys = KeySet::from_pairs([("k1", SECRET_A)]);
        let link = sign(&claims(now_secs() + 60), &keys).unwrap();
        let mut parts: Vec<String> = link.split('.').map(String::from).collect();
        let mut forged = claims(now_secs() + 60);
        forged.room = "boardroom".into();
        parts[1] = base64_url(&serde_json::to_vec(&forged).unwrap());
        assert_eq!(verify(&parts.join("."), &keys), Err(LinkRefusal::Invalid), "altered claims");
        assert_eq!(verify(&sign(&claims(now_secs() - 1), &keys).unwrap(), &keys), Err(LinkRefusal::Expired));
        for junk in ["", "abc", "a.b.c", &"x".repeat(5000)] {
            assert_eq!(verify(junk, &keys), Err(LinkRefusal::Invalid), "{junk:.20}");
        }
        // A LiveKit token signed with the same secret is still not a link (typ and aud).
        let livekit =
            livekit_api::access_token::AccessToken::with_api_key("k1", SECRET_A).with_identity("x").to_jwt().unwrap();
        assert_eq!(verify(&livekit, &keys), Err(LinkRefusal::Invalid));
        let mut other_audience = claims(now_secs() + 60);
        other_audience.aud = "something-else".into();
        assert_eq!(verify(&sign(&other_audience, &keys).unwrap(), &keys), Err(LinkRefusal::Invalid));
    }

    fn base64_url(bytes: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn settings_need_authentication_and_a_url_with_the_link() {
        let on = AuthSettings { enabled: true, ..AuthSettings::default() };
        let env = |pairs: &[(&str, &str)]| EnvSettings::from_pairs(pairs.iter().copied());
        assert!(!LinkSettings::from_env(&env(&[]), &on).unwrap().enabled);
        let s = LinkSettings::from_env(
            &env(&[("ROOM_LINKS", "on"), ("ROOM_LINK_URL", "https://meet.example.com/join/{room}#{link}")]),
            &on,
        )
        .unwrap();
        assert!(s.enabled);
        assert_eq!(s.url("Jérôme & co", "L.I.NK"), "https://meet.example.com/join/J%C3%A9r%C3%B4me%20%26%20co#L.I.NK");
        for (pairs, variable) in [
            (vec![("ROOM_LINKS", "on")], "ROOM_LINK_URL"),
            (vec![("ROOM_LINKS", "on"), ("ROOM_LINK_URL", "https://x/join")], "ROOM_LINK_URL"),
            (vec![("ROOM_LINKS", "on"), ("ROOM_LINK_URL", "javascript:{link}")], "ROOM_LINK_URL"),
            (vec![("ROOM_LINKS", "yes")], "ROOM_LINKS"),
            (
                vec![("ROOM_LINKS", "on"), ("ROOM_LINK_URL", "https://x#{link}"), ("ROOM_LINK_TTL_SECONDS", "999999")],
                "ROOM_LINK_TTL_SECONDS",
            ),
        ] {
            let error = LinkSettings::from_env(&env(&pairs), &on).unwrap_err().to_string();
            assert!(error.contains(variable), "{pairs:?}: {error}");
        }
        let off = AuthSettings::default();
        let error = LinkSettings::from_env(&env(&[("ROOM_LINKS", "on"), ("ROOM_LINK_URL", "https://x#{link}")]), &off)
            .unwrap_err()
            .to_string();
        assert!(error.contains("AUTH_MODE=jwt"), "{error}");
    }

    #[test]
    fn link_requests_parse_strictly() {
        let parse = |body: &str| serde_json::from_str::<LinkRequest>(body);
        assert_eq!(parse("{}").unwrap(), LinkRequest::default());
        let r = parse(r#"{"role":"moderator","expires_in":600,"max_uses":2,"name":"Client"}"#).unwrap();
        assert_eq!(
            (r.role, r.expires_in, r.max_uses, r.name.as_deref()),
            (Role::Moderator, Some(600), Some(2), Some("Client"))
        );
        assert!(parse(r#"{"role":"admin"}"#).is_err());
        assert!(parse(r#"{"rooms":"x"}"#).is_err(), "unknown fields are refused");
    }
}
