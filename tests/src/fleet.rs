//! The fleet simulation (issue 14, item 5): several webhook-receiver and subtitle-dispatcher
//! bootstraps side by side, each on its own loopback Runtime API as Lambda runs them,
//! sharing one DynamoDB (moto_server) and one LiveKit (the Twirp test server).
//!
//! LiveKit's behaviour is what the simulation reproduces: it delivers every event to two or
//! three containers at once (a slow answer, a retry racing the first attempt), redelivers
//! after the answer, and retries a 5xx or a lost answer with backoff like its
//! `retryablehttp` client, never a 4xx. The Twirp test server is seeded with `N`
//! "background" rooms whose dial-in rules exist (as the receiver makes them), then `M`
//! fresh meetings run one after the other: participants join (concurrently), an egress hits
//! its limit (`egress_updated` and `egress_ended` both carry `EGRESS_LIMIT_REACHED`), one
//! participant presses the subtitle button through several containers, everyone leaves,
//! the room finishes.
//!
//! Two counting proxies see every call: one in front of moto_server (by `X-Amz-Target`:
//! DynamoDB operations, and SSM's), one in front of the Twirp server (by method, with the
//! bytes answered and the rules a `ListSIPDispatchRule` returned). [`run`] measures and
//! [`FleetReport::violations`] lists every fleet property that did not hold: one notice per
//! egress, one rule per room with a unique PIN, no rule left after the room finished, the
//! subtitle limit held fleet-wide, no delivery lost, no `ListSIPDispatchRule` on a join.
//! The smoke pass is `tests/tests/suite/fleet.rs`, the full run `make fleet-sim`
//! (`bench/src/fleet.rs`).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use livekit_api::access_token::{AccessToken, VideoGrants};
use livekit_protocol as proto;
use prost::Message;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Digest;

use crate::burst::percentile;
use crate::livekit_server::TwirpTestServer;
use crate::runtime_api::{Outcome, RuntimeApi};
use crate::MotoServer;

pub const KEY: &str = "APIfleet";
pub const SECRET: &str = "fleet-secret-fleet-secret-fleet-secret-0014";
/// The inbound trunk every dial-in rule applies to (`SIP_TRUNK_ID`).
pub const TRUNK: &str = "ST_fleet";
pub const AGENT: &str = "transcriber";
/// What the receiver writes into a rule's metadata (functions/webhook-receiver/src/settings.rs).
pub const MANAGED_BY: &str = webhook_receiver::settings::MANAGED_BY;

/// Which state store the functions are told to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Store {
    /// `STATE_TABLE` unset: the in-process store, i.e. one container's memory.
    InProcess,
    /// `STATE_TABLE` set to a table on moto_server (created here: `pk` S, TTL `expires_at`).
    DynamoDb,
}

/// The two bootstraps a run starts `containers` of each.
#[derive(Clone, Debug, Default)]
pub struct Bootstraps {
    pub webhook_receiver: PathBuf,
    pub subtitle_dispatcher: PathBuf,
}

impl Bootstraps {
    /// `webhook-receiver` and `subtitle-dispatcher` in `dir` (e.g. `target/debug`).
    pub fn in_dir(dir: &Path) -> Self {
        Self { webhook_receiver: dir.join("webhook-receiver"), subtitle_dispatcher: dir.join("subtitle-dispatcher") }
    }

    pub fn check(&self) {
        for path in [&self.webhook_receiver, &self.subtitle_dispatcher] {
            assert!(
                path.exists(),
                "{} does not exist: cargo build -p webhook-receiver -p subtitle-dispatcher",
                path.display()
            );
        }
    }
}

/// How the simulated LiveKit retries a delivery that got a 5xx or no answer (its webhook
/// client is `retryablehttp`: a few retries, exponential backoff; a 4xx is final). The
/// backoff is scaled down from LiveKit's 1–30 s so a run takes minutes, not hours.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Retry {
    /// Attempts in all (LiveKit: 1 + 4 retries).
    pub attempts: u32,
    pub base_ms: u64,
    pub cap_ms: u64,
}

impl Default for Retry {
    fn default() -> Self {
        Self { attempts: 5, base_ms: 100, cap_ms: 1600 }
    }
}

/// One run of the simulation. Its report records it (without this machine's paths and
/// settings: those fields are not serialised, and read back as their defaults).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FleetConfig {
    /// For the report: e.g. "before (today's code)" or "after".
    pub label: String,
    #[serde(skip)]
    pub bootstraps: Bootstraps,
    pub store: Store,
    /// `K`: webhook-receiver containers, and as many subtitle-dispatcher containers.
    pub containers: usize,
    /// `N`: rooms whose dial-in rules exist before the measured meetings start.
    pub background_rooms: usize,
    /// `M`: measured meetings, one after the other.
    pub meetings: usize,
    pub participants: usize,
    /// Each event goes to this many containers at once at most (2 or 3, never more than K).
    pub copies: usize,
    /// Deliveries of each event again after it was answered.
    pub redeliveries: usize,
    /// Subtitle requests per meeting, from one identity, spread over every container.
    #[serde(default)]
    pub subtitle_requests: usize,
    /// `SUBTITLE_REQUESTS_PER_MINUTE` (per identity).
    pub subtitle_limit: u32,
    pub retry: Retry,
    /// Per invocation: no answer within this long counts as a lost answer (retried).
    #[serde(skip)]
    pub answer_timeout: Duration,
    #[serde(skip)]
    pub log_dir: PathBuf,
    /// Seeds the choice of containers per delivery (the run is reproducible).
    #[serde(default)]
    pub seed: u64,
    /// More environment for every process.
    #[serde(skip)]
    pub env: Vec<(String, String)>,
}

