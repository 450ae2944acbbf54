//! Issue 28: the whole Lambda event fuzzed, structure-aware (`wire_tests::hostile_events`),
//! through the same conversion the bootstraps run (`lambda::into_lambda_request`, then
//! `lambda_http`'s own `http::Request` conversion) and into the function the path belongs
//! to. The property: a JSON answer with the security headers, or a clean refusal, never a
//! panic (in a release build, `panic = "abort"`: a dead container). `make fuzz-long` runs
//! it with `PROPTEST_CASES=100000`; the release bootstraps get a bounded sample in
//! `bootstrap`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, LazyLock};

use lambda_http::http::Response;
use lambda_http::Body;
use livekit_lambda_shared::lambda::into_lambda_request;
use livekit_lambda_shared::routes::{self, Function};
use livekit_lambda_shared::web::SECURITY_HEADERS;
use livekit_lambda_shared::{CredentialStore, Credentials};
use proptest::prelude::*;
use proptest::test_runner::{Config, FailurePersistence};
use room_controls::{RoomControlsService, RoomControlsSettings};
use serde_json::Value;
use subtitle_dispatcher::{SubtitleService, SubtitleSettings};
use token_generator::{TokenService, TokenSettings};
use webhook_receiver::{WebhookService, WebhookSettings};

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2048);
    Config { cases, failure_persistence: None::<Box<dyn FailurePersistence>>, ..Config::default() }
}

