//! The Lambda binaries themselves, started the way Lambda starts them, answering the
//! `events/` samples through the Runtime API contract on loopback, with SSM on
//! moto_server and LiveKit's API on the Twirp test server.
//!
//! By default this runs the workspace's debug builds (`make test` builds them).
//! `make sam-test` sets `LAMBDA_BOOTSTRAP_DIR` to `.aws-sam/build`, where `sam build` put
//! each function's `bootstrap`, and `LAMBDA_BOOTSTRAP_RUNNER` to an emulator when that
//! artifact is for another architecture, so the deployed artifacts are what gets tested.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use livekit_api::access_token::TokenVerifier;
use livekit_lambda_shared::web::SECURITY_HEADERS;
use serde_json::Value;
use wire_tests::livekit_server::TwirpTestServer;
use wire_tests::runtime_api::{Outcome, RuntimeApi};
use wire_tests::{
    event_files, event_name, expected_status, function_for_path, is_signed_in_deployment_event, logical_id,
    signed_in_settings, workspace_root, MotoServer, SAMPLE_ROOM_LINK_KEY,
};

/// The sample webhooks are signed with the dev credentials, so the webhook receiver's
/// parameters hold them; the token generator gets a distinctive secret whose absence from
/// the logs means something.
pub(crate) const DEV_KEY: &str = "devkey";
pub(crate) const DEV_SECRET: &str = "secret";
pub(crate) const TOKEN_KEY: &str = "APIbootstrap";
pub(crate) const TOKEN_SECRET: &str = "bootstrap-secret-bootstrap-secret-0042";

fn credentials_for(binary: &str) -> (&'static str, &'static str) {
    if binary == "token-generator" {
        (TOKEN_KEY, TOKEN_SECRET)
    } else {
        (DEV_KEY, DEV_SECRET)
    }
}

fn bootstrap(binary: &str) -> PathBuf {
    let path = match std::env::var_os("LAMBDA_BOOTSTRAP_DIR") {
        Some(dir) => PathBuf::from(dir).join(logical_id(binary)).join("bootstrap"),
        None => workspace_root().join("target/debug").join(binary),
    };
    assert!(path.exists(), "{} does not exist: build it first (`make test` does)", path.display());
    path
}

pub(crate) fn spawn(binary: &str, runtime_api: &str, env: &[(&str, String)]) -> Child {
    let runner = std::env::var("LAMBDA_BOOTSTRAP_RUNNER").unwrap_or_default();
    let mut words: Vec<String> = runner.split_whitespace().map(String::from).collect();
    words.push(bootstrap(binary).to_string_lossy().to_string());
    let mut command = Command::new(&words[0]);
    command
        .args(&words[1..])
        // Only what Lambda would set: no profile files or credentials from this machine.
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", binary)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_REGION", "us-east-1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    command.spawn().unwrap_or_else(|e| panic!("start {binary}: {e}"))
}

