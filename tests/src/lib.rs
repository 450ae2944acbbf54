//! Test harness for the wire-level tests: a real `moto_server` speaking the AWS SSM wire
//! protocol, the official Node SDK as a peer, a tiny HTTP client, and the `events/`
//! samples loaded through `lambda_http`'s own API Gateway deserialisation.

use std::io::Write;
use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_ssm::config::{BehaviorVersion, Credentials as AwsCredentials, Region};
use aws_sdk_ssm::types::ParameterType;
use base64::Engine;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub mod burst;
pub mod fleet;
pub mod hostile_events;
pub mod livekit_server;
pub mod oidc;
pub mod runtime_api;

/// Serves `handler` over HTTP/1.1 on a free loopback port and returns the port. Sockets
/// get TCP_NODELAY: without it every small round trip waits ~40 ms for a delayed ACK.
pub(crate) async fn serve_loopback<F, Fut>(handler: F) -> u16
where
    F: Fn(hyper::Request<hyper::body::Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<
            Output = Result<hyper::Response<http_body_util::Full<hyper::body::Bytes>>, std::convert::Infallible>,
        > + Send
        + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let _ = stream.set_nodelay(true);
            let handler = handler.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(handler);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    port
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free loopback port")
}

/// A comma-separated list from a command line (`10,1000,10000`, `legacy,budget`); empty is none.
pub fn comma_list<T: std::str::FromStr>(raw: &str) -> Vec<T> {
    raw.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().unwrap_or_else(|_| panic!("`{s}` in `{raw}` is not valid here")))
        .collect()
}

/// A `moto_server` on a free loopback port. It is started under a watchdog shell that
/// kills it when this process's end of the stdin pipe closes, so a crashed or finished
/// test binary never leaves a server behind.
pub struct MotoServer {
    pub port: u16,
    watchdog: Child,
}

impl MotoServer {
    /// Finds `moto_server` in `$MOTO_SERVER` or `tests/.venv/bin/` (installed by `make test`).
    pub fn binary() -> PathBuf {
        if let Some(path) = std::env::var_os("MOTO_SERVER") {
            return PathBuf::from(path);
        }
        let path = workspace_root().join("tests/.venv/bin/moto_server");
        assert!(
            path.exists(),
            "moto_server not found at {}: run `make test` (or `make test-deps`) to install it",
            path.display()
        );
        path
    }

    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// A moto_server that handles one request at a time, for DynamoDB's conditional
    /// writes (tests/python/moto_serial.py): DynamoDB decides each item's condition and
    /// write atomically; moto's backend takes no lock, so two concurrent conditional writes
    /// of one item can both pass there (seen in the fleet simulation: 4 requests through a
    /// limit of 3).
    pub fn start_serial() -> Self {
        Self::start_with(true)
    }

