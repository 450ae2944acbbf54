//! Every refusal, of every function, in one shape and through one path: an error type says
//! what its refusal is ([`HttpError`]: status, stable code, `Retry-After`, internal detail),
//! as axum's `IntoResponse` does, and [`ErrorResponse`] is what the request pipeline turns
//! into the JSON body. The shared crate's own errors get their answers here, in the HTTP
//! layer: the domain below never imports it.

use lambda_http::http::header::{self, HeaderName, HeaderValue};
use lambda_http::http::{Method, Response, StatusCode};
use lambda_http::Body;
use serde::Serialize;

use super::response::json_response;
use crate::error::Error;
use crate::room_link::LinkError;
use crate::token::TokenRejection;

/// What an error answers a caller with. Implemented by every error type a request can end
/// in; a function's own error enum holds only its own refusals, and `?` turns any of them
/// (and the shared crate's) into the [`ErrorResponse`] a handler returns.
pub trait HttpError: std::fmt::Display {
    fn status(&self) -> StatusCode;
    /// Stable: clients branch on it.
    fn code(&self) -> &'static str;
    /// For people; by default the error's own text.
    fn message(&self) -> String {
        self.to_string()
    }
    /// `Retry-After` (seconds), for a refusal worth retrying later.
    fn retry_after(&self) -> Option<u64> {
        None
    }
    /// What went wrong inside, for the log line only: never sent.
    fn detail(&self) -> Option<String> {
        None
    }
}

/// A JSON error: `{"error":{"code":"...","message":"..."}}`. The code is stable
/// (clients branch on it); the message is for people. Every refusal of every function
/// becomes one of these, and only the request pipeline turns it into a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorResponse {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Headers the refusal carries (`Allow` on a 405, `Retry-After` on a 429 or 503).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// What went wrong inside, for the log line only: never sent to the caller.
    pub detail: Option<String>,
}

impl ErrorResponse {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), headers: Vec::new(), detail: None }
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such route")
    }

    /// `405` with the `Allow` header listing what the route accepts.
    pub fn method_not_allowed(allowed: &[Method]) -> Self {
        let list = crate::routes::allow_header(allowed);
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", format!("allowed methods: {list}"))
            .with_header(header::ALLOW, &list)
    }

    /// Adds a header to the refusal; a value that is not a valid header value is dropped.
    pub fn with_header(mut self, name: HeaderName, value: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.headers.push((name, value));
        }
        self
    }

    /// `Retry-After: <seconds>`, for a caller that should come back later.
    pub fn retry_after(self, seconds: u64) -> Self {
        self.with_header(header::RETRY_AFTER, &seconds.max(1).to_string())
    }

    /// The internal cause, logged with a 5xx and never sent.
    pub fn with_detail(mut self, detail: impl std::fmt::Display) -> Self {
        self.detail = Some(detail.to_string());
        self
    }

    /// The JSON body with the refusal's own headers (the pipeline adds the security
    /// headers and CORS to every response, refusals included).
    pub fn into_response(self) -> Response<Body> {
        #[derive(Serialize)]
        struct Detail<'a> {
            code: &'a str,
            message: &'a str,
        }
        #[derive(Serialize)]
        struct Envelope<'a> {
            error: Detail<'a>,
        }
        let mut response =
            json_response(self.status, &Envelope { error: Detail { code: self.code, message: &self.message } });
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

/// `403 room_not_allowed: the token does not list this room`, for messages and panics.
impl std::fmt::Display for ErrorResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl<E: HttpError> From<E> for ErrorResponse {
    fn from(error: E) -> Self {
        let mut response = ErrorResponse::new(error.status(), error.code(), error.message());
        if let Some(seconds) = error.retry_after() {
            response = response.retry_after(seconds);
        }
        if let Some(detail) = error.detail() {
            response = response.with_detail(detail);
        }
        response
    }
}

/// `Retry-After` on the 503 of a request whose SSM call failed for the whole retry budget
/// (throttled or failing): a few seconds later a warm container or a quieter SSM answers.
pub const CREDENTIALS_RETRY_AFTER_SECS: u64 = 5;

