//! `/guest/token`: a guest redeems a room link for a participant token in the link's room,
//! with the link's grants whatever the request asks for, attributed to whoever invited them.
//! No authorizer guards it: a guest has no account; the link is the proof.

use lambda_http::http::{HeaderMap, Request, Response};
use lambda_http::Body;
use livekit_lambda_shared::state::Use;
use livekit_lambda_shared::web::{body_within, parse_query, ErrorResponse, RequestFacts};
use livekit_protocol::TokenSourceRequest;

use livekit_lambda_shared::room_link::{self, Admission, LinkClaims, LinkError, Role};
use livekit_lambda_shared::web::{token_reply, Form};

use super::refusal::LinkRefusal;
use crate::context::Context;
use crate::request::{participant_of, standard_body};
use crate::settings::TokenSettings;
use crate::{grants, standing};

/// A guest's redemption of a room link: the link, and what a guest may choose (a display
/// name when the link fixes none, metadata, attributes, agents).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GuestRequest {
    pub link: String,
    source: TokenSourceRequest,
}

impl GuestRequest {
    /// `GET /guest/token?link=…[&participant=<display name>][&room=<room>]`.
    pub fn from_query(query: Option<&str>) -> Result<Self, ErrorResponse> {
        let mut params = parse_query(query)?;
        let link = params.remove("link").ok_or(LinkRefusal::Required)?;
        let source = TokenSourceRequest {
            room_name: params.remove("room"),
            participant_name: params.remove("participant"),
            ..TokenSourceRequest::default()
        };
        Ok(Self { link, source })
    }

    /// `POST /guest/token`, LiveKit's standard body with the link in its `room_link` field
    /// or, for `TokenSource.endpoint` (which sends only the standard fields), in the URL's
    /// `link` query parameter.
    pub fn from_standard_body(headers: &HeaderMap, query: Option<&str>, body: &[u8]) -> Result<Self, ErrorResponse> {
        let (source, in_body) = standard_body(headers, body)?;
        let in_query = parse_query(query)?.remove("link");
        let link = match (in_body, in_query) {
            (Some(a), Some(b)) if a != b => {
                return Err(LinkRefusal::BadRequest("`room_link` and the `link` parameter differ".into()).into())
            }
            (a, b) => a.or(b).ok_or(LinkRefusal::Required)?,
        };
        Ok(Self { link, source })
    }

    /// The participant the guest of link `claims` is: the link's room and name, an identity
    /// the server chose, and the request's own fields checked as any, then attributed.
    fn into_participant(
        self,
        claims: &LinkClaims,
        settings: &TokenSettings,
    ) -> Result<livekit_lambda_shared::token::Participant, ErrorResponse> {
        let mut source = self.source;
        if source.room_name.as_deref().is_some_and(|room| !room.is_empty() && room != claims.room) {
            return Err(LinkRefusal::WrongRoom.into());
        }
        if source.participant_identity.as_deref().is_some_and(|identity| !identity.is_empty()) {
            return Err(LinkRefusal::IdentityChosenByServer.into());
        }
        source.room_name = Some(claims.room.clone());
        source.participant_identity = Some(claims.guest_identity()?);
        if !claims.name.is_empty() {
            source.participant_name = Some(claims.name.clone());
        }
        let mut participant = participant_of(source, settings)?;
        grants::check_reserved_attributes(&participant.attributes)?;
        claims.attribute(&mut participant.attributes);
        Ok(participant)
    }
}

pub async fn redeem(
    context: &Context,
    request: &Request<Body>,
    facts: &mut RequestFacts,
) -> Result<Response<Body>, ErrorResponse> {
    let form = Form::of(request);
    let guest = match form {
        Form::Simple => GuestRequest::from_query(request.uri().query())?,
        Form::Standard => {
            let body = body_within(request, context.settings.limits.body_bytes)?;
            GuestRequest::from_standard_body(request.headers(), request.uri().query(), body)?
        }
    };
    // A link signed by a key this container has not seen yet may come from a rotation:
    // SSM is re-read once (rate limited) before it is refused.
    let (credentials, verified) = context
        .credentials
        .verify_by_issuer(
            context.forced_refresh,
            |refusal: &LinkError| *refusal == LinkError::UnknownKey,
            |credentials| room_link::verify(&guest.link, &credentials.room_link_keys),
        )
        .await?;
    let claims = verified?;
    facts.caller = Some(format!("link:{}", claims.jti));
    facts.room = Some(claims.room.clone());
    if claims.admission == Admission::Knock {
        return Err(LinkRefusal::KnockRequired.into());
    }
    let participant = guest.into_participant(&claims, &context.settings)?;
    facts.identity = Some(participant.identity.clone());
    let token = grants::token(participant, claims.role == Role::Moderator, &context.settings);
    // A guest a moderator removed is kept out by their link's family, whatever identity
    // this redemption drew.
    let token = standing::apply(context, token).await?;
    if claims.stored {
        // Counted last, so a request refused above uses nothing up.
        let store = context.link_store.as_ref().ok_or(LinkRefusal::NeedsStore("this link"))?;
        match store.use_existing(&room_link::record_key(&claims.jti), claims.max_uses).await? {
            Use::Counted(_) => {}
            Use::Exhausted => return Err(LinkRefusal::UsedUp.into()),
            Use::Missing => return Err(LinkRefusal::Revoked.into()),
        }
    }
    token_reply(&token, &credentials, form, "guest")
}
