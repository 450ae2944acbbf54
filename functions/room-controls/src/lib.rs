//! The room controls: what happens around a meeting's token, on the room's behalf, for the
//! people a room's policy names. Today the waiting room (`lobby`): guests knock, the
//! moderators present are told, a moderator admits or denies, the admitted guest collects
//! their token. Why this is a function of its own, and not a route of the token generator:
//! docs/waiting-room.md#where-it-lives.

pub mod context;
pub mod lobby;
pub mod moderator;
pub mod service;
pub mod settings;

pub use service::RoomControlsService;

/// The prefix of every item the room controls keep in the fleet store (each feature its
/// own below it: `controls#lobby#…`); their role may touch no other item but the few it
/// reads (infra/IAM.md).
pub const STORE_PREFIX: &str = "controls#";
pub use settings::RoomControlsSettings;
