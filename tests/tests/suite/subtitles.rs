//! The subtitle dispatcher: proof of access is a LiveKit token for exactly that room;
//! LiveKit's AgentDispatchService is the Twirp test server (no LiveKit server binary can
//! be installed here), which checks our calls' grants like LiveKit does.

use std::sync::Arc;
use std::time::Duration;

use lambda_http::http::Request;
use lambda_http::Body;
use livekit_lambda_shared::state::{now_secs, SharedStore};
use livekit_lambda_shared::{CredentialStore, Credentials, Secret};
use serde_json::{json, Value};
use subtitle_dispatcher::{SubtitleService, SubtitleSettings};
use token_generator::{TokenService, TokenSettings};
use wire_tests::fleet::{create_table, dynamo_store};
use wire_tests::livekit_server::TwirpTestServer;
use wire_tests::{node, python_sdk_token, Fault, FaultProxy, MotoServer};

const KEY: &str = "APIsubtitles";
const SECRET: &str = "subtitle-secret-subtitle-secret-subtitle";

struct Setup {
    livekit: TwirpTestServer,
    service: SubtitleService,
    tokens: TokenService,
}

fn settings() -> SubtitleSettings {
    SubtitleSettings {
        agent_name: Some("transcriber".into()),
        languages: vec!["en".into(), "de".into()],
        api_timeout: Duration::from_secs(2),
        ..SubtitleSettings::default()
    }
}

/// The limit counts per clock minute: a test that fills a window starts well inside one.
async fn clear_of_a_minute_boundary() {
    let into_minute = now_secs() % 60;
    if into_minute >= 50 {
        tokio::time::sleep(Duration::from_secs(61 - into_minute)).await;
    }
}

async fn setup_with(settings: SubtitleSettings) -> Setup {
    let livekit = TwirpTestServer::start(KEY, SECRET).await;
    livekit.add_room("lecture", &["alice", "bob"]).await;
    livekit.add_room("other-room", &["alice"]).await;
    let credentials = Arc::new(CredentialStore::fixed(
        Credentials::new(KEY, Secret::new(SECRET), "wss://lk.example.com", Some(&livekit.url())).unwrap(),
    ));
    let service = SubtitleService::new(settings, credentials.clone());
    let tokens = TokenService::new(TokenSettings::default(), credentials);
    Setup { livekit, service, tokens }
}

/// A participant token from our own token generator.
async fn token_for(tokens: &TokenService, room: &str, participant: &str) -> String {
    let response = tokens
        .handle(Request::get(format!("/token?room={room}&participant={participant}")).body(Body::Empty).unwrap())
        .await;
    let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    body["token"].as_str().unwrap().to_string()
}

/// A token from LiveKit's official Node SDK.
fn sdk_token(api_key: &str, api_secret: &str, room: &str, identity: &str, extra: Value) -> String {
    let mut input = json!({"apiKey": api_key, "apiSecret": api_secret, "identity": identity, "room": room});
    input.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    node("mint-token.mjs", &input)["token"].as_str().unwrap().to_string()
}

fn request(method: &str, room: &str, token: Option<&str>, body: Option<&str>) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(format!("/rooms/{room}/subtitles"));
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    match body {
        Some(body) => builder.header("content-type", "application/json").body(Body::from(body.to_string())).unwrap(),
        None => builder.body(Body::Empty).unwrap(),
    }
}

