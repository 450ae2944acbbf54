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
/// (clients branch on it); the message is for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorResponse {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ErrorResponse {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such route")
    }

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
        json_response(self.status, &Envelope { error: Detail { code: self.code, message: &self.message } })
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

/// `405` with the `Allow` header listing what the route accepts.
pub fn method_not_allowed(allowed: &[Method]) -> Response<Body> {
    let list = allowed.iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
    let mut response =
        ErrorResponse::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", format!("allowed methods: {list}"))
            .into_response();
    if let Ok(value) = HeaderValue::from_str(&list) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}

/// The end of every request, the same for every function: render the error, add the
/// security headers and (for allowed origins) CORS, and write the one log line.
pub fn finish(
    request_headers: &HeaderMap,
    method: &Method,
    route: &str,
    started: Instant,
    mut facts: RequestFacts,
    result: Result<Response<Body>, ErrorResponse>,
    cors: &CorsPolicy,
) -> Response<Body> {
    let mut response = result.unwrap_or_else(|error| {
        facts.error_code = Some(error.code);
        error.into_response()
    });
    apply_security_headers(response.headers_mut());
    if facts.error_code == Some(crate::credentials::UNAVAILABLE_CODE) {
        // Only after the SSM retry budget is spent (issue 15): tell clients when to come back.
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static(crate::credentials::RETRY_AFTER));
    }
    if !response.headers().contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
        cors.decorate(request_headers, &mut response);
    }
    log_request(method, route, response.status(), started, &facts);
    response
}

pub fn empty_response(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = status;
    response
}

/// Headers on every response: tokens must never be cached, and nothing here is
/// meant to be rendered or framed by a browser.
pub fn apply_security_headers(headers: &mut HeaderMap) {
    let fixed = [
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CONTENT_SECURITY_POLICY, "default-src 'none'; frame-ancestors 'none'"),
        (header::STRICT_TRANSPORT_SECURITY, "max-age=63072000; includeSubDomains"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
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
                return Err(Error::Config {
                    variable: "ALLOWED_ORIGINS".into(),
                    reason: "`*` cannot be combined with other origins".into(),
                });
            }
            return Ok(Self::AnyOrigin);
        }
        let mut normalised = Vec::with_capacity(origins.len());
        for origin in origins {
            let trimmed = origin.trim_end_matches('/');
            let valid = (trimmed.starts_with("https://") || trimmed.starts_with("http://"))
                && !trimmed.split_once("://").is_some_and(|(_, host)| host.is_empty() || host.contains('/'));
            if !valid {
                return Err(Error::Config {
                    variable: "ALLOWED_ORIGINS".into(),
                    reason: format!("entry `{origin}` is not an origin like https://app.example.com"),
                });
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
        let allow = methods.iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
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

/// Parses a query string strictly: every key at most once, valid percent-encoding,
/// valid UTF-8. (Lenient parsers silently pick one of two `room=` values or replace
/// broken bytes, and then the token is for a room nobody asked for.)
pub fn parse_query(query: Option<&str>) -> Result<HashMap<String, String>, ErrorResponse> {
    let mut pairs = HashMap::new();
    let Some(query) = query else { return Ok(pairs) };
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (raw_key, raw_value) = part.split_once('=').unwrap_or((part, ""));
        let key = decode_component(raw_key)?;
        let value = decode_component(raw_value)?;
        if pairs.insert(key.clone(), value).is_some() {
            return Err(ErrorResponse::new(
                StatusCode::BAD_REQUEST,
                "duplicate_parameter",
                format!("query parameter `{}` is given more than once", printable(&key)),
            ));
        }
    }
    Ok(pairs)
}

fn decode_component(raw: &str) -> Result<String, ErrorResponse> {
    let bad = || {
        ErrorResponse::new(
            StatusCode::BAD_REQUEST,
            "invalid_encoding",
            "the query string is not valid percent-encoded UTF-8",
        )
    };
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
pub fn body_within(request: &Request<Body>, limit: usize) -> Result<&[u8], ErrorResponse> {
    let body: &[u8] = request.body().as_ref();
    if body.len() > limit {
        return Err(ErrorResponse::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the request body is larger than {limit} bytes"),
        ));
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
        assert_eq!(parse_query(Some("room=a&room=b")).unwrap_err().code, "duplicate_parameter");
        assert_eq!(parse_query(Some("room=%ZZ")).unwrap_err().code, "invalid_encoding");
        assert_eq!(parse_query(Some("room=%C3")).unwrap_err().code, "invalid_encoding");
        assert_eq!(parse_query(Some("room=%4")).unwrap_err().code, "invalid_encoding");
        assert_eq!(parse_query(Some("room=%+0")).unwrap_err().code, "invalid_encoding", "no sign inside an escape");
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
    fn error_body_shape_is_stable() {
        let response = ErrorResponse::new(StatusCode::BAD_REQUEST, "invalid_room", "bad").into_response();
        assert_eq!(response.status(), 400);
        assert_eq!(response.headers()["content-type"], "application/json");
        let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        assert_eq!(body, serde_json::json!({"error": {"code": "invalid_room", "message": "bad"}}));
    }
}
