//! What the LiveKit Lambda functions have in common: credentials from SSM Parameter
//! Store (one batched call per cold start, cached), room-scoped tokens built and
//! verified with livekit-api, settings from the environment, and the HTTP plumbing
//! (JSON errors, CORS, security headers) that keeps every function's behaviour the same.

pub mod credentials;
pub mod error;
pub mod keys;
pub mod lambda;
#[cfg(feature = "services")]
pub mod livekit;
pub mod metrics;
pub mod pipeline;
pub mod random;
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

pub use credentials::{CachePolicy, CredentialSource, CredentialStore, Credentials, Runtime};
pub use error::Error;
pub use keys::KeySet;
pub use pipeline::{Feature, Service};
pub use routes::Function;
pub use secret::Secret;
pub use settings::EnvSettings;
pub use web::ErrorResponse;
