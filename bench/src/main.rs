//! Rust vs Node.js token functions, side by side, through the Lambda Runtime API contract
//! on loopback (no AWS, no Docker). `bench/run.sh` builds everything and runs this; see
//! bench/README.md for the method.
//!
//! Both functions run as Lambda runs them: the Rust `bootstrap`, and the Node handler
//! under npm's `aws-lambda-ric` (the runtime interface client of Lambda's nodejs runtime),
//! each with only Lambda's environment, reading their three parameters from SSM on
//! moto_server. Measured in the same run: cold starts (spawn → first response), warm
//! latency at the harness, peak RSS, zipped artifact size, SSM calls at the endpoint; the
//! criterion signing floor is read from criterion's output.

mod cost;
mod report;
mod tls;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bench::machine::{command_output, load_average, machine};
use bench::stats;
use livekit_api::access_token::{Claims, TokenVerifier};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wire_tests::runtime_api::{Outcome, RuntimeApi};
use wire_tests::{workspace_root, MotoServer};

const API_KEY: &str = "APIbench";
const API_SECRET: &str = "bench-secret-bench-secret-bench-secret-0042";
const LIVEKIT_URL: &str = "https://lk.bench.example";
const CLIENT_URL: &str = "wss://lk.bench.example";
const TTL_SECONDS: usize = 21_600;
const ORIGIN: &str = "http://localhost:3000";
const INVOKE_TIMEOUT: Duration = Duration::from_secs(30);
/// Warm invocations run in alternating chunks, so background load hits both runtimes alike.
const WARM_CHUNK: usize = 500;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    Rust,
    Node,
    /// A do-nothing runtime client (this binary, `null-runtime`): the harness's own floor.
    Null,
    /// A lambda_http hello-world (`bench/hello`): the cold-start floor of a Rust function.
    Hello,
    /// The webhook receiver, cold-started with a signed delivery (its own breakdown).
    Webhook,
}

impl Runtime {
    pub fn key(self) -> &'static str {
        match self {
            Runtime::Rust => "rust",
            Runtime::Node => "node",
            Runtime::Null => "harness_floor",
            Runtime::Hello => "hello_world",
            Runtime::Webhook => "webhook",
        }
    }

    fn ssm_prefix(self) -> String {
        format!("/bench/{}", self.key())
    }
}

/// The webhook receiver's API key and secret: the ones `events/webhook-*.json` are signed
/// with (LiveKit's development pair).
const WEBHOOK_KEY: (&str, &str) = ("devkey", "secret");
/// Debian's CA bundle: what rustls-native-certs reads first on this machine.
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
/// The webhook receiver's state table on moto (created by the harness), as deployed.
const STATE_TABLE: &str = "bench-state";

#[derive(Clone)]
pub struct Config {
    pub smoke: bool,
    pub rust_bootstrap: PathBuf,
    pub hello_bootstrap: PathBuf,
    pub webhook_bootstrap: PathBuf,
    pub node_peer: PathBuf,
    pub node_ric: PathBuf,
    pub criterion_dir: PathBuf,
    pub criterion_profile: String,
    pub out_dir: PathBuf,
    pub work_dir: PathBuf,
    pub cold_runs: usize,
    pub warm_invocations: usize,
    /// `bench compare`: token-generator builds to set side by side (label, bootstrap).
    pub compare: Vec<(String, PathBuf)>,
}

impl Config {
    /// The binary a Rust runtime starts.
    fn bootstrap(&self, runtime: Runtime) -> &Path {
        match runtime {
            Runtime::Hello => &self.hello_bootstrap,
            Runtime::Webhook => &self.webhook_bootstrap,
            _ => &self.rust_bootstrap,
        }
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: bench [--smoke] [--rust-bootstrap PATH] [--out DIR] [--criterion DIR] [--criterion-profile NAME]\n\
         \x20            [--hello-bootstrap PATH] [--webhook-bootstrap PATH] [--cold N] [--warm N]\n\
         \x20      bench compare [--cold N] [--warm N] [--hello-bootstrap PATH] LABEL=BOOTSTRAP...\n\
         \x20      bench null-runtime\n\
         Normally run through bench/run.sh, which builds and installs what this needs."
    );
    std::process::exit(2)
}

fn parse_args() -> Config {
    let root = workspace_root();
    let mut args = std::env::args().skip(1).filter(|arg| arg != "compare");
    let mut smoke = false;
    let mut compare = Vec::new();
    let (mut bootstrap, mut out, mut criterion, mut profile, mut cold, mut warm) = (None, None, None, None, None, None);
    let (mut hello, mut webhook) = (None, None);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--smoke" => smoke = true,
            "--rust-bootstrap" => bootstrap = Some(PathBuf::from(value())),
            "--hello-bootstrap" => hello = Some(PathBuf::from(value())),
            "--webhook-bootstrap" => webhook = Some(PathBuf::from(value())),
            "--out" => out = Some(PathBuf::from(value())),
            "--criterion" => criterion = Some(PathBuf::from(value())),
            "--criterion-profile" => profile = Some(value()),
            "--cold" => cold = Some(value().parse().unwrap_or_else(|_| usage())),
            "--warm" => warm = Some(value().parse().unwrap_or_else(|_| usage())),
            labelled if labelled.contains('=') => {
                let (label, path) = labelled.split_once('=').expect("LABEL=BOOTSTRAP");
                compare.push((label.to_string(), PathBuf::from(path)));
            }
            _ => usage(),
        }
    }
    let build = |binary: &str| root.join(if smoke { "target/debug" } else { "target/release" }).join(binary);
    let out_dir = out.unwrap_or_else(|| if smoke { root.join("target/bench-smoke") } else { root.join("bench") });
    Config {
        smoke,
        rust_bootstrap: bootstrap.unwrap_or_else(|| build("token-generator")),
        hello_bootstrap: hello.unwrap_or_else(|| build("hello-world")),
        webhook_bootstrap: webhook.unwrap_or_else(|| build("webhook-receiver")),
        node_peer: root.join("bench/node-peer"),
        node_ric: root.join("bench/node-ric"),
        criterion_dir: criterion.unwrap_or_else(|| root.join("target/criterion/token_signing")),
        criterion_profile: profile.unwrap_or_else(|| if smoke { "dev".into() } else { "bench".into() }),
        work_dir: root.join(if smoke { "target/bench-smoke/work" } else { "target/bench/work" }),
        out_dir,
        cold_runs: cold.unwrap_or(if smoke { 2 } else { 30 }),
        warm_invocations: warm.unwrap_or(if smoke { 20 } else { 10_000 }),
        compare,
    }
}

