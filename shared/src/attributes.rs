//! The participant attributes and identity namespaces the server sets, in one place: every
//! function that mints a token (the token generator; the room controls for an admitted guest)
//! and every function that reads them (the room controls find a room's moderators by
//! [`ROLE`]) names them here. No caller may set an attribute under
//! [`RESERVED_PREFIXES`], with authentication on or off, so a reader can trust them.

/// Attribute keys the server writes from verified claims, room links and the waiting room.
pub const PREFIX: &str = "auth.";
/// Attribute prefixes no caller may set: ours, LiveKit's own (`lk.`: agent state,
/// transcription, publishing on behalf) and LiveKit SIP's (`sip.`: a phone caller's number
/// and call; a browser claiming them would pass for a phone caller).
pub const RESERVED_PREFIXES: &[&str] = &[PREFIX, "lk.", "sip."];

/// A signed-in user's subject.
pub const USER_ID: &str = "auth.user_id";
pub const EMAIL: &str = "auth.email";
/// The application that minted the token or created the link (`owner:<client id>`).
pub const OWNER: &str = "auth.owner";
/// Who created the room link a guest came by (`user:<sub>` or `client:<id>`).
pub const INVITED_BY: &str = "auth.invited_by";
pub const LINK_ID: &str = "auth.link_id";
/// The moderator who admitted the participant from the waiting room.
pub const ADMITTED_BY: &str = "auth.admitted_by";
/// `moderator` for a moderator; absent for everyone else.
pub const ROLE: &str = "auth.role";
pub const MODERATOR_ROLE: &str = "moderator";
/// `raised` while the participant's hand is up (absent when it is down): set through the
/// room controls, never by the participant's own client (our tokens never grant
/// `canUpdateOwnMetadata`).
pub const HAND: &str = "auth.hand";
pub const HAND_RAISED: &str = "raised";

/// A room link's guest's identity: `guest:<link id>:<random>`, chosen by the server. No
/// caller who names a participant may name one in it (nor in the users' `user:`).
pub const GUEST_IDENTITY_PREFIX: &str = "guest:";

/// Whether `key` is one a caller may not set.
pub fn is_reserved(key: &str) -> bool {
    RESERVED_PREFIXES.iter().any(|prefix| key.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_attribute_the_server_sets_is_reserved() {
        for key in
            [USER_ID, EMAIL, OWNER, INVITED_BY, LINK_ID, ADMITTED_BY, ROLE, HAND, "lk.agent.state", "sip.phoneNumber"]
        {
            assert!(is_reserved(key), "{key}");
        }
        assert!(!is_reserved("authx") && !is_reserved("hand"));
    }
}
