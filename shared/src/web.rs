//! HTTP plumbing shared by every function: JSON error bodies, security headers,
//! CORS, strict query parsing and the one log line per request.

use std::collections::HashMap;
use std::time::Instant;

use lambda_http::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use lambda_http::http::{Method, Request, Response, StatusCode};
use lambda_http::Body;
use serde::Serialize;

use crate::error::Error;
use crate::settings::EnvSettings;

/// A JSON error: `{"error":{"code":"...","message":"..."}}`. The code is stable
/// (clients branch on it); the message is for people. Every refusal of every function
/// becomes one of these, and only the request pipeline turns it into a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorResponse {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Headers the refusal carries (`Allow` on a 405, `Retry-After` on a 429 or 503).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// What went wrong inside, for the log line only: never sent to the caller.
    pub detail: Option<String>,
}

impl ErrorResponse {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), headers: Vec::new(), detail: None }
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such route")
    }

    /// `405` with the `Allow` header listing what the route accepts.
    pub fn method_not_allowed(allowed: &[Method]) -> Self {
        let list = crate::routes::allow_header(allowed);
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", format!("allowed methods: {list}"))
            .with_header(header::ALLOW, &list)
    }

    /// Adds a header to the refusal; a value that is not a valid header value is dropped.
    pub fn with_header(mut self, name: HeaderName, value: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.headers.push((name, value));
        }
        self
    }

    /// `Retry-After: <seconds>`, for a caller that should come back later.
    pub fn retry_after(self, seconds: u64) -> Self {
        self.with_header(header::RETRY_AFTER, &seconds.max(1).to_string())
    }

    /// The internal cause, logged with a 5xx and never sent.
    pub fn with_detail(mut self, detail: impl std::fmt::Display) -> Self {
        self.detail = Some(detail.to_string());
        self
    }

    /// The JSON body with the refusal's own headers (the pipeline adds the security
    /// headers and CORS to every response, refusals included).
    pub fn into_response(self) -> Response<Body> {
        #[derive(Serialize)]
        struct Detail<'a> {
            code: &'a str,
            message: &'a str,
        }
        #[derive(Serialize)]
        struct Envelope<'a> {
            error: Detail<'a>,
        }
        let mut response =
            json_response(self.status, &Envelope { error: Detail { code: self.code, message: &self.message } });
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

/// What is wrong with a request before any function-specific rule is applied: the
/// query string, the body's size, the caller's origin.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("query parameter `{0}` is given more than once")]
    DuplicateParameter(String),
    #[error("the query string is not valid percent-encoded UTF-8")]
    InvalidEncoding,
    #[error("the request body is larger than {0} bytes")]
    BodyTooLarge(usize),
}

impl RequestError {
    pub fn code(&self) -> &'static str {
        match self {
            RequestError::DuplicateParameter(_) => "duplicate_parameter",
            RequestError::InvalidEncoding => "invalid_encoding",
            RequestError::BodyTooLarge(_) => "body_too_large",
        }
    }
}

impl From<RequestError> for ErrorResponse {
    fn from(error: RequestError) -> Self {
        let status = match error {
            RequestError::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        };
        ErrorResponse::new(status, error.code(), error.to_string())
    }
}

/// A JSON response. Serialising our own response types cannot fail; if it ever
/// did, the caller gets a 500 with a fixed body rather than a panic.
pub fn json_response<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    let (status, body) = match serde_json::to_string(value) {
        Ok(body) => (status, body),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"error":{"code":"internal","message":"internal error"}}"#.to_string(),
        ),
    };
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

pub fn empty_response(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = status;
    response
}

