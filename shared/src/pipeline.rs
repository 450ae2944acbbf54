//! The one request pipeline every function runs: find the route in the table, answer
//! 404/405/preflight, hand the request to the function, turn its refusal into JSON, add
//! the security headers and CORS, and write the one log line. A function implements
//! [`Service`] (its settings, and what each of its routes does) and nothing else.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use lambda_http::http::header;
use lambda_http::http::{Method, Request, Response};
use lambda_http::Body;

use crate::credential_store::CredentialStore;
use crate::routes::{self, Function, Matched, Route};
use crate::settings::{EnvSettings, Runtime};
use crate::web::{apply_security_headers, log_request, CorsPolicy, ErrorResponse, RequestFacts};

/// A part of a function that a setting switches on or off, as the local server's start-up
/// log reports it: what it is, whether it is on, and what turns it on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Feature {
    pub name: &'static str,
    pub on: bool,
    /// The variable (and value) that turns it on, e.g. `SUBTITLE_AGENT_NAME=<agent>`.
    pub switch: &'static str,
}

/// One function: built once per process (a cold start), shared by every request.
pub trait Service: Clone + Send + Sync + Sized + 'static {
    /// Which function this is; its routes are that function's rows of the route table.
    const FUNCTION: Function;

    /// What `call` dispatches on: one value per route of the function (an enum).
    type Handler: Copy + Send + Sync + 'static;

    /// The handler of each of the function's routes, by its path in the route table: every
    /// route maps to one explicitly, and a route nobody handles (`None`) is answered with a
    /// 500 `route_not_handled` instead of some other route's answer; [`unhandled_routes`]
    /// lets a test find it first.
    fn handler(path: &str) -> Option<Self::Handler>;

    /// Whether the function verifies LiveKit tokens (and so reads the keys that only
    /// verify, `${prefix}/api-keys`). A function that only signs sets this to false: its
    /// role is not allowed to read them.
    const VERIFIES_LIVEKIT_TOKENS: bool = true;

    /// Whether the function signs and redeems room links under these settings, and so
    /// reads their keys (`${prefix}/room-link-keys`) in the same batched SSM call.
    fn reads_room_link_keys(_env: &EnvSettings) -> bool {
        false
    }

    /// Reads the function's settings; credentials come from a store that the local
    /// server shares between functions. Async: a function with fleet state connects its
    /// store here (`shared::state`).
    fn with_credentials(
        env: &EnvSettings,
        credentials: Arc<CredentialStore>,
    ) -> impl Future<Output = Result<Self, crate::error::Error>> + Send;

    fn credentials(&self) -> &CredentialStore;

    /// Which browser origins may call; server-to-server functions stay closed.
    fn cors(&self) -> &CorsPolicy {
        &CorsPolicy::Closed
    }

    /// A switched-off feature answers 404 on every route, as if it were not deployed.
    fn enabled(&self) -> bool {
        true
    }

    /// The function's switchable features under its settings (the local server logs each
    /// at start-up, with the variable that turns an off one on).
    fn features(&self) -> Vec<Feature> {
        Vec::new()
    }

    /// Whether `route` is served: a feature switched off inside a function answers 404 on
    /// its routes (before any method check), as if it were not deployed.
    fn serves(&self, _route: &Route) -> bool {
        self.enabled()
    }

    /// What the function does for a request on one of its routes, with a method the
    /// route accepts (`OPTIONS` is answered before this is called).
    fn call(
        &self,
        handler: Self::Handler,
        route: Matched<'_>,
        request: &Request<Body>,
        facts: &mut RequestFacts,
    ) -> impl Future<Output = Result<Response<Body>, ErrorResponse>> + Send;

    /// Settings and credential source from the environment; an invalid setting is an
    /// error naming the variable.
    fn from_env(env: &EnvSettings, runtime: Runtime) -> impl Future<Output = Result<Self, crate::error::Error>> + Send {
        async move {
            let mut credentials = CredentialStore::from_env(env, runtime).await?;
            if !Self::VERIFIES_LIVEKIT_TOKENS {
                credentials = credentials.signing_only();
            }
            if Self::reads_room_link_keys(env) {
                credentials = credentials.with_room_link_keys();
            }
            Self::with_credentials(env, Arc::new(credentials)).await
        }
    }

    /// Loads the credentials during the cold start (Lambda's init phase runs at full
    /// CPU); a failure is logged and retried by the first request that needs them.
    fn warm_up(&self) -> impl Future<Output = ()> + Send {
        async move {
            if self.enabled() {
                self.credentials().warm_up().await;
            } else {
                tracing::info!(function = Self::FUNCTION.binary(), "this feature is off: every route answers 404");
            }
        }
    }
}

