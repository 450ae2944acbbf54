//! Which browser origins may call a function (`ALLOWED_ORIGINS`): closed unless configured,
//! the `Access-Control-Allow-Origin` an allowed origin gets, and preflights.

use lambda_http::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use lambda_http::http::{Method, Response, StatusCode};
use lambda_http::Body;

use super::refusal::ErrorResponse;
use super::response::empty_response;
use crate::error::Error;
use crate::settings::EnvSettings;

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
}
