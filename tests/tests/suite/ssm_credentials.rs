//! Credentials over the real AWS SSM wire protocol, against moto_server: the cold-start
//! fetch, the cache (N warm requests → exactly one GetParameters call), refresh, stale
//! serving and failures (503, nothing cached).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_sdk_ssm::types::ParameterType;
use lambda_http::http::Request;
use lambda_http::Body;
use livekit_api::access_token::TokenVerifier;
use livekit_lambda_shared::ssm::{RetryPolicy, SsmParameters};
use livekit_lambda_shared::{CachePolicy, CredentialSource, CredentialStore, Service};
use serde_json::Value;
use token_generator::{TokenService, TokenSettings};
use wire_tests::{production_ssm_client, ssm_client_for, Fault, FaultProxy, MotoServer};

const KEY: &str = "APIssmKey";
const SECRET: &str = "ssm-secret-ssm-secret-ssm-secret-0123";

/// One moto_server for this test binary; each test uses its own prefix, and counts only
/// the calls that name its prefix.
fn moto() -> &'static MotoServer {
    static MOTO: OnceLock<MotoServer> = OnceLock::new();
    MOTO.get_or_init(MotoServer::start)
}

/// The token generator as Lambda builds it: it only signs, so it reads no `api-keys`.
fn service(endpoint: &str, prefix: &str, policy: CachePolicy) -> TokenService {
    let parameters = SsmParameters::new(ssm_client_for(endpoint), prefix).signing_only();
    TokenService::new(
        TokenSettings::default(),
        Arc::new(CredentialStore::new(CredentialSource::Ssm(parameters), policy)),
    )
}

fn get_token() -> Request<Body> {
    Request::get("/token?room=ssm-room&participant=Jane").body(Body::Empty).unwrap()
}

async fn call(service: &TokenService) -> (u16, Value) {
    let response = service.handle(get_token()).await;
    let status = response.status().as_u16();
    (status, serde_json::from_slice(response.body().as_ref()).unwrap())
}

const LONG: CachePolicy = CachePolicy { max_age: Duration::from_secs(300), stale_limit: Duration::from_secs(3600) };

#[tokio::test]
async fn one_get_parameters_call_per_cold_start_then_cached() {
    let moto = moto();
    let prefix = "/cold-start/livekit";
    moto.put_livekit(prefix, KEY, SECRET, "https://lk.example.com").await;

    let service = service(&moto.endpoint(), prefix, LONG);
    service.warm_up().await;
    for _ in 0..25 {
        let (status, body) = call(&service).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["url"], "wss://lk.example.com", "client URL is the wss form of the https URL");
        // Signed with the decrypted secret: moto returns `kms:alias/aws/ssm:<value>` when
        // decryption is not requested, and this verification would then fail.
        let claims = TokenVerifier::with_api_key(KEY, SECRET).verify(body["token"].as_str().unwrap()).unwrap();
        assert_eq!(claims.video.room, "ssm-room");
    }
    let calls = moto.get_parameters_calls(prefix);
    assert_eq!(calls.len(), 1, "exactly one GetParameters for a cold start and 25 warm requests: {calls:?}");
    let names = calls[0]["Names"].as_array().unwrap();
    assert_eq!(
        names.len(),
        5,
        "one batched call for current-key, key, secret, url and api-url (no api-keys): {names:?}"
    );
    assert_eq!(calls[0]["WithDecryption"], true);
}

#[tokio::test]
async fn refreshes_after_max_age_and_picks_up_a_rotated_secret() {
    let moto = moto();
    let prefix = "/rotation/livekit";
    moto.put_livekit(prefix, KEY, SECRET, "wss://lk.example.com").await;
    let policy = CachePolicy { max_age: Duration::from_millis(300), stale_limit: Duration::from_secs(3600) };
    let service = service(&moto.endpoint(), prefix, policy);
    let (status, _) = call(&service).await;
    assert_eq!(status, 200);

    let rotated = "rotated-secret-rotated-secret-rotated-99";
    moto.put(&format!("{prefix}/api-secret"), rotated, ParameterType::SecureString).await;
    let (_, before) = call(&service).await;
    assert!(TokenVerifier::with_api_key(KEY, SECRET).verify(before["token"].as_str().unwrap()).is_ok(), "still cached");

    tokio::time::sleep(Duration::from_millis(400)).await;
    let (_, after) = call(&service).await;
    assert!(
        TokenVerifier::with_api_key(KEY, rotated).verify(after["token"].as_str().unwrap()).is_ok(),
        "new secret after max age"
    );
    assert_eq!(moto.get_parameters_calls(prefix).len(), 2);
}

