//! Issue 28, hardening round two: each finding of the attack session with the test that
//! failed before its fix, and the decisions the session left open, each held by a test
//! (docs/security.md names them). The crash of item 1 and the event fuzzing are in
//! `event_fuzz` and `bootstrap`; the local server's in `local_server`; key rotation's in
//! `rotation`.

use std::sync::Arc;
use std::time::Duration;

use lambda_http::http::Request;
use lambda_http::Body;
use livekit_lambda_shared::{CredentialStore, Credentials, Secret};
use serde_json::{json, Value};
use subtitle_dispatcher::{SubtitleService, SubtitleSettings};
use token_generator::{TokenService, TokenSettings};
use wire_tests::livekit_server::TwirpTestServer;

const KEY: &str = "APIhardening";
const SECRET: &str = "hardening-secret-hardening-secret-0028";

fn credentials(api_url: Option<&str>) -> Arc<CredentialStore> {
    Arc::new(CredentialStore::fixed(
        Credentials::new(KEY, Secret::new(SECRET), "wss://lk.example.com", api_url).unwrap(),
    ))
}

fn open_tokens(settings: TokenSettings) -> TokenService {
    TokenService::new(settings, credentials(None))
}

async fn post(service: &TokenService, body: Value) -> (u16, Value) {
    let request =
        Request::post("/token").header("content-type", "application/json").body(Body::from(body.to_string())).unwrap();
    let response = service.handle(request).await;
    (response.status().as_u16(), serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null))
}

async fn get(service: &TokenService, uri: &str) -> (u16, Value) {
    let response = service.handle(Request::get(uri).body(Body::Empty).unwrap()).await;
    (response.status().as_u16(), serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null))
}

fn claims(token: &str) -> livekit_api::access_token::Claims {
    livekit_api::access_token::TokenVerifier::with_api_key(KEY, SECRET).verify(token).expect("a token we issued")
}

/// Item 2: in open mode an anonymous caller set `auth.user_id` (and the rest), and they
/// were signed into the token. Now nobody sets `auth.*`, nor LiveKit's `lk.*` or LiveKit
/// SIP's `sip.*` (a decision: a browser passing for an agent's state or a phone caller).
#[tokio::test]
async fn no_caller_sets_the_servers_or_livekits_attributes() {
    let tokens = open_tokens(TokenSettings::default());
    for key in ["auth.user_id", "auth.owner", "auth.invited_by", "auth.link_id", "lk.agent.state", "sip.phoneNumber"] {
        let (status, body) = post(&tokens, json!({"room_name": "r", "participant_attributes": {key: "forged"}})).await;
        assert_eq!((status, body["error"]["code"].as_str()), (403, Some("field_not_allowed")), "{key}: {body}");
    }
    let (status, body) = post(&tokens, json!({"room_name": "r", "participant_attributes": {"hand": "up"}})).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(claims(body["participant_token"].as_str().unwrap()).attributes["hand"], "up");
}

/// A decision: a caller who names the participant (anonymous, or an application with the
/// mint scope) may not name one in the server's namespaces: `user:<sub>` is a signed-in
/// user's identity, `guest:` a room link's guest; naming them would impersonate.
#[tokio::test]
async fn nobody_names_a_participant_in_the_servers_namespaces() {
    let tokens = open_tokens(TokenSettings::default());
    let (status, body) = post(&tokens, json!({"room_name": "r", "participant_identity": "user:someone"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("identity_not_allowed")), "{body}");
    let (status, body) = get(&tokens, "/token?room=r&participant=guest:abc:def").await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("identity_not_allowed")), "{body}");
    let (status, _) = get(&tokens, "/token?room=r&participant=users").await;
    assert_eq!(status, 200, "only the prefix itself is reserved");
}

/// A decision: `participant_attributes` with a key given twice is refused, as a field given
/// twice is (the generated parser kept the last one silently: a parser differential).
#[tokio::test]
async fn an_attribute_key_given_twice_is_refused() {
    let tokens = open_tokens(TokenSettings::default());
    let body = r#"{"room_name":"r","participant_attributes":{"role":"guest","role":"host"}}"#;
    let request = Request::post("/token").header("content-type", "application/json").body(Body::from(body)).unwrap();
    let response = tokens.handle(request).await;
    let reply: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    assert_eq!((response.status().as_u16(), reply["error"]["code"].as_str()), (400, Some("invalid_field")), "{reply}");
}

