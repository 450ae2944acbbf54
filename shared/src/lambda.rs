//! The Lambda entry point every function's `main.rs` hands its handler to.
//!
//! `lambda_http::run` turns an API Gateway event into an `http::Request` with `.unwrap()`
//! and `.expect(...)`, and with `panic = "abort"` a panic there kills the container without
//! an answer. This entry point repairs what it can first and answers an event it cannot read
//! with a JSON 400 instead, so no event reaches those calls in a shape that panics:
//!
//! - a `rawQueryString` holding a byte the URI parser refuses (a space, `"`, `<`, `>`, DEL,
//!   sent raw by any HTTP client) is percent-encoded, which changes nothing it means
//!   (aws/aws-lambda-rust-runtime issues #461 and #515; the `.expect("failed to build
//!   request")` in lambda_http 1.3.2 `src/request.rs`, `into_api_gateway_v2_request`);
//! - a base64 body that is not base64 is refused (`Body::from_maybe_encoded`'s `expect`);
//! - the URL lambda_http builds as `{x-forwarded-proto}://{host}{path}` and parses with
//!   `Url::parse(&url).unwrap()` (`build_request_uri`, src/request.rs:553; `http://localhost{path}`
//!   without a host, :544): an `x-forwarded-proto` that is not a bare scheme (`https,http`,
//!   the shape payload 2.0 gives a header sent twice) becomes `https`, a `host` or domain
//!   name that is not a valid host is dropped, and a path, or a whole URI, that still cannot
//!   be built is refused (issue 28).
//!
//! When a lambda_http release returns an error there instead of panicking, these repairs
//! can go; the tests in `tests/tests/suite/event_fuzz.rs` show what they cover.

use std::sync::atomic::{AtomicBool, Ordering};

