//! The token generator's routes, as a plain `http::Request` → `http::Response` function
//! that Lambda, the local server and the tests all call the same way.

use std::sync::Arc;
use std::time::Instant;

use lambda_http::http::{Method, Request, Response, StatusCode};
use lambda_http::Body;
use livekit_lambda_shared::token::ParticipantToken;
use livekit_lambda_shared::web::{self, json_response, RequestFacts};
use livekit_lambda_shared::{CredentialStore, EnvSettings, Runtime};
use serde::Serialize;

use crate::auth::Caller;
use crate::error::TokenError;
use crate::request::{suffixed, TokenRequest};
use crate::settings::TokenSettings;

/// Routes this function answers, for the local server and the template checks.
pub const ROUTES: &[(&str, &[Method])] =
    &[("/token", &[Method::GET, Method::POST, Method::OPTIONS]), ("/health", &[Method::GET])];

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

/// Cheap to clone: one per process, shared by every request.
#[derive(Clone, Debug)]
pub struct TokenService {
    settings: Arc<TokenSettings>,
    credentials: Arc<CredentialStore>,
}

enum Form {
    Simple,
    Standard,
}

impl TokenService {
    pub fn new(settings: TokenSettings, credentials: Arc<CredentialStore>) -> Self {
        Self { settings: Arc::new(settings), credentials }
    }

    /// Reads every setting and chooses the credential source; an invalid setting is an error
    /// naming the variable.
    pub async fn from_env(env: &EnvSettings, runtime: Runtime) -> Result<Self, livekit_lambda_shared::Error> {
        let settings = TokenSettings::from_env(env)?;
        let credentials = CredentialStore::from_env(env, runtime).await?;
        Ok(Self::new(settings, Arc::new(credentials)))
    }

    /// Loads the credentials once during the cold start (Lambda's init phase runs at full
    /// CPU); a failure here is logged and retried by the first request that needs them.
    pub async fn warm_up(&self) {
        self.credentials.warm_up().await;
    }

    pub async fn handle(&self, request: Request<Body>) -> Response<Body> {
        let started = Instant::now();
        let method = request.method().clone();
        let route = ROUTES.iter().find(|(path, _)| *path == request.uri().path());
        let mut facts = RequestFacts::default();

        let result = match route {
            None => Err(TokenError::Http(web::ErrorResponse::not_found())),
            Some((path, allowed)) => match (*path, &method) {
                ("/token", &Method::GET) => self.issue(&request, Form::Simple, &mut facts).await,
                ("/token", &Method::POST) => self.issue(&request, Form::Standard, &mut facts).await,
                ("/token", &Method::OPTIONS) => {
                    self.settings.cors.preflight(request.headers(), allowed).map_err(TokenError::Http)
                }
                ("/health", &Method::GET) => Ok(json_response(StatusCode::OK, &serde_json::json!({"status": "ok"}))),
                _ => Ok(web::method_not_allowed(allowed)),
            },
        };
        let result = result.map_err(|error| {
            let rendered = error.to_error_response();
            if rendered.status.is_server_error() {
                tracing::error!(error = %error, code = rendered.code, "request failed");
            }
            rendered
        });
        let route = route.map_or("unknown", |(path, _)| path);
        web::finish(request.headers(), &method, route, started, facts, result, &self.settings.cors)
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
        // A signed-in user is who their token says, whatever the request names.
        if let Some((identity, name)) = caller.own_participant(auth, self.settings.limits.name_chars)? {
            token_request.identity = suffixed(&identity, &self.settings)?;
            token_request.name = name;
        }
        facts.room = Some(token_request.room.clone());
        facts.identity = Some(token_request.identity.clone());
        caller.check_room(&token_request.room, auth)?;
        caller.attribute(&mut token_request.attributes, auth)?;

        let credentials = self.credentials.current().await?;
        let TokenRequest { room, identity, name, metadata, attributes, room_config } = token_request;
        let room_admin = caller.is_admin();
        let publish_sources =
            if room_admin { &auth.admin_publish_sources } else { &self.settings.publish_sources }.clone();
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
        let token = spec.sign(&credentials)?;
        Ok(match form {
            Form::Simple => json_response(
                StatusCode::OK,
                &SimpleTokenResponse {
                    token: &token,
                    url: &credentials.client_url,
                    room: &spec.room,
                    participant: &spec.identity,
                },
            ),
            Form::Standard => json_response(
                StatusCode::CREATED,
                &StandardTokenResponse {
                    server_url: &credentials.client_url,
                    participant_token: &token,
                    room_name: &spec.room,
                    participant_name: &spec.name,
                },
            ),
        })
    }
}

impl livekit_lambda_shared::lambda::Handler for TokenService {
    async fn handle(&self, request: Request<Body>) -> Response<Body> {
        TokenService::handle(self, request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
            assert_eq!(response.headers()["cache-control"], "no-store");
            assert_eq!(response.headers()["x-content-type-options"], "nosniff");
            assert!(response.headers().get("access-control-allow-origin").is_none());
        }
        let ok = service.handle(get("/token?room=a&participant=b")).await;
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(ok.headers()["content-type"], "application/json");
    }
}