#[tokio::test]
async fn failed_refresh_serves_last_good_value_until_the_stale_limit() {
    let moto = moto();
    let prefix = "/stale/livekit";
    moto.put_livekit(prefix, KEY, SECRET, "wss://lk.example.com").await;
    let policy = CachePolicy { max_age: Duration::from_millis(100), stale_limit: Duration::from_millis(900) };
    let service = service(&moto.endpoint(), prefix, policy);
    assert_eq!(call(&service).await.0, 200);

    moto.delete(&format!("{prefix}/api-secret")).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, body) = call(&service).await;
    assert_eq!(status, 200, "refresh failed but the last good credentials are young enough: {body}");
    assert!(TokenVerifier::with_api_key(KEY, SECRET).verify(body["token"].as_str().unwrap()).is_ok());

    tokio::time::sleep(Duration::from_millis(900)).await;
    let (status, body) = call(&service).await;
    assert_eq!(status, 503, "past the stale limit: {body}");
    assert_eq!(body["error"]["code"], "credentials_unavailable");
}

#[tokio::test]
async fn missing_parameters_answer_503_and_the_failure_is_not_cached() {
    let moto = moto();
    let prefix = "/late/livekit";
    let service = service(&moto.endpoint(), prefix, LONG);
    service.warm_up().await;
    let (status, body) = call(&service).await;
    assert_eq!(status, 503);
    assert_eq!(body["error"]["code"], "credentials_unavailable");
    assert!(!body.to_string().contains("/late/livekit"), "parameter names are for the log, not the caller");

    moto.put_livekit(prefix, KEY, SECRET, "wss://lk.example.com").await;
    let (status, body) = call(&service).await;
    assert_eq!(status, 200, "recovers as soon as the parameters exist: {body}");
}

#[tokio::test]
async fn a_secret_that_is_not_a_secure_string_is_refused() {
    let moto = moto();
    let prefix = "/plain/livekit";
    moto.put_livekit(prefix, KEY, SECRET, "wss://lk.example.com").await;
    moto.put(&format!("{prefix}/api-secret"), SECRET, ParameterType::String).await;
    let (status, body) = call(&service(&moto.endpoint(), prefix, LONG)).await;
    assert_eq!(status, 503, "{body}");
}

#[tokio::test]
async fn optional_api_url_is_used_for_server_calls_but_never_handed_to_browsers() {
    let moto = moto();
    let prefix = "/api-url/livekit";
    moto.put_livekit(prefix, KEY, SECRET, "wss://edge.example.com").await;
    moto.put(&format!("{prefix}/api-url"), "https://api.internal.example.com", ParameterType::SecureString).await;
    let parameters = SsmParameters::new(moto.ssm_client(), prefix);
    let credentials = parameters.fetch().await.unwrap();
    assert_eq!(credentials.client_url, "wss://edge.example.com");
    assert_eq!(credentials.api_url, "https://api.internal.example.com");
    assert_eq!(credentials.api_secret.expose(), SECRET);
}

#[tokio::test]
async fn ssm_down_answers_503_quickly_and_caches_nothing() {
    // Nothing listens on this port: the connection is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let service = service(&format!("http://127.0.0.1:{port}"), "/down/livekit", LONG);
    let started = std::time::Instant::now();
    let (status, body) = call(&service).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "credentials_unavailable");
    // Refused connections are a down SSM, not a busy one: one retry, not the 15 s budget.
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    let (status, _) = call(&service).await;
    assert_eq!(status, 503, "still down, still 503 (and tried again, not a cached failure)");
}

async fn service_behind(proxy: &FaultProxy, prefix: &str, timeout: Duration) -> TokenService {
    let parameters = SsmParameters::new(production_ssm_client(&proxy.endpoint(), timeout).await, prefix).signing_only();
    TokenService::new(TokenSettings::default(), Arc::new(CredentialStore::new(CredentialSource::Ssm(parameters), LONG)))
}