impl FleetConfig {
    /// The defaults of `make fleet-sim` for one size: K = 3, 5 meetings of 4.
    pub fn new(label: &str, bootstraps: Bootstraps, store: Store, background_rooms: usize, log_dir: PathBuf) -> Self {
        Self {
            label: label.into(),
            bootstraps,
            store,
            containers: 3,
            background_rooms,
            meetings: 5,
            participants: 4,
            copies: 3,
            redeliveries: 1,
            subtitle_requests: 9,
            subtitle_limit: 3,
            retry: Retry::default(),
            answer_timeout: Duration::from_secs(30),
            log_dir,
            seed: 14,
            env: Vec::new(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Counting proxies

/// What one operation (an `X-Amz-Target`, or a Twirp method) cost.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct OpCount {
    pub calls: u64,
    /// Answers with a status >= 400 (a failed condition in DynamoDB is a 400).
    pub errors: u64,
    pub response_bytes: u64,
    /// Rules in `ListSIPDispatchRule` answers.
    pub items: u64,
}

type Counts = BTreeMap<String, OpCount>;

#[derive(Clone, Copy)]
enum Protocol {
    /// AWS JSON: the operation is the `X-Amz-Target` header.
    Aws,
    /// LiveKit Twirp: `/twirp/livekit.<Service>/<Method>`.
    Twirp,
}

/// An HTTP proxy on loopback that forwards everything to `target_port` and counts it.
pub struct CountingProxy {
    pub port: u16,
    counts: Arc<Mutex<Counts>>,
}

impl CountingProxy {
    async fn start(target_port: u16, protocol: Protocol) -> Self {
        let counts = Arc::new(Mutex::new(Counts::new()));
        let handler_counts = counts.clone();
        let port = crate::serve_loopback(move |request: Request<Incoming>| {
            let counts = handler_counts.clone();
            async move { Ok::<_, Infallible>(forward(request, target_port, protocol, &counts).await) }
        })
        .await;
        Self { port, counts }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn snapshot(&self) -> Counts {
        self.counts.lock().expect("counts").clone()
    }
}

fn operation(protocol: Protocol, request: &Request<Incoming>) -> String {
    match protocol {
        Protocol::Aws => request
            .headers()
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .unwrap_or_else(|| format!("{} {}", request.method(), request.uri().path())),
        Protocol::Twirp => request.uri().path().trim_start_matches("/twirp/livekit.").replacen('/', ".", 1).to_string(),
    }
}

/// Rules in a `ListSIPDispatchRule` answer (protobuf or JSON).
fn rules_in(body: &[u8], json: bool) -> u64 {
    let decoded = if json {
        serde_json::from_slice::<proto::ListSipDispatchRuleResponse>(body).ok()
    } else {
        proto::ListSipDispatchRuleResponse::decode(body).ok()
    };
    decoded.map_or(0, |r| r.items.len() as u64)
}

async fn forward(
    request: Request<Incoming>,
    target_port: u16,
    protocol: Protocol,
    counts: &Mutex<Counts>,
) -> Response<Full<Bytes>> {
    let op = operation(protocol, &request);
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let upstream = async {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", target_port)).await.map_err(|e| e.to_string())?;
        let _ = stream.set_nodelay(true);
        let (mut sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        let mut builder = Request::builder()
            .method(parts.method.clone())
            .uri(parts.uri.clone())
            .header("host", format!("127.0.0.1:{target_port}"));
        for (name, value) in &parts.headers {
            if !matches!(name.as_str(), "host" | "connection" | "transfer-encoding" | "content-length") {
                builder = builder.header(name, value);
            }
        }
        let request = builder.body(Full::new(body)).map_err(|e| e.to_string())?;
        let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok::<_, String>((parts, body))
    };
    let (status, headers, body) = match upstream.await {
        Ok((parts, body)) => (parts.status, parts.headers, body),
        Err(error) => {
            let mut headers = hyper::HeaderMap::new();
            headers.insert("content-type", "text/plain".parse().expect("header"));
            (hyper::StatusCode::BAD_GATEWAY, headers, Bytes::from(format!("proxy: {error}")))
        }
    };
    {
        let mut counts = counts.lock().expect("counts");
        let count = counts.entry(op.clone()).or_default();
        count.calls += 1;
        count.errors += u64::from(status.as_u16() >= 400);
        count.response_bytes += body.len() as u64;
        if op == "SIP.ListSIPDispatchRule" && status.is_success() {
            let json = headers.get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("json"));
            count.items += rules_in(&body, json);
        }
    }
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    for (name, value) in &headers {
        if !matches!(name.as_str(), "content-length" | "connection" | "transfer-encoding") {
            response.headers_mut().append(name, value.clone());
        }
    }
    response
}

/// `after - before`, per operation (operations that did not move are left out).
fn delta(before: &Counts, after: &Counts) -> Counts {
    after
        .iter()
        .filter_map(|(op, a)| {
            let b = before.get(op).cloned().unwrap_or_default();
            let d = OpCount {
                calls: a.calls - b.calls,
                errors: a.errors - b.errors,
                response_bytes: a.response_bytes - b.response_bytes,
                items: a.items - b.items,
            };
            (d.calls > 0).then(|| (op.clone(), d))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// The fleet: processes, their Runtime APIs, LiveKit and the store

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One delivery attempt as the simulated client saw it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Attempt {
    /// `participant_joined`, …, or `subtitles`.
    pub kind: String,
    pub container: usize,
    /// `None`: no answer within the timeout (or an invocation error).
    pub status: Option<u16>,
    /// `status` of a 2xx webhook answer (`ok`, `duplicate`, `ignored`), or the error code.
    pub outcome: String,
    pub retry_after: Option<String>,
    pub millis: f64,
}

struct Fleet {
    webhook: Vec<Arc<RuntimeApi>>,
    subtitles: Vec<Arc<RuntimeApi>>,
    _processes: Vec<Running>,
    timeout: Duration,
    retry: Retry,
    attempts: Mutex<Vec<Attempt>>,
}

fn spawn(
    binary: &Path,
    name: &str,
    index: usize,
    runtime_api: &str,
    env: &[(String, String)],
    log_dir: &Path,
) -> Running {
    let log = log_dir.join(format!("{name}-{index}.log"));
    let file = File::create(&log).unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
    let mut command = Command::new(binary);
    // Only what Lambda would set: no profile files or credentials from this machine.
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TZ", ":UTC")
        .env("_HANDLER", "bootstrap")
        .env("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023")
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", format!("fleet-{name}"))
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/fleet-{name}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", format!("2026/11/29/[$LATEST]{index:04}"))
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .stdin(Stdio::null())
        .stdout(Stdio::from(file.try_clone().expect("log file")))
        .stderr(Stdio::from(file));
    for (key, value) in env {
        command.env(key, value);
    }
    Running(command.spawn().unwrap_or_else(|e| panic!("start {}: {e}", binary.display())))
}

/// A small deterministic generator (xorshift64*): which containers get a delivery.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// `count` distinct indices below `n`.
    fn distinct(&mut self, n: usize, count: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            all.swap(i, self.below(i + 1));
        }
        all.truncate(count.min(n));
        all
    }
}

fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

/// An API Gateway HTTP API (payload 2.0) event, shaped like the `events/` samples.
fn api_event(method: &str, path: &str, route_key: &str, headers: Value, body: &str) -> Value {
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "fleet00001",
            "domainName": "fleet00001.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "fleet00001",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "198.51.100.7", "userAgent": "LiveKit"},
            "requestId": format!("fleet-{}", now_unix()),
            "routeKey": route_key,
            "stage": "$default",
            "time": "29/Nov/2026:12:00:00 +0000",
            "timeEpoch": now_unix() * 1000,
        },
        "body": body,
        "isBase64Encoded": false,
    });
    if let Some(room) = path.strip_prefix("/rooms/").and_then(|p| p.strip_suffix("/subtitles")) {
        event["pathParameters"] = json!({"room": room});
    }
    event
}

/// Signs a webhook body as LiveKit does: an HS256 JWT from the API key, with `sha256` =
/// base64 of the body's SHA-256 (livekit-token's `AccessToken`, 5 minutes).
pub fn sign(body: &str) -> String {
    let digest = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(body.as_bytes()));
    AccessToken::with_api_key(KEY, SECRET)
        .with_ttl(Duration::from_secs(300))
        .with_sha256(&digest)
        .to_jwt()
        .expect("sign a webhook")
}

/// A participant's LiveKit token (what the subtitle button sends).
pub fn participant_token(room: &str, identity: &str) -> String {
    AccessToken::with_api_key(KEY, SECRET)
        .with_identity(identity)
        .with_grants(VideoGrants { room_join: true, room: room.into(), ..Default::default() })
        .to_jwt()
        .expect("participant token")
}

fn webhook_event(body: &str) -> Value {
    let headers = json!({
        "authorization": sign(body),
        "content-type": "application/webhook+json",
        "content-length": body.len().to_string(),
        "host": "fleet00001.execute-api.us-east-1.amazonaws.com",
        "user-agent": "LiveKit",
    });
    api_event("POST", "/webhook", "ANY /webhook", headers, body)
}

impl Fleet {
    async fn invoke(&self, api: &RuntimeApi, kind: &str, container: usize, event: Value) -> Attempt {
        let started = Instant::now();
        let outcome = api.try_invoke(event, self.timeout).await;
        let millis = started.elapsed().as_secs_f64() * 1000.0;
        let mut attempt = Attempt {
            kind: kind.into(),
            container,
            status: None,
            outcome: "no answer".into(),
            retry_after: None,
            millis,
        };
        match outcome {
            Some(Outcome::Response(reply)) => {
                attempt.status = reply["statusCode"].as_u64().map(|s| s as u16);
                attempt.retry_after = reply["headers"]["retry-after"].as_str().map(String::from);
                let body: Value = serde_json::from_str(reply["body"].as_str().unwrap_or("null")).unwrap_or(Value::Null);
                attempt.outcome = body["status"]
                    .as_str()
                    .or(body["error"]["code"].as_str())
                    .map(String::from)
                    .unwrap_or_else(|| if body["created"].is_boolean() { "dispatch".into() } else { String::new() });
            }
            Some(Outcome::Error(error)) => attempt.outcome = format!("invocation error: {error}"),
            None => {}
        }
        self.attempts.lock().expect("attempts").push(attempt.clone());
        attempt
    }

