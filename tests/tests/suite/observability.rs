//! What an operator sees in CloudWatch, from the real bootstraps through the loopback
//! Runtime API: the EMF lines are checked against the Embedded Metric Format
//! specification and counted against the requests that were made, and every log line
//! carries the Powertools keys with the request id and trace id the Runtime API handed
//! over. Nothing secret appears in either.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use livekit_lambda_shared::metrics::METRICS;
use serde_json::Value;
use wire_tests::livekit_server::TwirpTestServer;
use wire_tests::runtime_api::{trace_id, RuntimeApi};
use wire_tests::{workspace_root, MotoServer};

use crate::bootstrap::{logs, read_event, response, spawn, DEV_KEY, DEV_SECRET, TOKEN_KEY, TOKEN_SECRET};

const NAMESPACE: &str = "LiveKitLambdaTest";

/// The units the EMF specification allows (CloudWatch's `StandardUnit`).
const EMF_UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// The keys Powertools for AWS Lambda puts on every line of an invocation.
const POWERTOOLS_KEYS: &[&str] = &[
    "level",
    "message",
    "timestamp",
    "service",
    "cold_start",
    "function_name",
    "function_memory_size",
    "function_arn",
    "function_request_id",
    "xray_trace_id",
    "correlation_id",
];

/// One metric value read from an EMF line.
#[derive(Debug)]
struct Datum {
    name: String,
    dimensions: BTreeMap<String, String>,
    values: Vec<f64>,
    request_id: String,
}

/// Checks one EMF line against the specification and the metric contract
/// (`shared::metrics::METRICS`) and returns its values.
fn emf_data(line: &Value, service: &str, window: (u64, u64)) -> Vec<Datum> {
    let aws = &line["_aws"];
    let timestamp = aws["Timestamp"].as_u64().unwrap_or_else(|| panic!("_aws.Timestamp is epoch ms: {line}"));
    assert!(timestamp >= window.0 && timestamp <= window.1, "Timestamp {timestamp} outside the run: {line}");
    let directives = aws["CloudWatchMetrics"].as_array().unwrap_or_else(|| panic!("CloudWatchMetrics: {line}"));
    assert!(!directives.is_empty(), "{line}");
    let request_id = line["function_request_id"].as_str().unwrap_or_else(|| panic!("request id: {line}")).to_string();
    let mut data = Vec::new();
    for directive in directives {
        assert_eq!(directive["Namespace"], NAMESPACE, "{line}");
        let dimension_sets = directive["Dimensions"].as_array().unwrap_or_else(|| panic!("Dimensions: {line}"));
        let metrics = directive["Metrics"].as_array().unwrap_or_else(|| panic!("Metrics: {line}"));
        assert!(!metrics.is_empty() && metrics.len() <= 100, "1 to 100 metrics per directive: {line}");
        for set in dimension_sets {
            let set = set.as_array().unwrap_or_else(|| panic!("a dimension set is an array: {line}"));
            assert!(set.len() <= 30, "at most 30 dimensions: {line}");
            let names: Vec<&str> = set.iter().map(|d| d.as_str().expect("dimension names are strings")).collect();
            let dimensions: BTreeMap<String, String> = names
                .iter()
                .map(|name| {
                    let value =
                        line[*name].as_str().unwrap_or_else(|| panic!("dimension {name} has a string value: {line}"));
                    (name.to_string(), value.to_string())
                })
                .collect();
            assert_eq!(dimensions["service"], service, "{line}");
            for metric in metrics {
                let name = metric["Name"].as_str().unwrap_or_else(|| panic!("metric Name: {line}"));
                let unit = metric["Unit"].as_str().unwrap_or_else(|| panic!("{name} has a unit: {line}"));
                assert!(EMF_UNITS.contains(&unit), "{name}: {unit} is not an EMF unit");
                let (_, contract_unit, labels) = METRICS
                    .iter()
                    .find(|(contract, _, _)| *contract == name)
                    .unwrap_or_else(|| panic!("{name} is not in shared::metrics::METRICS"));
                assert_eq!(unit, format!("{contract_unit:?}"), "{name}'s unit");
                let mut expected: Vec<&str> = labels.to_vec();
                expected.push("service");
                expected.sort();
                let mut actual = names.clone();
                actual.sort();
                assert_eq!(actual, expected, "{name}'s dimensions");
                let values = match &line[name] {
                    Value::Number(n) => vec![n.as_f64().unwrap()],
                    Value::Array(items) => items.iter().map(|v| v.as_f64().expect("numeric values")).collect(),
                    other => panic!("{name} has no value ({other}): {line}"),
                };
                data.push(Datum {
                    name: name.to_string(),
                    dimensions: dimensions.clone(),
                    values,
                    request_id: request_id.clone(),
                });
            }
        }
    }
    data
}