/// The whole life of one request, the same for every function.
pub async fn handle<S: Service>(service: &S, request: Request<Body>) -> Response<Body> {
    let started = Instant::now();
    let mut facts = RequestFacts::default();
    let path = request.uri().path();
    let matched = routes::find(path).filter(|m| m.route.function == S::FUNCTION && service.serves(m.route));
    let route = matched.as_ref().map_or("unknown", |m| m.route.path);
    let result = match matched {
        None => Err(ErrorResponse::not_found()),
        Some(m) if !m.route.methods.contains(request.method()) => {
            Err(ErrorResponse::method_not_allowed(m.route.methods))
        }
        Some(m) if request.method() == Method::OPTIONS => service.cors().preflight(request.headers(), m.route.methods),
        Some(m) => match S::handler(m.route.path) {
            Some(handler) => service.call(handler, m, &request, &mut facts).await,
            None => Err(not_handled(m.route.path)),
        },
    };
    let mut response = match result {
        Ok(response) => response,
        Err(error) => {
            facts.error_code = Some(error.code);
            if error.status.is_server_error() {
                let detail = error.detail.as_deref().unwrap_or(&error.message);
                tracing::error!(function = S::FUNCTION.binary(), code = error.code, detail, "request failed");
            }
            error.into_response()
        }
    };
    apply_security_headers(response.headers_mut());
    if !response.headers().contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
        service.cors().decorate(request.headers(), &mut response);
    }
    log_request(request.method(), route, response.status(), started, &facts);
    crate::metrics::request(response.status(), facts.error_code);
    response
}

/// A route of the table that the function maps to no handler: a bug, never a caller's.
fn not_handled(path: &str) -> ErrorResponse {
    ErrorResponse::new(lambda_http::http::StatusCode::INTERNAL_SERVER_ERROR, "route_not_handled", "internal error")
        .with_detail(format!("route {path} is in the route table but has no handler"))
}

/// The routes of `S`'s function that `S` maps to no handler (each function's tests assert
/// this is empty, so a route added to the table without a handler fails a test).
pub fn unhandled_routes<S: Service>() -> Vec<&'static str> {
    S::FUNCTION.routes().filter(|route| S::handler(route.path).is_none()).map(|route| route.path).collect()
}

#[cfg(test)]
mod tests {
    use lambda_http::http::StatusCode;

    use super::*;
    use crate::credential_store::{CachePolicy, CredentialSource};
    use crate::web::SECURITY_HEADERS;

    /// The webhook receiver's route, answered with whatever error the test asks for.
    #[derive(Clone)]
    struct Probe {
        credentials: Arc<CredentialStore>,
        refusal: Option<ErrorResponse>,
    }

    impl Service for Probe {
        const FUNCTION: Function = Function::WebhookReceiver;
        type Handler = ();

        fn handler(path: &str) -> Option<()> {
            (path == routes::WEBHOOK).then_some(())
        }

        async fn with_credentials(
            _: &EnvSettings,
            credentials: Arc<CredentialStore>,
        ) -> Result<Self, crate::error::Error> {
            Ok(Self { credentials, refusal: None })
        }

        fn credentials(&self) -> &CredentialStore {
            &self.credentials
        }

        async fn call(
            &self,
            _: (),
            _: Matched<'_>,
            _: &Request<Body>,
            _: &mut RequestFacts,
        ) -> Result<Response<Body>, ErrorResponse> {
            match &self.refusal {
                Some(refusal) => Err(refusal.clone()),
                None => Ok(crate::web::empty_response(StatusCode::NO_CONTENT)),
            }
        }
    }

    /// The webhook receiver's route, forgotten by its service: the route table has it, the
    /// handler map does not.
    #[derive(Clone)]
    struct Forgetful(Arc<CredentialStore>);

    impl Service for Forgetful {
        const FUNCTION: Function = Function::WebhookReceiver;
        type Handler = ();

