//! The room controls: what happens around a meeting's token, on the room's behalf, for the
//! people a room's policy names: the waiting room (`lobby`: guests knock, the moderators
//! present are told, a moderator admits or denies, the admitted guest collects their
//! token) and the moderator controls (`moderation`: mute, remove and keep out, change a
//! role, end the meeting; a participant's hand and name). Who moderates a room is
//! `moderator`. Why this is a function of its own, and not routes of the token generator:
//! docs/waiting-room.md#where-it-lives.

pub mod context;
pub mod input;
pub mod lobby;
pub mod moderation;
pub mod moderator;
pub mod service;
pub mod settings;

pub use service::RoomControlsService;

/// The prefix of every item the room controls keep in the fleet store (each feature its
/// own below it: `controls#lobby#…`); their role may touch no other item but the few it
/// reads (infra/IAM.md).
pub const STORE_PREFIX: &str = livekit_lambda_shared::membership::CONTROLS_PREFIX;
pub use settings::RoomControlsSettings;