use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::request::LambdaRequest;
use lambda_http::tower::{Service as TowerService, ServiceExt};
use lambda_http::{Adapter, Body, Error, Request, Response};
use metrics_cloudwatch_embedded::Collector;
use percent_encoding::{percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::metrics;
use crate::pipeline::{self, Service};
use crate::settings::{EnvSettings, Runtime};
use crate::telemetry;
use crate::web::SECURITY_HEADERS;

/// What goes back to API Gateway: the handler's response (lambda_http's own response
/// type, which it does not export by name), or our own refusal.
#[derive(Serialize)]
#[serde(untagged)]
pub enum Reply<Handled> {
    Handled(Handled),
    Refused(Value),
}

/// A function's whole `main`: logging and metrics, settings and credentials from the
/// environment (a start-up error is logged and ends the process, so Lambda reports a
/// failed init), the credentials loaded during the init phase, then requests until the
/// process ends.
pub async fn start<S: Service>() -> Result<(), Error> {
    let (started, started_at) = (std::time::Instant::now(), std::time::SystemTime::now());
    crate::jwt::install();
    let env = EnvSettings::from_process();
    let service_name = telemetry::service_name(&env, S::FUNCTION.binary());
    telemetry::init(Runtime::Lambda, &env, &service_name);
    telemetry::init_phase("logging");
    let namespace = env.non_empty("POWERTOOLS_METRICS_NAMESPACE").unwrap_or_else(|| metrics::DEFAULT_NAMESPACE.into());
    let collector = metrics::install(&service_name, &namespace);
    telemetry::init_phase("metrics");
    let service = S::from_env(&env, Runtime::Lambda)
        .await
        .inspect_err(|error| tracing::error!(error = %error, "start-up failed"))?;
    // The function's own set-up after its SSM client (the webhook receiver's DynamoDB
    // client, for one).
    telemetry::init_phase("service");
    service.warm_up().await;
    telemetry::init_phase("get_parameters");
    telemetry::log_init_phases(started, started_at);
    serve(service, collector).await
}

/// Serves `service` on the Lambda runtime API until the process ends.
pub async fn serve<S: Service>(service: S, collector: Option<&'static Collector>) -> Result<(), Error> {
    run(
        lambda_http::service_fn(move |request: Request| {
            let service = service.clone();
            async move { Ok::<_, Error>(pipeline::handle(&service, request).await) }
        }),
        collector,
    )
    .await
}

/// Whether the next invocation is this process's first.
static FIRST_INVOCATION: AtomicBool = AtomicBool::new(true);

/// Runs `service` on the Lambda runtime API until the process ends. Each invocation runs
/// in the scope of its [`telemetry::Invocation`] (the keys of its log lines) and ends with
/// one flush of its metrics.
pub async fn run<S>(service: S, collector: Option<&'static Collector>) -> Result<(), Error>
where
    S: TowerService<Request, Response = Response<Body>, Error = Error> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let adapter = Adapter::from(service);
    lambda_runtime::run(lambda_runtime::service_fn(move |event: LambdaEvent<Value>| {
        let mut adapter = adapter.clone();
        async move {
            let LambdaEvent { payload, context } = event;
            let cold_start = FIRST_INVOCATION.swap(false, Ordering::Relaxed);
            if cold_start {
                metrics::cold_start();
            }
            let correlation_id = payload.pointer("/requestContext/requestId").and_then(|id| id.as_str());
            let invocation = telemetry::Invocation::new(
                cold_start,
                &context.invoked_function_arn,
                &context.request_id,
                context.xray_trace_id.as_deref(),
                correlation_id,
            );
            let (request_id, trace_id) = (context.request_id.clone(), context.xray_trace_id.clone());
            let reply = async move {
                match into_lambda_request(payload) {
                    Ok(request) => {
                        let response = adapter.ready().await?.call(LambdaEvent::new(request, context)).await?;
                        Ok::<_, Error>(Reply::Handled(response))
                    }
                    Err(refusal) => Ok(Reply::Refused(refusal)),
                }
            };
            let reply = invocation.scope(reply).await;
            if let Some(collector) = collector {
                metrics::flush(collector, &request_id, trace_id.as_deref());
            }
            reply
        }
    }))
    .await
}

/// The event as `lambda_http` reads it, after repairing the raw query string and the parts
/// of the URL it builds; or the API Gateway response refusing it.
pub fn into_lambda_request(mut payload: Value) -> Result<LambdaRequest, Value> {
    if let Some(query) = payload.get_mut("rawQueryString") {
        if let Some(raw) = query.as_str() {
            *query = Value::String(uri_safe_query(raw));
        }
    }
    if let Err(reason) = repair_uri_parts(&mut payload) {
        tracing::warn!(reason, "API Gateway event whose URI cannot be built refused");
        return Err(refusal(400, "invalid_request", "the request could not be read"));
    }
    // lambda_http decodes a base64 body with `.expect(...)` as well.
    if payload.get("isBase64Encoded") == Some(&Value::Bool(true)) {
        if let Some(body) = payload.get("body").and_then(Value::as_str) {
            use base64::Engine;
            if base64::engine::general_purpose::STANDARD.decode(body).is_err() {
                return Err(refusal(400, "invalid_body", "the request body is not valid base64"));
            }
        }
    }
    serde_json::from_value::<LambdaRequest>(payload).map_err(|error| {
        tracing::warn!(error = %error, "unreadable API Gateway event refused");
        refusal(400, "invalid_request", "the request could not be read")
    })
}

/// Longest URI (path and query) read: API Gateway's own bound is 10 KiB for the request line
/// and headers together; `http` refuses a URI over 64 KiB, and lambda_http would panic.
const MAX_URI_BYTES: usize = 16 * 1024;

/// The values of every header of `headers` named `name` (any case), as JSON strings.
fn header_values<'a>(headers: &'a mut Map<String, Value>, name: &'a str) -> impl Iterator<Item = &'a mut Value> + 'a {
    headers.iter_mut().filter(move |(key, _)| key.eq_ignore_ascii_case(name)).flat_map(|(_, value)| match value {
        Value::Array(values) => values.iter_mut().collect::<Vec<_>>(),
        other => vec![other],
    })
}

