//! Property tests for everything that parses untrusted input: the query string, the
//! standard token endpoint's JSON body and webhook deliveries. Two kinds of property:
//! nothing panics on arbitrary input (the release binary aborts on a panic), and every
//! accepted request carries exactly the room and identity that were asked for, all the
//! way into a signed token.
//!
//! `cargo test` runs a bounded number of cases per property; `PROPTEST_CASES=20000
//! cargo test -p wire-tests --test properties` (`make fuzz-long`) runs a long one.
//! A failure prints the minimal (shrunk) input; no regression file is written.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock};

use base64::Engine;
use lambda_http::http::{HeaderMap, HeaderValue, Request, StatusCode};
use lambda_http::Body;
use livekit_api::access_token::{AccessToken, Claims, TokenVerifier};
use livekit_lambda_shared::web::parse_query;
use livekit_lambda_shared::ErrorResponse;
use livekit_lambda_shared::{CredentialStore, Credentials};
use proptest::prelude::*;
use proptest::test_runner::{Config, FailurePersistence};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use token_generator::{TokenRequest, TokenService, TokenSettings};
use webhook_receiver::{WebhookService, WebhookSettings, KNOWN_EVENTS};

const API_KEY: &str = "devkey";
const API_SECRET: &str = "secret";
/// Cases per property in a plain `cargo test`; `PROPTEST_CASES` overrides it.
const BOUNDED_CASES: u32 = 1024;

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(BOUNDED_CASES);
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

fn body_json(response: &lambda_http::http::Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null)
}

fn verify(token: &str) -> Claims {
    TokenVerifier::with_api_key(API_KEY, API_SECRET).verify(token).expect("the issued token verifies")
}

// ---------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------

/// A room name / identity / display name the functions must accept: 1..=128 printable
/// characters (no control, format or bidi-override characters), something visible. Mixes the
/// whole of Unicode with the characters that mean something in a query string or JSON.
fn valid_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{1,128}",
        "[a-zA-Z0-9 &=+%#?/;:@!$'()*,~._\\[\\]\"\\\\-]{1,128}",
        "[a-z0-9]{1,8}[ \u{a0}\u{3000}+%&=]{1,4}[\u{e9}\u{1f44b}\u{4e2d}\u{10ffff}]{0,4}",
    ]
    // Not blank: something visible (the name rule's own test covers what is invisible).
    .prop_filter("names are not blank", |s| livekit_lambda_shared::validate::check_name(s, 128).is_ok())
}

/// Strings heavy in the characters a query parser must get right.
fn query_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-z=&%+0-9A-Fa-f]{0,64}",
        "((room|participant|x)(=([^&]|%[0-9A-Fa-f+-]{0,2}){0,8})?&?){0,6}",
    ]
}

/// Any string, including control characters and lone specials.
fn any_text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..max).prop_map(String::from_iter)
}

/// How a client might percent-encode: `+` or `%20` for spaces, upper- or lower-case
/// hex, and whether unreserved characters are escaped too (all are valid encodings).
#[derive(Clone, Copy, Debug)]
struct Encoding {
    space_as_plus: bool,
    lower_hex: bool,
    escape_unreserved: bool,
}

fn encoding() -> impl Strategy<Value = Encoding> {
    (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(space_as_plus, lower_hex, escape_unreserved)| Encoding {
        space_as_plus,
        lower_hex,
        escape_unreserved,
    })
}

fn percent_encode(value: &str, how: Encoding) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for &byte in value.as_bytes() {
        let unreserved = byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~');
        if unreserved && !how.escape_unreserved {
            out.push(byte as char);
        } else if byte == b' ' && how.space_as_plus {
            out.push('+');
        } else if how.lower_hex {
            out.push_str(&format!("%{byte:02x}"));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The top-level fields of `TokenSourceRequest` in both spellings, plus nested names,
/// so that arbitrary JSON reaches the interesting paths often.
const FIELD_NAMES: &[&str] = &[
    "room_name",
    "roomName",
    "participant_identity",
    "participantIdentity",
    "participant_name",
    "participantName",
    "participant_metadata",
    "participantMetadata",
    "participant_attributes",
    "participantAttributes",
    "room_config",
    "roomConfig",
    "agents",
    "agent_name",
    "agentName",
    "metadata",
    "name",
    "egress",
    "max_participants",
    "event",
    "id",
    "room",
    "createdAt",
];

fn json_key() -> impl Strategy<Value = String> {
    prop_oneof![prop::sample::select(FIELD_NAMES).prop_map(String::from), any_text(12)]
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("JSON numbers are finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        any_text(24).prop_map(Value::String),
        valid_name().prop_map(Value::String),
    ]
}

/// Arbitrary JSON, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(json_key(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Arbitrary JSON objects: what a body usually is.
fn json_object() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(json_key(), json_value(), 0..8).prop_map(|m| m.into_iter().collect())
}

/// A content type for the POST body: mostly JSON, sometimes not.
fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        4 => Just(Some("application/json".to_string())),
        1 => Just(Some("Application/JSON; charset=utf-8".to_string())),
        1 => Just(None),
        1 => "[ -~]{0,40}".prop_map(Some),
    ]
}

