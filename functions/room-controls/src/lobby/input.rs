//! What the waiting room's routes read from a request body: nothing, or one strict JSON
//! object of the route's own type (an unknown field is refused, not ignored).

use lambda_http::http::Request;
use lambda_http::Body;
use livekit_lambda_shared::web::{body_within, optional_json, ErrorResponse};
use serde::de::DeserializeOwned;

use super::refusal::LobbyRefusal;

/// The body as a `T`, or `None` when there is none (no body, or an empty one); at most
/// `max_bytes`.
pub fn json_body<T: DeserializeOwned>(request: &Request<Body>, max_bytes: usize) -> Result<Option<T>, ErrorResponse> {
    match optional_json(request.headers(), body_within(request, max_bytes)?)? {
        None => Ok(None),
        Some(json) => Ok(Some(serde_json::from_slice(json).map_err(|e| LobbyRefusal::InvalidBody(e.to_string()))?)),
    }
}
