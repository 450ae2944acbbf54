//! The bad-input corpus: every row goes to its route twice, through the entry Lambda uses
//! (an API Gateway HTTP API event read by `shared::lambda::into_lambda_request`, exactly as
//! the deployed binaries read it) and over HTTP to the local server. Each row gets its
//! documented status and stable error code, a JSON body and the security headers; nothing
//! panics. Rows that only one path can carry (raw bytes a HTTP client cannot send, event
//! fields HTTP does not have) say so.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use hmac::{Hmac, Mac};
use lambda_http::http::Request;
use lambda_http::Body;
use livekit_lambda_shared::lambda::into_lambda_request;
use livekit_lambda_shared::web::SECURITY_HEADERS;
use livekit_lambda_shared::EnvSettings;
use local_server::{serve, LocalRoutes};
use serde_json::{json, Value};
use sha2::{Digest, Sha256, Sha384, Sha512};
use tokio::net::TcpListener;
use wire_tests::{raw_http, workspace_root, HttpResponse};

const KEY: &str = "APIcorpus";
/// Distinctive, so finding it in a log means something.
const SECRET: &str = "corpus-secret-Zq8vX2kLmN4pR7tW9yB3dF6hJ1";

#[derive(Clone, Copy, Debug, PartialEq)]
enum Via {
    Both,
    /// Only an API Gateway event can carry it (e.g. a header value with CRLF, a body
    /// flagged base64 that is not, bytes an HTTP client cannot put in a request line).
    EventOnly,
}

#[derive(Clone, Debug)]
struct Row {
    name: String,
    method: &'static str,
    /// Path and query as sent.
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Event only: send the body as `isBase64Encoded` with this exact string.
    base64_body: Option<String>,
    status: u16,
    /// The stable error code; empty for a success.
    code: &'static str,
    via: Via,
}

fn row(name: &str, method: &'static str, target: &str, status: u16, code: &'static str) -> Row {
    Row {
        name: name.into(),
        method,
        target: target.into(),
        headers: Vec::new(),
        body: Vec::new(),
        base64_body: None,
        status,
        code,
        via: Via::Both,
    }
}

impl Row {
    fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
    fn json(self, body: &str) -> Self {
        self.header("content-type", "application/json").body(body.as_bytes())
    }
    fn body(mut self, body: &[u8]) -> Self {
        self.body = body.to_vec();
        self
    }
    fn event_only(mut self) -> Self {
        self.via = Via::EventOnly;
        self
    }
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A JWT with any header algorithm, signed (or not) by hand: how an attacker would make one.
fn jwt(alg: &str, claims: &Value, secret: &str) -> String {
    let signing_input = format!(
        "{}.{}",
        b64url(json!({"alg": alg, "typ": "JWT"}).to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let signature = match alg {
        "HS256" => Hmac::<Sha256>::new_from_slice(secret.as_bytes())
            .unwrap()
            .chain_update(&signing_input)
            .finalize()
            .into_bytes()
            .to_vec(),
        "HS384" => Hmac::<Sha384>::new_from_slice(secret.as_bytes())
            .unwrap()
            .chain_update(&signing_input)
            .finalize()
            .into_bytes()
            .to_vec(),
        "HS512" => Hmac::<Sha512>::new_from_slice(secret.as_bytes())
            .unwrap()
            .chain_update(&signing_input)
            .finalize()
            .into_bytes()
            .to_vec(),
        _ => Vec::new(),
    };
    format!("{signing_input}.{}", b64url(&signature))
}

fn participant_claims(room: &str, exp: i64, nbf: i64, iss: &str) -> Value {
    json!({"iss": iss, "sub": "jane-1", "exp": exp, "nbf": nbf, "video": {"roomJoin": true, "room": room}})
}

fn webhook_claims(body: &[u8], exp: i64, nbf: i64, iss: &str) -> Value {
    let digest = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body));
    json!({"iss": iss, "exp": exp, "nbf": nbf, "sha256": digest})
}

fn corpus() -> Vec<Row> {
    let t = now();
    let huge = "x".repeat(10_000);
    let megabyte = vec![b' '; 1_000_000];
    let deep = format!(r#"{{"room_config":{}{}}}"#, "[".repeat(1000), "]".repeat(1000));
    let event_body = br#"{"event":"room_started","id":"EV_corpus","room":{"name":"demo-room"}}"#.to_vec();
    let webhook = |name: &str, auth: Option<String>, status: u16, code: &'static str| {
        let r = row(name, "POST", "/webhook", status, code)
            .header("content-type", "application/webhook+json")
            .body(&event_body);
        match auth {
            Some(auth) => r.header("authorization", &auth),
            None => r,
        }
    };
    let good_webhook = jwt("HS256", &webhook_claims(&event_body, t + 300, t - 5, KEY), SECRET);
    let subtitles = |name: &str, token: Option<String>, status: u16, code: &'static str| {
        let r = row(name, "POST", "/rooms/demo-room/subtitles", status, code);
        match token {
            Some(token) => r.header("authorization", &format!("Bearer {token}")),
            None => r,
        }
    };
    let valid_participant = jwt("HS256", &participant_claims("demo-room", t + 3600, t - 5, KEY), SECRET);

