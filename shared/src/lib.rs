//! What the LiveKit Lambda functions have in common, in layers that import only downward:
//!
//! 1. foundation: `error` (what went wrong, no HTTP), `settings` (the environment, where the
//!    process runs), `secret`, `random`, `validate` (names), `events` (LiveKit's webhook
//!    event names), `attributes` (the participant attributes the server sets), `metrics`,
//!    `telemetry`, `jwt` (the one JWT crypto provider);
//! 2. LiveKit keys, tokens and room links: `keys`, `credentials`, `token`, `room_link`;
//! 3. clients: `aws` (the SDK's one configuration), `ssm`, `credential_store`, `state` (the
//!    fleet store), `room_facts` (what one function records of a room for others),
//!    `membership` (what a room's moderators decided about a participant),
//!    `livekit` (LiveKit's server API);
//! 4. HTTP on top: `routes` (the one route table), `web` (refusals, CORS, input, token
//!    answers, the log line), `auth` (who is asking, as the JWT authorizer vouches),
//!    `pipeline` (the one request pipeline), `lambda` (the entry point).
//!
//! Inside the crate every path names the module that defines the item; the re-exports
//! below are for the functions. The repository test `no_crate_of_the_workspace_has_an_import_cycle…` holds the layers to
//! having no import cycle.

pub mod attributes;
pub mod auth;
pub mod aws;
pub mod credential_store;
pub mod credentials;
pub mod error;
pub mod events;
pub mod jwt;
pub mod keys;
pub mod lambda;
#[cfg(feature = "services")]
pub mod livekit;
#[cfg(feature = "state")]
pub mod membership;
pub mod metrics;
pub mod pipeline;
pub mod random;
#[cfg(feature = "state")]
pub mod room_facts;
pub mod room_link;
pub mod routes;
pub mod secret;
pub mod settings;
pub mod ssm;
#[cfg(feature = "state")]
pub mod state;
pub mod telemetry;
pub mod token;
pub mod validate;
pub mod web;

pub use credential_store::{CachePolicy, CredentialSource, CredentialStore};
pub use credentials::Credentials;
pub use error::Error;
pub use keys::KeySet;
pub use pipeline::{Feature, Service};
pub use routes::Function;
pub use secret::Secret;
pub use settings::{EnvSettings, Runtime};
pub use web::{ErrorResponse, HttpError};