/// Headers on every response: tokens must never be cached, and nothing here is
/// meant to be rendered or framed by a browser. Every response carries all of them,
/// including the Lambda entry's own refusals and the local server's.
pub const SECURITY_HEADERS: [(&str, &str); 6] = [
    ("cache-control", "no-store"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("content-security-policy", "default-src 'none'; frame-ancestors 'none'"),
    ("strict-transport-security", "max-age=63072000; includeSubDomains"),
];

pub fn apply_security_headers(headers: &mut HeaderMap) {
    for (name, value) in SECURITY_HEADERS {
        headers.insert(HeaderName::from_static(name), HeaderValue::from_static(value));
    }
}

/// The token in an `Authorization` header, read one way for every route (RFC 7235: the
/// scheme is case-insensitive). `Bearer <token>` in any case, or the bare token, which is
/// how LiveKit signs webhook deliveries and what API Gateway's JWT authorizer also takes.
/// Another scheme (`Basic …`) or a blank value is no token.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let token = match value.split_once(|c: char| c.is_ascii_whitespace()) {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        Some(_) => return None,
        // `Bearer` with nothing after it is a scheme without a token.
        None if value.eq_ignore_ascii_case("bearer") => return None,
        None => value,
    };
    (!token.is_empty()).then_some(token)
}

/// Which browser origins may call us. Closed unless `ALLOWED_ORIGINS` lists some.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum CorsPolicy {
    #[default]
    Closed,
    /// `ALLOWED_ORIGINS=*`: any origin (no credentials are ever allowed).
    AnyOrigin,
    Origins(Vec<String>),
}

impl CorsPolicy {
    pub fn from_env(env: &EnvSettings) -> Result<Self, Error> {
        let origins = env.list("ALLOWED_ORIGINS");
        if origins.iter().any(|o| o == "*") {
            if origins.len() > 1 {
                return Err(Error::config("ALLOWED_ORIGINS", "`*` cannot be combined with other origins"));
            }
            return Ok(Self::AnyOrigin);
        }
        let mut normalised = Vec::with_capacity(origins.len());
        for origin in origins {
            let trimmed = origin.trim_end_matches('/');
            let valid = (trimmed.starts_with("https://") || trimmed.starts_with("http://"))
                && !trimmed.split_once("://").is_some_and(|(_, host)| host.is_empty() || host.contains('/'));
            if !valid {
                return Err(Error::config(
                    "ALLOWED_ORIGINS",
                    format!("entry `{origin}` is not an origin like https://app.example.com"),
                ));
            }
            normalised.push(trimmed.to_ascii_lowercase());
        }
        Ok(if normalised.is_empty() { Self::Closed } else { Self::Origins(normalised) })
    }

    /// The request's `Origin` when this policy allows it.
    pub fn allowed_origin<'a>(&self, headers: &'a HeaderMap) -> Option<&'a HeaderValue> {
        let origin = headers.get(header::ORIGIN)?;
        let text = origin.to_str().ok()?;
        match self {
            CorsPolicy::Closed => None,
            CorsPolicy::AnyOrigin => Some(origin),
            CorsPolicy::Origins(list) => list.iter().any(|o| o.eq_ignore_ascii_case(text)).then_some(origin),
        }
    }

    /// Adds `Access-Control-Allow-Origin` for an allowed origin; nothing otherwise,
    /// so the browser blocks the response.
    pub fn decorate(&self, request_headers: &HeaderMap, response: &mut Response<Body>) {
        if *self == CorsPolicy::Closed {
            return;
        }
        let headers = response.headers_mut();
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
        if let Some(origin) = self.allowed_origin(request_headers) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        }
    }

    /// Answers an `OPTIONS` request for a route that accepts `methods`.
    pub fn preflight(&self, request_headers: &HeaderMap, methods: &[Method]) -> Result<Response<Body>, ErrorResponse> {
        let allow = crate::routes::allow_header(methods);
        let mut response = empty_response(StatusCode::NO_CONTENT);
        // A plain OPTIONS (no Origin) just lists the methods.
        if !request_headers.contains_key(header::ORIGIN) {
            if let Ok(value) = HeaderValue::from_str(&allow) {
                response.headers_mut().insert(header::ALLOW, value);
            }
            return Ok(response);
        }
        let Some(origin) = self.allowed_origin(request_headers) else {
            return Err(ErrorResponse::new(
                StatusCode::FORBIDDEN,
                "origin_not_allowed",
                "this origin may not call this API",
            ));
        };
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
        if let Ok(value) = HeaderValue::from_str(&allow) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, value);
        }
        // Client SDKs let apps add headers (e.g. Authorization); mirror what the browser
        // asks for as long as it is a list of plain header names.
        let requested = request_headers
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(',').map(str::trim).filter(|h| !h.is_empty()).collect::<Vec<_>>())
            .unwrap_or_default();
        let allowed: Vec<&str> =
            requested.into_iter().filter(|h| HeaderName::from_bytes(h.as_bytes()).is_ok()).collect();
        let allowed = if allowed.is_empty() { "content-type".to_string() } else { allowed.join(", ") };
        if let Ok(value) = HeaderValue::from_str(&allowed) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, value);
        }
        headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        Ok(response)
    }
}