    /// One copy of a delivery, retried like LiveKit's client: on a 5xx or no answer, after
    /// an exponential backoff (or the answer's `Retry-After`, within the same cap). The
    /// final attempt, or `None` if every attempt failed.
    async fn deliver_with_retries(&self, kind: &str, container: usize, event: &Value) -> Option<Attempt> {
        let api = &self.webhook[container];
        for attempt in 0..self.retry.attempts {
            let answer = self.invoke(api, kind, container, event.clone()).await;
            match answer.status {
                Some(status) if status < 500 => return Some(answer),
                _ => {}
            }
            if attempt + 1 == self.retry.attempts {
                break;
            }
            let backoff = (self.retry.base_ms << attempt).min(self.retry.cap_ms);
            let asked = answer
                .retry_after
                .as_deref()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .map_or(0, |s| (s * 1000).min(self.retry.cap_ms));
            tokio::time::sleep(Duration::from_millis(backoff.max(asked))).await;
        }
        None
    }
}

/// How one event's deliveries ended.
struct Delivered {
    /// Copies that never got a 2xx/4xx answer after every retry.
    lost: usize,
    /// Copies answered with a 4xx (LiveKit does not retry those).
    refused: usize,
}

/// Delivers one webhook body to `copies` containers at once, then `redeliveries` times
/// more, one after another, each to a container chosen at random.
async fn deliver(
    fleet: &Arc<Fleet>,
    kind: &str,
    body: &str,
    targets: Vec<usize>,
    redeliveries: Vec<usize>,
) -> Delivered {
    let event = webhook_event(body);
    let mut tasks = Vec::new();
    for container in targets {
        let (fleet, kind, event) = (fleet.clone(), kind.to_string(), event.clone());
        tasks.push(tokio::spawn(async move { fleet.deliver_with_retries(&kind, container, &event).await }));
    }
    let mut finals = Vec::new();
    for task in tasks {
        finals.push(task.await.expect("delivery task"));
    }
    for container in redeliveries {
        finals.push(fleet.deliver_with_retries(kind, container, &event).await);
    }
    Delivered {
        lost: finals.iter().filter(|f| f.is_none()).count(),
        refused: finals.iter().flatten().filter(|a| a.status.is_some_and(|s| (400..500).contains(&s))).count(),
    }
}

// ---------------------------------------------------------------------------------------
// Reports

/// What one phase of the meetings cost, per event of that phase.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PhaseCost {
    /// Distinct events (a join is one event however often it was delivered).
    pub events: usize,
    /// Deliveries, every copy and retry included.
    pub deliveries: usize,
    /// LiveKit calls that reached the Twirp server, by `Service.Method`, per event.
    pub livekit_calls: BTreeMap<String, f64>,
    pub livekit_calls_total: f64,
    /// Dispatch rules in `ListSIPDispatchRule` answers, per event.
    pub rules_listed: f64,
    /// Bytes LiveKit answered, per event.
    pub livekit_bytes: f64,
    /// DynamoDB requests by operation (`PutItem`, …), per event.
    pub store_calls: BTreeMap<String, f64>,
    pub store_calls_total: f64,
    /// Attempts' times (ms): delivery to answer, queueing in the container included.
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

#[derive(Default)]
struct PhaseAccumulator {
    events: usize,
    livekit: Counts,
    livekit_methods: BTreeMap<String, u64>,
    store: Counts,
    attempts: Vec<Attempt>,
}

impl PhaseAccumulator {
    fn add_counts(into: &mut Counts, more: &Counts) {
        for (op, count) in more {
            let entry = into.entry(op.clone()).or_default();
            entry.calls += count.calls;
            entry.errors += count.errors;
            entry.response_bytes += count.response_bytes;
            entry.items += count.items;
        }
    }

