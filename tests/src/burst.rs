//! The meeting-start burst (issue 15): an SSM stand-in that throttles like SSM, and N real
//! function processes cold-started at once, each through its own loopback Runtime API.
//!
//! [`ThrottlingProxy`] sits in front of moto_server: a token bucket (SSM's default is
//! 40 GetParameters per second per account and Region); over the limit it answers what
//! SSM answers (HTTP 400, `x-amzn-ErrorType: ThrottlingException`, body
//! `{"__type":"ThrottlingException","message":"Rate exceeded"}`), and it counts every call.
//! [`run`] starts the processes, hands each `events/token-get.json` and measures the time
//! from its spawn to its first answer. The smoke pass is `tests/tests/suite/burst.rs`, the
//! full run `make burst-sim` (`bench/src/burst.rs`).

use std::convert::Infallible;
use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use serde::Serialize;
use serde_json::Value;

use crate::runtime_api::{Outcome, RuntimeApi};
use crate::{workspace_root, MotoServer};

/// SSM's throttling answer, byte for byte what the AWS JSON 1.1 protocol carries.
pub const THROTTLING_BODY: &str = r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#;

/// Counters of the proxy, read at the end of a run.
#[derive(Debug, Default)]
pub struct ProxyStats {
    /// Every request that reached the proxy (each SDK attempt is one).
    pub calls: AtomicU64,
    pub admitted: AtomicU64,
    pub throttled: AtomicU64,
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// A token bucket in front of moto_server: `rate` calls per second, `burst` at once.
pub struct ThrottlingProxy {
    pub port: u16,
    pub stats: Arc<ProxyStats>,
}

impl ThrottlingProxy {
    pub async fn start(target_port: u16, rate: f64, burst: f64) -> Self {
        let stats = Arc::new(ProxyStats::default());
        let bucket = Arc::new(Mutex::new(Bucket { tokens: burst, last: Instant::now() }));
        let handler_stats = stats.clone();
        let port = crate::serve_loopback(move |request: Request<Incoming>| {
            let (stats, bucket) = (handler_stats.clone(), bucket.clone());
            async move { Ok::<_, Infallible>(proxy(request, target_port, rate, burst, &stats, &bucket).await) }
        })
        .await;
        Self { port, stats }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

async fn proxy(
    request: Request<Incoming>,
    target_port: u16,
    rate: f64,
    burst: f64,
    stats: &ProxyStats,
    bucket: &Mutex<Bucket>,
) -> Response<Full<Bytes>> {
    stats.calls.fetch_add(1, Ordering::Relaxed);
    let admitted = {
        let mut bucket = bucket.lock().expect("bucket lock");
        let now = Instant::now();
        bucket.tokens = (bucket.tokens + now.duration_since(bucket.last).as_secs_f64() * rate).min(burst);
        bucket.last = now;
        // A throttled call takes no token: it was not served.
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    };
    if !admitted {
        stats.throttled.fetch_add(1, Ordering::Relaxed);
        let mut response = Response::new(Full::new(Bytes::from_static(THROTTLING_BODY.as_bytes())));
        *response.status_mut() = hyper::StatusCode::BAD_REQUEST;
        let headers = response.headers_mut();
        headers.insert("x-amzn-ErrorType", "ThrottlingException".parse().expect("header"));
        headers.insert("content-type", "application/x-amz-json-1.1".parse().expect("header"));
        headers.insert("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000".parse().expect("header"));
        return response;
    }
    stats.admitted.fetch_add(1, Ordering::Relaxed);
    let method = request.method().to_string();
    let path = request.uri().path_and_query().map(|p| p.to_string()).unwrap_or_else(|| "/".into());
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "host" | "content-length" | "connection" | "transfer-encoding"))
        .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_string())))
        .collect();
    let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let borrowed: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let upstream = crate::http(target_port, &method, &path, &borrowed, &body).await;
    let mut response = Response::new(Full::new(Bytes::from(upstream.body)));
    *response.status_mut() = hyper::StatusCode::from_u16(upstream.status).unwrap_or(hyper::StatusCode::BAD_GATEWAY);
    for (name, value) in &upstream.headers {
        if matches!(name.to_ascii_lowercase().as_str(), "content-length" | "connection" | "transfer-encoding") {
            continue;
        }
        if let (Ok(name), Ok(value)) =
            (hyper::header::HeaderName::from_bytes(name.as_bytes()), hyper::header::HeaderValue::from_str(value))
        {
            response.headers_mut().append(name, value);
        }
    }
    response
}

/// Which function process a run starts.
#[derive(Clone, Debug)]
pub enum Function {
    /// A `token-generator` bootstrap (debug or release build).
    Rust { bootstrap: PathBuf },
    /// `bench/node-peer` under the official Node runtime interface client (`bench/node-ric`).
    Node { peer: PathBuf, ric: PathBuf },
}

impl Function {
    pub fn label(&self) -> &'static str {
        match self {
            Function::Rust { .. } => "rust",
            Function::Node { .. } => "node",
        }
    }
}