/// A `{…}` path segment, percent-decoded the way a query value is (a route's `{room}`).
pub fn decode_segment(segment: &str) -> Result<String, RequestError> {
    let mut query = parse_query(Some(&format!("v={segment}")))?;
    Ok(query.remove("v").unwrap_or_default())
}

/// Parses a query string strictly: every key at most once, valid percent-encoding,
/// valid UTF-8. (Lenient parsers silently pick one of two `room=` values or replace
/// broken bytes, and then the token is for a room nobody asked for.)
pub fn parse_query(query: Option<&str>) -> Result<HashMap<String, String>, RequestError> {
    let mut pairs = HashMap::new();
    let Some(query) = query else { return Ok(pairs) };
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (raw_key, raw_value) = part.split_once('=').unwrap_or((part, ""));
        let key = decode_component(raw_key)?;
        let value = decode_component(raw_value)?;
        if pairs.insert(key.clone(), value).is_some() {
            return Err(RequestError::DuplicateParameter(printable(&key)));
        }
    }
    Ok(pairs)
}

fn decode_component(raw: &str) -> Result<String, RequestError> {
    let bad = || RequestError::InvalidEncoding;
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).filter(|h| h.iter().all(u8::is_ascii_hexdigit)).ok_or_else(bad)?;
                // Checked above: from_str_radix alone would also take a sign (`%+0`).
                let text = std::str::from_utf8(hex).map_err(|_| bad())?;
                out.push(u8::from_str_radix(text, 16).map_err(|_| bad())?);
                i += 2;
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| bad())
}

/// A value made safe to put in a message: control characters escaped, length capped.
pub fn printable(value: &str) -> String {
    let mut out: String = value.chars().take(64).flat_map(char::escape_debug).collect();
    if value.chars().count() > 64 {
        out.push('…');
    }
    out
}

/// The request's media type (`application/json; charset=utf-8` → `application/json`).
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(value.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
}

/// The body bytes, refusing more than `limit`. Lambda has the whole body in memory
/// already (API Gateway decodes base64 bodies into `Body::Binary`).
pub fn body_within(request: &Request<Body>, limit: usize) -> Result<&[u8], RequestError> {
    let body: &[u8] = request.body().as_ref();
    if body.len() > limit {
        return Err(RequestError::BodyTooLarge(limit));
    }
    Ok(body)
}

/// What one request log line says beyond route and status.
#[derive(Debug, Default, Clone)]
pub struct RequestFacts {
    pub room: Option<String>,
    pub identity: Option<String>,
    /// Who asked, when the route authenticates its callers (`user:…`, `client:…`).
    pub caller: Option<String>,
    pub error_code: Option<&'static str>,
}

