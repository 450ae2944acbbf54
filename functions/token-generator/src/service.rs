//! The token generator's routes, as a plain `http::Request` → `http::Response` function
//! that Lambda, the local server and the tests all call the same way.

use std::sync::Arc;
use std::time::Duration;

use lambda_http::http::{Method, Request, Response, StatusCode};
use lambda_http::Body;
use livekit_lambda_shared::credentials::forced_refresh_interval;
use livekit_lambda_shared::routes::{self, Function, Matched, Route};
use livekit_lambda_shared::state::{self, now_secs, Claim, Fields, SharedStore, Use};
use livekit_lambda_shared::telemetry::rfc3339;
use livekit_lambda_shared::token::ParticipantToken;
use livekit_lambda_shared::validate::{check_name, RoomName};
use livekit_lambda_shared::web::{self, empty_response, json_response, CorsPolicy, ErrorResponse, RequestFacts};
use livekit_lambda_shared::{metrics, pipeline, CredentialStore, Credentials, EnvSettings, Feature, Service};
use serde::Serialize;

use crate::auth::{Caller, ATTRIBUTE_PREFIX, OWNER_ATTRIBUTE};
use crate::error::TokenError;
use crate::links::{self, LinkClaims, LinkRefusal, LinkRequest, Role};
use crate::request::{GuestRequest, TokenRequest};
use crate::settings::TokenSettings;

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

/// `POST /rooms/{room}/links` → 201.
#[derive(Debug, Serialize)]
struct LinkCreated<'a> {
    /// The guest's URL (`ROOM_LINK_URL` with the link).
    url: &'a str,
    /// The link itself, for front ends that build their own URL.
    link: &'a str,
    link_id: &'a str,
    room: &'a str,
    role: Role,
    expires_at: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_uses: Option<u32>,
    /// Whether `max_uses` is counted and `DELETE` revokes it (the fleet store is set).
    revocable: bool,
}

/// Largest accepted link request body (`{"role":…,"expires_in":…,"max_uses":…,"name":…}`).
const MAX_LINK_BODY_BYTES: usize = 4096;

/// Cheap to clone: one per process, shared by every request.
#[derive(Clone, Debug)]
pub struct TokenService {
    settings: Arc<TokenSettings>,
    credentials: Arc<CredentialStore>,
    /// Room links' records (`links#<id>`): present when `STATE_TABLE` is set and links are
    /// on; without it links are stateless (no `max_uses`, no revocation).
    link_store: Option<SharedStore>,
    /// `CREDENTIALS_FORCED_REFRESH_SECONDS`: a link signed by a key this container does not
    /// know yet re-reads SSM at most this often.
    forced_refresh: Duration,
}

enum Form {
    Simple,
    Standard,
}

impl Form {
    /// `get` (the simple form) or `post` (LiveKit's standard endpoint).
    fn metric_label(&self) -> &'static str {
        match self {
            Form::Simple => "get",
            Form::Standard => "post",
        }
    }

    fn of(request: &Request<Body>) -> Self {
        if request.method() == Method::GET {
            Form::Simple
        } else {
            Form::Standard
        }
    }

    /// The reply carrying a signed `token` in this form's shape.
    fn reply(&self, token: &str, url: &str, spec: &ParticipantToken) -> Response<Body> {
        match self {
            Form::Simple => json_response(
                StatusCode::OK,
                &SimpleTokenResponse { token, url, room: &spec.room, participant: &spec.identity },
            ),
            Form::Standard => json_response(
                StatusCode::CREATED,
                &StandardTokenResponse {
                    server_url: url,
                    participant_token: token,
                    room_name: &spec.room,
                    participant_name: &spec.name,
                },
            ),
        }
    }
}

impl TokenService {
    pub fn new(settings: TokenSettings, credentials: Arc<CredentialStore>) -> Self {
        Self {
            settings: Arc::new(settings),
            credentials,
            link_store: None,
            forced_refresh: livekit_lambda_shared::credentials::DEFAULT_FORCED_REFRESH,
        }
    }

