//! Structure-aware Lambda events for fuzzing the entry point (issue 28): API Gateway HTTP API
//! (payload 2.0) events built field by field from the shapes that have broken, or could
//! break, `lambda_http`'s conversion into an `http::Request`: header names and values of
//! every shape (duplicates joined with commas as payload 2.0 joins them, `host`,
//! `x-forwarded-*`), `cookies`, `rawPath`, `rawQueryString`, `isBase64Encoded` with `body`,
//! the stage and domain name; then the REST API (v1) and ALB shapes, and any field of any
//! event replaced by a value of the wrong JSON type or left out. The same generator feeds
//! the in-process property (`event_fuzz`) and the release bootstraps (`bootstrap`).

use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// Strings a header value may hold, from API Gateway's own to the hostile.
fn header_value() -> BoxedStrategy<String> {
    prop_oneof![
        8 => prop::sample::select(vec![
            "https", "http", "https,http", "https, https", "http,https,http", "a b", "1", "", " ", "HTTPS", "ws",
            "https:", "h t t p", "[", "]", "\u{0}", "\t", "é", "https\u{7f}", "application/json",
            "application/json; charset=utf-8", "text/plain", "Bearer x.y.z", "bearer", "Basic dXNlcjpwYXNz",
            "http://localhost:3000", "null", "*", "gzip, deflate",
        ]).prop_map(String::from),
        4 => "[ -~]{0,40}",
        1 => "\\PC{0,24}",
        1 => (1usize..20_000).prop_map(|n| "x".repeat(n)),
    ]
    .boxed()
}

/// Hosts: the real one, and every shape a URL parser refuses.
fn host() -> BoxedStrategy<String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com", "a b", "[", "]", "[::1]", "[::1", "x:99999", "x:1", "x:",
            ":80", "ünïcode.example", "", " ", "1", "a/b", "a@b", "a#b", "a?b", "..", "%41", "a%20b", "localhost",
            "127.0.0.1", "xn--", "a\u{0}b", "-", "a..b", "*.example",
        ]).prop_map(String::from),
        1 => "[ -~]{0,30}",
    ]
    .boxed()
}

/// Header names, real and unusual, in any case.
fn header_name() -> BoxedStrategy<String> {
    prop_oneof![
        12 => prop::sample::select(vec![
            "host", "Host", "x-forwarded-proto", "X-Forwarded-Proto", "x-forwarded-for", "x-forwarded-port",
            "content-type", "Content-Type", "authorization", "origin", "cookie", "access-control-request-method",
            "access-control-request-headers", "user-agent", "content-length", "transfer-encoding", "x-amzn-trace-id",
        ]).prop_map(String::from),
        2 => "[a-z-]{1,12}",
        1 => prop::sample::select(vec!["a b", "", "é", ":authority", "x\u{0}", "(x)"]).prop_map(String::from),
    ]
    .boxed()
}

fn headers() -> BoxedStrategy<Map<String, Value>> {
    let pair = prop_oneof![
        2 => host().prop_map(|h| ("host".to_string(), h)),
        2 => header_value().prop_map(|v| ("x-forwarded-proto".to_string(), v)),
        3 => (header_name(), header_value()),
    ];
    prop::collection::vec(pair, 0..5)
        .prop_map(|pairs| pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect())
        .boxed()
}

/// `rawPath`: the routes, and paths that are not paths.
fn raw_path() -> BoxedStrategy<String> {
    prop_oneof![
        3 => Just("/token".to_string()),
        4 => prop::sample::select(vec![
            "/token", "/health", "/webhook", "/guest/token", "/rooms/r/links", "/rooms/r/links/l1",
            "/rooms/demo/subtitles", "/rooms/a+b/subtitles", "/rooms/%ZZ/subtitles", "/rooms/%E2%80%8B/subtitles",
        ]).prop_map(String::from),
        2 => prop::sample::select(vec![
            "token", "", "/", "//", "/a b", "/%", "/#x", "/?x", "@evil/token", "/\u{0}", "/é", "/token/", "/..",
            "/./token", "/%2e%2e/token", "\\token", "/token#frag", "/[x]", "http://x/token", "/rooms//subtitles",
        ]).prop_map(String::from),
        1 => "/[ -~]{0,40}",
        1 => (1usize..20_000).prop_map(|n| format!("/{}", "a".repeat(n))),
    ]
    .boxed()
}