#[tokio::test]
async fn a_stuck_ssm_answers_503_within_the_timeout_then_recovers_by_itself() {
    let moto = moto();
    let prefix = "/stuck/livekit";
    moto.put_livekit(prefix, KEY, SECRET, "wss://lk.example.com").await;
    let proxy = FaultProxy::start(moto.port).await;
    proxy.set(Fault::Hang);
    let service = service_behind(&proxy, prefix, Duration::from_millis(800)).await;

    let started = std::time::Instant::now();
    service.warm_up().await;
    let (status, body) = call(&service).await;
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("credentials_unavailable")), "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "cold start and request bounded by SSM_TIMEOUT_MS: {:?}",
        started.elapsed()
    );

    proxy.set(Fault::None);
    let (status, body) = call(&service).await;
    assert_eq!(status, 200, "SSM is back, nothing was cached: {body}");
}

#[tokio::test]
async fn ssm_errors_answer_503_and_the_failure_is_not_cached() {
    let moto = moto();
    let prefix = "/erroring/livekit";
    moto.put_livekit(prefix, KEY, SECRET, "wss://lk.example.com").await;
    let proxy = FaultProxy::start(moto.port).await;
    proxy.set(Fault::ServerError);
    let service = service_behind(&proxy, prefix, Duration::from_secs(3)).await;
    let (status, body) = call(&service).await;
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("credentials_unavailable")), "{body}");
    proxy.set(Fault::None);
    let (status, _) = call(&service).await;
    assert_eq!(status, 200);
    assert_eq!(moto.get_parameters_calls(prefix).len(), 1, "the failed calls never reached moto; the good one did");
}

#[tokio::test]
async fn a_throttled_ssm_is_retried_until_the_budget_is_spent_then_503_with_retry_after() {
    let moto = moto();
    let prefix = "/throttled/livekit";
    moto.put_livekit(prefix, KEY, SECRET, "wss://lk.example.com").await;
    // SSM admitting nothing: every call is answered with ThrottlingException.
    let proxy = wire_tests::burst::ThrottlingProxy::start(moto.port, 0.0, 0.0).await;
    let policy = RetryPolicy {
        init_budget: Duration::from_millis(500),
        request_budget: Duration::from_millis(1500),
        ..RetryPolicy::default()
    };
    let parameters = SsmParameters::with_policy(ssm_client_for(&proxy.endpoint()), prefix, policy);
    let service = TokenService::new(
        TokenSettings::default(),
        Arc::new(CredentialStore::new(CredentialSource::Ssm(parameters), LONG)),
    );
    let started = std::time::Instant::now();
    service.warm_up().await;
    let init = started.elapsed();
    assert!(init >= Duration::from_millis(300) && init < Duration::from_millis(900), "init budget: {init:?}");
    let response = service.handle(get_token()).await;
    let elapsed = started.elapsed() - init;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5", "a 503 after the budget says when to come back");
    assert!(
        elapsed >= Duration::from_millis(1000) && elapsed < Duration::from_millis(2000),
        "request budget: {elapsed:?}"
    );
    let calls = proxy.stats.calls.load(std::sync::atomic::Ordering::Relaxed);
    // Backoff 0-100, 0-200, 0-400 ms, … up to 2 s: a handful of calls in 2 s, not hundreds.
    assert!((4..=30).contains(&calls), "{calls} calls in 2 s of throttling");
    assert_eq!(moto.get_parameters_calls(prefix).len(), 0, "nothing got past the throttle");

    // As soon as SSM admits calls again, the next request gets its token.
    let open = wire_tests::burst::ThrottlingProxy::start(moto.port, 100.0, 100.0).await;
    let parameters = SsmParameters::with_policy(ssm_client_for(&open.endpoint()), prefix, policy);
    let service = TokenService::new(
        TokenSettings::default(),
        Arc::new(CredentialStore::new(CredentialSource::Ssm(parameters), LONG)),
    );
    assert_eq!(call(&service).await.0, 200);
}