    /// The scopes API Gateway's authorizer requires on a guarded route (any one of them):
    /// `/token`'s callers, and for the room-link routes applications holding the links
    /// scope too. Empty: any verified token (users may come without a scope).
    pub fn route_scopes(&self, path: &str) -> Vec<String> {
        let auth = &self.settings.auth;
        match path {
            routes::ROOM_LINKS | routes::ROOM_LINK => auth.route_scopes_with(&[&self.settings.links.scope]),
            _ => auth.route_scopes(),
        }
    }

    /// With the fleet store that counts and revokes room links.
    pub fn with_link_store(mut self, store: SharedStore) -> Self {
        self.link_store = Some(store);
        self
    }

    pub async fn handle(&self, request: Request<Body>) -> Response<Body> {
        pipeline::handle(self, request).await
    }

    async fn issue(
        &self,
        request: &Request<Body>,
        form: Form,
        facts: &mut RequestFacts,
    ) -> Result<Response<Body>, TokenError> {
        // Who is asking comes first: with authentication on, nothing else is read for a
        // caller without a verified token.
        let auth = &self.settings.auth;
        let caller = Caller::of(request, auth)?;
        facts.caller = caller.log_name();
        let mut token_request = match form {
            Form::Simple => {
                let participant_required = !matches!(caller, Caller::User { .. });
                TokenRequest::from_query(request.uri().query(), &self.settings, participant_required)?
            }
            Form::Standard => {
                let body = web::body_within(request, self.settings.limits.body_bytes)?;
                TokenRequest::from_standard_body(request.headers(), body, &self.settings)?
            }
        };
        let decided = caller.apply(&mut token_request, &self.settings);
        facts.room = Some(token_request.room.clone());
        facts.identity = Some(token_request.identity.clone());
        decided?;

        let credentials = self.credentials.current().await?;
        self.mint(token_request, caller.is_admin(), &credentials, form, caller.kind())
    }

    /// Signs the token a validated request asks for, with a moderator's grants when
    /// `room_admin`, counts it by form and kind of caller, and answers in `form`'s shape.
    fn mint(
        &self,
        request: TokenRequest,
        room_admin: bool,
        credentials: &Credentials,
        form: Form,
        caller_kind: &'static str,
    ) -> Result<Response<Body>, TokenError> {
        let TokenRequest { room, identity, name, metadata, attributes, room_config } = request;
        let publish_sources =
            if room_admin { &self.settings.auth.admin_publish_sources } else { &self.settings.publish_sources }.clone();
        let spec = ParticipantToken {
            room,
            identity,
            name,
            metadata,
            attributes,
            room_config,
            publish_sources,
            room_admin,
            ttl: self.settings.ttl,
        };
        let token = spec.sign(credentials)?;
        metrics::token_issued(form.metric_label(), caller_kind);
        Ok(form.reply(&token, &credentials.client_url, &spec))
    }