fn raw_query() -> BoxedStrategy<String> {
    prop_oneof![
        2 => Just("room=demo&participant=Jane".to_string()),
        2 => prop::sample::select(vec![
            "", "room=demo&participant=Jane", "room=a b&participant=J", "room=%ZZ", "room=a&room=b", "link=x.y.z",
            "room=<x>&participant=\"", "&&&", "=", "room", "room=%E2%80%8B&participant=%EF%BB%BF",
        ]).prop_map(String::from),
        1 => "[ -~]{0,60}",
        1 => any::<String>(),
        1 => (1usize..70_000).prop_map(|n| format!("room={}", "r".repeat(n))),
    ]
    .boxed()
}

fn method() -> BoxedStrategy<String> {
    prop_oneof![
        8 => prop::sample::select(vec!["GET", "POST", "DELETE", "OPTIONS", "PUT", "HEAD", "PATCH"]),
        1 => prop::sample::select(vec!["", "G E T", "get", "\u{0}"]),
    ]
    .prop_map(String::from)
    .boxed()
}

/// `isBase64Encoded` and `body`, in every combination that matters.
fn body() -> BoxedStrategy<(Value, Value)> {
    let text = prop_oneof![
        Just(Value::Null),
        Just(json!("{}")),
        Just(json!(r#"{"room_name":"r","participant_identity":"i"}"#)),
        Just(json!("*** not base64 ***")),
        Just(json!("eyJyb29tX25hbWUiOiJyIn0=")),
        Just(json!("")),
        any::<String>().prop_map(Value::String),
        (1usize..300_000).prop_map(|n| Value::String("{".repeat(n))),
    ];
    let encoded = prop_oneof![
        6 => Just(json!(false)),
        3 => Just(json!(true)),
        1 => prop::sample::select(vec![Value::Null, json!("yes"), json!(1)]),
    ];
    (encoded, text).boxed()
}

fn cookies() -> BoxedStrategy<Value> {
    prop_oneof![
        6 => Just(Value::Null),
        2 => Just(json!(["a=b"])),
        1 => Just(json!(["a=b", "c"])),
        1 => Just(json!([""])),
        1 => Just(json!(["\u{0}=x"])),
        1 => Just(json!(["a=b\nc"])),
        1 => Just(json!(5)),
        1 => prop::collection::vec(any::<String>(), 0..4).prop_map(|v| json!(v)),
    ]
    .boxed()
}

fn stage() -> BoxedStrategy<Value> {
    prop_oneof![
        4 => Just(json!("$default")),
        1 => prop::sample::select(vec!["prod", "a b", "", "$", "/", "[", "é", "x?y"]).prop_map(|s| json!(s)),
        1 => Just(Value::Null),
    ]
    .boxed()
}

/// A value of some JSON type, for fields given the wrong one.
fn wrong_value() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        Just(json!(1)),
        Just(json!(-1.5)),
        Just(json!(true)),
        Just(json!([])),
        Just(json!({})),
        Just(json!("x")),
        Just(json!([1, "a"])),
        Just(json!({"a": 1})),
        Just(json!(u64::MAX)),
    ]
    .boxed()
}

/// The fields a mutation may hit: replaced by a wrong value, or removed.
const POINTERS: &[&str] = &[
    "/version",
    "/routeKey",
    "/rawPath",
    "/rawQueryString",
    "/headers",
    "/cookies",
    "/isBase64Encoded",
    "/body",
    "/requestContext",
    "/requestContext/http",
    "/requestContext/http/method",
    "/requestContext/http/path",
    "/requestContext/stage",
    "/requestContext/domainName",
    "/requestContext/timeEpoch",
    "/requestContext/requestId",
    "/queryStringParameters",
    "/pathParameters",
    "/stageVariables",
    "/requestContext/authorizer",
    "/httpMethod",
    "/path",
    "/multiValueHeaders",
];