/// Emits the one structured line per request. Never logs headers or bodies: they can
/// carry tokens.
pub fn log_request(method: &Method, route: &str, status: StatusCode, started: Instant, facts: &RequestFacts) {
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(
        target: "request",
        method = %method,
        route,
        status = status.as_u16(),
        room = facts.room.as_deref().unwrap_or(""),
        identity = facts.identity.as_deref().unwrap_or(""),
        caller = facts.caller.as_deref().unwrap_or(""),
        error_code = facts.error_code.unwrap_or(""),
        latency_ms = (latency_ms * 1000.0).round() / 1000.0,
        "request"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn query_parsing_is_strict() {
        let q = parse_query(Some("room=demo%20room&participant=J%C3%A9r%C3%B4me+B&empty=")).unwrap();
        assert_eq!(q["room"], "demo room");
        assert_eq!(q["participant"], "Jérôme B");
        assert_eq!(q["empty"], "");
        assert_eq!(parse_query(Some("room=a&room=b")).unwrap_err().code(), "duplicate_parameter");
        assert_eq!(parse_query(Some("room=%ZZ")).unwrap_err().code(), "invalid_encoding");
        assert_eq!(parse_query(Some("room=%C3")).unwrap_err().code(), "invalid_encoding");
        assert_eq!(parse_query(Some("room=%4")).unwrap_err().code(), "invalid_encoding");
        assert_eq!(parse_query(Some("room=%+0")).unwrap_err().code(), "invalid_encoding", "no sign inside an escape");
        assert!(parse_query(None).unwrap().is_empty());
    }

    #[test]
    fn cors_is_closed_by_default_and_exact_when_configured() {
        let closed = CorsPolicy::from_env(&EnvSettings::default()).unwrap();
        assert_eq!(closed, CorsPolicy::Closed);
        let h = headers(&[("origin", "https://app.example.com")]);
        assert!(closed.allowed_origin(&h).is_none());
        assert_eq!(closed.preflight(&h, &[Method::GET]).unwrap_err().code, "origin_not_allowed");

        let env = EnvSettings::from_pairs([("ALLOWED_ORIGINS", "https://app.example.com/, http://localhost:3000")]);
        let open = CorsPolicy::from_env(&env).unwrap();
        assert!(open.allowed_origin(&h).is_some());
        assert!(open.allowed_origin(&headers(&[("origin", "https://evil.example.com")])).is_none());
        assert!(open.allowed_origin(&headers(&[("origin", "https://app.example.com.evil.com")])).is_none());

        let pre = headers(&[
            ("origin", "http://localhost:3000"),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "content-type, authorization"),
        ]);
        let response = open.preflight(&pre, &[Method::GET, Method::POST]).unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        let h = response.headers();
        assert_eq!(h["access-control-allow-origin"], "http://localhost:3000");
        assert_eq!(h["access-control-allow-methods"], "GET, POST");
        assert_eq!(h["access-control-allow-headers"], "content-type, authorization");
    }

    #[test]
    fn cors_configuration_errors_name_the_variable() {
        for bad in ["app.example.com", "*,https://a.com", "https://a.com/path"] {
            let err = CorsPolicy::from_env(&EnvSettings::from_pairs([("ALLOWED_ORIGINS", bad)])).unwrap_err();
            assert!(err.to_string().contains("ALLOWED_ORIGINS"), "{bad}: {err}");
        }
    }

    #[test]
    fn one_bearer_rule_for_every_route() {
        let token = |value: &str| bearer_token(&headers(&[("authorization", value)])).map(str::to_string);
        assert_eq!(token("Bearer abc.def.ghi").as_deref(), Some("abc.def.ghi"));
        assert_eq!(token("bearer abc").as_deref(), Some("abc"), "the scheme is case-insensitive (RFC 7235)");
        assert_eq!(token("BEARER   abc  ").as_deref(), Some("abc"));
        assert_eq!(token("abc.def.ghi").as_deref(), Some("abc.def.ghi"), "a bare token, as LiveKit signs webhooks");
        assert_eq!(token("Basic dXNlcjpwYXNz"), None, "another scheme is no bearer token");
        assert_eq!(token("Bearer "), None);
        assert_eq!(token("   "), None);
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }

    #[test]
    fn error_body_shape_is_stable() {
        let response = ErrorResponse::new(StatusCode::BAD_REQUEST, "invalid_room", "bad").into_response();
        assert_eq!(response.status(), 400);
        assert_eq!(response.headers()["content-type"], "application/json");
        let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        assert_eq!(body, serde_json::json!({"error": {"code": "invalid_room", "message": "bad"}}));
    }
}
