//! The one log line per request: route, status, latency and who and where, never a header
//! or a body (they can carry tokens).

use std::time::Instant;

use lambda_http::http::{Method, StatusCode};

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