    fn start_with(serial: bool) -> Self {
        let port = free_port();
        let recording = std::env::temp_dir().join(format!("moto-recording-{port}-{}.jsonl", std::process::id()));
        let script = r#"MOTO_RECORDER_FILEPATH="$2" "$1" -H 127.0.0.1 -p "$3" >/dev/null 2>&1 & pid=$!; cat >/dev/null; kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$2""#;
        let serial_script = r#"MOTO_RECORDER_FILEPATH="$2" "$4" "$5" -H 127.0.0.1 -p "$3" >/dev/null 2>&1 & pid=$!; cat >/dev/null; kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$2""#;
        let binary = Self::binary();
        // The interpreter of the virtualenv moto_server was installed in.
        let python = binary.with_file_name("python");
        let watchdog = Command::new("sh")
            .args(["-c", if serial { serial_script } else { script }, "moto-watchdog"])
            .arg(&binary)
            .arg(&recording)
            .arg(port.to_string())
            .arg(&python)
            .arg(workspace_root().join("tests/python/moto_serial.py"))
            .stdin(Stdio::piped())
            .spawn()
            .expect("start moto_server");
        let server = Self { port, watchdog };
        server.wait_ready();
        for path in ["/moto-api/recorder/reset-recording", "/moto-api/recorder/start-recording"] {
            let (status, _) = blocking_http("POST", server.port, path, &[], b"");
            assert_eq!(status, 200, "{path}");
        }
        server
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                let (status, _) = blocking_http("GET", self.port, "/moto-api/", &[], b"");
                if status == 200 {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("moto_server did not start on port {} within 60 s", self.port);
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// An SSM client that talks to this server over the real AWS wire protocol.
    pub fn ssm_client(&self) -> aws_sdk_ssm::Client {
        ssm_client_for(&self.endpoint())
    }

    pub async fn put(&self, name: &str, value: &str, kind: ParameterType) {
        self.ssm_client()
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(kind)
            .overwrite(true)
            .send()
            .await
            .unwrap_or_else(|e| panic!("put {name}: {e:?}"));
    }

    pub async fn delete(&self, name: &str) {
        self.ssm_client().delete_parameter().name(name).send().await.unwrap_or_else(|e| panic!("delete {name}: {e:?}"));
    }

    /// Stores a full set of SecureString parameters under `prefix`.
    pub async fn put_livekit(&self, prefix: &str, key: &str, secret: &str, url: &str) {
        for (name, value) in [("api-key", key), ("api-secret", secret), ("url", url)] {
            self.put(&format!("{prefix}/{name}"), value, ParameterType::SecureString).await;
        }
    }

    /// `GetParameters` calls this server received for names under `prefix`, counted from
    /// moto's request recorder (so the count is taken at the endpoint, not in our code).
    pub fn get_parameters_calls(&self, prefix: &str) -> Vec<Value> {
        let (status, body) = blocking_http("GET", self.port, "/moto-api/recorder/download-recording", &[], b"");
        assert_eq!(status, 200, "download-recording");
        String::from_utf8_lossy(&body)
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|r| r["headers"]["X-Amz-Target"] == "AmazonSSM.GetParameters")
            .filter_map(|r| {
                let raw = r["body"].as_str()?;
                let bytes = if r["body_encoded"] == true {
                    base64::engine::general_purpose::STANDARD.decode(raw).ok()?
                } else {
                    raw.as_bytes().to_vec()
                };
                serde_json::from_slice::<Value>(&bytes).ok()
            })
            .filter(|body| {
                body["Names"].as_array().is_some_and(|names| {
                    names.iter().any(|n| n.as_str().is_some_and(|n| n.starts_with(&format!("{prefix}/"))))
                })
            })
            .collect()
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        drop(self.watchdog.stdin.take());
        let _ = self.watchdog.wait();
    }
}

pub fn ssm_client_for(endpoint: &str) -> aws_sdk_ssm::Client {
    let config = aws_sdk_ssm::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        // The production client (rustls on ring), not a test double.
        .http_client(livekit_lambda_shared::aws::https_client())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(AwsCredentials::new("test", "test", None, None, "wire-tests"))
        .timeout_config(
            aws_sdk_ssm::config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_timeout(Duration::from_secs(10))
                .build(),
        )
        .retry_config(aws_sdk_ssm::config::retry::RetryConfig::standard().with_max_attempts(1))
        .build();
    aws_sdk_ssm::Client::from_conf(config)
}

/// The head of a one-shot HTTP/1.1 request (`Connection: close`).
fn request_head(method: &str, port: u16, path: &str, headers: &[(&str, &str)], body_len: usize) -> String {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {body_len}\r\n"
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    head
}

/// A one-shot HTTP/1.1 request on loopback (Connection: close). Returns status and body.
pub fn blocking_http(method: &str, port: u16, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, Vec<u8>) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let head = request_head(method, port, path, headers, body.len());
    stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(body)).expect("write request");
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut stream, &mut raw).expect("read response");
    let response = parse_response(&raw);
    (response.status, response.body)
}

/// A parsed HTTP/1.1 response.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// An HTTP/1.1 response as read off the wire.
pub fn parse_response(raw: &[u8]) -> HttpResponse {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("response has a header block");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.lines();
    let status =
        lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse().ok()).expect("status line");
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    HttpResponse { status, headers, body }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..end]).trim(), 16).unwrap_or(0);
        let Some(chunk) = data.get(end + 2..end + 2 + size).filter(|_| size > 0) else { break };
        out.extend_from_slice(chunk);
        data = data.get(end + 2 + size + 2..).unwrap_or_default();
    }
    out
}

