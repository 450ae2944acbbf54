//! Room links (issue 20, docs/room-links.md): short, signed, expiring invitations that let
//! a guest's browser into exactly one room. A verified caller creates one at
//! `POST /rooms/{room}/links` (`create`) and revokes it (`revoke`); the guest redeems it at
//! `/guest/token` (`guest`), which no authorizer guards, for a participant token with the
//! link's grants. The link itself is `claims`; its refusals `refusal`; its item in the fleet
//! store `record`; the settings that switch it on `settings`.

pub mod claims;
pub mod create;
pub mod creator;
pub mod guest;
pub mod record;
pub mod refusal;
pub mod revoke;
pub mod settings;

pub use claims::{sign, verify, LinkClaims, Role};
pub use record::STORE_PREFIX;
pub use refusal::LinkRefusal;
pub use settings::{enabled_in, LinkSettings};