/// The keys that verify: read in the same one call by the functions that verify, parsed
/// strictly, refused when not encrypted or when they contradict the current key.
#[tokio::test]
async fn api_keys_come_in_the_same_call_and_are_checked() {
    let moto = moto();
    let prefix = "/key-set/livekit";
    moto.put_livekit(prefix, KEY, SECRET, "wss://lk.example.com").await;
    let parameters = SsmParameters::new(moto.ssm_client(), prefix);

    // Absent: normal, no rotation under way.
    let credentials = parameters.fetch().await.unwrap();
    assert!(credentials.verifiers.is_empty());
    let calls = moto.get_parameters_calls(prefix);
    assert_eq!(calls.last().unwrap()["Names"].as_array().unwrap().len(), 6, "api-keys asked for in the same call");

    let old = "old-secret-old-secret-old-secret-00000";
    let api_keys = format!("{prefix}/api-keys");
    moto.put(&api_keys, &format!("APIold: {old}\n{KEY}: {SECRET}\n"), ParameterType::SecureString).await;
    let credentials = parameters.fetch().await.unwrap();
    assert_eq!(credentials.secret_for("APIold").map(|s| s.expose()), Some(old), "decrypted, then parsed");
    assert_eq!(credentials.secret_for(KEY).map(|s| s.expose()), Some(SECRET));
    assert_eq!(credentials.secret_for("APIother"), None);

    let refused = [
        (
            format!("APIold: {old}\n{KEY}: not-the-api-secret-not-the-api-secret"),
            ParameterType::SecureString,
            "different secret",
        ),
        (format!("APIold {old}"), ParameterType::SecureString, "entry 1"),
        (format!("APIold: {old}"), ParameterType::String, "SecureString"),
    ];
    for (value, kind, expected) in refused {
        moto.put(&api_keys, &value, kind.clone()).await;
        let error = parameters.fetch().await.unwrap_err().to_string();
        assert!(error.contains(&api_keys) && error.contains(expected), "{kind:?}: {error}");
        assert!(!error.contains(old) && !error.contains("not-the-api-secret"), "no secret in: {error}");
    }

    // Through a service: a broken key set is a 503, like any other credential problem.
    moto.put(&api_keys, "garbage", ParameterType::SecureString).await;
    let service = webhook_receiver::WebhookService::new(
        webhook_receiver::WebhookSettings::default(),
        Arc::new(CredentialStore::new(CredentialSource::Ssm(parameters.clone()), LONG)),
    );
    let request = Request::post("/webhook")
        .header("content-type", "application/webhook+json")
        .header("authorization", "x.y.z")
        .body(Body::from("{}"))
        .unwrap();
    let response = service.handle(request).await;
    assert_eq!(response.status(), 503);
    moto.delete(&api_keys).await;
}

/// Issue 28, item 7: the current key and secret in one parameter (`current-key`, LiveKit's
/// `key: secret`), so a rotation switches both in one write. It wins over `api-key` and
/// `api-secret` (kept for deployments made before it), must be encrypted at rest and hold
/// exactly one entry; without it the two parameters are read as before.
#[tokio::test]
async fn the_current_key_in_one_parameter_wins_and_is_checked() {
    let moto = moto();
    let prefix = "/current-key/livekit";
    moto.put_livekit(prefix, KEY, SECRET, "wss://lk.example.com").await;
    let parameters = SsmParameters::new(moto.ssm_client(), prefix).signing_only();
    assert_eq!(parameters.fetch().await.unwrap().api_key, KEY, "the two parameters, as before");

    let current = format!("{prefix}/current-key");
    let new_secret = "current-key-secret-current-key-0001";
    moto.put(&current, &format!("APIcurrent: {new_secret}"), ParameterType::SecureString).await;
    let credentials = parameters.fetch().await.unwrap();
    assert_eq!((credentials.api_key.as_str(), credentials.api_secret.expose()), ("APIcurrent", new_secret));

    for (value, kind, problem) in [
        (format!("APIcurrent: {new_secret}"), ParameterType::String, "SecureString"),
        (format!("APIa: {new_secret}, APIb: {new_secret}"), ParameterType::SecureString, "exactly one"),
        ("no-colon-here".to_string(), ParameterType::SecureString, "entry 1"),
    ] {
        moto.put(&current, &value, kind).await;
        let error = parameters.fetch().await.unwrap_err().to_string();
        assert!(error.contains("current-key") && error.contains(problem), "{value:?}: {error}");
        assert!(!error.contains(new_secret), "never the secret: {error}");
    }
    moto.delete(&current).await;
    moto.delete(&format!("{prefix}/api-secret")).await;
    let error = parameters.fetch().await.unwrap_err().to_string();
    assert!(error.contains("api-secret") && error.contains("current-key"), "names both ways to fix it: {error}");
}