static RUNTIME: LazyLock<tokio::runtime::Runtime> =
    LazyLock::new(|| tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime"));

fn credentials() -> Arc<CredentialStore> {
    Arc::new(CredentialStore::fixed(Credentials::development()))
}

static TOKENS: LazyLock<TokenService> = LazyLock::new(|| TokenService::new(TokenSettings::default(), credentials()));
static WEBHOOKS: LazyLock<WebhookService> =
    LazyLock::new(|| WebhookService::new(WebhookSettings::default(), credentials()));
static SUBTITLES: LazyLock<SubtitleService> = LazyLock::new(|| {
    let settings = SubtitleSettings {
        agent_name: Some("transcriber".into()),
        // LiveKit's API is a closed port: a call fails at once, as LiveKit down would.
        api_timeout: std::time::Duration::from_millis(200),
        ..SubtitleSettings::default()
    };
    let credentials = Credentials { api_url: "http://127.0.0.1:9".into(), ..Credentials::development() };
    SubtitleService::new(settings, Arc::new(CredentialStore::fixed(credentials)))
});

static ROOM_CONTROLS: LazyLock<RoomControlsService> = LazyLock::new(|| {
    let mut settings =
        RoomControlsSettings { api_timeout: std::time::Duration::from_millis(200), ..RoomControlsSettings::default() };
    settings.auth.enabled = true;
    settings.lobby.enabled = true;
    settings.moderation.enabled = true;
    let credentials = Credentials {
        api_url: "http://127.0.0.1:9".into(),
        room_link_keys: livekit_lambda_shared::KeySet::from_pairs([("k1", "a-room-link-secret-of-32-characters!")]),
        ..Credentials::development()
    };
    RoomControlsService::new(settings, Arc::new(CredentialStore::fixed(credentials)))
});

/// What a refusal of the entry point must look like: API Gateway's response shape, a 4xx,
/// the JSON error body and every security header.
fn check_refusal(refusal: &Value) -> Result<(), TestCaseError> {
    let status = refusal["statusCode"].as_u64().unwrap_or_default();
    prop_assert!((400..500).contains(&status), "refusal status {status}: {refusal}");
    for (name, value) in SECURITY_HEADERS {
        prop_assert_eq!(refusal["headers"][name].as_str(), Some(value), "refusal lacks {}: {}", name, refusal);
    }
    let body: Value = serde_json::from_str(refusal["body"].as_str().unwrap_or_default()).unwrap_or(Value::Null);
    prop_assert!(body["error"]["code"].is_string(), "refusal body {refusal}");
    Ok(())
}

/// What every answer of a function must look like.
fn check_answer(response: &Response<Body>) -> Result<(), TestCaseError> {
    for (name, value) in SECURITY_HEADERS {
        prop_assert_eq!(response.headers().get(name).and_then(|v| v.to_str().ok()), Some(value), "lacks {}", name);
    }
    let body = response.body().as_ref();
    if !body.is_empty() {
        prop_assert_eq!(response.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("application/json"));
        prop_assert!(serde_json::from_slice::<Value>(body).is_ok(), "a JSON body: {}", String::from_utf8_lossy(body));
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_event_is_answered_with_json_or_refused_cleanly_and_never_panics(event in wire_tests::hostile_events::api_gateway_event()) {
        let converted = catch_unwind(AssertUnwindSafe(|| into_lambda_request(event.clone()).map(lambda_http::Request::from)));
        let converted = match converted {
            Ok(converted) => converted,
            Err(_) => return Err(TestCaseError::fail(format!("the conversion panicked on {event}"))),
        };
        let request = match converted {
            Ok(request) => request,
            Err(refusal) => return check_refusal(&refusal),
        };
        let function = routes::find(request.uri().path()).map_or(Function::TokenGenerator, |m| m.route.function);
        let answered = catch_unwind(AssertUnwindSafe(|| {
            RUNTIME.block_on(async {
                match function {
                    Function::TokenGenerator => TOKENS.handle(request).await,
                    Function::WebhookReceiver => WEBHOOKS.handle(request).await,
                    Function::SubtitleDispatcher => SUBTITLES.handle(request).await,
                    Function::RoomControls => ROOM_CONTROLS.handle(request).await,
                }
            })
        }));
        match answered {
            Ok(response) => check_answer(&response)?,
            Err(_) => return Err(TestCaseError::fail(format!("{function:?} panicked on {event}"))),
        }
    }
}

/// The shapes issue 28 found, each once, so they stay covered whatever the generator draws.
#[test]
fn the_headers_that_aborted_a_container_are_repaired_or_refused() {
    let base: Value = serde_json::from_str(
        &std::fs::read_to_string(wire_tests::workspace_root().join("events/token-get.json")).unwrap(),
    )
    .unwrap();
    let mut cases = Vec::new();
    for proto in ["https,http", "https, https", "a b", "1"] {
        let mut event = base.clone();
        event["headers"]["x-forwarded-proto"] = Value::String(proto.into());
        cases.push(event);
    }
    for host in ["a b", "["] {
        let mut event = base.clone();
        event["headers"]["host"] = Value::String(host.into());
        cases.push(event.clone());
        event["headers"].as_object_mut().unwrap().remove("host");
        event["requestContext"]["domainName"] = Value::String(host.into());
        cases.push(event);
    }
    for event in cases {
        let converted =
            catch_unwind(AssertUnwindSafe(|| into_lambda_request(event.clone()).map(lambda_http::Request::from)));
        let request = converted.unwrap_or_else(|_| panic!("panicked on {event}")).expect("repaired, not refused");
        let response = RUNTIME.block_on(TOKENS.handle(request));
        assert_eq!(response.status(), 200, "{event}");
    }
}

/// The generator is not vacuous: a fixed sample of its events reaches every function, and
/// some of them get a token, while others are refused at the entry point.
#[test]
fn the_generated_events_reach_every_function_and_some_get_tokens() {
    let events = wire_tests::hostile_events::sample(600);
    let (mut refused, mut reached, mut tokens) = (0, std::collections::BTreeMap::new(), 0);
    for event in events {
        let Ok(request) = into_lambda_request(event).map(lambda_http::Request::from) else {
            refused += 1;
            continue;
        };
        let function = routes::find(request.uri().path()).map_or(Function::TokenGenerator, |m| m.route.function);
        *reached.entry(format!("{function:?}")).or_insert(0) += 1;
        if function == Function::TokenGenerator {
            let response = RUNTIME.block_on(TOKENS.handle(request));
            let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null);
            tokens += usize::from(body["token"].is_string() || body["participant_token"].is_string());
        }
    }
    assert!(refused > 30, "some events are refused at the entry point: {refused}");
    assert_eq!(reached.len(), 3, "every function is reached: {reached:?}");
    assert!(reached.values().sum::<usize>() > 150, "a quarter of the events reach a function: {reached:?}");
    assert!(tokens > 5, "some events get a token: {tokens}");
}
