//! The webhook receiver: verifies LiveKit's signed deliveries, tells rooms when a
//! recording hit its limit, and manages per-room SIP dial-in rules.

pub mod actions;
pub mod error;
pub mod idempotency;
pub mod reconcile;
pub mod service;
pub mod settings;

pub use actions::KNOWN_EVENTS;
pub use error::WebhookError;
pub use service::WebhookService;
pub use settings::WebhookSettings;