/// A function process, killed when dropped (also when the harness panics).
struct Function {
    runtime: Runtime,
    child: Child,
    log: PathBuf,
}

impl Function {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `VmHWM` (peak resident set) of the process, in bytes.
    fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .unwrap_or_else(|e| panic!("{:?}: read /proc/{}/status: {e}", self.runtime, self.pid()));
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/<pid>/status");
        kib * 1024
    }

    async fn exited(&mut self) -> ExitStatus {
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn assert_alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{:?} function exited ({status}); its log: {}", self.runtime, self.log.display());
        }
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How a function reaches SSM: moto's endpoint (plain HTTP, or the TLS terminator in front
/// of it) and what it is told to trust.
#[derive(Clone, Debug, Default)]
struct SsmAccess {
    /// Overrides moto's plain endpoint.
    endpoint: Option<String>,
    /// `SSL_CERT_FILE` for Rust, `NODE_EXTRA_CA_CERTS` for Node.js.
    trust: Option<(PathBuf, PathBuf)>,
    /// `SSL_CERT_DIR` for Rust (`bench compare`'s Amazon Linux 2023 layout).
    cert_dir: Option<PathBuf>,
}

fn spawn(
    config: &Config,
    runtime: Runtime,
    runtime_api: &str,
    moto: &MotoServer,
    ssm: &SsmAccess,
    label: &str,
) -> Function {
    let log = config.work_dir.join(format!("{}-{label}.log", runtime.key()));
    let file = File::create(&log).unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
    let mut command = match runtime {
        Runtime::Rust | Runtime::Hello | Runtime::Webhook => {
            let bootstrap = config.bootstrap(runtime);
            let mut c = Command::new(bootstrap);
            c.current_dir(bootstrap.parent().expect("bootstrap has a directory"));
            c
        }
        Runtime::Node => {
            // What Lambda's nodejs runtime runs: its runtime interface client, which imports
            // index.mjs from LAMBDA_TASK_ROOT and calls `handler`.
            let mut c = Command::new("node");
            c.arg(config.node_ric.join("node_modules/aws-lambda-ric/index.mjs"))
                .arg("index.handler")
                .current_dir(&config.node_peer);
            c
        }
        Runtime::Null => {
            let mut c = Command::new(std::env::current_exe().expect("own path"));
            c.arg("null-runtime");
            c
        }
    };
    command
        // Only what Lambda would set: no profile files or credentials from this machine.
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LANG", "en_US.UTF-8")
        .env("TZ", ":UTC")
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", format!("bench-{}", runtime.key()))
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/bench-{}", runtime.key()))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", format!("2026/11/23/[$LATEST]{label}"))
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", ssm.endpoint.clone().unwrap_or_else(|| moto.endpoint()))
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("LIVEKIT_SSM_PREFIX", runtime.ssm_prefix())
        .env("ALLOWED_ORIGINS", ORIGIN)
        .stdin(Stdio::null())
        .stdout(Stdio::from(file.try_clone().expect("log file")))
        .stderr(Stdio::from(file));
    match runtime {
        Runtime::Rust | Runtime::Hello | Runtime::Webhook => {
            let dir = config.bootstrap(runtime).parent().expect("bootstrap has a directory");
            command.env("LAMBDA_TASK_ROOT", dir).env("_HANDLER", "bootstrap");
            command.env("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023");
            if runtime == Runtime::Webhook {
                // As deployed: the fleet's state in DynamoDB (a delivery that acts writes there).
                command.env("STATE_TABLE", STATE_TABLE);
            }
        }
        Runtime::Node => {
            command.env("LAMBDA_TASK_ROOT", &config.node_peer).env("_HANDLER", "index.handler");
            command.env("AWS_EXECUTION_ENV", "AWS_Lambda_nodejs20.x");
        }
        Runtime::Null => {}
    }
    if let Some((bundle, ca)) = &ssm.trust {
        match runtime {
            Runtime::Rust | Runtime::Hello | Runtime::Webhook => command.env("SSL_CERT_FILE", bundle),
            Runtime::Node => command.env("NODE_EXTRA_CA_CERTS", ca),
            Runtime::Null => &mut command,
        };
    }
    if let Some(dir) = &ssm.cert_dir {
        command.env("SSL_CERT_DIR", dir);
    }
    let child = command.spawn().unwrap_or_else(|e| panic!("start the {runtime:?} function: {e}"));
    Function { runtime, child, log }
}