    /// `POST /rooms/{room}/links`: a verified caller invites a guest into a room it may
    /// enter itself.
    async fn create_link(
        &self,
        route: &Matched<'_>,
        request: &Request<Body>,
        facts: &mut RequestFacts,
    ) -> Result<Response<Body>, TokenError> {
        let (auth, links) = (&self.settings.auth, &self.settings.links);
        let (caller, room) = self.link_caller(route, request, facts)?;
        caller.check_room(&room, auth)?;
        let body = web::body_within(request, MAX_LINK_BODY_BYTES)?;
        let ask: LinkRequest = if body.iter().all(u8::is_ascii_whitespace) {
            LinkRequest::default()
        } else if web::media_type(request.headers()).as_deref() != Some("application/json") {
            return Err(TokenError::UnsupportedMediaType);
        } else {
            serde_json::from_slice(body).map_err(|e| LinkRefusal::BadRequest(e.to_string()))?
        };
        if ask.role == Role::Moderator && !caller.is_admin() {
            return Err(LinkRefusal::ModeratorNotAllowed.into());
        }
        let ttl = ask.expires_in.map_or(links.default_ttl.as_secs(), |seconds| seconds);
        if !(60..=links.max_ttl.as_secs()).contains(&ttl) {
            return Err(LinkRefusal::BadRequest(format!(
                "`expires_in` must be 60 to {} seconds",
                links.max_ttl.as_secs()
            ))
            .into());
        }
        if let Some(uses) = ask.max_uses {
            if !(1..=links::MAX_USES).contains(&uses) {
                return Err(LinkRefusal::BadRequest(format!("`max_uses` must be 1 to {}", links::MAX_USES)).into());
            }
            if self.link_store.is_none() {
                return Err(LinkRefusal::NeedsStore("`max_uses`").into());
            }
        }
        let name = ask.name.unwrap_or_default();
        if !name.is_empty() {
            check_name(&name, self.settings.limits.names.0)
                .map_err(|problem| TokenError::InvalidName { field: "name", problem })?;
        }
        let credentials = self.credentials.current().await?;
        let now = now_secs();
        let claims = LinkClaims {
            iss: links::LINK_ISSUER.into(),
            aud: links::LINK_AUDIENCE.into(),
            jti: links::new_link_id()?,
            room,
            role: ask.role,
            name,
            by: caller.log_name().unwrap_or_default(),
            owner: match &caller {
                Caller::Client { client_id, .. } => Some(format!("{}{client_id}", auth.owner_prefix)),
                _ => None,
            },
            iat: now,
            exp: now + ttl,
            max_uses: ask.max_uses,
            stored: self.link_store.is_some(),
        };
        let link = links::sign(&claims, &credentials.room_link_keys)?;
        if let Some(store) = &self.link_store {
            let record =
                Fields::from([("room".to_string(), claims.room.clone()), ("by".to_string(), claims.by.clone())]);
            // A fresh 80-bit id is never taken; if it were, this link would count another's uses.
            if let Claim::Taken(_) = store.claim(&link_key(&claims.jti), &record, None, claims.exp).await? {
                return Err(LinkRefusal::BadRequest("link id collision; try again".into()).into());
            }
        }
        let url = links.url(&claims.room, &link);
        let expires_at = rfc3339(claims.exp as i64 * 1000);
        Ok(json_response(
            StatusCode::CREATED,
            &LinkCreated {
                url: &url,
                link: &link,
                link_id: &claims.jti,
                room: &claims.room,
                role: claims.role,
                expires_at: &expires_at,
                max_uses: claims.max_uses,
                revocable: claims.stored,
            },
        ))
    }

