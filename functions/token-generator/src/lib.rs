//! The token generator: `GET /token?room&participant` for existing front ends, and
//! LiveKit's standard token endpoint on `POST /token` for every client SDK's
//! `TokenSource.endpoint`.

pub mod auth;
pub mod error;
pub mod links;
pub mod request;
pub mod service;
pub mod settings;

pub use auth::{AuthSettings, Caller};
pub use error::TokenError;
pub use request::TokenRequest;
pub use service::TokenService;
pub use settings::TokenSettings;
