//! The two shapes of a token answer, for every route that hands out a LiveKit token:
//! `/token`, `/guest/token` and the waiting room's admitted guest. A `GET` gets the simple
//! contract, anything else LiveKit's standard token endpoint's (`TokenSource.endpoint`).

use lambda_http::http::{Method, Request, Response, StatusCode};
use lambda_http::Body;
use serde::Serialize;

use super::refusal::ErrorResponse;
use super::response::json_response;
use crate::credentials::Credentials;
use crate::metrics;
use crate::token::ParticipantToken;

/// The two shapes of a token request, and of its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// `GET /token?room&participant` → `200 {token, url, room, participant}`.
    Simple,
    /// LiveKit's standard endpoint: `POST` a `TokenSourceRequest` → `201 {server_url, …}`.
    Standard,
}

impl Form {
    pub fn of(request: &Request<Body>) -> Self {
        if request.method() == Method::GET {
            Form::Simple
        } else {
            Form::Standard
        }
    }

    /// `get` (the simple form) or `post` (LiveKit's standard endpoint), for metrics.
    pub fn metric_label(self) -> &'static str {
        match self {
            Form::Simple => "get",
            Form::Standard => "post",
        }
    }
}

/// The seed contract: `GET /token` → `{token, url, room, participant}`.
#[derive(Debug, Serialize)]
struct SimpleTokenResponse<'a> {
    token: &'a str,
    url: &'a str,
    room: &'a str,
    /// The identity the token carries (with its suffix when one is appended).
    participant: &'a str,
}

/// LiveKit's standard token endpoint reply (snake_case, as the spec shows).
#[derive(Debug, Serialize)]
struct StandardTokenResponse<'a> {
    server_url: &'a str,
    participant_token: &'a str,
    room_name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    participant_name: &'a str,
}

/// Signs `token`, counts it by form and kind of caller (`TokensIssued`), and answers in
/// `form`'s shape.
pub fn token_reply(
    token: &ParticipantToken,
    credentials: &Credentials,
    form: Form,
    caller_kind: &'static str,
) -> Result<Response<Body>, ErrorResponse> {
    let jwt = token.sign(credentials)?;
    metrics::token_issued(form.metric_label(), caller_kind);
    let (url, who) = (credentials.client_url.as_str(), &token.participant);
    Ok(match form {
        Form::Simple => json_response(
            StatusCode::OK,
            &SimpleTokenResponse { token: &jwt, url, room: &who.room, participant: &who.identity },
        ),
        Form::Standard => json_response(
            StatusCode::CREATED,
            &StandardTokenResponse {
                server_url: url,
                participant_token: &jwt,
                room_name: &who.room,
                participant_name: &who.name,
            },
        ),
    })
}