/// Repairs what lambda_http puts into the URL it parses with `unwrap()` (see the module
/// documentation), and refuses, with the reason for the log, an event whose URI still could
/// not be built. Wrong JSON types are left for deserialisation to refuse.
fn repair_uri_parts(payload: &mut Value) -> Result<(), &'static str> {
    let raw_path = payload.get("rawPath").and_then(Value::as_str).unwrap_or_default().to_string();
    if !raw_path.is_empty() && !raw_path.starts_with('/') {
        return Err("rawPath does not start with /");
    }
    // lambda_http's `apigw_path_with_stage`: a stage other than `$default` prefixes the path.
    let stage = payload.pointer("/requestContext/stage").and_then(Value::as_str).filter(|s| *s != "$default");
    let path = match stage {
        Some(stage) if std::env::var_os("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH").is_none() => {
            if raw_path.starts_with(&format!("/{stage}/")) {
                raw_path.clone()
            } else {
                format!("/{stage}{raw_path}")
            }
        }
        _ => raw_path.clone(),
    };
    let query = payload.get("rawQueryString").and_then(Value::as_str).unwrap_or_default().to_string();
    let builds = |host: Option<&str>| lambda_http_uri(host, &path, &query).is_some();
    if let Some(Value::Object(headers)) = payload.get_mut("headers") {
        // Only a bare scheme is a scheme; the URI's scheme means nothing to the functions.
        for value in header_values(headers, "x-forwarded-proto") {
            if !value.as_str().is_some_and(|v| v.eq_ignore_ascii_case("https") || v.eq_ignore_ascii_case("http")) {
                *value = Value::String("https".into());
            }
        }
        // lambda_http takes a host header only as visible ASCII (`to_str`), else the domain.
        let unusable = |host: &str| !host.bytes().all(|b| b == b'\t' || (32..127).contains(&b)) || !builds(Some(host));
        if header_values(headers, "host").any(|v| v.as_str().is_some_and(unusable)) {
            headers.retain(|key, _| !key.eq_ignore_ascii_case("host"));
        }
    }
    let host_header = payload
        .get("headers")
        .and_then(Value::as_object)
        .and_then(|headers| headers.iter().find(|(key, _)| key.eq_ignore_ascii_case("host")))
        .map(|(_, value)| match value {
            Value::Array(values) => values.first().and_then(Value::as_str).map(str::to_string),
            other => other.as_str().map(str::to_string),
        });
    if let Some(context) = payload.get_mut("requestContext").and_then(Value::as_object_mut) {
        if context.get("domainName").and_then(Value::as_str).is_some_and(|domain| !builds(Some(domain))) {
            context.remove("domainName");
        }
    }
    let host = match host_header {
        Some(host) => host,
        None => payload.pointer("/requestContext/domainName").and_then(Value::as_str).map(str::to_string),
    };
    let uri =
        lambda_http_uri(host.as_deref(), &path, &query).ok_or("the URI of host, path and query cannot be built")?;
    if uri.len() > MAX_URI_BYTES {
        return Err("the URI is longer than 16 KiB");
    }
    Ok(())
}

/// The request URI lambda_http builds from the host (none: a relative URI), the path with
/// its stage, and the raw query; `None` where it would panic.
fn lambda_http_uri(host: Option<&str>, path: &str, query: &str) -> Option<String> {
    let mut uri = match host {
        Some(host) => url::Url::parse(&format!("https://{host}{path}")).ok()?.to_string(),
        None => url::Url::parse(&format!("http://localhost{path}")).ok()?.path().to_string(),
    };
    if !query.is_empty() {
        uri.push('?');
        uri.push_str(query);
    }
    lambda_http::http::Uri::try_from(uri.as_str()).ok().map(|_| uri)
}

