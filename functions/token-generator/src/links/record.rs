//! A stored link's item in the fleet store (the token generator's own prefix): its room and
//! creator, the uses counted against it; a revoked link's item is gone.

/// The prefix of every item the token generator keeps.
pub const STORE_PREFIX: &str = "links#";
pub const ROOM: &str = "room";
pub const BY: &str = "by";

/// The item of link `link_id`.
pub fn key(link_id: &str) -> String {
    format!("{STORE_PREFIX}{link_id}")
}
