//! The local server (what `make dev` runs) over real HTTP on loopback, with the
//! embedded development defaults.

use livekit_lambda_shared::EnvSettings;
use local_server::{serve, LocalRoutes};
use serde_json::Value;
use tokio::net::TcpListener;
use wire_tests::{http, raw_http, verify_with_node_sdk};

async fn start(env: &[(&str, &str)]) -> u16 {
    let routes =
        LocalRoutes::from_env(&EnvSettings::from_pairs(env.iter().copied())).await.expect("settings are valid");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(serve(listener, routes, local_server::DEFAULT_IDLE_TIMEOUT));
    port
}

#[tokio::test]
async fn dev_defaults_issue_tokens_livekit_dev_server_accepts() {
    let port = start(&[]).await;
    let response = http(port, "GET", "/token?room=demo&participant=Jane", &[], b"").await;
    assert_eq!(response.status, 200);
    let body = response.json();
    assert_eq!(body["url"], "ws://localhost:7880");
    assert_eq!(body["room"], "demo");
    assert_eq!(body["participant"], "Jane");
    // `livekit-server --dev` runs with devkey/secret: the official SDK stands in for it.
    let verdict = &verify_with_node_sdk("devkey", "secret", &[body["token"].as_str().unwrap()])[0];
    assert_eq!(verdict["ok"], true, "{verdict}");
    assert_eq!(response.header("cache-control"), Some("no-store"));
    assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(response.header("access-control-allow-origin"), None, "CORS is closed by default");

    let created =
        http(port, "POST", "/token", &[("content-type", "application/json")], br#"{"room_name":"demo"}"#).await;
    assert_eq!(created.status, 201);
    let body: Value = created.json();
    assert_eq!(body["room_name"], "demo");
    assert!(body["participant_token"].is_string());
}

/// method, path, headers, body, expected status, expected error code
type ErrorCase = (&'static str, &'static str, &'static [(&'static str, &'static str)], Vec<u8>, u16, &'static str);

#[tokio::test]
async fn errors_are_json_with_stable_codes_over_http() {
    let port = start(&[("MAX_BODY_BYTES", "1024")]).await;
    let cases: [ErrorCase; 6] = [
        ("GET", "/nope", &[], vec![], 404, "not_found"),
        ("DELETE", "/token", &[], vec![], 405, "method_not_allowed"),
        ("GET", "/token?room=demo", &[], vec![], 400, "missing_parameter"),
        ("POST", "/token", &[("content-type", "text/plain")], b"{}".to_vec(), 415, "unsupported_media_type"),
        ("POST", "/token", &[("content-type", "application/json")], vec![b' '; 2048], 413, "body_too_large"),
        ("POST", "/token", &[("content-type", "application/json")], b"{\"room_name\":".to_vec(), 400, "invalid_json"),
    ];
    for (method, path, headers, body, status, code) in cases {
        let response = http(port, method, path, headers, &body).await;
        assert_eq!(response.status, status, "{method} {path}");
        assert_eq!(response.json()["error"]["code"], code, "{method} {path}");
        assert_eq!(response.header("content-type"), Some("application/json"));
        assert_eq!(response.header("cache-control"), Some("no-store"));
    }
    let not_allowed = http(port, "DELETE", "/token", &[], b"").await;
    assert_eq!(not_allowed.header("allow"), Some("GET, POST, OPTIONS"));
}

#[tokio::test]
async fn cors_preflight_and_origin_checks() {
    let port = start(&[("ALLOWED_ORIGINS", "http://localhost:3000")]).await;
    let preflight = [
        ("origin", "http://localhost:3000"),
        ("access-control-request-method", "POST"),
        ("access-control-request-headers", "content-type"),
    ];
    let ok = http(port, "OPTIONS", "/token", &preflight, b"").await;
    assert_eq!(ok.status, 204);
    assert_eq!(ok.header("access-control-allow-origin"), Some("http://localhost:3000"));
    assert_eq!(ok.header("access-control-allow-headers"), Some("content-type"));

    let evil = [("origin", "https://evil.example.com"), ("access-control-request-method", "POST")];
    let refused = http(port, "OPTIONS", "/token", &evil, b"").await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.header("access-control-allow-origin"), None);

    let allowed = http(port, "GET", "/token?room=a&participant=b", &[("origin", "http://localhost:3000")], b"").await;
    assert_eq!(allowed.header("access-control-allow-origin"), Some("http://localhost:3000"));
    assert_eq!(allowed.header("vary"), Some("Origin"));
    let other = http(port, "GET", "/token?room=a&participant=b", &[("origin", "https://evil.example.com")], b"").await;
    assert_eq!(other.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn invalid_settings_stop_start_up_naming_the_variable() {
    let error = LocalRoutes::from_env(&EnvSettings::from_pairs([("TOKEN_TTL_SECONDS", "forever")])).await.unwrap_err();
    assert!(error.to_string().contains("TOKEN_TTL_SECONDS"), "{error}");
    let error = LocalRoutes::from_env(&EnvSettings::from_pairs([("LIVEKIT_API_KEY", "k")])).await.unwrap_err();
    assert!(error.to_string().contains("LIVEKIT_API_SECRET"), "{error}");
}

#[tokio::test]
async fn environment_credentials_take_precedence_over_dev_defaults() {
    let port = start(&[
        ("LIVEKIT_API_KEY", "APIenv"),
        ("LIVEKIT_API_SECRET", "env-secret-env-secret-env-secret-01"),
        ("LIVEKIT_URL", "https://env.example.com"),
    ])
    .await;
    let body = http(port, "GET", "/token?room=a&participant=b", &[], b"").await.json();
    assert_eq!(body["url"], "wss://env.example.com");
    let verdict =
        &verify_with_node_sdk("APIenv", "env-secret-env-secret-env-secret-01", &[body["token"].as_str().unwrap()])[0];
    assert_eq!(verdict["ok"], true, "{verdict}");
}

/// hyper refuses a request line past 64 KiB with a bare `414`; the local server reads the
/// line first and refuses a long one with JSON and the security headers, like every refusal.
#[tokio::test]
async fn an_overlong_request_line_is_a_json_414() {
    let port = start(&[]).await;
    for length in [20_000, 70_000] {
        let path = format!("/token?room={}&participant=Jane", "r".repeat(length));
        // Raw bytes: a URI this long is more than the `http` crate lets a client build.
        let response = raw_http(port, "GET", &path, &[], b"").await;
        assert_eq!(response.status, 414, "{length}");
        assert_eq!(response.json()["error"]["code"], "uri_too_long", "{length}");
        for (name, value) in livekit_lambda_shared::web::SECURITY_HEADERS {
            assert_eq!(response.header(name), Some(value), "{length}: {name}");
        }
    }
    // A line just under the bound still reaches the function (which refuses the room).
    let path = format!("/token?room={}&participant=Jane", "r".repeat(10_000));
    assert_eq!(http(port, "GET", &path, &[], b"").await.json()["error"]["code"], "invalid_room");
}

/// `MAX_NAME_CHARS` is one setting for every function: a room the token generator mints
/// tokens for is a room the subtitle dispatcher accepts, at the default and when raised.
#[tokio::test]
async fn every_function_applies_the_same_room_name_limit() {
    for (limit, setting) in [(128, None), (200, Some("200"))] {
        let mut env = vec![("SUBTITLE_AGENT_NAME", "transcriber")];
        if let Some(value) = setting {
            env.push(("MAX_NAME_CHARS", value));
        }
        let port = start(&env).await;
        for (length, accepted) in [(limit, true), (limit + 1, false)] {
            let room = "r".repeat(length);
            let token = http(port, "GET", &format!("/token?room={room}&participant=Jane"), &[], b"").await;
            assert_eq!(token.status == 200, accepted, "token, {length} characters, limit {limit}");
            let bearer = match token.json()["token"].as_str() {
                Some(jwt) => format!("Bearer {jwt}"),
                None => "Bearer not-a-token".to_string(),
            };
            let subtitles =
                http(port, "POST", &format!("/rooms/{room}/subtitles"), &[("authorization", bearer.as_str())], b"")
                    .await;
            let refused_room = subtitles.json()["error"]["code"] == "invalid_room";
            assert_eq!(!refused_room, accepted, "subtitles, {length} characters, limit {limit}: {}", subtitles.status);
        }
    }
}

/// `make dev` with a key set from the environment, as LiveKit takes it (`LIVEKIT_KEYS`):
/// a delivery signed by a key that only verifies is accepted; a malformed set stops
/// start-up naming the variable and no secret.
#[tokio::test]
async fn livekit_keys_from_the_environment_verify_webhooks() {
    let (old, new) = (
        ("APIoldLocal", "old-local-secret-old-local-secret-0"),
        ("APInewLocal", "new-local-secret-new-local-secret-0"),
    );
    let keys = format!("{}: {}, {}: {}", old.0, old.1, new.0, new.1);
    let port = start(&[
        ("LIVEKIT_API_KEY", new.0),
        ("LIVEKIT_API_SECRET", new.1),
        ("LIVEKIT_URL", "ws://localhost:7880"),
        ("LIVEKIT_KEYS", keys.as_str()),
        ("RECORDING_LIMIT_NOTICE", "false"),
    ])
    .await;
    let body = r#"{"event":"room_started","id":"EV_local_keys","room":{"name":"demo"}}"#;
    for (key, expected) in [(old, 200), (new, 200), (("APIunknown", old.1), 401)] {
        let authorization = wire_tests::sign_webhook(key.0, key.1, body, serde_json::json!({}));
        let headers = [("content-type", "application/webhook+json"), ("authorization", authorization.as_str())];
        let response = http(port, "POST", "/webhook", &headers, body.as_bytes()).await;
        assert_eq!(response.status, expected, "{}: {}", key.0, String::from_utf8_lossy(&response.body));
    }

    for (keys, expected) in
        [("APIx secret-without-colon", "entry 1"), (&*format!("{}: another-secret-value", new.0), "different secret")]
    {
        let error = LocalRoutes::from_env(&EnvSettings::from_pairs([
            ("LIVEKIT_API_KEY", new.0),
            ("LIVEKIT_API_SECRET", new.1),
            ("LIVEKIT_URL", "ws://localhost:7880"),
            ("LIVEKIT_KEYS", keys),
        ]))
        .await
        .unwrap_err()
        .to_string();
        assert!(error.contains("LIVEKIT_KEYS") && error.contains(expected), "{error}");
        assert!(!error.contains("secret-without-colon") && !error.contains("another-secret-value"), "{error}");
    }
    let alone = LocalRoutes::from_env(&EnvSettings::from_pairs([("LIVEKIT_KEYS", "k: s")])).await.unwrap_err();
    assert!(alone.to_string().contains("LIVEKIT_API_KEY"), "{alone}");
}

/// What a newcomer's `make dev` prints, read through a pipe as a log file or CI would: the
/// built binary's start-up log until it listens, then it is stopped.
fn start_up_log(env: &[(&str, &str)]) -> String {
    use std::io::{BufRead, BufReader};
    let binary = wire_tests::workspace_root().join("target/debug/local-server");
    assert!(binary.exists(), "{} does not exist: build it first (`make test` does)", binary.display());
    let mut child = std::process::Command::new(&binary)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORT", "0")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the local server starts");
    let mut log = String::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.expect("stdout is text");
        log.push_str(&line);
        log.push('\n');
        if line.contains("listening on") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    log
}

/// Issue 26: a newcomer found `/rooms/{room}/subtitles` answering `404 no such route` with
/// nothing saying why, and the log full of colour codes in a file.
#[test]
fn the_start_up_log_is_plain_text_and_names_each_feature_that_is_off() {
    let log = start_up_log(&[]);
    assert!(log.contains("listening on"), "{log}");
    assert!(!log.contains('\u{1b}'), "no ANSI colour codes when stdout is not a terminal:\n{log:?}");
    for (feature, switch) in [
        ("subtitles (/rooms/{room}/subtitles)", "SUBTITLE_AGENT_NAME=<agent>"),
        ("room links (/rooms/{room}/links, /guest/token)", "ROOM_LINKS=on"),
        ("authentication on /token", "AUTH_MODE=jwt"),
        ("SIP dial-in PINs per room", "SIP_TRUNK_ID=<trunk>"),
    ] {
        let line = log.lines().find(|l| l.contains(feature)).unwrap_or_else(|| panic!("no line for {feature}:\n{log}"));
        assert!(line.contains("off") && line.contains(switch), "{line}");
    }
    assert!(log.contains("set STATE_TABLE"), "{log}");
    let on = start_up_log(&[("SUBTITLE_AGENT_NAME", "transcriber")]);
    let line = on.lines().find(|l| l.contains("subtitles (/rooms/{room}/subtitles)")).expect("a subtitles line");
    assert!(!line.contains("off"), "{line}");
}

/// Sends `bytes` as they are and reads the answer until the server closes.
async fn send_bytes(port: u16, bytes: &[u8]) -> wire_tests::HttpResponse {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
    stream.write_all(bytes).await.expect("write");
    let mut raw = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(30), stream.read_to_end(&mut raw))
        .await
        .expect("an answer within 30 s")
        .expect("read");
    wire_tests::parse_response(&raw)
}

