//! Who may mint a token, end to end. A loopback OpenID Connect issuer
//! (`tests/node/oidc-issuer.mjs`: an RSA key pair made at start-up, JWKS on loopback,
//! the OAuth 2 client-credentials grant) issues user and application tokens, and every
//! case runs on both paths a deployment has:
//!
//! 1. **local**: over HTTP to the local server, which verifies the bearer token the way
//!    API Gateway's JWT authorizer does (signature against the JWKS, issuer, audience,
//!    expiry, route scopes);
//! 2. **lambda**: the API Gateway event the function receives once the authorizer has let
//!    the request through, with the token's claims in `requestContext.authorizer.jwt`
//!    as API Gateway passes them, through the Lambda entry into the same handler.
//!
//! Both must answer the same, and a refused call never carries a LiveKit token.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use lambda_http::http::Request;
use lambda_http::Body;
use livekit_api::access_token::TokenVerifier;
use livekit_lambda_shared::lambda::into_lambda_request;
use livekit_lambda_shared::EnvSettings;
use local_server::{serve, LocalRoutes};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use wire_tests::oidc::TestIssuer;
use wire_tests::{http, verify_with_node_sdk, workspace_root};

pub(crate) const KEY: &str = "devkey";
pub(crate) const SECRET: &str = "secret";

/// What a response amounts to: status, error code, and the LiveKit token's content.
#[derive(Debug, PartialEq)]
pub(crate) struct Outcome {
    pub status: u16,
    pub code: String,
    pub token: Option<Minted>,
}

#[derive(Debug, PartialEq)]
pub(crate) struct Minted {
    pub identity: String,
    pub name: String,
    pub room: String,
    pub attributes: BTreeMap<String, String>,
    pub room_admin: bool,
    pub publish_sources: Vec<String>,
}

pub(crate) fn outcome(status: u16, body: &[u8]) -> Outcome {
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let jwt = body.get("token").or_else(|| body.get("participant_token")).and_then(Value::as_str);
    let token = jwt.map(|jwt| {
        let claims = TokenVerifier::with_api_key(KEY, SECRET).verify(jwt).expect("a token we signed");
        Minted {
            identity: claims.sub,
            name: claims.name,
            room: claims.video.room,
            attributes: claims.attributes.into_iter().collect(),
            room_admin: claims.video.room_admin,
            publish_sources: claims.video.can_publish_sources,
        }
    });
    let code = body["error"]["code"].as_str().unwrap_or_default().to_string();
    if status >= 400 {
        assert!(token.is_none(), "a refused call carries a token: {body}");
    }
    Outcome { status, code, token }
}

pub(crate) struct Deployment {
    pub issuer: TestIssuer,
    pub routes: LocalRoutes,
    pub port: u16,
}

/// The issuer's clients: an application allowed to mint, one that may also make
/// moderators, one that may only create room links, and one with an unrelated scope.
fn issuer() -> TestIssuer {
    TestIssuer::start(json!({
        "app-backend": {"secret": "app-secret", "scopes": ["livekit/token"]},
        "moderator-app": {"secret": "mod-secret", "scopes": ["livekit/token", "livekit/admin"]},
        "scheduler": {"secret": "scheduler-secret", "scopes": ["livekit/links"]},
        "reports": {"secret": "reports-secret", "scopes": ["reports/read"]},
    }))
}

pub(crate) async fn deploy(extra: &[(&str, &str)]) -> Deployment {
    deploy_with(extra, |routes| routes).await
}

/// A deployment whose routes `adapt` may change before the local server starts (a state
/// store shared with another deployment: two containers of one fleet).
pub(crate) async fn deploy_with(extra: &[(&str, &str)], adapt: impl FnOnce(LocalRoutes) -> LocalRoutes) -> Deployment {
    let issuer = issuer();
    let mut pairs = vec![
        ("LIVEKIT_API_KEY".to_string(), KEY.to_string()),
        ("LIVEKIT_API_SECRET".into(), SECRET.into()),
        ("LIVEKIT_URL".into(), "ws://localhost:7880".into()),
        ("PUBLISH_SOURCES".into(), "camera,microphone".into()),
        ("AUTH_MODE".into(), "jwt".into()),
        ("AUTH_ISSUER".into(), issuer.url.clone()),
        // Cognito-style: user tokens have `aud` = the browser client; application
        // tokens have no `aud`, only `client_id`.
        ("AUTH_AUDIENCE".into(), "browser-app,app-backend,moderator-app,scheduler,reports".into()),
        ("AUTH_ADMIN_CLAIM".into(), "groups=moderators".into()),
    ];
    pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let routes = adapt(LocalRoutes::from_env(&EnvSettings::from_pairs(pairs)).await.expect("settings"));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(serve(listener, routes.clone(), local_server::DEFAULT_IDLE_TIMEOUT));
    Deployment { issuer, routes, port }
}

