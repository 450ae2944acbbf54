//! The token generator as a service: built once per process, and each route of the route
//! table mapped to its handler, explicitly. Lambda, the local server and the tests all call
//! it with plain `http::Request` values.

use std::sync::Arc;

use lambda_http::http::{Request, Response};
use lambda_http::Body;
use livekit_lambda_shared::credential_store::CredentialStore;
use livekit_lambda_shared::credentials::{forced_refresh_interval, DEFAULT_FORCED_REFRESH};
use livekit_lambda_shared::routes::{self, Function, Matched, Route};
use livekit_lambda_shared::state::{self, SharedStore};
use livekit_lambda_shared::web::{CorsPolicy, ErrorResponse, RequestFacts};
use livekit_lambda_shared::{pipeline, EnvSettings, Feature, Service};

use crate::context::Context;
use crate::settings::TokenSettings;
use crate::{health, links, mint};
use livekit_lambda_shared::auth::AuthSettings;

/// Cheap to clone: one per process, shared by every request.
#[derive(Clone, Debug)]
pub struct TokenService {
    context: Arc<Context>,
}

/// The token generator's handlers, one per route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handler {
    Token,
    Health,
    GuestToken,
    CreateLink,
    RevokeLink,
}

impl TokenService {
    pub fn new(settings: TokenSettings, credentials: Arc<CredentialStore>) -> Self {
        let context = Context {
            settings,
            credentials,
            link_store: None,
            member_store: None,
            forced_refresh: DEFAULT_FORCED_REFRESH,
        };
        Self { context: Arc::new(context) }
    }

    /// With the fleet store that counts and revokes room links.
    pub fn with_link_store(self, store: SharedStore) -> Self {
        let mut context = Arc::unwrap_or_clone(self.context);
        context.link_store = Some(store);
        Self { context: Arc::new(context) }
    }

    /// With the fleet store where the room controls record moderators' decisions (with
    /// `MODERATION=on`; the local server shares its one store).
    pub fn with_member_store(self, store: SharedStore) -> Self {
        let mut context = Arc::unwrap_or_clone(self.context);
        if context.settings.moderation {
            context.member_store = Some(store);
        }
        Self { context: Arc::new(context) }
    }

    /// Who may call (the local server's authorizer reads the same settings the function does).
    pub fn auth_settings(&self) -> &AuthSettings {
        &self.context.settings.auth
    }

    /// The scopes API Gateway's authorizer requires on a guarded route (any one of them):
    /// `/token`'s callers, and for the room-link routes applications holding the links
    /// scope too. Empty: any verified token (users may come without a scope).
    pub fn route_scopes(&self, path: &str) -> Vec<String> {
        let settings = &self.context.settings;
        match path {
            routes::ROOM_LINKS | routes::ROOM_LINK => settings.auth.route_scopes_with(&[&settings.links.scope]),
            _ => settings.auth.route_scopes(),
        }
    }

    pub async fn handle(&self, request: Request<Body>) -> Response<Body> {
        pipeline::handle(self, request).await
    }
}

impl Service for TokenService {
    const FUNCTION: Function = Function::TokenGenerator;
    // It only signs, with the current key: the keys that only verify are not its to read.
    const VERIFIES_LIVEKIT_TOKENS: bool = false;
    type Handler = Handler;

    fn handler(path: &str) -> Option<Handler> {
        match path {
            routes::TOKEN => Some(Handler::Token),
            routes::HEALTH => Some(Handler::Health),
            routes::GUEST_TOKEN => Some(Handler::GuestToken),
            routes::ROOM_LINKS => Some(Handler::CreateLink),
            routes::ROOM_LINK => Some(Handler::RevokeLink),
            _ => None,
        }
    }

    fn reads_room_link_keys(env: &EnvSettings) -> bool {
        links::enabled_in(env)
    }

    async fn with_credentials(
        env: &EnvSettings,
        credentials: Arc<CredentialStore>,
    ) -> Result<Self, livekit_lambda_shared::Error> {
        let settings = TokenSettings::from_env(env)?;
        let uses_store = (settings.links.enabled || settings.moderation) && env.is_set("STATE_TABLE");
        let store = if uses_store { Some(state::from_env(env).await?) } else { None };
        let link_store = store.clone().filter(|_| settings.links.enabled);
        let member_store = store.filter(|_| settings.moderation);
        let forced_refresh = forced_refresh_interval(env)?;
        Ok(Self { context: Arc::new(Context { settings, credentials, link_store, member_store, forced_refresh }) })
    }

    fn credentials(&self) -> &CredentialStore {
        &self.context.credentials
    }

    fn cors(&self) -> &CorsPolicy {
        &self.context.settings.cors
    }

    fn features(&self) -> Vec<Feature> {
        let settings = &self.context.settings;
        vec![
            Feature { name: "authentication on /token", on: settings.auth.enabled, switch: "AUTH_MODE=jwt" },
            Feature {
                name: "room links (/rooms/{room}/links, /guest/token)",
                on: settings.links.enabled,
                switch: "ROOM_LINKS=on with AUTH_MODE=jwt, ROOM_LINK_URL and ROOM_LINK_KEYS",
            },
            Feature {
                name: "moderators' decisions honoured by /token (removals, roles)",
                on: settings.moderation,
                switch: "MODERATION=on with AUTH_MODE=jwt",
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
        self.context.settings.links.enabled
            || ![routes::GUEST_TOKEN, routes::ROOM_LINKS, routes::ROOM_LINK].contains(&route.path)
    }

    async fn call(
        &self,
        handler: Handler,
        route: Matched<'_>,
        request: &Request<Body>,
        facts: &mut RequestFacts,
    ) -> Result<Response<Body>, ErrorResponse> {
        let context = &self.context;
        match handler {
            Handler::Token => mint::issue(context, request, facts).await,
            Handler::Health => Ok(health::answer()),
            Handler::GuestToken => links::guest::redeem(context, request, facts).await,
            Handler::CreateLink => links::create::create(context, &route, request, facts).await,
            Handler::RevokeLink => links::revoke::revoke(context, &route, request, facts).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::StatusCode;
    use livekit_lambda_shared::credential_store::{CachePolicy, CredentialSource};
    use livekit_lambda_shared::credentials::Credentials;
    use livekit_lambda_shared::web::SECURITY_HEADERS;

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

    #[test]
    fn every_route_of_the_function_has_a_handler() {
        assert_eq!(pipeline::unhandled_routes::<TokenService>(), Vec::<&str>::new());
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