    vec![
        // --- GET /token: query strings
        row("no parameters", "GET", "/token", 400, "missing_parameter"),
        row("empty room", "GET", "/token?room=&participant=Jane", 400, "invalid_room"),
        row("huge room", "GET", &format!("/token?room={huge}&participant=Jane"), 400, "invalid_room"),
        row(
            "unicode room and name",
            "GET",
            "/token?room=%E4%BC%9A%E8%AD%B0%20J%C3%A9r%C3%B4me&participant=%F0%9F%91%8B",
            200,
            "",
        ),
        row("control character in room", "GET", "/token?room=a%01b&participant=Jane", 400, "invalid_room"),
        row("NUL in room", "GET", "/token?room=a%00b&participant=Jane", 400, "invalid_room"),
        row("newline in participant", "GET", "/token?room=r&participant=Ja%0D%0Ane", 400, "invalid_identity"),
        row("bidi override in participant", "GET", "/token?room=r&participant=%E2%80%AEenaJ", 400, "invalid_identity"),
        row("double encoding stays literal", "GET", "/token?room=%2500&participant=Jane", 200, ""),
        row("broken escape", "GET", "/token?room=%ZZ&participant=Jane", 400, "invalid_encoding"),
        row("truncated escape", "GET", "/token?room=abc%4&participant=Jane", 400, "invalid_encoding"),
        row("sign inside an escape", "GET", "/token?room=%2B0%+A&participant=Jane", 400, "invalid_encoding"),
        row("overlong UTF-8", "GET", "/token?room=%C0%AE&participant=Jane", 400, "invalid_encoding"),
        row("invalid UTF-8 in query", "GET", "/token?room=%FF%FE&participant=Jane", 400, "invalid_encoding"),
        row("duplicate room", "GET", "/token?room=a&room=b&participant=Jane", 400, "duplicate_parameter"),
        row("duplicate participant", "GET", "/token?room=a&participant=x&participant=y", 400, "duplicate_parameter"),
        row("raw space and quotes in the query", "GET", "/token?room=a b\"<c>&participant=Jane", 200, "").event_only(),
        // --- POST /token: bodies
        row("text/plain", "POST", "/token", 415, "unsupported_media_type")
            .header("content-type", "text/plain")
            .body(b"{}"),
        row("no content type with a body", "POST", "/token", 415, "unsupported_media_type").body(b"{}"),
        row("form encoding", "POST", "/token", 415, "unsupported_media_type")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(b"room_name=r"),
        row("invalid UTF-8 body", "POST", "/token", 400, "invalid_json")
            .header("content-type", "application/json")
            .body(b"{\"room_name\":\"\xff\xfe\"}"),
        row("truncated JSON", "POST", "/token", 400, "invalid_json").json(r#"{"room_name":"#),
        row("JSON array", "POST", "/token", 400, "invalid_field").json("[]"),
        row("JSON null", "POST", "/token", 400, "invalid_field").json("null"),
        row("wrong type", "POST", "/token", 400, "invalid_field").json(r#"{"room_name":5}"#),
        row("attributes not a map", "POST", "/token", 400, "invalid_field").json(r#"{"participant_attributes":["a"]}"#),
        row("field given twice", "POST", "/token", 400, "invalid_field").json(r#"{"room_name":"a","roomName":"b"}"#),
        row("extra fields are ignored", "POST", "/token", 201, "")
            .json(r#"{"room_name":"r","surprise":{"deep":[1,2,3]}}"#),
        row("deep nesting", "POST", "/token", 400, "invalid_field").json(&deep),
        row("control character in identity", "POST", "/token", 400, "invalid_identity")
            .json(r#"{"participant_identity":"a\u0007b"}"#),
        row("egress in room_config", "POST", "/token", 403, "field_not_allowed")
            .json(r#"{"room_config":{"egress":{}}}"#),
        row("agent not allowed", "POST", "/token", 403, "agent_not_allowed")
            .json(r#"{"room_config":{"agents":[{"agent_name":"rogue"}]}}"#),
        row("1 MB body", "POST", "/token", 413, "body_too_large")
            .header("content-type", "application/json")
            .body(&megabyte),
        row("base64 body that is not base64", "POST", "/token", 400, "invalid_body")
            .header("content-type", "application/json")
            .event_only(),
        row("CRLF in a header value", "GET", "/token?room=r&participant=Jane", 400, "invalid_request")
            .header("x-injected", "a\r\nSet-Cookie: x=1")
            .event_only(),
        // --- routes and methods
        row("unknown route", "GET", "/nope", 404, "not_found"),
        row("PUT /token", "PUT", "/token", 405, "method_not_allowed"),
        row("GET /webhook", "GET", "/webhook", 405, "method_not_allowed"),
        row("PATCH subtitles", "PATCH", "/rooms/demo-room/subtitles", 405, "method_not_allowed"),
        row("subtitles below another path", "POST", "/rooms/demo-room/subtitles/extra", 404, "not_found"),
        // --- POST /webhook: signatures and bodies
        webhook("webhook without Authorization", None, 401, "missing_authorization"),
        webhook(
            "webhook alg none",
            Some(jwt("none", &webhook_claims(&event_body, t + 300, t - 5, KEY), "")),
            401,
            "invalid_signature",
        ),
        webhook(
            "webhook HS512",
            Some(jwt("HS512", &webhook_claims(&event_body, t + 300, t - 5, KEY), SECRET)),
            401,
            "invalid_signature",
        ),
        webhook(
            "webhook HS384",
            Some(jwt("HS384", &webhook_claims(&event_body, t + 300, t - 5, KEY), SECRET)),
            401,
            "invalid_signature",
        ),
        webhook(
            "webhook wrong secret",
            Some(jwt("HS256", &webhook_claims(&event_body, t + 300, t - 5, KEY), "wrong")),
            401,
            "invalid_signature",
        ),
        webhook(
            "webhook wrong issuer",
            Some(jwt("HS256", &webhook_claims(&event_body, t + 300, t - 5, "APIother"), SECRET)),
            401,
            "invalid_signature",
        ),
        webhook(
            "webhook expired",
            Some(jwt("HS256", &webhook_claims(&event_body, t - 3600, t - 7200, KEY), SECRET)),
            401,
            "invalid_signature",
        ),
        webhook(
            "webhook not yet valid",
            Some(jwt("HS256", &webhook_claims(&event_body, t + 7200, t + 3600, KEY), SECRET)),
            401,
            "invalid_signature",
        ),
        webhook(
            "webhook sha256 of another body",
            Some(jwt("HS256", &webhook_claims(b"{}", t + 300, t - 5, KEY), SECRET)),
            401,
            "invalid_signature",
        ),
        webhook("webhook malformed token", Some("a.b.c".into()), 401, "invalid_signature"),
        webhook("webhook signed and valid", Some(good_webhook.clone()), 200, ""),
        row("webhook wrong content type", "POST", "/webhook", 415, "unsupported_media_type")
            .header("content-type", "text/plain")
            .header("authorization", &good_webhook)
            .body(&event_body),
        row("webhook not UTF-8", "POST", "/webhook", 400, "invalid_body")
            .header("content-type", "application/webhook+json")
            .header("authorization", &good_webhook)
            .body(b"\xff\xfe"),
        row("webhook 1 MB", "POST", "/webhook", 413, "body_too_large")
            .header("content-type", "application/webhook+json")
            .body(&megabyte),
        // --- /rooms/{room}/subtitles: participant tokens
        subtitles("subtitles without a token", None, 401, "missing_token"),
        subtitles(
            "subtitles alg none",
            Some(jwt("none", &participant_claims("demo-room", t + 3600, t - 5, KEY), "")),
            401,
            "invalid_token",
        ),
        subtitles(
            "subtitles HS512",
            Some(jwt("HS512", &participant_claims("demo-room", t + 3600, t - 5, KEY), SECRET)),
            401,
            "invalid_token",
        ),
        subtitles(
            "subtitles wrong key",
            Some(jwt("HS256", &participant_claims("demo-room", t + 3600, t - 5, KEY), "wrong")),
            401,
            "invalid_token",
        ),
        subtitles(
            "subtitles wrong issuer",
            Some(jwt("HS256", &participant_claims("demo-room", t + 3600, t - 5, "APIother"), SECRET)),
            401,
            "invalid_token",
        ),
        subtitles(
            "subtitles expired",
            Some(jwt("HS256", &participant_claims("demo-room", t - 3600, t - 7200, KEY), SECRET)),
            401,
            "invalid_token",
        ),
        subtitles(
            "subtitles not yet valid",
            Some(jwt("HS256", &participant_claims("demo-room", t + 7200, t + 3600, KEY), SECRET)),
            401,
            "invalid_token",
        ),
        subtitles(
            "subtitles token for another room",
            Some(jwt("HS256", &participant_claims("elsewhere", t + 3600, t - 5, KEY), SECRET)),
            403,
            "token_for_another_room",
        ),
        subtitles("subtitles malformed token", Some("not.a.jwt".into()), 401, "invalid_token"),
        subtitles("subtitles text/plain body", Some(valid_participant.clone()), 415, "unsupported_media_type")
            .header("content-type", "text/plain")
            .body(b"en"),
        subtitles("subtitles unknown language", Some(valid_participant.clone()), 400, "language_not_allowed")
            .json(r#"{"language":"xx"}"#),
        subtitles("subtitles 1 MB", None, 413, "body_too_large")
            .header("content-type", "application/json")
            .body(&megabyte),
        row("subtitles control character in room", "POST", "/rooms/a%01b/subtitles", 400, "invalid_room"),
    ]
}

fn env() -> EnvSettings {
    EnvSettings::from_pairs([
        ("LIVEKIT_API_KEY", KEY),
        ("LIVEKIT_API_SECRET", SECRET),
        ("LIVEKIT_URL", "ws://localhost:7880"),
        // Nothing listens here: no row may need LiveKit's API.
        ("LIVEKIT_API_URL", "http://127.0.0.1:9"),
        ("RECORDING_LIMIT_NOTICE", "false"),
        ("SUBTITLE_AGENT_NAME", "transcriber"),
        ("SUBTITLE_LANGUAGES", "en"),
        ("ALLOWED_ORIGINS", "https://app.example.com"),
    ])
}

/// The row as the API Gateway event Lambda would receive.
fn as_event(row: &Row) -> Value {
    let mut event: Value =
        serde_json::from_str(&std::fs::read_to_string(workspace_root().join("events/token-get.json")).unwrap())
            .unwrap();
    let (path, query) = row.target.split_once('?').unwrap_or((row.target.as_str(), ""));
    event["rawPath"] = json!(path);
    event["rawQueryString"] = json!(query);
    event["requestContext"]["http"]["method"] = json!(row.method);
    event["requestContext"]["http"]["path"] = json!(path);
    event.as_object_mut().unwrap().remove("queryStringParameters");
    let headers = event["headers"].as_object_mut().unwrap();
    for (name, value) in &row.headers {
        headers.insert(name.clone(), json!(value));
    }
    match (&row.base64_body, std::str::from_utf8(&row.body)) {
        _ if row.name == "base64 body that is not base64" => {
            event["body"] = json!("{{{ definitely not base64 }}}");
            event["isBase64Encoded"] = json!(true);
        }
        (Some(encoded), _) => {
            event["body"] = json!(encoded);
            event["isBase64Encoded"] = json!(true);
        }
        (None, Ok(text)) if !row.body.is_empty() => {
            event["body"] = json!(text);
            event["isBase64Encoded"] = json!(false);
        }
        (None, Err(_)) => {
            // API Gateway base64-encodes bodies that are not text.
            event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(&row.body));
            event["isBase64Encoded"] = json!(true);
        }
        _ => {}
    }
    event
}

/// What a response must look like for `row`.
fn check(row: &Row, via: &str, status: u16, headers: &[(String, String)], body: &[u8]) {
    let header = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
    assert_eq!(status, row.status, "{via} `{}`: {}", row.name, String::from_utf8_lossy(body));
    for (name, value) in SECURITY_HEADERS {
        assert_eq!(header(name), Some(value), "{via} `{}`: {name}", row.name);
    }
    let json: Value = serde_json::from_slice(body)
        .unwrap_or_else(|_| panic!("{via} `{}`: not JSON: {}", row.name, String::from_utf8_lossy(body)));
    if row.code.is_empty() {
        assert!(json.get("error").is_none(), "{via} `{}`: {json}", row.name);
    } else {
        assert_eq!(json["error"]["code"], row.code, "{via} `{}`: {json}", row.name);
        assert!(json["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{via} `{}`", row.name);
        let text = String::from_utf8_lossy(body);
        for (name, value) in &row.headers {
            if name == "authorization" {
                assert!(
                    !text.contains(value.trim_start_matches("Bearer ")),
                    "{via} `{}`: the token was echoed",
                    row.name
                );
            }
        }
    }
}

/// One test, so the log capture sees everything this test does: every route, every
/// error path, both entries, successful tokens and outbound (admin-signed) LiveKit calls.
#[tokio::test]
async fn every_row_through_the_lambda_entry_and_over_http_and_no_secret_in_any_log() {
    let capture = livekit_lambda_shared::telemetry::CapturedLogs::default();
    let writer = capture.clone();
    // Scoped to this test's thread: the runtime is current-thread, so every task this
    // test spawns (the local server, the functions, their SDK calls) logs here, and the
    // other modules of the suite do not.
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
        .json()
        .with_writer(move || writer.clone())
        .finish();
    let _capture = tracing::subscriber::set_default(subscriber);

    let routes = LocalRoutes::from_env(&env()).await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(serve(listener, routes.clone(), local_server::DEFAULT_IDLE_TIMEOUT));

    let mut rows = corpus();
    assert!(rows.len() >= 60, "the corpus shrank");
    // Successes too: tokens issued, and a subtitle request that gets as far as calling
    // LiveKit (unreachable here) with an admin token of its own.
    let t = now();
    let valid = jwt("HS256", &participant_claims("demo-room", t + 3600, t - 5, KEY), SECRET);
    rows.push(row("GET token", "GET", "/token?room=demo-room&participant=Jane", 200, ""));
    rows.push(
        row("POST token", "POST", "/token", 201, "")
            .json(r#"{"room_name":"demo-room","participant_identity":"jane-1"}"#),
    );
    rows.push(
        row("subtitles reaching LiveKit", "POST", "/rooms/demo-room/subtitles", 503, "livekit_unavailable")
            .header("authorization", &format!("Bearer {valid}")),
    );
    let mut issued = Vec::new();
    for row in &rows {
        // 1. As Lambda receives it.
        let (status, headers, body) = match into_lambda_request(as_event(row)) {
            Ok(request) => {
                let request: Request<Body> = request.into();
                let response = routes.dispatch(request).await;
                let headers = response
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
                    .collect::<Vec<_>>();
                (response.status().as_u16(), headers, response.body().as_ref().to_vec())
            }
            Err(refusal) => {
                let headers = refusal["headers"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect();
                (
                    refusal["statusCode"].as_u64().unwrap() as u16,
                    headers,
                    refusal["body"].as_str().unwrap().as_bytes().to_vec(),
                )
            }
        };
        check(row, "event", status, &headers, &body);
        collect_tokens(&body, &mut issued);

        // 2. Over HTTP to the local server.
        if row.via == Via::Both {
            let headers: Vec<(&str, &str)> = row.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let HttpResponse { status, headers, body } =
                raw_http(port, row.method, &row.target, &headers, &row.body).await;
            check(row, "http", status, &headers, &body);
            collect_tokens(&body, &mut issued);
        }
    }

    let logs = capture.text();
    assert!(logs.lines().count() > rows.len(), "the capture saw the request lines ({} lines)", logs.lines().count());
    assert!(logs.contains("livekit_unavailable") && logs.contains("invalid_signature"), "error paths were logged");
    assert!(!logs.contains(SECRET), "the API secret appeared in a log");
    assert!(issued.len() >= 6, "tokens were issued: {}", issued.len());
    for token in &issued {
        assert!(!logs.contains(token.as_str()), "an issued token appeared in a log");
    }
    for row in &rows {
        for (name, value) in &row.headers {
            if name == "authorization" {
                let token = value.trim_start_matches("Bearer ");
                assert!(!logs.contains(token), "`{}`: an Authorization header appeared in a log", row.name);
            }
        }
    }
    // The admin tokens our functions sign for LiveKit calls are JWTs too: no JWT at all.
    assert!(!logs.contains("eyJ"), "a JWT appeared in a log");
}

fn collect_tokens(body: &[u8], issued: &mut Vec<String>) {
    if let Ok(json) = serde_json::from_slice::<Value>(body) {
        for field in ["token", "participant_token"] {
            if let Some(token) = json[field].as_str() {
                issued.push(token.to_string());
            }
        }
    }
}
