//! A room link as a signed token (docs/room-links.md): a JWT with its own `typ`, `aud` and
//! `iss`, signed (HS256) by a key of its own, never a LiveKit secret
//! (`${prefix}/room-link-keys`, the first listed signs, all verify), produced and checked by
//! `jsonwebtoken`, the library livekit-api signs LiveKit tokens with, through the process's
//! one crypto provider (`jwt`). The token generator creates and redeems links; the room
//! controls verify the links whose guests knock at the waiting room. A stored link's record
//! in the fleet store is the token generator's (`links#<id>`); the room controls only read
//! it, to honour a revocation.

use std::collections::HashMap;

use jsonwebtoken::{decode, decode_header, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::attributes;
use crate::error::Error;
use crate::keys::KeySet;
use crate::random::random_id;

/// Why a link does not verify: each a stable code, none a LiveKit token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the room link is malformed, was altered, or was signed by a key this deployment does not hold")]
    Invalid,
    /// Signed by a key id this container does not know: perhaps one added by a rotation.
    #[error("the room link is malformed, was altered, or was signed by a key this deployment does not hold")]
    UnknownKey,
    #[error("the room link has expired; ask for a new one")]
    Expired,
    #[error("room links are on but no room-link key is configured (`room-link-keys` in SSM, or ROOM_LINK_KEYS)")]
    KeysMissing,
    /// The JWT library could not sign (never expected with an HMAC key).
    #[error("could not sign the link")]
    Signing(String),
}

/// The prefix of the token generator's items in the fleet store (a stored link's record).
pub const STORE_PREFIX: &str = "links#";
/// A link record's fields: its room and creator; a revoked link's record is gone.
pub const RECORD_ROOM: &str = "room";
pub const RECORD_BY: &str = "by";

/// The record of link `link_id`.
pub fn record_key(link_id: &str) -> String {
    format!("{STORE_PREFIX}{link_id}")
}

/// Whether `link_id` can be a link id at all (what a path segment must be before it is
/// looked up).
pub fn is_link_id(link_id: &str) -> bool {
    !link_id.is_empty() && link_id.len() <= 64 && link_id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The link's JWT `typ`: a LiveKit token (`JWT`) is never taken for a link.
pub const LINK_TYPE: &str = "room-link+jwt";
pub const LINK_AUDIENCE: &str = "room-link";
pub const LINK_ISSUER: &str = "livekit-lambda";
/// 16 × 5 bits = 80 bits: unguessable, short enough for a URL.
const LINK_ID_CHARS: usize = 16;

/// What the link lets its guest be.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    #[default]
    Participant,
    /// `roomAdmin` of this one room; only a caller who is a moderator may grant it.
    Moderator,
}

/// How the link's guest comes in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Admission {
    /// Straight in: `/guest/token` redeems the link for a token.
    #[default]
    Direct,
    /// Through the waiting room: the guest knocks (`/guest/lobby`) and a moderator present
    /// in the room admits them; `/guest/token` refuses the link.
    Knock,
}

impl Admission {
    fn is_direct(&self) -> bool {
        *self == Admission::Direct
    }
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
    /// Absent in links made before the waiting room: straight in.
    #[serde(default, skip_serializing_if = "Admission::is_direct")]
    pub admission: Admission,
}

/// The random part of a guest's identity: two guests of one link never share one.
const GUEST_SUFFIX_CHARS: usize = 6;

impl LinkClaims {
    /// A new identity for a guest of this link, chosen by the server:
    /// `guest:<link id>:<random>` (the link id names the family a removal can keep out).
    pub fn guest_identity(&self) -> Result<String, Error> {
        Ok(format!("{}{}:{}", attributes::GUEST_IDENTITY_PREFIX, self.jti, random_id(GUEST_SUFFIX_CHARS)?))
    }

    /// What the guest's token says of the link: who invited them, by which link, and the
    /// owning application.
    pub fn attribute(&self, attributes: &mut HashMap<String, String>) {
        attributes.insert(attributes::INVITED_BY.into(), self.by.clone());
        attributes.insert(attributes::LINK_ID.into(), self.jti.clone());
        if let Some(owner) = &self.owner {
            attributes.insert(attributes::OWNER.into(), owner.clone());
        }
    }
}