pub(crate) fn logs(child: Child) -> String {
    let output = child.wait_with_output().expect("collect output");
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

pub(crate) fn response(outcome: Outcome) -> Value {
    match outcome {
        Outcome::Response(value) => value,
        Outcome::Error(error) => panic!("the function reported an invocation error: {error}"),
    }
}

pub(crate) fn read_event(path: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test]
async fn every_bootstrap_answers_its_sample_events_with_one_ssm_call() {
    let moto = MotoServer::start();
    let livekit = TwirpTestServer::start(DEV_KEY, DEV_SECRET).await;
    livekit.add_room("demo-room", &["jane-1"]).await;

    // Samples that passed API Gateway's JWT authorizer go to a token generator deployed
    // with AuthMode=jwt (its own process, as its own stack would be).
    let mut by_function: BTreeMap<(&str, bool), Vec<PathBuf>> = BTreeMap::new();
    for path in event_files() {
        let path_in_event = read_event(&path)["rawPath"].as_str().unwrap_or_default().to_string();
        by_function
            .entry((function_for_path(&path_in_event), is_signed_in_deployment_event(&path)))
            .or_default()
            .push(path);
    }
    assert!(by_function.len() >= 4, "samples for every function, signed-in ones too: {by_function:?}");

    for ((binary, signed_in), events) in by_function {
        let prefix = format!("/bootstrap/{binary}{}", if signed_in { "-signed-in" } else { "" });
        let auth = signed_in_settings();
        let mut auth_env = vec![];
        if signed_in {
            auth_env.push(("AUTH_MODE", "jwt".to_string()));
            auth_env.push(("AUTH_ISSUER", auth.issuer.clone().unwrap_or_default()));
            auth_env.push(("AUTH_ADMIN_CLAIM", "cognito:groups=moderators".to_string()));
            // Room links on, as with RoomLinks=on: the sample link's key in SSM.
            auth_env.push(("ROOM_LINKS", "on".to_string()));
            auth_env.push(("ROOM_LINK_URL", "http://localhost:3000/join/{room}#{link}".to_string()));
            // The waiting room and the moderator controls on, as with Lobby=on, Moderation=on.
            auth_env.push(("LOBBY", "on".to_string()));
            auth_env.push(("MODERATION", "on".to_string()));
            let (kid, secret) = SAMPLE_ROOM_LINK_KEY;
            let keys = format!("{kid}: {secret}");
            moto.put(&format!("{prefix}/room-link-keys"), &keys, aws_sdk_ssm::types::ParameterType::SecureString).await;
        }
        let (key, secret) = credentials_for(binary);
        moto.put_livekit(&prefix, key, secret, "https://lk.example.com").await;
        moto.put(&format!("{prefix}/api-url"), &livekit.url(), aws_sdk_ssm::types::ParameterType::SecureString).await;
        let api = RuntimeApi::start().await;
        let child = spawn(
            binary,
            &api.address(),
            &[
                ("LIVEKIT_SSM_PREFIX", prefix.clone()),
                ("AWS_ENDPOINT_URL", moto.endpoint()),
                ("AWS_ACCESS_KEY_ID", "test".into()),
                ("AWS_SECRET_ACCESS_KEY", "test".into()),
                ("ALLOWED_ORIGINS", "http://localhost:3000".into()),
                ("SUBTITLE_AGENT_NAME", "transcriber".into()),
                ("SUBTITLE_LANGUAGES", "en".into()),
            ]
            .into_iter()
            .chain(auth_env)
            .collect::<Vec<_>>(),
        );

        let mut issued = Vec::new();
        for _round in 0..3 {
            for path in &events {
                let name = event_name(path);
                let reply = response(api.invoke(read_event(path), Duration::from_secs(30)).await);
                assert_eq!(reply["statusCode"], expected_status(&name), "{binary} {name}: {reply}");
                assert_eq!(reply["headers"]["cache-control"], "no-store", "{name}");
                if name == "token-get.json" {
                    let body: Value = serde_json::from_str(reply["body"].as_str().unwrap()).unwrap();
                    assert_eq!(body["url"], "wss://lk.example.com");
                    let token = body["token"].as_str().unwrap().to_string();
                    let claims =
                        TokenVerifier::with_api_key(key, secret).verify(&token).expect("signed with the SSM secret");
                    assert_eq!(claims.video.room, "demo-room");
                    issued.push(token);
                }
            }
        }
        // The sample with a bad signature names the deployment's own key (`devkey`): a
        // forgery, which never makes the webhook receiver re-read SSM (only an unknown key
        // may, see docs/key-rotation.md).
        assert_eq!(
            moto.get_parameters_calls(&prefix).len(),
            1,
            "{binary}: one GetParameters per cold start, none per warm invocation or forged delivery"
        );

        let mut child = child;
        child.kill().ok();
        let output = logs(child);
        assert!(output.contains("\"message\":\"request\""), "{binary}: one JSON log line per request:\n{output}");
        for line in output.lines().filter(|l| !l.trim().is_empty()) {
            assert!(serde_json::from_str::<Value>(line).is_ok(), "{binary}: Lambda logs are JSON lines, got: {line}");
        }
        assert!(!output.contains(TOKEN_SECRET), "{binary}: the API secret appeared in the logs");
        for token in &issued {
            assert!(!output.contains(token.as_str()), "{binary}: an issued token appeared in the logs");
        }
        for path in &events {
            // A room link is a bearer credential until it expires: never in a log line.
            let query = read_event(path)["rawQueryString"].as_str().unwrap_or_default().to_string();
            if let Some(link) = query.split('&').find_map(|pair| pair.strip_prefix("link=")) {
                assert!(!output.contains(link), "{binary}: a room link appeared in the logs");
            }
            // The waiting room's knock carries its link in the body.
            let body = read_event(path)["body"].as_str().and_then(|b| serde_json::from_str::<Value>(b).ok());
            if let Some(link) = body.as_ref().and_then(|b| b["link"].as_str()) {
                assert!(!output.contains(link), "{binary}: a room link appeared in the logs");
            }
            let authorization = read_event(path)["headers"]["authorization"].as_str().map(String::from);
            if let Some(authorization) = authorization {
                assert!(
                    !output.contains(&authorization),
                    "{binary}: a webhook Authorization header appeared in the logs"
                );
            }
        }
    }
    assert_eq!(
        livekit.calls_to("SendData").await.len(),
        1,
        "the limit notice went out once over three deliveries of the same event"
    );
}

#[tokio::test]
async fn bootstraps_without_credentials_fail_closed() {
    for (binary, sample, status) in
        [("token-generator", "token-get.json", 503), ("webhook-receiver", "webhook-participant-joined.json", 503)]
    {
        let api = RuntimeApi::start().await;
        let mut child = spawn(binary, &api.address(), &[]);
        let reply = response(
            api.invoke(read_event(&workspace_root().join("events").join(sample)), Duration::from_secs(30)).await,
        );
        assert_eq!(reply["statusCode"], status, "{binary}: never a default secret inside Lambda: {reply}");
        child.kill().ok();
        assert!(logs(child).contains("LIVEKIT_SSM_PREFIX"), "{binary}: the log says what to configure");
    }
    let api = RuntimeApi::start().await;
    let mut child = spawn("token-generator", &api.address(), &[]);
    let health =
        response(api.invoke(read_event(&workspace_root().join("events/health.json")), Duration::from_secs(30)).await);
    assert_eq!(health["statusCode"], 200);
    child.kill().ok();
    child.wait().ok();
}

#[tokio::test]
async fn bootstraps_with_an_invalid_setting_stop_naming_the_variable() {
    for (binary, variable) in [("token-generator", "TOKEN_TTL_SECONDS"), ("webhook-receiver", "WEBHOOK_MAX_BODY_BYTES")]
    {
        let api = RuntimeApi::start().await;
        let child = spawn(binary, &api.address(), &[(variable, "soon".into())]);
        let output = tokio::task::spawn_blocking(move || child.wait_with_output()).await.unwrap().unwrap();
        assert!(!output.status.success(), "{binary}");
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(text.contains(variable), "{binary}: {text}");
    }
}

/// Events that made `lambda_http` panic (and, with panic = "abort", the container die)
/// get a JSON answer, and the same process goes on serving.
#[tokio::test]
async fn hostile_events_get_json_answers_and_the_process_survives() {
    let api = RuntimeApi::start().await;
    let mut child = spawn(
        "token-generator",
        &api.address(),
        &[
            ("LIVEKIT_API_KEY", "k".into()),
            ("LIVEKIT_API_SECRET", "s-s-s-s-s-s-s-s-s-s-s-s-s-s-s-s".into()),
            ("LIVEKIT_URL", "wss://x".into()),
        ],
    );
    let base = read_event(&workspace_root().join("events/token-get.json"));
    let mut cases = Vec::new();
    for query in
        ["room=a b&participant=J", "room=a\"b&participant=J", "room=<x>&participant=J", "room=a\u{7f}&participant=J"]
    {
        let mut event = base.clone();
        event["rawQueryString"] = Value::String(query.into());
        cases.push((format!("raw query {query:?}"), event));
    }
    let mut not_base64 = read_event(&workspace_root().join("events/token-post-standard.json"));
    not_base64["isBase64Encoded"] = Value::Bool(true);
    not_base64["body"] = Value::String("*** not base64 ***".into());
    cases.push(("a base64 body that is not base64".into(), not_base64));
    cases.push(("not an API Gateway event".into(), serde_json::json!({"hello": "world"})));

    for (name, event) in cases {
        let reply = response(api.invoke(event, Duration::from_secs(30)).await);
        let status = reply["statusCode"].as_u64().unwrap_or_default();
        assert!(status == 200 || status == 400, "{name}: {reply}");
        let body: Value = serde_json::from_str(reply["body"].as_str().unwrap_or("null")).unwrap_or(Value::Null);
        assert!(body.is_object(), "{name}: a JSON body: {reply}");
        let health = response(
            api.invoke(read_event(&workspace_root().join("events/health.json")), Duration::from_secs(30)).await,
        );
        assert_eq!(health["statusCode"], 200, "{name}: the process still serves");
    }
    assert!(child.try_wait().unwrap().is_none(), "the function process is still alive");
    child.kill().ok();
    child.wait().ok();
}

/// Issue 28: a bounded sample of the structure-aware events (`wire_tests::hostile_events`,
/// fixed seed) through each function's process on the Runtime API. With `make sam-test`
/// these are the release bootstraps (`panic = "abort"`: a panic is a dead process, which
/// the next invocation finds); in the debug build a panic is caught by lambda_runtime and
/// reported as "Lambda panicked", which fails here too.
#[tokio::test]
async fn sampled_hostile_events_never_kill_or_panic_a_bootstrap() {
    let events = wire_tests::hostile_events::sample(60);
    let health = read_event(&workspace_root().join("events/health.json"));
    let credentials = [
        ("LIVEKIT_API_KEY", "k".to_string()),
        ("LIVEKIT_API_SECRET", "s-s-s-s-s-s-s-s-s-s-s-s-s-s-s-s".to_string()),
        // LiveKit's API on a closed port: the subtitle dispatcher's calls fail at once.
        ("LIVEKIT_URL", "ws://127.0.0.1:9".to_string()),
        ("LIVEKIT_API_TIMEOUT_MS", "200".to_string()),
        ("SUBTITLE_AGENT_NAME", "transcriber".to_string()),
    ];
    // The room controls with the waiting room and the moderator controls on (they need
    // authentication), so their routes are exercised; the others as they are by default.

    let lobby = [
        ("AUTH_MODE", "jwt".to_string()),
        ("LOBBY", "on".to_string()),
        ("MODERATION", "on".to_string()),
        ("ROOM_LINK_KEYS", "k1: a-room-link-secret-of-32-characters!".to_string()),
    ];
    for binary in ["token-generator", "webhook-receiver", "subtitle-dispatcher", "room-controls"] {
        let api = RuntimeApi::start().await;
        let env: Vec<(&str, String)> = match binary {
            "room-controls" => credentials.iter().chain(&lobby).cloned().collect(),
            _ => credentials.to_vec(),
        };
        let mut child = spawn(binary, &api.address(), &env);
        // Sixty invocations log more than a pipe holds: read the logs as they come.
        let drained: Vec<_> = [
            child.stdout.take().map(|o| Box::new(o) as Box<dyn std::io::Read + Send>),
            child.stderr.take().map(|e| Box::new(e) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        .map(|mut pipe| std::thread::spawn(move || std::io::copy(&mut pipe, &mut std::io::sink())))
        .collect();
        for (n, event) in events.iter().enumerate() {
            match api.invoke(event.clone(), Duration::from_secs(20)).await {
                Outcome::Response(reply) => {
                    let status = reply["statusCode"].as_u64().unwrap_or_default();
                    assert!((200..600).contains(&status), "{binary} event {n}: {reply}");
                    for (name, value) in SECURITY_HEADERS {
                        assert_eq!(reply["headers"][name].as_str(), Some(value), "{binary} event {n}: {reply}");
                    }
                    let body = reply["body"].as_str().unwrap_or_default();
                    assert!(
                        body.is_empty() || serde_json::from_str::<Value>(body).is_ok(),
                        "{binary} event {n}: {reply}"
                    );
                }
                Outcome::Error(error) => {
                    let message = error.to_string();
                    assert!(!message.contains("panicked"), "{binary} panicked on event {n} {event}: {error}");
                }
            }
        }
        // Still serving: a dead process (an aborted panic) never answers this.
        if binary == "token-generator" {
            let reply = api.invoke(health.clone(), Duration::from_secs(20)).await;
            assert!(matches!(reply, Outcome::Response(ref r) if r["statusCode"] == 200), "{binary}: {reply:?}");
        }
        assert!(child.try_wait().unwrap().is_none(), "{binary}: the process is still alive");
        child.kill().ok();
        child.wait().ok();
        drained.into_iter().for_each(|reader| drop(reader.join()));
    }
}