/// A signed-in user's access token (as a hosted sign-in gives a browser).
pub(crate) fn user_claims(sub: &str, scope: &str) -> Value {
    json!({"sub": sub, "aud": "browser-app", "scope": scope, "token_use": "access",
           "name": "Jane Doe", "email": "jane@example.com"})
}

/// One call to `/token`: `GET ?query` or, with a body, `POST`.
struct Call<'a> {
    query: &'a str,
    body: Option<Value>,
}

fn get(query: &str) -> Call<'_> {
    Call { query, body: None }
}

fn post(body: Value) -> Call<'static> {
    Call { query: "", body: Some(body) }
}

impl Deployment {
    /// Path 1: over HTTP to the local server, bearer token and all.
    async fn local(&self, call: &Call<'_>, authorization: Option<&str>) -> Outcome {
        let mut headers = vec![];
        if let Some(value) = authorization {
            headers.push(("authorization", value));
        }
        let response = match &call.body {
            None => http(self.port, "GET", &format!("/token?{}", call.query), &headers, b"").await,
            Some(body) => {
                headers.push(("content-type", "application/json"));
                http(self.port, "POST", "/token", &headers, body.to_string().as_bytes()).await
            }
        };
        outcome(response.status, &response.body)
    }

    /// Path 2: the event Lambda receives after API Gateway's authorizer accepted `token`
    /// (its claims as API Gateway passes them), or with no authorizer context at all.
    async fn lambda(&self, call: &Call<'_>, token: Option<&str>) -> Outcome {
        let (method, path) = if call.body.is_some() { ("POST", "/token") } else { ("GET", "/token") };
        let request = gateway_event(method, &format!("{path}?{}", call.query), call.body.as_ref(), token);
        let response = self.routes.token.handle(request).await;
        outcome(response.status().as_u16(), response.body().as_ref())
    }

    /// Both paths with the same token; they must agree.
    async fn both(&self, call: &Call<'_>, token: &str) -> Outcome {
        let local = self.local(call, Some(&format!("Bearer {token}"))).await;
        let lambda = self.lambda(call, Some(token)).await;
        assert_eq!(local, lambda, "the local server and Lambda disagree");
        local
    }

    pub(crate) fn client_token(&self, client: &str, secret: &str) -> String {
        let (status, body) = self.issuer.client_credentials(client, secret, None);
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().expect("access_token").to_string()
    }
}

/// The API Gateway (HTTP API, payload 2.0) event for `method path?query` with an optional
/// JSON body, built from a sample in `events/` as Lambda would receive it: after API
/// Gateway's authorizer accepted `token` (its claims in the authorizer context), or with
/// no authorizer context at all.
pub(crate) fn gateway_event(
    method: &str,
    path_and_query: &str,
    body: Option<&Value>,
    token: Option<&str>,
) -> Request<Body> {
    let text = std::fs::read_to_string(workspace_root().join("events/token-post-machine.json")).unwrap();
    let mut event: Value = serde_json::from_str(&text).unwrap();
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let route = livekit_lambda_shared::routes::find(path).map_or(path, |m| m.route.path);
    event["routeKey"] = json!(format!("ANY {route}"));
    event["requestContext"]["routeKey"] = event["routeKey"].clone();
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["path"] = json!(path);
    event["requestContext"]["http"]["method"] = json!(method);
    event["rawQueryString"] = json!(query);
    let object = event.as_object_mut().unwrap();
    object.remove("queryStringParameters");
    object.remove("pathParameters");
    let headers = event["headers"].as_object_mut().unwrap();
    headers.remove("content-length");
    match body {
        Some(body) => event["body"] = json!(body.to_string()),
        None => {
            headers.remove("content-type");
            event.as_object_mut().unwrap().remove("body");
        }
    }
    match token {
        Some(token) => {
            event["headers"]["authorization"] = json!(format!("Bearer {token}"));
            event["requestContext"]["authorizer"] = json!({"jwt": gateway_view(token)});
        }
        None => {
            event["headers"].as_object_mut().unwrap().remove("authorization");
            event["requestContext"].as_object_mut().unwrap().remove("authorizer");
        }
    }
    into_lambda_request(event).expect("a readable event").into()
}

