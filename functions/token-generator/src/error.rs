//! The token generator's own refusals of a token request; what every function shares
//! (the query string, names, credentials, the store) refuses through its own error type.

use lambda_http::http::StatusCode;
use livekit_lambda_shared::HttpError;

#[derive(Clone, Debug, thiserror::Error)]
pub enum TokenError {
    #[error("missing query parameter `{0}`")]
    MissingParameter(&'static str),
    #[error("request body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("request body does not match the token request schema: {0}")]
    InvalidField(String),
    #[error("`{field}` is too large (at most {limit})")]
    TooLarge { field: &'static str, limit: String },
    #[error("agent `{0}` may not be dispatched from this endpoint")]
    AgentNotAllowed(String),
    #[error("`room_config.{0}` may not be set from this endpoint")]
    RoomConfigFieldNotAllowed(&'static str),
    #[error("`room_config.name` must be empty or equal to `room_name`")]
    RoomConfigNameMismatch,
    #[error("attribute `{0}` is set by the server from the verified token")]
    ReservedAttribute(String),
    #[error("room links are redeemed at /guest/token, not here")]
    LinkNotHere,
    /// An identity in a namespace the server assigns (`user:`, `guest:`).
    #[error("identities starting with `{0}` are assigned by the server")]
    ReservedIdentity(String),
    /// One agent listed twice in `room_config.agents`: LiveKit would start a job for each.
    #[error("agent `{0}` is listed more than once in `room_config.agents`")]
    AgentRepeated(String),
    #[error("`{0}` in an agent's metadata is set by the server")]
    ReservedAgentMetadata(&'static str),
    #[error("`participant_attributes` has the key `{0}` more than once")]
    DuplicateAttribute(String),
}

impl HttpError for TokenError {
    fn status(&self) -> StatusCode {
        match self {
            TokenError::MissingParameter(_)
            | TokenError::InvalidJson(_)
            | TokenError::InvalidField(_)
            | TokenError::TooLarge { .. }
            | TokenError::RoomConfigNameMismatch
            | TokenError::LinkNotHere
            | TokenError::AgentRepeated(_)
            | TokenError::DuplicateAttribute(_) => StatusCode::BAD_REQUEST,
            TokenError::AgentNotAllowed(_)
            | TokenError::RoomConfigFieldNotAllowed(_)
            | TokenError::ReservedAttribute(_)
            | TokenError::ReservedIdentity(_)
            | TokenError::ReservedAgentMetadata(_) => StatusCode::FORBIDDEN,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            TokenError::MissingParameter(_) => "missing_parameter",
            TokenError::InvalidJson(_) => "invalid_json",
            TokenError::InvalidField(_)
            | TokenError::RoomConfigNameMismatch
            | TokenError::AgentRepeated(_)
            | TokenError::DuplicateAttribute(_) => "invalid_field",
            TokenError::TooLarge { .. } => "field_too_large",
            TokenError::AgentNotAllowed(_) => "agent_not_allowed",
            TokenError::RoomConfigFieldNotAllowed(_)
            | TokenError::ReservedAttribute(_)
            | TokenError::ReservedAgentMetadata(_)
            | TokenError::LinkNotHere => "field_not_allowed",
            TokenError::ReservedIdentity(_) => "identity_not_allowed",
        }
    }
}