/// Issue 28, item 6: hyper's own refusals (431 for too many or too large headers, 400 for
/// a malformed request) had an empty body and none of the security headers. The local
/// server reads and checks the head first, with hyper's parser, and refuses in JSON.
#[tokio::test]
async fn what_hyper_would_refuse_gets_a_json_refusal_with_the_security_headers() {
    let port = start(&[]).await;
    let many: String = (0..120).map(|i| format!("x-h{i}: v\r\n")).collect();
    let big = format!("x-big: {}\r\n", "v".repeat(70_000));
    let cases = [
        (format!("GET /health HTTP/1.1\r\nhost: x\r\n{many}\r\n"), 431, "headers_too_large"),
        (format!("GET /health HTTP/1.1\r\nhost: x\r\n{big}\r\n"), 431, "headers_too_large"),
        ("GET /health HTTP/1.1\r\nhost: x\r\nbad header line\r\n\r\n".to_string(), 400, "malformed_request"),
        ("GET /health HTTP/1.1\r\nhost: x\r\ncontent-length: abc\r\n\r\n".to_string(), 400, "malformed_request"),
        (
            "GET /health HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n".to_string(),
            400,
            "malformed_request",
        ),
        ("POST /token HTTP/1.1\r\nhost: x\r\ntransfer-encoding: gzip\r\n\r\n".to_string(), 400, "malformed_request"),
        ("NOT HTTP AT ALL\r\n\r\n".to_string(), 400, "malformed_request"),
    ];
    for (request, status, code) in cases {
        let response = send_bytes(port, request.as_bytes()).await;
        let shown: String = request.chars().take(60).collect();
        assert_eq!(response.status, status, "{shown:?}");
        assert_eq!(response.json()["error"]["code"], code, "{shown:?}");
        for (name, value) in livekit_lambda_shared::web::SECURITY_HEADERS {
            assert_eq!(response.header(name), Some(value), "{shown:?}: {name}");
        }
    }
    let ok = send_bytes(port, b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert_eq!(ok.status, 200, "a plain request still works");
}

/// Issue 28, item 6: with 320 idle connections and a limit of 256 file descriptors the
/// accept error ended the process, and idle connections were never timed out. Now idle
/// ones close after `LOCAL_IDLE_TIMEOUT_SECONDS` and an accept error waits and goes on.
#[tokio::test]
async fn idle_connections_close_and_running_out_of_descriptors_is_survived() {
    use std::io::{BufRead, BufReader};
    let binary = wire_tests::workspace_root().join("target/debug/local-server");
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -n 256 && exec {}", binary.display()))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORT", "0")
        .env("LOCAL_IDLE_TIMEOUT_SECONDS", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the local server starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port: u16 = loop {
        let line = lines.next().expect("a listening line").expect("text");
        if let Some(address) = line.strip_prefix("local server listening on http://127.0.0.1:") {
            break address.trim().parse().expect("a port");
        }
    };
    // Keep reading its log so the pipe never fills.
    std::thread::spawn(move || lines.for_each(drop));
    let mut idle = Vec::new();
    for _ in 0..320 {
        idle.push(std::net::TcpStream::connect(("127.0.0.1", port)).expect("the kernel queues the connection"));
    }
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert!(child.try_wait().unwrap().is_none(), "the process survives running out of descriptors");
    // Every idle connection the server took is closed by now, and the rest follow.
    let answered = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            match tokio::time::timeout(std::time::Duration::from_secs(3), http(port, "GET", "/health", &[], b"")).await
            {
                Ok(response) if response.status == 200 => break response,
                _ => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
            }
        }
    })
    .await;
    assert!(answered.is_ok(), "a new request is answered after the idle connections went");
    use std::io::Read;
    let mut closed = 0;
    for mut stream in idle {
        stream.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
        if matches!(stream.read(&mut [0u8; 1]), Ok(0)) {
            closed += 1;
        }
    }
    assert!(closed > 250, "idle connections are closed by the server: {closed} of 320");
    child.kill().ok();
    child.wait().ok();
}