/// `requestContext.authorizer.jwt` as API Gateway builds it from a verified token: every
/// claim as a string (arrays `[a b]`), and the scopes when the route requires some (it
/// does with the default AUTH_USER_SCOPE).
pub(crate) fn gateway_view(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    let claims: serde_json::Map<String, Value> =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON claims");
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            format!(
                "[{}]",
                items.iter().map(|i| i.as_str().map_or(i.to_string(), String::from)).collect::<Vec<_>>().join(" ")
            )
        }
        other => other.to_string(),
    };
    let scopes: Vec<&str> =
        claims.get("scope").and_then(Value::as_str).unwrap_or_default().split_whitespace().collect();
    json!({
        "claims": claims.iter().map(|(k, v)| (k.clone(), Value::String(text(v)))).collect::<serde_json::Map<_, _>>(),
        "scopes": scopes,
    })
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

pub(crate) fn minted(outcome: &Outcome) -> &Minted {
    outcome.token.as_ref().unwrap_or_else(|| panic!("no token: {outcome:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_get_a_token_for_themselves_from_their_verified_claims() {
    let d = deploy(&[]).await;
    let token = d.issuer.mint(user_claims("u-123", "openid email livekit/join"), json!({}));

    // The query's participant is not who the caller is: the token's subject is.
    let got = d.both(&get("room=demo&participant=Mallory"), &token).await;
    assert_eq!(got.status, 200);
    let t = minted(&got);
    assert_eq!((t.identity.as_str(), t.name.as_str(), t.room.as_str()), ("user:u-123", "Jane Doe", "demo"));
    assert_eq!(t.attributes.get("auth.user_id").map(String::as_str), Some("u-123"));
    assert_eq!(t.attributes.get("auth.email").map(String::as_str), Some("jane@example.com"));
    assert!(!t.attributes.contains_key("auth.owner"));
    assert!(!t.room_admin);
    assert_eq!(t.publish_sources, vec!["camera", "microphone"]);

    // `participant` may be left out; the standard endpoint ignores a named identity too.
    assert_eq!(minted(&d.both(&get("room=demo"), &token).await).identity, "user:u-123");
    let standard = d
        .both(&post(json!({"room_name": "demo", "participant_identity": "mallory", "participant_name": "M"})), &token)
        .await;
    assert_eq!(standard.status, 201);
    assert_eq!((minted(&standard).identity.as_str(), minted(&standard).name.as_str()), ("user:u-123", "Jane Doe"));

    // A moderator (by group claim) gets roomAdmin and every publish source.
    let moderator = d.issuer.mint(
        json!({"sub": "u-9", "aud": "browser-app", "scope": "livekit/join", "groups": ["staff", "moderators"]}),
        json!({}),
    );
    let m = d.both(&get("room=demo"), &moderator).await;
    assert!(minted(&m).room_admin, "{m:?}");
    assert!(minted(&m).publish_sources.is_empty(), "admins may publish every source");
    assert_eq!(minted(&m).name, "", "no name claim, no display name");

    // The official SDK reads what other participants and backends will read.
    let jwt = {
        let r = http(d.port, "GET", "/token?room=demo", &[("authorization", &format!("Bearer {token}"))], b"").await;
        serde_json::from_slice::<Value>(&r.body).unwrap()["token"].as_str().unwrap().to_string()
    };
    let verified = &verify_with_node_sdk(KEY, SECRET, &[&jwt])[0];
    assert_eq!(verified["claims"]["sub"], "user:u-123", "{verified}");
    assert_eq!(verified["claims"]["attributes"]["auth.email"], "jane@example.com", "{verified}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applications_mint_for_their_users_with_owner_attribution() {
    let d = deploy(&[]).await;
    // A real client-credentials grant against the issuer's token endpoint.
    let app = d.client_token("app-backend", "app-secret");

    let got = d
        .both(
            &post(json!({"room_name": "support-42", "participant_identity": "customer-42",
                         "participant_name": "Customer 42", "participant_attributes": {"plan": "pro"}})),
            &app,
        )
        .await;
    assert_eq!(got.status, 201, "{got:?}");
    let t = minted(&got);
    assert_eq!((t.identity.as_str(), t.name.as_str(), t.room.as_str()), ("customer-42", "Customer 42", "support-42"));
    assert_eq!(t.attributes.get("auth.owner").map(String::as_str), Some("owner:app-backend"));
    assert_eq!(t.attributes.get("plan").map(String::as_str), Some("pro"));
    assert!(!t.attributes.contains_key("auth.user_id"));
    assert!(!t.room_admin);

    let simple = d.both(&get("room=support-42&participant=agent-7"), &app).await;
    assert_eq!((simple.status, minted(&simple).identity.as_str()), (200, "agent-7"));
    assert_eq!(minted(&simple).attributes["auth.owner"], "owner:app-backend");
    // An application names whom it mints for.
    let unnamed = d.both(&get("room=support-42"), &app).await;
    assert_eq!((unnamed.status, unnamed.code.as_str()), (400, "missing_parameter"));

    // Nobody writes the verified attributes themselves.
    let forged = d
        .both(&post(json!({"room_name": "r", "participant_attributes": {"auth.owner": "owner:someone-else"}})), &app)
        .await;
    assert_eq!((forged.status, forged.code.as_str()), (403, "field_not_allowed"));

    // The admin scope makes the application's tokens moderators' tokens.
    let moderator_app = d.client_token("moderator-app", "mod-secret");
    let m = d.both(&get("room=support-42&participant=host-1"), &moderator_app).await;
    assert!(minted(&m).room_admin);
    assert_eq!(minted(&m).attributes["auth.owner"], "owner:moderator-app");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_no_scope_or_a_bad_token_gets_no_livekit_token() {
    let d = deploy(&[]).await;
    let call = get("room=demo&participant=Jane");

    // No token: API Gateway's authorizer refuses (local); a function that somehow gets
    // the request without the authorizer's context refuses too (lambda).
    let local = d.local(&call, None).await;
    let lambda = d.lambda(&call, None).await;
    assert_eq!((local.status, local.code.as_str()), (401, "unauthenticated"));
    assert_eq!(local, lambda);

    // Verified but under-scoped: an application without the mint scope, a user without
    // the join scope (e.g. an OIDC ID token).
    let reports = d.client_token("reports", "reports-secret");
    let under = d.both(&call, &reports).await;
    assert_eq!((under.status, under.code.as_str()), (403, "insufficient_scope"));
    let openid_only = d.issuer.mint(user_claims("u-1", "openid email"), json!({}));
    let under = d.both(&call, &openid_only).await;
    assert_eq!((under.status, under.code.as_str()), (403, "insufficient_scope"));
    let id_token = d.issuer.mint(json!({"sub": "u-1", "aud": "browser-app", "token_use": "id"}), json!({}));
    assert_eq!(d.both(&call, &id_token).await.status, 403);

    // What API Gateway itself refuses with 401 never reaches the function.
    let good = user_claims("u-1", "livekit/join");
    let t = now();
    let broken = [
        ("expired", d.issuer.mint(good.clone(), json!({"ttlSeconds": -60}))),
        (
            "wrong audience",
            d.issuer.mint(json!({"sub": "u-1", "aud": "someone-else", "scope": "livekit/join"}), json!({})),
        ),
        ("no audience", d.issuer.mint(json!({"sub": "u-1", "scope": "livekit/join"}), json!({}))),
        (
            "wrong issuer",
            d.issuer.mint(
                json!({"sub": "u-1", "aud": "browser-app", "scope": "livekit/join", "iss": "http://127.0.0.1:1"}),
                json!({}),
            ),
        ),
        (
            "not yet valid",
            d.issuer
                .mint(json!({"sub": "u-1", "aud": "browser-app", "scope": "livekit/join", "nbf": t + 600}), json!({})),
        ),
        (
            "no expiry",
            d.issuer.mint(json!({"sub": "u-1", "aud": "browser-app", "scope": "livekit/join", "exp": null}), json!({})),
        ),
        ("a stranger's key", d.issuer.mint(good.clone(), json!({"key": "stranger"}))),
        ("unknown key id", d.issuer.mint(good.clone(), json!({"header": {"kid": "not-a-key"}}))),
        ("no key id", d.issuer.mint(good.clone(), json!({"header": {"kid": null}}))),
        ("alg none", d.issuer.mint(good.clone(), json!({"header": {"alg": "none"}}))),
        ("HS256 keyed with the public key", d.issuer.mint(good.clone(), json!({"header": {"alg": "HS256"}}))),
        ("not a JWT", "not-a-jwt".to_string()),
    ];
    for (what, token) in &broken {
        let got = d.local(&call, Some(&format!("Bearer {token}"))).await;
        assert_eq!((got.status, got.code.as_str()), (401, "unauthenticated"), "{what}");
    }
    // A tampered payload under a valid signature.
    let valid = d.issuer.mint(good.clone(), json!({}));
    let mut parts: Vec<String> = valid.split('.').map(String::from).collect();
    parts[1] = URL_SAFE_NO_PAD.encode(
        json!({"sub": "admin", "aud": "browser-app", "scope": "livekit/join", "iss": d.issuer.url, "exp": t + 600})
            .to_string(),
    );
    assert_eq!(d.local(&call, Some(&format!("Bearer {}", parts.join(".")))).await.status, 401, "tampered");

    // As with API Gateway, the token may come without `Bearer `; the same token works.
    assert_eq!(d.local(&call, Some(&valid)).await.status, 200);
    // The issuer refuses a wrong client secret: no token to begin with.
    assert_eq!(d.issuer.client_credentials("app-backend", "wrong", None).0, 401);
    // Preflight and health stay open, as their template routes have no authorizer.
    let preflight = http(
        d.port,
        "OPTIONS",
        "/token",
        &[("origin", "https://x.example"), ("access-control-request-method", "GET")],
        b"",
    )
    .await;
    assert_ne!(preflight.status, 401);
    assert_eq!(http(d.port, "GET", "/health", &[], b"").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_lists_and_client_prefixes_are_enforced() {
    let d = deploy(&[("AUTH_ROOMS_CLAIM", "rooms")]).await;
    let user = d.issuer.mint(
        json!({"sub": "u-1", "aud": "browser-app", "scope": "livekit/join", "rooms": ["lobby", "team-*"]}),
        json!({}),
    );
    for (room, status) in [("lobby", 200), ("team-blue", 200), ("lobby-2", 403), ("other", 403)] {
        let got = d.both(&get(&format!("room={room}")), &user).await;
        assert_eq!(got.status, status, "{room}: {got:?}");
        if status == 403 {
            assert_eq!(got.code, "room_not_allowed");
        }
    }
    let no_list = d.issuer.mint(user_claims("u-2", "livekit/join"), json!({}));
    assert_eq!(d.both(&get("room=lobby"), &no_list).await.code, "room_not_allowed");

    let d = deploy(&[("AUTH_CLIENT_ROOM_PREFIXES", "app-backend=support-")]).await;
    let app = d.client_token("app-backend", "app-secret");
    assert_eq!(d.both(&get("room=support-1&participant=c"), &app).await.status, 200);
    assert_eq!(d.both(&get("room=sales-1&participant=c"), &app).await.code, "room_not_allowed");
    let unlisted = d.client_token("moderator-app", "mod-secret");
    assert_eq!(d.both(&get("room=support-1&participant=c"), &unlisted).await.code, "room_not_allowed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_issuer_key_is_fetched_and_ids_tokens_work_without_a_user_scope() {
    let d = deploy(&[("AUTH_USER_SCOPE", "")]).await;
    let call = get("room=demo");
    // Without a user scope the route requires none: an OIDC ID token (no scope) works.
    let id_token = d.issuer.mint(json!({"sub": "u-1", "aud": "browser-app", "email": "a@b.c"}), json!({}));
    let got = d.local(&call, Some(&format!("Bearer {id_token}"))).await;
    assert_eq!((got.status, minted(&got).identity.as_str()), (200, "user:u-1"));
    assert_eq!(minted(&got).name, "a@b.c", "the email is the display name when there is no `name`");
    assert_eq!(got, d.lambda(&call, Some(&id_token)).await);

    // The issuer rotates its key: a token under the new `kid` makes the authorizer
    // fetch the JWKS again.
    d.issuer.rotate();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let rotated = d.issuer.mint(json!({"sub": "u-1", "aud": "browser-app"}), json!({}));
    assert_eq!(d.local(&call, Some(&format!("Bearer {rotated}"))).await.status, 200);
}

#[tokio::test]
async fn with_auth_off_claims_and_bearer_tokens_change_nothing() {
    let routes = LocalRoutes::from_env(&EnvSettings::from_pairs([
        ("LIVEKIT_API_KEY", KEY),
        ("LIVEKIT_API_SECRET", SECRET),
        ("LIVEKIT_URL", "ws://localhost:7880"),
    ]))
    .await
    .unwrap();
    assert!(routes.authorizer.is_none());
    let request: Request<Body> = into_lambda_request(
        serde_json::from_str(
            &std::fs::read_to_string(workspace_root().join("events/token-get-signed-in.json")).unwrap(),
        )
        .unwrap(),
    )
    .unwrap()
    .into();
    // The open endpoint: the sample has no participant, so it is refused as before.
    let response = routes.token.handle(request).await;
    assert_eq!(outcome(response.status().as_u16(), response.body().as_ref()).code, "missing_parameter");
}
