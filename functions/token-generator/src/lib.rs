//! The token generator: `GET /token?room&participant` for existing front ends, LiveKit's
//! standard token endpoint on `POST /token` for every client SDK's `TokenSource.endpoint`,
//! and room links for guests. Read in request order:
//!
//! - `service`: the routes of the route table, each mapped to its handler;
//! - who is asking is the shared crate's `auth`; `request`: what was asked; `grants`: what
//!   they get;
//! - `mint`: `/token`, and the one signer of every token; `health`: `/health`;
//! - `links/`: room links (create, revoke, redeem, the link itself, its settings);
//! - `context`, `settings`, `error`: what every handler reads, and the own refusals.

pub mod context;
pub mod error;
pub mod grants;
pub mod health;
pub mod links;
pub mod mint;
pub mod request;
pub mod service;
pub mod settings;
pub mod standing;

pub use error::TokenError;
pub use livekit_lambda_shared::auth::{AuthSettings, Caller};
pub use request::TokenRequest;
pub use service::TokenService;
pub use settings::TokenSettings;