/// An HTTP/1.1 request on loopback through hyper's client, for tests that run a server
/// in-process. Only well-formed requests: bytes hyper would refuse to send go through
/// [`raw_http`].
pub async fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> HttpResponse {
    use http_body_util::{BodyExt, Full};
    use hyper::body::Bytes;

    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(connection);
    let mut request = hyper::Request::builder().method(method).uri(path).header("host", format!("127.0.0.1:{port}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(Bytes::copy_from_slice(body)))
        .unwrap_or_else(|e| panic!("{method} {path} is not a well-formed request ({e}): use raw_http"));
    let response = tokio::time::timeout(Duration::from_secs(30), sender.send_request(request))
        .await
        .expect("response within 30 s")
        .expect("response");
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).to_string()))
        .collect();
    let body = response.into_body().collect().await.expect("body").to_bytes().to_vec();
    HttpResponse { status, headers, body }
}

/// The same request written byte for byte on the socket (`Connection: close`): for what a
/// well-behaved client refuses to send (control bytes in headers, over-long lines).
pub async fn raw_http(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> HttpResponse {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
    let head = request_head(method, port, path, headers, body.len());
    stream.write_all(head.as_bytes()).await.expect("write head");
    stream.write_all(body).await.expect("write body");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut raw))
        .await
        .expect("response within 30 s")
        .expect("read");
    parse_response(&raw)
}

/// Runs one of the Node peer scripts in `tests/node/` with a JSON request on stdin.
pub fn node(script: &str, input: &Value) -> Value {
    let dir = workspace_root().join("tests/node");
    assert!(
        dir.join("node_modules/livekit-server-sdk").exists(),
        "tests/node/node_modules is missing: run `make test` (or `make test-deps`) to install the official SDK"
    );
    let mut child = Command::new("node")
        .arg(dir.join(script))
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node is installed");
    child.stdin.take().expect("stdin").write_all(input.to_string().as_bytes()).expect("write stdin");
    let output = child.wait_with_output().expect("node ran");
    assert!(output.status.success(), "{script} failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{script} printed non-JSON ({e}): {}", String::from_utf8_lossy(&output.stdout)))
}

/// Verifies tokens with the official `livekit-server-sdk` `TokenVerifier`.
pub fn verify_with_node_sdk(api_key: &str, api_secret: &str, tokens: &[&str]) -> Vec<Value> {
    let result =
        node("verify-token.mjs", &serde_json::json!({"apiKey": api_key, "apiSecret": api_secret, "tokens": tokens}));
    result["results"].as_array().expect("results array").clone()
}

/// The sample API Gateway events, by file name.
pub fn event_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(workspace_root().join("events"))
        .expect("events/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

/// Loads a sample event through `lambda_http`'s own deserialisation, exactly as the
/// Lambda runtime would hand it to the handler.
pub fn load_event(path: &Path) -> lambda_http::Request {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    lambda_http::request::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not an API Gateway event: {e}", path.display()))
}

/// The status each sample event must get (with `ALLOWED_ORIGINS=http://localhost:3000`;
/// samples carrying `requestContext.authorizer` with `AUTH_MODE=jwt`, see
/// [`signed_in_settings`]). Every file in `events/` needs an entry: a sample nobody
/// checks would rot.
pub fn expected_status(event_file: &str) -> u16 {
    match event_file {
        "health.json" | "token-get.json" | "token-get-signed-in.json" => 200,
        "token-post-standard.json" | "token-post-empty.json" | "token-post-machine.json" => 201,
        "token-options-preflight.json" => 204,
        "guest-token-get.json" => 200,
        "room-link-create.json" => 201,
        "room-link-create-preflight.json" | "room-link-revoke-preflight.json" => 204,
        // No state table behind `sam local invoke`: links are stateless, nothing to revoke.
        "room-link-revoke.json" => 501,
        "token-bad-room.json" => 400,
        "webhook-egress-limit-reached.json" | "webhook-participant-joined.json" => 200,
        "webhook-bad-signature.json" => 401,
        "subtitles-start.json" => 201,
        "subtitles-stop.json" => 204,
        "guest-lobby-knock.json" => 202,
        // A fresh container knows no request (`sam local invoke` is one each time).
        "guest-lobby-wait.json" | "room-lobby-decide.json" => 404,
        "room-lobby-list.json" => 200,
        "room-lobby-preflight.json" | "room-lobby-decide-preflight.json" => 204,
        "room-end.json" => 204,
        "room-participant-mute.json" | "room-me-hand.json" => 200,
        // A fresh container: nobody was removed.
        "room-removal-lift.json" => 404,
        "room-end-preflight.json" | "room-participant-preflight.json" | "room-removal-preflight.json" => 204,
        other => panic!("events/{other} has no expected status in tests/src/lib.rs: add one"),
    }
}

/// The file name of an event path.
pub fn event_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default()
}