fn headers_with(content_type: Option<&str>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some(value) = content_type.and_then(|v| HeaderValue::from_str(v).ok()) {
        headers.insert("content-type", value);
    }
    headers
}

fn json_headers() -> HeaderMap {
    headers_with(Some("application/json"))
}

// ---------------------------------------------------------------------------------------
// A reference model of strict query parsing (RFC 3986 percent-encoding, `+` as space,
// every key at most once), written independently of the code under test.
// ---------------------------------------------------------------------------------------

fn model_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let (hi, lo) = (*bytes.get(i + 1)?, *bytes.get(i + 2)?);
                if !hi.is_ascii_hexdigit() || !lo.is_ascii_hexdigit() {
                    return None;
                }
                let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
                out.push(digit(hi)? * 16 + digit(lo)?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// A refused request is the caller's fault (4xx), never the server's.
fn client_error(error: ErrorResponse) -> Result<(), TestCaseError> {
    prop_assert!(error.status.is_client_error(), "{error}");
    Ok(())
}

fn model_parse_query(query: &str) -> Result<HashMap<String, String>, &'static str> {
    let mut pairs = HashMap::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (raw_key, raw_value) = part.split_once('=').unwrap_or((part, ""));
        let key = model_decode(raw_key).ok_or("invalid_encoding")?;
        let value = model_decode(raw_value).ok_or("invalid_encoding")?;
        if pairs.insert(key, value).is_some() {
            return Err("duplicate_parameter");
        }
    }
    Ok(pairs)
}