    fn cost(&self) -> PhaseCost {
        let per = |value: u64| if self.events == 0 { 0.0 } else { value as f64 / self.events as f64 };
        let livekit_calls: BTreeMap<String, f64> =
            self.livekit_methods.iter().map(|(m, c)| (m.clone(), per(*c))).collect();
        let store_calls: BTreeMap<String, f64> = self
            .store
            .iter()
            .filter_map(|(op, c)| op.strip_prefix("DynamoDB_20120810.").map(|op| (op.to_string(), per(c.calls))))
            .collect();
        let times: Vec<f64> = self.attempts.iter().map(|a| a.millis).collect();
        PhaseCost {
            events: self.events,
            deliveries: self.attempts.len(),
            livekit_calls_total: livekit_calls.values().sum::<f64>() + 0.0,
            livekit_calls,
            rules_listed: per(self.livekit.get("SIP.ListSIPDispatchRule").map_or(0, |c| c.items)),
            livekit_bytes: per(self.livekit.values().map(|c| c.response_bytes).sum()),
            store_calls_total: store_calls.values().sum::<f64>() + 0.0,
            store_calls,
            p50_ms: percentile(&times, 50.0),
            p99_ms: percentile(&times, 99.0),
            max_ms: times.iter().copied().fold(f64::NAN, f64::max),
        }
    }
}

/// The subtitle button, pressed by one identity through every container.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SubtitleOutcome {
    pub room: String,
    pub requests: usize,
    /// Answers other than 429 (201 dispatched, 200 already running, or an error).
    pub not_limited: usize,
    pub limited: usize,
    pub limited_without_retry_after: usize,
    /// Answers that were neither 2xx nor 429.
    pub errors: usize,
}

/// Everything one run measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FleetReport {
    /// The run's parameters, `copies` as used (at most `containers`).
    #[serde(flatten)]
    pub config: FleetConfig,
    /// Webhook answers by `status code outcome` (e.g. `200 ok`, `200 duplicate`, `503 event_in_progress`).
    pub webhook_answers: BTreeMap<String, usize>,
    /// Delivery copies that never got an answer LiveKit accepts, after every retry.
    pub lost_deliveries: usize,
    /// Delivery copies refused with a 4xx.
    pub refused_deliveries: usize,
    /// `SendData` recording notices per egress (one egress per meeting).
    pub notices_per_egress: Vec<usize>,
    /// Managed rules for the meeting's room once every join was answered.
    pub rules_per_room: Vec<usize>,
    /// Rules sharing a trunk and PIN with another, over every rule (background included).
    pub duplicate_pins: usize,
    /// Rooms whose metadata publishes a PIN that no rule of the room has.
    pub published_pin_mismatches: usize,
    /// Managed rules of the measured rooms left once they finished.
    pub rules_left: usize,
    /// Background rules still there at the end (must be `background_rooms`).
    pub background_rules_left: usize,
    pub subtitles: Vec<SubtitleOutcome>,
    pub per_join: PhaseCost,
    pub per_egress_event: PhaseCost,
    pub per_leave: PhaseCost,
    pub per_room_finished: PhaseCost,
    pub per_subtitle_request: PhaseCost,
    /// SSM calls over the run (one per cold start is expected).
    pub ssm_calls: u64,
    /// DynamoDB calls over the run, every phase.
    pub store_calls: u64,
    /// Items in the table at the end, by the first two segments of `pk`.
    #[serde(default)]
    pub store_items: BTreeMap<String, usize>,
    /// Of those, items without `expires_at` (kept until deleted).
    #[serde(default)]
    pub store_items_without_ttl: usize,
    pub seed_ms: f64,
    pub wall_ms: f64,
    pub violations: Vec<String>,
}