/// Replaces (`Some`) or removes (`None`) the value at `pointer`, when its parent exists.
fn mutate(event: &mut Value, pointer: &str, value: Option<Value>) {
    let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", pointer));
    if let Some(Value::Object(object)) = event.pointer_mut(parent) {
        match value {
            Some(value) => {
                object.insert(key.to_string(), value);
            }
            None => {
                object.remove(key);
            }
        }
    }
}

/// An HTTP API payload 2.0 event from its parts.
#[allow(clippy::too_many_arguments)]
fn v2(
    path: String,
    query: String,
    headers: Map<String, Value>,
    cookies: Value,
    (encoded, body): (Value, Value),
    method: String,
    stage: Value,
    domain: String,
) -> Value {
    let mut event = json!({
        "version": "2.0",
        "routeKey": format!("ANY {path}"),
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "a1b2c3d4e5", "domainName": domain, "domainPrefix": "a1b2c3d4e5",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.10", "userAgent": "fuzz"},
            "requestId": "fuzz", "routeKey": format!("ANY {path}"), "stage": stage, "time": "t", "timeEpoch": 0
        },
        "isBase64Encoded": encoded,
    });
    if !cookies.is_null() {
        event["cookies"] = cookies;
    }
    if !body.is_null() {
        event["body"] = body;
    }
    event
}

/// The REST API (payload 1.0) shape.
fn v1(
    path: String,
    headers: Map<String, Value>,
    method: String,
    (encoded, body): (Value, Value),
    domain: String,
) -> Value {
    let multi: Map<String, Value> = headers.iter().map(|(k, v)| (k.clone(), json!([v]))).collect();
    json!({
        "resource": path, "path": path, "httpMethod": method, "headers": headers, "multiValueHeaders": multi,
        "queryStringParameters": null, "multiValueQueryStringParameters": null, "pathParameters": null,
        "stageVariables": null, "body": body, "isBase64Encoded": encoded,
        "requestContext": {"stage": "prod", "domainName": domain, "httpMethod": method, "path": path, "requestId": "fuzz"}
    })
}

/// The Application Load Balancer shape.
fn alb(path: String, headers: Map<String, Value>, method: String, (encoded, body): (Value, Value)) -> Value {
    json!({
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/x/y"}},
        "httpMethod": method, "path": path, "queryStringParameters": {}, "headers": headers, "body": body,
        "isBase64Encoded": encoded
    })
}

/// Any event, mostly payload 2.0 ones.
pub fn api_gateway_event() -> BoxedStrategy<Value> {
    let v2_event = (raw_path(), raw_query(), headers(), cookies(), body(), method(), stage(), host())
        .prop_map(|(p, q, h, c, b, m, s, d)| v2(p, q, h, c, b, m, s, d));
    let v1_event = (raw_path(), headers(), method(), body(), host()).prop_map(|(p, h, m, b, d)| v1(p, h, m, b, d));
    let alb_event = (raw_path(), headers(), method(), body()).prop_map(|(p, h, m, b)| alb(p, h, m, b));
    let shaped = prop_oneof![8 => v2_event, 1 => v1_event, 1 => alb_event];
    let mutation = prop::option::weighted(0.2, (prop::sample::select(POINTERS), prop::option::of(wrong_value())));
    let mutated = (shaped, mutation).prop_map(|(mut event, mutation)| {
        if let Some((pointer, value)) = mutation {
            mutate(&mut event, pointer, value);
        }
        event
    });
    prop_oneof![12 => mutated, 1 => wrong_value()].boxed()
}

/// `count` events from a fixed seed: the same bounded sample on every run (the bootstrap
/// smoke), so a failure is reproducible.
pub fn sample(count: usize) -> Vec<Value> {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[28; 32]);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let strategy = api_gateway_event();
    (0..count).map(|_| strategy.new_tree(&mut runner).expect("a value").current()).collect()
}