/// A new link id.
pub fn new_link_id() -> Result<String, Error> {
    random_id(LINK_ID_CHARS)
}

/// Signs `claims` with the key listed first.
pub fn sign(claims: &LinkClaims, keys: &KeySet) -> Result<String, LinkError> {
    crate::jwt::install();
    let (kid, secret) = keys.signing().ok_or(LinkError::KeysMissing)?;
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some(LINK_TYPE.into());
    header.kid = Some(kid.into());
    encode(&header, claims, &EncodingKey::from_secret(secret.expose().as_bytes()))
        .map_err(|e| LinkError::Signing(e.to_string()))
}

/// Longest link read (a link is a few hundred bytes).
const MAX_LINK_BYTES: usize = 4096;

/// Checks a link's signature (by its `kid`), type, audience, issuer and expiry.
pub fn verify(link: &str, keys: &KeySet) -> Result<LinkClaims, LinkError> {
    crate::jwt::install();
    if keys.is_empty() {
        return Err(LinkError::KeysMissing);
    }
    if link.len() > MAX_LINK_BYTES {
        return Err(LinkError::Invalid);
    }
    let header = decode_header(link).map_err(|_| LinkError::Invalid)?;
    if header.alg != Algorithm::HS256 || header.typ.as_deref() != Some(LINK_TYPE) {
        return Err(LinkError::Invalid);
    }
    let secret = header.kid.as_deref().and_then(|kid| keys.get(kid)).ok_or(LinkError::UnknownKey)?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&[LINK_AUDIENCE]);
    validation.set_issuer(&[LINK_ISSUER]);
    validation.set_required_spec_claims(&["exp", "aud", "iss"]);
    // A link's expiry is its creator's promise: no minute of grace.
    validation.leeway = 0;
    decode::<LinkClaims>(link, &DecodingKey::from_secret(secret.expose().as_bytes()), &validation)
        .map(|data| data.claims)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => LinkError::Expired,
            _ => LinkError::Invalid,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now_secs() -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
    }

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
            admission: Admission::Direct,
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
        assert_eq!(verify(&link, &KeySet::from_pairs([("k1", SECRET_A)])), Err(LinkError::UnknownKey));
        assert_eq!(verify(&link, &KeySet::from_pairs([("k2", SECRET_A)])), Err(LinkError::Invalid), "wrong key");
        assert_eq!(verify(&link, &KeySet::default()), Err(LinkError::KeysMissing));
    }

    #[test]
    fn tampered_expired_and_foreign_tokens_are_refused() {
        let keys = KeySet::from_pairs([("k1", SECRET_A)]);
        let link = sign(&claims(now_secs() + 60), &keys).unwrap();
        let mut parts: Vec<String> = link.split('.').map(String::from).collect();
        let mut forged = claims(now_secs() + 60);
        forged.room = "boardroom".into();
        parts[1] = base64_url(&serde_json::to_vec(&forged).unwrap());
        assert_eq!(verify(&parts.join("."), &keys), Err(LinkError::Invalid), "altered claims");
        assert_eq!(verify(&sign(&claims(now_secs() - 1), &keys).unwrap(), &keys), Err(LinkError::Expired));
        for junk in ["", "abc", "a.b.c", &"x".repeat(5000)] {
            assert_eq!(verify(junk, &keys), Err(LinkError::Invalid), "{junk:.20}");
        }
        // A LiveKit token signed with the same secret is still not a link (typ and aud).
        let livekit =
            livekit_api::access_token::AccessToken::with_api_key("k1", SECRET_A).with_identity("x").to_jwt().unwrap();
        assert_eq!(verify(&livekit, &keys), Err(LinkError::Invalid));
        let mut other_audience = claims(now_secs() + 60);
        other_audience.aud = "something-else".into();
        assert_eq!(verify(&sign(&other_audience, &keys).unwrap(), &keys), Err(LinkError::Invalid));
    }

    fn base64_url(bytes: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }
}