/// The sum of a metric's values where the given dimensions match.
fn total(data: &[Datum], name: &str, dimensions: &[(&str, &str)]) -> f64 {
    data.iter()
        .filter(|d| {
            d.name == name && dimensions.iter().all(|(k, v)| d.dimensions.get(*k).map(String::as_str) == Some(*v))
        })
        .flat_map(|d| d.values.iter())
        .sum()
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

/// A process's output, split into EMF lines and log lines (every line is JSON).
fn split(output: &str) -> (Vec<Value>, Vec<Value>) {
    let lines: Vec<Value> = output
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("every line is JSON: {l}")))
        .collect();
    lines.into_iter().partition(|line| line.get("_aws").is_some())
}

/// What every request's log line must say, for the requests made (id → API Gateway
/// request id).
fn check_request_lines(logs: &[Value], service: &str, requests: &[(String, String)]) {
    let request_lines: Vec<&Value> = logs.iter().filter(|l| l["message"] == "request").collect();
    assert_eq!(request_lines.len(), requests.len(), "one request line per invocation: {request_lines:?}");
    for (index, (request_id, correlation_id)) in requests.iter().enumerate() {
        let line = request_lines
            .iter()
            .find(|l| l["function_request_id"] == request_id.as_str())
            .unwrap_or_else(|| panic!("no request line for {request_id}"));
        for key in POWERTOOLS_KEYS {
            assert!(line.get(*key).is_some(), "{key} missing from {line}");
        }
        assert_eq!(line["service"], service);
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["function_name"], service, "AWS_LAMBDA_FUNCTION_NAME");
        assert_eq!(line["function_memory_size"], 128);
        assert_eq!(line["xray_trace_id"], trace_id(request_id).as_str(), "{line}");
        assert_eq!(line["correlation_id"], correlation_id.as_str(), "{line}");
        assert_eq!(line["cold_start"], index == 0, "only the first invocation is a cold start: {line}");
        let timestamp = line["timestamp"].as_str().unwrap();
        assert!(timestamp.ends_with('Z') && timestamp.contains('T'), "RFC 3339 UTC: {timestamp}");
    }
}

fn with_request_id(mut event: Value, id: &str) -> Value {
    event["requestContext"]["requestId"] = Value::from(id);
    event
}

/// What one bootstrap printed while it answered a plan of sample events.
struct Observed {
    output: String,
    emf: Vec<Value>,
    data: Vec<Datum>,
    /// (Runtime API request id, API Gateway request id) of each invocation, in order.
    requests: Vec<(String, String)>,
    replies: Vec<Value>,
}

