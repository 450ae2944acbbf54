//! What a room's moderators decided about one of its participants, kept by the room
//! controls (docs/moderators.md) under their own prefix and read by whoever mints a token
//! for that room: the token generator (`/token`, `/guest/token`) and the waiting room.
//!
//! One item per room and member (`controls#member#<n>#<room>#<member>`), TTL'd: the member
//! is **removed** (kept out: no token for that room until a moderator lifts it or the record
//! lapses, after the longest token's life), **lifted** (let back in: a token minted now must
//! not be older than the removal, which LiveKit revoked), or given a **role** that overrides
//! what their claims say. The member is the identity, except for a room link's guests,
//! whose identities are new at each redemption: they are kept out by their link's identity
//! family (`guest:<link id>`), so redeeming the same link again does not get back in.

use std::time::Duration;

use crate::attributes;
use crate::error::Error;
use crate::settings::EnvSettings;
use crate::state::{now_millis, now_secs, Fields, StateStore, StoreError};

/// `MODERATION`: `off` (default) or `on`, which needs verified callers
/// (`auth_enabled`: only they can be moderators). The room controls and the token generator
/// read it alike.
pub fn switch(env: &EnvSettings, auth_enabled: bool) -> Result<bool, Error> {
    let on = env.on_off("MODERATION")?;
    if on && !auth_enabled {
        return Err(Error::config("MODERATION", "needs AUTH_MODE=jwt: only verified callers can be moderators"));
    }
    Ok(on)
}

/// The room controls' prefix: every item they keep is under it (the waiting room's too).
pub const CONTROLS_PREFIX: &str = "controls#";
/// The member records: what the token generator may read of the room controls' items.
pub const MEMBER_PREFIX: &str = "controls#member#";

const STANDING: &str = "standing";
const REMOVED_AT: &str = "removed_at";
const BY: &str = "by";
const ROLE: &str = "role";

/// What a room's moderators decided about a member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Standing {
    /// Kept out since `at` (epoch seconds; LiveKit was told to refuse tokens older).
    Removed { at: u64, by: String },
    /// Let back in after a removal at `removed_at`.
    Lifted { removed_at: u64 },
    /// The role a moderator gave: `true` for a moderator.
    Role { moderator: bool, by: String },
}

/// Who the record of `identity` is about: a room link's guest (`guest:<link>:<random>`) is
/// their link's family, anyone else themselves.
pub fn member_of(identity: &str) -> &str {
    match identity.strip_prefix(attributes::GUEST_IDENTITY_PREFIX) {
        Some(rest) => match rest.split_once(':') {
            Some((link, _)) => &identity[..attributes::GUEST_IDENTITY_PREFIX.len() + link.len()],
            None => identity,
        },
        None => identity,
    }
}

/// The record's key (the room's length first: a `#` in a room name cannot make two keys
/// meet).
pub fn key(room: &str, identity: &str) -> String {
    format!("{MEMBER_PREFIX}{}#{room}#{}", room.len(), member_of(identity))
}

/// What was decided about `identity` in `room`, if anything (one read).
pub async fn standing(store: &dyn StateStore, room: &str, identity: &str) -> Result<Option<Standing>, StoreError> {
    let Some(fields) = store.get(&key(room, identity)).await? else { return Ok(None) };
    let number = |name: &str| fields.get(name).and_then(|v| v.parse::<u64>().ok()).unwrap_or_default();
    let by = fields.get(BY).cloned().unwrap_or_default();
    Ok(match fields.get(STANDING).map(String::as_str) {
        Some("removed") => Some(Standing::Removed { at: number(REMOVED_AT), by }),
        Some("lifted") => Some(Standing::Lifted { removed_at: number(REMOVED_AT) }),
        Some("role") => Some(Standing::Role { moderator: fields.get(ROLE).is_some_and(|r| r == "moderator"), by }),
        _ => None,
    })
}

/// Records that `identity` (its member) is kept out of `room` since `at`, for `keep_for`.
pub async fn remove(
    store: &dyn StateStore,
    room: &str,
    identity: &str,
    at: u64,
    by: &str,
    keep_for: Duration,
) -> Result<(), StoreError> {
    let fields = Fields::from([
        (STANDING.to_string(), "removed".to_string()),
        (REMOVED_AT.to_string(), at.to_string()),
        (BY.to_string(), by.to_string()),
    ]);
    store.put(&key(room, identity), &fields, at + keep_for.as_secs()).await
}

