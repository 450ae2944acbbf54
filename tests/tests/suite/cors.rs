//! Browsers must be able to read every refusal (issue 20, item 6). With authentication on,
//! the JWT authorizer answers `401`/`403` before any function runs: API Gateway with the
//! template's CorsConfiguration, and the local server's own authorizer. A front end whose
//! access token expired can only ask its user to sign in again if the browser lets it read
//! that `401`, so the refusal must carry the CORS headers the functions' own answers carry
//! for an allowed origin, and none for a refused one (the browser then hides it, as it
//! hides everything else from that origin).

use livekit_lambda_shared::EnvSettings;
use local_server::{serve, LocalRoutes};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use wire_tests::oidc::TestIssuer;
use wire_tests::{http, HttpResponse};

const APP: &str = "https://app.example.com";
const DEV_APP: &str = "http://localhost:3000";
const STRANGER: &str = "https://evil.example.com";

struct Deployment {
    issuer: TestIssuer,
    port: u16,
}

/// The local server with authentication on, and CORS open to `allowed_origins` ("" keeps
/// it closed, the default).
async fn deploy(allowed_origins: &str) -> Deployment {
    let issuer = TestIssuer::start(json!({"reports": {"secret": "reports-secret", "scopes": ["reports/read"]}}));
    let env = EnvSettings::from_pairs([
        ("LIVEKIT_API_KEY", "devkey"),
        ("LIVEKIT_API_SECRET", "secret"),
        ("LIVEKIT_URL", "ws://localhost:7880"),
        ("AUTH_MODE", "jwt"),
        ("AUTH_ISSUER", issuer.url.as_str()),
        ("AUTH_AUDIENCE", "browser-app,reports"),
        ("ALLOWED_ORIGINS", allowed_origins),
    ]);
    let routes = LocalRoutes::from_env(&env).await.expect("settings");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(serve(listener, routes, local_server::DEFAULT_IDLE_TIMEOUT));
    Deployment { issuer, port }
}

/// A signed-in user's access token; `ttl` in seconds (negative: already expired).
fn user_token(issuer: &TestIssuer, ttl: i64) -> String {
    let claims = json!({"sub": "u-1", "aud": "browser-app", "scope": "livekit/join", "name": "Jane Doe"});
    issuer.mint(claims, json!({"ttlSeconds": ttl}))
}

impl Deployment {
    /// `GET /token` or, with a body, `POST /token` as a browser on `origin` sends it.
    async fn call(&self, origin: Option<&str>, bearer: Option<&str>, body: Option<Value>) -> HttpResponse {
        let authorization = bearer.map(|token| format!("Bearer {token}"));
        let mut headers = Vec::new();
        if let Some(origin) = origin {
            headers.push(("origin", origin));
        }
        if let Some(value) = &authorization {
            headers.push(("authorization", value.as_str()));
        }
        match body {
            None => http(self.port, "GET", "/token?room=demo&participant=Jane", &headers, b"").await,
            Some(body) => {
                headers.push(("content-type", "application/json"));
                http(self.port, "POST", "/token", &headers, body.to_string().as_bytes()).await
            }
        }
    }
}

/// The CORS part of a response: every `access-control-*` header and `vary`, sorted.
fn cors_headers(response: &HttpResponse) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = response
        .headers
        .iter()
        .filter(|(name, _)| {
            let name = name.to_ascii_lowercase();
            name.starts_with("access-control-") || name == "vary"
        })
        .map(|(name, value)| (name.to_ascii_lowercase(), value.clone()))
        .collect();
    headers.sort();
    headers
}

fn error_code(response: &HttpResponse) -> String {
    response.json()["error"]["code"].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authorizers_refusals_are_readable_from_an_allowed_origin_only() {
    let d = deploy(&format!("{APP},{DEV_APP}")).await;
    let expired = user_token(&d.issuer, -60);
    let (status, body) = d.issuer.client_credentials("reports", "reports-secret", None);
    assert_eq!(status, 200, "{body}");
    let under_scoped = body["access_token"].as_str().expect("access_token").to_string();

    // What the authorizer refuses, as GET (the seed contract) and as POST (TokenSource).
    let refusals: [(&str, Option<&str>, u16, &str); 3] = [
        ("no token", None, 401, "unauthenticated"),
        ("an expired token", Some(&expired), 401, "unauthenticated"),
        ("a token without the route's scopes", Some(&under_scoped), 403, "insufficient_scope"),
    ];
    for (what, bearer, status, code) in refusals {
        for body in [None, Some(json!({"room_name": "demo"}))] {
            let form = if body.is_some() { "POST" } else { "GET" };
            for origin in [APP, DEV_APP] {
                let got = d.call(Some(origin), bearer, body.clone()).await;
                assert_eq!((got.status, error_code(&got).as_str()), (status, code), "{form}, {what}, from {origin}");
                assert_eq!(got.header("access-control-allow-origin"), Some(origin), "{form}, {what}, from {origin}");
                assert!(
                    got.header("vary").is_some_and(|v| v.to_ascii_lowercase().contains("origin")),
                    "{form}, {what}: a cache must not hand one origin's answer to another"
                );
                assert_eq!(got.header("access-control-allow-credentials"), None, "no credentials, ever");
            }
            // A refused origin, and a caller that is no browser, learn nothing new: the
            // status is there for curl, the browser hides the whole answer.
            for origin in [Some(STRANGER), None] {
                let got = d.call(origin, bearer, body.clone()).await;
                assert_eq!(got.status, status, "{form}, {what}, from {origin:?}");
                assert_eq!(got.header("access-control-allow-origin"), None, "{form}, {what}, from {origin:?}");
            }
        }
    }

    // One CORS implementation: the authorizer's refusal carries exactly the CORS headers
    // the token generator's own refusal carries for the same origin.
    let valid = user_token(&d.issuer, 600);
    for origin in [Some(APP), Some(STRANGER), None] {
        let by_authorizer = d.call(origin, Some(&expired), None).await;
        let by_function = d.call(origin, Some(&valid), Some(json!({"room_config": "not an object"}))).await;
        assert_eq!(by_function.status, 400, "{}", String::from_utf8_lossy(&by_function.body));
        assert_eq!(cors_headers(&by_authorizer), cors_headers(&by_function), "from {origin:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_cors_closed_no_refusal_names_an_origin() {
    let d = deploy("").await;
    let expired = user_token(&d.issuer, -60);
    for origin in [APP, STRANGER] {
        let got = d.call(Some(origin), Some(&expired), None).await;
        assert_eq!((got.status, error_code(&got).as_str()), (401, "unauthenticated"));
        assert_eq!(cors_headers(&got), vec![], "CORS stays closed by default, from {origin}");
    }
}