/// Issue 28, item 7: with `api-keys` invalid, the local server's `/token` answered 503 (its
/// one store read `api-keys` for every function) while the deployed token generator, which
/// never reads it, kept working. `make dev` now reads as the functions do.
#[tokio::test]
async fn an_invalid_api_keys_stops_the_verifiers_not_the_token_generator_as_deployed() {
    use std::io::{BufRead, BufReader};
    let moto = wire_tests::MotoServer::start();
    let prefix = "/local-keys/livekit";
    moto.put_livekit(prefix, "APIlocal", "local-secret-local-secret-local-0001", "ws://localhost:7880").await;
    moto.put(
        &format!("{prefix}/api-keys"),
        "just-a-secret-without-a-key",
        aws_sdk_ssm::types::ParameterType::SecureString,
    )
    .await;
    let binary = wire_tests::workspace_root().join("target/debug/local-server");
    let mut child = std::process::Command::new(binary)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORT", "0")
        .env("LIVEKIT_SSM_PREFIX", prefix)
        .env("AWS_ENDPOINT_URL", moto.endpoint())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the local server starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port: u16 = loop {
        let line = lines.next().expect("a listening line").expect("text");
        if let Some(address) = line.strip_prefix("local server listening on http://127.0.0.1:") {
            break address.trim().parse().expect("a port");
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    let token = http(port, "GET", "/token?room=r&participant=p", &[], b"").await;
    assert_eq!(token.status, 200, "the token generator signs: {}", String::from_utf8_lossy(&token.body));
    let headers = [("content-type", "application/webhook+json"), ("authorization", "x.y.z")];
    let webhook = http(port, "POST", "/webhook", &headers, b"{}").await;
    assert_eq!((webhook.status, webhook.json()["error"]["code"].as_str()), (503, Some("credentials_unavailable")));
    child.kill().ok();
    child.wait().ok();
}