    /// `DELETE /rooms/{room}/links/{link}`: its creator (or a moderator) revokes a link.
    async fn revoke_link(
        &self,
        route: &Matched<'_>,
        request: &Request<Body>,
        facts: &mut RequestFacts,
    ) -> Result<Response<Body>, TokenError> {
        let (caller, room) = self.link_caller(route, request, facts)?;
        let link_id = route.segments.get(1).copied().unwrap_or_default();
        let store = self.link_store.as_ref().ok_or(LinkRefusal::NeedsStore("revocation"))?;
        if link_id.is_empty() || link_id.len() > 64 || !link_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(LinkRefusal::NotFound.into());
        }
        let record = store.get(&link_key(link_id)).await?.ok_or(LinkRefusal::NotFound)?;
        if record.get("room") != Some(&room) {
            return Err(LinkRefusal::NotFound.into());
        }
        if record.get("by") != caller.log_name().as_ref() && !caller.is_admin() {
            return Err(LinkRefusal::NotYours.into());
        }
        store.delete(&link_key(link_id)).await?;
        Ok(empty_response(StatusCode::NO_CONTENT))
    }

    /// `/guest/token`: a guest redeems a link for a participant token in the link's room,
    /// with the link's grants whatever the request asks for.
    async fn redeem_link(
        &self,
        request: &Request<Body>,
        form: Form,
        facts: &mut RequestFacts,
    ) -> Result<Response<Body>, TokenError> {
        let guest = match form {
            Form::Simple => GuestRequest::from_query(request.uri().query())?,
            Form::Standard => {
                let body = web::body_within(request, self.settings.limits.body_bytes)?;
                GuestRequest::from_standard_body(request.headers(), request.uri().query(), body)?
            }
        };
        // A link signed by a key this container has not seen yet may come from a rotation:
        // SSM is re-read once (rate limited) before it is refused.
        let (credentials, verified) = self
            .credentials
            .verify_by_issuer(
                self.forced_refresh,
                |refusal: &LinkRefusal| *refusal == LinkRefusal::UnknownKey,
                |credentials| links::verify(&guest.link, &credentials.room_link_keys),
            )
            .await?;
        let claims = verified?;
        facts.caller = Some(format!("link:{}", claims.jti));
        facts.room = Some(claims.room.clone());
        let mut token_request =
            guest.into_token_request(&claims, links::guest_identity(&claims.jti)?, &self.settings)?;
        facts.identity = Some(token_request.identity.clone());
        if let Some(key) = token_request.attributes.keys().find(|k| k.starts_with(ATTRIBUTE_PREFIX)) {
            return Err(TokenError::ReservedAttribute(key.clone()));
        }
        token_request.attributes.insert(links::INVITED_BY_ATTRIBUTE.into(), claims.by.clone());
        token_request.attributes.insert(links::LINK_ID_ATTRIBUTE.into(), claims.jti.clone());
        if let Some(owner) = &claims.owner {
            token_request.attributes.insert(OWNER_ATTRIBUTE.into(), owner.clone());
        }
        if claims.stored {
            // Counted last, so a request refused above uses nothing up.
            let store = self.link_store.as_ref().ok_or(LinkRefusal::NeedsStore("this link"))?;
            match store.use_existing(&link_key(&claims.jti), claims.max_uses).await? {
                Use::Counted(_) => {}
                Use::Exhausted => return Err(LinkRefusal::UsedUp.into()),
                Use::Missing => return Err(LinkRefusal::Revoked.into()),
            }
        }
        self.mint(token_request, claims.role == Role::Moderator, &credentials, form, "guest")
    }

    /// Who creates or revokes a link (a user, or an application with the links or mint
    /// scope), and the route's room; both go in the request log line.
    fn link_caller(
        &self,
        route: &Matched<'_>,
        request: &Request<Body>,
        facts: &mut RequestFacts,
    ) -> Result<(Caller, String), TokenError> {
        let auth = &self.settings.auth;
        let caller = Caller::link_creator(request, auth, &[&auth.mint_scope, &self.settings.links.scope])?;
        facts.caller = caller.log_name();
        let room = self.room_of(route)?;
        facts.room = Some(room.clone());
        Ok((caller, room))
    }

    /// The route's `{room}`, percent-decoded and validated like every room name.
    fn room_of(&self, route: &Matched<'_>) -> Result<String, TokenError> {
        let segment = web::decode_segment(route.segment().unwrap_or_default())?;
        Ok(RoomName::parse(segment, self.settings.limits.names)
            .map_err(|problem| TokenError::InvalidName { field: "room", problem })?
            .into_string())
    }
}

/// A room link's item in the fleet store.
fn link_key(link_id: &str) -> String {
    format!("{}{link_id}", links::STORE_PREFIX)
}

impl Service for TokenService {
    const FUNCTION: Function = Function::TokenGenerator;
    // It only signs, with the current key: the keys that only verify are not its to read.
    const VERIFIES_LIVEKIT_TOKENS: bool = false;

    fn reads_room_link_keys(env: &EnvSettings) -> bool {
        links::enabled_in(env)
    }

    async fn with_credentials(
        env: &EnvSettings,
        credentials: Arc<CredentialStore>,
    ) -> Result<Self, livekit_lambda_shared::Error> {
        let settings = TokenSettings::from_env(env)?;
        let store =
            if settings.links.enabled && env.is_set("STATE_TABLE") { Some(state::from_env(env).await?) } else { None };
        let mut service = Self::new(settings, credentials);
        service.forced_refresh = forced_refresh_interval(env)?;
        Ok(match store {
            Some(store) => service.with_link_store(store),
            None => service,
        })
    }