/// One burst: `processes` cold starts at once against SSM at `ssm_rate` calls per second.
#[derive(Clone, Debug)]
pub struct BurstConfig {
    pub function: Function,
    pub processes: usize,
    pub ssm_rate: f64,
    /// The bucket's size; SSM publishes none, so one second's worth by default.
    pub ssm_burst: f64,
    /// Extra environment, e.g. `SSM_RETRY_MODE=legacy`.
    pub env: Vec<(String, String)>,
    /// Give up on a process after this long (API Gateway's integration timeout is 30 s).
    pub answer_timeout: Duration,
    /// Where the processes' logs go.
    pub log_dir: PathBuf,
}

/// What one process did.
#[derive(Clone, Debug, Serialize)]
pub struct ProcessResult {
    /// The status of the first answer, or `None` without one (timeout or crash).
    pub status: Option<u16>,
    pub got_token: bool,
    pub retry_after: Option<String>,
    pub error_code: Option<String>,
    /// From spawn to the first answer.
    pub millis: f64,
    /// From the first spawn of the run to this one's.
    pub spawned_at_millis: f64,
    /// Peak resident set (`VmHWM`) once every process had answered, in KiB.
    pub peak_rss_kib: Option<u64>,
}

/// What a burst did, in the figures issue 15 asks for.
#[derive(Clone, Debug, Serialize)]
pub struct BurstReport {
    pub function: String,
    pub mode: String,
    pub processes: usize,
    pub ssm_rate: f64,
    pub ssm_burst: f64,
    pub tokens: usize,
    pub token_share: f64,
    pub status_503: usize,
    pub status_503_with_retry_after: usize,
    pub no_answer: usize,
    pub other_status: usize,
    /// Time to first token, over the processes that got one (milliseconds).
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Over every process, answered or not.
    pub slowest_answer_ms: f64,
    pub ssm_calls: u64,
    pub ssm_admitted: u64,
    pub ssm_throttled: u64,
    pub ssm_calls_per_cold_start: f64,
    /// From the first spawn to the last answer.
    pub wall_ms: f64,
    /// How long spawning all the processes took.
    pub spawn_spread_ms: f64,
    /// Median peak resident set of one process, and the sum over all (MiB).
    pub peak_rss_median_mib: f64,
    pub peak_rss_sum_mib: f64,
    pub processes_detail: Vec<ProcessResult>,
}

/// The `p`-th percentile (nearest rank) of `values` (sorted here).
pub fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

/// The SSM prefix every burst process reads (the parameters are stored once per moto).
pub const PREFIX: &str = "/burst/livekit";
pub const KEY: &str = "APIburst";
pub const SECRET: &str = "burst-secret-burst-secret-burst-secret-0015";

/// Stores the parameters the burst processes read.
pub async fn prepare(moto: &MotoServer) {
    moto.put_livekit(PREFIX, KEY, SECRET, "https://lk.example.com").await;
}

struct Running {
    child: Child,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(config: &BurstConfig, index: usize, runtime_api: &str, ssm_endpoint: &str) -> Running {
    let log = config.log_dir.join(format!("{}-{index:04}.log", config.function.label()));
    let file = File::create(&log).unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
    let mut command = match &config.function {
        Function::Rust { bootstrap } => Command::new(bootstrap),
        Function::Node { ric, .. } => {
            let mut c = Command::new("node");
            c.arg(ric.join("node_modules/aws-lambda-ric/index.mjs")).arg("index.handler");
            c
        }
    };
    command.env_clear_keep_path();
    match &config.function {
        Function::Rust { .. } => {
            command.env("_HANDLER", "bootstrap").env("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023");
        }
        Function::Node { peer, .. } => {
            command
                .current_dir(peer)
                .env("LAMBDA_TASK_ROOT", peer)
                .env("_HANDLER", "index.handler")
                .env("AWS_EXECUTION_ENV", "AWS_Lambda_nodejs20.x");
        }
    }
    command
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", format!("burst-{}", config.function.label()))
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/burst-{}", config.function.label()))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", format!("2026/11/29/[$LATEST]{index:04}"))
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", ssm_endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("LIVEKIT_SSM_PREFIX", PREFIX)
        .env("ALLOWED_ORIGINS", "http://localhost:3000")
        .stdin(Stdio::null())
        .stdout(Stdio::from(file.try_clone().expect("log file")))
        .stderr(Stdio::from(file));
    for (name, value) in &config.env {
        command.env(name, value);
    }
    let child = command.spawn().unwrap_or_else(|e| panic!("start process {index}: {e}"));
    Running { child }
}

trait EnvClearKeepPath {
    fn env_clear_keep_path(&mut self) -> &mut Self;
}

impl EnvClearKeepPath for Command {
    /// Only what Lambda would set: no profile files or credentials from this machine.
    fn env_clear_keep_path(&mut self) -> &mut Self {
        self.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).env("TZ", ":UTC")
    }
}