/// The API Gateway response a function returned, or a loud failure.
fn response(function: &Function, outcome: Outcome) -> Value {
    match outcome {
        Outcome::Response(value) => value,
        Outcome::Error(error) => {
            panic!(
                "{:?} function reported an invocation error: {error}; log: {}",
                function.runtime,
                function.log.display()
            )
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Sample {
    Get,
    Post,
}

struct Events {
    get: Value,
    post: Value,
    /// A signed `participant_joined` delivery: verified and acknowledged, nothing to act on.
    webhook: Value,
}

impl Events {
    fn load() -> Self {
        let read = |name: &str| -> Value {
            let path = workspace_root().join("events").join(name);
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        };
        Self {
            get: read("token-get.json"),
            post: read("token-post-standard.json"),
            webhook: read("webhook-participant-joined.json"),
        }
    }

    fn event(&self, sample: Sample) -> &Value {
        match sample {
            Sample::Get => &self.get,
            Sample::Post => &self.post,
        }
    }
}

/// Checks one answer to a sample event (status, shape, CORS, token) and returns the token's
/// claims, so the harness fails loudly the moment either function stops doing the real work.
fn check_reply(runtime: Runtime, sample: Sample, reply: &Value, verify: bool) -> Option<Claims> {
    match runtime {
        Runtime::Null | Runtime::Hello => {
            assert_eq!(reply["statusCode"], 200, "{runtime:?}: {reply}");
            return None;
        }
        Runtime::Webhook => {
            // Verified (signature, body digest) and acknowledged.
            assert_eq!(reply["statusCode"], 200, "webhook receiver: {reply}");
            let body: Value = serde_json::from_str(reply["body"].as_str().unwrap_or_default()).unwrap_or_default();
            assert_eq!(body["event"], "participant_joined", "webhook receiver: {reply}");
            return None;
        }
        Runtime::Rust | Runtime::Node => {}
    }
    let expected = if sample == Sample::Get { 200 } else { 201 };
    assert_eq!(reply["statusCode"], expected, "{runtime:?} {sample:?}: {reply}");
    if !verify {
        return None;
    }
    let headers = &reply["headers"];
    assert_eq!(headers["cache-control"], "no-store", "{runtime:?} {sample:?}: {reply}");
    assert_eq!(headers["access-control-allow-origin"], ORIGIN, "{runtime:?} {sample:?}: {reply}");
    let body: Value = serde_json::from_str(reply["body"].as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{runtime:?} {sample:?}: body is not JSON ({e}): {reply}"));
    let (token, url, room) = match sample {
        Sample::Get => {
            assert_eq!(body["participant"], "Jane", "{runtime:?}: {body}");
            (&body["token"], &body["url"], &body["room"])
        }
        Sample::Post => {
            assert_eq!(body["participant_name"], "Jane", "{runtime:?}: {body}");
            (&body["participant_token"], &body["server_url"], &body["room_name"])
        }
    };
    assert_eq!(url, CLIENT_URL, "{runtime:?} {sample:?}: {body}");
    assert_eq!(room, "demo-room", "{runtime:?} {sample:?}: {body}");
    let claims = TokenVerifier::with_api_key(API_KEY, API_SECRET)
        .verify(token.as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{runtime:?} {sample:?}: token does not verify with the SSM secret: {e}"));
    assert_eq!(claims.exp.saturating_sub(claims.nbf), TTL_SECONDS, "{runtime:?} {sample:?}: TTL");
    assert_eq!(claims.video.room, "demo-room");
    let identity = if sample == Sample::Get { "Jane" } else { "jane-1" };
    assert_eq!((claims.sub.as_str(), claims.name.as_str()), (identity, "Jane"), "{runtime:?} {sample:?}");
    Some(claims)
}

/// The two functions must issue the same token for the same request (grants, TTL,
/// identity, attributes), or the comparison is not of equals.
fn assert_equivalent(rust: &Claims, node: &Claims, sample: Sample) {
    assert_eq!(rust.video, node.video, "{sample:?}: video grants differ (Rust vs Node)");
    assert_eq!(rust.exp - rust.nbf, node.exp - node.nbf, "{sample:?}: TTL differs");
    assert_eq!((&rust.sub, &rust.name, &rust.attributes), (&node.sub, &node.name, &node.attributes), "{sample:?}");
    assert_eq!((&rust.metadata, &rust.room_config), (&node.metadata, &node.room_config), "{sample:?}");
}

struct ColdSample {
    millis: f64,
    peak_rss: u64,
    ssm_calls: usize,
    claims: Option<Claims>,
    /// Where the time went (ms by phase), from the Rust bootstrap's `init phases` line.
    phases: Option<BTreeMap<String, f64>>,
}

/// The Rust bootstrap's cold start by phase, in ms: `process_start` (spawn → `main`, from
/// the wall-clock time `main` logs), each init phase it logs, and `first_invocation` (the
/// rest: the Runtime API round trip and the first request). `None` for a bootstrap that
/// logs no `init phases` line (an older build, the Node peer).
fn cold_start_phases(log: &Path, spawned_at: SystemTime, total_ms: f64) -> Option<BTreeMap<String, f64>> {
    let line = log_entries(log).into_iter().find(|entry| entry["message"] == "init phases")?;
    let spawned_us = spawned_at.duration_since(UNIX_EPOCH).ok()?.as_micros() as f64;
    let mut phases = BTreeMap::new();
    let process_start = (line["main_at_unix_us"].as_f64()? - spawned_us) / 1000.0;
    phases.insert("process_start".to_string(), process_start);
    for pair in line["phases_us"].as_str()?.split_whitespace() {
        let (name, micros) = pair.split_once('=')?;
        *phases.entry(name.to_string()).or_insert(0.0) += micros.parse::<f64>().ok()? / 1000.0;
    }
    let init_ms = line["total_us"].as_f64()? / 1000.0;
    phases.insert("first_invocation".to_string(), total_ms - process_start - init_ms);
    Some(phases)
}

/// The median of each phase over the cold starts that logged their phases.
fn phase_medians(cold: &[ColdSample]) -> serde_json::Map<String, Value> {
    let mut by_phase: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for phases in cold.iter().filter_map(|s| s.phases.as_ref()) {
        for (name, ms) in phases {
            by_phase.entry(name.clone()).or_default().push(*ms);
        }
    }
    by_phase
        .into_iter()
        .map(|(name, samples)| (name, json!(stats::round(stats::percentile(&stats::sorted(&samples), 50.0)))))
        .collect()
}

/// Issue 19's measure of our own cold-start time: a function's median cold start minus
/// the hello-world's (process start, runtime, Runtime API: what any Rust function pays)
/// minus moto's own answer to GetParameters on a new connection (what a fake SSM costs,
/// not the function). All three from this run.
fn own_overhead(token: &Value, webhook: &Value, hello: &Value, ssm_floor: &Value) -> Value {
    let median = |v: &Value| v["cold_start_ms"]["median"].as_f64().unwrap_or(f64::NAN);
    let ssm = ssm_floor["raw_new_connection_ms"]["median"].as_f64().unwrap_or(f64::NAN);
    let floor = median(hello);
    json!({
        "token_generator": stats::round(median(token) - floor - ssm),
        "webhook_receiver": stats::round(median(webhook) - floor - ssm),
        "hello_world_ms": floor,
        "ssm_answer_ms": ssm,
        "target_ms": 2.0,
        "how": "median cold start − the hello-world's median cold start − moto's median GetParameters answer on a new \
                connection (a raw HTTP request, no SDK, two between each round of cold starts), all from this run",
    })
}

async fn cold_start(
    config: &Config,
    runtime: Runtime,
    moto: &MotoServer,
    ssm: &SsmAccess,
    events: &Events,
    label: &str,
) -> ColdSample {
    let api = RuntimeApi::start().await;
    let prefix = runtime.ssm_prefix();
    let before = moto.get_parameters_calls(&prefix).len();
    let event = if runtime == Runtime::Webhook { events.webhook.clone() } else { events.get.clone() };
    let (started, spawned_at) = (Instant::now(), SystemTime::now());
    let mut function = spawn(config, runtime, &api.address(), moto, ssm, label);
    let outcome = tokio::select! {
        outcome = api.invoke(event, INVOKE_TIMEOUT) => outcome,
        status = function.exited() => {
            panic!("{runtime:?} function exited during its cold start ({status}); log: {}", function.log.display())
        }
    };
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    let peak_rss = function.peak_rss();
    let reply = response(&function, outcome);
    let claims = check_reply(runtime, Sample::Get, &reply, true);
    let init_errors = api.init_errors().await;
    assert!(init_errors.is_empty(), "{runtime:?}: init errors {init_errors:?}");
    let ssm_calls = moto.get_parameters_calls(&prefix).len() - before;
    let log = function.log.clone();
    drop(function);
    let phases = cold_start_phases(&log, spawned_at, millis);
    ColdSample { millis, peak_rss, ssm_calls, claims, phases }
}

/// Cold starts with SSM over TLS against the same with plain HTTP, each runtime trusting
/// the same roots in both (the system's plus the bench's CA), so the difference is the TLS
/// connection alone: handshake, certificate verification, encryption.
async fn tls_cold_starts(config: &Config, moto: &MotoServer, events: &Events) -> Value {
    let terminator = tls::TlsSsm::start(&config.work_dir, moto.port).await;
    let trust = Some((terminator.bundle_file.clone(), terminator.ca_file.clone()));
    let plain = SsmAccess { endpoint: None, trust: trust.clone(), cert_dir: None };
    let over_tls = SsmAccess { endpoint: Some(terminator.endpoint.clone()), trust, cert_dir: None };
    let runs = if config.smoke { 2 } else { (config.cold_runs / 2).max(2) };
    let mut samples: BTreeMap<(&str, &str), Vec<f64>> = BTreeMap::new();
    for i in 0..runs {
        for runtime in [Runtime::Rust, Runtime::Node] {
            // Alternate which goes first, so drift touches both alike.
            let order = if i.is_multiple_of(2) {
                [("plain", &plain), ("tls", &over_tls)]
            } else {
                [("tls", &over_tls), ("plain", &plain)]
            };
            for (mode, access) in order {
                let sample = cold_start(config, runtime, moto, access, events, &format!("{mode}-{i:02}")).await;
                samples.entry((runtime.key(), mode)).or_default().push(sample.millis);
            }
        }
        eprint!("\rbench: cold starts with and without TLS {}/{runs}", i + 1);
    }
    eprintln!();
    let mut out = serde_json::Map::new();
    for runtime in [Runtime::Rust, Runtime::Node] {
        let key = runtime.key();
        let (plain, tls) = (stats::spread(&samples[&(key, "plain")]), stats::spread(&samples[&(key, "tls")]));
        let cost =
            stats::round(tls["median"].as_f64().unwrap_or(f64::NAN) - plain["median"].as_f64().unwrap_or(f64::NAN));
        out.insert(key.into(), json!({"plain_ms": plain, "tls_ms": tls, "tls_cost_ms_median": cost}));
    }
    out.insert("runs_per_mode".into(), json!(runs));
    out.insert(
        "how".into(),
        json!("moto behind a loopback TLS terminator (rustls, ring) with a test CA; Rust trusts it via SSL_CERT_FILE \
               (the system bundle plus the CA), Node.js via NODE_EXTRA_CA_CERTS; plain runs get the same trust settings"),
    );
    Value::Object(out)
}

struct WarmResult {
    all: Vec<f64>,
    get: Vec<f64>,
    post: Vec<f64>,
    peak_rss: u64,
    ssm_calls: usize,
    cold_ssm_calls: usize,
    claims: Vec<(Sample, Claims)>,
}

struct WarmFunction {
    runtime: Runtime,
    function: Function,
    api: RuntimeApi,
    result: WarmResult,
    calls_after_first: usize,
}

async fn warm_up(config: &Config, runtime: Runtime, moto: &MotoServer, events: &Events) -> WarmFunction {
    let api = RuntimeApi::start().await;
    let prefix = runtime.ssm_prefix();
    let before = moto.get_parameters_calls(&prefix).len();
    let mut function = spawn(config, runtime, &api.address(), moto, &SsmAccess::default(), "warm");
    // The first invocation is this process's cold start; it is not a warm sample.
    let outcome = tokio::select! {
        outcome = api.invoke(events.get.clone(), INVOKE_TIMEOUT) => outcome,
        status = function.exited() => panic!("{runtime:?} exited ({status}); log: {}", function.log.display()),
    };
    check_reply(runtime, Sample::Get, &response(&function, outcome), true);
    let calls_after_first = moto.get_parameters_calls(&prefix).len();
    let result = WarmResult {
        all: Vec::with_capacity(config.warm_invocations),
        get: Vec::new(),
        post: Vec::new(),
        peak_rss: 0,
        ssm_calls: 0,
        cold_ssm_calls: calls_after_first - before,
        claims: Vec::new(),
    };
    WarmFunction { runtime, function, api, result, calls_after_first }
}

async fn warm_chunk(warm: &mut WarmFunction, events: &Events, count: usize) {
    for _ in 0..count {
        let n = warm.result.all.len();
        let sample = if n.is_multiple_of(2) { Sample::Get } else { Sample::Post };
        let event = events.event(sample).clone();
        let started = Instant::now();
        let outcome = warm.api.invoke(event, INVOKE_TIMEOUT).await;
        let micros = started.elapsed().as_secs_f64() * 1e6;
        let reply = response(&warm.function, outcome);
        // Tokens of the first invocations are verified in full; every status is checked.
        if let Some(claims) = check_reply(warm.runtime, sample, &reply, n < 4) {
            warm.result.claims.push((sample, claims));
        }
        warm.result.all.push(micros);
        match sample {
            Sample::Get => warm.result.get.push(micros),
            Sample::Post => warm.result.post.push(micros),
        }
    }
}

/// `GetParameters` latency of moto itself (with the production Rust SDK client), the part
/// of every cold start that is the fake SSM's and not the function's.
async fn ssm_floor(moto: &MotoServer, rounds: usize) -> Value {
    let prefix = "/bench/floor";
    moto.put_livekit(prefix, API_KEY, API_SECRET, LIVEKIT_URL).await;
    let names: Vec<String> = ["api-key", "api-secret", "url"].iter().map(|n| format!("{prefix}/{n}")).collect();
    let client = moto.ssm_client();
    let mut samples = Vec::new();
    for _ in 0..rounds {
        let started = Instant::now();
        let reply = client
            .get_parameters()
            .set_names(Some(names.clone()))
            .with_decryption(true)
            .send()
            .await
            .expect("GetParameters");
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(reply.parameters().len(), 3);
    }
    json!({"first_call_ms": stats::round(samples[0]), "warm_ms": stats::spread(&samples[1..])["median"].clone(), "calls": rounds})
}

/// moto's answer alone, in ms: GetParameters as a raw HTTP request on a new connection, no
/// SDK (no signing, no client set-up in this debug-built harness): what the fake SSM costs
/// a cold start, the part that is not the function's. Taken between the cold starts, so
/// it sees the same load.
async fn raw_get_parameters(moto: &MotoServer) -> f64 {
    let names: Vec<String> =
        ["api-key", "api-secret", "url"].iter().map(|n| format!("{}/{n}", Runtime::Rust.ssm_prefix())).collect();
    let body = json!({"Names": names, "WithDecryption": true}).to_string();
    let headers = [
        ("Content-Type", "application/x-amz-json-1.1"),
        ("X-Amz-Target", "AmazonSSM.GetParameters"),
        (
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=test/20261129/us-east-1/ssm/aws4_request, SignedHeaders=host, Signature=0",
        ),
    ];
    let mut request = format!("POST / HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\n", moto.port, body.len());
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(&body);
    let started = Instant::now();
    // One write with Nagle off, as the SDK's client does: a head and a body written apart
    // would wait on a delayed ACK and measure the kernel, not moto.
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", moto.port)).await.expect("connect to moto");
    stream.set_nodelay(true).expect("nodelay");
    stream.write_all(request.as_bytes()).await.expect("write the request");
    // Timed to the answer's last byte (Content-Length), not to the server closing the
    // connection: the function stops waiting there too.
    let mut reply = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let read = stream.read(&mut chunk).await.expect("read the answer");
        assert!(read > 0, "moto closed the connection before answering: {}", String::from_utf8_lossy(&reply));
        reply.extend_from_slice(&chunk[..read]);
        let text = String::from_utf8_lossy(&reply);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|line| {
                    line.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string())
                })
                .and_then(|v| v.parse::<usize>().ok())
                .expect("moto answers with a Content-Length");
            if reply.len() >= end + 4 + length {
                break;
            }
        }
    }
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    let text = String::from_utf8_lossy(&reply);
    assert!(text.starts_with("HTTP/1.1 200") && text.matches("\"Name\"").count() == 3, "raw GetParameters: {text}");
    millis
}

/// A Lambda runtime client that does nothing: GET next, POST a constant response. Run as
/// a function, it measures what the harness and loopback cost per invocation.
fn null_runtime() -> ! {
    let address = std::env::var("AWS_LAMBDA_RUNTIME_API").expect("AWS_LAMBDA_RUNTIME_API");
    let stream = std::net::TcpStream::connect(&address).expect("connect to the runtime API");
    stream.set_nodelay(true).expect("nodelay");
    let mut writer = stream.try_clone().expect("clone stream");
    let mut reader = BufReader::new(stream);
    let body = br#"{"statusCode":200,"headers":{"content-type":"application/json"},"body":"{}"}"#;
    loop {
        write!(writer, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: {address}\r\n\r\n").expect("write");
        let (status, headers) = read_head(&mut reader);
        let length: usize = header(&headers, "content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        let mut event = vec![0; length];
        reader.read_exact(&mut event).expect("event body");
        if status != 200 {
            std::process::exit(0);
        }
        let id = header(&headers, "lambda-runtime-aws-request-id").expect("request id").to_string();
        write!(
            writer,
            "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\nHost: {address}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .and_then(|_| writer.write_all(body))
        .expect("write response");
        let (_, headers) = read_head(&mut reader);
        let length: usize = header(&headers, "content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        let mut ack = vec![0; length];
        reader.read_exact(&mut ack).expect("ack body");
    }
}

fn read_head(reader: &mut impl BufRead) -> (u16, Vec<(String, String)>) {
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        std::process::exit(0);
    }
    let status = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).expect("header line");
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            return (status, headers);
        }
        if let Some((k, v)) = trimmed.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Zips `items` (relative to `root`) with deflate level 6, what `zip -r` does, and returns
/// (zip bytes, uncompressed bytes, files). Python's zipfile: no extra tool on the machine.
fn zip_size(root: &Path, items: &[&str], out: &Path) -> (u64, u64, u64) {
    const SCRIPT: &str = r#"
import os, sys, zipfile
out, root, items = sys.argv[1], sys.argv[2], sys.argv[3:]
raw = files = 0
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
    for item in items:
        path = os.path.join(root, item)
        paths = [path] if os.path.isfile(path) else [
            os.path.join(d, f) for d, dirs, fs in sorted(os.walk(path)) for f in sorted(fs)]
        for p in paths:
            if os.path.isfile(p):
                z.write(p, os.path.relpath(p, root))
                raw += os.path.getsize(p)
                files += 1
print(raw, files)
"#;
    let output = Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(out)
        .arg(root)
        .args(items)
        .output()
        .expect("python3 for zipping the artifacts");
    assert!(output.status.success(), "zip {}: {}", root.display(), String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8_lossy(&output.stdout);
    let mut words = text.split_whitespace().map(|w| w.parse::<u64>().expect("number"));
    let (raw, files) = (words.next().expect("raw"), words.next().expect("files"));
    (std::fs::metadata(out).expect("zip written").len(), raw, files)
}

fn artifacts(config: &Config) -> Value {
    let dir = config.work_dir.join("artifacts");
    std::fs::create_dir_all(dir.join("rust")).expect("artifact dir");
    // Lambda's custom runtime runs a file named `bootstrap` at the root of the zip.
    let bootstrap = dir.join("rust/bootstrap");
    std::fs::copy(&config.rust_bootstrap, &bootstrap).expect("copy bootstrap");
    let (rust_zip, rust_raw, rust_files) = zip_size(&dir.join("rust"), &["bootstrap"], &dir.join("rust.zip"));
    let (node_zip, node_raw, node_files) =
        zip_size(&config.node_peer, &["index.mjs", "package.json", "node_modules"], &dir.join("node.zip"));
    json!({
        "rust": {"zip_bytes": rust_zip, "unzipped_bytes": rust_raw, "files": rust_files, "contents": "bootstrap"},
        "node": {"zip_bytes": node_zip, "unzipped_bytes": node_raw, "files": node_files,
                 "contents": "index.mjs, package.json, node_modules (production dependencies)"},
    })
}

fn criterion(config: &Config) -> Value {
    let read = |id: &str| -> Value {
        let path = config.criterion_dir.join(id).join("new/estimates.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run the criterion bench first; bench/run.sh does)", path.display()));
        let estimates: Value = serde_json::from_str(&text).expect("criterion estimates are JSON");
        let ns = |stat: &str| stats::round(estimates[stat]["point_estimate"].as_f64().expect("point estimate"));
        json!({
            "median_ns": ns("median"),
            "mean_ns": ns("mean"),
            "mean_ci95_ns": [
                stats::round(estimates["mean"]["confidence_interval"]["lower_bound"].as_f64().unwrap_or(f64::NAN)),
                stats::round(estimates["mean"]["confidence_interval"]["upper_bound"].as_f64().unwrap_or(f64::NAN)),
            ],
        })
    };
    json!({
        "profile": config.criterion_profile,
        "build_and_sign_get": read("build_and_sign_get"),
        "build_and_sign_post": read("build_and_sign_post"),
        "hmac_sha256_floor": read("hmac_sha256_floor"),
    })
}

fn package_version(dir: &Path, package: &str) -> String {
    let path = dir.join("node_modules").join(package).join("package.json");
    std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| v["version"].as_str().map(String::from))
        .unwrap_or_else(|| panic!("{} is missing: run bench/run.sh (npm ci)", path.display()))
}

fn mb(bytes: u64) -> f64 {
    stats::round(bytes as f64 / 1e6)
}

/// The JSON objects of a function's log, one per line (Node's runtime client prefixes its
/// lines with a timestamp and level: the object starts at the first `{`).
fn log_entries(log: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter_map(|line| line.find('{').and_then(|start| serde_json::from_str::<Value>(&line[start..]).ok()))
        .collect()
}

/// The handler time each function logs for itself (`latency_ms` of its one `request` line
/// per invocation: inside the handler, without the runtime client or event (de)serialisation),
/// in µs, without the first (cold) invocation.
fn logged_handler_micros(function: &Function) -> Vec<f64> {
    let mut micros: Vec<f64> = log_entries(&function.log)
        .into_iter()
        .filter(|entry| entry["message"] == "request")
        .filter_map(|entry| entry["latency_ms"].as_f64())
        .map(|ms| ms * 1000.0)
        .collect();
    if !micros.is_empty() {
        micros.remove(0);
    }
    micros
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("null-runtime") {
        null_runtime();
    }
    let config = parse_args();
    if std::env::args().nth(1).as_deref() == Some("compare") {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
        std::fs::create_dir_all(&config.work_dir).expect("work dir");
        println!("{}", serde_json::to_string_pretty(&runtime.block_on(compare(&config))).expect("JSON"));
        return;
    }
    for (what, path) in [
        ("the Rust bootstrap", config.rust_bootstrap.clone()),
        ("the runtime interface client", config.node_ric.join("node_modules/aws-lambda-ric/index.mjs")),
        ("the Node peer's dependencies", config.node_peer.join("node_modules/livekit-server-sdk")),
    ] {
        assert!(path.exists(), "{what} is missing at {}: run bench/run.sh", path.display());
    }
    std::fs::create_dir_all(&config.work_dir).expect("work dir");
    std::fs::create_dir_all(&config.out_dir).expect("out dir");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let results = runtime.block_on(run(&config));
    report::write(&config, &results);
}

async fn run(config: &Config) -> Value {
    let started = Instant::now();
    let load_before = load_average();
    let events = Events::load();
    let moto = MotoServer::start();
    for runtime in [Runtime::Rust, Runtime::Node, Runtime::Null] {
        moto.put_livekit(&runtime.ssm_prefix(), API_KEY, API_SECRET, LIVEKIT_URL).await;
    }
    moto.put_livekit(&Runtime::Webhook.ssm_prefix(), WEBHOOK_KEY.0, WEBHOOK_KEY.1, LIVEKIT_URL).await;
    wire_tests::fleet::create_table(&moto, STATE_TABLE).await;
    let ssm_floor = ssm_floor(&moto, if config.smoke { 3 } else { 50 }).await;
    eprintln!("bench: moto GetParameters floor {ssm_floor}");

    // Cold starts: the token generator, the Node peer, the hello-world floor and the
    // webhook receiver in turn, the order rotating, so drift in the machine's load touches
    // all of them alike.
    const COLD: [Runtime; 4] = [Runtime::Rust, Runtime::Node, Runtime::Hello, Runtime::Webhook];
    let mut cold: [Vec<ColdSample>; 4] = Default::default();
    let mut ssm_answers = Vec::new();
    for i in 0..config.cold_runs {
        let mut order = COLD;
        order.rotate_left(i % COLD.len());
        for runtime in order {
            let sample =
                cold_start(config, runtime, &moto, &SsmAccess::default(), &events, &format!("cold-{i:02}")).await;
            cold[COLD.iter().position(|r| *r == runtime).expect("a cold-start runtime")].push(sample);
        }
        // Two answers per round, so moto's median is as well sampled as a cold start's.
        for _ in 0..2 {
            ssm_answers.push(raw_get_parameters(&moto).await);
        }
        eprint!("\rbench: cold starts {}/{}", i + 1, config.cold_runs);
    }
    eprintln!();
    let [cold_rust, cold_node, cold_hello, cold_webhook] = cold;
    let tls = tls_cold_starts(config, &moto, &events).await;
    assert_equivalent(
        cold_rust[0].claims.as_ref().expect("claims"),
        cold_node[0].claims.as_ref().expect("claims"),
        Sample::Get,
    );

    // Warm: one process per runtime, invocations alternating GET and POST, chunks alternating
    // between runtimes.
    let mut warm = Vec::new();
    for runtime in [Runtime::Rust, Runtime::Node, Runtime::Null] {
        warm.push(warm_up(config, runtime, &moto, &events).await);
    }
    let mut done = 0;
    while done < config.warm_invocations {
        let count = WARM_CHUNK.min(config.warm_invocations - done);
        for w in warm.iter_mut() {
            warm_chunk(w, &events, count).await;
        }
        done += count;
        eprint!("\rbench: warm invocations {done}/{}", config.warm_invocations);
    }
    eprintln!();
    for w in warm.iter_mut() {
        w.function.assert_alive();
        w.result.peak_rss = w.function.peak_rss();
        w.result.ssm_calls = moto.get_parameters_calls(&w.runtime.ssm_prefix()).len() - w.calls_after_first;
    }
    let mut logged = Vec::new();
    for w in &warm[..2] {
        let micros = logged_handler_micros(&w.function);
        assert_eq!(
            micros.len(),
            config.warm_invocations,
            "{:?}: one `request` log line with latency_ms per warm invocation in {}",
            w.runtime,
            w.function.log.display()
        );
        logged.push(micros);
    }
    let (rust_claims, node_claims) = (&warm[0].result.claims, &warm[1].result.claims);
    for sample in [Sample::Get, Sample::Post] {
        let find = |claims: &[(Sample, Claims)]| claims.iter().find(|(s, _)| *s == sample).map(|(_, c)| c.clone());
        let (rust, node) = (find(rust_claims), find(node_claims));
        assert_equivalent(&rust.expect("a verified Rust token"), &node.expect("a verified Node token"), sample);
    }

    let artifacts = artifacts(config);
    let criterion = criterion(config);
    let floor = stats::distribution(&warm[2].result.all);

    let mut per_runtime = serde_json::Map::new();
    for (runtime, cold) in [(Runtime::Rust, &cold_rust), (Runtime::Node, &cold_node)] {
        let index = if runtime == Runtime::Rust { 0 } else { 1 };
        let w = &warm[index].result;
        let cold_ms: Vec<f64> = cold.iter().map(|s| s.millis).collect();
        let cold_rss: Vec<f64> = cold.iter().map(|s| s.peak_rss as f64 / 1e6).collect();
        let cold_calls: Vec<usize> = cold.iter().map(|s| s.ssm_calls).collect();
        let breakdown = phase_medians(cold);
        let warm_n = w.all.len();
        let net: Vec<f64> =
            stats::sorted(&w.all.iter().map(|v| v - floor["p50"].as_f64().unwrap_or(0.0)).collect::<Vec<_>>());
        let net_p50 = stats::percentile(&net, 50.0);
        let cold_start_ms = stats::spread(&cold_ms);
        per_runtime.insert(
            runtime.key().into(),
            json!({
                "cold_start_ms": cold_start_ms,
                "cold_start_breakdown_ms_median": breakdown,
                "warm_us": stats::distribution(&w.all),
                "warm_us_get": stats::distribution(&w.get),
                "warm_us_post": stats::distribution(&w.post),
                "handler_us_as_logged": stats::distribution(&logged[index]),
                "warm_us_net_of_harness_p50": {"p50": stats::round(net_p50),
                                               "p99": stats::round(stats::percentile(&net, 99.0))},
                "peak_rss_mb": {
                    "after_cold_start_median": stats::round(stats::percentile(&stats::sorted(&cold_rss), 50.0)),
                    "after_cold_start_max": stats::round(stats::sorted(&cold_rss)[cold_rss.len() - 1]),
                    "after_warm_run": mb(w.peak_rss),
                },
                "artifact": artifacts[runtime.key()].clone(),
                "monthly_cost": cost::monthly(net_p50 / 1000.0, cold_start_ms["median"].as_f64().unwrap_or(f64::NAN)),
                "ssm_get_parameters_calls": {
                    "per_cold_start": cold_calls,
                    "in_warm_process_cold_start": w.cold_ssm_calls,
                    "during_warm_invocations": w.ssm_calls,
                    "per_warm_request": w.ssm_calls as f64 / warm_n as f64,
                },
            }),
        );
    }
    let webhook_ms: Vec<f64> = cold_webhook.iter().map(|s| s.millis).collect();
    let webhook = json!({
        "cold_start_ms": stats::spread(&webhook_ms),
        "cold_start_breakdown_ms_median": phase_medians(&cold_webhook),
        "peak_rss_mb_after_cold_start_median":
            stats::round(stats::percentile(&stats::sorted(&cold_webhook.iter().map(|s| s.peak_rss as f64 / 1e6).collect::<Vec<_>>()), 50.0)),
        "ssm_get_parameters_calls_per_cold_start": cold_webhook.iter().map(|s| s.ssm_calls).collect::<Vec<_>>(),
        "event": "events/webhook-participant-joined.json (verified, acknowledged, nothing to act on)",
        "state_table": "STATE_TABLE set, on moto (no DynamoDB call for this event)",
    });
    let hello_ms: Vec<f64> = cold_hello.iter().map(|s| s.millis).collect();
    let hello = json!({
        "cold_start_ms": stats::spread(&hello_ms),
        "what": "bench/hello: lambda_http::run answering a constant, release profile; the floor of a Rust function",
    });
    let mut ssm_floor = ssm_floor;
    ssm_floor["raw_new_connection_ms"] = stats::spread(&ssm_answers);
    let own_overhead = own_overhead(&per_runtime["rust"], &webhook, &hello, &ssm_floor);
    let node_peer = &config.node_peer;
    json!({
        "schema": 1,
        "mode": if config.smoke { "smoke" } else { "full" },
        "generated_at": command_output("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]),
        "git_commit": command_output("git", &["-C", &workspace_root().to_string_lossy(), "rev-parse", "--short", "HEAD"]),
        "duration_s": stats::round(started.elapsed().as_secs_f64()),
        "machine": { "loadavg_before": load_before, "loadavg_after": load_average(), "details": machine() },
        "setup": {
            "cold_runs_per_runtime": config.cold_runs,
            "warm_invocations_per_runtime": config.warm_invocations,
            "events": ["events/token-get.json (cold starts; every other warm invocation)", "events/token-post-standard.json"],
            "rust_bootstrap": config.rust_bootstrap.strip_prefix(workspace_root()).unwrap_or(&config.rust_bootstrap),
            "rust_build": if config.rust_bootstrap.to_string_lossy().contains("/release/") { "release" } else { "debug" },
            "node_command": "node node_modules/aws-lambda-ric/index.mjs index.handler",
            "ssm": format!("moto_server {} (GetParameters WithDecryption)", command_output(
                &MotoServer::binary().with_file_name("python").to_string_lossy(), &["-c", "import moto; print(moto.__version__)"])),
            "versions": {
                "livekit-server-sdk": package_version(node_peer, "livekit-server-sdk"),
                "@aws-sdk/client-ssm": package_version(node_peer, "@aws-sdk/client-ssm"),
                "aws-lambda-ric": package_version(&config.node_ric, "aws-lambda-ric"),
            },
        },
        "ssm_floor": ssm_floor,
        "hello_world": hello,
        "own_overhead_ms": own_overhead,
        "cost_assumptions": cost::assumptions(),
        "ssm_over_tls": tls,
        "harness_floor": {"warm_us": floor, "what": "a do-nothing runtime client (bench null-runtime): loopback + harness per invocation"},
        "rust": per_runtime["rust"],
        "node": per_runtime["node"],
        "webhook": webhook,
        "criterion": criterion,
    })
}

/// `bench compare`: builds of the token generator side by side (issue 19's levers), each
/// against the hello-world floor in the same run: binary and zip size, cold starts (the
/// order rotating every round), our own overhead, and the handler time each logs over
/// warm invocations (chunks alternating between the builds). A label ending in `+bundle`
/// runs its build with `SSL_CERT_FILE` on the system's CA bundle (the template lever); one
/// ending in `+al2023` with the certificate layout of Lambda's provided.al2023 rebuilt from
/// this machine's bundle (see [`al2023_layout`]), to estimate what Lambda pays; one ending
/// in `+tls` reaches SSM through the TLS terminator.
async fn compare(config: &Config) -> Value {
    assert!(!config.compare.is_empty(), "bench compare LABEL=BOOTSTRAP...");
    let load_before = load_average();
    let events = Events::load();
    let moto = MotoServer::start();
    moto.put_livekit(&Runtime::Rust.ssm_prefix(), API_KEY, API_SECRET, LIVEKIT_URL).await;
    let builds: Vec<Config> = config
        .compare
        .iter()
        .map(|(label, path)| Config {
            rust_bootstrap: path.clone(),
            work_dir: config.work_dir.join(label),
            ..config.clone()
        })
        .collect();
    for build in &builds {
        std::fs::create_dir_all(&build.work_dir).expect("work dir");
    }
    let al2023 = al2023_layout(&config.work_dir);
    let terminator = tls::TlsSsm::start(&config.work_dir, moto.port).await;
    let access: Vec<SsmAccess> = config
        .compare
        .iter()
        .map(|(label, _)| {
            if label.ends_with("+tls") {
                // SSM behind TLS, trusting the bundle plus the test CA (see tls_cold_starts);
                // compare with a `+bundle` row for the handshake alone.
                let trust = Some((terminator.bundle_file.clone(), terminator.ca_file.clone()));
                SsmAccess { endpoint: Some(terminator.endpoint.clone()), trust, cert_dir: None }
            } else if label.ends_with("+al2023") {
                let (bundle, dir) = al2023.clone();
                SsmAccess { endpoint: None, trust: Some((bundle.clone(), bundle)), cert_dir: Some(dir) }
            } else {
                let bundle = PathBuf::from(SYSTEM_BUNDLE);
                let trust = label.ends_with("+bundle").then(|| (bundle.clone(), bundle));
                SsmAccess { endpoint: None, trust, cert_dir: None }
            }
        })
        .collect();
    let mut cold: Vec<Vec<ColdSample>> = builds.iter().map(|_| Vec::new()).collect();
    let (mut hello, mut ssm) = (Vec::new(), Vec::new());
    for i in 0..config.cold_runs {
        let mut order: Vec<usize> = (0..=builds.len()).collect();
        order.rotate_left(i % (builds.len() + 1));
        for k in order {
            let label = format!("cold-{i:02}");
            if k == builds.len() {
                hello.push(
                    cold_start(config, Runtime::Hello, &moto, &SsmAccess::default(), &events, &label).await.millis,
                );
            } else {
                cold[k].push(cold_start(&builds[k], Runtime::Rust, &moto, &access[k], &events, &label).await);
            }
        }
        ssm.push(raw_get_parameters(&moto).await);
        ssm.push(raw_get_parameters(&moto).await);
        eprint!("\rbench compare: cold starts {}/{}", i + 1, config.cold_runs);
    }
    eprintln!();
    let mut warm = Vec::new();
    for build in &builds {
        warm.push(warm_up(build, Runtime::Rust, &moto, &events).await);
    }
    let mut done = 0;
    while done < config.warm_invocations {
        let count = 100.min(config.warm_invocations - done);
        for w in warm.iter_mut() {
            warm_chunk(w, &events, count).await;
        }
        done += count;
    }
    let hello_ms = stats::spread(&hello);
    let ssm_ms = stats::spread(&ssm);
    let floor = hello_ms["median"].as_f64().unwrap_or(f64::NAN) + ssm_ms["median"].as_f64().unwrap_or(f64::NAN);
    let mut out = serde_json::Map::new();
    for (k, build) in builds.iter().enumerate() {
        let dir = build.work_dir.join("artifact");
        std::fs::create_dir_all(&dir).expect("artifact dir");
        std::fs::copy(&build.rust_bootstrap, dir.join("bootstrap")).expect("copy bootstrap");
        let (zip, raw, _) = zip_size(&dir, &["bootstrap"], &build.work_dir.join("bootstrap.zip"));
        let cold_ms = stats::spread(&cold[k].iter().map(|s| s.millis).collect::<Vec<_>>());
        let median = cold_ms["median"].as_f64().unwrap_or(f64::NAN);
        out.insert(
            config.compare[k].0.clone(),
            json!({
                "bootstrap": build.rust_bootstrap,
                "binary_bytes": raw,
                "zip_bytes": zip,
                "cold_start_ms": cold_ms,
                "cold_start_breakdown_ms_median": phase_medians(&cold[k]),
                "own_overhead_ms": stats::round(median - floor),
                "handler_us_as_logged": stats::distribution(&logged_handler_micros(&warm[k].function)),
                "warm_us": stats::distribution(&warm[k].result.all),
            }),
        );
    }
    json!({
        "generated_at": command_output("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]),
        "git_commit": command_output("git", &["-C", &workspace_root().to_string_lossy(), "rev-parse", "--short", "HEAD"]),
        "cold_runs": config.cold_runs,
        "warm_invocations": config.warm_invocations,
        "hello_world_ms": hello_ms,
        "ssm_answer_ms": ssm_ms,
        "builds": out,
        "machine": {"loadavg_before": load_before, "loadavg_after": load_average(), "details": machine()},
    })
}

/// The certificate layout of Lambda's provided.al2023, rebuilt from this machine's bundle
/// (Amazon Linux 2023 as documented by its ca-certificates package): the PEM bundle
/// `/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem`, which rustls-native-certs finds
/// first, and the directory `/etc/pki/tls/certs` (where `/etc/ssl/certs` points) holding
/// only `ca-bundle.crt` (a link to that bundle: read once) and `ca-bundle.trust.crt` (the
/// same roots as OpenSSL `TRUSTED CERTIFICATE`s, which it reads and skips). Returns
/// (`SSL_CERT_FILE`, `SSL_CERT_DIR`).
fn al2023_layout(work_dir: &Path) -> (PathBuf, PathBuf) {
    let root = work_dir.join("al2023-certs");
    let dir = root.join("certs");
    std::fs::create_dir_all(&dir).expect("al2023 cert dir");
    let bundle = root.join("tls-ca-bundle.pem");
    let pem = std::fs::read_to_string(SYSTEM_BUNDLE).expect("the system CA bundle");
    std::fs::write(&bundle, &pem).expect("write the bundle");
    let trusted = pem
        .replace("BEGIN CERTIFICATE", "BEGIN TRUSTED CERTIFICATE")
        .replace("END CERTIFICATE", "END TRUSTED CERTIFICATE");
    std::fs::write(dir.join("ca-bundle.trust.crt"), trusted).expect("write the trust bundle");
    let link = dir.join("ca-bundle.crt");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&bundle, &link).expect("link ca-bundle.crt");
    (bundle, dir)
}
