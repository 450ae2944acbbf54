//! CloudWatch metrics in the Embedded Metric Format (EMF): each function counts what it
//! does with the `metrics` facade, and once per invocation `shared::lambda` flushes the
//! counts to stdout as EMF lines, which CloudWatch Logs turns into metrics. No API call,
//! no agent, nothing on the request's path but atomic counters.
//!
//! Every metric lives in one namespace (`POWERTOOLS_METRICS_NAMESPACE`, default
//! [`DEFAULT_NAMESPACE`]) with the dimension `service` (`POWERTOOLS_SERVICE_NAME`, default
//! the binary's name) and the labels named below. Each label takes values from a fixed set
//! (`&'static str`): CloudWatch bills every distinct dimension combination as a metric,
//! and a room, identity or IP as a dimension would be both a cost and a leak.
//!
//! Outside Lambda (the local server, tests calling the library) no recorder is installed
//! and every call here is a no-op.
//!
//! The backend is `metrics_cloudwatch_embedded` rather than awslabs' `metrique`: it is a
//! backend of the `metrics` facade (counters are atomics behind a handle; flushing is
//! ours to call, once per invocation), with 40 crates in its tree against metrique's 101
//! with its EMF formatter; metrique's model (one struct per unit of work, written through
//! a background queue) suits services with many metrics per request better than ours.

use std::time::Duration;

use ::metrics::{counter, describe_counter, describe_histogram, histogram, Unit};
use lambda_http::http::StatusCode;
use metrics_cloudwatch_embedded::Collector;

/// The namespace when `POWERTOOLS_METRICS_NAMESPACE` is unset (the template's default too).
pub const DEFAULT_NAMESPACE: &str = "LiveKitLambda";

/// Every metric, its unit and the labels it carries besides `service`: the contract the
/// template's alarms and dashboard, docs/operating.md and the tests are written against.
pub const METRICS: &[(&str, Unit, &[&str])] = &[
    (COLD_START, Unit::Count, &[]),
    (REQUESTS, Unit::Count, &["status_class"]),
    (ERRORS, Unit::Count, &["code"]),
    (TOKENS_ISSUED, Unit::Count, &["form", "caller"]),
    (CREDENTIAL_FETCH_TIME, Unit::Milliseconds, &[]),
    (CREDENTIAL_FETCH_FAILURES, Unit::Count, &["reason"]),
    (WEBHOOK_EVENTS, Unit::Count, &["event"]),
    (WEBHOOK_VERIFICATION_FAILURES, Unit::Count, &[]),
    (WEBHOOK_DUPLICATES, Unit::Count, &[]),
    (LIVEKIT_API_ERRORS, Unit::Count, &["method"]),
    (SUBTITLE_DISPATCHES, Unit::Count, &[]),
    (RATE_LIMITED, Unit::Count, &[]),
];

const COLD_START: &str = "ColdStart";
const REQUESTS: &str = "Requests";
const ERRORS: &str = "Errors";
const TOKENS_ISSUED: &str = "TokensIssued";
const CREDENTIAL_FETCH_TIME: &str = "CredentialFetchTime";
const CREDENTIAL_FETCH_FAILURES: &str = "CredentialFetchFailures";
const WEBHOOK_EVENTS: &str = "WebhookEvents";
const WEBHOOK_VERIFICATION_FAILURES: &str = "WebhookVerificationFailures";
const WEBHOOK_DUPLICATES: &str = "WebhookDuplicates";
const LIVEKIT_API_ERRORS: &str = "LiveKitApiErrors";
const SUBTITLE_DISPATCHES: &str = "SubtitleDispatches";
const RATE_LIMITED: &str = "RateLimited";

/// Installs the EMF recorder for this process (Lambda only). `None` when a recorder is
/// already installed (a second call) or the namespace is unusable; metrics are then off
/// and the function works as before.
pub fn install(service: &str, namespace: &str) -> Option<&'static Collector> {
    let collector = metrics_cloudwatch_embedded::Builder::new()
        .cloudwatch_namespace(namespace.to_string())
        .with_dimension("service", service.to_string())
        .init()
        .inspect_err(|error| tracing::warn!(error = %error, "metrics are off"))
        .ok()?;
    for (name, unit, _) in METRICS {
        if *unit == Unit::Count {
            describe_counter!(*name, *unit, "");
        } else {
            describe_histogram!(*name, *unit, "");
        }
    }
    Some(collector)
}

