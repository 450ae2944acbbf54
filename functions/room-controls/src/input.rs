//! What the room controls' routes read from a request body: nothing, or one strict JSON
//! object of the route's own type (an unknown field is refused, not ignored); and the one
//! refusal of a body that is not that.

use lambda_http::http::{Request, StatusCode};
use lambda_http::Body;
use livekit_lambda_shared::web::{body_within, optional_json, ErrorResponse};
use livekit_lambda_shared::HttpError;
use serde::de::DeserializeOwned;

/// A body that is not what the route reads.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the request body is not valid: {0}")]
pub struct InvalidBody(pub String);

impl HttpError for InvalidBody {
    fn status(&self) -> StatusCode {
        StatusCode::BAD_REQUEST
    }
    fn code(&self) -> &'static str {
        "invalid_body"
    }
}

/// The body as a `T`, or `None` when there is none (no body, or an empty one); at most
/// `max_bytes`.
pub fn json_body<T: DeserializeOwned>(request: &Request<Body>, max_bytes: usize) -> Result<Option<T>, ErrorResponse> {
    match optional_json(request.headers(), body_within(request, max_bytes)?)? {
        None => Ok(None),
        Some(json) => Ok(Some(serde_json::from_slice(json).map_err(|e| InvalidBody(e.to_string()))?)),
    }
}

/// The body as a `T`; `hint` says what to send when there is none.
pub fn required_json_body<T: DeserializeOwned>(
    request: &Request<Body>,
    max_bytes: usize,
    hint: &str,
) -> Result<T, ErrorResponse> {
    json_body(request, max_bytes)?.ok_or_else(|| InvalidBody(format!("send {hint}")).into())
}