/// A decision, documented in docs/security.md: in open mode (no authentication) anyone who
/// can reach `/token` chooses the identity, so a caller may take another participant's
/// exact identity and LiveKit replaces the one already in the room. That is what the open
/// mode is (anyone may also mint any token); `APPEND_IDENTITY_SUFFIX` makes the simple
/// form's identities unique, and `AUTH_MODE=jwt` ties every user to `user:<sub>`.
#[tokio::test]
async fn in_open_mode_the_standard_form_gets_the_identity_it_asks_for() {
    let tokens = open_tokens(TokenSettings::default());
    let (_, body) = post(&tokens, json!({"room_name": "r", "participant_identity": "alice"})).await;
    assert_eq!(claims(body["participant_token"].as_str().unwrap()).sub, "alice");
    let suffixed = open_tokens(TokenSettings { append_identity_suffix: true, ..TokenSettings::default() });
    let (_, body) = get(&suffixed, "/token?room=r&participant=alice").await;
    let identity = claims(body["token"].as_str().unwrap()).sub;
    assert!(identity.starts_with("alice-") && identity != "alice", "{identity}");
    let (_, body) = post(&suffixed, json!({"room_name": "r", "participant_identity": "alice"})).await;
    assert_eq!(claims(body["participant_token"].as_str().unwrap()).sub, "alice", "LiveKit's endpoint: as asked");
}

/// Item 3: with `ALLOWED_AGENT_NAMES` set, `room_config.agents` could repeat an allowed
/// agent 400 times (LiveKit starts a job per entry), with a forged `requested_by`.
#[tokio::test]
async fn a_token_dispatches_each_allowed_agent_once_and_names_no_requester() {
    let tokens = open_tokens(TokenSettings { allowed_agents: vec!["transcriber".into()], ..TokenSettings::default() });
    let many: Vec<Value> = (0..400).map(|_| json!({"agent_name": "transcriber"})).collect();
    let (status, body) = post(&tokens, json!({"room_name": "r", "room_config": {"agents": many}})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_field")), "{body}");
    let forged = json!({"agent_name": "transcriber", "metadata": json!({"requested_by": "user:ceo"}).to_string()});
    let (status, body) = post(&tokens, json!({"room_name": "r", "room_config": {"agents": [forged]}})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("field_not_allowed")), "{body}");
    let once = json!({"agent_name": "transcriber", "metadata": json!({"language": "en"}).to_string()});
    let (status, body) = post(&tokens, json!({"room_name": "r", "room_config": {"agents": [once]}})).await;
    assert_eq!(status, 201, "{body}");
}

/// Item 4: a `+` in a `{room}` path segment was read as a space (path segments are not
/// form-encoded): a valid token for room `a+b` was refused at `/rooms/a+b/subtitles`.
#[tokio::test]
async fn a_plus_in_a_room_path_is_a_plus() {
    let livekit = TwirpTestServer::start(KEY, SECRET).await;
    livekit.add_room("a+b", &["alice"]).await;
    let settings = SubtitleSettings {
        agent_name: Some("transcriber".into()),
        api_timeout: Duration::from_secs(2),
        ..SubtitleSettings::default()
    };
    let service = SubtitleService::new(settings, credentials(Some(&livekit.url())));
    let tokens = open_tokens(TokenSettings::default());
    let (_, body) = get(&tokens, "/token?room=a%2Bb&participant=alice").await;
    let token = body["token"].as_str().unwrap();
    let request = Request::post("/rooms/a+b/subtitles")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::Empty)
        .unwrap();
    let response = service.handle(request).await;
    let reply: Value = serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null);
    assert_eq!(response.status(), 201, "{reply}");
    assert_eq!(livekit.calls_to("CreateDispatch").await[0].request["room"], "a+b");
}

/// Item 5: names made only of invisible characters passed the non-blank rule.
#[tokio::test]
async fn names_made_only_of_invisible_characters_are_empty() {
    let tokens = open_tokens(TokenSettings::default());
    for (query, code) in [
        ("room=%E2%80%8B&participant=Jane", "invalid_room"),  // U+200B
        ("room=r&participant=%E2%81%A0", "invalid_identity"), // U+2060
        ("room=%EF%BB%BF%E2%80%8B&participant=Jane", "invalid_room"), // U+FEFF U+200B
    ] {
        let (status, body) = get(&tokens, &format!("/token?{query}")).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some(code)), "{query}: {body}");
    }
    let (status, body) = post(&tokens, json!({"room_name": "r", "participant_name": "\u{200B}\u{FEFF}"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_name")), "{body}");
}