/// Writes this invocation's counts as EMF lines (one per label set that moved) in one
/// write, tagged with the request and trace ids, and resets them.
pub fn flush(collector: &Collector, request_id: &str, xray_trace_id: Option<&str>) {
    collector.set_property("function_request_id", request_id.to_string());
    match xray_trace_id {
        Some(trace) => collector.set_property("xray_trace_id", trace.to_string()),
        None => collector.remove_property("xray_trace_id"),
    };
    let mut lines = Vec::with_capacity(1024);
    if collector.flush(&mut lines).is_ok() {
        use std::io::Write;
        // A lost metrics line must never fail the invocation.
        let _ = std::io::stdout().lock().write_all(&lines);
    }
}

/// The first invocation of a process.
pub fn cold_start() {
    counter!(COLD_START).increment(1);
}

/// Every answered request, by status class, and every refusal by its stable code.
pub fn request(status: StatusCode, error_code: Option<&'static str>) {
    let class = match status.as_u16() {
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    counter!(REQUESTS, "status_class" => class).increment(1);
    if let Some(code) = error_code {
        counter!(ERRORS, "code" => code).increment(1);
    }
}

/// A token issued: `form` is `get` or `post` (LiveKit's standard endpoint), `caller` the
/// kind of caller (`anonymous`, `user`, `client`, or `guest`: a room link redeemed).
pub fn token_issued(form: &'static str, caller: &'static str) {
    counter!(TOKENS_ISSUED, "form" => form, "caller" => caller).increment(1);
}

/// How long loading the credentials from SSM took, retries included.
pub fn credential_fetch(elapsed: Duration) {
    histogram!(CREDENTIAL_FETCH_TIME).record(elapsed.as_secs_f64() * 1000.0);
}

/// One failed GetParameters call: `throttled` (SSM's rate limit) or `failed`.
pub fn credential_failure(throttled: bool) {
    counter!(CREDENTIAL_FETCH_FAILURES, "reason" => if throttled { "throttled" } else { "failed" }).increment(1);
}

/// A verified webhook event, by LiveKit's event name.
pub fn webhook_event(event: &str) {
    counter!(WEBHOOK_EVENTS, "event" => webhook_event_label(event)).increment(1);
}

/// The dimension value for an event name: LiveKit's own names, anything else `other`, so a
/// hostile or future name never becomes a new metric.
fn webhook_event_label(event: &str) -> &'static str {
    crate::events::WEBHOOK_EVENTS.iter().find(|known| **known == event).copied().unwrap_or("other")
}

/// A delivery whose signature, body hash or key did not verify.
pub fn webhook_verification_failure() {
    counter!(WEBHOOK_VERIFICATION_FAILURES).increment(1);
}

/// A redelivery answered without acting again.
pub fn webhook_duplicate() {
    counter!(WEBHOOK_DUPLICATES).increment(1);
}

/// A failed LiveKit server API call, by method (`RoomService.SendData`, …).
pub fn livekit_api_error(method: &'static str) {
    counter!(LIVEKIT_API_ERRORS, "method" => method).increment(1);
}

/// The transcriber agent dispatched to a room.
pub fn subtitle_dispatch() {
    counter!(SUBTITLE_DISPATCHES).increment(1);
}

/// A request refused by a per-identity rate limit.
pub fn rate_limited() {
    counter!(RATE_LIMITED).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_event_names_are_a_closed_set() {
        assert_eq!(webhook_event_label("room_started"), "room_started");
        assert_eq!(webhook_event_label("egress_ended"), "egress_ended");
        assert_eq!(webhook_event_label("agent_job_ended"), "agent_job_ended");
        assert_eq!(webhook_event_label("room_started\"; drop"), "other");
        assert_eq!(webhook_event_label(""), "other");
    }

    #[test]
    fn the_contract_names_each_metric_once() {
        let mut names: Vec<_> = METRICS.iter().map(|(name, _, _)| *name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), METRICS.len());
    }
}
