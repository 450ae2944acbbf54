//! Tokens from both `/token` forms, verified by LiveKit's official Node SDK
//! (`livekit-server-sdk` TokenVerifier): grants, identity, name, attributes and TTL.

use std::sync::Arc;
use std::time::Duration;

use lambda_http::http::Request;
use lambda_http::Body;
use livekit_lambda_shared::token::TokenPolicy;
use livekit_lambda_shared::{CredentialStore, Credentials, Secret};
use serde_json::Value;
use token_generator::{TokenService, TokenSettings};
use wire_tests::verify_with_node_sdk;

const KEY: &str = "APIcrossCheck";
const SECRET: &str = "cross-check-secret-cross-check-secret-42";

fn service(settings: TokenSettings) -> TokenService {
    let credentials = Credentials::new(KEY, Secret::new(SECRET), "https://lk.example.com", None).unwrap();
    TokenService::new(settings, Arc::new(CredentialStore::fixed(credentials)))
}

async fn call(service: &TokenService, request: Request<Body>) -> Value {
    let response = service.handle(request).await;
    assert!(
        response.status().is_success(),
        "{}: {}",
        response.status(),
        String::from_utf8_lossy(response.body().as_ref())
    );
    serde_json::from_slice(response.body().as_ref()).unwrap()
}

fn post(body: &str) -> Request<Body> {
    Request::post("/token").header("content-type", "application/json").body(Body::from(body)).unwrap()
}

#[tokio::test]
async fn node_sdk_verifies_every_token_form_with_exact_claims() {
    let settings = TokenSettings {
        policy: TokenPolicy {
            ttl: Duration::from_secs(900),
            publish_sources: vec!["camera".into(), "microphone".into()],
            ..TokenPolicy::default()
        },
        allowed_agents: vec!["transcriber".into()],
        ..TokenSettings::default()
    };
    let service = service(settings);
    let get =
        call(&service, Request::get("/token?room=sdk-room&participant=Jane%20Doe").body(Body::Empty).unwrap()).await;
    let full = call(
        &service,
        post(r#"{"room_name":"sdk-room","participant_identity":"user-42","participant_name":"Jane","participant_metadata":"{\"plan\":\"pro\"}","participant_attributes":{"role":"host","team":"blue"},"room_config":{"agents":[{"agent_name":"transcriber","metadata":"{\"language\":\"en\"}"}]}}"#),
    )
    .await;
    let empty = call(&service, post("{}")).await;

    let tokens = [
        get["token"].as_str().unwrap(),
        full["participant_token"].as_str().unwrap(),
        empty["participant_token"].as_str().unwrap(),
    ];
    let results = verify_with_node_sdk(KEY, SECRET, &tokens);
    assert_eq!(results.len(), 3);
    for r in &results {
        assert_eq!(r["ok"], true, "official SDK rejected our token: {r}");
        let c = &r["claims"];
        assert_eq!(c["iss"], KEY);
        let ttl = c["exp"].as_i64().unwrap() - c["nbf"].as_i64().unwrap();
        assert!((899..=901).contains(&ttl), "TTL is the configured 900 s, got {ttl}");
        let video = &c["video"];
        assert_eq!(video["roomJoin"], true);
        assert_eq!(
            (video["canPublish"].as_bool(), video["canSubscribe"].as_bool(), video["canPublishData"].as_bool()),
            (Some(true), Some(true), Some(true))
        );
        assert_eq!(video["canPublishSources"], serde_json::json!(["camera", "microphone"]));
        for admin in ["roomAdmin", "roomCreate", "roomList", "roomRecord"] {
            assert!(video.get(admin).is_none_or(|v| v == false), "{admin} must never be granted: {video}");
        }
        assert_eq!(r["header"]["alg"], "HS256");
    }

    let get_claims = &results[0]["claims"];
    assert_eq!(
        (get_claims["sub"].as_str(), get_claims["name"].as_str(), get_claims["video"]["room"].as_str()),
        (Some("Jane Doe"), Some("Jane Doe"), Some("sdk-room"))
    );

    let full_claims = &results[1]["claims"];
    assert_eq!(full_claims["sub"], "user-42");
    assert_eq!(full_claims["name"], "Jane");
    assert_eq!(full_claims["metadata"], r#"{"plan":"pro"}"#);
    assert_eq!(full_claims["attributes"], serde_json::json!({"role": "host", "team": "blue"}));
    assert_eq!(full_claims["roomConfig"]["agents"][0]["agentName"], "transcriber");
    assert_eq!(full_claims["roomConfig"]["agents"][0]["metadata"], r#"{"language":"en"}"#);
    assert_eq!(full["server_url"], "wss://lk.example.com");

    let empty_claims = &results[2]["claims"];
    assert_eq!(empty_claims["video"]["room"], empty["room_name"]);
    assert!(empty_claims["sub"].as_str().unwrap().starts_with("participant-"));
}

#[tokio::test]
async fn node_sdk_rejects_our_token_under_another_secret_or_when_tampered() {
    let service = service(TokenSettings::default());
    let body = call(&service, Request::get("/token?room=r&participant=p").body(Body::Empty).unwrap()).await;
    let token = body["token"].as_str().unwrap();
    let mut parts: Vec<String> = token.split('.').map(String::from).collect();
    parts[1] = parts[1].chars().rev().collect();
    let tampered = parts.join(".");
    let wrong_secret = verify_with_node_sdk(KEY, "some-other-secret-some-other-secret-000", &[token]);
    assert_eq!(wrong_secret[0]["ok"], false);
    let results = verify_with_node_sdk(KEY, SECRET, &[&tampered]);
    assert_eq!(results[0]["ok"], false);
}
