//! The waiting room in the fleet store, under the room controls' own prefix `controls#`: one
//! item per request (`controls#lobby#req#<id>`: who knocks, where, and where the request
//! stands), TTL'd; a set per room listing its requests (`controls#lobby#room#<room>`), which
//! is what a moderator's list reads instead of a scan; and a set per guest handle and room
//! (`controls#lobby#guest#…`), which caps how many requests one guest may have waiting. A request
//! moves only by [`StateStore::transition`], so of two concurrent steps from one state
//! exactly one happens: one admission, one collection, one token.

use std::collections::HashMap;
use std::fmt;

use livekit_lambda_shared::state::Fields;

/// The prefix of the waiting room's items, under the room controls' own (`crate::STORE_PREFIX`).
pub const LOBBY_PREFIX: &str = "controls#lobby#";
/// A request id: 26 characters of a 32-symbol alphabet, 130 bits.
pub const REQUEST_ID_CHARS: usize = 26;

/// Where a request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Waiting,
    Admitted,
    Denied,
    /// Admitted, and the token handed out: never again.
    Collected,
    /// Lapsed: the guest stopped asking, waited too long, or the room finished.
    Expired,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Waiting => "waiting",
            Status::Admitted => "admitted",
            Status::Denied => "denied",
            Status::Collected => "collected",
            Status::Expired => "expired",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [Status::Waiting, Status::Admitted, Status::Denied, Status::Collected, Status::Expired]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who knocked: a room link's guest, or a signed-in user the room's policy keeps out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Knocker {
    Guest,
    User,
}

impl Knocker {
    pub fn as_str(self) -> &'static str {
        match self {
            Knocker::Guest => "guest",
            Knocker::User => "user",
        }
    }
}

/// One request to enter, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LobbyRequest {
    pub id: String,
    pub room: String,
    /// The display name moderators see.
    pub name: String,
    /// The identity the admitted guest's token will carry, chosen by the server at the knock.
    pub identity: String,
    pub knocker: Knocker,
    /// What caps this guest's requests: `link:<id>` or the user's identity.
    pub handle: String,
    /// The `auth.*` attribution the token will carry (the link's, or the user's claims').
    pub attributes: HashMap<String, String>,
    pub status: Status,
    pub since_ms: u64,
    /// The guest's last poll: the heartbeat.
    pub seen_ms: u64,
    /// The moderator who decided (as the log names callers).
    pub decided_by: Option<String>,
}

const ROOM: &str = "room";
const NAME: &str = "name";
const IDENTITY: &str = "identity";
const KNOCKER: &str = "knocker";
const HANDLE: &str = "handle";
const ATTRIBUTES: &str = "attributes";
pub const STATUS: &str = "status";
const SINCE_MS: &str = "since_ms";
pub const SEEN_MS: &str = "seen_ms";
pub const DECIDED_BY: &str = "decided_by";
pub const DECIDED_MS: &str = "decided_ms";

/// The item of request `id`.
pub fn request_key(id: &str) -> String {
    format!("{LOBBY_PREFIX}req#{id}")
}

/// The set of `room`'s requests.
pub fn room_key(room: &str) -> String {
    format!("{LOBBY_PREFIX}room#{room}")
}

/// The set of one guest handle's requests at `room` (the room's length first: a `#` in a
/// room name cannot make two rooms' keys meet).
pub fn handle_key(room: &str, handle: &str) -> String {
    format!("{LOBBY_PREFIX}guest#{}#{room}#{handle}", room.len())
}

/// Whether `id` can be a request id at all (checked before any store read).
pub fn is_request_id(id: &str) -> bool {
    id.len() == REQUEST_ID_CHARS && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// One field's change, for a transition.
pub fn change(field: &str, value: impl Into<String>) -> Fields {
    Fields::from([(field.to_string(), value.into())])
}

impl LobbyRequest {
    pub fn to_fields(&self) -> Fields {
        let mut fields = Fields::from([
            (ROOM.to_string(), self.room.clone()),
            (NAME.to_string(), self.name.clone()),
            (IDENTITY.to_string(), self.identity.clone()),
            (KNOCKER.to_string(), self.knocker.as_str().to_string()),
            (HANDLE.to_string(), self.handle.clone()),
            (ATTRIBUTES.to_string(), serde_json::to_string(&self.attributes).unwrap_or_default()),
            (STATUS.to_string(), self.status.as_str().to_string()),
            (SINCE_MS.to_string(), self.since_ms.to_string()),
            (SEEN_MS.to_string(), self.seen_ms.to_string()),
        ]);
        if let Some(by) = &self.decided_by {
            fields.insert(DECIDED_BY.into(), by.clone());
        }
        fields
    }

    /// The request in `fields`; `None` when the item is not one we wrote.
    pub fn from_fields(id: &str, fields: &Fields) -> Option<Self> {
        let text = |name: &str| fields.get(name).cloned();
        let number = |name: &str| fields.get(name).and_then(|v| v.parse::<u64>().ok());
        Some(Self {
            id: id.to_string(),
            room: text(ROOM)?,
            name: text(NAME)?,
            identity: text(IDENTITY)?,
            knocker: match fields.get(KNOCKER)?.as_str() {
                "user" => Knocker::User,
                _ => Knocker::Guest,
            },
            handle: text(HANDLE)?,
            attributes: serde_json::from_str(fields.get(ATTRIBUTES)?).ok()?,
            status: Status::parse(fields.get(STATUS)?)?,
            since_ms: number(SINCE_MS)?,
            seen_ms: number(SEEN_MS)?,
            decided_by: text(DECIDED_BY),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_waiting_rooms_items_are_the_room_controls() {
        assert!(LOBBY_PREFIX.starts_with(crate::STORE_PREFIX));
        assert!(!LOBBY_PREFIX.starts_with(livekit_lambda_shared::membership::MEMBER_PREFIX));
    }

    #[test]
    fn a_request_survives_the_store_and_keys_never_meet() {
        let request = LobbyRequest {
            id: "a".repeat(REQUEST_ID_CHARS),
            room: "consultation".into(),
            name: "Jane".into(),
            identity: "guest:l1:abc".into(),
            knocker: Knocker::Guest,
            handle: "link:l1".into(),
            attributes: HashMap::from([("auth.link_id".into(), "l1".into())]),
            status: Status::Waiting,
            since_ms: 1,
            seen_ms: 2,
            decided_by: None,
        };
        assert_eq!(LobbyRequest::from_fields(&request.id, &request.to_fields()), Some(request.clone()));
        let decided = LobbyRequest { status: Status::Admitted, decided_by: Some("user:mod".into()), ..request };
        assert_eq!(LobbyRequest::from_fields(&decided.id, &decided.to_fields()), Some(decided));
        assert_eq!(LobbyRequest::from_fields("x", &Fields::new()), None);
        assert_ne!(handle_key("a#b", "c"), handle_key("a", "b#c"));
        assert!(is_request_id(&"a2".repeat(13)));
        for bad in ["", "short", &"A".repeat(26), &"a".repeat(27), "aaaaaaaaaaaaaaaaaaaaaaaaa/"] {
            assert!(!is_request_id(bad), "{bad}");
        }
    }
}