/// Credential problems are the deployment's, never the caller's: a 503 with no detail
/// beyond a stable code (the cause goes to the log).
impl HttpError for Error {
    fn status(&self) -> StatusCode {
        match self {
            Error::Signing(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
    fn code(&self) -> &'static str {
        match self {
            Error::Config { .. } => "configuration_invalid",
            Error::Signing(_) => "signing_failed",
            Error::NotConfigured
            | Error::Ssm(_)
            | Error::MissingParameters(_)
            | Error::NotSecureString(_)
            | Error::InvalidCredentials(_) => "credentials_unavailable",
        }
    }
    fn message(&self) -> String {
        match self {
            Error::Config { .. } => "the service is misconfigured",
            Error::Signing(_) => "could not sign the token",
            _ => "LiveKit credentials are unavailable; try again later",
        }
        .into()
    }
    /// SSM itself failed (throttled or down for the whole retry budget): come back soon.
    fn retry_after(&self) -> Option<u64> {
        matches!(self, Error::Ssm(_)).then_some(CREDENTIALS_RETRY_AFTER_SECS)
    }
    fn detail(&self) -> Option<String> {
        Some(self.to_string())
    }
}

/// Seconds a client waits before retrying a request the state store could not serve.
#[cfg(feature = "state")]
pub const STATE_RETRY_AFTER_SECS: u64 = 1;

/// The one answer to a request the store could not serve: retryable, nothing acted on.
#[cfg(feature = "state")]
impl HttpError for crate::state::StoreError {
    fn status(&self) -> StatusCode {
        StatusCode::SERVICE_UNAVAILABLE
    }
    fn code(&self) -> &'static str {
        "state_unavailable"
    }
    fn message(&self) -> String {
        "the state store is unavailable; retry later".into()
    }
    fn retry_after(&self) -> Option<u64> {
        Some(STATE_RETRY_AFTER_SECS)
    }
    fn detail(&self) -> Option<String> {
        Some(self.to_string())
    }
}

/// A member a room's moderators removed: no token for that room (the same answer at
/// `/token`, `/guest/token` and the waiting room).
#[cfg(feature = "state")]
impl HttpError for crate::membership::Removed {
    fn status(&self) -> StatusCode {
        StatusCode::FORBIDDEN
    }
    fn code(&self) -> &'static str {
        "removed_from_room"
    }
}

/// A failed LiveKit API call: worth a retry (unreachable, timed out, a 5xx) is a 503 the
/// caller may retry; refused is a 502. LiveKit's own words go to the log only.
#[cfg(feature = "services")]
impl HttpError for crate::livekit::ApiFailure {
    fn status(&self) -> StatusCode {
        if self.transient {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::BAD_GATEWAY
        }
    }
    fn code(&self) -> &'static str {
        if self.transient {
            "livekit_unavailable"
        } else {
            "livekit_error"
        }
    }
    fn message(&self) -> String {
        if self.transient { "LiveKit's API is unavailable; retry later" } else { "LiveKit's API refused the request" }
            .into()
    }
    fn detail(&self) -> Option<String> {
        Some(format!("LiveKit API: {self}"))
    }
}

/// A participant's LiveKit token that does not prove access to the room it is used for.
impl HttpError for TokenRejection {
    fn status(&self) -> StatusCode {
        match self {
            TokenRejection::Invalid | TokenRejection::UnknownIssuer => StatusCode::UNAUTHORIZED,
            TokenRejection::NoRoomJoin | TokenRejection::WrongRoom => StatusCode::FORBIDDEN,
        }
    }
    fn code(&self) -> &'static str {
        match self {
            TokenRejection::Invalid | TokenRejection::UnknownIssuer => "invalid_token",
            TokenRejection::NoRoomJoin => "room_join_required",
            TokenRejection::WrongRoom => "token_for_another_room",
        }
    }
}

/// A room link that does not verify: the guest asks for a new one; a deployment without
/// its keys is a 503.
impl HttpError for LinkError {
    fn status(&self) -> StatusCode {
        match self {
            LinkError::Invalid | LinkError::UnknownKey | LinkError::Expired => StatusCode::UNAUTHORIZED,
            LinkError::KeysMissing => StatusCode::SERVICE_UNAVAILABLE,
            LinkError::Signing(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            LinkError::Invalid | LinkError::UnknownKey => "link_invalid",
            LinkError::Expired => "link_expired",
            LinkError::KeysMissing => "link_keys_unavailable",
            LinkError::Signing(_) => "link_signing_failed",
        }
    }

    fn detail(&self) -> Option<String> {
        match self {
            LinkError::Signing(detail) => Some(detail.clone()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_shape_is_stable() {
        let response = ErrorResponse::new(StatusCode::BAD_REQUEST, "invalid_room", "bad").into_response();
        assert_eq!(response.status(), 400);
        assert_eq!(response.headers()["content-type"], "application/json");
        let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        assert_eq!(body, serde_json::json!({"error": {"code": "invalid_room", "message": "bad"}}));
    }
}