/// The retry policy a run's environment selects, for the report.
pub fn mode_of(config: &BurstConfig) -> String {
    match &config.function {
        Function::Node { .. } => "aws-sdk-js-v3 defaults (standard, 3 attempts)".into(),
        Function::Rust { .. } => {
            let mode = config.env.iter().find(|(k, _)| k == "SSM_RETRY_MODE").map_or("budget", |(_, v)| v.as_str());
            let settings: Vec<String> =
                config.env.iter().filter(|(k, _)| k != "SSM_RETRY_MODE").map(|(k, v)| format!("{k}={v}")).collect();
            if settings.is_empty() {
                mode.to_string()
            } else {
                format!("{mode} ({})", settings.join(", "))
            }
        }
    }
}

/// Runs one burst: all processes spawned at once (each with its invocation already queued,
/// as Lambda queues the request that caused the cold start), then waits for every answer.
pub async fn run(moto: &MotoServer, config: &BurstConfig) -> BurstReport {
    std::fs::create_dir_all(&config.log_dir).expect("log dir");
    let proxy = ThrottlingProxy::start(moto.port, config.ssm_rate, config.ssm_burst).await;
    let event: Value = serde_json::from_str(
        &std::fs::read_to_string(workspace_root().join("events/token-get.json")).expect("events/token-get.json"),
    )
    .expect("JSON event");

    let mut apis = Vec::with_capacity(config.processes);
    for _ in 0..config.processes {
        apis.push(Arc::new(RuntimeApi::start().await));
    }
    let first_spawn = Instant::now();
    let mut running = Vec::with_capacity(config.processes);
    let mut waiting = Vec::with_capacity(config.processes);
    for (index, api) in apis.iter().enumerate() {
        let spawned = Instant::now();
        running.push(spawn(config, index, &api.address(), &proxy.endpoint()));
        let (api, event, timeout) = (api.clone(), event.clone(), config.answer_timeout);
        let spawned_at_millis = spawned.duration_since(first_spawn).as_secs_f64() * 1000.0;
        waiting.push(tokio::spawn(async move {
            let outcome = api.try_invoke(event, timeout).await;
            let millis = spawned.elapsed().as_secs_f64() * 1000.0;
            result_of(outcome, millis, spawned_at_millis)
        }));
    }
    let spawn_spread_ms = first_spawn.elapsed().as_secs_f64() * 1000.0;
    let mut results = Vec::with_capacity(config.processes);
    for task in waiting {
        results.push(task.await.expect("waiter task"));
    }
    let wall_ms = first_spawn.elapsed().as_secs_f64() * 1000.0;
    for (result, process) in results.iter_mut().zip(&running) {
        result.peak_rss_kib = peak_rss_kib(process.child.id());
    }
    drop(running);
    let rss: Vec<f64> = results.iter().filter_map(|r| r.peak_rss_kib).map(|k| k as f64 / 1024.0).collect();

    let times: Vec<f64> = results.iter().filter(|r| r.got_token).map(|r| r.millis).collect();
    let tokens = times.len();
    let calls = proxy.stats.calls.load(Ordering::Relaxed);
    BurstReport {
        function: config.function.label().into(),
        mode: mode_of(config),
        processes: config.processes,
        ssm_rate: config.ssm_rate,
        ssm_burst: config.ssm_burst,
        tokens,
        token_share: tokens as f64 / config.processes as f64,
        status_503: results.iter().filter(|r| r.status == Some(503)).count(),
        status_503_with_retry_after: results
            .iter()
            .filter(|r| r.status == Some(503) && r.retry_after.is_some())
            .count(),
        no_answer: results.iter().filter(|r| r.status.is_none()).count(),
        other_status: results.iter().filter(|r| r.status.is_some_and(|s| s != 503) && !r.got_token).count(),
        p50_ms: percentile(&times, 50.0),
        p99_ms: percentile(&times, 99.0),
        max_ms: times.iter().copied().fold(f64::NAN, f64::max),
        slowest_answer_ms: results.iter().map(|r| r.millis).fold(0.0, f64::max),
        ssm_calls: calls,
        ssm_admitted: proxy.stats.admitted.load(Ordering::Relaxed),
        ssm_throttled: proxy.stats.throttled.load(Ordering::Relaxed),
        ssm_calls_per_cold_start: calls as f64 / config.processes as f64,
        wall_ms,
        spawn_spread_ms,
        peak_rss_median_mib: percentile(&rss, 50.0),
        peak_rss_sum_mib: rss.iter().sum(),
        processes_detail: results,
    }
}

/// `VmHWM` of a live process, in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches("kB").trim().parse().ok()
}

fn result_of(outcome: Option<Outcome>, millis: f64, spawned_at_millis: f64) -> ProcessResult {
    let mut result = ProcessResult {
        status: None,
        got_token: false,
        retry_after: None,
        error_code: None,
        millis,
        spawned_at_millis,
        peak_rss_kib: None,
    };
    let Some(Outcome::Response(reply)) = outcome else { return result };
    result.status = reply["statusCode"].as_u64().map(|s| s as u16);
    result.retry_after = reply["headers"]["retry-after"].as_str().map(String::from);
    let body: Value = serde_json::from_str(reply["body"].as_str().unwrap_or("null")).unwrap_or(Value::Null);
    result.got_token = result.status == Some(200) && body["token"].as_str().is_some_and(|t| !t.is_empty());
    result.error_code = body["error"]["code"].as_str().map(String::from);
    result
}