/// Lets a removed member back in: the record says when they were removed, so a token is
/// minted no earlier than that, then lapses. `false` when they were not removed.
pub async fn lift(store: &dyn StateStore, room: &str, identity: &str) -> Result<bool, StoreError> {
    let Some(Standing::Removed { at, .. }) = standing(store, room, identity).await? else { return Ok(false) };
    let fields = Fields::from([(STANDING.to_string(), "lifted".to_string()), (REMOVED_AT.to_string(), at.to_string())]);
    // Tokens minted within a second of the removal are the only ones it concerns.
    store.put(&key(room, identity), &fields, now_secs() + 60).await?;
    Ok(true)
}

/// Records the role a moderator gave `identity` in `room`, for `keep_for` (the longest
/// token's life: a token minted later than that follows the claims again).
pub async fn set_role(
    store: &dyn StateStore,
    room: &str,
    identity: &str,
    moderator: bool,
    by: &str,
    keep_for: Duration,
) -> Result<(), StoreError> {
    let fields = Fields::from([
        (STANDING.to_string(), "role".to_string()),
        (ROLE.to_string(), if moderator { "moderator" } else { "participant" }.to_string()),
        (BY.to_string(), by.to_string()),
    ]);
    store.put(&key(room, identity), &fields, now_secs() + keep_for.as_secs()).await
}

/// A member a moderator removed from the room asks for a token there.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a moderator removed this participant from the room")]
pub struct Removed;

/// Whether `identity` may have a token for `room` now, for everyone who mints one: `Err`
/// when a moderator keeps them out; otherwise the role a moderator gave them (`Some(true)`:
/// a moderator), or `None` when their claims decide. Right after a lifted removal it waits
/// until a token minted now is newer than the removal (at most a second).
pub async fn admit(
    store: &dyn StateStore,
    room: &str,
    identity: &str,
) -> Result<Result<Option<bool>, Removed>, StoreError> {
    Ok(match standing(store, room, identity).await? {
        None => Ok(None),
        Some(Standing::Removed { .. }) => Err(Removed),
        Some(Standing::Lifted { removed_at }) => {
            not_before_removal(removed_at).await;
            Ok(None)
        }
        Some(Standing::Role { moderator, .. }) => Ok(Some(moderator)),
    })
}

/// After a lifted removal at `removed_at`, waits until the clock is past that second, so a
/// token minted now has an `nbf` after the revocation LiveKit was given (tokens whose `nbf`
/// is before it are refused). At most a second, and only right after a lift.
pub async fn not_before_removal(removed_at: u64) {
    let after_ms = (removed_at + 1) * 1000;
    let now = now_millis();
    if now < after_ms {
        tokio::time::sleep(Duration::from_millis(after_ms - now)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::MemoryStore;

    #[test]
    fn a_guest_is_their_links_family_and_everyone_else_themselves() {
        assert_eq!(member_of("guest:l1:abc123"), "guest:l1");
        assert_eq!(member_of("user:u-1"), "user:u-1");
        assert_eq!(member_of("Jane"), "Jane");
        assert_eq!(key("r", "guest:l1:abc"), key("r", "guest:l1:xyz"), "one family, one record");
        assert_ne!(key("a#b", "c"), key("a", "b#c"));
        assert!(key("r", "x").starts_with(MEMBER_PREFIX) && MEMBER_PREFIX.starts_with(CONTROLS_PREFIX));
    }

    #[tokio::test]
    async fn removed_lifted_and_roles() {
        let store = MemoryStore::default();
        let week = Duration::from_secs(7 * 86_400);
        assert_eq!(standing(&store, "r", "user:u").await.unwrap(), None);
        assert!(!lift(&store, "r", "user:u").await.unwrap(), "nobody to let back in");
        let at = now_secs();
        remove(&store, "r", "guest:l1:a", at, "user:mod", week).await.unwrap();
        let removed = Standing::Removed { at, by: "user:mod".into() };
        assert_eq!(standing(&store, "r", "guest:l1:b").await.unwrap(), Some(removed), "the whole family");
        assert_eq!(standing(&store, "other", "guest:l1:b").await.unwrap(), None, "in that room only");
        assert!(lift(&store, "r", "guest:l1:c").await.unwrap());
        assert_eq!(standing(&store, "r", "guest:l1:d").await.unwrap(), Some(Standing::Lifted { removed_at: at }));
        set_role(&store, "r", "user:u", true, "user:mod", week).await.unwrap();
        let role = Standing::Role { moderator: true, by: "user:mod".into() };
        assert_eq!(standing(&store, "r", "user:u").await.unwrap(), Some(role));
        let before = now_millis();
        not_before_removal(now_secs()).await;
        assert!(now_millis() / 1000 > before / 1000, "waited into the next second");
    }
}