// ---------------------------------------------------------------------------------------
// (a) Query parsing and GET /token
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    #[test]
    fn query_parsing_never_panics(query in query_like()) {
        let settings = TokenSettings::default();
        let _ = parse_query(Some(&query));
        let _ = TokenRequest::from_query(Some(&query), &settings, true);
        let suffixed = TokenSettings { append_identity_suffix: true, ..TokenSettings::default() };
        let _ = TokenRequest::from_query(Some(&query), &suffixed, true);
    }

    #[test]
    fn get_token_never_panics_and_refuses_with_4xx(query in query_like()) {
        // Only strings `http` accepts as a URI reach a handler at all.
        if let Ok(request) = Request::get(format!("/token?{query}")).body(Body::Empty) {
            let response = RUNTIME.block_on(TOKENS.handle(request));
            let status = response.status();
            prop_assert!(status == StatusCode::OK || status.is_client_error(), "{status} for {query:?}");
        }
    }

    /// Any map of names and values, encoded any valid way, parses back to itself.
    #[test]
    fn encoded_queries_parse_back_to_what_was_encoded(
        pairs in prop::collection::btree_map(any_text(16), any_text(32), 0..6),
        how in encoding(),
    ) {
        let pairs: BTreeMap<String, String> = pairs.into_iter().filter(|(k, _)| !k.is_empty()).collect();
        let query: Vec<String> =
            pairs.iter().map(|(k, v)| format!("{}={}", percent_encode(k, how), percent_encode(v, how))).collect();
        let query = query.join("&");
        let parsed = parse_query(Some(&query)).map_err(|e| TestCaseError::fail(format!("{query:?}: {}", e.code())))?;
        prop_assert_eq!(parsed, pairs.into_iter().collect::<HashMap<_, _>>());
    }

    /// `parse_query` accepts exactly what the strict model accepts, with the same result.
    #[test]
    fn query_parsing_agrees_with_a_strict_model(query in query_like()) {
        let ours = parse_query(Some(&query)).map_err(|e| e.code());
        prop_assert_eq!(ours, model_parse_query(&query), "query {:?}", query);
    }

    #[test]
    fn valid_names_come_back_exactly_from_the_query(
        room in valid_name(),
        participant in valid_name(),
        how in encoding(),
        participant_first in any::<bool>(),
        extra in prop::option::of("[a-z]{1,8}"),
    ) {
        let room_pair = format!("room={}", percent_encode(&room, how));
        let participant_pair = format!("participant={}", percent_encode(&participant, how));
        let mut parts = vec![room_pair, participant_pair];
        if participant_first {
            parts.reverse();
        }
        if let Some(extra) = extra {
            parts.push(format!("lang={extra}&"));
        }
        let query = parts.join("&");
        let request = TokenRequest::from_query(Some(&query), &TokenSettings::default(), true)
            .map_err(|e| TestCaseError::fail(format!("{query:?} refused: {e}")))?;
        prop_assert_eq!(&request.participant.room, &room);
        prop_assert_eq!(&request.participant.identity, &participant);
        prop_assert_eq!(&request.participant.name, &participant);
    }

    #[test]
    fn get_token_signs_exactly_the_requested_room_and_identity(
        room in valid_name(),
        participant in valid_name(),
        how in encoding(),
    ) {
        let (room_q, participant_q) = (percent_encode(&room, how), percent_encode(&participant, how));
        let uri = format!("/token?room={room_q}&participant={participant_q}");
        let request = Request::get(&uri).body(Body::Empty).expect("an encoded query is a valid URI");
        let response = RUNTIME.block_on(TOKENS.handle(request));
        let body = body_json(&response);
        prop_assert_eq!(response.status(), StatusCode::OK, "{} → {}", uri, body);
        prop_assert_eq!(body["room"].as_str(), Some(room.as_str()));
        prop_assert_eq!(body["participant"].as_str(), Some(participant.as_str()));
        let claims = verify(body["token"].as_str().unwrap_or_default());
        prop_assert_eq!(&claims.video.room, &room);
        prop_assert_eq!(&claims.sub, &participant);
        prop_assert_eq!(&claims.name, &participant);
        prop_assert!(claims.video.room_join);
    }
}

// ---------------------------------------------------------------------------------------
// (b) The standard token endpoint body
// ---------------------------------------------------------------------------------------