        fn handler(_: &str) -> Option<()> {
            None
        }

        async fn with_credentials(
            _: &EnvSettings,
            credentials: Arc<CredentialStore>,
        ) -> Result<Self, crate::error::Error> {
            Ok(Self(credentials))
        }

        fn credentials(&self) -> &CredentialStore {
            &self.0
        }

        async fn call(
            &self,
            _: (),
            _: Matched<'_>,
            _: &Request<Body>,
            _: &mut RequestFacts,
        ) -> Result<Response<Body>, ErrorResponse> {
            Ok(crate::web::empty_response(StatusCode::OK))
        }
    }

    #[tokio::test]
    async fn a_route_without_a_handler_is_a_500_and_is_found_by_unhandled_routes() {
        assert_eq!(unhandled_routes::<Probe>(), Vec::<&str>::new());
        assert_eq!(unhandled_routes::<Forgetful>(), vec![routes::WEBHOOK]);
        let forgetful = Forgetful(Arc::new(CredentialStore::new(CredentialSource::Missing, CachePolicy::default())));
        let response = handle(&forgetful, Request::post("/webhook").body(Body::Empty).unwrap()).await;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        assert_eq!(body["error"]["code"], "route_not_handled");
    }

    /// Runs one request through the pipeline and returns the response and the log lines.
    async fn run(
        refusal: Option<ErrorResponse>,
        method: Method,
        path: &str,
    ) -> (Response<Body>, Vec<serde_json::Value>) {
        let capture = crate::telemetry::CapturedLogs::default();
        let writer = capture.clone();
        let subscriber = tracing_subscriber::fmt().json().with_writer(move || writer.clone()).finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let credentials = Arc::new(CredentialStore::new(CredentialSource::Missing, CachePolicy::default()));
        let probe = Probe { credentials, refusal };
        let response = handle(&probe, Request::builder().method(method).uri(path).body(Body::Empty).unwrap()).await;
        let logs = capture.text();
        (response, logs.lines().map(|line| serde_json::from_str(line).unwrap()).collect())
    }

    fn request_line(logs: &[serde_json::Value]) -> &serde_json::Value {
        logs.iter().find(|l| l["fields"]["message"] == "request").expect("one request line")
    }

    #[tokio::test]
    async fn every_answer_carries_the_security_headers_and_one_log_line_with_its_code() {
        let cases = [
            (None, Method::POST, "/webhook", StatusCode::NO_CONTENT, ""),
            (None, Method::POST, "/token", StatusCode::NOT_FOUND, "not_found"),
            (None, Method::GET, "/webhook", StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            (
                Some(ErrorResponse::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "slow down").retry_after(7)),
                Method::POST,
                "/webhook",
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
            ),
        ];
        for (refusal, method, path, status, code) in cases {
            let (response, logs) = run(refusal, method.clone(), path).await;
            assert_eq!(response.status(), status, "{method} {path}");
            for (name, value) in SECURITY_HEADERS {
                assert_eq!(response.headers()[name], value, "{method} {path}: {name}");
            }
            assert_eq!(request_line(&logs)["fields"]["error_code"], code, "{method} {path}: the log names the code");
        }
        let (not_allowed, _) = run(None, Method::GET, "/webhook").await;
        assert_eq!(not_allowed.headers()["allow"], "POST");
        let limited = ErrorResponse::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "slow down").retry_after(7);
        let (limited, _) = run(Some(limited), Method::POST, "/webhook").await;
        assert_eq!(limited.headers()["retry-after"], "7");
    }

    #[tokio::test]
    async fn a_server_error_logs_its_detail_once_and_never_sends_it() {
        let failure = ErrorResponse::new(StatusCode::SERVICE_UNAVAILABLE, "livekit_unavailable", "retry later")
            .with_detail("RoomService.SendData: connection refused");
        let (response, logs) = run(Some(failure), Method::POST, "/webhook").await;
        let body = String::from_utf8(response.body().as_ref().to_vec()).unwrap();
        assert!(!body.contains("connection refused"), "{body}");
        let errors: Vec<_> = logs.iter().filter(|l| l["level"] == "ERROR").collect();
        assert_eq!(errors.len(), 1, "{logs:?}");
        assert_eq!(errors[0]["fields"]["detail"], "RoomService.SendData: connection refused");
    }
}