async fn send(service: &SubtitleService, request: Request<Body>) -> (u16, Value) {
    let response = service.handle(request).await;
    let status = response.status().as_u16();
    (status, serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_participant_starts_subtitles_once_and_stops_them() {
    let Setup { livekit, service, tokens } = setup_with(settings()).await;
    let alice = token_for(&tokens, "lecture", "alice").await;

    let (status, body) = send(&service, request("POST", "lecture", Some(&alice), Some(r#"{"language":"en"}"#))).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["created"], true);
    let creates = livekit.calls_to("CreateDispatch").await;
    assert_eq!(creates.len(), 1);
    assert_eq!(creates[0].status, 200, "LiveKit accepted our grants");
    assert_eq!(creates[0].request["agentName"], "transcriber");
    assert_eq!(creates[0].request["room"], "lecture");
    let metadata: Value = serde_json::from_str(creates[0].request["metadata"].as_str().unwrap()).unwrap();
    assert_eq!(metadata, json!({"requested_by": "alice", "language": "en"}));
    assert!(!creates[0].request.to_string().contains(&alice), "the participant's token is never forwarded");
    assert_eq!(body["dispatch_id"], livekit.agent_dispatches().await[0].id.as_str());

    // Bob asks too: the agent is already there.
    let bob = token_for(&tokens, "lecture", "bob").await;
    let (status, again) = send(&service, request("POST", "lecture", Some(&bob), None)).await;
    assert_eq!((status, again["created"].as_bool()), (200, Some(false)), "{again}");
    assert_eq!(again["dispatch_id"], body["dispatch_id"]);
    assert_eq!(livekit.calls_to("CreateDispatch").await.len(), 1, "no second dispatch");

    let (status, _) = send(&service, request("DELETE", "lecture", Some(&alice), None)).await;
    assert_eq!(status, 204);
    assert_eq!(livekit.calls_to("DeleteDispatch").await.len(), 1);
    assert!(livekit.agent_dispatches().await.is_empty());
    let (status, body) = send(&service, request("DELETE", "lecture", Some(&alice), None)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("subtitles_not_running")));
}

#[tokio::test]
async fn tokens_from_the_official_node_and_python_sdks_are_accepted() {
    let Setup { livekit, service, .. } = setup_with(settings()).await;
    let token = sdk_token(KEY, SECRET, "lecture", "bob", json!({}));
    let (status, body) = send(&service, request("POST", "lecture", Some(&token), None)).await;
    assert_eq!(status, 201, "npm livekit-server-sdk token: {body}");
    let create = &livekit.calls_to("CreateDispatch").await[0];
    let metadata: Value = serde_json::from_str(create.request["metadata"].as_str().unwrap()).unwrap();
    assert_eq!(metadata, json!({"requested_by": "bob"}));

    let python = python_sdk_token(KEY, SECRET, "lecture", "alice");
    let (status, body) = send(&service, request("DELETE", "lecture", Some(&python), None)).await;
    assert_eq!(status, 204, "PyPI livekit-api token: {body}");
    // And the room check holds for their tokens too.
    let elsewhere = python_sdk_token(KEY, SECRET, "other-room", "alice");
    let (status, body) = send(&service, request("POST", "lecture", Some(&elsewhere), None)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("token_for_another_room")));
}

#[tokio::test]
async fn no_proof_of_access_means_no_livekit_call_at_all() {
    let Setup { livekit, service, tokens } = setup_with(settings()).await;
    let other_room = token_for(&tokens, "other-room", "alice").await;
    let expired = sdk_token(KEY, SECRET, "lecture", "alice", json!({"ttlSeconds": -3600}));
    let forged = sdk_token(KEY, "forged-forged-forged-forged-forged-forged", "lecture", "alice", json!({}));
    let wrong_issuer = sdk_token("APIsomeoneelse", SECRET, "lecture", "alice", json!({}));
    let no_join = sdk_token(KEY, SECRET, "lecture", "alice", json!({"grants": {"roomJoin": false}}));
    let cases: Vec<(&str, Option<String>, u16, &str)> = vec![
        ("no token", None, 401, "missing_token"),
        ("token for another room", Some(other_room), 403, "token_for_another_room"),
        ("expired", Some(expired), 401, "invalid_token"),
        ("forged", Some(forged), 401, "invalid_token"),
        ("wrong issuer", Some(wrong_issuer), 401, "invalid_token"),
        ("no roomJoin", Some(no_join), 403, "room_join_required"),
        ("not a JWT", Some("garbage".into()), 401, "invalid_token"),
    ];
    for (name, token, status, code) in cases {
        for method in ["POST", "DELETE"] {
            let (got, body) = send(&service, request(method, "lecture", token.as_deref(), None)).await;
            assert_eq!((got, body["error"]["code"].as_str()), (status, Some(code)), "{method} {name}: {body}");
        }
    }
    assert!(livekit.calls().await.is_empty(), "nothing reached LiveKit: {:?}", livekit.calls().await);
}

#[tokio::test]
async fn the_room_must_exist_and_the_caller_must_be_in_it() {
    let Setup { livekit, service, tokens } = setup_with(settings()).await;
    let ghost_room = token_for(&tokens, "closed-room", "alice").await;
    let (status, body) = send(&service, request("POST", "closed-room", Some(&ghost_room), None)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("room_not_found")));

    let carol = token_for(&tokens, "lecture", "carol").await;
    let (status, body) = send(&service, request("POST", "lecture", Some(&carol), None)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("not_in_room")));
    assert!(livekit.calls_to("CreateDispatch").await.is_empty());

    // With presence not required, a valid token for an existing room is enough.
    let Setup { livekit, service, tokens } =
        setup_with(SubtitleSettings { require_presence: false, ..settings() }).await;
    let carol = token_for(&tokens, "lecture", "carol").await;
    assert_eq!(send(&service, request("POST", "lecture", Some(&carol), None)).await.0, 201);
    assert!(livekit.calls_to("GetParticipant").await.is_empty());
}

#[tokio::test]
async fn bad_bodies_languages_and_rate_limits() {
    let Setup { service, tokens, .. } = setup_with(SubtitleSettings { requests_per_minute: 3, ..settings() }).await;
    let alice = token_for(&tokens, "lecture", "alice").await;
    let (status, body) =
        send(&service, request("POST", "lecture", Some(&alice), Some(r#"{"language":"klingon"}"#))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("language_not_allowed")));
    let (status, body) = send(&service, request("POST", "lecture", Some(&alice), Some(r#"{"language":"#))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_body")));
    let (status, _) = send(&service, request("POST", "lecture", Some(&alice), Some(r#"{"lang":"en"}"#))).await;
    assert_eq!(status, 400, "unknown fields are refused: a typo must not silently drop the language");

    clear_of_a_minute_boundary().await;
    for _ in 0..3 {
        assert!(send(&service, request("POST", "lecture", Some(&alice), None)).await.0 < 300);
    }
    let response = service.handle(request("POST", "lecture", Some(&alice), None)).await;
    assert_eq!(response.status(), 429);
    let retry: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    let bob = token_for(&tokens, "lecture", "bob").await;
    assert!(send(&service, request("POST", "lecture", Some(&bob), None)).await.0 < 300, "the limit is per identity");
}

#[tokio::test]
async fn feature_off_answers_404_on_every_route() {
    for settings in
        [SubtitleSettings { agent_name: None, ..settings() }, SubtitleSettings { enabled: false, ..settings() }]
    {
        let Setup { livekit, service, tokens } = setup_with(settings).await;
        let alice = token_for(&tokens, "lecture", "alice").await;
        for method in ["POST", "DELETE", "OPTIONS", "GET"] {
            let (status, body) = send(&service, request(method, "lecture", Some(&alice), None)).await;
            assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")), "{method}");
        }
        assert!(livekit.calls().await.is_empty());
    }
}

#[tokio::test]
async fn livekit_down_answers_a_json_5xx() {
    let Setup { livekit, service, tokens } = setup_with(settings()).await;
    let alice = token_for(&tokens, "lecture", "alice").await;
    livekit.set_unavailable(true).await;
    let (status, body) = send(&service, request("POST", "lecture", Some(&alice), None)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("livekit_unavailable")), "{body}");

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let unreachable =
        Credentials::new(KEY, Secret::new(SECRET), "wss://lk.example.com", Some(&format!("http://127.0.0.1:{port}")))
            .unwrap();
    let service = SubtitleService::new(settings(), Arc::new(CredentialStore::fixed(unreachable)));
    let (status, body) = send(&service, request("POST", "lecture", Some(&alice), None)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("livekit_unavailable")), "{body}");
}

#[tokio::test]
async fn cors_and_methods() {
    let settings = SubtitleSettings {
        cors: livekit_lambda_shared::web::CorsPolicy::Origins(vec!["https://app.example.com".into()]),
        ..settings()
    };
    let Setup { service, .. } = setup_with(settings).await;
    let preflight = Request::builder()
        .method("OPTIONS")
        .uri("/rooms/lecture/subtitles")
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization, content-type")
        .body(Body::Empty)
        .unwrap();
    let response = service.handle(preflight).await;
    assert_eq!(response.status(), 204);
    assert_eq!(response.headers()["access-control-allow-origin"], "https://app.example.com");
    assert_eq!(response.headers()["access-control-allow-headers"], "authorization, content-type");
    let (status, body) = send(&service, request("PUT", "lecture", None, None)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (405, Some("method_not_allowed")));
    let (status, _) = send(&service, request("POST", "bad%01room", None, None)).await;
    assert_eq!(status, 400);
}

/// Two containers sharing one table: the per-identity limit is held across both, and a
/// store that fails answers a retryable 503 with nothing dispatched.
#[tokio::test]
async fn the_limit_holds_across_containers_on_dynamodb() {
    let Setup { livekit, tokens, .. } = setup_with(settings()).await;
    let moto = MotoServer::start_serial();
    create_table(&moto, "subtitle-state").await;
    let proxy = FaultProxy::start(moto.port).await;
    let store: SharedStore =
        Arc::new(dynamo_store(&proxy.endpoint(), "subtitle-state", Duration::from_millis(500)).await);
    let credentials = Arc::new(CredentialStore::fixed(
        Credentials::new(KEY, Secret::new(SECRET), "wss://lk.example.com", Some(&livekit.url())).unwrap(),
    ));
    let limited = SubtitleSettings { requests_per_minute: 3, ..settings() };
    let containers: Vec<SubtitleService> =
        (0..2).map(|_| SubtitleService::with_store(limited.clone(), credentials.clone(), store.clone())).collect();
    let alice = token_for(&tokens, "lecture", "alice").await;

    clear_of_a_minute_boundary().await;
    let mut statuses = Vec::new();
    for i in 0..6 {
        statuses.push(send(&containers[i % 2], request("POST", "lecture", Some(&alice), None)).await.0);
    }
    assert_eq!(statuses.iter().filter(|s| **s < 300).count(), 3, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 3, "{statuses:?}");

    proxy.set(Fault::ServerError);
    let bob = token_for(&tokens, "lecture", "bob").await;
    let response = containers[0].handle(request("POST", "lecture", Some(&bob), None)).await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    assert_eq!(body["error"]["code"], "state_unavailable");
    assert_eq!(livekit.calls_to("CreateDispatch").await.len(), 1, "only alice's first request dispatched");
}