impl FleetReport {
    /// The fleet properties of issue 14 that did not hold in this run.
    fn check(&mut self) {
        let mut v = Vec::new();
        for (meeting, notices) in self.notices_per_egress.iter().enumerate() {
            if *notices != 1 {
                v.push(format!("meeting {meeting}: {notices} recording notices for one egress (want exactly 1)"));
            }
        }
        for (meeting, rules) in self.rules_per_room.iter().enumerate() {
            if *rules != 1 {
                v.push(format!("meeting {meeting}: {rules} dial-in rules for the room after the joins (want 1)"));
            }
        }
        if self.duplicate_pins > 0 {
            v.push(format!("{} rules share a trunk and PIN with another", self.duplicate_pins));
        }
        if self.published_pin_mismatches > 0 {
            v.push(format!("{} rooms publish a PIN no rule of theirs has", self.published_pin_mismatches));
        }
        if self.rules_left > 0 {
            v.push(format!("{} dial-in rules left after their rooms finished", self.rules_left));
        }
        if self.background_rules_left != self.config.background_rooms {
            v.push(format!(
                "{} of {} other rooms' rules left (a meeting must touch only its own)",
                self.background_rules_left, self.config.background_rooms
            ));
        }
        for s in &self.subtitles {
            let want = (self.config.subtitle_limit as usize).min(s.requests);
            if s.not_limited != want {
                v.push(format!(
                    "{}: {} of {} subtitle requests from one identity passed the limit of {}/min across {} containers (want {want})",
                    s.room, s.not_limited, s.requests, self.config.subtitle_limit, self.config.containers
                ));
            }
            if s.limited_without_retry_after > 0 {
                v.push(format!("{}: {} answers 429 without Retry-After", s.room, s.limited_without_retry_after));
            }
            if s.errors > 0 {
                v.push(format!("{}: {} subtitle requests failed", s.room, s.errors));
            }
        }
        if self.lost_deliveries > 0 {
            v.push(format!(
                "{} deliveries never got a 2xx after {} attempts",
                self.lost_deliveries, self.config.retry.attempts
            ));
        }
        if self.refused_deliveries > 0 {
            v.push(format!("{} deliveries refused with a 4xx", self.refused_deliveries));
        }
        if self.per_join.livekit_calls.contains_key("SIP.ListSIPDispatchRule") {
            v.push(format!(
                "joins list every dispatch rule: {:.1} ListSIPDispatchRule calls and {:.0} rules returned per join",
                self.per_join.livekit_calls["SIP.ListSIPDispatchRule"], self.per_join.rules_listed
            ));
        }
        if self.config.store == Store::DynamoDb && self.store_calls == 0 {
            v.push("STATE_TABLE is set but no DynamoDB call was made".into());
        }
        // Each function's role may touch only its own key prefix (dynamodb:LeadingKeys).
        for (kind, count) in &self.store_items {
            if !(kind.starts_with("webhook#") || kind.starts_with("subtitles#")) {
                v.push(format!("{count} items with pk `{kind}…`: keys start `webhook#` or `subtitles#`"));
            }
        }
        self.violations = v;
    }
}

// ---------------------------------------------------------------------------------------
// The run

/// A dial-in rule as the webhook receiver makes it: managed, direct, for `room` with `pin`.
pub fn room_rule(room: &str, pin: &str) -> proto::SipDispatchRuleInfo {
    proto::SipDispatchRuleInfo {
        rule: Some(proto::SipDispatchRule {
            rule: Some(proto::sip_dispatch_rule::Rule::DispatchRuleDirect(proto::SipDispatchRuleDirect {
                room_name: room.into(),
                pin: pin.into(),
            })),
        }),
        trunk_ids: vec![TRUNK.into()],
        name: format!("dial-in {room}"),
        metadata: json!({"managed_by": MANAGED_BY, "room": room}).to_string(),
        ..Default::default()
    }
}

/// `(room, pin)` of a managed direct rule (the receiver's own reading of its marker).
fn managed_room_and_pin(rule: &proto::SipDispatchRuleInfo) -> Option<(String, String)> {
    webhook_receiver::actions::dial_in::managed_rule(rule).map(|(room, pin)| (room.to_string(), pin.to_string()))
}

/// A DynamoDB client straight to moto (not through the counting proxy).
pub fn dynamodb_client(moto: &MotoServer) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .http_client(livekit_lambda_shared::aws::https_client())
        .endpoint_url(moto.endpoint())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "fleet"))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// The functions' own store on the table at `endpoint` (moto, or a proxy in front of
/// it), with the production client configuration and `timeout` per call.
pub async fn dynamo_store(endpoint: &str, table: &str, timeout: Duration) -> livekit_lambda_shared::state::DynamoStore {
    let config = livekit_lambda_shared::state::aws_config_loader(timeout)
        .endpoint_url(endpoint)
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "wire-tests"))
        .load()
        .await;
    livekit_lambda_shared::state::DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), table)
}

/// Creates the state table on moto: partition key `pk` (S), TTL attribute `expires_at`.
pub async fn create_table(moto: &MotoServer, table: &str) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TimeToLiveSpecification,
    };
    let client = dynamodb_client(moto);
    client
        .create_table()
        .table_name(table)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute"),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build().expect("key"))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create table {table}: {e:?}"));
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder().attribute_name("expires_at").enabled(true).build().expect("ttl"),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("TTL on {table}: {e:?}"));
}

/// What the table holds at the end of a run: items by the first two segments of `pk`
/// (`webhook#event`, …), and how many have no `expires_at`.
async fn table_contents(moto: &MotoServer, table: &str) -> (BTreeMap<String, usize>, usize) {
    let client = dynamodb_client(moto);
    let (mut kinds, mut without_ttl) = (BTreeMap::new(), 0);
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap_or_else(|e| panic!("scan {table}: {e:?}"));
        for item in page.items() {
            let pk = item.get("pk").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            let kind = pk.split('#').take(2).collect::<Vec<_>>().join("#");
            *kinds.entry(kind).or_default() += 1;
            without_ttl += usize::from(!item.contains_key("expires_at"));
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return (kinds, without_ttl);
        }
    }
}

fn decode_notice(call: &crate::livekit_server::RecordedCall) -> Option<String> {
    let data = call.request["data"].as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(data).ok()?;
    serde_json::from_slice::<Value>(&bytes).ok()?["egress_id"].as_str().map(String::from)
}

fn event_body(event: &proto::WebhookEvent) -> String {
    serde_json::to_string(event).expect("protobuf JSON")
}