/// Signs a webhook body the way LiveKit server does, with the official Node SDK
/// (`AccessToken` with the `sha256` claim, 5-minute validity). `extra` may set
/// `ttlSeconds` (negative: already expired) or `sha256` (a wrong digest).
pub fn sign_webhook(api_key: &str, api_secret: &str, body: &str, extra: Value) -> String {
    let mut input = serde_json::json!({"apiKey": api_key, "apiSecret": api_secret, "body": body});
    if let (Some(input), Some(extra)) = (input.as_object_mut(), extra.as_object()) {
        input.extend(extra.clone());
    }
    node("sign-webhook.mjs", &input)["authorization"].as_str().expect("authorization").to_string()
}

/// The function (binary name) that serves a path, from the one route table.
pub fn function_for_path(path: &str) -> &'static str {
    match livekit_lambda_shared::routes::find(path) {
        Some(matched) => matched.route.function.binary(),
        None => panic!("no function serves {path}"),
    }
}

/// The SAM logical id of a function, by binary name (`sam build` puts its bootstrap in
/// `.aws-sam/build/<logical id>/`).
pub fn logical_id(binary: &str) -> String {
    let mut id: String = binary.split('-').map(|w| w[..1].to_uppercase() + &w[1..]).collect();
    id.push_str("Function");
    id
}

/// Mints a participant token with LiveKit's official Python SDK (PyPI `livekit-api`).
pub fn python_sdk_token(api_key: &str, api_secret: &str, room: &str, identity: &str) -> String {
    let python = workspace_root().join("tests/.venv/bin/python");
    assert!(python.exists(), "tests/.venv is missing: run `make test` (or `make test-deps`)");
    let mut child = Command::new(python)
        .arg(workspace_root().join("tests/python/mint_token.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python");
    let input = serde_json::json!({"apiKey": api_key, "apiSecret": api_secret, "identity": identity, "room": room});
    child.stdin.take().expect("stdin").write_all(input.to_string().as_bytes()).expect("write stdin");
    let output = child.wait_with_output().expect("python ran");
    assert!(output.status.success(), "mint_token.py failed: {}", String::from_utf8_lossy(&output.stderr));
    let reply: Value = serde_json::from_slice(&output.stdout).expect("JSON from mint_token.py");
    reply["token"].as_str().expect("token").to_string()
}

/// How the [`FaultProxy`] treats the next connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Forward to the target unchanged.
    None,
    /// Accept and never answer (a slow or stuck SSM).
    Hang,
    /// Answer every request with an AWS-style `500 InternalServerError`.
    ServerError,
    /// Answer every request with an AWS-style `400 ThrottlingException` (a service over
    /// its request rate).
    Throttled,
}

/// A loopback TCP proxy in front of a server (moto) that can hang or fail on command.
/// Changing the fault closes every open connection, so pooled clients see it at once.
pub struct FaultProxy {
    pub port: u16,
    mode: tokio::sync::watch::Sender<Fault>,
}

