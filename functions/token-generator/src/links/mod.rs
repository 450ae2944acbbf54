//! Room links (issue 20, docs/room-links.md): short, signed, expiring invitations that let
//! a guest's browser into exactly one room. A verified caller creates one at
//! `POST /rooms/{room}/links` (`create`) and revokes it (`revoke`); the guest redeems it at
//! `/guest/token` (`guest`), which no authorizer guards, for a participant token with the
//! link's grants. The link itself, signed and verified, and its record's key in the fleet
//! store are the shared crate's `room_link` (the room controls verify knocking guests'
//! links too); its refusals here are `refusal`; the settings that switch it on `settings`.

pub mod create;
pub mod creator;
pub mod guest;
pub mod refusal;
pub mod revoke;
pub mod settings;

pub use refusal::LinkRefusal;
pub use settings::{enabled_in, LinkSettings};
