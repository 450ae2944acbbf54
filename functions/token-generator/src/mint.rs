//! `/token`: who is asking (`shared::auth`), what was asked (`request`), what they get
//! (`grants`), then the shared `token_reply` signs it and answers in the request's form, as
//! it does for `/guest/token` (with the grants its link decides) and the waiting room.

use lambda_http::http::{Request, Response};
use lambda_http::Body;
use livekit_lambda_shared::auth::Caller;
use livekit_lambda_shared::web::{body_within, token_reply, ErrorResponse, Form, RequestFacts};

use crate::context::Context;
use crate::request::TokenRequest;
use crate::{grants, standing};

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
    let token = standing::apply(context, token).await?;
    let credentials = context.credentials.current().await?;
    token_reply(&token, &credentials, form, caller.kind())
}
