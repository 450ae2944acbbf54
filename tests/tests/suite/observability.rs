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

#[tokio::test]
async fn the_token_generator_counts_what_it_did_in_emf_and_tags_every_line() {
    let moto = MotoServer::start();
    let prefix = "/observability/token-generator";
    moto.put_livekit(prefix, TOKEN_KEY, TOKEN_SECRET, "https://lk.example.com").await;
    let api = RuntimeApi::start().await;
    let started = now_ms();
    let child = spawn(
        "token-generator",
        &api.address(),
        &[
            ("LIVEKIT_SSM_PREFIX", prefix.into()),
            ("AWS_ENDPOINT_URL", moto.endpoint()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("POWERTOOLS_METRICS_NAMESPACE", NAMESPACE.into()),
        ],
    );
    let events = workspace_root().join("events");
    let plan = [("token-get.json", 5, 200), ("token-post-standard.json", 3, 201), ("token-bad-room.json", 2, 400)];
    let mut requests = Vec::new();
    let mut tokens = Vec::new();
    for (sample, count, status) in plan {
        for n in 0..count {
            let correlation = format!("{sample}-{n}");
            let event = with_request_id(read_event(&events.join(sample)), &correlation);
            let (id, outcome) = api.invoke_with_id(event, Duration::from_secs(30)).await;
            let reply = response(outcome);
            assert_eq!(reply["statusCode"], status, "{sample}: {reply}");
            let body: Value = serde_json::from_str(reply["body"].as_str().unwrap()).unwrap();
            for field in ["token", "participant_token"] {
                if let Some(token) = body[field].as_str() {
                    tokens.push(token.to_string());
                }
            }
            requests.push((id, correlation));
        }
    }
    let mut child = child;
    child.kill().ok();
    let output = logs(child);
    let (emf, log_lines) = split(&output);
    let data: Vec<Datum> = emf.iter().flat_map(|line| emf_data(line, "token-generator", (started, now_ms()))).collect();

    assert_eq!(total(&data, "ColdStart", &[]), 1.0, "one cold start per process");
    assert_eq!(total(&data, "TokensIssued", &[("form", "get"), ("caller", "anonymous")]), 5.0);
    assert_eq!(total(&data, "TokensIssued", &[("form", "post"), ("caller", "anonymous")]), 3.0);
    assert_eq!(total(&data, "TokensIssued", &[]), 8.0, "one per token issued, none for a refusal");
    assert_eq!(total(&data, "Requests", &[("status_class", "2xx")]), 8.0);
    assert_eq!(total(&data, "Requests", &[("status_class", "4xx")]), 2.0);
    let refusal_code = {
        let errors: Vec<&Datum> = data.iter().filter(|d| d.name == "Errors").collect();
        assert_eq!(errors.iter().flat_map(|d| d.values.iter()).sum::<f64>(), 2.0, "{errors:?}");
        errors[0].dimensions["code"].clone()
    };
    assert_eq!(refusal_code, "invalid_room", "errors by their stable code");
    let fetches: Vec<&Datum> = data.iter().filter(|d| d.name == "CredentialFetchTime").collect();
    assert_eq!(fetches.iter().map(|d| d.values.len()).sum::<usize>(), 1, "one SSM fetch, timed: {fetches:?}");
    assert_eq!(total(&data, "CredentialFetchFailures", &[]), 0.0);

    // One flush per invocation, each line tagged with its own request.
    let ids: Vec<&str> = requests.iter().map(|(id, _)| id.as_str()).collect();
    for datum in &data {
        assert!(ids.contains(&datum.request_id.as_str()), "{datum:?}");
    }
    for line in &emf {
        let id = line["function_request_id"].as_str().unwrap();
        assert_eq!(line["xray_trace_id"], trace_id(id).as_str(), "{line}");
    }
    let cold: Vec<&Datum> = data.iter().filter(|d| d.name == "ColdStart").collect();
    assert_eq!(cold[0].request_id, requests[0].0, "the cold start is the first invocation's");

    check_request_lines(&log_lines, "token-generator", &requests);
    assert!(!output.contains(TOKEN_SECRET), "the API secret appeared in the output");
    for token in &tokens {
        assert!(!output.contains(token.as_str()), "an issued token appeared in the output");
    }
}

#[tokio::test]
async fn the_webhook_receiver_counts_events_forgeries_and_duplicates() {
    let moto = MotoServer::start();
    let livekit = TwirpTestServer::start(DEV_KEY, DEV_SECRET).await;
    livekit.add_room("demo-room", &["jane-1"]).await;
    let prefix = "/observability/webhook-receiver";
    moto.put_livekit(prefix, DEV_KEY, DEV_SECRET, "https://lk.example.com").await;
    moto.put(&format!("{prefix}/api-url"), &livekit.url(), aws_sdk_ssm::types::ParameterType::SecureString).await;
    let api = RuntimeApi::start().await;
    let started = now_ms();
    let child = spawn(
        "webhook-receiver",
        &api.address(),
        &[
            ("LIVEKIT_SSM_PREFIX", prefix.into()),
            ("AWS_ENDPOINT_URL", moto.endpoint()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("POWERTOOLS_METRICS_NAMESPACE", NAMESPACE.into()),
        ],
    );
    let events = workspace_root().join("events");
    let plan = [
        ("webhook-participant-joined.json", 2, 200),
        ("webhook-egress-limit-reached.json", 2, 200),
        ("webhook-bad-signature.json", 1, 401),
    ];
    let mut requests = Vec::new();
    let mut authorizations = Vec::new();
    for (sample, count, status) in plan {
        for n in 0..count {
            let correlation = format!("{sample}-{n}");
            let event = with_request_id(read_event(&events.join(sample)), &correlation);
            authorizations.push(event["headers"]["authorization"].as_str().unwrap_or_default().to_string());
            let (id, outcome) = api.invoke_with_id(event, Duration::from_secs(30)).await;
            let reply = response(outcome);
            assert_eq!(reply["statusCode"], status, "{sample}: {reply}");
            requests.push((id, correlation));
        }
    }
    let mut child = child;
    child.kill().ok();
    let output = logs(child);
    let (emf, log_lines) = split(&output);
    let data: Vec<Datum> =
        emf.iter().flat_map(|line| emf_data(line, "webhook-receiver", (started, now_ms()))).collect();

    assert_eq!(total(&data, "ColdStart", &[]), 1.0);
    assert_eq!(total(&data, "WebhookEvents", &[("event", "participant_joined")]), 2.0);
    assert_eq!(total(&data, "WebhookEvents", &[("event", "egress_updated")]), 2.0);
    assert_eq!(total(&data, "WebhookVerificationFailures", &[]), 1.0, "one forged delivery");
    assert_eq!(total(&data, "WebhookDuplicates", &[]), 1.0, "the redelivered limit notice");
    assert_eq!(total(&data, "Errors", &[("code", "invalid_signature")]), 1.0);
    assert_eq!(total(&data, "Requests", &[("status_class", "2xx")]), 4.0);
    assert_eq!(total(&data, "LiveKitApiErrors", &[]), 0.0);
    assert_eq!(livekit.calls_to("SendData").await.len(), 1);

    check_request_lines(&log_lines, "webhook-receiver", &requests);
    for authorization in authorizations {
        assert!(!output.contains(&authorization), "a webhook Authorization header appeared in the output");
    }
}
