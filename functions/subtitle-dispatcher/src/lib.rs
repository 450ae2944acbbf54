//! The subtitle dispatcher: a participant holding a valid LiveKit token for a room starts
//! or stops the transcriber agent there, through LiveKit's AgentDispatchService.

pub mod error;
pub mod rate_limit;
pub mod service;
pub mod settings;

pub use error::SubtitleError;
pub use service::SubtitleService;
pub use settings::SubtitleSettings;
