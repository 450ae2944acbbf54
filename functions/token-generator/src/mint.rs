//! `/token`: who is asking (`auth`), what was asked (`request`), what they get (`grants`),
//! then [`mint`] signs it. `/guest/token` mints through the same [`mint`], with the grants
//! its link decides.

use lambda_http::http::{Request, Response, StatusCode};
use lambda_http::Body;
use livekit_lambda_shared::credentials::Credentials;
use livekit_lambda_shared::metrics;
use livekit_lambda_shared::token::ParticipantToken;
use livekit_lambda_shared::web::{body_within, json_response, ErrorResponse, RequestFacts};
use serde::Serialize;

use crate::context::Context;
use crate::grants;
use crate::request::{Form, TokenRequest};
use livekit_lambda_shared::auth::Caller;

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

/// `GET` / `POST /token`.
pub async fn issue(
    context: &Context,
    request: &Request<Body>,
    facts: &mut RequestFacts,
) -> Result<Response<Body>, ErrorResponse> {
    let settings = &context.settings;
    // Who is asking comes first: with authentication on, nothing else is read for a
    // caller without a verified token.
    let caller = Caller::of(request, &settings.auth)?;
    facts.caller = caller.log_name();
    let form = Form::of(request);
    let asked = match form {
        Form::Simple => {
            let participant_required = !matches!(caller, Caller::User { .. });
            TokenRequest::from_query(request.uri().query(), settings, participant_required)?
        }
        Form::Standard => {
            let body = body_within(request, settings.limits.body_bytes)?;
            TokenRequest::from_standard_body(request.headers(), body, settings)?
        }
    };
    facts.room = Some(asked.participant.room.clone());
    facts.identity = Some(asked.participant.identity.clone());
    let token = grants::decide(&caller, asked, settings)?;
    facts.identity = Some(token.participant.identity.clone());
    let credentials = context.credentials.current().await?;
    mint(&token, &credentials, form, caller.kind())
}

/// Signs `token`, counts it by form and kind of caller, and answers in `form`'s shape.
pub fn mint(
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