/// Starts `binary` with its parameters under `prefix` on moto, sends each sample of `plan`
/// (file, how many times) with its own API Gateway request id, stops the process and
/// reads what it printed.
async fn observe(
    binary: &str,
    moto: &MotoServer,
    prefix: &str,
    env: &[(&str, String)],
    plan: &[(&str, usize)],
) -> Observed {
    let api = RuntimeApi::start().await;
    let started = now_ms();
    let mut process_env = vec![
        ("LIVEKIT_SSM_PREFIX", prefix.to_string()),
        ("AWS_ENDPOINT_URL", moto.endpoint()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("POWERTOOLS_METRICS_NAMESPACE", NAMESPACE.into()),
    ];
    process_env.extend(env.iter().cloned());
    let mut child = spawn(binary, &api.address(), &process_env);
    let events = workspace_root().join("events");
    let (mut requests, mut replies) = (Vec::new(), Vec::new());
    for (sample, count) in plan {
        for n in 0..*count {
            let correlation = format!("{sample}-{n}");
            let event = with_request_id(read_event(&events.join(sample)), &correlation);
            let (id, outcome) = api.invoke_with_id(event, Duration::from_secs(30)).await;
            replies.push(response(outcome));
            requests.push((id, correlation));
        }
    }
    child.kill().ok();
    let output = logs(child);
    let (emf, log_lines) = split(&output);
    let data: Vec<Datum> = emf.iter().flat_map(|line| emf_data(line, binary, (started, now_ms()))).collect();

    // Common to every function: one cold start, the first invocation's; each EMF line
    // tagged with its own request and trace; one request log line per invocation.
    assert_eq!(total(&data, "ColdStart", &[]), 1.0, "{binary}: one cold start per process");
    let cold = data.iter().find(|d| d.name == "ColdStart").unwrap();
    assert_eq!(cold.request_id, requests[0].0, "{binary}: the cold start is the first invocation's");
    let ids: Vec<&str> = requests.iter().map(|(id, _)| id.as_str()).collect();
    for line in &emf {
        let id = line["function_request_id"].as_str().unwrap();
        assert!(ids.contains(&id), "{binary}: {line}");
        assert_eq!(line["xray_trace_id"], trace_id(id).as_str(), "{line}");
    }
    check_request_lines(&log_lines, binary, &requests);
    let statuses =
        |class: u64| replies.iter().filter(|r| r["statusCode"].as_u64().unwrap() / 100 == class).count() as f64;
    assert_eq!(total(&data, "Requests", &[("status_class", "2xx")]), statuses(2), "{binary}");
    assert_eq!(total(&data, "Requests", &[("status_class", "4xx")]), statuses(4), "{binary}");
    assert_eq!(total(&data, "Requests", &[("status_class", "5xx")]), statuses(5), "{binary}");
    assert_eq!(total(&data, "Errors", &[]), statuses(4) + statuses(5), "{binary}: every refusal has its code");
    Observed { output, emf, data, requests, replies }
}

/// The dev credentials (which sign the sample webhooks and subtitle tokens) under
/// `prefix`, with LiveKit's API at `api_url`.
async fn put_dev_credentials(moto: &MotoServer, prefix: &str, api_url: &str) {
    moto.put_livekit(prefix, DEV_KEY, DEV_SECRET, "https://lk.example.com").await;
    moto.put(&format!("{prefix}/api-url"), api_url, aws_sdk_ssm::types::ParameterType::SecureString).await;
}

fn status_of(reply: &Value) -> u64 {
    reply["statusCode"].as_u64().unwrap()
}

#[tokio::test]
async fn the_token_generator_counts_what_it_did_in_emf_and_tags_every_line() {
    let moto = MotoServer::start();
    let prefix = "/observability/token-generator";
    moto.put_livekit(prefix, TOKEN_KEY, TOKEN_SECRET, "https://lk.example.com").await;
    let plan = [("token-get.json", 5), ("token-post-standard.json", 3), ("token-bad-room.json", 2)];
    let run = observe("token-generator", &moto, prefix, &[], &plan).await;
    let statuses: Vec<u64> = run.replies.iter().map(status_of).collect();
    assert_eq!(statuses, [200, 200, 200, 200, 200, 201, 201, 201, 400, 400]);

    let data = &run.data;
    assert_eq!(total(data, "TokensIssued", &[("form", "get"), ("caller", "anonymous")]), 5.0);
    assert_eq!(total(data, "TokensIssued", &[("form", "post"), ("caller", "anonymous")]), 3.0);
    assert_eq!(total(data, "TokensIssued", &[]), 8.0, "one per token issued, none for a refusal");
    assert_eq!(total(data, "Errors", &[("code", "invalid_room")]), 2.0, "errors by their stable code");
    let fetches: Vec<&Datum> = data.iter().filter(|d| d.name == "CredentialFetchTime").collect();
    assert_eq!(fetches.iter().map(|d| d.values.len()).sum::<usize>(), 1, "one SSM fetch, timed: {fetches:?}");
    assert_eq!(fetches[0].request_id, run.requests[0].0, "the init phase's fetch goes out with the first flush");
    assert_eq!(total(data, "CredentialFetchFailures", &[]), 0.0);
    assert!(run.emf.len() >= run.requests.len(), "at least one EMF line per invocation");

    assert!(!run.output.contains(TOKEN_SECRET), "the API secret appeared in the output");
    for reply in &run.replies {
        let body: Value = serde_json::from_str(reply["body"].as_str().unwrap()).unwrap();
        for token in [&body["token"], &body["participant_token"]].into_iter().filter_map(Value::as_str) {
            assert!(!run.output.contains(token), "an issued token appeared in the output");
        }
    }
}

#[tokio::test]
async fn the_webhook_receiver_counts_events_forgeries_and_duplicates() {
    let moto = MotoServer::start();
    let livekit = TwirpTestServer::start(DEV_KEY, DEV_SECRET).await;
    livekit.add_room("demo-room", &["jane-1"]).await;
    let prefix = "/observability/webhook-receiver";
    put_dev_credentials(&moto, prefix, &livekit.url()).await;
    let plan = [
        ("webhook-participant-joined.json", 2),
        ("webhook-egress-limit-reached.json", 2),
        ("webhook-bad-signature.json", 1),
    ];
    let run = observe("webhook-receiver", &moto, prefix, &[], &plan).await;
    let statuses: Vec<u64> = run.replies.iter().map(status_of).collect();
    assert_eq!(statuses, [200, 200, 200, 200, 401]);

    let data = &run.data;
    assert_eq!(total(data, "WebhookEvents", &[("event", "participant_joined")]), 2.0);
    assert_eq!(total(data, "WebhookEvents", &[("event", "egress_updated")]), 2.0);
    assert_eq!(total(data, "WebhookEvents", &[]), 4.0, "a forgery is not an event");
    assert_eq!(total(data, "WebhookVerificationFailures", &[]), 1.0, "one forged delivery");
    assert_eq!(total(data, "WebhookDuplicates", &[]), 1.0, "the redelivered limit notice");
    assert_eq!(total(data, "Errors", &[("code", "invalid_signature")]), 1.0);
    assert_eq!(total(data, "LiveKitApiErrors", &[]), 0.0);
    assert_eq!(livekit.calls_to("SendData").await.len(), 1);

    for (sample, _) in plan {
        let event = read_event(&workspace_root().join("events").join(sample));
        let authorization = event["headers"]["authorization"].as_str().unwrap();
        assert!(!run.output.contains(authorization), "{sample}: the Authorization header appeared in the output");
    }
}

#[tokio::test]
async fn the_subtitle_dispatcher_counts_dispatches_rate_limits_and_livekit_errors() {
    let moto = MotoServer::start();
    let livekit = TwirpTestServer::start(DEV_KEY, DEV_SECRET).await;
    livekit.add_room("demo-room", &["jane-1"]).await;
    let prefix = "/observability/subtitle-dispatcher";
    put_dev_credentials(&moto, prefix, &livekit.url()).await;
    let env = [
        ("SUBTITLE_AGENT_NAME", "transcriber".to_string()),
        ("SUBTITLE_LANGUAGES", "en".to_string()),
        ("SUBTITLE_REQUESTS_PER_MINUTE", "1".to_string()),
    ];
    // One request a minute: of three within a second at least one is refused, whichever
    // side of a minute boundary they fall.
    let run = observe("subtitle-dispatcher", &moto, prefix, &env, &[("subtitles-start.json", 3)]).await;
    let statuses: Vec<u64> = run.replies.iter().map(status_of).collect();
    let limited = statuses.iter().filter(|s| **s == 429).count() as f64;
    assert!(limited >= 1.0 && statuses[0] == 201, "{statuses:?}");
    assert_eq!(total(&run.data, "SubtitleDispatches", &[]), 1.0, "one agent dispatched: {statuses:?}");
    assert_eq!(total(&run.data, "RateLimited", &[]), limited);
    assert_eq!(total(&run.data, "Errors", &[("code", "rate_limited")]), limited);

    // LiveKit unreachable: the call that failed is counted by its method, the request
    // is a 503 with its code.
    let dead = "/observability/subtitle-dispatcher-no-livekit";
    put_dev_credentials(&moto, dead, "http://127.0.0.1:9").await;
    let run = observe("subtitle-dispatcher", &moto, dead, &env, &[("subtitles-start.json", 1)]).await;
    assert_eq!(status_of(&run.replies[0]), 503, "{:?}", run.replies);
    let failed: Vec<&Datum> = run.data.iter().filter(|d| d.name == "LiveKitApiErrors").collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].dimensions["method"].contains('.'), "Service.Method: {failed:?}");
    assert_eq!(total(&run.data, "Errors", &[("code", "livekit_unavailable")]), 1.0);
    assert_eq!(total(&run.data, "SubtitleDispatches", &[]), 0.0);
}