    fn credentials(&self) -> &CredentialStore {
        &self.credentials
    }

    fn cors(&self) -> &CorsPolicy {
        &self.settings.cors
    }

    fn features(&self) -> Vec<Feature> {
        let settings = &self.settings;
        vec![
            Feature { name: "authentication on /token", on: settings.auth.enabled, switch: "AUTH_MODE=jwt" },
            Feature {
                name: "room links (/rooms/{room}/links, /guest/token)",
                on: settings.links.enabled,
                switch: "ROOM_LINKS=on with AUTH_MODE=jwt, ROOM_LINK_URL and ROOM_LINK_KEYS",
            },
            Feature {
                name: "agent dispatch in tokens (room_config.agents)",
                on: !settings.allowed_agents.is_empty(),
                switch: "ALLOWED_AGENT_NAMES=<agent>,...",
            },
            Feature {
                name: "browser calls (CORS)",
                on: settings.cors != CorsPolicy::Closed,
                switch: "ALLOWED_ORIGINS=<origin>,...",
            },
        ]
    }

    /// Room links' routes exist only with `ROOM_LINKS=on`.
    fn serves(&self, route: &Route) -> bool {
        self.settings.links.enabled
            || ![routes::GUEST_TOKEN, routes::ROOM_LINKS, routes::ROOM_LINK].contains(&route.path)
    }

    async fn call(
        &self,
        route: Matched<'_>,
        request: &Request<Body>,
        facts: &mut RequestFacts,
    ) -> Result<Response<Body>, ErrorResponse> {
        Ok(match route.route.path {
            routes::TOKEN => self.issue(request, Form::of(request), facts).await?,
            routes::GUEST_TOKEN => self.redeem_link(request, Form::of(request), facts).await?,
            routes::ROOM_LINKS => self.create_link(&route, request, facts).await?,
            routes::ROOM_LINK => self.revoke_link(&route, request, facts).await?,
            _ => json_response(StatusCode::OK, &serde_json::json!({"status": "ok"})),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use livekit_lambda_shared::web::SECURITY_HEADERS;
    use livekit_lambda_shared::{CachePolicy, CredentialSource, Credentials};

    fn service_with(source: CredentialSource) -> TokenService {
        TokenService::new(TokenSettings::default(), Arc::new(CredentialStore::new(source, CachePolicy::default())))
    }

    fn get(uri: &str) -> Request<Body> {
        Request::get(uri).body(Body::Empty).unwrap()
    }

    fn code(response: &Response<Body>) -> String {
        let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        body["error"]["code"].as_str().unwrap_or_default().to_string()
    }

    #[tokio::test]
    async fn lambda_without_credentials_fails_closed_but_health_answers() {
        let service = service_with(CredentialSource::Missing);
        let token = service.handle(get("/token?room=a&participant=b")).await;
        assert_eq!(token.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(code(&token), "credentials_unavailable");
        let health = service.handle(get("/health")).await;
        assert_eq!(health.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn routes_methods_and_headers() {
        let service = service_with(CredentialSource::Fixed(Arc::new(Credentials::development())));
        let missing = service.handle(get("/tokens")).await;
        assert_eq!((missing.status(), code(&missing).as_str()), (StatusCode::NOT_FOUND, "not_found"));
        let put = service.handle(Request::put("/token").body(Body::Empty).unwrap()).await;
        assert_eq!((put.status(), code(&put).as_str()), (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"));
        assert_eq!(put.headers()["allow"], "GET, POST, OPTIONS");
        let post_health = service.handle(Request::post("/health").body(Body::Empty).unwrap()).await;
        assert_eq!(post_health.status(), StatusCode::METHOD_NOT_ALLOWED);
        for response in [&missing, &put, &post_health] {
            for (name, value) in SECURITY_HEADERS {
                assert_eq!(response.headers()[name], value);
            }
            assert!(response.headers().get("access-control-allow-origin").is_none());
        }
        let ok = service.handle(get("/token?room=a&participant=b")).await;
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(ok.headers()["content-type"], "application/json");
    }
}