/// The bytes a URI query may not hold as they are: everything but RFC 3986's `query`
/// characters (and `%`, kept so a broken escape is the handler's to refuse with a clear 400).
const NOT_QUERY_SAFE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@')
    .remove(b'/')
    .remove(b'?')
    .remove(b'%');

/// Percent-encodes every byte outside the characters a URI query may hold as they are,
/// which changes nothing the query means.
pub fn uri_safe_query(raw: &str) -> String {
    percent_encode(raw.as_bytes(), NOT_QUERY_SAFE).to_string()
}

/// An HTTP API (payload 2.0) response with our JSON error body and every security
/// header the pipeline sets on its own responses.
fn refusal(status: u16, code: &'static str, message: &str) -> Value {
    metrics::request(lambda_http::http::StatusCode::from_u16(status).unwrap_or_default(), Some(code));
    let mut headers: Map<String, Value> =
        SECURITY_HEADERS.iter().map(|(name, value)| (name.to_string(), Value::from(*value))).collect();
    headers.insert("content-type".into(), Value::from("application/json"));
    json!({
        "statusCode": status,
        "headers": headers,
        "body": json!({"error": {"code": code, "message": message}}).to_string(),
        "isBase64Encoded": false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(query: &str) -> Value {
        json!({
            "version": "2.0", "routeKey": "ANY /token", "rawPath": "/token", "rawQueryString": query,
            "headers": {"host": "x.execute-api.us-east-1.amazonaws.com"}, "isBase64Encoded": false,
            "requestContext": {"accountId": "1", "apiId": "x", "domainName": "x.execute-api.us-east-1.amazonaws.com",
                "domainPrefix": "x", "requestId": "r", "routeKey": "ANY /token", "stage": "$default", "time": "t",
                "timeEpoch": 0, "http": {"method": "GET", "path": "/token", "protocol": "HTTP/1.1", "sourceIp": "1.2.3.4", "userAgent": "u"}}
        })
    }

    #[test]
    fn queries_that_would_panic_lambda_http_are_repaired_not_fatal() {
        for raw in ["room=a b&participant=x", "room=a\"b", "room=<script>", "room=a\u{7f}", "room=é", "room=%zz"] {
            let request: Request = into_lambda_request(event(raw)).expect("readable").into();
            let query = request.uri().query().unwrap_or_default().to_string();
            assert!(!query.contains(' ') && !query.contains('"') && !query.contains('<'), "{raw:?} → {query}");
        }
        let request: Request = into_lambda_request(event("room=a b")).unwrap().into();
        let decoded = crate::web::parse_query(request.uri().query()).unwrap();
        assert_eq!(decoded["room"], "a b", "the meaning is kept");
        assert_eq!(uri_safe_query("room=demo&participant=Jane%20Doe"), "room=demo&participant=Jane%20Doe");
    }

    #[test]
    fn a_base64_body_that_is_not_base64_is_refused_not_fatal() {
        let mut bad = event("");
        bad["isBase64Encoded"] = json!(true);
        bad["body"] = json!("this is *not* base64!");
        let refusal = into_lambda_request(bad).unwrap_err();
        assert_eq!(refusal["statusCode"], 400);
        for (name, value) in SECURITY_HEADERS {
            assert_eq!(refusal["headers"][name], value, "the refusal carries {name}");
        }
        let mut good = event("");
        good["isBase64Encoded"] = json!(true);
        good["body"] = json!("eyJyb29tX25hbWUiOiJyIn0=");
        let request: Request = into_lambda_request(good).unwrap().into();
        assert_eq!(request.body().as_ref(), br#"{"room_name":"r"}"#);
    }

    #[test]
    fn an_unreadable_event_is_refused_with_json() {
        let refusal = into_lambda_request(json!({"not": "an event"})).unwrap_err();
        assert_eq!(refusal["statusCode"], 400);
        let body: Value = serde_json::from_str(refusal["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["error"]["code"], "invalid_request");
    }
}
