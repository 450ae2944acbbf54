//! The waiting room (issue 29, docs/waiting-room.md): a guest knocks (`knock`), the
//! moderators present are told and nobody else (`notice`), a moderator lists and decides
//! (`decide`), the guest polls until admitted and collects the token once (`wait`). The
//! queue and when a request lapses (`queue`) live in the fleet store (`record`), so a fleet
//! of containers agrees on every request; its refusals are `refusal`, its switch and limits
//! `settings`.

pub mod decide;
pub mod knock;
pub mod notice;
pub mod queue;
pub mod record;
pub mod refusal;
pub mod settings;
pub mod wait;

pub use refusal::LobbyRefusal;
pub use settings::LobbySettings;