/// The room or identity a body asked for, in either spelling, when it names one.
fn asked_for<'a>(object: &'a Map<String, Value>, snake: &str, camel: &str) -> Option<&'a str> {
    object.get(snake).or_else(|| object.get(camel)).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn check_accepted(object: &Map<String, Value>, request: &TokenRequest) -> Result<(), TestCaseError> {
    match asked_for(object, "room_name", "roomName") {
        Some(room) => prop_assert_eq!(request.participant.room.as_str(), room),
        None => {
            prop_assert!(request.participant.room.starts_with("room-"), "generated room {:?}", request.participant.room)
        }
    }
    match asked_for(object, "participant_identity", "participantIdentity") {
        Some(identity) => prop_assert_eq!(request.participant.identity.as_str(), identity),
        None => prop_assert!(
            request.participant.identity.starts_with("participant-"),
            "generated {:?}",
            request.participant.identity
        ),
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn standard_body_never_panics_on_arbitrary_bytes(
        body in prop::collection::vec(any::<u8>(), 0..512),
        content_type in content_type(),
    ) {
        let headers = headers_with(content_type.as_deref());
        let result = TokenRequest::from_standard_body(&headers, &body, &TokenSettings::default());
        if let Err(error) = result {
            client_error(error)?;
        }
    }

    #[test]
    fn standard_body_never_panics_on_arbitrary_json(value in json_value()) {
        let body = serde_json::to_vec(&value).expect("a JSON value serialises");
        match TokenRequest::from_standard_body(&json_headers(), &body, &TokenSettings::default()) {
            Ok(request) => {
                let object = value.as_object();
                prop_assert!(object.is_some(), "only an object is a request: {value}");
                check_accepted(object.unwrap_or(&Map::new()), &request)?;
            }
            Err(error) => client_error(error)?,
        }
    }

    /// Arbitrary objects with the real field names: whatever is accepted names the room and
    /// identity that were asked for (or generated ones when none were).
    #[test]
    fn accepted_arbitrary_objects_carry_what_they_asked_for(object in json_object(), nest in 0usize..200) {
        let body = serde_json::to_vec(&object).expect("a JSON object serialises");
        match TokenRequest::from_standard_body(&json_headers(), &body, &TokenSettings::default()) {
            Ok(request) => check_accepted(&object, &request)?,
            Err(error) => client_error(error)?,
        }
        // The same object with a deeply nested value under one of its fields.
        let deep = format!(r#"{{"room_config":{}{}}}"#, "[".repeat(nest), "]".repeat(nest));
        let _ = TokenRequest::from_standard_body(&json_headers(), deep.as_bytes(), &TokenSettings::default());
    }

    #[test]
    fn valid_bodies_sign_exactly_the_requested_room_and_identity(
        room in valid_name(),
        identity in valid_name(),
        name in prop::option::of(valid_name()),
        metadata in prop::option::of(any_text(64)),
        attributes in prop::collection::btree_map(valid_name(), any_text(32), 0..4),
        unknown in prop::collection::btree_map("[a-z]{12}", json_value(), 0..3),
        camel in any::<bool>(),
    ) {
        let field = |snake: &'static str, camel_name: &'static str| if camel { camel_name } else { snake };
        let mut object = Map::new();
        object.insert(field("room_name", "roomName").into(), json!(room));
        object.insert(field("participant_identity", "participantIdentity").into(), json!(identity));
        if let Some(name) = &name {
            object.insert(field("participant_name", "participantName").into(), json!(name));
        }
        if let Some(metadata) = &metadata {
            object.insert(field("participant_metadata", "participantMetadata").into(), json!(metadata));
        }
        object.insert(field("participant_attributes", "participantAttributes").into(), json!(attributes));
        object.extend(unknown);
        let body = serde_json::to_vec(&object).expect("a JSON object serialises");

        let request = TokenRequest::from_standard_body(&json_headers(), &body, &TokenSettings::default())
            .map_err(|e| TestCaseError::fail(format!("refused: {e}; body {}", String::from_utf8_lossy(&body))))?;
        prop_assert_eq!(&request.participant.room, &room);
        prop_assert_eq!(&request.participant.identity, &identity);
        prop_assert_eq!(&request.participant.name, &name.clone().unwrap_or_default());

        let http = Request::post("/token").header("content-type", "application/json").body(Body::Binary(body));
        let response = RUNTIME.block_on(TOKENS.handle(http.expect("a valid request")));
        let reply = body_json(&response);
        prop_assert_eq!(response.status(), StatusCode::CREATED, "{}", reply);
        prop_assert_eq!(reply["room_name"].as_str(), Some(room.as_str()));
        let claims = verify(reply["participant_token"].as_str().unwrap_or_default());
        prop_assert_eq!(&claims.video.room, &room);
        prop_assert_eq!(&claims.sub, &identity);
        prop_assert_eq!(&claims.name, &name.unwrap_or_default());
        prop_assert_eq!(&claims.metadata, &metadata.unwrap_or_default());
        let expected: HashMap<String, String> = attributes.into_iter().collect();
        prop_assert_eq!(claims.attributes, expected);
    }
}

// ---------------------------------------------------------------------------------------
// (c) Webhook deliveries
// ---------------------------------------------------------------------------------------

/// `Authorization` as LiveKit sends it: a JWT from the API key whose `sha256` claim is
/// base64(SHA-256(body)).
fn sign(body: &[u8]) -> String {
    let digest = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body));
    AccessToken::with_api_key(API_KEY, API_SECRET).with_sha256(&digest).to_jwt().expect("sign a webhook")
}

fn delivery(body: Vec<u8>, authorization: Option<&[u8]>, content_type: Option<&str>) -> Option<Request<Body>> {
    let mut request = Request::post("/webhook");
    if let Some(value) = content_type {
        request = request.header("content-type", value);
    }
    if let Some(value) = authorization {
        // Bytes `http` refuses as a header value never reach a handler.
        request = request.header("authorization", HeaderValue::from_bytes(value).ok()?);
    }
    request.body(Body::Binary(body)).ok()
}

fn webhook_content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        4 => Just(Some("application/webhook+json".to_string())),
        1 => Just(Some("application/json".to_string())),
        1 => Just(None),
        1 => "[ -~]{0,40}".prop_map(Some),
    ]
}