fn base_event(kind: &str, id: String, room: &str, participants: usize) -> proto::WebhookEvent {
    proto::WebhookEvent {
        event: kind.into(),
        id,
        created_at: now_unix() as i64,
        room: Some(proto::Room {
            name: room.into(),
            sid: format!("RM_{room}"),
            num_participants: participants as u32,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn participant(identity: &str) -> Option<proto::ParticipantInfo> {
    Some(proto::ParticipantInfo {
        sid: format!("PA_{identity}"),
        identity: identity.into(),
        state: proto::participant_info::State::Active as i32,
        ..Default::default()
    })
}

struct Meters<'a> {
    livekit: &'a TwirpTestServer,
    livekit_proxy: &'a CountingProxy,
    store_proxy: &'a CountingProxy,
    fleet: &'a Fleet,
}

struct Mark {
    calls: usize,
    livekit: Counts,
    store: Counts,
    attempts: usize,
}

impl Meters<'_> {
    async fn mark(&self) -> Mark {
        Mark {
            calls: self.livekit.calls().await.len(),
            livekit: self.livekit_proxy.snapshot(),
            store: self.store_proxy.snapshot(),
            attempts: self.fleet.attempts.lock().expect("attempts").len(),
        }
    }

    async fn add_since(&self, mark: &Mark, events: usize, into: &mut PhaseAccumulator) {
        let calls = self.livekit.calls().await;
        for call in &calls[mark.calls..] {
            *into.livekit_methods.entry(format!("{}.{}", call.service, call.method)).or_default() += 1;
        }
        PhaseAccumulator::add_counts(&mut into.livekit, &delta(&mark.livekit, &self.livekit_proxy.snapshot()));
        PhaseAccumulator::add_counts(&mut into.store, &delta(&mark.store, &self.store_proxy.snapshot()));
        into.attempts.extend(self.fleet.attempts.lock().expect("attempts")[mark.attempts..].iter().cloned());
        into.events += events;
    }
}

/// Runs the simulation once. Processes, proxies and the Twirp server are this run's own;
/// moto_server is shared (each run has its own SSM prefix and table).
pub async fn run(moto: &MotoServer, config: &FleetConfig) -> FleetReport {
    static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let run_id = format!("{}-{}", std::process::id(), RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    config.bootstraps.check();
    assert!(config.containers >= 2, "a fleet has at least two containers");
    std::fs::create_dir_all(&config.log_dir).expect("log dir");
    let started = Instant::now();

    // LiveKit with N rooms' rules, as the receiver makes them.
    let livekit = TwirpTestServer::start(KEY, SECRET).await;
    let seeding = Instant::now();
    for i in 0..config.background_rooms {
        livekit.add_dispatch_rule(room_rule(&format!("bg-{i:05}"), &format!("9{i:09}"))).await;
    }
    let seed_ms = seeding.elapsed().as_secs_f64() * 1000.0;
    let livekit_proxy = CountingProxy::start(livekit.port, Protocol::Twirp).await;
    let store_proxy = CountingProxy::start(moto.port, Protocol::Aws).await;

    let prefix = format!("/fleet/{run_id}");
    moto.put_livekit(&prefix, KEY, SECRET, "wss://lk.example.com").await;
    moto.put(&format!("{prefix}/api-url"), &livekit_proxy.endpoint(), aws_sdk_ssm::types::ParameterType::SecureString)
        .await;
    let mut env: Vec<(String, String)> = vec![
        ("LIVEKIT_SSM_PREFIX".into(), prefix.clone()),
        ("AWS_ENDPOINT_URL".into(), store_proxy.endpoint()),
        ("AWS_ENDPOINT_URL_DYNAMODB".into(), store_proxy.endpoint()),
        ("SIP_TRUNK_ID".into(), TRUNK.into()),
        ("SIP_DIAL_IN_NUMBER".into(), "+15550100".into()),
        ("SUBTITLE_AGENT_NAME".into(), AGENT.into()),
        ("SUBTITLE_REQUESTS_PER_MINUTE".into(), config.subtitle_limit.to_string()),
        ("ALLOWED_ORIGINS".into(), "http://localhost:3000".into()),
    ];
    let table = (config.store == Store::DynamoDb).then(|| format!("fleet-state-{run_id}"));
    if let Some(table) = &table {
        create_table(moto, table).await;
        env.push(("STATE_TABLE".into(), table.clone()));
    }
    env.extend(config.env.iter().cloned());

    let mut processes = Vec::new();
    let (mut webhook, mut subtitles) = (Vec::new(), Vec::new());
    let log_dir = config.log_dir.join(&run_id);
    std::fs::create_dir_all(&log_dir).expect("log dir");
    for index in 0..config.containers {
        let api = Arc::new(RuntimeApi::start().await);
        processes.push(spawn(
            &config.bootstraps.webhook_receiver,
            "webhook-receiver",
            index,
            &api.address(),
            &env,
            &log_dir,
        ));
        webhook.push(api);
        let api = Arc::new(RuntimeApi::start().await);
        processes.push(spawn(
            &config.bootstraps.subtitle_dispatcher,
            "subtitle-dispatcher",
            index,
            &api.address(),
            &env,
            &log_dir,
        ));
        subtitles.push(api);
    }
    let fleet = Arc::new(Fleet {
        webhook,
        subtitles,
        _processes: processes,
        timeout: config.answer_timeout,
        retry: config.retry.clone(),
        attempts: Mutex::new(Vec::new()),
    });

    // Every container answers once before anything is measured (its cold start is the
    // burst simulation's subject, not this one's).
    for index in 0..config.containers {
        let body = event_body(&base_event("track_published", format!("EV_{run_id}_warm_{index}"), "warm-up", 1));
        let answer = fleet.invoke(&fleet.webhook[index], "warm-up", index, webhook_event(&body)).await;
        assert_eq!(
            answer.status,
            Some(200),
            "webhook-receiver {index} answers a warm-up event: {answer:?} (logs in {})",
            log_dir.display()
        );
        let event = api_event("POST", "/rooms/warm-up/subtitles", "ANY /rooms/{room}/subtitles", json!({}), "");
        let answer = fleet.invoke(&fleet.subtitles[index], "warm-up", index, event).await;
        assert_eq!(
            answer.status,
            Some(401),
            "subtitle-dispatcher {index} answers: {answer:?} (logs in {})",
            log_dir.display()
        );
    }
    fleet.attempts.lock().expect("attempts").clear();

    let meters = Meters { livekit: &livekit, livekit_proxy: &livekit_proxy, store_proxy: &store_proxy, fleet: &fleet };
    let mut rng = Rng(config.seed.max(1));
    let copies = config.copies.clamp(1, config.containers);
    let pick = |rng: &mut Rng| {
        let count = if copies >= 3 { 2 + rng.below(copies - 1) } else { copies };
        let targets = rng.distinct(config.containers, count);
        let again = (0..config.redeliveries).map(|_| rng.below(config.containers)).collect::<Vec<_>>();
        (targets, again)
    };

    let mut joins = PhaseAccumulator::default();
    let mut egress = PhaseAccumulator::default();
    let mut leaves = PhaseAccumulator::default();
    let mut finished = PhaseAccumulator::default();
    let mut subtitle_phase = PhaseAccumulator::default();
    let (mut lost, mut refused) = (0, 0);
    let mut notices_per_egress = Vec::new();
    let mut rules_per_room = Vec::new();
    let mut duplicate_pins = 0;
    let mut published_pin_mismatches = 0;
    let mut subtitle_outcomes = Vec::new();
    let mut rooms = Vec::new();
    for meeting in 0..config.meetings {
        let room = format!("fleet-{run_id}-m{meeting}");
        rooms.push(room.clone());
        let people: Vec<String> = (0..config.participants).map(|p| format!("m{meeting}-p{p}")).collect();
        let names: Vec<&str> = people.iter().map(String::as_str).collect();
        livekit.add_room(&room, &names).await;

        // Everyone joins at once; each join goes to 2-3 containers, and again later.
        let mark = meters.mark().await;
        let mut tasks = Vec::new();
        for (p, identity) in people.iter().enumerate() {
            let mut event = base_event("participant_joined", format!("EV_{room}_join_{p}"), &room, p + 1);
            event.participant = participant(identity);
            let (targets, again) = pick(&mut rng);
            let (fleet, body) = (fleet.clone(), event_body(&event));
            tasks.push(tokio::spawn(async move { deliver(&fleet, "participant_joined", &body, targets, again).await }));
        }
        for task in tasks {
            let d = task.await.expect("join task");
            (lost, refused) = (lost + d.lost, refused + d.refused);
        }
        meters.add_since(&mark, people.len(), &mut joins).await;
        let rules = livekit.dispatch_rules().await;
        let ours: Vec<(String, String)> =
            rules.iter().filter_map(managed_room_and_pin).filter(|(r, _)| *r == room).collect();
        rules_per_room.push(ours.len());
        let mut pins: BTreeMap<(String, String), usize> = BTreeMap::new();
        for rule in &rules {
            if let Some(proto::sip_dispatch_rule::Rule::DispatchRuleDirect(d)) =
                rule.rule.as_ref().and_then(|r| r.rule.as_ref())
            {
                for trunk in &rule.trunk_ids {
                    *pins.entry((trunk.clone(), d.pin.clone())).or_default() += 1;
                }
            }
        }
        duplicate_pins = duplicate_pins.max(pins.values().filter(|c| **c > 1).map(|c| c - 1).sum());
        let metadata = livekit.room_metadata(&room).await.unwrap_or_default();
        let published = serde_json::from_str::<Value>(&metadata)
            .ok()
            .and_then(|m| m["sip_dial_in"]["pin"].as_str().map(String::from));
        if !published.as_ref().is_some_and(|pin| ours.iter().any(|(_, p)| p == pin)) {
            published_pin_mismatches += 1;
        }

        // The recording hits its limit: egress_updated and egress_ended both say so, at once.
        let egress_id = format!("EG_{room}");
        let mark = meters.mark().await;
        let mut tasks = Vec::new();
        for kind in ["egress_updated", "egress_ended"] {
            let mut event = base_event(kind, format!("EV_{room}_{kind}"), &room, people.len());
            event.room = None;
            event.egress_info = Some(proto::EgressInfo {
                egress_id: egress_id.clone(),
                room_name: room.clone(),
                status: proto::EgressStatus::EgressLimitReached as i32,
                error: "Session limit reached".into(),
                error_code: 413,
                ..Default::default()
            });
            let (targets, again) = pick(&mut rng);
            let (fleet, body) = (fleet.clone(), event_body(&event));
            tasks.push(tokio::spawn(async move { deliver(&fleet, kind, &body, targets, again).await }));
        }
        for task in tasks {
            let d = task.await.expect("egress task");
            (lost, refused) = (lost + d.lost, refused + d.refused);
        }
        meters.add_since(&mark, 2, &mut egress).await;
        let notices = livekit
            .calls_to("SendData")
            .await
            .iter()
            .filter(|c| c.status == 200 && decode_notice(c).as_deref() == Some(egress_id.as_str()))
            .count();
        notices_per_egress.push(notices);

        // One participant presses the subtitle button, through every container in turn.
        // A fixed per-minute window may be aligned to the clock: stay inside one minute.
        let second = now_unix() % 60;
        if second >= 55 {
            tokio::time::sleep(Duration::from_secs(61 - second)).await;
        }
        let identity = &people[0];
        let token = participant_token(&room, identity);
        let mark = meters.mark().await;
        let mut outcome =
            SubtitleOutcome { room: room.clone(), requests: config.subtitle_requests, ..Default::default() };
        let path = format!("/rooms/{room}/subtitles");
        for wave in (0..config.subtitle_requests).collect::<Vec<_>>().chunks(config.containers) {
            let mut tasks = Vec::new();
            for &r in wave {
                let container = r % config.containers;
                let headers = json!({
                    "authorization": format!("Bearer {token}"),
                    "origin": "http://localhost:3000",
                    "host": "fleet00001.execute-api.us-east-1.amazonaws.com",
                });
                let event = api_event("POST", &path, "ANY /rooms/{room}/subtitles", headers, "");
                let fleet = fleet.clone();
                tasks.push(tokio::spawn(async move {
                    fleet.invoke(&fleet.subtitles[container], "subtitles", container, event).await
                }));
            }
            for task in tasks {
                let answer = task.await.expect("subtitle task");
                match answer.status {
                    Some(429) => {
                        outcome.limited += 1;
                        outcome.limited_without_retry_after += usize::from(answer.retry_after.is_none());
                    }
                    Some(200..=299) => outcome.not_limited += 1,
                    _ => {
                        outcome.not_limited += 1;
                        outcome.errors += 1;
                    }
                }
            }
        }
        meters.add_since(&mark, config.subtitle_requests, &mut subtitle_phase).await;
        subtitle_outcomes.push(outcome);

        // Everyone leaves, one after the other (LiveKit's room empties before the last
        // participant_left), then the room finishes.
        let mark = meters.mark().await;
        for (p, identity) in people.iter().enumerate() {
            livekit.set_participants(&room, &names[p + 1..]).await;
            let mut event = base_event("participant_left", format!("EV_{room}_left_{p}"), &room, people.len() - p - 1);
            event.participant = participant(identity);
            let (targets, again) = pick(&mut rng);
            let d = deliver(&fleet, "participant_left", &event_body(&event), targets, again).await;
            (lost, refused) = (lost + d.lost, refused + d.refused);
        }
        meters.add_since(&mark, people.len(), &mut leaves).await;
        let mark = meters.mark().await;
        let event = base_event("room_finished", format!("EV_{room}_finished"), &room, 0);
        let (targets, again) = pick(&mut rng);
        let d = deliver(&fleet, "room_finished", &event_body(&event), targets, again).await;
        (lost, refused) = (lost + d.lost, refused + d.refused);
        meters.add_since(&mark, 1, &mut finished).await;
    }

    let rules = livekit.dispatch_rules().await;
    let managed: Vec<(String, String)> = rules.iter().filter_map(managed_room_and_pin).collect();
    let rules_left = managed.iter().filter(|(room, _)| rooms.contains(room)).count();
    let background_rules_left = managed.iter().filter(|(room, _)| room.starts_with("bg-")).count();
    let attempts = fleet.attempts.lock().expect("attempts").clone();
    let mut webhook_answers = BTreeMap::new();
    for a in attempts.iter().filter(|a| a.kind != "subtitles") {
        let status = a.status.map_or("none".to_string(), |s| s.to_string());
        *webhook_answers.entry(format!("{status} {}", a.outcome)).or_default() += 1;
    }
    let totals = store_proxy.snapshot();
    let (store_items, store_items_without_ttl) = match &table {
        Some(table) => table_contents(moto, table).await,
        None => Default::default(),
    };
    let mut report = FleetReport {
        config: FleetConfig { copies, ..config.clone() },
        webhook_answers,
        lost_deliveries: lost,
        refused_deliveries: refused,
        notices_per_egress,
        rules_per_room,
        duplicate_pins,
        published_pin_mismatches,
        rules_left,
        background_rules_left,
        subtitles: subtitle_outcomes,
        per_join: joins.cost(),
        per_egress_event: egress.cost(),
        per_leave: leaves.cost(),
        per_room_finished: finished.cost(),
        per_subtitle_request: subtitle_phase.cost(),
        ssm_calls: totals.iter().filter(|(op, _)| op.starts_with("AmazonSSM.")).map(|(_, c)| c.calls).sum(),
        store_calls: totals.iter().filter(|(op, _)| op.starts_with("DynamoDB_")).map(|(_, c)| c.calls).sum(),
        store_items,
        store_items_without_ttl,
        seed_ms,
        wall_ms: started.elapsed().as_secs_f64() * 1000.0,
        violations: Vec::new(),
    };
    report.check();
    report
}

fn per_event(map: &BTreeMap<String, f64>) -> String {
    map.iter().map(|(k, v)| format!("{k} {v:.2}")).collect::<Vec<_>>().join(", ")
}

/// One line per run, for logs.
pub fn summary(report: &FleetReport) -> String {
    format!(
        "{} N={} K={}: notices/egress {:?}, rules/room {:?}, rules left {}, subtitles passed {:?} (limit {}), lost {}, \
         per join: LiveKit {:.2} calls ({}), {:.0} rules listed, {:.0} bytes; store {:.2} calls ({}); p50 {:.1} ms p99 {:.1} ms; \
         answers {:?}; store items at the end {:?} ({} without expires_at); {} violations",
        report.config.label,
        report.config.background_rooms,
        report.config.containers,
        report.notices_per_egress,
        report.rules_per_room,
        report.rules_left,
        report.subtitles.iter().map(|s| s.not_limited).collect::<Vec<_>>(),
        report.config.subtitle_limit,
        report.lost_deliveries,
        report.per_join.livekit_calls_total,
        per_event(&report.per_join.livekit_calls),
        report.per_join.rules_listed,
        report.per_join.livekit_bytes,
        report.per_join.store_calls_total,
        per_event(&report.per_join.store_calls),
        report.per_join.p50_ms,
        report.per_join.p99_ms,
        report.webhook_answers,
        report.store_items,
        report.store_items_without_ttl,
        report.violations.len(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `make fleet-sim` reads the published runs back (its kept "before" runs): a report that
    /// holds its config must still read them, and write every key they had.
    #[test]
    fn published_runs_read_back_with_the_same_keys() {
        let path = crate::workspace_root().join("bench/fleet/results.json");
        let document: Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("results.json")).expect("JSON");
        let runs = document["runs"].as_array().expect("runs");
        assert!(!runs.is_empty());
        for run in runs {
            let report: FleetReport = serde_json::from_value(run.clone()).expect("a published run reads back");
            let written = serde_json::to_value(&report).expect("report JSON");
            for key in run.as_object().expect("run object").keys().filter(|k| *k != "load_average") {
                assert_eq!(written[key], run[key], "{key}");
            }
        }
    }
}
