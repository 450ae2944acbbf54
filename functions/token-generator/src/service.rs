//! The token generator's routes, as a plain `http::Request` → `http::Response` function
//! that Lambda, the local server and the tests all call the same way.

use std::sync::Arc;

use lambda_http::http::{Method, Request, Response, StatusCode};
use lambda_http::Body;
use livekit_lambda_shared::routes::{self, Function, Matched};
use livekit_lambda_shared::token::ParticipantToken;
use livekit_lambda_shared::web::{self, json_response, CorsPolicy, ErrorResponse, RequestFacts};
use livekit_lambda_shared::{metrics, pipeline, CredentialStore, EnvSettings, Service};
use serde::Serialize;

use crate::auth::Caller;
use crate::error::TokenError;
use crate::request::TokenRequest;
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

impl Form {
    /// `get` (the simple form) or `post` (LiveKit's standard endpoint).
    fn metric_label(&self) -> &'static str {
        match self {
            Form::Simple => "get",
            Form::Standard => "post",
        }
    }
}

impl TokenService {
    pub fn new(settings: TokenSettings, credentials: Arc<CredentialStore>) -> Self {
        Self { settings: Arc::new(settings), credentials }
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
        metrics::token_issued(form.metric_label(), caller.kind());
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

impl Service for TokenService {
    const FUNCTION: Function = Function::TokenGenerator;
    // It only signs, with the current key: the keys that only verify are not its to read.
    const VERIFIES_LIVEKIT_TOKENS: bool = false;

    async fn with_credentials(
        env: &EnvSettings,
        credentials: Arc<CredentialStore>,
    ) -> Result<Self, livekit_lambda_shared::Error> {
        Ok(Self::new(TokenSettings::from_env(env)?, credentials))
    }

    fn credentials(&self) -> &CredentialStore {
        &self.credentials
    }

    fn cors(&self) -> &CorsPolicy {
        &self.settings.cors
    }

    async fn call(
        &self,
        route: Matched<'_>,
        request: &Request<Body>,
        facts: &mut RequestFacts,
    ) -> Result<Response<Body>, ErrorResponse> {
        match (route.route.path, request.method()) {
            (routes::TOKEN, &Method::GET) => Ok(self.issue(request, Form::Simple, facts).await?),
            (routes::TOKEN, _) => Ok(self.issue(request, Form::Standard, facts).await?),
            _ => Ok(json_response(StatusCode::OK, &serde_json::json!({"status": "ok"}))),
        }
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