impl FaultProxy {
    pub async fn start(target_port: u16) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("address").port();
        let (mode, watch) = tokio::sync::watch::channel(Fault::None);
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else { return };
                let mut watch = watch.clone();
                let fault = *watch.borrow_and_update();
                tokio::spawn(async move {
                    let serve = async {
                        match fault {
                            Fault::None => {
                                if let Ok(mut upstream) =
                                    tokio::net::TcpStream::connect(("127.0.0.1", target_port)).await
                                {
                                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                                }
                            }
                            Fault::Hang => std::future::pending::<()>().await,
                            Fault::ServerError | Fault::Throttled => {
                                let (status, error) = match fault {
                                    Fault::Throttled => ("400 Bad Request", "ThrottlingException"),
                                    _ => ("500 Internal Server Error", "InternalServerError"),
                                };
                                let mut buffer = vec![0u8; 64 * 1024];
                                while let Ok(n) = client.read(&mut buffer).await {
                                    if n == 0 {
                                        break;
                                    }
                                    let body =
                                        format!(r#"{{"__type":"{error}","message":"injected by the test proxy"}}"#);
                                    let reply = format!(
                                        "HTTP/1.1 {status}\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\n\r\n{body}",
                                        body.len()
                                    );
                                    if client.write_all(reply.as_bytes()).await.is_err() {
                                        break;
                                    }
                                }
                            }
                        }
                    };
                    tokio::select! {
                        _ = serve => {}
                        _ = watch.changed() => {}
                    }
                });
            }
        });
        Self { port, mode }
    }

    pub fn set(&self, fault: Fault) {
        self.mode.send_replace(fault);
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// An SSM client with the production settings (`shared::ssm::aws_config_loader`: ring
/// HTTPS client, timeouts, retries) pointed at `endpoint`.
pub async fn production_ssm_client(endpoint: &str, timeout: Duration) -> aws_sdk_ssm::Client {
    let config = livekit_lambda_shared::ssm::aws_config_loader(timeout)
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(AwsCredentials::new("test", "test", None, None, "wire-tests"))
        .load()
        .await;
    aws_sdk_ssm::Client::new(&config)
}

/// The room-link key that signed `events/guest-token-get.json`: a sample, never deployed
/// (`ROOM_LINK_KEYS="sample: …"` for `sam local invoke`, docs/room-links.md).
pub const SAMPLE_ROOM_LINK_KEY: (&str, &str) = ("sample", "sample-room-link-key-never-deploy-it-0001");

/// Whether a sample event went through API Gateway's JWT authorizer.
pub fn is_authorized_event(path: &Path) -> bool {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    serde_json::from_str::<Value>(&text).is_ok_and(|event| event["requestContext"]["authorizer"]["jwt"].is_object())
}

/// Whether a sample event is for a deployment with authentication on (`AuthMode=jwt`): it
/// went through the authorizer, or it is a room-link route or the room controls' (all need
/// it).
pub fn is_signed_in_deployment_event(path: &Path) -> bool {
    use livekit_lambda_shared::routes::{self, Function, GUEST_TOKEN, ROOM_LINK, ROOM_LINKS};
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let raw_path = serde_json::from_str::<Value>(&text).map(|e| e["rawPath"].as_str().unwrap_or_default().to_string());
    let needs_auth = raw_path.ok().and_then(|p| routes::find(&p).map(|m| m.route)).is_some_and(|route| {
        [GUEST_TOKEN, ROOM_LINKS, ROOM_LINK].contains(&route.path) || route.function == Function::RoomControls
    });
    needs_auth || is_authorized_event(path)
}

/// The token generator's authentication as the template sets it with `AuthMode=jwt` for
/// the sample events' (Cognito) issuer, plus `AuthAdminClaim=cognito:groups=moderators`.
pub fn signed_in_settings() -> token_generator::AuthSettings {
    token_generator::AuthSettings {
        enabled: true,
        issuer: Some("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Ex4mpl3Pl".into()),
        admin_claim: Some(("cognito:groups".into(), "moderators".into())),
        ..Default::default()
    }
}