/// Authorization values: random bytes, random text, a bearer prefix, and tokens that
/// are well formed but signed for another body or with another secret.
fn authorization() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        Just(None),
        prop::collection::vec(any::<u8>(), 0..300).prop_map(Some),
        "(Bearer )?[A-Za-z0-9_.=-]{0,300}".prop_map(|s| Some(s.into_bytes())),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(|other| Some(sign(&other).into_bytes())),
        any::<bool>().prop_map(|bearer| {
            let digest = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(b"{}"));
            let jwt = AccessToken::with_api_key(API_KEY, "another-secret").with_sha256(&digest).to_jwt().ok()?;
            Some(if bearer { format!("Bearer {jwt}") } else { jwt }.into_bytes())
        }),
    ]
}

fn unknown_event() -> impl Strategy<Value = String> {
    prop_oneof![any_text(40), "[a-z_]{0,30}", "(room|participant|track|egress)_[a-z]{1,12}"]
        .prop_filter("not a known event", |e| !KNOWN_EVENTS.contains(&e.as_str()))
}

proptest! {
    #![proptest_config(config())]

    /// Nobody without the secret gets past the door, whatever they send.
    #[test]
    fn webhook_refuses_arbitrary_deliveries_with_4xx(
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..1024),
            json_value().prop_map(|v| serde_json::to_vec(&v).unwrap_or_default()),
        ],
        authorization in authorization(),
        content_type in webhook_content_type(),
    ) {
        if let Some(request) = delivery(body, authorization.as_deref(), content_type.as_deref()) {
            let response = RUNTIME.block_on(WEBHOOKS.handle(request));
            prop_assert!(response.status().is_client_error(), "{} {}", response.status(), body_json(&response));
        }
    }

    /// A correctly signed body that is not a LiveKit event is a 400; one that parses as an
    /// event is acknowledged. Never a 5xx, never a signature failure.
    #[test]
    fn webhook_handles_any_correctly_signed_body(
        body in prop_oneof![
            any_text(256).prop_map(String::into_bytes),
            json_value().prop_map(|v| serde_json::to_vec(&v).unwrap_or_default()),
            json_object().prop_map(|v| serde_json::to_vec(&v).unwrap_or_default()),
        ],
    ) {
        let authorization = sign(&body);
        let request = delivery(body, Some(authorization.as_bytes()), Some("application/webhook+json"));
        let response = RUNTIME.block_on(WEBHOOKS.handle(request.expect("a valid request")));
        let status = response.status();
        let reply = body_json(&response);
        prop_assert!(status == StatusCode::OK || status == StatusCode::BAD_REQUEST, "{} {}", status, reply);
    }

    #[test]
    fn signed_unknown_events_are_acknowledged_as_ignored(
        event in unknown_event(),
        id in any_text(64),
        room in any_text(64),
        bearer in any::<bool>(),
    ) {
        let body = serde_json::to_vec(&json!({
            "event": event,
            "id": id,
            "createdAt": "1795000000",
            "room": {"name": room, "sid": "RM_property"},
        }))
        .expect("a JSON object serialises");
        let jwt = sign(&body);
        let authorization = if bearer { format!("Bearer {jwt}") } else { jwt };
        let request = delivery(body, Some(authorization.as_bytes()), Some("application/webhook+json"));
        let response = RUNTIME.block_on(WEBHOOKS.handle(request.expect("a valid request")));
        let reply = body_json(&response);
        prop_assert_eq!(response.status(), StatusCode::OK, "{}", reply);
        prop_assert_eq!(reply["status"].as_str(), Some("ignored"));
        prop_assert_eq!(reply["event"].as_str(), Some(event.as_str()));
        prop_assert_eq!(reply["id"].as_str(), Some(id.as_str()));
    }

    /// One character added anywhere to a signed body breaks the signature.
    #[test]
    fn a_tampered_signed_body_is_refused(
        id in any_text(32),
        at in any::<prop::sample::Index>(),
        inserted in any::<char>(),
    ) {
        let original = serde_json::to_string(&json!({"event": "room_started", "id": id})).expect("serialises");
        let authorization = sign(original.as_bytes());
        let mut chars: Vec<char> = original.chars().collect();
        chars.insert(at.index(chars.len() + 1), inserted);
        let tampered: String = chars.into_iter().collect();
        let request = delivery(tampered.into_bytes(), Some(authorization.as_bytes()), Some("application/webhook+json"));
        let response = RUNTIME.block_on(WEBHOOKS.handle(request.expect("a valid request")));
        prop_assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{}", body_json(&response));
    }
}
